"""Benchmark: `guanxi demo` default build (target ≤ 30 s for generate + tables + analyses,
the embedding index reported separately), against a baseline in the same process: reading the
same raw files with plain pandas.

    .venv/bin/python benchmarks/bench_demo.py [--customers 5000] [--index]
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.pipeline import build_workspace  # noqa: E402
from knowledge.demo import generate_demo  # noqa: E402
from knowledge.settings import Settings  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=5000)
    p.add_argument("--index", action="store_true", help="include the feedback embedding index")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        t0 = time.perf_counter()
        files = generate_demo(ws / "raw", customers=a.customers)
        t_gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        for name, path in files.items():
            if path.suffix == ".xlsx":
                pd.read_excel(path)
            else:
                pd.read_csv(path, encoding="gb18030" if name == "feedback" else "utf-8-sig", dtype=str)
        t_base = time.perf_counter() - t0
        settings = Settings.load(env={}, config_file=Path(tmp) / "none.toml", workspace=ws)
        timings: list[str] = []
        t0 = time.perf_counter()
        build_workspace(settings, ws / "raw", index=a.index, log=lambda s: timings.append(s))
        t_build = time.perf_counter() - t0
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"customers={a.customers}: generate {t_gen:.1f} s; build {t_build:.1f} s "
              f"(index {'on' if a.index else 'off'}); total {t_gen + t_build:.1f} s (target ≤ 30 s without index)")
        print(f"baseline pandas read of the raw files: {t_base:.2f} s; build / baseline = {t_build / t_base:.1f}×")
        print(f"peak RSS {rss_mb:,.0f} MB")
        for line in timings:
            if line.startswith("  ") and " s" in line:
                print(line)


if __name__ == "__main__":
    main()
