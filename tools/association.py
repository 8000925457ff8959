"""Association rules (market-basket analysis) and the CRM queries built on them.

Mining is mlxtend's FP-growth on a sparse one-hot matrix followed by mlxtend's
``association_rules``; thresholds are then re-applied on integer support counts so results match
arules (Hahsler et al.) exactly: Groceries at support 0.001 / confidence 0.5 gives the published
5668 rules, top {Instant food products, soda} ⇒ {hamburger meat}, lift 18.99565.

For a rule A ⇒ C over n baskets, with n(·) the number of baskets containing the items:
support = n(A∪C)/n, confidence = n(A∪C)/n(A), lift = confidence / (n(C)/n),
leverage = support − s(A)·s(C), conviction = (1 − s(C)) / (1 − confidence) (inf when confidence = 1).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from knowledge.errors import GuanxiError
from tools.results import provenance

__all__ = ["mine_rules", "rules_from_counts", "baskets_from_orders", "mine_order_rules", "bought_together",
           "top_rules", "recommend_for_customer", "rule_sides", "BoughtTogether", "RULE_COLUMNS"]

RULE_COLUMNS = ["antecedents", "consequents", "antecedent_support", "consequent_support", "support",
                "confidence", "lift", "leverage", "conviction", "count"]
_EPS = 1e-9
_LEVELS = {"product": "product_name", "category": "category"}


# --------------------------------------------------------------------------- mining

def _clean_baskets(baskets) -> list[list[str]]:
    if isinstance(baskets, (str, bytes)) or not isinstance(baskets, Iterable):
        raise GuanxiError("baskets must be a list of baskets, each a list of item names")
    out = []
    for i, b in enumerate(baskets):
        if isinstance(b, (str, bytes)) or not isinstance(b, Iterable):
            raise GuanxiError(f"basket {i} is {type(b).__name__}, expected a list of item names "
                              f"(got {str(b)[:40]!r})")
        items = list(dict.fromkeys(b))  # dedupe, keep first-seen order, no stripping
        for it in items:
            if not isinstance(it, str):
                raise GuanxiError(f"basket {i} has a non-text item {it!r}; item names must be strings")
        out.append(items)
    if not out:
        raise GuanxiError("no baskets to mine")
    return out


def _one_hot(baskets: list[list[str]]) -> tuple[sp.csr_matrix, list[str]]:
    """Sparse basket × item boolean matrix; items sorted by name (deterministic columns)."""
    items = sorted({it for b in baskets for it in b})
    index = {it: j for j, it in enumerate(items)}
    indptr = np.zeros(len(baskets) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(b) for b in baskets])
    indices = np.fromiter((index[it] for b in baskets for it in b), dtype=np.int32, count=int(indptr[-1]))
    data = np.ones(len(indices), dtype=bool)
    return sp.csr_matrix((data, indices, indptr), shape=(len(baskets), len(items))), items


def _empty_rules() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("antecedents", "consequents") else
                                      ("int64" if c == "count" else float)) for c in RULE_COLUMNS})


def _rule_key(a: frozenset, c: frozenset) -> str:
    return " & ".join(sorted(a)) + " => " + " & ".join(sorted(c))


def _sort_rules(rules: pd.DataFrame, by: str = "lift") -> pd.DataFrame:
    """Descending by `by`, then lift, confidence, support; ties broken by the rule's text."""
    keys = [by] + [k for k in ("lift", "confidence", "support") if k != by]
    tmp = rules.assign(_key=[_rule_key(_as_set(a), _as_set(c))
                             for a, c in zip(rules["antecedents"], rules["consequents"])])
    tmp = tmp.sort_values(keys + ["_key"], ascending=[False] * len(keys) + [True], kind="mergesort")
    return tmp.drop(columns="_key").reset_index(drop=True)


def _check_thresholds(min_support, min_confidence, max_len) -> None:
    """Refuse thresholds outside their ranges (GuanxiError naming the argument)."""
    if not (0 < min_support <= 1):
        raise GuanxiError(f"min_support must be in (0, 1], got {min_support!r}")
    if not (0 <= min_confidence <= 1):
        raise GuanxiError(f"min_confidence must be in [0, 1], got {min_confidence!r}")
    if max_len is not None and max_len < 2:
        raise GuanxiError(f"max_len must be ≥ 2 (a rule has at least two items), got {max_len!r}")


