import sqlite3

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
