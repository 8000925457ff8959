"""Service tools over the event log (客户服务管理): mark a complaint resolved / in progress / reopened,
add a note to a customer, mark one drafted message as sent, and the contact history (who was
contacted, who not in N days — 定期沟通).

Each writes or reads `knowledge.events` through `tools.service_log`; the actor is the caller (the
app's logged-in user, the CLI's --user or OS login). Texts people type are stored as typed (length
limited) and shown masked for every role but admin; they are data, never markup.
"""
from __future__ import annotations

import getpass
import itertools
import re
from datetime import date
from typing import Literal

import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.events import EventLog
from tools.context import (ToolContext, ToolError, cached, context, customers_by_id, mask_text, resolve_customer_id,
                           top_n)
from tools.formatting import OCCASION_EN, OCCASION_ZH, bullets, fmt_int, fmt_money, short, who
from tools.results import plain
from tools import service_log as sl
from tools.spec import EVERY_ROLE, Cue, ToolSpec, register

__all__ = ["update_complaint", "add_customer_note", "mark_message_sent", "contact_history", "actor_of",
           "complaint_row", "status_overrides", "with_effective_status", "service_record", "service_lines"]


def actor_of(ctx: ToolContext) -> str:
    """Who is acting: the logged-in user, else the operating-system login."""
    if ctx.user:
        return str(ctx.user)
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def _feedback_by_id(ws) -> pd.DataFrame:
    return cached(ws, "feedback_by_id", lambda: ws.table("feedback").assign(
        feedback_id=ws.table("feedback")["feedback_id"].astype(str)).drop_duplicates("feedback_id", keep="last")
        .set_index("feedback_id"))


def complaint_row(ws, feedback_id) -> dict:
    """The feedback table's row of one feedback id (typed in any case), or ToolError naming close ids."""
    fid = str(feedback_id or "").strip()
    fb = _feedback_by_id(ws)
    if fid not in fb.index:
        up = {i.upper(): i for i in fb.index}
        if fid.upper() in up:
            fid = up[fid.upper()]
        else:
            import difflib
            close = difflib.get_close_matches(fid, list(fb.index), n=3, cutoff=0.8)
            raise ToolError(f"no feedback item {fid!r} in the feedback table" +
                            (f"; did you mean {', '.join(close)}?" if close else
                             "; feedback ids look like " + ", ".join(list(fb.index[:2]))))
    row = {k: plain(v) for k, v in fb.loc[fid].items()}
    row["feedback_id"] = fid
    return row


def status_overrides(ctx: ToolContext) -> dict[str, sl.StatusChange]:
    """The log's latest status change per complaint (read fresh: another session may have written)."""
    return sl.status_changes(EventLog.of(ctx.ws))


def with_effective_status(item: dict, changes: dict[str, sl.StatusChange]) -> dict:
    """A feedback item (a search hit, a card's complaint) with the status that counts: ``status`` the
    effective one, ``status_source`` the file's, ``status_label_zh`` / ``status_label_en`` both where
    they differ, and the log's resolution (the file's kept as ``resolution_source``)."""
    fid = str(item.get("feedback_id"))
    ch = changes.get(fid)
    src = item.get("status")
    item["status_source"] = src
    item["status"] = sl.effective_status(src, ch)
    item["status_label_zh"] = sl.status_label(src, ch, True)
    item["status_label_en"] = sl.status_label(src, ch, False)
    if ch is not None:
        item.update(status_by=ch.actor, status_at=ch.at)
        if ch.resolution:
            item["resolution_source"] = item.get("resolution")
            item["resolution"] = ch.resolution
    return item


def service_record(ctx: ToolContext, cid: str, last: int = 3) -> dict:
    """What the event log knows of one customer, for the card: ``status_of`` (their complaints' follow-
    through, feedback_id → status and both labels), ``notes`` and ``contacts`` (newest first, texts
    masked as the role requires), ``contacts_total`` and ``last_contact``."""
    log = EventLog.of(ctx.ws)
    changes = {i: c for i, c in sl.status_changes(log).items() if c.customer_id in (None, cid)}
    status_of = {}
    for fid, ch in changes.items():
        d = {"status": ch.status, "resolution": ch.resolution, "status_by": ch.actor, "status_at": ch.at}
        status_of[fid] = d
    fb = _feedback_by_id(ctx.ws)
    for fid, d in status_of.items():
        src = fb.loc[fid, "status"] if fid in fb.index and "status" in fb else None
        d["status_label_zh"] = sl.status_label(src, changes[fid], True)
        d["status_label_en"] = sl.status_label(src, changes[fid], False)
    notes = [{**n, "text": mask_text(n["text"], ctx.unmasked)} for n in sl.notes_of(log, cid, last=last)]
    cf = sl.contacts_frame(log, cid).sort_values(["sent_at", "at"], ascending=False)
    contacts = cf.head(last).drop(columns=["customer_id"]).to_dict("records")
    return {"status_of": status_of, "notes": notes, "contacts": contacts, "contacts_total": int(len(cf)),
            "last_contact": cf["sent_at"].iloc[0] if len(cf) else None}


