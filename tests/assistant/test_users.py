import json

import pytest

from assistant.audit import audit
from assistant.users import add_user, authenticate, load_users, write_demo_users, DEMO_USERS
from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from knowledge.workspace import Workspace


def _settings(tmp_path):
    return Settings.load(env={}, config_file=tmp_path / "none.toml", workspace=tmp_path / "ws")


def test_users_are_stored_with_hashed_passwords_only(tmp_path):
    s = _settings(tmp_path)
    add_user(s, "alice", "manager", "correct horse")
    ws = Workspace(s.workspace)
    text = ws.users_path.read_text()
    assert "correct horse" not in text and "scrypt$" in text
    assert authenticate(ws, "alice", "correct horse").role == "manager"
    assert authenticate(ws, "alice", "wrong password") is None
    assert authenticate(ws, "bob", "correct horse") is None


def test_bad_role_and_short_password_are_refused(tmp_path):
    s = _settings(tmp_path)
    with pytest.raises(GuanxiError, match="expected one of manager, agent, admin"):
        add_user(s, "x", "boss", "long enough")
    with pytest.raises(GuanxiError, match="at least 8 characters"):
        add_user(s, "x", "agent", "short")


def test_plain_text_password_in_the_file_is_refused(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text('[users.eve]\nrole = "admin"\npassword = "hunter2"\n')
    with pytest.raises(GuanxiError, match="plain-text passwords are refused"):
        load_users(path)


def test_demo_users_one_per_role(tmp_path):
    ws = Workspace(tmp_path)
    write_demo_users(ws)
    for username, (role, password) in DEMO_USERS.items():
        assert authenticate(ws, username, password).role == role


def test_audit_log_holds_no_personal_data_in_clear(tmp_path):
    ws = Workspace(tmp_path)
    audit(ws, "alice", "manager", "ask", question="王伟的手机 13812345678 和 wang@example.com",
          tool_calls=[{"tool": "customer_profile", "args": {"customer_id": "C00001"}}], names=["王伟"])
    line = ws.audit_log_path.read_text(encoding="utf-8")
    rec = json.loads(line)
    assert rec["user"] == "alice" and rec["tool_calls"][0]["tool"] == "customer_profile"
    assert len(rec["tool_calls"][0]["args_sha256"]) == 16
    for secret in ("13812345678", "wang@example.com", "王伟", "C00001"):
        assert secret not in line
