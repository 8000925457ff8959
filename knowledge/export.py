"""CSV files written for people to open in Excel / WPS: a cell that starts with = + - @ (or a tab or
carriage return) would run as a formula there, so it is written with a leading apostrophe; plain
numbers ("-5", "+86") are left as they are.

>>> neutralise_cell("=HYPERLINK(\\"http://x\\")"), neutralise_cell("-5"), neutralise_cell("@张三")
('\\'=HYPERLINK("http://x")', '-5', "'@张三")
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

__all__ = ["neutralise_cell", "neutralise_formulas", "write_csv"]

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
