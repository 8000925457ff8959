"""Logins to the app: rate limits per account and per client address with a lock-out, and one audit
record per attempt (the account tried, never the password).

Failed logins are counted over a sliding window of ``login_lockout_seconds``: an account (known or
not, so a lock-out does not tell which names exist) with ``login_max_failures`` failures in it, or a
client address with ``login_client_max_failures``, is refused without a password check until its
oldest counted failure leaves the window. A login in progress counts as a failure until it
succeeds, so parallel guesses cannot slip past the limit.

>>> clock = [0.0]
>>> guard = LoginGuard(max_failures=2, client_max_failures=10, lockout_seconds=60, clock=lambda: clock[0])
>>> guard.attempt("alice", "10.0.0.1"), guard.attempt("alice", "10.0.0.1"), guard.attempt("alice", "10.0.0.1")
(0.0, 0.0, 60.0)
>>> clock[0] = 61.0; guard.attempt("alice", "10.0.0.1")
0.0
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from assistant.audit import audit
from assistant.users import authenticate
from knowledge.pii import mask_text
from knowledge.settings import Settings
from knowledge.workspace import Workspace

__all__ = ["LoginGuard", "login", "locked_message"]

_MAX_KEYS = 10_000   # accounts / addresses remembered at most: a spray of made-up names stays bounded


class LoginGuard:
    """Failed-login counts per account and per client address (thread-safe; ``clock`` injectable)."""

    def __init__(self, max_failures: int = 5, client_max_failures: int = 20, lockout_seconds: float = 900,
                 clock: Callable[[], float] = time.monotonic):
        self.max_failures, self.client_max_failures = max_failures, client_max_failures
        self.lockout_seconds, self.clock = float(lockout_seconds), clock
        self._failures: dict[tuple[str, str], deque] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], float] = time.monotonic) -> "LoginGuard":
        return cls(settings.login_max_failures, settings.login_client_max_failures,
                   settings.login_lockout_seconds, clock=clock)

    def _wait(self, key: tuple[str, str], limit: int, now: float) -> float:
        """Seconds until ``key`` has fewer than ``limit`` failures in the window (0: it has)."""
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and times[0] <= now - self.lockout_seconds:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return max(times[-limit] + self.lockout_seconds - now, 0.0) or 0.001

    def attempt(self, account: str, client: str) -> float:
        """Start a login: 0.0 if it may go on (it counts as a failure until `succeeded`), else the
        seconds until the account or the client may try again (nothing is counted)."""
        with self._lock:
            now = self.clock()
            wait = max(self._wait(("account", account), self.max_failures, now),
                       self._wait(("client", client), self.client_max_failures, now))
            if wait:
                return wait
            if len(self._failures) >= _MAX_KEYS:
                self._forget_stale(now)
            for key in (("account", account), ("client", client)):
                self._failures.setdefault(key, deque()).append(now)
            return 0.0

    def succeeded(self, account: str, client: str) -> None:
        """The login was right: the account's failures are forgotten, and this attempt for the
        client (its earlier failures stay: a valid login does not buy more guesses elsewhere)."""
        with self._lock:
            self._failures.pop(("account", account), None)
            times = self._failures.get(("client", client))
            if times:
                times.pop()

    def _forget_stale(self, now: float) -> None:
        cutoff = now - self.lockout_seconds
        for key in [k for k, t in self._failures.items() if not t or t[-1] <= cutoff]:
            del self._failures[key]
        if len(self._failures) >= _MAX_KEYS:   # still full: drop the oldest half
            for key in sorted(self._failures, key=lambda k: self._failures[k][-1])[:_MAX_KEYS // 2]:
                del self._failures[key]


def locked_message(seconds: float) -> str:
    minutes = max(1, -(-int(seconds) // 60))
    return (f"登录失败次数过多，请 {minutes} 分钟后再试。 / Too many failed logins: "
            f"try again in {minutes} minute{'s' if minutes > 1 else ''}.")


def _account_for_log(username: str) -> str:
    """The account name tried, as the audit log keeps it: short, printable, contacts masked."""
    name = "".join(ch for ch in str(username) if ch.isprintable())[:64]
    return mask_text(name) or "(empty)"


def login(ws: Workspace, guard: LoginGuard, username: str, password: str, client: str) -> tuple[bool, float]:
    """One login attempt from ``client``: (True, 0) if the password is right; (False, 0) if it is
    wrong; (False, seconds) if the account or the client is locked out (the password is not checked).
    Audited as login_ok, login_failed or login_locked, with the account tried and the client."""
    wait = guard.attempt(username, client)
    if wait:
        audit(ws, _account_for_log(username), "", "login_locked", client=client, retry_after=round(wait))
        return False, wait
    user = authenticate(ws, username, password)
    if user is None:
        audit(ws, _account_for_log(username), "", "login_failed", client=client)
        return False, 0.0
    guard.succeeded(username, client)
    audit(ws, user.username, user.role, "login_ok", client=client)
    return True, 0.0
