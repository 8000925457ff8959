"""Customers who placed any order in a period: `CustomerConditions`' ordered_from / ordered_to, and
segment_members / at_risk_customers / draft_care_batch with them, against the order lines read with pandas."""
from __future__ import annotations

import pandas as pd
import pytest

from assistant.answers import render
from knowledge.errors import GuanxiError
from tools.customer_filter import CustomerConditions, ordered_in_period
from tools.registry import call_tool

OCT = {"ordered_from": "2026-10-01", "ordered_to": "2026-10-31"}


@pytest.fixture(scope="module")
def lines(routing_ws) -> pd.DataFrame:
    o = routing_ws.table("orders").assign(customer_id=lambda d: d["customer_id"].astype(str))
    return o.assign(day=pd.to_datetime(o["order_date"]))


def _who(lines, start, end) -> set[str]:
    return set(lines.loc[(lines["day"] >= start) & (lines["day"] < end), "customer_id"])


def _call(settings, tool, **args) -> dict:
    return call_tool(tool, args, settings=settings, role="manager")


def test_conditions_keep_the_rows_that_ordered_and_say_the_period():
    people = pd.DataFrame({"gender": ["F", "M", "F"]})
    c = CustomerConditions(gender="F", **OCT)
    assert list(people.index[c.keep(people, pd.Timestamp("2026-11-01"), ordered=[True, True, False])]) == [0]
    with pytest.raises(GuanxiError, match="orders in the period"):
        c.keep(people, pd.Timestamp("2026-11-01"))
    with pytest.raises(GuanxiError, match="ordered_to needs ordered_from"):
        CustomerConditions(ordered_to="2026-10-31").keep(people, pd.Timestamp("2026-11-01"), ordered=[True] * 3)
    assert c.words(zh=True) == ["女性", "2026-10-01 至 2026-10-31 下过单"]
    assert c.words(zh=False) == ["female", "ordered from 2026-10-01 to 2026-10-31"]
    assert CustomerConditions(ordered_from="2026-10-01").words(zh=False) == ["ordered from 2026-10-01 to today"]


def test_ordered_in_period_reads_the_orders(routing_ws, lines):
    ids = pd.Index(sorted(set(lines["customer_id"])))
    oct_, nov = pd.Timestamp("2026-10-01"), pd.Timestamp("2026-11-01")
    got = set(ids[ordered_in_period(routing_ws, "2026-10-01", "2026-10-31", ids)])
    assert got == _who(lines, oct_, nov) and 0 < len(got) < len(ids)
    one_day = set(ids[ordered_in_period(routing_ws, "2026-10-31", "2026-10-31", ids)])   # the last day is included
    assert one_day == _who(lines, pd.Timestamp("2026-10-31"), nov)
    with pytest.raises(GuanxiError, match="before ordered_from"):
        ordered_in_period(routing_ws, "2026-10-31", "2026-10-01", ids)
    with pytest.raises(GuanxiError, match="must be dates"):
        ordered_in_period(routing_ws, "last month", None, ids)


def test_segment_members_lists_who_ordered_as_the_customers_metric_counts(routing_settings, routing_ws, lines):
    ordered = _who(lines, pd.Timestamp("2026-10-01"), pd.Timestamp("2026-11-01"))
    r = _call(routing_settings, "segment_members", segment="all", top=5, **OCT)
    assert r["count"] == len(ordered) > 0 and {m["customer_id"] for m in r["members"]} <= ordered
    assert r["customer_conditions"] == OCT
    assert "2026-10-01 至 2026-10-31 下过单" in render("segment_members", r, "zh")
    assert "ordered from 2026-10-01 to 2026-10-31" in render("segment_members", r, "en")
    metric = _call(routing_settings, "query_metrics", metric="customers", date_from="2026-10-01", date_to="2026-10-31")
    assert metric["value"] == r["count"]
    rfm = routing_ws.artefact("rfm").assign(customer_id=lambda d: d["customer_id"].astype(str))
    champs = _call(routing_settings, "segment_members", segment="Champions", **OCT)
    assert champs["count"] == len(set(rfm.loc[rfm["segment"] == "Champions", "customer_id"]) & ordered)


def test_the_at_risk_list_and_the_batch_take_the_ordered_condition(routing_settings, routing_ws, lines):
    q3 = _who(lines, pd.Timestamp("2026-07-01"), pd.Timestamp("2026-10-01"))
    churn = routing_ws.artefact("churn").assign(customer_id=lambda d: d["customer_id"].astype(str))
    r = _call(routing_settings, "at_risk_customers", ordered_from="2026-07-01", ordered_to="2026-09-30", top=5)
    assert r["customers_considered"] == len(set(churn["customer_id"]) & q3) > 0
    assert {c["customer_id"] for c in r["customers"]} <= q3
    assert "2026-07-01 至 2026-09-30 下过单的客户中" in render("at_risk_customers", r, "zh")
    b = _call(routing_settings, "draft_care_batch", segment="all", occasion="vip_thanks", **OCT)
    drafted = set(pd.read_csv(b["path"], dtype=str, encoding="utf-8-sig")["customer_id"])
    assert drafted == _who(lines, pd.Timestamp("2026-10-01"), pd.Timestamp("2026-11-01"))
    assert "下过单" in render("draft_care_batch", b, "zh")