def mine_rules(baskets, min_support: float, min_confidence: float, max_len: int | None = None,
               min_len: int = 2, single_consequent: bool = True) -> pd.DataFrame:
    """Association rules A ⇒ C with support ≥ min_support and confidence ≥ min_confidence.

    ``baskets``: list of lists of item names, used exactly as given (no stripping) but deduplicated
    within a basket. ``max_len``/``min_len`` bound the items in a rule (|A|+|C|, arules'
    maxlen/minlen; rules need ≥ 2 items). ``single_consequent`` keeps only rules with one item on
    the right, as arules does. Thresholds are applied on integer counts: n(A∪C) ≥ ⌈min_support·n⌉
    and n(A∪C) ≥ min_confidence·n(A) (tolerance 1e-9), so boundary rules are not lost to rounding.
    Sorted by lift, confidence, support (descending) then rule text. ``df.attrs`` holds
    ``n_baskets`` and ``provenance``. Columns: see RULE_COLUMNS.
    """
    _check_thresholds(min_support, min_confidence, max_len)
    baskets = _clean_baskets(baskets)
    matrix, items = _one_hot(baskets)
    return mine_matrix(matrix, items, min_support, min_confidence, max_len, min_len, single_consequent)


def mine_matrix(matrix, items: list[str], min_support: float, min_confidence: float, max_len: int | None = None,
                min_len: int = 2, single_consequent: bool = True, counted: bool = True) -> pd.DataFrame:
    """:func:`mine_rules` from the baskets already one-hot encoded (sparse basket × item boolean
    matrix, ``items`` its column names; e.g. knowledge.engine.Engine.basket_matrix). Rules of up
    to 3 items are found by counting itemsets as sparse column products (``counted``; 10M order
    lines: seconds instead of FP-growth's minute in Python), longer ones by mlxtend's FP-growth —
    the same rules either way (tests/tools/test_association.py)."""
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    _check_thresholds(min_support, min_confidence, max_len)
    n = matrix.shape[0]
    if not n:
        raise GuanxiError("no baskets to mine")
    min_count = max(1, math.ceil(min_support * n - _EPS))
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    keep = np.flatnonzero(counts >= min_count)  # infrequent items cannot be in a frequent itemset

    def finish(rules: pd.DataFrame, n_itemsets: int) -> pd.DataFrame:
        rules.attrs["n_baskets"] = n
        rules.attrs["provenance"] = provenance(
            "mine_rules", {"baskets": n}, min_support=min_support, min_confidence=min_confidence,
            min_count=min_count, min_len=min_len, max_len=max_len, items=len(items),
            frequent_itemsets=n_itemsets, rules=len(rules))
        return rules

    if len(keep) < 2:
        return finish(_empty_rules(), len(keep))
    sub = matrix[:, keep].tocsr()
    names = [items[j] for j in keep]
    if counted and single_consequent and max_len is not None and max_len <= 3:
        found = _itemset_counts(sub, min_count, max_len)
        rules = _rules_from_itemsets(found, names, n, min_confidence, min_len)
        return finish(rules, len(found))
    onehot = pd.DataFrame.sparse.from_spmatrix(sub, columns=names)
    # Half a basket below the integer threshold: mlxtend's float comparisons then select exactly
    # the itemsets with count ≥ min_count.
    frequent = fpgrowth(onehot, min_support=(min_count - 0.5) / n, use_colnames=True, max_len=max_len)
    if frequent.empty or frequent["itemsets"].map(len).max() < 2:
        return finish(_empty_rules(), len(frequent))
    raw = association_rules(frequent, num_itemsets=n, metric="confidence",
                            min_threshold=max(0.0, min_confidence - 1e-6),
                            return_metrics=["antecedent support", "consequent support", "support"])
    if single_consequent:
        raw = raw[raw["consequents"].map(len) == 1]
    raw = raw[(raw["antecedents"].map(len) + raw["consequents"].map(len)) >= min_len]
    if raw.empty:
        return finish(_empty_rules(), len(frequent))
    rules = rules_from_counts(list(raw["antecedents"]), list(raw["consequents"]),
                              np.rint(raw["support"].to_numpy() * n), np.rint(raw["antecedent support"].to_numpy() * n),
                              np.rint(raw["consequent support"].to_numpy() * n), n, min_confidence)
    return finish(rules, len(frequent))


