"""CustomerConditions: who a question means by place, gender, age, birth year and sign-up channel."""
from __future__ import annotations

import pandas as pd
import pytest

from knowledge.errors import GuanxiError
from tools.customer_filter import CustomerConditions, age_args

AS_OF = pd.Timestamp("2026-10-01")
PEOPLE = pd.DataFrame({
    "province": ["浙江省", "浙江省", "广东省", None],
    "city": ["杭州市", "宁波市", "广州市", None],
    "gender": ["F", "M", "F", None],
    "birthday": pd.to_datetime(["1996-10-01", "1996-10-02", "1980-01-01", None]),   # 30, 29 (a day short), 46, unknown
    "channel": ["抖音", "天猫", "抖音", None],
})


def _kept(**conditions) -> list[int]:
    return list(PEOPLE.index[CustomerConditions(**conditions).keep(PEOPLE, AS_OF)])


def test_each_condition_keeps_its_customers_and_a_missing_value_meets_none():
    assert _kept() == [0, 1, 2, 3]
    assert _kept(gender="F") == [0, 2] and _kept(gender="女") == [0, 2]
    assert _kept(province="浙江") == [0, 1] and _kept(city="杭州") == [0]
    assert _kept(age_min=30) == [0, 2] and _kept(age_max=29) == [1]   # full years on the as-of date
    assert _kept(born_from=1990, born_to=1999) == [0, 1]
    assert _kept(age_band="25-34") == [0, 1] and _kept(signup_channel="抖音") == [0, 2]
    assert _kept(gender="F", signup_channel="抖音", age_min=40) == [2]


def test_an_unknown_value_names_the_known_ones():
    with pytest.raises(GuanxiError, match="抖音"):
        _kept(signup_channel="拼多多")


def test_words_say_every_condition_in_both_languages():
    who = CustomerConditions(city="杭州市", gender="M", age_min=0, age_max=29, signup_channel="抖音")
    assert who.words(zh=True) == ["杭州市", "男性", "29 岁及以下", "抖音渠道注册"]
    assert who.words(zh=False) == ["in 杭州市", "male", "aged 29 or under", "signed up on 抖音"]


def test_age_args_from_the_router_slots():
    assert age_args({"age_range": ("age", 0, 29)}) == {"age_min": 0, "age_max": 29}   # "30岁以下"
    assert age_args({"age_range": ("age", 40, 129)}) == {"age_min": 40}                # "40岁以上"
    assert age_args({"age_range": ("birth_year", 1990, 1999)}) == {"born_from": 1990, "born_to": 1999}   # "90后"
    assert age_args({"age_band": "<25"}) == {"age_band": "<25"} and age_args({}) == {}


def test_silent_days_keeps_who_ordered_before_and_not_in_the_last_n_days():
    recency = pd.Series([10, 91, 90, None])   # days since the last order; None: never ordered
    assert list(PEOPLE.index[CustomerConditions(silent_days=90).keep(PEOPLE, AS_OF, recency_days=recency)]) == [1]
    assert CustomerConditions(silent_days=90).words(zh=True) == ["超过 90 天没有下单"]
    assert CustomerConditions(silent_days=60).words(zh=False) == ["no order in the last 60 days"]
    with pytest.raises(GuanxiError, match="RFM"):
        CustomerConditions(silent_days=90).keep(PEOPLE, AS_OF)
    with pytest.raises(GuanxiError, match="≥ 1"):
        CustomerConditions(silent_days=0).keep(PEOPLE, AS_OF, recency_days=recency)


def test_no_order_in_a_period_keeps_who_ordered_before_and_not_in_it():
    lapsed = [True, False, True, False]   # per row: an order before the period and none in it
    kept = CustomerConditions(no_order_from="2026-07-01", no_order_to="2026-09-30").keep(PEOPLE, AS_OF, lapsed_in_period=lapsed)
    assert list(PEOPLE.index[kept]) == [0, 2]
    assert CustomerConditions(no_order_from="2026-07-01", no_order_to="2026-09-30").words(zh=False) == \
        ["no order from 2026-07-01 to 2026-09-30 (ordered before)"]
    with pytest.raises(GuanxiError, match="orders before"):
        CustomerConditions(no_order_from="2026-07-01").keep(PEOPLE, AS_OF)
    with pytest.raises(GuanxiError, match="needs no_order_from"):
        CustomerConditions(no_order_to="2026-09-30").keep(PEOPLE, AS_OF, lapsed_in_period=lapsed)
