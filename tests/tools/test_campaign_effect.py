"""Campaign effect: the intervals against independent references, the planted demo uplift recovered
within its interval (and the null campaign's interval containing 0), partial windows, tiny
groups, campaigns written straight into an event log per the contract, and the chat tools."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from knowledge.demo import generate_demo
from knowledge.demo_campaigns import plant_campaigns
from knowledge.errors import GuanxiError
from knowledge.events import EventLog
from tools.campaign_effect import (Campaign, campaigns_from_events, find_campaign, measure_campaign, newcombe_diff,
                                   segments_as_of, welch_diff, wilson)
from tools.campaign_effect_report import actions_markdown, effect_markdown, next_actions


# --------------------------------------------------------------------------- the intervals
def test_newcombe_matches_the_paper():
    """Newcombe (1998), Stat Med 17:873, table II example (a): 56/70 − 48/80, method 10."""
    d, lo, hi = newcombe_diff(56, 70, 48, 80)
    assert d == pytest.approx(0.2) and lo == pytest.approx(0.0524, abs=5e-4) and hi == pytest.approx(0.3339, abs=5e-4)
    lo1, hi1 = wilson(0, 10)        # Wilson never leaves [0, 1], even at 0 successes
    assert lo1 == 0 and 0.25 < hi1 < 0.35


def test_welch_matches_scipy():
    from scipy.stats import ttest_ind
    rng = np.random.default_rng(1)
    a, b = rng.gamma(2, 30, 300), rng.gamma(2, 25, 120)
    d, lo, hi, df = welch_diff(a, b)
    ci = ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert d == pytest.approx(a.mean() - b.mean()) and (lo, hi) == pytest.approx((ci.low, ci.high))
    assert 120 < df < 420


# --------------------------------------------------------------------------- the planted truth
@pytest.fixture(scope="module")
def demo_raw(tmp_path_factory):
    """The default demo's files (5,000 customers, seed 42) with the planted campaigns; measured on
    the raw order lines (no build: a few seconds)."""
    raw = tmp_path_factory.mktemp("raw5000")
    generate_demo(raw, customers=5000, seed=42)
    truth = {c["key"]: c for c in plant_campaigns(raw)}
    orders = pd.read_csv(raw / "orders.csv")
    orders = orders[orders["amount"] > 0]
    fb = pd.read_csv(raw / "feedback.csv", encoding="gb18030").rename(
        columns={"客户编号": "customer_id", "反馈时间": "created_at", "评分": "rating"})
    return truth, orders, fb


def _measure(t, orders, fb, **kw):
    c = Campaign(id=t["id"], name=t["name_zh"], name_en=t["name_en"], occasion=t["occasion"], channel=t["channel"],
                 sent_at=t["sent_at"], treated=t["treated"], control=t["control"], **kw)
    return measure_campaign(c, orders, fb, "2026-11-01", t["window_days"])


def test_the_planted_uplift_is_recovered_within_its_interval(demo_raw):
    truth, orders, fb = demo_raw
    wb = truth["winback"]
    m = _measure(wb, orders, fb).metric("repurchase_rate")
    assert (m.n_treated, m.n_control) == (wb["n_treated"], wb["n_control"]) and m.n_treated >= 700
    assert m.ci_low <= wb["planted_uplift_repurchase"] <= m.ci_high, m
    assert m.ci_low > 0 and m.distinguishable and m.verdict == "higher"      # could fail: the effect is seen


def test_the_null_campaign_shows_no_effect(demo_raw):
    truth, orders, fb = demo_raw
    res = _measure(truth["festival"], orders, fb)
    m = res.metric("repurchase_rate")
    assert m.ci_low <= 0 <= m.ci_high and m.verdict == "no_measurable_effect" and not m.distinguishable
    assert res.complete and res.metric("satisfaction") is not None     # the demo's feedback has ratings


def test_an_open_window_is_measured_so_far_and_says_so(demo_raw):
    truth, orders, fb = demo_raw
    res = _measure(truth["vip_thanks"], orders, fb)
    assert not res.complete and res.observed_to == "2026-10-31" and res.window_end == truth["vip_thanks"]["window_end"]
    assert res.days_observed == 9
    zh, en = effect_markdown(res.to_dict(), True), effect_markdown(res.to_dict(), False)
    assert "窗口尚未结束" in zh and "部分结果" in zh and "partial figures" in en
    assert next_actions([res.to_dict()]) == []          # nothing measured to act on yet
    assert "no campaign's window is over" in actions_markdown([res.to_dict()], False)


def test_the_segments_split_the_groups_and_drive_the_next_action(demo_raw):
    truth, orders, fb = demo_raw
    wb = truth["winback"]
    res = _measure(wb, orders, fb, segment_of=segments_as_of(orders, wb["as_of"]))
    assert sum(s.n_treated for s in res.segments) == res.n_treated
    assert sum(s.n_control for s in res.segments) == res.n_control
    acts = next_actions([res.to_dict()])
    assert {a["segment"] for a in acts} == {s.segment for s in res.segments}
    for a in acts:
        s = next(x for x in res.segments if x.segment == a["segment"])
        expected = {"higher": "repeat", "lower": "stop", "too_small": "test_bigger"}.get(
            s.verdict, "retest" if s.uplift > 0 else "change")
        assert a["action"] == expected and a["uplift"] == s.uplift and f"n={s.n_treated:,}/{s.n_control:,}" in a["text_en"]


# --------------------------------------------------------------------------- campaigns from the log
def _log_campaign(log: EventLog, cid: str, treated, control, sent_at: str | None, occasion="winback", name="测试"):
    log.append("campaign_created", "alice", cid, {"name": name, "occasion": occasion, "channel": "sms",
                                                  "target": {"kind": "customers", "spec": {}},
                                                  "treated": treated, "control": control, "as_of": "2026-08-01",
                                                  "segment_of": {}, "holdout_share": 0.5},
               at="2026-08-01 10:00:00")
    if sent_at:
        log.append_many([("campaign_sent", "alice", cid, {"sent_at": sent_at, "customers": treated})] +
                        [("contact", "alice", c, {"campaign_id": cid, "channel": "sms", "occasion": occasion,
                                                  "marketing": True, "sent_at": sent_at}) for c in treated],
                        at=f"{sent_at} 09:00:00")


def test_tiny_groups_are_too_small_to_tell(routing_ws, tmp_path):
    log = EventLog(tmp_path / "events.sqlite")
    ids = sorted(routing_ws.table("customers")["customer_id"].astype(str))[:12]
    _log_campaign(log, "cmp-20260801-tiny", ids[:6], ids[6:], "2026-08-02")
    c = find_campaign(campaigns_from_events(log.events()))
    res = measure_campaign(c, routing_ws.table("orders"), routing_ws.table("feedback"), routing_ws.as_of())
    assert (res.n_treated, res.n_control) == (6, 6)
    assert all(m.verdict in ("too_small", "no_data") and not m.distinguishable for m in res.metrics)
    assert "样本太小，无法判断" in effect_markdown(res.to_dict(), True)
    assert next_actions([res.to_dict()])[0]["action"] == "test_bigger"


def test_campaigns_are_found_by_id_or_as_the_last_sent(tmp_path):
    log = EventLog(tmp_path / "events.sqlite")
    _log_campaign(log, "cmp-20260801-aaaa", ["C1"], ["C2"], "2026-08-02")
    _log_campaign(log, "cmp-20260901-bbbb", ["C3"], ["C4"], "2026-09-02", occasion="festival", name="2026 中秋问候")
    _log_campaign(log, "cmp-20261001-cccc", ["C5"], ["C6"], None)               # never sent
    cs = campaigns_from_events(log.events())
    assert find_campaign(cs, "中秋").id == "cmp-20260901-bbbb"                    # a word of its name
    with pytest.raises(GuanxiError, match="no campaign '双十一'"):                # never the last one instead
        find_campaign(cs, "双十一")
    assert find_campaign(cs).id == "cmp-20260901-bbbb"
    assert find_campaign(cs, "last", occasion="winback").id == "cmp-20260801-aaaa"
    assert find_campaign(cs, "CMP-20260801").id == "cmp-20260801-aaaa"          # a unique prefix, any case
    with pytest.raises(GuanxiError, match="no campaign 'cmp-x'"):
        find_campaign(cs, "cmp-x")
    with pytest.raises(GuanxiError, match="no birthday campaign has been marked sent"):
        find_campaign(cs, occasion="birthday")
    with pytest.raises(GuanxiError, match="not been marked sent"):
        measure_campaign(cs[2], pd.DataFrame({"customer_id": [], "order_date": [], "amount": []}), None, "2026-11-01")
    log.append("campaign_sent", "alice", "cmp-20260801-aaaa", {"sent_at": "2026-08-01", "customers": ["C7"]})
    batched = next(c for c in campaigns_from_events(log.events()) if c.id == "cmp-20260801-aaaa")
    assert batched.sent_at == "2026-08-01" and batched.sent_to == ["C1", "C7"]   # two batches: both, from the first day
    log.append("campaign_cancelled", "alice", "cmp-20260901-bbbb", {"reason": "test"})
    assert find_campaign(campaigns_from_events(log.events())).id == "cmp-20260801-aaaa"


def test_the_window_is_after_the_sending_day_up_to_its_last_day():
    orders = pd.DataFrame({"customer_id": ["A", "B", "C", "D"], "amount": [10.0, 20.0, 30.0, 40.0],
                           "order_date": ["2026-08-02 20:00:00", "2026-08-03 08:00:00", "2026-09-01 23:00:00",
                                          "2026-09-02 00:30:00"]})
    c = Campaign(id="cmp-1", sent_at="2026-08-02", treated=["A", "B", "C", "D"], control=["E"])
    res = measure_campaign(c, orders, None, "2026-11-01", window_days=30)
    m = res.metric("repurchase_rate")
    assert m.treated == 0.5 and m.control == 0.0           # B (day 1) and C (day 30), not A (sending day) nor D (day 31)
    assert res.metric("revenue_per_customer").treated == pytest.approx(12.5)
    assert res.window_start == "2026-08-03" and res.window_end == "2026-09-01" and res.complete
    with pytest.raises(GuanxiError, match="window_days must be between 1 and 365"):
        measure_campaign(c, orders, None, "2026-11-01", window_days=0)


def test_a_campaign_sent_after_the_data_ends_has_no_figures_yet():
    orders = pd.DataFrame({"customer_id": ["A"], "order_date": ["2026-10-30"], "amount": [5.0]})
    c = Campaign(id="cmp-2", name="今天的活动", sent_at="2026-12-02", treated=["A"], control=["B"])
    res = measure_campaign(c, orders, None, "2026-10-31")
    assert res.days_observed == 0 and not res.complete and res.metrics == [] and res.segments == []
    zh, en = effect_markdown(res.to_dict(), True), effect_markdown(res.to_dict(), False)
    assert "还没有发送之后的数据" in zh and "nothing to measure until newer data" in en
    assert "0.0%" not in zh and res.figure_json is None


def test_names_people_typed_are_shown_as_text():
    c = Campaign(id="cmp-1", name="**大促** <img src=x>", name_en="[x](http://e.x)", sent_at="2026-08-02",
                 treated=["A"], control=["B"])
    res = measure_campaign(c, pd.DataFrame({"customer_id": ["A"], "order_date": ["2026-08-05"], "amount": [1.0]}),
                           None, "2026-11-01")
    zh, en = effect_markdown(res.to_dict(), True), effect_markdown(res.to_dict(), False)
    assert "\\*\\*大促\\*\\* \\<img src=x\\>" in zh and "**大促**" not in zh      # escaped: shown as typed
    assert "\\[x\\](http\\://e.x)" in en and "（cmp-1；2026-08-02 发送）" in zh


# --------------------------------------------------------------------------- the chat tools
def test_the_effect_question_is_answered_with_numbers_chart_and_definitions(routing_settings):
    from assistant import Assistant
    a = Assistant(settings=routing_settings, role="manager")
    out = a.ask("上次挽回活动效果怎么样?")
    call = out["tool_calls"][0]
    assert call["tool"] == "campaign_effect" and call["args"] == {"occasion": "winback"}
    r = call["result"]
    truth = {c["id"]: c for c in json.loads((a.ctx.ws.raw_dir / "manifest.json").read_text(encoding="utf-8"))
             ["truth"]["campaigns"]}
    assert r["campaign_id"] in truth and truth[r["campaign_id"]]["key"] == "winback"
    assert (r["n_treated"], r["n_control"]) == (truth[r["campaign_id"]]["n_treated"], truth[r["campaign_id"]]["n_control"])
    rep = next(m for m in r["metrics"] if m["metric"] == "repurchase_rate")
    assert f"{rep['uplift'] * 100:+.1f} 个百分点" in out["answer"] and "95% CI" in out["answer"]
    assert "Newcombe" in out["answer"] and r["window_start"] in out["answer"]
    chart = out["chart"]
    assert len(chart["data"]) == len([m for m in r["metrics"] if m["treated"] is not None and m["control"] is not None])
    bars = chart["data"][0]
    assert bars["y"] == pytest.approx([rep["treated"] * 100, rep["control"] * 100])
    assert bars["error_y"]["array"][0] == pytest.approx((rep["treated_ci"][1] - rep["treated"]) * 100)


def test_which_campaign_worked_best_ranks_them_and_suggests_per_segment(routing_settings):
    from assistant import Assistant
    out = Assistant(settings=routing_settings, role="admin").ask("which campaign worked best?")
    call = out["tool_calls"][0]
    assert call["tool"] == "compare_campaigns"
    effects = call["result"]["effects"]
    assert len(effects) == call["result"]["campaigns_sent"] >= 3
    done = [e for e in effects if e["complete"]]
    ups = [next(m for m in e["metrics"] if m["metric"] == "repurchase_rate")["uplift"] for e in done]
    assert ups == sorted(ups, reverse=True) and not effects[-1]["complete"]      # partial ones last
    assert "Window not over" in out["answer"] and "Next action per segment" in out["answer"]


def test_the_next_action_for_one_segment(routing_settings):
    from assistant import Assistant
    out = Assistant(settings=routing_settings, role="manager").ask("下一步给休眠客户做什么活动好?")
    call = out["tool_calls"][0]
    assert call["tool"] == "compare_campaigns" and call["args"]["segment"] == "Hibernating"
    acts = call["result"]["next_actions"]
    assert all(a["segment"] == "Hibernating" for a in acts)
    assert "「休眠客户」的下一步" in out["answer"] and "口径" in out["answer"]
    for a in acts:
        assert a["text_zh"] in out["answer"]


def test_agents_are_refused_the_effect_tools(routing_settings):
    from assistant import Assistant
    out = Assistant(settings=routing_settings, role="agent").ask("did last month's win-back campaign work?")
    assert out["tool_calls"][0]["tool"] == "campaign_effect" and out["tool_calls"][0]["result"]["refused"] is True


def test_no_campaign_yet_is_said_plainly(tmp_path, routing_settings):
    from tools.campaign_effect_tools import compare_campaigns
    from tools.context import ToolContext, ToolError
    from knowledge.workspace import Workspace

    class Empty(Workspace):   # the session workspace's tables, an empty event log
        events_path = tmp_path / "none.sqlite"
    ws = Empty(routing_settings.workspace)
    ctx = ToolContext(routing_settings, role="manager", workspace=ws)
    r = compare_campaigns(ctx=ctx)
    assert r["count"] == 0 and r["next_actions"] == []
    with pytest.raises(ToolError, match="no campaign has been marked sent yet"):
        from tools.campaign_effect_tools import campaign_effect
        campaign_effect(ctx=ctx)
    assert "0 campaigns marked sent" in r["provenance"]
