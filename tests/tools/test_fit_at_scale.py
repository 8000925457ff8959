"""Past `model_fit_customers` the build's models are fitted on a seeded sample and everyone is
scored; churn reasons left for later are the text a full explanation gives (tools.churn_reasons)."""
import numpy as np
import pandas as pd
import pytest

from knowledge.engine import engine_for
from knowledge.settings import Settings
from knowledge.workspace import Workspace
from tools import churn, churn_reasons, clv, segments
from tools.results import fit_sample


def test_fit_sample_is_seeded_sorted_and_only_past_the_limit():
    assert fit_sample(100, None) is None and fit_sample(100, 100) is None
    a, b = fit_sample(1000, 50, random_state=3), fit_sample(1000, 50, random_state=3)
    assert np.array_equal(a, b) and len(set(a)) == 50 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, fit_sample(1000, 50, random_state=4))


@pytest.fixture(scope="module")
def engine(routing_ws, routing_settings):
    eng = engine_for(routing_ws, routing_settings)
    yield eng
    eng.close()


def test_clv_fitted_on_a_sample_scores_everyone(engine, routing_ws):
    as_of = routing_ws.as_of()
    summary = engine.purchase_summary(as_of)
    full = clv.clv_from_summary(summary, as_of, 1)
    same = clv.clv_from_summary(summary, as_of, 1, max_fit_customers=len(summary))
    assert same.bgnbd == full.bgnbd and "fitted_on" not in full.bgnbd
    part = clv.clv_from_summary(summary, as_of, 1, max_fit_customers=300, random_state=1)
    assert part.bgnbd["fitted_on"] == 300 and part.bgnbd["n"] == len(summary)
    assert len(part.table) == len(full.table) and part.table["clv_12m"].notna().all()
    assert any("sample of 300" in n for n in part.notes)
    # a sample of the same population lands near the full fit's expected purchases
    assert abs(part.table["expected_purchases_90d"].mean() / full.table["expected_purchases_90d"].mean() - 1) < 0.35


def test_clusters_fitted_on_a_sample_assign_everyone(engine, routing_ws):
    customers = routing_ws.table("customers")
    res = segments.cluster_customers(None, customers, as_of=routing_ws.as_of(), random_state=0, engine=engine,
                                     max_fit_customers=120)
    full = segments.cluster_customers(None, customers, as_of=routing_ws.as_of(), random_state=0, engine=engine)
    assert len(res.assignments) == len(full.assignments)
    assert res.assignments["cluster"].between(0, res.k - 1).all() and "fitted_on" in res.provenance


def test_deferred_churn_reasons_are_the_full_explanation(engine, routing_ws, tmp_path):
    customers, feedback = routing_ws.table("customers"), routing_ws.table("feedback")
    kw = dict(horizon_days=90, random_state=7, engine=engine, max_fit_customers=300)
    full = churn.churn_scores(None, customers, feedback, **kw)
    part = churn.churn_scores(None, customers, feedback, reasons_limit=40, **kw)
    assert full.card["n_fit_customers"] == 300 and full.deferred_features is None
    s = part.scores.set_index("customer_id")
    assert int((~s["reasons_deferred"]).sum()) == 40
    pd.testing.assert_series_equal(s["churn_probability"], full.scores.set_index("customer_id")["churn_probability"])
    # the 40 explained are the ones the at-risk list shows first
    first = s.loc[~s["reasons_deferred"]]
    shown_first = churn.reasons_first(s["churn_probability"].to_numpy(), s["annual_value"].fillna(0).to_numpy(), 40)
    assert set(first.index) == set(s.index[shown_first])
    ws = Workspace(tmp_path / "ws")
    churn_reasons.save_deferred(ws, part.model, part.deferred_features)
    later = s.loc[s["reasons_deferred"]].sample(25, random_state=0)
    filled = churn_reasons.fill_reasons(ws, later)
    want = full.scores.set_index("customer_id").loc[filled.index]
    assert (filled["reasons_en"] == want["reasons_en"]).all() and (filled["reasons_zh"] == want["reasons_zh"]).all()
    assert not filled["reasons_deferred"].any() and filled["reasons_en"].str.len().gt(0).any()
    assert churn_reasons.fill_reasons(ws, first.head(3)) is not None


def test_a_build_past_the_limit_shows_reasons_for_anyone(routing_ws, routing_settings, tmp_path):
    """precompute with a tiny model_fit_customers: the profile of a customer whose reasons were
    left for later shows them."""
    import shutil
    from tools.customer_tools import customer_profile
    from tools.context import ToolContext
    from tools.precompute import precompute
    root = tmp_path / "ws"
    shutil.copytree(routing_ws.base, root, ignore=shutil.ignore_patterns("builds"))
    ws = Workspace(root)
    settings = Settings.load(env={"GUANXI_MODEL_FIT_CUSTOMERS": "150"}, config_file=root / "none.toml", workspace=root)
    import tools.precompute as pre
    limit = pre.REASONS_AT_BUILD
    pre.REASONS_AT_BUILD = 30
    try:
        precompute(ws, settings)
    finally:
        pre.REASONS_AT_BUILD = limit
    scores = ws.artefact("churn")
    assert int((~scores["reasons_deferred"]).sum()) == 30
    cid = scores.loc[scores["reasons_deferred"], "customer_id"].iloc[0]
    card = customer_profile(cid, ctx=ToolContext(settings=settings, workspace=ws))
    assert card["churn"]["reasons_en"]
