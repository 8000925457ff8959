"""Customer service from the event log (客户服务管理): complaint follow-through, notes on customers,
and who was contacted when. Pure functions over `knowledge.events.EventLog` and the tables.

The log is the record: a complaint marked resolved is a ``complaint_status`` event (subject the
feedback_id), never a change to the feedback table, so `guanxi build` on re-exported data keeps it;
the *effective* status is the latest event's, else the source file's, and where they differ both
are shown ("已解决（alice 2026-12-02 标记；源文件为 未解决）")::

    changes = status_changes(EventLog.of(ws))          # {feedback_id: StatusChange}
    effective_status("open", changes.get("FB1"))       # "resolved"
    status_label("open", changes.get("FB1"), zh=True)

Contacts are ``contact`` events (subject the customer_id; payload campaign_id or null, channel,
occasion, marketing, sent_at): written by a campaign's "mark sent" and by a person marking one
drafted message as sent (`record_contact`). Times in the log are the app's clock; windows over
contacts ("last week", "not in 90 days") are counted back from today, not from the data's as-of.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.events import Event, EventLog, now

__all__ = ["STATUSES", "RESOLUTION_MAX", "NOTE_MAX", "StatusChange", "status_changes", "effective_status",
           "status_label", "parse_status", "clean_text", "record_status", "record_note", "notes_of",
           "record_contact", "contacts_frame", "contact_window", "MARKETING_OCCASIONS"]

STATUSES = ("resolved", "in_progress", "open")
RESOLUTION_MAX = 300          # characters: a resolution is a line in a record, and may reach a customer
NOTE_MAX = 500
STATUS_WORDS_ZH = {"resolved": "已解决", "in_progress": "处理中", "open": "未解决"}
STATUS_WORDS_EN = {"resolved": "resolved", "in_progress": "in progress", "open": "open"}
_ALIASES = {
    "resolved": ("resolved", "resolve", "closed", "close", "done", "fixed", "solved", "已解决", "解决", "已处理",
                 "处理完", "处理好", "搞定", "已关闭", "关闭", "结案", "完结"),
    "in_progress": ("in_progress", "in progress", "in-progress", "progress", "working", "pending", "处理中", "跟进中",
                    "正在处理", "跟进", "处理"),
    "open": ("open", "reopen", "reopened", "re-open", "unresolved", "重新打开", "重开", "未解决", "没解决", "打开"),
}
#: occasions whose message is marketing (counted by the frequency cap); a complaint follow-up is service
MARKETING_OCCASIONS = frozenset({"birthday", "festival", "winback", "vip_thanks", "recommendation", "regular"})


@dataclass(frozen=True)
class StatusChange:
    """The latest ``complaint_status`` event of one complaint."""
    feedback_id: str
    status: str
    resolution: str
    actor: str
    at: str
    previous_status: str | None = None
    customer_id: str | None = None
    event_id: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def parse_status(value) -> str:
    """"已解决" / "resolved" / "reopen" / "处理中" … → resolved | in_progress | open."""
    v = str(value or "").strip().lower().replace("_", " ")
    for status, words in _ALIASES.items():
        if v in words or v.replace(" ", "_") == status:
            return status
    raise GuanxiError(f"status {value!r}: expected resolved (已解决), in_progress (处理中) or open (重新打开)")


def clean_text(text, limit: int, what: str, required: bool = True) -> str:
    """Free text typed by a person, as stored: control characters dropped, whitespace collapsed,
    at most ``limit`` characters (longer is refused, not cut, so nothing is lost silently)."""
    s = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in str(text or ""))
    s = re.sub(r"\s+", " ", s).strip()
    if required and not s:
        raise GuanxiError(f"{what}: the text is empty")
    if len(s) > limit:
        raise GuanxiError(f"{what}: {len(s)} characters, at most {limit} allowed")
    return s


# ------------------------------------------------------------------ complaints
def status_changes(log: EventLog) -> dict[str, StatusChange]:
    """The latest status change of every complaint that has one, by feedback_id."""
    out: dict[str, StatusChange] = {}
    for e in log.events(kind="complaint_status"):
        p = e.payload
        out[e.subject] = StatusChange(e.subject, str(p.get("status")), str(p.get("resolution") or ""), e.actor, e.at,
                                      p.get("previous_status"), p.get("customer_id"), e.id)
    return out


def _source(status) -> str:
    s = str(status or "").strip().lower()
    return s if s in STATUSES else "open"


def effective_status(source_status, change: StatusChange | None) -> str:
    """The status that counts: the log's latest, else the source file's (open / resolved)."""
    return change.status if change is not None else _source(source_status)


def status_label(source_status, change: StatusChange | None, zh: bool) -> str:
    """"已解决" — or, when the log changed it, "已解决（alice 2026-12-02 标记；源文件为 未解决）"."""
    words = STATUS_WORDS_ZH if zh else STATUS_WORDS_EN
    eff = effective_status(source_status, change)
    if change is None:
        return words[eff]
    day = change.at[:10]
    src = _source(source_status)
    if zh:
        return f"{words[eff]}（{change.actor} {day} 标记" + (f"；源文件为 {words[src]}" if src != eff else "") + "）"
    return f"{words[eff]} (by {change.actor} {day}" + (f"; source file says {words[src]}" if src != eff else "") + ")"


def record_status(log: EventLog, feedback_row: dict, status: str, resolution: str, actor: str,
                  changes: dict[str, StatusChange] | None = None) -> StatusChange:
    """Write one ``complaint_status`` event for a feedback row of the table and return it. A resolved
    complaint needs its resolution text; the previous status (the log's, else the file's) is kept."""
    status = parse_status(status)
    fid = str(feedback_row["feedback_id"])
    text = clean_text(resolution, RESOLUTION_MAX, f"complaint {fid}: resolution", required=status == "resolved")
    changes = status_changes(log) if changes is None else changes
    prev = effective_status(feedback_row.get("status"), changes.get(fid))
    payload = {"status": status, "resolution": text, "previous_status": prev,
               "customer_id": str(feedback_row.get("customer_id") or "") or None,
               "source_status": _source(feedback_row.get("status"))}
    at = now()
    eid = log.append("complaint_status", actor, fid, payload, at=at)
    return StatusChange(fid, status, text, actor, at, prev, payload["customer_id"], eid)


# ------------------------------------------------------------------ notes
def record_note(log: EventLog, customer_id: str, text: str, actor: str) -> Event:
    body = clean_text(text, NOTE_MAX, f"note on {customer_id}")
    at = now()
    eid = log.append("customer_note", actor, customer_id, {"text": body}, at=at)
    return Event(eid, at, "customer_note", actor, customer_id, {"text": body})


def notes_of(log: EventLog, customer_id: str, last: int = 5) -> list[dict]:
    """A customer's latest notes, newest first: {at, actor, text}."""
    evs = log.events(kind="customer_note", subject=customer_id)
    return [{"at": e.at, "actor": e.actor, "text": str(e.payload.get("text", ""))} for e in reversed(evs)][:last]