def service_lines(r: dict, zh: bool) -> list[str]:
    """The card's lines from the event log: complaints followed through, notes, the last contact."""
    out = []
    for c in r.get("followed_complaints") or []:
        label = c.get("status_label_zh" if zh else "status_label_en") or c.get("status")
        res = c.get("resolution")
        out.append((f"投诉 {c.get('feedback_id')}：{label}" + (f"，处理：「{short(res, 40)}」" if res else "") + "。") if zh else
                   (f"Complaint {c.get('feedback_id')}: {label}" + (f", resolution: \"{short(res, 40)}\"" if res else "") + "."))
    notes = r.get("notes") or []
    if notes:
        out.append(("备注：" + "；".join(f"「{short(n.get('text'), 40)}」（{n.get('actor')} {str(n.get('at'))[:10]}）" for n in notes)
                    + "。") if zh else
                   ("Notes: " + "; ".join(f"\"{short(n.get('text'), 40)}\" ({n.get('actor')} {str(n.get('at'))[:10]})"
                                          for n in notes) + "."))
    if r.get("contacts_total"):
        c = (r.get("contacts") or [{}])[0]
        occ = (OCCASION_ZH if zh else OCCASION_EN).get(c.get("occasion"), c.get("occasion"))
        out.append(f"联系记录 {fmt_int(r.get('contacts_total'))} 次，最近一次 {r.get('last_contact')}（{c.get('channel')}，{occ}）。" if zh
                   else f"{fmt_int(r.get('contacts_total'))} contacts on record, the latest on {r.get('last_contact')} "
                        f"({c.get('channel')}, {occ}).")
    return out


# =========================================================================== update_complaint
def update_complaint(feedback_id: str, status: Literal["resolved", "in_progress", "open"] = "resolved",
                     resolution: str = "", *, ctx: ToolContext | None = None) -> dict:
    """Mark a complaint resolved, in progress or reopened, with the resolution text: written to the
    event log with who did it (the feedback file is never changed; the next build keeps it).

    Args:
        feedback_id: the complaint's feedback id, e.g. FB202311010001
        status: resolved (已解决), in_progress (处理中) or open (reopened / 重新打开)
        resolution: what was done, e.g. 已退款 / refunded (required when resolved; at most 300 characters)
    """
    ctx = context(ctx)
    ws = ctx.ws
    row = complaint_row(ws, feedback_id)
    log = EventLog.of(ws)
    try:
        ch = sl.record_status(log, row, status, resolution, actor_of(ctx))
    except GuanxiError as e:
        raise ToolError(str(e)) from None
    cid = str(row.get("customer_id") or "")
    name = plain(customers_by_id(ws).loc[cid].get("name")) if cid in customers_by_id(ws).index else None
    return {"feedback_id": ch.feedback_id, "customer_id": cid or None, "name": name, "status": ch.status,
            "previous_status": ch.previous_status, "source_status": str(row.get("status") or "open"),
            "resolution": mask_text(ch.resolution, ctx.unmasked), "actor": ch.actor, "at": ch.at,
            "complaint": mask_text(short(row.get("text"), 80), ctx.unmasked),
            "label_zh": sl.status_label(row.get("status"), ch, True),
            "label_en": sl.status_label(row.get("status"), ch, False),
            "provenance": f"event log {log.path.name} · complaint_status event {ch.event_id} by {ch.actor}"}


def _render_update(r: dict, zh: bool, focus: dict) -> str:
    prev = (sl.STATUS_WORDS_ZH if zh else sl.STATUS_WORDS_EN).get(str(r.get("previous_status")), r.get("previous_status"))
    res = r.get("resolution")
    if zh:
        return (f"已将投诉 {r.get('feedback_id')}（{who(r, zh)}）标记为 {r.get('label_zh')}，原状态：{prev}。"
                + (f"处理结果：「{short(res, 80)}」。" if res else "")
                + "已记入事件日志，重新导入数据后仍然保留；可为该客户起草投诉回访消息。")
    return (f"Complaint {r.get('feedback_id')} ({who(r, zh)}) is now {r.get('label_en')}; it was {prev}."
            + (f" Resolution: \"{short(res, 80)}\"." if res else "")
            + " Recorded in the event log, kept when the data is re-imported; a complaint follow-up message can be drafted.")


