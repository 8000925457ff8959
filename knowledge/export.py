"""Spreadsheet files Guanxi writes (CSV and .xlsx: quarantine, draft batches, the demo's files, the
benchmarks' inputs) are opened in Excel / WPS / LibreOffice, where a cell that starts with = + - @
(or a tab or carriage return) runs as a formula (the OWASP CSV-injection rule). Every writer goes
through this module: such a cell is written with a leading apostrophe, plain numbers ("-5",
"+86") are left as they are, and headers are treated like cells.

Reading one of these files back (`guanxi build` on a fixed quarantine file, on the demo's files)
undoes it with `restore_cell` / `restore_formulas`: ``restore_cell(neutralise_cell(v)) == v`` for
every value, so the round trip loses nothing.

>>> neutralise_cell("=HYPERLINK(\\"http://x\\")"), neutralise_cell("-5"), neutralise_cell("@张三")
('\\'=HYPERLINK("http://x")', '-5', "'@张三")
>>> restore_cell("'@张三"), restore_cell("'abc")
('@张三', "'abc")

An export (a batch of drafts with contacts) belongs to the user who made it:
WORKSPACE/exports/<user's folder>/<random token>/<file> (folders mode 0700). The
token is the export's id (the app's download link); `open_export` gives the file to its owner
only, and only within the export TTL (`Settings.export_ttl_minutes`); expired exports are deleted.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pandas as pd

__all__ = ["FORMULA_START", "neutralise_cell", "neutralise_formulas", "restore_cell", "restore_formulas",
           "write_csv", "csv_rows", "csv_lines", "csv_cell", "xlsx_workbook", "new_export_path", "export_token", "open_export",
           "purge_expired_exports", "owner_folder"]

EXPORTS = "exports"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?")


def _needs_quote(v: str) -> bool:
    """A formula start that is not a plain number, or an apostrophe in front of one (so that a value
    which already starts with "'=" keeps its apostrophe through a round trip)."""
    if v.startswith(FORMULA_START):
        return not _NUMBER.fullmatch(v.strip())
    return v.startswith("'") and _needs_quote(v[1:])


def neutralise_cell(v):
    """``v`` with a leading apostrophe when a spreadsheet would run it as a formula."""
    if isinstance(v, str) and _needs_quote(v):
        return "'" + v
    return v


def restore_cell(v):
    """The value `neutralise_cell` was given (a cell read back from a file Guanxi wrote)."""
    if isinstance(v, str) and v.startswith("'") and _needs_quote(v[1:]):
        return v[1:]
    return v


def _map_cells(df: pd.DataFrame, fn, starts: tuple[str, ...]) -> pd.DataFrame:
    out = df.copy()
    out.columns = [fn(c) for c in out.columns]
    for i, col in enumerate(out.columns):
        s = out.iloc[:, i]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype)):
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        try:
            hit = s.str.startswith(starts, na=False).astype(bool)
        except AttributeError:  # an object column without any string
            continue
        if bool(hit.any()):
            s = s.astype(object)
            s[hit] = s[hit].map(fn)
        out.isetitem(i, s)
    return out


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and headers cannot run as spreadsheet formulas."""
    return _map_cells(df, neutralise_cell, FORMULA_START + ("'",))


def restore_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with the apostrophes `neutralise_formulas` added taken off again."""
    return _map_cells(df, restore_cell, ("'",))


def write_csv(df: pd.DataFrame, path: str | Path, **kw) -> Path:
    """``df.to_csv(path, index=False, **kw)`` with formula cells neutralised."""
    neutralise_formulas(df).to_csv(path, index=False, **kw)
    return Path(path)


_CELL_STARTS = FORMULA_START + ("'",)   # the cells `neutralise_cell` may change


def csv_cell(v: str | None) -> str:
    """A text cell, neutralised, as ``csv.writer`` writes it with ``lineterminator="\\n"`` (what
    ``DataFrame.to_csv`` uses): quoted when it holds a comma, a quote or a newline (a carriage return
    alone is not), quotes doubled."""
    if v is None:
        return ""
    if v.startswith(_CELL_STARTS):
        v = neutralise_cell(v)
    if '"' in v:
        return '"' + v.replace('"', '""') + '"'
    return '"' + v + '"' if "," in v or "\n" in v else v


@contextlib.contextmanager
def csv_rows(path: str | Path, header: list[str], encoding: str = "utf-8") -> Iterator[Callable[[Iterable[list]], None]]:
    """A CSV written in pieces (a batch too large to hold at once): the ``write(rows)`` it yields takes rows
    of text cells (None: an empty cell). The file has the bytes ``write_csv`` writes for the frame of all
    the rows (object columns; formula cells neutralised), without building that frame (or going through
    the csv module, several times slower on long cells)."""
    with csv_lines(path, header, encoding) as write_lines:
        yield lambda rows: write_lines(",".join(map(csv_cell, r)) for r in rows)


@contextlib.contextmanager
def csv_lines(path: str | Path, header: list[str], encoding: str = "utf-8") -> Iterator[Callable[[Iterable[str]], None]]:
    """`csv_rows` whose ``write(lines)`` takes the rows' lines already made of `csv_cell` cells (without
    the line end): a writer that knows which of its cells repeat makes each of those once."""
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(",".join(map(csv_cell, header)) + "\n")

        def write(lines: Iterable[str] | bytes | memoryview) -> None:
            if isinstance(lines, (bytes, memoryview)):   # lines already encoded as UTF-8, each with its "\n"
                fh.flush()
                fh.buffer.write(lines)
                return
            lines = list(lines)
            if lines:
                fh.write("\n".join(lines) + "\n")
        yield write


def xlsx_workbook(sheet: str, header: list, rows: Iterable[list]):
    """An openpyxl ``Workbook`` of one sheet whose text cells are neutralised and stored as text:
    openpyxl would store a string starting with "=" as a formula."""
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for r in [header, *rows]:
        ws.append([neutralise_cell(v) for v in r])
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    return wb


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
