"""The app's Campaigns page, below the layout: the campaign picker, the drafts table, and the steps a
person takes (approve with edits, export, mark sent, cancel) — each run as the logged-in user with
the role the users file gives them (`tools.campaigns_flow` refuses everyone but managers and
admins) and audited. Customer text (names, drafts) is data: it goes into a table cell or a
textbox, never into HTML, and any Markdown is rendered by `assistant.answers.render` (md_safe).
"""
from __future__ import annotations

import pandas as pd

from assistant.audit import audit
from knowledge.errors import GuanxiError
from knowledge.workspace import Workspace
from tools.campaigns import campaigns
from tools.campaigns_flow import approve_campaign, campaign_drafts, cancel_campaign, export_campaign, mark_sent
from tools.formatting import md_text

__all__ = ["campaign_choices", "drafts_table", "draft_sources", "campaign_step", "DRAFT_COLUMNS", "STEPS"]

DRAFT_COLUMNS = ["customer_id", "name", "text", "length", "warnings", "edited"]
_HEAD_ZH = {"customer_id": "客户编号", "name": "姓名", "text": "草稿", "length": "长度", "warnings": "提示", "edited": "已修改"}
STEPS = ("approve", "export_csv", "export_xlsx", "sent", "cancel")
_DONE = {"approve": ("已审批", "approved"), "export_csv": ("已导出 CSV", "exported as CSV"),
         "export_xlsx": ("已导出 xlsx", "exported as .xlsx"), "sent": ("已标记为已发送", "marked sent"),
         "cancel": ("已取消", "cancelled")}


def campaign_choices(ws: Workspace) -> list[tuple[str, str]]:
    """(label, id) of every campaign, newest first: "cmp-… · sent · name"."""
    return [(f"{c.id} · {c.state} · {str(c.payload.get('name') or '')[:50]}", c.id) for c in campaigns(ws)]


def drafts_table(ws: Workspace, campaign_id: str | None, edits: dict | None, lang: str = "zh") -> pd.DataFrame:
    """The drafts of a campaign's treated customers, with the pending edits applied (before approval)."""
    if not campaign_id:
        return pd.DataFrame(columns=DRAFT_COLUMNS)
    rows = campaign_drafts(ws, campaign_id, edits=edits or {})
    df = pd.DataFrame([{"customer_id": r["customer_id"], "name": r["name"],
                        "text": (f"[{r['subject']}] " if r["subject"] else "") + r["text"],
                        "length": f"{r['length']}/{r['limit']}" if r["limit"] else str(r["length"]),
                        "warnings": "; ".join(map(str, r["warnings"])), "edited": "✓" if r["edited"] else ""}
                       for r in rows], columns=DRAFT_COLUMNS)
    return df.rename(columns=_HEAD_ZH) if lang != "en" else df


def draft_sources(ws: Workspace, campaign_id: str | None, customer_id: str, lang: str = "zh") -> pd.DataFrame:
    """Where each personal detail of one customer's draft comes from (detail, value, source)."""
    rows = campaign_drafts(ws, campaign_id, customers=[customer_id]) if campaign_id else []
    src = pd.DataFrame(rows[0]["sources"] if rows else [], columns=["detail", "value", "source"])
    return src.rename(columns={"detail": "项目", "value": "内容", "source": "来源"}) if lang != "en" else src


def campaign_step(ws: Workspace, user: str, role: str, step: str, campaign_id: str | None, *,
                  edits: dict | None = None, ttl_minutes: int = 60, send_hours: str = "08:00-21:00",
                  sent_at: str | None = None,
                  reason: str = "", lang: str = "zh") -> tuple[str, dict | None]:
    """Run one step on a campaign as ``user`` / ``role``: (message in Markdown, the export's result or None).
    A refused or out-of-order step is a message, never a traceback; every attempt is audited."""
    zh = lang != "en"
    if not campaign_id:
        return ("⚠ 请先选择一个活动。" if zh else "⚠ Pick a campaign first."), None
    if step not in STEPS:
        raise GuanxiError(f"unknown campaign step {step!r}; expected one of {', '.join(STEPS)}")
    export = None
    try:
        if step == "approve":
            approve_campaign(ws, campaign_id, actor=user, role=role, edits=edits or {})
        elif step in ("export_csv", "export_xlsx"):
            export = export_campaign(ws, campaign_id, actor=user, role=role, fmt=step.split("_")[1],
                                     ttl_minutes=ttl_minutes, send_hours=send_hours)
        elif step == "sent":
            mark_sent(ws, campaign_id, actor=user, role=role, sent_at=sent_at or None)
        else:
            cancel_campaign(ws, campaign_id, actor=user, role=role, reason=reason)
    except GuanxiError as e:
        audit(ws, user, role, f"campaign_{step}", campaign_id=campaign_id, outcome="refused")
        return f"⚠ {md_text(e)}", None
    audit(ws, user, role, f"campaign_{step}", campaign_id=campaign_id, outcome="ok",
          **({"file": export["path"].rsplit("/", 1)[-1], "rows": export["rows"]} if export else {}))
    done = _DONE[step][0 if zh else 1]
    extra = ""
    if step == "approve" and edits:
        extra = f"（含 {len(edits)} 处修改）" if zh else f" (with {len(edits)} edits)"
    if export:
        extra = (f"：{export['rows']} 行，发送时段 {export['send_hours']}" + ("，联系方式已脱敏" if export["masked"] else "")
                 if zh else f": {export['rows']} rows, to send within {export['send_hours']}"
                 + (", contacts masked" if export["masked"] else ""))
    return f"✓ {md_text(campaign_id)} {done}{extra}", export
