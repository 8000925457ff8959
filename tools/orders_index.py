"""Per-customer reads of the order lines without loading the order table (tools answer in time at
millions of lines).

Build time (`write_order_artefacts`, called by `tools.precompute`), by DuckDB over the Parquet:

* ``orders_by_customer.parquet``: the order lines sorted by customer_id (then file order) with
  their row number ``_row``, in small row groups — one customer's lines are one or two row groups,
  found by the row groups' min/max statistics;
* ``care_intervals.parquet``: per customer, the last order day, the number of order days and the
  median gap between order days before the as-of date (what the care calendar's "due" needs);
* ``product_sales.parquet`` / ``category_product_sales.parquet``: sales per product, and per
  (category, product) — the best sellers.

Query time: `customer_orders(ws, cid)` is exactly ``orders_table(ws)`` filtered to the customer (same
columns, dtypes, row order and index); `customer_feedback(ws, cid)` likewise for the feedback
table. Without the artefacts (a workspace built before them) both fall back to the tables.
"""
from __future__ import annotations

import bisect
import shutil
import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = ["write_order_artefacts", "ORDER_ARTEFACTS", "customer_orders", "customer_feedback", "customers_frame",
           "product_sales", "category_product_sales", "care_intervals", "intervals_sql", "buyers_of"]

ORDER_ARTEFACTS = ("orders_by_customer", "care_intervals", "product_sales", "category_product_sales")
ROW_GROUP = 16_384


def _lit(v) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def intervals_sql(orders: str, as_of: pd.Timestamp) -> str:
    """Per customer before ``as_of``: last_order (day), order_days, median_gap (days between order days)."""
    return (f"WITH d AS (SELECT DISTINCT CAST(customer_id AS VARCHAR) AS customer_id, CAST(order_date AS DATE) AS day "
            f"FROM {orders} WHERE customer_id IS NOT NULL AND order_date IS NOT NULL "
            f"AND CAST(order_date AS DATE) < DATE {_lit(as_of.date())}), "
            f"g AS (SELECT customer_id, day, day - lag(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap FROM d) "
            f"SELECT customer_id, max(day) AS last_order, count(*) AS order_days, median(gap) AS median_gap "
            f"FROM g GROUP BY customer_id ORDER BY customer_id")


def write_order_artefacts(ws, as_of: pd.Timestamp, threads: int = 2) -> dict:
    """Write the four artefacts of this module for ``ws`` (as of ``as_of``); returns provenance lines."""
    import duckdb
    src = ws.table_path("orders")
    ws.artefacts_dir.mkdir(parents=True, exist_ok=True)
    spill = ws.base / "duckdb-tmp"   # the sort spills to disk past 1 GB (10M lines and more)
    con = duckdb.connect(config={"threads": threads, "memory_limit": "1GB", "temp_directory": str(spill)})
    try:
        con.execute(f"CREATE VIEW orders AS SELECT * FROM read_parquet({_lit(src)}, file_row_number = true)")
        cols = [r[0] for r in con.execute("DESCRIBE orders").fetchall() if r[0] != "file_row_number"]
        out = ws.artefact_path("orders_by_customer")
        con.execute(f"COPY (SELECT {', '.join(chr(34) + c + chr(34) for c in cols)}, file_row_number AS _row "
                    f"FROM orders ORDER BY customer_id, file_row_number) TO {_lit(out)} "
                    f"(FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP})")
        iv = con.execute(intervals_sql("orders", as_of)).df()
        iv["last_order"] = pd.to_datetime(iv["last_order"])
        iv["order_days"] = iv["order_days"].astype("int64")
        iv["median_gap"] = iv["median_gap"].astype(float)
        ws.write_artefact("care_intervals", iv)
        has = set(cols)
        if {"product_name", "amount"} <= has:   # fsum: compensated, as pandas' groupby sum
            ws.write_artefact("product_sales", con.execute(
                "SELECT product_name, fsum(amount) AS amount FROM orders WHERE product_name IS NOT NULL "
                "GROUP BY product_name ORDER BY product_name").df())
        if {"product_name", "amount", "category"} <= has:
            ws.write_artefact("category_product_sales", con.execute(
                "SELECT category, product_name, fsum(amount) AS amount FROM orders WHERE product_name IS NOT NULL "
                "AND category IS NOT NULL GROUP BY category, product_name ORDER BY category, product_name").df())
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    return {"orders_by_customer": f"orders sorted by customer_id ({ROW_GROUP:,}-line row groups)",
            "care_intervals": f"order days per customer before {as_of.date()} ({len(iv):,} customers)"}


