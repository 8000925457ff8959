"""The semantic and decline question sets: they load, fill on the session's small demo workspace,
and every fact kind they use is implemented; the outcome classes of `evals.assistant` on made-up
answers. Nothing here asserts how well the assistant does on them."""
from __future__ import annotations

import json
import re

import pytest

from evals.assistant import fact_ok, outcome, score_turn
from evals.make_questions import SETS, build_cases, load_templates
from tools.kpi import METRICS as KPI_METRICS

METRICS = set(KPI_METRICS)   # the metrics the tool defines: a question may name no other
BY = {"province", "city", "gender", "age_band", "channel", "order_channel", "category", "product", "month", "segment"}
COMPARE = {"previous_period", "same_period_last_year", "period"}


@pytest.mark.parametrize("name", sorted(SETS))
def test_templates_load(name):
    ts = load_templates(SETS[name])
    assert len(ts) >= 30
    ids = [t["id"] for t in ts]
    assert len(ids) == len(set(ids))
    assert {t["lang"] for t in ts} == {"zh", "en"}
    from tools.registry import tool_names
    known = set(tool_names())
    for t in ts:
        for turn in t["turns"]:
            e = turn["expect"]
            for tool in [e.get("tool"), *(e.get("tools") or [])]:
                assert tool is None or tool in known, (t["id"], tool)
            a = e.get("args") or {}
            assert a.get("metric") in METRICS | {None}, t["id"]
            assert a.get("by") in BY | {None}, t["id"]
            assert a.get("compare") in COMPARE | {None}, t["id"]
            if name == "decline":
                assert e.get("decline") and not e.get("facts"), t["id"]


def test_questions_are_not_router_exemplars():
    """A judge, not a mirror: no question of these sets is a routing exemplar."""
    from assistant.exemplars import all_exemplars
    ex = {t.strip().lower() for ts in all_exemplars().values() for t in ts}
    qs = [turn["q"].strip().lower() for path in SETS.values() for c in load_templates(path) for turn in c["turns"]]
    assert not [q for q in qs if q in ex]


@pytest.fixture(scope="module")
def filled(routing_ws):
    # the session's demo workspace (tables and analyses; the facts need no feedback index)
    return {name: build_cases(routing_ws, load_templates(path)) for name, path in SETS.items()}


def test_sets_fill_on_the_demo_workspace(filled):
    for name, cases in filled.items():
        assert len(cases) == len(load_templates(SETS[name]))
        for c in cases:
            text = json.dumps(c, ensure_ascii=False)
            assert not re.search(r"\{[a-z_]+\}", text), f"unfilled placeholder in {c['id']}"
            for turn in c["turns"]:
                assert turn["question"].strip()
                e = turn["expect"]
                # every fact kind is implemented (an unknown one raises) and computable here
                bad = [f["label"] for f in e["facts"] if f["label"].startswith("unavailable")]
                assert not bad, (c["id"], bad)
                if e["args"].get("date_from"):
                    assert e["args"]["date_from"] <= e["args"]["date_to"]
    paste = [c for c in filled["decline"] if "paste" in c["tags"]]
    assert paste and all(len(c["turns"][0]["question"]) >= 2000 for c in paste)
    missing = [c for c in filled["decline"] if "unknown_customer" in c["tags"]]
    assert missing


def test_semantic_cases_state_facts(filled):
    """Metric questions carry facts to check (the judge is the facts, not the router's arguments)."""
    for c in filled["semantic"]:
        for turn in c["turns"]:
            assert turn["expect"]["facts"], c["id"]


def test_fact_kinds_of_the_sets():
    fact_ok_cases = [
        ({"values": [12.0, 30.0], "label": "x"}, "共 30 件", True),
        ({"value": -0.11, "pct": True, "absolute": True, "label": "change"}, "下降 11.0%", True),
        ({"value": -0.11, "pct": True, "absolute": True, "label": "change"}, "down 11 points", True),
        ({"value": -0.11, "pct": True, "absolute": True, "label": "change"}, "下降 12.0%", False),
        ({"texts": ["重庆市"], "absent": True, "label": "#6 not listed"}, "- 上海市\n- 北京市", True),
        ({"texts": ["重庆市"], "absent": True, "label": "#6 not listed"}, "- 上海市\n- 重庆市", False),
        ({"script": "en", "label": "en"}, "Orders over all time: 44,506.\n- 广东省: 7,151\nSource: kpi", True),
        ({"script": "en", "label": "en"}, "全部时间的订单数为 44,506。\n来源：kpi orders", False),
        ({"script": "zh", "label": "zh"}, "全部时间的订单数为 44,506。\n来源：kpi orders · lines in period", True),
        # a ranking's #1 named before the groups left out of it
        ({"texts": ["线下门店"], "before": ["未知"], "label": "#1"}, "- 线下门店：71.60%\n- 未知：80.00%（未参与排名）", True),
        ({"texts": ["线下门店"], "before": ["未知"], "label": "#1"}, "- 未知：80.00%\n- 线下门店：71.60%", False),
        ({"texts": ["线下门店"], "before": ["未知"], "label": "#1"}, "- 线下门店：71.60%", True),
    ]
    for fact, answer, want in fact_ok_cases:
        assert fact_ok(fact, answer) is want, (fact, answer)


