"""The assistant's tools: thin, read-only wrappers over the analyses and the precomputed artefacts.

Each tool is a plain function: its name, docstring and type hints are its schema
(`tools.registry` turns them into LangChain ``StructuredTool``s). Besides its own arguments a
tool may take the keyword-only ``ctx: ToolContext`` (workspace, settings, role); the registry
injects it and leaves it out of the schema.

Every tool returns a JSON-safe dict with a ``provenance`` line (where the numbers came from)
and, where a picture beats a table, a ``chart`` (plotly JSON). Contacts (phone, e-mail) are
masked for every role except ``admin`` — here, in the tool layer, so neither the offline
router nor an LLM ever sees them unmasked.

Per-customer results are read from ``WORKSPACE/artefacts`` (see `tools.precompute`); a lookup
is an index access, not a recomputation.

>>> from tools.api import ToolContext, rfm_lookup              # doctest: +SKIP
>>> rfm_lookup("C00042", ctx=ToolContext(settings))["segment"]  # doctest: +SKIP
'Champions'
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from knowledge.workspace import Workspace
from tools.results import fmt_date, plain, provenance, to_jsonable

__all__ = [
    "ToolContext", "ToolError", "mask_phone", "mask_email", "mask_text", "workspace_for",
    "customer_profile", "rfm_lookup", "segment_summary", "segment_members", "cluster_lookup",
    "churn_risk", "at_risk_customers", "clv_estimate", "bought_together", "recommend_products",
    "kpi", "similar_complaints", "complaint_topics", "care_calendar", "KPI_METRICS", "KPI_BY",
]

ROLES = ("manager", "agent", "admin")


class ToolError(GuanxiError):
    """A tool could not answer (unknown customer, unknown segment, missing artefact ...)."""


# --------------------------------------------------------------------------- context
_WS_LOCK = threading.Lock()
_WORKSPACES: dict[str, Workspace] = {}


def _stamp(ws: Workspace) -> tuple:
    out = []
    for p in [ws.table_path(t) for t in ("customers", "products", "orders", "feedback")] + [ws.artefact_path("meta", ".json")]:
        try:
            st = p.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def workspace_for(root: str | Path) -> Workspace:
    """One shared, cached `Workspace` per folder (tables and artefacts load once per process);
    a rebuilt workspace (tables or artefacts/meta.json changed) is reloaded."""
    key = str(Path(root).resolve())
    with _WS_LOCK:
        ws = _WORKSPACES.get(key)
        fresh = Workspace(root) if ws is None else None
        stamp = _stamp(ws or fresh)
        if ws is None or getattr(ws, "_guanxi_stamp", None) != stamp:
            ws = fresh or Workspace(root)
            ws._guanxi_stamp = stamp
            _WORKSPACES[key] = ws
        return ws


def clear_workspace_cache() -> None:
    """Forget the cached workspaces (after a rebuild in the same process)."""
    with _WS_LOCK:
        _WORKSPACES.clear()


@dataclass
class ToolContext:
    """What a tool may use besides its arguments: the settings, the workspace and the caller's role."""

    settings: Settings
    role: str = "manager"
    workspace: Workspace | None = None
    cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.role not in ROLES:
            raise GuanxiError(f"unknown role {self.role!r}; expected one of {', '.join(ROLES)}")
        self._explicit = self.workspace is not None

    @property
    def ws(self) -> Workspace:
        """The workspace (the shared cached one, reloaded after a rebuild, unless one was given)."""
        return self.workspace if self._explicit else workspace_for(self.settings.workspace)

    @property
    def unmasked(self) -> bool:
        """Only admins see full phone numbers and e-mail addresses."""
        return self.role == "admin"


def _ctx(ctx: ToolContext | None) -> ToolContext:
    if ctx is None:
        return ToolContext(Settings.load())
    return ctx


def _cached(ws: Workspace, key: str, build):
    store = ws.__dict__.setdefault("_api_cache", {})
    if key not in store:
        store[key] = build()
    return store[key]


# --------------------------------------------------------------------------- masking
from knowledge.pii import mask_email, mask_phone  # noqa: E402
from knowledge.pii import mask_text as _pii_mask_text  # noqa: E402


def mask_text(text, unmasked: bool = False):
    """Mask phone numbers, e-mail addresses and ID numbers inside free text (customer feedback)."""
    if unmasked or not isinstance(text, str):
        return text
    return _pii_mask_text(text)


def _contacts(row, ctx: ToolContext) -> dict:
    phone, email = row.get("phone"), row.get("email")
    phone = None if phone is None or pd.isna(phone) else str(phone)
    email = None if email is None or pd.isna(email) else str(email)
    if ctx.unmasked:
        return {"phone": phone, "email": email}
    return {"phone": mask_phone(phone), "email": mask_email(email)}


# --------------------------------------------------------------------------- shared lookups
def _as_of(ws: Workspace) -> pd.Timestamp:
    meta = ws.artefact("meta")
    if isinstance(meta, dict) and meta.get("as_of"):
        return pd.Timestamp(meta["as_of"]).normalize()
    return _cached(ws, "as_of", ws.as_of)


def _meta_prov(ws: Workspace, name: str, default: str) -> str:
    meta = ws.artefact("meta")
    if isinstance(meta, dict):
        p = (meta.get("provenance") or {}).get(name)
        if p:
            return f"artefacts/{name} ← {p}"
    return default


def _customers(ws: Workspace) -> pd.DataFrame:
    """The customers table indexed by customer_id (str)."""
    def build():
        c = ws.table("customers").copy()
        c["customer_id"] = c["customer_id"].astype(str)
        return c.drop_duplicates("customer_id").set_index("customer_id", drop=False)
    return _cached(ws, "customers_by_id", build)


def _ids_upper(ws: Workspace) -> dict[str, str]:
    return _cached(ws, "ids_upper", lambda: {i.upper(): i for i in _customers(ws).index})


