"""Benchmark: tools.rfm.rfm_table on 1M order lines (50k customers) vs a per-customer loop.

The baseline is the straightforward approach: iterate over ``orders.groupby("customer_id")`` in
Python, compute recency / frequency / monetary per customer, then score them the same way. Both
run in this process on the same synthetic data; the script checks they agree and prints the
seconds and the speed-up (target ≥ 10×).

    .venv/bin/python benchmarks/bench_rfm.py [--lines 1000000] [--customers 50000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.rfm import _quintile, rfm_table  # noqa: E402
from tools.results import default_as_of  # noqa: E402


def synth_orders(lines: int = 1_000_000, customers: int = 50_000, seed: int = 0) -> pd.DataFrame:
    """Order lines: ~2.5 lines per order, skewed customer activity, two years of dates."""
    rng = np.random.default_rng(seed)
    n_orders = lines * 2 // 5
    weights = rng.pareto(1.5, customers) + 0.1
    cust_of_order = rng.choice(customers, n_orders, p=weights / weights.sum())
    cust_of_order[:customers] = rng.permutation(customers)  # every customer orders at least once
    # every order has at least one line; the rest of the lines land on random orders
    order_of_line = np.sort(np.concatenate([np.arange(n_orders), rng.integers(0, n_orders, lines - n_orders)]))
    start = np.datetime64("2024-01-01T00:00")
    minutes = rng.integers(0, 730 * 24 * 60, n_orders)
    return pd.DataFrame({
        "order_id": pd.Series(order_of_line).map("O{:07d}".format).astype("str"),
        "customer_id": pd.Series(cust_of_order[order_of_line]).map("C{:05d}".format).astype("str"),
        "order_date": start + minutes[order_of_line].astype("timedelta64[m]"),
        "amount": np.round(rng.gamma(2.0, 60.0, lines), 2),
    })


def loop_baseline(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per-customer Python loop over groupby groups, then the same quintile scoring."""
    rows = []
    for cid, grp in orders.groupby("customer_id"):
        last = grp["order_date"].max().normalize()
        rows.append((cid, (as_of - last).days, grp["order_id"].nunique(), float(grp["amount"].sum())))
    t = pd.DataFrame(rows, columns=["customer_id", "recency_days", "frequency", "monetary"])
    t = t.sort_values("customer_id").reset_index(drop=True)
    t["r_score"] = _quintile((-t["recency_days"]).rank(method="first"))
    t["f_score"] = _quintile(t["frequency"].rank(method="first"))
    t["m_score"] = _quintile(t["monetary"].rank(method="first"))
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=50_000)
    args = ap.parse_args()

    t0 = time.perf_counter()
    orders = synth_orders(args.lines, args.customers)
    as_of = default_as_of(orders)
    print(f"synthesised {len(orders):,} lines, {orders['order_id'].nunique():,} orders, "
          f"{orders['customer_id'].nunique():,} customers in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    fast = rfm_table(orders, as_of=as_of)
    t_fast = time.perf_counter() - t0

    t0 = time.perf_counter()
    slow = loop_baseline(orders, as_of)
    t_slow = time.perf_counter() - t0

    cols = ["customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"]
    a, b = fast[cols].reset_index(drop=True), slow[cols].reset_index(drop=True)
    same = (a["customer_id"].equals(b["customer_id"])
            and (a[["recency_days", "frequency", "r_score", "f_score", "m_score"]].to_numpy()
                 == b[["recency_days", "frequency", "r_score", "f_score", "m_score"]].to_numpy()).all()
            and np.allclose(a["monetary"], b["monetary"]))
    ratio = t_slow / t_fast
    print(f"rfm_table (vectorised, incl. segments/cn8/tiers): {t_fast:.2f} s")
    print(f"per-customer loop baseline (R/F/M + scores):      {t_slow:.2f} s")
    print(f"speed-up: {ratio:.1f}x (target >= 10x) — results identical: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
