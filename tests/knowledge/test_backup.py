"""`guanxi backup` / `guanxi restore`: the event log and the users file, the data that exists nowhere
else, copied consistently while the app writes, and brought back into a fresh workspace."""
from __future__ import annotations

import json
import multiprocessing as mp
import time
import zipfile

import pytest

from assistant.cli import main as guanxi
from knowledge.backup import backup_workspace, restore_workspace
from knowledge.errors import GuanxiError
from knowledge.events import EventLog
from knowledge.workspace import Workspace

USERS = '[users.alice]\nrole = "agent"\npassword = "pbkdf2_sha256$1$x$y"\n'


def _keep_appending(path: str, n: int) -> None:
    log = EventLog(path)
    for i in range(n):
        log.append("contact", "app", f"C{i:05d}", {"campaign_id": None, "channel": "sms", "sent_at": "2026-12-01"})


def test_a_backup_taken_while_another_process_appends_restores_every_event_committed_before_it(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    ws.users_path.write_text(USERS, encoding="utf-8")
    log = EventLog.of(ws)
    log.append("complaint_status", "alice", "FB1", {"status": "resolved", "resolution": "已退款"})
    writer = mp.get_context("spawn").Process(target=_keep_appending, args=(str(ws.events_path), 2000))
    writer.start()
    try:
        deadline = time.monotonic() + 60
        while log.count() < 300:
            assert time.monotonic() < deadline and writer.is_alive()
            time.sleep(0.01)
        committed_before = log.last_id()                 # every event up to here is committed
        info = backup_workspace(ws, tmp_path / "backups" / "crm.zip")
        still_writing = writer.is_alive()
    finally:
        writer.join(120)
    assert writer.exitcode == 0 and still_writing        # the copy was taken while the writer was busy
    assert info["last_id"] >= committed_before and info["users"]
    fresh = Workspace(tmp_path / "fresh")
    got = restore_workspace(tmp_path / "backups" / "crm.zip", fresh)
    restored = EventLog.of(fresh).events()
    ids = [e.id for e in restored]
    assert ids == list(range(1, info["last_id"] + 1)) and got["events"] == info["events"] == len(ids)
    original = {e.id: e for e in log.events()}
    assert all(original[e.id] == e for e in restored)    # the same events, not just as many
    assert restored[0].payload == {"status": "resolved", "resolution": "已退款"}
    assert fresh.users_path.read_text(encoding="utf-8") == USERS
    assert fresh.users_path.stat().st_mode & 0o077 == 0  # password hashes: owner-only


def test_a_folder_backup_and_the_refusals_name_the_file(tmp_path, capsys):
    ws = Workspace(tmp_path / "ws")
    EventLog.of(ws).append_many([("customer_note", "bob", f"C{i}", {"text": "prefers calls"}) for i in range(3)])
    (tmp_path / "backups").mkdir()
    assert guanxi(["backup", "--workspace", str(ws.root), "--to", str(tmp_path / "backups"), "--user", "bob"]) == 0
    (folder,) = (tmp_path / "backups").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["events"] == 3 and not manifest["users"] and set(manifest["sha256"]) == {"events.sqlite"}
    other = Workspace(tmp_path / "other")
    EventLog.of(other).append("customer_note", "carol", "C9", {"text": "x"})
    assert guanxi(["restore", str(folder), "--workspace", str(other.root)]) == 2
    err = capsys.readouterr().err
    assert "already holds 1 events" in err and "--force" in err and "Traceback" not in err
    assert EventLog.of(other).count() == 1                   # refused: nothing replaced
    assert guanxi(["restore", str(folder), "--workspace", str(other.root), "--force"]) == 0
    assert [e.actor for e in EventLog.of(other).events()] == ["bob"] * 3
    audit = [json.loads(x) for x in ws.audit_log_path.read_text().splitlines()]
    assert [(r["event"], r["user"], r["events"]) for r in audit] == [("backup", "bob", 3)]
    (folder / "events.sqlite").write_bytes((folder / "events.sqlite").read_bytes()[:-10] + b"0" * 10)
    with pytest.raises(GuanxiError, match="events.sqlite does not match its checksum"):
        restore_workspace(folder, Workspace(tmp_path / "third"))
    bad = tmp_path / "notes.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(GuanxiError, match="notes.zip: not a Guanxi backup"):
        restore_workspace(bad, Workspace(tmp_path / "third"))
