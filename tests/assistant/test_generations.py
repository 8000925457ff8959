"""Builds are complete or not served (issue 11, item 5): a build writes a new generation and the
workspace switches to it only when its tables and analyses are done; a build killed midway leaves
the previous complete one served (a first build: clearly refused); answers say which build they
come from; complaint search during (or after an interrupted) indexing says so, never "nothing found"."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from knowledge.workspace import Workspace, read_current

SMALL = dict(customers=60, orders=900, feedback=80)


class TinyEmbedder:
    """Deterministic random unit vectors (no model)."""
    name = "test-tiny-16"
    dim = 16
    max_chars = 512
    n_embedded = 0

    def _vec(self, texts):
        out = np.empty((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            out[i] = np.random.default_rng(int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "little")).normal(
                size=self.dim)
        self.n_embedded += len(texts)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    embed_queries = embed_passages = _vec


def _settings(root) -> Settings:
    return Settings.load(env={}, config_file=root / "none.toml", workspace=root)


def _demo(settings, seed):
    from assistant.pipeline import build_demo
    return build_demo(settings, seed=seed, index=False, **SMALL)


def _crash(*a, **k):
    raise RuntimeError("killed")


def _similar(settings):
    from tools.registry import call_tool
    return call_tool("similar_complaints", {"text": "快递太慢", "k": 3}, settings=settings)


def test_a_rebuild_killed_during_the_analyses_leaves_the_previous_build_served(tmp_path, monkeypatch):
    import tools.precompute
    from tools.registry import call_tool
    settings = _settings(tmp_path / "ws")
    _demo(settings, seed=1)
    first = read_current(settings.workspace)
    old_orders = Workspace(settings.workspace).table("orders")
    old_rfm = Workspace(settings.workspace).artefact("rfm")

    real = tools.precompute.precompute

    def half_done(ws, s, log=lambda m: None):   # writes some new artefacts, then dies
        ws.write_artefact("rfm", old_rfm.head(3))
        raise RuntimeError("killed during the analyses")
    monkeypatch.setattr(tools.precompute, "precompute", half_done)
    with pytest.raises(RuntimeError, match="killed"):
        _demo(settings, seed=2)
    monkeypatch.setattr(tools.precompute, "precompute", real)

    ws = Workspace(settings.workspace)
    assert ws.is_built() and ws.generation == first["generation"]
    pd.testing.assert_frame_equal(ws.table("orders"), old_orders)
    pd.testing.assert_frame_equal(ws.artefact("rfm"), old_rfm)
    r = call_tool("segment_summary", {}, settings=settings)
    assert f"data {first['fingerprint'][:12]}" in r["provenance"] and f"build {first['built_at']}" in r["provenance"]

    _demo(settings, seed=2)   # a complete rebuild is served, the killed one's leftovers are gone
    second = read_current(settings.workspace)
    assert second["generation"] != first["generation"] and second["fingerprint"] != first["fingerprint"]
    assert Workspace(settings.workspace).generation == second["generation"]
    assert {p.name for p in (settings.workspace / "builds").iterdir()} == {first["generation"], second["generation"]}


def test_a_first_build_killed_midway_is_refused_with_a_clear_message(tmp_path, monkeypatch):
    import tools.precompute
    settings = _settings(tmp_path / "ws")
    monkeypatch.setattr(tools.precompute, "precompute", _crash)
    with pytest.raises(RuntimeError):
        _demo(settings, seed=1)
    ws = Workspace(settings.workspace)
    assert not ws.is_built() and read_current(settings.workspace) is None
    with pytest.raises(GuanxiError, match="no complete build yet"):
        ws.require_built()


def test_complaint_search_says_indexing_while_the_index_is_built_or_stale(tmp_path, monkeypatch):
    import knowledge.feedback_store as fs
    from tools.context import ToolError
    settings = _settings(tmp_path / "ws")
    _demo(settings, seed=1)
    with pytest.raises(ToolError, match="not built yet"):
        _similar(settings)

    real_embed = fs.embed_cached

    def killed_halfway(embedder, texts, cache, role="passage", log=None, chunk=64, desc="", on_chunk=None,
                       engine=None):
        if on_chunk:
            on_chunk(len(texts) // 2, len(texts))
        raise RuntimeError("killed during indexing")
    monkeypatch.setattr(fs, "embed_cached", killed_halfway)
    with pytest.raises(RuntimeError, match="killed"):
        fs.sync_feedback_index(Workspace(settings.workspace), settings, log=None, embedder=TinyEmbedder())
    monkeypatch.setattr(fs, "embed_cached", real_embed)
    assert fs.index_status(Workspace(settings.workspace))["state"] == "indexing"
    with pytest.raises(ToolError, match=r"indexing, (4\d|50)%") as e:
        _similar(settings)
    assert "no complaints similar" not in str(e.value).lower()

    fs.sync_feedback_index(Workspace(settings.workspace), settings, log=None, embedder=TinyEmbedder())
    assert fs.index_status(Workspace(settings.workspace))["state"] == "ready"
    _demo(settings, seed=2)   # new tables: the old index holds complaints no longer in the table
    assert fs.index_status(Workspace(settings.workspace))["state"] == "stale"
    with pytest.raises(ToolError, match="the index is being built"):
        _similar(settings)