_FID = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,4}[-_]?\d{4,})(?![A-Za-z0-9])")
_STATUS_RX = (("open", r"重新打开|重开|未解决|没解决|\bre-?open(ed)?\b|\bunresolved\b"),
              ("in_progress", r"处理中|跟进中|正在处理|\bin[ -]progress\b|\bpending\b"),
              ("resolved", r"已解决|解决了|已处理|处理好了?|处理完了?|搞定了?|已关闭|结案|\bresolved?\b|\bclosed?\b|\bdone\b|"
                           r"\bfixed\b|\bsolved\b"))


def _complaint_args(f) -> dict:
    q = f.q
    ids = [m.group(1) for m in _FID.finditer(q)]
    known = set(_feedback_by_id(f.ws).index) if f.ws is not None else set()
    pick = next((i for i in ids if i in known or i.upper() in known), None) or next(
        (i for i in ids if not re.fullmatch(r"C\d+", i, re.I)), None)
    a: dict = {"feedback_id": pick} if pick else {}
    end, status = None, None
    for st, rx in _STATUS_RX:
        m = re.search(rx, q, re.I)
        if m:
            status, end = st, m.end()
            break
    a["status"] = status or "resolved"
    m = re.search(r"(处理结果|处理方式|解决方案|原因|备注|resolution|note|because)\s*(是|为|[:：])?\s*(.+)$", q, re.I)
    tail = m.group(3) if m else (q[end:] if end is not None else "")
    tail = re.sub(r"^[\s,，。:：;；、\-—]*(了|with|as|and|,)?[\s,，:：]*", "", tail, flags=re.I).strip(" 。.!！")
    if tail and not _FID.fullmatch(tail):
        a["resolution"] = tail
    return a


register(ToolSpec(
    update_complaint, order=40, roles=EVERY_ROLE, family="complaint_update", args=_complaint_args,
    exemplars=(
        "把这条投诉标记为已解决", "投诉已经处理好了，标记一下", "这个投诉改为处理中", "重新打开这条投诉", "把投诉设为已解决，已退款",
        "标记投诉已解决：已补发", "这条投诉解决了，处理结果是换货", "投诉状态改成已解决",
        "mark this complaint resolved", "mark the complaint as resolved: refunded", "set the complaint to in progress",
        "reopen this complaint", "close the complaint, we sent a replacement", "update the complaint status to resolved",
    ),
    cues=(
        Cue(r"(标记|标为|标成|改为|改成|设为|设置为|更新为|置为).{0,6}(已解决|处理中|未解决|已处理|已关闭)|重新打开.{0,6}投诉|"
            r"投诉.{0,20}(标记|标为|改为|改成|设为|状态改|重新打开|已解决[，,:：]|处理好了|搞定了)|"
            r"\b(mark|set|update|change)\b.{0,40}\b(resolved|in progress|open|closed|status)\b|\breopen\b|"
            r"\bclose (the|this) complaint\b", 0.45),
        Cue(r"(?<![A-Za-z0-9])(FB|F)\d{4,}.{0,30}(解决|处理|关闭|resolv|clos|progress|reopen)", 0.3),
    ),
    render=_render_update, help_zh="投诉跟进（标记已解决）", help_en="complaint follow-through (mark resolved)",
    example_zh="把投诉 FB202311010001 标记为已解决，已退款", example_en="Mark complaint FB202311010001 resolved: refunded"))


# =========================================================================== add_customer_note
def add_customer_note(customer_id: str, text: str, *, ctx: ToolContext | None = None) -> dict:
    """Add a note to a customer's card (who wrote it and when are kept in the event log).

    Args:
        customer_id: the customer's id, e.g. C01023
        text: the note, at most 500 characters, e.g. 喜欢电话联系 / prefers phone calls
    """
    ctx = context(ctx)
    ws = ctx.ws
    cid = resolve_customer_id(ws, customer_id)
    log = EventLog.of(ws)
    try:
        ev = sl.record_note(log, cid, text, actor_of(ctx))
    except GuanxiError as e:
        raise ToolError(str(e)) from None
    notes = sl.notes_of(log, cid, last=1000)
    return {"customer_id": cid, "name": plain(customers_by_id(ws).loc[cid].get("name")),
            "text": mask_text(ev.payload["text"], ctx.unmasked), "actor": ev.actor, "at": ev.at, "notes": len(notes),
            "provenance": f"event log {log.path.name} · customer_note event {ev.id} by {ev.actor}"}


