"""draft_care_batch and at_risk_customers with conditions: a churn risk (from the churn artefact, as the
at-risk list reads it), a place, a gender, an age or birth-year range and a sign-up channel narrow the
group; the answer says the filter and how many matched."""
from __future__ import annotations

import pandas as pd
import pytest

from assistant.answers import render
from knowledge.errors import GuanxiError
from tools.care_tools import churn_risk_floor
from tools.registry import call_tool


@pytest.fixture(scope="module")
def scored(routing_ws):
    """The RFM table with each customer's churn probability and city."""
    rfm = routing_ws.artefact("rfm").assign(customer_id=lambda d: d["customer_id"].astype(str))
    churn = routing_ws.artefact("churn").assign(customer_id=lambda d: d["customer_id"].astype(str))
    cust = routing_ws.table("customers").assign(customer_id=lambda d: d["customer_id"].astype(str))
    return rfm.merge(churn[["customer_id", "churn_probability"]], on="customer_id", how="left").merge(
        cust[["customer_id", "city"]], on="customer_id", how="left")


def _batch(settings, **args) -> dict:
    return call_tool("draft_care_batch", {"occasion": "winback", **args}, settings=settings, role="manager")


def _drafted(r: dict) -> set[str]:
    return set(pd.read_csv(r["path"], dtype=str, encoding="utf-8-sig")["customer_id"])


def test_floors_are_the_high_band_and_the_at_risk_threshold():
    assert churn_risk_floor("high", None) == 0.6
    assert churn_risk_floor("at_risk", None) == 0.5
    assert churn_risk_floor(None, 80) == 0.8 and churn_risk_floor("high", 0.7) == 0.7   # the number wins
    assert churn_risk_floor(None, None) is None
    with pytest.raises(GuanxiError):
        churn_risk_floor("very high", None)


def test_high_churn_risk_drafts_only_those_customers_of_the_segment(routing_settings, scored):
    high = scored.assign(high=scored["churn_probability"] >= 0.6).groupby("segment_cn8")["high"].agg(["sum", "size"])
    seg = high[(high["sum"] > 0) & (high["sum"] < high["size"])]["sum"].idxmax()   # some of it at high risk, not all
    members = scored[scored["segment_cn8"] == seg]
    want = set(members.loc[members["churn_probability"] >= 0.6, "customer_id"])
    assert 0 < len(want) < len(members)   # the condition keeps some, not all
    r = _batch(routing_settings, segment=seg, churn_risk="high")
    assert (r["rows"], r["segment_size"], r["min_probability"]) == (len(want), len(members), 0.6)
    assert _drafted(r) == want
    text = render("draft_care_batch", r, "zh")
    assert "流失风险高" in text and "60%" in text and f"{len(want)} 位符合条件" in text and f"共 {len(members):,} 位" in text
    assert "at high churn risk" in render("draft_care_batch", r, "en")


def test_at_risk_counts_as_the_at_risk_list_does(routing_settings, scored):
    seg = "Loyal"
    r = _batch(routing_settings, segment=seg, churn_risk="at_risk")
    listed = call_tool("at_risk_customers", {"segment": seg}, settings=routing_settings, role="manager")
    assert r["rows"] == listed["count_at_risk"]


def test_min_probability_and_city_narrow_the_batch(routing_settings, scored):
    city = scored["city"].value_counts().index[0]
    r = _batch(routing_settings, segment="all", min_probability=30, city=city)
    want = set(scored.loc[(scored["churn_probability"] >= 0.3) & (scored["city"] == city), "customer_id"])
    assert r["min_probability"] == 0.3 and r["churn_risk"] is None
    assert _drafted(r) == want
    assert city in render("draft_care_batch", r, "zh")


def test_no_customer_at_that_risk_writes_no_file_and_says_so(routing_settings, scored):
    seg = scored.groupby("segment")["churn_probability"].max().idxmin()   # the segment least at risk
    r = _batch(routing_settings, segment=seg, min_probability=1.0)
    assert r["rows"] == 0 and r["path"] is None
    assert "没有生成草稿" in render("draft_care_batch", r, "zh")
    assert "no drafts written" in render("draft_care_batch", r, "en")


def test_without_conditions_the_whole_segment_is_drafted(routing_settings, scored):
    r = _batch(routing_settings, segment="Champions")
    assert r["rows"] == r["segment_size"] == int((scored["segment"] == "Champions").sum())
    assert "流失" not in render("draft_care_batch", r, "zh")