# --------------------------------------------------------------------------- reading
class _ByCustomer:
    """The sorted copy of the order lines, opened once; one customer's lines by row-group statistics."""

    def __init__(self, path, schema: pa.Schema):
        self.pf = pq.ParquetFile(path)
        self.schema = schema
        self.lock = threading.Lock()
        md = self.pf.metadata
        i = self.pf.schema_arrow.get_field_index("customer_id")
        self.mins, self.maxs = [], []
        for g in range(md.num_row_groups):
            st = md.row_group(g).column(i).statistics
            if st is None or not st.has_min_max:
                self.mins = self.maxs = None
                break
            self.mins.append(st.min)
            self.maxs.append(st.max)

    def lines(self, cid: str) -> pd.DataFrame:
        n = self.pf.metadata.num_row_groups
        if self.mins is None:
            groups = list(range(n))
        else:
            g = bisect.bisect_left(self.maxs, cid)
            groups = []
            while g < n and self.mins[g] <= cid:
                groups.append(g)
                g += 1
        with self.lock:
            t = self.pf.read_row_groups(groups) if groups else self.pf.schema_arrow.empty_table()
        t = t.filter(pc.equal(t["customer_id"], pa.scalar(cid, t.schema.field("customer_id").type))).sort_by("_row")
        rows = t["_row"].to_numpy()
        t = t.drop_columns(["_row"]).select(self.schema.names).cast(self.schema)
        df = t.to_pandas()
        df.index = pd.Index(rows.astype("int64"))
        return df


def _by_customer(ws):
    from tools.context import cached

    def build():
        p = ws.artefact_path("orders_by_customer")
        if not p.is_file():
            return None
        return _ByCustomer(p, pq.read_schema(ws.table_path("orders")))
    return cached(ws, "orders_by_customer", build)


def customer_orders(ws, cid: str) -> pd.DataFrame:
    """``tools.context.orders_table(ws)`` restricted to one customer (same columns, dtypes, order, index)."""
    from tools.context import orders_table
    idx = _by_customer(ws)
    if idx is None:
        o = orders_table(ws)
        return o.loc[o["customer_id"] == str(cid)]
    o = idx.lines(str(cid))
    o["customer_id"] = o["customer_id"].astype(str)
    o["order_date"] = pd.to_datetime(o["order_date"])
    return o


def customer_feedback(ws, cid: str) -> pd.DataFrame:
    """The feedback table's rows of one customer (as a boolean mask on customer_id as text would give)."""
    from tools.context import cached
    fb = ws.table("feedback")

    def build():   # the rows sorted by customer (stable: each customer's in table order) and where each starts
        codes, ids = pd.factorize(fb["customer_id"].astype(str).to_numpy(object))
        order = np.argsort(codes, kind="stable")
        return pd.Index(ids, dtype=object), order, np.searchsorted(codes[order], np.arange(len(ids) + 1))
    ids, order, starts = cached(ws, "feedback_rows_by_customer", build)
    k = ids.get_indexer([str(cid)])[0]
    return fb.iloc[order[starts[k]:starts[k + 1]] if k >= 0 else []]


def _artefact_series(ws, name: str, keys: list[str]):
    from tools.context import cached

    def build():
        t = ws.artefact(name)
        return None if not isinstance(t, pd.DataFrame) else t.set_index(keys)["amount"]
    return cached(ws, f"sales:{name}", build)


def product_sales(ws) -> pd.Series | None:
    """Sales per product_name (the artefact; None without it)."""
    return _artefact_series(ws, "product_sales", ["product_name"])


def category_product_sales(ws) -> pd.Series | None:
    """Sales per (category, product_name) (the artefact; None without it)."""
    return _artefact_series(ws, "category_product_sales", ["category", "product_name"])


def care_intervals(ws) -> pd.DataFrame | None:
    """The care_intervals artefact indexed by customer_id (None without it)."""
    from tools.context import cached

    def build():
        t = ws.artefact("care_intervals")
        return None if not isinstance(t, pd.DataFrame) else t.set_index("customer_id")
    return cached(ws, "care_intervals", build)


def customers_frame(ws, ids, cols: list[str]) -> pd.DataFrame | None:
    """The order lines of the customers of ``ids`` (customer_id and ``cols``, the table's dtypes), sorted by
    customer, each customer's in file order — the rows ``ws.table("orders")`` holds for them — from the
    sorted artefact (None without it)."""
    p = ws.artefact_path("orders_by_customer")
    if not p.is_file():
        return None
    schema = pq.read_schema(ws.table_path("orders"))
    keys = sorted({str(i) for i in ids})
    t = pq.read_table(p, columns=["customer_id", *cols], filters=[("customer_id", "in", keys)] if keys else None)
    if not keys:
        t = t.slice(0, 0)
    return t.cast(pa.schema([schema.field(n) for n in ["customer_id", *cols]])).to_pandas()


def order_lines_count(ws) -> int:
    """Rows of the order table (from the Parquet footer)."""
    return int(pq.read_metadata(ws.table_path("orders")).num_rows)


