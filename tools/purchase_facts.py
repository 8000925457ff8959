"""Every customer's purchase summary as of the build (`tools.care_data.purchase_summaries`: the last
purchase and the favourite category), written once at build time so that a batch of drafts reads the
facts of its customers instead of their order lines (11k customers with 450k lines at 1M lines).

``purchase_facts.parquet``: customer_id, last_product, last_date, last_order, fav_category, fav_lines,
lines (before the as-of date), unsure (a line of unknown amount: the summary is left to
`tools.care_data.CareData.purchases`, one customer at a time) and as_of. Written by
`write_purchase_facts` from the sorted order lines (`tools.orders_index`), a batch of complete customers
at a time, so memory stays that of one batch. Customers without any order line have no row.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tools.rows_by_id import text_arrow

__all__ = ["PURCHASE_FACTS", "write_purchase_facts", "facts_summaries", "facts_of", "facts_arrays"]

PURCHASE_FACTS = "purchase_facts"
_COLS = ("order_id", "order_date", "product_name", "category", "amount")
_BATCH_LINES = 500_000


def _customer_batches(ws, cols: list[str]):
    """The sorted order lines (`tools.orders_index`) as DataFrames of whole customers (the table's dtypes)."""
    pf = pq.ParquetFile(ws.artefact_path("orders_by_customer"))
    schema = pq.read_schema(ws.table_path("orders"))
    target = pa.schema([schema.field(n) for n in ["customer_id", *cols]])
    held: list[pa.Table] = []
    rows = 0
    for g in range(pf.metadata.num_row_groups):
        held.append(pf.read_row_group(g, columns=["customer_id", *cols]))
        rows += held[-1].num_rows
        if rows < _BATCH_LINES:
            continue
        t = pa.concat_tables(held)
        cid = t["customer_id"]
        last = cid[len(t) - 1]
        keep = len(t) - int(pc.sum(pc.equal(cid, last)).as_py())   # the last customer may go on
        if keep == 0:
            continue
        yield t.slice(0, keep).cast(target).to_pandas()
        held, rows = [t.slice(keep)], len(t) - keep
    if held and rows:
        yield pa.concat_tables(held).cast(target).to_pandas()


_FACT_COLUMNS = ["customer_id", "last_product", "last_date", "last_order", "fav_category", "fav_lines", "lines",
                 "unsure"]


def _batch_facts(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The facts of the customers of ``lines`` (in order of their first line), column by column from
    `tools.care_data.summary_columns` (what `purchase_summaries` says of each, without a dict per customer)."""
    from tools.care_data import summary_columns
    ids = pd.unique(lines["customer_id"].astype(str).to_numpy(object))
    s = summary_columns(lines, as_of)
    m = len(ids)
    if s is None:   # dates or amounts as text: every customer is left to the per-customer summary
        at, unsure = np.full(m, -1), np.ones(m, dtype=bool)
    else:
        at = pd.Index(s["ids"]).get_indexer(ids)
        unsure = np.zeros(m, dtype=bool)
        unsure[at >= 0] = s["unsure"][at[at >= 0]]
    known = (at >= 0) & ~unsure
    k = at[known]
    last = np.full(m, -1, dtype=np.int64)
    fav = np.full(m, None, dtype=object)
    fav_lines = np.zeros(m, dtype=np.int64)
    n = np.zeros(m, dtype=np.int64)
    if len(k):
        last[known], fav[known], fav_lines[known], n[known] = s["last"][k], s["fav"][k], s["fav_lines"][k], s["n"][k]
    has = last >= 0
    product, order = np.full(m, None, dtype=object), np.full(m, None, dtype=object)
    dates = np.full(m, None, dtype=object)   # no date at all: None, so pd.to_datetime picks the unit it did before
    if has.any():
        dates = np.full(m, np.datetime64("NaT"), dtype="datetime64[ns]")
        i = last[has]
        product[has] = [str(v) for v in s["raw_product"][i].tolist()]
        order[has] = [str(v) for v in s["order_id"][i].tolist()]
        dates[has] = s["dates"][i]
    counts = pd.array(fav_lines, dtype="Int64")
    counts[np.array([f is None for f in fav.tolist()], dtype=bool)] = pd.NA
    return pd.DataFrame({"customer_id": ids, "last_product": product, "last_date": dates, "last_order": order,
                         "fav_category": fav, "fav_lines": counts, "lines": n, "unsure": unsure})


def write_purchase_facts(ws, as_of: pd.Timestamp) -> dict:
    """Write ``purchase_facts`` for ``ws`` as of ``as_of`` (needs ``orders_by_customer``); provenance lines."""
    as_of = pd.Timestamp(as_of).normalize()   # as `tools.care_data.care_data` reads the build's date
    cols = [c for c in _COLS if c in pq.read_schema(ws.table_path("orders")).names]
    parts = [_batch_facts(lines, as_of) for lines in _customer_batches(ws, cols)]
    facts = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_FACT_COLUMNS))
    facts["last_date"] = pd.to_datetime(facts["last_date"])
    facts["fav_lines"] = facts["fav_lines"].astype("Int64")
    facts["lines"] = facts["lines"].astype("int64")
    facts["unsure"] = facts["unsure"].astype(bool)
    facts["as_of"] = pd.Timestamp(as_of)
    ws.write_artefact(PURCHASE_FACTS, facts)
    return {PURCHASE_FACTS: f"purchase_summaries of the order lines before {pd.Timestamp(as_of).date()} · "
                            f"{len(facts):,} customers ({int(facts['unsure'].sum()):,} left to the per-customer summary)"}


def _facts_index(ws):
    from tools.context import cached

    def build():
        t = ws.artefact(PURCHASE_FACTS)
        if not isinstance(t, pd.DataFrame):
            return None
        as_of = pd.Timestamp(t["as_of"].iloc[0]) if len(t) else None
        cols = {c: t[c].to_numpy(object) for c in ("last_product", "last_order", "fav_category", "fav_lines", "lines",
                                                    "unsure")}
        cols["last_date"] = t["last_date"].to_numpy()   # a million Timestamps would weigh 100 MB: made when read
        for c in ("last_product", "last_order", "fav_category"):   # for batches: taken and coded by Arrow
            cols["arrow:" + c] = text_arrow(t[c])
        cols["numpy:fav_lines"] = t["fav_lines"].to_numpy(dtype=float, na_value=np.nan)
        cols["numpy:lines"] = t["lines"].to_numpy(dtype=np.int64)
        cols["numpy:unsure"] = t["unsure"].to_numpy(dtype=bool)
        return pd.Index(t["customer_id"].astype(str).to_numpy(object)), as_of, cols
    return cached(ws, "purchase_facts", build)


def _facts_as_of(ws, as_of) -> tuple[pd.Index, dict] | None:
    """(the artefact's customer index, its columns) when it is of ``as_of``; else None."""
    got = _facts_index(ws)
    if got is None or (got[1] is not None and got[1] != pd.Timestamp(as_of)):
        return None
    return got[0], got[2]


def facts_summaries(ws, ids: list[str], as_of: pd.Timestamp) -> dict[str, dict] | None:
    """`tools.care_data.CareData.purchases` of ``ids`` from the artefact (``bought``: None, not read), a
    customer without order lines as having none; the unsure customers are left out. None without the
    artefact, or when it is of another as-of date."""
    got = facts_of(ws, ids, as_of)
    if got is None:
        return None
    return {c: {"last": f[0], "fav": f[1], "bought": None, "n": f[2], "recs": None}
            for c, f in zip(ids, got) if f is not None}


def facts_arrays(ws, ids: list[str], as_of: pd.Timestamp, positions=None) -> dict | None:
    """The purchase-facts columns of ``ids`` as arrays (``found``: the id has a row; the others hold the
    first row's values): the texts as Arrow arrays, the rest NumPy, the values `facts_of` reads; None without the artefact or of another as-of date.
    ``positions(index, ids)``: the ids' positions in an index, or None (looked up here)."""
    got = _facts_as_of(ws, as_of)
    if got is None:
        return None
    index, cols = got
    pos = positions(index, ids) if positions is not None else None
    pos = index.get_indexer(ids) if pos is None else pos
    found = pos >= 0
    take = np.where(found, pos, 0)
    if not len(index):
        return None
    out = {"found": found, "last_date": cols["last_date"][take]}
    for name, v in cols.items():
        kind, _, c = name.partition(":")
        if c and v is None:
            return None   # a column that is not text: the per-customer path
        if kind == "arrow":
            out[c] = v.take(pa.array(take))
        elif kind == "numpy":
            out[c] = v[take]
    return out


def facts_of(ws, ids: list[str], as_of: pd.Timestamp) -> list[tuple | None] | None:
    """Per id (last, fav, n) of its purchase summary (`facts_summaries`), None for an unsure customer; None
    without the artefact, or when it is of another as-of date."""
    got = _facts_as_of(ws, as_of)
    if got is None:
        return None
    index, cols = got
    pos = index.get_indexer(ids)
    lp, lo, fc, fl, n, unsure = (cols[c] for c in ("last_product", "last_order", "fav_category", "fav_lines",
                                                    "lines", "unsure"))
    from tools.care_data import timestamps
    days = timestamps(cols["last_date"][pos])   # the ids' days as Timestamps, once per distinct day
    none = (None, None, 0)
    return [none if i < 0 else None if unsure[i] else
            (None if lp[i] is None else (lp[i], day, lo[i]), None if fc[i] is None else (fc[i], int(fl[i]), n[i]), n[i])
            for i, day in zip(pos.tolist(), days)]