@pytest.fixture(scope="module")
def people(routing_ws, scored):
    """Each RFM customer's gender, sign-up channel and age in full years at the workspace's as-of date."""
    cust = routing_ws.table("customers").assign(customer_id=lambda d: d["customer_id"].astype(str))
    as_of, b = routing_ws.as_of(), pd.to_datetime(cust["birthday"], errors="coerce")
    age = as_of.year - b.dt.year - ((b.dt.month > as_of.month) | ((b.dt.month == as_of.month) & (b.dt.day > as_of.day)))
    return scored.merge(cust[["customer_id", "gender", "channel"]].assign(age=age, born=b.dt.year), on="customer_id")


def test_gender_and_an_age_range_narrow_the_batch(routing_settings, people):
    r = _batch(routing_settings, segment="Champions", gender="F", age_min=30, age_max=39)
    champs = people[people["segment"] == "Champions"]
    want = set(champs.loc[(champs["gender"] == "F") & champs["age"].between(30, 39), "customer_id"])
    assert 0 < len(want) < len(champs)
    assert _drafted(r) == want and r["customer_conditions"] == {"gender": "F", "age_min": 30, "age_max": 39}
    assert "女性、30-39 岁" in render("draft_care_batch", r, "zh")
    assert "female, aged 30-39" in render("draft_care_batch", r, "en")


def test_birth_years_and_the_signup_channel_narrow_the_batch(routing_settings, people):
    channel = people["channel"].value_counts().index[0]
    r = _batch(routing_settings, segment="all", born_from=1990, born_to=1999, signup_channel=channel)
    want = set(people.loc[people["born"].between(1990, 1999) & (people["channel"] == channel), "customer_id"])
    assert _drafted(r) == want and r["rows"] == len(want) > 0
    assert f"{channel}渠道注册" in render("draft_care_batch", r, "zh")


def test_an_unknown_signup_channel_is_refused_with_the_known_ones(routing_settings):
    with pytest.raises(GuanxiError, match="known channel values"):
        _batch(routing_settings, segment="Champions", signup_channel="拼多多")


def test_the_at_risk_list_takes_the_same_conditions(routing_settings, people):
    r = call_tool("at_risk_customers", {"gender": "M", "age_min": 40, "top": 500}, settings=routing_settings, role="manager")
    who = people[(people["gender"] == "M") & (people["age"] >= 40) & people["churn_probability"].notna()]
    assert r["customers_considered"] == len(who) and r["count_at_risk"] == int((who["churn_probability"] >= 0.5).sum())
    assert {c["customer_id"] for c in r["customers"]} <= set(who["customer_id"])
    assert r["customer_conditions"] == {"gender": "M", "age_min": 40}
    assert render("at_risk_customers", r, "zh").startswith("男性、40 岁及以上的客户中，")


def test_the_member_list_takes_them_too(routing_settings, people):
    r = call_tool("segment_members", {"segment": "all", "signup_channel": people["channel"].value_counts().index[0],
                                      "born_from": 1980, "top": 5}, settings=routing_settings, role="manager")
    who = people[(people["channel"] == r["customer_conditions"]["signup_channel"]) & (people["born"] >= 1980)]
    assert r["count"] == len(who) > 0
    assert [m["customer_id"] for m in r["members"]] == who.sort_values(["monetary", "customer_id"], ascending=[False, True])["customer_id"].head(5).tolist()
    assert "渠道注册" in render("segment_members", r, "zh")


def test_silent_days_lists_and_drafts_the_customers_gone_quiet(routing_settings, scored):
    quiet = scored[scored["recency_days"] > 90]
    assert 0 < len(quiet) < len(scored)
    listed = call_tool("segment_members", {"segment": "all", "silent_days": 90, "top": 3}, settings=routing_settings,
                       role="manager")
    assert listed["count"] == len(quiet) and listed["customer_conditions"] == {"silent_days": 90}
    assert all(m["recency_days"] > 90 for m in listed["members"])
    assert render("segment_members", listed, "zh").startswith(f"超过 90 天没有下单的客户共 {len(quiet):,} 位")
    r = _batch(routing_settings, segment="all", silent_days=90)
    assert _drafted(r) == set(quiet["customer_id"]) and r["occasion"] == "winback"
    assert "no order in the last 90 days" in render("draft_care_batch", r, "en")
    champs = call_tool("segment_members", {"segment": "Champions", "silent_days": 30}, settings=routing_settings,
                       role="manager")
    assert champs["count"] == int(((scored["segment"] == "Champions") & (scored["recency_days"] > 30)).sum())


