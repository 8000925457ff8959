"""The feedback knowledge layer's index: a Chroma store of record + a fast in-memory search copy.

Layout in the workspace::

    chroma/                         Chroma PersistentClient; collection `guanxi_feedback`
                                    (id = feedback_id, explicit vectors, no embedding function) —
                                    or, with the chroma_url setting, that collection on a Chroma server
                                    (knowledge/vector_store.py); everything below stays local either way
    cache/vectors.sqlite            vectors by (back-end, content hash): rebuilds embed only new texts
    index/feedback/current.json     manifest of the last complete sync (written last, atomically)
    index/feedback/gen-*/           snapshot: vectors.npy, meta.parquet (metadata + tokens), bm25/
    index/feedback/SYNCING          marker present while a sync runs (or after one was killed)

`sync_feedback_index` reconciles the store with the `feedback` table every time, in a crash-safe
order: embed missing texts into the cache (committed per chunk) → upsert changed rows into Chroma
in batches → delete rows gone from the table → write a new snapshot generation → replace the
manifest → remove the marker. A sync killed anywhere leaves a store that opens (from Chroma when
the marker is present) and the next sync finishes the job, re-embedding nothing already cached.

`FeedbackStore.open` loads the snapshot (or rebuilds it from Chroma) into a numpy matrix sorted by
(kind, created day) plus metadata columns, so filters are slices and masks and a query is one
matrix-vector product: ~10x faster than Chroma's own `where` filter at 100k rows, same hits
(tests/knowledge/test_feedback_store.py, benchmarks/bench_feedback.py). Keyword search is BM25
(bm25s) over jieba/English tokens; hybrid is reciprocal rank fusion (k=60) of the two rankings.

Long on purpose: the Chroma collection, the BM25 index, the exact filtered search and the crash-
safe sync must stay in step (one row per feedback id, the same order in every index); that
invariant is kept in one place.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from knowledge.embeddings import Embedder, VectorCache, default_cache_path, embed_cached, get_embedder, text_key
from knowledge.errors import GuanxiError
from knowledge.progress import OnProgress, StageProgress
from knowledge.text import detect_language, tokenize
from knowledge.vector_store import VectorStore, is_connection_error, vector_store

RRF_K = 60
UPSERT_BATCH = 2000  # Chroma's max batch is 5461; STACK.md: keep ≤ 5000
META_COLUMNS = ["customer_id", "created_at", "created_day", "kind", "category", "status", "product_id",
                "channel", "resolution", "rating", "lang", "hash"]
_EPOCH = pd.Timestamp("1970-01-01")
Log = Callable[[str], None]


def _noop(_: str) -> None:
    pass


# ------------------------------------------------------------------ rows
def _str_col(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df.columns:
        return pd.Series([""] * len(df), index=df.index, dtype=object)
    s = df[name]
    return s.astype(object).where(s.notna(), "").map(lambda v: str(v).strip())


def to_day(value) -> int | None:
    """Days since 1970-01-01 of a date-like value (None stays None)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return int((ts.normalize() - _EPOCH).days)


