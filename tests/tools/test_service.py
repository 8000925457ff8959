"""Complaint follow-through, notes and contact history from the event log (issue 12, 客户服务管理):
tools.service_log (pure) and the tools of tools.service_tools, on copies of the demo workspace."""
from __future__ import annotations

import re
import shutil
from datetime import date, timedelta

import pandas as pd
import pytest

from assistant.card import render_card
from knowledge.events import EventLog
from knowledge.settings import Settings
from knowledge.workspace import Workspace
from tools.context import ToolContext, ToolError
from tools.registry import call_tool
from tools.service_log import contact_window, parse_status, record_contact, status_label, StatusChange


def _copy(settings, tmp_path, name="ws") -> Settings:
    root = tmp_path / name
    shutil.copytree(settings.workspace, root, ignore=shutil.ignore_patterns(
        "exports", "audit.jsonl", "*.log", "events.sqlite*"))
    return Settings.load(env={}, config_file=root / "none.toml", workspace=root)


def _ctx(settings, user="alice", role="agent") -> ToolContext:
    return ToolContext(settings, role=role, user=user)


def _open_complaint(ws: Workspace) -> pd.Series:
    fb = ws.table("feedback")
    return fb.loc[fb["kind"].eq("complaint") & fb["status"].eq("open")].iloc[0]


@pytest.fixture
def ws_copy(routing_settings, tmp_path):
    return _copy(routing_settings, tmp_path)


# ------------------------------------------------------------------ pure parts
def test_status_words_and_labels_in_both_languages():
    assert [parse_status(w) for w in ("已解决", "resolved", "处理中", "in progress", "重新打开", "reopen")] == \
        ["resolved", "resolved", "in_progress", "in_progress", "open", "open"]
    with pytest.raises(Exception, match="expected resolved"):
        parse_status("maybe")
    ch = StatusChange("FB1", "resolved", "已退款", "alice", "2026-12-02 10:00:00", "open", "C1", 1)
    assert status_label("open", ch, True) == "已解决（alice 2026-12-02 标记；源文件为 未解决）"
    assert status_label("open", ch, False) == "resolved (by alice 2026-12-02; source file says open)"
    assert status_label("resolved", ch, False) == "resolved (by alice 2026-12-02)"   # they agree: one status
    assert status_label("open", None, True) == "未解决"


def test_contact_windows_count_back_from_today():
    wed = date(2026, 12, 2)
    assert contact_window("last_week", None, None, None, today=wed) == ("2026-11-23", "2026-11-29")
    assert contact_window("this_week", None, None, None, today=wed) == ("2026-11-30", "2026-12-02")
    assert contact_window("last_month", None, None, None, today=wed) == ("2026-11-01", "2026-11-30")
    assert contact_window(None, 7, None, None, today=wed) == ("2026-11-26", "2026-12-02")


# ------------------------------------------------------------------ complaint follow-through
def test_a_resolved_complaint_is_an_event_and_the_card_shows_both_statuses(ws_copy):
    ws = Workspace(ws_copy.workspace)
    row = _open_complaint(ws)
    fid, cid = str(row["feedback_id"]), str(row["customer_id"])
    before = call_tool("customer_profile", {"customer_id": cid}, ctx=_ctx(ws_copy))
    assert fid in [c["feedback_id"] for c in before["open_complaints"]]
    out = call_tool("update_complaint", {"feedback_id": fid.lower(), "status": "resolved", "resolution": "已退款，并致歉"},
                    ctx=_ctx(ws_copy))
    assert (out["feedback_id"], out["status"], out["previous_status"], out["actor"]) == (fid, "resolved", "open", "alice")
    (ev,) = EventLog.of(ws).events(kind="complaint_status")
    assert (ev.subject, ev.actor, ev.payload["customer_id"], ev.payload["resolution"]) == (fid, "alice", cid, "已退款，并致歉")
    assert ws.table("feedback").set_index("feedback_id").loc[fid, "status"] == "open"   # the source is never changed
    card = call_tool("customer_profile", {"customer_id": cid}, ctx=_ctx(ws_copy))
    assert fid not in [c["feedback_id"] for c in card["open_complaints"]]
    (done,) = [c for c in card["followed_complaints"] if c["feedback_id"] == fid]
    assert done["status_label_zh"].startswith("已解决（alice") and "源文件为 未解决" in done["status_label_zh"]
    assert "source file says open" in render_card(card, "en") and "已退款，并致歉" in render_card(card, "zh")
    call_tool("update_complaint", {"feedback_id": fid, "status": "open", "resolution": ""}, ctx=_ctx(ws_copy, "bob"))
    again = call_tool("customer_profile", {"customer_id": cid}, ctx=_ctx(ws_copy))
    reopened = next(c for c in again["open_complaints"] if c["feedback_id"] == fid)
    assert reopened["status_label_en"] == "open (by bob " + reopened["status_at"][:10] + ")"


