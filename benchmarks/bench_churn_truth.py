"""Benchmark: the churn score against the demo's planted truth (issue 10, "Churn a manager can believe").

The demo generator writes the archetype of every customer (``truth.archetype_by_customer`` in
raw/manifest.json); 15 % are *lapsing*: their purchase rate falls and they stop 3-11 months before
the end. A churn score a manager can believe ranks those first, and flags about as many customers
as there are. For each score the script prints ROC AUC against the planted lapsing customers,
precision in the top 10 %, and the share with score ≥ 0.5 beside the planted share:

* own cycle — ``churn_scores`` as the product runs it (the default, ``label="own_cycle"``);
* no order  — the plain label ``label="no_order"`` with all features (the model before issue 10);
* 1 − P(alive) — the BG/NBD fit alone (tools.clv), no classifier.

Then the issue's example customer (a Champion who bought 25 days ago: 75.7 %, "省份 = 北京" first).

    .venv/bin/python benchmarks/bench_churn_truth.py [--customers 5000] [--seed 42] [--workspace DIR]

Without ``--workspace`` the demo is generated and ingested (tables only) in a temporary folder;
with it, an existing workspace's tables and raw/manifest.json are used (e.g. one built by
``guanxi demo --workspace /tmp/x --no-index``).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.build import build_tables  # noqa: E402
from knowledge.demo import MANIFEST, generate_demo  # noqa: E402
from knowledge.workspace import Workspace  # noqa: E402
from tools.churn import churn_scores, truth_metrics  # noqa: E402
from tools.results import default_as_of  # noqa: E402
from tools.rfm import rfm_table  # noqa: E402

EXAMPLE = "C104867"   # issue 10's Champion (seed 42, 5,000 customers)


def _line(name: str, m: dict, seconds: float | None = None) -> str:
    took = f"  ({seconds:.1f} s)" if seconds is not None else ""
    return (f"{name:14s} AUC {m['roc_auc']:.3f}   precision@10% {m['precision_top_decile']:.2f}   "
            f"at risk (≥ 0.5) {m['at_risk_share']:6.1%}   planted {m['truth_share']:.1%}{took}")


def run(ws: Workspace, seed: int) -> None:
    truth = pd.Series(json.loads((ws.raw_dir / MANIFEST).read_text(encoding="utf-8"))["truth"]["archetype_by_customer"])
    lapsing = truth == "lapsing"
    orders, customers, feedback = ws.table("orders"), ws.table("customers"), ws.table("feedback")
    as_of = default_as_of(orders)
    t0 = time.perf_counter()
    own = churn_scores(orders, customers, feedback, as_of=as_of, random_state=seed)
    t_own = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain = churn_scores(orders, customers, feedback, as_of=as_of, random_state=seed, label="no_order", attributes=True)
    t_plain = time.perf_counter() - t0
    alive = own.scores.assign(dead=1 - own.scores["p_alive"])
    print(f"{len(own.scores):,} customers scored as of {as_of:%Y-%m-%d}, {int(lapsing.sum()):,} planted lapsing")
    print(_line("own cycle", truth_metrics(own.scores, lapsing), t_own))
    print(_line("no order", truth_metrics(plain.scores, lapsing), t_plain))
    print(_line("1 − P(alive)", truth_metrics(alive, lapsing, score="dead")))
    card = own.card
    print(f"own cycle card: {card['model']}, hold-out ROC AUC {card['roc_auc']:.3f} on its own label "
          f"(churn rate {card['churn_rate']:.1%}), calibration error {card['holdout']['calibration_error']:.3f}, "
          f"attributes {'used' if (card['attribute_check'] or {}).get('used') else 'left out'} "
          f"(gain {(card['attribute_check'] or {}).get('gain', float('nan')):+.3f})")
    means = own.scores.set_index("customer_id")["churn_probability"].groupby(truth).mean()
    print("mean probability by archetype: " + ", ".join(f"{k} {v:.2f}" for k, v in means.sort_values().items()))
    rfm = rfm_table(orders, as_of=as_of).set_index("customer_id")
    for name, res in (("own cycle", own), ("no order", plain)):
        s = res.scores.set_index("customer_id")
        if EXAMPLE in s.index:
            r = s.loc[EXAMPLE]
            print(f"{EXAMPLE} ({rfm.loc[EXAMPLE, 'segment']}, {truth.get(EXAMPLE)}, last order "
                  f"{r['recency_days']:.0f} days ago) {name}: {r['churn_probability']:.1%} — {r['reasons_en']}")
            print(f"{'':>{len(EXAMPLE)}} {r['reasons_zh']}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=5000)
    p.add_argument("--seed", type=int, default=42, help="demo seed (also the model's random_state)")
    p.add_argument("--workspace", type=Path, help="use this built workspace instead of generating one")
    a = p.parse_args()
    if a.workspace:
        run(Workspace(a.workspace), a.seed)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        t0 = time.perf_counter()
        generate_demo(ws.raw_dir, customers=a.customers, seed=a.seed)
        build_tables(ws.raw_dir, ws)
        print(f"demo (customers={a.customers}, seed={a.seed}) generated and ingested in {time.perf_counter() - t0:.1f} s")
        run(ws, a.seed)


if __name__ == "__main__":
    main()
