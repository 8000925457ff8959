"""Conditions on who a question means: a churn risk on a segment reaches the batch draft; one the tool
cannot take is named in the answer instead of dropped (assistant.conditions)."""
from __future__ import annotations

import pytest

from assistant.conditions import unapplied_conditions, unapplied_text
from assistant.question_words import churn_risk_named
from tools.spec import spec_for


@pytest.fixture(scope="module")
def router(routing_ws):
    from assistant.router import Router
    return Router(routing_ws)


@pytest.mark.parametrize("q, risk", [
    ("流失风险高的客户", "high"), ("高流失风险的会员", "high"), ("流失可能性比较大的那批人", "high"),
    ("customers at high risk of churn", "high"), ("high churn risk buyers", "high"),
    ("有流失风险的", "at_risk"), ("快要流失的老客户", "at_risk"), ("可能流失的", "at_risk"),
    ("the at-risk ones", "at_risk"), ("buyers likely to churn", "at_risk"), ("those who might churn", "at_risk"),
    ("已流失客户", None), ("挽回短信", None), ("who churned last year", None),
])
def test_churn_risk_words(q, risk):
    assert churn_risk_named(q) == risk


@pytest.mark.parametrize("q, want", [
    ("流失可能性比较大的重要价值客户群发一条微信", {"segment": "重要价值客户", "churn_risk": "high", "channel": "wechat"}),
    ("给可能流失的高价值客户批量写挽回短信", {"segment": "高价值客户", "churn_risk": "at_risk", "occasion": "winback"}),
    ("bulk draft texts for the Loyal customers at risk of churning", {"segment": "Loyal", "churn_risk": "at_risk"}),
    ("给冠军客户里流失概率超过70%的批量写短信", {"segment": "Champions", "min_probability": 0.7}),
    ("给流失风险高的客户群发挽回短信", {"segment": "all", "churn_risk": "high"}),
])
def test_a_churn_risk_on_a_segment_reaches_the_batch_draft(router, q, want):
    r = router.route(q)
    assert r.tool == "draft_care_batch", (q, r.tool)
    assert {k: r.args.get(k) for k in want} == want, r.args
    assert not r.focus.get("unapplied")
    if "min_probability" in want:
        assert "churn_risk" not in r.args   # the number asked for, not a level


def test_no_risk_named_the_occasion_stays_the_one_asked(router):
    r = router.route("帮我给流失风险高的冠军客户写生日祝福短信")
    assert r.args.get("occasion") == "birthday" and r.args.get("churn_risk") == "high"


def test_a_segment_named_after_churn_is_not_a_second_condition(router):
    r = router.route("给有流失风险客户批量写挽回短信")
    assert r.tool == "draft_care_batch" and r.args.get("segment") == "At Risk" and "churn_risk" not in r.args


def test_a_place_is_applied_and_a_gender_is_said_not_applied(router, routing_ws):
    city = routing_ws.table("customers")["city"].value_counts().index[0]
    r = router.route(f"给{city}的冠军客户批量写生日短信")
    assert r.tool == "draft_care_batch" and r.args.get("city") == city and not r.focus.get("unapplied")
    r = router.route("本周哪些女性客户过生日")   # the care calendar takes who the customers are
    assert r.tool == "care_calendar" and r.args.get("gender") == "F" and not r.focus.get("unapplied")
    r = router.route("女性客户投诉最多的问题是什么")   # the complaint topics take who the customers are
    assert r.tool == "complaint_topics" and r.args.get("gender") == "F" and not r.focus.get("unapplied")
    r = router.route("流失风险高的客户投诉最多的问题是什么")   # … but not a churn risk: said not applied
    assert r.tool == "complaint_topics" and r.focus["unapplied"] == [{"kind": "churn_risk", "value": "high"}]