def test_resolution_text_is_required_limited_and_never_markup(ws_copy):
    ws = Workspace(ws_copy.workspace)
    row = _open_complaint(ws)
    fid, cid = str(row["feedback_id"]), str(row["customer_id"])
    with pytest.raises(ToolError, match="resolution: the text is empty"):
        call_tool("update_complaint", {"feedback_id": fid, "status": "resolved"}, ctx=_ctx(ws_copy))
    with pytest.raises(ToolError, match="301 characters, at most 300"):
        call_tool("update_complaint", {"feedback_id": fid, "resolution": "退" * 301}, ctx=_ctx(ws_copy))
    with pytest.raises(ToolError, match="no feedback item 'FB-nope'"):
        call_tool("update_complaint", {"feedback_id": "FB-nope", "resolution": "x"}, ctx=_ctx(ws_copy))
    assert EventLog.of(ws).count() == 0
    evil = "<img src=http://127.0.0.1:9/x> [点我](http://x) 回电 13812345678"
    call_tool("update_complaint", {"feedback_id": fid, "resolution": evil}, ctx=_ctx(ws_copy))
    md = render_card(call_tool("customer_profile", {"customer_id": cid}, ctx=_ctx(ws_copy)), "zh")
    assert "\\<img" in md and not re.search(r"(?<!\\)<img|(?<!\\)\]\(http", md)   # shown as text, escaped
    assert "13812345678" not in md   # personal data in the agent's text is masked for an agent


def test_a_rebuild_on_re_exported_data_keeps_the_complaint_resolved(tmp_path):
    from assistant.pipeline import build_demo, build_workspace
    root = tmp_path / "ws"
    settings = Settings.load(env={}, config_file=root / "none.toml", workspace=root)
    build_demo(settings, seed=3, index=False, customers=60, orders=900, feedback=120)
    ws = Workspace(root)
    row = _open_complaint(ws)
    fid, cid = str(row["feedback_id"]), str(row["customer_id"])
    planted = EventLog.of(ws).count()   # the demo's past campaigns
    call_tool("update_complaint", {"feedback_id": fid, "resolution": "已补发"}, ctx=_ctx(settings))
    call_tool("add_customer_note", {"customer_id": cid, "text": "只在工作日联系"}, ctx=_ctx(settings))
    old_build = Workspace(root).generation
    build_workspace(settings, root / "raw", index=False)         # the re-exported feedback still says open
    fresh = Workspace(root)
    assert fresh.generation != old_build
    assert fresh.table("feedback").set_index("feedback_id").loc[fid, "status"] == "open"
    assert EventLog.of(fresh).count() == planted + 2              # every event kept
    card = call_tool("customer_profile", {"customer_id": cid}, ctx=_ctx(settings))
    (done,) = [c for c in card["followed_complaints"] if c["feedback_id"] == fid]
    assert done["status"] == "resolved" and done["status_source"] == "open"
    assert "源文件为 未解决" in render_card(card, "zh") and "只在工作日联系" in render_card(card, "zh")


