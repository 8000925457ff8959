"""RFM: six customers worked by hand, the 25-cell segment grid, the eight-class model, tiers,
queries, and the shared result helpers (tools/results.py)."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from knowledge.errors import GuanxiError
from tools.results import default_as_of, provenance, to_jsonable
from tools.rfm import (CN8_MAP, SEGMENT_MAP, SEGMENT_ZH, SEGMENTS, cn8_of, rfm_lookup, rfm_table,
                       segment_distribution, segment_members, segment_of, tier_of)

AS_OF = "2024-07-01"


@pytest.fixture
def orders() -> pd.DataFrame:
    """Six customers, as of 2024-07-01 (2024 is a leap year).

    cust  orders (date: amount)                         recency  freq  monetary
    A     O1 06-30 10:00: 100, O2 06-01: 200            1        2     300
    B     O3 06-20: 50                                  11       1     50
    C     O4 01-01: 500, O5 02-01: 500, O6 03-01: 250+250 (2 lines)  122  3  1500
    D     O7 05-01: 80                                  61       1     80
    E     O8 2023-12-01: 40, O9 04-01: 60               91       2     100
    F     O10 06-20 23:59: 20                           11       1     20
    A     O11 07-01 (on as_of → excluded)
    """
    rows = [
        ("O1", "A", "2024-06-30 10:00", 100), ("O2", "A", "2024-06-01", 200),
        ("O3", "B", "2024-06-20", 50),
        ("O4", "C", "2024-01-01", 500), ("O5", "C", "2024-02-01", 500),
        ("O6", "C", "2024-03-01", 250), ("O6", "C", "2024-03-01", 250),
        ("O7", "D", "2024-05-01", 80),
        ("O8", "E", "2023-12-01", 40), ("O9", "E", "2024-04-01", 60),
        ("O10", "F", "2024-06-20 23:59", 20),
        ("O11", "A", "2024-07-01 08:00", 999),
    ]
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_date", "amount"])
    df["order_date"] = pd.to_datetime(df["order_date"], format="mixed")
    return df


@pytest.fixture
def table(orders) -> pd.DataFrame:
    return rfm_table(orders, as_of=AS_OF)


def test_recency_frequency_monetary_by_hand(table):
    t = table.set_index("customer_id")
    assert list(t.index) == ["A", "B", "C", "D", "E", "F"]          # sorted by customer_id
    assert t["recency_days"].to_dict() == {"A": 1, "B": 11, "C": 122, "D": 61, "E": 91, "F": 11}
    assert t["frequency"].to_dict() == {"A": 2, "B": 1, "C": 3, "D": 1, "E": 2, "F": 1}
    assert t["monetary"].to_dict() == {"A": 300, "B": 50, "C": 1500, "D": 80, "E": 100, "F": 20}


def test_scores_by_hand_with_ties_broken_by_customer_id(table):
    # 6 customers: ranks 1..6 → qcut into 5 → scores 1,1,2,3,4,5.
    # R ranks of −recency: C1 E2 D3 B4 F5 A6 (B and F tie at 11 days: B first) → C1 E1 D2 B3 F4 A5
    # F ranks: B1 D2 F3 (all 1 order, by id) A4 E5 C6                              → B1 D1 F2 A3 E4 C5
    # M ranks: F1 B2 D3 E4 A5 C6                                                   → F1 B1 D2 E3 A4 C5
    t = table.set_index("customer_id")
    assert t["r_score"].to_dict() == {"A": 5, "B": 3, "C": 1, "D": 2, "E": 1, "F": 4}
    assert t["f_score"].to_dict() == {"A": 3, "B": 1, "C": 5, "D": 1, "E": 4, "F": 2}
    assert t["m_score"].to_dict() == {"A": 4, "B": 1, "C": 5, "D": 2, "E": 3, "F": 1}
    assert t.loc["A", "rfm_code"] == "534"


def test_named_segments_by_hand(table):
    t = table.set_index("customer_id")
    assert t["segment"].to_dict() == {
        "A": "Potential Loyalist",   # r5 f3
        "B": "About to Sleep",       # r3 f1
        "C": "Can't Lose Them",      # r1 f5
        "D": "Hibernating",          # r2 f1
        "E": "At Risk",              # r1 f4
        "F": "Potential Loyalist",   # r4 f2
    }
    assert t.loc["C", "segment_zh"] == "不能失去的客户"


def test_cn8_by_hand(table):
    # means: recency 297/6 = 49.5, frequency 10/6 ≈ 1.67, monetary 2050/6 ≈ 341.7
    t = table.set_index("customer_id")
    assert t["segment_cn8"].to_dict() == {
        "A": "一般价值客户",  # R高 F高 M低
        "B": "一般发展客户",  # R高 F低 M低
        "C": "重要保持客户",  # R低 F高 M高
        "D": "一般挽留客户",  # R低 F低 M低
        "E": "一般保持客户",  # R低 F高 M低
        "F": "一般发展客户",  # R高 F低 M低
    }


def test_tiers_by_hand(table):
    t = table.set_index("customer_id")
    assert t["tier"].to_dict() == {"A": "潜力客户", "B": "潜力客户", "C": "流失风险客户",
                                   "D": "流失风险客户", "E": "流失风险客户", "F": "潜力客户"}
    assert t.loc["C", "tier_en"] == "at_risk"


def test_tier_rules():
    assert tier_of(2, 5, 5) == "流失风险客户"       # r ≤ 2 wins
    assert tier_of(3, 4, 4) == "高价值客户"         # r ≥ 3 and f + m ≥ 8
    assert tier_of(5, 3, 4) == "潜力客户"           # f + m = 7
    assert tier_of(3, 5, 3) == "高价值客户"


def test_all_25_cells_mapped_exactly_once():
    assert sorted(SEGMENT_MAP) == [(r, f) for r in range(1, 6) for f in range(1, 6)]
    assert set(SEGMENT_MAP.values()) == set(SEGMENTS) and len(SEGMENTS) == 11
    assert set(SEGMENT_ZH) == set(SEGMENTS)
    assert segment_of(5, 5) == "Champions" and segment_of(4, 5) == "Loyal"
    assert segment_of(5, 1) == "New Customers" and segment_of(4, 1) == "Promising"
    assert segment_of(3, 3) == "Need Attention" and segment_of(3, 2) == "About to Sleep"
    assert segment_of(2, 5) == "Can't Lose Them" and segment_of(2, 3) == "At Risk"
    assert segment_of(2, 2) == "Hibernating" and segment_of(1, 2) == "Lost"
    assert segment_of(5, 2) == "Potential Loyalist"


def test_cn8_map_is_complete_and_strict():
    assert len(CN8_MAP) == 8 and len(set(CN8_MAP.values())) == 8
    assert cn8_of(True, True, True) == "重要价值客户"
    assert cn8_of(False, False, True) == "重要挽留客户"
    assert cn8_of(True, False, False) == "一般发展客户"
    # a customer exactly at the mean is "low": two customers with equal F and M
    o = pd.DataFrame({"order_id": ["1", "2"], "customer_id": ["X", "Y"],
                      "order_date": pd.to_datetime(["2024-01-01", "2024-01-03"]), "amount": [10.0, 10.0]})
    t = rfm_table(o, as_of="2024-01-11").set_index("customer_id")
    assert t.loc["X", "segment_cn8"] == "一般挽留客户"  # recency 10 > mean 9; F, M at the mean
    assert t.loc["Y", "segment_cn8"] == "一般发展客户"  # recency 8 < 9


def test_every_quintile_filled_despite_ties():
    rng = np.random.default_rng(1)
    n = 100
    o = pd.DataFrame({"order_id": [f"O{i}" for i in range(n)], "customer_id": [f"C{i:03d}" for i in range(n)],
                      "order_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 3, n), unit="D"),
                      "amount": 10.0})  # everyone: frequency 1, monetary 10, 3 distinct dates
    t = rfm_table(o)
    for col in ("r_score", "f_score", "m_score"):
        assert t[col].value_counts().sort_index().tolist() == [20] * 5
    # with all-equal frequency, the f_score follows customer_id
    assert t["f_score"].tolist() == sorted(t["f_score"].tolist())


def test_as_of_default_and_exclusion(orders):
    t = rfm_table(orders)  # default: day after the last order (O11 on 07-01) → 07-02
    assert t.attrs["as_of"] == "2024-07-02"
    assert t.set_index("customer_id").loc["A", "frequency"] == 3
    t2 = rfm_table(orders, as_of=AS_OF)
    assert t2.set_index("customer_id").loc["A", "monetary"] == 300
    assert "as of 2024-07-01" in t2.attrs["provenance"] and "6 customers" in t2.attrs["provenance"]


def test_validation_names_the_column(orders):
    with pytest.raises(GuanxiError, match="amount"):
        rfm_table(orders.drop(columns=["amount"]))
    with pytest.raises(GuanxiError, match="no orders before"):
        rfm_table(orders, as_of="2020-01-01")


def test_lookup_distribution_members(table):
    a = rfm_lookup(table, "A")
    assert a["segment"] == "Potential Loyalist" and a["recency_days"] == 1 and isinstance(a["monetary"], float)
    with pytest.raises(GuanxiError, match="ZZZ"):
        rfm_lookup(table, "ZZZ")

    d = segment_distribution(table, "segment").set_index("segment")
    assert d["count"].sum() == 6 and d.loc["Potential Loyalist", "count"] == 2
    assert d.loc["Potential Loyalist", "share"] == pytest.approx(2 / 6)
    assert d.loc["Potential Loyalist", "mean_monetary"] == pytest.approx(160)
    assert d.loc["Potential Loyalist", "mean_recency"] == pytest.approx(6)
    assert d.loc["Potential Loyalist", "name_zh"] == "潜力忠诚客户"
    assert segment_distribution(table, "tier").set_index("tier")["count"].to_dict() == {"潜力客户": 3, "流失风险客户": 3}
    assert segment_distribution(table, "segment_cn8")["share"].sum() == pytest.approx(1)

    assert segment_members(table, "Potential Loyalist")["customer_id"].tolist() == ["A", "F"]
    assert segment_members(table, "潜力忠诚客户")["customer_id"].tolist() == ["A", "F"]
    assert segment_members(table, "潜力客户")["customer_id"].tolist() == ["A", "B", "F"]    # tier, by monetary
    assert segment_members(table, "at_risk", top=2)["customer_id"].tolist() == ["C", "E"]
    assert segment_members(table, "一般发展客户")["customer_id"].tolist() == ["B", "F"]
    with pytest.raises(GuanxiError, match="Champions"):
        segment_members(table, "VIPs")


def test_results_helpers():
    o = pd.DataFrame({"order_date": pd.to_datetime(["2024-01-01 13:00", "2024-03-05 23:59"])})
    assert default_as_of(o) == pd.Timestamp("2024-03-06")
    line = provenance("rfm_table", {"orders": 100000}, as_of="2026-11-01", customers=5000, skip=None)
    assert line == "rfm_table · orders (100,000 rows) · as of 2026-11-01 · params: customers=5000"

    @dataclass
    class R:
        n: np.int64
        df: pd.DataFrame
        when: pd.Timestamp

    j = to_jsonable(R(np.int64(3), pd.DataFrame({"x": [1.5, np.nan]}), pd.Timestamp("2024-01-02")))
    assert j == {"n": 3, "df": [{"x": 1.5}, {"x": None}], "when": "2024-01-02"}
    json.dumps(j)
