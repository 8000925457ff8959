"""Comparisons and explanations of a KPI: this period against the previous one or the same period
last year, and a change decomposed into what each category / province / channel contributed.

Every value comes from `tools.kpi.kpi` (the one definition of each metric), run once per period.

- previous period: the window of the same length just before; a window of whole calendar months
  (a month, a quarter, a year) is compared with the same number of months before it.
- same period last year: the same days one year earlier (29 Feb → 28 Feb).
- period: an explicit second period (compare_from … compare_to), e.g. "2026年10月和2025年10月比".
- no period given: the last complete calendar month before the as-of date.
- change = current − previous; change_pct = change / previous (None when previous is 0 or missing).
- contributions: per group, current − previous; the groups' deltas sum exactly to the total change
  (groups beyond the top ones are summed as "其他 other"). Sales and units split over any dimension;
  orders and customers only over dimensions that put each order / customer in one group.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from knowledge.errors import GuanxiError
from tools.kpi import ADDITIVE_METRICS, UNKNOWN, KpiResult, dimension_labels, kpi, metric_labels, resolve_metric
from tools.kpi_rank import RANK_BASE, fair_first
from tools.metric_sql import MetricSource
from tools.results import fmt_date

__all__ = ["COMPARISONS", "Window", "resolve_windows", "compare_kpi", "contributions"]

COMPARISONS = ("previous_period", "same_period_last_year", "period")
OTHER = "其他 other"
# dimensions that put each order (each customer) in exactly one group, so their counts add up
_CUSTOMER_ATTRS = ("province", "city", "gender", "age_band", "channel", "segment", "segment_cn8", "tier", "cluster")
_PARTITIONS = {"orders": (*_CUSTOMER_ATTRS, "order_channel"), "customers": _CUSTOMER_ATTRS}


@dataclass(frozen=True)
class Window:
    start: pd.Timestamp   # first day
    end: pd.Timestamp     # last day (inclusive)

    @property
    def label(self) -> str:
        a, b = self.start, self.end
        if a.day == 1 and b == a + pd.offsets.MonthEnd(0):
            return a.strftime("%Y-%m")
        if a.day == 1 and a.month == 1 and b.month == 12 and b.day == 31 and a.year == b.year:
            return str(a.year)
        if a.day == 1 and a.month % 3 == 1 and b == a + pd.offsets.QuarterEnd(0):
            return f"{a.year}-Q{(a.month - 1) // 3 + 1}"
        return f"{fmt_date(a)}…{fmt_date(b)}"


def _whole_months(a: pd.Timestamp, b: pd.Timestamp) -> int | None:
    """Number of calendar months when [a, b] is made of whole months, else None."""
    if a.day != 1 or b != b + pd.offsets.MonthEnd(0):
        return None
    return (b.year - a.year) * 12 + b.month - a.month + 1


def resolve_windows(compare: str, date_from, date_to, as_of, compare_from=None, compare_to=None) -> tuple[Window, Window]:
    """(current, comparison) windows for ``compare`` (see the module docstring)."""
    if compare not in COMPARISONS:
        raise GuanxiError(f"unknown comparison {compare!r}; expected one of {', '.join(COMPARISONS)}")
    as_of = pd.Timestamp(as_of).normalize()
    if compare == "period":
        if not (compare_from and compare_to and date_from):
            raise GuanxiError("compare=period needs both periods: date_from / date_to and compare_from / compare_to")
        other = Window(pd.Timestamp(compare_from).normalize(), pd.Timestamp(compare_to).normalize())
        if other.end < other.start:
            raise GuanxiError(f"the period {fmt_date(other.start)}…{fmt_date(other.end)} ends before it starts")
        cur, _ = resolve_windows("previous_period", date_from, date_to, as_of)
        return cur, other
    if date_from is None and date_to is None:
        last = (as_of - pd.Timedelta(days=1))
        if last + pd.Timedelta(days=1) != last + pd.offsets.MonthEnd(0) + pd.Timedelta(days=1):
            last = last.replace(day=1) - pd.Timedelta(days=1)   # the month is not over: the one before
        a, b = last.replace(day=1), last
    else:
        a = pd.Timestamp(date_from).normalize() if date_from else None
        b = pd.Timestamp(date_to).normalize() if date_to else as_of - pd.Timedelta(days=1)
        if a is None:
            raise GuanxiError("a comparison needs the period's first day (date_from)")
        b = min(b, as_of - pd.Timedelta(days=1))
        if b < a:
            raise GuanxiError(f"the period {fmt_date(a)}…{fmt_date(b)} ends before it starts")
    cur = Window(a, b)
    if compare == "same_period_last_year":
        return cur, Window(a - pd.DateOffset(years=1), b - pd.DateOffset(years=1))
    months = _whole_months(a, b)
    if months:
        pa = a - pd.DateOffset(months=months)
        return cur, Window(pa, a - pd.Timedelta(days=1))
    days = (b - a).days + 1
    return cur, Window(a - pd.Timedelta(days=days), a - pd.Timedelta(days=1))


def _run(tables, metric, window: Window, **kw) -> KpiResult:
    return kpi(tables, metric, date_from=fmt_date(window.start), date_to=fmt_date(window.end), **kw)


def _change(cur, prev) -> tuple[float | None, float | None]:
    if cur is None or prev is None:
        return None, None
    delta = float(cur) - float(prev)
    return delta, (delta / float(prev) if float(prev) else None)


def contributions(tables, metric: str, dim: str, current: Window, previous: Window, as_of=None,
                  filters: dict | None = None, top: int = 5, order: str = "size") -> list[dict]:
    """What each group of ``dim`` added to the change of an additive metric, biggest |delta| first
    (``order="growth"``: the biggest rises first; ``"decline"``: the biggest falls first); the rows
    (with "其他 other" for the rest) sum exactly to the total change."""
    own = _source(tables).own_metrics.get(metric) if _source(tables) is not None else None
    additive = metric in ADDITIVE_METRICS or (own is not None and own["aggregate"] == "sum" and not own.get("divide_by"))
    if not additive and not (metric in ("orders", "customers") and dim in _PARTITIONS[metric]):
        raise GuanxiError(f"a change of {metric} cannot be split by {dim} into parts that add up; "
                          f"explanations work for {', '.join(ADDITIVE_METRICS)} by any dimension, and for orders or "
                          f"customers by a customer attribute (orders also by order channel)")
    a = _run(tables, metric, current, by=dim, as_of=as_of, filters=filters).breakdown
    b = _run(tables, metric, previous, by=dim, as_of=as_of, filters=filters).breakdown
    a = a.set_index(dim)["value"] if a is not None else pd.Series(dtype=float)
    b = b.set_index(dim)["value"] if b is not None else pd.Series(dtype=float)
    both = pd.DataFrame({"current": a, "previous": b}).fillna(0.0)
    both["delta"] = both["current"] - both["previous"]
    key = both["delta"].abs() if order == "size" else both["delta"] if order == "growth" else -both["delta"]
    both = both.reindex(key.sort_values(ascending=False, kind="stable").index)
    total = float(both["delta"].sum())
    rows = []
    for label, r in both.head(top).iterrows():
        rows.append({dim: str(label), "current": float(r["current"]), "previous": float(r["previous"]),
                     "delta": float(r["delta"]), "share_of_change": float(r["delta"]) / total if total else None})
    rest = both.iloc[top:]
    if len(rest):
        d = float(rest["delta"].sum())
        rows.append({dim: OTHER, "current": float(rest["current"].sum()), "previous": float(rest["previous"].sum()),
                     "delta": d, "share_of_change": d / total if total else None, "groups": int(len(rest))})
    return rows


def compare_kpi(tables, metric: str, compare: str, by: str | None = None, date_from=None, date_to=None,
                as_of=None, top: int | None = None, filters: dict | None = None,
                explain_by: tuple[str, ...] = (), lowest: bool = False, compare_from=None,
                compare_to=None, ranked: bool = False, explain_order: str = "size") -> KpiResult:
    """The KPI in a period and in its comparison period, with the change (and, with ``by``, per
    group; with ``explain_by``, the change decomposed by those dimensions)."""
    src = _source(tables)
    metric = resolve_metric(metric, src.own_metrics if src is not None else None)
    if metric_labels(metric, src)["unit"] == "date":
        raise GuanxiError(f"{metric} is a date: it has no change to compare; ask for it in each period instead")
    cur_w, prev_w = resolve_windows(compare, date_from, date_to, as_of, compare_from, compare_to)
    cur = _run(tables, metric, cur_w, by=by, as_of=as_of, top=None, filters=filters)
    prev = _run(tables, metric, prev_w, by=by, as_of=as_of, top=None, filters=filters)
    delta, pct = _change(cur.value, prev.value)
    comparison = {"compare": compare, "current_period": cur_w.label, "previous_period": prev_w.label,
                  "current_from": fmt_date(cur_w.start), "current_to": fmt_date(cur_w.end),
                  "previous_from": fmt_date(prev_w.start), "previous_to": fmt_date(prev_w.end),
                  "current": cur.value, "previous": prev.value, "change": delta, "change_pct": pct}
    if by and cur.breakdown is not None:
        kept = [c for c in ("ranked", RANK_BASE.get(metric)) if c in cur.breakdown]   # a ratio's ranking (tools.kpi_rank)
        bd = cur.breakdown[[by, "value", *kept]].merge(
            prev.breakdown[[by, "value"]].rename(columns={"value": "previous"}) if prev.breakdown is not None
            else pd.DataFrame(columns=[by, "previous"]), on=by, how="outer")
        bd[by] = bd[by].fillna(UNKNOWN)
        bd["change"] = bd["value"] - bd["previous"]
        bd["change_pct"] = bd["change"] / bd["previous"].where(bd["previous"] != 0)
        bd = bd.sort_values(["value", by], ascending=[lowest, True], kind="stable", na_position="last")
        if by in ("month", "quarter", "year", "weekday", "day") and not ranked:
            bd = bd.sort_values(by, kind="stable")
        if "ranked" in bd:   # a ratio's groups too small to compare stay after the ranked ones
            cur.breakdown = fair_first(bd.drop(columns="ranked"), bd["ranked"], top)
        else:
            cur.breakdown = (bd.head(int(top)) if top else bd).reset_index(drop=True)
    explained = {}
    if explain_by:
        for dim in explain_by:
            try:
                explained[dim] = contributions(tables, metric, dim, cur_w, prev_w, as_of=as_of, filters=filters,
                                               order=explain_order)
            except GuanxiError as e:
                explained[dim] = {"error": str(e)}
    cur.sql = [*cur.sql, *prev.sql]
    cur.comparison = comparison
    cur.contributions = explained or None
    cur.date_from, cur.date_to = fmt_date(cur_w.start), fmt_date(cur_w.end)
    cur.provenance = (cur.provenance + f" · compared with {prev_w.label} ({compare.replace('_', ' ')}): "
                      + prev.provenance.split(" · ", 1)[-1])
    cur.figure_json = _figure(metric, by, cur, comparison, explained, src)
    return cur


def _source(tables) -> MetricSource | None:
    return tables if isinstance(tables, MetricSource) else None


def _figure(metric, by, res: KpiResult, comparison: dict, explained: dict, src=None) -> str | None:
    import json

    from tools.charts import CJK_FONT, bilingual_title
    lab = metric_labels(metric, src)
    layout = {"font": {"family": CJK_FONT, "size": 13}, "paper_bgcolor": "white", "plot_bgcolor": "white",
              "margin": {"l": 60, "r": 20, "t": 60, "b": 60}, "height": 420, "barmode": "group"}
    cur_l, prev_l = comparison["current_period"], comparison["previous_period"]
    first = next((d for d, rows in explained.items() if isinstance(rows, list) and rows), None)
    if first:
        rows = explained[first]
        dz, de = dimension_labels(first, src)["zh"], dimension_labels(first, src)["en"]
        data = [{"type": "bar", "x": [r[first] for r in rows], "y": [r["delta"] for r in rows],
                 "name": "变化 change"}]
        layout["title"] = {"text": bilingual_title(f"{lab['zh']}变化的来源（按{dz}）", f"What changed {lab['en']}, by {de}"),
                           "x": 0.01}
        layout["xaxis"] = {"type": "category"}
        layout["yaxis"] = {"title": {"text": f"{prev_l} → {cur_l}"}}
    elif by and res.breakdown is not None and len(res.breakdown):
        bd = res.breakdown
        x = [str(v) for v in bd[by]]
        data = [{"type": "bar", "x": x, "y": [None if pd.isna(v) else float(v) for v in bd["previous"]], "name": prev_l},
                {"type": "bar", "x": x, "y": [None if pd.isna(v) else float(v) for v in bd["value"]], "name": cur_l}]
        dz, de = dimension_labels(by, src)["zh"], dimension_labels(by, src)["en"]
        layout["title"] = {"text": bilingual_title(f"{lab['zh']}：{cur_l} 对比 {prev_l}（按{dz}）",
                                                   f"{lab['en']}: {cur_l} vs {prev_l} by {de}"), "x": 0.01}
        layout["xaxis"] = {"type": "category", "categoryorder": "array", "categoryarray": x}
    else:
        data = [{"type": "bar", "x": [prev_l, cur_l],
                 "y": [comparison["previous"], comparison["current"]], "name": lab["en"]}]
        layout["title"] = {"text": bilingual_title(f"{lab['zh']}：{cur_l} 对比 {prev_l}", f"{lab['en']}: {cur_l} vs {prev_l}"),
                           "x": 0.01}
        layout["xaxis"] = {"type": "category"}
    return json.dumps({"data": data, "layout": layout}, ensure_ascii=False, default=str)
