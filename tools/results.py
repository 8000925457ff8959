"""Shared helpers for analysis results: provenance lines, the default as-of date, JSON conversion.

>>> provenance("rfm_table", {"orders": 100000}, as_of="2026-11-01", customers=5000)
'rfm_table · orders (100,000 rows) · as of 2026-11-01 · params: customers=5000'
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import threading
import weakref
from typing import Any

import numpy as np
import pandas as pd

from knowledge.workspace import default_as_of  # noqa: F401  (the one definition; re-exported for the analyses)

__all__ = ["provenance", "default_as_of", "resolve_as_of", "to_jsonable", "fmt_date", "row_dict", "row_position"]


MODEL_FIT_CUSTOMERS = 100_000   # settings.model_fit_customers: the default of the analyses


def fit_sample(n: int, limit: int | None, random_state: int = 0) -> np.ndarray | None:
    """Sorted positions of a seeded random sample of ``limit`` of ``n`` rows for a model to be
    fitted on, or None when all ``n`` are used (``limit`` None or not below ``n``)."""
    if limit is None or n <= int(limit):
        return None
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n, int(limit), replace=False))


def fmt_date(value) -> str:
    """A date/timestamp as 'YYYY-MM-DD' (time dropped when it is midnight)."""
    ts = pd.Timestamp(value)
    if ts == ts.normalize():
        # strftime's digits without its cost (a batch of drafts formats a date per draft)
        return f"{ts.year}-{ts.month:02d}-{ts.day:02d}" if 1000 <= ts.year <= 9999 else ts.strftime("%Y-%m-%d")
    return ts.strftime("%Y-%m-%d %H:%M")


def _fmt_param(value) -> str:
    if isinstance(value, (pd.Timestamp, _dt.date, np.datetime64)):
        return fmt_date(value)
    if isinstance(value, range):
        return f"{value.start}..{value.stop - 1}" if value.step == 1 else repr(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt_param(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt_param(v) for v in value) + "]"
    return str(value)


def provenance(source: str, tables: dict[str, int] | None = None, as_of=None, **params) -> str:
    """One readable line saying where a result came from.

    ``source`` names the function; ``tables`` maps table name → row count (values may also be
    strings such as "100,000 rows, 5,000 customers", used verbatim); ``as_of`` is the cut-off
    date; ``params`` (None values dropped) are listed as ``key=value``.
    E.g. "rfm_table · orders (100,000 rows) · as of 2026-11-01 · params: customers=5000".
    """
    parts = [source]
    for name, n in (tables or {}).items():
        if isinstance(n, (int, np.integer)):
            parts.append(f"{name} ({int(n):,} rows)")
        else:
            parts.append(f"{name} ({n})")
    if as_of is not None:
        parts.append(f"as of {fmt_date(as_of)}")
    shown = {k: v for k, v in params.items() if v is not None}
    if shown:
        parts.append("params: " + ", ".join(f"{k}={_fmt_param(v)}" for k, v in shown.items()))
    return " · ".join(parts)


def resolve_as_of(orders: pd.DataFrame, as_of=None) -> pd.Timestamp:
    """``as_of`` as a midnight Timestamp, or :func:`default_as_of` when None."""
    if as_of is None:
        return default_as_of(orders)
    return pd.Timestamp(as_of).normalize()


def plain(v: Any) -> Any:
    """A table cell as a plain value: missing (None/NaN/NaT) → None, strings as they are."""
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v if isinstance(v, str) else to_jsonable(v)


def to_jsonable(obj: Any) -> Any:
    """Turn dataclasses, DataFrames, Series, Timestamps, numpy scalars/arrays into JSON-safe values.

    DataFrames become a list of row dicts; NaN/NaT/inf become None; plotly Figures become their
    JSON dict; unknown objects fall back to ``str``.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is pd.NaT:
        return None
    if isinstance(obj, (pd.Timestamp, _dt.datetime, _dt.date, np.datetime64)):
        ts = pd.Timestamp(obj)
        if pd.isna(ts):
            return None
        return ts.isoformat() if ts != ts.normalize() else ts.strftime("%Y-%m-%d")
    if isinstance(obj, (pd.Timedelta, _dt.timedelta)):
        return pd.Timedelta(obj).total_seconds() / 86400.0
    if isinstance(obj, pd.DataFrame):
        df = obj.reset_index() if not isinstance(obj.index, pd.RangeIndex) else obj
        return [{str(k): to_jsonable(v) for k, v in row.items()}
                for row in df.to_dict(orient="records")]
    if isinstance(obj, pd.Series):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.name.startswith("_")}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset, range)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "to_plotly_json"):
        import json
        return json.loads(obj.to_json())
    try:
        if pd.isna(obj):
            return None
    except (TypeError, ValueError):
        pass
    return str(obj)


# --------------------------------------------------------------------------- one customer's row
def row_dict(df: pd.DataFrame | None, cid: str) -> dict | None:
    """The first row of ``cid`` in ``df`` (indexed by customer_id) as JSON-safe values; None when absent."""
    pos = None if df is None else row_position(df, cid)
    return None if pos is None else {str(k): to_jsonable(v) for k, v in df.iloc[pos].items()}


#: id(index) → (a weak reference to it, the index as one Arrow text array when it is sorted, else None)
_SORTED: dict[int, tuple] = {}
_SORTED_LOCK = threading.Lock()
_BISECT_FROM = 50_000   # smaller indexes: their hash table is cheap to build


def row_position(df: pd.DataFrame, cid: str) -> int | None:
    """The position of the first row of ``cid`` in ``df`` (indexed by customer_id), None when absent. A large
    sorted text index (the build writes the per-customer artefacts sorted by customer_id) is bisected, so one
    customer's row costs no hash table of a million ids; any other index answers by its own hash table."""
    arr = _sorted_ids(df.index) if len(df) >= _BISECT_FROM else None
    if arr is None:
        if cid not in df.index:
            return None
        loc = df.index.get_loc(cid)
        return int(loc) if isinstance(loc, (int, np.integer)) else int(
            loc.start if isinstance(loc, slice) else np.flatnonzero(loc)[0])
    lo, hi = 0, len(arr)
    while lo < hi:   # the first id ≥ cid (Arrow compares UTF-8 bytes: the code point order of Python's str)
        mid = (lo + hi) // 2
        if arr[mid].as_py() < cid:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(arr) and arr[lo].as_py() == cid else None


def _sorted_ids(index: pd.Index):
    """``index`` as one Arrow array when it is Arrow text without nulls in sorted order, else None (once per index)."""
    with _SORTED_LOCK:
        got = _SORTED.get(id(index))
        if got is not None and got[0]() is index:
            return got[1]
    arr = None
    if isinstance(index.dtype, pd.StringDtype) and index.dtype.storage == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc
        a = pa.array(index.array)
        a = a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a
        if not a.null_count and (len(a) < 2 or pc.all(pc.less_equal(a[:-1], a[1:])).as_py()):
            arr = a
    with _SORTED_LOCK:
        for k in [k for k, v in _SORTED.items() if v[0]() is None]:   # indexes gone since
            del _SORTED[k]
        _SORTED[id(index)] = (weakref.ref(index), arr)
    return arr
