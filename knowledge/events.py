"""The workspace's event log: what people did, which exists nowhere else (campaigns created,
approved, exported and sent; contacts; complaint status changes; notes on customers).

An append-only SQLite database at ``WORKSPACE/events.sqlite`` in WAL mode: one writer at a time
(SQLite's lock, waited for up to `BUSY_TIMEOUT_S`), readers never blocked, a committed event
survives a process killed mid-write. It lives beside the build generations, so `guanxi build`
never touches it::

    log = EventLog.of(ws)
    eid = log.append("complaint_status", actor="alice", subject="F000123",
                     payload={"status": "resolved", "resolution": "退款已到账"})
    log.append_many([("contact", "bob", "C00012", {"campaign_id": "cmp-1", "channel": "sms"})])
    [e.payload["status"] for e in log.events(kind="complaint_status", subject="F000123")]

Events are never updated or deleted (triggers refuse it): a later event supersedes an earlier one.
``at`` is local time "YYYY-MM-DD HH:MM:SS" (the app's clock) unless given.

Safety, tested in tests/knowledge/test_events.py: several processes appending at once lose no event
(each append is one ``BEGIN IMMEDIATE`` transaction; ids come from AUTOINCREMENT, never reused); a
process killed inside a transaction leaves a log that opens with every committed event and none of
the killed transaction's; a file at the path that is not an event log is refused with its name.
`EventLog.backup` copies the log with SQLite's online backup API (a consistent snapshot while other
processes write); `EventLog.restore_from` brings a copy back (`guanxi backup` / `guanxi restore`).

Reading: the log only grows, so the events of a kind read once are kept per process (`events` by
kind alone) and later reads parse only the rows written since — a campaign of a million customers is
one JSON payload of tens of MB, parsed once, not at every list of the campaigns. A file replaced
under the same path (a restore) is noticed (the kept newest row no longer matches) and read anew.
The payloads handed out are shared between reads: callers must not mutate them. An append with
``keep=True`` hands its payloads over (the caller does not touch them again): when the kept read of
their kind is up to date, they join it as they are instead of being parsed back at the next read.

Writing: a payload of JSON's own types (`plain`) is written by orjson, whose text reads back as
json.dumps's would (a campaign's 5 MB of ids in 20 ms instead of 150); anything else by json.dumps
(``default=str``).
"""
from __future__ import annotations

import gc
import heapq
import json
import math
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import orjson

from knowledge.errors import GuanxiError

__all__ = ["Event", "EventLog", "EVENTS_FILE", "KINDS", "now", "plain"]

EVENTS_FILE = "events.sqlite"
BUSY_TIMEOUT_S = 30.0
#: the kinds of events Guanxi writes (others are refused, so a typo cannot hide an event)
KINDS = ("campaign_created", "campaign_approved", "campaign_exported", "campaign_sent", "campaign_cancelled",
         "contact", "complaint_status", "customer_note")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_kind_subject ON events (kind, subject);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
"""


#: path → kind → (the newest row kept: (id, at, actor, subject, payload length), its events in id order)
_READ: dict[str, dict[str, tuple[tuple, list["Event"]]]] = {}
_READ_LOCK = threading.Lock()


@dataclass(frozen=True)
class Event:
    id: int
    at: str
    kind: str
    actor: str
    subject: str
    payload: dict = field(default_factory=dict)


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


_SCALARS = frozenset((str, bool, type(None)))


def plain(value) -> bool:
    """``value`` is made of JSON's own types only — str, bool, None, 64-bit int, finite float, list,
    dict with str keys — so that it reads back from JSON equal to itself (no tuple, number subclass,
    Timestamp, int key, NaN ...)."""
    t = type(value)
    if t is dict:
        return set(map(type, value)) <= {str} and _plain_items(value.values())
    if t is list:
        return _plain_items(value)
    if t is int:
        return -(1 << 63) <= value < 1 << 63
    if t is float:
        return math.isfinite(value)
    return t in _SCALARS


def _plain_items(values) -> bool:
    return set(map(type, values)) <= _SCALARS or all(map(plain, values))


def _encode(payload: dict) -> tuple[str, bool]:
    """(the JSON text stored for ``payload``, whether it is `plain`): orjson's text for a plain
    payload, else json.dumps's (``default=str``); either reads back by json.loads as the other would."""
    if plain(payload):
        try:
            return orjson.dumps(payload).decode(), True
        except orjson.JSONEncodeError:   # a lone surrogate, nesting deeper than orjson's limit
            pass
    # json.dumps makes one (key, value) tuple per entry of a dict: for a campaign's segment_of (a
    # million entries) those allocations set off full cyclic-GC passes over the whole heap
    paused = gc.isenabled()
    gc.disable()
    try:
        return json.dumps(payload, ensure_ascii=False, default=str), False
    finally:
        if paused:
            gc.enable()


