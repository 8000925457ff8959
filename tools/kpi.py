"""CRM KPIs over an optional date range, with breakdowns, charts and provenance.

One dispatcher, :func:`kpi`::

    kpi(tables, "sales", by="province", date_from="2025-01-01", date_to="2025-06-30")
    kpi(tables, "repurchase_rate", filters={"province": "浙江省", "category": "茶叶"})
    kpi(tables, "retention")                      # monthly cohort matrix + heatmap

``tables`` maps "orders" / "customers" / "feedback" to the clean DataFrames (knowledge/schema.py).
Thin wrappers (:func:`sales`, :func:`repurchase_rate`, :func:`cohort_retention`, …) call it.

Common rules
------------
* as_of: cut-off day (midnight); orders / feedback on or after it are ignored. Default: the day
  after the last order (:func:`tools.results.default_as_of`; the last feedback when there are
  no orders).
* date_from / date_to: inclusive calendar days on order_date (feedback: created_at). "2025-03"
  as date_to means the end of March, "2025" the end of the year.
* filters: {dimension: value or [values]} over the same dimensions as ``by``. A value that is not
  found exactly is matched when it identifies exactly one known value by prefix/substring
  ("浙江" → "浙江省"); gender accepts F/M/女/男/female/male.
* Dimensions (``by``): province, city, gender, age_band, channel (customers.channel, acquisition),
  order_channel (orders.channel), category, month ("YYYY-MM"); for feedback metrics also
  feedback_channel and kind. Missing labels are "未知".
* age_band: full years at as_of from customers.birthday: <25, 25-34, 35-44, 45-54, 55+.

Metric definitions (value = the headline number; breakdown column ``value`` is the same per group)
------------------------------------------------------------------------------------------------
* sales: sum of amount over order lines in the period.
* orders: distinct order_id.        customers: distinct customer_id with an order in the period.
* aov (客单价): sales / distinct orders.
* repurchase_rate: among customers with ≥ 1 order in the period, the share with ≥ 2 distinct orders
  in the period (per group: orders within that group; by month: within that month).
* new_customers: customers whose first order ever (before as_of, after filters) falls in the period;
  grouped by the attributes of that first order (its month, its lines' categories, …).
* retention: cohort = month of a customer's first order ever; cohorts whose first order is in the
  period; cell (cohort, k) = share of the cohort with an order in month cohort+k (up to date_to /
  as_of; later cells NaN). Value = month-1 retention pooled over cohorts whose month 1 is observed.
* purchase_interval: days between consecutive orders of the same customer (order date = the day
  of the order's earliest line; same-day repeat orders count as 0 days), both orders in the
  period; value = mean, details.median. By month: the interval goes to the later order's month.
* satisfaction: mean rating (1-5) of feedback created in the period with a rating.
* complaint_rate: complaints (feedback kind == "complaint") created in the period / distinct orders
  in the period (a share; details.per_100_orders and details.per_100_customers too).
* units: sum of quantity over order lines in the period (a missing quantity counts 1).
* sales_per_customer: sales / distinct customers with an order in the period.
* largest_order: the largest order total (sum of its lines in the period), with its order_id,
  customer and date; per group, the largest group-part of an order.
* average_age: mean age in full years at as_of of the customers with an order in the period
  (after filters); customers without a birthday are left out and counted.
* Dimensions also: product (orders.product_name), segment / segment_cn8 / tier (artefact rfm,
  ``tables["rfm"]``), cluster (artefact clusters), quarter ("2026-Q3"), year, weekday.
* resolution_time: (resolved_at − created_at) in days for feedback created in the period and
  resolved before as_of (status "resolved" or a resolved_at); value = mean, details.median.
  Open items = not resolved by as_of.

Long on purpose: the eleven metric definitions share one period / filter / breakdown context and
are the one definition of each metric; they read best side by side.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from knowledge.errors import GuanxiError
from tools import charts
from tools.formatting import fmt_unit
from tools.kpi_rank import RANK_BASE, rank_fairly
from tools.metric_sql import CUSTOMER_DIMS, SEGMENT_DIMS, UNKNOWN, MetricSource, age_sql, lit
from tools.results import default_as_of, fmt_date, provenance, to_jsonable

__all__ = [
    "METRICS", "DIMENSIONS", "FEEDBACK_METRICS", "AGE_BANDS", "KpiResult", "kpi", "age_band", "full_years", "match_values", "resolve_metric",
    "metric_labels", "dimension_labels",
    "sales", "order_count", "customer_count", "average_order_value", "repurchase_rate",
    "cohort_retention", "purchase_interval", "satisfaction", "complaint_rate", "resolution_time",
    "new_customers",
]

def _load_model() -> tuple[dict, dict]:
    """METRICS and DIMENSIONS (names, units) from the shipped semantic model (tools/data/semantic_model.toml)."""
    import tomllib
    from pathlib import Path
    model = tomllib.loads((Path(__file__).with_name("data") / "semantic_model.toml").read_text(encoding="utf-8"))
    metrics = {k: {"zh": v["zh"], "en": v["en"], "unit": v["unit"]} for k, v in model["metrics"].items()}
    dims = {k: {"zh": v["zh"], "en": v["en"]} for k, v in model["dimensions"].items()}
    return metrics, dims, {k: v["description"] for k, v in model["metrics"].items()}


# name → {zh, en, unit} / {zh, en} / description; every metric is computed below
METRICS, DIMENSIONS, METRIC_DEFINITIONS = _load_model()
AGE_BANDS: tuple[str, ...] = ("<25", "25-34", "35-44", "45-54", "55+")

_SEGMENT_DIMS, _CUSTOMER_DIMS = SEGMENT_DIMS, CUSTOMER_DIMS
#: filters over a customer's age (full years at as_of) or birth year: (lowest, highest), either may be None
RANGE_FILTERS = ("age", "birth_year")
_TIME_DIMS = ("month", "quarter", "year", "weekday", "day")
#: metric → (artefact, column, aggregate) for the per-customer values read from the artefacts
_CUSTOMER_VALUE_METRICS = {"clv_mean": ("clv", "clv_12m", "mean"), "clv_total": ("clv", "clv_12m", "total"),
                           "churn_probability": ("churn", "churn_probability", "mean"),
                           "at_risk_customers": ("churn", "churn_probability", "at_risk")}
AT_RISK_PROBABILITY = 0.5   # "at risk": churn probability ≥ 50% (as the churn tool's lists)
_ORDER_METRICS = ("sales", "orders", "customers", "aov", "orders_per_customer", "repurchase_rate", "retention",
                  "purchase_interval", "new_customers", "lapsed_customers", "units", "sales_per_customer", "largest_order",
                  "average_age", *_CUSTOMER_VALUE_METRICS, "first_purchase", "last_purchase", "sales_per_day",
                  "orders_per_day")
FEEDBACK_METRICS = ("satisfaction", "complaint_rate", "resolution_time", "complaints", "open_complaints")
ADDITIVE_METRICS = ("sales", "units", "complaints")   # their group values sum to the total over any breakdown
_ORDER_DIMS = (*_CUSTOMER_DIMS, "order_channel", "category", "product", *_TIME_DIMS, "customer_type")
_FEEDBACK_DIMS = (*_CUSTOMER_DIMS, "category", *_TIME_DIMS, "feedback_channel", "kind")

_ALIASES = {
    "销售额": "sales", "销量": "sales", "revenue": "sales", "gmv": "sales", "amount": "sales",
    "订单数": "orders", "订单量": "orders", "order_count": "orders",
    "客户数": "customers", "customer_count": "customers", "active_customers": "customers",
    "客单价": "aov", "average_order_value": "aov", "avg_order_value": "aov",
    "复购率": "repurchase_rate", "repeat_rate": "repurchase_rate", "repurchase": "repurchase_rate",
    "留存率": "retention", "留存": "retention", "cohort_retention": "retention", "cohort": "retention",
    "购买间隔": "purchase_interval", "interval": "purchase_interval",
    "满意度": "satisfaction", "rating": "satisfaction", "评分": "satisfaction",
    "投诉率": "complaint_rate", "complaints": "complaint_rate",
    "处理时长": "resolution_time", "resolution": "resolution_time",
    "新客户数": "new_customers", "新客数": "new_customers", "新客户": "new_customers",
    "件数": "units", "quantity": "units", "units_sold": "units",
    "人均消费": "sales_per_customer", "客均消费": "sales_per_customer", "revenue_per_customer": "sales_per_customer",
    "最大订单": "largest_order", "max_order": "largest_order", "biggest_order": "largest_order",
    "平均年龄": "average_age", "mean_age": "average_age", "age_mean": "average_age",
}
_DIM_ALIASES = {
    "省份": "province", "省": "province", "城市": "city", "市": "city", "性别": "gender", "sex": "gender",
    "年龄段": "age_band", "年龄": "age_band", "age": "age_band", "获客渠道": "channel",
    "acquisition_channel": "channel", "来源渠道": "channel", "下单渠道": "order_channel",
    "销售渠道": "order_channel", "sales_channel": "order_channel", "品类": "category", "类别": "category",
    "月份": "month", "月": "month", "反馈渠道": "feedback_channel", "反馈类型": "kind",
    "商品": "product", "产品": "product", "product_name": "product", "分群": "segment", "rfm_segment": "segment",
    "八大类": "segment_cn8", "层级": "tier", "聚类": "cluster", "季度": "quarter", "年": "year", "年份": "year",
    "星期": "weekday", "day_of_week": "weekday",
}
_GENDER = {"f": "F", "female": "F", "女": "F", "女性": "F", "m": "M", "male": "M", "男": "M", "男性": "M"}


@dataclass
class KpiResult:
    """A KPI value, its optional breakdown, the chart and where it came from.

    ``breakdown``: one row per group (column named after ``by``, then ``value`` and supporting
    counts) or, for retention, the cohort matrix (cohort, cohort_size, 0, 1, … month offsets).
    ``figure_json``: the plotly figure as JSON (``figure()`` rebuilds the Figure); None when there
    is nothing to draw.
    """
    metric: str
    label_zh: str
    label_en: str
    value: float | None
    unit: str
    by: str | None
    breakdown: pd.DataFrame | None
    details: dict
    as_of: str
    date_from: str | None
    date_to: str | None
    filters: dict
    provenance: str
    figure_json: str | None = field(default=None, repr=False)
    comparison: dict | None = None      # tools.kpi_compare: the other period's value and the change
    sql: list = field(default_factory=list)            # the DuckDB statements that computed it
    rows_scanned: dict = field(default_factory=dict)   # source table → rows it holds
    contributions: dict | None = None   # tools.kpi_compare: the change decomposed by dimension

    def figure(self):
        """The chart as a plotly Figure (None when there is none)."""
        if self.figure_json is None:
            return None
        import plotly.io as pio
        return pio.from_json(self.figure_json)

    @property
    def text(self) -> str:
        """One line, e.g. "销售额 Sales: 12,345.60 (2025-01-01 – 2025-06-30)"."""
        period = f" ({self.date_from or '…'} – {self.date_to or self.as_of})" if (self.date_from or self.date_to) else ""
        return f"{self.label_zh} {self.label_en}: {fmt_unit(self.value, self.unit, zh=False)}{period}"

    def to_dict(self, include_figure: bool = False) -> dict:
        """JSON-safe dict (breakdown as a list of rows); the figure only when asked."""
        d = to_jsonable(self)
        if not include_figure:
            d.pop("figure_json", None)
        d["text"] = self.text
        return d


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------

def age_band(birthday: pd.Series, as_of) -> pd.Series:
    """Age band at ``as_of`` (full years) for each birthday: <25, 25-34, 35-44, 45-54, 55+, or 未知
    when the birthday is missing, unparseable or not before as_of."""
    bins = [-np.inf, 25, 35, 45, 55, np.inf]
    band = pd.cut(full_years(birthday, as_of), bins=bins, right=False, labels=list(AGE_BANDS))
    return band.astype(object).where(band.notna(), UNKNOWN).astype(str)


def full_years(birthday: pd.Series, as_of) -> pd.Series:
    """Age in full years at ``as_of`` for each birthday; NaN when missing, unparseable, not before
    as_of or 130 and over (what age_band calls 未知)."""
    as_of = pd.Timestamp(as_of)
    b = pd.Series(birthday)
    if not pd.api.types.is_datetime64_any_dtype(b):
        b = pd.to_datetime(b, errors="coerce", format="mixed")
    age = as_of.year - b.dt.year - ((as_of.month < b.dt.month) |
                                    ((as_of.month == b.dt.month) & (as_of.day < b.dt.day))).astype(float)
    return age.where((age >= 0) & (age < 130))


def _parse_day(value, name: str, end: bool = False) -> pd.Timestamp | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    s = str(value).strip() if isinstance(value, str) else None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise GuanxiError(f"{name} must be a date like 2025-03-31, got {value!r}") from None
    if pd.isna(ts):
        raise GuanxiError(f"{name} must be a date like 2025-03-31, got {value!r}")
    ts = ts.normalize()
    if end and s is not None:
        if re.fullmatch(r"\d{4}", s):
            ts = pd.Timestamp(year=ts.year, month=12, day=31)
        elif re.fullmatch(r"\d{4}[-/]\d{1,2}", s):
            ts = ts + pd.offsets.MonthEnd(0)
    return ts


def resolve_metric(metric: str, own: dict | None = None) -> str:
    """The canonical metric name for a name or alias (客单价 → aov), or one of ``own`` (the
    workspace's metrics over its own columns, by name or zh name); unknown → GuanxiError listing them."""
    m = str(metric).strip()
    key = m.lower().replace(" ", "_").replace("-", "_")
    if key in METRICS:
        return key
    if m in _ALIASES or key in _ALIASES:
        return _ALIASES.get(m, _ALIASES.get(key))
    for name, o in (own or {}).items():
        if key == name or m == o.get("zh"):
            return name
    valid = ", ".join(f"{k} ({v['zh']})" for k, v in {**METRICS, **(own or {})}.items())
    raise GuanxiError(f"unknown metric {metric!r}; valid metrics: {valid}")


def metric_labels(metric: str, src: MetricSource | None = None) -> dict:
    """{zh, en, unit} of a shipped metric or of one of the workspace's own (``src.own_metrics``)."""
    if metric in METRICS:
        return METRICS[metric]
    o = (src.own_metrics if src is not None else {}).get(metric) or {}
    return {"zh": o.get("zh", metric), "en": o.get("en", metric), "unit": o.get("unit", "number")}


def dimension_labels(dim: str, src: MetricSource | None = None) -> dict:
    """{zh, en} of a shipped dimension or of one of the workspace's own (``src.own_dims``)."""
    if dim in DIMENSIONS:
        return DIMENSIONS[dim]
    o = (src.own_dims if src is not None else {}).get(dim) or {}
    return {"zh": o.get("zh", dim), "en": o.get("en", dim)}


def _resolve_dim(dim: str, allowed: tuple[str, ...], metric: str, what: str = "by", src=None) -> str:
    d = str(dim).strip()
    key = d.lower().replace(" ", "_").replace("-", "_")
    own = src.own_dims if src is not None else {}
    key = next((n for n, o in own.items() if d == o.get("zh")), key)
    key = key if key in DIMENSIONS or key in own else _DIM_ALIASES.get(d, _DIM_ALIASES.get(key, key))
    if key not in allowed:
        valid = ", ".join(f"{k} ({dimension_labels(k, src)['zh']})" for k in allowed)
        raise GuanxiError(f"unknown or unsupported {what} {dim!r} for metric {metric}; valid: {valid}")
    return key


def match_values(dim: str, want, known: list[str]) -> list[str]:
    """The labels a filter value stands for: exact, else one label by prefix / substring ("浙江" →
    "浙江省"), a gender word (女 → F), or for product every name holding the word."""
    wants = list(want) if isinstance(want, (list, tuple, set)) else [want]
    known = sorted(set(known))
    out = []
    for w in wants:
        w = str(w).strip()
        if dim == "gender":
            w = _GENDER.get(w.lower(), w)
        if w in known:
            out.append(w)
            continue
        if dim == "product" and len(w) >= 2 and (inside := [k for k in known if w in k]):
            out.extend(inside)   # "坚果": every product whose name holds the word, not the one it begins
            continue
        cands = [k for k in known if k.startswith(w) or w.startswith(k) and len(k) >= 2] or \
                [k for k in known if w in k]
        if len(cands) == 1:
            out.append(cands[0])
            continue
        shown = ", ".join(known[:30]) + (" …" if len(known) > 30 else "")
        hint = f"ambiguous ({', '.join(cands[:10])})" if cands else "not found"
        raise GuanxiError(f"filter {dim}={w!r} {hint}; known {dim} values: {shown}")
    return out


class _Ctx:
    """One kpi() call: the period, the as-of date and the SQL rows (``oq`` over order lines, ``fq``
    over feedback) its metric reads."""

    def __init__(self, src: MetricSource, metric, by, filters, as_of, date_from, date_to):
        self.src, self.metric, self.by = src, metric, by
        need_orders = metric in _ORDER_METRICS or metric == "complaint_rate" or metric in src.own_metrics
        need_feedback = metric in FEEDBACK_METRICS
        self.filters: dict = {}  # values as matched ("浙江" → "浙江省")
        if need_orders:
            src.open_orders(metric)
        if need_feedback:
            src.feedback(metric)
        if as_of is None:
            if src.has("orders") and len(src.tables["orders"]) and "order_date" in src.tables["orders"]:
                as_of = default_as_of(src.tables["orders"])
            elif need_feedback and len(src.tables["feedback"]):
                last = src.scalar("SELECT max(created_at) FROM fb")
                as_of = pd.Timestamp(last).normalize() + pd.Timedelta(days=1) if last is not None else None
        self.as_of = _parse_day(as_of, "as_of") if as_of is not None else pd.Timestamp.today().normalize()
        self.date_from = _parse_day(date_from, "date_from")
        self.date_to = _parse_day(date_to, "date_to", end=True)
        if self.date_from is not None and self.date_to is not None and self.date_from > self.date_to:
            raise GuanxiError(f"date_from {fmt_date(self.date_from)} is after date_to {fmt_date(self.date_to)}")
        if self.date_from is not None and self.date_from >= self.as_of:
            raise GuanxiError(f"the period from {fmt_date(self.date_from)} is after the data's last day "
                              f"({fmt_date(self.as_of - pd.Timedelta(days=1))}); Guanxi reports what happened and "
                              f"does not forecast")
        first = None
        if src.has("orders") and "order_date" in src.tables["orders"]:
            first = src.first_day(metric)
        elif need_feedback:
            first = src.scalar("SELECT min(created_at) FROM fb")
        first = None if first is None or pd.isna(first) else pd.Timestamp(first).normalize()
        if self.date_to is not None and first is not None and self.date_to < first:
            raise GuanxiError(f"no data before {fmt_date(first)}: the period up to {fmt_date(self.date_to)} "
                              f"is older than the data (which covers {fmt_date(first)} … "
                              f"{fmt_date(self.as_of - pd.Timedelta(days=1))})")
        self.end = self.as_of if self.date_to is None else min(self.as_of, self.date_to + pd.Timedelta(days=1))
        if metric == "average_age" or metric in _CUSTOMER_VALUE_METRICS:
            src.customers(metric) if metric == "average_age" else None
        dims = [by] if by else []
        self.oq = self.fq = None
        if need_orders:
            f = {}
            for dim, want in filters.items():
                if dim in ("feedback_channel", "kind"):
                    if metric == "complaint_rate":
                        continue  # applies to the feedback side only
                    raise GuanxiError(f"filter {dim} applies to feedback, not to metric {metric}")
                f[dim] = want
            self.order_filters = f
            odims = [d for d in dims if d not in ("feedback_channel", "kind")]
            self.oq = src.query("orders", metric, odims, f, self.as_of, self.date_from, self.end, match_values,
                                per_customer=metric in _PER_CUSTOMER_METRICS or metric == "complaint_rate",
                                per_order=metric in ("sales", "units") or (metric == "complaint_rate" and by == "category"))
            self.filters.update(self._shown(self.oq.filters, f))
        if need_feedback:
            if "order_channel" in filters:
                raise GuanxiError(f"filter order_channel cannot apply to feedback (metric {metric}): "
                                  f"feedback has no order channel; use feedback_channel")
            fdims = [d for d in dims if d != "order_channel"]
            self.fq = src.query("feedback", metric, fdims, filters, self.as_of, self.date_from, self.end, match_values)
            self.filters.update(self._shown(self.fq.filters, filters))

    @staticmethod
    def _shown(matched: dict, asked: dict) -> dict:
        return {d: v[0] if len(v) == 1 and not isinstance(asked[d], (list, tuple, set)) else v for d, v in matched.items()}

    def sql(self, q, body: str, keep: bool = True) -> pd.DataFrame:
        """``body`` (a SELECT over h / w and any more CTEs after a leading comma) run with q's CTEs."""
        return self.src.run(f"WITH {q.ctes}{body}" if body.startswith(",") else f"WITH {q.ctes} {body}", keep=keep)

    def one(self, q, body: str, keep: bool = True) -> dict:
        df = self.sql(q, body, keep=keep)
        return {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in df.iloc[0].items()}


# ---------------------------------------------------------------------------------------------
# Metric definitions (DuckDB SQL): each returns (value, details, breakdown or None[, chart extra])
# ---------------------------------------------------------------------------------------------

def _month_range(ctx: _Ctx, first) -> list[str]:
    start = ctx.date_from if ctx.date_from is not None else first
    if start is None or pd.isna(start):
        return []
    start = pd.Timestamp(start)
    last = ctx.end - pd.Timedelta(days=1)
    if last < start:
        return []
    return [p.strftime("%Y-%m") for p in pd.period_range(start.to_period("M"), last.to_period("M"), freq="M")]


def _reindex_months(ctx: _Ctx, bd: pd.DataFrame, first, fill: dict) -> pd.DataFrame:
    months = _month_range(ctx, first)
    bd = bd.set_index("month").reindex(sorted(set(months) | set(bd["month"]))).rename_axis("month")
    for col, v in fill.items():
        if col in bd:
            bd[col] = bd[col].fillna(v)
    return bd.reset_index()


def _first_in_window(ctx: _Ctx):
    return ctx.one(ctx.oq, "SELECT min(order_date) AS d FROM w")["d"]


def _g(by: str) -> str:
    return f'd_{by} AS "{by}"'


def _sums(metric: str, q) -> str:
    """The sums a metric needs: the distinct counts (the costly part of the scan) only for the
    metrics that are or divide by them."""
    counted = metric in ("orders", "aov", "sales_per_customer", "customers", "orders_per_customer")
    counts = q.orders if counted else "NULL"
    buyers = q.customers if counted else "NULL"
    return (f"coalesce(fsum(amount), 0) AS sales, {counts} AS orders, {buyers} AS customers, "
            f"coalesce(sum(qty), 0) AS units, {q.lines} AS order_lines")


def _m_sums(ctx: _Ctx, by: str | None):
    q = ctx.oq
    groups = None
    if by:   # the total and the groups in one scan
        both = ctx.sql(q, f"SELECT {_g(by)}, {_sums(ctx.metric, q)}, grouping(d_{by}) AS is_total FROM w "
                          f"GROUP BY GROUPING SETS ((d_{by}), ())")
        total = both.loc[both["is_total"] == 1]
        t = {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in total.iloc[0].items()} \
            if len(total) else {"sales": 0.0, "orders": 0, "customers": 0, "units": 0, "order_lines": 0}
        groups = both.loc[both["is_total"] == 0].drop(columns=["is_total", "order_lines"]).reset_index(drop=True)
    else:
        t = ctx.one(q, f"SELECT {_sums(ctx.metric, q)} FROM w")
    total_sales, n_units = float(t["sales"]), int(t["units"])
    n_orders = int(t["orders"]) if t["orders"] is not None else None
    n_cust = int(t["customers"]) if t["customers"] is not None else None
    details = {k: v for k, v in {"sales": total_sales, "orders": n_orders, "customers": n_cust, "units": n_units,
                                 "order_lines": int(t["order_lines"])}.items() if v is not None}
    value = {"sales": total_sales, "orders": n_orders, "customers": n_cust, "units": n_units,
             "aov": total_sales / n_orders if n_orders else None,
             "sales_per_customer": total_sales / n_cust if n_cust else None,
             "orders_per_customer": n_orders / n_cust if n_cust else None}[ctx.metric]
    bd = None
    if by:
        bd = groups
        if by == "month":
            bd = _reindex_months(ctx, bd, _first_in_window(ctx), {"sales": 0.0, "orders": 0, "customers": 0, "units": 0})
        bd["sales"] = bd["sales"].astype(float)
        for col in ("orders", "customers", "units"):
            if n_orders is None and col in ("orders", "customers"):
                bd = bd.drop(columns=[col])
            else:
                bd[col] = bd[col].astype("int64")
        if ctx.metric != "units":
            bd = bd.drop(columns=["units"])
        if ctx.metric == "aov":
            bd.insert(1, "value", bd["sales"] / bd["orders"].where(bd["orders"] > 0))
        elif ctx.metric == "sales_per_customer":
            bd.insert(1, "value", bd["sales"] / bd["customers"].where(bd["customers"] > 0))
        elif ctx.metric == "orders_per_customer":
            bd.insert(1, "value", bd["orders"] / bd["customers"].where(bd["customers"] > 0))
        else:
            col = ctx.metric
            bd.insert(1, "value", bd[col])
            tot = {"sales": total_sales, "orders": n_orders, "customers": n_cust, "units": n_units}[col]
            bd.insert(2, "share", bd["value"] / tot if tot else np.nan)
            bd = bd.drop(columns=[col])
    return value, details, bd


def _m_largest(ctx: _Ctx, by: str | None):
    """The largest single order (sum of its lines in the period) and its customer."""
    q = ctx.oq
    body = ("SELECT order_id, fsum(amount) AS amount, min(customer_id) AS customer_id, min(order_date) AS order_date, "
            "count(*) AS lines FROM w {where}GROUP BY order_id ORDER BY amount DESC, order_date, order_id LIMIT 1")
    # Only orders with a line >= cut can be the largest: cut = (the total of the order holding the
    # largest line, a lower bound of the largest total) / the most lines any order has
    cut = (f", o1 AS (SELECT order_id FROM w WHERE amount IS NOT NULL ORDER BY amount DESC LIMIT 1), "
           f"cut AS (SELECT fsum(amount) / {ctx.src.most_lines_per_order(ctx.metric)} AS v FROM w "
           f"WHERE order_id IN (SELECT order_id FROM o1)), "
           f"c AS (SELECT DISTINCT order_id FROM w, cut WHERE cut.v > 0 AND amount >= cut.v) ")
    top = ctx.sql(q, cut + body.format(where="WHERE order_id IN (SELECT order_id FROM c) OR order_id IS NULL "))
    if top.empty or top.iloc[0]["order_id"] is None or pd.isna(top.iloc[0]["order_id"]):
        top = ctx.sql(q, body.format(where=""))
    n_orders = _order_count(ctx)
    if top.empty:
        return None, {"orders": 0}, None
    r = top.iloc[0]
    value = float(r["amount"])
    details = {"order_id": str(r["order_id"]), "customer_id": str(r["customer_id"]),
               "order_date": fmt_date(r["order_date"]), "lines": int(r["lines"]), "orders": n_orders}
    bd = None
    if by:
        bd = ctx.sql(q, f', o AS (SELECT d_{by} AS g, order_id, fsum(amount) AS amount, min(customer_id) AS customer_id '
                        f'FROM w GROUP BY 1, 2) SELECT g AS "{by}", amount AS value, order_id, customer_id FROM o '
                        f'QUALIFY row_number() OVER (PARTITION BY g ORDER BY amount DESC, order_id) = 1')
        bd = bd.assign(value=bd["value"].astype(float), order_id=bd["order_id"].astype(str),
                       customer_id=bd["customer_id"].astype(str))
    return value, details, bd


def _summed(ctx: _Ctx):
    """The order-side query of the period and filters without a breakdown, over per-customer sums
    where they answer (for totals of distinct orders and customers)."""
    return ctx.src.query("orders", ctx.metric, [], ctx.order_filters, ctx.as_of, ctx.date_from, ctx.end, match_values,
                         per_customer=True)


def _order_count(ctx: _Ctx) -> int:
    """Distinct orders in the period after the filters."""
    q = _summed(ctx)
    return int(ctx.one(q, f"SELECT {q.orders} AS n FROM w")["n"] or 0)


def _m_age(ctx: _Ctx, by: str | None):
    """Mean age (full years at as_of) of the customers who bought in the period (after filters)."""
    if "birthday" not in ctx.src.columns("customers"):
        raise GuanxiError("the customers table has no column birthday (needed for average_age)")
    cust = ctx.src.customers(ctx.metric)
    ages = f", ages AS (SELECT customer_id, {age_sql('birthday', ctx.as_of)} AS age FROM {cust})"
    t = ctx.one(ctx.oq, ages + ", b AS (SELECT DISTINCT customer_id FROM w) SELECT count(*) AS customers, "
                               "count(a.age) AS with_birthday, avg(a.age) AS value FROM b LEFT JOIN ages a USING (customer_id)")
    details = {"customers": int(t["customers"]), "with_birthday": int(t["with_birthday"]),
               "definition": "mean age at the as-of date of the customers with an order in the period"}
    bd = None
    if by:
        bd = ctx.sql(ctx.oq, ages + f', b AS (SELECT DISTINCT d_{by} AS g, customer_id FROM w) SELECT g AS "{by}", '
                                    f'avg(a.age) AS value, count(*) AS customers, count(a.age) AS with_birthday '
                                    f'FROM b LEFT JOIN ages a USING (customer_id) GROUP BY g')
    return t["value"], details, bd


def _m_customer_value(ctx: _Ctx, by: str | None):
    """A per-customer artefact value (CLV, churn probability) over the customers who bought in the
    period (after filters): mean, total or the count at risk."""
    artefact, column, agg = _CUSTOMER_VALUE_METRICS[ctx.metric]
    view = ctx.src.customer_values(artefact, ctx.metric, column)
    expr = {"mean": f"avg(v.{column})", "total": f"coalesce(fsum(v.{column}), 0)",
            "at_risk": f"count_if(v.{column} >= {AT_RISK_PROBABILITY})"}[agg]
    body = (f"SELECT {{g}}{expr} AS value, count(*) AS customers, count(v.{column}) AS scored "
            f"FROM b LEFT JOIN {view} v USING (customer_id)")
    t = ctx.one(ctx.oq, ", b AS (SELECT DISTINCT customer_id FROM w) " + body.format(g=""))
    details = {"customers": int(t["customers"]), "scored": int(t["scored"]), "source": f"artefact {artefact}.{column}",
               "definition": METRIC_DEFINITIONS[ctx.metric]}
    value = t["value"]
    if agg == "at_risk":
        value = int(value or 0)
        details["share"] = value / t["scored"] if t["scored"] else None
        details["threshold"] = AT_RISK_PROBABILITY
    bd = None
    if by:
        bd = ctx.sql(ctx.oq, f", b AS (SELECT DISTINCT d_{by} AS g, customer_id FROM w) "
                     + body.format(g=f'g AS "{by}", ') + " GROUP BY g")
        if agg == "at_risk":
            bd["value"] = bd["value"].astype("int64")
            bd["share"] = bd["value"] / bd["scored"].where(bd["scored"] > 0)
    return value, details, bd


def _m_dates(ctx: _Ctx, by: str | None):
    """The first or last order date in the period (after filters)."""
    fn = "min" if ctx.metric == "first_purchase" else "max"
    t = ctx.one(ctx.oq, f"SELECT {fn}(order_date) AS d, count(DISTINCT customer_id) AS customers FROM w")
    value = pd.Timestamp(t["d"]).strftime("%Y-%m-%d") if t["d"] is not None else None
    details = {"customers": int(t["customers"]), "definition": METRIC_DEFINITIONS[ctx.metric]}
    bd = None
    if by:
        bd = ctx.sql(ctx.oq, f'SELECT {_g(by)}, strftime({fn}(order_date), \'%Y-%m-%d\') AS value, '
                             f'count(DISTINCT customer_id) AS customers FROM w GROUP BY 1')
    return value, details, bd


def _m_per_day(ctx: _Ctx, by: str | None):
    """Sales or distinct orders per calendar day of the period (first day: date_from, else the first order)."""
    agg = "coalesce(fsum(amount), 0)" if ctx.metric == "sales_per_day" else "count(DISTINCT order_id)"
    start = ctx.date_from if ctx.date_from is not None else ctx.src.first_day(ctx.metric)
    days = max(1, (ctx.end - pd.Timestamp(start).normalize()).days) if start is not None else None
    t = ctx.one(ctx.oq, f"SELECT {agg} AS total, count(*) AS order_lines FROM w")
    details = {"total": t["total"], "days": days, "order_lines": int(t["order_lines"]),
               "definition": METRIC_DEFINITIONS[ctx.metric]}
    bd = None
    if by:
        bd = ctx.sql(ctx.oq, f"SELECT {_g(by)}, {agg} AS total FROM w GROUP BY 1")
        bd.insert(1, "value", bd["total"] / days if days else np.nan)
    return (t["total"] / days if days else None), details, bd


def _m_complaint_count(ctx: _Ctx, by: str | None):
    """Complaints created in the period (open ones: not resolved by as_of)."""
    _need_feedback(ctx, "kind", why="complaints")
    cond = _COMPLAINT + (" AND NOT resolved" if ctx.metric == "open_complaints" else "")
    r = _resolution(ctx) if ctx.metric == "open_complaints" else ", r AS (SELECT * FROM w) "
    t = ctx.one(ctx.fq, r + f"SELECT count_if({cond}) AS value, count_if({_COMPLAINT}) AS complaints, "
                            f"count(*) AS feedback FROM r")
    details = {"complaints": int(t["complaints"]), "feedback": int(t["feedback"]),
               "definition": METRIC_DEFINITIONS[ctx.metric]}
    bd = None
    if by:
        bd = ctx.sql(ctx.fq, r + f"SELECT {_g(by)}, count_if({cond}) AS value, count_if({_COMPLAINT}) AS complaints "
                                 f"FROM r GROUP BY 1")
        bd = bd.astype({"value": "int64", "complaints": "int64"})
    return int(t["value"]), details, bd


def _orders_per_customer(q, by: str | None = None) -> str:
    """CTE ``p``: each customer's distinct orders ``n`` (per group ``g`` of ``by``). Over lines the
    distinct (group, customer, order) rows are found first: cheaper than a distinct count per group."""
    g, gs = (f"d_{by} AS g, ", "g, ") if by else ("", "")
    if q.grain == "customer_month" and by == "month":   # one row per customer and month already
        return f", p AS (SELECT {g}customer_id, orders AS n FROM w) "
    if q.grain != "line":
        return f", p AS (SELECT {g}customer_id, {q.orders} AS n FROM w GROUP BY ALL) "
    return (f", p AS (SELECT {gs}customer_id, count(order_id) AS n FROM (SELECT DISTINCT {g}customer_id, order_id "
            f"FROM w) GROUP BY ALL) ")


def _m_repurchase(ctx: _Ctx, by: str | None):
    t = ctx.one(ctx.oq, _orders_per_customer(ctx.oq) + "SELECT count(*) AS customers, "
                        "count_if(n >= 2) AS repeat_customers FROM p")
    n, rep = int(t["customers"]), int(t["repeat_customers"])
    details = {"customers": n, "repeat_customers": rep}
    bd = None
    if by:
        bd = ctx.sql(ctx.oq, _orders_per_customer(ctx.oq, by) +
                     f'SELECT g AS "{by}", count(*) AS customers, count_if(n >= 2) AS repeat_customers FROM p GROUP BY g')
        bd = bd.astype({"customers": "int64", "repeat_customers": "int64"})
        bd.insert(1, "value", bd["repeat_customers"] / bd["customers"])
    return (rep / n if n else None), details, bd


_FIRST_ORDERS = (", f AS (SELECT customer_id, order_id FROM h QUALIFY row_number() OVER "
                 "(PARTITION BY customer_id ORDER BY order_date, order_id) = 1), "
                 "n AS (SELECT w.* FROM w JOIN f USING (customer_id, order_id)) ")


def _m_new(ctx: _Ctx, by: str | None):
    """Customers whose first order ever (before as_of, after filters) falls in the period."""
    value = int(ctx.one(ctx.oq, _FIRST_ORDERS + "SELECT count(DISTINCT customer_id) AS n FROM n")["n"])
    details = {"new_customers": value, "definition": "first order ever falls in the period"}
    bd = None
    if by:
        bd = ctx.sql(ctx.oq, _FIRST_ORDERS + f"SELECT {_g(by)}, count(DISTINCT customer_id) AS value FROM n GROUP BY 1")
        if by == "month":
            bd = _reindex_months(ctx, bd, _first_in_window(ctx), {"value": 0})
        bd["value"] = bd["value"].astype("int64")
        bd["share"] = bd["value"] / value if value else np.nan
    return value, details, bd


def _m_lapsed(ctx: _Ctx, by: str | None):
    """Customers (after filters) with an order before the period and none in it: "no order in the
    last 30 days" is the period as_of − 30 days … as_of."""
    if ctx.date_from is None:
        raise GuanxiError("lapsed_customers counts customers with no order in a period: give its first day "
                          "(date_from, e.g. 30 days before the as-of date for 'the last 30 days')")
    lapsed = (f", l AS (SELECT * FROM h WHERE order_date < {lit(ctx.date_from)} "
              f"AND NOT EXISTS (SELECT 1 FROM w WHERE w.customer_id = h.customer_id)) ")
    t = ctx.one(ctx.oq, lapsed + "SELECT count(DISTINCT customer_id) AS n, max(order_date) AS last FROM l")
    value = int(t["n"])
    details = {"lapsed_customers": value, "buyers_in_period": int(ctx.one(
                   ctx.oq, "SELECT count(DISTINCT customer_id) AS n FROM w")["n"]),
               "definition": f"an order before {fmt_date(ctx.date_from)} and none from then to {fmt_date(ctx.end - pd.Timedelta(days=1))}"}
    bd = None
    if by:
        if by in _TIME_DIMS or by in ("category", "product", "order_channel"):
            raise GuanxiError(f"lapsed_customers is a count of customers: break it down by a customer attribute "
                              f"(province, city, gender, age_band, channel, segment), not by {by}")
        bd = ctx.sql(ctx.oq, lapsed + f"SELECT {_g(by)}, count(DISTINCT customer_id) AS value FROM l GROUP BY 1")
        bd["value"] = bd["value"].astype("int64")
        bd["share"] = bd["value"] / value if value else np.nan
    return value, details, bd


def _intervals(by: str | None) -> str:
    """CTE ``iv``: days between a customer's consecutive orders (order day = its earliest line)."""
    g = f"d_{by} AS g, " if by and by != "month" else ""
    part = "g, customer_id" if g else "customer_id"
    return (f", o AS (SELECT {g}customer_id, order_id, date_trunc('day', min(order_date)) AS d FROM w GROUP BY ALL), "
            f"iv AS (SELECT *, CAST(date_diff('day', lag(d) OVER (PARTITION BY {part} ORDER BY d, order_id), d) AS DOUBLE) "
            f"AS days FROM o) ")


def _m_interval(ctx: _Ctx, by: str | None):
    days = ctx.sql(ctx.oq, _intervals(None) + "SELECT days, customer_id FROM iv WHERE days IS NOT NULL")
    d = days["days"].astype(float)
    value = float(d.mean()) if len(d) else None
    details = {"mean_days": value, "median_days": float(d.median()) if len(d) else None,
               "intervals": int(len(d)), "customers": int(days["customer_id"].nunique())}
    bd = None
    if by:
        g = "strftime(d, '%Y-%m')" if by == "month" else "g"
        bd = ctx.sql(ctx.oq, _intervals(by) + f'SELECT {g} AS "{by}", avg(days) AS value, median(days) AS median, '
                                              f'count(*) AS intervals FROM iv WHERE days IS NOT NULL GROUP BY 1')
    return value, details, bd, d.reset_index(drop=True)


def _m_retention(ctx: _Ctx, by: str | None):
    start = f" AND f >= {lit(ctx.date_from)}" if ctx.date_from is not None else ""
    cohorts = (f", first AS (SELECT customer_id, min(order_date) AS f FROM h GROUP BY 1), "
               f"co AS (SELECT customer_id, year(f) * 12 + month(f) - 1 AS cohort FROM first WHERE f < {lit(ctx.end)}{start}) ")
    sizes = ctx.sql(ctx.oq, cohorts + "SELECT cohort, count(*) AS n FROM co GROUP BY 1 ORDER BY 1")
    if sizes.empty:
        return None, {"cohorts": 0, "customers": 0}, pd.DataFrame(columns=["cohort", "cohort_size"])
    cells = ctx.sql(ctx.oq, cohorts + "SELECT co.cohort, year(h.order_date) * 12 + month(h.order_date) - 1 - co.cohort "
                                      "AS offset, count(DISTINCT h.customer_id) AS n FROM h JOIN co USING (customer_id) "
                                      f"WHERE h.order_date < {lit(ctx.end)} GROUP BY 1, 2")
    sizes = sizes.set_index("cohort")["n"].astype("int64")
    counts = cells.pivot(index="cohort", columns="offset", values="n").fillna(0)
    last_day = ctx.end - pd.Timedelta(days=1)
    last_ord = last_day.year * 12 + last_day.month - 1
    max_off = int(last_ord - sizes.index.min())
    counts = counts.reindex(index=sizes.index, columns=range(0, max_off + 1), fill_value=0).fillna(0).astype("int64")
    share = counts.div(sizes, axis=0).astype(float)
    observable = np.add.outer(share.index.to_numpy(), share.columns.to_numpy()) <= last_ord
    share = share.where(observable)
    label = [f"{o // 12:04d}-{o % 12 + 1:02d}" for o in share.index]
    matrix = share.copy()
    matrix.index = label
    matrix.columns = [int(c) for c in matrix.columns]
    bd = matrix.reset_index().rename(columns={"index": "cohort"})
    bd.insert(1, "cohort_size", sizes.to_numpy().astype("int64"))
    bd.columns = ["cohort", "cohort_size", *[int(c) for c in matrix.columns]]

    def pooled(k: int):
        if k not in counts.columns:
            return None
        ok = observable[:, k] if k < observable.shape[1] else np.zeros(len(sizes), bool)
        den = sizes.to_numpy()[ok].sum()
        return float(counts[k].to_numpy()[ok].sum() / den) if den else None

    value = pooled(1)
    details = {"cohorts": int(len(sizes)), "customers": int(sizes.sum()),
               "month_1": value, "month_3": pooled(3), "month_6": pooled(6), "month_12": pooled(12),
               "definition": "cohort = month of first order; share active in month cohort+k"}
    return value, details, bd, matrix


def _need_feedback(ctx: _Ctx, *cols: str, why: str) -> None:
    missing = [c for c in cols if c not in ctx.src.columns("feedback")]
    if missing:
        raise GuanxiError(f"the feedback table has no column {', '.join(missing)} (needed for {why})")


_COMPLAINT = "lower(trim(CAST(kind AS VARCHAR))) = 'complaint'"


def _resolution(ctx: _Ctx) -> str:
    """CTE ``r``: feedback in the period with ``resolved`` (by as_of) and ``days`` to resolution."""
    cols = ctx.src.columns("feedback")
    if "status" not in cols and "resolved_at" not in cols:
        raise GuanxiError("the feedback table has no column status or resolved_at (needed for resolution)")
    resolved = (f"coalesce((lower(trim(CAST(status AS VARCHAR))) = 'resolved') OR resolved_at IS NOT NULL, FALSE) "
                f"AND NOT coalesce(resolved_at >= {lit(ctx.as_of)}, FALSE)")
    ms = "(epoch_ms(resolved_at) - epoch_ms(created_at))"
    return (f", r AS (SELECT *, {resolved} AS resolved, CASE WHEN {resolved} AND resolved_at IS NOT NULL AND {ms} >= 0 "
            f"THEN {ms} / 86400000.0 END AS days FROM w) ")


def _m_satisfaction(ctx: _Ctx, by: str | None):
    _need_feedback(ctx, "rating", why="satisfaction")
    q = ctx.fq
    t = ctx.one(q, "SELECT avg(rating) AS value, count(rating) AS rated, count(*) AS feedback FROM w")
    details = {"mean_rating": t["value"], "rated": int(t["rated"]), "feedback": int(t["feedback"])}
    cols = ctx.src.columns("feedback")
    if "kind" in cols:
        details["complaints"] = int(ctx.one(q, f"SELECT count_if({_COMPLAINT}) AS n FROM w")["n"])
        if "status" in cols or "resolved_at" in cols:
            r = ctx.one(q, _resolution(ctx) + f"SELECT count_if({_COMPLAINT} AND NOT resolved) AS open, avg(days) AS mean, "
                                              f"median(days) AS median FROM r")
            details["open_complaints"] = int(r["open"])
            details["resolution_mean_days"] = r["mean"]
            details["resolution_median_days"] = r["median"]
    bd = None
    if by:
        bd = ctx.sql(q, f"SELECT {_g(by)}, avg(rating) AS value, count(rating) AS rated, count(*) AS feedback FROM w GROUP BY 1")
    return t["value"], details, bd


def _m_complaints(ctx: _Ctx, by: str | None):
    _need_feedback(ctx, "kind", why="complaints")
    n_comp = int(ctx.one(ctx.fq, f"SELECT count(*) AS n FROM w WHERE {_COMPLAINT}")["n"])
    q = _summed(ctx)
    o = ctx.one(q, f"SELECT {q.orders} AS orders, {q.customers} AS customers FROM w")
    n_orders, n_cust = int(o["orders"]), int(o["customers"])
    value = n_comp / n_orders if n_orders else None
    details = {"complaints": n_comp, "orders": n_orders, "customers": n_cust,
               "per_100_orders": 100 * n_comp / n_orders if n_orders else None,
               "per_100_customers": 100 * n_comp / n_cust if n_cust else None,
               "definition": "complaints created in the period / distinct orders in the period"}
    bd = None
    if by:
        if by in ("feedback_channel", "kind", "order_channel"):
            raise GuanxiError(f"complaint_rate cannot be broken down by {by}: orders and feedback do not "
                              f"share it; use province, city, gender, age_band, channel, category or month")
        c = ctx.sql(ctx.fq, f"SELECT d_{by} AS g, count(*) AS complaints FROM w WHERE {_COMPLAINT} GROUP BY 1").set_index("g")
        og = ctx.sql(ctx.oq, f"SELECT d_{by} AS g, {ctx.oq.orders} AS orders FROM w GROUP BY 1").set_index("g")
        bd = pd.DataFrame({"complaints": c["complaints"], "orders": og["orders"]}).fillna(0).astype("int64")
        bd.index.name = by
        bd = bd.reset_index()
        bd.insert(1, "value", bd["complaints"] / bd["orders"].where(bd["orders"] > 0))
    return value, details, bd


def _m_resolution(ctx: _Ctx, by: str | None):
    r = _resolution(ctx)
    t = ctx.one(ctx.fq, r + "SELECT avg(days) AS value, median(days) AS median, count(days) AS resolved, "
                            "count_if(NOT resolved) AS open, count(*) AS feedback FROM r")
    details = {"mean_days": t["value"], "median_days": t["median"], "resolved": int(t["resolved"]),
               "open": int(t["open"]), "feedback": int(t["feedback"])}
    if "kind" in ctx.src.columns("feedback"):
        details["open_complaints"] = int(ctx.one(ctx.fq, r + f"SELECT count_if({_COMPLAINT} AND NOT resolved) AS n FROM r")["n"])
    bd = None
    if by:
        bd = ctx.sql(ctx.fq, r + f"SELECT {_g(by)}, avg(days) AS value, median(days) AS median, count(days) AS resolved, "
                                 f"count_if(NOT resolved) AS open FROM r GROUP BY 1")
        bd["open"] = bd["open"].astype("int64")
    return t["value"], details, bd

_OWN_AGG = {"sum": "coalesce(fsum({x}), 0)", "mean": "avg({x})", "min": "min({x})", "max": "max({x})",
            "median": "median({x})"}
_OWN_ZH = {"sum": "合计", "mean": "平均值", "min": "最小值", "max": "最大值", "median": "中位数", "sales": "销售额",
           "orders": "订单数", "customers": "客户数", "units": "件数"}
_OWN_BASE = {"sales": "fsum(amount)", "orders": "count(DISTINCT order_id)", "customers": "count(DISTINCT customer_id)",
             "units": "sum(qty)"}


def _m_own(ctx: _Ctx, by: str | None):
    """A metric over the company's own column (semantic.toml): its aggregate over the order lines
    in the period (optionally divided by sales, orders, customers or units), or over the customers
    who bought in the period for a column of the customers."""
    own = ctx.src.own_metrics[ctx.metric]
    col = ctx.src.own_column(ctx.metric, own)
    agg = _OWN_AGG[own["aggregate"]]
    div = own.get("divide_by")
    details = {"own_column": own["column"], "aggregate": own["aggregate"], "divide_by": div,
               "definition_zh": f"{own['column']} 的{_OWN_ZH[own['aggregate']]}" + (f"除以{_OWN_ZH[div]}" if div else "")
               + ("（订单行）" if own["table"] == "orders" else "（期间内购买的客户）") + "，定义见 semantic.toml",
               "definition": f"{own['aggregate']} of {own['column']}" + (f" / {own['divide_by']}" if own.get("divide_by") else "")
               + (" over the order lines in the period" if own["table"] == "orders" else
                  " over the customers who bought in the period") + " (semantic.toml)"}
    g = f'g AS "{by}", ' if by else ""
    if own["table"] == "orders":
        num = agg.format(x=col)
        base = _OWN_BASE.get(own.get("divide_by"), "NULL")
        body = f"SELECT {{g}}{num} AS num, {base} AS base, count({col}) AS with_value, count(*) AS order_lines FROM w"
        t = ctx.one(ctx.oq, body.format(g=""))
        details.update(order_lines=int(t["order_lines"]), with_value=int(t["with_value"]))
        grouped = body.format(g=f'd_{by} AS "{by}", ') + " GROUP BY 1" if by else None
    else:
        body = (f"SELECT {{g}}{agg.format(x='c.' + col)} AS num, NULL AS base, count(c.{col}) AS with_value, "
                f"count(*) AS customers FROM b LEFT JOIN {ctx.src.customers(ctx.metric)} c USING (customer_id)")
        t = ctx.one(ctx.oq, ", b AS (SELECT DISTINCT customer_id FROM w) " + body.format(g=""))
        details.update(customers=int(t["customers"]), with_value=int(t["with_value"]))
        grouped = (f", b AS (SELECT DISTINCT d_{by} AS g, customer_id FROM w) " + body.format(g=g)
                   + " GROUP BY 1") if by else None

    def ratio(num, base):
        if own.get("divide_by"):
            return None if base is None or not base or pd.isna(base) else float(num) / float(base)
        return None if num is None or pd.isna(num) else float(num)
    value = ratio(t["num"], t["base"])
    bd = None
    if by:
        bd = ctx.sql(ctx.oq, grouped)
        bd.insert(1, "value", [ratio(n, b) for n, b in zip(bd["num"], bd["base"])])
        bd["value"] = bd["value"].astype(float)
        if own["aggregate"] == "sum" and not own.get("divide_by") and value:
            bd.insert(2, "share", bd["value"] / value)
        bd = bd.drop(columns=["num", "base"])
    return value, details, bd


# ---------------------------------------------------------------------------------------------
# Dispatcher
# ---------------------------------------------------------------------------------------------

def _sort_breakdown(bd: pd.DataFrame, by: str, top: int | None, lowest: bool = False,
                    ranked: bool = False, base: str | None = None) -> pd.DataFrame:
    if by in _TIME_DIMS and not ranked:
        bd = bd.sort_values(by, kind="stable")
        if top:
            bd = bd.tail(int(top))
    elif by == "age_band":
        order = {b: i for i, b in enumerate((*AGE_BANDS, UNKNOWN))}
        bd = bd.sort_values(by, key=lambda s: s.map(order), kind="stable")
        if top:
            bd = bd.head(int(top))
    else:
        bd = bd.sort_values(["value", by], ascending=[lowest, True], kind="stable", na_position="last")
        if base and base in bd:   # a ratio: ranked over the groups big enough to compare (tools.kpi_rank)
            return rank_fairly(bd, by, base, top)
        if top:
            bd = bd.head(int(top))
    return bd.reset_index(drop=True)


def _chart(metric: str, by: str | None, bd, extra, ctx: _Ctx):
    lab = metric_labels(metric, ctx.src)
    if metric == "retention":
        if extra is None or len(extra) == 0:
            return None
        return charts.heatmap(extra, f"{lab['zh']}（月度同期群）", "Monthly cohort retention",
                              x_title="月份偏移 Months since first order", y_title="同期群 Cohort")
    if by is None:
        if metric == "purchase_interval" and extra is not None and len(extra):
            return charts.histogram(extra, lab["zh"] + "分布", "Days between orders",
                                    x_title="天 days", y_title="次数 count")
        return None
    if bd is None or bd.empty:
        return None
    dz, de = dimension_labels(by, ctx.src)["zh"], dimension_labels(by, ctx.src)["en"]
    # bars and lines as plotly JSON directly: a plotly Figure costs more than the metric itself
    if by == "month":
        return charts.line_chart_json(bd, "month", "value", f"{lab['zh']}月度趋势", f"{lab['en']} by month",
                                      x_title="月份 month", y_title=f"{lab['zh']} {lab['en']}")
    return charts.bar_chart_json(bd, by, "value", f"{lab['zh']}（按{dz}）", f"{lab['en']} by {de}",
                                 y_title=f"{lab['zh']} {lab['en']}")


def kpi(tables: dict[str, pd.DataFrame] | MetricSource, metric: str, by: str | None = None, date_from=None,
        date_to=None, as_of=None, top: int | None = None, filters: dict | None = None,
        lowest: bool = False, ranked: bool = False) -> KpiResult:
    """Compute one KPI (see the module docstring for every definition), in DuckDB SQL.

    tables: {"orders", "customers", "feedback", "rfm", "clusters", "clv", "churn": DataFrame} or a
    `MetricSource` over them (a workspace keeps one, so its tables register once).
    metric: one of METRICS (Chinese labels accepted). by: one of DIMENSIONS (feedback metrics:
    also feedback_channel, kind). Unknown names → GuanxiError listing the valid ones.
    top: keep the first ``top`` groups (highest value — lowest with ``lowest=True``; for a time
    breakdown the last ``top`` periods, unless ``ranked``: then by value too, "the best month").
    """
    src = tables if isinstance(tables, MetricSource) else MetricSource(tables)
    metric = resolve_metric(metric, src.own_metrics)
    allowed = _FEEDBACK_DIMS if metric in ("satisfaction", "resolution_time", "complaints", "open_complaints") \
        else _ORDER_DIMS
    if metric == "complaint_rate":
        allowed = tuple(dict.fromkeys((*_ORDER_DIMS, *_FEEDBACK_DIMS)))
    if allowed is _ORDER_DIMS:   # the company's own dimensions: of its orders or customers
        allowed = (*allowed, *src.own_dims)
    elif metric != "complaint_rate":
        allowed = (*allowed, *(n for n, o in src.own_dims.items() if o["table"] == "customers"))
    if by is not None:
        by = _resolve_dim(by, allowed if metric != "retention" else ("month",), metric, src=src)
    if filters is not None and not isinstance(filters, dict):
        raise GuanxiError(f"filters must be a dict like {{'province': '浙江省'}}, got {type(filters).__name__}")
    filt = {(k if k in RANGE_FILTERS else _resolve_dim(k, allowed, metric, "filter", src)): v
            for k, v in (filters or {}).items()}
    if top is not None and (not isinstance(top, (int, np.integer)) or top < 1):
        raise GuanxiError(f"top must be a positive integer, got {top!r}")
    with src.session() as log:
        ctx = _Ctx(src, metric, by, filt, as_of, date_from, date_to)
        if metric == "retention":
            by = None  # the cohort matrix is the breakdown
        extra = None
        value, details, bd, *rest = _COMPUTE.get(metric, _m_own)(ctx, by)
        extra = rest[0] if rest else None
        counted = {}
        if ctx.oq is not None:
            n_lines = details.get("order_lines") if metric in _SUM_METRICS else None
            if n_lines is None:
                n_lines = ctx.one(ctx.oq, f"SELECT {ctx.oq.lines} AS n FROM w", keep=False)["n"]
            counted["orders"] = f"{int(n_lines):,} lines in period"
        if ctx.fq is not None:
            counted["feedback"] = f"{int(ctx.one(ctx.fq, 'SELECT count(*) AS n FROM w', keep=False)['n']):,} rows in period"
        statements = list(log)
    if bd is not None and by is not None:
        bd = _sort_breakdown(bd, by, top, lowest=lowest, ranked=ranked, base=RANK_BASE.get(metric))
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        value = None
    fig = _chart(metric, by, bd, extra, ctx)
    scanned = {name: src.rows(name) for name in ("orders", "feedback", "customers", "rfm", "clusters", "clv", "churn")
               if src.used(name)}
    if "customers" in scanned:
        counted["customers"] = scanned["customers"]
    prov = provenance(f"query_metrics: {query_words(metric, by, ctx, top, lowest)} (DuckDB SQL)", counted, as_of=ctx.as_of)
    prov += " · rows scanned: " + ", ".join(f"{name} {n:,}" for name, n in scanned.items())
    if ctx.oq is not None and ctx.oq.grain != "line":
        kind = {"customer": "per-customer", "customer_month": "per-customer monthly",
                "category_month": "per-category monthly"}[ctx.oq.grain]
        prov += f" (read as {ctx.oq.grain_rows:,} {kind} sums of the lines)"
    lab = metric_labels(metric, src)
    return KpiResult(
        metric=metric, label_zh=lab["zh"], label_en=lab["en"], value=value,
        unit=lab["unit"], by=by, breakdown=bd, details=details,
        as_of=fmt_date(ctx.as_of),
        date_from=fmt_date(ctx.date_from) if ctx.date_from is not None else None,
        date_to=fmt_date(ctx.date_to) if ctx.date_to is not None else None,
        filters=ctx.filters, provenance=prov, figure_json=None if fig is None else json.dumps(fig, ensure_ascii=False) if isinstance(fig, dict)
        else fig.to_json(), sql=statements, rows_scanned=scanned)


def query_words(metric: str, by, ctx: _Ctx, top=None, lowest=False) -> str:
    """The query in words: "sales by province, city=杭州市, 2026-10-01…2026-10-31, top 5"."""
    parts = [metric + (f" by {by}" if by else "")]
    parts += [str(v) if d in RANGE_FILTERS else f"{d}={'/'.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
              for d, v in ctx.filters.items()]
    a = fmt_date(ctx.date_from) if ctx.date_from is not None else "first day"
    b = fmt_date(ctx.date_to) if ctx.date_to is not None else fmt_date(ctx.as_of - pd.Timedelta(days=1))
    parts.append(f"{a}…{b}" if ctx.date_from is not None or ctx.date_to is not None else f"all time to {b}")
    if top and by:
        parts.append(f"{'bottom' if lowest else 'top'} {top}")
    return ", ".join(parts)


_SUM_METRICS = ("sales", "orders", "customers", "aov", "units", "sales_per_customer", "orders_per_customer")
#: metrics that read only sums, distinct orders and distinct customers of the lines: over the whole
#: history by customer attributes they can read one row per customer (MetricSource.customer_sums)
_PER_CUSTOMER_METRICS = (*_SUM_METRICS, "repurchase_rate", "average_age", *_CUSTOMER_VALUE_METRICS)
_COMPUTE = {**dict.fromkeys(_SUM_METRICS, _m_sums),
            "largest_order": _m_largest, "average_age": _m_age, "repurchase_rate": _m_repurchase,
            "new_customers": _m_new, "lapsed_customers": _m_lapsed, "purchase_interval": _m_interval,
            "retention": _m_retention, "satisfaction": _m_satisfaction, "complaint_rate": _m_complaints, "resolution_time": _m_resolution,
            **dict.fromkeys(_CUSTOMER_VALUE_METRICS, _m_customer_value),
            "first_purchase": _m_dates, "last_purchase": _m_dates, "sales_per_day": _m_per_day,
            "orders_per_day": _m_per_day, "complaints": _m_complaint_count, "open_complaints": _m_complaint_count}


# ---------------------------------------------------------------------------------------------
# Named wrappers
# ---------------------------------------------------------------------------------------------

def _tables(orders=None, customers=None, feedback=None) -> dict:
    return {k: v for k, v in dict(orders=orders, customers=customers, feedback=feedback).items() if v is not None}


def sales(orders, customers=None, **kw) -> KpiResult:
    """Sum of amount (kw: by, date_from, date_to, as_of, top, filters)."""
    return kpi(_tables(orders, customers), "sales", **kw)


def order_count(orders, customers=None, **kw) -> KpiResult:
    """Distinct orders."""
    return kpi(_tables(orders, customers), "orders", **kw)


def customer_count(orders, customers=None, **kw) -> KpiResult:
    """Distinct customers with an order in the period."""
    return kpi(_tables(orders, customers), "customers", **kw)


def average_order_value(orders, customers=None, **kw) -> KpiResult:
    """Sales / distinct orders."""
    return kpi(_tables(orders, customers), "aov", **kw)


def repurchase_rate(orders, customers=None, **kw) -> KpiResult:
    """Share of the period's customers with ≥ 2 orders in the period."""
    return kpi(_tables(orders, customers), "repurchase_rate", **kw)


def cohort_retention(orders, customers=None, **kw) -> KpiResult:
    """Monthly cohort retention matrix (breakdown) and pooled month-1 retention (value)."""
    return kpi(_tables(orders, customers), "retention", **kw)


def purchase_interval(orders, customers=None, **kw) -> KpiResult:
    """Mean (value) and median (details) days between a customer's consecutive orders."""
    return kpi(_tables(orders, customers), "purchase_interval", **kw)


def new_customers(orders, customers=None, **kw) -> KpiResult:
    """Customers whose first order falls in the period."""
    return kpi(_tables(orders, customers), "new_customers", **kw)


def satisfaction(feedback, customers=None, orders=None, **kw) -> KpiResult:
    """Mean rating; details: complaints, open complaints, resolution mean/median days."""
    return kpi(_tables(orders, customers, feedback), "satisfaction", **kw)


def complaint_rate(feedback, orders, customers=None, **kw) -> KpiResult:
    """Complaints / distinct orders in the period."""
    return kpi(_tables(orders, customers, feedback), "complaint_rate", **kw)


def resolution_time(feedback, customers=None, orders=None, **kw) -> KpiResult:
    """Mean (value) / median days from created_at to resolved_at for items resolved by as_of."""
    return kpi(_tables(orders, customers, feedback), "resolution_time", **kw)
