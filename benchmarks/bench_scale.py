"""Benchmark: how a whole build grows — `guanxi build --no-index` (tables + analyses) at 100k, 1M
and 10M order lines, on each engine, as a user runs it.

For each size the demo generator writes the raw files once (10 lines per customer, 3 feedback per
10 customers: 10M lines = 1M customers and 300k feedback), kept under --root for the next run.
Each build runs as its own `guanxi build` process; its wall time and the peak of the resident
memory of the whole process tree (Guanxi plus Spark's JVM) sampled every 0.2 s are printed, with
the build's own stage times (tables; RFM, clusters, CLV, rules, churn). Nothing is asserted.

    .venv/bin/python benchmarks/bench_scale.py --lines 100000,1000000,10000000 [--engines duckdb,spark]
    .venv/bin/python benchmarks/bench_scale.py --lines 10000000 --engines duckdb --root /tmp/guanxi-scale

Spark needs the guanxi[spark] extra and Java 17 (`./test.sh` installs them).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    total, todo = 0.0, [str(pid)]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += (task / "children").read_text().split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def data_for(root: Path, lines: int) -> Path:
    """The demo's raw files at ``lines`` order lines (made once)."""
    from knowledge.demo import generate_demo
    folder = root / f"data-{lines}"
    if not (folder / "manifest.json").is_file():
        customers = max(lines // 10, 1000)
        generate_demo(folder, customers=customers, orders=lines, feedback=int(customers * 0.3), seed=42)
    return folder


def build_once(data: Path, ws: Path, engine: str) -> dict:
    """One `guanxi build` in a child process: seconds, peak MB of its process tree, stage times."""
    import shutil
    shutil.rmtree(ws, ignore_errors=True)
    env = {**os.environ, "GUANXI_ENGINE": engine, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    cmd = [sys.executable, "-c", "from assistant.cli import main; main()", "build", "--data", str(data),
           "--workspace", str(ws), "--no-index"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=tempfile.gettempdir(), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    peak = [0.0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out = proc.communicate()[0]
    seconds = time.perf_counter() - t0
    th.join()
    if proc.returncode:
        return {"error": out.strip().splitlines()[-1] if out.strip() else f"exit {proc.returncode}",
                "seconds": round(seconds, 1), "peak_mb": round(peak[0])}
    after = out.split("\nanalyses:", 1)[-1]
    stages = {m.group(1): float(m.group(2)) for m in re.finditer(r"^\s+([a-z_]+): ([\d.]+) s$", after, re.M)}
    return {"seconds": round(seconds, 1), "peak_mb": round(peak[0]), "analyses": stages,
            "analyses_s": round(sum(stages.values()), 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", default="100000,1000000,10000000", help="comma-separated order-line counts")
    p.add_argument("--engines", default="duckdb,spark", help="comma-separated engines")
    p.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "guanxi-scale")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = p.parse_args(argv)
    a.root.mkdir(parents=True, exist_ok=True)
    results = []
    print("| order lines | customers | engine | build | peak RSS | of which analyses | rfm · clusters · clv · rules · churn · order index |")
    print("|---|---|---|---|---|---|---|")
    for lines in (int(x) for x in a.lines.split(",")):
        data = data_for(a.root, lines)
        for engine in a.engines.split(","):
            r = build_once(data, a.root / f"ws-{lines}-{engine}", engine)
            r.update(lines=lines, customers=max(lines // 10, 1000), engine=engine)
            results.append(r)
            if "error" in r:
                print(f"| {lines:,} | {r['customers']:,} | {engine} | failed after {r['seconds']} s: {r['error']} | | | |")
                continue
            st = r["analyses"]
            parts = " · ".join(f"{st.get(k, float('nan')):.0f}" for k in ("rfm", "clusters", "clv", "rules", "churn",
                                                                           "orders_index"))
            print(f"| {lines:,} | {r['customers']:,} | {engine} | {r['seconds']:.0f} s | {r['peak_mb'] / 1024:.2f} GB "
                  f"| {r['analyses_s']:.0f} s | {parts} s |", flush=True)
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