class EventLog:
    """The append-only event log of one workspace (``EventLog.of(ws)``) or of a file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def of(cls, ws) -> "EventLog":
        """The log of a workspace (its root, not a build generation)."""
        return cls(ws.events_path)

    def exists(self) -> bool:
        return self.path.is_file()

    def _connect(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise GuanxiError(f"{self.path}: expected the event log file (SQLite), found a folder")
        con = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._set_up(con)
            cols = [r[1] for r in con.execute("PRAGMA table_info(events)")]
            if cols[:6] != ["id", "at", "kind", "actor", "subject", "payload"]:
                raise sqlite3.DatabaseError(f"its events table has columns {cols}, expected "
                                            "id, at, kind, actor, subject, payload")
        except sqlite3.DatabaseError as e:
            if con is not None:
                con.close()
            raise GuanxiError(f"{self.path}: cannot open the event log ({e}); expected a Guanxi event log "
                              f"(SQLite) — restore one with `guanxi restore` or move the file away") from None
        except OSError as e:
            raise GuanxiError(f"{self.path}: cannot open the event log ({e})") from None
        return con

    @staticmethod
    def _set_up(con: sqlite3.Connection) -> None:
        """WAL mode and the schema. Switching a new file to WAL while other processes open it can
        fail with "database is locked" at once (SQLite's busy timeout does not cover it): retried
        until BUSY_TIMEOUT_S has passed."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=FULL")   # a committed event is on disk
                con.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def append(self, kind: str, actor: str, subject: str = "", payload: dict | None = None,
               at: str | None = None, keep: bool = False) -> int:
        """Write one event (committed when this returns); its id."""
        return self.append_many([(kind, actor, subject, payload or {})], at=at, keep=keep)[0]

    def append_many(self, rows: Iterable[tuple[str, str, str, dict]], at: str | None = None,
                    unless: tuple[tuple[str, ...], str] | None = None, keep: bool = False) -> list[int]:
        """Write several events in one transaction (all or none); their ids in order. ``unless``
        = (kinds, subject): write nothing (and return []) when the log already holds an event of
        one of those kinds about that subject — checked inside the same transaction, so two
        sessions marking one campaign sent at once cannot both write its contacts. ``keep``: the
        payloads are handed over (module docstring)."""
        stamp = at or now()
        values, kept_as = [], []   # kept_as: the payload a kept read may hold (None: not plain, parsed back)
        for kind, actor, subject, payload in rows:
            if kind not in KINDS:
                raise GuanxiError(f"event kind {kind!r} is not one of {', '.join(KINDS)}")
            if not str(actor or "").strip():
                raise GuanxiError(f"event {kind}: the actor (who did it) is required")
            text, is_plain = _encode(payload or {})
            values.append((stamp, kind, str(actor), str(subject or ""), text))
            kept_as.append((payload or {}) if is_plain else None)
        if not values:
            return []
        with closing(self._connect()) as con:
            try:
                con.execute("BEGIN IMMEDIATE")   # waits (BUSY_TIMEOUT_S) for another writer
            except sqlite3.OperationalError as e:
                raise GuanxiError(f"{self.path}: the event log is busy ({e}); nothing was written, try again") from None
            try:
                if unless is not None:
                    kinds, subject = tuple(unless[0]), str(unless[1])
                    if con.execute(f"SELECT 1 FROM events WHERE subject = ? AND kind IN ({', '.join('?' * len(kinds))}) "
                                   "LIMIT 1", (subject, *kinds)).fetchone():
                        con.execute("ROLLBACK")
                        return []
                # the kept reads these rows extend: checked under the write lock, so no other row comes between
                current = self._current_reads(con, {v[1] for v in values}) if keep else {}
                ids = [con.execute("INSERT INTO events (at, kind, actor, subject, payload) VALUES (?, ?, ?, ?, ?)",
                                   v).lastrowid for v in values]
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        if current:
            self._keep(current, ids, values, kept_as)
        return ids

    def _current_reads(self, con: sqlite3.Connection, kinds: set[str]) -> dict[str, tuple]:
        """kind → its kept read, for the kinds whose kept read holds every row of the log of that kind."""
        key = str(self.path.resolve())
        with _READ_LOCK:
            kept = {k: v for k, v in _READ.get(key, {}).items() if k in kinds}
        return {k: v for k, v in kept.items() if self._still(con, k, v[0])
                and not con.execute("SELECT 1 FROM events WHERE id > ? AND +kind = ? LIMIT 1", (v[0][0], k)).fetchone()}

    @staticmethod
    def _still(con: sqlite3.Connection, kind: str, mark: tuple) -> bool:
        """The kept newest row ``mark`` is still in the log as it was (the file was not replaced)."""
        row = con.execute("SELECT id, at, actor, subject, length(payload) FROM events WHERE id = ? AND kind = ?",
                          (mark[0], kind)).fetchone()
        return row is not None and tuple(row) == mark

    def _keep(self, current: dict[str, tuple], ids: list[int], values: list[tuple], kept_as: list) -> None:
        """The rows just written join the kept reads of ``current`` (a kind with a payload not `plain`:
        left to be parsed at the next read), unless another read of this process moved them on."""
        key = str(self.path.resolve())
        for kind, (mark, kept) in current.items():
            mine = [(i, v, p) for i, v, p in zip(ids, values, kept_as) if v[1] == kind]
            if any(p is None for _, _, p in mine):
                continue
            new = kept + [Event(i, a, kind, ac, s, p) for i, (a, _, ac, s, _), p in mine]
            i, (a, _, ac, s, text), _ = mine[-1]
            with _READ_LOCK:
                if _READ.get(key, {}).get(kind, (None,))[0] == mark:
                    _READ[key][kind] = ((i, a, ac, s, len(text)), new)

    def events(self, kind: str | tuple[str, ...] | None = None, subject: str | None = None,
               since: str | None = None, until: str | None = None, limit: int | None = None) -> list[Event]:
        """Events in the order written, filtered by kind(s), subject and ``since <= at < until``."""
        if not self.exists():
            return []
        if kind is not None and subject is None and since is None and until is None and not limit:
            with closing(self._connect()) as con:   # whole kinds: kept from earlier reads (module docstring)
                lists = [self._kind(con, k) for k in ((kind,) if isinstance(kind, str) else dict.fromkeys(kind))]
            return lists[0][:] if len(lists) == 1 else list(heapq.merge(*lists, key=lambda e: e.id))
        where, args = [], []
        if kind is not None:
            kinds = (kind,) if isinstance(kind, str) else tuple(kind)
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            args += kinds
        if subject is not None:
            where.append("subject = ?")
            args.append(str(subject))
        if since is not None:
            where.append("at >= ?")
            args.append(str(since))
        if until is not None:
            where.append("at < ?")
            args.append(str(until))
        sql = "SELECT id, at, kind, actor, subject, payload FROM events"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        sql += " ORDER BY id" + (f" LIMIT {int(limit)}" if limit else "")
        with closing(self._connect()) as con:
            rows = con.execute(sql, args).fetchall()
        return [Event(i, a, k, ac, s, json.loads(p)) for i, a, k, ac, s, p in rows]

    def _kind(self, con: sqlite3.Connection, kind: str) -> list[Event]:
        """Every event of ``kind`` in id order: those kept from an earlier read plus the rows written since."""
        key = str(self.path.resolve())
        with _READ_LOCK:
            mark, kept = _READ.get(key, {}).get(kind, ((0,), []))
        if mark[0] and not self._still(con, kind, mark):   # the file was replaced (a restore): read it anew
            mark, kept = (0,), []
        rows = con.execute("SELECT id, at, actor, subject, payload FROM events WHERE kind = ? ORDER BY id", (kind,)
                           ).fetchall() if not mark[0] else con.execute(   # by id from the kept row on ("+": not by kind)
            "SELECT id, at, actor, subject, payload FROM events WHERE id > ? AND +kind = ? ORDER BY id",
            (mark[0], kind)).fetchall()
        if not rows:
            return kept
        new = kept + [Event(i, a, kind, ac, s, json.loads(p)) for i, a, ac, s, p in rows]
        i, a, ac, s, p = rows[-1]
        with _READ_LOCK:
            _READ.setdefault(key, {})[kind] = ((i, a, ac, s, len(p)), new)
        return new

    def count(self) -> int:
        if not self.exists():
            return 0
        with closing(self._connect()) as con:
            return int(con.execute("SELECT count(*) FROM events").fetchone()[0])

    def last_id(self) -> int:
        """The id of the newest event (0 when the log is empty)."""
        if not self.exists():
            return 0
        with closing(self._connect()) as con:
            return int(con.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])

    # ------------------------------------------------------------------ backup / restore
    def backup(self, dest: str | Path) -> dict:
        """A consistent copy of the log at ``dest`` (a new file; SQLite's online backup API, so
        it is safe while other processes append: the copy holds every event committed before it
        began). Returns {"file", "events", "last_id"}."""
        dest = Path(dest)
        if dest.exists():
            raise GuanxiError(f"{dest}: already exists; the backup writes a new file")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        tmp.unlink(missing_ok=True)
        with closing(self._connect()) as src, closing(sqlite3.connect(tmp)) as out:
            src.backup(out)
            n, last = out.execute("SELECT count(*), coalesce(max(id), 0) FROM events").fetchone()
            out.execute("PRAGMA journal_mode=DELETE")   # one self-contained file
        tmp.replace(dest)
        return {"file": str(dest), "events": int(n), "last_id": int(last)}

    def restore_from(self, source: str | Path, force: bool = False, label: str | None = None) -> dict:
        """Replace this log by the copy at ``source`` (checked first: it must be an event log).
        Refuses when this log already holds events, unless ``force``. Returns {"file", "events", "replaced"}."""
        source = Path(source)
        if not source.is_file():
            raise GuanxiError(f"{source}: no such backup file")
        name = label or str(source)
        try:   # read-only: checking a backup never changes it
            src = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        except sqlite3.DatabaseError as e:
            raise GuanxiError(f"{name}: cannot open the backup ({e})") from None
        with closing(src):
            try:
                cols = [r[1] for r in src.execute("PRAGMA table_info(events)")]
                if cols[:6] != ["id", "at", "kind", "actor", "subject", "payload"]:
                    raise sqlite3.DatabaseError("it has no Guanxi events table")
                n_in = int(src.execute("SELECT count(*) FROM events").fetchone()[0])
            except sqlite3.DatabaseError as e:
                raise GuanxiError(f"{name}: not a Guanxi event log ({e})") from None
            had = self.count() if self.exists() else 0
            if had and not force:
                raise GuanxiError(f"{self.path}: the event log already holds {had:,} events; restoring would replace "
                                  f"them with the {n_in:,} of {name} — pass --force to do so")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as out:
                src.backup(out)
        return {"file": str(self.path), "events": self.count(), "replaced": had}