def resolve_customer_id(ws: Workspace, customer_id) -> str:
    """The canonical customer_id for an id typed in any case; unknown → ToolError with close ids."""
    cid = str(customer_id or "").strip()
    if not cid:
        raise ToolError("a customer_id is required")
    cust = _customers(ws)
    if cid in cust.index:
        return cid
    up = _ids_upper(ws).get(cid.upper())
    if up:
        return up
    # a customer *name* given as id: resolve when unique
    names = cust.loc[cust["name"].astype(str) == cid]
    if len(names) == 1:
        return str(names.index[0])
    if len(names) > 1:
        raise ToolError(f"{len(names)} customers are named {cid!r}: "
                        + ", ".join(names.index[:10]) + "; give the customer_id")
    from rapidfuzz import process
    close = [m[0] for m in process.extract(cid.upper(), list(_ids_upper(ws)), limit=3, score_cutoff=80)]
    hint = f" (did you mean {', '.join(_ids_upper(ws)[c] for c in close)}?)" if close else ""
    raise ToolError(f"no customer {cid!r} in the workspace{hint}")


def _customer_basic(ws: Workspace, cid: str, ctx: ToolContext) -> dict:
    row = _customers(ws).loc[cid]
    out = {"customer_id": cid, "name": _s(row.get("name"))}
    for col in ("gender", "city", "province", "level", "channel"):
        if col in row.index:
            out[col] = _s(row.get(col))
    out.update(_contacts(row, ctx))
    return out


_s = plain


def _rfm(ws: Workspace) -> pd.DataFrame:
    def build():
        t = ws.artefact("rfm")
        if t is None:
            from tools.rfm import rfm_table
            t = rfm_table(ws.table("orders"), as_of=_as_of(ws))
        t = t.copy()
        t["customer_id"] = t["customer_id"].astype(str)
        return t.set_index("customer_id", drop=False)
    return _cached(ws, "rfm", build)


def _artefact_by_id(ws: Workspace, name: str, what: str) -> pd.DataFrame:
    def build():
        t = ws.artefact(name)
        if t is None:
            raise ToolError(f"the workspace has no {what} yet (artefact '{name}'); "
                            f"rebuild it with `guanxi build` or `guanxi demo`")
        t = t.copy()
        t["customer_id"] = t["customer_id"].astype(str)
        return t.set_index("customer_id", drop=False)
    return _cached(ws, f"art:{name}", build)


def _row_dict(df: pd.DataFrame, cid: str) -> dict | None:
    if cid not in df.index:
        return None
    row = df.loc[cid]
    if isinstance(row, pd.DataFrame):
        row = row.iloc[0]
    return {str(k): to_jsonable(v) for k, v in row.items()}


def _orders(ws: Workspace) -> pd.DataFrame:
    def build():
        o = ws.table("orders").copy()
        o["customer_id"] = o["customer_id"].astype(str)
        o["order_date"] = pd.to_datetime(o["order_date"])
        return o
    return _cached(ws, "orders", build)


def _match_place(series: pd.Series, value: str | None) -> pd.Series:
    """Rows whose province/city equals ``value`` ignoring the 省/市/自治区 suffix and case."""
    if not value:
        return pd.Series(True, index=series.index)
    v = _place_key(value)
    return series.astype(str).map(_place_key) == v


_PLACE_SUFFIX = re.compile(r"(省|市|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区|地区|盟)$")


def _place_key(s) -> str:
    s = str(s or "").strip()
    s = re.sub(r"(壮族|回族|维吾尔)?自治区$", "", s)
    s = _PLACE_SUFFIX.sub("", s)
    return s.lower().replace(" ", "")


def _chart(fig) -> dict | None:
    return None if fig is None else to_jsonable(fig)


def bar_chart_json(df: pd.DataFrame, x: str, y: str, title_zh: str, title_en: str, y_title: str | None = None) -> dict:
    """A bar chart as plotly JSON, built directly (same look as `tools.charts.bar_chart`: CJK font,
    bilingual title, horizontal when > 8 bars) — building a plotly Figure costs ~50-150 ms, this ~0."""
    from tools.charts import CJK_FONT, bilingual_title
    labels = ["未知" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in df[x].tolist()]
    values = [None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)
              for v in pd.to_numeric(df[y], errors="coerce").tolist()]
    horizontal = len(labels) > 8
    # The bars keep the rows' order (the answer's ranked list): first row leftmost, or at the top
    # when horizontal; the category order is explicit so no renderer re-sorts it.
    if horizontal:
        trace = {"type": "bar", "orientation": "h", "x": values[::-1], "y": labels[::-1], "name": y_title or y}
        axes = {"xaxis": {"title": {"text": y_title or y}},
                "yaxis": {"type": "category", "categoryorder": "array", "categoryarray": labels[::-1]}}
        height = max(360, 24 * len(labels) + 120)
    else:
        trace = {"type": "bar", "x": labels, "y": values, "name": y_title or y}
        axes = {"xaxis": {"type": "category", "categoryorder": "array", "categoryarray": labels},
                "yaxis": {"title": {"text": y_title or y}}}
        height = 420
    layout = {"title": {"text": bilingual_title(title_zh, title_en), "x": 0.01},
              "font": {"family": CJK_FONT, "size": 13}, "paper_bgcolor": "white", "plot_bgcolor": "white",
              "margin": {"l": 60, "r": 20, "t": 60, "b": 60}, "height": height, **axes}
    return {"data": [trace], "layout": layout}


# --------------------------------------------------------------------------- customer tools
def customer_profile(customer_id: str, *, ctx: ToolContext | None = None) -> dict:
    """One customer's card: contact (masked), RFM segment, cluster, churn probability with
    reasons, CLV, recent orders, favourite categories, open complaints and recommended products.

    Args:
        customer_id: the customer's id, e.g. C01023
    """
    from tools.profile import customer_card
    ctx = _ctx(ctx)
    ws = ctx.ws
    cid = resolve_customer_id(ws, customer_id)
    artefacts = {"rfm": _rfm(ws)}
    for name, label in (("clusters", "cluster"), ("churn", "churn"), ("clv", "clv")):
        artefacts[label] = _artefact_by_id(ws, name, label) if ws.artefact(name) is not None else None
    try:
        recs = [{"product": r["product"], "source": r["source"]}
                for r in recommend_products(cid, top=3, ctx=ctx).get("products", [])]
    except GuanxiError:
        recs = []
    return customer_card(cid, _customers(ws), _orders(ws), ws.table("feedback"), _as_of(ws), artefacts,
                         recommendations=recs, unmask=ctx.unmasked)


