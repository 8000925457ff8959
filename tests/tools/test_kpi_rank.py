"""Rankings of ratio metrics: the 未知 group and groups under MIN_RANK_BASE of the ratio's base are not
ranked (kept after the ranked ones, ranked=False) and the answer names them; additive metrics rank all.

The shop: channel 天猫 40 customers (20 buy twice), 京东 35 (14 twice), 抖音 5 (all twice) and 3
customers without a channel (未知, all twice). 抖音 and 未知 have the highest repurchase rate (100%)
on 5 and 3 customers: too few to compare.
"""
from __future__ import annotations

import pandas as pd
import pytest

from assistant.answers import render
from tools.kpi import kpi
from tools.kpi_compare import compare_kpi
from tools.kpi_rank import MIN_RANK_BASE, RANK_BASE, rank_fairly


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    groups = [("天猫", 40, 20), ("京东", 35, 14), ("抖音", 5, 5), (None, 3, 3)]
    customers, lines = [], []
    for chan, n, twice in groups:
        for i in range(n):
            cid = f"{chan or 'X'}{i:02d}"
            customers.append({"customer_id": cid, "name": cid, "channel": chan, "province": "浙江省", "city": "杭州市"})
            for k in range(2 if i < twice else 1):
                lines.append({"order_id": f"{cid}-{k}", "customer_id": cid, "order_date": pd.Timestamp(2024, 3 - k, 10),
                              "product_name": "茶", "category": "茶叶", "quantity": 1, "amount": 100.0 + 10 * k,
                              "channel": "天猫"})
    return {"customers": pd.DataFrame(customers), "orders": pd.DataFrame(lines)}


def test_a_ratio_ranks_only_groups_big_enough_and_known(tables):
    bd = kpi(tables, "repurchase_rate", by="channel").breakdown
    assert bd["channel"].tolist() == ["天猫", "京东", "抖音", "未知"]
    assert bd["ranked"].tolist() == [True, True, False, False]
    assert bd.loc[bd["ranked"], "customers"].min() >= MIN_RANK_BASE
    assert bd.loc[~bd["ranked"], "value"].min() > bd.loc[bd["ranked"], "value"].max()   # they would have won


def test_top_and_lowest_are_of_the_ranked_groups_the_others_stay(tables):
    top = kpi(tables, "repurchase_rate", by="channel", top=1).breakdown
    assert top["channel"].tolist() == ["天猫", "抖音", "未知"] and top["ranked"].tolist() == [True, False, False]
    low = kpi(tables, "repurchase_rate", by="channel", lowest=True).breakdown
    assert low["channel"].tolist()[:2] == ["京东", "天猫"]


def test_additive_metrics_rank_every_group(tables):
    bd = kpi(tables, "orders", by="channel").breakdown
    assert "ranked" not in bd and bd["channel"].iloc[0] == "天猫"


def test_the_answer_names_the_groups_left_out_and_why(tables):
    r = kpi(tables, "repurchase_rate", by="channel").to_dict()
    zh, en = render("query_metrics", r, "zh"), render("query_metrics", r, "en")
    assert zh.index("天猫") < zh.index("抖音") < zh.index("未参与排名")
    assert "抖音（5 位客户）" in zh and "未知（3 位客户）" in zh and f"不足 {MIN_RANK_BASE} 位客户" in zh
    assert "Not ranked" in en and "抖音 (5 customers)" in en and f"fewer than {MIN_RANK_BASE} customers" in en
    assert "未参与排名" not in render("query_metrics", kpi(tables, "orders", by="channel").to_dict(), "zh")


def test_a_comparison_keeps_the_small_groups_after_the_ranked(tables):
    r = compare_kpi(tables, "repurchase_rate", "previous_period", by="channel", date_from="2024-03-01",
                    date_to="2024-03-31", as_of="2024-04-01")
    bd = r.breakdown
    assert bd["ranked"].tolist() == [True, True, False, False] and set(bd["channel"][:2]) == {"天猫", "京东"}


def test_every_ratio_base_is_a_column_of_its_breakdown(routing_ws):
    from tools.kpi_tools import metric_source
    src = metric_source(routing_ws)
    for metric, base in RANK_BASE.items():
        bd = kpi(src, metric, by="province", as_of=routing_ws.as_of()).breakdown
        assert base in bd and "ranked" in bd, metric
        fair = bd[bd["ranked"]]
        assert (fair[base] >= MIN_RANK_BASE).all() and not (fair["province"] == "未知").any(), metric


def test_rank_fairly_keeps_the_order_it_is_given():
    bd = pd.DataFrame({"g": ["a", "b", "未知", "c"], "value": [4, 3, 2, 1], "n": [30, 29, 100, 31]})
    assert rank_fairly(bd, "g", "n", top=None)["g"].tolist() == ["a", "c", "b", "未知"]
