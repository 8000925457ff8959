"""The feedback store: Chroma round trip, incremental sync, restart, crash recovery, and the fast
filtered path against Chroma's own `where` filter."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from knowledge.feedback_store import FeedbackStore, index_dir, sync_feedback_index
from knowledge.settings import Settings
from knowledge.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]

TEXTS = [
    "送餐太慢了，等了两个小时", "外卖送得很慢，饭都凉了", "快递员态度很差，还骂人", "包装破损，洗发水漏了一箱",
    "The delivery was very late and the food was cold", "Package arrived damaged and the bottle leaked",
    "屏幕碎了，要求退货退款", "客服一直不回复消息", "Refund took three weeks to arrive", "The app crashes when I pay",
    "奶粉快过期了还发给我", "希望增加夜间配送", "请问发票怎么开", "商品质量很好，很满意", "Great service, thank you",
    "会员积分没有到账", "订单 XR-7731 的赠品没有收到", "衣服尺码偏小，想换货",
]


def feedback_frame(texts=TEXTS, start="2024-01-01") -> pd.DataFrame:
    n = len(texts)
    return pd.DataFrame({
        "feedback_id": [f"F{i:03d}" for i in range(n)],
        "customer_id": [f"C{i % 4}" for i in range(n)],
        "created_at": pd.date_range(start, periods=n, freq="7D"),
        "channel": "app",
        "kind": ["suggestion" if i in (11,) else "inquiry" if i == 12 else "praise" if i in (13, 14) else "complaint"
                 for i in range(n)],
        "product_id": "P1",
        "category": ["外卖" if i % 2 == 0 else "日用品" for i in range(n)],
        "rating": [np.nan if i % 3 else 2.0 for i in range(n)],
        "text": list(texts),
        "status": ["resolved" if i % 2 else "open" for i in range(n)],
        "resolution": [f"处理方案 {i}" if i % 2 else "" for i in range(n)],
        "resolved_at": pd.NaT,
    })


def make_ws(root: Path, df: pd.DataFrame) -> tuple[Workspace, Settings]:
    ws = Workspace(root)
    ws.write_table("feedback", df)
    return ws, Settings(workspace=root)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("fbstore")
    ws, settings = make_ws(root, feedback_frame())
    stats = sync_feedback_index(ws, settings, log=None, analyses=False)
    return ws, settings, stats


def test_round_trip_and_second_sync_embeds_nothing(built):
    ws, settings, stats = built
    assert stats["rows"] == len(TEXTS) and stats["added"] == len(TEXTS) and stats["embedded"] == len(TEXTS)
    store = FeedbackStore.open(ws, settings, cached=False)
    assert store.source == "snapshot" and len(store) == len(TEXTS)
    assert store.collection.count() == len(TEXTS)
    hits = store.search("外卖送餐很慢", k=3, mode="dense")
    assert {store.ids[h.row] for h in hits[:2]} == {"F000", "F001"}
    again = sync_feedback_index(ws, settings, log=None, analyses=False)
    assert again["embedded"] == 0 and again["unchanged"] == len(TEXTS)
    assert again["added"] == again["updated"] == again["removed"] == 0
    assert again["generation"] == stats["generation"]      # nothing rewritten


def test_lost_vector_cache_is_refilled_from_chroma(built):
    ws, settings, _ = built
    before = FeedbackStore.open(ws, settings, cached=False)
    for f in (Path(ws.root) / "cache").glob("vectors.sqlite*"):
        f.unlink()
    shutil.rmtree(index_dir(ws))          # no snapshot either: vectors must come back from Chroma
    st = sync_feedback_index(ws, settings, log=None, analyses=False)
    assert st["embedded"] == 0 and st["unchanged"] == len(TEXTS)
    after = FeedbackStore.open(ws, settings, cached=False)
    assert np.allclose(before.vectors, after.vectors, atol=1e-6)


def test_sync_reports_index_progress_and_runs_the_analyses_hook(tmp_path):
    ws, settings = make_ws(tmp_path, feedback_frame())
    events, seen = [], []
    st = sync_feedback_index(ws, settings, log=None, progress=events.append,
                             analyses=lambda store: seen.append(len(store)) or {"rows": len(store)})
    assert st["analyses"] == {"rows": len(TEXTS)} and seen == [len(TEXTS)]
    assert {e.stage for e in events} == {"index"}
    assert [e.done for e in events] == sorted(e.done for e in events)
    assert all(0 <= e.done <= e.total for e in events)
    assert events[-1].done == events[-1].total == len(TEXTS) + 1   # every row embedded, then the snapshot
    again: list = []
    sync_feedback_index(ws, settings, log=None, analyses=False, progress=again.append)
    assert again[-1].done == again[-1].total == 1                   # nothing to embed
    failed = sync_feedback_index(ws, settings, log=None, analyses=lambda store: 1 / 0)
    assert "ZeroDivisionError" in failed["analyses"]["error"]       # the index stays complete
    assert FeedbackStore.open(ws, settings, cached=False).source == "snapshot"


def test_change_and_removal(tmp_path):
    df = feedback_frame()
    ws, settings = make_ws(tmp_path, df)
    sync_feedback_index(ws, settings, log=None, analyses=False)
    df2 = df.copy()
    df2.loc[2, "text"] = "快递员把包裹扔在门口就走了"      # text changed → re-embedded
    df2.loc[4, "status"] = "resolved"                     # metadata only → updated, not re-embedded
    df2 = df2.drop(index=[5]).reset_index(drop=True)      # removed
    ws.write_table("feedback", df2)
    st = sync_feedback_index(ws, settings, log=None, analyses=False)
    assert st["embedded"] == 1 and st["updated"] == 2 and st["removed"] == 1 and st["added"] == 0
    store = FeedbackStore.open(ws, settings, cached=False)
    assert "F005" not in store.row_of and len(store) == len(TEXTS) - 1
    assert store.collection.get(ids=["F005"])["ids"] == []
    assert store.record(store.row_of["F004"])["status"] == "resolved"
    assert store.record(store.row_of["F002"])["text"].startswith("快递员把包裹")
    top = store.search("包裹被扔在门口", k=1, mode="dense")[0]
    assert store.ids[top.row] == "F002"


def _run(code: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(ROOT),
                          timeout=120)


def test_store_survives_a_restart(built):
    ws, settings, _ = built
    code = (f"from knowledge.feedback_store import FeedbackStore\n"
            f"s = FeedbackStore.open({str(ws.root)!r})\n"
            f"h = s.search('Package arrived damaged', k=1, mode='hybrid')[0]\n"
            f"print(s.source, len(s), s.ids[h.row])\n")
    r = _run(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["snapshot", str(len(TEXTS)), "F005"]


def test_killed_build_leaves_an_openable_store_and_next_sync_completes(tmp_path):
    df = feedback_frame()
    ws, settings = make_ws(tmp_path, df.iloc[:6])
    sync_feedback_index(ws, settings, log=None, analyses=False)
    ws.write_table("feedback", df)   # 12 new rows: 3 upsert batches of 5
    code = (f"from knowledge.feedback_store import sync_feedback_index\n"
            f"sync_feedback_index({str(ws.root)!r}, None, log=None, batch_size=5, analyses=False)\n")
    r = _run(code, {"GUANXI_TEST_CRASH_AFTER_BATCHES": "1", "GUANXI_TEST_CRASH_HARD": "1"})
    assert r.returncode == 9, (r.returncode, r.stderr)          # died like kill -9, mid-upsert
    assert (index_dir(ws) / "SYNCING").exists()
    store = FeedbackStore.open(ws, settings, cached=False)       # opens, from the store of record
    assert store.source == "chroma" and len(store) == 6 + 5
    assert store.search("送餐太慢", k=1, mode="hybrid")
    st = sync_feedback_index(Workspace(ws.root), settings, log=None, analyses=False)
    assert st["embedded"] == 0                                   # vectors were cached before the crash
    assert st["added"] == len(TEXTS) - 11 and st["unchanged"] == 11
    assert not (index_dir(ws) / "SYNCING").exists()
    store = FeedbackStore.open(ws, settings, cached=False)
    assert store.source == "snapshot" and set(store.ids) == set(df["feedback_id"])
    assert store.collection.count() == len(TEXTS)


def test_in_process_failure_then_recovery(tmp_path):
    df = feedback_frame()
    ws, settings = make_ws(tmp_path, df)
    with pytest.raises(RuntimeError, match="simulated crash"):
        sync_feedback_index(ws, settings, log=None, batch_size=4, analyses=False, _crash_after_batches=2)
    st = sync_feedback_index(ws, settings, log=None, batch_size=4, analyses=False)
    assert st["added"] == len(TEXTS) - 8 and st["unchanged"] == 8 and st["embedded"] == 0
    assert len(FeedbackStore.open(ws, settings, cached=False)) == len(TEXTS)


def test_open_rebuilds_from_chroma_when_snapshot_is_gone(built):
    ws, settings, _ = built
    snap = FeedbackStore.open(ws, settings, cached=False)
    tmp = Path(str(index_dir(ws)) + ".bak")
    shutil.copytree(index_dir(ws), tmp)
    try:
        shutil.rmtree(index_dir(ws))
        st = FeedbackStore.open(ws, settings, cached=False)
        assert st.source == "chroma" and len(st) == len(snap)
        for q in ("赠品没收到", "refund late"):
            a = [snap.ids[h.row] for h in snap.search(q, k=5)]
            b = [st.ids[h.row] for h in st.search(q, k=5)]
            assert a == b
    finally:
        shutil.rmtree(index_dir(ws), ignore_errors=True)
        shutil.copytree(tmp, index_dir(ws))
        shutil.rmtree(tmp)


def test_hybrid_finds_a_keyword_only_match(built):
    ws, settings, _ = built
    store = FeedbackStore.open(ws, settings)
    q = "XR-7731 怎么处理"
    hybrid = [store.ids[h.row] for h in store.search(q, k=3, mode="hybrid")]
    bm25 = [store.ids[h.row] for h in store.search(q, k=3, mode="bm25")]
    assert bm25 == ["F016"] and "F016" in hybrid


def test_filters_and_date_ranges(built):
    ws, settings, _ = built
    store = FeedbackStore.open(ws, settings)
    df = ws.table("feedback")
    day = (pd.to_datetime(df["created_at"]).dt.normalize() - pd.Timestamp("1970-01-01")).dt.days
    cases = [dict(kind="complaint", date_from="2024-02-01", date_to="2024-03-31"),
             dict(date_from="2024-02-01"), dict(category="外卖", status="open"),
             dict(kind=["complaint", "praise"], customer_id="C1"), dict(kind="nope")]
    for f in cases:
        sel = store.select(**f)
        got = set(store.ids[sel.row_indices()])
        m = pd.Series(True, index=df.index)
        if "kind" in f:
            m &= df["kind"].isin(f["kind"] if isinstance(f["kind"], list) else [f["kind"]])
        if "category" in f:
            m &= df["category"] == f["category"]
        if "status" in f:
            m &= df["status"] == f["status"]
        if "customer_id" in f:
            m &= df["customer_id"] == f["customer_id"]
        if "date_from" in f:
            m &= day >= (pd.Timestamp(f["date_from"]) - pd.Timestamp("1970-01-01")).days
        if "date_to" in f:
            m &= day <= (pd.Timestamp(f["date_to"]) - pd.Timestamp("1970-01-01")).days
        assert got == set(df.loc[m, "feedback_id"]), f
        hits = store.search("delivery late 送餐慢", k=20, mode="hybrid", **f)
        assert {store.ids[h.row] for h in hits} <= got


class RandomEmbedder:
    """Deterministic random unit vectors from a text hash (for the large-store equivalence test)."""
    name = "test-random-64"
    dim = 64
    max_chars = 512
    n_embedded = 0

    def _vec(self, texts):
        out = np.empty((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).normal(size=self.dim)
        self.n_embedded += len(texts)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    embed_queries = embed_passages = _vec


def test_fast_filtered_path_matches_chroma_where(tmp_path):
    rng = np.random.default_rng(3)
    n = 3000
    df = pd.DataFrame({
        "feedback_id": [f"R{i:05d}" for i in range(n)],
        "customer_id": [f"C{i}" for i in rng.integers(0, 300, n)],
        "created_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
        "kind": rng.choice(["complaint", "inquiry", "praise", "suggestion"], n, p=[.55, .2, .13, .12]),
        "category": rng.choice(["外卖", "日用品", "电子", "服装", "图书"], n),
        "status": rng.choice(["open", "resolved"], n),
        "rating": np.nan, "text": [f"synthetic feedback {i}" for i in range(n)],
        "resolution": "", "channel": "app", "product_id": "", "resolved_at": pd.NaT})
    ws, settings = make_ws(tmp_path, df)
    emb = RandomEmbedder()
    sync_feedback_index(ws, settings, log=None, embedder=emb, analyses=False)
    store = FeedbackStore.open(ws, settings, embedder=emb, cached=False)
    filters = [{}, dict(kind="complaint"), dict(kind="complaint", date_from="2024-03-01", date_to="2024-06-30"),
               dict(category="电子", status="open"), dict(kind="inquiry", category="图书"),
               dict(date_from="2024-11-01"), dict(customer_id="C7"), dict(kind=["praise", "suggestion"], status="resolved")]
    qs = emb.embed_queries([f"query {i}" for i in range(6)])
    compared = 0
    for f in filters:
        for q in qs:
            rows, cos = store.dense(q, 10, store.select(**f))
            ours = list(store.ids[rows])
            theirs = store.chroma_query(q, 10, **f)
            if ours != theirs:  # allowed only as a tie: same cosine at the differing places
                assert len(ours) == len(theirs), f
                for a, b in zip(ours, theirs):
                    if a != b:
                        va, vb = store.vectors[store.row_of[a]] @ q, store.vectors[store.row_of[b]] @ q
                        assert abs(va - vb) < 1e-6, (f, ours, theirs)
            compared += 1
    assert compared == len(filters) * len(qs)