def _mask_deep(obj, ctx: ToolContext):
    """Mask phone/e-mail fields anywhere in a nested dict (a result from another module)."""
    if ctx.unmasked:
        return obj
    if isinstance(obj, dict):
        for k, v in list(obj.items()):
            if k in ("phone", "mobile") and isinstance(v, str) and "*" not in v:
                obj[k] = mask_phone(v)
            elif k in ("email", "e_mail") and isinstance(v, str) and "*" not in v:
                obj[k] = mask_email(v)
            elif isinstance(v, str):
                obj[k] = mask_text(v)
            else:
                _mask_deep(v, ctx)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if isinstance(v, str):
                obj[i] = mask_text(v)
            else:
                _mask_deep(v, ctx)
    return obj


def rfm_lookup(customer_id: str, *, ctx: ToolContext | None = None) -> dict:
    """A customer's RFM: recency in days, frequency (orders), monetary (total spent), the 1-5
    scores, the named segment (English and Chinese), the eight-class segment and the tier.

    Args:
        customer_id: the customer's id, e.g. C01023
    """
    ctx = _ctx(ctx)
    ws = ctx.ws
    cid = resolve_customer_id(ws, customer_id)
    rfm = _rfm(ws)
    row = _row_dict(rfm, cid)
    if row is None:
        raise ToolError(f"customer {cid} has no order before {fmt_date(_as_of(ws))}, so no RFM score")
    out = {"customer_id": cid, "name": _s(_customers(ws).loc[cid].get("name"))}
    for k in ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_code",
              "segment", "segment_zh", "segment_cn8", "segment_cn8_en", "tier", "tier_en"):
        if k in row:
            out[k] = row[k]
    if isinstance(out.get("monetary"), float):
        out["monetary"] = round(out["monetary"], 2)
    out["percentile_monetary"] = round(float((rfm["monetary"] <= rfm.loc[cid, "monetary"]).mean()), 4)
    out["as_of"] = fmt_date(_as_of(ws))
    out["provenance"] = _meta_prov(ws, "rfm", provenance("rfm_table", {"orders": len(_orders(ws))},
                                                         as_of=_as_of(ws))) + f" · customer {cid}"
    return out


SegmentScheme = Literal["segment", "segment_cn8", "tier", "cluster"]


def segment_summary(scheme: SegmentScheme = "segment", *, ctx: ToolContext | None = None) -> dict:
    """How customers are distributed over segments: count, share and spend per segment.

    Args:
        scheme: "segment" (the 11 RFM segments), "segment_cn8" (the eight-class model 重要价值客户 …),
            "tier" (高价值/潜力/流失风险) or "cluster" (k-means clusters)
    """
    ctx = _ctx(ctx)
    ws = ctx.ws
    if scheme == "cluster":
        prof = ws.artefact("cluster_profiles")
        if prof is None:
            raise ToolError("the workspace has no cluster profiles yet (artefact 'cluster_profiles')")
        prof = prof.copy()
        rows = []
        for _, r in prof.iterrows():
            rows.append({"segment": to_jsonable(r.get("cluster")), "name_en": _s(r.get("name_en")),
                         "name_zh": _s(r.get("name_zh")), "count": int(r.get("size", 0)),
                         "share": round(float(r.get("share", np.nan)), 4) if "share" in r else None})
        df = pd.DataFrame(rows)
        fig = bar_chart_json(df.assign(label=df["name_zh"].fillna(df["segment"].astype(str))), "label", "count",
                             "客户聚类分布", "Customers per cluster", y_title="客户数 customers")
        prov = _meta_prov(ws, "cluster_profiles", "tools.segments.cluster_customers")
        return {"scheme": scheme, "total": int(df["count"].sum()), "segments": rows,
                "chart": _chart(fig), "as_of": fmt_date(_as_of(ws)), "provenance": prov}
    from tools.rfm import segment_distribution
    if scheme not in ("segment", "segment_cn8", "tier"):
        raise ToolError(f"unknown scheme {scheme!r}; use segment, segment_cn8, tier or cluster")
    d = segment_distribution(_rfm(ws).reset_index(drop=True), scheme=scheme)
    rows = []
    for _, r in d.iterrows():
        rows.append({"segment": r[scheme], "name_zh": r["name_zh"], "name_en": r["name_en"],
                     "count": int(r["count"]), "share": round(float(r["share"]), 4),
                     "monetary_total": round(float(r["monetary_total"]), 2),
                     "monetary_share": round(float(r["monetary_share"]), 4),
                     "mean_monetary": round(float(r["mean_monetary"]), 2),
                     "mean_recency": round(float(r["mean_recency"]), 1),
                     "mean_frequency": round(float(r["mean_frequency"]), 2)})
    fig = bar_chart_json(d.assign(label=d["name_zh"] + " " + d["name_en"].astype(str)), "label", "count",
                         "客户分群分布", "Customers per segment", y_title="客户数 customers")
    return {"scheme": scheme, "total": int(d["count"].sum()), "segments": rows, "chart": _chart(fig),
            "as_of": fmt_date(_as_of(ws)),
            "provenance": _meta_prov(ws, "rfm", "rfm_table") + f" · distribution by {scheme}"}


def _resolve_segment(segment: str) -> tuple[str, str]:
    from tools.rfm import _resolve_segment as rs
    try:
        return rs(segment)
    except GuanxiError as e:
        raise ToolError(str(e)) from None


def _resolve_cluster(ws: Workspace, name: str):
    prof = ws.artefact("cluster_profiles")
    if prof is None:
        return None
    s = str(name).strip().lower()
    for _, r in prof.iterrows():
        names = {str(r.get("cluster")).lower(), str(r.get("name_en", "")).lower(), str(r.get("name_zh", "")).lower(),
                 f"cluster {r.get('cluster')}", f"聚类{r.get('cluster')}"}
        if s in names:
            return r.get("cluster")
    return None


_ALL_SEGMENT = {"all", "*", "everyone", "all customers", "全部", "所有", "全部客户", "所有客户", "全体客户"}