def _itemset_counts(sub, min_count: int, max_len: int) -> dict[tuple[int, ...], int]:
    """Every itemset of up to ``max_len`` (≤ 3) columns present in at least ``min_count`` rows of
    the sparse basket × item matrix, with its count — what FP-growth finds, counted exactly as
    column products (Apriori: a frequent pair's baskets are crossed with the later items)."""
    x = sub.astype(np.int32).tocsc()
    ones = np.asarray(x.sum(axis=0)).ravel()
    out: dict[tuple[int, ...], int] = {(i,): int(c) for i, c in enumerate(ones) if c >= min_count}
    if max_len < 2:
        return out
    pairs = (x.T @ x).toarray()
    k = x.shape[1]
    frequent_pairs = [(i, j) for i in range(k) for j in range(i + 1, k) if pairs[i, j] >= min_count]
    out.update({p: int(pairs[p]) for p in frequent_pairs})
    if max_len < 3:
        return out
    for i, j in frequent_pairs:
        both = x[:, i].multiply(x[:, j])
        if j + 1 >= k:
            continue
        with_l = np.asarray((both.T @ x[:, j + 1:]).todense()).ravel()
        for off in np.flatnonzero(with_l >= min_count):
            out[(i, j, j + 1 + int(off))] = int(with_l[off])
    return out


def _rules_from_itemsets(found: dict[tuple[int, ...], int], names: list[str], n: int, min_confidence: float,
                         min_len: int) -> pd.DataFrame:
    """One-consequent rules A ⇒ c of every frequent itemset (A ∪ {c}) with at least ``min_len``
    items, from the itemsets' counts (A is frequent whenever A ∪ {c} is)."""
    ante, cons, n_ac, n_a, n_c = [], [], [], [], []
    for itemset, count in found.items():
        if len(itemset) < max(2, min_len):
            continue
        for c in itemset:
            rest = tuple(i for i in itemset if i != c)
            ante.append([names[i] for i in rest])
            cons.append([names[c]])
            n_ac.append(count)
            n_a.append(found[rest])
            n_c.append(found[(c,)])
    if not ante:
        return _empty_rules()
    return rules_from_counts(ante, cons, n_ac, n_a, n_c, n, min_confidence)


def rules_from_counts(antecedents, consequents, n_ac, n_a, n_c, n: int, min_confidence: float) -> pd.DataFrame:
    """The rules table (RULE_COLUMNS, sorted) from each rule's basket counts n(A∪C), n(A), n(C) out of
    ``n`` baskets, keeping n(A∪C) ≥ min_confidence·n(A) (tolerance 1e-9) — whichever miner found
    them (mlxtend here, MLlib FPGrowth on the Spark engine)."""
    n_ac, n_a, n_c = (np.asarray(v, dtype=float) for v in (n_ac, n_a, n_c))
    ok = n_ac + _EPS >= min_confidence * n_a
    ante = [frozenset(a) for a, k in zip(antecedents, ok) if k]
    cons = [frozenset(c) for c, k in zip(consequents, ok) if k]
    n_ac, n_a, n_c = n_ac[ok], n_a[ok], n_c[ok]
    if not len(n_ac):
        return _empty_rules()
    s_ac, s_a, s_c = n_ac / n, n_a / n, n_c / n
    conf = n_ac / n_a
    with np.errstate(divide="ignore", invalid="ignore"):
        conviction = np.where(n_ac == n_a, np.inf, (1 - s_c) / (1 - conf))
    rules = pd.DataFrame({
        "antecedents": ante, "consequents": cons,
        "antecedent_support": s_a, "consequent_support": s_c, "support": s_ac, "confidence": conf,
        "lift": conf / s_c, "leverage": s_ac - s_a * s_c, "conviction": conviction,
        "count": n_ac.astype("int64"),
    })
    return _sort_rules(rules)


# --------------------------------------------------------------------------- CRM: orders → rules

def _level_col(level: str) -> str:
    if level not in _LEVELS:
        raise GuanxiError(f"level must be 'product' or 'category', got {level!r}")
    return _LEVELS[level]


