"""What `tools.metric_sql.MetricSource` is made of besides its queries: SQL literals, identifiers and
the age expression; the tables it reads besides DataFrames — the order lines scanned from their
Parquet file (`ParquetTable`), tables loaded only when a metric first reads them (`LazyTables`)."""
from __future__ import annotations

import threading

import numpy as np
import pandas as pd

__all__ = ["ParquetTable", "LazyTables", "lit", "ident", "age_sql", "segments_sql"]


def lit(value) -> str:
    """A SQL literal: a string (quotes doubled), a number, a Timestamp (as TIMESTAMP) or NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, pd.Timestamp):
        return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S')}'"
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return repr(float(value)) if isinstance(value, (float, np.floating)) else str(int(value))
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier ("own:毛利" → "own:毛利" in double quotes, quotes doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


def age_sql(birthday: str, as_of: pd.Timestamp) -> str:
    """Full years at as_of (NULL when missing, negative or ≥ 130)."""
    a = as_of
    age = (f"({a.year} - year({birthday}) - CASE WHEN {a.month} < month({birthday}) OR ({a.month} = month({birthday}) "
           f"AND {a.day} < day({birthday})) THEN 1 ELSE 0 END)")
    return f"CASE WHEN {age} >= 0 AND {age} < 130 THEN {age} END"


class ParquetTable:
    """A table a `MetricSource` scans from its Parquet file instead of a DataFrame (the order lines
    of a large workspace are never loaded into pandas): columns and length from the file's footer;
    ``t[col]`` reads that one column."""

    def __init__(self, path):
        import pyarrow.parquet as pq
        self.path = str(path)
        self.schema = pq.read_schema(path)
        self.columns = pd.Index(self.schema.names)
        self._rows = int(pq.read_metadata(path).num_rows)

    def __len__(self) -> int:
        return self._rows

    def __contains__(self, col) -> bool:
        return col in self.columns

    def __getitem__(self, col) -> pd.Series:
        return pd.read_parquet(self.path, columns=[col])[col]

    def no_nulls(self, *cols: str) -> bool:
        """Every row group's statistics say these columns hold no null (then DuckDB reads them as
        pandas' ``astype(str)`` would give them)."""
        import pyarrow.parquet as pq
        md = pq.read_metadata(self.path)
        idx = [self.schema.get_field_index(c) for c in cols]
        if any(i < 0 for i in idx):
            return False
        for g in range(md.num_row_groups):
            for i in idx:
                st = md.row_group(g).column(i).statistics
                if st is None or not st.has_null_count or st.null_count:
                    return False
        return True

    def timestamps(self, col: str) -> bool:
        import pyarrow as pa
        return pa.types.is_timestamp(self.schema.field(col).type)

    def first_per_customer(self, select: str) -> str:
        """SQL of ``select`` over the file's first row of each customer_id (pandas' drop_duplicates)."""
        return (f"SELECT {select} FROM read_parquet({lit(self.path)}, file_row_number = true) "
                f"QUALIFY row_number() OVER (PARTITION BY CAST(customer_id AS VARCHAR) ORDER BY file_row_number) = 1")

    def scannable(self) -> bool:
        """Dates stored as timestamps and amounts as numbers: DuckDB reads it as the DataFrame would be read."""
        import pyarrow as pa
        t = {f.name: f.type for f in self.schema}
        return pa.types.is_timestamp(t.get("order_date", pa.null())) and (
            pa.types.is_floating(t.get("amount", pa.null())) or pa.types.is_integer(t.get("amount", pa.null())))


class LazyTables(dict):
    """The tables of a `MetricSource`, each loaded by its function when a metric first reads it (sales by
    province loads the customers, not the feedback or the four per-customer artefacts); a function may give None
    (no such table)."""

    def __init__(self, loaders: dict):
        super().__init__()
        self._loaders, self._load_lock = dict(loaders), threading.Lock()

    def __getitem__(self, name):
        if not dict.__contains__(self, name) and name in self._loaders:
            with self._load_lock:
                if not dict.__contains__(self, name):
                    self[name] = self._loaders[name]()
        return dict.__getitem__(self, name)

    def get(self, name, default=None):
        return self[name] if name in self else default

    def __contains__(self, name) -> bool:
        return dict.__contains__(self, name) or name in self._loaders


def segments_sql(rfm, clusters) -> str | None:
    """The SQL of a `MetricSource`'s ``seg`` (customer_id, segment, segment_cn8, tier, cluster) read by
    DuckDB from the rfm and clusters files, as `MetricSource.segments` makes it from their DataFrames;
    None unless both are files whose ids and cluster names hold no null."""
    cl = clusters
    name = None if cl is None else "cluster_name_zh" if "cluster_name_zh" in cl else "cluster"
    if not isinstance(rfm, ParquetTable) or not rfm.no_nulls("customer_id") or (cl is not None and not (
            isinstance(cl, ParquetTable) and cl.no_nulls("customer_id", name))):
        return None
    cols = "".join(f", {c}" for c in ("segment", "segment_cn8", "tier") if c in rfm)
    sql = f"WITH r AS ({rfm.first_per_customer('CAST(customer_id AS VARCHAR) AS customer_id' + cols)})"
    if cl is None or not len(cl):
        return sql + " SELECT * FROM r"
    k = cl.first_per_customer(f"CAST(customer_id AS VARCHAR) AS customer_id, CAST({name} AS VARCHAR) AS cluster")
    return sql + f", k AS ({k}) SELECT r.*, k.cluster FROM r LEFT JOIN k USING (customer_id)"