def segment_members(segment: str, top: int = 20, province: str | None = None, city: str | None = None,
                    date_from: str | None = None, date_to: str | None = None,
                    *, ctx: ToolContext | None = None) -> dict:
    """The customers in one segment, biggest spenders first, with the segment's total size.

    Args:
        segment: a segment name in English or Chinese (Champions, 冠军客户, 重要价值客户, 高价值客户,
            At Risk …), a cluster name, or "all" (every customer: the biggest spenders overall)
        top: how many members to list (default 20)
        province: only customers in this province, e.g. 浙江省
        city: only customers in this city, e.g. 杭州市
        date_from: with date_to, rank by what members spent in this period (YYYY-MM-DD, first day
            included; members without orders in it are left out); default all time
        date_to: last day included, YYYY-MM-DD
    """
    ctx = _ctx(ctx)
    ws = ctx.ws
    top = _top(top, 20)
    rfm = _rfm(ws)
    cust = _customers(ws)
    try:
        if str(segment or "").strip().lower() in _ALL_SEGMENT:
            col, value, label = "all", "all", "all"
            members = rfm
        else:
            col, value = _resolve_segment(segment)
            members = rfm.loc[rfm[col] == value]
            label = value
    except ToolError:
        cl = _resolve_cluster(ws, segment)
        if cl is None:
            raise
        clusters = _artefact_by_id(ws, "clusters", "clusters")
        ids = clusters.index[clusters["cluster"] == cl]
        members = rfm.loc[rfm.index.intersection(ids)]
        col, value, label = "cluster", to_jsonable(cl), str(segment)
    members = members.drop(columns=["customer_id"]).join(cust[["name", "city", "province"]], how="left")
    members.index.name = "customer_id"
    members = members.reset_index()
    members.index = members["customer_id"].to_numpy()
    mask = _match_place(members["province"], province) & _match_place(members["city"], city)
    members = members.loc[mask]
    size = int(len(members))
    period = None
    if date_from or date_to:
        # spend and orders inside the period (orders before the as-of date), members with none left out
        o = _orders(ws)
        a = pd.Timestamp(date_from) if date_from else o["order_date"].min().normalize()
        b = pd.Timestamp(date_to) + pd.Timedelta(days=1) if date_to else _as_of(ws)
        sel = o[(o["order_date"] >= a) & (o["order_date"] < min(b, _as_of(ws)))]
        g = sel.groupby("customer_id").agg(period_monetary=("amount", "sum"), period_orders=("order_id", "nunique"))
        members = members.join(g, how="inner")
        members["monetary"] = members["period_monetary"]
        members["frequency"] = members["period_orders"]
        period = {"date_from": fmt_date(a), "date_to": fmt_date(min(b, _as_of(ws)) - pd.Timedelta(days=1))}
    members = members.sort_values(["monetary", "customer_id"], ascending=[False, True], kind="stable")
    rows = []
    for cid, r in members.head(top).iterrows():
        basic = _customer_basic(ws, cid, ctx)
        rows.append({**basic, "recency_days": int(r["recency_days"]), "frequency": int(r["frequency"]),
                     "monetary": round(float(r["monetary"]), 2), "segment": r.get("segment"),
                     "segment_cn8": r.get("segment_cn8"), "tier": r.get("tier")})
    out = {"segment": label, "scheme": col, "count": int(len(members)), "shown": len(rows),
           "province": province, "city": city, "members": rows, "as_of": fmt_date(_as_of(ws)),
           "provenance": _meta_prov(ws, "rfm", "rfm_table") + f" · members of {label}, sorted by monetary"}
    if period:
        out.update(period)
        out["segment_size"] = size
        out["provenance"] += f" in {period['date_from']} … {period['date_to']} (orders)"
    return out


def cluster_lookup(customer_id: str | None = None, *, ctx: ToolContext | None = None) -> dict:
    """A customer's k-means cluster with the cluster's profile; without a customer, all cluster profiles.

    Args:
        customer_id: the customer's id, e.g. C01023 (omit for the list of clusters)
    """
    ctx = _ctx(ctx)
    ws = ctx.ws
    prof = ws.artefact("cluster_profiles")
    profiles = to_jsonable(prof) if prof is not None else []
    prov = _meta_prov(ws, "clusters", "tools.segments.cluster_customers")
    if not customer_id:
        if prof is None:
            raise ToolError("the workspace has no clusters yet (artefact 'clusters')")
        fig = bar_chart_json(prof.assign(label=prof.get("name_zh", prof["cluster"]).astype(str)), "label", "size",
                             "客户聚类", "Customer clusters", y_title="客户数 customers")
        return {"customer_id": None, "clusters": profiles, "count": len(profiles), "chart": _chart(fig),
                "as_of": fmt_date(_as_of(ws)), "provenance": prov}
    cid = resolve_customer_id(ws, customer_id)
    row = _row_dict(_artefact_by_id(ws, "clusters", "clusters"), cid)
    if row is None:
        raise ToolError(f"customer {cid} is not in any cluster (no orders before {fmt_date(_as_of(ws))})")
    mine = next((p for p in profiles if str(p.get("cluster")) == str(row.get("cluster"))), None)
    return {"customer_id": cid, "name": _s(_customers(ws).loc[cid].get("name")),
            "cluster": row.get("cluster"), "cluster_name_en": row.get("cluster_name_en"),
            "cluster_name_zh": row.get("cluster_name_zh"), "profile": mine, "as_of": fmt_date(_as_of(ws)),
            "provenance": prov + f" · customer {cid}"}


# --------------------------------------------------------------------------- churn, CLV
def _reasons(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, (list, tuple, np.ndarray)):
        return [str(x) for x in v]
    if isinstance(v, str):
        parts = [p.strip() for p in re.split(r"[;；\n]|\s\|\s", v) if p.strip()]
        return parts
    return [str(v)]


