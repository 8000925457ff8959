"""Precompute per-customer analyses at build time so a lookup is an index access.

Artefacts written to WORKSPACE/artefacts/ (read back with `ws.artefact(name)`):

| name | kind | from | columns / keys |
|---|---|---|---|
| rfm | parquet | tools.rfm.rfm_table | customer_id, recency_days, frequency, monetary, r_score, f_score, m_score, segment, segment_zh, segment_cn8, tier, ... |
| clusters | parquet | tools.segments.cluster_customers | customer_id, cluster, cluster_name_en, cluster_name_zh |
| cluster_profiles | parquet | same | cluster, name_en, name_zh, size, share, means, top categories |
| churn | parquet | tools.churn.churn_scores | customer_id, churn_probability, risk_band, reasons_en, reasons_zh, recency_days, frequency, monetary, usual_interval_days, p_alive, annual_value, value_at_risk |
| churn_card | json | same | model card: label definition (own buying cycle), ROC AUC, PR AUC, Brier, calibration, lift@10%, cutoff, horizon, attribute check |
| clv | parquet | tools.clv.clv_table | customer_id, frequency, recency, T, monetary_value, p_alive, expected_purchases_90d, expected_avg_value, clv_12m |
| clv_params | json | same | bgnbd r/alpha/a/b, gamma-gamma p/q/v |
| rules_product, rules_category | parquet | tools.association.mine_order_rules | antecedents, consequents (lists of names), support, confidence, lift, leverage, conviction |
| churn_deferred (+ churn_model.pkl) | parquet / pickle | same, past model_fit_customers | the scoring features of the customers whose reasons are computed when shown (tools.churn_reasons), and the fitted model |
| orders_by_customer, care_intervals, product_sales, category_product_sales | parquet | tools.orders_index | order lines sorted by customer (one customer's lines without loading the table); per-customer order days and median gap; sales per product / (category, product) |
| metric_sums (+ metric_sums_customer, _customer_month, _category_month) | json / parquet | tools.metric_sums | the order lines before as_of summed per customer, per customer-month and per category-month (amount, qty, lines, distinct orders), the first order day, the most lines of one order: the metric SQL's shortcuts, opened instead of made |
| meta | json | this module | as_of, row counts, provenance lines per artefact |
| feedback_topics (+ _meta), feedback_sentiment | parquet / json | `precompute_feedback`, after each index sync | complaint topic per feedback_id (+ fitted topics), sentiment per feedback_id |
"""
from __future__ import annotations

import hashlib
import time
from typing import Callable

import pandas as pd

from knowledge.engine import Engine, engine_for
from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from knowledge.workspace import Workspace
from tools import feedback as feedback_analysis
from tools.results import default_as_of


REASONS_AT_BUILD = 20_000   # past model_fit_customers: churn reasons written at build time for this many


def _rules_frame(rules: pd.DataFrame) -> pd.DataFrame:
    """Frozensets → sorted lists so the rules survive Parquet."""
    out = rules.copy()
    for col in ("antecedents", "consequents"):
        out[col] = out[col].map(lambda s: sorted(map(str, s)))
    return out.reset_index(drop=True)


def precompute(ws: Workspace, settings: Settings, log: Callable[[str], None] = lambda s: None) -> dict:
    """Run every per-customer analysis once and store it under WORKSPACE/artefacts.

    The aggregations over the order lines behind RFM, the clusters' and churn's features (and
    churn's labels), CLV's BG/NBD summary and the rule baskets run as SQL on the engine ``settings.engine`` names (knowledge.engine: DuckDB by default,
    Spark), over the Parquet tables in place; the models (BG/NBD, churn, clusters) are fitted in
    this process on the per-customer results. ``meta["engine"]`` says which engine ran them."""
    eng = engine_for(ws, settings)
    try:
        return _precompute(ws, settings, eng, log)
    finally:
        eng.close()


