"""Benchmark: the order-line aggregations of the build (RFM values, the BG/NBD purchase summary,
product baskets) on today's pandas path vs the engines (DuckDB; Spark with --spark), and the
driver-side BG/NBD fit on per-customer summaries of growing size.

Each (path, step) runs in its own child process, so the peak RSS printed is that step's alone
(reading the tables included: pandas loads the whole order table, the engines scan the Parquet).
The results are checked equal (sums within 1e-9 relative) before the times are printed.

    .venv/bin/python benchmarks/bench_engine.py --lines 100000 --customers 5000
    .venv/bin/python benchmarks/bench_engine.py --lines 1000000 --customers 50000 [--spark]
    .venv/bin/python benchmarks/bench_engine.py --fit 50000,200000,1000000   # BG/NBD fit only
    .venv/bin/python benchmarks/bench_engine.py --workspace WS --steps rfm --before /tmp/main-checkout

A workspace of demo tables (no analyses) is generated under --root (kept for the next run), or
--workspace names a built one (read only; the results go under --root). --before CHECKOUT adds that
checkout's DuckDB path (its knowledge/ and tools/ imported in the child), same run.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STEPS = ("rfm", "summary", "baskets")


def tables_ws(root: Path, customers: int, lines: int):
    """Demo tables (generator + ingestion + cleaning, no analyses) at ``root``, made once."""
    from knowledge.build import build_tables
    from knowledge.demo import generate_demo
    from knowledge.settings import Settings
    from knowledge.workspace import Workspace
    done = root / "tables-ready.json"
    if done.is_file():
        return Workspace(root, generation=json.loads(done.read_text())["generation"])
    ws = Workspace(root)
    generate_demo(ws.raw_dir, seed=42, customers=customers, orders=lines)
    staged = Workspace.staging(root)
    build_tables(ws.raw_dir, staged, settings=Settings.load(env={}, config_file=root / "none.toml", workspace=root))
    done.write_text(json.dumps({"generation": staged.generation}))
    return staged


def _hwm_mb(pid: str = "self") -> float:
    """Peak resident memory (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: str = "self") -> list[str]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids = (task / "children").read_text().split()
        out += kids + [g for k in kids for g in _children(k)]
    return out


def open_ws(root: Path):
    """The bench's workspace: the generation tables_ws made, else the one ``root`` serves."""
    from knowledge.workspace import Workspace
    done = root / "tables-ready.json"
    return Workspace(root, generation=json.loads(done.read_text())["generation"] if done.is_file() else None)


def run_one(path: str, step: str, root: Path, out: Path) -> None:
    """In the child: one step on one path; the result goes to ``out`` (parquet/json), times to stdout."""
    import pandas as pd
    from knowledge.engine import engine_for
    from knowledge.settings import Settings
    from knowledge.workspace import Workspace
    import duckdb  # noqa: F401  (libraries imported before the measurement starts)
    from tools import association, clv, rfm  # noqa: F401
    if path == "spark":
        import pyspark.sql  # noqa: F401
    ws = open_ws(root)
    base = Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]
    Path("/proc/self/clear_refs").write_text("5")   # reset the peak: measure this step only
    t0 = time.perf_counter()
    start = 0.0
    if path == "pandas":
        orders = ws.table("orders")
        as_of = (orders["order_date"].max().normalize() + pd.Timedelta(days=1))
        if step == "rfm":
            res = rfm.rfm_table(orders, as_of=as_of)[["customer_id", "recency_days", "frequency", "monetary"]]
        elif step == "summary":
            df = orders[["customer_id", "order_date", "amount"]].assign(day=orders["order_date"].dt.normalize())
            daily = df.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
            daily = daily[daily["amount"] > 0]
            res = clv.summary_from_transactions(daily, "customer_id", "day", "amount",
                                                calibration_end=as_of - pd.Timedelta(days=1)).reset_index()
        else:
            res = association.baskets_from_orders(orders, "product")
    else:
        eng = engine_for(ws, Settings().with_(engine="duckdb" if path == "before" else path))
        start = time.perf_counter() - t0
        as_of = eng.last_order().normalize() + pd.Timedelta(days=1)
        if step == "rfm":
            res = eng.rfm_values(as_of)[["customer_id", "recency_days", "frequency", "monetary"]]
        elif step == "summary":
            res = eng.purchase_summary(as_of).reset_index()
        else:
            res = eng.baskets("product")
    seconds = time.perf_counter() - t0
    if isinstance(res, list):
        out.write_text(json.dumps(res, ensure_ascii=False))
    else:
        res.reset_index(drop=True).to_parquet(out)
    jvm = sum(_hwm_mb(k) for k in _children())   # Spark's JVM (local mode: driver and executors)
    print(json.dumps({"seconds": seconds, "start_seconds": start, "base_mb": int(base) / 1024,
                      "peak_mb": _hwm_mb() + jvm, "jvm_mb": jvm}))


