"""The shortcuts of the metric SQL answer exactly as the plain reading does: a whole-history
question by customer attributes reads one row per customer (`MetricSource.customer_sums`); the
largest order is looked for only among the orders that can be it; periods are labelled by number."""
from __future__ import annotations

import pandas as pd
import pytest

from tools.kpi import kpi
from tools.kpi_tools import metric_source
from tools.metric_sql import MetricSource

QUESTIONS = [
    ("sales", None, {}), ("sales", "province", {}), ("orders", "city", {}), ("customers", "city", {}),
    ("aov", None, {"segment": "Champions"}), ("aov", "gender", {}), ("units", "age_band", {}),
    ("sales_per_customer", "segment", {}), ("orders_per_customer", "level", {"province": "浙江省"}),
    ("repurchase_rate", "channel", {}), ("repurchase_rate", None, {"age": (30, 45)}),
    ("average_age", "province", {}), ("clv_mean", "segment", {}), ("customers", "cluster", {}),
]
#: by month, quarter or year, or over whole months: the per-customer monthly sums
MONTHLY = [
    ("sales", "month", {}, {}), ("customers", "month", {}, {}), ("repurchase_rate", "month", {}, {}),
    ("repurchase_rate", "quarter", {"province": "浙江省"}, {}), ("orders", "year", {}, {}),
    ("aov", "province", {}, {"date_from": "2026-08-01", "date_to": "2026-10-31"}),
    ("customers", None, {"segment": "Champions"}, {"date_from": "2026-10-01"}),
    ("orders_per_customer", "month", {}, {"date_from": "2026-01-01", "date_to": "2026-06-30"}),
]


def _line_by_line(ws) -> MetricSource:
    src = metric_source(ws)
    return MetricSource(src.tables, own_metrics=src.own_metrics, own_dims=src.own_dims, use_sums=False)


def _same(fast, slow, grain: str):
    assert f" per-customer {grain}sums of the lines)" in fast.provenance
    rows = int(fast.provenance.split("(read as ")[1].split(" ")[0].replace(",", ""))
    assert 0 < rows < fast.rows_scanned["orders"]
    assert "per-customer" not in slow.provenance
    assert fast.value == pytest.approx(slow.value, rel=1e-12)
    numbers = {k for k, v in slow.details.items() if isinstance(v, (int, float))}
    assert {k: fast.details[k] for k in numbers} == pytest.approx({k: slow.details[k] for k in numbers}, rel=1e-12)
    assert {k: v for k, v in fast.details.items() if k not in numbers} == \
        {k: v for k, v in slow.details.items() if k not in numbers}
    if fast.by:
        pd.testing.assert_frame_equal(fast.breakdown, slow.breakdown, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("metric, by, filters", QUESTIONS)
def test_per_customer_sums_answer_as_the_lines_do(routing_ws, metric, by, filters):
    fast = kpi(metric_source(routing_ws), metric, by=by, filters=filters)
    assert any("FROM cg_" in sql for sql in fast.sql)
    _same(fast, kpi(_line_by_line(routing_ws), metric, by=by, filters=filters), "")


@pytest.mark.parametrize("metric, by, filters, window", MONTHLY)
def test_monthly_sums_answer_as_the_lines_do(routing_ws, metric, by, filters, window):
    fast = kpi(metric_source(routing_ws), metric, by=by, filters=filters, **window)
    assert any("FROM cm_" in sql for sql in fast.sql)
    _same(fast, kpi(_line_by_line(routing_ws), metric, by=by, filters=filters, **window), "monthly ")


@pytest.mark.parametrize("metric, by", [("sales", "category"), ("orders", "day"), ("sales", "weekday"), ("sales", "product")])
def test_questions_about_the_lines_themselves_read_the_lines(routing_ws, metric, by):
    r = kpi(metric_source(routing_ws), metric, by=by)
    assert not any("FROM cg_" in sql or "FROM cm_" in sql for sql in r.sql)
    assert "per-customer" not in r.provenance


@pytest.mark.parametrize("window", [{"date_from": "2026-10-05", "date_to": "2026-10-31"},
                                    {"date_from": "2026-10-01", "date_to": "2026-10-20"}])
def test_a_period_not_of_whole_months_reads_the_lines(routing_ws, window):
    r = kpi(metric_source(routing_ws), "sales", by="province", **window)
    assert not any("FROM cg_" in sql or "FROM cm_" in sql for sql in r.sql)


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


@pytest.mark.parametrize("by", ["category", "province", None])
def test_complaint_rate_counts_the_orders_from_the_sums(routing_ws, by):
    fast = kpi(metric_source(routing_ws), "complaint_rate", by=by)
    slow = kpi(_line_by_line(routing_ws), "complaint_rate", by=by)
    assert any("FROM cg_" in sql for sql in fast.sql) and not any("FROM cg_" in sql for sql in slow.sql)
    assert (fast.value, fast.details) == (slow.value, slow.details)
    if by:
        pd.testing.assert_frame_equal(fast.breakdown, slow.breakdown)
