"""A campaign's steps after it is created (:mod:`tools.campaigns`): drafts, approval, export, marked sent.

* `campaign_drafts` — one draft per treated customer from `tools.drafts.draft_care_message` (the
  one drafting engine: channel limits, sources, offers), the campaign's offer only; once approved,
  the approved texts (with the reviewers' edits) are what every later step reads.
* `approve_campaign` — a manager or admin; ``edits`` {customer_id: text} replace drafts (each
  checked: a treated customer, not empty, the channel's length measured). ``campaign_approved``
  carries {approved_by_role, edits, texts, subjects, offers, names}: what was approved is what is
  exported (the export does not draft again).
* `export_campaign` — CSV or .xlsx for the SMS / e-mail platform into the user's own export folder
  (`knowledge.export.new_export_path`, downloaded through the app's /exports/<id> route), contacts
  masked for every role but admin, cells neutralised against formula injection, each row with the send
  window (the setting `campaign_send_hours`: quiet time outside it) for the platform to schedule by.
* `mark_sent` — a person says the platform sent it: ``campaign_sent`` and one ``contact`` event per
  customer in one transaction (`EventLog.append_many`). Guanxi never sends anything.
* `cancel_campaign` — any step before sent.

Out-of-order steps are refused with a message saying the campaign's state and the next step.
"""
from __future__ import annotations

import datetime as _dt
import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.events import EventLog
from knowledge.export import new_export_path, write_csv, xlsx_workbook
from knowledge.pii import mask_email, mask_phone
from knowledge.workspace import Workspace
from tools.campaigns import CHANNEL_CONTACT, Campaign, campaign, is_marketing, require_manager
from tools.context import ToolError, customers_by_id
from tools.draft_fit import CHANNELS, measure

__all__ = ["check_options", "check_offer", "campaign_drafts", "approve_campaign", "export_campaign", "mark_sent",
           "cancel_campaign", "EXPORT_COLUMNS", "MAX_EDIT_CHARS"]

MAX_EDIT_CHARS = 2000
EXPORT_COLUMNS = ["campaign_id", "customer_id", "name", "phone", "email", "channel", "language", "occasion",
                  "subject", "text", "length", "limit", "offer_id", "send_not_before", "send_not_after"]
NEXT_STEP = {"drafted": ("审批", "approve it"), "approved": ("导出", "export it"), "exported": ("标记为已发送", "mark it sent"),
             "sent": ("无（已发送）", "nothing (it was sent)"), "cancelled": ("无（已取消）", "nothing (it was cancelled)")}
STATE_ZH = {"drafted": "草稿", "approved": "已审批", "exported": "已导出", "sent": "已发送", "cancelled": "已取消"}


def _refuse(c: Campaign, action_zh: str, action_en: str) -> ToolError:
    nz, ne = NEXT_STEP[c.state]
    return ToolError(f"活动 {c.id} 当前为「{STATE_ZH[c.state]}」，不能{action_zh}；下一步：{nz} / campaign {c.id} is "
                     f"{c.state}: cannot {action_en}; next step: {ne}")