def compare(a: Path, b: Path) -> None:
    import numpy as np
    import pandas as pd
    if a.suffix == ".json":
        assert json.loads(a.read_text()) == json.loads(b.read_text()), f"{a.name} != {b.name}"
        return
    x, y = pd.read_parquet(a), pd.read_parquet(b)
    assert list(x.columns) == list(y.columns) and len(x) == len(y), (a.name, b.name)
    for c in x.columns:
        if pd.api.types.is_float_dtype(x[c]):
            np.testing.assert_allclose(x[c], y[c], rtol=1e-9, err_msg=c)
        else:
            assert x[c].astype(str).tolist() == y[c].astype(str).tolist(), c


def bench_fit(sizes: list[int]) -> None:
    """BG/NBD on the driver: fit time and the process's peak RSS, on a summary of n customers."""
    import numpy as np
    import pandas as pd
    from tools.clv import fit_bgnbd
    print("\nBG/NBD fit on the driver (scipy), synthetic per-customer summaries:")
    print(f"{'customers':>10} {'distinct':>10} {'fit s':>8} {'peak MB':>8}")
    for n in sizes:
        rng = np.random.default_rng(0)
        T = rng.integers(1, 157, n).astype(float)
        x = rng.poisson(rng.gamma(0.6, 1 / 0.8, n) * T / 10)
        tx = np.where(x > 0, np.minimum(T, rng.uniform(0, 1, n) * T + x), 0.0)
        s = pd.DataFrame({"frequency": x, "recency": np.minimum(tx, T), "T": T})   # nearly every history distinct
        t0 = time.perf_counter()
        fit_bgnbd(s)
        dt = time.perf_counter() - t0
        distinct = len(s.drop_duplicates())
        print(f"{n:>10,} {distinct:>10,} {dt:>8.2f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:>8.0f}",
              flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lines", type=int, default=100_000)
    p.add_argument("--customers", type=int, default=5_000)
    p.add_argument("--root", type=Path, default=None, help="workspace folder for the demo tables")
    p.add_argument("--spark", action="store_true", help="also the Spark engine (local[2])")
    p.add_argument("--fit", default="", help="comma-separated customer counts for the BG/NBD fit")
    p.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, of {', '.join(STEPS)}")
    p.add_argument("--workspace", type=Path, default=None, help="a built workspace to read (not written)")
    p.add_argument("--before", type=Path, default=None, help="a checkout whose DuckDB path runs too ('before')")
    p.add_argument("--one", nargs=3, metavar=("PATH", "STEP", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--code", type=Path, default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    root = a.root or Path(f"/tmp/guanxi-bench-engine-{a.lines}")
    if a.one:
        if a.code:   # the --before checkout's packages, not this one's
            sys.path.insert(0, str(a.code.resolve()))
        run_one(a.one[0], a.one[1], a.workspace or root, Path(a.one[2]))
        return
    if a.fit:
        bench_fit([int(v) for v in a.fit.split(",")])
        return
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ws = open_ws(a.workspace) if a.workspace else tables_ws(root, a.customers, a.lines)
    import pyarrow.parquet as pq
    rows = pq.read_metadata(ws.table_path("orders")).num_rows
    customers = pq.read_metadata(ws.table_path("customers")).num_rows
    print(f"{rows:,} order lines, {customers:,} customers (tables ready in {time.perf_counter() - t0:.0f} s)")
    paths = ["pandas", "duckdb"] + (["before"] if a.before else []) + (["spark"] if a.spark else [])
    print("seconds and peak RSS of each step (MB, the Python process after its imports + Spark's JVM)")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'step':<9}" + "".join(f"{p + ' s':>12}{p + ' MB':>12}" for p in paths) + f"{'pandas/duckdb':>15}"
          + (f"{'before/duckdb':>15}" if a.before else ""))
    for step in a.steps.split(","):
        got = {}
        for path in paths:
            out = root / f"out-{step}-{path}.{'json' if step == 'baskets' else 'parquet'}"
            where = ["--workspace", str(a.workspace)] if a.workspace else ["--root", str(root)]
            code = ["--code", str(a.before)] if path == "before" else []
            r = subprocess.run([sys.executable, __file__, *where, *code, "--one", path, step, str(out)],
                               capture_output=True, text=True)
            if r.returncode:
                sys.exit(f"{path} {step} failed:\n{r.stderr[-2000:]}")
            got[path] = json.loads(r.stdout.strip().splitlines()[-1]) | {"out": out}
        for path in paths[1:]:
            compare(got["pandas"]["out"], got[path]["out"])
        line = f"{step:<9}" + "".join(f"{got[p]['seconds']:>12.2f}{got[p]['peak_mb']:>12.0f}" for p in paths)
        print(line + f"{got['pandas']['seconds'] / got['duckdb']['seconds']:>14.1f}×"
              + (f"{got['before']['seconds'] / got['duckdb']['seconds']:>14.1f}×" if a.before else ""), flush=True)
        print(f"{'':<9}(baseline after imports {got['pandas']['base_mb']:.0f} MB"
              + (f"; spark: {got['spark']['start_seconds']:.0f} s of it starting the session, "
                 f"JVM {got['spark']['jvm_mb']:.0f} MB" if a.spark else "") + ")")
    print("equal on every path (sums within 1e-9 relative)")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
