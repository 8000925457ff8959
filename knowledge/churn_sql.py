"""The churn model's aggregations over the order lines as engine SQL (knowledge.engine: DuckDB or
Spark), so tools.churn builds its per-customer features and labels without loading the order table.

    churn_order_aggregates(eng, at)        # one row per customer: dates, counts, sums behind the features
    churn_purchase_days(eng, at)           # purchase days (orders of one day merged): BG/NBD inputs
    churn_came_back(eng, cutoff, as_of)    # customers with an order before cutoff; bought in [cutoff, as_of)?

The SQL repeats tools.churn's pandas definitions: an order is (customer_id, order_id) dated by
its first line, its amount the sum of its lines' amounts (0 when none is known); only lines with a
customer and a date strictly before ``at`` count. Day arithmetic is left to the caller (dates and
timestamps come back as they are), so the features are computed by the same pandas expressions
on both paths. The dialect is the one DuckDB and Spark share (row_number windows, CASE, month/day).
"""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.errors import GuanxiError

__all__ = ["churn_orders_sql", "churn_days_sql", "churn_came_back_sql", "churn_order_aggregates",
           "churn_purchase_days", "churn_came_back"]


def _ts(value) -> str:
    t = pd.Timestamp(value)
    return f"TIMESTAMP '{t:%Y-%m-%d %H:%M:%S}.{t.microsecond:06d}'"


def _valid(at) -> str:
    return f"customer_id IS NOT NULL AND order_date IS NOT NULL AND order_date < {_ts(at)}"


# Money is summed exactly (decimals, to the millionth): a float sum in the engine's order would
# differ from pandas' (compensated) sum in the last bits, enough to turn 10,889.5 into "10,889" in
# a reason's words. Decimals come back as decimals, converted to the nearest float (through their exact text).
_MONEY = "CASE WHEN isnan(CAST(amount AS DOUBLE)) THEN NULL ELSE CAST(amount AS DECIMAL(38, 6)) END"


def _per_order(at) -> str:
    return f"""po AS (
  SELECT CAST(customer_id AS STRING) AS customer_id, CAST(order_id AS STRING) AS order_key,
         min(order_date) AS odate, coalesce(sum({_MONEY}), 0) AS amount
  FROM orders WHERE {_valid(at)}
  GROUP BY CAST(customer_id AS STRING), CAST(order_id AS STRING))"""


def _text(column: str) -> str:
    """A category-like column as stripped text, blank → NULL (as tools.churn's categories)."""
    if not column.replace("_", "").isalnum() or not column.isascii():
        raise GuanxiError(f"engine SQL: column name {column!r} is not a plain identifier")
    return f"nullif(trim(CAST({column} AS STRING)), '')"


def churn_orders_sql(columns: list[str], at, festivals) -> str:
    """Per customer (orders before ``at``): n_orders, first_date, last_date, prev_date (the
    second-last order's date, orders in (date, order_id) order), monetary, recent_sum / recent_n
    (the last 3 orders), orders in the 30/90/180 days before ``at`` and 91-180 days before,
    amount_90d, festival_orders, purchase_days; and from the lines n_categories, n_products,
    order_channel (most lines, ties to the smaller name) when the columns exist."""
    at = pd.Timestamp(at)
    d30, d90, d180 = (_ts(at - pd.Timedelta(days=n)) for n in (30, 90, 180))
    fest = " OR ".join(f"(month(odate) = {m} AND day(odate) BETWEEN {lo} AND {hi})" for m, lo, hi in festivals)
    prod = "product_id" if "product_id" in columns else ("product_name" if "product_name" in columns else None)
    line_cols = ([f"{_text('category')} AS category"] if "category" in columns else []) + \
                ([f"{_text(prod)} AS product"] if prod else []) + \
                ([f"{_text('channel')} AS channel"] if "channel" in columns else [])
    ctes = [_per_order(at), f"""r AS (
  SELECT customer_id, odate, amount,
         row_number() OVER (PARTITION BY customer_id ORDER BY odate DESC, order_key DESC) AS back
  FROM po)""", f"""agg AS (
  SELECT customer_id, count(*) AS n_orders, min(odate) AS first_date, max(odate) AS last_date,
         max(CASE WHEN back = 2 THEN odate END) AS prev_date, sum(amount) AS monetary,
         sum(CASE WHEN back <= 3 THEN amount END) AS recent_sum, count(CASE WHEN back <= 3 THEN 1 END) AS recent_n,
         count(CASE WHEN odate >= {d30} THEN 1 END) AS orders_30d,
         count(CASE WHEN odate >= {d90} THEN 1 END) AS orders_90d,
         count(CASE WHEN odate >= {d180} THEN 1 END) AS orders_180d,
         count(CASE WHEN odate >= {d180} AND odate < {d90} THEN 1 END) AS orders_prev_90d,
         coalesce(sum(CASE WHEN odate >= {d90} THEN amount END), 0) AS amount_90d,
         count(CASE WHEN {fest} THEN 1 END) AS festival_orders,
         count(DISTINCT CAST(odate AS DATE)) AS purchase_days
  FROM r GROUP BY customer_id)"""]
    select, joins = ["agg.*"], []
    if line_cols:
        ctes.append(f"""ln AS (SELECT CAST(customer_id AS STRING) AS customer_id, {', '.join(line_cols)}
  FROM orders WHERE {_valid(at)})""")
        attrs = ([("category", "n_categories")] if "category" in columns else []) + \
                ([("product", "n_products")] if prod else [])
        if attrs:
            counts = ", ".join(f"count(DISTINCT {c}) AS {n}" for c, n in attrs)
            ctes.append(f"la AS (SELECT customer_id, {counts} FROM ln GROUP BY customer_id)")
            select += [f"la.{n}" for _, n in attrs]
            joins.append("LEFT JOIN la ON la.customer_id = agg.customer_id")
        if "channel" in columns:
            ctes.append("""ch AS (
  SELECT customer_id, channel, row_number() OVER (PARTITION BY customer_id ORDER BY n DESC, channel ASC) AS k
  FROM (SELECT customer_id, channel, count(*) AS n FROM ln WHERE channel IS NOT NULL
        GROUP BY customer_id, channel) c)""")
            select.append("ch.channel AS order_channel")
            joins.append("LEFT JOIN ch ON ch.customer_id = agg.customer_id AND ch.k = 1")
    return (f"WITH {', '.join(ctes)}\nSELECT {', '.join(select)}\nFROM agg {' '.join(joins)}\n"
            f"ORDER BY agg.customer_id")


