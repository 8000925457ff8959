"""App users and roles, kept in WORKSPACE/users.toml with scrypt password hashes (never plain text).

```toml
[users.alice]
role = "manager"
password = "scrypt$16384$8$1$<salt hex>$<hash hex>"
```
Roles: manager (everything, contacts masked), agent (complaints, drafts, customer cards; no KPI
exports), admin (data upload, unmasked contacts). Rate limits and lock-out of logins:
assistant/login.py."""
from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from knowledge.workspace import Workspace

ROLES = ("manager", "agent", "admin")
# For the demo workspace only; a real workspace starts with no users (`guanxi users add`).
DEMO_USERS = {"manager": ("manager", "guanxi-manager"), "agent": ("agent", "guanxi-agent"),
              "admin": ("admin", "guanxi-admin")}
_N, _R, _P = 2 ** 14, 8, 1


@dataclass(frozen=True)
class User:
    username: str
    role: str


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(bytes.fromhex(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, bytes.fromhex(digest))


def load_users(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise GuanxiError(f"{path}: not a valid users file ({e})") from None
    users = data.get("users", {})
    for name, u in users.items():
        if u.get("role") not in ROLES:
            raise GuanxiError(f"{path}: user '{name}' has role {u.get('role')!r}; expected one of {', '.join(ROLES)}")
        if not str(u.get("password", "")).startswith("scrypt$"):
            raise GuanxiError(f"{path}: user '{name}' has no scrypt password hash (plain-text passwords are refused)")
    return users


def _write_users(path: Path, users: dict[str, dict]) -> None:
    lines = []
    for name in sorted(users):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise GuanxiError(f"user name {name!r}: use letters, digits, '_', '.', '-'")
        lines += [f"[users.{name}]", f'role = "{users[name]["role"]}"', f'password = "{users[name]["password"]}"', ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def add_user(settings: Settings, username: str, role: str, password: str | None = None) -> None:
    """Add or update a user in the workspace's users file."""
    if role not in ROLES:
        raise GuanxiError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if password is None:
        password = getpass.getpass(f"password for {username}: ")
    if len(password) < 8:
        raise GuanxiError("password: expected at least 8 characters")
    path = Workspace(settings.workspace).users_path
    users = load_users(path)
    users[username] = {"role": role, "password": hash_password(password)}
    _write_users(path, users)


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    """A hash no password matches, made once with the same cost as real ones."""
    if not _DUMMY:
        _DUMMY.append(hash_password(os.urandom(16).hex()))
    return _DUMMY[0]


def authenticate(ws: Workspace, username: str, password: str) -> User | None:
    """The user if the password is theirs. An unknown name costs the same scrypt check as a known
    one (against a dummy hash), so the answer's timing does not tell which names exist."""
    u = load_users(ws.users_path).get(username)
    ok = verify_password(password, u["password"] if u else _dummy_hash())
    return User(username, u["role"]) if u and ok else None


def role_of(ws: Workspace, username: str) -> str | None:
    u = load_users(ws.users_path).get(username)
    return u["role"] if u else None


def write_demo_users(ws: Workspace) -> None:
    """The demo workspace's users, one per role (names and passwords are in the README)."""
    users = load_users(ws.users_path)
    for username, (role, password) in DEMO_USERS.items():
        users[username] = {"role": role, "password": hash_password(password)}
    _write_users(ws.users_path, users)
