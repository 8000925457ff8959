"""Rows of a table by customer id (:class:`RowsById`) — built when first asked for, or read column by column
for a batch — and the column conversions they share with `tools.care_data`."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["RowsById", "timestamps", "column_values", "records", "text_arrow"]


def timestamps(values) -> list:
    """``list(pd.DatetimeIndex(values))``: one Timestamp per distinct value, shared (birthdays and order
    days repeat: making a Timestamp costs microseconds, a million of them seconds)."""
    values = np.asarray(values)
    if values.dtype.kind != "M":   # already objects (time zones): as they are
        return list(values)
    codes, uniq = pd.factorize(values)
    made = pd.DatetimeIndex(uniq).tolist() + [pd.NaT]   # code -1 (NaT) → the last
    return [made[k] for k in codes.tolist()]


def column_values(s: pd.Series) -> list:
    return timestamps(s.to_numpy()) if s.dtype.kind == "M" else s.tolist()


def records(df: pd.DataFrame) -> list[dict]:
    """``df.to_dict(orient="records")`` (the same values), built column by column: several times faster."""
    cols = list(df.columns)
    return [dict(zip(cols, row)) for row in zip(*[column_values(df[c]) for c in cols])] if cols else [{} for _ in range(len(df))]


class RowsById:
    """``{str(customer_id): row dict}`` of a table, as `records` builds the rows, each built when first
    asked for (a million customers: no million dicts up front). ``first``: the first row of an id wins
    (as after ``drop_duplicates``), else the last (as a dict built row by row); ``text_ids``: the row's
    customer_id is the text id. `prefetch` builds many rows at once (a batch)."""

    def __init__(self, df: pd.DataFrame, first: bool = False, text_ids: bool = False):
        self.df, self.first, self.text_ids = df, first, text_ids
        self.ids = df["customer_id"].astype(str)
        self.index = pd.Index(self.ids.to_numpy(object), dtype=object)
        self.memo: dict[str, dict] = {}

    def _pos(self, cid: str) -> int | None:
        try:
            p = self.index.get_loc(cid)
        except (KeyError, TypeError):
            return None
        if isinstance(p, slice):
            return p.start if self.first else p.stop - 1
        if not isinstance(p, (int, np.integer)):   # a mask: the id on several rows
            hits = np.flatnonzero(p)
            return int(hits[0] if self.first else hits[-1])
        return int(p)

    def _rows(self, positions: list[int]) -> list[dict]:
        rows = records(self.df.iloc[positions])
        if self.text_ids:
            for r, cid in zip(rows, self.ids.iloc[positions].tolist()):
                r["customer_id"] = cid
        return rows

    def get(self, cid, default=None):
        cid = str(cid)
        if cid not in self.memo:
            p = self._pos(cid)
            if p is None:
                return default
            self.memo[cid] = self._rows([p])[0]
        return self.memo[cid]

    def __getitem__(self, cid) -> dict:
        row = self.get(cid)
        if row is None:
            raise KeyError(cid)
        return row

    def __contains__(self, cid) -> bool:
        return str(cid) in self.memo or self._pos(str(cid)) is not None

    def __iter__(self):
        return iter(pd.unique(self.index.to_numpy()).tolist())   # ids in order of first appearance

    def __len__(self) -> int:
        return int(self.index.nunique())

    def values(self, ids: list[str], cols) -> tuple[list[bool], list[list]] | None:
        """Per id whether it has a row, and the columns ``cols`` of the ids' rows as `get` builds them (a
        column the table lacks: None), without building the rows (a batch); None when ids repeat."""
        if not self.index.is_unique:
            return None
        last = self.__dict__.get("_looked_up")
        pos = last[1] if last is not None and last[0] is ids else self.index.get_indexer(ids)
        self._looked_up = (ids, pos)   # the same ids asked again (other columns): looked up once
        hit = pos >= 0
        if not hit.any():
            return hit.tolist(), [[None] * len(ids) for _ in cols]
        take = np.where(hit, pos, int(pos[hit][0]))
        return hit.tolist(), [column_values(self.df[c].iloc[take]) if c in self.df.columns else [None] * len(ids)
                              for c in cols]

    def coded(self, ids: list[str], cols: dict, pos: np.ndarray | None = None) -> tuple[np.ndarray, dict] | None:
        """`arrays` without a Python object per cell: per column as ``cols`` asks — "codes": (a code per
        id, the distinct values as `values` gives them with the missing value last: code -1), "arrow": an
        Arrow array (False when the column is not text), "raw": a NumPy array; None when ids repeat."""
        if not self.index.is_unique or not len(self.df):
            return None
        pos = self.index.get_indexer(ids) if pos is None else pos
        hit = pos >= 0
        take = np.where(hit, pos, 0)
        out = {}
        for c, kind in cols.items():
            if c not in self.df.columns:
                out[c] = None
                continue
            whole = self._arrow(c)
            if whole is not None and kind != "raw":   # text kept as Arrow: no Python object per cell
                if kind == "arrow":
                    out[c] = whole.take(pa.array(take))
                    continue
                codes, values = self._codes(c)
                out[c] = (codes[take], values)
                continue
            if kind == "arrow":   # a column of other values: not text
                out[c] = False
                continue
            s = self.df[c].take(take)
            if kind == "raw":
                out[c] = s.to_numpy()
            else:
                codes, uniq = pd.factorize(s)
                missing = column_values(s.iloc[np.flatnonzero(codes < 0)[:1]]) or [None]
                out[c] = (codes.astype(np.int64), column_values(pd.Series(uniq, dtype=s.dtype)) + missing)
        return hit, out

    def _codes(self, col: str) -> tuple[np.ndarray, list]:
        """(a code per row of a text column, its distinct values with the missing value last: code -1),
        made once: a batch takes codes, not texts."""
        memo = self.__dict__.setdefault("_coded_cols", {})
        if col not in memo:
            enc = pc.dictionary_encode(self._arrow(col))
            codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
            missing = column_values(self.df[col].iloc[np.flatnonzero(codes < 0)[:1]]) or [None]
            memo[col] = (codes, enc.dictionary.to_pylist() + missing)
        return memo[col]

    def _arrow(self, col: str) -> pa.Array | None:
        """A text column as one Arrow string array (made once), None for other columns."""
        memo = self.__dict__.setdefault("_arrow_cols", {})
        if col not in memo:
            memo[col] = text_arrow(self.df[col])
        return memo[col]

    def prefetch(self, ids) -> None:
        """Build the rows of ``ids`` (those not built yet) at once."""
        todo = [str(i) for i in dict.fromkeys(ids) if str(i) not in self.memo]
        if not todo:
            return
        if self.index.is_unique:
            pos = self.index.get_indexer(todo)
            todo, pos = [c for c, p in zip(todo, pos) if p >= 0], [int(p) for p in pos if p >= 0]
        else:
            found = [(c, self._pos(c)) for c in todo]
            todo, pos = [c for c, p in found if p is not None], [p for _, p in found if p is not None]
        self.memo.update(zip(todo, self._rows(pos)))


def text_arrow(s: pd.Series) -> pa.Array | None:
    """A column of texts (missing values allowed) as one Arrow string array; None when it holds other values."""
    if s.dtype.kind in "biufcmM":   # numbers and dates: not text
        return None
    try:
        a = pa.array(s, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    a = a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a
    if pa.types.is_null(a.type) or pa.types.is_large_string(a.type):
        a = a.cast(pa.string())
    return a if pa.types.is_string(a.type) else None
