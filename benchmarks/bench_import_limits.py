"""Benchmark: peak memory and time of a build whose input holds one huge field, run by hand.

    .venv/bin/python benchmarks/bench_import_limits.py [--field-mb 50] [--rows 10000] [--column text]

Writes feedback.csv (`--rows` rows, one of them with a `--field-mb` MB quoted text full of commas,
quotes and line breaks) into a temp folder, then builds it twice, each in a fresh child process
(so one run's memory does not count towards the other): once without the huge row (the baseline)
and once with it, with the default limits (max_field_chars 100,000). Prints the elapsed seconds and
the peak RSS of each. Target: the huge field adds at most 200 MB and 30 s to the baseline (before
the limits, a 50 MB field took over 10 minutes at 6.5 GB).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write(path: Path, rows: int, field_mb: float, column: str) -> None:
    header = ["反馈编号", "客户编号", "反馈时间", "内容", "评分"]
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(header) + "\n")
        for i in range(rows):
            f.write(f'F{i},C{i % 500},2024-03-{1 + i % 28:02d} 10:00,"茶叶受潮了, 请处理 #{i}",{1 + i % 5}\n')
        if field_mb:
            chunk = 'Tea, "wet"\nagain; ' * 1000
            row = {"反馈编号": "FX", "客户编号": "C1", "反馈时间": "2024-03-05", "内容": "huge", "评分": "3"}
            col = header[["feedback_id", "customer_id", "created_at", "text", "rating"].index(column)]
            f.write(",".join('"' if h == col else row[h] for h in header[:header.index(col) + 1]))
            left = int(field_mb * (1 << 20))
            while left > 0:
                piece = chunk[:left].replace('"', '""')
                f.write(piece)
                left -= len(chunk[:left])
            f.write('"' + "".join("," + row[h] for h in header[header.index(col) + 1:]) + "\n")


def child(data: str, ws: str) -> None:
    from knowledge.build import build_tables
    from knowledge.workspace import Workspace
    t0 = time.perf_counter()
    report = build_tables(Path(data), Workspace(Path(ws)))
    elapsed = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = report.tables["feedback"]
    print(json.dumps({"seconds": round(elapsed, 2), "peak_rss_mb": round(rss), "rows_read": t.rows_read,
                      "kept": t.kept, "quarantined": t.quarantined, "reasons": t.quarantine_reasons}))


def run(data: Path, ws: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(data), str(ws)], check=True, capture_output=True,
                         text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--field-mb", type=float, default=50)
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--column", default="text", choices=["text", "created_at", "rating", "customer_id"])
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name, mb in (("baseline", 0), ("huge field", args.field_mb)):
            data = Path(tmp) / name / "data"
            data.mkdir(parents=True)
            write(data / "feedback.csv", args.rows, mb, args.column)
            size = (data / "feedback.csv").stat().st_size / (1 << 20)
            results[name] = r = run(data, Path(tmp) / name / "ws")
            print(f"{name:>10}: {size:,.1f} MB file, {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:,} MB; "
                  f"{r['rows_read']:,} rows read, {r['kept']:,} kept, {r['quarantined']:,} quarantined {r['reasons']}")
        extra_mb = results["huge field"]["peak_rss_mb"] - results["baseline"]["peak_rss_mb"]
        extra_s = results["huge field"]["seconds"] - results["baseline"]["seconds"]
        print(f"the {args.field_mb:g} MB field adds {extra_mb:,} MB peak RSS and {extra_s:.1f} s "
              f"(target ≤ 200 MB, ≤ 30 s)")
        print("PASS" if extra_mb <= 200 and extra_s <= 30 else "FAIL")


if __name__ == "__main__":
    main()