def churn_risk(customer_id: str, *, ctx: ToolContext | None = None) -> dict:
    """One customer's churn probability (chance of buying nothing in the churn horizon), risk band
    and the top reasons in words.

    Args:
        customer_id: the customer's id, e.g. C01023
    """
    ctx = _ctx(ctx)
    ws = ctx.ws
    cid = resolve_customer_id(ws, customer_id)
    row = _row_dict(_artefact_by_id(ws, "churn", "churn scores"), cid)
    if row is None:
        raise ToolError(f"customer {cid} has no churn score (no orders before {fmt_date(_as_of(ws))})")
    rfm = _row_dict(_rfm(ws), cid) or {}
    card = ws.artefact("churn_card") or {}
    return {"customer_id": cid, "name": _s(_customers(ws).loc[cid].get("name")),
            "churn_probability": round(float(row["churn_probability"]), 4),
            "risk_band": row.get("risk_band"), "reasons_en": _reasons(row.get("reasons_en")),
            "reasons_zh": _reasons(row.get("reasons_zh")), "recency_days": rfm.get("recency_days"),
            "segment": rfm.get("segment"), "segment_zh": rfm.get("segment_zh"),
            "horizon_days": card.get("horizon_days", card.get("horizon", ctx.settings.churn_horizon_days)),
            "model": {k: card.get(k) for k in ("model", "roc_auc", "pr_auc", "brier") if k in card},
            "as_of": fmt_date(_as_of(ws)),
            "provenance": _meta_prov(ws, "churn", "tools.churn.churn_scores") + f" · customer {cid}"}


def _top(top, default: int, cap: int = 500) -> int:
    try:
        n = int(top) if top is not None else default
    except (TypeError, ValueError):
        raise ToolError(f"top must be a whole number, got {top!r}") from None
    if n < 1:
        raise ToolError(f"top must be ≥ 1, got {n}")
    return min(n, cap)


def at_risk_customers(top: int = 20, province: str | None = None, city: str | None = None,
                      segment: str | None = None, min_probability: float | None = None,
                      *, ctx: ToolContext | None = None) -> dict:
    """Customers most likely to churn, highest probability first, with the count above the threshold.

    Args:
        top: how many customers to list (default 20)
        province: only customers in this province, e.g. 浙江省
        city: only customers in this city, e.g. 杭州市
        segment: only customers in this RFM segment / eight-class segment / tier
        min_probability: only customers with churn probability ≥ this (0-1; default 0.5 for the count)
    """
    ctx = _ctx(ctx)
    ws = ctx.ws
    top = _top(top, 20)
    if min_probability is not None and not (0 <= float(min_probability) <= 1):
        mp = float(min_probability)
        if 1 < mp <= 100:
            min_probability = mp / 100
        else:
            raise ToolError(f"min_probability must be between 0 and 1, got {min_probability}")
    churn = _artefact_by_id(ws, "churn", "churn scores")
    cust = _customers(ws)
    rfm = _rfm(ws)
    df = churn[["churn_probability"] + [c for c in ("risk_band", "reasons_en", "reasons_zh") if c in churn]].join(
        cust[["name", "city", "province"]], how="left").join(
        rfm[["recency_days", "frequency", "monetary", "segment", "segment_zh", "segment_cn8", "tier"]], how="left")
    df = df.loc[_match_place(df["province"], province) & _match_place(df["city"], city)]
    seg_label = None
    if segment:
        col, value = _resolve_segment(segment)
        df = df.loc[df[col] == value]
        seg_label = value
    threshold = 0.5 if min_probability is None else float(min_probability)
    above = df.loc[df["churn_probability"] >= threshold]
    listed = (above if min_probability is not None else df).sort_values(
        ["churn_probability", "monetary"], ascending=[False, False], kind="stable")
    rows = []
    for cid, r in listed.head(top).iterrows():
        basic = _customer_basic(ws, cid, ctx)
        rows.append({**basic, "churn_probability": round(float(r["churn_probability"]), 4),
                     "risk_band": _s(r.get("risk_band")), "recency_days": _s(r.get("recency_days")),
                     "monetary": round(float(r["monetary"]), 2) if pd.notna(r.get("monetary")) else None,
                     "segment": _s(r.get("segment")), "reasons_en": _reasons(r.get("reasons_en"))[:2],
                     "reasons_zh": _reasons(r.get("reasons_zh"))[:2]})
    chart = None
    if rows:
        cdf = pd.DataFrame(rows)
        chart = (bar_chart_json(cdf.assign(label=cdf["customer_id"] + " " + cdf["name"].fillna("")), "label",
                                 "churn_probability", "流失概率最高的客户", "Highest churn probability",
                                 y_title="流失概率 churn probability"))
    return {"count_at_risk": int(len(above)), "threshold": threshold, "customers_considered": int(len(df)),
            "shown": len(rows), "customers": rows, "province": province, "city": city, "segment": seg_label,
            "chart": chart, "as_of": fmt_date(_as_of(ws)),
            "provenance": _meta_prov(ws, "churn", "tools.churn.churn_scores")
            + f" · ranked by churn_probability; count with probability ≥ {threshold:g}"}


def clv_estimate(customer_id: str | None = None, top: int = 10, *, ctx: ToolContext | None = None) -> dict:
    """Customer lifetime value (BG/NBD + Gamma-Gamma): for one customer the 12-month CLV, P(alive),
    expected purchases in 90 days and expected order value; without a customer, the total and the
    customers with the highest CLV.

    Args:
        customer_id: the customer's id, e.g. C01023 (omit for the top customers by CLV)
        top: how many customers to list when no customer is given (default 10)
    """
    ctx = _ctx(ctx)
    ws = ctx.ws
    clv = _artefact_by_id(ws, "clv", "CLV estimates")
    prov = _meta_prov(ws, "clv", "tools.clv.clv_table")
    clv_col = "clv_12m" if "clv_12m" in clv else next((c for c in clv.columns if c.startswith("clv_")), None)
    if customer_id:
        cid = resolve_customer_id(ws, customer_id)
        row = _row_dict(clv, cid)
        if row is None:
            raise ToolError(f"customer {cid} has no CLV estimate (no orders before {fmt_date(_as_of(ws))})")
        rank = int((clv[clv_col] > clv.loc[cid, clv_col]).sum()) + 1
        return {"customer_id": cid, "name": _s(_customers(ws).loc[cid].get("name")),
                "clv_12m": _r(row.get(clv_col), 2), "p_alive": _r(row.get("p_alive"), 4),
                "expected_purchases_90d": _r(row.get("expected_purchases_90d"), 3),
                "expected_avg_value": _r(row.get("expected_avg_value"), 2),
                "frequency": row.get("frequency"), "monetary_value": _r(row.get("monetary_value"), 2),
                "rank": rank, "customers": int(len(clv)), "as_of": fmt_date(_as_of(ws)),
                "provenance": prov + f" · customer {cid}"}
    top = _top(top, 10)
    ordered = clv.reset_index(drop=True).sort_values([clv_col, "customer_id"], ascending=[False, True], kind="stable")
    ordered.index = ordered["customer_id"].to_numpy()
    rows = []
    for cid, r in ordered.head(top).iterrows():
        rows.append({"customer_id": cid, "name": _s(_customers(ws).loc[cid].get("name")) if cid in _customers(ws).index
                     else None, "clv_12m": _r(r[clv_col], 2), "p_alive": _r(r.get("p_alive"), 4)})
    return {"customer_id": None, "total_clv_12m": _r(clv[clv_col].sum(), 2), "mean_clv_12m": _r(clv[clv_col].mean(), 2),
            "customers": int(len(clv)), "top": rows, "as_of": fmt_date(_as_of(ws)), "provenance": prov}


