"""`Assistant.ask` end to end, offline: the answer object, memory, clarification, roles, facts."""
from __future__ import annotations

import re

import pytest

from assistant import Assistant
from assistant.answers import unsupported_numbers

KEYS = {"answer", "language", "tool_calls", "provenance", "chart", "needs_clarification"}


@pytest.fixture()
def a(demo_settings):
    return Assistant(settings=demo_settings)


@pytest.fixture(scope="module")
def ids(demo_ws):
    rfm = demo_ws.artefact("rfm")
    cust = demo_ws.table("customers")
    names = cust["name"].astype(str)
    shared = [n for n, k in names.value_counts().items() if k >= 2]
    return {"cid": str(rfm["customer_id"].iloc[5]), "shared": shared[0] if shared else None}


def test_the_answer_object(a, ids, demo_ws):
    out = a.ask(f"{ids['cid']} 的 RFM 分群是什么?")
    assert set(out) == KEYS
    assert out["language"] == "zh" and not out["needs_clarification"]
    call = out["tool_calls"][0]
    assert call["tool"] == "rfm_lookup" and call["args"] == {"customer_id": ids["cid"]}
    row = demo_ws.artefact("rfm").set_index("customer_id").loc[ids["cid"]]
    assert row["segment_zh"] in out["answer"] and f"{row['monetary']:,.2f}" in out["answer"]
    assert out["provenance"] and "来源" in out["answer"]


def test_english_question_english_answer_with_a_chart(a):
    out = a.ask("How many customers are in each RFM segment?")
    assert out["language"] == "en" and out["tool_calls"][0]["tool"] == "segment_summary"
    assert "customers" in out["answer"] and "Source:" in out["answer"]
    assert out["chart"]["data"][0]["type"] == "bar"


def test_follow_up_questions_use_the_conversation(a, ids):
    a.ask(f"{ids['cid']}的RFM分群是什么?")
    out = a.ask("他的流失概率呢?")
    assert out["tool_calls"][0]["tool"] == "churn_risk"
    assert out["tool_calls"][0]["args"] == {"customer_id": ids["cid"]}
    out = a.ask("and his lifetime value?")
    assert out["tool_calls"][0]["tool"] == "clv_estimate" and out["tool_calls"][0]["args"]["customer_id"] == ids["cid"]
    a.ask("各省销售额")
    out = a.ask("那客单价呢?")
    assert out["tool_calls"][0]["args"] == {"metric": "aov", "by": "province"}
    a.reset()
    out = a.ask("他的流失概率呢?")
    assert out["needs_clarification"] and not out["tool_calls"]


def test_two_customers_with_one_name(a, ids, demo_ws):
    assert ids["shared"], "the demo generator plants common names (王伟, 李娜 ...) shared by customers"
    out = a.ask(f"{ids['shared']}的画像")
    assert out["needs_clarification"] and not out["tool_calls"]
    cands = sorted(demo_ws.table("customers").query("name == @ids['shared']")["customer_id"].astype(str))
    assert all(c in out["answer"] for c in cands)
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", out["answer"])  # contacts masked in the question too
    out = a.ask("第二个")
    assert not out["needs_clarification"]
    assert out["tool_calls"][0] == {**out["tool_calls"][0], "tool": "customer_profile", "args": {"customer_id": cands[1]}}


def test_unknown_questions_get_an_honest_list_not_a_guess(a):
    out = a.ask("明天会下雨吗?")
    assert out["tool_calls"] == [] and not out["needs_clarification"]
    assert "我可以回答" in out["answer"] and "流失" in out["answer"]
    out = a.ask("tell me a joke")
    assert out["tool_calls"] == [] and "I can answer" in out["answer"]


def test_an_agent_may_not_see_kpis(demo_settings):
    agent = Assistant(settings=demo_settings, role="agent")
    out = agent.ask("各省销售额")
    assert out["tool_calls"][0]["result"]["error"] == "role 'agent' may not use tool 'query_metrics'"
    assert "agent" in out["answer"]


@pytest.mark.parametrize("q", ["哪些客户有流失风险?", "重要价值客户有多少", "sales by province last year",
                               "今年的复购率", "冠军客户有哪些", "top complaint topics last quarter",
                               "未来7天谁过生日?", "CLV最高的客户是谁?", "what do people buy together with coffee?"])
def test_every_number_in_an_answer_comes_from_the_tool_result(a, q):
    out = a.ask(q)
    assert out["tool_calls"] and "error" not in out["tool_calls"][0]["result"], out["answer"]
    assert unsupported_numbers(out["answer"], [c["result"] for c in out["tool_calls"]]) == []


def test_eval_runs_on_a_slice_of_the_question_set(demo_settings, demo_ws):
    from evals.assistant import run
    from evals.make_questions import build_cases
    cases = build_cases(demo_ws)
    assert len(cases) >= 200 and sum(1 for c in cases for t in c["turns"] if t["expect"]) >= 200
    picked = cases[::6]
    rep = run(demo_settings, picked)
    assert rep["routing"][0] >= 0.9 and rep["facts"][0] >= 0.85, [r for r in rep["rows"] if not r["routed"]]


def test_eval_questions_are_not_router_exemplars():
    from assistant.exemplars import all_exemplars
    from evals.make_questions import load_templates
    ex = {t.lower() for ts in all_exemplars().values() for t in ts}
    qs = [turn["q"].lower() for c in load_templates() for turn in c["turns"]]
    assert not [q for q in qs if q in ex]


def test_a_follow_up_after_a_failed_answer_asks_the_same_question_again(routing_settings):
    a = Assistant(settings=routing_settings, audit=False)
    first = a.ask("2030年的销售额")["tool_calls"][0]
    assert first["tool"] == "query_metrics" and "error" in first["result"]   # the data does not reach 2030
    again = a.ask("那2025年呢?")["tool_calls"][0]
    assert again["tool"] == "query_metrics" and again["args"]["date_from"] == "2025-01-01" and "error" not in again["result"]
