"""Customers by what they bought (or did not) in a period: `CustomerConditions`' bought conditions,
`buyers_of` over the order Parquet, and segment_members / at_risk_customers / draft_care_batch with them,
against the order lines read with pandas."""
from __future__ import annotations

import pandas as pd
import pytest

from assistant.answers import render
from knowledge.errors import GuanxiError
from tools.customer_filter import CustomerConditions, bought_in_period
from tools.orders_index import buyers_of
from tools.registry import call_tool

OCT = {"bought_from": "2026-10-01", "bought_to": "2026-10-31"}


@pytest.fixture(scope="module")
def lines(routing_ws) -> pd.DataFrame:
    o = routing_ws.table("orders").assign(customer_id=lambda d: d["customer_id"].astype(str))
    return o.assign(day=pd.to_datetime(o["order_date"]))


def _who(lines, word=None, category=None, start=None, end=None) -> set[str]:
    o = lines[lines["category"].astype(str) == category] if category else \
        lines[lines["product_name"].astype(str).str.contains(word, regex=False)]
    if start:
        o = o[o["day"] >= start]
    if end:
        o = o[o["day"] < end]
    return set(o["customer_id"])


def _call(settings, tool, **args) -> dict:
    return call_tool(tool, args, settings=settings, role="manager")


def test_conditions_keep_the_bought_rows_and_say_the_condition():
    people = pd.DataFrame({"gender": ["F", "M", "F"]})
    c = CustomerConditions(bought_product="绿茶", **OCT)
    assert list(people.index[c.keep(people, pd.Timestamp("2026-11-01"), bought=[True, False, True])]) == [0, 2]
    with pytest.raises(GuanxiError, match="order lines"):
        c.keep(people, pd.Timestamp("2026-11-01"))
    assert c.words(zh=True) == ["2026-10-01 至 2026-10-31 买过名称含「绿茶」的商品"]
    assert c.words(zh=False) == ["bought a product named like 绿茶 from 2026-10-01 to 2026-10-31"]
    lapsed = CustomerConditions(bought_category="咖啡", not_bought="true", **OCT)   # a model's JSON "true"
    assert lapsed.not_bought is True and CustomerConditions(bought_category="咖啡", not_bought="false").not_bought is False
    assert lapsed.words(zh=True) == ["2026-10-01 之前买过「咖啡」品类的商品、2026-10-01 至 2026-10-31 没有再买"]
    assert CustomerConditions(bought_category="咖啡", not_bought=True).words(zh=False) == ["ordered but never bought 咖啡 (category)"]
    assert CustomerConditions(bought_product="绿茶").asked() == {"bought_product": "绿茶"}   # not_bought False is not asked


def test_buyers_of_reads_the_order_lines(routing_ws, lines):
    start, end = pd.Timestamp("2026-10-01"), pd.Timestamp("2026-11-01")
    names = sorted(lines.loc[lines["product_name"].str.contains("绿茶"), "product_name"].unique())
    assert set(buyers_of(routing_ws, "product_name", names, start, end)) == _who(lines, "绿茶", start=start, end=end)
    assert set(buyers_of(routing_ws, "category", ["咖啡"], None, end)) == _who(lines, category="咖啡")
    assert len(buyers_of(routing_ws, "category", [], None, end)) == 0
    with pytest.raises(ValueError):
        buyers_of(routing_ws, "customer_id; DROP", ["x"], None, end)


def test_segment_members_lists_who_bought_and_who_did_not(routing_settings, routing_ws, lines):
    oct_, nov = pd.Timestamp("2026-10-01"), pd.Timestamp("2026-11-01")
    bought = _who(lines, "绿茶", start=oct_, end=nov)
    r = _call(routing_settings, "segment_members", segment="all", bought_product="绿茶", top=5, **OCT)
    assert r["count"] == len(bought) > 0 and {m["customer_id"] for m in r["members"]} <= bought
    assert r["customer_conditions"] == {"bought_product": "绿茶", **OCT}
    assert "2026-10-01 至 2026-10-31 买过名称含「绿茶」的商品" in render("segment_members", r, "zh")
    # every product holding the word, not only the one whose name begins with it
    assert _call(routing_settings, "segment_members", segment="all", bought_product="坚果")["count"] == len(_who(lines, "坚果"))
    lapsed = _who(lines, category="咖啡", end=oct_) - _who(lines, category="咖啡", start=oct_, end=nov)
    r = _call(routing_settings, "segment_members", segment="all", bought_category="咖啡", not_bought=True, **OCT)
    assert r["count"] == len(lapsed) > 0
    assert "did not buy it from 2026-10-01 to 2026-10-31" in render("segment_members", r, "en")
    never = set(lines["customer_id"]) - _who(lines, category="咖啡")
    assert _call(routing_settings, "segment_members", segment="all", bought_category="咖啡", not_bought=True)["count"] == len(never)
    champs = _call(routing_settings, "segment_members", segment="Champions", bought_product="绿茶")
    rfm = routing_ws.artefact("rfm").assign(customer_id=lambda d: d["customer_id"].astype(str))
    assert champs["count"] == len(set(rfm.loc[rfm["segment"] == "Champions", "customer_id"]) & _who(lines, "绿茶"))


def test_a_word_that_names_nothing_is_an_error_not_an_empty_list(routing_settings, routing_ws):
    with pytest.raises(GuanxiError, match="no product name contains '榴莲酥'"):
        _call(routing_settings, "segment_members", segment="all", bought_product="榴莲酥", **OCT)
    with pytest.raises(GuanxiError, match="no product category is"):
        _call(routing_settings, "at_risk_customers", bought_category="火箭")
    with pytest.raises(GuanxiError, match="one of bought_product"):
        bought_in_period(routing_ws, {"bought_product": "绿茶", "bought_category": "茶叶"}, pd.Index(["C1"]))
    with pytest.raises(GuanxiError, match="before bought_from"):
        _call(routing_settings, "segment_members", segment="all", bought_product="绿茶", bought_from="2026-10-31",
              bought_to="2026-10-01")


def test_the_at_risk_list_and_the_batch_take_the_bought_condition(routing_settings, routing_ws, lines):
    buyers = _who(lines, category="咖啡")
    churn = routing_ws.artefact("churn").assign(customer_id=lambda d: d["customer_id"].astype(str))
    r = _call(routing_settings, "at_risk_customers", bought_category="咖啡", top=5)
    assert r["customers_considered"] == len(set(churn["customer_id"]) & buyers)
    assert {c["customer_id"] for c in r["customers"]} <= buyers
    assert "买过「咖啡」品类的商品的客户中" in render("at_risk_customers", r, "zh")
    b = _call(routing_settings, "draft_care_batch", segment="all", occasion="vip_thanks", bought_product="绿茶", **OCT)
    drafted = set(pd.read_csv(b["path"], dtype=str, encoding="utf-8-sig")["customer_id"])
    assert drafted == _who(lines, "绿茶", start=pd.Timestamp("2026-10-01"), end=pd.Timestamp("2026-11-01"))
    assert "买过名称含「绿茶」的商品" in render("draft_care_batch", b, "zh")
