"""Customer clustering (KMeans) with readable zh/en cluster names.

Features per customer (computed from orders before ``as_of``):

* log1p(recency_days), log1p(frequency), log1p(monetary) — as in :func:`tools.rfm.rfm_table`;
* log1p(tenure_days): days from the earlier of signup_date (when ``customers`` has it) and the
  first order, to as_of;
* category mix: share of the customer's spend in each of the top-8 categories (by total spend)
  plus "其他/other".

All columns are standardised (z-scores); the category block is then scaled by 1/sqrt(#columns in
the block) so together it weighs like one numeric feature. KMeans(n_init=10, random_state) is
fitted for every k in ``k_range``; k is the one with the best silhouette, measured on a
deterministic sample of at most 5,000 customers (``random_state``). Clusters are renumbered by
descending mean monetary (cluster 0 = most valuable), so results are stable for a seed.

Names: value level from the cluster's median monetary vs the overall median (≥ 2× 高价值 High-value,
≥ 0.8× 中等价值 Mid-value, else 低价值 Low-value) and activity from its median recency vs the
overall median (≤ 0.5× 活跃 active, ≥ 1.5× 沉睡 dormant, else 一般活跃 cooling); a "新" / "new"
marker when the median tenure is under half the overall median; the top category prefix when it
is distinctive (≥ 40 % of the cluster's spend and ≥ 1.5× its overall share), e.g.
"茶叶偏好·高价值活跃客户 / 茶叶-focused high-value active". Duplicate names get the top category,
then a number.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from knowledge.errors import GuanxiError
from tools.results import fit_sample, provenance, to_jsonable

__all__ = ["ClusterResult", "cluster_customers", "cluster_lookup", "customer_features"]

TOP_CATEGORIES = 8
SILHOUETTE_SAMPLE = 5000
OTHER = "其他"


@dataclass
class ClusterResult:
    """assignments: customer_id, cluster, cluster_name_en, cluster_name_zh (sorted by customer_id).
    profiles: cluster, name_en, name_zh, size, share, mean_recency_days, mean_frequency,
    mean_monetary, mean_tenure_days, median_monetary, median_recency_days, top_categories
    (top 3 by spend share, "茶叶 42%; 茶具 20%; …"), top_category.
    silhouette: {k: score} for every k tried; k: the chosen one."""
    assignments: pd.DataFrame
    profiles: pd.DataFrame
    k: int
    silhouette: dict[int, float]
    as_of: str
    provenance: str
    features: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return to_jsonable(self)


def customer_features(orders: pd.DataFrame | None, customers: pd.DataFrame | None = None, as_of=None,
                      top_categories: int = TOP_CATEGORIES, engine=None) -> tuple[pd.DataFrame, list[str], pd.Timestamp]:
    """Raw per-customer features (index customer_id, sorted): recency_days, frequency, monetary,
    tenure_days and cat_<name> spend shares (top categories + 其他). Returns (frame, category
    column names, as_of). With an ``engine`` (knowledge.engine; ``orders`` may be None, ``as_of``
    is then needed) the per-customer values and spends come from its SQL over the Parquet."""
    from tools.rfm import prepare_orders, rfm_values
    if engine is not None:
        if as_of is None:
            raise GuanxiError("cluster_customers: give as_of with an engine")
        as_of = pd.Timestamp(as_of).normalize()
        v = engine.rfm_values(as_of).set_index("customer_id")
        if v.empty:
            raise GuanxiError(f"cluster_customers: no orders before {as_of:%Y-%m-%d}")
        f = v[["recency_days", "frequency", "monetary"]].astype(float)
        first = as_of - pd.to_timedelta(v["first_order_days"], unit="D")
        spend = engine.spend_by(as_of, "category") if "category" in engine.columns("orders") else None
    else:
        df, as_of = prepare_orders(orders, as_of, "cluster_customers")
        if df.empty:
            raise GuanxiError(f"cluster_customers: no orders before {as_of:%Y-%m-%d}")
        g = df.groupby("customer_id", sort=True)
        first = g["order_date"].min().dt.normalize()
        f = rfm_values(g, as_of).astype(float)
        spend = (pd.DataFrame({"customer_id": df["customer_id"].to_numpy(), "value": df["category"].to_numpy(),
                               "amount": df["amount"].to_numpy()}) if "category" in df.columns else None)
    start = first
    if customers is not None and "signup_date" in customers.columns and "customer_id" in customers.columns:
        c = customers.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
        signup = pd.Series(pd.to_datetime(c["signup_date"], errors="coerce").to_numpy(),
                           index=c["customer_id"].astype(str)).dt.normalize()
        s = signup.reindex(f.index)
        start = pd.concat([first, s], axis=1).min(axis=1)
    f["tenure_days"] = (as_of - start).dt.days.clip(lower=0).astype(float)

    cat_cols: list[str] = []
    if spend is not None:   # (customer_id, value, amount) rows: order lines, or sums per customer and value
        cat = spend["value"].astype(object).where(spend["value"].notna(), OTHER).astype(str)
        totals = spend.assign(_cat=cat.to_numpy()).groupby("_cat")["amount"].sum().sort_values(ascending=False)
        top = [c for c in totals.index if c != OTHER][:top_categories]
        cat = cat.where(cat.isin(top), OTHER)
        mix = (spend.assign(_cat=cat.to_numpy()).pivot_table(index="customer_id", columns="_cat", values="amount",
                                                             aggfunc="sum", fill_value=0.0)
               .reindex(index=f.index, columns=[*top, OTHER], fill_value=0.0))
        mix = mix.clip(lower=0)
        tot = mix.sum(axis=1)
        mix = mix.div(tot.where(tot > 0), axis=0).fillna(0.0)
        if (mix[OTHER] == 0).all():
            mix = mix.drop(columns=[OTHER])
        for col in mix.columns:
            name = f"cat_{col}"
            f[name] = mix[col].to_numpy()
            cat_cols.append(name)
    f.index.name = "customer_id"
    return f, cat_cols, as_of


def _design(f: pd.DataFrame, cat_cols: list[str]) -> np.ndarray:
    num = np.log1p(f[["recency_days", "frequency", "monetary", "tenure_days"]].clip(lower=0).to_numpy(float))
    blocks = [num]
    if cat_cols:
        cats = f[cat_cols].to_numpy(float)
        blocks.append(cats)
    x = np.hstack(blocks)
    sd = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    if cat_cols:
        x[:, 4:] /= np.sqrt(len(cat_cols))
    return x


def _names(prof: pd.DataFrame, f: pd.DataFrame, cat_cols: list[str]) -> tuple[list[str], list[str]]:
    med_m = max(float(f["monetary"].median()), 1e-9)
    med_r = max(float(f["recency_days"].median()), 1e-9)
    med_t = max(float(f["tenure_days"].median()), 1e-9)
    overall_share = {}
    if cat_cols:
        w = f["monetary"].clip(lower=0).to_numpy()
        tot = w.sum() or 1.0
        overall_share = {c: float((f[c].to_numpy() * w).sum() / tot) for c in cat_cols}
    zh, en, cats = [], [], []
    for _, p in prof.iterrows():
        vm = p["median_monetary"] / med_m
        vz, ve = ("高价值", "High-value") if vm >= 2 else ("中等价值", "Mid-value") if vm >= 0.8 else ("低价值", "Low-value")
        rr = p["median_recency_days"] / med_r
        az, ae = ("活跃", "active") if rr <= 0.5 else ("沉睡", "dormant") if rr >= 1.5 else ("一般活跃", "cooling")
        new = p["median_tenure_days"] < 0.5 * med_t
        name_zh = f"{vz}{az}{'新' if new else ''}客户"
        name_en = f"{ve} {ae}{' new' if new else ''}"
        top = p.get("top_category")
        prefix = None
        if top and cat_cols and top != OTHER:
            share = float(p["top_share"])
            if share >= 0.4 and share >= 1.5 * overall_share.get(f"cat_{top}", 1.0):
                prefix = top
        if prefix:
            name_zh = f"{prefix}偏好·{name_zh}"
            name_en = f"{prefix}-focused {name_en[0].lower()}{name_en[1:]}"
        zh.append(name_zh)
        en.append(name_en)
        cats.append(top)
    # make unique: within each group of equal names, add the top category when it differs,
    # then the feature that separates the group most (frequency / tenure / recency / spend,
    # "higher"/"lower" than the group's mean), then a number
    _disambiguate(zh, en, cats, prof)
    return zh, en


_SEPARATORS = (  # column, zh above/below, en above/below
    ("mean_frequency", "高频", "低频", "more frequent", "less frequent"),
    ("mean_tenure_days", "老客", "较新", "longer-standing", "newer"),
    ("mean_recency_days", "较久未购", "较近购买", "less recent", "more recent"),
    ("mean_monetary", "消费较高", "消费较低", "higher spend", "lower spend"),
)


def _disambiguate(zh: list[str], en: list[str], cats: list, prof: pd.DataFrame) -> None:
    """Make the names unique in place (see _names)."""
    rows = list(range(len(zh)))

    def groups():
        by: dict[str, list[int]] = {}
        for i in rows:
            by.setdefault(zh[i], []).append(i)
        return [g for g in by.values() if len(g) > 1]

    for g in groups():
        if len({cats[i] for i in g}) == len(g):
            for i in g:
                zh[i], en[i] = f"{zh[i]}·{cats[i]}", f"{en[i]} · {cats[i]}"
    for g in groups():
        sub = prof.iloc[g]
        spread = {}
        for col, *_ in _SEPARATORS:
            v = sub[col].astype(float)
            spread[col] = float(v.std(ddof=0) / (abs(v.mean()) or 1.0))
        col, hz, lz, he, le = max(_SEPARATORS, key=lambda t: spread[t[0]])
        mean = float(sub[col].mean())
        for i in g:
            hi = float(prof.iloc[i][col]) > mean
            zh[i], en[i] = f"{zh[i]}·{hz if hi else lz}", f"{en[i]}, {he if hi else le}"
    for g in groups():
        for n, i in enumerate(g, 1):
            zh[i], en[i] = f"{zh[i]} {n}", f"{en[i]} {n}"


def cluster_customers(orders: pd.DataFrame | None, customers: pd.DataFrame | None = None, as_of=None,
                      k_range=range(3, 9), random_state: int = 0, engine=None,
                      max_fit_customers: int | None = None) -> ClusterResult:
    """Cluster customers by RFM, tenure and category mix; pick k in ``k_range`` by silhouette.
    Past ``max_fit_customers`` the centres are fitted on a seeded sample and everyone assigned.

    Deterministic for a given ``random_state``. Clusters are numbered 0..k-1 by descending mean
    monetary. See the module docstring for features and naming. ``engine``: see
    :func:`customer_features`.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    ks = sorted({int(k) for k in k_range})
    if not ks or ks[0] < 2:
        raise GuanxiError(f"cluster_customers: k_range must contain integers ≥ 2, got {list(k_range)}")
    f, cat_cols, as_of = customer_features(orders, customers, as_of, engine=engine)
    n = len(f)
    ks = [k for k in ks if k < n]
    if not ks:
        raise GuanxiError(f"cluster_customers: {n} customers is too few for k in {list(k_range)} "
                          f"(need more customers than clusters)")
    x = _design(f, cat_cols)
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(n, SILHOUETTE_SAMPLE, replace=False)) if n > SILHOUETTE_SAMPLE else np.arange(n)
    sil: dict[int, float] = {}
    labels_by_k: dict[int, np.ndarray] = {}
    # single-threaded: faster on these small matrices (thread start-up dominates) and the same
    # labels on any machine
    fit_on = fit_sample(n, max_fit_customers, random_state)
    with threadpool_limits(1):
        for k in ks:
            km = KMeans(n_clusters=k, n_init=10, random_state=random_state)
            lab = km.fit_predict(x) if fit_on is None else km.fit(x[fit_on]).predict(x)
            labels_by_k[k] = lab
            ls = lab[sample]
            sil[k] = float(silhouette_score(x[sample], ls)) if len(np.unique(ls)) > 1 else float("nan")
    valid = {k: s for k, s in sil.items() if not np.isnan(s)}
    best = max(valid, key=lambda k: (valid[k], -k)) if valid else ks[0]
    lab = labels_by_k[best]

    # renumber by descending mean monetary
    means = pd.Series(f["monetary"].to_numpy()).groupby(lab).mean().sort_values(ascending=False, kind="stable")
    remap = {old: new for new, old in enumerate(means.index)}
    cl = np.array([remap[v] for v in lab], dtype=int)

    f2 = f.assign(cluster=cl)
    g = f2.groupby("cluster")
    prof = pd.DataFrame({
        "size": g.size(),
        "mean_recency_days": g["recency_days"].mean(),
        "mean_frequency": g["frequency"].mean(),
        "mean_monetary": g["monetary"].mean(),
        "mean_tenure_days": g["tenure_days"].mean(),
        "median_monetary": g["monetary"].median(),
        "median_recency_days": g["recency_days"].median(),
        "median_tenure_days": g["tenure_days"].median(),
    })
    prof.insert(1, "share", prof["size"] / n)
    tops, top1, top1_share = [], [], []
    for c in prof.index:
        if cat_cols:
            sub = f2.loc[f2["cluster"] == c]
            w = sub["monetary"].clip(lower=0).to_numpy()
            tot = w.sum()
            shares = pd.Series({col[4:]: float((sub[col].to_numpy() * w).sum() / tot) if tot else 0.0
                                for col in cat_cols}).sort_values(ascending=False, kind="stable")
            tops.append("; ".join(f"{k} {v:.0%}" for k, v in shares.head(3).items()))
            top1.append(shares.index[0])
            top1_share.append(float(shares.iloc[0]))
        else:
            tops.append("")
            top1.append(None)
            top1_share.append(0.0)
    prof["top_categories"] = tops
    prof["top_category"] = top1
    prof["top_share"] = top1_share
    zh, en = _names(prof, f, cat_cols)
    prof.insert(0, "name_zh", zh)
    prof.insert(0, "name_en", en)
    prof.index.name = "cluster"
    prof = prof.reset_index()
    prof["size"] = prof["size"].astype("int64")

    name_en = dict(zip(prof["cluster"], prof["name_en"]))
    name_zh = dict(zip(prof["cluster"], prof["name_zh"]))
    assign = pd.DataFrame({"customer_id": f.index.to_numpy(), "cluster": cl})
    assign["cluster_name_en"] = assign["cluster"].map(name_en)
    assign["cluster_name_zh"] = assign["cluster"].map(name_zh)
    feats = ["log1p_recency_days", "log1p_frequency", "log1p_monetary", "log1p_tenure_days", *cat_cols]
    rows = len(orders) if orders is not None else engine.sql("SELECT count(*) AS n FROM orders").column("n")[0].as_py()
    prov = provenance("cluster_customers", {"orders": f"{rows:,} rows, {n:,} customers"}, as_of=as_of,
                      k=best, k_range=f"{ks[0]}..{ks[-1]}", silhouette=round(sil[best], 3),
                      random_state=random_state, features=len(feats),
                      silhouette_sample=min(n, SILHOUETTE_SAMPLE),
                      **({} if fit_on is None else {"fitted_on": len(fit_on)}))
    return ClusterResult(assignments=assign, profiles=prof, k=best, silhouette=sil,
                         as_of=as_of.strftime("%Y-%m-%d"), provenance=prov, features=feats)


def cluster_lookup(result: ClusterResult, customer_id) -> dict:
    """The customer's cluster with its profile: {customer_id, cluster, name_en, name_zh, size, share,
    mean_…, top_categories}. Unknown id → GuanxiError."""
    cid = str(customer_id).strip()
    a = result.assignments
    row = a.loc[a["customer_id"].astype(str) == cid]
    if row.empty:
        raise GuanxiError(f"cluster_lookup: no customer_id {cid!r} among the clustered customers "
                          f"(only customers with orders before {result.as_of})")
    c = int(row["cluster"].iloc[0])
    p = result.profiles.loc[result.profiles["cluster"] == c].iloc[0]
    out = {"customer_id": cid}
    out.update(to_jsonable(p.to_dict()))
    out["cluster"] = c
    return out
