"""One customer's card: contact (masked by default), RFM and segment, cluster, churn probability
with reasons, CLV, last orders, favourite categories, open complaints, recommended products.

A pure function over the canonical tables and the precomputed per-customer artefacts (each
indexed by customer_id); the `customer_profile` tool (tools.customer_tools) passes them in from the workspace.
"""
from __future__ import annotations

import pandas as pd

from knowledge.pii import mask_email, mask_phone, mask_text
from tools.results import fmt_date, plain as _value, provenance, row_dict

RFM_KEYS = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "segment", "segment_zh",
            "segment_cn8", "tier")
ARTEFACT_KEYS = {
    "cluster": ("cluster", "cluster_name_en", "cluster_name_zh"),
    "churn": ("churn_probability", "risk_band", "reasons_en", "reasons_zh"),
    "clv": ("p_alive", "expected_purchases_90d", "expected_avg_value", "clv_12m"),
}


def customer_card(customer_id: str, customers: pd.DataFrame, orders: pd.DataFrame, feedback: pd.DataFrame,
                  as_of: pd.Timestamp, artefacts: dict[str, pd.DataFrame | None] | None = None,
                  recommendations: list[dict] | None = None, unmask: bool = False, last_n: int = 3,
                  status_of: dict[str, dict] | None = None) -> dict:
    """The card as a JSON-safe dict. `customers` and each artefact in `artefacts` (rfm, cluster,
    churn, clv) are indexed by customer_id; `orders` / `feedback` are the canonical tables.
    ``status_of`` (feedback_id → {status, status_label_zh, status_label_en, resolution, ...}): the
    event log's follow-through, which supersedes the file's status (open = open or in_progress)."""
    artefacts = artefacts or {}
    cid = str(customer_id)
    cust = customers.loc[cid]
    if isinstance(cust, pd.DataFrame):
        cust = cust.iloc[0]
    out: dict = {"customer_id": cid, "name": _value(cust.get("name"))}
    for col in ("gender", "city", "province", "level", "channel"):
        if col in cust.index:
            out[col] = _value(cust.get(col))
    phone, email = _value(cust.get("phone")), _value(cust.get("email"))
    out["phone"] = phone if unmask else mask_phone(phone)
    out["email"] = email if unmask else mask_email(email)
    bday = _value(cust.get("birthday"))
    if bday is not None:
        b = pd.Timestamp(bday)
        out["birthday"] = b.strftime("%Y-%m-%d")
        out["age"] = int(as_of.year - b.year - ((as_of.month, as_of.day) < (b.month, b.day)))
    if _value(cust.get("signup_date")) is not None:
        out["signup_date"] = fmt_date(cust.get("signup_date"))

    rfm = row_dict(artefacts.get("rfm"), cid)
    if rfm:
        out["rfm"] = {k: rfm.get(k) for k in RFM_KEYS}
    for label, keys in ARTEFACT_KEYS.items():
        r = row_dict(artefacts.get(label), cid)
        if r:
            out[label] = {k: r.get(k) for k in keys if k in r}

    mine = orders.loc[orders["customer_id"].astype(str) == cid].sort_values("order_date")
    out["orders_count"] = int(mine["order_id"].nunique())
    out["total_spent"] = round(float(mine["amount"].sum()), 2)
    if len(mine):
        out["first_order"] = fmt_date(mine["order_date"].min().normalize())
        out["last_order"] = fmt_date(mine["order_date"].max().normalize())
        names = mine["product_name"] if "product_name" in mine else pd.Series("", index=mine.index)
        last = (mine.assign(_item=names.astype(str))
                .groupby("order_id", sort=False)
                .agg(date=("order_date", "max"), amount=("amount", "sum"),
                     items=("_item", lambda s: "、".join(pd.unique(s.dropna())[:3])))
                .sort_values("date").tail(last_n)[::-1])
        out["recent_orders"] = [{"order_id": str(i), "date": fmt_date(r["date"].normalize()),
                                 "amount": round(float(r["amount"]), 2), "items": r["items"]}
                                for i, r in last.iterrows()]
        if "category" in mine:
            fav = mine.groupby("category")["amount"].sum().sort_values(ascending=False).head(3)
            out["favourite_categories"] = [str(c) for c in fav.index]

    fb = feedback.loc[feedback["customer_id"].astype(str) == cid]
    comp = fb.loc[fb["kind"] == "complaint"] if "kind" in fb else fb
    status_of = status_of or {}
    src = comp["status"].astype(str) if "status" in comp else pd.Series("", index=comp.index)
    eff = pd.Series([status_of.get(str(i), {}).get("status", s) for i, s in zip(comp["feedback_id"], src)],
                    index=comp.index, dtype=object)
    opened = comp.loc[eff.isin(["open", "in_progress"])]
    out["complaints"] = int(len(comp))

    def item(r) -> dict:
        d = {"feedback_id": str(r["feedback_id"]), "date": fmt_date(r["created_at"]),
             "text": str(r["text"]) if unmask else mask_text(str(r["text"])), "status_source": _value(r.get("status"))}
        d.update({k: v for k, v in status_of.get(str(r["feedback_id"]), {}).items() if k != "feedback_id"})
        if d.get("resolution") and not unmask:
            d["resolution"] = mask_text(str(d["resolution"]))
        return d
    out["open_complaints"] = [item(r) for _, r in opened.sort_values("created_at").tail(3).iterrows()]
    out["open_count"] = int(len(opened))   # all of them; the list above is the latest three
    followed = comp.loc[comp["feedback_id"].astype(str).isin(list(status_of))]
    out["followed_complaints"] = [item(r) for _, r in followed.sort_values("created_at").tail(3).iterrows()]
    if recommendations is not None:
        out["recommended_products"] = recommendations
    out["as_of"] = fmt_date(as_of)
    present = [k for k in ("rfm", *ARTEFACT_KEYS) if artefacts.get(k) is not None]
    out["provenance"] = (provenance("customer_profile", {"customers": 1, "orders": len(mine), "feedback": len(fb)},
                                    as_of=as_of, customer_id=cid)
                         + (f" · artefacts {', '.join(present)}" if present else ""))
    return out
