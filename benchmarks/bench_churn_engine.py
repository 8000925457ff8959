"""Benchmark: churn on the engine vs pandas, and the build's whole analyses step (precompute).

Each measurement runs in its own child process (peak RSS = that step's, after the imports):

* ``churn pandas``: load the order table, ``churn_scores(orders, ...)`` (the reference path);
* ``churn duckdb``: ``churn_scores(None, ..., engine=DuckDB)`` — features and labels by SQL;
* ``analyses``: ``precompute`` (RFM, clusters, CLV, rules, churn) of this checkout, and with
  ``--before DIR`` the same step of another checkout (e.g. the main branch before the change).

The churn probabilities of both paths are checked equal (within 1e-6); reasons that differ are counted.

    .venv/bin/python benchmarks/bench_churn_engine.py --lines 1000000 --customers 50000 [--before ../main]

The demo tables are made (or reused) by benchmarks/bench_engine.py's ``tables_ws`` under --root.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _rss(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_one(what: str, root: Path, out: Path) -> None:
    """In the child: one measurement; prints a JSON line (seconds, peak_mb, base_mb)."""
    import duckdb  # noqa: F401  (libraries imported before the measurement starts)
    import sklearn.ensemble  # noqa: F401
    from knowledge.engine import engine_for
    from knowledge.settings import Settings
    from knowledge.workspace import Workspace
    from tools import association, churn, clv, rfm, segments  # noqa: F401
    from tools.precompute import precompute
    gen = json.loads((root / "tables-ready.json").read_text())["generation"]
    ws = Workspace(root, generation=gen)
    settings = Settings.load(env={}, config_file=root / "none.toml", workspace=root)
    customers = ws.table("customers")
    as_of = None
    if what.startswith("churn"):
        eng = engine_for(ws, settings)
        last = eng.last_order()
        eng.close()
        import pandas as pd
        as_of = last.normalize() + pd.Timedelta(days=1)
    base = _rss("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")   # reset the peak: measure this step only
    t0 = time.perf_counter()
    kw = dict(as_of=as_of, horizon_days=settings.churn_horizon_days, random_state=settings.seed)
    if what == "churn-pandas":
        res = churn.churn_scores(ws.table("orders"), customers, ws.table("feedback"), **kw)
    elif what == "churn-duckdb":
        eng = engine_for(ws, settings)
        res = churn.churn_scores(None, customers, ws.table("feedback"), engine=eng, **kw)
        eng.close()
    else:
        meta = precompute(ws, settings)
    dt = time.perf_counter() - t0
    peak = _rss("VmHWM")
    if what.startswith("churn"):
        res.scores.to_parquet(out)
        extra = {}
    else:
        extra = {"steps": meta["seconds"], "skipped": meta["skipped"]}
    print(json.dumps({"seconds": dt, "peak_mb": peak, "base_mb": base, **extra}))


def child(what: str, root: Path, out: Path, code: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    r = subprocess.run([sys.executable, __file__, "--root", str(root), "--one", what, str(out)],
                       capture_output=True, text=True, env=env, cwd=code)
    if r.returncode:
        sys.exit(f"{what} ({code}) failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lines", type=int, default=100_000)
    p.add_argument("--customers", type=int, default=5_000)
    p.add_argument("--root", type=Path, default=None, help="workspace folder for the demo tables")
    p.add_argument("--before", type=Path, default=None, help="another checkout whose precompute is measured too")
    p.add_argument("--skip-churn", action="store_true", help="only the analyses step")
    p.add_argument("--one", nargs=2, metavar=("WHAT", "OUT"), help=argparse.SUPPRESS)
    a = p.parse_args()
    root = a.root or Path(f"/tmp/guanxi-bench-engine-{a.lines}")
    if a.one:
        run_one(a.one[0], root, Path(a.one[1]))
        return
    sys.path.insert(0, str(HERE / "benchmarks"))
    sys.path.insert(0, str(HERE))
    from bench_engine import tables_ws
    root.mkdir(parents=True, exist_ok=True)
    ws = tables_ws(root, a.customers, a.lines)
    import pandas as pd
    import pyarrow.parquet as pq
    print(f"{pq.read_metadata(ws.table_path('orders')).num_rows:,} order lines, {a.customers:,} customers")
    if not a.skip_churn:
        got = {}
        for what in ("churn-pandas", "churn-duckdb"):
            got[what] = child(what, root, root / f"out-{what}.parquet", HERE)
            print(f"{what:<14} {got[what]['seconds']:>8.1f} s {got[what]['peak_mb']:>8.0f} MB peak "
                  f"(after imports {got[what]['base_mb']:.0f} MB)", flush=True)
        x, y = (pd.read_parquet(root / f"out-{w}.parquet") for w in ("churn-pandas", "churn-duckdb"))
        assert x["customer_id"].tolist() == y["customer_id"].tolist()
        assert ((x["churn_probability"] - y["churn_probability"]).abs() <= 1e-6).all()
        differ = int((x["reasons_en"] != y["reasons_en"]).sum())
        print(f"churn probabilities equal on both paths (within 1e-6); reasons differ for {differ} of {len(x):,} "
              f"customers (a money figure at an exact .5: the engine's exact sum rounds to even, pandas' float sum "
              f"may land a hair above)")
    for label, code in (("before", a.before), ("after", HERE)):
        if code is None:
            continue
        r = child("analyses", root, root / "unused", Path(code).resolve())
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in r["steps"].items())
        print(f"analyses {label:<7} {r['seconds']:>8.1f} s {r['peak_mb']:>8.0f} MB peak ({steps})", flush=True)


if __name__ == "__main__":
    main()