@pytest.mark.parametrize("q, tool, want", [
    ("给女性冠军客户批量写生日短信", "draft_care_batch", {"segment": "Champions", "gender": "F"}),
    ("给30岁以下的重要价值客户批量写生日短信", "draft_care_batch", {"age_max": 29}),
    ("给90后的冠军客户群发中秋微信祝福", "draft_care_batch", {"born_from": 1990, "born_to": 1999}),
    ("给抖音来的忠诚客户每人写一条感谢短信", "draft_care_batch", {"segment": "Loyal", "signup_channel": "抖音"}),
    ("哪些女性客户有流失风险", "at_risk_customers", {"gender": "F"}),   # one gender with 哪些: a filter, not a breakdown
    ("show the at-risk customers over 40", "at_risk_customers", {"age_min": 41}),
    ("customers with churn probability above 70%", "at_risk_customers", {"min_probability": 0.7, "age_min": None}),
    ("列出女性冠军客户", "segment_members", {"segment": "Champions", "gender": "F"}),
    ("50岁以上的客户谁消费最多", "segment_members", {"segment": "all", "age_min": 50}),
    ("which customers bought the most", "segment_members", {"segment": "all"}),
])
def test_who_the_customers_are_reaches_the_group_tools(router, q, tool, want):
    r = router.route(q)
    assert r.tool == tool and {k: r.args.get(k) for k in want} == want, r.args
    assert not r.focus.get("unapplied")


def test_conditions_a_tool_takes_or_that_are_its_metric_are_not_flagged():
    kpi, batch, churn = spec_for("query_metrics"), spec_for("draft_care_batch"), spec_for("churn_risk")
    assert unapplied_conditions(kpi, {"gender": "F", "city": "杭州市"}, {"metric": "sales"}) == []
    assert unapplied_conditions(kpi, {"churn_risk": "at_risk"}, {"metric": "at_risk_customers"}) == []
    assert unapplied_conditions(kpi, {"churn_risk": "high"}, {"metric": "aov"}) == [{"kind": "churn_risk", "value": "high"}]
    assert unapplied_conditions(churn, {"gender": "F"}, {"customer_id": "C1"}) == []   # one customer: a description
    assert unapplied_conditions(batch, {"sales_channel": "抖音", "city": "杭州市", "churn_risk": "high"}, {}) == []
    assert unapplied_conditions(spec_for("care_calendar"), {"sales_channel": "抖音", "gender": "M"}, {}) == []
    assert unapplied_conditions(spec_for("contact_history"), {"gender": "M"}, {"mode": "not_contacted"}) == []
    topics = spec_for("complaint_topics")
    assert unapplied_conditions(topics, {"sales_channel": "抖音", "gender": "M"}, {}) == []
    assert unapplied_conditions(topics, {"churn_risk": "high", "silent_days": 90}, {}) == \
        [{"kind": "churn_risk", "value": "high"}, {"kind": "silent_days", "value": 90}]


def test_the_answer_says_what_was_not_applied(routing_settings):
    from assistant import Assistant
    a = Assistant(settings=routing_settings, audit=False)
    out = a.ask("女性客户买绿茶时还会一起买什么")   # the basket rules are over every order
    assert out["tool_calls"][-1]["tool"] == "bought_together"
    body, _, source = out["answer"].rpartition("\n")
    assert "「女性」（性别）这个条件未应用" in body and source.startswith("来源")   # before the provenance line
    en = a.ask("what do male customers buy together with green tea")["answer"]
    assert 'the condition "male" (gender) was not applied' in en


def test_unapplied_text_names_each_condition_once():
    zh = unapplied_text([{"kind": "gender", "value": "M"}, {"kind": "age_range", "value": ("age", 30, 129)}], True)
    assert "「男性」（性别）、「30 岁以上」（年龄）" in zh and "不按性别、年龄筛选" in zh
    en = unapplied_text([{"kind": "churn_risk", "value": "at_risk"}], False)
    assert '"at risk of churning" (churn risk)' in en
    assert unapplied_text([], True) == ""
