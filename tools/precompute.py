"""Precompute per-customer analyses at build time so a lookup is an index access.

Artefacts written to WORKSPACE/artefacts/ (read back with `ws.artefact(name)`):

| name | kind | from | columns / keys |
|---|---|---|---|
| rfm | parquet | tools.rfm.rfm_table | customer_id, recency_days, frequency, monetary, r_score, f_score, m_score, segment, segment_zh, segment_cn8, tier, ... |
| clusters | parquet | tools.segments.cluster_customers | customer_id, cluster, cluster_name_en, cluster_name_zh |
| cluster_profiles | parquet | same | cluster, name_en, name_zh, size, share, means, top categories |
| churn | parquet | tools.churn.churn_scores | customer_id, churn_probability, risk_band, reasons_en, reasons_zh |
| churn_card | json | same | model card: ROC AUC, PR AUC, Brier, lift@10%, cutoff, horizon |
| clv | parquet | tools.clv.clv_table | customer_id, frequency, recency, T, monetary_value, p_alive, expected_purchases_90d, expected_avg_value, clv_12m |
| clv_params | json | same | bgnbd r/alpha/a/b, gamma-gamma p/q/v |
| rules_product, rules_category | parquet | tools.association.mine_order_rules | antecedents, consequents (lists of names), support, confidence, lift, leverage, conviction |
| meta | json | this module | as_of, row counts, provenance lines per artefact |
"""
