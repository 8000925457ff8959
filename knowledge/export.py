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
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import pandas as pd

__all__ = ["FORMULA_START", "neutralise_cell", "neutralise_formulas", "restore_cell", "restore_formulas",
           "write_csv", "xlsx_workbook"]

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
