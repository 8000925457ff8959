import sqlite3
from datetime import date

import pytest

from knowledge.errors import GuanxiError
from knowledge.events import EventLog


def test_appended_events_read_back_in_order(tmp_path):
    log = EventLog(tmp_path / "events.sqlite")
    first = log.append("complaint_status", "alice", "F1", {"status": "resolved", "resolution": "退款"})
    log.append_many([("contact", "bob", f"C{i}", {"campaign_id": "cmp-1"}) for i in range(3)])
    assert [e.subject for e in log.events(kind="contact")] == ["C0", "C1", "C2"]
    (e,) = log.events(subject="F1")
    assert (e.id, e.actor, e.payload["resolution"]) == (first, "alice", "退款")


def test_the_log_refuses_updates_deletes_and_unknown_kinds(tmp_path):
    log = EventLog(tmp_path / "events.sqlite")
    log.append("customer_note", "alice", "C1", {"text": "prefers calls"})
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        with sqlite3.connect(log.path) as con:
            con.execute("DELETE FROM events")
    with pytest.raises(GuanxiError, match="not one of"):
        log.append("complaint_resolvd", "alice", "F1")
    assert log.count() == 1



def _fresh_read(path, kinds) -> list:
    """The events of ``kinds`` read straight from SQLite (nothing kept from earlier reads)."""
    import json
    with sqlite3.connect(path) as con:
        rows = con.execute(f"SELECT id, kind, subject, payload FROM events WHERE kind IN ({', '.join('?' * len(kinds))}) "
                           f"ORDER BY id", kinds).fetchall()
    return [(i, k, s, json.loads(p)) for i, k, s, p in rows]


def test_whole_kinds_read_again_give_the_log_as_it_is_now(tmp_path):
    path = tmp_path / "events.sqlite"
    log = EventLog(path)
    log.append_many([("contact", "bob", f"C{i}", {"n": i}) for i in range(3)] + [("customer_note", "al", "C1", {"text": "a"})])
    kinds = ("customer_note", "contact")
    seen = lambda: [(e.id, e.kind, e.subject, e.payload) for e in log.events(kind=kinds)]  # noqa: E731
    assert seen() == _fresh_read(path, kinds) and len(seen()) == 4
    EventLog(path).append("contact", "eve", "C9", {"n": 9})        # another writer (another object, process)
    log.append("complaint_status", "al", "F1", {"status": "resolved"})
    assert seen() == _fresh_read(path, kinds) and seen()[-1][2] == "C9"
    assert [e.subject for e in log.events(kind="contact")] == ["C0", "C1", "C2", "C9"]
    other = EventLog(tmp_path / "other.sqlite")
    other.append("contact", "zed", "Z1", {"n": 1})
    log.restore_from(other.path, force=True)                        # the file replaced under the same path
    assert seen() == _fresh_read(path, kinds) == [(1, "contact", "Z1", {"n": 1})]

def test_every_payload_reads_back_as_json_dumps_would_write_it(tmp_path):
    """A payload of JSON's own types is written by orjson, any other by json.dumps: either reads back
    as json.dumps's text would."""
    import json

    import numpy as np
    import pandas as pd

    from knowledge.events import plain
    odd = [{"ids": [f"C{i}" for i in range(5)], "seg": {"C1": "Champions", "C2": None}, "n": 3, "x": 0.1, "ok": True},
           {"big": 1 << 70, "neg": -(1 << 63), "tiny": 5e-324, "nested": [[1, 2.5], {"a": []}]},
           {"nan": float("nan"), "inf": float("inf"), "tuple": (1, 2), "keys": {1: "a", None: "b"}, "set": {"a"}},
           {"np": np.int64(3), "f": np.float64(1.5), "ts": pd.Timestamp("2026-01-02"), "d": date(2026, 1, 2)},
           {"text": "退订 \u0000 é 😀 \" \\", "empty": ""}, {}]
    log = EventLog(tmp_path / "events.sqlite")
    log.append_many([("customer_note", "al", f"C{i}", p) for i, p in enumerate(odd)])
    got = [e.payload for e in EventLog(tmp_path / "events.sqlite").events()]
    want = [json.loads(json.dumps(p, ensure_ascii=False, default=str)) for p in odd]
    assert repr(got) == repr(want)                                            # the same values and types (nan too)
    assert [plain(p) for p in odd] == [True, False, False, False, True, True]  # the first by orjson, the big int not
    with sqlite3.connect(log.path) as con:
        assert con.execute("SELECT payload FROM events WHERE id = 1").fetchone()[0].startswith('{"ids":["C0",')


def test_payloads_handed_over_join_the_kept_read_only_when_it_is_up_to_date(tmp_path):
    """``keep=True``: a new campaign's payload is not parsed back by the next read of its kind, unless
    another writer came between (then every row is read from the file)."""
    path = tmp_path / "events.sqlite"
    log, other = EventLog(path), EventLog(path)
    log.append("campaign_created", "al", "cmp-1", {"treated": ["C1"]})
    assert [e.subject for e in log.events(kind="campaign_created")] == ["cmp-1"]    # a kept read
    mine = {"treated": ["C2", "C3"], "segment_of": {"C2": "Loyal"}}
    log.append("campaign_created", "al", "cmp-2", mine, keep=True)
    kept = log.events(kind="campaign_created")
    assert kept[-1].payload is mine and [e.subject for e in kept] == ["cmp-1", "cmp-2"]   # not parsed back
    other.append("campaign_created", "bo", "cmp-3", {"treated": []})       # another writer: the kept read is behind
    log.append("campaign_created", "al", "cmp-4", {"treated": ["C4"]}, keep=True)
    log.append("campaign_created", "al", "cmp-5", {"when": date(2026, 1, 2)}, keep=True)   # not plain: parsed back
    got = [(e.subject, e.payload) for e in log.events(kind="campaign_created")]
    assert got == [(s, p) for _, _, s, p in _fresh_read(path, ("campaign_created",))] and got[-1][1] == {"when": "2026-01-02"}
    assert [s for s, _ in got] == ["cmp-1", "cmp-2", "cmp-3", "cmp-4", "cmp-5"]