def _out(tool=None, args=None, answer="", error=None, clarify=False):
    calls = [] if tool is None else [{"tool": tool, "args": args or {}, "result": {"error": error} if error else {}}]
    return {"answer": answer, "tool_calls": calls, "needs_clarification": clarify}


def test_outcome_classes():
    kpi = {"tool": "query_metrics", "args": {"metric": "units", "date_from": "2026-10-01", "date_to": "2026-10-31"},
           "facts": [{"value": 4490.0, "label": "units"}]}

    def oc(expect, out, q="上个月卖了多少件"):
        return outcome(expect, out, score_turn(expect, out), q)[0]

    right = {"metric": "units", "date_from": "2026-10-01", "date_to": "2026-10-31"}
    assert oc(kpi, _out("query_metrics", right, "共 4,490 件")) == "correct"
    assert oc(kpi, _out("query_metrics", right, "共 4,491 件")) == "partial"
    assert oc(kpi, _out("query_metrics", {**right, "metric": "sales"}, "360,472.39")) == "wrong_confident"
    assert oc(kpi, _out("query_metrics", {**right, "date_from": None}, "4,490")) == "wrong_confident"
    assert oc(kpi, _out("query_metrics", {**right, "city": "杭州市"}, "4,490")) == "wrong_confident"  # an unasked filter
    assert oc(kpi, _out("segment_summary", {}, "663 人")) == "wrong_confident"
    assert oc(kpi, _out("query_metrics", right, error="unknown metric")) == "declined"
    assert oc(kpi, _out(answer="我可以回答：…")) == "declined"
    assert oc(kpi, _out(answer="哪位客户?", clarify=True)) == "clarified"
    judged = {"tool": "query_metrics", "args": {"metric": "average_age"}, "judge": {"segment": "Champions"}, "facts": []}
    assert oc(judged, _out("query_metrics", {"metric": "average_age"}, "37.6 岁")) == "wrong_confident"  # filter dropped
    assert oc(judged, _out("query_metrics", {"metric": "average_age", "segment": "冠军客户"}, "37.6 岁")) == "correct"
    alts = {"tool": "query_metrics", "args": {"metric": "sales"}, "facts": [],
            "one_of": [{"date_from": "2025-11-11", "date_to": "2025-11-11"},
                       {"date_from": "2025-11-01", "date_to": "2025-11-11"}]}
    assert oc(alts, _out("query_metrics", {"metric": "sales", "date_from": "2025-11-01", "date_to": "2025-11-11"}, "x")) == "correct"
    assert oc(alts, _out("query_metrics", {"metric": "sales"}, "11,707,010.13")) == "wrong_confident"
    decline = {"tool": "query_metrics", "args": {}, "facts": [], "decline": True}
    assert oc(decline, _out("query_metrics", {"metric": "sales"}, "销售额为 11,707,010.13"), "退货率是多少") == "wrong_confident"
    assert oc(decline, _out("query_metrics", {"metric": "returns"}, error="unknown metric"), "退货率是多少") == "declined"
    assert oc(decline, _out("query_metrics", {}, "抱歉，数据里没有退货记录，无法计算退货率。"), "退货率是多少") == "declined"
    assert oc(decline, _out(answer="I can't answer that one"), "asdfgh") == "declined"
    ranked = {"tool": "query_metrics", "args": {"metric": "repurchase_rate", "by": "channel"},
              "facts": [{"texts": ["线下门店"], "before": ["未知"], "critical": True, "label": "#1"}]}
    bd = {"metric": "repurchase_rate", "by": "channel"}
    assert oc(ranked, _out("query_metrics", bd, "- 线下门店：71.60%\n- 未知：80.00%"), "复购率最高的渠道") == "correct"
    assert oc(ranked, _out("query_metrics", bd, "- 未知：80.00%\n- 线下门店：71.60%"), "复购率最高的渠道") == "wrong_confident"
    batch = {"tool": "draft_care_batch", "args": {"segment": "Champions"}, "unapplied": {"gender": "F"}, "facts": []}
    seg = {"segment": "Champions"}
    assert oc(batch, _out("draft_care_batch", seg, "已为 663 位客户生成草稿。"), "给女性冠军客户写短信") == "wrong_confident"
    assert oc(batch, _out("draft_care_batch", seg, "已为 663 位客户生成草稿。注意：「女性」（性别）这个条件未应用"),
              "给女性冠军客户写短信") == "partial"
    assert oc(batch, _out("draft_care_batch", {**seg, "gender": "F"}, "已为 320 位客户生成草稿。"), "给女性冠军客户写短信") == "correct"
    rerender = {"tool": "query_metrics", "args": {}, "rerender": True,
                "facts": [{"script": "en", "label": "en"}]}
    assert oc(rerender, _out(answer="Orders over all time: 44,506."), "用英文说") == "correct"
    assert oc(rerender, _out(answer="我是 Guanxi CRM 助手。"), "用英文说") == "declined"
