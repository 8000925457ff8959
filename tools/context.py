"""What every tool wrapper shares: the `ToolContext`, the per-workspace cache, resolution of what
a user typed (customer ids and names, products and categories, segments, clusters, places),
and masking of contacts.

The analysis modules (rfm, segments, churn, clv, association, kpi, feedback, care, profile) know
nothing of this: they take DataFrames and return typed results. The tool modules
(``tools/*_tools.py``) resolve arguments here, call an analysis or read its precomputed
artefact, and return a JSON-safe dict with a ``provenance`` line. Masking is applied once more
to every result by `tools.registry.call_tool`, so no role but admin ever sees a contact.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.pii import mask_email, mask_phone, mask_text as _mask_pii
from knowledge.settings import Settings
from knowledge.text import place_key
from knowledge.workspace import Workspace, read_current
from tools.formatting import number
from tools.results import plain, row_dict, row_position  # noqa: F401  (row_*: re-exported)
from tools.spec import ROLES

__all__ = ["ToolContext", "ToolError", "workspace_for", "clear_workspace_cache", "context", "cached",
           "mask_text", "mask_deep", "mask_phone", "mask_email", "contacts", "meta_provenance",
           "customers_by_id", "orders_table", "rfm_by_id", "artefact_by_id", "row_dict", "row_position", "customer_name",
           "resolve_customer_id", "customer_basic", "match_place", "top_n", "rounded", "catalogue", "resolve_item",
           "rules_table", "resolve_segment", "resolve_cluster", "as_list"]


class ToolError(GuanxiError):
    """A tool could not answer (unknown customer, unknown segment, missing artefact ...)."""


# --------------------------------------------------------------------------- workspaces
_WS_LOCK = threading.Lock()
_WORKSPACES: dict[str, Workspace] = {}


def _stamp(ws: Workspace) -> tuple:
    out: list = [(read_current(ws.root) or {}).get("generation")]   # a newly published build
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
    user: str | None = None             # the logged-in user, where there is one (names exports)

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


def context(ctx: ToolContext | None) -> ToolContext:
    """``ctx``, or a manager's context on the default settings (a tool called from Python)."""
    return ToolContext(Settings.load()) if ctx is None else ctx


def cached(ws: Workspace, key: str, build):
    """``build()`` once per workspace object (a rebuilt workspace is a new object)."""
    store = ws.__dict__.setdefault("_api_cache", {})
    if key not in store:
        store[key] = build()
    return store[key]


# --------------------------------------------------------------------------- masking
def mask_text(text, unmasked: bool = False):
    """Mask phone numbers, e-mail addresses and ID numbers inside free text (customer feedback)."""
    if unmasked or not isinstance(text, str):
        return text
    return _mask_pii(text)


def contacts(row, ctx: ToolContext) -> dict:
    phone, email = row.get("phone"), row.get("email")
    phone = None if phone is None or pd.isna(phone) else str(phone)
    email = None if email is None or pd.isna(email) else str(email)
    if ctx.unmasked:
        return {"phone": phone, "email": email}
    return {"phone": mask_phone(phone), "email": mask_email(email)}


def mask_deep(obj, ctx: ToolContext):
    """Mask phone/e-mail fields and contacts inside free text anywhere in a nested result."""
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
                mask_deep(v, ctx)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if isinstance(v, str):
                obj[i] = mask_text(v)
            else:
                mask_deep(v, ctx)
    return obj


# --------------------------------------------------------------------------- tables and artefacts
def meta_provenance(ws: Workspace, name: str, default: str) -> str:
    """The provenance line the build recorded for artefact ``name`` (or ``default``)."""
    meta = ws.artefact("meta")
    if isinstance(meta, dict):
        p = (meta.get("provenance") or {}).get(name)
        if p:
            return f"artefacts/{name} ← {p}"
    return default


def customers_by_id(ws: Workspace) -> pd.DataFrame:
    """The customers table indexed by customer_id (str; a repeated id: its first row)."""
    def build():
        c = ws.table("customers")
        c = c.assign(customer_id=c["customer_id"].astype(str))   # copy on write: the table is not copied
        out = c.set_index("customer_id", drop=False)
        # the index's hash table answers the check and every look-up after it
        return out if out.index.is_unique else c.drop_duplicates("customer_id").set_index("customer_id", drop=False)
    return cached(ws, "customers_by_id", build)


def orders_table(ws: Workspace) -> pd.DataFrame:
    """The orders with customer_id as str and order_date as datetime."""
    def build():
        o = ws.table("orders").copy()
        o["customer_id"] = o["customer_id"].astype(str)
        o["order_date"] = pd.to_datetime(o["order_date"])
        return o
    return cached(ws, "orders", build)


