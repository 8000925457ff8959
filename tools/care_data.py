"""The customer data a care-message draft reads (:mod:`tools.drafts`): :class:`CareData` holds the
customers, orders and feedback tables, the RFM / churn / association-rule artefacts and the offer
list, with memoised per-customer lookups (RFM and churn rows, order lines, last purchase and
favourite category, recommended products) so that batch drafting reads each table once.
:func:`care_data` builds one from a Workspace, a workspace folder or a dict of DataFrames.
"""
from __future__ import annotations

import dataclasses
import functools
import operator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from knowledge.errors import GuanxiError
from knowledge.workspace import Workspace
from tools.offers import OfferList, load_offers, segment_key
from tools.results import plain, resolve_as_of
from tools.rows_by_id import RowsById, timestamps

__all__ = ["CareData", "RowsById", "care_data", "clean_value", "purchase_summaries", "summary_columns", "timestamps"]


def clean_value(v) -> str | None:
    """A table cell as stripped text; None for a missing or empty value."""
    if type(v) is str:   # most cells: no missing-value check needed
        return v.strip() or None
    v = plain(v)
    s = "" if v is None else str(v).strip()
    return s or None


@dataclass
class CareData:
    """The tables and artefacts a draft reads. Build with :func:`care_data`."""
    customers: pd.DataFrame
    orders: pd.DataFrame
    feedback: pd.DataFrame | None = None
    rfm: pd.DataFrame | None = None
    churn: pd.DataFrame | None = None
    rules: pd.DataFrame | None = None
    offers: OfferList = field(default_factory=OfferList)
    as_of: pd.Timestamp | None = None
    label: str = "tables"
    _cust: RowsById | None = field(default=None, repr=False)
    _rfm: RowsById | None = field(default=None, repr=False)
    _churn: RowsById | None = field(default=None, repr=False)
    _cid_col: pd.Series | None = field(default=None, repr=False)
    _prof: dict = field(default_factory=dict, repr=False)
    _fb_cid: pd.Series | None = field(default=None, repr=False)
    _shared: dict = field(default_factory=dict, repr=False)
    #: feedback_id → the event log's latest status change (tools.service_log.StatusChange), read per call
    status_of: dict = field(default_factory=dict, repr=False)
    #: a workspace with the per-customer order artefacts (tools.orders_index): ``orders`` is then empty
    #: and the lines are read per customer (or per batch) from the artefact
    ws: Workspace | None = field(default=None, repr=False)

    def __post_init__(self):
        if "customer_id" not in self.customers.columns or "name" not in self.customers.columns:
            raise GuanxiError("drafts: the customers table needs customer_id and name columns")
        if self._cust is None:
            self._cust = RowsById(self.customers, first=True, text_ids=True)
        self.as_of = resolve_as_of(self.orders, self.as_of)

    def customer(self, customer_id) -> dict:
        cid = str(customer_id or "").strip()
        row = self._cust.get(cid)
        if row is not None:
            return row
        up = {k.upper(): k for k in self._cust}
        if cid.upper() in up:
            return self._cust[up[cid.upper()]]
        raise GuanxiError(f"no customer {customer_id!r} in the {self.label}")

    def feedback_rows(self, cid: str) -> list[dict]:
        """The customer's rows of the feedback table (which must have a customer_id column)."""
        if self._fb_cid is None:
            self._fb_cid = self.feedback["customer_id"].astype(str)
        return self.feedback.loc[self._fb_cid == cid].to_dict(orient="records")

    def rfm_row(self, cid: str) -> dict | None:
        if self.rfm is None:
            return None
        if self._rfm is None:
            self._rfm = RowsById(self.rfm)
        return self._rfm.get(cid)

    def batch_cache(self, key) -> dict:
        """A dict kept with the data's shared lookups (across the batches of a workspace) for what batch
        drafting decides from ``key`` and the lengths of a draft's parts alone (its plans and layouts)."""
        return self._shared.setdefault(("batch", key), {})

    def table_values(self, table: str, ids: list[str], cols) -> tuple[list[bool], list[list]] | None:
        """`RowsById.values` of the customers (``table="customers"``) or RFM table: what `customer` /
        `rfm_row` give for ``ids``, column by column (a batch); None when the table's ids repeat."""
        if table == "rfm":
            if self.rfm is None:
                return [False] * len(ids), [[None] * len(ids) for _ in cols]
            self.rfm_row("")
            return self._rfm.values(ids, cols)
        return self._cust.values(ids, cols)

    def table_coded(self, table: str, ids: list[str], cols: dict) -> tuple[np.ndarray, dict] | None:
        """`RowsById.coded` of the customers (``table="customers"``) or RFM table (no RFM table: no hit)."""
        if table == "rfm":
            if self.rfm is None:
                return np.zeros(len(ids), bool), {c: None for c in cols}
            self.rfm_row("")
            return self._rfm.coded(ids, cols, self.positions(self._rfm.index, ids))
        return self._cust.coded(ids, cols, self.positions(self._cust.index, ids))

    def positions(self, index: pd.Index, ids: list[str]) -> np.ndarray | None:
        """``index.get_indexer(ids)`` for ids looked up in the customers table (a batch's chunk), through
        the customers' positions: one lookup per chunk whatever the table (the map made once)."""
        cust = self._cust.index
        if not cust.is_unique or not index.is_unique:
            return None
        last = self.__dict__.get("_chunk_pos")
        if last is None or last[0] is not ids:
            last = self._chunk_pos = (ids, cust.get_indexer(ids))
        if index is cust:
            return last[1]
        key = ("positions", id(index))
        if key not in self._shared or self._shared[key][0] is not index:
            self._shared[key] = (index, np.append(index.get_indexer(cust), -1))   # -1: an id not in customers
        found = self._shared[key][1][last[1]]
        if (last[1] < 0).any():   # ids not in the customers table: looked up themselves
            miss = np.flatnonzero(last[1] < 0)
            found[miss] = index.get_indexer([ids[i] for i in miss])
        return found

    def churn_row(self, cid: str) -> dict | None:
        if self.churn is None:
            return None
        if self._churn is None:
            self._churn = RowsById(self.churn)
        return self._churn.get(cid)

    def segment_names(self, cid: str) -> set[str]:
        """The customer's segment names in the RFM table (segment, segment_zh, segment_cn8, tier,
        tier_en); empty without an RFM row."""
        rfm_row = self.rfm_row(cid)
        if not rfm_row:
            return set()
        return {str(rfm_row[k]) for k in ("segment", "segment_zh", "segment_cn8", "tier", "tier_en")
                if clean_value(rfm_row.get(k))}

    def segment_ids(self, segment: str) -> list[str]:
        """The ids of the customers in an RFM segment (English, Chinese or eight-class name, or a
        tier; "all" = every customer)."""
        s = str(segment or "").strip()
        key = ("segment ids", s)
        if key not in self._shared:   # the same tables: the same members (a million-customer isin each time)
            self._shared[key] = self._segment_ids(s)
        return list(self._shared[key])

    def _segment_ids(self, s: str) -> list[str]:
        if s.lower() in ("all", "everyone", "全部", "所有"):
            return list(self._cust)
        if self.rfm is None:
            raise GuanxiError("batch drafting by segment needs the RFM table (build the workspace first)")
        try:
            from tools.rfm import segment_members
            members = segment_members(self.rfm, s, top=None)
            ids = [str(x) for x in members["customer_id"]]   # those in the customers table, at once
            return [c for c, known in zip(ids, pd.Index(ids, dtype=object).isin(self._cust.index)) if known]
        except GuanxiError:
            raise
        except Exception:  # noqa: BLE001 - a partial RFM table (tests): match the name columns directly
            want = segment_key(s)
            m = pd.Series(False, index=self.rfm.index)
            for col in ("segment", "segment_zh", "segment_cn8", "tier", "tier_en"):
                if col in self.rfm.columns:
                    m |= self.rfm[col].astype(str).map(segment_key) == want
            if not m.any():
                raise GuanxiError(f"unknown segment {segment!r} (or no customer in it)") from None
            return [str(x) for x in self.rfm.loc[m, "customer_id"] if str(x) in self._cust]

    _ORDER_COLS = ("order_id", "order_date", "product_name", "category", "amount")

    def n_orders(self) -> int:
        """Order lines in the data (the table's rows, also when they are read per customer)."""
        if self.ws is not None:
            if "n_orders" not in self._shared:   # the Parquet footer, read once (not once per draft)
                from tools.orders_index import order_lines_count
                self._shared["n_orders"] = order_lines_count(self.ws)
            return self._shared["n_orders"]
        return len(self.orders)

    def index_orders(self, ids=None, bought: bool = True) -> None:
        """Batch drafting: the purchase summaries of the customers ``ids`` (all when None) at once
        (`purchase_summaries`: what `purchases` gives one by one), from the workspace's per-customer
        artefact or the orders table; their customer, RFM and churn rows are built at once too.
        ``bought=False`` (no recommendation or win-back to write): from the build's `tools.purchase_facts`
        when there, without the products bought (None); the churn rows are left to be built when asked."""
        if ids is not None:
            self.rfm_row(""), self.churn_row("")
            for rows in (self._cust, self._rfm, self._churn if bought else None):   # no win-back: no churn rows
                if rows is not None:
                    rows.prefetch(ids)
        todo = [c for c in dict.fromkeys(list(self._cust) if ids is None else map(str, ids)) if c not in self._prof]
        if todo and not bought and self.ws is not None:
            from tools.purchase_facts import facts_summaries
            got = facts_summaries(self.ws, todo, self.as_of) or {}
            self._prof.update(got)
            todo = [c for c in todo if c not in got]
        if not todo:
            return
        cols = [c for c in self._ORDER_COLS if c in self.orders.columns]
        if self.ws is not None:
            from tools.orders_index import customers_frame
            lines = customers_frame(self.ws, todo, cols)
        else:
            if self._cid_col is None:
                self._cid_col = self.orders["customer_id"].astype(str)
            lines = self.orders.loc[self._cid_col.isin(todo).to_numpy(bool), ["customer_id", *cols]]
        self._prof.update(purchase_summaries(lines, todo, self.as_of))

    def release(self, ids) -> None:
        """Forget the purchase summaries and the rows built for ``ids`` (a batch drafted in chunks: its
        memory stays that of one chunk)."""
        for memo in [self._prof] + [rows.memo for rows in (self._cust, self._rfm, self._churn) if rows is not None]:
            if memo:   # a batch drafted column-wise builds none of them
                for c in map(str, ids):
                    memo.pop(c, None)

    def order_rows(self, cid: str) -> list[dict]:
        """The customer's order lines as dicts (order_id, order_date, product_name, category, amount)."""
        if self.ws is not None:
            from tools.orders_index import customer_orders
            o = customer_orders(self.ws, cid)
            return o[[c for c in self._ORDER_COLS if c in o.columns]].to_dict(orient="records")
        if self._cid_col is None:
            self._cid_col = self.orders["customer_id"].astype(str)
        o = self.orders.loc[self._cid_col == cid]
        return o[[c for c in self._ORDER_COLS if c in o.columns]].to_dict(orient="records")

    def purchases(self, cid: str) -> dict:
        """The customer's orders before as_of, summarised (memoised): ``last`` (product, day,
        order_id) — the latest line, the dearest on that day; ``fav`` (category, lines, all lines)
        — the category with the most order lines (ties: higher spend, then name); ``bought``."""
        if cid in self._prof:
            return self._prof[cid]
        rows = [dict(r) for r in self.order_rows(cid) if pd.Timestamp(r["order_date"]) < self.as_of]
        last = fav = None
        for r in rows:
            r["_d"], r["_a"] = pd.Timestamp(r["order_date"]), float(r.get("amount") or 0)
        if rows:
            lp = max(rows, key=lambda r: (r["_d"], r["_a"]))
            if clean_value(lp.get("product_name")):
                last = (str(lp["product_name"]), lp["_d"], str(lp.get("order_id")))
            stats: dict[str, list] = {}
            for r in rows:
                c = clean_value(r.get("category"))
                if c is not None:
                    st = stats.setdefault(c, [0, 0.0])
                    st[0] += 1
                    st[1] += r["_a"]
            if stats:
                c = min(stats, key=lambda k: (-stats[k][0], -stats[k][1], k))
                fav = (c, stats[c][0], len(rows))
        bought = {str(r["product_name"]) for r in rows if clean_value(r.get("product_name"))}
        self._prof[cid] = {"last": last, "fav": fav, "bought": bought, "n": len(rows), "recs": None}
        return self._prof[cid]

    def recommendations(self, cid: str, top: int = 3) -> list[dict]:
        """Products for the customer (memoised), as ``recommend_products`` does: consequents of the
        association rules whose antecedents the customer bought, topped up with the best sellers
        (by sales) of the customer's favourite category that they have not bought."""
        prof = self.purchases(cid)
        if prof["recs"] is None:
            if "rule_sides" not in self._shared and self.rules is not None and len(self.rules):
                from tools.association import rule_sides
                self._shared["rule_sides"] = rule_sides(self.rules)   # once, not per customer
            recs = _recommend(self._shared.get("rule_sides"), prof["bought"], top)
            if len(recs) < top and prof["fav"] is not None:
                cat = prof["fav"][0]
                have = prof["bought"] | {r["item"] for r in recs}
                for name, sales in self.best_sellers().get(cat, []):
                    if len(recs) >= top:
                        break
                    if name not in have:
                        recs.append({"item": name, "because": [cat], "kind": "best_seller", "sales": sales})
            prof["recs"] = recs
        return prof["recs"]

    def best_sellers(self) -> dict[str, list[tuple[str, float]]]:
        """Per category: products by total sales, best first (computed once)."""
        if "best_sellers" not in self._shared:
            o = self.orders
            out: dict[str, list[tuple[str, float]]] = {}
            from tools.orders_index import category_product_sales
            g = category_product_sales(self.ws) if self.ws is not None else None
            if g is None and len(o) and {"product_name", "category", "amount"} <= set(o.columns):
                g = o.groupby(["category", "product_name"], sort=False)["amount"].sum()
            if g is not None:
                for (cat, name), amt in sorted(g.items(), key=lambda t: (str(t[0][0]), -float(t[1]), str(t[0][1]))):
                    out.setdefault(str(cat), []).append((str(name), round(float(amt), 2)))
            self._shared["best_sellers"] = out
        return self._shared["best_sellers"]


