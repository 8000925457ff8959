"""A whole-history question by customer attributes reads one row per customer
(`MetricSource.customer_sums`) and answers exactly as reading every line does."""
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


def _first_day(ws) -> pd.Timestamp:
    return pd.Timestamp(ws.table("orders")["order_date"].min()).normalize()


@pytest.mark.parametrize("metric, by, filters", QUESTIONS)
def test_per_customer_sums_answer_as_the_lines_do(routing_ws, metric, by, filters):
    src = metric_source(routing_ws)
    fast = kpi(src, metric, by=by, filters=filters)
    assert "(as per-customer sums of the lines)" in fast.provenance
    assert any("FROM cg_" in sql for sql in fast.sql)
    # from the first day on: the same rows, read line by line
    slow = kpi(src, metric, by=by, filters=filters, date_from=_first_day(routing_ws))
    assert not any("FROM cg_" in sql for sql in slow.sql)
    assert fast.value == pytest.approx(slow.value, rel=1e-12)
    numbers = {k for k, v in slow.details.items() if isinstance(v, (int, float))}
    assert {k: fast.details[k] for k in numbers} == pytest.approx({k: slow.details[k] for k in numbers}, rel=1e-12)
    assert {k: v for k, v in fast.details.items() if k not in numbers} == \
        {k: v for k, v in slow.details.items() if k not in numbers}
    if by:
        pd.testing.assert_frame_equal(fast.breakdown, slow.breakdown, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("metric, by", [("sales", "category"), ("orders", "month"), ("sales", "product")])
def test_questions_about_the_lines_themselves_read_the_lines(routing_ws, metric, by):
    r = kpi(metric_source(routing_ws), metric, by=by)
    assert not any("FROM cg_" in sql for sql in r.sql)
    assert "per-customer" not in r.provenance


def test_a_period_reads_the_lines(routing_ws):
    r = kpi(metric_source(routing_ws), "sales", by="province", date_from="2026-10-01", date_to="2026-10-31")
    assert not any("FROM cg_" in sql for sql in r.sql)


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
