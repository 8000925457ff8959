"""Service tools over the event log (客户服务管理): mark a complaint resolved / in progress / reopened,
add a note to a customer, mark one drafted message as sent (the contact history is
`tools.contact_tools`).

Each writes or reads `knowledge.events` through `tools.service_log`; the actor is the caller (the
app's logged-in user, the CLI's --user or OS login). Texts people type are stored as typed (length
limited) and shown masked for every role but admin; they are data, never markup.
"""
from __future__ import annotations

import getpass
import re
from typing import Literal

import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.events import EventLog
from tools.context import ToolContext, ToolError, cached, context, customers_by_id, mask_text, resolve_customer_id
from tools.formatting import OCCASION_EN, OCCASION_ZH, fmt_int, short, who
from tools.results import plain
from tools import service_log as sl
from tools.spec import EVERY_ROLE, Cue, ToolSpec, register

__all__ = ["update_complaint", "add_customer_note", "mark_message_sent", "actor_of",
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
    # "send a win-back note to each of the Champions" is a message to customers, not a note on a card
    cues=(Cue(r"^(?!.*\b(send|sending|win[- ]?back|thank[- ]?you|birthday|greetings?|holiday|festival|welcome|apology|care)\b"
              r"[\w\s-]{0,20}\bnotes?\b).*?(?:(加|添加|增加|写|记|留)(个|一个|一条|条)?备注|备注[:：]|记一下|记下来?|"
              r"\b(add|write|leave|put)\b.{0,12}\b(note|remark)\b|\bnote (on|for|to)\b)", 0.45),),
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
