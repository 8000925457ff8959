"""Homophone typos: a word typed with a same-sounding wrong character (拼音输入法 slips, 客单架 for
客单价) is corrected to the known word, by pinyin (pypinyin)."""
from __future__ import annotations

import re

__all__ = ["DOMAIN_WORDS", "HomophoneFixer", "homophone_fixer"]


# Words worth correcting when typed with a same-sounding wrong character (拼音输入法 slips):
# the semantic model's Chinese metric and dimension words, plus the other intents' key words.
DOMAIN_WORDS = ("流失", "画像", "投诉", "分群", "推荐", "复购", "回购", "留存", "关怀", "聚类", "生日", "订单", "客户",
                "商品", "品类", "退款", "物流", "快递", "满意", "祝福", "短信", "终身价值", "环比", "同比")


class HomophoneFixer:
    """Replaces a same-pinyin misspelling of a known word (客单架 → 客单价, 复够率 → 复购率).

    Only words of three or more characters, or two-character words sharing one character with
    the typed pair, are corrected, so a name such as 刘诗 is never turned into 流失."""

    def __init__(self, words):
        from pypinyin import lazy_pinyin
        self._py = lazy_pinyin
        self.words = {w for w in words if re.fullmatch(r"[\u4e00-\u9fff]{2,6}", w)}
        self.by_sound: dict[tuple, list[str]] = {}
        for w in sorted(self.words):
            self.by_sound.setdefault(tuple(lazy_pinyin(w)), []).append(w)

    def fix(self, text: str) -> str:
        out = text
        for m in re.finditer(r"[\u4e00-\u9fff]{2,}", text):
            run = m.group(0)
            i = 0
            while i < len(run):
                done = False
                for n in (4, 3, 2):
                    cand = run[i:i + n]
                    if len(cand) < n or cand in self.words:
                        continue
                    hits = self.by_sound.get(tuple(self._py(cand)))
                    if not hits:
                        continue
                    best = hits[0]
                    same = sum(a == b for a, b in zip(cand, best))
                    if n >= 3 and same >= n - 1 or n == 2 and same == 1:
                        out = out.replace(cand, best, 1)
                        i += n
                        done = True
                        break
                if not done:
                    i += 1
        return out


_FIXERS: dict[frozenset, HomophoneFixer] = {}


def homophone_fixer(extra_words=()) -> HomophoneFixer:
    """The fixer for the semantic model's words (plus ``extra_words``: a workspace's own terms), built
    once per set of extra words."""
    key = frozenset(extra_words)
    if key not in _FIXERS:
        from tools.semantic import semantic_model
        model = semantic_model()
        words = set(DOMAIN_WORDS) | set(key)
        for table in (model.metrics, model.dimensions):
            for entry in table.values():
                words.update([entry.get("zh", "")] + list(entry.get("synonyms", [])))
        if len(_FIXERS) > 16:
            _FIXERS.clear()
        _FIXERS[key] = HomophoneFixer(words)
    return _FIXERS[key]