def _r(v, nd):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(f) else round(f, nd)


# --------------------------------------------------------------------------- products
def _catalogue(ws: Workspace) -> dict:
    """Known product names and categories (for matching an item)."""
    def build():
        p = ws.table("products")
        names = sorted(set(p["name"].dropna().astype(str)))
        cats = sorted(set(p["category"].dropna().astype(str))) if "category" in p else []
        return {"products": names, "categories": cats}
    return _cached(ws, "catalogue", build)


def _resolve_item(ws: Workspace, item: str) -> tuple[str, str]:
    """('product'|'category', canonical name) for an item name; fuzzy; unknown → ToolError."""
    s = str(item or "").strip()
    if not s:
        raise ToolError("an item (product or category name) is required")
    cat = _catalogue(ws)
    low = s.lower()
    for c in cat["categories"]:
        if c.lower() == low:
            return "category", c
    for n in cat["products"]:
        if n.lower() == low:
            return "product", n
    # a word inside product names ("绿茶" → every green tea) or inside a category name
    in_products = [n for n in cat["products"] if low in n.lower()]
    if len(in_products) == 1:
        return "product", in_products[0]
    if in_products:
        return "product", s
    in_cats = [c for c in cat["categories"] if low in c.lower()]
    if len(in_cats) == 1:
        return "category", in_cats[0]
    from rapidfuzz import fuzz, process
    best_c = process.extractOne(s, cat["categories"], scorer=fuzz.ratio, score_cutoff=80)
    best_p = process.extractOne(s, cat["products"], scorer=fuzz.WRatio, score_cutoff=88)
    if best_c and (not best_p or best_c[1] >= best_p[1]):
        return "category", best_c[0]
    if best_p:
        return "product", best_p[0]
    raise ToolError(f"no product or category like {s!r}; categories: {', '.join(cat['categories'][:20])}")


def _rules(ws: Workspace, level: str) -> pd.DataFrame | None:
    r = ws.artefact(f"rules_{level}")
    return r if isinstance(r, pd.DataFrame) else None


def bought_together(item: str, top: int = 10, *, ctx: ToolContext | None = None) -> dict:
    """What customers buy together with a product or a category (association rules: support,
    confidence, lift), strongest first.

    Args:
        item: a product name or a category, e.g. 龙井绿茶 or 绿茶
        top: how many items to list (default 10)
    """
    ctx = _ctx(ctx)
    ws = ctx.ws
    top = _top(top, 10)
    level, name = _resolve_item(ws, item)
    from tools.association import bought_together as _bt
    rules = _rules(ws, level)
    orders = _orders(ws)
    if rules is None:
        res = _bt(orders, name, level=level, top=top)
    else:
        res = _bt(rules, name, level=level, top=top)
        if res.method == "none" or not res.items:  # no rule: plain co-occurrence in the orders
            res = _cooccurrence(ws, level, name, top) or res
    rows = []
    for r in res.items:
        rows.append({"item": str(r["item"]), "with": [str(a) for a in r.get("antecedents") or [name]],
                     "support": _r(r.get("support"), 4), "confidence": _r(r.get("confidence"), 4),
                     "lift": _r(r.get("lift"), 3), "orders": r.get("count")})
    chart = None
    if rows:
        # the bars in the list's order, with the measure the list is ranked by (lift for rules,
        # orders together for plain co-occurrence)
        cdf = pd.DataFrame(rows)
        by_count = res.method != "rules" and cdf["orders"].notna().all()
        chart = (bar_chart_json(cdf, "item", "orders" if by_count else "lift", f"与「{name}」一起购买",
                                f"Bought with {name}", y_title="共同购买订单数 orders together" if by_count else "提升度 lift"))
    prov = res.provenance or f"tools.association.bought_together · {level}"
    if rules is not None:
        prov = _meta_prov(ws, f"rules_{level}", f"artefacts/rules_{level}") + " · " + prov
    return {"item": name, "level": level, "matched": list(res.matched)[:10], "method": res.method,
            "items": rows, "count": len(rows), "chart": chart, "as_of": fmt_date(_as_of(ws)),
            "provenance": prov}


def _cooccurrence(ws: Workspace, level: str, name: str, top: int):
    """Companions by plain co-occurrence in the same order (cached baskets; the same definitions as
    `tools.association.bought_together`'s fallback: count, support, confidence, lift)."""
    from tools.association import BoughtTogether

    def build():
        o = _orders(ws)
        col = "category" if level == "category" else "product_name"
        pairs = o[["order_id", col]].dropna().astype(str).drop_duplicates()
        pairs.columns = ["order_id", "item"]
        return pairs, pairs["item"].value_counts(), pairs["order_id"].nunique()
    pairs, freq, n = _cached(ws, f"pairs:{level}", build)
    matched = [name] if name in freq.index else [i for i in freq.index if name.lower() in str(i).lower()]
    if not matched:
        return None
    with_x = pairs.loc[pairs["item"].isin(matched), "order_id"].unique()
    other = pairs.loc[pairs["order_id"].isin(with_x) & ~pairs["item"].isin(matched), "item"].value_counts()
    rows = []
    for it, c in other.items():
        conf = c / len(with_x)
        rows.append({"item": it, "support": c / n, "confidence": conf, "lift": conf / (freq[it] / n), "count": int(c),
                     "antecedents": sorted(matched)[:5]})
    rows.sort(key=lambda r: (-r["count"], -r["lift"], r["item"]))
    prov = provenance("bought_together", {"baskets": int(n)}, item=name, level=level, method="co-occurrence",
                      matched=len(matched))
    return BoughtTogether(name, sorted(matched), "co-occurrence", rows[:top], prov)


