"""Logins: the same password check for known and unknown names, rate limits per account and per
client with a lock-out (on an injected clock: nothing sleeps), the audit record of every attempt,
and the middleware that puts them in front of Gradio's login form (over HTTP, in process)."""
from __future__ import annotations

import hashlib
import json
import time

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from assistant import users
from assistant.login import LoginGuard, login
from assistant.users import add_user, authenticate
from assistant.web import LoginLimits, confirm_login
from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from knowledge.workspace import Workspace


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ws(tmp_path) -> Workspace:
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml", workspace=tmp_path / "ws")
    add_user(settings, "alice", "manager", "correct horse")
    add_user(settings, "bob", "agent", "battery staple")
    return Workspace(settings.workspace)


def records(ws) -> list[dict]:
    return [json.loads(line) for line in ws.audit_log_path.read_text(encoding="utf-8").splitlines()]


def test_an_unknown_name_costs_the_same_scrypt_check_as_a_known_one(ws, monkeypatch):
    real, calls = hashlib.scrypt, []
    monkeypatch.setattr(users.hashlib, "scrypt", lambda *a, **k: calls.append(k["n"]) or real(*a, **k))
    authenticate(ws, "nobody", "x")            # the dummy hash is made once, on first use
    calls.clear()
    assert authenticate(ws, "alice", "wrong") is None
    assert authenticate(ws, "mallory", "wrong") is None
    assert authenticate(ws, "alice", "correct horse").role == "manager"
    assert calls == [2 ** 14] * 3              # one check each, at the same cost

    def seconds(name):
        t0 = time.perf_counter()
        authenticate(ws, name, "wrong")
        return time.perf_counter() - t0
    known, unknown = min(seconds("alice") for _ in range(3)), min(seconds("mallory") for _ in range(3))
    assert unknown > 0.5 * known, (unknown, known)


def test_failures_lock_an_account_known_or_not_until_they_leave_the_window():
    clock = Clock()
    guard = LoginGuard(max_failures=3, client_max_failures=100, lockout_seconds=60, clock=clock)
    for name in ("alice", "nobody"):           # the same for a name that does not exist
        assert [guard.attempt(name, f"10.0.0.{i}") for i in range(3)] == [0.0] * 3
        assert guard.attempt(name, "10.0.0.9") == 60.0   # from any address
    clock.now += 30
    assert guard.attempt("alice", "10.0.0.9") == 30.0
    assert guard.attempt("carol", "10.0.0.9") == 0.0     # other accounts are not locked
    clock.now += 30.5
    assert guard.attempt("alice", "10.0.0.9") == 0.0


def test_failures_from_one_client_lock_it_out_across_accounts():
    clock = Clock()
    guard = LoginGuard(max_failures=3, client_max_failures=4, lockout_seconds=60, clock=clock)
    assert [guard.attempt(f"user{i}", "10.0.0.1") for i in range(4)] == [0.0] * 4
    assert guard.attempt("alice", "10.0.0.1") == 60.0    # a fresh account, the same client
    assert guard.attempt("alice", "10.0.0.2") == 0.0     # another client
    clock.now += 61
    assert guard.attempt("alice", "10.0.0.1") == 0.0


def test_a_right_password_clears_the_account_not_the_client():
    guard = LoginGuard(max_failures=2, client_max_failures=3, lockout_seconds=60, clock=Clock())
    guard.attempt("alice", "c")
    guard.attempt("alice", "c")
    guard.succeeded("alice", "c")                        # the second attempt was right
    assert guard.attempt("alice", "c") == 0.0            # the account's count starts again
    assert guard.attempt("bob", "c") == 0.0
    assert guard.attempt("carol", "c") == 60.0           # the client kept its first failure: 1 + 2


def test_attempts_in_flight_count_so_parallel_guesses_cannot_pass_the_limit():
    guard = LoginGuard(max_failures=2, client_max_failures=100, lockout_seconds=60, clock=Clock())
    started = [guard.attempt("alice", f"c{i}") for i in range(5)]   # none has finished yet
    assert started == [0.0, 0.0, 60.0, 60.0, 60.0]