def _order_items(orders: pd.DataFrame, level: str) -> pd.DataFrame:
    """(order_id, item) pairs, one per distinct item in an order; empty names dropped."""
    if not isinstance(orders, pd.DataFrame):
        raise GuanxiError("orders must be a DataFrame")
    col = _level_col(level)
    if "order_id" not in orders.columns:
        raise GuanxiError("orders lack column 'order_id' needed to form baskets")
    if col in orders.columns:
        item = orders[col]
        if level == "product" and "product_id" in orders.columns:
            item = item.where(item.notna(), orders["product_id"])
    elif level == "product" and "product_id" in orders.columns:
        item = orders["product_id"]
    else:
        raise GuanxiError(f"orders lack column {col!r} needed for {level}-level baskets")
    pairs = pd.DataFrame({"order_id": orders["order_id"], "item": item}).dropna()
    pairs = pairs[pairs["item"].astype(str).str.strip() != ""]
    pairs["item"] = pairs["item"].astype(str)
    pairs["order_id"] = pairs["order_id"].astype(str)
    return pairs.drop_duplicates().sort_values(["order_id", "item"], kind="mergesort")


def baskets_from_orders(orders: pd.DataFrame, level: str = "product") -> list[list[str]]:
    """One basket per order_id: the distinct product names (``level="product"``, falling back to
    product_id when a name is missing) or categories (``level="category"``). Orders without any
    named item are left out."""
    pairs = _order_items(orders, level)
    return [list(g) for _, g in pairs.groupby("order_id", sort=True)["item"]]


def default_min_support(n_baskets: int) -> float:
    """CRM default: a rule must be seen in ≥ 20 orders (≥ 10% of orders, min 2, when there are
    fewer than 200) and in ≥ 0.1% of orders."""
    if n_baskets <= 0:
        raise GuanxiError("no baskets")
    count = 20 if n_baskets >= 200 else max(2, math.ceil(n_baskets / 10))
    return min(1.0, max(0.001, count / n_baskets))


def mine_order_rules(orders: pd.DataFrame | None, level: str = "product", min_support: float | None = None,
                     min_confidence: float = 0.1, max_len: int | None = 3, engine=None) -> pd.DataFrame:
    """Rules over the canonical orders table (one basket per order). ``min_support`` defaults to
    :func:`default_min_support`. ``df.attrs``: n_baskets, level, provenance.

    With an ``engine`` (``knowledge.engine``; ``orders`` may then be None) the baskets are built
    by its SQL over the workspace's Parquet; an engine with a miner of its own (Spark: MLlib
    FPGrowth) also mines them, its rules then pass through :func:`rules_from_counts` as here."""
    _level_col(level)
    if engine is not None:
        return _engine_rules(engine, level, min_support, min_confidence, max_len)
    baskets = baskets_from_orders(orders, level)
    if not baskets:
        raise GuanxiError(f"no orders with a {_level_col(level)} to mine")
    ms = default_min_support(len(baskets)) if min_support is None else min_support
    rules = mine_rules(baskets, ms, min_confidence, max_len=max_len)
    return _order_rules_attrs(rules, level, f"{len(orders):,} rows, {len(baskets):,} baskets", ms,
                              min_confidence, max_len)


def _order_rules_attrs(rules, level, source, ms, min_confidence, max_len, **extra) -> pd.DataFrame:
    rules.attrs["level"] = level
    rules.attrs["provenance"] = provenance(
        "mine_order_rules", {"orders": source}, level=level, min_support=round(ms, 6),
        min_confidence=min_confidence, max_len=max_len, rules=len(rules), **extra)
    return rules


def _engine_rules(engine, level, min_support, min_confidence, max_len) -> pd.DataFrame:
    if not engine.mines_rules:   # the baskets as a matrix, mined here; its rows are the baskets
        matrix, items = engine.basket_matrix(level)
        n = matrix.shape[0]
        if not n:
            raise GuanxiError(f"no orders with a {_level_col(level)} to mine")
        ms = default_min_support(n) if min_support is None else min_support
        rules = mine_matrix(matrix, items, ms, min_confidence, max_len=max_len)
        return _order_rules_attrs(rules, level, f"{engine.name} SQL over orders.parquet, {n:,} baskets", ms,
                                  min_confidence, max_len)
    n = int(engine.sql("SELECT count(DISTINCT order_id) AS n FROM (" + _items_sql(engine, level) + ") AS p"
                       ).column("n")[0].as_py() or 0)
    if not n:
        raise GuanxiError(f"no orders with a {_level_col(level)} to mine")
    ms = default_min_support(n) if min_support is None else min_support
    source = f"{engine.name} SQL over orders.parquet, {n:,} baskets"
    found = engine.fpgrowth(level, max(1, math.ceil(ms * n - _EPS)), min_confidence)
    raw, n_baskets, n_itemsets = found
    size = raw["antecedents"].map(len) + 1
    raw = raw[size <= max_len] if max_len is not None else raw
    rules = rules_from_counts(raw["antecedents"], raw["consequents"], raw["n_ac"], raw["n_a"], raw["n_c"],
                              n_baskets, min_confidence)
    rules.attrs["n_baskets"] = n_baskets
    return _order_rules_attrs(rules, level, source, ms, min_confidence, max_len,
                              miner=f"MLlib FPGrowth ({n_itemsets:,} frequent itemsets)")


