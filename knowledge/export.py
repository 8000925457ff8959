"""CSV files written for people to open in Excel / WPS, and where exports are kept.

A cell that starts with = + - @ (or a tab or carriage return) would run as a formula there, so it is
written with a leading apostrophe; plain numbers ("-5", "+86") are left as they are.

>>> neutralise_cell("=HYPERLINK(\\"http://x\\")"), neutralise_cell("-5"), neutralise_cell("@张三")
('\\'=HYPERLINK("http://x")', '-5', "'@张三")

An export (a batch of drafts with contacts) belongs to the user who made it:
WORKSPACE/exports/<user's folder>/<random token>/<file> (folders mode 0700). The
token is the export's id (the app's download link); `open_export` gives the file to its owner
only, and only within the export TTL (`Settings.export_ttl_minutes`); expired exports are deleted.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import time
from pathlib import Path

import pandas as pd

__all__ = ["neutralise_cell", "neutralise_formulas", "write_csv", "new_export_path", "export_token",
           "open_export", "purge_expired_exports", "owner_folder"]

EXPORTS = "exports"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?")


def neutralise_cell(v):
    if isinstance(v, str) and v.startswith(_FORMULA_START) and not _NUMBER.fullmatch(v.strip()):
        return "'" + v
    return v


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot run as spreadsheet formulas."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise_cell)
    return out


def write_csv(df: pd.DataFrame, path: str | Path, **kw) -> Path:
    """``df.to_csv(path, index=False, **kw)`` with formula cells neutralised."""
    neutralise_formulas(df).to_csv(path, index=False, **kw)
    return Path(path)


# ----------------------------------------------------------------------------- exports and their owners
def owner_folder(user: str) -> str:
    """The folder of a user's exports: the name made file-safe, plus a hash of the exact name (so
    "a b" and "a_b" never share a folder)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", user)[:40].strip(".") or "_"
    return f"{safe}-{hashlib.sha256(user.encode('utf-8')).hexdigest()[:8]}"


def new_export_path(root: str | Path, user: str, name: str, ttl_minutes: int, now: float | None = None) -> Path:
    """A fresh path for an export of ``user``: ROOT/exports/<user's folder>/<random token>/<name>.
    Expired exports (of everyone) are deleted first."""
    purge_expired_exports(root, ttl_minutes, now)
    base = Path(root) / EXPORTS
    for folder in (base, base / owner_folder(user)):
        folder.mkdir(mode=0o700, exist_ok=True)
    token = secrets.token_urlsafe(24)            # 32 characters, 192 random bits
    folder = base / owner_folder(user) / token
    folder.mkdir(mode=0o700)
    return folder / name


def export_token(path: str | Path) -> str | None:
    """The id of an export written at ``new_export_path``'s path (None for any other path)."""
    token = Path(path).parent.name
    return token if _TOKEN.fullmatch(token) and Path(path).parent.parent.parent.name == EXPORTS else None


def _expired(path: Path, ttl_minutes: int, now: float | None) -> bool:
    return (time.time() if now is None else now) - path.stat().st_mtime > ttl_minutes * 60


def open_export(root: str | Path, user: str, token: str, ttl_minutes: int,
                now: float | None = None) -> tuple[str, Path | None]:
    """The export ``token`` for ``user``: ("ok", path), or (outcome, None) with outcome "not_found",
    "not_yours" (another user's export) or "expired" (deleted now)."""
    base = Path(root) / EXPORTS
    if not _TOKEN.fullmatch(str(token)) or not base.is_dir():
        return "not_found", None
    hits = [p for p in base.glob(f"*/{token}/*") if p.is_file()]   # the token has no glob characters
    if not hits:
        return "not_found", None
    path = hits[0]
    if path.parent.parent.name != owner_folder(user):
        return "not_yours", None
    if _expired(path, ttl_minutes, now):
        shutil.rmtree(path.parent, ignore_errors=True)
        return "expired", None
    return "ok", path


def purge_expired_exports(root: str | Path, ttl_minutes: int, now: float | None = None) -> int:
    """Delete every export older than the TTL (files written before exports had owners too);
    returns how many files were deleted."""
    base = Path(root) / EXPORTS
    if not base.is_dir():
        return 0
    gone = 0
    for path in sorted(base.rglob("*"), reverse=True):   # files before their folders
        try:
            if path.is_file() and _expired(path, ttl_minutes, now):
                path.unlink()
                gone += 1
            elif path.is_dir() and path.parent != base and not any(path.iterdir()):
                path.rmdir()                               # an emptied token folder
        except FileNotFoundError:                          # deleted by a concurrent purge
            continue
    return gone