def summary_columns(lines: pd.DataFrame, as_of: pd.Timestamp) -> dict | None:
    """What `purchase_summaries` says of each customer of ``lines`` (as there), as arrays over ``ids``
    (the customers with a line before ``as_of``, in order of their first such line): ``n`` lines,
    ``unsure`` (a line of unknown amount), ``last`` (the position in the lines before ``as_of`` of the
    latest line, -1 when that line has no product), ``fav`` / ``fav_lines`` (the favourite category and
    its lines; None / 0 without a category); and those lines' ``codes`` (index into ``ids``),
    ``product`` (cleaned), ``raw_product``, ``order_id`` and ``dates``. None when the dates or amounts are
    text (`purchases` parses them one by one)."""
    if not pd.api.types.is_datetime64_any_dtype(lines["order_date"]) or (
            "amount" in lines and not pd.api.types.is_numeric_dtype(lines["amount"])):
        return None
    o = lines.loc[(lines["order_date"] < as_of).to_numpy(bool)]
    amount = o["amount"].to_numpy(float) if "amount" in o else np.zeros(len(o))
    cust = o["customer_id"].astype(str).to_numpy(object)
    codes, uniq = pd.factorize(cust)
    n = np.bincount(codes, minlength=len(uniq)) if len(uniq) else np.zeros(0, int)
    unsure = np.zeros(len(uniq), dtype=bool)
    unsure[np.unique(codes[np.isnan(amount)])] = True

    def clean(col: str) -> np.ndarray:   # clean_value of each cell (None when missing), once per distinct value
        out = np.full(len(o), None, dtype=object)
        if col in o:
            vals = o[col].to_numpy(object)
            there = ~pd.isna(vals)
            k, distinct = pd.factorize(vals[there])
            out[there] = np.array([clean_value(v) for v in distinct] + [None], dtype=object)[k]
        return out
    product, category = clean("product_name"), clean("category")
    raw_product = o["product_name"].to_numpy(object) if "product_name" in o else product
    order_id = o["order_id"].to_numpy(object) if "order_id" in o else np.full(len(o), None, dtype=object)
    dates = o["order_date"].to_numpy("datetime64[ns]")
    stamp, pos = dates.astype("int64"), np.arange(len(o))
    # the latest line, the dearest on that day, the first such in the customer's order
    last = np.full(len(uniq), -1, dtype=np.int64)
    if len(o):
        latest = np.lexsort((pos, -amount, -stamp, codes))
        first = latest[np.r_[True, codes[latest][1:] != codes[latest][:-1]]]
        first = first[np.array([p is not None for p in product[first].tolist()], dtype=bool)]
        last[codes[first]] = first
    # the favourite category: the most lines, then the higher spend (summed line by line), then the name
    has_cat = np.array([c is not None for c in category.tolist()], dtype=bool)
    kc, names = pd.factorize(category[has_cat])
    pair = codes[has_cat].astype(np.int64) * max(len(names), 1) + kc
    pairs, inv, cnt = np.unique(pair, return_inverse=True, return_counts=True)
    pair_c, pair_k = pairs // max(len(names), 1), pairs % max(len(names), 1)
    best = cnt == pd.Series(cnt).groupby(pair_c).transform("max").to_numpy()
    ties = np.bincount(pair_c[best], minlength=len(uniq)) if len(pairs) else np.zeros(len(uniq), int)
    chosen = np.full(len(uniq), -1, dtype=np.int64)
    alone = np.flatnonzero(best & (ties[pair_c] == 1)) if len(pairs) else np.zeros(0, int)
    chosen[pair_c[alone]] = alone
    tied = np.flatnonzero(best & (ties[pair_c] > 1)) if len(pairs) else np.zeros(0, int)
    if len(tied):
        by_pair = np.argsort(inv, kind="stable")
        starts = np.searchsorted(inv[by_pair], np.arange(len(pairs) + 1))
        cat_amount = amount[has_cat]
        spend = lambda p: functools.reduce(operator.add, cat_amount[by_pair[starts[p]:starts[p + 1]]].tolist(), 0.0)  # noqa: E731
        for p, c in zip(tied.tolist(), pair_c[tied].tolist()):
            q = chosen[c]
            if q < 0 or (-spend(p), names[pair_k[p]]) < (-spend(q), names[pair_k[q]]):
                chosen[c] = p
    fav = np.full(len(uniq), None, dtype=object)
    fav_lines = np.zeros(len(uniq), dtype=np.int64)
    has = chosen >= 0
    fav[has] = np.asarray(names, dtype=object)[pair_k[chosen[has]]]
    fav_lines[has] = cnt[chosen[has]]
    return {"ids": np.asarray(uniq, dtype=object), "n": n, "unsure": unsure, "last": last, "fav": fav,
            "fav_lines": fav_lines, "codes": codes, "product": product, "raw_product": raw_product,
            "order_id": order_id, "dates": dates}