def check_options(occasion: str, channel: str, language: str, tone: str) -> tuple[str, str, str, str]:
    from tools.drafts import LANGUAGES, TONES
    from tools.offers import OCCASION_ALIASES, OCCASIONS
    occ = OCCASION_ALIASES.get(str(occasion or "").strip().lower().replace(" ", "_"), OCCASION_ALIASES.get(str(occasion)))
    if occ is None:
        raise ToolError(f"unknown occasion {occasion!r}; use one of {', '.join(OCCASIONS)}")
    ch = {"短信": "sms", "text": "sms", "微信": "wechat", "邮件": "email", "e-mail": "email", "mail": "email"}.get(
        str(channel or "sms").strip().lower(), str(channel or "sms").strip().lower())
    if ch not in CHANNELS:
        raise ToolError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    lang = str(language or "auto").strip().lower()
    if lang not in LANGUAGES:
        raise ToolError(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
    t = str(tone or "warm").strip().lower()
    if t not in TONES:
        raise ToolError(f"unknown tone {tone!r}; use one of {', '.join(TONES)}")
    return occ, ch, lang, t


def _occasion_day(occasion: str, festival: str | None, as_of: pd.Timestamp) -> _dt.date:
    if occasion == "festival" and festival:
        from tools.care import festival_date, resolve_festival
        f = resolve_festival(festival)
        d = festival_date(f, as_of.year)
        return d if d >= as_of.date() - _dt.timedelta(days=30) else festival_date(f, as_of.year + 1)
    return as_of.date()


def check_offer(ws: Workspace, offer: str, occasion: str, festival: str | None, as_of) -> str:
    """The id of an offer from WORKSPACE/offers.toml that is valid on the occasion's date, else a ToolError."""
    from tools.offers import OFFERS_FILE, load_offers
    ol = load_offers(ws)
    o = next((x for x in ol.offers if x.id.lower() == str(offer).strip().lower()), None)
    if o is None:
        known = ", ".join(x.id for x in ol.offers) or f"none: {ws.root}/{OFFERS_FILE} has no offers"
        raise ToolError(f"no offer {offer!r} in {OFFERS_FILE} (offers: {known})")
    day = _occasion_day(occasion, festival, pd.Timestamp(as_of))
    if (o.valid_until and day > o.valid_until) or (o.valid_from and day < o.valid_from):
        raise ToolError(f"offer {o.id} is not valid on {day.isoformat()} (valid "
                        f"{o.valid_from.isoformat() if o.valid_from else '…'} to "
                        f"{o.valid_until.isoformat() if o.valid_until else '…'})")
    return o.id


def _offers_for(ws: Workspace, offer_id: str | None):
    """The workspace's offer list with only the campaign's offer (none: no offer sentence), brand kept."""
    import dataclasses

    from tools.offers import load_offers
    ol = load_offers(ws)
    return dataclasses.replace(ol, offers=[o for o in ol.offers if offer_id and o.id == offer_id])


def campaign_drafts(ws: Workspace, c: Campaign | str, customers: list[str] | None = None,
                    edits: dict | None = None, with_sources: bool = True) -> list[dict]:
    """The draft of every treated customer (or of ``customers``): {customer_id, name, text, subject,
    length, limit, offer_id, warnings, sources, edited}. Approved campaigns give their approved texts
    (``with_sources=False``: those alone, without drafting again — the export)."""
    from tools.care_data import care_data
    from tools.drafts import draft_care_message
    c = campaign(ws, c) if isinstance(c, str) else c
    treated = list(c.payload.get("treated") or [])
    ids = treated if customers is None else [i for i in customers if i in set(treated)]
    approved = (c.approved or {}).get("texts")
    subjects = (c.approved or {}).get("subjects") or {}
    edits = dict((c.approved or {}).get("edits") or {}) if approved is not None else dict(edits or {})
    if approved is not None and not with_sources:
        cust, offers, names = customers_by_id(ws), (c.approved or {}).get("offers") or {}, (c.approved or {}).get("names") or {}
        out = []
        for cid in ids:
            n, limit, _ = measure(approved.get(cid, ""), c.payload["channel"])
            out.append({"customer_id": cid, "name": names.get(cid) or (str(cust.loc[cid].get("name")) if cid in cust.index else ""),
                        "text": approved.get(cid, ""), "subject": subjects.get(cid, ""), "length": n, "limit": limit,
                        "offer_id": offers.get(cid), "warnings": [], "sources": [], "edited": cid in edits})
        return out
    data = care_data(ws, offers=_offers_for(ws, c.payload.get("offer")), as_of=c.payload.get("as_of"))
    data.index_orders(ids)
    cust = customers_by_id(ws)
    out = []
    for cid in ids:
        name = str(cust.loc[cid].get("name")) if cid in cust.index else ""
        row = {"customer_id": cid, "name": name, "text": "", "subject": "", "length": 0, "limit": None,
               "offer_id": None, "warnings": [], "sources": [], "edited": cid in edits}
        try:
            d = draft_care_message(data, cid, c.payload["occasion"], channel=c.payload["channel"],
                                   language=c.payload["language"], tone=c.payload["tone"],
                                   festival=c.payload.get("festival"))
            row.update(name=d.name, text=d.text, subject=d.subject or "", length=d.length, limit=d.limit,
                       offer_id=d.offer_id, warnings=list(d.warnings), sources=d.sources)
        except GuanxiError as e:   # no complaint on file ...: the row says why
            row["warnings"] = [str(e)]
        if approved is not None and cid in approved:
            row["text"], row["subject"] = approved[cid], subjects.get(cid, row["subject"])
        elif cid in edits:
            row["text"] = edits[cid]
        if row["edited"] or approved is not None:
            n, limit, _ = measure(row["text"], c.payload["channel"])
            row["length"], row["limit"] = n, limit
            if row["edited"] and limit and n > limit:
                row["warnings"] = row["warnings"] + [f"edited text is {n} characters, over the {c.payload['channel']} "
                                                     f"limit of {limit}"]
        out.append(row)
    return out


def approve_campaign(ws: Workspace, campaign_id: str, *, actor: str, role: str, edits: dict | None = None) -> Campaign:
    """Approve a drafted campaign (manager / admin), freezing its drafts with the reviewers' edits."""
    require_manager(role, "审批活动", "approve a campaign")
    c = campaign(ws, campaign_id)
    if c.state != "drafted":
        raise _refuse(c, "审批", "approve it")
    treated = set(c.payload.get("treated") or [])
    clean: dict[str, str] = {}
    for cid, text in (edits or {}).items():
        cid, text = str(cid).strip(), str(text or "").strip()
        if cid not in treated:
            raise ToolError(f"edit for {cid!r}: not a treated customer of campaign {c.id}")
        if not text:
            raise ToolError(f"edit for {cid}: the text is empty (leave the draft unedited instead)")
        if len(text) > MAX_EDIT_CHARS:
            raise ToolError(f"edit for {cid}: {len(text)} characters, at most {MAX_EDIT_CHARS}")
        clean[cid] = text
    rows = campaign_drafts(ws, c, edits=clean)
    empty = [r["customer_id"] for r in rows if not r["text"]]
    if empty:
        raise ToolError(f"{len(empty)} customers have no draft ({', '.join(empty[:5])}: "
                        f"{(rows[[r['customer_id'] for r in rows].index(empty[0])]['warnings'] or ['?'])[0]}); "
                        f"edit their text or cancel the campaign")
    EventLog.of(ws).append("campaign_approved", actor, c.id, {
        "approved_by_role": role, "edits": clean, "texts": {r["customer_id"]: r["text"] for r in rows},
        "subjects": {r["customer_id"]: r["subject"] for r in rows if r["subject"]},
        "offers": {r["customer_id"]: r["offer_id"] for r in rows if r["offer_id"]},
        "names": {r["customer_id"]: r["name"] for r in rows}})
    return campaign(ws, c.id)


def export_campaign(ws: Workspace, campaign_id: str, *, actor: str, role: str, fmt: str = "csv",
                    ttl_minutes: int = 60, send_hours: str = "08:00-21:00") -> dict:
    """Write the approved campaign's messages for the SMS / e-mail platform (CSV or .xlsx) into the
    user's export folder: {path, format, rows, masked}. Contacts are masked unless the role is admin;
    every row carries the send window ``send_hours`` (quiet time outside it) for the platform."""
    require_manager(role, "导出活动", "export a campaign")
    fmt = str(fmt or "csv").strip().lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise ToolError(f"export format {fmt!r}: expected csv or xlsx")
    c = campaign(ws, campaign_id)
    if c.state not in ("approved", "exported"):
        raise _refuse(c, "导出", "export it")
    masked = role != "admin"
    start, _, end = str(send_hours).replace(" ", "").partition("-")
    cust = customers_by_id(ws)
    p = c.payload
    rows = []
    for r in campaign_drafts(ws, c, with_sources=False):
        row = cust.loc[r["customer_id"]] if r["customer_id"] in cust.index else {}
        phone, email = row.get("phone"), row.get("email")
        phone = None if phone is None or pd.isna(phone) else str(phone)
        email = None if email is None or pd.isna(email) else str(email)
        rows.append([c.id, r["customer_id"], r["name"], mask_phone(phone) if masked and phone else phone,
                     mask_email(email) if masked and email else email, p["channel"], p["language"], p["occasion"],
                     r["subject"], r["text"], r["length"], r["limit"], r["offer_id"], start, end])
    out = new_export_path(ws.root, actor, f"{c.id}-{p['channel']}.{fmt}", ttl_minutes)
    if fmt == "csv":
        write_csv(pd.DataFrame(rows, columns=EXPORT_COLUMNS), out, encoding="utf-8-sig")
    else:
        xlsx_workbook(c.id[:31], EXPORT_COLUMNS, rows).save(out)
    EventLog.of(ws).append("campaign_exported", actor, c.id,
                           {"format": fmt, "rows": len(rows), "masked": masked, "file": out.name})
    return {"campaign_id": c.id, "path": str(out), "format": fmt, "rows": len(rows), "masked": masked,
            "contact_column": CHANNEL_CONTACT[p["channel"]], "send_hours": f"{start}-{end}"}


def mark_sent(ws: Workspace, campaign_id: str, *, actor: str, role: str, sent_at: str | None = None,
              not_sent: list[str] | None = None) -> Campaign:
    """Record that the platform sent the exported campaign (Guanxi did not): ``campaign_sent`` and
    one ``contact`` per customer sent, in one transaction. ``not_sent``: treated customers the
    platform did not reach (left out of the contacts)."""
    require_manager(role, "标记活动已发送", "mark a campaign sent")
    c = campaign(ws, campaign_id)
    if c.state != "exported":
        raise _refuse(c, "标记为已发送", "mark it sent")
    day = sent_at or _dt.date.today().isoformat()
    try:
        day = _dt.date.fromisoformat(str(day)[:10]).isoformat()
    except ValueError:
        raise ToolError(f"sent_at {sent_at!r}: expected a date YYYY-MM-DD") from None
    skip = {str(x).strip() for x in (not_sent or [])}
    treated = list(c.payload.get("treated") or [])
    unknown = sorted(skip - set(treated))
    if unknown:
        raise ToolError(f"not_sent: {', '.join(unknown[:5])} are not treated customers of campaign {c.id}")
    sent = [i for i in treated if i not in skip]
    p = c.payload
    rows = [("campaign_sent", actor, c.id, {"sent_at": day, "customers": sent})]
    rows += [("contact", actor, i, {"campaign_id": c.id, "channel": p["channel"], "occasion": p["occasion"],
                                    "marketing": is_marketing(p["occasion"]), "sent_at": day}) for i in sent]
    if not EventLog.of(ws).append_many(rows, unless=(("campaign_sent", "campaign_cancelled"), c.id)):
        raise _refuse(campaign(ws, c.id), "标记为已发送", "mark it sent")   # another session did it first
    return campaign(ws, c.id)


def cancel_campaign(ws: Workspace, campaign_id: str, *, actor: str, role: str, reason: str = "") -> Campaign:
    require_manager(role, "取消活动", "cancel a campaign")
    c = campaign(ws, campaign_id)
    if c.state in ("sent", "cancelled"):
        raise _refuse(c, "取消", "cancel it")
    EventLog.of(ws).append("campaign_cancelled", actor, c.id, {"reason": str(reason or "").strip()[:500]})
    return campaign(ws, c.id)

