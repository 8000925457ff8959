"""Benchmark: tools.association.mine_rules (sparse FP-growth) vs mlxtend apriori on a dense one-hot frame.

Run by hand:  .venv/bin/python benchmarks/bench_association.py

Data sets
  groceries   /work/shared/data/groceries/groceries.csv (9835 baskets, 169 items), support 0.001, confidence 0.5
  synthetic   100,000 baskets × 5,000 items (Zipf-like popularity, 1 + Poisson(5) items per basket) with
              40 planted item groups of 2-4 items, support 0.01, confidence 0.3. Support 0.01 because dense
              apriori does not fit at 0.005: 305 frequent items → C(305,2) = 46k level-2 candidates and a
              100k × 46k × 2 bool array (9.3 GB) inside mlxtend's apriori; at 0.01 (153 items) it is 2.3 GB.
  synthetic-low  the same baskets at support 0.002, mine_rules only (apriori would need ~29 GB).

Each method runs in a fresh child process of this same Python (so peak RSS is per method): it builds the
data, records RSS, mines, and reports seconds, peak RSS and the rule set. The baseline is plain mlxtend:
``apriori`` on a dense bool DataFrame + ``association_rules(num_itemsets=n)``, single-item consequents
(arules' convention, as mine_rules). The rule sets (antecedent, consequent) must be identical.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GROCERIES = ROOT.parent / "shared" / "data" / "groceries" / "groceries.csv"

# "synthetic-low" runs mine_rules only: at support 0.002 the synthetic set has 541 frequent items and
# dense apriori's level-2 candidate matrix (baskets × C(k,2) × 2 bools) would need ~29 GB.
CASES = {
    "groceries": dict(data="groceries", min_support=0.001, min_confidence=0.5, baseline=True),
    "synthetic": dict(data="synthetic", min_support=0.01, min_confidence=0.3, baseline=True),
    "synthetic-low": dict(data="synthetic", min_support=0.002, min_confidence=0.3, baseline=False),
}


def synthetic_baskets(n_baskets: int = 100_000, n_items: int = 5_000, seed: int = 2024) -> list[list[str]]:
    """Deterministic baskets with a long-tailed item popularity and planted co-occurring groups."""
    import numpy as np
    rng = np.random.default_rng(seed)
    weights = 1.0 / (np.arange(n_items) + 10.0) ** 1.1
    weights /= weights.sum()
    sizes = 1 + rng.poisson(5, n_baskets)
    flat = rng.choice(n_items, size=int(sizes.sum()), p=weights)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    baskets = [set(flat[bounds[i]:bounds[i + 1]].tolist()) for i in range(n_baskets)]
    # Planted groups: items from the mid/long tail bought together in 0.6-1.5 % of baskets.
    for g in range(40):
        group = rng.choice(np.arange(200, n_items), size=int(rng.integers(2, 5)), replace=False).tolist()
        share = rng.uniform(0.006, 0.015)
        for i in np.flatnonzero(rng.random(n_baskets) < share):
            # occasionally one member is missing, so confidences are < 1
            keep = [it for it in group if rng.random() > 0.1]
            baskets[i].update(keep)
    return [[f"item{it:04d}" for it in sorted(b)] for b in baskets]


def load(case: str) -> list[list[str]]:
    if CASES[case]["data"] == "groceries":
        with open(GROCERIES, encoding="utf-8") as f:
            return [line.rstrip("\n").split(",") for line in f]
    return synthetic_baskets()


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(case: str, method: str, out: str) -> None:
    import warnings
    warnings.filterwarnings("ignore")
    baskets = load(case)
    params = CASES[case]
    n = len(baskets)
    import mlxtend.frequent_patterns  # noqa: F401  (imported before the RSS reading, for both methods)
    import pandas as pd  # noqa: F401
    if method == "ours":
        from tools.association import mine_rules
        rss0 = rss_mb()
        t0 = time.perf_counter()
        rules = mine_rules(baskets, params["min_support"], params["min_confidence"])
        secs = time.perf_counter() - t0
        pairs = set(zip(rules["antecedents"], rules["consequents"]))
    else:
        import pandas as pd
        from mlxtend.frequent_patterns import apriori, association_rules
        from mlxtend.preprocessing import TransactionEncoder
        rss0 = rss_mb()
        t0 = time.perf_counter()
        onehot = TransactionEncoder().fit(baskets).transform(baskets)  # dense bool ndarray
        items = sorted({it for b in baskets for it in b})
        df = pd.DataFrame(onehot, columns=items)
        frequent = apriori(df, min_support=params["min_support"], use_colnames=True)
        rules = association_rules(frequent, num_itemsets=n, metric="confidence",
                                  min_threshold=params["min_confidence"])
        rules = rules[rules["consequents"].map(len) == 1]
        secs = time.perf_counter() - t0
        pairs = set(zip(rules["antecedents"], rules["consequents"]))
    with open(out, "wb") as f:
        pickle.dump({"seconds": secs, "peak_mb": peak_mb(), "rss_before_mb": rss0, "rules": len(pairs),
                     "pairs": pairs, "n": n}, f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=list(CASES), action="append")
    ap.add_argument("--child", nargs=3, metavar=("CASE", "METHOD", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_child(*args.child)
        return
    results = {}
    for case in args.case or list(CASES):
        row = {}
        for method in ("ours", "apriori") if CASES[case]["baseline"] else ("ours",):
            with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as tmp:
                path = tmp.name
            try:
                subprocess.run([sys.executable, __file__, "--child", case, method, path], check=True)
                with open(path, "rb") as f:
                    row[method] = pickle.load(f)
            finally:
                os.unlink(path)
        ours = row["ours"]
        if "apriori" not in row:
            results[case] = {"baskets": ours["n"], "min_support": CASES[case]["min_support"],
                             "min_confidence": CASES[case]["min_confidence"], "rules_ours": ours["rules"],
                             "seconds_ours": round(ours["seconds"], 2), "peak_rss_mb_ours": round(ours["peak_mb"]),
                             "rss_before_mining_mb": round(ours["rss_before_mb"])}
            print(f"\n== {case}: {ours['n']:,} baskets, support {CASES[case]['min_support']}, "
                  f"confidence {CASES[case]['min_confidence']} (mine_rules only)")
            print(f"  mine_rules (sparse FP-growth): {ours['seconds']:8.2f} s  peak RSS {ours['peak_mb']:8.0f} MB  "
                  f"rules {ours['rules']:,}")
            continue
        base = row["apriori"]
        same = ours["pairs"] == base["pairs"]
        results[case] = {
            "baskets": ours["n"], "min_support": CASES[case]["min_support"],
            "min_confidence": CASES[case]["min_confidence"], "rules_ours": ours["rules"], "rules_apriori": base["rules"],
            "identical_rule_sets": same,
            "only_ours": len(ours["pairs"] - base["pairs"]), "only_apriori": len(base["pairs"] - ours["pairs"]),
            "seconds_ours": round(ours["seconds"], 2), "seconds_apriori": round(base["seconds"], 2),
            "speedup": round(base["seconds"] / ours["seconds"], 1),
            "peak_rss_mb_ours": round(ours["peak_mb"]), "peak_rss_mb_apriori": round(base["peak_mb"]),
            "rss_before_mining_mb": [round(ours["rss_before_mb"]), round(base["rss_before_mb"])],
            "memory_ratio": round(base["peak_mb"] / ours["peak_mb"], 1),
        }
        print(f"\n== {case}: {ours['n']:,} baskets, support {CASES[case]['min_support']}, "
              f"confidence {CASES[case]['min_confidence']}")
        print(f"  mine_rules (sparse FP-growth): {ours['seconds']:8.2f} s  peak RSS {ours['peak_mb']:8.0f} MB  "
              f"rules {ours['rules']:,}")
        print(f"  mlxtend apriori (dense):       {base['seconds']:8.2f} s  peak RSS {base['peak_mb']:8.0f} MB  "
              f"rules {base['rules']:,}")
        print(f"  speed-up ×{results[case]['speedup']}, memory ×{results[case]['memory_ratio']}, "
              f"identical rule sets: {same}"
              + ("" if same else f" (only ours {results[case]['only_ours']}, only apriori {results[case]['only_apriori']})"))
    print("\n" + json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
