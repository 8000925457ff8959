"""RFM analysis: recency / frequency / monetary per customer, quintile scores, named segments.

Three segmentations of the same table:

* ``segment`` — the 11 named segments (Champions … Lost) from the (r_score, f_score) grid,
  see :data:`SEGMENT_MAP`; ``segment_zh`` is the Chinese name (:data:`SEGMENT_ZH`).
* ``segment_cn8`` — the eight-class model common in Chinese CRM (重要价值客户 …), each of
  R, F, M compared with its mean over customers, see :data:`CN8_MAP`.
* ``tier`` — three tiers 高价值客户 / 潜力客户 / 流失风险客户 (``tier_en`` high_value /
  potential / at_risk), see :func:`tier_of`.

Example::

    table = rfm_table(orders)                       # as_of = the day after the last order
    rfm_lookup(table, "C00042")                     # one customer's row as a dict
    segment_distribution(table, scheme="segment_cn8")
    segment_members(table, "冠军客户", top=10)
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.errors import GuanxiError
from tools.results import provenance, resolve_as_of

__all__ = [
    "SEGMENT_MAP", "SEGMENT_REGEX", "SEGMENT_ZH", "SEGMENTS", "CN8_MAP", "CN8_NAMES", "CN8_EN",
    "TIERS", "TIER_EN", "segment_of", "cn8_of", "tier_of", "rfm_table", "rfm_scores", "rfm_lookup",
    "segment_distribution", "segment_members", "prepare_orders", "resolve_segment",
]

# ---------------------------------------------------------------------------------------------
# The 11 named segments.
#
# The widely published regex map over the two-digit "RF" code (r_score then f_score), e.g.
# Guillaume Martin's "RFM segmentation" map, with "Lost" split off from Hibernating for r = 1:
#
#   regex        segment
#   [1-2][1-2]   Hibernating   (r = 2)   /  Lost (r = 1)
#   [1-2][3-4]   At Risk
#   [1-2]5       Can't Lose Them
#   3[1-2]       About to Sleep
#   33           Need Attention
#   [3-4][4-5]   Loyal
#   41           Promising
#   51           New Customers
#   [4-5][2-3]   Potential Loyalist
#   5[4-5]       Champions
#
# As a grid (rows r_score, columns f_score):
#
#   r\f | 1               2                   3                   4           5
#   ----+------------------------------------------------------------------------------------
#    5  | New Customers   Potential Loyalist  Potential Loyalist  Champions   Champions
#    4  | Promising       Potential Loyalist  Potential Loyalist  Loyal       Loyal
#    3  | About to Sleep  About to Sleep      Need Attention      Loyal       Loyal
#    2  | Hibernating     Hibernating         At Risk             At Risk     Can't Lose Them
#    1  | Lost            Lost                At Risk             At Risk     Can't Lose Them
#
# The score used for F is f_score itself (not (F+M)/2); m_score does not enter the 11 segments.
# ---------------------------------------------------------------------------------------------
SEGMENT_REGEX: dict[str, str] = {
    r"1[1-2]": "Lost",
    r"2[1-2]": "Hibernating",
    r"[1-2][3-4]": "At Risk",
    r"[1-2]5": "Can't Lose Them",
    r"3[1-2]": "About to Sleep",
    r"33": "Need Attention",
    r"[3-4][4-5]": "Loyal",
    r"41": "Promising",
    r"51": "New Customers",
    r"[4-5][2-3]": "Potential Loyalist",
    r"5[4-5]": "Champions",
}

# (r_score, f_score) -> segment; every one of the 25 cells appears exactly once.
SEGMENT_MAP: dict[tuple[int, int], str] = {
    (r, f): next(name for pat, name in SEGMENT_REGEX.items() if re.fullmatch(pat, f"{r}{f}"))
    for r in range(1, 6) for f in range(1, 6)
}

SEGMENT_ZH: dict[str, str] = {
    "Champions": "冠军客户",
    "Loyal": "忠诚客户",
    "Potential Loyalist": "潜力忠诚客户",
    "New Customers": "新客户",
    "Promising": "有潜力客户",
    "Need Attention": "需要关注客户",
    "About to Sleep": "即将沉睡客户",
    "At Risk": "有流失风险客户",
    "Can't Lose Them": "不能失去的客户",
    "Hibernating": "休眠客户",
    "Lost": "已流失客户",
}
SEGMENTS: tuple[str, ...] = tuple(SEGMENT_ZH)  # canonical display order, best first

# ---------------------------------------------------------------------------------------------
# The eight-class model. R high = recency_days < mean(recency_days) (recent is good);
# F high = frequency > mean(frequency); M high = monetary > mean(monetary). All strict:
# a customer exactly at the mean is "low". Key: (R high, F high, M high).
#
#   R  F  M   segment_cn8
#   高 高 高   重要价值客户
#   低 高 高   重要保持客户
#   高 低 高   重要发展客户
#   低 低 高   重要挽留客户
#   高 高 低   一般价值客户
#   低 高 低   一般保持客户
#   高 低 低   一般发展客户
#   低 低 低   一般挽留客户
# ---------------------------------------------------------------------------------------------
CN8_MAP: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "重要价值客户",
    (False, True, True): "重要保持客户",
    (True, False, True): "重要发展客户",
    (False, False, True): "重要挽留客户",
    (True, True, False): "一般价值客户",
    (False, True, False): "一般保持客户",
    (True, False, False): "一般发展客户",
    (False, False, False): "一般挽留客户",
}
CN8_NAMES: tuple[str, ...] = tuple(CN8_MAP.values())
CN8_EN: dict[str, str] = {
    "重要价值客户": "Important value",
    "重要保持客户": "Important retain",
    "重要发展客户": "Important develop",
    "重要挽留客户": "Important win-back",
    "一般价值客户": "General value",
    "一般保持客户": "General retain",
    "一般发展客户": "General develop",
    "一般挽留客户": "General win-back",
}

# ---------------------------------------------------------------------------------------------
# Tiers (checked in this order):
#   流失风险客户 (at_risk)    r_score <= 2
#   高价值客户   (high_value) r_score >= 3 and f_score + m_score >= 8
#   潜力客户     (potential)  everyone else (r_score >= 3 and f_score + m_score <= 7)
# ---------------------------------------------------------------------------------------------
TIERS: tuple[str, ...] = ("高价值客户", "潜力客户", "流失风险客户")
TIER_EN: dict[str, str] = {"高价值客户": "high_value", "潜力客户": "potential", "流失风险客户": "at_risk"}

_ORDER_COLUMNS = ("order_id", "customer_id", "order_date", "amount")


def segment_of(r_score: int, f_score: int) -> str:
    """The named segment of an (r_score, f_score) pair, e.g. segment_of(5, 5) == "Champions"."""
    try:
        return SEGMENT_MAP[(int(r_score), int(f_score))]
    except KeyError:
        raise GuanxiError(f"RFM scores must be 1-5, got r={r_score}, f={f_score}") from None


def cn8_of(r_high: bool, f_high: bool, m_high: bool) -> str:
    """The eight-class name, e.g. cn8_of(True, True, True) == "重要价值客户"."""
    return CN8_MAP[(bool(r_high), bool(f_high), bool(m_high))]


def tier_of(r_score: int, f_score: int, m_score: int) -> str:
    """The tier (Chinese name): r<=2 → 流失风险客户; r>=3 and f+m>=8 → 高价值客户; else 潜力客户."""
    if r_score <= 2:
        return "流失风险客户"
    if f_score + m_score >= 8:
        return "高价值客户"
    return "潜力客户"


def prepare_orders(orders: pd.DataFrame, as_of=None, source: str = "rfm_table") -> tuple[pd.DataFrame, pd.Timestamp]:
    """Validate the orders table and keep rows before ``as_of`` (default: day after last order).

    Returns (orders with customer_id as str, order_date as datetime, amount as float; rows with a
    missing customer_id, order_date or amount dropped; only order_date < as_of), as_of.
    """
    if not isinstance(orders, pd.DataFrame):
        raise GuanxiError(f"{source}: orders must be a DataFrame, got {type(orders).__name__}")
    missing = [c for c in _ORDER_COLUMNS if c not in orders.columns]
    if missing:
        raise GuanxiError(f"{source}: the orders table has no column {', '.join(missing)} "
                          f"(expected columns {', '.join(_ORDER_COLUMNS)})")
    df = orders
    dates = to_datetimes(df["order_date"], "orders.order_date", source)
    amount = pd.to_numeric(df["amount"], errors="coerce")
    if amount.isna().all() and len(df):
        raise GuanxiError(f"{source}: orders.amount must be numeric (no numeric value found)")
    df = df.assign(order_date=dates, amount=amount.astype(float))
    as_of = resolve_as_of(df, as_of)
    keep = df["customer_id"].notna() & df["order_date"].notna() & df["amount"].notna() & (df["order_date"] < as_of)
    df = df.loc[keep]
    df = df.assign(customer_id=df["customer_id"].astype(str), order_id=df["order_id"].astype(str))
    return df, as_of


def to_datetimes(values: pd.Series, what: str, source: str) -> pd.Series:
    """Parse a date column (mixed string formats allowed; missing stays NaT); unparseable → GuanxiError."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    try:
        return pd.to_datetime(values)
    except (ValueError, TypeError):
        try:
            return pd.to_datetime(values, format="mixed")
        except (ValueError, TypeError) as e:
            raise GuanxiError(f"{source}: {what} must be dates/datetimes ({e})") from None


