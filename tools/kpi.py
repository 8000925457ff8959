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
from tools.results import default_as_of, fmt_date, provenance, to_jsonable

__all__ = [
    "METRICS", "DIMENSIONS", "FEEDBACK_METRICS", "AGE_BANDS", "KpiResult", "kpi", "age_band",
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
    return metrics, dims


METRICS, DIMENSIONS = _load_model()   # name → {zh, en, unit} / {zh, en}; every metric is computed below
AGE_BANDS: tuple[str, ...] = ("<25", "25-34", "35-44", "45-54", "55+")
UNKNOWN = "未知"

_SEGMENT_DIMS = ("segment", "segment_cn8", "tier", "cluster")   # from the rfm / clusters artefacts
_CUSTOMER_DIMS = ("province", "city", "gender", "age_band", "channel", *_SEGMENT_DIMS)
_TIME_DIMS = ("month", "quarter", "year", "weekday")
_ORDER_METRICS = ("sales", "orders", "customers", "aov", "repurchase_rate", "retention",
                  "purchase_interval", "new_customers", "units", "sales_per_customer", "largest_order",
                  "average_age")
FEEDBACK_METRICS = ("satisfaction", "complaint_rate", "resolution_time")
ADDITIVE_METRICS = ("sales", "units")   # their group values sum to the total over any breakdown
_ORDER_DIMS = (*_CUSTOMER_DIMS, "order_channel", "category", "product", *_TIME_DIMS)
_FEEDBACK_DIMS = (*_CUSTOMER_DIMS, "category", *_TIME_DIMS, "feedback_channel", "kind")
_WEEKDAYS = ("1 Mon 周一", "2 Tue 周二", "3 Wed 周三", "4 Thu 周四", "5 Fri 周五", "6 Sat 周六", "7 Sun 周日")

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
    as_of = pd.Timestamp(as_of)
    b = pd.Series(birthday)
    if not pd.api.types.is_datetime64_any_dtype(b):
        b = pd.to_datetime(b, errors="coerce", format="mixed")
    age = as_of.year - b.dt.year - ((as_of.month < b.dt.month) |
                                    ((as_of.month == b.dt.month) & (as_of.day < b.dt.day))).astype(int)
    bins = [-np.inf, 25, 35, 45, 55, np.inf]
    band = pd.cut(age.where((age >= 0) & (age < 130)), bins=bins, right=False, labels=list(AGE_BANDS))
    return band.astype(object).where(band.notna(), UNKNOWN).astype(str)


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


def _resolve_metric(metric: str) -> str:
    m = str(metric).strip()
    key = m.lower().replace(" ", "_").replace("-", "_")
    if key in METRICS:
        return key
    if m in _ALIASES or key in _ALIASES:
        return _ALIASES.get(m, _ALIASES.get(key))
    valid = ", ".join(f"{k} ({v['zh']})" for k, v in METRICS.items())
    raise GuanxiError(f"unknown metric {metric!r}; valid metrics: {valid}")


def _resolve_dim(dim: str, allowed: tuple[str, ...], metric: str, what: str = "by") -> str:
    d = str(dim).strip()
    key = d.lower().replace(" ", "_").replace("-", "_")
    key = key if key in DIMENSIONS else _DIM_ALIASES.get(d, _DIM_ALIASES.get(key, key))
    if key not in allowed:
        valid = ", ".join(f"{k} ({DIMENSIONS[k]['zh']})" for k in allowed)
        raise GuanxiError(f"unknown or unsupported {what} {dim!r} for metric {metric}; valid: {valid}")
    return key


def _table(tables: dict, name: str, metric: str) -> pd.DataFrame:
    t = tables.get(name) if isinstance(tables, dict) else None
    if t is None:
        raise GuanxiError(f"metric {metric} needs the {name} table (tables[{name!r}] is missing)")
    if not isinstance(t, pd.DataFrame):
        raise GuanxiError(f"tables[{name!r}] must be a DataFrame, got {type(t).__name__}")
    return t


def _need_cols(df: pd.DataFrame, table: str, cols, why: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise GuanxiError(f"the {table} table has no column {', '.join(missing)} (needed for {why})")


def _segment_table(tables: dict, metric: str) -> pd.DataFrame:
    """customer_id → segment, segment_cn8, tier (tables["rfm"]) and cluster (tables["clusters"])."""
    rfm = tables.get("rfm") if isinstance(tables, dict) else None
    if rfm is None:
        raise GuanxiError(f"segment breakdowns and filters need the RFM table (tables['rfm']) for metric {metric}")
    out = rfm.assign(customer_id=rfm["customer_id"].astype(str)).drop_duplicates("customer_id").set_index("customer_id")
    out = out[[c for c in ("segment", "segment_cn8", "tier") if c in out]].copy()
    cl = tables.get("clusters") if isinstance(tables, dict) else None
    if cl is not None and len(cl):
        name = "cluster_name_zh" if "cluster_name_zh" in cl else "cluster"
        cl = cl.assign(customer_id=cl["customer_id"].astype(str)).drop_duplicates("customer_id").set_index("customer_id")
        out["cluster"] = cl[name].astype(str).reindex(out.index)
    return out


def _clean_labels(values: np.ndarray, index) -> pd.Series:
    """Labels as str, missing or blank → 未知 (numpy, not per-element pandas: this runs per query)."""
    out = np.array([UNKNOWN if v is None or (isinstance(v, float) and v != v) or not str(v).strip() else str(v)
                    for v in values], dtype=object) if len(values) < 64 else None
    if out is None:
        vals = pd.Series(values, dtype=object)
        keys, uniq = pd.factorize(vals, use_na_sentinel=True)
        names = np.array([UNKNOWN if (isinstance(u, float) and u != u) or not str(u).strip() else str(u) for u in uniq]
                         + [UNKNOWN], dtype=object)
        out = names[keys]  # -1 (missing) takes the last entry, 未知
    return pd.Series(out, index=index, dtype=object)


def _lookup(ids: pd.Series, src: pd.Series) -> pd.Series:
    """``src`` (indexed by customer_id) looked up for each id, as clean labels."""
    pos = pd.Index(src.index.astype(str)).get_indexer(ids.astype(str))
    vals = np.append(src.to_numpy(dtype=object, na_value=None), [None])[pos]  # -1 → None → 未知
    return _clean_labels(vals, ids.index)


def _first_day(df, col: str):
    if df is None or col not in df or not len(df):
        return None
    d = pd.to_datetime(df[col], errors="coerce").min()
    return None if pd.isna(d) else pd.Timestamp(d).normalize()


class _Ctx:
    """Prepared inputs for one kpi() call."""

    def __init__(self, tables, metric, by, filters, as_of, date_from, date_to):
        self.metric = metric
        self.by = by
        need_orders = metric in _ORDER_METRICS or metric == "complaint_rate"
        need_feedback = metric in FEEDBACK_METRICS
        keys = set(filters) | ({by} if by else set())
        need_customers = bool(keys & (set(_CUSTOMER_DIMS) - set(_SEGMENT_DIMS))) or metric == "average_age"
        self.counts: dict[str, int] = {}
        self.filters: dict = dict(filters)  # values as matched ("浙江" → "浙江省")

        orders = _table(tables, "orders", metric) if need_orders else (
            tables.get("orders") if isinstance(tables, dict) else None)
        feedback = _table(tables, "feedback", metric) if need_feedback else None
        if as_of is None:
            if orders is not None and len(orders) and "order_date" in orders:
                as_of = default_as_of(orders)
            elif feedback is not None and len(feedback) and "created_at" in feedback:
                from tools.rfm import to_datetimes
                created = to_datetimes(feedback["created_at"], "feedback.created_at", f"kpi {metric}")
                as_of = created.max().normalize() + pd.Timedelta(days=1)
        self.as_of = _parse_day(as_of, "as_of") if as_of is not None else pd.Timestamp.today().normalize()
        self.date_from = _parse_day(date_from, "date_from")
        self.date_to = _parse_day(date_to, "date_to", end=True)
        if self.date_from is not None and self.date_to is not None and self.date_from > self.date_to:
            raise GuanxiError(f"date_from {fmt_date(self.date_from)} is after date_to {fmt_date(self.date_to)}")
        if self.date_from is not None and self.date_from >= self.as_of:
            raise GuanxiError(f"the period from {fmt_date(self.date_from)} is after the data's last day "
                              f"({fmt_date(self.as_of - pd.Timedelta(days=1))}); Guanxi reports what happened and "
                              f"does not forecast")
        first = _first_day(orders if orders is not None else feedback, "order_date" if orders is not None else "created_at")
        if self.date_to is not None and first is not None and self.date_to < first:
            raise GuanxiError(f"no data before {fmt_date(first)}: the period up to {fmt_date(self.date_to)} "
                              f"is older than the data (which covers {fmt_date(first)} … "
                              f"{fmt_date(self.as_of - pd.Timedelta(days=1))})")
        # exclusive end of the window
        end = self.as_of
        if self.date_to is not None:
            end = min(end, self.date_to + pd.Timedelta(days=1))
        self.end = end

        self.seg = None   # customer_id → segment / segment_cn8 / tier / cluster
        if keys & set(_SEGMENT_DIMS):
            self.seg = _segment_table(tables, metric)
        self.cust = None
        if need_customers:
            c = _table(tables, "customers", metric)
            _need_cols(c, "customers", ["customer_id"], "customer breakdowns/filters")
            c = c.drop_duplicates("customer_id").copy()
            c.index = c["customer_id"].astype(str)
            self.cust = c
            self.counts["customers"] = len(c)

        self.hist = None  # order lines before as_of, filtered
        self.o = None     # order lines in the window
        if need_orders:
            from tools.rfm import prepare_orders
            hist, _ = prepare_orders(orders, self.as_of, source=f"kpi {metric}")
            self.counts["orders"] = len(orders)
            hist = self._filter(hist, "orders", filters)
            self.hist = hist
            self.o = self._window(hist, "order_date")
        self.fb = None
        if need_feedback:
            _need_cols(feedback, "feedback", ["created_at"], f"metric {metric}")
            from tools.rfm import to_datetimes
            fb = feedback.assign(created_at=to_datetimes(feedback["created_at"], "feedback.created_at",
                                                         f"kpi {metric}"))
            fb = fb.loc[fb["created_at"].notna() & (fb["created_at"] < self.as_of)]
            if "customer_id" in fb:
                fb = fb.assign(customer_id=fb["customer_id"].astype(object).where(fb["customer_id"].isna(),
                                                                                 fb["customer_id"].astype(str)))
            self.counts["feedback"] = len(feedback)
            fb = self._filter(fb, "feedback", filters)
            self.fb = self._window(fb, "created_at")

    def _window(self, df: pd.DataFrame, col: str) -> pd.DataFrame:
        keep = df[col] < self.end
        if self.date_from is not None:
            keep &= df[col] >= self.date_from
        return df.loc[keep]

    # dimension labels for a frame
    def labels(self, df: pd.DataFrame, dim: str, kind: str) -> pd.Series:
        date_col = "order_date" if kind == "orders" else "created_at"
        if dim in _SEGMENT_DIMS:
            if "customer_id" not in df:
                raise GuanxiError(f"the {kind} table has no column customer_id (needed for {dim})")
            if dim not in self.seg:
                raise GuanxiError(f"no {dim} per customer in the workspace (artefacts rfm / clusters): "
                                  f"rebuild it with `guanxi build`")
            return _lookup(df["customer_id"].astype(str), self.seg[dim])
        elif dim in _CUSTOMER_DIMS:
            if "customer_id" not in df:
                raise GuanxiError(f"the {kind} table has no column customer_id (needed for {dim})")
            c = self.cust
            if dim == "age_band":
                _need_cols(c, "customers", ["birthday"], "age_band")
                if "_age_band" not in c:
                    c["_age_band"] = age_band(c["birthday"], self.as_of).to_numpy()
                src = c["_age_band"]
            else:
                _need_cols(c, "customers", [dim], dim)
                src = c[dim]
            return _lookup(df["customer_id"], src)
        elif dim == "month":
            s = df[date_col].dt.strftime("%Y-%m")
        elif dim == "quarter":
            d = df[date_col]
            s = d.dt.year.astype(str) + "-Q" + d.dt.quarter.astype(str)
        elif dim == "year":
            s = df[date_col].dt.year.astype(str)
        elif dim == "weekday":
            s = df[date_col].dt.dayofweek.map(dict(enumerate(_WEEKDAYS)))
        elif dim == "product":
            _need_cols(df, kind, ["product_name"], "product")
            s = df["product_name"]
        elif dim == "order_channel":
            _need_cols(df, kind, ["channel"], "order_channel")
            s = df["channel"]
        elif dim == "feedback_channel":
            _need_cols(df, kind, ["channel"], "feedback_channel")
            s = df["channel"]
        else:  # category, kind
            _need_cols(df, kind, [dim], dim)
            s = df[dim]
        return _clean_labels(s.to_numpy(dtype=object, na_value=None), df.index)

    def _filter(self, df: pd.DataFrame, kind: str, filters: dict) -> pd.DataFrame:
        for dim, want in filters.items():
            if kind == "orders" and dim in ("feedback_channel", "kind"):
                if self.metric == "complaint_rate":
                    continue  # applies to the feedback side only
                raise GuanxiError(f"filter {dim} applies to feedback, not to metric {self.metric}")
            if kind == "feedback" and dim == "order_channel":
                raise GuanxiError(f"filter order_channel cannot apply to feedback (metric {self.metric}): "
                                  f"feedback has no order channel; use feedback_channel")
            lab = self.labels(df, dim, kind)
            values = _match_values(dim, want, lab)
            self.filters[dim] = values[0] if len(values) == 1 and not isinstance(want, (list, tuple, set)) else values
            df = df.loc[lab.isin(values)]
        return df


def _match_values(dim: str, want, labels: pd.Series) -> list[str]:
    wants = list(want) if isinstance(want, (list, tuple, set)) else [want]
    known = sorted(set(labels.unique()))
    out = []
    for w in wants:
        w = str(w).strip()
        if dim == "gender":
            w = _GENDER.get(w.lower(), w)
        if w in known:
            out.append(w)
            continue
        cands = [k for k in known if k.startswith(w) or w.startswith(k) and len(k) >= 2] or \
                [k for k in known if w in k]
        if len(cands) == 1:
            out.append(cands[0])
            continue
        if dim == "product" and len(w) >= 2 and (inside := [k for k in known if w in k]):
            out.extend(inside)   # "绿茶": every product whose name holds the word
            continue
        shown = ", ".join(known[:30]) + (" …" if len(known) > 30 else "")
        hint = f"ambiguous ({', '.join(cands[:10])})" if cands else "not found"
        raise GuanxiError(f"filter {dim}={w!r} {hint}; known {dim} values: {shown}")
    return out


# ---------------------------------------------------------------------------------------------
# Metric computations: each returns (value, details, breakdown or None, extra for the chart)
# ---------------------------------------------------------------------------------------------

def _month_range(ctx: _Ctx, dates: pd.Series) -> list[str]:
    if ctx.date_from is not None:
        start = ctx.date_from
    elif len(dates):
        start = dates.min()
    else:
        return []
    last = ctx.end - pd.Timedelta(days=1)
    if last < start:
        return []
    return [p.strftime("%Y-%m") for p in pd.period_range(start.to_period("M"), last.to_period("M"), freq="M")]


def _reindex_months(ctx: _Ctx, bd: pd.DataFrame, dates: pd.Series, fill: dict) -> pd.DataFrame:
    months = _month_range(ctx, dates)
    bd = bd.set_index("month").reindex(sorted(set(months) | set(bd["month"]))).rename_axis("month")
    for col, v in fill.items():
        bd[col] = bd[col].fillna(v)
    return bd.reset_index()


def _group(df: pd.DataFrame, ctx: _Ctx, dim: str, kind: str) -> pd.DataFrame:
    return df.assign(_g=ctx.labels(df, dim, kind).to_numpy())


def _orders_level(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per (group?, order): customer_id, date (day of the earliest line)."""
    keys = ["_g", "order_id"] if "_g" in lines else ["order_id"]
    o = lines.groupby(keys, sort=False).agg(customer_id=("customer_id", "first"),
                                            date=("order_date", "min")).reset_index()
    o["date"] = o["date"].dt.normalize()
    return o


def _quantity(o: pd.DataFrame) -> pd.Series:
    return pd.to_numeric(o["quantity"], errors="coerce").fillna(1) if "quantity" in o else pd.Series(1, index=o.index)


def _m_sums(ctx: _Ctx, by: str | None):
    o = ctx.o.assign(_units=_quantity(ctx.o))
    total_sales = float(o["amount"].sum())
    n_orders = int(o["order_id"].nunique())
    n_cust = int(o["customer_id"].nunique())
    n_units = int(o["_units"].sum())
    details = {"sales": total_sales, "orders": n_orders, "customers": n_cust, "units": n_units,
               "order_lines": len(o)}
    value = {"sales": total_sales, "orders": n_orders, "customers": n_cust, "units": n_units,
             "aov": total_sales / n_orders if n_orders else None,
             "sales_per_customer": total_sales / n_cust if n_cust else None}[ctx.metric]
    bd = None
    if by:
        g = _group(o, ctx, by, "orders").groupby("_g")
        bd = pd.DataFrame({"sales": g["amount"].sum(), "orders": g["order_id"].nunique(),
                           "customers": g["customer_id"].nunique(), "units": g["_units"].sum()})
        bd.index.name = by
        bd = bd.reset_index()
        if by == "month":
            bd = _reindex_months(ctx, bd, o["order_date"], {"sales": 0.0, "orders": 0, "customers": 0, "units": 0})
        for col in ("orders", "customers", "units"):
            bd[col] = bd[col].astype("int64")
        if ctx.metric != "units":
            bd = bd.drop(columns=["units"])
        if ctx.metric == "aov":
            bd.insert(1, "value", bd["sales"] / bd["orders"].where(bd["orders"] > 0))
        elif ctx.metric == "sales_per_customer":
            bd.insert(1, "value", bd["sales"] / bd["customers"].where(bd["customers"] > 0))
        else:
            col = ctx.metric
            bd.insert(1, "value", bd[col])
            tot = {"sales": total_sales, "orders": n_orders, "customers": n_cust, "units": n_units}[col]
            bd.insert(2, "share", bd["value"] / tot if tot else np.nan)
            bd = bd.drop(columns=[col])
    return value, details, bd


def _m_largest(ctx: _Ctx, by: str | None):
    """The largest single order (sum of its lines in the period) and its customer."""
    o = ctx.o
    tot = o.groupby("order_id").agg(amount=("amount", "sum"), customer_id=("customer_id", "first"),
                                    order_date=("order_date", "min"), lines=("amount", "size"))
    if tot.empty:
        return None, {"orders": 0}, None
    tot = tot.sort_values(["amount", "order_date"], ascending=[False, True], kind="stable")
    top = tot.iloc[0]
    value = float(top["amount"])
    details = {"order_id": str(tot.index[0]), "customer_id": str(top["customer_id"]),
               "order_date": fmt_date(top["order_date"]), "lines": int(top["lines"]), "orders": int(len(tot))}
    bd = None
    if by:
        x = _group(o, ctx, by, "orders").groupby(["_g", "order_id"]).agg(
            amount=("amount", "sum"), customer_id=("customer_id", "first")).reset_index()
        x = x.sort_values(["_g", "amount"], ascending=[True, False], kind="stable").drop_duplicates("_g")
        bd = x.rename(columns={"_g": by, "amount": "value"})[[by, "value", "order_id", "customer_id"]]
        bd = bd.assign(order_id=bd["order_id"].astype(str), customer_id=bd["customer_id"].astype(str))
    return value, details, bd


def _ages(ctx: _Ctx) -> pd.Series:
    c = ctx.cust
    _need_cols(c, "customers", ["birthday"], "average_age")
    b = pd.to_datetime(c["birthday"], errors="coerce", format="mixed")
    a = ctx.as_of
    age = a.year - b.dt.year - ((a.month < b.dt.month) | ((a.month == b.dt.month) & (a.day < b.dt.day))).astype(float)
    return age.where((age >= 0) & (age < 130))


def _m_age(ctx: _Ctx, by: str | None):
    """Mean age (full years at as_of) of the customers who bought in the period (after filters)."""
    ages = _ages(ctx)
    buyers = ctx.o.drop_duplicates("customer_id")
    a = buyers["customer_id"].astype(str).map(ages)
    value = float(a.mean()) if a.notna().any() else None
    details = {"customers": int(len(buyers)), "with_birthday": int(a.notna().sum()),
               "definition": "mean age at the as-of date of the customers with an order in the period"}
    bd = None
    if by:
        x = _group(ctx.o, ctx, by, "orders").drop_duplicates(["_g", "customer_id"])
        x = x.assign(_age=x["customer_id"].astype(str).map(ages))
        g = x.groupby("_g")
        bd = pd.DataFrame({"value": g["_age"].mean(), "customers": g["customer_id"].nunique(),
                           "with_birthday": g["_age"].count()})
        bd.index.name = by
        bd = bd.reset_index()
    return value, details, bd


def _m_repurchase(ctx: _Ctx, by: str | None):
    o = ctx.o
    per = o.groupby("customer_id")["order_id"].nunique()
    n, rep = int(len(per)), int((per >= 2).sum())
    value = rep / n if n else None
    details = {"customers": n, "repeat_customers": rep}
    bd = None
    if by:
        x = _group(o, ctx, by, "orders")
        per = x.groupby(["_g", "customer_id"])["order_id"].nunique()
        g = per.groupby(level=0)
        bd = pd.DataFrame({"customers": g.size(), "repeat_customers": g.apply(lambda s: int((s >= 2).sum()))})
        bd.index.name = by
        bd = bd.reset_index()
        bd.insert(1, "value", bd["repeat_customers"] / bd["customers"])
    return value, details, bd


def _first_orders(ctx: _Ctx) -> pd.DataFrame:
    """Lines of each customer's first order ever (earliest order_date, then order_id) before as_of."""
    h = ctx.hist
    first = (h.sort_values(["order_date", "order_id"], kind="stable")
             .drop_duplicates("customer_id")[["customer_id", "order_id"]])
    lines = h.merge(first, on=["customer_id", "order_id"], how="inner")
    return ctx._window(lines, "order_date")


def _m_new(ctx: _Ctx, by: str | None):
    lines = _first_orders(ctx)
    value = int(lines["customer_id"].nunique())
    details = {"new_customers": value, "definition": "first order ever falls in the period"}
    bd = None
    if by:
        x = _group(lines, ctx, by, "orders")
        bd = x.groupby("_g")["customer_id"].nunique().rename("value").rename_axis(by).reset_index()
        if by == "month":
            bd = _reindex_months(ctx, bd, ctx.o["order_date"] if len(ctx.o) else lines["order_date"], {"value": 0})
        bd["value"] = bd["value"].astype("int64")
        bd["share"] = bd["value"] / value if value else np.nan
    return value, details, bd


def _intervals(lines: pd.DataFrame) -> pd.DataFrame:
    o = _orders_level(lines)
    keys = ["_g", "customer_id"] if "_g" in o else ["customer_id"]
    o = o.sort_values([*keys, "date", "order_id"], kind="stable")
    o["days"] = o.groupby(keys, sort=False)["date"].diff().dt.days
    return o.loc[o["days"].notna()]


def _m_interval(ctx: _Ctx, by: str | None):
    iv = _intervals(ctx.o)
    d = iv["days"].astype(float)
    value = float(d.mean()) if len(d) else None
    details = {"mean_days": value, "median_days": float(d.median()) if len(d) else None,
               "intervals": int(len(d)), "customers": int(iv["customer_id"].nunique())}
    bd = None
    if by:
        if by == "month":
            x = iv.assign(_g=iv["date"].dt.strftime("%Y-%m"))
        else:
            x = _intervals(_group(ctx.o, ctx, by, "orders"))
        g = x.groupby("_g")["days"]
        bd = pd.DataFrame({"value": g.mean(), "median": g.median(), "intervals": g.size()})
        bd.index.name = by
        bd = bd.reset_index()
    return value, details, bd, d


def _m_retention(ctx: _Ctx, by: str | None):
    h = ctx.hist
    first = h.groupby("customer_id")["order_date"].min()
    in_win = (first < ctx.end) & ((first >= ctx.date_from) if ctx.date_from is not None else True)
    first = first[in_win]
    if first.empty:
        return None, {"cohorts": 0, "customers": 0}, pd.DataFrame(columns=["cohort", "cohort_size"])
    cohort_ord = first.dt.year * 12 + first.dt.month - 1
    act = h.loc[h["customer_id"].isin(first.index) & (h["order_date"] < ctx.end), ["customer_id", "order_date"]]
    act_ord = act["order_date"].dt.year * 12 + act["order_date"].dt.month - 1
    co = act["customer_id"].map(cohort_ord).to_numpy()
    off = act_ord.to_numpy() - co
    cells = pd.DataFrame({"cohort": co, "offset": off,
                          "customer_id": act["customer_id"].to_numpy()}).drop_duplicates()
    counts = cells.groupby(["cohort", "offset"]).size().unstack(fill_value=0)
    sizes = cohort_ord.value_counts().sort_index()
    last_day = ctx.end - pd.Timedelta(days=1)
    last_ord = last_day.year * 12 + last_day.month - 1
    max_off = int(last_ord - sizes.index.min())
    counts = counts.reindex(index=sizes.index, columns=range(0, max_off + 1), fill_value=0)
    share = counts.div(sizes, axis=0).astype(float)
    observable = np.add.outer(share.index.to_numpy(), share.columns.to_numpy()) <= last_ord
    share = share.where(observable)
    label = [f"{o // 12:04d}-{o % 12 + 1:02d}" for o in share.index]
    matrix = share.copy()
    matrix.index = label
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


def _feedback_kind(fb: pd.DataFrame) -> pd.Series:
    _need_cols(fb, "feedback", ["kind"], "complaints")
    return fb["kind"].astype(str).str.strip().str.lower()


def _resolved(ctx: _Ctx, fb: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(resolved by as_of mask, resolution days) for feedback rows."""
    has_status = "status" in fb
    has_at = "resolved_at" in fb
    if not has_status and not has_at:
        raise GuanxiError("the feedback table has no column status or resolved_at (needed for resolution)")
    from tools.rfm import to_datetimes
    at = to_datetimes(fb["resolved_at"], "feedback.resolved_at", "resolution") if has_at else pd.Series(pd.NaT, index=fb.index)
    status = fb["status"].astype(str).str.strip().str.lower() if has_status else pd.Series("", index=fb.index)
    resolved = ((status == "resolved") | at.notna()) & ~(at >= ctx.as_of)
    days = (at - fb["created_at"]).dt.total_seconds() / 86400.0
    days = days.where(resolved & at.notna() & (days >= 0))
    return resolved, days


def _m_satisfaction(ctx: _Ctx, by: str | None):
    fb = ctx.fb
    _need_cols(fb, "feedback", ["rating"], "satisfaction")
    r = pd.to_numeric(fb["rating"], errors="coerce")
    value = float(r.mean()) if r.notna().any() else None
    details = {"mean_rating": value, "rated": int(r.notna().sum()), "feedback": int(len(fb))}
    if "kind" in fb:
        comp = _feedback_kind(fb) == "complaint"
        details["complaints"] = int(comp.sum())
        if "status" in fb or "resolved_at" in fb:
            resolved, days = _resolved(ctx, fb)
            details["open_complaints"] = int((comp & ~resolved).sum())
            details["resolution_mean_days"] = float(days.mean()) if days.notna().any() else None
            details["resolution_median_days"] = float(days.median()) if days.notna().any() else None
    bd = None
    if by:
        x = _group(fb.assign(_r=r), ctx, by, "feedback").groupby("_g")
        bd = pd.DataFrame({"value": x["_r"].mean(), "rated": x["_r"].count(), "feedback": x.size()})
        bd.index.name = by
        bd = bd.reset_index()
    return value, details, bd


def _m_complaints(ctx: _Ctx, by: str | None):
    fb = ctx.fb
    comp = fb.loc[_feedback_kind(fb) == "complaint"]
    o = ctx.o
    n_orders = int(o["order_id"].nunique())
    n_cust = int(o["customer_id"].nunique())
    value = len(comp) / n_orders if n_orders else None
    details = {"complaints": int(len(comp)), "orders": n_orders, "customers": n_cust,
               "per_100_orders": 100 * len(comp) / n_orders if n_orders else None,
               "per_100_customers": 100 * len(comp) / n_cust if n_cust else None,
               "definition": "complaints created in the period / distinct orders in the period"}
    bd = None
    if by:
        if by in ("feedback_channel", "kind", "order_channel"):
            raise GuanxiError(f"complaint_rate cannot be broken down by {by}: orders and feedback do not "
                              f"share it; use province, city, gender, age_band, channel, category or month")
        c = _group(comp, ctx, by, "feedback").groupby("_g").size()
        og = _group(o, ctx, by, "orders").groupby("_g")["order_id"].nunique()
        bd = pd.DataFrame({"complaints": c, "orders": og}).fillna(0).astype("int64")
        bd.index.name = by
        bd = bd.reset_index()
        bd.insert(1, "value", bd["complaints"] / bd["orders"].where(bd["orders"] > 0))
    return value, details, bd


def _m_resolution(ctx: _Ctx, by: str | None):
    fb = ctx.fb
    resolved, days = _resolved(ctx, fb)
    d = days.dropna()
    value = float(d.mean()) if len(d) else None
    details = {"mean_days": value, "median_days": float(d.median()) if len(d) else None,
               "resolved": int(len(d)), "open": int((~resolved).sum()), "feedback": int(len(fb))}
    if "kind" in fb:
        details["open_complaints"] = int(((_feedback_kind(fb) == "complaint") & ~resolved).sum())
    bd = None
    if by:
        x = _group(fb.assign(_d=days, _open=~resolved), ctx, by, "feedback").groupby("_g")
        bd = pd.DataFrame({"value": x["_d"].mean(), "median": x["_d"].median(), "resolved": x["_d"].count(),
                           "open": x["_open"].sum().astype("int64")})
        bd.index.name = by
        bd = bd.reset_index()
    return value, details, bd


# ---------------------------------------------------------------------------------------------
# Dispatcher
# ---------------------------------------------------------------------------------------------

def _sort_breakdown(bd: pd.DataFrame, by: str, top: int | None, lowest: bool = False) -> pd.DataFrame:
    if by in ("month", "quarter", "year", "weekday"):
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
        if top:
            bd = bd.head(int(top))
    return bd.reset_index(drop=True)


def _chart(metric: str, by: str | None, bd, extra, ctx: _Ctx):
    lab = METRICS[metric]
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
    dz, de = DIMENSIONS[by]["zh"], DIMENSIONS[by]["en"]
    # bars and lines as plotly JSON directly: a plotly Figure costs more than the metric itself
    if by == "month":
        return charts.line_chart_json(bd, "month", "value", f"{lab['zh']}月度趋势", f"{lab['en']} by month",
                                      x_title="月份 month", y_title=f"{lab['zh']} {lab['en']}")
    return charts.bar_chart_json(bd, by, "value", f"{lab['zh']}（按{dz}）", f"{lab['en']} by {de}",
                                 y_title=f"{lab['zh']} {lab['en']}")


def kpi(tables: dict[str, pd.DataFrame], metric: str, by: str | None = None, date_from=None, date_to=None,
        as_of=None, top: int | None = None, filters: dict | None = None, lowest: bool = False) -> KpiResult:
    """Compute one KPI (see the module docstring for every definition).

    metric: sales, orders, customers, aov, repurchase_rate, retention, purchase_interval,
    satisfaction, complaint_rate, resolution_time, new_customers (Chinese labels accepted).
    by: province, city, gender, age_band, channel, order_channel, category, month (feedback
    metrics: also feedback_channel, kind). Unknown names → GuanxiError listing the valid ones.
    top: keep the first ``top`` groups (highest value — lowest with ``lowest=True``; for month the
    last ``top`` months).
    """
    metric = _resolve_metric(metric)
    allowed = _FEEDBACK_DIMS if metric in ("satisfaction", "resolution_time") else _ORDER_DIMS
    if metric == "complaint_rate":
        allowed = tuple(dict.fromkeys((*_ORDER_DIMS, *_FEEDBACK_DIMS)))
    if by is not None:
        by = _resolve_dim(by, allowed if metric != "retention" else ("month",), metric)
    if filters is not None and not isinstance(filters, dict):
        raise GuanxiError(f"filters must be a dict like {{'province': '浙江省'}}, got {type(filters).__name__}")
    filt = {_resolve_dim(k, allowed, metric, "filter"): v for k, v in (filters or {}).items()}
    if top is not None and (not isinstance(top, (int, np.integer)) or top < 1):
        raise GuanxiError(f"top must be a positive integer, got {top!r}")
    ctx = _Ctx(tables, metric, by, filt, as_of, date_from, date_to)
    if metric == "retention":
        by = None  # the cohort matrix is the breakdown

    extra = None
    if metric in ("sales", "orders", "customers", "aov", "units", "sales_per_customer"):
        value, details, bd = _m_sums(ctx, by)
    elif metric == "largest_order":
        value, details, bd = _m_largest(ctx, by)
    elif metric == "average_age":
        value, details, bd = _m_age(ctx, by)
    elif metric == "repurchase_rate":
        value, details, bd = _m_repurchase(ctx, by)
    elif metric == "new_customers":
        value, details, bd = _m_new(ctx, by)
    elif metric == "purchase_interval":
        value, details, bd, extra = _m_interval(ctx, by)
    elif metric == "retention":
        value, details, bd, *rest = _m_retention(ctx, by)
        extra = rest[0] if rest else None
    elif metric == "satisfaction":
        value, details, bd = _m_satisfaction(ctx, by)
    elif metric == "complaint_rate":
        value, details, bd = _m_complaints(ctx, by)
    else:
        value, details, bd = _m_resolution(ctx, by)
    if bd is not None and by is not None:
        bd = _sort_breakdown(bd, by, top, lowest=lowest)
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        value = None
    fig = _chart(metric, by, bd, extra, ctx)

    counted = {}
    if ctx.o is not None:
        counted["orders"] = f"{len(ctx.o):,} lines in period"
    if ctx.fb is not None:
        counted["feedback"] = f"{len(ctx.fb):,} rows in period"
    if ctx.cust is not None:
        counted["customers"] = ctx.counts["customers"]
    prov = provenance(f"kpi {metric}", counted, as_of=ctx.as_of,
                      date_from=fmt_date(ctx.date_from) if ctx.date_from is not None else None,
                      date_to=fmt_date(ctx.date_to) if ctx.date_to is not None else None,
                      by=by, filters=ctx.filters or None, top=top)
    return KpiResult(
        metric=metric, label_zh=METRICS[metric]["zh"], label_en=METRICS[metric]["en"], value=value,
        unit=METRICS[metric]["unit"], by=by, breakdown=bd, details=details,
        as_of=fmt_date(ctx.as_of),
        date_from=fmt_date(ctx.date_from) if ctx.date_from is not None else None,
        date_to=fmt_date(ctx.date_to) if ctx.date_to is not None else None,
        filters=ctx.filters, provenance=prov, figure_json=None if fig is None else json.dumps(fig, ensure_ascii=False) if isinstance(fig, dict)
        else fig.to_json())


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
