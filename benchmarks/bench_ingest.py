"""Benchmark: build_tables on 1M order lines (+ customers, products), run by hand.

    .venv/bin/python benchmarks/bench_ingest.py [--orders 1000000] [--customers 100000]

Generates CSV files with numpy in a temp folder (in a child process, so generation does not
count towards peak memory), then in this process times a baseline (plain pandas.read_csv of
the same files, every value a string) and build_tables. Prints elapsed seconds, peak RSS and
the ratio build / baseline. Targets: build ≤ 60 s, peak RSS ≤ 2 GB.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.export import write_csv  # noqa: E402  (every CSV Guanxi writes: formula cells neutralised)

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华")
CITIES = [("杭州市", "浙江省"), ("上海市", "上海"), ("北京市", "北京"), ("广州市", "广东省"), ("深圳市", "广东省"),
          ("成都市", "四川省"), ("南京市", "江苏省"), ("武汉市", "湖北省")]
CATEGORIES = ["饮料", "零食", "Home Decor", "home decor", "日用品", "生鲜", "美妆", "数码"]


def generate(folder: Path, orders: int, customers: int, products: int = 2000, seed: int = 7) -> None:
    """customers.csv, products.csv, orders.csv with zh headers and a little mess (formats, gaps)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    cid = np.char.add("C", np.char.zfill(np.arange(1, customers + 1).astype(str), 7))
    names = np.char.add(rng.choice(SURNAMES, customers), rng.choice(GIVEN, customers))
    city = rng.integers(0, len(CITIES), customers)
    birthday = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 55 * 365, customers), unit="D")
    signup = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 4 * 365, customers), unit="D")
    phones = np.char.add("1", rng.integers(3_000_000_000, 9_999_999_999, customers).astype(str))
    phones = np.where(rng.random(customers) < 0.1, np.char.add("+86 ", phones), phones)
    write_csv(pd.DataFrame({
        "客户编号": cid, "姓名": names, "性别": rng.choice(["男", "女", "M", "F"], customers),
        "生日": birthday.strftime("%Y-%m-%d"), "手机号": phones,
        "邮箱": np.where(rng.random(customers) < 0.5, np.char.add(np.char.lower(cid), "@example.com"), ""),
        "城市": [CITIES[i][0] for i in city], "省份": [CITIES[i][1] for i in city],
        "注册日期": signup.strftime("%Y/%m/%d"),
    }), folder / "customers.csv")
    pid = np.char.add("P", np.char.zfill(np.arange(1, products + 1).astype(str), 5))
    price = np.round(rng.lognormal(3.5, 0.8, products), 2)
    write_csv(pd.DataFrame({"商品编号": pid, "商品名称": np.char.add("商品", pid), "品类": rng.choice(CATEGORIES, products),
                            "价格": price}), folder / "products.csv")
    prod = rng.integers(0, products, orders)
    qty = rng.integers(1, 6, orders)
    when = (pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365 * 86400, orders), unit="s"))
    qty_text = qty.astype(str)
    qty_text[rng.random(orders) < 0.001] = "-1"
    write_csv(pd.DataFrame({
        "订单号": np.char.add("O", np.char.zfill(np.arange(1, orders + 1).astype(str), 8)),
        "客户编号": cid[rng.integers(0, customers, orders)], "下单时间": when.strftime("%Y-%m-%d %H:%M:%S"),
        "商品编号": pid[prod], "数量": qty_text, "单价": price[prod],
        "实付金额": np.round(qty * price[prod], 2),
    }), folder / "orders.csv")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=1_000_000)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--generate", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.generate:
        generate(Path(args.generate), args.orders, args.customers)
        return
    from knowledge.build import build_tables
    from knowledge.workspace import Workspace
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--generate", str(data), "--orders", str(args.orders),
                        "--customers", str(args.customers)], check=True)
        mb = sum(f.stat().st_size for f in data.iterdir()) / 1e6
        print(f"generated {args.orders:,} order lines, {args.customers:,} customers ({mb:,.0f} MB CSV) "
              f"in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        frames = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in sorted(data.iterdir())]
        baseline = time.perf_counter() - t0
        rows = sum(len(f) for f in frames)
        del frames
        rss_baseline = peak_rss_mb()
        print(f"baseline pandas.read_csv (dtype=str) of the same files: {baseline:.2f} s, {rows:,} rows, "
              f"peak RSS so far {rss_baseline:,.0f} MB")
        t0 = time.perf_counter()
        report = build_tables(data, Workspace(Path(tmp) / "ws"))
        elapsed = time.perf_counter() - t0
        rss = peak_rss_mb()
        print(report.summary_text())
        print(f"build_tables: {elapsed:.1f} s (target ≤ 60 s), peak RSS {rss:,.0f} MB (target ≤ 2048 MB), "
              f"{elapsed / baseline:.1f}× the baseline read")
        ok = elapsed <= 60 and rss <= 2048
        print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
