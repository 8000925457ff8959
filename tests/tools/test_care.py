"""care_calendar: birthdays (year end, 29 Feb), festivals from lunardate, customers due for contact."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from lunardate import LunarDate

from knowledge.errors import GuanxiError
from tools.care import (FESTIVALS, care_calendar, festival_date, festivals_between, is_latin_name, next_birthday,
                        resolve_festival)


def _orders(spec: dict[str, list[str]]) -> pd.DataFrame:
    rows = []
    for cid, days in spec.items():
        for i, d in enumerate(days):
            rows.append({"order_id": f"{cid}-{i}", "customer_id": cid, "order_date": pd.Timestamp(d),
                         "product_name": "保温杯", "category": "家居", "quantity": 1, "amount": 100.0})
    return pd.DataFrame(rows)


@pytest.fixture
def customers():
    return pd.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4", "C5", "C6"],
        "name": ["王芳", "欧阳明", "Emily Chen", "张伟", "李娜", "John Smith"],
        "gender": ["F", "M", "F", "M", "F", "M"],
        "birthday": pd.to_datetime(["1985-12-31", "2000-02-29", "1990-01-02", "1970-01-04", None, "1988-06-01"]),
    })


# ------------------------------------------------------------------------------ festivals
@pytest.mark.parametrize("key,month,day", [("spring", 1, 1), ("lantern", 1, 15), ("dragon_boat", 5, 5),
                                           ("qixi", 7, 7), ("mid_autumn", 8, 15)])
def test_lunar_festivals_come_from_lunardate_for_each_year(key, month, day):
    for year in range(2020, 2031):
        assert festival_date(key, year) == LunarDate(year, month, day).to_solar_date()


def test_known_festival_dates():
    assert festival_date("春节", 2027) == dt.date(2027, 2, 6)
    assert festival_date("中秋", 2026) == dt.date(2026, 9, 25)
    assert festival_date("Spring Festival", 2026) == dt.date(2026, 2, 17)
    assert festival_date("国庆", 2026) == dt.date(2026, 10, 1)
    assert festival_date("Christmas", 2026) == dt.date(2026, 12, 25)
    assert festival_date("New Year", 2027) == festival_date("元旦", 2027) == dt.date(2027, 1, 1)


def test_every_festival_has_both_names_and_resolves_by_them():
    for f in FESTIVALS:
        assert f.zh and f.en
        assert resolve_festival(f.zh) is f and resolve_festival(f.en) is f and resolve_festival(f.key) is f
    with pytest.raises(GuanxiError, match="unknown festival"):
        resolve_festival("Diwali")


def test_festivals_between_crosses_the_year_end():
    got = [(d.isoformat(), f.key) for d, f in festivals_between("2026-12-20", "2027-02-10")]
    assert got == [("2026-12-25", "christmas"), ("2027-01-01", "new_year"), ("2027-02-06", "spring")]


# ------------------------------------------------------------------------------ birthdays
def test_next_birthday_feb29_and_year_end():
    assert next_birthday("2000-02-29", "2027-02-01") == dt.date(2027, 2, 28)
    assert next_birthday("2000-02-29", "2028-02-01") == dt.date(2028, 2, 29)
    assert next_birthday("1990-01-02", "2026-12-28") == dt.date(2027, 1, 2)
    assert next_birthday("1990-12-28", "2026-12-28") == dt.date(2026, 12, 28)
    assert next_birthday(None, "2026-12-28") is None


def test_birthday_window_across_year_end(customers):
    orders = _orders({"C1": ["2026-10-01"]})
    cal = care_calendar(customers, orders, as_of="2026-12-28", days=7, festivals=False)
    b = {(e.customer_id, e.date) for e in cal.by_occasion("birthday")}
    # window 2026-12-28 .. 2027-01-03: 31 Dec and 2 Jan in, 4 Jan out
    assert b == {("C1", "2026-12-31"), ("C3", "2027-01-02")}
    assert cal.window_end == "2027-01-03"
    e = next(e for e in cal.entries if e.customer_id == "C3")
    assert e.suggested_occasion == "birthday" and e.draft_args == {"customer_id": "C3", "occasion": "birthday",
                                                                     "language": "en"}
    assert e.reason_zh == "1月2日生日" and "Jan 2" in e.reason_en


def test_feb29_birthday_is_celebrated_on_feb28_in_a_common_year(customers):
    orders = _orders({"C1": ["2027-01-01"]})
    cal = care_calendar(customers, orders, as_of="2027-02-25", days=7, festivals=False)
    [e] = cal.by_occasion("birthday")
    assert (e.customer_id, e.date) == ("C2", "2027-02-28")
    assert "2月28日" in e.reason_zh and "29 Feb" in e.reason_en
    leap = care_calendar(customers, orders, as_of="2028-02-25", days=7, festivals=False)
    assert [(e.customer_id, e.date) for e in leap.by_occasion("birthday")] == [("C2", "2028-02-29")]


# ------------------------------------------------------------------------------ festival greetings
def test_latin_names():
    assert is_latin_name("Emily Chen") and is_latin_name("José Álvarez")
    assert not is_latin_name("王芳") and not is_latin_name("Lily 王") and not is_latin_name(None)


def test_christmas_only_for_english_speaking_customers_new_year_for_everyone(customers):
    orders = _orders({"C1": ["2026-12-01"]})
    cal = care_calendar(customers, orders, as_of="2026-12-24", days=10)
    xmas = {e.customer_id for e in cal.by_occasion("festival:christmas")}
    ny = {e.customer_id for e in cal.by_occasion("festival:new_year")}
    assert xmas == {"C3", "C6"}
    assert ny == set(customers["customer_id"])
    f = {x["key"]: x for x in cal.festivals}
    assert f["christmas"]["n_recipients"] == 2 and f["christmas"]["name_zh"] == "圣诞节"
    assert f["new_year"]["audience"] == "all"
    e = next(iter(cal.by_occasion("festival:christmas")))
    assert e.draft_args["occasion"] == "festival" and e.draft_args["festival"] == "christmas"
    assert e.language == "en"


def test_spring_festival_for_everyone_lantern_for_chinese_names(customers):
    orders = _orders({"C1": ["2027-01-01"]})
    cal = care_calendar(customers, orders, as_of="2027-02-01", days=21)
    assert {e.customer_id for e in cal.by_occasion("festival:spring")} == set(customers["customer_id"])
    assert {e.customer_id for e in cal.by_occasion("festival:lantern")} == {"C1", "C2", "C4", "C5"}
    assert {f["key"]: f["date"] for f in cal.festivals}["spring"] == "2027-02-06"
    assert any("lunardate" in p for p in cal.provenance)
    # personal occasions are listed before festival greetings
    kinds = [e.occasion.startswith("festival:") for e in cal.entries]
    assert kinds == sorted(kinds)


# ------------------------------------------------------------------------------ due for contact
@pytest.fixture
def contact_case(customers):
    orders = _orders({
        "C1": ["2026-06-01", "2026-07-01", "2026-08-01", "2026-09-01"],  # VIP, monthly, last 9-01
        "C2": ["2025-10-01", "2025-12-01"],                              # at risk
        "C3": ["2026-10-01", "2026-10-15", "2026-10-29"],                # VIP, bought 2 days ago
        "C4": ["2026-05-01", "2026-06-01", "2026-07-01"],                # regular, overdue
        "C5": ["2026-10-20"],                                            # one-off, recent
    })
    rfm = pd.DataFrame({"customer_id": ["C1", "C2", "C3", "C4", "C5"],
                        "segment": ["Champions", "At Risk", "Loyal", "Need Attention", "New Customers"],
                        "segment_zh": ["冠军客户", "有流失风险客户", "忠诚客户", "需要关注客户", "新客户"],
                        "tier": ["高价值客户", "流失风险客户", "高价值客户", "潜力客户", "潜力客户"]})
    churn = pd.DataFrame({"customer_id": ["C2", "C4"], "churn_probability": [0.81, 0.2], "risk_band": ["high", "low"]})
    return orders, rfm, churn


def test_winback_vip_and_regular(customers, contact_case):
    orders, rfm, churn = contact_case
    cal = care_calendar(customers, orders, as_of="2026-11-01", days=7, rfm=rfm, churn=churn, festivals=False)
    occ = {e.customer_id: e.occasion for e in cal.entries if e.occasion != "birthday"}
    assert occ == {"C1": "vip_thanks", "C2": "winback", "C4": "regular"}
    wb = cal.by_occasion("winback")[0]
    assert "0.81" in wb.reason_zh and "0.81" in wb.reason_en and wb.suggested_occasion == "winback"
    vip = cal.by_occasion("vip_thanks")[0]
    assert vip.details["usual_interval_days"] == 31 and vip.details["days_since_last_order"] == 61
    assert cal.by_occasion("regular")[0].suggested_occasion == "recommendation"


def test_feedback_counts_as_last_contact_and_contact_every_days_overrides(customers, contact_case):
    orders, rfm, churn = contact_case
    fb = pd.DataFrame({"feedback_id": ["F1"], "customer_id": ["C1"], "created_at": [pd.Timestamp("2026-10-25")],
                       "text": ["ok"]})
    cal = care_calendar(customers, orders, as_of="2026-11-01", days=7, rfm=rfm, churn=churn, feedback=fb,
                        festivals=False)
    assert not cal.by_occasion("vip_thanks")
    cal = care_calendar(customers, orders, as_of="2026-11-01", days=7, rfm=rfm, churn=churn, festivals=False,
                        contact_every_days=1)
    assert {e.customer_id for e in cal.by_occasion("vip_thanks")} == {"C1", "C3"}


def test_without_rfm_and_churn_says_what_was_not_assessed(customers, contact_case):
    orders, _, _ = contact_case
    cal = care_calendar(customers, orders, as_of="2026-11-01", days=7)
    assert not cal.by_occasion("winback") and not cal.by_occasion("vip_thanks")
    assert any("RFM" in w for w in cal.warnings)


def test_to_dict_is_json_safe_with_provenance_and_limit(customers, contact_case):
    orders, rfm, churn = contact_case
    cal = care_calendar(customers, orders, days=60, rfm=rfm, churn=churn)  # as_of: day after last order
    assert cal.as_of == "2026-10-30"
    d = cal.to_dict()
    json.dumps(d, ensure_ascii=False)
    assert d["provenance"] and "care_calendar" in d["provenance"][0] and "as of 2026-10-30" in d["provenance"][0]
    assert d["n_entries"] == len(d["entries"]) and not d["truncated"]
    small = cal.to_dict(limit=2)
    assert len(small["entries"]) == 2 and small["truncated"] and small["counts"] == d["counts"]
    for e in d["entries"]:
        assert {"customer_id", "name", "date", "occasion", "suggested_occasion", "reason_zh", "reason_en"} <= set(e)


def test_bad_days():
    with pytest.raises(GuanxiError, match="days"):
        care_calendar(pd.DataFrame({"customer_id": [], "name": []}), _orders({}), as_of="2026-01-01", days=0)


def test_winback_ranked_by_churn_probability(customers, contact_case):
    orders, rfm, _ = contact_case
    churn = pd.DataFrame({"customer_id": ["C2", "C4", "C5"], "churn_probability": [0.7, 0.95, 0.65],
                          "risk_band": ["high", "high", "medium"]})
    cal = care_calendar(customers, orders, as_of="2026-11-01", days=7, rfm=rfm, churn=churn, festivals=False)
    assert [e.customer_id for e in cal.by_occasion("winback")] == ["C4", "C2", "C5"]