def _precompute(ws: Workspace, settings: Settings, eng: Engine, log: Callable[[str], None]) -> dict:
    from tools import association, churn, churn_reasons, clv, rfm, segments

    customers = ws.table("customers")
    meta: dict = {"as_of": None, "provenance": {}, "seconds": {}, "skipped": {}, "engine": eng.name}
    lines = (int(eng.sql("SELECT count(*) AS n FROM orders").column("n")[0].as_py())
             if "orders" in eng.tables else 0)
    if not lines:
        log("no orders: analyses skipped")
        ws.write_artefact("meta", {**meta, "skipped": {"all": "no orders"}})
        return meta
    last = eng.last_order()   # as knowledge.workspace.default_as_of: the day after the last order
    as_of = last.normalize() + pd.Timedelta(days=1) if last is not None else default_as_of(None)
    meta["as_of"] = str(as_of.date())

    def step(name: str, fn: Callable[[], None]) -> None:
        t0 = time.perf_counter()
        try:
            fn()
        except GuanxiError as e:  # e.g. too few repeat buyers for CLV: the rest still works
            meta["skipped"][name] = str(e)
            log(f"  {name}: skipped — {e}")
            return
        meta["seconds"][name] = round(time.perf_counter() - t0, 2)
        log(f"  {name}: {meta['seconds'][name]:.1f} s")

    def do_rfm():
        values = eng.rfm_values(as_of)
        table = rfm.rfm_scores(values, as_of, rows=int(values["lines"].sum()))
        ws.write_artefact("rfm", table)
        meta["provenance"]["rfm"] = table.attrs.get("provenance") or (
            f"rfm_table · orders ({lines:,} rows, {len(table):,} customers) · as of {as_of.date()}")

    fit_max = settings.model_fit_customers

    def do_clusters():
        res = segments.cluster_customers(None, customers, as_of=as_of, random_state=settings.seed, engine=eng,
                                         max_fit_customers=fit_max)
        ws.write_artefact("clusters", res.assignments)
        ws.write_artefact("cluster_profiles", res.profiles)
        meta["provenance"]["clusters"] = res.provenance

    def do_churn():   # features and labels by the engine's SQL: the order table is never loaded
        res = churn.churn_scores(None, customers, ws.table("feedback"), as_of=as_of,
                                 horizon_days=settings.churn_horizon_days, random_state=settings.seed, engine=eng,
                                 max_fit_customers=fit_max,
                                 reasons_limit=None if len(customers) <= fit_max else min(REASONS_AT_BUILD, fit_max))
        ws.write_artefact("churn", res.scores)
        if res.deferred_features is not None:
            churn_reasons.save_deferred(ws, res.model, res.deferred_features)
        ws.write_artefact("churn_card", res.card if isinstance(res.card, dict) else res.card.__dict__)
        meta["provenance"]["churn"] = res.provenance

    def do_clv():
        res = clv.clv_from_summary(eng.purchase_summary(as_of), as_of, lines, max_fit_customers=fit_max,
                                   random_state=settings.seed)
        ws.write_artefact("clv", res.table)
        ws.write_artefact("clv_params", {"bgnbd": res.bgnbd, "gamma_gamma": res.gamma_gamma, "notes": res.notes})
        meta["provenance"]["clv"] = res.provenance

    def do_rules():
        for level in ("product", "category"):
            rules = association.mine_order_rules(None, level=level, engine=eng)
            ws.write_artefact(f"rules_{level}", _rules_frame(rules))
            meta["provenance"][f"rules_{level}"] = rules.attrs.get("provenance") or (
                f"mine_order_rules · orders ({lines:,} rows) · level={level} · {len(rules):,} rules")

    def do_orders_index():
        from tools.orders_index import write_order_artefacts
        from tools.purchase_facts import write_purchase_facts
        meta["provenance"].update(write_order_artefacts(ws, as_of))
        meta["provenance"].update(write_purchase_facts(ws, as_of))

    def do_metric_sums():
        from tools.metric_sums import write_metric_sums
        meta["provenance"].update(write_metric_sums(ws, as_of))

    log("analyses:")
    for name, fn in (("rfm", do_rfm), ("clusters", do_clusters), ("clv", do_clv), ("rules", do_rules),
                     ("churn", do_churn), ("orders_index", do_orders_index), ("metric_sums", do_metric_sums)):
        step(name, fn)
    ws.write_artefact("meta", meta)
    return meta


