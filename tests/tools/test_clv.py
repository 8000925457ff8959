"""CLV (BG/NBD + Gamma-Gamma): hand-worked examples, the published CDNOW figures, and the guards."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from knowledge.errors import GuanxiError
from tools.clv import (clv_table, customer_lifetime_value, expected_avg_value, expected_purchases, fit_bgnbd,
                       fit_gamma_gamma, p_alive, summary_from_transactions)

# Fader, Hardie & Lee (2005) on the CDNOW 1/10 sample (2357 customers, 39 calibration weeks).
PAPER_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def cdnow(shared_data):
    d = shared_data / "cdnow"
    transactions = pd.read_csv(d / "CDNOW_sample.txt", sep=r"\s+", header=None,
                               names=["master_id", "ID", "date", "cds", "dollars"])
    summary = pd.read_csv(d / "cdnow_customers_summary.csv").set_index("ID")
    with_money = pd.read_csv(d / "cdnow_customers_summary_with_transactions.csv").set_index("ID")
    return transactions, summary, with_money


@pytest.fixture(scope="module")
def cdnow_bg(cdnow):
    return fit_bgnbd(cdnow[1])


@pytest.fixture(scope="module")
def cdnow_gg(cdnow):
    return fit_gamma_gamma(cdnow[2].rename(columns={"x": "frequency", "zbar": "monetary_value"}))


# --------------------------------------------------------------------------- summary data

def test_summary_by_hand():
    tx = pd.DataFrame({
        "cust": ["A", "A", "A", "A", "B", "C", "C", "C", "D"],
        "when": ["2024-01-01 09:00", "2024-01-01 18:30",  # same day: one purchase of 15
                 "2024-01-15", "2024-01-29", "2024-02-05", "2024-01-08", "2024-02-12",
                 "2024-03-01", "2024-03-02"],                # after the calibration end: ignored
        "paid": [10, 5, 20, 30, 50, 10, 40, 99, 7],
    })
    s = summary_from_transactions(tx, "cust", "when", "paid", calibration_end="2024-02-12")
    assert list(s.index) == ["A", "B", "C"]  # D only bought after the calibration end
    # A: days Jan 1, 15, 29 → 2 repeats; last-first = 28 days = 4 weeks; T = 42 days = 6 weeks;
    #    monetary value = mean of the repeat days (20 + 30) / 2.
    assert s.loc["A"].tolist() == [2, 4.0, 6.0, 25.0]
    assert s.loc["B"].tolist() == [0, 0.0, 1.0, 0.0]   # one purchase, 7 days before the end
    assert s.loc["C"].tolist() == [1, 5.0, 5.0, 40.0]  # bought on the last day: recency = T
    days = summary_from_transactions(tx, "cust", "when", calibration_end="2024-02-12", freq="D")
    assert days.loc["A", "recency"] == 28 and days.loc["A", "T"] == 42 and "monetary_value" not in days


def test_summary_reproduces_the_published_cdnow_summary_exactly(cdnow):
    transactions, published, with_money = cdnow
    s = summary_from_transactions(transactions, "ID", "date", "dollars", calibration_end="1997-09-30")
    assert len(s) == len(published) == 2357
    s = s.loc[published.index]
    # The published file rounds weeks to 2 decimals; after the same rounding every value is equal.
    for col in ("frequency", "recency", "T"):
        assert np.abs(s[col].round(2) - published[col]).max() < 1e-9, col
    assert s["frequency"].sum() == 2457  # repeat transactions in the calibration period
    # zbar (mean repeat spend) is rounded to cents, half-cents either way.
    assert np.abs(s["monetary_value"] - with_money.loc[s.index, "zbar"]).max() <= 0.005 + 1e-9


# --------------------------------------------------------------------------- fits vs the papers

def test_bgnbd_reproduces_fader_hardie_lee_2005(cdnow_bg):
    for k, v in PAPER_BGNBD.items():
        assert cdnow_bg[k] == pytest.approx(v, rel=0.01), k
    # lifetimes' Quickstart prints r=0.242593, alpha=4.413532, a=0.792886, b=2.425752.
    assert cdnow_bg["r"] == pytest.approx(0.242593, rel=1e-4)
    assert cdnow_bg["alpha"] == pytest.approx(4.413532, rel=1e-4)
    assert cdnow_bg["converged"] and cdnow_bg["n"] == 2357 and cdnow_bg["ll"] < 0


def test_gamma_gamma_reproduces_the_rfm_clv_paper(cdnow_gg):
    for k, v in PAPER_GG.items():
        assert cdnow_gg[k] == pytest.approx(v, rel=0.01), k
    assert cdnow_gg["n"] == 946  # only repeat buyers enter the spend model


def test_conditional_expectation_matches_hardies_spreadsheet(cdnow_bg):
    # x=2, t_x=30.43, T=38.86: expected purchases in the next 39 weeks = 1.226.
    assert expected_purchases(cdnow_bg, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=0.001)
    assert expected_purchases(PAPER_BGNBD, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=0.001)


def test_predictions_match_lifetimes_quickstart(cdnow, cdnow_bg, cdnow_gg):
    summary = cdnow[1]
    top = expected_purchases(cdnow_bg, 1, summary["frequency"], summary["recency"], summary["T"])
    assert top.loc[1516] == pytest.approx(0.710623, abs=1e-5)
    assert top.loc[157] == pytest.approx(0.662396, abs=1e-5)
    money = cdnow[2].rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
    value = expected_avg_value(cdnow_gg, money["frequency"], money["monetary_value"])
    assert value.loc[[1, 2, 6, 9]].tolist() == pytest.approx([24.658619, 18.911489, 71.462843, 27.282408], rel=1e-5)
    # The Quickstart CLV used lifetimes' default freq="D" on this weekly data with 1 %/month.
    clv = customer_lifetime_value(cdnow_bg, cdnow_gg, money, months=12, discount_rate_annual=1.01 ** 12 - 1, freq="D")
    assert clv.loc[[1, 2, 3, 6, 9]].tolist() == pytest.approx(
        [140.096211, 18.943467, 38.180574, 1003.868107, 167.418216], rel=1e-5)


def test_expected_purchases_equals_the_paper_formula_and_p_alive_is_a_probability():
    r, alpha, a, b = PAPER_BGNBD.values()
    x, tx, T, t = 3, 20.0, 38.0, 52.0
    direct = ((a + b + x - 1) / (a - 1)
              * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t)))
              / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x)))
    assert expected_purchases(PAPER_BGNBD, t, x, tx, T) == pytest.approx(direct, rel=1e-10)
    assert p_alive(PAPER_BGNBD, 0, 0, 38) == 1.0  # BG/NBD: no repeat purchase, no chance to drop out
    assert 0 < p_alive(PAPER_BGNBD, 5, 5.0, 38.0) < p_alive(PAPER_BGNBD, 5, 37.0, 38.0) < 1
    # A very frequent customer stays finite (Euler's transform of 2F1).
    assert np.isfinite(expected_purchases(PAPER_BGNBD, 52, 400, 38.0, 38.5))


def test_one_time_buyers_get_the_population_mean_spend(cdnow_gg):
    p, q, v = cdnow_gg["p"], cdnow_gg["q"], cdnow_gg["v"]
    assert expected_avg_value(cdnow_gg, 0, 0.0) == pytest.approx(p * v / (q - 1))


# --------------------------------------------------------------------------- CRM entry point

def _simulated_orders(n=800, seed=3, r=0.5, alpha=20.0, a=0.8, b=4.0, days=365):
    """Orders from the BG/NBD story: Poisson buying (rate ~ Gamma(r, alpha) per day), after each
    purchase a Beta(a, b) chance to drop out; spend ~ gamma around a per-customer mean."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2025-01-01")
    for i in range(n):
        first = rng.integers(0, days // 2)
        lam, p_drop, mean_spend = rng.gamma(r, 1 / alpha), rng.beta(a, b), rng.gamma(4, 50)
        t = float(first)
        while t < days:
            rows.append((f"C{i:04d}", start + pd.Timedelta(days=int(t)), round(rng.gamma(6, mean_spend / 6), 2)))
            if rng.random() < p_drop:
                break
            t += rng.exponential(1 / lam)
    orders = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    orders.insert(0, "order_id", [f"O{k:06d}" for k in range(len(orders))])
    return orders


def test_clv_table_on_orders():
    orders = _simulated_orders()
    res = clv_table(orders)
    t = res.table
    assert list(t.columns) == ["customer_id", "frequency", "recency", "T", "monetary_value", "p_alive",
                               "expected_purchases_90d", "expected_avg_value", "clv_12m"]
    assert len(t) == orders["customer_id"].nunique()
    assert res.as_of == orders["order_date"].max().normalize() + pd.Timedelta(days=1)
    assert t["p_alive"].between(0, 1).all() and (t["clv_12m"] >= 0).all()
    assert (t["recency"] <= t["T"]).all()
    one_timers = t[t["frequency"] == 0]
    gg = res.gamma_gamma
    assert np.allclose(one_timers["expected_avg_value"], gg["p"] * gg["v"] / (gg["q"] - 1))
    assert set(res.params) >= {"bgnbd", "gamma_gamma", "as_of"}
    assert "clv_table" in res.provenance and "as of" in res.provenance and "orders" in res.provenance
    # The fit recovers the simulated dropout process roughly (r, a, b are unitless).
    assert res.bgnbd["r"] == pytest.approx(0.5, rel=0.35)


def test_clv_table_as_of_excludes_later_orders():
    orders = _simulated_orders(n=300, seed=5)
    cut = pd.Timestamp("2025-09-01")
    res = clv_table(orders, as_of=cut)
    assert set(res.table["customer_id"]) == set(orders.loc[orders["order_date"] < cut, "customer_id"])
    assert res.table["T"].max() <= (cut - pd.Timestamp("2025-01-01")).days / 7


# --------------------------------------------------------------------------- guards

def test_guards_name_the_problem():
    with pytest.raises(GuanxiError, match="repeat buyers"):
        clv_table(pd.DataFrame({"customer_id": ["a", "b"], "order_date": pd.to_datetime(["2025-01-01", "2025-02-01"]),
                                "amount": [10.0, 20.0]}))
    with pytest.raises(GuanxiError, match="amount"):
        clv_table(pd.DataFrame({"customer_id": ["a"], "order_date": ["2025-01-01"]}))
    with pytest.raises(GuanxiError, match="recency > T"):
        fit_bgnbd(pd.DataFrame({"frequency": [1, 2], "recency": [5.0, 9.0], "T": [4.0, 10.0]}))
    with pytest.raises(GuanxiError, match="negative"):
        fit_bgnbd(pd.DataFrame({"frequency": [-1, 2], "recency": [0.0, 9.0], "T": [4.0, 10.0]}))
    with pytest.raises(GuanxiError, match="empty"):
        fit_bgnbd(pd.DataFrame(columns=["frequency", "recency", "T"]))
    with pytest.raises(GuanxiError, match="lacks column 'T'"):
        fit_bgnbd(pd.DataFrame({"frequency": [1], "recency": [1.0]}))
    with pytest.raises(GuanxiError, match="Gamma-Gamma needs repeat buyers"):
        fit_gamma_gamma(pd.DataFrame({"frequency": [0, 1], "monetary_value": [0.0, 12.0]}))
    with pytest.raises(GuanxiError, match="not dates"):
        summary_from_transactions(pd.DataFrame({"c": [1], "d": ["yesterday-ish"]}), "c", "d")
    with pytest.raises(GuanxiError, match="freq"):
        summary_from_transactions(pd.DataFrame({"c": [1], "d": ["2025-01-01"]}), "c", "d", freq="M")