def rfm_by_id(ws: Workspace) -> pd.DataFrame:
    """The RFM table (artefact, else computed) indexed by customer_id."""
    def build():
        t = ws.artefact("rfm")
        if t is None:
            from tools.rfm import rfm_table
            t = rfm_table(ws.table("orders"), as_of=ws.as_of())
        return t.assign(customer_id=t["customer_id"].astype(str)).set_index("customer_id", drop=False)
    return cached(ws, "rfm", build)


def artefact_by_id(ws: Workspace, name: str, what: str) -> pd.DataFrame:
    """A per-customer artefact indexed by customer_id; a missing one is a `ToolError`."""
    def build():
        t = ws.artefact(name)
        if t is None:
            raise ToolError(f"the workspace has no {what} yet (artefact '{name}'); "
                            f"rebuild it with `guanxi build` or `guanxi demo`")
        return t.assign(customer_id=t["customer_id"].astype(str)).set_index("customer_id", drop=False)
    return cached(ws, f"art:{name}", build)


def rules_table(ws: Workspace, level: str) -> pd.DataFrame | None:
    r = ws.artefact(f"rules_{level}")
    return r if isinstance(r, pd.DataFrame) else None


# --------------------------------------------------------------------------- customers
def _ids_upper(ws: Workspace) -> dict[str, str]:
    return cached(ws, "ids_upper", lambda: {i.upper(): i for i in customers_by_id(ws).index})


def resolve_customer_id(ws: Workspace, customer_id) -> str:
    """The canonical customer_id for an id typed in any case (or a unique name); unknown →
    `ToolError` naming close ids."""
    cid = str(customer_id or "").strip()
    if not cid:
        raise ToolError("a customer_id is required")
    cust = customers_by_id(ws)
    if cid in cust.index:
        return cid
    up = _ids_upper(ws).get(cid.upper())
    if up:
        return up
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


def customer_name(ws: Workspace, cid: str):
    cust = customers_by_id(ws)
    return plain(cust.loc[cid].get("name")) if cid in cust.index else None


def customer_basic(ws: Workspace, cid: str, ctx: ToolContext) -> dict:
    """Id, name, place, level, channel and contacts (masked unless admin) of one customer."""
    row = customers_by_id(ws).loc[cid]
    out = {"customer_id": cid, "name": plain(row.get("name"))}
    for col in ("gender", "city", "province", "level", "channel"):
        if col in row.index:
            out[col] = plain(row.get(col))
    out.update(contacts(row, ctx))
    return out


def match_place(series: pd.Series, value: str | None) -> pd.Series:
    """Rows whose province/city equals ``value`` ignoring the 省/市/自治区 suffix and case."""
    if not value:
        return pd.Series(True, index=series.index)
    v = place_key(value, fold=True)
    return series.astype(str).map(lambda s: place_key(s, fold=True)) == v


# --------------------------------------------------------------------------- arguments
def top_n(top, default: int, cap: int = 500) -> int:
    """A list length argument: a whole number ≥ 1 (default when None), capped."""
    try:
        n = int(top) if top is not None else default
    except (TypeError, ValueError):
        raise ToolError(f"top must be a whole number, got {top!r}") from None
    if n < 1:
        raise ToolError(f"top must be ≥ 1, got {n}")
    return min(n, cap)


def rounded(v, nd):
    """``v`` rounded to ``nd`` decimals; None for missing or non-finite values."""
    f = number(v)
    return None if f is None else round(f, nd)


def as_list(v) -> list[str]:
    """A list-like or a ';'-separated string as a list of strings."""
    import re
    if v is None:
        return []
    if isinstance(v, (list, tuple, np.ndarray)):
        return [str(x) for x in v]
    if isinstance(v, str):
        return [p.strip() for p in re.split(r"[;；\n]|\s\|\s", v) if p.strip()]
    return [str(v)]


# --------------------------------------------------------------------------- products, segments
def catalogue(ws: Workspace) -> dict:
    """Known product names and categories (for matching an item)."""
    def build():
        p = ws.table("products")
        names = sorted(set(p["name"].dropna().astype(str)))
        cats = sorted(set(p["category"].dropna().astype(str))) if "category" in p else []
        return {"products": names, "categories": cats}
    return cached(ws, "catalogue", build)


def resolve_item(ws: Workspace, item: str) -> tuple[str, str]:
    """('product'|'category', canonical name) for an item name; fuzzy; unknown → ToolError."""
    s = str(item or "").strip()
    if not s:
        raise ToolError("an item (product or category name) is required")
    cat = catalogue(ws)
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


def resolve_segment(segment: str) -> tuple[str, str]:
    """(rfm column, canonical value) for a segment name in any of its forms."""
    from tools.rfm import resolve_segment as rs
    try:
        return rs(segment)
    except GuanxiError as e:
        raise ToolError(str(e)) from None


def resolve_cluster(ws: Workspace, name: str):
    """The cluster id for a cluster's number or name (zh/en); None when unknown."""
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
