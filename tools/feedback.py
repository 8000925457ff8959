"""Feedback queries for service agents: "has anyone complained like this before, and how did we
fix it?", the top complaint topics of a period, and a sentiment score for unrated feedback.

- `similar_feedback(store, text, ...)`: hybrid (dense + BM25, RRF) search with filters; near
  duplicates collapsed; each hit carries the resolution.
- `complaint_topics(feedback_df, store, ...)`: topics fitted once over all complaints (KMeans on
  the embeddings, k by silhouette, c-TF-IDF keywords), counted within a date range, with shares,
  examples and a monthly trend.
- `sentiment_scores(...)`: −1..1 per feedback item: the rating where there is one, else a
  logistic regression trained on the workspace's own rated feedback (rating ≤ 2 vs ≥ 4) over
  the embeddings, else a small zh/en lexicon.
The build-time artefacts (fitted topics, sentiment) are written by
`tools.precompute.precompute_feedback` after each index sync; no function here reads a workspace.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.text import TOPIC_STOPWORDS, dedupe_key, detect_language, tokenize
from tools.results import provenance

DUPLICATE_COSINE = 0.97
KIND_ALIASES = {"投诉": "complaint", "建议": "suggestion", "表扬": "praise", "咨询": "inquiry",
                "complaints": "complaint", "suggestions": "suggestion", "inquiries": "inquiry", "query": "inquiry"}
STATUS_ALIASES = {"已解决": "resolved", "已处理": "resolved", "closed": "resolved", "处理中": "open",
                  "未处理": "open", "未解决": "open", "pending": "open"}

def _norm(value, aliases: dict):
    if value is None:
        return None
    if isinstance(value, (list, tuple, set)):
        return [aliases.get(str(v).strip().lower(), aliases.get(str(v).strip(), str(v).strip().lower())) for v in value]
    v = str(value).strip()
    return aliases.get(v.lower(), aliases.get(v, v.lower())) if v else None


def _day_str(v) -> str | None:
    return None if v is None or v == "" else pd.Timestamp(v).strftime("%Y-%m-%d")


def _open_store(store_or_settings):
    from knowledge.feedback_store import FeedbackStore
    if isinstance(store_or_settings, FeedbackStore):
        return store_or_settings
    settings = store_or_settings
    return FeedbackStore.open(settings.workspace, settings)


# ------------------------------------------------------------------ similar feedback
@dataclass
class SimilarResult:
    query: str
    mode: str
    filters: dict
    matched: int                       # items passing the filters
    hits: list[dict] = field(default_factory=list)
    collapsed: int = 0                 # near-duplicates folded into the hits above them
    provenance: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def similar_feedback(store, text: str, k: int = 5, kind=None, category=None, date_from=None, date_to=None,
                     status=None, customer_id=None, mode: str = "hybrid",
                     status_of: dict[str, str] | None = None) -> SimilarResult:
    """The k feedback items most like `text` (zh or en), filtered, near-duplicates collapsed.

    Each hit: feedback_id, text, customer_id, created_at, kind, category, status, resolution,
    score (cosine for dense, BM25 for bm25, RRF for hybrid), cosine, duplicates (how many
    near-identical items it stands for) and duplicate_ids (up to 5). ``status_of`` (feedback_id →
    status) overrides the index's status for the status filter: the event log's follow-through
    (`tools.service_log`), which the index built from the file does not know."""
    store = _open_store(store)
    if not isinstance(text, str) or not text.strip():
        raise GuanxiError("similar_feedback: give the text of the complaint to look for")
    k = max(1, min(int(k), 50))
    filters = {"kind": _norm(kind, KIND_ALIASES), "category": category, "status": _norm(status, STATUS_ALIASES),
               "customer_id": customer_id, "date_from": _day_str(date_from), "date_to": _day_str(date_to)}
    filters = {a: b for a, b in filters.items() if b not in (None, "", [])}
    if status_of and "status" in filters:
        sel = _effective_status_selection(store, {k: v for k, v in filters.items() if k != "status"},
                                          filters["status"], status_of)
    else:
        sel = store.select(**filters)
    matched = sel.count()
    pool = max(4 * k, 20)
    while True:  # fetch more when near-duplicates ate the pool
        hits = store.search(text, k=pool, mode=mode, sel=sel)
        kept, collapsed = _collapse(store, hits, k)
        if len(kept) >= k or len(hits) < pool or pool >= 1000:
            break
        pool *= 4
    method = {"hybrid": f"hybrid: dense {store.embedder.name} + BM25, RRF k=60",
              "dense": f"dense {store.embedder.name}", "bm25": "BM25 over jieba/English tokens",
              "keyword": "BM25 over jieba/English tokens"}.get(mode, mode)
    prov = provenance("similar_feedback",
                       {"feedback index": f"{len(store):,} items, Chroma store of record"},
                       method=method, filters=filters or None, matched=matched,
                       near_duplicates_collapsed=collapsed)
    return SimilarResult(query=text, mode=mode, filters=filters, matched=matched, hits=kept,
                         collapsed=collapsed, provenance=prov)


def _effective_status_selection(store, filters: dict, status, status_of: dict[str, str]):
    """The rows passing ``filters`` whose status — the override where there is one — is ``status``."""
    from knowledge.feedback_store import Selection
    sel = store.select(**filters)
    rows = sel.row_indices()
    wanted = set(status if isinstance(status, list) else [status])
    source = store.meta["status"].to_numpy(dtype=object)[rows]
    ids = store.ids[rows]
    if "in_progress" not in wanted:   # in progress is not resolved yet: "open" finds it
        status_of = {i: ("open" if s == "in_progress" else s) for i, s in status_of.items()}
    keep = np.fromiter((status_of.get(i, s) in wanted for i, s in zip(ids, source)), bool, len(rows))
    return Selection(sel.segments, rows=rows[keep])


def _collapse(store, hits, k: int) -> tuple[list[dict], int]:
    """Keep the first of each group of near-duplicates (same normalised text, or cosine ≥ 0.97 to a
    kept hit); count the rest onto the hit they duplicate. At most k hits kept."""
    kept: list[dict] = []
    kept_rows: list[int] = []
    kept_keys: dict[str, int] = {}
    collapsed = 0
    for h in hits:
        key = dedupe_key(store.meta.at[h.row, "text"])
        dup_of = kept_keys.get(key)
        if dup_of is None and kept_rows:
            cos = store.vectors[kept_rows] @ store.vectors[h.row]
            j = int(np.argmax(cos))
            if cos[j] >= DUPLICATE_COSINE:
                dup_of = j
        if dup_of is not None:
            collapsed += 1
            kept[dup_of]["duplicates"] += 1
            if len(kept[dup_of]["duplicate_ids"]) < 5:
                kept[dup_of]["duplicate_ids"].append(store.ids[h.row])
            continue
        if len(kept) >= k:
            continue
        rec = store.record(h.row)
        rec.update(score=round(h.score, 6), cosine=None if np.isnan(h.cosine) else round(h.cosine, 4),
                   duplicates=0, duplicate_ids=[])
        kept_keys[key] = len(kept)
        kept.append(rec)
        kept_rows.append(h.row)
    return kept, collapsed


# ------------------------------------------------------------------ topics
def ctfidf_keywords(token_docs: Sequence[Sequence[str]], labels: Sequence[int], top: int = 5,
                    min_df: int = 2) -> dict[int, list[str]]:
    """Class-based TF-IDF (BERTopic's c-TF-IDF): a term's share of a class's (binary, per-document)
    term counts times log(1 + A / f_t), A = average count per class, f_t = the term's count overall.
    Terms shorter than 2 characters, with digits, or in TOPIC_STOPWORDS (greetings, "投诉", "please
    handle") are left out."""
    per_class: dict[int, Counter] = {}
    for toks, c in zip(token_docs, labels):
        cnt = per_class.setdefault(int(c), Counter())
        cnt.update({t for t in toks if len(t) >= 2 and t not in TOPIC_STOPWORDS
                    and not any(ch.isdigit() for ch in t)})
    overall = Counter()
    for cnt in per_class.values():
        overall.update(cnt)
    if not overall:
        return {c: [] for c in per_class}
    avg = sum(sum(c.values()) for c in per_class.values()) / max(len(per_class), 1)
    out = {}
    for c, cnt in per_class.items():
        total = sum(cnt.values()) or 1
        scored = [(v / total * np.log(1 + avg / overall[t]), t) for t, v in cnt.items() if v >= min(min_df, max(cnt.values()))]
        scored.sort(key=lambda x: (-x[0], x[1]))
        out[c] = [t for _, t in scored[:top]]
    return out


def fit_topics(ids: Sequence[str], texts: Sequence[str], vectors: np.ndarray, n_topics: int | None = None,
               k_range: tuple[int, int] = (3, 12), seed: int = 42, sample: int = 20000) -> dict:
    """Cluster unit vectors with KMeans (k chosen by silhouette over `k_range` unless `n_topics`),
    deterministic for a seed. Topics are numbered by size (0 = largest). Returns
    {"assignments": DataFrame(feedback_id, topic, similarity), "topics": [...], "k", "silhouette"}."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    X = np.asarray(vectors, np.float32)
    n = len(X)
    ids = [str(i) for i in ids]
    langs = [detect_language(t) for t in texts]
    lang_means = language_means(X, langs)
    X = center_by_language(X, langs, lang_means)
    if n == 0:
        return {"assignments": pd.DataFrame({"feedback_id": [], "topic": [], "similarity": []}), "topics": [],
                "k": 0, "silhouette": None}
    rng = np.random.default_rng(seed)
    fit_idx = np.sort(rng.choice(n, sample, replace=False)) if n > sample else np.arange(n)
    Xf = X[fit_idx]
    best_sil = None
    if n_topics:
        k = int(max(1, min(n_topics, len(Xf))))
    else:
        lo, hi = k_range
        hi = min(hi, max(lo, len(Xf) // 10))
        k = 1
        if len(Xf) >= 2 * lo and len(Xf) >= 20:
            sil_idx = np.sort(rng.choice(len(Xf), 3000, replace=False)) if len(Xf) > 3000 else np.arange(len(Xf))
            for kk in range(lo, hi + 1):
                km = KMeans(n_clusters=kk, n_init=3, random_state=seed).fit(Xf)
                if len(set(km.labels_[sil_idx])) < 2:
                    continue
                s = float(silhouette_score(Xf[sil_idx], km.labels_[sil_idx]))
                if best_sil is None or s > best_sil + 1e-9:
                    best_sil, k = s, kk
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(Xf)
    cent = km.cluster_centers_.astype(np.float32)
    cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-9)
    sims = X @ cent.T
    lab = sims.argmax(axis=1)
    sizes = np.bincount(lab, minlength=k)
    order = sorted(range(k), key=lambda c: (-sizes[c], c))
    remap = np.empty(k, np.int64)
    remap[order] = np.arange(k)
    lab = remap[lab]
    cent = cent[order]
    sim = sims[np.arange(n), np.asarray(order)[lab]]
    toks = [tokenize(t) for t in texts]
    kw = ctfidf_keywords(toks, lab, top=5)
    topics = []
    for c in range(k):
        members = np.flatnonzero(lab == c)
        ex = members[np.argsort(-sim[members], kind="stable")[:3]]
        words = kw.get(c, [])
        topics.append({"topic": c, "label": " / ".join(words[:3]) or f"topic {c}", "keywords": words,
                       "size": int(len(members)), "examples": [ids[i] for i in ex],
                       "centroid": [round(float(x), 6) for x in cent[c]]})
    assign = pd.DataFrame({"feedback_id": ids, "topic": lab.astype(np.int64), "similarity": sim.astype(np.float32)})
    return {"assignments": assign, "topics": topics, "k": k,
            "silhouette": None if best_sil is None else round(best_sil, 4),
            "lang_means": {l: [round(float(x), 6) for x in m] for l, m in lang_means.items()}}


def language_means(X: np.ndarray, langs: Sequence[str], min_count: int = 5) -> dict[str, np.ndarray]:
    """Mean vector per language (languages with at least `min_count` items, when two or more)."""
    langs = np.asarray(langs)
    means = {l: X[langs == l].mean(axis=0) for l in sorted(set(langs.tolist())) if (langs == l).sum() >= min_count}
    return means if len(means) >= 2 else {}


def center_by_language(X: np.ndarray, langs: Sequence[str], means: dict) -> np.ndarray:
    """Subtract each item's language mean and re-normalise. Multilingual encoders put much of the
    language itself into the vector (Libovický et al. 2020, "On the Language Neutrality of
    Pre-trained Multilingual Representations"): without this, zh and en complaints about the same
    thing land in different clusters."""
    if not means:
        return X
    X = np.array(X, dtype=np.float32, copy=True)
    for i, l in enumerate(langs):
        m = means.get(l)
        if m is not None:
            X[i] -= np.asarray(m, np.float32)
    X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-9)
    return X


@dataclass
class TopicsResult:
    date_from: str | None
    date_to: str | None
    total: int                              # complaints in the range
    n_topics: int
    topics: list[dict] = field(default_factory=list)   # topic, label, keywords, count, share, example_ids, trend
    months: list[str] = field(default_factory=list)
    source: str = ""                        # "artefact" (fitted at build time) or "fitted"
    method: str = ""
    provenance: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _complaints(df: pd.DataFrame) -> pd.DataFrame:
    if "kind" in df.columns:
        df = df[df["kind"].astype(str).str.lower() == "complaint"]
    df = df[df["text"].notna() & (df["text"].astype(str).str.strip() != "")]
    return df.drop_duplicates("feedback_id", keep="last") if "feedback_id" in df.columns else df


def complaint_topics(feedback_df: pd.DataFrame, store_or_vectors=None, date_from=None, date_to=None,
                     n_topics: int | None = None, top: int = 10, fitted: tuple | None = None) -> TopicsResult:
    """Top complaint topics within [date_from, date_to] (inclusive), with keywords, counts, shares,
    example ids and a monthly trend.

    `store_or_vectors`: a FeedbackStore, or an array of vectors aligned with the complaint rows of
    `feedback_df`, or a dict id → vector. `fitted`: the build-time topics (artefacts
    feedback_topics_meta, feedback_topics), used with a store when `n_topics` is not forced;
    complaints newer than the fit go to the nearest topic."""
    comp = _complaints(feedback_df).reset_index(drop=True)
    comp_ids = comp["feedback_id"].astype(str).tolist()
    source, method = "fitted", ""
    topics_meta = None
    assign = None
    store = None
    from knowledge.feedback_store import FeedbackStore
    if isinstance(store_or_vectors, FeedbackStore):
        store = store_or_vectors
        if n_topics is None and fitted is not None:
            meta, art = fitted
            if isinstance(meta, dict) and isinstance(art, pd.DataFrame) and meta.get("embedder") == store.embedder.name:
                topics_meta, source = meta, "artefact"
                a = dict(zip(art["feedback_id"].astype(str), art["topic"].astype(int)))
                missing = [i for i in comp_ids if i not in a and i in store.row_of]
                if missing and meta.get("topics"):
                    cent = np.asarray([t["centroid"] for t in meta["topics"]], np.float32)
                    means = {l: np.asarray(m, np.float32) for l, m in (meta.get("lang_means") or {}).items()}
                    mv = center_by_language(store.vectors_for(missing), [
                        store.meta.at[store.row_of[i], "lang"] for i in missing], means)
                    lab = (mv @ cent.T).argmax(axis=1)
                    a.update(zip(missing, lab.tolist()))
                assign = pd.Series([a.get(i, -1) for i in comp_ids], dtype="int64")
                method = (f"KMeans k={meta.get('k')} over {meta.get('n', '?')} complaints at build time "
                          f"(silhouette {meta.get('silhouette')}), c-TF-IDF keywords")
    if assign is None:
        vecs = _vectors_for(comp_ids, store_or_vectors)
        keep = ~np.isnan(vecs).any(axis=1)
        fit = fit_topics([i for i, ok in zip(comp_ids, keep) if ok], comp["text"][keep].tolist(), vecs[keep],
                         n_topics=n_topics)
        a = dict(zip(fit["assignments"]["feedback_id"], fit["assignments"]["topic"]))
        assign = pd.Series([a.get(i, -1) for i in comp_ids], dtype="int64")
        topics_meta = {"topics": fit["topics"], "k": fit["k"], "silhouette": fit["silhouette"],
                       "lang_means": fit["lang_means"]}
        method = (f"KMeans k={fit['k']} over {len(a):,} complaints"
                  + (f" (silhouette {fit['silhouette']})" if fit["silhouette"] is not None else " (k given)")
                  + ", c-TF-IDF keywords")
    comp["topic"] = assign.to_numpy()
    ts = pd.to_datetime(comp["created_at"], errors="coerce")
    m = pd.Series(True, index=comp.index)
    if date_from is not None:
        m &= ts >= pd.Timestamp(date_from).normalize()
    if date_to is not None:
        m &= ts < pd.Timestamp(date_to).normalize() + pd.Timedelta(days=1)
    sub = comp[m & (comp["topic"] >= 0)].copy()
    sub["month"] = ts[sub.index].dt.strftime("%Y-%m")
    total = int(len(sub))
    months = sorted(sub["month"].dropna().unique().tolist())
    if months:
        months = pd.period_range(months[0], months[-1], freq="M").strftime("%Y-%m").tolist()
    info = {t["topic"]: t for t in topics_meta["topics"]}
    counts = sub["topic"].value_counts()
    out = []
    for t, cnt in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max(int(top), 1)]:
        rows = sub[sub["topic"] == t]
        ex = rows["feedback_id"].astype(str).tolist()
        if store is not None and t in info:  # the most typical items of the period first
            present = [i for i in ex if i in store.row_of]
            if present:
                c = np.asarray(info[t]["centroid"], np.float32)
                means = {l: np.asarray(v, np.float32) for l, v in (topics_meta.get("lang_means") or {}).items()}
                pv = center_by_language(store.vectors_for(present),
                                        [store.meta.at[store.row_of[i], "lang"] for i in present], means)
                s = pv @ c
                ex = [present[j] for j in np.argsort(-s, kind="stable")]
        trend = rows["month"].value_counts()
        meta_t = info.get(t, {})
        out.append({"topic": int(t), "label": meta_t.get("label", f"topic {t}"), "keywords": meta_t.get("keywords", []),
                    "count": int(cnt), "share": round(cnt / total, 4) if total else 0.0, "example_ids": ex[:3],
                    "trend": {mo: int(trend.get(mo, 0)) for mo in months}})
    prov = provenance("complaint_topics", {"feedback": f"{len(comp):,} complaints, {total:,} in range"},
                       date_from=_day_str(date_from), date_to=_day_str(date_to), method=method)
    return TopicsResult(date_from=_day_str(date_from), date_to=_day_str(date_to), total=total,
                        n_topics=len(info), topics=out, months=months, source=source, method=method, provenance=prov)


def _vectors_for(ids: list[str], src) -> np.ndarray:
    from knowledge.feedback_store import FeedbackStore
    if isinstance(src, FeedbackStore):
        out = np.full((len(ids), src.vectors.shape[1]), np.nan, np.float32)
        for p, i in enumerate(ids):
            r = src.row_of.get(i)
            if r is not None:
                out[p] = src.vectors[r]
        return out
    if isinstance(src, dict):
        dim = len(next(iter(src.values())))
        return np.asarray([src.get(i, np.full(dim, np.nan)) for i in ids], np.float32)
    if src is None:
        raise GuanxiError("complaint_topics needs the feedback store or the complaint vectors")
    arr = np.asarray(src, np.float32)
    if len(arr) != len(ids):
        raise GuanxiError(f"complaint_topics: {len(arr)} vectors for {len(ids)} complaints")
    return arr


# ------------------------------------------------------------------ sentiment
POSITIVE = frozenset("""
好 很好 挺好 不错 满意 喜欢 推荐 赞 点赞 棒 很棒 优秀 完美 好吃 美味 新鲜 快 很快 准时 及时 热情 耐心 周到 专业 方便 实惠 划算 干净
舒适 感谢 谢谢 好评 超值 惊喜 值得 贴心 靠谱 给力 满分 五星 下次 还会 回购
good great excellent love loved amazing awesome perfect happy thank thanks helpful friendly fast quick easy
recommend nice best wonderful fantastic pleased satisfied smooth delicious fresh kind polite
""".split())
NEGATIVE = frozenset("""
差 很差 太差 不好 难吃 难用 失望 糟糕 垃圾 慢 太慢 很慢 贵 太贵 脏 坏 坏了 破 破损 漏 少 凉 冷 投诉 退款 退货 骗 欺骗 假 假货
态度 恶劣 问题 故障 不能 无法 不行 不满 生气 后悔 再也 差评 一般 不值 敷衍 拖 拖延 延迟 迟到 错 错误 发错 漏发 过期 异味 臭
bad terrible awful horrible worst poor slow late delayed delay broken damaged refund rude disappointed
disappointing angry never problem issue wrong missing lost cancelled canceled dirty cold expensive fraud scam
waste useless unhelpful fail failed failure complaint unacceptable ridiculous worse hate
""".split())


def lexicon_sentiment(text: str) -> float:
    """(positive − negative) / (positive + negative) term counts over zh/en lexicons, in −1..1."""
    toks = tokenize(text, stop=False)
    pos = sum(t in POSITIVE for t in toks)
    neg = sum(t in NEGATIVE for t in toks)
    return 0.0 if pos + neg == 0 else (pos - neg) / (pos + neg)


def fit_sentiment(vectors: np.ndarray, ratings: Sequence[float], min_per_class: int = 20, seed: int = 42):
    """Logistic regression on embeddings: rating ≤ 2 → negative, ≥ 4 → positive (3 left out).
    None when either class has fewer than `min_per_class` items."""
    from sklearn.linear_model import LogisticRegression
    r = np.asarray(ratings, dtype=float)
    neg, pos = r <= 2, r >= 4
    if neg.sum() < min_per_class or pos.sum() < min_per_class:
        return None
    X = np.asarray(vectors, np.float32)[neg | pos]
    y = pos[neg | pos].astype(int)
    return LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced", random_state=seed).fit(X, y)


def fit_sentiment_labels(vectors: np.ndarray, labels: Sequence[int], seed: int = 42):
    """Same model from 0/1 labels (used by the evaluation on waimai-10k / ChnSentiCorp)."""
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced", random_state=seed).fit(
        np.asarray(vectors, np.float32), np.asarray(labels, int))


def sentiment_label(s: float) -> str:
    return "negative" if s <= -0.2 else ("positive" if s >= 0.2 else "neutral")


def sentiment_scores(ids: Sequence[str], texts: Sequence[str], vectors: np.ndarray | None,
                     ratings: Sequence[float], model=None) -> pd.DataFrame:
    """Per item: sentiment in −1..1, label, source (rating | model | lexicon)."""
    r = np.asarray(ratings, dtype=float)
    out = np.zeros(len(ids), np.float64)
    src = np.empty(len(ids), dtype=object)
    rated = ~np.isnan(r)
    out[rated] = np.clip((r[rated] - 3.0) / 2.0, -1, 1)
    src[rated] = "rating"
    rest = np.flatnonzero(~rated)
    if rest.size:
        if model is not None and vectors is not None:
            p = model.predict_proba(np.asarray(vectors, np.float32)[rest])[:, 1]
            out[rest] = 2 * p - 1
            src[rest] = "model"
        else:
            out[rest] = [lexicon_sentiment(texts[i]) for i in rest]
            src[rest] = "lexicon"
    return pd.DataFrame({"feedback_id": [str(i) for i in ids], "sentiment": np.round(out, 4),
                         "label": [sentiment_label(s) for s in out], "source": src})
