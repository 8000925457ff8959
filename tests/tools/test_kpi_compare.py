"""New KPI metrics (units, sales per customer, largest order, average age), segment and product
dimensions, and comparisons / explanations — each checked against plain pandas on the demo tables."""
from __future__ import annotations

import pandas as pd
import pytest

from knowledge.errors import GuanxiError
from tools.kpi import kpi
from tools.kpi_compare import compare_kpi, contributions, resolve_windows


@pytest.fixture(scope="module")
def tables(routing_ws):
    return {"orders": routing_ws.table("orders"), "customers": routing_ws.table("customers"),
            "feedback": routing_ws.table("feedback"), "rfm": routing_ws.artefact("rfm"),
            "clusters": routing_ws.artefact("clusters")}


@pytest.fixture(scope="module")
def lines(tables, routing_ws):
    o = tables["orders"].copy()
    o["order_date"] = pd.to_datetime(o["order_date"])
    return o.loc[o["order_date"] < routing_ws.as_of()]


def test_units_by_product_are_the_quantities_sold(tables, lines):
    r = kpi(tables, "units", by="product", top=5)
    want = lines.groupby("product_name")["quantity"].sum().sort_values(ascending=False)
    assert r.value == int(lines["quantity"].sum())
    got = r.breakdown.set_index("product")["value"]
    assert list(got.values) == list(want.values[:5])


def test_largest_order_names_its_customer(tables, lines):
    r = kpi(tables, "largest_order")
    tot = lines.groupby("order_id")["amount"].sum()
    assert r.value == pytest.approx(tot.max())
    oid = r.details["order_id"]
    assert tot[oid] == pytest.approx(tot.max())
    assert r.details["customer_id"] == str(lines.loc[lines["order_id"] == oid, "customer_id"].iloc[0])


def test_sales_per_customer_and_average_age_of_a_segment(tables, lines, routing_ws):
    rfm = tables["rfm"]
    seg = str(rfm["segment"].value_counts().index[0])
    ids = set(rfm.loc[rfm["segment"] == seg, "customer_id"].astype(str))
    mine = lines.loc[lines["customer_id"].astype(str).isin(ids)]
    r = kpi(tables, "sales_per_customer", filters={"segment": seg})
    assert r.value == pytest.approx(mine["amount"].sum() / mine["customer_id"].nunique())
    age = kpi(tables, "average_age", filters={"segment": seg})
    c = tables["customers"].assign(customer_id=tables["customers"]["customer_id"].astype(str))
    c = c.drop_duplicates("customer_id").set_index("customer_id")
    b = pd.to_datetime(c.loc[sorted(set(mine["customer_id"].astype(str))), "birthday"], errors="coerce")
    a = routing_ws.as_of()
    years = a.year - b.dt.year - ((a.month < b.dt.month) | ((a.month == b.dt.month) & (a.day < b.dt.day))).astype(int)
    assert age.value == pytest.approx(years.dropna().mean())


def test_windows_of_a_comparison():
    cur, prev = resolve_windows("previous_period", None, None, "2026-11-01")
    assert (str(cur.start.date()), str(cur.end.date()), prev.label) == ("2026-10-01", "2026-10-31", "2026-09")
    cur, prev = resolve_windows("previous_period", None, None, "2026-11-15")   # November is not over
    assert cur.label == "2026-10"
    _, prev = resolve_windows("previous_period", "2026-07-01", "2026-09-30", "2026-11-01")
    assert (str(prev.start.date()), str(prev.end.date())) == ("2026-04-01", "2026-06-30")
    _, prev = resolve_windows("same_period_last_year", "2024-02-01", "2024-02-29", "2026-11-01")
    assert (str(prev.start.date()), str(prev.end.date())) == ("2023-02-01", "2023-02-28")
    _, prev = resolve_windows("previous_period", "2026-10-05", "2026-10-11", "2026-11-01")
    assert (str(prev.start.date()), str(prev.end.date())) == ("2026-09-28", "2026-10-04")
    with pytest.raises(GuanxiError, match="unknown comparison"):
        resolve_windows("last_decade", None, None, "2026-11-01")


def test_a_comparison_has_both_values_and_the_change(tables, lines, routing_ws):
    r = compare_kpi(tables, "sales", "previous_period", as_of=routing_ws.as_of())
    c = r.comparison
    cur = lines.loc[(lines["order_date"] >= c["current_from"]) & (lines["order_date"] < pd.Timestamp(c["current_to"]) + pd.Timedelta(days=1)), "amount"].sum()
    prev = lines.loc[(lines["order_date"] >= c["previous_from"]) & (lines["order_date"] < pd.Timestamp(c["previous_to"]) + pd.Timedelta(days=1)), "amount"].sum()
    assert c["current"] == pytest.approx(cur) and c["previous"] == pytest.approx(prev)
    assert c["change"] == pytest.approx(cur - prev) and c["change_pct"] == pytest.approx((cur - prev) / prev)
    assert c["current_period"] in r.figure_json and c["previous_period"] in r.figure_json


def test_an_explanation_adds_up_to_the_change(tables, routing_ws):
    r = compare_kpi(tables, "sales", "previous_period", as_of=routing_ws.as_of(), explain_by=("category", "province"))
    for dim, rows in r.contributions.items():
        assert sum(x["delta"] for x in rows) == pytest.approx(r.comparison["change"]), dim
        deltas = [abs(x["delta"]) for x in rows if x[dim] != "其他 other"]
        assert deltas == sorted(deltas, reverse=True)
    with pytest.raises(GuanxiError, match="cannot be split"):
        cur, prev = resolve_windows("previous_period", None, None, routing_ws.as_of())
        contributions(tables, "aov", "category", cur, prev)