def purchase_summaries(lines: pd.DataFrame, ids: list[str], as_of: pd.Timestamp) -> dict[str, dict]:
    """`CareData.purchases` of the customers ``ids`` at once, from their order ``lines`` (customer_id and the
    order columns, each customer's lines in table order). Customers with a line of unknown amount are left
    out (Python's ``max`` / ``min`` over NaN keys follow the lines' order: `purchases` does them one by one);
    the category spends that break a tie are summed line by line, as `purchases` adds them."""
    ids = [str(i) for i in ids]
    empty = {c: {"last": None, "fav": None, "bought": set(), "n": 0, "recs": None} for c in ids}
    if not len(lines):
        return empty
    s = summary_columns(lines, as_of)
    if s is None:
        return {}   # dates or amounts as text: `purchases` parses them one by one
    uniq, n, raw_product, order_id, dates = s["ids"], s["n"], s["raw_product"], s["order_id"], s["dates"]
    out = dict(empty)
    for k in range(len(uniq)):
        out[uniq[k]] = {"last": None, "fav": None, "bought": set(), "n": int(n[k]), "recs": None}
    for k, i in zip(np.flatnonzero(s["last"] >= 0).tolist(), s["last"][s["last"] >= 0].tolist()):
        out[uniq[k]]["last"] = (str(raw_product[i]), pd.Timestamp(dates[i]), str(order_id[i]))
    for k in np.flatnonzero(s["fav"] != None).tolist():  # noqa: E711 (elementwise)
        out[uniq[k]]["fav"] = (s["fav"][k], int(s["fav_lines"][k]), int(n[k]))
    # the products bought
    codes, product = s["codes"], s["product"]
    has_product = np.array([p is not None for p in product], dtype=bool)
    bc, bp = codes[has_product], raw_product[has_product]
    by_customer = np.argsort(bc, kind="stable")
    cuts = np.searchsorted(bc[by_customer], np.arange(len(uniq) + 1))
    for c in np.unique(bc).tolist():
        out[uniq[c]]["bought"] = set(map(str, bp[by_customer[cuts[c]:cuts[c + 1]]].tolist()))
    for c in uniq[s["unsure"]].tolist():
        del out[c]
    return out


