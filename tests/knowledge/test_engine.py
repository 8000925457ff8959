"""The DuckDB engine (the default): its SQL over the demo workspace's Parquet gives what the pandas
analyses give — integers exactly, sums of money within 1e-9 relative — and the build uses it."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from knowledge.engine import (CUSTOMER_ORDERS, DuckDBEngine, engine_for, order_items_sql, rfm_sql, rfm_totals_sql,
                              spark_available, write_customer_orders)
from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from tools import association, clv, rfm
from tools.results import default_as_of

RTOL = 1e-9   # float sums in another order: the only difference allowed


@pytest.fixture(scope="module")
def orders(routing_ws):
    return routing_ws.table("orders")


@pytest.fixture(scope="module")
def as_of(orders):
    return default_as_of(orders)


@pytest.fixture(scope="module")
def duck(routing_ws):
    eng = engine_for(routing_ws, Settings())
    yield eng
    eng.close()


def test_the_default_engine_is_duckdb_over_the_workspace_tables(duck, routing_ws):
    assert isinstance(duck, DuckDBEngine) and duck.name == "duckdb"
    assert duck.tables["orders"] == routing_ws.table_path("orders")
    n = duck.sql("SELECT count(*) AS n FROM orders").column("n")[0].as_py()
    assert n == len(routing_ws.table("orders")) > 0


def test_rfm_values_equal_the_pandas_rfm_table(duck, orders, as_of):
    values = duck.rfm_values(as_of)
    ref = rfm.rfm_table(orders, as_of=as_of)
    assert values["customer_id"].tolist() == ref["customer_id"].tolist()
    assert values["recency_days"].tolist() == ref["recency_days"].tolist()
    assert values["frequency"].tolist() == ref["frequency"].tolist()
    np.testing.assert_allclose(values["monetary"], ref["monetary"], rtol=RTOL)
    assert values["lines"].sum() == len(rfm.prepare_orders(orders, as_of)[0])


def test_the_rfm_table_from_engine_values_is_the_pandas_one(duck, orders, as_of):
    values = duck.rfm_values(as_of)
    table = rfm.rfm_scores(values, as_of, rows=int(values["lines"].sum()))
    ref = rfm.rfm_table(orders, as_of=as_of)
    pd.testing.assert_frame_equal(table, ref, check_exact=False, rtol=RTOL)
    assert table.attrs["provenance"] == ref.attrs["provenance"]


def test_an_earlier_as_of_leaves_later_orders_out_on_both_paths(duck, orders, as_of):
    earlier = as_of - pd.Timedelta(days=120)
    values = duck.rfm_values(earlier)
    ref = rfm.rfm_table(orders, as_of=earlier)
    assert len(values) == len(ref) < len(duck.rfm_values(as_of)) + 1
    assert values["frequency"].tolist() == ref["frequency"].tolist()
    assert (values["recency_days"] >= 1).all()


def test_the_build_writes_the_customer_orders_rfm_reads_when_every_line_is_before_as_of(duck, routing_ws, as_of):
    assert duck.tables[CUSTOMER_ORDERS] == routing_ws.table_path(CUSTOMER_ORDERS)
    lines = DuckDBEngine({"orders": routing_ws.table_path("orders")})   # no customer_orders: the lines' SQL
    try:
        for day in (as_of, as_of + pd.Timedelta(days=30), as_of - pd.Timedelta(days=1)):
            got, ref = DuckDBEngine(duck.tables), lines.rfm_values(day)
            pd.testing.assert_frame_equal(got.rfm_values(day), ref, check_exact=False, rtol=RTOL)
            assert got.log[-1] == (rfm_totals_sql() if day >= as_of else rfm_sql(day)).strip()
            assert lines.log[-1] == rfm_sql(day).strip()
            got.close()
    finally:
        lines.close()


def _lines(tmp_path, rows):
    path = tmp_path / "orders.parquet"
    pd.DataFrame(rows, columns=["order_id", "customer_id", "order_date", "amount"]).astype(
        {"order_date": "datetime64[ns]"}).to_parquet(path, index=False)
    return path


def test_customer_orders_count_orders_as_the_lines_do_in_python_string_order(tmp_path):
    """Lines without an order id, amount or date; one order id under two customers; ids whose byte
    order (the SQL's ORDER BY) must be Python's order, as rfm_values no longer sorts again."""
    rows = [("O1", "b", "2024-01-02 10:00", 5.0), ("O1", "b", "2024-01-03 09:00", 2.5), ("O2", "b", "2024-02-01", 1.0),
            (None, "b", "2024-03-01", 4.0), (None, "b", "2024-03-02", 1.0), ("O3", "B", "2024-01-01", None),
            ("O3", "B", "2024-01-05", 3.0), ("O1", "张", "2024-01-02", 7.0), ("O4", "é", None, 2.0),
            ("O5", "é", "2024-04-30 23:59:59", 6.0), ("O6", "Z", "2024-01-01", 1.0), ("O7", "a", "2024-02-02", 2.0)]
    orders = _lines(tmp_path, rows)
    write_customer_orders(orders, tmp_path / "customer_orders.parquet")
    eng = DuckDBEngine({"orders": orders, CUSTOMER_ORDERS: tmp_path / "customer_orders.parquet"})
    lines = DuckDBEngine({"orders": orders})
    as_of = pd.Timestamp("2024-05-01")
    got = eng.rfm_values(as_of)
    assert eng.log[-1] == rfm_totals_sql().strip()
    pd.testing.assert_frame_equal(got, lines.rfm_values(as_of))
    assert got["customer_id"].tolist() == sorted(got["customer_id"]) == ["B", "Z", "a", "b", "é", "张"]
    assert dict(zip(got["customer_id"], got["frequency"])) == {"B": 1, "Z": 1, "a": 1, "b": 2, "é": 1, "张": 1}
    assert dict(zip(got["customer_id"], got["lines"])) == {"B": 1, "Z": 1, "a": 1, "b": 5, "é": 1, "张": 1}
    ref = rfm.rfm_table(pd.read_parquet(orders), as_of=as_of)
    assert ref["customer_id"].tolist() == got["customer_id"].tolist()
    assert ref["frequency"].tolist() == got["frequency"].tolist()
    eng.close(), lines.close()


def test_customer_orders_made_from_other_orders_are_not_read(tmp_path):
    orders = _lines(tmp_path, [("O1", "a", "2024-01-02", 5.0), ("O2", "a", "2024-01-03", 1.0)])
    write_customer_orders(orders, tmp_path / "customer_orders.parquet")
    _lines(tmp_path, [("O1", "a", "2024-01-02", 5.0), ("O2", "a", "2024-01-03", 1.0), ("O3", "a", "2024-01-04", 1.0)])
    eng = DuckDBEngine({"orders": orders, CUSTOMER_ORDERS: tmp_path / "customer_orders.parquet"})
    got = eng.rfm_values(pd.Timestamp("2024-02-01"))
    assert eng.log[-1] == rfm_sql(pd.Timestamp("2024-02-01")).strip()
    assert got["frequency"].tolist() == [3] and got["lines"].tolist() == [3]
    eng.close()


def test_purchase_summary_equals_the_clv_summary_and_fits_the_same_model(duck, orders, as_of):
    summary = duck.purchase_summary(as_of)
    ref = clv.clv_table(orders, as_of=as_of)
    got = clv.clv_from_summary(summary, as_of, len(orders))
    cols = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    pd.testing.assert_frame_equal(got.table[cols], ref.table[cols], check_exact=False, rtol=RTOL)
    assert got.bgnbd == pytest.approx(ref.bgnbd, rel=1e-6)
    np.testing.assert_allclose(got.table["clv_12m"], ref.table["clv_12m"], rtol=1e-6)


@pytest.mark.parametrize("level", ["product", "category"])
def test_baskets_equal_the_pandas_baskets(duck, orders, level):
    assert duck.baskets(level) == association.baskets_from_orders(orders, level)


@pytest.mark.parametrize("level", ["product", "category"])
def test_the_basket_matrix_is_the_one_hot_of_the_baskets(duck, level):
    matrix, items = duck.basket_matrix(level)
    ref, ref_items = association._one_hot(duck.baskets(level))
    assert items == ref_items and matrix.shape == ref.shape
    assert (matrix != ref).nnz == 0


@pytest.mark.parametrize("level", ["product", "category"])
def test_rules_over_engine_baskets_equal_the_pandas_rules(duck, orders, level):
    got = association.mine_order_rules(None, level=level, engine=duck)
    ref = association.mine_order_rules(orders, level=level)
    assert len(got) == len(ref) > 0
    pd.testing.assert_frame_equal(got.reset_index(drop=True), ref.reset_index(drop=True))
    assert got.attrs["n_baskets"] == ref.attrs["n_baskets"]
    assert "duckdb SQL over orders.parquet" in got.attrs["provenance"]


def test_the_build_ran_its_analyses_on_duckdb_and_they_equal_pandas(routing_ws, orders, as_of):
    meta = routing_ws.artefact("meta")
    assert meta["engine"] == "duckdb"
    stored = routing_ws.artefact("rfm")
    ref = rfm.rfm_table(orders, as_of=as_of)
    pd.testing.assert_frame_equal(stored[ref.columns.tolist()], ref, check_exact=False, rtol=RTOL)
    rules = routing_ws.artefact("rules_product")
    ref_rules = association.mine_order_rules(orders, level="product")
    assert len(rules) == len(ref_rules)
    np.testing.assert_allclose(rules["lift"], ref_rules["lift"], rtol=RTOL)


def test_a_workspace_without_product_columns_says_what_baskets_need(tmp_path, routing_ws):
    shutil.copy(routing_ws.table_path("orders"), tmp_path / "orders.parquet")
    o = pd.read_parquet(tmp_path / "orders.parquet").drop(columns=["category"])
    o.to_parquet(tmp_path / "orders.parquet", index=False)
    eng = DuckDBEngine({"orders": tmp_path / "orders.parquet"})
    with pytest.raises(GuanxiError, match="category"):
        eng.baskets("category")
    with pytest.raises(GuanxiError, match="level must be"):
        order_items_sql(["order_id"], "brand")
    with pytest.raises(GuanxiError, match="no feedback table"):
        eng.columns("feedback")
    eng.close()


def test_an_unknown_engine_setting_is_refused_by_name():
    with pytest.raises(GuanxiError, match="engine.*duckdb, spark"):
        Settings().with_(engine="polars")
    assert Settings().with_(engine="spark", spark_master="spark://10.0.0.5:7077").spark_master.startswith("spark://")


def test_spark_availability_is_reported_as_a_reason_or_none():
    why = spark_available()
    assert why is None or "pyspark" in why or "Java" in why


def test_choosing_spark_without_spark_installed_says_how_to_get_it(routing_ws, monkeypatch):
    import knowledge.engine as engine
    monkeypatch.setattr(engine, "spark_available", lambda: "pyspark is not installed (pip install 'guanxi[spark]')")
    with pytest.raises(GuanxiError, match=r"engine = \"spark\" needs Spark: pyspark is not installed.*guanxi\[spark\]"):
        engine_for(routing_ws, Settings().with_(engine="spark"))


def test_cluster_features_from_the_engine_equal_the_pandas_ones(duck, routing_ws, orders, as_of):
    from tools import segments
    customers = routing_ws.table("customers")
    got, got_cols, _ = segments.customer_features(None, customers, as_of, engine=duck)
    ref, ref_cols, _ = segments.customer_features(orders, customers, as_of)
    assert got_cols == ref_cols and len(got_cols) > 1
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=RTOL)
    a = segments.cluster_customers(orders, customers, as_of=as_of, random_state=7, engine=duck)
    b = segments.cluster_customers(orders, customers, as_of=as_of, random_state=7)
    pd.testing.assert_frame_equal(a.assignments, b.assignments)
    assert a.provenance == b.provenance


@pytest.mark.parametrize("at_days_before", [0, 90])
def test_churn_features_from_the_engine_equal_the_pandas_ones(duck, routing_ws, orders, as_of, at_days_before):
    from tools import churn
    at = as_of - pd.Timedelta(days=at_days_before)
    customers, feedback = routing_ws.table("customers"), routing_ws.table("feedback")
    got = churn.churn_features(None, customers, feedback, at=at, engine=duck)
    ref = churn.churn_features(orders, customers, feedback, at=at)
    assert len(got) == len(ref) > 0 and got.columns.tolist() == ref.columns.tolist()
    assert {"gap_trend", "amount_trend", "order_channel", "n_categories", "complaints"} <= set(got.columns)
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=RTOL, check_index_type=False)
    prior, ref_prior = got.attrs["rhythm_prior"], ref.attrs["rhythm_prior"]
    assert prior["source"] == ref_prior["source"] == "BG/NBD fit"
    assert [prior[k] for k in "r alpha a b".split()] == pytest.approx([ref_prior[k] for k in "r alpha a b".split()],
                                                                      rel=1e-9)
    rhythm = churn.buying_rhythm(None, at, engine=duck)
    pd.testing.assert_frame_equal(rhythm, churn.buying_rhythm(orders, at), check_exact=False, rtol=RTOL,
                                  check_index_type=False)


def test_churn_labels_from_the_engine_equal_the_pandas_ones(duck, orders, as_of):
    from tools import churn
    cutoff = as_of - pd.Timedelta(days=90)
    plain = churn.churn_labels(None, cutoff, as_of, engine=duck)
    pd.testing.assert_series_equal(plain, churn.churn_labels(orders, cutoff, as_of), check_index_type=False)
    lapsed = churn.lapse_labels(None, cutoff, as_of, engine=duck)
    ref = churn.lapse_labels(orders, cutoff, as_of)
    assert 0 < lapsed.sum() < plain.sum()
    pd.testing.assert_series_equal(lapsed, ref, check_index_type=False)


def test_churn_scores_on_the_engine_equal_the_pandas_scores_and_reasons(duck, routing_ws, routing_settings, orders,
                                                                       as_of):
    from tools import churn
    customers, feedback = routing_ws.table("customers"), routing_ws.table("feedback")
    kw = dict(as_of=as_of, horizon_days=routing_settings.churn_horizon_days, random_state=routing_settings.seed)
    got = churn.churn_scores(None, customers, feedback, engine=duck, **kw)
    ref = churn.churn_scores(orders, customers, feedback, **kw)
    np.testing.assert_allclose(got.scores["churn_probability"], ref.scores["churn_probability"], rtol=1e-6, atol=1e-9)
    for col in ("customer_id", "risk_band", "reasons_en", "reasons_zh"):
        assert got.scores[col].tolist() == ref.scores[col].tolist(), col
    pd.testing.assert_frame_equal(got.scores, ref.scores, check_exact=False, rtol=1e-6)
    assert got.card["roc_auc"] == pytest.approx(ref.card["roc_auc"], rel=1e-9)
    assert got.provenance == ref.provenance
    assert got.card["label_definition"] == ref.card["label_definition"]
    # the build ran churn on the engine: its artefact is these scores
    stored = routing_ws.artefact("churn")
    assert stored["customer_id"].tolist() == ref.scores["customer_id"].tolist()
    assert stored["reasons_en"].tolist() == ref.scores["reasons_en"].tolist()
    np.testing.assert_allclose(stored["churn_probability"], ref.scores["churn_probability"], rtol=1e-6, atol=1e-9)
    assert routing_ws.artefact("meta")["provenance"]["churn"] == ref.provenance


def test_a_connection_past_its_memory_limit_spills_to_its_own_folder():
    """The buffer pool is bounded; a sort larger than it spills to a folder of this process under
    the system's temp folder (made by DuckDB when first needed) and still answers."""
    import duckdb
    from knowledge.engine import duckdb_config
    config = duckdb_config(threads=1, memory_limit="40MB")
    assert str(os.getpid()) in config["temp_directory"]
    con = duckdb.connect(config=config)
    n = con.sql("SELECT count(*) FROM (SELECT i, md5(CAST(i AS VARCHAR)) AS h FROM range(3000000) t(i) "
                "ORDER BY h)").fetchall()[0][0]
    assert n == 3_000_000
    con.close()