def _quintile(rank: pd.Series) -> pd.Series:
    """Scores 1..5 from distinct ranks 1..n: pd.qcut(rank, 5, labels=[1..5]); n=1 → 3."""
    n = len(rank)
    if n == 0:
        return pd.Series([], dtype="int64", index=rank.index)
    if n == 1:
        return pd.Series([3], dtype="int64", index=rank.index)
    return pd.qcut(rank, 5, labels=[1, 2, 3, 4, 5]).astype("int64")


def rfm_values(g, as_of: pd.Timestamp) -> pd.DataFrame:
    """Recency in days (date level), distinct orders and total amount per customer, from
    prepared orders grouped by customer_id (index customer_id)."""
    t = pd.DataFrame({
        "recency_days": (as_of - g["order_date"].max().dt.normalize()).dt.days.astype("int64"),
        "frequency": g["order_id"].nunique().astype("int64"),
        "monetary": g["amount"].sum().astype(float),
    })
    t.index.name = "customer_id"
    return t


def rfm_table(orders: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Per-customer RFM table, one row per customer who ordered before ``as_of``, sorted by customer_id.

    * as_of: cut-off day (normalised to midnight); orders on/after it are excluded.
      Default: the day after the last order (:func:`tools.results.default_as_of`).
    * recency_days = (as_of − last order date normalised to midnight).days  (≥ 1 by default)
    * frequency = number of distinct order_id; monetary = sum of amount.
    * Scores (exact tie-breaking): rows sorted by customer_id (string order), then
        r_score = pd.qcut((-recency_days).rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
        f_score = pd.qcut(frequency.rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
        m_score = pd.qcut(monetary.rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
      so equal values are ranked by customer_id (the smaller id gets the lower rank), every
      quintile is filled (given ≥ 5 customers), and the most recent customers get r_score 5.
      A single customer gets 3 for every score.
    * segment / segment_zh: :data:`SEGMENT_MAP` over (r_score, f_score); rfm_code e.g. "545".
    * segment_cn8 (and segment_cn8_en): :data:`CN8_MAP`, each of R/F/M strictly against its mean.
    * tier / tier_en: :func:`tier_of`.

    The provenance line and as_of are in ``table.attrs["provenance"]`` / ``table.attrs["as_of"]``.
    """
    df, as_of = prepare_orders(orders, as_of, "rfm_table")
    if df.empty:
        raise GuanxiError(f"rfm_table: no orders before {as_of:%Y-%m-%d} (check as_of and the orders table)")
    return rfm_scores(rfm_values(df.groupby("customer_id", sort=True), as_of).reset_index(), as_of, rows=len(df))


def rfm_scores(values: pd.DataFrame, as_of, rows: int | None = None) -> pd.DataFrame:
    """The RFM table of :func:`rfm_table` from per-customer values already computed (columns
    customer_id, recency_days, frequency, monetary — e.g. by an engine's SQL,
    ``knowledge.engine.Engine.rfm_values``): scores, segments, tiers, attrs. ``rows``: the order
    lines the values came from (for the provenance line)."""
    as_of = pd.Timestamp(as_of).normalize()
    if values.empty:
        raise GuanxiError(f"rfm_table: no orders before {as_of:%Y-%m-%d} (check as_of and the orders table)")
    t = values[["customer_id", "recency_days", "frequency", "monetary"]].astype(
        {"recency_days": "int64", "frequency": "int64", "monetary": float})
    t = t.sort_values("customer_id", kind="stable").reset_index(drop=True)
    # to the micro-unit: sums of the same lines in another order (another engine) rank ties alike
    t["monetary"] = t["monetary"].round(6)
    t["r_score"] = _quintile((-t["recency_days"]).rank(method="first"))
    t["f_score"] = _quintile(t["frequency"].rank(method="first"))
    t["m_score"] = _quintile(t["monetary"].rank(method="first"))
    r, f, m = (t[c].to_numpy() for c in ("r_score", "f_score", "m_score"))
    codes = {a * 100 + b * 10 + c: f"{a}{b}{c}" for a in range(1, 6) for b in range(1, 6) for c in range(1, 6)}
    t["rfm_code"] = _names(r * 100 + f * 10 + m, codes, t.index)
    seg = {a * 10 + b: name for (a, b), name in SEGMENT_MAP.items()}
    t["segment"] = _names(r * 10 + f, seg, t.index)
    t["segment_zh"] = _names(r * 10 + f, {k: SEGMENT_ZH.get(name) for k, name in seg.items()}, t.index)
    r_high = t["recency_days"] < t["recency_days"].mean()
    f_high = t["frequency"] > t["frequency"].mean()
    m_high = t["monetary"] > t["monetary"].mean()
    key = (r_high.astype(int) * 4 + f_high.astype(int) * 2 + m_high.astype(int)).to_numpy()
    cn8 = {int(a) * 4 + int(b) * 2 + int(c): name for (a, b, c), name in CN8_MAP.items()}
    t["segment_cn8"] = _names(key, cn8, t.index)
    t["segment_cn8_en"] = _names(key, {k: CN8_EN.get(name) for k, name in cn8.items()}, t.index)
    tiers = dict(enumerate(("流失风险客户", "高价值客户", "潜力客户")))
    tier = np.select([r <= 2, f + m >= 8], [0, 1], default=2)
    t["tier"] = _names(tier, tiers, t.index)
    t["tier_en"] = _names(tier, {k: TIER_EN.get(name) for k, name in tiers.items()}, t.index)
    t.attrs["as_of"] = as_of.strftime("%Y-%m-%d")
    t.attrs["provenance"] = provenance(
        "rfm_table", {"orders": (f"{rows:,} rows, " if rows is not None else "") + f"{len(t):,} customers"}, as_of=as_of,
        scores="quintiles of rank(method=first) by customer_id", segments="RF grid (11)",
        cn8="strict vs mean", tiers="r<=2 at_risk; f+m>=8 high_value")
    return t


def _names(codes: np.ndarray, lookup: dict[int, str | None], index: pd.Index) -> pd.Series:
    """``lookup[code]`` for each code (missing → NaN), as ``Series.map(lookup)`` gives, by one Arrow
    take (mapping a million rows string by string took seconds)."""
    names = [None] * (max(lookup) + 1)
    for k, v in lookup.items():
        names[k] = v
    return pd.Series(pd.array(pc.take(pa.array(names, pa.large_string()), pa.array(codes)), dtype="str"), index=index)


def _require_rfm(table: pd.DataFrame, source: str) -> None:
    needed = ("customer_id", "recency_days", "frequency", "monetary", "segment", "segment_cn8", "tier")
    if not isinstance(table, pd.DataFrame):
        raise GuanxiError(f"{source}: expected the DataFrame returned by rfm_table, got {type(table).__name__}")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise GuanxiError(f"{source}: the RFM table has no column {', '.join(missing)}; build it with rfm_table(orders)")


def rfm_lookup(table: pd.DataFrame, customer_id) -> dict:
    """One customer's RFM row as a plain dict (ints/floats/str), plus ``percentile_monetary``
    (share of customers with monetary ≤ theirs). Unknown id → GuanxiError."""
    _require_rfm(table, "rfm_lookup")
    cid = str(customer_id).strip()
    rows = table.loc[table["customer_id"].astype(str) == cid]
    if rows.empty:
        raise GuanxiError(f"rfm_lookup: no customer_id {cid!r} in the RFM table "
                          f"(customers with no order before the as-of date are not in it)")
    row = rows.iloc[0]
    out = {}
    for k, v in row.items():
        if isinstance(v, np.integer):
            v = int(v)
        elif isinstance(v, np.floating):
            v = float(v)
        out[str(k)] = v
    out["percentile_monetary"] = float((table["monetary"] <= row["monetary"]).mean())
    if "as_of" in table.attrs:
        out["as_of"] = table.attrs["as_of"]
    return out


_SCHEMES = {
    "segment": SEGMENTS,
    "segment_zh": tuple(SEGMENT_ZH.values()),
    "segment_cn8": CN8_NAMES,
    "tier": TIERS,
    "tier_en": tuple(TIER_EN.values()),
}


def segment_distribution(table: pd.DataFrame, scheme: str = "segment") -> pd.DataFrame:
    """Customers per segment: columns <scheme>, name_zh, name_en, count, share, monetary_total,
    monetary_share, mean_monetary, mean_recency, mean_frequency.

    scheme: "segment" (11 named), "segment_cn8" (eight-class) or "tier". Rows in canonical order
    (best first); segments with no customers are left out; shares sum to 1.
    """
    _require_rfm(table, "segment_distribution")
    if scheme not in ("segment", "segment_cn8", "tier"):
        raise GuanxiError(f"segment_distribution: unknown scheme {scheme!r}; use one of segment, segment_cn8, tier")
    g = table.groupby(scheme, sort=False)
    d = pd.DataFrame({
        "count": g.size(),
        "monetary_total": g["monetary"].sum(),
        "mean_monetary": g["monetary"].mean(),
        "mean_recency": g["recency_days"].mean(),
        "mean_frequency": g["frequency"].mean(),
    })
    order = [s for s in _SCHEMES[scheme] if s in d.index]
    d = d.loc[order]
    n = len(table)
    total = table["monetary"].sum()
    d.insert(1, "share", d["count"] / n if n else np.nan)
    d.insert(3, "monetary_share", d["monetary_total"] / total if total else np.nan)
    d.index.name = scheme
    d = d.reset_index()
    if scheme == "segment":
        zh, en = d[scheme].map(SEGMENT_ZH), d[scheme]
    elif scheme == "segment_cn8":
        zh, en = d[scheme], d[scheme].map(CN8_EN)
    else:
        zh, en = d[scheme], d[scheme].map(TIER_EN)
    d.insert(1, "name_zh", zh.to_numpy())
    d.insert(2, "name_en", en.to_numpy())
    d["count"] = d["count"].astype("int64")
    if "provenance" in table.attrs:
        d.attrs["provenance"] = table.attrs["provenance"] + f" · distribution by {scheme}"
    return d


def resolve_segment(segment: str) -> tuple[str, str]:
    """(column, canonical value) for a segment named in English, Chinese, cn8 or tier (zh/en)."""
    s = str(segment).strip()
    low = s.lower().replace("’", "'")
    for name in SEGMENTS:
        if low == name.lower() or s == SEGMENT_ZH[name]:
            return "segment", name
    for name in CN8_NAMES:
        if s == name or low == CN8_EN[name].lower():
            return "segment_cn8", name
    for name in TIERS:
        if s == name or low == TIER_EN[name] or low == TIER_EN[name].replace("_", " "):
            return "tier", name
    valid = ([f"{n} ({SEGMENT_ZH[n]})" for n in SEGMENTS] + list(CN8_NAMES)
             + [f"{n} ({TIER_EN[n]})" for n in TIERS])
    raise GuanxiError(f"unknown segment {segment!r}; valid names: {', '.join(valid)}")


def segment_members(table: pd.DataFrame, segment: str, top: int | None = 20) -> pd.DataFrame:
    """Customers of one segment, highest monetary first (ties: customer_id ascending), at most ``top``
    rows (None = all). ``segment`` may be an English or Chinese 11-segment name, an eight-class
    name or a tier (高价值客户 / high_value …); unknown → GuanxiError listing the valid names."""
    _require_rfm(table, "segment_members")
    col, value = resolve_segment(segment)
    m = table.loc[table[col] == value].sort_values(["monetary", "customer_id"], ascending=[False, True],
                                                      kind="stable")
    if top is not None:
        if int(top) < 0:
            raise GuanxiError(f"segment_members: top must be ≥ 0, got {top}")
        m = m.head(int(top))
    return m.reset_index(drop=True)
