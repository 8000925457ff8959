"""Customer clustering: three obvious groups are found, named and stable for a seed."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from knowledge.errors import GuanxiError
from tools.segments import ClusterResult, cluster_customers, cluster_lookup, customer_features

AS_OF = pd.Timestamp("2025-01-01")


def _shop(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """150 customers in three groups (as of 2025-01-01):
    H000-H039  10 orders in the last 60 days, ~500 each, tea (茶叶)
    M000-M049  3 orders 100-200 days ago, ~100 each, tea sets / gift boxes
    L000-L059  1 order ~400 days ago, ~20, snacks (零食)
    """
    rng = np.random.default_rng(seed)
    rows = []
    groups = [("H", 40, 10, (1, 60), 500, ["茶叶"]), ("M", 50, 3, (100, 200), 100, ["茶具", "礼盒"]),
              ("L", 60, 1, (380, 420), 20, ["零食"])]
    for prefix, n, k, (d0, d1), amount, cats in groups:
        for i in range(n):
            cid = f"{prefix}{i:03d}"
            for j in range(k):
                days = int(rng.integers(d0, d1))
                rows.append((f"{cid}-{j}", cid, AS_OF - pd.Timedelta(days=days),
                             amount * float(rng.uniform(0.8, 1.2)), cats[j % len(cats)]))
    orders = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_date", "amount", "category"])
    ids = sorted(orders["customer_id"].unique())
    customers = pd.DataFrame({"customer_id": ids,
                              "signup_date": [AS_OF - pd.Timedelta(days=900 if c[0] == "H" else 450) for c in ids]})
    return orders, customers


@pytest.fixture(scope="module")
def shop():
    return _shop()


@pytest.fixture(scope="module")
def result(shop) -> ClusterResult:
    orders, customers = shop
    return cluster_customers(orders, customers, as_of=AS_OF, k_range=range(3, 6), random_state=0)


def test_features(shop):
    orders, customers = shop
    f, cats, as_of = customer_features(orders, customers, as_of=AS_OF)
    assert as_of == AS_OF and len(f) == 150
    assert {"cat_茶叶", "cat_零食", "cat_茶具", "cat_礼盒"} <= set(cats)
    assert f.loc["L000", "cat_零食"] == 1.0 and f.loc["L000", "frequency"] == 1
    assert f.loc["H000", "tenure_days"] == 900          # signup earlier than the first order
    assert f[cats].sum(axis=1).to_numpy() == pytest.approx(1.0)


def test_finds_the_three_groups(result):
    assert result.k in range(3, 6) and set(result.silhouette) == {3, 4, 5}
    assert result.k == max(result.silhouette, key=result.silhouette.get)
    a = result.assignments
    assert list(a.columns) == ["customer_id", "cluster", "cluster_name_en", "cluster_name_zh"]
    assert a["customer_id"].is_monotonic_increasing and len(a) == 150
    group = a["customer_id"].str[0]
    # every group lies in a single cluster and the groups don't share one
    assert (a.groupby(group)["cluster"].nunique() == 1).all()
    assert a.groupby(group)["cluster"].first().nunique() == 3
    # cluster 0 = highest mean monetary = the H group
    assert a.loc[group == "H", "cluster"].iloc[0] == 0
    p = result.profiles
    assert p["mean_monetary"].is_monotonic_decreasing and p["share"].sum() == pytest.approx(1)
    assert p["size"].sum() == 150


def test_names_are_readable_and_unique(result):
    p = result.profiles.set_index("cluster")
    assert p["name_zh"].is_unique and p["name_en"].is_unique
    top = p.loc[0]
    assert "高价值" in top["name_zh"] and "活跃" in top["name_zh"] and "High-value" in top["name_en"]
    assert top["top_categories"].startswith("茶叶 100%")
    h0 = cluster_lookup(result, "H000")
    assert h0["cluster"] == 0 and h0["name_zh"] == top["name_zh"]
    low = cluster_lookup(result, "L000")
    assert "沉睡" in low["name_zh"] and "dormant" in low["name_en"] and "低价值" in low["name_zh"]
    with pytest.raises(GuanxiError, match="X999"):
        cluster_lookup(result, "X999")


def test_deterministic_for_a_seed(shop, result):
    orders, customers = shop
    again = cluster_customers(orders.sample(frac=1, random_state=3), customers, as_of=AS_OF,
                              k_range=range(3, 6), random_state=0)
    pd.testing.assert_frame_equal(again.assignments, result.assignments)
    assert again.silhouette == result.silhouette
    json.dumps(result.to_dict(), ensure_ascii=False)
    assert "k=" in result.provenance and "as of 2025-01-01" in result.provenance


def test_guards(shop):
    orders, _ = shop
    few = orders[orders["customer_id"].isin(["H000", "M000", "L000"])]
    with pytest.raises(GuanxiError, match="too few"):
        cluster_customers(few, k_range=range(3, 9))
    with pytest.raises(GuanxiError, match="customer_id"):
        cluster_customers(orders.drop(columns=["customer_id"]))
