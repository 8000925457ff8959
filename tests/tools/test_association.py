"""Association rules: a hand-worked basket example, the published Groceries results, CRM queries, guards."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from knowledge.errors import GuanxiError
from tools.association import (baskets_from_orders, bought_together, default_min_support, mine_order_rules,
                               mine_rules, recommend_for_customer, top_rules)

FOUR = [["milk", "bread"], ["milk", "bread", "butter"], ["milk"], ["bread", "butter", "bread"]]


@pytest.fixture(scope="module")
def groceries(shared_data):
    with open(shared_data / "groceries" / "groceries.csv", encoding="utf-8") as f:
        return [line.rstrip("\n").split(",") for line in f]


@pytest.fixture(scope="module")
def groceries_rules(groceries):
    return mine_rules(groceries, min_support=0.001, min_confidence=0.5)


def _rule(rules, lhs, rhs):
    hit = rules[(rules["antecedents"] == frozenset(lhs)) & (rules["consequents"] == frozenset(rhs))]
    assert len(hit) == 1, f"{lhs} => {rhs} not found"
    return hit.iloc[0]


# --------------------------------------------------------------------------- by hand

def test_four_baskets_by_hand():
    # n=4; milk 3, bread 3, butter 2; milk&bread 2, bread&butter 2, milk&butter 1.
    rules = mine_rules(FOUR, min_support=0.5, min_confidence=0.6)
    assert [(set(a), set(c)) for a, c in zip(rules["antecedents"], rules["consequents"])] == [
        ({"butter"}, {"bread"}),   # lift 1.333, confidence 1
        ({"bread"}, {"butter"}),   # lift 1.333, confidence 2/3
        ({"bread"}, {"milk"}),     # lift 0.889; ties broken by the rule text
        ({"milk"}, {"bread"}),
    ]
    r = _rule(rules, {"butter"}, {"bread"})
    assert (r.support, r.confidence, r.lift, r.leverage, r["count"]) == pytest.approx((0.5, 1.0, 4 / 3, 0.125, 2))
    assert math.isinf(r.conviction)  # confidence 1: conviction is infinite, kept as inf
    r = _rule(rules, {"bread"}, {"butter"})
    assert (r.confidence, r.lift, r.conviction) == pytest.approx((2 / 3, 4 / 3, 1.5))
    assert _rule(rules, {"bread"}, {"milk"}).lift == pytest.approx((2 / 3) / 0.75)
    assert rules.attrs["n_baskets"] == 4 and "mine_rules" in rules.attrs["provenance"]


def test_thresholds_are_exact_on_counts():
    # 0.3 * 10 = 3.0000000000000004 in floating point: an itemset in 3 of 10 baskets still counts.
    baskets = [["a", "b"]] * 3 + [["a"]] * 3 + [["c"]] * 4
    rules = mine_rules(baskets, min_support=0.3, min_confidence=0.5)
    assert {(next(iter(a)), next(iter(c))) for a, c in zip(rules["antecedents"], rules["consequents"])} == {
        ("a", "b"), ("b", "a")}
    # confidence exactly at the threshold (3/6) is kept, just above it is not.
    assert len(mine_rules(baskets, 0.3, 0.5)) == 2 and len(mine_rules(baskets, 0.3, 0.5000001)) == 1


def test_items_are_kept_exactly_as_given():
    baskets = [["cream cheese ", "bread"], ["cream cheese ", "bread"], ["cream cheese"]]
    rules = mine_rules(baskets, 0.5, 0.5)
    assert frozenset({"cream cheese "}) in set(rules["antecedents"])
    assert frozenset({"cream cheese"}) not in set(rules["antecedents"])


# --------------------------------------------------------------------------- Groceries (arules)

def test_groceries_apriori_001_05_gives_the_published_5668_rules(groceries_rules):
    assert len(groceries_rules) == 5668
    top = groceries_rules.iloc[0]
    assert top.antecedents == frozenset({"Instant food products", "soda"})
    assert top.consequents == frozenset({"hamburger meat"})
    assert top.lift == pytest.approx(18.99565, abs=1e-5)
    assert (top.support, top.confidence) == pytest.approx((0.001220132, 0.6315789))
    assert groceries_rules["lift"].iloc[1:3].tolist() == pytest.approx([16.69779, 16.40807], abs=1e-5)


def test_groceries_lantz_006_025_minlen2_gives_463_rules(groceries):
    rules = mine_rules(groceries, min_support=0.006, min_confidence=0.25, min_len=2)
    assert len(rules) == 463
    top = rules.iloc[0]
    assert (set(top.antecedents), set(top.consequents)) == ({"herbs"}, {"root vegetables"})
    assert (top.support, top.confidence, top.lift) == pytest.approx((0.007015760, 0.43125, 3.956477))


def test_top_rules_and_recommendations(groceries_rules):
    by_conf = top_rules(groceries_rules, n=3, by="confidence")
    assert len(by_conf) == 3 and (by_conf["confidence"] == 1.0).all()
    recs = recommend_for_customer(groceries_rules, {"Instant food products", "soda", "whole milk"}, top=5)
    assert recs[0]["item"] == "hamburger meat" and recs[0]["because"] == ["Instant food products", "soda"]
    assert all(r["item"] not in {"Instant food products", "soda", "whole milk"} for r in recs)
    assert recs == sorted(recs, key=lambda r: (-r["lift"], -r["confidence"]))


# --------------------------------------------------------------------------- CRM orders

def _tea_orders() -> pd.DataFrame:
    lines = []
    for k in range(30):
        items = ["西湖龙井绿茶 250g", "紫砂茶杯"] if k < 12 else (["西湖龙井绿茶 250g"] if k < 18 else ["Oolong tea 100g"])
        if k % 5 == 0:
            items.append("茶点礼盒")
        for it in items:
            lines.append({"order_id": f"O{k:03d}", "customer_id": f"C{k % 9}", "product_name": it,
                          "category": "茶叶" if "茶杯" not in it and "礼盒" not in it else "茶具/礼品"})
    return pd.DataFrame(lines)


def test_bought_together_matches_chinese_substrings():
    orders = _tea_orders()
    assert len(baskets_from_orders(orders)) == 30
    res = bought_together(orders, "绿茶")
    assert res.matched == ["西湖龙井绿茶 250g"] and res.method == "rules"
    first = res.items[0]
    assert first["item"] == "紫砂茶杯" and first["count"] == 12
    assert first["confidence"] == pytest.approx(12 / 18) and first["lift"] == pytest.approx((12 / 18) / (12 / 30))
    assert "bought_together" in res.provenance
    assert bought_together(orders, "green tea").matched == []  # no translation here: the assistant maps words


def test_bought_together_falls_back_to_co_occurrence():
    orders = _tea_orders()
    rules = mine_order_rules(orders, min_confidence=0.9)  # too strict: no rule about oolong
    res = bought_together(rules, "oolong", orders=orders)
    assert res.matched == ["Oolong tea 100g"] and res.method == "co-occurrence"
    assert res.items[0]["item"] == "茶点礼盒" and res.items[0]["count"] == 2


def test_mine_order_rules_defaults_and_category_level():
    orders = _tea_orders()
    assert default_min_support(30) == pytest.approx(3 / 30)
    assert default_min_support(100_000) == pytest.approx(0.001)
    assert default_min_support(5_000) == pytest.approx(20 / 5_000)
    rules = mine_order_rules(orders, level="category")
    assert rules.attrs["level"] == "category" and "mine_order_rules" in rules.attrs["provenance"]
    assert set().union(*rules["antecedents"]) <= {"茶叶", "茶具/礼品"}


# --------------------------------------------------------------------------- guards

def test_guards_name_the_problem():
    with pytest.raises(GuanxiError, match="no baskets"):
        mine_rules([], 0.1, 0.5)
    with pytest.raises(GuanxiError, match="basket 0 is str"):
        mine_rules(["milk", "bread"], 0.1, 0.5)
    with pytest.raises(GuanxiError, match="min_support"):
        mine_rules(FOUR, 0, 0.5)
    with pytest.raises(GuanxiError, match="level"):
        baskets_from_orders(_tea_orders(), level="brand")
    with pytest.raises(GuanxiError, match="order_id"):
        baskets_from_orders(pd.DataFrame({"product_name": ["x"]}))
    with pytest.raises(GuanxiError, match="rank rules"):
        top_rules(mine_rules(FOUR, 0.5, 0.5), by="magic")
    assert mine_rules(FOUR, 0.9, 0.5).empty  # nothing frequent enough: an empty table, not an error


@pytest.mark.parametrize("max_len,support,confidence", [(2, 0.001, 0.1), (3, 0.001, 0.5), (3, 0.004, 0.2)])
def test_counting_itemsets_finds_fp_growths_rules(groceries, max_len, support, confidence):
    """Rules of up to 3 items counted as sparse column products are mlxtend FP-growth's, to the bit."""
    from tools.association import _one_hot, mine_matrix
    matrix, items = _one_hot(groceries)
    counted = mine_matrix(matrix, items, support, confidence, max_len=max_len)
    grown = mine_matrix(matrix, items, support, confidence, max_len=max_len, counted=False)
    assert len(counted) > 50
    pd.testing.assert_frame_equal(counted, grown)
    assert counted.attrs["provenance"] == grown.attrs["provenance"]
