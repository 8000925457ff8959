"""The SQL side of the metrics: a DuckDB connection over a workspace's tables, and a query's
rows (lines or feedback) with the labels of its dimensions, filtered and windowed.

    src = MetricSource({"orders": orders, "customers": customers, "rfm": rfm})
    q = src.query("orders", dims={"province"}, filters={"province": ["浙江省"]}, as_of=..., start=..., end=...)
    src.run(f"WITH {q.ctes} SELECT fsum(amount) FROM w")

DuckDB runs every metric of `tools.kpi`, over DataFrames or reading Parquet files in place
(`tools.metric_tables`), and answers from the coarsest exact rows (sums per customer, month,
category: made here or by the build, `tools.metric_sums`). Every statement run is kept in
``src.log`` (the provenance card shows it). Values are inlined as SQL literals (quotes doubled).
"""
from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from knowledge.engine import duckdb_config
from knowledge.errors import GuanxiError
from knowledge.own_columns import OWN_PREFIX, own_name
from tools.metric_tables import LazyTables, ParquetTable, age_sql, ident, lit, segments_sql
from tools.rfm import to_datetimes

__all__ = ["MetricSource", "ParquetTable", "LazyTables", "Query", "lit", "ident", "age_sql", "UNKNOWN", "SEGMENT_DIMS", "CUSTOMER_DIMS", "WEEKDAYS"]

UNKNOWN = "未知"
SEGMENT_DIMS = ("segment", "segment_cn8", "tier", "cluster")   # from the rfm / clusters artefacts
CUSTOMER_DIMS = ("province", "city", "gender", "age_band", "channel", "level", "industry", *SEGMENT_DIMS)
WEEKDAYS = ("1 Mon 周一", "2 Tue 周二", "3 Wed 周三", "4 Thu 周四", "5 Fri 周五", "6 Sat 周六", "7 Sun 周日")
_ORDER_COLUMNS = ("order_id", "customer_id", "order_date", "amount")
_OPTIONAL_ORDER_COLUMNS = ("quantity", "category", "product_name", "channel")
_FEEDBACK_COLUMNS = ("customer_id", "channel", "kind", "category", "rating", "status", "resolved_at")


def _clean(expr: str) -> str:
    """A dimension label: text, blank or missing → 未知."""
    return f"coalesce(nullif(trim(CAST({expr} AS VARCHAR)), ''), {lit(UNKNOWN)})"


def _failed(e: Exception) -> GuanxiError:
    return GuanxiError(f"the metric query failed in DuckDB ({type(e).__name__}: {str(e).splitlines()[0]})")


def _prepares(view: str, table: str):
    """A MetricSource method that builds ``view`` from the source ``table``: the body runs once per
    source (under its lock), every call counts the table as read and returns the view's name."""
    def wrap(build):
        @functools.wraps(build)
        def method(self, metric: str) -> str:
            with self._lock:
                self._touched.add(table)
                if view not in self._ready:
                    build(self, metric)
                    self._ready[view] = True
                return view
        return method
    return wrap


@dataclass
class Query:
    """The CTEs of one metric query: ``h`` (rows before as_of, filtered, with labels ``d_<dim>``)
    and ``w`` (``h`` inside the period)."""
    ctes: str
    date: str            # the date column: order_date or created_at
    filters: dict        # dimension → matched values
    kind: str            # "orders" or "feedback"
    #: the SQL of distinct orders and of lines over ``w``: one row is one line, or (``grain``
    #: "customer") one customer's sums over their whole history
    orders: str = "count(DISTINCT order_id)"
    lines: str = "count(*)"
    customers: str = "count(DISTINCT customer_id)"
    grain: str = "line"
    grain_rows: int | None = None   # rows of the sums read instead of the lines