def _render_note(r: dict, zh: bool, focus: dict) -> str:
    if zh:
        return (f"已为 {who(r, zh)} 添加备注：「{short(r.get('text'), 80)}」（{r.get('actor')}，{r.get('at')}）。"
                f"该客户共有 {fmt_int(r.get('notes'))} 条备注，显示在客户卡片上。")
    return (f"Note added to {who(r, zh)}: \"{short(r.get('text'), 80)}\" ({r.get('actor')}, {r.get('at')}). "
            f"The customer has {fmt_int(r.get('notes'))} notes, shown on their card.")


def _note_args(f) -> dict:
    m = re.search(r"(备注|笔记|记一下|记录一下|记下|note|remark)\s*(一下|一条|一个)?\s*(说|内容是|是)?\s*[:：,，]?\s*(.+)$",
                  f.q, re.I)
    text = re.sub(r"^\s*(to|for|on|about|给|为)\s+", "", m.group(4).strip() if m else "", flags=re.I)
    for span in sorted(f.slots.get("mention_spans", ()), key=len, reverse=True):
        if span and text.startswith(span):   # "add a note to C00012: …"
            text = text[len(span):]
    text = re.sub(r"^\s*(the customer|该客户)?\s*[:：,，]?\s*", "", text, flags=re.I).strip()
    return {"text": text} if text else {}


register(ToolSpec(
    add_customer_note, order=41, roles=EVERY_ROLE, family="customer_note", customer="required", args=_note_args,
    needs=(),
    exemplars=(
        "给该客户加个备注：喜欢电话联系", "给该客户添加备注", "记一下该客户不喜欢短信", "在该客户的卡片上记一条备注", "备注该客户：周末才方便联系",
        "add a note to the customer: prefers phone calls", "note on the customer: allergic to nuts",
        "add a remark to the customer's card", "write down that the customer prefers WeChat",
    ),
    cues=(Cue(r"(加|添加|增加|写|记|留)(个|一个|一条|条)?备注|备注[:：]|记一下|记下来?|"
              r"\b(add|write|leave|put)\b.{0,12}\b(note|remark)\b|\bnote (on|for|to)\b", 0.45),),
    render=_render_note, help_zh="客户备注", help_en="notes on a customer",
    example_zh="给C00012加个备注：喜欢电话联系", example_en="Add a note to C00012: prefers phone calls"))


# =========================================================================== mark_message_sent
def mark_message_sent(customer_id: str,
                      occasion: Literal["birthday", "festival", "winback", "complaint_followup", "vip_thanks",
                                        "recommendation", "regular"] = "regular",
                      channel: Literal["sms", "wechat", "email", "phone"] = "sms",
                      feedback_id: str | None = None, sent_at: str | None = None,
                      *, ctx: ToolContext | None = None) -> dict:
    """Record that a person sent one drafted message to a customer (Guanxi sends nothing): a contact
    in the event log, counted by the contact history and the frequency cap.

    Args:
        customer_id: the customer's id, e.g. C01023
        occasion: birthday, festival, winback, complaint_followup, vip_thanks, recommendation or regular
        channel: sms, wechat, email or phone
        feedback_id: for a complaint follow-up: which complaint
        sent_at: the day it was sent, YYYY-MM-DD (default today)
    """
    ctx = context(ctx)
    ws = ctx.ws
    cid = resolve_customer_id(ws, customer_id)
    if feedback_id:
        feedback_id = complaint_row(ws, feedback_id)["feedback_id"]
    try:
        ev = sl.record_contact(EventLog.of(ws), cid, channel, occasion, actor_of(ctx), sent_at=sent_at,
                               feedback_id=feedback_id)
    except GuanxiError as e:
        raise ToolError(str(e)) from None
    n = len(sl.contacts_frame(EventLog.of(ws), cid))
    return {"customer_id": cid, "name": plain(customers_by_id(ws).loc[cid].get("name")), **ev.payload,
            "actor": ev.actor, "at": ev.at, "contacts": n,
            "provenance": f"event log events.sqlite · contact event {ev.id} by {ev.actor}"}


def _render_sent(r: dict, zh: bool, focus: dict) -> str:
    occ = (OCCASION_ZH if zh else OCCASION_EN).get(r.get("occasion"), r.get("occasion"))
    if zh:
        return (f"已记录：{r.get('actor')} 于 {r.get('sent_at')} 通过 {r.get('channel')} 给 {who(r, zh)} 发送了{occ}消息"
                f"（{'营销' if r.get('marketing') else '服务'}类）。该客户共有 {fmt_int(r.get('contacts'))} 次联系记录。")
    return (f"Recorded: {r.get('actor')} sent {who(r, zh)} a {occ} message by {r.get('channel')} on {r.get('sent_at')} "
            f"({'marketing' if r.get('marketing') else 'service'}). The customer has {fmt_int(r.get('contacts'))} contacts on record.")


