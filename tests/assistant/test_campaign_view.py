"""The Campaigns page's steps below the layout: run as the request's user and role, audited, a refused
or out-of-order step a message (never a traceback), drafts as a plain table with pending edits."""
from __future__ import annotations

import json

import pytest

from assistant.campaign_view import campaign_choices, campaign_step, draft_sources, drafts_table
from knowledge.workspace import Workspace
from tools.campaigns import campaign, create_campaign


@pytest.fixture
def ws(routing_ws_copy) -> Workspace:
    return routing_ws_copy


def _audit(ws) -> list[dict]:
    return [json.loads(x) for x in ws.audit_log_path.read_text(encoding="utf-8").splitlines()]


def test_the_steps_say_what_happened_and_are_audited(ws):
    c = create_campaign(ws, actor="mia", role="manager", target_kind="at_risk", target_spec={"top": 20})
    assert campaign_choices(ws) == [(f"{c.id} · drafted · {c.name[:50]}", c.id)]
    who = c.treated[0]
    table = drafts_table(ws, c.id, {who: "王女士您好，回来看看吧【Guanxi 商城】"}, "zh")
    assert list(table.columns[:3]) == ["客户编号", "姓名", "草稿"] and len(table) == len(c.treated)
    assert table.set_index("客户编号").loc[who, "已修改"] == "✓"
    src = draft_sources(ws, c.id, who, "en")
    assert list(src.columns) == ["detail", "value", "source"] and "name" in set(src["detail"])
    assert "customers table" in " ".join(src["source"])

    msg, export = campaign_step(ws, "al", "agent", "approve", c.id)
    assert msg.startswith("⚠") and "只有经理或管理员" in msg and export is None
    msg, _ = campaign_step(ws, "mia", "manager", "sent", c.id, lang="en")
    assert msg.startswith("⚠") and "next step: approve it" in msg
    msg, _ = campaign_step(ws, "mia", "manager", "approve", c.id, edits={who: "王女士您好，回来看看吧【Guanxi 商城】"})
    assert msg.startswith("✓") and "1 处修改" in msg
    msg, export = campaign_step(ws, "mia", "manager", "export_csv", c.id)
    assert "行" in msg and export["rows"] == len(c.treated) and export["masked"]
    msg, _ = campaign_step(ws, "mia", "manager", "sent", c.id)
    assert campaign(ws, c.id).state == "sent"
    steps = [(r["user"], r["event"], r["outcome"]) for r in _audit(ws) if r["event"].startswith("campaign_")]
    assert steps == [("al", "campaign_approve", "refused"), ("mia", "campaign_sent", "refused"),
                     ("mia", "campaign_approve", "ok"), ("mia", "campaign_export_csv", "ok"), ("mia", "campaign_sent", "ok")]
    assert campaign_step(ws, "mia", "manager", "approve", None)[0].startswith("⚠")