def _df_or_none(v):
    return v if isinstance(v, pd.DataFrame) else None


def care_data(ws_or_tables, offers=None, as_of=None) -> CareData:
    """A :class:`CareData` from a Workspace, a workspace folder, a dict of DataFrames (customers,
    orders, feedback, rfm, churn, rules_product / rules) or an existing CareData. ``offers``
    overrides the workspace's offer list (see :func:`load_offers`)."""
    if isinstance(ws_or_tables, CareData):
        d = ws_or_tables
        if offers is None and as_of is None:
            return d
        new_as_of = d.as_of if as_of is None else pd.Timestamp(as_of).normalize()
        return dataclasses.replace(d, offers=d.offers if offers is None else load_offers(offers), as_of=new_as_of,
                                   _prof=d._prof if new_as_of == d.as_of else {})
    if isinstance(ws_or_tables, (str, Path)):
        ws_or_tables = Workspace(ws_or_tables)
    if isinstance(ws_or_tables, Workspace):
        ws = ws_or_tables.require_built()
        cache = ws.__dict__.setdefault("_drafts_cache", {})
        if "data" not in cache:
            meta = ws.artefact("meta")
            ws_as_of = pd.Timestamp(meta["as_of"]).normalize() if isinstance(meta, dict) and meta.get("as_of") else None
            from tools.orders_index import ORDER_ARTEFACTS
            lazy = ws_as_of is not None and all(ws.artefact_path(n).is_file() for n in ORDER_ARTEFACTS)
            orders = (pq.read_schema(ws.table_path("orders")).empty_table().to_pandas() if lazy
                      else ws.table("orders"))
            cache["data"] = CareData(
                ws.table("customers"), orders, ws.table("feedback"),
                _df_or_none(ws.artefact("rfm")), _df_or_none(ws.artefact("churn")),
                _df_or_none(ws.artefact("rules_product")), load_offers(ws), ws_as_of, f"workspace {ws.root}",
                ws=ws if lazy else None)
        base: CareData = cache["data"]
        base.rfm_row(""), base.churn_row("")  # build the lookups once, share them
        if base._cid_col is None and base.ws is None:
            base._cid_col = base.orders["customer_id"].astype(str)
        if base._fb_cid is None and base.feedback is not None and "customer_id" in base.feedback.columns:
            base._fb_cid = base.feedback["customer_id"].astype(str)
        # the offer list is re-read on every call (a small file a manager may edit at any time)
        d = CareData(base.customers, base.orders, base.feedback, base.rfm, base.churn, base.rules,
                     load_offers(ws) if offers is None else load_offers(offers),
                     base.as_of if as_of is None else pd.Timestamp(as_of), base.label,
                     base._cust, base._rfm, base._churn, base._cid_col, {}, base._fb_cid,
                     base._shared, ws=base.ws)
        from knowledge.events import EventLog
        from tools.service_log import status_changes
        d.status_of = status_changes(EventLog.of(ws))   # a complaint marked resolved is followed up as resolved
        return d
    if isinstance(ws_or_tables, dict):
        t = ws_or_tables
        if "customers" not in t or "orders" not in t:
            raise GuanxiError("drafts: the tables dict needs at least 'customers' and 'orders'")
        rules = t.get("rules_product", t.get("rules"))
        return CareData(t["customers"], t["orders"], _df_or_none(t.get("feedback")), _df_or_none(t.get("rfm")),
                        _df_or_none(t.get("churn")), _df_or_none(rules),
                        load_offers(offers if offers is not None else t.get("offers")),
                        as_of if as_of is not None else t.get("as_of"))
    raise GuanxiError(f"drafts: expected a Workspace, a folder or a dict of tables, got {type(ws_or_tables).__name__}")


def _recommend(rules: pd.DataFrame | tuple | None, bought: set[str], top: int = 3) -> list[dict]:
    if rules is None or not len(rules) or not bought:
        return []
    from tools.association import recommend_for_customer
    recs = recommend_for_customer(rules, bought, top=top)
    return [{"item": str(r["item"]), "because": [str(x) for x in r.get("because", [])], "kind": "rule",
             "confidence": float(r.get("confidence") or 0), "lift": float(r.get("lift") or 0)} for r in recs]
