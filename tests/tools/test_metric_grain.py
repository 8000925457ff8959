"""The shortcuts of the metric SQL answer exactly as the plain reading does: a whole-history
question by customer attributes reads one row per customer (`MetricSource.customer_sums`), one by
category or month one row per category and month (`category_sums`) — each either opened from the
build's Parquet (`tools.metric_sums`) or made from the lines; the largest order is looked for only
among the orders that can be it; periods are labelled by number."""
from __future__ import annotations

import pandas as pd
import pytest

from tools.kpi import kpi
from tools.kpi_tools import metric_source
from tools.metric_sql import MetricSource
from tools.metric_sums import prebuilt_sums

QUESTIONS = [
    ("sales", None, {}), ("sales", "province", {}), ("orders", "city", {}), ("customers", "city", {}),
    ("aov", None, {"segment": "Champions"}), ("aov", "gender", {}), ("units", "age_band", {}),
    ("sales_per_customer", "segment", {}), ("orders_per_customer", "level", {"province": "浙江省"}),
    ("repurchase_rate", "channel", {}), ("repurchase_rate", None, {"age": (30, 45)}),
    ("average_age", "province", {}), ("clv_mean", "segment", {}), ("customers", "cluster", {}),
]
#: by month, quarter or year, or over whole months: the per-customer monthly sums
MONTHLY = [
    ("customers", "month", {}, {}), ("repurchase_rate", "month", {}, {}),
    ("repurchase_rate", "quarter", {"province": "浙江省"}, {}), ("orders", "year", {}, {}),
    ("aov", "province", {}, {"date_from": "2026-08-01", "date_to": "2026-10-31"}),
    ("customers", None, {"segment": "Champions"}, {"date_from": "2026-10-01"}),
    ("orders_per_customer", "month", {}, {"date_from": "2026-01-01", "date_to": "2026-06-30"}),
    ("sales", "province", {}, {"date_from": "2026-10-01", "date_to": "2026-10-31"}),
    ("complaint_rate", "month", {}, {}),   # distinct orders by month: not from the per-category sums
]
#: sums and distinct orders by category or period, over whole months: the per-category monthly sums
BY_CATEGORY = [
    ("sales", "category", {}, {}), ("sales", "month", {}, {}), ("units", "quarter", {"category": "茶叶"}, {}),
    ("units", "category", {}, {"date_from": "2026-08-01", "date_to": "2026-10-31"}),
    ("sales", None, {}, {"date_from": "2026-10-01", "date_to": "2026-10-31"}),
    ("sales", "year", {"category": ["茶叶", "零食"]}, {"date_from": "2025-01-01"}),
    ("complaint_rate", "category", {}, {}), ("complaint_rate", "category", {"category": ["茶叶", "零食"]}, {}),
    ("complaint_rate", "category", {}, {"date_from": "2026-07-01", "date_to": "2026-09-30"}),
]
SOURCES = ["built", "made"]   # the build's sums opened, or made from the lines by the process
_MADE: dict = {}


def _line_by_line(ws) -> MetricSource:
    src = metric_source(ws)
    return MetricSource(src.tables, own_metrics=src.own_metrics, own_dims=src.own_dims, use_sums=False)


def _fast(ws, how: str) -> MetricSource:
    src = metric_source(ws)
    assert src.prebuilt is not None   # the demo's build wrote its sums
    if how == "built":
        return src
    if id(ws) not in _MADE:
        _MADE[id(ws)] = MetricSource(src.tables, own_metrics=src.own_metrics, own_dims=src.own_dims)
    return _MADE[id(ws)]