# ------------------------------------------------------------------ contacts
def record_contact(log: EventLog, customer_id: str, channel: str, occasion: str, actor: str,
                   sent_at: str | None = None, campaign_id: str | None = None, feedback_id: str | None = None) -> Event:
    """A message a person sent (Guanxi sends nothing): one ``contact`` event."""
    day = sent_at or now()[:10]
    try:
        day = pd.Timestamp(day).strftime("%Y-%m-%d")
    except (ValueError, TypeError):
        raise GuanxiError(f"sent_at {sent_at!r}: expected a date YYYY-MM-DD") from None
    payload = {"campaign_id": campaign_id, "channel": str(channel), "occasion": str(occasion),
               "marketing": occasion in MARKETING_OCCASIONS, "sent_at": day}
    if feedback_id:
        payload["feedback_id"] = str(feedback_id)
    at = now()
    eid = log.append("contact", actor, customer_id, payload, at=at)
    return Event(eid, at, "contact", actor, customer_id, payload)


CONTACT_COLUMNS = ["customer_id", "sent_at", "channel", "occasion", "campaign_id", "marketing", "actor", "at"]


def contacts_frame(log: EventLog, customer_id: str | None = None) -> pd.DataFrame:
    """Every contact event as a table (one row per message sent), oldest first; ``sent_at`` a date."""
    evs = log.events(kind="contact", subject=customer_id)
    rows = [{"customer_id": e.subject, "sent_at": str(e.payload.get("sent_at") or e.at[:10])[:10],
             "channel": e.payload.get("channel"), "occasion": e.payload.get("occasion"),
             "campaign_id": e.payload.get("campaign_id"), "marketing": bool(e.payload.get("marketing", True)),
             "actor": e.actor, "at": e.at} for e in evs]
    return pd.DataFrame(rows, columns=CONTACT_COLUMNS)


def contact_window(period: str | None, days: int | None, date_from: str | None, date_to: str | None,
                   today: date | None = None) -> tuple[str, str]:
    """The inclusive window (YYYY-MM-DD, YYYY-MM-DD) of a contact question, counted back from today:
    period last_week (Monday–Sunday before this week), this_week, last_month, this_month; or the last
    ``days`` days; or explicit dates. Default the last 7 days."""
    today = today or date.today()
    if date_from or date_to:
        a = pd.Timestamp(date_from).date() if date_from else date(2000, 1, 1)
        b = pd.Timestamp(date_to).date() if date_to else today
    elif period == "last_week":
        b = today - timedelta(days=today.weekday() + 1)
        a = b - timedelta(days=6)
    elif period == "this_week":
        a, b = today - timedelta(days=today.weekday()), today
    elif period == "last_month":
        b = today.replace(day=1) - timedelta(days=1)
        a = b.replace(day=1)
    elif period == "this_month":
        a, b = today.replace(day=1), today
    elif period not in (None, "", "days"):
        raise GuanxiError(f"period {period!r}: expected last_week, this_week, last_month, this_month or days")
    else:
        n = int(days or 7)
        if not 1 <= n <= 3660:
            raise GuanxiError(f"days must be between 1 and 3660, got {n}")
        a, b = today - timedelta(days=n - 1), today
    if a > b:
        raise GuanxiError(f"the window starts after it ends ({a} > {b})")
    return a.isoformat(), b.isoformat()