_OCC_WORDS = (("birthday", r"生日|birthday"), ("festival", r"节日|春节|中秋|国庆|元旦|圣诞|festival|christmas|new year"),
              ("winback", r"挽回|召回|win-?back"), ("complaint_followup", r"投诉|回访|complaint|follow-?up"),
              ("vip_thanks", r"感谢|答谢|thank"), ("recommendation", r"推荐|recommend"))


def _sent_args(f) -> dict:
    a: dict = {}
    day = re.search(r"(20\d\d)[-/.年](\d{1,2})[-/.月](\d{1,2})", f.q)
    if day:
        a["sent_at"] = "%s-%02d-%02d" % (day.group(1), int(day.group(2)), int(day.group(3)))
    for occ, rx in _OCC_WORDS:
        if re.search(rx, f.q, re.I):
            a["occasion"] = occ
            break
    if f.slots.get("channel") in ("sms", "wechat", "email"):
        a["channel"] = f.slots["channel"]
    elif re.search(r"微信|wechat", f.q, re.I):
        a["channel"] = "wechat"
    elif re.search(r"邮件|e-?mail", f.q, re.I):
        a["channel"] = "email"
    elif re.search(r"电话|打了|called|\bphone", f.q, re.I):
        a["channel"] = "phone"
    return a


register(ToolSpec(
    mark_message_sent, order=42, roles=EVERY_ROLE, family="mark_sent", customer="required", args=_sent_args,
    exemplars=(
        "给该客户的生日短信已经发了", "该客户的消息我已经发出去了，记一下", "标记该客户的草稿为已发送", "已经给该客户打过电话了",
        "mark the message to the customer as sent", "I sent the birthday SMS to the customer", "the customer has been contacted, log it",
        "record that we called the customer",
    ),
    cues=(Cue(r"(已经?|刚)(发|发送|发出)(了|过|出去)|已发送|发出去了|打过电话|(标记|记为).{0,8}已发|"
              r"\b(mark|marked)\b.{0,40}\bsent\b|\bI (sent|texted|emailed|called)\b|\bhas been (contacted|sent)\b|"
              r"\brecord that (we|I)\b|\bas sent\b", 0.6),),
    render=_render_sent, help_zh="记录已发送的消息", help_en="mark a drafted message as sent",
    example_zh="C00012 的生日短信已经发了", example_en="Mark the birthday SMS to C00012 as sent"))


# =========================================================================== contact_history
def _customer_value(ws) -> tuple[pd.Series, str]:
    clv = ws.artefact("clv")
    if isinstance(clv, pd.DataFrame) and "clv_12m" in clv and "customer_id" in clv:
        return clv.set_index(clv["customer_id"].astype(str))["clv_12m"].astype(float), "clv_12m"
    rfm = ws.artefact("rfm")
    if isinstance(rfm, pd.DataFrame) and "monetary" in rfm:
        s = rfm.set_index(rfm["customer_id"].astype(str))["monetary"] if "customer_id" in rfm else rfm["monetary"]
        return s.astype(float), "monetary"
    return pd.Series(dtype=float), ""


def _active_customers(ws, as_of: pd.Timestamp, active_days: int) -> pd.Index:
    """Customer ids (sorted) with an order in the ``active_days`` days before ``as_of``: from the
    care_intervals artefact (last order day per customer) when the build has it, else the order lines."""
    from tools.orders_index import care_intervals
    iv = care_intervals(ws)
    start = as_of - pd.Timedelta(days=active_days)
    if iv is not None and ws.as_of() == as_of:
        ids = iv.index[pd.to_datetime(iv["last_order"]) >= start].astype(str)
        return pd.Index(ids if ids.is_monotonic_increasing and ids.is_unique else sorted(set(ids)))
    orders = ws.table("orders")
    recent = orders[(orders["order_date"] < as_of) & (orders["order_date"] >= start)]
    return pd.Index(sorted(set(recent["customer_id"].astype(str))))


def _active_by_value(ws, as_of: pd.Timestamp, active_days: int) -> tuple[tuple, tuple, dict, str]:
    """The active customers (`_active_customers`) most valuable first — ids, values (0 without one), the
    ids as a dict's keys, the value's name — sorted once per workspace, as-of date and activity window
    (tuples and a dict of text: containers the cyclic GC stops walking, unlike lists and sets)."""
    def build():
        active = _active_customers(ws, as_of, active_days)
        value, vname = _customer_value(ws)
        v = value.reindex(active).fillna(0.0).sort_values(ascending=False, kind="stable")
        ids = tuple(map(str, v.index.tolist()))
        return ids, tuple(v.to_numpy(float).tolist()), dict.fromkeys(ids), vname
    return cached(ws, f"active_by_value:{as_of.date()}:{active_days}", build)