def recommend_products(customer_id: str, top: int = 5, *, ctx: ToolContext | None = None) -> dict:
    """Products to recommend to one customer: consequents of association rules whose antecedents
    the customer bought, excluding what they already have (ranked by lift, then confidence);
    topped up with best sellers of the customer's favourite categories.

    Args:
        customer_id: the customer's id, e.g. C01023
        top: how many products (default 5)
    """
    ctx = _ctx(ctx)
    ws = ctx.ws
    top = _top(top, 5)
    cid = resolve_customer_id(ws, customer_id)
    o = _orders(ws)
    mine = o.loc[o["customer_id"] == cid]
    bought = set(mine["product_name"].dropna().astype(str)) if "product_name" in mine else set()
    recs: list[dict] = []
    rules = _rules(ws, "product")
    sources = []
    if rules is not None and len(rules) and bought:
        from tools.association import recommend_for_customer
        for r in recommend_for_customer(rules, bought, top=top):
            recs.append({"product": str(r["item"]), "because_bought": [str(x) for x in r.get("because", [])],
                         "confidence": _r(r.get("confidence"), 4), "lift": _r(r.get("lift"), 3),
                         "source": "rule"})
        sources.append(_meta_prov(ws, "rules_product", "artefacts/rules_product"))
    if len(recs) < top and "category" in mine:
        p = ws.table("products")
        sales = _cached(ws, "product_sales", lambda: o.groupby("product_name")["amount"].sum())
        fav = mine.groupby("category")["amount"].sum().sort_values(ascending=False).index.tolist()
        have = bought | {r["product"] for r in recs}
        added = 0
        for cat in fav:
            cands = p.loc[(p["category"] == cat) & ~p["name"].isin(have), "name"].astype(str).tolist()
            cands.sort(key=lambda n: (-float(sales.get(n, 0.0)), n))
            for n in cands[: top - len(recs)]:
                recs.append({"product": n, "because_bought": [str(cat)], "confidence": None, "lift": None,
                             "source": "best seller in a favourite category"})
                have.add(n)
                added += 1
            if len(recs) >= top:
                break
        if added:
            sources.append("orders: best sellers of the customer's favourite categories")
    prod = _cached(ws, "products_by_name", lambda: ws.table("products").drop_duplicates("name").set_index("name"))
    for r in recs:
        if r["product"] in prod.index:
            row = prod.loc[r["product"]]
            r["price"] = _r(row.get("price"), 2)
            r["category"] = _s(row.get("category"))
    return {"customer_id": cid, "name": _s(_customers(ws).loc[cid].get("name")), "products": recs,
            "count": len(recs), "already_bought": len(bought), "as_of": fmt_date(_as_of(ws)),
            "provenance": " + ".join(sources or ["no rule or category history"]) + f" · customer {cid}"}


# --------------------------------------------------------------------------- care calendar
CareOccasion = Literal["all", "birthday", "festival", "winback", "vip_thanks", "regular"]


def care_calendar(days: int = 7, occasion: CareOccasion = "all", top: int = 30,
                  *, ctx: ToolContext | None = None) -> dict:
    """Who to contact in the next N days and on what occasion: upcoming birthdays and festivals,
    at-risk customers to win back, VIPs to thank and regular customers due for contact.

    Args:
        days: the window in days starting at the as-of date (default 7)
        occasion: only this kind: birthday, festival, winback, vip_thanks, regular (default all)
        top: how many entries to list (counts are of all; default 30)
    """
    ctx = _ctx(ctx)
    ws = ctx.ws
    try:
        days = int(days)
    except (TypeError, ValueError):
        raise ToolError(f"days must be a whole number, got {days!r}") from None
    if not 1 <= days <= 366:
        raise ToolError(f"days must be between 1 and 366, got {days}")
    from tools.care import care_calendar_for
    cal = care_calendar_for(ws, as_of=_as_of(ws), days=days)
    entries = cal.entries if occasion in (None, "", "all") else cal.by_occasion(occasion)
    personal = [e for e in entries if not e.occasion.startswith("festival:")]
    festive = [e for e in entries if e.occasion.startswith("festival:")]
    listed = (personal + festive)[: _top(top, 30, 1000)]
    cust = _customers(ws)
    rows = []
    for e in listed:
        d = e.to_dict()
        if e.customer_id in cust.index:
            d.update({k: v for k, v in _customer_basic(ws, e.customer_id, ctx).items()
                      if k in ("city", "phone", "email")})
        _mask_deep(d, ctx)
        rows.append(d)
    counts: dict[str, int] = {}
    for e in entries:
        key = "festival" if e.occasion.startswith("festival:") else e.occasion
        counts[key] = counts.get(key, 0) + 1
    return {"as_of": cal.as_of, "days": cal.days, "window_end": cal.window_end, "occasion": occasion or "all",
            "counts": counts, "total": len(entries), "shown": len(rows), "entries": rows,
            "festivals": to_jsonable(cal.festivals), "warnings": list(cal.warnings),
            "provenance": " · ".join(cal.provenance) if isinstance(cal.provenance, list) else str(cal.provenance)}


# --------------------------------------------------------------------------- KPIs
KpiMetric = Literal["sales", "orders", "customers", "aov", "repurchase_rate", "retention", "purchase_interval",
                    "satisfaction", "complaint_rate", "resolution_time", "new_customers"]
KpiBy = Literal["province", "city", "gender", "age_band", "channel", "order_channel", "category", "month",
                "feedback_channel", "kind"]
KPI_METRICS = KpiMetric.__args__
KPI_BY = KpiBy.__args__