def _items_sql(engine, level: str) -> str:
    from knowledge.engine import order_items_sql
    return order_items_sql(engine.columns("orders"), level)


# --------------------------------------------------------------------------- CRM queries

def _as_set(v) -> frozenset:
    """Rule sides as frozensets, also when read back from parquet (lists / numpy arrays)."""
    if isinstance(v, frozenset):
        return v
    if isinstance(v, str):
        return frozenset([v])
    return frozenset(v)


def _check_rules(rules: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(rules, pd.DataFrame):
        raise GuanxiError("rules must be the DataFrame returned by mine_rules / mine_order_rules")
    need = ["antecedents", "consequents", "support", "confidence", "lift"]
    missing = [c for c in need if c not in rules.columns]
    if missing:
        raise GuanxiError(f"rules lack column(s) {missing}; expected the output of mine_rules")
    return rules


def top_rules(rules: pd.DataFrame, n: int = 10, by: str = "lift") -> pd.DataFrame:
    """The n strongest rules by ``by`` (lift, confidence, support, leverage, conviction or count)."""
    _check_rules(rules)
    if by not in ("lift", "confidence", "support", "leverage", "conviction", "count") or by not in rules.columns:
        raise GuanxiError(f"cannot rank rules by {by!r}; use lift, confidence, support, leverage, conviction or count")
    if rules.empty:
        return rules.copy()
    return _sort_rules(rules, by).head(int(n))


@dataclass
class BoughtTogether:
    """What is bought with an item: the matched item names and the companions, strongest first."""

    query: str
    matched: list[str]
    method: str                       # "rules", "co-occurrence" or "none"
    items: list[dict] = field(default_factory=list)  # item, support, confidence, lift, count, antecedents
    provenance: str = ""


def _match(item: str, universe: Iterable[str]) -> list[str]:
    """Exact name first, else case-insensitive substring (both ways round is not attempted)."""
    names = sorted(set(universe))
    if item in names:
        return [item]
    q = item.strip().casefold()
    if not q:
        return []
    return [nm for nm in names if q in nm.casefold()]


def _cooccurrence(baskets: list[list[str]], matched: list[str], top: int) -> list[dict]:
    """Companions of the matched items by plain co-occurrence: count, support, confidence, lift."""
    n = len(baskets)
    mset = set(matched)
    item_count = Counter(it for b in baskets for it in set(b))
    with_x = [b for b in baskets if mset.intersection(b)]
    if not with_x:
        return []
    co = Counter(it for b in with_x for it in set(b) if it not in mset)
    rows = []
    for it, c in co.items():
        conf = c / len(with_x)
        rows.append({"item": it, "support": c / n, "confidence": conf, "lift": conf / (item_count[it] / n),
                     "count": c, "antecedents": sorted(mset)})
    rows.sort(key=lambda r: (-r["count"], -r["lift"], r["item"]))
    return rows[:top]


def bought_together(rules_or_orders: pd.DataFrame, item: str, level: str = "product", top: int = 10,
                    orders: pd.DataFrame | None = None) -> BoughtTogether:
    """What do customers buy together with ``item``?

    ``item`` is matched to the exact name, else by case-insensitive substring ("绿茶" matches
    "西湖龙井绿茶 250g"). Companions come from rules whose antecedents contain a matched item
    (best rule per companion), the direct rules {X} ⇒ {Y} first, each group by lift then confidence.
    When no rule qualifies, plain co-occurrence in the orders (count, then lift) is used;
    that needs the orders table (pass it as ``rules_or_orders`` or ``orders``).
    """
    if not isinstance(item, str) or not item.strip():
        raise GuanxiError("item must be a non-empty product or category name")
    if not isinstance(rules_or_orders, pd.DataFrame):
        raise GuanxiError("bought_together needs a rules DataFrame or the orders table")
    if "antecedents" in rules_or_orders.columns:
        rules = _check_rules(rules_or_orders)
    else:
        orders = rules_or_orders
        rules = mine_order_rules(orders, level=level)
    pairs = _order_items(orders, level) if orders is not None else None  # baskets built only if needed

    universe: set[str] = set()
    for col in ("antecedents", "consequents"):
        for v in rules[col]:
            universe |= _as_set(v)
    if pairs is not None:
        universe |= set(pairs["item"].unique())
    matched = _match(item, universe)
    src = f"{len(rules):,}"
    if not matched:
        return BoughtTogether(item, [], "none", [], provenance(
            "bought_together", None, item=item, level=level, matched="nothing", rules=src))

    mset = set(matched)
    best: dict[str, tuple] = {}
    n_b = rules.attrs.get("n_baskets")
    for a, c, s, conf, lift, cnt in zip(rules["antecedents"], rules["consequents"], rules["support"],
                                         rules["confidence"], rules["lift"],
                                         rules["count"] if "count" in rules.columns else [None] * len(rules)):
        a, c = _as_set(a), _as_set(c)
        if not (a & mset):
            continue
        exact = len(a) == 1
        for it in c - mset:
            rank = (exact, lift, conf, s)
            if it not in best or rank > best[it][0]:
                count = int(cnt) if cnt is not None else (int(round(s * n_b)) if n_b else None)
                best[it] = (rank, {"item": it, "support": float(s), "confidence": float(conf),
                                   "lift": float(lift), "count": count, "antecedents": sorted(a)})
    if best:
        # Direct pair rules {X} ⇒ {Y} first, then rules with more on the left; each by lift, confidence.
        rows = sorted((v[1] for v in best.values()),
                      key=lambda r: (len(r["antecedents"]) > 1, -r["lift"], -r["confidence"], r["item"]))
        method = "rules"
    elif pairs is not None:
        baskets = [list(g) for _, g in pairs.groupby("order_id", sort=True)["item"]]
        rows, method = _cooccurrence(baskets, matched, int(top)), "co-occurrence"
        if not rows:
            method = "none"
    else:
        rows, method = [], "none"
    prov = provenance("bought_together", {"baskets": int(pairs["order_id"].nunique())} if pairs is not None else None,
                      item=item, matched=matched[:5] + (["…"] if len(matched) > 5 else []), level=level,
                      method=method, rules=src)
    return BoughtTogether(item, matched, method, rows[:int(top)], prov)


def rule_sides(rules: pd.DataFrame) -> tuple:
    """The rules as (antecedents, consequents, support, confidence, lift) tuples, the sides as frozensets:
    what `recommend_for_customer` reads, prepared once for many customers (a batch of drafts)."""
    _check_rules(rules)
    return tuple((_as_set(a), _as_set(c), s, conf, lift) for a, c, s, conf, lift in zip(
        rules["antecedents"], rules["consequents"], rules["support"], rules["confidence"], rules["lift"]))


def recommend_for_customer(rules: pd.DataFrame | tuple, customer_items: set[str], top: int = 5) -> list[dict]:
    """Items to suggest: consequents of rules whose antecedents ⊆ the customer's items, minus what
    they already bought; best rule per item, ranked by lift then confidence. Each entry carries the
    rule that fired: {item, lift, confidence, support, because (antecedent items), rule}. ``rules``:
    the rules table, or its `rule_sides`."""
    sides = rules if isinstance(rules, tuple) else rule_sides(rules)
    owned = set(customer_items or ())
    if not owned or not sides:
        return []
    best: dict[str, dict] = {}
    for a, c, s, conf, lift in sides:
        if not a <= owned:
            continue
        for it in c - owned:
            cur = best.get(it)
            if cur is None or (lift, conf, s) > (cur["lift"], cur["confidence"], cur["support"]):
                best[it] = {"item": it, "lift": float(lift), "confidence": float(conf), "support": float(s),
                            "because": sorted(a), "rule": _rule_key(a, c)}
    return sorted(best.values(), key=lambda r: (-r["lift"], -r["confidence"], r["item"]))[:int(top)]