def test_complaint_search_shows_and_filters_by_the_logs_status(demo_settings, tmp_path):
    settings = _copy(demo_settings, tmp_path)
    ws = Workspace(settings.workspace)
    row = _open_complaint(ws)
    fid, text = str(row["feedback_id"]), str(row["text"])
    call_tool("update_complaint", {"feedback_id": fid, "resolution": "已退款"}, ctx=_ctx(settings))
    res = call_tool("similar_complaints", {"text": text, "k": 10}, ctx=_ctx(settings))
    hit = next(h for h in res["hits"] if h["feedback_id"] == fid)
    assert (hit["status"], hit["status_source"], hit["resolution"]) == ("resolved", "open", "已退款")
    assert "source file says open" in hit["status_label_en"]
    still_open = call_tool("similar_complaints", {"text": text, "k": 10, "status": "open"}, ctx=_ctx(settings))
    assert fid not in [h["feedback_id"] for h in still_open["hits"]]
    resolved = call_tool("similar_complaints", {"text": text, "k": 10, "status": "resolved"}, ctx=_ctx(settings))
    assert fid in [h["feedback_id"] for h in resolved["hits"]]
    assert still_open["matched"] + resolved["matched"] == call_tool(
        "similar_complaints", {"text": text, "k": 1}, ctx=_ctx(settings))["matched"]


# ------------------------------------------------------------------ notes and contacts
def test_chat_marks_complaints_adds_notes_and_marks_messages_sent(ws_copy):
    from assistant import Assistant
    ws = Workspace(ws_copy.workspace)
    row = _open_complaint(ws)
    fid, cid = str(row["feedback_id"]), str(row["customer_id"])
    a = Assistant(settings=ws_copy, role="agent", user="carol", entry="cli")
    cases = [
        (f"把投诉 {fid} 标记为已解决，已退款", "update_complaint", {"feedback_id": fid, "status": "resolved", "resolution": "已退款"}),
        (f"mark complaint {fid} in progress: calling the courier", "update_complaint",
         {"feedback_id": fid, "status": "in_progress", "resolution": "calling the courier"}),
        (f"给{cid}加个备注：喜欢电话联系", "add_customer_note", {"customer_id": cid, "text": "喜欢电话联系"}),
        (f"add a note to {cid}: prefers WeChat", "add_customer_note", {"customer_id": cid, "text": "prefers WeChat"}),
        (f"{cid} 的生日短信已经发了", "mark_message_sent", {"customer_id": cid, "occasion": "birthday"}),
        (f"mark the win-back SMS to {cid} as sent", "mark_message_sent", {"customer_id": cid, "occasion": "winback"}),
    ]
    for q, tool, args in cases:
        a.reset()
        out = a.ask(q)
        (call,) = out["tool_calls"]
        assert call["tool"] == tool and {k: call["args"].get(k) for k in args} == args, (q, call)
    evs = EventLog.of(ws).events()
    assert [e.kind for e in evs] == ["complaint_status"] * 2 + ["customer_note"] * 2 + ["contact"] * 2
    assert {e.actor for e in evs} == {"carol"}
    assert [e.payload["marketing"] for e in evs if e.kind == "contact"] == [True, True]
    audited = ws.audit_log_path.read_text(encoding="utf-8")
    assert audited.count('"tool": "update_complaint"') == 2 and "13812345678" not in audited


