"""The feedback index embedded versus on a Chroma server (run by hand, not a test):

    .venv/bin/python benchmarks/bench_chroma_server.py [--n 20000] [--queries 100] [--chroma-url URL]

Starts `chroma run` on a free loopback port with a temporary folder (or uses ``--chroma-url``),
then, for the same synthetic table (bench_feedback's zh/en texts, random 384-d unit vectors: no
model needed), through the real `sync_feedback_index` into each store: the first sync (writing
every row), a no-change re-sync, a sync after 1% of the rows changed, reading the whole index back
from Chroma (`FeedbackStore.from_chroma`, what a lost snapshot costs), and query latency p50/p95 of
Chroma's own `query` (HNSW, unfiltered and with a `where`) beside our in-memory search, which is
the same for both stores (it never touches Chroma): its hits must be equal on both, and Chroma's
approximate answers are scored as recall@5 against them.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from bench_feedback import RandomEmbedder, pct, synthetic_feedback  # noqa: E402
from knowledge.feedback_store import FeedbackStore, sync_feedback_index  # noqa: E402
from knowledge.settings import Settings  # noqa: E402
from knowledge.workspace import Workspace  # noqa: E402

FILTERS = [("none", {}), ("kind=complaint", {"kind": "complaint"}),
           ("complaint + open + 90 days", {"kind": "complaint", "status": "open", "date_from": "2025-04-01"})]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    import httpx
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("chroma")
    exe = exe if exe.exists() else Path(shutil.which("chroma") or "chroma")
    log = open(folder / "chroma.log", "wb")
    proc = subprocess.Popen([str(exe), "run", "--path", str(folder / "db"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    url = f"http://127.0.0.1:{port}"
    t = time.perf_counter()
    while time.perf_counter() - t < 60:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                print(f"chroma run on {url}: up in {time.perf_counter() - t:.1f} s", flush=True)
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"chroma run did not start; see {folder / 'chroma.log'}")


def run(root: Path, table, chroma_url: str, n_queries: int) -> dict:
    ws = Workspace(root)
    ws.write_table("feedback", table)
    settings = Settings(workspace=root, chroma_url=chroma_url)
    emb = RandomEmbedder()
    out: dict = {}
    t = time.perf_counter()
    sync_feedback_index(ws, settings, log=None, embedder=emb, analyses=False)
    out["first_sync_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    sync_feedback_index(ws, settings, log=None, embedder=emb, analyses=False)
    out["resync_s"] = round(time.perf_counter() - t, 2)
    changed = table.copy()
    idx = changed.index[:: 100]
    changed.loc[idx, "status"] = np.where(changed.loc[idx, "status"] == "open", "resolved", "open")
    ws.write_table("feedback", changed)
    t = time.perf_counter()
    st = sync_feedback_index(ws, settings, log=None, embedder=emb, analyses=False)
    out["sync_1pct_changed_s"] = round(time.perf_counter() - t, 2)
    out["updated"] = st["updated"]
    t = time.perf_counter()
    store = FeedbackStore.from_chroma(ws, emb, settings=settings)
    out["read_back_s"] = round(time.perf_counter() - t, 1)
    rng = np.random.default_rng(1)
    Q = rng.standard_normal((n_queries, emb.dim)).astype(np.float32)
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    out["latency"], out["hits"] = {}, {}
    for name, f in FILTERS:
        ours, theirs, hits, recall = [], [], [], []
        for q in Q:
            t = time.perf_counter()
            exact = [store.ids[h.row] for h in store.search("", k=5, mode="dense", qvec=q, **f)]
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            got = store.chroma_query(q, 5, **f)
            theirs.append(time.perf_counter() - t)
            hits.append(exact)
            recall.append(len(set(got) & set(exact)) / max(len(exact), 1))
        (o50, o95), (c50, c95) = pct(ours), pct(theirs)
        out["latency"][name] = {"matched": store.select(**f).count(), "ours_p50_ms": round(o50, 2),
                                "ours_p95_ms": round(o95, 2), "chroma_p50_ms": round(c50, 2),
                                "chroma_p95_ms": round(c95, 2), "chroma_recall_at_5": round(float(np.mean(recall)), 3)}
        out["hits"][name] = hits
    store.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--chroma-url", help="an existing Chroma server (default: start one on loopback)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="guanxi-bench-chroma-"))
    proc = None
    url = args.chroma_url
    if not url:
        proc, url = start_server(tmp)
    res: dict = {"n": args.n, "cpus": os.cpu_count(), "load_avg_start": os.getloadavg()}
    try:
        table = synthetic_feedback(args.n)
        for label, u in (("embedded", ""), ("server", url)):
            print(f"{label}: syncing {args.n:,} rows ...", flush=True)
            res[label] = run(tmp / label, table, u, args.queries)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    e, s = res["embedded"], res["server"]
    print(f"\nfeedback index at {args.n:,} rows (random 384-d vectors), embedded vs Chroma server ({url})")
    for key in ("first_sync_s", "resync_s", "sync_1pct_changed_s", "read_back_s"):
        ratio = s[key] / e[key] if e[key] else float("nan")
        print(f"  {key:<22} {e[key]:>9} {s[key]:>9}   server/embedded {ratio:.2f}")
    print(f"\nquery latency, k=5, {args.queries} queries (ms): ours (in memory, either store) vs Chroma's query")
    print(f"  {'filter':<28}{'matched':>8} {'ours p50':>9} {'embedded p50':>13} {'p95':>7} {'server p50':>11} "
          f"{'p95':>7}  ours same on both · Chroma recall@5 embedded / server")
    for name, _ in FILTERS:
        le, ls = e["latency"][name], s["latency"][name]
        same = e["hits"][name] == s["hits"][name]
        print(f"  {name:<28}{le['matched']:>8,} {le['ours_p50_ms']:>9.2f} {le['chroma_p50_ms']:>13.2f} "
              f"{le['chroma_p95_ms']:>7.2f} {ls['chroma_p50_ms']:>11.2f} {ls['chroma_p95_ms']:>7.2f}  {same} · "
              f"{le['chroma_recall_at_5']:.2f} / {ls['chroma_recall_at_5']:.2f}")
    res["load_avg_end"] = os.getloadavg()
    print(f"\nload average start {res['load_avg_start']}, end {res['load_avg_end']} on {res['cpus']} CPUs")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=str))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