def window_revenue(ws, after: pd.Timestamp, through: pd.Timestamp) -> tuple[pd.Series, int]:
    """(revenue per customer_id, order lines) of the lines dated after ``after`` up to ``through``
    (days), by DuckDB over the Parquet — what `tools.campaign_effect.measure_campaign` groups."""
    con, lock = _orders_con(ws)
    sql = (f"SELECT CAST(customer_id AS VARCHAR) AS customer_id, fsum(COALESCE(amount, 0)) AS amount, count(*) AS n "
           f"FROM read_parquet({_lit(ws.table_path('orders'))}) "
           f"WHERE CAST(order_date AS DATE) > DATE {_lit(after.date())} AND CAST(order_date AS DATE) <= DATE "
           f"{_lit(through.date())} GROUP BY 1")
    with lock:
        df = con.execute(sql).df()
    return df.set_index("customer_id")["amount"].astype(float), int(df["n"].sum())


def _orders_con(ws):
    import duckdb

    from tools.context import cached
    return cached(ws, "duckdb_orders", lambda: (duckdb.connect(config={"threads": 2}), threading.Lock()))


def _pairs_sql(ws, col: str) -> str:
    """Distinct (order_id, item) of the order lines, as text (the baskets of plain co-occurrence)."""
    return (f"SELECT DISTINCT CAST(order_id AS VARCHAR) AS order_id, CAST({col} AS VARCHAR) AS item "
            f"FROM read_parquet({_lit(ws.table_path('orders'))}) WHERE order_id IS NOT NULL AND {col} IS NOT NULL")


def item_baskets(ws, col: str) -> tuple[pd.Series, int]:
    """(orders per item, most first; number of orders with an item) — once per workspace."""
    from tools.context import cached

    def build():
        con, lock = _orders_con(ws)
        with lock:
            df = con.execute(f"WITH p AS ({_pairs_sql(ws, col)}) SELECT item, count(*) AS n FROM p GROUP BY item "
                             f"ORDER BY n DESC, item").df()
            n = con.execute(f"WITH p AS ({_pairs_sql(ws, col)}) SELECT count(DISTINCT order_id) FROM p").fetchone()[0]
        return df.set_index("item")["n"].astype("int64"), int(n)
    return cached(ws, f"baskets:{col}", build)


def companions(ws, col: str, matched: list[str]) -> tuple[pd.Series, int]:
    """(orders per other item among the orders holding any of ``matched``, the number of those orders)."""
    con, lock = _orders_con(ws)
    items = ", ".join(_lit(m) for m in matched)
    sql = (f"WITH p AS ({_pairs_sql(ws, col)}), x AS (SELECT DISTINCT order_id FROM p WHERE item IN ({items})) "
           f"SELECT p.item, count(*) AS n FROM p JOIN x USING (order_id) WHERE p.item NOT IN ({items}) GROUP BY p.item")
    with lock:
        df = con.execute(sql).df()
        k = con.execute(f"WITH p AS ({_pairs_sql(ws, col)}) SELECT count(DISTINCT order_id) FROM p "
                        f"WHERE item IN ({items})").fetchone()[0]
    return df.set_index("item")["n"].astype("int64"), int(k)


def period_totals(ws, start: pd.Timestamp | None, end: pd.Timestamp) -> tuple[pd.DataFrame, pd.Timestamp]:
    """(per customer_id: period_monetary, period_orders over order_date in [start, end)), the period's
    first day — start, or the first order's day when None), by DuckDB over the order Parquet."""
    con, lock = _orders_con(ws)
    src = f"read_parquet({_lit(ws.table_path('orders'))})"
    with lock:
        if start is None:
            first = con.execute(f"SELECT min(order_date) FROM {src}").fetchone()[0]
            start = pd.Timestamp(first).normalize()
        df = con.execute(
            f"SELECT CAST(customer_id AS VARCHAR) AS customer_id, coalesce(fsum(amount), 0) AS period_monetary, "
            f"count(DISTINCT order_id) AS period_orders FROM {src} WHERE order_date >= TIMESTAMP {_lit(start)} "
            f"AND order_date < TIMESTAMP {_lit(end)} GROUP BY 1").df()
    df["period_orders"] = df["period_orders"].astype("int64")
    return df.set_index("customer_id"), start


def buyers_of(ws, column: str, values: list[str], start: pd.Timestamp | None, end: pd.Timestamp) -> pd.Index:
    """The customer_ids (text) with an order line whose ``column`` (product_name or category) is one of
    ``values``, dated in [start, end) (start None: from the first order), by DuckDB over the order Parquet."""
    if column not in ("product_name", "category"):
        raise ValueError(f"buyers_of: column must be product_name or category, got {column!r}")
    if not values:
        return pd.Index([], dtype=object)
    con, lock = _orders_con(ws)
    since = f"AND order_date >= TIMESTAMP {_lit(start)} " if start is not None else ""
    sql = (f"SELECT DISTINCT CAST(customer_id AS VARCHAR) AS customer_id FROM read_parquet({_lit(ws.table_path('orders'))}) "
           f"WHERE {column} IN ({', '.join(_lit(v) for v in values)}) {since}AND order_date < TIMESTAMP {_lit(end)} "
           f"AND customer_id IS NOT NULL")
    with lock:
        ids = con.execute(sql).fetchnumpy()["customer_id"]
    return pd.Index(np.asarray(ids, dtype=object))
