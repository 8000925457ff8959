"""Metrics and dimensions over a company's own columns (毛利, 门店, 积分), declared in
WORKSPACE/semantic.toml: kept by the build, computed by DuckDB, named in questions, recomputed
here with plain pandas."""
from __future__ import annotations

import csv
import random

import pandas as pd
import pytest

from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from knowledge.workspace import Workspace
from tools.semantic import SemanticError, semantic_model

SEMANTIC = '''
[metrics.gross_profit]
zh = "毛利"
en = "Gross profit"
column = "orders.毛利"
unit = "amount"
synonyms = ["毛利额", "gross profit"]

[metrics.gross_margin]
zh = "毛利率"
en = "Gross margin"
column = "orders.毛利"
divide_by = "sales"
unit = "share"

[metrics.points]
zh = "平均积分"
en = "Average loyalty points"
column = "customers.积分"
aggregate = "mean"

[dimensions.store]
zh = "门店"
en = "Store"
column = "orders.门店"
synonyms = ["分店"]
'''
STORES = ("西湖店", "滨江店", "萧山店")


def _write_exports(folder, seed=3):
    rng = random.Random(seed)
    folder.mkdir()
    with open(folder / "订单.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["订单号", "客户编号", "下单时间", "品类", "数量", "金额", "毛利", "门店", "备注"])
        for i in range(1, 901):
            amount = round(rng.uniform(20, 500), 2)
            profit = "待核算" if i % 97 == 0 else round(amount * rng.uniform(0.1, 0.4), 2)
            w.writerow([f"O{i:05d}", f"C{rng.randint(1, 120):03d}", f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}",
                        rng.choice(["茶叶", "茶具"]), rng.randint(1, 3), amount, profit, rng.choice(STORES),
                        "电话 13800000000"])
    with open(folder / "客户.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["客户编号", "姓名", "积分"])
        for i in range(1, 121):
            w.writerow([f"C{i:03d}", f"客户{i}", rng.randint(0, 5000)])


@pytest.fixture(scope="module")
def own_ws(tmp_path_factory):
    """A company's exports with three columns the schema has no place for, built with its semantic.toml."""
    from assistant.pipeline import build_workspace
    root = tmp_path_factory.mktemp("own")
    _write_exports(root / "exports")
    (root / "ws").mkdir()
    (root / "ws" / "semantic.toml").write_text(SEMANTIC, encoding="utf-8")
    settings = Settings.load(env={}, config_file=root / "none.toml", workspace=root / "ws")
    build_workspace(settings, root / "exports", index=False)
    raw = pd.read_csv(root / "exports" / "订单.csv", dtype=str)
    raw["毛利"] = pd.to_numeric(raw["毛利"], errors="coerce")
    raw["金额"] = raw["金额"].astype(float)
    raw["下单时间"] = pd.to_datetime(raw["下单时间"])
    return Workspace(root / "ws"), raw, pd.read_csv(root / "exports" / "客户.csv", dtype={"积分": float})


def test_the_build_keeps_declared_columns_only_and_reports_them(own_ws):
    ws, raw, _ = own_ws
    orders = ws.table("orders")
    assert {"own:毛利", "own:门店"} <= set(orders.columns) and "own:备注" not in orders.columns
    assert orders["own:毛利"].dtype == "float64" and "own:积分" in ws.table("customers").columns
    kept = ws.quality_report["own_columns"]["kept"]
    assert kept["orders.毛利"] == {"kind": "number", "values": int(raw["毛利"].notna().sum()),
                                   "missing": int(raw["毛利"].isna().sum())}
    assert ws.quality_report["tables"]["orders"]["fixes"]["invalid_own:毛利_cleared"] == int(raw["毛利"].isna().sum())


def _ask(ws, q):
    from assistant.core import Assistant
    return Assistant(settings=Settings.load(env={}, workspace=ws.root), audit=False).ask(q)


def test_own_metrics_answer_with_numbers_recomputed_from_the_exports(own_ws):
    ws, raw, cust = own_ws
    a = _ask(ws, "今年的毛利是多少")
    (call,) = a["tool_calls"]
    assert call["args"]["metric"] == "gross_profit"
    assert call["result"]["value"] == pytest.approx(raw["毛利"].sum())
    assert "orders.毛利" in a["answer"] and "行无值" in a["answer"]

    by_store = _ask(ws, "各门店的毛利")["tool_calls"][0]["result"]
    got = {r["store"]: r["value"] for r in by_store["breakdown"]}
    assert got == pytest.approx(raw.groupby("门店")["毛利"].sum().to_dict())

    march = raw[raw["下单时间"].dt.month == 3]
    margin = _ask(ws, "2026年3月的毛利率")["tool_calls"][0]["result"]
    assert margin["value"] == pytest.approx(march["毛利"].sum() / march["金额"].sum())

    points = _ask(ws, "what are the average loyalty points of our buyers")["tool_calls"][0]["result"]
    buyers = cust[cust["客户编号"].isin(raw["客户编号"])]
    assert points["value"] == pytest.approx(buyers["积分"].mean())


def test_a_label_of_an_own_dimension_is_a_filter_and_two_are_compared(own_ws):
    ws, raw, _ = own_ws
    one = _ask(ws, "西湖店的毛利")["tool_calls"][0]
    assert one["args"]["where"] == {"store": "西湖店"}
    assert one["result"]["value"] == pytest.approx(raw.loc[raw["门店"] == "西湖店", "毛利"].sum())
    two = _ask(ws, "西湖店和滨江店的销售额")["tool_calls"][0]["result"]
    want = raw[raw["门店"].isin(["西湖店", "滨江店"])].groupby("门店")["金额"].sum()
    assert {r["store"]: r["value"] for r in two["breakdown"]} == pytest.approx(want.to_dict())


def test_own_metric_words_are_answered_not_declined_but_profit_still_is(own_ws):
    ws, _, _ = own_ws
    assert _ask(ws, "毛利环比怎么样")["tool_calls"][0]["result"]["comparison"]["change"] is not None
    declined = _ask(ws, "上个月的净利润是多少")
    assert not declined["tool_calls"] and "净利" in declined["answer"]


def test_a_column_the_served_build_lacks_gets_a_rebuild_message(own_ws, tmp_path):
    import shutil
    ws, _, _ = own_ws
    for d in ("tables", "artefacts"):
        shutil.copytree(getattr(ws, f"{d}_dir"), tmp_path / d)
    (tmp_path / "semantic.toml").write_text(SEMANTIC + '\n[metrics.cost]\nzh = "进货成本"\ncolumn = "orders.成本"\n',
                                            encoding="utf-8")
    a = _ask(Workspace(tmp_path), "今年的进货成本是多少")
    assert "orders.成本" in a["answer"] and "guanxi build" in a["answer"]


@pytest.mark.parametrize("entry, message", [
    ('[metrics.cost]\ncolumn = "成本"\n', r"metrics\.cost: column = '成本': expected \"TABLE\.HEADER\""),
    ('[metrics.cost]\ncolumn = "products.成本"\n', r"table 'products' is not one of orders, customers"),
    ('[metrics.cost]\ncolumn = "orders.成本"\naggregate = "total"\n', r"metrics\.cost\.aggregate = 'total': expected one of sum"),
    ('[metrics.cost]\ncolumn = "orders.成本"\nunit = "yuan"\n', r"metrics\.cost\.unit = 'yuan'"),
    ('[metrics.cost]\ncolumn = "customers.成本"\ndivide_by = "sales"\n', r"divide_by = 'sales'.*for a column of orders"),
    ('[metrics.sales]\ncolumn = "orders.成本"\n', r"sales is a built-in metric and cannot be redefined"),
    ('[metrics."成本"]\ncolumn = "orders.成本"\n', r"the name must be lower-case letters"),
    ('[metrics.cost]\ncolumn = "orders.成本"\nformula = "a-b"\n', r"unknown key\(s\) \['formula'\]"),
])
def test_bad_own_entries_name_the_file_the_entry_and_what_was_expected(tmp_path, entry, message):
    (tmp_path / "semantic.toml").write_text(entry, encoding="utf-8")
    with pytest.raises(SemanticError, match=message) as e:
        semantic_model(Workspace(tmp_path))
    assert str(tmp_path / "semantic.toml") in str(e.value)


def test_the_build_refuses_a_column_declared_as_metric_and_dimension(tmp_path):
    from knowledge.own_columns import declared_columns
    (tmp_path / "semantic.toml").write_text('[metrics.a]\ncolumn = "orders.x"\n[dimensions.b]\ncolumn = "orders.x"\n',
                                            encoding="utf-8")
    with pytest.raises(GuanxiError, match="both a metric's"):
        declared_columns(tmp_path)


def test_the_llm_is_told_the_workspace_s_own_metrics(own_ws, tmp_path):
    from assistant.agent import workspace_prompt
    ws, _, _ = own_ws
    prompt = workspace_prompt(ws)
    assert "metric gross_margin: 毛利率 / Gross margin (sum of orders.毛利 / sales)" in prompt
    assert "dimension store: 门店 / Store" in prompt
    assert workspace_prompt(Workspace(tmp_path)) == ""