def test_share_of_all_is_the_group_over_everyone_in_the_same_period(routing_settings):
    def ask(**a):
        return call_tool("query_metrics", a, settings=routing_settings, role="manager")
    women, everyone = ask(metric="customers", gender="F", share_of_all=True), ask(metric="customers")
    assert women["share_of_all"]["all_value"] == everyone["value"]
    assert women["share_of_all"]["share"] == pytest.approx(women["value"] / everyone["value"])
    pct = f"{women['value'] / everyone['value']:.1%}"
    assert f"占同期全部客户数（{everyone['value']:,}）的 {pct}" in render("query_metrics", women, "zh")
    sales = ask(metric="sales", province="浙江省", date_from="2026-01-01", date_to="2026-06-30", share_of_all=True)
    assert sales["share_of_all"]["all_value"] == pytest.approx(
        ask(metric="sales", date_from="2026-01-01", date_to="2026-06-30")["value"])
    with pytest.raises(GuanxiError, match="count or a sum"):
        ask(metric="aov", gender="F", share_of_all=True)
    with pytest.raises(GuanxiError, match="at least one filter"):
        ask(metric="customers", share_of_all=True)


def test_the_care_calendar_takes_who_the_customers_are(routing_settings, people):
    def cal(**a):
        return call_tool("care_calendar", {"days": 30, "occasion": "birthday", "top": 1000, **a},
                         settings=routing_settings, role="manager")
    everyone, women = cal(), cal(gender="F")
    female = set(people.loc[people["gender"] == "F", "customer_id"])
    ids = {e["customer_id"] for e in everyone["entries"]}
    assert {e["customer_id"] for e in women["entries"]} == ids & female and 0 < women["total"] < everyone["total"]
    assert women["counts"] == {"birthday": len(ids & female)} and women["customer_conditions"] == {"gender": "F"}
    assert "女性的客户中" in render("care_calendar", women, "zh") and "customers female" in render("care_calendar", women, "en")


def test_the_contact_history_takes_who_the_customers_are(routing_settings, people):
    def contacts(**a):
        return call_tool("contact_history", {"mode": "not_contacted", "days": 90, "top": 5, **a},
                         settings=routing_settings, role="manager")
    everyone, women = contacts(), contacts(gender="F")
    assert 0 < women["active_customers"] < everyone["active_customers"]
    assert women["not_contacted"] + women["contacted"] == women["active_customers"]
    female = set(people.loc[people["gender"] == "F", "customer_id"])
    assert {c["customer_id"] for c in women["customers"]} <= female
    assert women["customer_conditions"] == {"gender": "F"} and "女性的活跃客户" in render("contact_history", women, "zh")


def test_no_order_in_a_past_period_lists_those_lapsed_as_the_metric_counts_them(routing_settings, routing_ws):
    # ordered before 2026-07-01, nothing from then to 2026-09-30 (orders in October do not matter)
    o = routing_ws.table("orders").assign(customer_id=lambda d: d["customer_id"].astype(str))
    day = pd.to_datetime(o["order_date"])
    before = set(o.loc[day < "2026-07-01", "customer_id"])
    inside = set(o.loc[(day >= "2026-07-01") & (day < "2026-10-01"), "customer_id"])
    args = {"no_order_from": "2026-07-01", "no_order_to": "2026-09-30"}
    listed = call_tool("segment_members", {"segment": "all", "top": 3, **args}, settings=routing_settings, role="manager")
    assert listed["count"] == len(before - inside) > 0
    assert {m["customer_id"] for m in listed["members"]} <= before - inside
    counted = call_tool("query_metrics", {"metric": "lapsed_customers", "date_from": "2026-07-01", "date_to": "2026-09-30"},
                        settings=routing_settings, role="manager")
    assert counted["value"] == listed["count"]
    assert "2026-07-01 至 2026-09-30 没有下单" in render("segment_members", listed, "zh")
    r = _batch(routing_settings, segment="all", **args)
    assert _drafted(r) == before - inside
