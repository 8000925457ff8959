"""Homophone typos: a same-pinyin wrong character in a known word is corrected, names are not."""
from __future__ import annotations

import pytest

from assistant.homophones import HomophoneFixer, homophone_fixer


@pytest.mark.parametrize("typed, fixed", [("上个月客单架多少", "上个月客单价多少"), ("今年的复够率", "今年的复购率"),
                                          ("各省的销手额", "各省的销售额"), ("流式风险", "流失风险"),
                                          ("客单价多少", "客单价多少")])
def test_same_sound_wrong_character_is_corrected(typed, fixed):
    assert homophone_fixer().fix(typed) == fixed


def test_names_and_unrelated_words_are_left_alone():
    f = HomophoneFixer(["流失", "客单价"])
    assert f.fix("刘诗涵的画像") == "刘诗涵的画像"      # 刘诗 sounds like 流失 but shares no character
    assert f.fix("科丹佳买了什么") == "科丹佳买了什么"   # three characters, none shared: a name, not 客单价


def test_a_workspace_term_is_corrected_too():
    assert homophone_fixer(["成交额"]).fix("上月城交额") == "上月成交额"