def contact_history(mode: Literal["contacted", "not_contacted", "customer"] | None = None,
                    customer_id: str | None = None,
                    period: Literal["last_week", "this_week", "last_month", "this_month", "days"] | None = None,
                    days: int | None = None, date_from: str | None = None, date_to: str | None = None,
                    active_days: int = 365, top: int = 20, *, ctx: ToolContext | None = None) -> dict:
    """Who we contacted (from the event log's contacts: campaigns marked sent and single messages
    marked sent), who has not been contacted in N days among active customers (定期沟通, most
    valuable first), or one customer's contact history.

    Args:
        mode: contacted (who was contacted in the window), not_contacted (no contact in the last `days` days) or
            customer (one customer's history); default customer when a customer_id is given, else contacted
        customer_id: one customer's history, e.g. C01023 (ignored by the modes contacted / not_contacted)
        period: last_week, this_week, last_month, this_month (counted back from today)
        days: the window in days: contacted in the last N days (default 7), or not contacted for N days (default 90)
        date_from: first day included, YYYY-MM-DD
        date_to: last day included, YYYY-MM-DD
        active_days: for not_contacted: active customers are those with an order in this many days before the as-of date
        top: how many customers to list (counts are of all)
    """
    ctx = context(ctx)
    ws = ctx.ws
    log = EventLog.of(ws)
    today = date.today()
    top = top_n(top, 20, 500)
    cust = customers_by_id(ws)
    names = lambda ids: [plain(cust.loc[i].get("name")) if i in cust.index else None for i in ids]  # noqa: E731
    cf = sl.contacts_frame(log)
    prov = f"event log {log.path.name} · {len(cf):,} contact events · today {today.isoformat()}"
    mode = mode or ("customer" if customer_id else "contacted")
    if mode == "customer":
        if not customer_id:
            raise ToolError("which customer? give a customer id, e.g. C01023")
        cid = resolve_customer_id(ws, customer_id)
        mine = cf[cf["customer_id"] == cid].sort_values(["sent_at", "at"], ascending=False)
        rows = mine.head(top).drop(columns=["customer_id"]).to_dict("records")
        return {"mode": "customer", "customer_id": cid, "name": names([cid])[0], "total": int(len(mine)),
                "last_contact": mine["sent_at"].iloc[0] if len(mine) else None, "contacts": rows, "today": today.isoformat(),
                "provenance": prov + f" · customer {cid}"}
    if mode == "not_contacted":
        n = int(days or 90)
        if not 1 <= n <= 3660:
            raise ToolError(f"days must be between 1 and 3660, got {n}")
        since = (pd.Timestamp(today) - pd.Timedelta(days=n - 1)).strftime("%Y-%m-%d")
        as_of = ws.as_of()
        ids, values, members, vname = _active_by_value(ws, as_of, int(active_days))
        last = cf.groupby("customer_id")["sent_at"].max() if len(cf) else pd.Series(dtype=object)
        contacted = set(last[last >= since].index)
        # the first `top` active customers by value who were not contacted (a stable sort of the active
        # ones: removing the contacted leaves the others in the order sorting them alone gives)
        order = list(itertools.islice((i for i, c in enumerate(ids) if c not in contacted), top))
        in_active = [c for c in last.index if c in members]
        n_contacted = sum(1 for c in in_active if c in contacted)
        n_todo = len(ids) - n_contacted
        lst = [{"customer_id": ids[i], "name": nm, "last_contact": last.get(ids[i]), "value": round(values[i], 2)}
               for i, nm in zip(order, names([ids[i] for i in order]))]
        return {"mode": "not_contacted", "days": n, "since": since, "today": today.isoformat(),
                "active_customers": int(len(ids)), "active_days": int(active_days),
                "contacted": int(n_contacted), "not_contacted": int(n_todo),
                "never_contacted": int(n_todo - (len(in_active) - n_contacted)),
                "value_measure": vname, "shown": len(lst), "customers": lst, "as_of": as_of.strftime("%Y-%m-%d"),
                "provenance": prov + f" · active = ordered in the {int(active_days)} days before {as_of:%Y-%m-%d}"
                              + (f" · sorted by {vname}" if vname else "")}
    try:
        a, b = sl.contact_window(period, days, date_from, date_to, today=today)
    except GuanxiError as e:
        raise ToolError(str(e)) from None
    win = cf[(cf["sent_at"] >= a) & (cf["sent_at"] <= b)]
    per = (win.sort_values(["sent_at", "at"]).groupby("customer_id")
           .agg(messages=("sent_at", "size"), last_contact=("sent_at", "max"), channel=("channel", "last"),
                occasion=("occasion", "last"), campaign_id=("campaign_id", "last"))
           .sort_values(["last_contact", "messages"], ascending=False))
    lst = [{"customer_id": c, "name": nm, **{k: plain(v) for k, v in per.loc[c].items()}}
           for c, nm in zip(per.index[:top], names(per.index[:top]))]
    return {"mode": "contacted", "date_from": a, "date_to": b, "period": period, "today": today.isoformat(),
            "messages": int(len(win)), "customers": int(len(per)),
            "by_channel": {str(k): int(v) for k, v in win["channel"].fillna("?").value_counts().items()},
            "from_campaigns": int(win["campaign_id"].notna().sum()), "single": int(win["campaign_id"].isna().sum()),
            "marketing": int(win["marketing"].sum()), "shown": len(lst), "list": lst, "provenance": prov}