def test_every_attempt_is_audited_with_the_account_tried_never_the_password(ws):
    guard = LoginGuard(max_failures=2, client_max_failures=100, lockout_seconds=60, clock=Clock())
    assert login(ws, guard, "alice", "correct horse", "10.0.0.1") == (True, 0.0)
    assert login(ws, guard, "bob", "guess-one", "10.0.0.2") == (False, 0.0)
    assert login(ws, guard, "13812345678", "guess-two", "10.0.0.2") == (False, 0.0)
    login(ws, guard, "bob", "guess-three", "10.0.0.2")
    assert login(ws, guard, "bob", "battery staple", "10.0.0.2") == (False, 60.0)   # locked: not checked
    got = [(r["event"], r["user"], r["role"], r["client"]) for r in records(ws)]
    assert got == [("login_ok", "alice", "manager", "10.0.0.1"), ("login_failed", "bob", "", "10.0.0.2"),
                   ("login_failed", "138****5678", "", "10.0.0.2"), ("login_failed", "bob", "", "10.0.0.2"),
                   ("login_locked", "bob", "", "10.0.0.2")]
    text = ws.audit_log_path.read_text(encoding="utf-8")
    for secret in ("correct horse", "battery staple", "guess-", "13812345678"):
        assert secret not in text


def test_the_login_middleware_checks_the_form_and_gradio_only_confirms_it(ws):
    """In front of a stand-in for Gradio's login route: 400 for a wrong password, 429 with a clear
    message and Retry-After when locked (the client here, across accounts), the right password
    passed on and confirmed by `confirm_login`; the browser's multipart form works as well."""
    clock = Clock()
    guard = LoginGuard(max_failures=5, client_max_failures=3, lockout_seconds=120, clock=clock)
    seen = []

    async def gradio_login(request):
        form = await request.form()
        seen.append(confirm_login(form["username"], form["password"]))
        return JSONResponse({"success": True})

    app = Starlette(routes=[Route("/login", gradio_login, methods=["POST"])],
                    middleware=[Middleware(LoginLimits, ws=ws, guard=guard)])
    http = TestClient(app)
    assert http.post("/login", data={"username": "alice", "password": "correct horse"}).status_code == 200
    assert http.post("/login", files={"username": (None, "bob"), "password": (None, "battery staple")}).status_code == 200
    assert seen == [True, True]
    for name in ("alice", "bob", "carol"):
        r = http.post("/login", data={"username": name, "password": "wrong"})
        assert r.status_code == 400 and r.json() == {"detail": "Incorrect credentials."}
    r = http.post("/login", data={"username": "alice", "password": "correct horse"})
    assert r.status_code == 429 and r.headers["retry-after"] == "120"
    assert r.json()["detail"].endswith("Too many failed logins: try again in 2 minutes.")
    clock.now += 121
    assert http.post("/login", data={"username": "alice", "password": "correct horse"}).status_code == 200
    assert seen == [True, True, True]                    # only verified logins reached Gradio
    assert confirm_login("alice", "correct horse") is False   # outside a checked request


def test_the_login_settings_are_read_from_the_environment():
    s = Settings.load(env={"GUANXI_LOGIN_MAX_FAILURES": "2", "GUANXI_LOGIN_CLIENT_MAX_FAILURES": "7",
                           "GUANXI_LOGIN_LOCKOUT_SECONDS": "30", "GUANXI_EXPORT_TTL_MINUTES": "5"},
                      config_file="/nonexistent.toml")
    guard = LoginGuard.from_settings(s)
    assert (guard.max_failures, guard.client_max_failures, guard.lockout_seconds) == (2, 7, 30.0)
    assert s.export_ttl_minutes == 5
    with pytest.raises(GuanxiError, match="login_max_failures': expected a whole number of at least 1, got 0"):
        Settings.load(env={"GUANXI_LOGIN_MAX_FAILURES": "0"}, config_file="/nonexistent.toml")