def _same(fast, slow, grain: str):
    assert f" {grain}sums of the lines)" in fast.provenance
    rows = int(fast.provenance.split("(read as ")[1].split(" ")[0].replace(",", ""))
    assert 0 < rows < fast.rows_scanned["orders"]
    assert "sums of the lines" not in slow.provenance
    assert fast.provenance.split(" (read as ")[0] == slow.provenance
    assert fast.value == pytest.approx(slow.value, rel=1e-12)
    numbers = {k for k, v in slow.details.items() if isinstance(v, (int, float))}
    assert {k: fast.details[k] for k in numbers} == pytest.approx({k: slow.details[k] for k in numbers}, rel=1e-12)
    assert {k: v for k, v in fast.details.items() if k not in numbers} == \
        {k: v for k, v in slow.details.items() if k not in numbers}
    if fast.by:
        pd.testing.assert_frame_equal(fast.breakdown, slow.breakdown, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("how", SOURCES)
@pytest.mark.parametrize("metric, by, filters", QUESTIONS)
def test_per_customer_sums_answer_as_the_lines_do(routing_ws, metric, by, filters, how):
    fast = kpi(_fast(routing_ws, how), metric, by=by, filters=filters)
    assert any("FROM cg_" in sql for sql in fast.sql)
    _same(fast, kpi(_line_by_line(routing_ws), metric, by=by, filters=filters), "per-customer ")


@pytest.mark.parametrize("how", SOURCES)
@pytest.mark.parametrize("metric, by, filters, window", MONTHLY)
def test_monthly_sums_answer_as_the_lines_do(routing_ws, metric, by, filters, window, how):
    fast = kpi(_fast(routing_ws, how), metric, by=by, filters=filters, **window)
    assert any("FROM cm_" in sql for sql in fast.sql)
    _same(fast, kpi(_line_by_line(routing_ws), metric, by=by, filters=filters, **window), "per-customer monthly ")


@pytest.mark.parametrize("how", SOURCES)
@pytest.mark.parametrize("metric, by, filters, window", BY_CATEGORY)
def test_category_sums_answer_as_the_lines_do(routing_ws, metric, by, filters, window, how):
    fast = kpi(_fast(routing_ws, how), metric, by=by, filters=filters, **window)
    slow = kpi(_line_by_line(routing_ws), metric, by=by, filters=filters, **window)
    assert any("FROM cat_" in sql for sql in fast.sql) and not any("FROM cat_" in sql for sql in slow.sql)
    _same(fast, slow, "per-category monthly ")
    assert (fast.filters, fast.sql[-1].count("JOIN")) == (slow.filters, 0)


def test_the_build_sums_are_opened_not_made(routing_ws):
    """A process over the build's sums reads no order line until a question needs the lines."""
    base = metric_source(routing_ws)
    src = MetricSource(base.tables, prebuilt=prebuilt_sums(routing_ws))
    for metric, by in (("sales", "province"), ("repurchase_rate", "month"), ("complaint_rate", "category"),
                       ("orders", None)):
        kpi(src, metric, by=by)
    assert not src.has_lines()
    assert kpi(src, "sales", by="product").value == kpi(_line_by_line(routing_ws), "sales").value
    assert src.has_lines()


PERIODS = [("units", "product", {"date_from": "2026-07-01", "date_to": "2026-09-30"}),
           ("sales", "order_channel", {"date_from": "2026-10-01", "date_to": "2026-10-31"}),
           ("largest_order", "category", {"date_from": "2026-10-01", "date_to": "2026-10-31"}),
           ("orders", "day", {"date_from": "2026-10-05", "date_to": "2026-10-20"}),
           ("sales_per_day", "weekday", {"date_from": "2026-09-01"}),
           ("customers", "product", {"date_from": "2026-10-01", "date_to": "2026-10-31"})]


@pytest.mark.parametrize("metric, by, window", PERIODS)
def test_a_period_of_lines_is_read_from_the_parquet_file_as_from_the_table(routing_ws, metric, by, window):
    """Before any question loads the lines, a period's lines are read from the orders' Parquet file."""
    src = MetricSource(metric_source(routing_ws).tables, prebuilt=prebuilt_sums(routing_ws))
    fast = kpi(src, metric, by=by, **window)
    slow = kpi(_line_by_line(routing_ws), metric, by=by, **window)
    assert not src.has_lines() and any("FROM lines_pq" in sql for sql in fast.sql)
    assert (fast.value, fast.details, fast.provenance) == (slow.value, slow.details, slow.provenance)
    pd.testing.assert_frame_equal(fast.breakdown, slow.breakdown, check_exact=False, rtol=1e-12)


def test_sums_built_for_another_day_are_not_read(routing_ws):
    """Asked as of another day, a source makes that day's sums from the lines."""
    src = MetricSource(metric_source(routing_ws).tables, prebuilt=prebuilt_sums(routing_ws))
    fast = kpi(src, "sales", by="province", as_of="2026-06-01")
    assert any("FROM cg_20260601" in sql for sql in fast.sql) and src.has_lines()
    _same(fast, kpi(_line_by_line(routing_ws), "sales", by="province", as_of="2026-06-01"), "per-customer ")


def test_the_build_writes_only_sums_that_add_up(tmp_path):
    """An order shared by two customers: no per-customer or monthly table is written, nor read."""
    orders = pd.DataFrame({"order_id": ["o1", "o1", "o2"], "customer_id": ["a", "b", "b"],
                           "order_date": pd.to_datetime(["2025-03-01", "2025-03-01", "2025-03-02"]),
                           "amount": [10.0, 20.0, 40.0], "category": ["茶叶", "零食", "茶叶"]})
    paths = {g: tmp_path / f"{g}.parquet" for g in ("customer", "customer_month", "category_month")}
    facts = MetricSource({"orders": orders}).export_sums(pd.Timestamp("2025-04-01"), paths)
    assert facts["most_lines"] == 2 and facts["first_day"] == "2025-03-01 00:00:00"
    assert {g: t["usable"] for g, t in facts["tables"].items()} == dict.fromkeys(paths, False)
    assert not any(p.exists() for p in paths.values())
    ok = orders.assign(order_id=["o1", "o3", "o2"])
    facts = MetricSource({"orders": ok}).export_sums(pd.Timestamp("2025-04-01"), paths)
    assert {g: t["rows"] for g, t in facts["tables"].items()} == {"customer": 2, "customer_month": 2, "category_month": 2}
    built = {**facts, "tables": {g: {**t, "path": str(paths[g])} for g, t in facts["tables"].items()}}
    src = MetricSource({"orders": ok}, prebuilt=built)
    r = kpi(src, "sales", by="category", as_of="2025-04-01")
    assert dict(zip(r.breakdown["category"], r.breakdown["value"])) == {"茶叶": 50.0, "零食": 20.0}
    assert not src.has_lines()


@pytest.mark.parametrize("by", ["month", "day"])
def test_a_category_filter_with_a_customer_attribute_reads_the_lines(routing_ws, by):
    r = kpi(metric_source(routing_ws), "sales", by=by, filters={"category": "茶叶", "province": "浙江省"})
    assert not any("FROM cat_" in sql for sql in r.sql)


@pytest.mark.parametrize("metric, by", [("sales", "product"), ("orders", "day"), ("sales", "weekday"),
                                        ("orders", "category"), ("customers", "category")])
def test_questions_about_the_lines_themselves_read_the_lines(routing_ws, metric, by):
    r = kpi(metric_source(routing_ws), metric, by=by)
    assert not any("FROM cg_" in sql or "FROM cm_" in sql or "FROM cat_" in sql for sql in r.sql)
    assert "sums of the lines" not in r.provenance


@pytest.mark.parametrize("window", [{"date_from": "2026-10-05", "date_to": "2026-10-31"},
                                    {"date_from": "2026-10-01", "date_to": "2026-10-20"}])
@pytest.mark.parametrize("by", ["province", "category"])
def test_a_period_not_of_whole_months_reads_the_lines(routing_ws, window, by):
    r = kpi(metric_source(routing_ws), "sales", by=by, **window)
    assert not any("FROM cg_" in sql or "FROM cm_" in sql or "FROM cat_" in sql for sql in r.sql)


def test_an_order_shared_by_two_customers_is_counted_once():
    """Distinct orders do not add up over customers when one order id has lines of two customers:
    then the lines are read."""
    orders = pd.DataFrame({"order_id": ["o1", "o1", "o2"], "customer_id": ["a", "b", "b"],
                           "order_date": pd.to_datetime(["2025-03-01", "2025-03-01", "2025-03-02"]),
                           "amount": [10.0, 20.0, 40.0]})
    customers = pd.DataFrame({"customer_id": ["a", "b"], "province": ["浙江省", "浙江省"]})
    r = kpi(MetricSource({"orders": orders, "customers": customers}), "orders", by="province", as_of="2025-04-01")
    assert r.value == 2
    assert not any("FROM cg_" in sql for sql in r.sql)
    shared_free = orders.assign(order_id=["o1", "o3", "o2"])
    r = kpi(MetricSource({"orders": shared_free, "customers": customers}), "orders", by="province", as_of="2025-04-01")
    assert r.value == 3 and any("FROM cg_" in sql for sql in r.sql)


def test_an_order_over_two_months_is_counted_once_by_category():
    """An order whose lines fall in two months: the per-category monthly sums would count it twice."""
    orders = pd.DataFrame({"order_id": ["o1", "o1", "o2"], "customer_id": ["a", "a", "b"],
                           "order_date": pd.to_datetime(["2025-02-28 23:59", "2025-03-01 00:01", "2025-03-02 00:00"]),
                           "amount": [10.0, 20.0, 40.0], "category": ["茶叶", "茶叶", "茶叶"]})
    r = kpi(MetricSource({"orders": orders}), "sales", by="category", as_of="2025-04-01")
    assert not any("FROM cat_" in sql for sql in r.sql) and r.value == 70.0


def _largest_by_pandas(orders: pd.DataFrame) -> tuple[str, float]:
    totals = orders.groupby("order_id")["amount"].sum()
    return totals.idxmax(), float(totals.max())


@pytest.mark.parametrize("window", [{}, {"date_from": "2026-10-01", "date_to": "2026-10-31"}])
def test_the_largest_order_is_the_largest_total(routing_ws, window):
    r = kpi(metric_source(routing_ws), "largest_order", **window)
    o = routing_ws.table("orders")
    o = o.loc[o["order_date"] < routing_ws.as_of()]
    if window:
        o = o.loc[(o["order_date"] >= window["date_from"]) & (o["order_date"] < "2026-11-01")]
    order_id, total = _largest_by_pandas(o)
    assert (r.details["order_id"], r.value) == (order_id, pytest.approx(total))
    assert r.details["orders"] == o["order_id"].nunique()


def test_the_largest_order_with_returns_and_many_small_lines():
    """Negative lines, an order of many small lines above one of a single large line."""
    orders = pd.DataFrame({"order_id": ["big", "big", "many", "many", "many", "many", "solo"],
                           "customer_id": ["a", "a", "b", "b", "b", "b", "c"],
                           "order_date": pd.to_datetime(["2025-03-01"] * 7),
                           "amount": [100.0, -95.0, 30.0, 30.0, 30.0, 30.0, 90.0]})
    r = kpi({"orders": orders}, "largest_order", as_of="2025-04-01")
    assert (r.details["order_id"], r.value, r.details["lines"], r.details["orders"]) == ("many", 120.0, 4, 3)


@pytest.mark.parametrize("by", ["month", "quarter", "year"])
def test_periods_are_labelled_as_their_dates_say(routing_ws, by):
    r = kpi(metric_source(routing_ws), "orders", by=by)
    o = routing_ws.table("orders")
    d = o.loc[o["order_date"] < routing_ws.as_of(), "order_date"]
    label = {"month": d.dt.strftime("%Y-%m"), "year": d.dt.strftime("%Y"),
             "quarter": d.dt.year.astype(str) + "-Q" + d.dt.quarter.astype(str)}[by]
    want = o.loc[d.index].groupby(label)["order_id"].nunique().to_dict()
    assert dict(zip(r.breakdown[by], r.breakdown["value"])) == want


@pytest.mark.parametrize("how", SOURCES)
@pytest.mark.parametrize("by", ["category", "province", None])
def test_complaint_rate_counts_the_orders_from_the_sums(routing_ws, by, how):
    fast = kpi(_fast(routing_ws, how), "complaint_rate", by=by)
    slow = kpi(_line_by_line(routing_ws), "complaint_rate", by=by)
    assert any("FROM cg_" in sql for sql in fast.sql) and not any("FROM cg_" in sql for sql in slow.sql)
    assert (fast.value, fast.details) == (slow.value, slow.details)
    if by:
        pd.testing.assert_frame_equal(fast.breakdown, slow.breakdown)


@pytest.mark.parametrize("metric, by, filters", [("sales", "segment_cn8", {}), ("customers", "cluster", {}),
                                                 ("average_age", "age_band", {"tier": "高价值客户"}),
                                                 ("aov", "province", {"segment": "Champions"}),
                                                 ("orders", "gender", {"age": (30, 45)}),
                                                 ("complaint_rate", "province", {}), ("satisfaction", "kind", {}),
                                                 ("resolution_time", "feedback_channel", {"segment": "Champions"})])
def test_tables_read_by_duckdb_from_their_files_answer_as_their_dataframes(routing_ws, metric, by, filters):
    """customers, feedback, rfm and clusters read by DuckDB from their files answer as their DataFrames."""
    files = metric_source(routing_ws)
    frames = MetricSource({**{n: files.tables[n] for n in ("orders", "clv", "churn")},
                           **{n: routing_ws.artefact(n) for n in ("rfm", "clusters")},
                           **{n: routing_ws.table(n) for n in ("customers", "feedback")}}, use_sums=False)
    fast = kpi(MetricSource(files.tables, use_sums=False), metric, by=by, filters=filters)
    slow = kpi(frames, metric, by=by, filters=filters)
    assert type(files.tables["customers"]).__name__ == "ParquetTable" != type(frames.tables["customers"]).__name__
    assert (fast.value, fast.details, fast.provenance, fast.filters) == (slow.value, slow.details, slow.provenance, slow.filters)
    pd.testing.assert_frame_equal(fast.breakdown, slow.breakdown)