def test_contact_history_who_was_contacted_and_who_not_in_90_days(ws_copy):
    from assistant import Assistant
    ws = Workspace(ws_copy.workspace)
    log = EventLog.of(ws)
    today = date.today()
    orders = ws.table("orders")
    as_of = ws.as_of()
    active = sorted(set(orders.loc[orders["order_date"].between(as_of - pd.Timedelta(days=365), as_of,
                                                                  inclusive="left"), "customer_id"].astype(str)))
    last_week_start = today - timedelta(days=today.weekday() + 7)
    for i, cid in enumerate(active[:5]):
        record_contact(log, cid, "sms", "birthday", "dave", sent_at=(last_week_start + timedelta(days=i)).isoformat())
    record_contact(log, active[5], "wechat", "winback", "dave", sent_at=(today - timedelta(days=200)).isoformat())
    a = Assistant(settings=ws_copy, role="agent", user="dave")
    for q in ("上周联系了哪些客户", "who did we contact last week?"):
        a.reset()
        out = a.ask(q)
        (call,) = out["tool_calls"]
        assert call["tool"] == "contact_history" and call["args"]["period"] == "last_week", call
        r = call["result"]
        assert (r["customers"], r["messages"], r["single"]) == (5, 5, 5)
        assert {c["customer_id"] for c in r["list"]} == set(active[:5])
    for q in ("哪些客户90天没联系了", "who hasn't been contacted in 90 days?"):
        a.reset()
        out = a.ask(q)
        (call,) = out["tool_calls"]
        assert call["tool"] == "contact_history" and call["args"] == {"mode": "not_contacted", "days": 90}, call
        r = call["result"]
        assert (r["active_customers"], r["contacted"], r["not_contacted"]) == (len(active), 5, len(active) - 5)
        assert r["never_contacted"] == len(active) - 6          # one was contacted, 200 days ago
        clv = ws.artefact("clv").set_index("customer_id")["clv_12m"]
        values = [clv.get(c["customer_id"], 0.0) for c in r["customers"]]
        assert values == sorted(values, reverse=True)         # the most valuable first
    assert "most valuable first" in out["answer"]
    a.reset()
    out = a.ask(f"{active[0]}的联系记录")
    assert out["tool_calls"][0]["args"] == {"mode": "customer", "customer_id": active[0]}
    assert out["tool_calls"][0]["result"]["total"] == 1
    card = render_card(call_tool("customer_profile", {"customer_id": active[0]}, ctx=_ctx(ws_copy)), "zh")
    assert "**联系记录**：1 次" in card and "dave" in card


def test_the_cli_writes_events_as_its_user_and_audits_them(ws_copy, capsys):
    import getpass
    import json

    from assistant.cli import main as guanxi
    ws = Workspace(ws_copy.workspace)
    row = _open_complaint(ws)
    fid, cid = str(row["feedback_id"]), str(row["customer_id"])
    assert guanxi(["ask", f"mark complaint {fid} resolved: refunded", "--workspace", str(ws.root), "--user", "erin"]) == 0
    assert "resolved (by erin" in capsys.readouterr().out
    assert guanxi(["tool", "add_customer_note", "--args", json.dumps({"customer_id": cid, "text": "VIP"}),
                   "--role", "agent", "--workspace", str(ws.root)]) == 0
    assert [(e.kind, e.actor) for e in EventLog.of(ws).events()] == [("complaint_status", "erin"),
                                                                     ("customer_note", getpass.getuser())]
    audit = [json.loads(x) for x in ws.audit_log_path.read_text(encoding="utf-8").splitlines()]
    assert [(r["user"], r["tool_calls"][0]["tool"]) for r in audit] == [("erin", "update_complaint"),
                                                                         (getpass.getuser(), "add_customer_note")]


def test_the_card_counts_every_open_complaint_not_only_the_three_it_lists(ws_copy):
    ws = Workspace(ws_copy.workspace)
    fb = ws.table("feedback")
    opened = fb.loc[fb["kind"].eq("complaint") & fb["status"].eq("open")]
    cid = str(opened.groupby("customer_id")["feedback_id"].count().idxmax())   # the most open complaints
    mine = opened.loc[opened["customer_id"] == cid]
    card = call_tool("customer_profile", {"customer_id": cid}, ctx=_ctx(ws_copy))
    assert card["open_count"] == len(mine) >= 1
    call_tool("update_complaint", {"feedback_id": str(mine["feedback_id"].iloc[0]), "resolution": "已处理"},
              ctx=_ctx(ws_copy))
    after = call_tool("customer_profile", {"customer_id": cid}, ctx=_ctx(ws_copy))
    assert after["open_count"] == len(mine) - 1
    assert f"**未解决投诉**：{len(mine) - 1} 条" in render_card(after, "zh")
