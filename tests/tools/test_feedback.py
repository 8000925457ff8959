"""Feedback queries: similar feedback with near-duplicates collapsed, complaint topics, sentiment."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assistant.pipeline import sync_feedback
from knowledge.feedback_store import FeedbackStore
from knowledge.settings import Settings
from knowledge.workspace import Workspace
from tools.feedback import (complaint_topics, ctfidf_keywords, fit_sentiment, fit_topics, lexicon_sentiment,
                            sentiment_scores, similar_feedback)

# three complaint themes (late delivery, damaged parcel, refunds), zh + en, with duplicates
LATE = ["送餐太慢了，等了两个小时", "外卖送得太慢，饭菜都凉了", "配送太慢，骑手迟到一个小时", "送餐很慢，等了很久才送到",
        "The delivery was two hours late", "Delivery was very slow and the food arrived cold"]
DAMAGED = ["包装破损，洗发水漏了", "快递包装破了，瓶子碎了", "收到的箱子破损严重，商品压坏了", "包裹破损，里面的杯子碎了",
           "Package arrived damaged and the bottle leaked", "The box was crushed and the item broken"]
REFUND = ["退款三周还没到账", "申请退款一直没有处理", "退款迟迟不到账，客服也不回复", "退货后退款还没收到",
          "My refund has not arrived after three weeks", "Still waiting for my refund"]
OTHER = [("praise", "商品质量很好，非常满意，下次还会买"), ("praise", "Great service, thank you so much"),
         ("inquiry", "请问发票怎么开"), ("suggestion", "希望增加夜间配送")]


def frame() -> pd.DataFrame:
    rows = []
    for theme in (LATE, DAMAGED, REFUND):
        for t in theme:
            rows.append(("complaint", t))
    rows += [("complaint", "送餐太慢了，等了两个小时！"), ("complaint", "送餐太慢了，等了两个小时")]  # duplicates
    rows += OTHER
    n = len(rows)
    return pd.DataFrame({
        "feedback_id": [f"T{i:03d}" for i in range(n)], "customer_id": [f"C{i % 5}" for i in range(n)],
        "created_at": pd.date_range("2024-01-05", periods=n, freq="9D"), "channel": "微信",
        "kind": [k for k, _ in rows], "product_id": "", "category": "外卖",
        "rating": [1.0 if k == "complaint" and i % 4 == 0 else (5.0 if k == "praise" else np.nan)
                   for i, (k, _) in enumerate(rows)],
        "text": [t for _, t in rows], "status": ["resolved" if i % 2 else "open" for i in range(n)],
        "resolution": [f"补偿优惠券 {i}" if i % 2 else "" for i in range(n)], "resolved_at": pd.NaT})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("fbtools")
    ws = Workspace(root)
    ws.write_table("feedback", frame())
    settings = Settings(workspace=root)
    stats = sync_feedback(ws, settings, log=None)   # the index, then the build-time analyses
    assert "error" not in stats["analyses"]
    return FeedbackStore.open(ws, settings)


def test_similar_feedback_hits_carry_resolutions_and_provenance(store):
    res = similar_feedback(store, "外卖送餐太慢", k=3, kind="投诉")
    assert res.filters["kind"] == "complaint" and len(res.hits) == 3
    h = res.hits[0]
    assert {"feedback_id", "text", "customer_id", "created_at", "kind", "category", "status", "resolution",
            "score"} <= set(h)
    assert all(x["kind"] == "complaint" for x in res.hits)
    assert all(x["feedback_id"] in {f"T{i:03d}" for i in range(6)} | {"T018", "T019"} for x in res.hits)
    assert "similar_feedback" in res.provenance and "matched" in res.provenance


def test_near_duplicates_are_collapsed(store):
    res = similar_feedback(store, "送餐太慢了，等了两个小时", k=5, mode="dense")
    texts = [h["text"] for h in res.hits]
    assert sum(t.startswith("送餐太慢了，等了两个小时") for t in texts) == 1
    assert res.collapsed >= 2
    top = res.hits[0]
    assert top["duplicates"] >= 2 and len(top["duplicate_ids"]) == top["duplicates"]


def test_similar_feedback_filters_and_modes(store):
    res = similar_feedback(store, "refund", k=5, status="resolved", date_from="2024-03-01", mode="bm25")
    assert res.hits and all(h["status"] == "resolved" and h["created_at"] >= "2024-03-01" for h in res.hits)
    none = similar_feedback(store, "refund", k=5, category="不存在的品类")
    assert none.matched == 0 and none.hits == []


def test_topics_are_deterministic_with_keyword_labels(store):
    df = store.ws.table("feedback")
    a = complaint_topics(df, store, n_topics=3)
    b = complaint_topics(df, store, n_topics=3)
    assert a.to_dict() == b.to_dict() and a.source == "fitted"
    assert a.total == 20 and sum(t["count"] for t in a.topics) == 20
    assert all(t["keywords"] and t["label"] for t in a.topics)
    kw = " ".join(" ".join(t["keywords"]) for t in a.topics)
    assert any(w in kw for w in ("退款", "refund")) and any(w in kw for w in ("破损", "包装", "damaged"))
    for t in a.topics:
        assert sum(t["trend"].values()) == t["count"]
        assert list(t["trend"]) == a.months
    # the build-time artefact (passed in by the tool wrapper) is used when given
    fitted = (store.ws.artefact("feedback_topics_meta"), store.ws.artefact("feedback_topics"))
    c = complaint_topics(df, store, fitted=fitted)
    assert c.source == "artefact" and c.total == 20


def test_topics_date_filter(store):
    df = store.ws.table("feedback")
    full = complaint_topics(df, store)
    part = complaint_topics(df, store, date_from="2024-03-01", date_to="2024-04-30")
    ts = pd.to_datetime(df["created_at"])
    expect = int(((df["kind"] == "complaint") & (ts >= "2024-03-01") & (ts < "2024-05-01")).sum())
    assert part.total == expect < full.total
    assert part.months == ["2024-03", "2024-04"]


def test_fit_topics_and_ctfidf_directly():
    rng = np.random.default_rng(0)
    centers = np.eye(8, dtype=np.float32)[:3]
    X = np.repeat(centers, 20, axis=0) + 0.05 * rng.normal(size=(60, 8)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    texts = ["退款 没到账"] * 20 + ["包装 破损"] * 20 + ["送餐 太慢"] * 20
    f1 = fit_topics([str(i) for i in range(60)], texts, X, k_range=(2, 5))
    f2 = fit_topics([str(i) for i in range(60)], texts, X, k_range=(2, 5))
    assert f1["k"] == 3 and f1["assignments"].equals(f2["assignments"])
    assert sorted(t["size"] for t in f1["topics"]) == [20, 20, 20]
    kws = ctfidf_keywords([["退款", "到账"], ["包装", "破损"]], [0, 1], min_df=1)
    assert kws[0][0] in ("退款", "到账") and kws[1][0] in ("包装", "破损")


def test_sentiment_sanity(store):
    assert lexicon_sentiment("太差了，送餐很慢，还漏了") < 0
    assert lexicon_sentiment("很好吃，非常满意，谢谢") > 0
    assert lexicon_sentiment("The delivery was terrible and late") < 0
    art = store.ws.artefact("feedback_sentiment")
    assert set(art.columns) >= {"feedback_id", "sentiment", "label", "source"}
    assert art["sentiment"].between(-1, 1).all() and len(art) == len(store)
    by = art.set_index("feedback_id")
    assert by.loc["T000", "source"] == "rating" and by.loc["T000", "sentiment"] == -1.0
    # a model trained on rated vectors separates clear cases
    pos = store.embedder.embed_passages(["非常满意，质量很好", "Excellent, love it", "很好用，推荐"] * 10)
    neg = store.embedder.embed_passages(["太差了，很失望", "Terrible, broken on arrival", "质量很差，要退货"] * 10)
    model = fit_sentiment(np.vstack([pos, neg]), [5.0] * 30 + [1.0] * 30)
    test = store.embedder.embed_passages(["东西很好，物流也快", "坏了，非常失望"])
    s = sentiment_scores(["a", "b"], ["", ""], test, [np.nan, np.nan], model)
    assert s["source"].tolist() == ["model", "model"]
    assert s.loc[0, "sentiment"] > 0 > s.loc[1, "sentiment"]
    assert fit_sentiment(pos[:3], [5.0, 1.0, 5.0]) is None   # too few rated items → lexicon fallback