def prepare_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The feedback table as index rows: id, text and the metadata columns, with a content hash
    over everything stored. Rows without text or id are skipped; a repeated id keeps its last row.
    Returns (rows, skipped)."""
    n0 = len(df)
    out = pd.DataFrame({"id": _str_col(df, "feedback_id"), "text": _str_col(df, "text")})
    for c in ("customer_id", "kind", "category", "status", "product_id", "channel", "resolution"):
        out[c] = _str_col(df, c)
    out["kind"] = out["kind"].str.lower()
    out["status"] = out["status"].str.lower()
    ts = pd.to_datetime(df["created_at"], errors="coerce") if "created_at" in df.columns else \
        pd.Series(pd.NaT, index=df.index)
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_localize(None)
    out["created_at"] = ts.dt.strftime("%Y-%m-%dT%H:%M:%S").fillna("")
    out["created_day"] = ((ts.dt.normalize() - _EPOCH).dt.days).fillna(-1).astype("int64")
    rating = pd.to_numeric(df["rating"], errors="coerce") if "rating" in df.columns else \
        pd.Series(np.nan, index=df.index)
    out["rating"] = rating.astype("float64")
    out = out[(out["id"] != "") & (out["text"] != "")]
    out = out.drop_duplicates("id", keep="last").reset_index(drop=True)
    out["lang"] = out["text"].map(detect_language)
    out["hash"] = [_row_hash(r) for r in out.itertuples(index=False)]
    return out, n0 - len(out)


def _row_hash(r) -> str:
    rating = None if pd.isna(r.rating) else round(float(r.rating), 4)
    payload = json.dumps([r.text, r.customer_id, r.created_at, r.kind, r.category, r.status, r.product_id,
                          r.channel, r.resolution, rating], ensure_ascii=False)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


def _chroma_meta(r) -> dict:
    m = {"customer_id": r.customer_id, "created_at": r.created_at, "created_day": int(r.created_day),
         "kind": r.kind, "category": r.category, "status": r.status, "product_id": r.product_id,
         "channel": r.channel, "resolution": r.resolution, "lang": r.lang, "hash": r.hash}
    if not pd.isna(r.rating):
        m["rating"] = float(r.rating)
    return m


def _fingerprint(ids: Iterable[str], hashes: Iterable[str]) -> str:
    h = hashlib.sha1()
    for i, x in sorted(zip(ids, hashes)):
        h.update(f"{i}\x00{x}\n".encode("utf-8"))
    return h.hexdigest()


# ------------------------------------------------------------------ BM25
class Bm25Index:
    """bm25s over pre-tokenised documents (knowledge.text.tokenize)."""

    def __init__(self, retriever, n_docs: int):
        self.retriever = retriever
        self.n_docs = n_docs

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]]) -> "Bm25Index":
        import bm25s
        docs = [list(t) for t in token_lists]
        if not any(docs):
            return cls(None, len(docs))
        r = bm25s.BM25()
        r.index(docs, show_progress=False)
        return cls(r, len(docs))

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        if self.retriever is None or not query_tokens:
            return np.zeros(self.n_docs, np.float32)
        ids = self.retriever.get_tokens_ids(list(query_tokens))
        if not ids:
            return np.zeros(self.n_docs, np.float32)
        return np.asarray(self.retriever.get_scores_from_ids(ids), dtype=np.float32)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / "n_docs.json").write_text(json.dumps({"n_docs": self.n_docs}))
        if self.retriever is not None:
            self.retriever.save(str(path), show_progress=False)

    @classmethod
    def load(cls, path: Path) -> "Bm25Index":
        import bm25s
        n = json.loads((path / "n_docs.json").read_text())["n_docs"]
        if not (path / "params.index.json").is_file():
            return cls(None, n)
        return cls(bm25s.BM25.load(str(path), show_progress=False), n)


# ------------------------------------------------------------------ ranking helpers
def topk(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest finite scores, best first; ties broken by index (deterministic)."""
    n = scores.shape[0]
    if n == 0 or k <= 0:
        return np.zeros(0, np.int64)
    if k < n:
        part = np.argpartition(scores, n - k)[n - k:]
    else:
        part = np.arange(n)
    part = part[np.isfinite(scores[part])]
    order = np.lexsort((part, -scores[part]))
    return part[order]


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: score(d) = Σ 1/(k + rank), rank from 1. Best first, ties by first list order."""
    score: dict[int, float] = {}
    first: dict[int, tuple[int, int]] = {}
    for li, ranking in enumerate(rankings):
        for r, d in enumerate(ranking, start=1):
            score[int(d)] = score.get(int(d), 0.0) + 1.0 / (k + r)
            first.setdefault(int(d), (r, li))
    return sorted(score.items(), key=lambda kv: (-kv[1], first[kv[0]]))


@dataclass
class Selection:
    """Rows allowed by a filter. The matrix is sorted by (kind, created day), so a kind and/or a date
    range is a few contiguous slices (`segments`); other filters add a `mask` over the concatenated
    segments; when few rows remain they are listed in `rows` instead."""
    segments: list[tuple[int, int]]
    mask: np.ndarray | None = None
    rows: np.ndarray | None = None

    @classmethod
    def all(cls, n: int) -> "Selection":
        return cls([(0, n)] if n else [])

    @classmethod
    def empty(cls) -> "Selection":
        return cls([], rows=np.zeros(0, np.int64))

    def size(self) -> int:
        return sum(b - a for a, b in self.segments)

    def count(self) -> int:
        if self.rows is not None:
            return int(self.rows.size)
        return int(self.mask.sum()) if self.mask is not None else self.size()

    def span_rows(self) -> np.ndarray:
        """Row numbers of the concatenated segments."""
        if len(self.segments) == 1:
            return np.arange(*self.segments[0])
        return np.concatenate([np.arange(a, b) for a, b in self.segments]) if self.segments else \
            np.zeros(0, np.int64)

    def row_indices(self) -> np.ndarray:
        if self.rows is not None:
            return self.rows
        base = self.span_rows()
        return base[self.mask] if self.mask is not None else base

    def to_rows(self, idx: np.ndarray) -> np.ndarray:
        """Positions in the concatenated segments → row numbers."""
        if len(self.segments) == 1:
            return idx + self.segments[0][0]
        starts = np.asarray([a for a, _ in self.segments], np.int64)
        cum = np.cumsum([0] + [b - a for a, b in self.segments])
        seg = np.searchsorted(cum, idx, "right") - 1
        return starts[seg] + (idx - cum[seg])

    def take(self, arr: np.ndarray) -> np.ndarray:
        """`arr` (one value per row) restricted to the concatenated segments (a view for one segment)."""
        if len(self.segments) == 1:
            a, b = self.segments[0]
            return arr[a:b]
        return np.concatenate([arr[a:b] for a, b in self.segments]) if self.segments else arr[:0]


@dataclass
class Hit:
    row: int
    score: float          # cosine (dense), BM25 score (bm25) or fused RRF score (hybrid)
    cosine: float = float("nan")
    dense_rank: int | None = None
    bm25_rank: int | None = None


# ------------------------------------------------------------------ Chroma
def _store(ws, settings=None) -> VectorStore:
    return vector_store(_ws(ws), settings)


def _get_collection(client, store: VectorStore, embedder_name: str | None = None, dim: int | None = None,
                    create: bool = False):
    """The workspace's feedback collection, never with an embedding function (vectors are always
    passed). Built for another model or dimension: recreated when ``create`` and the collection is
    this workspace's own; on a server, a collection of another workspace (or not made by Guanxi)
    is never touched: a clear message instead."""
    try:
        col = client.get_collection(store.collection, embedding_function=None)
    except Exception as e:  # noqa: BLE001 - not found (the message varies by version)
        if is_connection_error(e):
            raise
        col = None
    meta = (col.metadata or {}) if col is not None else {}
    where = f"collection {store.collection} on the Chroma server {store.url} (setting chroma_url)"
    if col is not None and store.server and meta.get("workspace") != store.workspace:
        raise GuanxiError(f"{where} belongs to another workspace or was not made by Guanxi "
                          f"(workspace {meta.get('workspace')!r}, model {meta.get('embedder')!r}, "
                          f"dimension {meta.get('dim')!r}); set chroma_collection_prefix to use another name")
    if col is not None and create and embedder_name is not None:
        if meta.get("embedder") != embedder_name or int(meta.get("dim", -1)) != int(dim):
            client.delete_collection(store.collection)   # this workspace's own index of another model
            col = None
    if col is None and create:
        meta = {"embedder": embedder_name, "dim": int(dim), "created_by": "guanxi"}
        if store.server:
            meta["workspace"] = store.workspace
        col = client.create_collection(
            store.collection, embedding_function=None,
            configuration={"hnsw": {"space": "cosine", "ef_search": 200}}, metadata=meta)
    return col


def _chroma_all(col, include: list[str], page: int = 5000) -> dict:
    out: dict[str, list] = {"ids": []}
    for k in include:
        out[k] = []
    off = 0
    while True:
        r = col.get(limit=page, offset=off, include=include)
        ids = r["ids"]
        if not ids:
            break
        out["ids"] += ids
        for k in include:
            v = r[k]
            out[k] += list(v) if v is not None else [None] * len(ids)
        off += len(ids)
        if len(ids) < page:
            break
    return out


def index_dir(ws) -> Path:
    return Path(ws.root) / "index" / "feedback"


def _ws(ws):
    from knowledge.workspace import Workspace
    return ws if hasattr(ws, "chroma_dir") else Workspace(ws)


# ------------------------------------------------------------------ sync
class _SimulatedCrash(RuntimeError):
    pass


def sync_feedback_index(ws, settings=None, log: Log = print, embedder: Embedder | None = None,
                        batch_size: int = UPSERT_BATCH,
                        analyses: Callable[[FeedbackStore], dict] | None | bool = None,
                        progress: OnProgress | None = None,
                        _crash_after_batches: int | None = None) -> dict:
    """Bring the Chroma store, the snapshot and the BM25 index in line with the feedback table.

    Returns counts: rows, embedded (texts run through the model), added, updated, removed, unchanged,
    skipped, seconds; plus the back-end name and, with ``analyses``, what the feedback analyses did.

    ``analyses`` is called with the opened store once the index is complete, before the final log
    line; its result is ``stats["analyses"]``; a failure is logged and recorded there (the index
    stays complete, the next sync retries). The build pipeline passes the feedback analyses of
    ``tools.feedback`` (``assistant.pipeline.sync_feedback``): knowledge imports nothing above it.
    ``progress`` gets the "index" stage (knowledge.progress)."""
    if analyses is True:
        raise TypeError("analyses= takes a function (store) -> dict, e.g. from assistant.pipeline.sync_feedback")
    t0 = time.perf_counter()
    ws = _ws(ws)
    log = log or _noop
    stage = StageProgress(progress, "index", total=1)
    stage.start("reading the feedback table")
    embedder = embedder or get_embedder(settings)
    crash_after = _crash_after_batches
    if crash_after is None and os.environ.get("GUANXI_TEST_CRASH_AFTER_BATCHES"):
        crash_after = int(os.environ["GUANXI_TEST_CRASH_AFTER_BATCHES"])

    vstore = vector_store(ws, settings)
    idir = index_dir(ws)
    idir.mkdir(parents=True, exist_ok=True)
    marker = idir / "SYNCING"
    n_before = getattr(embedder, "n_embedded", 0)
    with ExitStack() as stack:
        # connect first: a server that does not answer stops the sync here, before the marker is written
        client = stack.enter_context(vstore.session())
        was_clean = not marker.exists()   # the last sync finished: its snapshot mirrors Chroma
        started = time.time()
        _write_marker(marker, started, 0, 1)
        last = [0]

        def on_progress(event) -> None:   # the marker carries the progress, for other processes (index_status)
            if progress:
                progress(event)
            pct = int(100 * event.fraction)
            if pct != last[0]:   # at most ~100 small writes a sync
                last[0] = pct
                _write_marker(marker, started, event.done, event.total)

        stage.on_progress = on_progress
        rows, skipped = prepare_rows(ws.table("feedback"))
        cache = VectorCache(default_cache_path(ws.root))
        stack.callback(cache.close)
        gen, counts = _sync(ws, rows, embedder, client, vstore, cache, idir, batch_size, crash_after, log,
                            was_clean, stage, engine=_embedding_engine(settings))
    embedded = getattr(embedder, "n_embedded", 0) - n_before
    stats = {"backend": embedder.name, "rows": int(len(rows)), "embedded": int(embedded), **counts,
             "skipped": int(skipped), "generation": gen}
    _stamp_manifest(idir, getattr(ws, "generation", None))
    stage.on_progress = progress or _noop   # the marker is gone: the last event must not write it again
    marker.unlink(missing_ok=True)
    FeedbackStore._cache.clear()
    stage.finish(f"feedback index written: {stats['rows']:,} rows")
    if analyses:
        try:
            store = FeedbackStore.open(ws, settings, embedder=embedder)
            stats["analyses"] = analyses(store)
        except Exception as e:  # the index is complete; analyses are re-tried on the next sync
            log(f"feedback analyses failed: {type(e).__name__}: {e}")
            stats["analyses"] = {"error": f"{type(e).__name__}: {e}"}
    stats["seconds"] = round(time.perf_counter() - t0, 2)
    log(f"feedback index ready: {stats['rows']:,} rows, embedded {stats['embedded']:,}, added {stats['added']:,}, "
        f"updated {stats['updated']:,}, removed {stats['removed']:,}, unchanged {stats['unchanged']:,} "
        f"in {stats['seconds']} s")
    return stats


def _write_marker(marker: Path, started: float, done: int, total: int) -> None:
    tmp = marker.with_name(f"SYNCING.tmp{os.getpid()}")
    tmp.write_text(json.dumps({"pid": os.getpid(), "started": started, "done": int(done), "total": int(total),
                               "updated": time.time()}))
    os.replace(tmp, marker)


def _stamp_manifest(idir: Path, table_generation: str | None) -> None:
    """Record which workspace generation (knowledge.workspace) the complete snapshot mirrors."""
    man = _read_manifest(idir)
    if man is None:
        return
    man["table_generation"] = table_generation
    tmp = idir / "current.json.tmp"
    tmp.write_text(json.dumps(man, indent=1))
    os.replace(tmp, idir / "current.json")


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def index_status(ws, settings=None) -> dict:
    """Whether the feedback index mirrors the served feedback table, without opening it:
    ``state`` is "ready", "indexing" (a sync runs: ``percent`` done), "interrupted" (a sync was
    killed: the next `guanxi start` / `guanxi build` finishes it), "missing" (never built) or
    "stale" (built for another generation of the workspace's tables; the next sync updates it).
    With ``settings``, a snapshot of another vector store than the one they name (chroma_url
    changed) is "stale" too, so the background indexer fills the new store; searches run on the
    local snapshot either way. No network: the server is not asked."""
    ws = _ws(ws)
    idir = index_dir(ws)
    marker = idir / "SYNCING"
    if marker.exists():
        try:
            m = json.loads(marker.read_text())
        except (OSError, json.JSONDecodeError):
            m = {}
        total = max(int(m.get("total") or 1), 1)
        percent = int(100 * min(int(m.get("done") or 0), total) / total)
        return {"state": "indexing" if _pid_alive(m.get("pid")) else "interrupted", "percent": percent}
    man = _read_manifest(idir)
    if not man:
        return {"state": "missing", "percent": 0}
    gen = getattr(ws, "generation", None)
    if gen and man.get("table_generation") != gen:
        return {"state": "stale", "percent": 0}
    if settings is not None and _manifest_store(man) != vector_store(ws, settings, create_id=False).key:
        return {"state": "stale", "percent": 0, "store": _manifest_store(man)}
    return {"state": "ready", "percent": 100, "generation": man.get("generation")}


def _previous_snapshot(idir: Path, embedder, col, vstore: VectorStore) -> dict | None:
    """The last complete snapshot when it can stand for Chroma's content (same embedder, same store,
    same count): ids, hashes, tokens and vectors. Reading these is much faster than reading 100k rows
    back from Chroma."""
    man = _read_manifest(idir)
    if not man or man.get("embedder") != embedder.name or _manifest_store(man) != vstore.key:
        return None
    try:
        if col.count() != man["count"]:
            return None
        g = idir / man["generation"]
        meta = pd.read_parquet(g / "meta.parquet", columns=["id", "hash", "tokens"])
        vecs = np.load(g / "vectors.npy", mmap_mode="r")
        if len(meta) != man["count"] or len(vecs) != len(meta):
            return None
    except Exception:
        return None
    return {"manifest": man, "ids": meta["id"].tolist(), "hash": meta["hash"].tolist(),
            "tokens": meta["tokens"].tolist(), "vectors": vecs}


def _embedding_engine(settings):
    """None (embed in this process) unless settings.engine = "spark": then the executors embed."""
    if getattr(settings, "engine", "duckdb") == "duckdb":
        return None
    from knowledge.engine import embedding_engine
    return embedding_engine(settings)


def _sync(ws, rows, embedder, client, vstore: VectorStore, cache, idir, batch_size, crash_after, log, was_clean,
          stage: StageProgress | None = None, engine=None) -> tuple[str, dict]:
    stage = stage or StageProgress(None, "index")
    col = _get_collection(client, vstore, embedder.name, embedder.dim, create=True)
    prev = _previous_snapshot(idir, embedder, col, vstore) if was_clean else None
    if prev is not None:
        old_hash = dict(zip(prev["ids"], prev["hash"]))
    else:  # after an interrupted sync (or without a snapshot) Chroma itself is the reference
        existing = _chroma_all(col, ["metadatas"])
        old_hash = {i: (m or {}).get("hash") for i, m in zip(existing["ids"], existing["metadatas"])}
    table_ids = set(rows["id"])
    is_new = ~rows["id"].isin(old_hash.keys())
    is_changed = rows["id"].isin(old_hash.keys()) & (rows["id"].map(old_hash) != rows["hash"])
    to_upsert = rows[is_new | is_changed]
    removed = [i for i in old_hash if i not in table_ids]
    log(f"feedback index ({embedder.name}): {len(rows):,} rows, {int(is_new.sum()):,} new, "
        f"{int(is_changed.sum()):,} changed, {len(removed):,} removed")
    counts = {"added": int(is_new.sum()), "updated": int(is_changed.sum()), "removed": len(removed),
              "unchanged": int(len(rows) - len(to_upsert))}
    n_up = len(to_upsert)
    # units of the "index" stage: each row to (re)embed, +1 for writing the store and the snapshot
    stage.start(f"feedback index: {len(rows):,} rows, {n_up:,} to embed", total=n_up + 1)
    if prev is not None and not n_up and not removed:
        return prev["manifest"]["generation"], counts   # nothing to do: the snapshot stays

    def embedded(done: int, total: int) -> None:   # texts found in the cache count as done
        stage.update(n_up - total + done, f"embedding feedback: {done:,}/{total:,}")

    # 1. vectors of new/changed texts, into the cache first (committed chunk by chunk)
    up_vecs, _ = embed_cached(embedder, to_upsert["text"].tolist(), cache, "passage", log=log,
                              desc="embedding feedback", on_chunk=embedded, engine=engine)
    stage.update(n_up, "writing the feedback index")
    # 2. upsert in batches
    nb = 0
    for s in range(0, len(to_upsert), batch_size):
        part = to_upsert.iloc[s:s + batch_size]
        col.upsert(ids=part["id"].tolist(), embeddings=up_vecs[s:s + batch_size],
                   documents=part["text"].tolist(),
                   metadatas=[_chroma_meta(r) for r in part.itertuples(index=False)])
        nb += 1
        done = min(s + batch_size, len(to_upsert))
        if len(to_upsert) > 5 * batch_size and (nb % max(1, len(to_upsert) // batch_size // 10) == 0):
            log(f"writing to Chroma: {done:,}/{len(to_upsert):,}")
        if crash_after is not None and nb >= crash_after:
            if os.environ.get("GUANXI_TEST_CRASH_HARD"):
                os._exit(9)  # like kill -9: no cleanup at all
            raise _SimulatedCrash(f"simulated crash after {nb} upsert batches")
    # 3. delete rows gone from the table
    for s in range(0, len(removed), batch_size):
        col.delete(ids=removed[s:s + batch_size])
    # 4. the snapshot: every row's vector (cache, else Chroma, else embed) and tokens
    vecs = _all_vectors(rows, to_upsert, up_vecs, embedder, cache, col, log, prev, engine)
    prev_tokens = dict(zip(prev["hash"], prev["tokens"])) if prev is not None else _load_prev_tokens(idir)
    tokens = [prev_tokens[h] if h in prev_tokens else " ".join(tokenize(t))
              for h, t in zip(rows["hash"], rows["text"])]
    gen = _write_generation(idir, rows, vecs, tokens, embedder, vstore)
    return gen, counts


def _all_vectors(rows, to_upsert, up_vecs, embedder, cache, col, log, prev=None, engine=None) -> np.ndarray:
    """Every row's vector: just embedded, else the previous snapshot, else the cache, else Chroma,
    else embed."""
    dim = up_vecs.shape[1] if len(up_vecs) else embedder.dim
    vecs = np.zeros((len(rows), dim), np.float32)
    pos = {i: p for p, i in enumerate(rows["id"])}
    for i, v in zip(to_upsert["id"], up_vecs):
        vecs[pos[i]] = v
    done = rows["id"].isin(set(to_upsert["id"])).to_numpy()
    if prev is not None and prev["vectors"].shape[1:] == (dim,):
        prev_pos = {i: p for p, i in enumerate(prev["ids"])}
        src = np.asarray([prev_pos.get(i, -1) if not d else -1 for i, d in zip(rows["id"], done)])
        ok = src >= 0
        if ok.any():
            vecs[ok] = prev["vectors"][src[ok]]
            done = done | ok
    rest = np.flatnonzero(~done)
    if rest.size:
        mc = getattr(embedder, "max_chars", 512)
        keys = [text_key(t, "passage", mc) for t in rows["text"].iloc[rest]]
        found = cache.get_many(embedder.name, keys)
        miss = []
        for p, k in zip(rest, keys):
            if k in found:
                vecs[p] = found[k]
            else:
                miss.append(p)
        if miss:  # not in the cache (e.g. it was deleted): the store of record has them
            ids = rows["id"].iloc[miss].tolist()
            got = {}
            for s in range(0, len(ids), 5000):
                r = col.get(ids=ids[s:s + 5000], include=["embeddings"])
                got.update(zip(r["ids"], r["embeddings"]))
            refilled, still = [], []
            for p, i in zip(miss, ids):
                if got.get(i) is not None:
                    vecs[p] = np.asarray(got[i], np.float32)
                    refilled.append(p)
                else:
                    still.append(p)
            if refilled:
                cache.put_many(embedder.name, [text_key(t, "passage", mc) for t in rows["text"].iloc[refilled]],
                               vecs[refilled])
            if still:
                v, _ = embed_cached(embedder, rows["text"].iloc[still].tolist(), cache, "passage", log=log,
                                    engine=engine)
                vecs[still] = v
    return vecs


def _load_prev_tokens(idir: Path) -> dict[str, str]:
    man = _read_manifest(idir)
    if not man:
        return {}
    p = idir / man["generation"] / "meta.parquet"
    try:
        m = pd.read_parquet(p, columns=["hash", "tokens"])
        return dict(zip(m["hash"], m["tokens"]))
    except Exception:
        return {}


def _manifest_store(man: dict) -> str:
    """The vector store a snapshot mirrors (manifests from before servers: the embedded one)."""
    return man.get("store") or "embedded"


def _read_manifest(idir: Path) -> dict | None:
    p = idir / "current.json"
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write_generation(idir: Path, rows: pd.DataFrame, vecs: np.ndarray, tokens: list[str], embedder,
                      vstore: VectorStore) -> str:
    gen = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{int(time.time_ns() % 1_000_000)}"
    tmp = idir / (gen + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta = rows.copy()
    meta["tokens"] = tokens
    np.save(tmp / "vectors.npy", vecs)
    meta.to_parquet(tmp / "meta.parquet", index=False)
    Bm25Index.build([t.split() for t in tokens]).save(tmp / "bm25")
    os.replace(tmp, idir / gen)
    manifest = {"generation": gen, "embedder": embedder.name, "dim": int(vecs.shape[1]), "count": int(len(rows)),
                "fingerprint": _fingerprint(rows["id"], rows["hash"]), "store": vstore.key, "written_at": time.time()}
    mt = idir / "current.json.tmp"
    mt.write_text(json.dumps(manifest, indent=1))
    os.replace(mt, idir / "current.json")
    for p in idir.iterdir():  # prune older generations and leftovers of killed syncs
        if p.is_dir() and p.name.startswith("gen-") and p.name != gen:
            shutil.rmtree(p, ignore_errors=True)
    return gen


# ------------------------------------------------------------------ the store
class FeedbackStore:
    """Search over the indexed feedback. Open with `FeedbackStore.open(ws, settings)`."""

    _cache: dict[tuple, "FeedbackStore"] = {}
    _cache_lock = threading.Lock()

    def __init__(self, ws, meta: pd.DataFrame, vectors: np.ndarray, bm25: Bm25Index | None,
                 embedder: Embedder, source: str, generation: str | None = None,
                 vstore: VectorStore | None = None):
        self.ws = ws
        self.vstore = vstore or _store(ws)   # where the store of record is (knowledge.vector_store)
        self.embedder = embedder
        self.source = source          # "snapshot" or "chroma"
        self.generation = generation
        order = np.lexsort((meta["id"].to_numpy(), meta["created_day"].to_numpy(),
                            meta["kind"].to_numpy().astype(str)))
        self.meta = meta.iloc[order].reset_index(drop=True)
        self.vectors = np.ascontiguousarray(vectors[order], dtype=np.float32)
        self.ids = self.meta["id"].to_numpy(dtype=object)
        self.row_of = {i: r for r, i in enumerate(self.ids)}
        self.day = self.meta["created_day"].to_numpy(dtype=np.int64)
        self._codes: dict[str, tuple[np.ndarray, dict[str, int]]] = {}
        for c in ("kind", "category", "status", "lang"):
            cat = pd.Categorical(self.meta[c].astype(str))
            self._codes[c] = (np.asarray(cat.codes, dtype=np.int32), {v: i for i, v in enumerate(cat.categories)})
        kc = self._codes["kind"][0]
        self._kind_bounds = {code: (int(np.searchsorted(kc, code, "left")), int(np.searchsorted(kc, code, "right")))
                             for code in range(len(self._codes["kind"][1]))}
        self._customer_rows: dict[str, np.ndarray] | None = None
        if bm25 is None:  # built here, over the sorted rows
            toks = self.meta["tokens"] if "tokens" in self.meta.columns else self.meta["text"].map(
                lambda t: " ".join(tokenize(t)))
            self.meta["tokens"] = list(toks)
            bm25 = Bm25Index.build([t.split() for t in toks])
            self._bm25_to_row = np.arange(len(order))
        else:  # indexed in snapshot (table) order: map its doc numbers to our rows
            self._bm25_to_row = np.empty(len(order), np.int64)
            self._bm25_to_row[order] = np.arange(len(order))
        self.bm25 = bm25
        self._query_cache: dict[str, np.ndarray] = {}
        self._collection = None

    def __len__(self) -> int:
        return len(self.ids)

    # ---------------------------------------------------------------- opening
    @classmethod
    def open(cls, ws, settings=None, embedder: Embedder | None = None, cached: bool = True) -> "FeedbackStore":
        """Load the last complete snapshot; rebuild from Chroma when a sync was interrupted, the
        snapshot is missing, or its count disagrees with Chroma's."""
        ws = _ws(ws)
        embedder = embedder or get_embedder(settings)
        vstore = _store(ws, settings)
        idir = index_dir(ws)
        man = _read_manifest(idir)
        key = (str(Path(ws.root).resolve()), embedder.name, vstore.key)
        stamp = (man or {}).get("generation"), (idir / "SYNCING").exists()
        if cached:
            with cls._cache_lock:
                st = cls._cache.get(key)
                if st is not None and st._stamp == stamp:
                    return st
        store = cls._open(ws, embedder, idir, man, vstore)
        store._stamp = stamp
        if cached:
            with cls._cache_lock:
                cls._cache[key] = store
        return store

    @classmethod
    def _open(cls, ws, embedder, idir: Path, man: dict | None, vstore: VectorStore) -> "FeedbackStore":
        syncing = (idir / "SYNCING").exists()
        if man and not syncing and man.get("embedder") == embedder.name:
            gdir = idir / man["generation"]
            try:
                meta = pd.read_parquet(gdir / "meta.parquet")
                vecs = np.load(gdir / "vectors.npy")
                bm25 = Bm25Index.load(gdir / "bm25")
                if len(meta) == len(vecs) == man["count"]:
                    return cls(ws, meta, vecs, bm25, embedder, "snapshot", man["generation"], vstore)
            except Exception:
                pass
        return cls.from_chroma(ws, embedder, vstore)

    @classmethod
    def from_chroma(cls, ws, embedder: Embedder, vstore: VectorStore | None = None,
                    settings=None) -> "FeedbackStore":
        """Rebuild the in-memory copy from the store of record (Chroma, embedded or a server)."""
        ws = _ws(ws)
        vstore = vstore or _store(ws, settings)
        missing = (f"no feedback index in {ws.root} ({vstore.describe()}); "
                   f"run `guanxi build` or `guanxi demo` first")
        if not vstore.exists():
            raise GuanxiError(missing)
        with vstore.session() as client:
            col = _get_collection(client, vstore)
            if col is None:
                raise GuanxiError(missing)
            cmeta = col.metadata or {}
            other = cmeta.get("embedder")
            if other not in (None, embedder.name) or \
                    (other is None and cmeta.get("dim") and int(cmeta["dim"]) != int(embedder.dim)):
                raise GuanxiError(f"the feedback index in {vstore.describe()} was built with "
                                  f"{cmeta.get('embedder')} (dimension {cmeta.get('dim')}), not {embedder.name} "
                                  f"(dimension {embedder.dim}); run the build again to re-index")
            got = _chroma_all(col, ["embeddings", "documents", "metadatas"])
        recs = []
        for i, d, m in zip(got["ids"], got["documents"], got["metadatas"]):
            m = dict(m or {})
            recs.append({"id": i, "text": d or "", **{c: m.get(c) for c in META_COLUMNS}})
        meta = pd.DataFrame(recs, columns=["id", "text", *META_COLUMNS])
        for c in ("customer_id", "created_at", "kind", "category", "status", "product_id", "channel",
                  "resolution", "lang", "hash"):
            meta[c] = meta[c].fillna("").astype(object)
        meta["created_day"] = pd.to_numeric(meta["created_day"], errors="coerce").fillna(-1).astype("int64")
        meta["rating"] = pd.to_numeric(meta["rating"], errors="coerce").astype("float64")
        dim = int(cmeta.get("dim") or embedder.dim)
        vecs = (np.asarray(got["embeddings"], dtype=np.float32).reshape(len(recs), -1) if recs
                else np.zeros((0, dim), np.float32))
        return cls(ws, meta, vecs, None, embedder, "chroma", vstore=vstore)

    @property
    def collection(self):
        """A live handle on the Chroma collection (tests, the benchmark baseline); `close()` ends it.
        Searches never need it: they run on the in-memory copy."""
        if self._collection is None:
            self._client = self.vstore.connect()
            self._collection = _get_collection(self._client, self.vstore)
        return self._collection

    def close(self) -> None:
        client = getattr(self, "_client", None)
        self._collection = self._client = None
        if client is not None:
            try:
                client.close()
            except Exception:
                pass

    # ---------------------------------------------------------------- filters
    def select(self, kind=None, category=None, status=None, customer_id=None, date_from=None,
               date_to=None) -> Selection:
        """Rows matching all given filters (each a value or a list of values; dates inclusive)."""
        n = len(self.ids)
        if n == 0:
            return Selection.empty()
        kinds = _as_list(kind)
        d0, d1 = to_day(date_from), to_day(date_to)
        lookup = self._codes["kind"][1]
        codes = sorted(lookup.values()) if kinds is None else sorted({lookup[k] for k in kinds if k in lookup})
        if kinds is None and d0 is None and d1 is None:
            segments = [(0, n)]
        else:  # one slice per kind; within a kind the rows are sorted by day
            segments = []
            for c in codes:
                lo, hi = self._kind_bounds[c]
                day = self.day[lo:hi]
                a = lo + (int(np.searchsorted(day, d0, "left")) if d0 is not None else 0)
                b = lo + (int(np.searchsorted(day, d1, "right")) if d1 is not None else hi - lo)
                if b > a:
                    segments.append((a, b))
        if not segments:
            return Selection.empty()
        sel = Selection(segments)
        mask = None
        for col, val in (("category", category), ("status", status)):
            vals = _as_list(val)
            if vals is not None:
                codes_arr, lk = self._codes[col]
                cs = [lk[v] for v in vals if v in lk]
                if not cs:
                    return Selection.empty()
                part = sel.take(codes_arr)
                m = part == cs[0] if len(cs) == 1 else np.isin(part, cs)
                mask = m if mask is None else mask & m
        custs = _as_list(customer_id)
        if custs is not None:
            if self._customer_rows is None:
                cid = self.meta["customer_id"].to_numpy(dtype=object)
                self._customer_rows = {c: np.asarray(g, dtype=np.int64) for c, g in
                                       pd.Series(np.arange(n)).groupby(cid).groups.items()}
            rows = [self._customer_rows.get(str(c), np.zeros(0, np.int64)) for c in custs]
            rows = np.unique(np.concatenate(rows))
            inside = np.zeros(rows.size, bool)
            for a, b in segments:
                inside |= (rows >= a) & (rows < b)
            rows = rows[inside]
            if mask is not None and rows.size:
                allowed = np.zeros(n, bool)
                allowed[sel.span_rows()[mask]] = True
                rows = rows[allowed[rows]]
            return Selection(segments, rows=rows)
        if mask is not None and mask.sum() < 0.1 * mask.size:
            return Selection(segments, rows=sel.span_rows()[mask])
        sel.mask = mask
        return sel

    def chroma_where(self, kind=None, category=None, status=None, customer_id=None, date_from=None,
                     date_to=None) -> dict | None:
        """The same filter as a Chroma `where` clause (used by tests and the benchmark baseline)."""
        conds = []
        for name, val in (("kind", kind), ("category", category), ("status", status), ("customer_id", customer_id)):
            vals = _as_list(val)
            if vals is not None:
                conds.append({name: {"$eq": vals[0]}} if len(vals) == 1 else {name: {"$in": vals}})
        if date_from is not None:
            conds.append({"created_day": {"$gte": to_day(date_from)}})
        if date_to is not None:
            conds.append({"created_day": {"$lte": to_day(date_to)}})
        if not conds:
            return None
        return conds[0] if len(conds) == 1 else {"$and": conds}

    # ---------------------------------------------------------------- search
    def embed_query(self, text: str) -> np.ndarray:
        v = self._query_cache.get(text)
        if v is None:
            v = self.embedder.embed_queries([text])[0]
            if len(self._query_cache) > 256:
                self._query_cache.clear()
            self._query_cache[text] = v
        return v

    def dense(self, qvec: np.ndarray, k: int, sel: Selection | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by cosine within the selection: (rows, cosines), best first (exact search)."""
        sel = sel or Selection.all(len(self.ids))
        q = np.asarray(qvec, np.float32).reshape(-1)
        if sel.rows is not None:
            s = self.vectors[sel.rows] @ q
            top = topk(s, k)
            return sel.rows[top], s[top]
        if not sel.segments:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if len(sel.segments) == 1:
            a, b = sel.segments[0]
            s = self.vectors[a:b] @ q
        else:
            s = np.concatenate([self.vectors[a:b] @ q for a, b in sel.segments])
        if sel.mask is not None:
            s[~sel.mask] = -np.inf
        top = topk(s, k)
        return sel.to_rows(top), s[top]

    def keyword(self, text: str, k: int, sel: Selection | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by BM25 within the selection (only rows sharing a term): (rows, scores)."""
        sel = sel or Selection.all(len(self.ids))
        raw = self.bm25.scores(tokenize(text))
        scores = np.zeros(len(self.ids), np.float32)
        scores[self._bm25_to_row] = raw
        if sel.rows is not None:
            s = scores[sel.rows]
            s[s <= 0] = -np.inf
            top = topk(s, k)
            return sel.rows[top], s[top]
        s = sel.take(scores).copy()
        s[s <= 0] = -np.inf
        if sel.mask is not None:
            s[~sel.mask] = -np.inf
        top = topk(s, k)
        return sel.to_rows(top), s[top]

    def search(self, text: str, k: int = 5, mode: str = "hybrid", sel: Selection | None = None,
               qvec: np.ndarray | None = None, **filters) -> list[Hit]:
        """Best k hits for `text`: mode 'dense', 'bm25' (alias 'keyword') or 'hybrid' (RRF, k=60)."""
        if sel is None:
            sel = self.select(**filters) if filters else Selection.all(len(self.ids))
        mode = {"keyword": "bm25", "vector": "dense", "semantic": "dense"}.get(mode, mode)
        if mode not in ("dense", "bm25", "hybrid"):
            raise GuanxiError(f"unknown search mode {mode!r}; expected hybrid, dense or bm25")
        if sel.count() == 0 or not len(self.ids):
            return []
        need_q = mode in ("dense", "hybrid")
        q = (qvec if qvec is not None else self.embed_query(text)) if need_q else None
        if mode == "dense":
            rows, cos = self.dense(q, k, sel)
            return [Hit(int(r), float(c), float(c), dense_rank=i + 1) for i, (r, c) in enumerate(zip(rows, cos))]
        if mode == "bm25":
            rows, sc = self.keyword(text, k, sel)
            return [Hit(int(r), float(s), bm25_rank=i + 1) for i, (r, s) in enumerate(zip(rows, sc))]
        n_cand = max(50, 5 * k)
        d_rows, d_cos = self.dense(q, n_cand, sel)
        b_rows, _ = self.keyword(text, n_cand, sel)
        d_rank = {int(r): i + 1 for i, r in enumerate(d_rows)}
        b_rank = {int(r): i + 1 for i, r in enumerate(b_rows)}
        fused = rrf([d_rows, b_rows])[:k]
        out = []
        for r, sc in fused:
            cos = float(self.vectors[r] @ q)
            out.append(Hit(r, float(sc), cos, d_rank.get(r), b_rank.get(r)))
        return out

    def chroma_query(self, qvec: np.ndarray, k: int, **filters) -> list[str]:
        """Chroma's own (HNSW + where filter) answer: ids best first. The baseline for tests/bench."""
        where = self.chroma_where(**filters)
        kw = {"where": where} if where else {}
        r = self.collection.query(query_embeddings=np.asarray(qvec, np.float32).reshape(1, -1), n_results=k,
                                  include=["distances"], **kw)
        return list(r["ids"][0])

    def record(self, row: int) -> dict:
        m = self.meta.iloc[row]
        rating = m["rating"]
        return {"feedback_id": m["id"], "text": m["text"], "customer_id": m["customer_id"] or None,
                "created_at": m["created_at"] or None, "kind": m["kind"] or None,
                "category": m["category"] or None, "status": m["status"] or None,
                "resolution": m["resolution"] or None, "product_id": m["product_id"] or None,
                "channel": m["channel"] or None, "rating": None if pd.isna(rating) else float(rating),
                "lang": m["lang"]}

    def vectors_for(self, ids: Sequence[str]) -> np.ndarray:
        rows = [self.row_of[i] for i in ids]
        return self.vectors[rows]


def _as_list(v):
    if v is None or (isinstance(v, str) and v.strip() == ""):
        return None
    if isinstance(v, (list, tuple, set, np.ndarray, pd.Series)):
        vals = [str(x) for x in v if x is not None and str(x) != ""]
        return vals or None
    return [str(v)]