def _render_contacts(r: dict, zh: bool, focus: dict) -> str:
    mode = r.get("mode")
    if mode == "customer":
        rows = r.get("contacts") or []
        lines = [(f"{c.get('sent_at')} {c.get('channel')} {OCCASION_ZH.get(c.get('occasion'), c.get('occasion'))}"
                  + (f"（活动 {c.get('campaign_id')}）" if c.get("campaign_id") else "") + f"，{c.get('actor')}") if zh else
                 (f"{c.get('sent_at')} {c.get('channel')} {OCCASION_EN.get(c.get('occasion'), c.get('occasion'))}"
                  + (f" (campaign {c.get('campaign_id')})" if c.get("campaign_id") else "") + f", by {c.get('actor')}")
                 for c in rows[:10]]
        if zh:
            return (f"{who(r, zh)} 共有 {fmt_int(r.get('total'))} 次联系记录" +
                    (f"，最近一次在 {r.get('last_contact')}：\n" + bullets(lines) if lines else "（事件日志中没有记录）。"))
        return (f"{who(r, zh)} has {fmt_int(r.get('total'))} contacts on record" +
                (f", the latest on {r.get('last_contact')}:\n" + bullets(lines) if lines else " (none in the event log)."))
    if mode == "not_contacted":
        rows = r.get("customers") or []
        vm = r.get("value_measure")
        lines = []
        for c in rows[:15]:
            lc = c.get("last_contact")
            val = f"CLV {fmt_money(c.get('value'))}" if vm == "clv_12m" else (f"¥{fmt_money(c.get('value'))}" if vm else "")
            lines.append(f"{who(c, zh)}：{val}，" + (f"上次联系 {lc}" if lc else "从未联系") if zh else
                         f"{who(c, zh)}: {val}, " + (f"last contacted {lc}" if lc else "never contacted"))
        order_zh = {"clv_12m": "按未来 12 个月 CLV 从高到低", "monetary": "按累计消费从高到低"}.get(vm, "")
        order_en = {"clv_12m": "most valuable first (12-month CLV)", "monetary": "biggest spenders first"}.get(vm, "")
        if zh:
            return (f"在 {fmt_int(r.get('active_customers'))} 位活跃客户（截至 {r.get('as_of')} 的 {fmt_int(r.get('active_days'))} 天内有购买）中，"
                    f"{fmt_int(r.get('not_contacted'))} 位在最近 {fmt_int(r.get('days'))} 天（{r.get('since')} 起）没有联系记录，"
                    f"其中 {fmt_int(r.get('never_contacted'))} 位从未联系；{fmt_int(r.get('contacted'))} 位已联系。"
                    + (f"以下{order_zh}列出 {fmt_int(len(rows))} 位：\n" + bullets(lines) if lines else ""))
        return (f"Of {fmt_int(r.get('active_customers'))} active customers (a purchase in the {fmt_int(r.get('active_days'))} days "
                f"before {r.get('as_of')}), {fmt_int(r.get('not_contacted'))} have no contact in the last {fmt_int(r.get('days'))} days "
                f"(since {r.get('since')}), {fmt_int(r.get('never_contacted'))} of them never; contacted in that time: {fmt_int(r.get('contacted'))}."
                + (f" The {fmt_int(len(rows))} listed, {order_en}:\n" + bullets(lines) if lines else ""))
    rows = r.get("list") or []
    lines = [(f"{who(c, zh)}：{c.get('last_contact')} {c.get('channel')} {OCCASION_ZH.get(c.get('occasion'), c.get('occasion'))}"
              + (f"，共 {fmt_int(c.get('messages'))} 条" if (c.get("messages") or 0) > 1 else "")) if zh else
             (f"{who(c, zh)}: {c.get('last_contact')} {c.get('channel')} {OCCASION_EN.get(c.get('occasion'), c.get('occasion'))}"
              + (f", {fmt_int(c.get('messages'))} messages" if (c.get("messages") or 0) > 1 else "")) for c in rows[:15]]
    if zh:
        return (f"{r.get('date_from')} 至 {r.get('date_to')} 共联系了 {fmt_int(r.get('customers'))} 位客户、"
                f"{fmt_int(r.get('messages'))} 条消息（活动 {fmt_int(r.get('from_campaigns'))} 条，单条 {fmt_int(r.get('single'))} 条）"
                + ("：\n" + bullets(lines) if lines else "；事件日志中这段时间没有联系记录。"))
    return (f"From {r.get('date_from')} to {r.get('date_to')} we contacted {fmt_int(r.get('customers'))} customers with "
            f"{fmt_int(r.get('messages'))} messages ({fmt_int(r.get('from_campaigns'))} from campaigns, {fmt_int(r.get('single'))} single)"
            + (":\n" + bullets(lines) if lines else "; the event log has no contact in that window."))