# ------------------------------------------------------------------ several processes, a kill, a bad file
import multiprocessing as mp  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

WRITERS, PER_WRITER = 4, 200


def _append_events(path: str, writer: int, n: int) -> None:
    log = EventLog(path)
    for i in range(n):
        if i % 10 == 9:   # some single appends, some small batches
            log.append_many([("contact", f"w{writer}", f"C{writer}-{i}-{j}", {"n": j}) for j in range(2)])
        else:
            log.append("customer_note", f"w{writer}", f"C{writer}-{i}", {"text": f"note {i}"})


def _expected_per_writer(n: int) -> int:
    return sum(2 if i % 10 == 9 else 1 for i in range(n))


def test_concurrent_appends_from_several_processes_lose_no_event(tmp_path):
    path = str(tmp_path / "events.sqlite")
    ctx = mp.get_context("spawn")   # fresh interpreters, as separate app processes would be
    procs = [ctx.Process(target=_append_events, args=(path, w, PER_WRITER)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    events = EventLog(path).events()
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids)) == WRITERS * _expected_per_writer(PER_WRITER)
    for w in range(WRITERS):
        mine = [e for e in events if e.actor == f"w{w}"]
        assert len(mine) == _expected_per_writer(PER_WRITER)
        notes = [int(e.payload["text"].split()[1]) for e in mine if e.kind == "customer_note"]
        assert notes == sorted(notes)   # each writer's events are in the order it wrote them


class _SlowLog(EventLog):
    """An event log whose connection announces each INSERT and then sleeps: the test kills the process
    in the middle of a long transaction."""

    def __init__(self, path, signal_file):
        super().__init__(path)
        self.signal_file = signal_file

    def _connect(self):
        con = super()._connect()
        inserts = [0]

        def traced(sql):
            if sql.startswith("INSERT"):
                inserts[0] += 1
                if inserts[0] == 50:
                    open(self.signal_file, "w").close()
                if inserts[0] >= 50:
                    time.sleep(0.05)
        con.set_trace_callback(traced)
        return con


def _commit_then_hang(path: str, signal_file: str) -> None:
    EventLog(path).append_many([("contact", "bob", f"C{i}", {"campaign_id": None}) for i in range(30)])
    _SlowLog(path, signal_file).append_many([("contact", "bob", f"X{i}", {}) for i in range(10_000)])


def test_a_process_killed_mid_transaction_leaves_every_committed_event(tmp_path):
    path, flag = str(tmp_path / "events.sqlite"), str(tmp_path / "in-transaction")
    p = mp.get_context("spawn").Process(target=_commit_then_hang, args=(path, flag))
    p.start()
    deadline = time.monotonic() + 60
    while not os.path.exists(flag):
        assert time.monotonic() < deadline and p.is_alive(), "the writer never reached its long transaction"
        time.sleep(0.02)
    os.kill(p.pid, signal.SIGKILL)
    p.join(10)
    assert p.exitcode == -signal.SIGKILL
    log = EventLog(path)
    subjects = [e.subject for e in log.events()]
    assert subjects == [f"C{i}" for i in range(30)]   # committed: all there; the killed batch: none of it
    log.append("customer_note", "alice", "C1", {"text": "after the crash"})   # and it takes new events
    assert log.count() == 31


def test_a_file_that_is_not_an_event_log_is_refused_by_name(tmp_path):
    bad = tmp_path / "events.sqlite"
    bad.write_bytes(b"customer_id,name\nC1,Li\n" * 100)
    log = EventLog(bad)
    for call in (lambda: log.append("customer_note", "alice", "C1", {"text": "x"}), log.events, log.count):
        with pytest.raises(GuanxiError, match="events.sqlite.*cannot open the event log"):
            call()
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE events (x TEXT)")
    with pytest.raises(GuanxiError, match="other.sqlite: cannot open the event log"):
        EventLog(other).count()


def test_backup_is_a_consistent_copy_and_restore_refuses_to_overwrite(tmp_path):
    log = EventLog(tmp_path / "a" / "events.sqlite")
    log.append_many([("customer_note", "alice", f"C{i}", {"text": "备注"}) for i in range(5)])
    info = log.backup(tmp_path / "copy.sqlite")
    assert (info["events"], info["last_id"]) == (5, 5)
    with pytest.raises(GuanxiError, match="already exists"):
        log.backup(tmp_path / "copy.sqlite")
    fresh = EventLog(tmp_path / "b" / "events.sqlite")
    assert fresh.restore_from(tmp_path / "copy.sqlite")["events"] == 5
    with pytest.raises(GuanxiError, match="already holds 5 events.*--force"):
        fresh.restore_from(tmp_path / "copy.sqlite")
    fresh.append("customer_note", "bob", "C9", {"text": "later"})
    assert fresh.restore_from(tmp_path / "copy.sqlite", force=True) == {"file": str(fresh.path), "events": 5, "replaced": 6}
    assert [e.payload["text"] for e in fresh.events()] == ["备注"] * 5