@dataclass
class MetricSource:
    """The tables a metric reads, registered once in an in-process DuckDB connection.

    ``tables``: "orders", "customers", "feedback" (clean tables) and the artefacts "rfm",
    "clusters", "clv", "churn" (each optional until a metric needs it).
    """
    tables: dict
    log: list = field(default_factory=list, repr=False)
    _con: object = field(default=None, repr=False)
    _ready: dict = field(default_factory=dict, repr=False)
    _lock: object = field(default_factory=threading.RLock, repr=False)
    _touched: set = field(default_factory=set, repr=False)
    #: the workspace's own metrics and dimensions (tools.semantic: SemanticModel.own_metrics / own_dimensions)
    own_metrics: dict = field(default_factory=dict, repr=False)
    own_dims: dict = field(default_factory=dict, repr=False)
    #: read the per-customer sums (`customer_sums`) where they answer exactly; False: every line
    use_sums: bool = True
    #: the build's sums and facts of the lines (`tools.metric_sums`): {"as_of", "first_day", "most_lines",
    #: "tables": {grain: {"path", "rows", "usable"}}}; None: made from the lines when first asked
    prebuilt: dict | None = field(default=None, repr=False)

    def __post_init__(self):
        self._con = duckdb.connect(config=duckdb_config())

    # ------------------------------------------------------------------ running
    @contextmanager
    def session(self):
        """One metric's statements: the connection held, ``log`` and the tables used started afresh."""
        with self._lock:
            self.log, self._touched = [], set()
            yield self.log

    def run(self, sql: str, keep: bool = True) -> pd.DataFrame:
        """Run one statement (added to ``log`` when ``keep``)."""
        with self._lock:
            if keep:
                self.log.append(sql)
            try:
                return self._con.execute(sql).df()
            except duckdb.Error as e:   # a bug of ours, or data DuckDB cannot read
                raise _failed(e) from None

    def _make(self, sql: str) -> None:
        """Run a statement that makes a table or view (not logged); DuckDB's error → GuanxiError."""
        try:
            self._con.execute(sql)
        except duckdb.Error as e:
            raise _failed(e) from None

    def scalar(self, sql: str):
        """The first value of one statement (not logged: as-of and range checks)."""
        df = self.run(sql, keep=False)
        return None if df.empty else df.iloc[0, 0]

    def used(self, name: str) -> bool:
        return name in self._touched   # the current session read the source table ``name``

    def rows(self, name: str) -> int:   # of one source table (the provenance card)
        return 0 if (t := self.tables.get(name)) is None else int(len(t))

    # ------------------------------------------------------------------ sources
    def table(self, name: str, metric: str) -> pd.DataFrame:
        t = self.tables.get(name) if isinstance(self.tables, dict) else None
        if t is None:
            raise GuanxiError(f"metric {metric} needs the {name} table (tables[{name!r}] is missing)")
        if not isinstance(t, (pd.DataFrame, ParquetTable)):
            raise GuanxiError(f"tables[{name!r}] must be a DataFrame, got {type(t).__name__}")
        return t

    def has(self, name: str) -> bool:
        return isinstance(self.tables, dict) and isinstance(self.tables.get(name), (pd.DataFrame, ParquetTable))

    def columns(self, name: str) -> set:
        return set(self.tables[name].columns) if self.has(name) else set()

    def _register(self, view: str, df: pd.DataFrame, copy: bool = False) -> str:
        """``df`` as ``view`` (with ``copy``: as a DuckDB table, for the tables every query joins)."""
        if copy:
            self._con.register("_src", df)
            self._make(f"CREATE OR REPLACE TEMP TABLE {view} AS SELECT * FROM _src")
            self._con.unregister("_src")
        else:
            self._con.register(view, df)
        self._ready[view] = True
        return view

    def first_day(self, metric: str):
        """The earliest order day (fixed for a source: computed once, or the build's)."""
        if "first_day" not in self._ready:
            built = (self.prebuilt or {}).get("first_day")
            self._ready["first_day"] = pd.Timestamp(built) if built is not None else \
                self.scalar(f"SELECT min(order_date) FROM {self.lines(metric)}")
        return self._ready["first_day"]

    def open_orders(self, metric: str) -> None:
        """Count the order lines as read and check their columns. The lines are loaded now, unless the
        build's sums (``prebuilt``) may answer: then when a query first reads them."""
        if self.prebuilt is None:
            self.lines(metric)
            return
        with self._lock:
            self._touched.add("orders")
            self._order_table(metric)

    def has_lines(self) -> bool:
        """Whether the lines were loaded (a question read them, or no build's sums could stand in)."""
        return "lines" in self._ready

    def _order_table(self, metric: str):
        o = self.table("orders", metric)
        missing = [c for c in _ORDER_COLUMNS if c not in o.columns]
        if missing:
            raise GuanxiError(f"kpi {metric}: the orders table has no column {', '.join(missing)} "
                              f"(expected columns {', '.join(_ORDER_COLUMNS)})")
        return o

    @_prepares("lines", "orders")
    def lines(self, metric: str) -> str:
        """The table ``lines``: order lines with customer_id, order_id as text, order_date, amount, qty."""
        self._lines(metric)

    def _lines(self, metric: str, lazily: bool = False) -> None:
        """Make ``lines`` (``lazily``: only its source and SELECT, kept as ``_ready["lines_select"]``)."""
        if "lines_select" in self._ready:
            self._make(f"CREATE OR REPLACE TEMP TABLE lines AS {self._ready['lines_select']}")
            return
        o = self._order_table(metric)
        if isinstance(o, ParquetTable) and o.scannable():   # DuckDB reads the file: no DataFrame
            self._make(f"CREATE OR REPLACE VIEW orders_src AS SELECT * FROM read_parquet({lit(o.path)})")
            self._ready["orders_src"] = True
        elif isinstance(o, ParquetTable):
            o = pd.read_parquet(o.path)
        src = None if isinstance(o, ParquetTable) else o
        if src is not None and not pd.api.types.is_datetime64_any_dtype(o["order_date"]):
            src = src.assign(order_date=to_datetimes(o["order_date"], "orders.order_date", f"kpi {metric}"))
        if src is not None and not pd.api.types.is_numeric_dtype(o["amount"]):
            amount = pd.to_numeric(o["amount"], errors="coerce")
            if amount.isna().all() and len(o):
                raise GuanxiError(f"kpi {metric}: orders.amount must be numeric (no numeric value found)")
            src = src.assign(amount=amount.astype(float))
        if src is not None:
            self._register("orders_src", src)
        opt = {c: (f"b.{c}" if c in o.columns else "NULL") for c in _OPTIONAL_ORDER_COLUMNS}
        qty = f"coalesce(TRY_CAST({opt['quantity']} AS DOUBLE), 1)" if "quantity" in o.columns else "1.0"
        own = "".join(f", b.{ident(c)}" for c in o.columns if c.startswith(OWN_PREFIX))
        select = ("SELECT CAST(b.order_id AS VARCHAR) AS order_id, "
                  "CAST(b.customer_id AS VARCHAR) AS customer_id, CAST(b.order_date AS TIMESTAMP) AS order_date, "
                  f"CAST(b.amount AS DOUBLE) AS amount, {qty} AS qty, {opt['category']} AS category, "
                  f"{opt['product_name']} AS product_name, {opt['channel']} AS channel{own} FROM orders_src b "
                  "WHERE b.customer_id IS NOT NULL AND b.order_date IS NOT NULL AND b.amount IS NOT NULL "
                  "AND NOT isnan(CAST(b.amount AS DOUBLE))")
        self._ready["lines_select"] = select
        if not lazily:
            # a table: DuckDB's own columns scan several times faster than a DataFrame, and faster than
            # the Parquet file for the whole history; held in DuckDB's bounded buffer pool, spilled to
            # disk past it (knowledge.engine.duckdb_config)
            self._make(f"CREATE OR REPLACE TEMP TABLE lines AS {select}")

    def period_lines(self, metric: str) -> str:
        """The lines one period's query reads: the loaded table, else (the build's sums standing in and the
        lines in a Parquet file DuckDB reads as is) a view of the same columns over the file, read in
        place — a month reads its row groups, no line is loaded."""
        with self._lock:
            o = self.tables.get("orders") if isinstance(self.tables, dict) else None
            if "lines" in self._ready or self.prebuilt is None or not (isinstance(o, ParquetTable) and o.scannable()):
                return self.lines(metric)
            self._touched.add("orders")
            if "lines_select" not in self._ready:
                self._lines(metric, lazily=True)
            if "lines_pq" not in self._ready:
                self._make(f"CREATE OR REPLACE VIEW lines_pq AS {self._ready['lines_select']}")
                self._ready["lines_pq"] = True
            return "lines_pq"

    @_prepares("fb", "feedback")
    def feedback(self, metric: str) -> str:
        """The view ``fb``: feedback rows with created_at (and resolved_at) as timestamps."""
        f = self.table("feedback", metric)
        if "created_at" not in f.columns:
            raise GuanxiError(f"the feedback table has no column created_at (needed for metric {metric})")
        if isinstance(f, ParquetTable) and all(f.timestamps(c) for c in ("created_at", "resolved_at") if c in f):
            self._make(f"CREATE OR REPLACE VIEW fb_src AS SELECT * FROM read_parquet({lit(f.path)})")  # dates as is
        else:
            f = pd.read_parquet(f.path) if isinstance(f, ParquetTable) else f
            src = f.assign(created_at=to_datetimes(f["created_at"], "feedback.created_at", f"kpi {metric}"))
            if "resolved_at" in f.columns:
                src = src.assign(resolved_at=to_datetimes(f["resolved_at"], "feedback.resolved_at", "resolution"))
            self._register("fb_src", src)
        cols = ", ".join(
            (f"CAST(b.{c} AS VARCHAR) AS {c}" if c == "customer_id" else
             f"TRY_CAST(b.{c} AS DOUBLE) AS {c}" if c == "rating" else
             f"CAST(b.{c} AS TIMESTAMP) AS {c}" if c == "resolved_at" else f"b.{c}")
            if c in f.columns else f"NULL AS {c}" for c in _FEEDBACK_COLUMNS)
        self._make(f"CREATE OR REPLACE TEMP TABLE fb AS SELECT CAST(b.created_at AS TIMESTAMP) AS created_at, "
                      f"{cols} FROM fb_src b WHERE b.created_at IS NOT NULL")

    @_prepares("cust", "customers")
    def customers(self, metric: str) -> str:
        """The view ``cust``: one row per customer_id (the first), birthday as a timestamp."""
        c = self.table("customers", metric)
        if "customer_id" not in c.columns:
            raise GuanxiError("the customers table has no column customer_id (needed for customer breakdowns/filters)")
        if isinstance(c, ParquetTable) and c.no_nulls("customer_id") and ("birthday" not in c or c.timestamps("birthday")):
            self._make("CREATE OR REPLACE TEMP TABLE cust AS " + c.first_per_customer(   # DuckDB reads the file
                "CAST(customer_id AS VARCHAR) AS customer_id, * EXCLUDE (customer_id)"))
            return
        c = pd.read_parquet(c.path) if isinstance(c, ParquetTable) else c
        c = c.drop_duplicates("customer_id")
        c = c.assign(customer_id=c["customer_id"].astype(str))
        if "birthday" in c.columns and not pd.api.types.is_datetime64_any_dtype(c["birthday"]):
            c = c.assign(birthday=pd.to_datetime(c["birthday"], errors="coerce", format="mixed"))
        self._register("cust", c, copy=True)

    def segments(self, metric: str) -> str:
        """The view ``seg``: customer_id → segment, segment_cn8, tier (rfm) and cluster (clusters)."""
        with self._lock:
            self._touched.update(("rfm", "clusters") if self.has("clusters") else ("rfm",))
            if "seg" in self._ready:
                return "seg"
            rfm = self.tables.get("rfm") if isinstance(self.tables, dict) else None
            if rfm is None:
                raise GuanxiError(f"segment breakdowns and filters need the RFM table (tables['rfm']) for metric {metric}")
            cl = self.tables.get("clusters")
            if (sql := segments_sql(rfm, cl)) is not None:   # DuckDB reads the files
                self._make(f"CREATE OR REPLACE TEMP TABLE seg AS {sql}")
                self._ready["seg"] = True
                return "seg"
            rfm = pd.read_parquet(rfm.path) if isinstance(rfm, ParquetTable) else rfm
            cl = pd.read_parquet(cl.path) if isinstance(cl, ParquetTable) else cl
            out = rfm.assign(customer_id=rfm["customer_id"].astype(str)).drop_duplicates("customer_id")
            out = out[["customer_id", *[c for c in ("segment", "segment_cn8", "tier") if c in out]]].copy()
            if cl is not None and len(cl):
                name = "cluster_name_zh" if "cluster_name_zh" in cl else "cluster"
                cl = cl.assign(customer_id=cl["customer_id"].astype(str)).drop_duplicates("customer_id")
                out["cluster"] = out["customer_id"].map(dict(zip(cl["customer_id"], cl[name].astype(str))))
            self._register("seg", out, copy=True)
            return "seg"

    def customer_values(self, name: str, metric: str, column: str) -> str:
        """A per-customer artefact (``clv`` or ``churn``) as a view of customer_id, ``column``."""
        with self._lock:
            view = f"cv_{name}"
            self._touched.add(name)
            if view in self._ready:
                return view
            t = self.tables.get(name) if isinstance(self.tables, dict) else None
            if t is None or column not in t:
                raise GuanxiError(f"metric {metric} needs the {name} artefact (column {column}): rebuild the workspace "
                                  f"with `guanxi build`")
            t = t.assign(customer_id=t["customer_id"].astype(str)).drop_duplicates("customer_id")
            return self._register(view, t[["customer_id", column]], copy=True)

    # ------------------------------------------------------------------ labels
    def label(self, dim: str, kind: str, as_of: pd.Timestamp, start: pd.Timestamp | None = None) -> str:
        """The SQL label of ``dim`` over ``b`` (lines or fb), ``c`` (cust), ``s`` (seg) and ``f``
        (each customer's first order)."""
        date = "b.order_date" if kind == "orders" else "b.created_at"
        table = "orders" if kind == "orders" else "feedback"
        if dim in self.own_dims:
            own = self.own_dims[dim]
            return _clean(("b." if own["table"] == "orders" else "c.") + self.own_column(dim, own, kind))
        if dim == "customer_type":
            since = lit(start) if start is not None else "TIMESTAMP '1900-01-01 00:00:00'"
            return (f"CASE WHEN f.first_order IS NULL THEN {lit(UNKNOWN)} WHEN f.first_order >= {since} "
                    f"THEN '新客 new' ELSE '老客 returning' END")
        if dim in SEGMENT_DIMS:
            if not self.has("rfm") or (dim == "cluster" and not self.has("clusters")) or \
                    (dim != "cluster" and dim not in self.columns("rfm")):
                raise GuanxiError(f"no {dim} per customer in the workspace (artefacts rfm / clusters): "
                                  f"rebuild it with `guanxi build`")
            return _clean(f"s.{dim}")
        if dim in CUSTOMER_DIMS:
            col = "birthday" if dim == "age_band" else dim
            if col not in self.columns("customers"):
                raise GuanxiError(f"the customers table has no column {col} (needed for {dim})")
            if dim == "age_band":
                age = age_sql("c.birthday", as_of)
                return (f"CASE WHEN {age} IS NULL THEN {lit(UNKNOWN)} WHEN {age} < 25 THEN '<25' WHEN {age} < 35 "
                        f"THEN '25-34' WHEN {age} < 45 THEN '35-44' WHEN {age} < 55 THEN '45-54' ELSE '55+' END")
            return _clean(f"c.{dim}")
        if dim in ("month", "quarter", "year"):
            return self._period_label(dim, date, kind, as_of)
        if dim == "day":
            return f"strftime({date}, '%Y-%m-%d')"
        if dim == "weekday":
            return "[" + ", ".join(lit(w) for w in WEEKDAYS) + f"][isodow({date})]"
        col = {"product": "product_name", "order_channel": "channel", "feedback_channel": "channel"}.get(dim, dim)
        raw = self.tables["orders" if kind == "orders" else "feedback"]
        if col not in raw.columns:
            raise GuanxiError(f"the {table} table has no column {col} (needed for {dim})")
        return _clean(f"b.{col}")

    def _period_label(self, unit: str, date: str, kind: str, as_of: pd.Timestamp) -> str:
        """"2026-10" / "2026-Q4" / "2026" of ``date``: picked from the list of the periods between the
        rows' first day and as_of by the period's number (formatting every row's date is several
        times slower at millions of rows); strftime when the list would be long."""
        fmt = {"month": f"strftime({date}, '%Y-%m')",
               "quarter": f"CAST(year({date}) AS VARCHAR) || '-Q' || CAST(quarter({date}) AS VARCHAR)",
               "year": f"CAST(year({date}) AS VARCHAR)"}[unit]
        key = ("first", kind)
        if key not in self._ready:
            self._ready[key] = self.first_day("") if kind == "orders" else self.scalar("SELECT min(created_at) FROM fb")
        first = self._ready[key]
        if first is None or pd.isna(first) or pd.Timestamp(first) >= as_of:
            return fmt
        first, last = pd.Timestamp(first), as_of - pd.Timedelta(microseconds=1)
        freq = {"month": "M", "quarter": "Q", "year": "Y"}[unit]
        periods = pd.period_range(first.to_period(freq), last.to_period(freq), freq=freq)
        if len(periods) > 1200:
            return fmt
        names = [str(p) if unit != "quarter" else f"{p.year}-Q{p.quarter}" for p in periods]
        number = {"month": f"(year({date}) - {first.year}) * 12 + month({date}) - {first.month}",
                  "quarter": f"(year({date}) - {first.year}) * 4 + quarter({date}) - {first.quarter}",
                  "year": f"year({date}) - {first.year}"}[unit]
        return "[" + ", ".join(lit(n) for n in names) + f"][{number} + 1]"

    def own_column(self, name: str, own: dict, kind: str = "orders") -> str:
        """The SQL column of an own metric or dimension (``b.`` lines, ``c.`` customers); a column
        the served build does not hold → GuanxiError saying how to get it."""
        col = own_name(own["header"])
        if own["table"] == "orders" and kind != "orders":
            raise GuanxiError(f"{name} is a column of the orders ({own['column']}); feedback metrics cannot use it")
        if col not in self.columns(own["table"]):
            raise GuanxiError(f"{name} reads the column {own['column']} (semantic.toml), which the served build "
                              f"does not hold: run `guanxi build` again after adding it to semantic.toml, with input "
                              f"files whose {own['table']} have a header {own['header']!r}")
        return ident(col)

    @staticmethod
    def _sums_views(as_of: pd.Timestamp) -> dict:
        day = f"{as_of:%Y%m%d%H%M%S}"
        return {"customer_month": f"cm_{day}", "customer": f"cg_{day}", "category_month": f"cat_{day}"}

    def _open_prebuilt(self, as_of: pd.Timestamp) -> bool:
        """The build's sums of ``as_of`` (usable, rows, files: `_sums_table` reads one when first asked);
        False when the build made them for another as-of date, or none."""
        built = self.prebuilt
        if not built or pd.Timestamp(built["as_of"]) != as_of:
            return False
        for grain, view in self._sums_views(as_of).items():
            t = built["tables"].get(grain) or {}
            if t.get("usable"):
                self._ready[("rows", view)], self._ready[("file", view)] = int(t["rows"]), str(t["path"])
            self._ready[view] = bool(t.get("usable"))
        return True

    def _sums_table(self, view: str) -> str:   # the build's file loaded once into a table (faster to scan)
        with self._lock:
            if (path := self._ready.pop(("file", view), None)) is not None:
                self._make(f"CREATE OR REPLACE TEMP TABLE {view} AS SELECT * FROM read_parquet({lit(path)})")
            return view

    def customer_sums(self, metric: str, as_of: pd.Timestamp, monthly: bool = False) -> str | None:
        """The lines before ``as_of`` summed per customer (``cg_<as_of>``) or per customer and month
        (``cm_<as_of>``, order_date = the month's first day): amount, qty, lines and distinct orders;
        made once per as_of (or opened: the build's). None when an order id spans customers (or
        months): then distinct orders would not add up over the rows."""
        views = self._sums_views(as_of)
        monthly_view, whole_view = views["customer_month"], views["customer"]
        with self._lock:
            if monthly_view not in self._ready and not self._open_prebuilt(as_of):
                lines, before = self.lines(metric), f"order_date < {lit(as_of)}"
                self._make(
                    f"CREATE OR REPLACE TEMP TABLE {monthly_view} AS SELECT customer_id, date_trunc('month', order_date) "
                    f"AS order_date, fsum(amount) AS amount, sum(qty) AS qty, count(*) AS lines, count(DISTINCT order_id) "
                    f"AS orders FROM {lines} WHERE {before} GROUP BY ALL ORDER BY order_date")   # by month: a period reads its months
                distinct = int(self.scalar(f"SELECT count(DISTINCT order_id) FROM {lines} WHERE {before}") or 0)
                self._ready[monthly_view] = int(self.scalar(f"SELECT coalesce(sum(orders), 0) FROM {monthly_view}")) == distinct
                if self._ready[monthly_view]:   # the months add up: the whole history per customer from them
                    self._make(f"CREATE OR REPLACE TEMP TABLE {whole_view} AS SELECT customer_id, max(order_date) AS "
                                  f"order_date, fsum(amount) AS amount, sum(qty) AS qty, sum(lines) AS lines, sum(orders) "
                                  f"AS orders FROM {monthly_view} GROUP BY customer_id")
                else:
                    self._make(
                        f"CREATE OR REPLACE TEMP TABLE {whole_view} AS SELECT customer_id, max(order_date) AS order_date, "
                        f"fsum(amount) AS amount, sum(qty) AS qty, count(*) AS lines, count(DISTINCT order_id) AS orders "
                        f"FROM {lines} WHERE {before} GROUP BY customer_id")
                self._ready[whole_view] = int(self.scalar(f"SELECT coalesce(sum(orders), 0) FROM {whole_view}")) == distinct
            view = monthly_view if monthly else whole_view
            return view if self._ready[view] else None

    def category_sums(self, metric: str, as_of: pd.Timestamp) -> str | None:
        """The lines before ``as_of`` summed per category label and month (``cat_<as_of>``): amount, qty,
        lines and distinct orders. Exact when no order id spans months (the monthly sums add up: then
        each category's orders are its months' orders); None otherwise, or without a category column."""
        view = self._sums_views(as_of)["category_month"]
        with self._lock:
            monthly = self.customer_sums(metric, as_of, monthly=True)   # opens the build's, if any
            if view not in self._ready:
                self._ready[view] = monthly is not None and "category" in self.columns("orders")
                if self._ready[view]:
                    self._make(
                        f"CREATE OR REPLACE TEMP TABLE {view} AS SELECT {_clean('category')} AS category, "
                        f"date_trunc('month', order_date) AS order_date, fsum(amount) AS amount, sum(qty) AS qty, "
                        f"count(*) AS lines, count(DISTINCT order_id) AS orders FROM {self.lines(metric)} "
                        f"WHERE order_date < {lit(as_of)} GROUP BY ALL ORDER BY order_date")
            return view if self._ready[view] else None

    def export_sums(self, as_of: pd.Timestamp, paths: dict) -> dict:
        """Make the sums of ``as_of`` and write each usable one to its Parquet file ``paths[grain]``;
        the facts a later source reads as ``prebuilt`` (with the paths filled in)."""
        with self._lock:
            self.category_sums("sums", as_of)
            first = self.first_day("sums")
            out = {"as_of": str(as_of), "first_day": None if first is None or pd.isna(first) else str(first),
                   "most_lines": self.most_lines_per_order("sums"), "tables": {}}
            for grain, view in self._sums_views(as_of).items():
                usable = bool(self._ready.get(view))
                if usable:
                    self._make(f"COPY (SELECT * REPLACE (CAST(lines AS BIGINT) AS lines, CAST(orders AS BIGINT) AS orders) "
                               f"FROM {view}) TO {lit(str(paths[grain]))} (FORMAT parquet)")   # not HUGEINT → DOUBLE
                out["tables"][grain] = {"usable": usable, "rows": self._count(view) if usable else None}
            return out

    def most_lines_per_order(self, metric: str) -> int:
        """The most lines one order id has (over all lines; at least 1): made once per source (or the build's)."""
        with self._lock:
            if "most_lines" not in self._ready:
                built = (self.prebuilt or {}).get("most_lines")
                n = built if built is not None else \
                    self.scalar(f"SELECT max(n) FROM (SELECT count(*) AS n FROM {self.lines(metric)} GROUP BY order_id)")
                self._ready["most_lines"] = max(1, int(n or 1))
            return self._ready["most_lines"]

    def _grain(self, metric: str, summable: bool, per_order: bool, by: list, dims: list, as_of, start, end) -> dict:
        """The coarsest rows that answer exactly (`customer_sums`, `category_sums`): per customer for
        the whole history by customer attributes; per category and month (``per_order``: a metric of
        sums, and of distinct orders by category only) and per customer and month when the period starts
        and ends on a month's first day (or as_of) and the dimensions are categories (customer
        attributes) or months, quarters and years. {} → the lines."""
        if not ((summable or per_order) and self.use_sums):
            return {}
        month_start = lambda t: t is None or (t == t.normalize() and t.day == 1)  # noqa: E731
        months = month_start(start) and (end == as_of or month_start(end))
        periods = ("month", "quarter", "year")
        sums = {"orders": "coalesce(sum(orders), 0)", "lines": "coalesce(sum(lines), 0)"}
        if summable and start is None and end == as_of and all(self._customer_level(d) for d in dims):
            view = self.customer_sums(metric, as_of)
            if view is not None:
                return {"base": self._sums_table(view), **sums, "customers": "count(*)", "grain": "customer",
                        "grain_rows": self._count(view)}
        if per_order and months and all(d in ("category", *periods) and d not in self.own_dims for d in dims):
            view = self.category_sums(metric, as_of)
            if view is not None:
                orders = sums["orders"] if "category" in by else "error('distinct orders over categories')"
                return {"base": self._sums_table(view), **sums, "orders": orders, "customers": "error('no customers in the per-category sums')",
                        "grain": "category_month", "grain_rows": self._count(view)}
        if summable and months and all(self._customer_level(d) or d in periods for d in dims):
            view = self.customer_sums(metric, as_of, monthly=True)
            if view is not None:
                return {"base": self._sums_table(view), **sums, "grain": "customer_month", "grain_rows": self._count(view)}
        return {}

    def _count(self, view: str) -> int:
        """Rows of a table this source made (counted once)."""
        if ("rows", view) not in self._ready:
            self._ready[("rows", view)] = int(self.scalar(f"SELECT count(*) FROM {view}") or 0)
        return self._ready[("rows", view)]

    def _customer_level(self, dim: str) -> bool:
        own = self.own_dims.get(dim)
        return (own or {}).get("table") == "customers" if own else dim in CUSTOMER_DIMS or dim in ("age", "birth_year")

    # ------------------------------------------------------------------ the query's rows
    def query(self, kind: str, metric: str, dims, filters: dict, as_of: pd.Timestamp,
              start: pd.Timestamp | None, end: pd.Timestamp, match, per_customer: bool = False,
              per_order: bool = False) -> Query:
        """CTEs ``h`` and ``w`` over lines (kind "orders") or feedback, with ``d_<dim>`` for every
        dimension in ``dims`` and ``filters``; ``match(dim, want, known)`` → the values to keep.

        ``per_customer``: the metric reads only sums, distinct orders and distinct customers; then
        a question over the whole history (no start, end = as_of) whose dimensions and filters are
        all the customers' own reads one row per customer (`customer_sums`), not every line.
        ``per_order``: it reads only sums, and distinct orders only grouped by category (`category_sums`
        may answer)."""
        date = "order_date" if kind == "orders" else "created_at"
        grain = self._grain(metric, per_customer and kind == "orders", per_order and kind == "orders", list(dims),
                            [*dims, *filters], as_of, start, end)
        base = grain.pop("base") if grain else self.feedback(metric) if kind != "orders" else \
            self.period_lines(metric) if start is not None else self.lines(metric)
        ranges = {d: filters[d] for d in ("age", "birth_year") if d in filters}
        filters = {d: v for d, v in filters.items() if d not in ranges}
        dims = list(dict.fromkeys([*dims, *filters]))
        joins = []
        if ranges and "birthday" not in self.columns("customers"):
            raise GuanxiError("the customers table has no column birthday (needed for an age filter)")
        own_customer = any(self.own_dims.get(d, {}).get("table") == "customers" for d in dims)
        if ranges or own_customer or any(d in CUSTOMER_DIMS and d not in SEGMENT_DIMS for d in dims):
            joins.append(f"LEFT JOIN {self.customers(metric)} c ON c.customer_id = b.customer_id")
        if any(d in SEGMENT_DIMS for d in dims):
            joins.append(f"LEFT JOIN {self.segments(metric)} s ON s.customer_id = b.customer_id")
        if "customer_type" in dims:
            joins.append(f"LEFT JOIN (SELECT customer_id, min(order_date) AS first_order FROM {self.lines(metric)} "
                         f"WHERE order_date < {lit(as_of)} GROUP BY 1) f ON f.customer_id = b.customer_id")
        labels = "".join(f", {self.label(d, kind, as_of, start)} AS d_{d}" for d in dims)
        rows = f"SELECT b.*{labels} FROM {base} b {' '.join(joins)} WHERE b.{date} < {lit(as_of)}"
        matched, where = {}, []
        for dim, want in filters.items():
            key = ("known", kind, dim, as_of)   # the labels a filter is matched against, once per source
            if key not in self._ready:
                self._ready[key] = self.run(f"SELECT DISTINCT d_{dim} AS v FROM ({rows}) ORDER BY v",
                                            keep=False)["v"].astype(str).tolist()
            known = self._ready[key]
            values = match(dim, want, known)
            matched[dim] = values
            where.append(f"d_{dim} IN ({', '.join(lit(v) for v in values)})")
        for dim, (lo, hi) in ranges.items():
            expr = age_sql("c.birthday", as_of) if dim == "age" else "year(c.birthday)"
            where_rows = [f"{expr} >= {int(lo)}"] if lo is not None else []
            where_rows += [f"{expr} <= {int(hi)}"] if hi is not None else []
            rows += "".join(f" AND {w}" for w in where_rows)
            word = "age" if dim == "age" else "born"
            matched[dim] = (f"{word} {lo}-{hi}" if lo is not None and hi is not None else
                            f"{word} ≥ {lo}" if lo is not None else f"{word} ≤ {hi}")
        h = f"SELECT * FROM ({rows})" + (f" WHERE {' AND '.join(where)}" if where else "")
        win = [f"{date} < {lit(end)}"] + ([f"{date} >= {lit(start)}"] if start is not None else [])
        ctes = f"h AS ({h}), w AS (SELECT * FROM h WHERE {' AND '.join(win)})"
        return Query(ctes=ctes, date=date, filters=matched, kind=kind, **grain)