_NOT = re.compile(r"(没|未|没有|从未|从没|还没)(有)?(人|被|再)?(联系|触达|联络|沟通|回访|跟进)|多久没(人)?(联系|沟通)|"
                  r"\b(not|never|n't|haven't|hasn't)\b.{0,20}\b(contacted|reached|messaged)\b|\bno contact\b", re.I)


def _contact_args(f) -> dict:
    q = f.q
    if f.slots.get("mention_spans") or PRONOUN_RX.search(q):   # this question names one customer
        return {"mode": "customer"}
    a: dict = {"mode": "not_contacted" if _NOT.search(q) else "contacted"}
    if f.slots.get("days"):
        a["days"] = f.slots["days"]
    else:
        m = re.search(r"(\d+)\s*(天|days?)", q, re.I)
        if m:
            a["days"] = int(m.group(1))
    if a["mode"] == "contacted":
        for period, rx in (("last_week", r"上周|上个?星期|上个?礼拜|last week"), ("this_week", r"本周|这周|这个星期|this week"),
                           ("last_month", r"上个?月|last month"), ("this_month", r"本月|这个月|this month")):
            if re.search(rx, q, re.I):
                a["period"] = period
                a.pop("days", None)
                break
    a.update(f.top())
    return a


PRONOUN_RX = re.compile(r"[他她](?!们)|该客户|这个客户|这位|\b(his|her|him|this customer|the customer|he|she)\b", re.I)


def _contact_inherit(args: dict, new: dict, f) -> None:
    """"那最近30天呢?" after "上周联系了谁": the new window replaces the old one."""
    if new.get("days") or new.get("period"):
        for k in ("days", "period", "date_from", "date_to"):
            args.pop(k, None)
    if new.get("mode") != "customer":
        args.pop("customer_id", None)


register(ToolSpec(
    contact_history, order=43, roles=EVERY_ROLE, family="contact_history", customer="optional", args=_contact_args,
    inherit=_contact_inherit,
    exemplars=(
        "上周联系了哪些客户", "这周我们联系了谁", "最近7天联系过哪些客户", "哪些客户90天没联系了", "有多少客户很久没联系了", "该客户的联系记录",
        "我们上次联系该客户是什么时候", "哪些活跃客户还没有回访过",
        "who did we contact last week", "which customers did we message this month", "who hasn't been contacted in 90 days",
        "customers we have not contacted for a long time", "contact history of the customer", "when did we last contact the customer",
    ),
    cues=(Cue(r"(联系|触达|联络|沟通|回访)(了|过)(哪些|谁|多少|几)|(谁|哪些客户|多少客户).{0,12}(没|未)(有)?(被)?(联系|触达|联络|沟通)|"
              r"(没|未)(有)?(被)?(联系|触达|联络)|联系记录|联系历史|沟通记录|上次联系|最近一次联系|"
              r"\bcontact(ed)? history\b|\bwho did we (contact|message|text|email|call|reach)|\b(been|was|were) contacted\b|"
              r"\bhaven't contacted\b|\bnot contacted\b|\blast contact(ed)?\b|\bdid we (message|contact)\b|"
              r"(发|发送|发出)(了|过)(多少|几)(条|次|个)|(发|发送)了?(多少|几)(条|次)|"
              r"\bhow many (messages|texts|sms|e-?mails)\b.{0,20}\b(did we|have we|were|went)\b", 0.45),),
    render=_render_contacts, help_zh="联系记录（谁联系过、谁很久没联系）", help_en="contact history (who was contacted, who not)",
    example_zh="上周联系了哪些客户?", example_en="Who hasn't been contacted in 90 days?"))
