"""The Spark engine (local[2], one session per run) gives the DuckDB engine's answers: the same SQL
over the same Parquet, MLlib FPGrowth for the rules — the published Groceries rule set, and the
demo build's artefacts (RFM table, CLV summary and fit, rules) equal on both engines."""
from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from knowledge.engine import DuckDBEngine, SparkEngine, engine_for, rfm_sql, rfm_totals_sql
from knowledge.settings import Settings
from knowledge.workspace import Workspace
from tools import association, churn
from tools.precompute import precompute
from tools.results import default_as_of

RTOL = 1e-9


@pytest.fixture(scope="module")
def tables(routing_ws, tmp_path_factory):
    """A copy of the demo workspace's tables (Spark writes a µs-timestamp copy beside them)."""
    root = tmp_path_factory.mktemp("spark-ws")
    shutil.copytree(routing_ws.tables_dir, root / "tables")
    return root


@pytest.fixture(scope="module")
def engines(tables, spark):
    ws = Workspace(tables)
    sp, du = engine_for(ws, Settings().with_(engine="spark")), engine_for(ws, Settings())
    yield sp, du
    du.close()


@pytest.fixture(scope="module")
def as_of(routing_ws):
    return default_as_of(routing_ws.table("orders"))


def test_the_spark_engine_uses_the_run_session_and_reads_the_same_rows(engines, spark):
    sp, du = engines
    assert isinstance(sp, SparkEngine) and isinstance(du, DuckDBEngine)
    assert sp.spark is spark and sp.master == "local[2]"
    q = "SELECT count(*) AS n, count(DISTINCT customer_id) AS c FROM orders"
    assert sp.sql(q).to_pylist() == du.sql(q).to_pylist()


def test_two_spark_engines_in_one_process_each_read_their_own_workspace(engines, tables, tmp_path):
    sp, du = engines
    (tmp_path / "tables").mkdir()
    pd.read_parquet(tables / "tables" / "orders.parquet").head(50).to_parquet(tmp_path / "tables" / "orders.parquet")
    other = SparkEngine({"orders": tmp_path / "tables" / "orders.parquet"})
    q = "SELECT count(*) AS n FROM orders"
    assert other.sql(q).column("n")[0].as_py() == 50
    assert sp.sql(q).column("n")[0].as_py() == du.sql(q).column("n")[0].as_py() > 50


def test_rfm_values_and_purchase_summary_equal_duckdbs(engines, as_of):
    sp, du = engines
    pd.testing.assert_frame_equal(sp.rfm_values(as_of), du.rfm_values(as_of), check_exact=False, rtol=RTOL)
    pd.testing.assert_frame_equal(sp.purchase_summary(as_of), du.purchase_summary(as_of),
                                  check_exact=False, rtol=RTOL)


def test_spark_sums_the_customer_orders_table_to_the_lines_rfm(engines, tables, as_of):
    sp, _ = engines
    lines = SparkEngine({"orders": tables / "tables" / "orders.parquet"})   # no customer_orders: the lines' SQL
    got = SparkEngine(sp.tables)
    pd.testing.assert_frame_equal(got.rfm_values(as_of), lines.rfm_values(as_of), check_exact=False, rtol=RTOL)
    assert (got.log[-1], lines.log[-1]) == (rfm_totals_sql().strip(), rfm_sql(as_of).strip())


def test_baskets_and_fpgrowth_rules_equal_duckdb_and_mlxtend(engines):
    sp, du = engines
    assert sp.baskets("category") == du.baskets("category")
    for level in ("product", "category"):
        got = association.mine_order_rules(None, level=level, engine=sp)
        ref = association.mine_order_rules(None, level=level, engine=du)
        assert len(got) == len(ref) > 0, level
        pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=RTOL)
        assert "MLlib FPGrowth" in got.attrs["provenance"]


def test_churn_features_and_labels_on_spark_equal_duckdbs(engines, routing_ws, as_of):
    sp, du = engines
    customers, feedback = routing_ws.table("customers"), routing_ws.table("feedback")
    cutoff = as_of - pd.Timedelta(days=90)
    for at in (as_of, cutoff):
        got = churn.churn_features(None, customers, feedback, at=at, engine=sp)
        ref = churn.churn_features(None, customers, feedback, at=at, engine=du)
        assert len(got) == len(ref) > 0
        pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=RTOL, check_index_type=False)
    pd.testing.assert_series_equal(churn.lapse_labels(None, cutoff, as_of, engine=sp),
                                   churn.lapse_labels(None, cutoff, as_of, engine=du), check_index_type=False)
    assert any("row_number() OVER" in q for q in sp.log)   # the features' SQL ran on Spark


def test_groceries_with_mllib_fpgrowth_gives_the_published_5668_rules(engines, shared_data):
    sp, _ = engines
    with open(shared_data / "groceries" / "groceries.csv", encoding="utf-8") as f:
        baskets = [line.rstrip("\n").split(",") for line in f]
    raw, n, _ = sp.fpgrowth_baskets(baskets, math.ceil(0.001 * len(baskets) - 1e-9), 0.5)
    rules = association.rules_from_counts(raw["antecedents"], raw["consequents"], raw["n_ac"], raw["n_a"],
                                          raw["n_c"], n, 0.5)
    assert (n, len(rules)) == (9835, 5668)
    top = rules.iloc[0]
    assert (top.antecedents, top.consequents) == (frozenset({"Instant food products", "soda"}),
                                                  frozenset({"hamburger meat"}))
    assert top.lift == pytest.approx(18.99565, abs=1e-5)
    ref = association.mine_rules(baskets, min_support=0.001, min_confidence=0.5)
    pd.testing.assert_frame_equal(rules, ref, check_exact=False, rtol=RTOL)


def test_the_demo_build_gives_the_same_artefacts_on_spark_and_duckdb(tables, engines, tmp_path):
    spark_ws = Workspace(tables)
    shutil.copytree(tables / "tables", tmp_path / "tables")
    duck_ws = Workspace(tmp_path)
    meta_s = precompute(spark_ws, Settings().with_(engine="spark", workspace=tables))
    meta_d = precompute(duck_ws, Settings().with_(workspace=tmp_path))
    assert (meta_s["engine"], meta_d["engine"]) == ("spark", "duckdb")
    assert meta_s["skipped"] == meta_d["skipped"] == {}
    for name in ("rfm", "clv", "rules_product", "rules_category", "churn", "clusters"):
        a, b = spark_ws.artefact(name), duck_ws.artefact(name)
        assert len(a) == len(b) > 0, name
        for col in a.columns:
            if pd.api.types.is_float_dtype(a[col]):
                np.testing.assert_allclose(a[col], b[col], rtol=1e-6, err_msg=f"{name}.{col}")
            else:
                assert a[col].astype(str).tolist() == b[col].astype(str).tolist(), f"{name}.{col}"
    assert spark_ws.artefact("clv_params")["bgnbd"] == pytest.approx(duck_ws.artefact("clv_params")["bgnbd"], rel=1e-6)
    # churn's features and labels came from each engine's SQL: the same model, card and reasons
    card_s, card_d = spark_ws.artefact("churn_card"), duck_ws.artefact("churn_card")
    assert card_s["roc_auc"] == pytest.approx(card_d["roc_auc"], rel=1e-9)
    assert (card_s["n_train_customers"], card_s["n_churned"]) == (card_d["n_train_customers"], card_d["n_churned"])
    assert meta_s["provenance"]["churn"] == meta_d["provenance"]["churn"]