def fill_missing(ws: Workspace, settings: Settings) -> list[str]:
    """Write the per-customer order artefacts (`tools.orders_index`, `tools.purchase_facts`) and the metric
    sums (`tools.metric_sums`) of a workspace built before them, as of its analyses' date; the names written (none when present)."""
    from tools.orders_index import ORDER_ARTEFACTS, write_order_artefacts
    from tools.metric_sums import METRIC_SUMS, write_metric_sums
    from tools.purchase_facts import PURCHASE_FACTS, write_purchase_facts
    if ws.artefact("meta") is None:
        return []
    meta = dict(ws.artefact("meta"))
    if not meta.get("as_of"):
        return []
    written = []
    if not all(ws.artefact_path(n).is_file() for n in ORDER_ARTEFACTS):
        meta.setdefault("provenance", {}).update(write_order_artefacts(ws, pd.Timestamp(meta["as_of"])))
        written += ORDER_ARTEFACTS
    if not ws.artefact_path(PURCHASE_FACTS).is_file():
        meta.setdefault("provenance", {}).update(write_purchase_facts(ws, pd.Timestamp(meta["as_of"])))
        written.append(PURCHASE_FACTS)
    if not ws.artefact_path(METRIC_SUMS, ".json").is_file():
        meta.setdefault("provenance", {}).update(write_metric_sums(ws, pd.Timestamp(meta["as_of"])))
        written.append(METRIC_SUMS)
    if written:
        ws.write_artefact("meta", meta)
    return list(written)


def precompute_feedback(ws, store, settings=None, log=print) -> dict:
    """Fit complaint topics (only when the complaints or the embedder changed) and score sentiment;
    write artefacts feedback_topics (+ _meta) and feedback_sentiment. Returns what was done."""
    meta = store.meta
    done: dict = {}
    comp = meta[meta["kind"] == "complaint"]
    fp = hashlib.sha1((store.embedder.name + "\n" + "\n".join(sorted(comp["id"] + ":" + comp["hash"].str[:12]))
                       ).encode()).hexdigest()
    old = ws.artefact("feedback_topics_meta")
    if isinstance(old, dict) and old.get("fingerprint") == fp and ws.has_artefact("feedback_topics"):
        done["topics"] = "unchanged"
    else:
        rows = comp.index.to_numpy()
        fit = feedback_analysis.fit_topics(comp["id"].tolist(), comp["text"].tolist(), store.vectors[rows])
        ws.write_artefact("feedback_topics", fit["assignments"])
        ws.write_artefact("feedback_topics_meta", {"fingerprint": fp, "embedder": store.embedder.name,
                                                   "k": fit["k"], "silhouette": fit["silhouette"], "n": len(rows),
                                                   "lang_means": fit["lang_means"], "topics": fit["topics"]})
        done["topics"] = {"k": fit["k"], "silhouette": fit["silhouette"], "complaints": int(len(rows))}
        if log:
            log(f"complaint topics: k={fit['k']} over {len(rows):,} complaints: "
                + "; ".join(t["label"] for t in fit["topics"][:6]))
    model = feedback_analysis.fit_sentiment(store.vectors, meta["rating"].to_numpy(dtype=float))
    sent = feedback_analysis.sentiment_scores(meta["id"].tolist(), meta["text"].tolist(), store.vectors,
                            meta["rating"].to_numpy(dtype=float), model)
    ws.write_artefact("feedback_sentiment", sent)
    done["sentiment"] = {"method": "logistic regression on rated feedback" if model is not None else "lexicon",
                         **sent["source"].value_counts().to_dict()}
    return done