def churn_days_sql(at) -> str:
    """Per customer: purchase days (distinct days of the orders before ``at``), first and last day."""
    return f"""WITH {_per_order(at)}
SELECT customer_id, count(DISTINCT CAST(odate AS DATE)) AS purchase_days,
       CAST(min(odate) AS DATE) AS first_day, CAST(max(odate) AS DATE) AS last_day
FROM po GROUP BY customer_id ORDER BY customer_id"""


def churn_came_back_sql(cutoff, as_of) -> str:
    """Customers with an order before ``cutoff``, and whether they ordered in [cutoff, as_of)."""
    return f"""SELECT CAST(customer_id AS STRING) AS customer_id,
       max(CASE WHEN order_date >= {_ts(cutoff)} THEN 1 ELSE 0 END) AS came_back
FROM orders WHERE {_valid(as_of)}
GROUP BY CAST(customer_id AS STRING)
HAVING min(order_date) < {_ts(cutoff)}
ORDER BY customer_id"""


def _frame(t: pa.Table) -> pd.DataFrame:
    """Arrow → pandas, index customer_id (sorted as pandas sorts text); dates as Timestamps."""
    cols = {}
    for name in t.column_names:
        col = t.column(name)
        if name == "customer_id":
            continue
        if pa.types.is_date(col.type):
            col = pc.cast(col, pa.timestamp("s"))
        if pa.types.is_timestamp(col.type) and col.type.tz is not None:
            col = pc.cast(col, pa.timestamp(col.type.unit))
        if pa.types.is_decimal(col.type):   # by its exact text: the nearest float, as float(Decimal) (a cast is not)
            cols[name] = pd.Series(pc.cast(pc.cast(col, pa.string()), pa.float64()).to_numpy(zero_copy_only=False),
                                   dtype=float)
            continue
        cols[name] = col.to_pandas()
    out = pd.DataFrame(cols)
    out.index = pd.Index(t.column("customer_id").to_pandas().astype(str), name="customer_id")
    return out.sort_index(kind="stable")


def _need(eng) -> list[str]:
    cols = eng.columns("orders")
    missing = [c for c in ("order_id", "customer_id", "order_date", "amount") if c not in cols]
    if missing:
        raise GuanxiError(f"engine: the orders table has no column {', '.join(missing)} (needed for churn)")
    return cols


def churn_order_aggregates(eng, at, festivals) -> pd.DataFrame:
    """:func:`churn_orders_sql` run on ``eng`` (index customer_id, sorted)."""
    cols = _need(eng)
    return _frame(eng.sql(churn_orders_sql(cols, at, festivals)))


def churn_purchase_days(eng, at) -> pd.DataFrame:
    """:func:`churn_days_sql` run on ``eng``: purchase_days, first_day, last_day (midnight Timestamps)."""
    _need(eng)
    return _frame(eng.sql(churn_days_sql(at)))


def churn_came_back(eng, cutoff, as_of) -> pd.Series:
    """1 / 0 per customer with an order before ``cutoff``: bought again in [cutoff, as_of)."""
    _need(eng)
    return _frame(eng.sql(churn_came_back_sql(cutoff, as_of)))["came_back"].astype(int)