def kpi(metric: KpiMetric, by: KpiBy | None = None, date_from: str | None = None, date_to: str | None = None,
        province: str | None = None, city: str | None = None, category: str | None = None,
        channel: str | None = None, order_channel: str | None = None, top: int | None = None, *,
        ctx: ToolContext | None = None) -> dict:
    """A business KPI over an optional date range and filters, optionally broken down (with a chart).

    Args:
        metric: sales (销售额), orders (订单数), customers (客户数), aov (客单价), repurchase_rate (复购率),
            retention (留存, monthly cohorts), purchase_interval (购买间隔, days), satisfaction (满意度, mean
            rating), complaint_rate (投诉率, complaints per order), resolution_time (处理时长, days),
            new_customers (新客户数)
        by: break down by province, city, gender, age_band, channel (acquisition), order_channel,
            category, month (monthly trend), feedback_channel or kind
        date_from: first day included, YYYY-MM-DD
        date_to: last day included, YYYY-MM-DD
        province: only this province, e.g. 浙江省 (several: comma-separated, 江苏省,浙江省,上海)
        city: only this city, e.g. 杭州市 (several: comma-separated)
        category: only this product category
        channel: only customers acquired through this channel (customers.channel), e.g. 抖音
        order_channel: only orders placed on this channel (orders.channel), e.g. 京东
        top: keep only the first N groups of the breakdown (highest value; for month the last N)
    """
    ctx = _ctx(ctx)
    ws = ctx.ws
    from tools.kpi import kpi as _kpi
    tables = {"orders": ws.table("orders"), "customers": ws.table("customers"), "feedback": ws.table("feedback")}
    filters = {k: v for k, v in dict(province=province, city=city, category=category, channel=channel,
                                     order_channel=order_channel).items() if v not in (None, "")}
    for k, v in list(filters.items()):  # "江苏省,浙江省,上海": several values of one filter
        if isinstance(v, str) and re.search(r"[,，、]", v):
            vals = [x.strip() for x in re.split(r"[,，、]", v) if x.strip()]
            filters[k] = vals if len(vals) > 1 else (vals[0] if vals else None)
    filters = {k: v for k, v in filters.items() if v}
    try:
        res = _kpi(tables, metric, by=by, date_from=date_from or None, date_to=date_to or None,
                   as_of=_as_of(ws), top=int(top) if top else None, filters=filters or None)
    except GuanxiError as e:
        raise ToolError(str(e)) from None
    out = res.to_dict()
    if res.figure_json:
        import json as _json
        out["chart"] = _json.loads(res.figure_json)
    return out


# --------------------------------------------------------------------------- feedback
def _store(ctx: ToolContext):
    from knowledge.feedback_store import FeedbackStore
    try:
        return FeedbackStore.open(ctx.ws, ctx.settings)
    except GuanxiError as e:
        raise ToolError(f"the feedback index is not available ({e}); build it with `guanxi build` "
                        f"(without --no-index)") from None


def similar_complaints(text: str, k: int = 5, category: str | None = None, status: str | None = None,
                       date_from: str | None = None, date_to: str | None = None, kind: str | None = "complaint",
                       *, ctx: ToolContext | None = None) -> dict:
    """Past complaints most like a description (hybrid semantic + keyword search), with how each
    was resolved, and how many feedback items passed the filters.

    Args:
        text: what the complaint is about, in any words, e.g. 快递破损 or parcel arrived damaged
        k: how many complaints to return (default 5)
        category: only complaints about this product category
        status: open or resolved
        date_from: first day included, YYYY-MM-DD
        date_to: last day included, YYYY-MM-DD
        kind: complaint (default), suggestion, praise, inquiry, or "all" for every kind of feedback
    """
    ctx = _ctx(ctx)
    from tools.feedback import similar_feedback
    store = _store(ctx)
    kind = None if kind in (None, "", "all", "any") else kind
    try:
        res = similar_feedback(store, text, k=_top(k, 5, 50), kind=kind, category=category or None,
                               status=status or None, date_from=date_from or None, date_to=date_to or None)
    except GuanxiError as e:
        raise ToolError(str(e)) from None
    hits = []
    for h in res.hits:
        h = to_jsonable(h)
        for key in ("text", "resolution"):
            if isinstance(h.get(key), str):
                h[key] = mask_text(h[key], ctx.unmasked)
        hits.append(h)
    resolved = sum(1 for h in hits if str(h.get("status")) == "resolved")
    return {"query": text, "filters": to_jsonable(res.filters), "matched": int(res.matched), "count": len(hits),
            "resolved": resolved, "hits": hits, "collapsed": int(res.collapsed),
            "as_of": fmt_date(_as_of(ctx.ws)), "provenance": res.provenance}


def complaint_topics(date_from: str | None = None, date_to: str | None = None, top: int = 10,
                     *, ctx: ToolContext | None = None) -> dict:
    """The main complaint topics in a period, each with a label, keywords, a count, a share, a
    monthly trend and example complaints, biggest first.

    Args:
        date_from: first day included, YYYY-MM-DD
        date_to: last day included, YYYY-MM-DD
        top: how many topics (default 10)
    """
    ctx = _ctx(ctx)
    ws = ctx.ws
    from tools.feedback import complaint_topics as _topics
    store = _store(ctx)
    try:
        res = _topics(ws.table("feedback"), store, date_from=date_from or None, date_to=date_to or None,
                      top=_top(top, 10, 50))
    except GuanxiError as e:
        raise ToolError(str(e)) from None
    fb = _cached(ws, "feedback_by_id", lambda: ws.table("feedback").assign(
        feedback_id=ws.table("feedback")["feedback_id"].astype(str)).drop_duplicates("feedback_id", keep="last")
        .set_index("feedback_id"))
    topics = []
    for t in res.topics:
        t = to_jsonable(t)
        t["examples"] = [mask_text(str(fb.loc[i, "text"]), ctx.unmasked) for i in t.get("example_ids", [])
                         if i in fb.index][:2]
        topics.append(t)
    chart = None
    if topics:
        cdf = pd.DataFrame({"label": [t["label"] for t in topics], "count": [t["count"] for t in topics]})
        chart = bar_chart_json(cdf, "label", "count", "投诉主题", "Complaint topics", y_title="投诉数 complaints")
    return {"date_from": res.date_from, "date_to": res.date_to, "total": int(res.total), "n_topics": int(res.n_topics),
            "topics": topics, "months": res.months, "method": res.method, "chart": chart,
            "as_of": fmt_date(_as_of(ws)), "provenance": res.provenance}
