"""Care-message drafts: personalised, channel-sized, every personal detail traced to its source.

**A human sends; Guanxi only drafts.** Nothing here sends an SMS, a WeChat message or an e-mail,
and no send function exists anywhere in Guanxi: drafts are returned (or written to a CSV) for a
person to review, edit and send.

``draft_care_message(ws_or_tables, customer_id, occasion, ...) -> Draft``

* occasions: ``birthday``, ``festival`` (春节, 中秋, 国庆, 元旦 / New Year, Christmas and the
  other festivals of :data:`tools.care.FESTIVALS`), ``winback`` (at-risk customer),
  ``complaint_followup`` (uses that complaint's status and resolution: open → apology and what
  happens next; resolved → the resolution and a satisfaction check), ``vip_thanks``,
  ``recommendation`` (products from the association rules, ``tools.association.recommend_for_customer``).
* personalised from the customer's data: form of address (王女士 / 欧阳先生 from surname + gender,
  the full name for a playful tone or a customer under 30; "Dear Ms. Chen" / first name in
  English), RFM segment (only positive ones are ever shown: "忠实顾客"), last purchase and
  favourite category (orders), recommended products (rules), complaint status / resolution
  (feedback), an offer (offer list).
* ``sources``: one ``{detail, value, source}`` per personal detail that appears in the text.
* channels: ``sms`` — one segment: 160 GSM-7 characters, or 70 UCS-2 characters when any
  character is outside GSM-7 (any Chinese); ``wechat`` — ≤ 300 characters; ``email`` — with a
  subject. Optional parts are dropped (never cut mid-word) until the draft fits; the sign-off
  【brand】 is always inside the limit.
* language ``zh`` / ``en`` / ``auto`` (Latin-script name → en); tone ``warm`` / ``formal`` /
  ``playful`` (a complaint follow-up is never playful). Several templates per occasion × tone ×
  language, picked by a hash of the customer id: varied across customers, reproducible.
* offers and discounts come **only** from ``WORKSPACE/offers.toml`` (:func:`load_offers`);
  with no offer list there is no offer sentence at all.
* complaint text is data, never instructions: a draft refers to a complaint only by its date and
  a topic from a fixed list (物流, 质量 ...), and to a resolution only by a fixed phrase
  (已为您办理退款 ...); the customer's words are never copied.

Offer list (``WORKSPACE/offers.toml``)::

    brand = "Guanxi 商城"                # sign-off 【brand】 (default "Guanxi 商城")
    brand_en = "Guanxi"                  # sign-off of English drafts (default: brand without CJK)
    sms_opt_out_zh = "回T退订"            # added to marketing SMS ("" = none)
    sms_opt_out_en = "Reply STOP to opt out"

    [[offers]]
    id = "BDAY"
    occasions = ["birthday"]             # birthday, festival, festival:<key> (e.g. festival:spring),
                                         # winback, complaint_followup, vip_thanks, recommendation
    segments = ["Champions", "Loyal"]    # optional; RFM segment (en/zh), segment_cn8 or tier
    text_zh = "生日当月下单享 9 折"
    text_en = "10% off your order this birthday month"
    valid_until = 2027-03-31             # optional; expired offers are never used

Batch: :func:`draft_batch` drafts for every customer of a segment into a CSV (contacts masked
unless ``unmask=True``).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.pii import mask_email, mask_phone
from knowledge.workspace import Workspace
from tools.care import FESTIVALS, Festival, festival_date, is_at_risk, is_latin_name, is_vip, resolve_festival
from tools.results import plain, provenance, resolve_as_of, to_jsonable

__all__ = [
    "OCCASIONS", "CHANNELS", "TONES", "DEFAULT_BRAND", "Offer", "OfferList", "load_offers", "write_demo_offers",
    "Draft", "CareData", "care_data", "draft_care_message", "draft_batch", "draft_care_message_tool",
    "sms_length", "address_form", "surname_of",
]

OCCASIONS = ("birthday", "festival", "winback", "complaint_followup", "vip_thanks", "recommendation")
CHANNELS = ("sms", "wechat", "email")
TONES = ("warm", "formal", "playful")
LANGUAGES = ("zh", "en", "auto")
DEFAULT_BRAND = "Guanxi 商城"
OFFERS_FILE = "offers.toml"
WECHAT_LIMIT = 300
SUBJECT_LIMIT = 60
_OCCASION_ALIASES = {
    "birthday": "birthday", "生日": "birthday", "bday": "birthday",
    "festival": "festival", "节日": "festival", "holiday": "festival",
    "winback": "winback", "win_back": "winback", "win-back": "winback", "挽回": "winback", "召回": "winback",
    "complaint_followup": "complaint_followup", "complaint": "complaint_followup", "followup": "complaint_followup",
    "complaint-followup": "complaint_followup", "投诉回访": "complaint_followup", "回访": "complaint_followup",
    "vip_thanks": "vip_thanks", "vip": "vip_thanks", "thanks": "vip_thanks", "感谢": "vip_thanks",
    "recommendation": "recommendation", "recommend": "recommendation", "推荐": "recommendation",
    "regular": "recommendation",
}


# ===================================================================================== SMS
_GSM7_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXT = set("^{}\\[~]|€\f")


def sms_length(text: str) -> tuple[str, int, int]:
    """(encoding, length in that encoding, single-SMS limit): ("GSM-7", septets, 160) when every
    character is GSM-7 (extension characters count 2), else ("UCS-2", UTF-16 units, 70)."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXT for ch in text):
        return "GSM-7", len(text) + sum(ch in _GSM7_EXT for ch in text), 160
    return "UCS-2", len(text.encode("utf-16-le")) // 2, 70


def _measure(text: str, channel: str) -> tuple[int, int | None, str | None]:
    """(length, limit, encoding) of a draft body on a channel."""
    if channel == "sms":
        enc, n, limit = sms_length(text)
        return n, limit, enc
    if channel == "wechat":
        return len(text), WECHAT_LIMIT, None
    return len(text), None, None


# ===================================================================================== offers
@dataclass(frozen=True)
class Offer:
    """One configured offer. ``occasions``: occasion names or ``festival:<key>``; ``segments``
    (empty = every customer): RFM segment (en/zh), segment_cn8 or tier names."""
    id: str
    occasions: tuple[str, ...]
    text_zh: str
    text_en: str
    segments: tuple[str, ...] = ()
    valid_until: _dt.date | None = None
    valid_from: _dt.date | None = None

    def matches(self, occasion: str, festival: str | None, segment_names: set[str], as_of) -> bool:
        day = pd.Timestamp(as_of).date()
        if self.valid_until is not None and day > self.valid_until:
            return False
        if self.valid_from is not None and day < self.valid_from:
            return False
        occ_ok = False
        for o in self.occasions:
            o = str(o).strip()
            if o in ("*", "all", "any"):
                occ_ok = True
            elif o.startswith("festival:") or (occasion == "festival" and o not in OCCASIONS and o != "festival"):
                try:
                    occ_ok |= occasion == "festival" and festival is not None and resolve_festival(o).key == festival
                except GuanxiError:
                    pass
            elif _OCCASION_ALIASES.get(o.lower(), o) == occasion:
                occ_ok = True
        if not occ_ok:
            return False
        if self.segments:
            wanted = {_seg_norm(s) for s in self.segments}
            return bool(wanted & {_seg_norm(s) for s in segment_names})
        return True


def _seg_norm(s: object) -> str:
    return re.sub(r"[\s_\-'’]+", "", str(s)).lower()


@dataclass
class OfferList:
    """The offer list and brand settings from ``offers.toml`` (empty when there is no file)."""
    offers: list[Offer] = field(default_factory=list)
    brand: str = DEFAULT_BRAND
    brand_en: str | None = None
    sms_opt_out_zh: str = "回T退订"
    sms_opt_out_en: str = "Reply STOP to opt out"
    path: str | None = None
    configured: bool = False

    @property
    def brand_for_en(self) -> str:
        if self.brand_en:
            return self.brand_en
        latin = re.sub(r"[\u3000-\u9fff\uff00-\uffef]+", " ", self.brand).strip()
        return re.sub(r"\s+", " ", latin) or "Guanxi"

    def match(self, occasion: str, festival: str | None, segment_names: set[str], as_of) -> tuple[Offer | None, list[str]]:
        """The first offer in file order that fits; and notes on expired ones that would have."""
        notes = []
        for o in self.offers:
            if o.matches(occasion, festival, segment_names, as_of):
                return o, notes
            if o.valid_until is not None and Offer(o.id, o.occasions, o.text_zh, o.text_en, o.segments).matches(
                    occasion, festival, segment_names, as_of):
                notes.append(f"offer {o.id} expired on {o.valid_until.isoformat()}: not used")
        return None, notes


def _as_date(v, where: str) -> _dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, _dt.date):
        return v
    try:
        return pd.Timestamp(str(v)).date()
    except (ValueError, TypeError):
        raise GuanxiError(f"{where}: not a date: {v!r} (use YYYY-MM-DD)") from None


def _as_tuple(v) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return tuple(x.strip() for x in re.split(r"[,;，；]", v) if x.strip())
    return tuple(str(x).strip() for x in v if str(x).strip())


def _parse_offers(data: dict, where: str) -> OfferList:
    ol = OfferList(path=where, configured=True)
    for key in ("brand", "brand_en", "sms_opt_out_zh", "sms_opt_out_en"):
        if key in data:
            setattr(ol, key, str(data[key]))
    if not ol.brand.strip():
        ol.brand = DEFAULT_BRAND
    items = data.get("offers", [])
    if not isinstance(items, list):
        raise GuanxiError(f"{where}: 'offers' must be a list of [[offers]] tables")
    seen = set()
    for i, o in enumerate(items):
        if not isinstance(o, dict):
            raise GuanxiError(f"{where}: offer #{i + 1} is not a table")
        oid = str(o.get("id") or f"offer{i + 1}")
        if oid in seen:
            raise GuanxiError(f"{where}: duplicate offer id {oid!r}")
        seen.add(oid)
        occ = _as_tuple(o.get("occasions", o.get("occasion")))
        if not occ:
            raise GuanxiError(f"{where}: offer {oid!r} needs 'occasions' (e.g. [\"birthday\"])")
        tz, te = str(o.get("text_zh") or "").strip(), str(o.get("text_en") or "").strip()
        if not tz and not te:
            raise GuanxiError(f"{where}: offer {oid!r} needs text_zh and/or text_en")
        ol.offers.append(Offer(oid, occ, tz, te, _as_tuple(o.get("segments", o.get("segment"))),
                               _as_date(o.get("valid_until"), f"{where}: offer {oid!r} valid_until"),
                               _as_date(o.get("valid_from"), f"{where}: offer {oid!r} valid_from")))
    return ol


def load_offers(source=None) -> OfferList:
    """The offer list from a Workspace (``WORKSPACE/offers.toml``), a folder, a .toml path, a dict
    (the TOML's content), a list of offer dicts, or None / no file → an empty list (no offers)."""
    if source is None:
        return OfferList()
    if isinstance(source, OfferList):
        return source
    if isinstance(source, dict):
        return _parse_offers(source, "offers")
    if isinstance(source, (list, tuple)):
        if source and all(isinstance(o, Offer) for o in source):
            return OfferList(offers=list(source), path="offers", configured=True)
        return _parse_offers({"offers": list(source)}, "offers")
    path = source.root / OFFERS_FILE if isinstance(source, Workspace) else Path(source)
    if path.is_dir():
        path = path / OFFERS_FILE
    if not path.is_file():
        return OfferList()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise GuanxiError(f"{path}: not a valid TOML file ({e})") from None
    return _parse_offers(data, str(path))


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def write_demo_offers(ws: Workspace | str | Path, as_of=None) -> Path:
    """Write an example ``offers.toml`` into the workspace (valid for about 6 months from the
    workspace's as-of date) and return its path. The demo pipeline calls this; real deployments
    edit the file: drafts quote offers only from it."""
    ws = ws if isinstance(ws, Workspace) else Workspace(ws)
    if as_of is None:
        try:
            as_of = ws.as_of() if ws.is_built() else pd.Timestamp.today().normalize()
        except Exception:  # noqa: BLE001 - an unreadable table must not stop the demo build
            as_of = pd.Timestamp.today().normalize()
    as_of = pd.Timestamp(as_of)
    until = (as_of + pd.offsets.MonthEnd(6)).date().isoformat()
    offers = [
        ("BDAY-GIFT", ["birthday"], [], "生日当月下单享 9 折", "Enjoy 10% off one order in your birthday month"),
        ("SPRING-FESTIVAL", ["festival:spring", "festival:lantern"], [], "新春期间全场满 300 减 30",
         "Get ¥30 off orders over ¥300 during the Spring Festival"),
        ("MID-AUTUMN", ["festival:mid_autumn", "festival:national_day"], [], "节日期间全场满 200 减 20",
         "Get ¥20 off orders over ¥200 during the holiday"),
        ("NEW-YEAR", ["festival:new_year", "festival:christmas"], [], "新年期间下单享 95 折",
         "Enjoy 5% off your order over the New Year"),
        ("WINBACK-COUPON", ["winback"], [], "送您一张 50 元回归券，30 天内有效",
         "Here is a ¥50 welcome-back coupon, valid for 30 days"),
        ("VIP-SHIPPING", ["vip_thanks"], ["Champions", "Loyal", "高价值客户"], "贵宾专享全年免运费",
         "Enjoy free shipping on every order this year"),
    ]
    lines = [
        "# Guanxi care-message offers (demo). Drafts quote offers ONLY from this file:",
        "# with no file, or no matching and valid offer, a draft has no offer sentence at all.",
        "# Keys of an offer: id, occasions (birthday, festival, festival:<key>, winback,",
        "# complaint_followup, vip_thanks, recommendation), segments (optional: RFM segment en/zh,",
        "# segment_cn8 or tier), text_zh, text_en, valid_until (YYYY-MM-DD), valid_from (optional).",
        "# Festival keys: " + ", ".join(f"{f.key} ({f.zh})" for f in FESTIVALS),
        "",
        f"brand = {_toml_str(DEFAULT_BRAND)}",
        'brand_en = "Guanxi"',
        'sms_opt_out_zh = "回T退订"',
        'sms_opt_out_en = "Reply STOP to opt out"',
    ]
    for oid, occ, segs, tz, te in offers:
        lines += ["", "[[offers]]", f"id = {_toml_str(oid)}",
                  "occasions = [" + ", ".join(_toml_str(o) for o in occ) + "]"]
        if segs:
            lines.append("segments = [" + ", ".join(_toml_str(s) for s in segs) + "]")
        lines += [f"text_zh = {_toml_str(tz)}", f"text_en = {_toml_str(te)}", f"valid_until = {until}"]
    ws.root.mkdir(parents=True, exist_ok=True)
    path = ws.root / OFFERS_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ===================================================================================== data
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
    _cust: dict = field(default_factory=dict, repr=False)
    _rfm: dict | None = field(default=None, repr=False)
    _churn: dict | None = field(default=None, repr=False)
    _orders_by: dict | None = field(default=None, repr=False)
    _cid_col: pd.Series | None = field(default=None, repr=False)
    _prof: dict = field(default_factory=dict, repr=False)
    _fb_cid: pd.Series | None = field(default=None, repr=False)
    _shared: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if "customer_id" not in self.customers.columns or "name" not in self.customers.columns:
            raise GuanxiError("drafts: the customers table needs customer_id and name columns")
        if not self._cust:
            c = self.customers.copy()
            c["customer_id"] = c["customer_id"].astype(str)
            self._cust = {r["customer_id"]: r for r in c.drop_duplicates("customer_id").to_dict(orient="records")}
        self.as_of = resolve_as_of(self.orders, self.as_of)

    def customer(self, customer_id) -> dict:
        cid = str(customer_id or "").strip()
        if cid in self._cust:
            return self._cust[cid]
        up = {k.upper(): k for k in self._cust}
        if cid.upper() in up:
            return self._cust[up[cid.upper()]]
        raise GuanxiError(f"no customer {customer_id!r} in the {self.label}")

    def rfm_row(self, cid: str) -> dict | None:
        if self.rfm is None:
            return None
        if self._rfm is None:
            self._rfm = {str(r["customer_id"]): r for r in self.rfm.to_dict(orient="records")}
        return self._rfm.get(cid)

    def churn_row(self, cid: str) -> dict | None:
        if self.churn is None:
            return None
        if self._churn is None:
            self._churn = {str(r["customer_id"]): r for r in self.churn.to_dict(orient="records")}
        return self._churn.get(cid)

    _ORDER_COLS = ("order_id", "order_date", "product_name", "category", "amount")

    def index_orders(self) -> None:
        """Group the order lines by customer once (batch drafting)."""
        if self._orders_by is None:
            o = self.orders
            cols = [c for c in self._ORDER_COLS if c in o.columns]
            arrays = [o[c].tolist() for c in cols]
            by: dict[str, list[dict]] = {}
            for cid, *vals in zip(o["customer_id"].astype(str).tolist(), *arrays):
                by.setdefault(cid, []).append(dict(zip(cols, vals)))
            self._orders_by = by

    def order_rows(self, cid: str) -> list[dict]:
        """The customer's order lines as dicts (order_id, order_date, product_name, category, amount)."""
        if self._orders_by is not None:
            return self._orders_by.get(cid, [])
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
            if _clean(lp.get("product_name")):
                last = (str(lp["product_name"]), lp["_d"], str(lp.get("order_id")))
            stats: dict[str, list] = {}
            for r in rows:
                c = _clean(r.get("category"))
                if c is not None:
                    st = stats.setdefault(c, [0, 0.0])
                    st[0] += 1
                    st[1] += r["_a"]
            if stats:
                c = min(stats, key=lambda k: (-stats[k][0], -stats[k][1], k))
                fav = (c, stats[c][0], len(rows))
        bought = {str(r["product_name"]) for r in rows if _clean(r.get("product_name"))}
        self._prof[cid] = {"last": last, "fav": fav, "bought": bought, "n": len(rows), "recs": None}
        return self._prof[cid]

    def recommendations(self, cid: str, top: int = 3) -> list[dict]:
        """Products for the customer (memoised), as ``recommend_products`` does: consequents of the
        association rules whose antecedents the customer bought, topped up with the best sellers
        (by sales) of the customer's favourite category that they have not bought."""
        prof = self.purchases(cid)
        if prof["recs"] is None:
            recs = _recommend(self.rules, prof["bought"], top)
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
            if len(o) and {"product_name", "category", "amount"} <= set(o.columns):
                g = o.groupby(["category", "product_name"], sort=False)["amount"].sum()
                for (cat, name), amt in sorted(g.items(), key=lambda t: (str(t[0][0]), -float(t[1]), str(t[0][1]))):
                    out.setdefault(str(cat), []).append((str(name), round(float(amt), 2)))
            self._shared["best_sellers"] = out
        return self._shared["best_sellers"]


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
            cache["data"] = CareData(
                ws.table("customers"), ws.table("orders"), ws.table("feedback"),
                _df_or_none(ws.artefact("rfm")), _df_or_none(ws.artefact("churn")),
                _df_or_none(ws.artefact("rules_product")), load_offers(ws), ws_as_of, f"workspace {ws.root}")
        base: CareData = cache["data"]
        base.rfm_row(""), base.churn_row("")  # build the lookups once, share them
        if base._cid_col is None:
            base._cid_col = base.orders["customer_id"].astype(str)
        if base._fb_cid is None and base.feedback is not None and "customer_id" in base.feedback.columns:
            base._fb_cid = base.feedback["customer_id"].astype(str)
        # the offer list is re-read on every call (a small file a manager may edit at any time)
        d = CareData(base.customers, base.orders, base.feedback, base.rfm, base.churn, base.rules,
                     load_offers(ws) if offers is None else load_offers(offers),
                     base.as_of if as_of is None else pd.Timestamp(as_of), base.label,
                     base._cust, base._rfm, base._churn, base._orders_by, base._cid_col, {}, base._fb_cid,
                     base._shared)
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


# ===================================================================================== names
COMPOUND_SURNAMES = (
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯",
    "轩辕", "令狐", "钟离", "澹台", "公冶", "太史", "申屠", "端木", "独孤", "南宫", "西门", "百里", "呼延",
    "万俟", "闻人", "赫连", "司空", "濮阳", "淳于", "单于", "仲孙", "宗政", "拓跋", "第五", "东郭", "羊舌",
    "微生", "梁丘", "左丘", "乐正", "谷梁", "公羊", "亓官", "段干", "巫马", "公西", "漆雕", "壤驷", "夹谷",
)


def surname_of(name: str) -> str | None:
    """The surname of a Chinese name (compound surnames such as 欧阳, 司马, 诸葛 recognised);
    None for names with '·' (transliterated) or Latin script."""
    n = str(name or "").strip()
    if not n or is_latin_name(n) or "·" in n or "•" in n:
        return None
    for s in COMPOUND_SURNAMES:
        if n.startswith(s) and len(n) >= 3:
            return s
    return n[0]


def _age(birthday, as_of) -> int | None:
    if birthday is None or pd.isna(birthday):
        return None
    b, a = pd.Timestamp(birthday), pd.Timestamp(as_of)
    return a.year - b.year - ((a.month, a.day) < (b.month, b.day))


def address_form(name: str, gender, language: str, tone: str, age: int | None = None) -> tuple[str, str]:
    """(how the customer is addressed, the rule used). zh: 王女士 / 欧阳先生 (surname + gender),
    the full name when playful, under 30 (warm) or gender unknown; en: "Ms. Chen" (formal),
    the first name (warm / playful); Chinese names keep their characters in English."""
    name = str(name).strip()
    g = str(gender or "").strip().upper()[:1]
    if language == "zh":
        sur = surname_of(name)
        if tone == "playful" or sur is None or g not in ("F", "M") or (tone == "warm" and age is not None and age < 30):
            return name, "full name"
        return sur + ("女士" if g == "F" else "先生"), f"surname {sur} + gender {g}"
    if not is_latin_name(name):
        return name, "full name"
    parts = name.split()
    if tone == "formal":
        if len(parts) >= 2 and g in ("F", "M"):
            return f"{'Ms.' if g == 'F' else 'Mr.'} {parts[-1]}", f"title from gender {g} + surname {parts[-1]}"
        return name, "full name"
    return parts[0], "first name"


# ===================================================================================== topics
# A complaint is referred to only by one of these fixed topics, never by its words.
_TOPICS = (
    ("logistics", "物流", "delivery", ("物流", "快递", "配送", "送货", "发货", "到货", "派送", "运输", "签收",
                                         "delivery", "deliver", "shipping", "shipped", "courier", "parcel", "arrive")),
    ("quality", "商品质量", "product quality", ("质量", "破损", "坏了", "损坏", "瑕疵", "故障", "假货", "做工", "次品",
                                               "quality", "broken", "defect", "faulty", "damaged", "fake")),
    ("refund", "退换货", "return and refund", ("退款", "退货", "换货", "退钱", "refund", "return", "exchange")),
    ("service", "服务", "service", ("客服", "态度", "服务", "不回复", "没人理", "service", "rude", "support", "staff",
                                     "agent")),
    ("price", "价格", "pricing", ("价格", "降价", "差价", "价保", "太贵", "price", "overcharg", "expensive")),
    ("payment", "支付", "payment", ("扣款", "支付", "付款", "发票", "账单", "payment", "charged", "invoice",
                                     "billing")),
)
_RESOLUTIONS = (
    ("refund", "已为您办理退款", "we have issued your refund", ("退款", "退钱", "返还", "refund")),
    ("replace", "已为您更换商品", "we have replaced the item", ("换货", "更换", "换新", "replace", "exchange")),
    ("reship", "已为您补发商品", "we have sent the item again", ("补发", "重发", "resend", "reship", "re-sent")),
    ("repair", "已为您安排维修", "we have arranged a repair", ("维修", "修理", "repair")),
    ("compensate", "已为您安排补偿", "we have arranged compensation",
     ("补偿", "赔偿", "券", "积分", "返现", "compensat", "voucher", "coupon", "credit")),
    ("explain", "已为您核实并说明情况", "we have looked into it and explained the situation",
     ("解释", "说明", "核实", "致歉", "道歉", "explain", "apolog", "clarif", "checked")),
)


def _classify(text: object, table) -> tuple | None:
    s = str(text or "").lower()
    best, hits = None, 0
    for row in table:
        n = sum(1 for kw in row[-1] if kw in s)
        if n > hits:
            best, hits = row, n
    return best


# ===================================================================================== templates
# TEMPLATES[occasion][lang][tone] = variants of (greeting, core, closing).
# {a}: form of address; {you}: 您/你; {fest}/{wish}: festival name / wish; complaint parts separate.
_G = {
    "zh": {"formal": ("尊敬的{a}，", "{a}您好，"), "warm": ("亲爱的{a}，", "{a}，您好！"), "playful": ("嗨，{a}！", "{a}～")},
    "en": {"formal": ("Dear {a},", "Dear {a},"), "warm": ("Dear {a},", "Hi {a},"), "playful": ("Hi {a}!", "Hey {a}!")},
}
TEMPLATES: dict[str, dict[str, dict[str, list[tuple[str, str, str]]]]] = {
    "birthday": {
        "zh": {
            "warm": [(0, "祝您生日快乐！愿新的一岁平安喜乐。", "感谢有您。"),
                     (1, "今天是您的生日，祝您生日快乐、万事顺意！", "愿您天天开心。"),
                     (0, "生日快乐！愿您新的一岁健康快乐。", "谢谢您一直以来的陪伴。")],
            "formal": [(0, "值此生日之际，谨祝您生日快乐、身体健康。", "感谢您一直以来的支持。"),
                       (1, "恭祝您生日快乐，万事如意。", "感谢您的信任。")],
            "playful": [(0, "生日快乐呀！新的一岁也要开开心心！", "爱你哟～"),
                        (1, "叮！生日快乐！愿你天天好心情！", "今天你最大！")],
        },
        "en": {
            "warm": [(0, "Happy birthday! Wishing you a wonderful year ahead.", "Thank you for being with us."),
                     (1, "Warmest wishes on your birthday!", "Have a lovely day."),
                     (0, "Happy birthday from all of us!", "We hope your day is full of joy.")],
            "formal": [(0, "On your birthday, please accept our best wishes for health and happiness.",
                        "Thank you for your continued trust."),
                       (1, "We wish you a very happy birthday.", "Thank you for your support.")],
            "playful": [(0, "Happy birthday! Time to celebrate!", "Enjoy every minute!"),
                        (1, "It's your day! Happy birthday!", "Have a blast!")],
        },
    },
    "festival": {
        "zh": {
            "warm": [(0, "{wish}！", "感谢您一直以来的陪伴。"),
                     (1, "{fest}来临，祝您{wish}！", "感谢有您。")],
            "formal": [(0, "值此{fest}之际，谨祝您{wish}。", "感谢您一直以来的支持。"),
                       (1, "{fest}来临，恭祝您及家人{wish}。", "感谢您的信任与支持。")],
            "playful": [(0, "{fest}到啦！祝你{wish}！", "节日也要好好犒劳自己哦～"),
                        (1, "{wish}！", "假期愉快，吃好玩好～")],
        },
        "en": {
            "warm": [(0, "{wish}!", "Thank you for being with us."),
                     (1, "Warmest wishes to you and your family: {wish}!", "Thank you for your support.")],
            "formal": [(0, "On the occasion of {fest}, please accept our warmest wishes.",
                        "Thank you for your continued trust."),
                       (1, "{wish}. We wish you and your family every happiness.", "Thank you for your support.")],
            "playful": [(0, "{wish}!", "Have a great time!"),
                        (1, "It's {fest}! {wish}!", "Enjoy the holiday!")],
        },
    },
    "winback": {
        "zh": {
            "warm": [(0, "好久不见，我们很想念您！", "期待您的回来。"),
                     (1, "有一阵子没见到您了，一切都好吗？", "欢迎随时回来看看。")],
            "formal": [(0, "感谢您曾经的支持，我们一直期待再次为您服务。", "诚挚期待您的再次光临。"),
                       (1, "许久未见，诚挚问候。", "期待再次为您服务。")],
            "playful": [(0, "好久不见，想你啦！", "快回来看看吧～"),
                        (1, "好久没见到你啦！", "我们一直在等你哦～")],
        },
        "en": {
            "warm": [(0, "We haven't seen you for a while and we miss you!", "We'd love to welcome you back."),
                     (1, "It's been a while. We hope all is well!", "Come back and see us any time.")],
            "formal": [(0, "Thank you for your past support. We look forward to serving you again.",
                        "We hope to welcome you back soon."),
                       (1, "It has been some time since your last visit.", "We would be glad to serve you again.")],
            "playful": [(0, "Long time no see! We miss you!", "Come say hi!"),
                        (1, "Where have you been? We miss you!", "Pop back in soon!")],
        },
    },
    "vip_thanks": {
        "zh": {
            "warm": [(0, "感谢您一直以来的信任与支持！", "有您真好。"),
                     (1, "谢谢您一路相伴！", "我们会继续用心为您服务。")],
            "formal": [(0, "衷心感谢您长期以来的信任与支持。", "我们将继续竭诚为您服务。"),
                       (1, "承蒙您一直以来的厚爱，谨致诚挚谢意。", "期待继续为您服务。")],
            "playful": [(0, "谢谢你一直都在！", "比心～"),
                        (1, "感谢一路有你！", "爱你哟～")],
        },
        "en": {
            "warm": [(0, "Thank you for your trust and support!", "It means a lot to us."),
                     (1, "Thank you for being with us all this time!", "We're glad to have you.")],
            "formal": [(0, "We sincerely thank you for your continued trust and support.",
                        "We look forward to serving you."),
                       (1, "Please accept our heartfelt thanks for your loyalty.", "It is a privilege to serve you.")],
            "playful": [(0, "You're the best! Thanks for sticking with us!", "High five!"),
                        (1, "Big thanks for being awesome!", "See you soon!")],
        },
    },
    "recommendation": {
        "zh": {
            "warm": [(0, "", "期待再次为您服务。"), (1, "", "祝您购物愉快。")],
            "formal": [(0, "", "期待为您服务。"), (1, "", "感谢您的支持。")],
            "playful": [(0, "", "快来看看吧～"), (1, "", "等你来挑哦～")],
        },
        "en": {
            "warm": [(0, "", "We hope you like them."), (1, "", "Come and have a look.")],
            "formal": [(0, "", "We look forward to serving you."), (1, "", "Thank you for your support.")],
            "playful": [(0, "", "Go take a peek!"), (1, "", "Happy shopping!")],
        },
    },
    "complaint_followup": {
        "zh": {
            "warm": [(0, "", "感谢您的理解与支持。"), (1, "", "如有任何问题，欢迎随时联系我们。")],
            "formal": [(0, "", "感谢您的理解。"), (1, "", "如有疑问，敬请随时联系我们。")],
        },
        "en": {
            "warm": [(0, "", "Thank you for your patience."), (1, "", "Please reach out any time.")],
            "formal": [(0, "", "Thank you for your understanding."),
                       (1, "", "Please do not hesitate to contact us.")],
        },
    },
}
FESTIVAL_WISH = {  # key: (zh wish, en wish)
    "new_year": ("元旦快乐，新年新气象", "Happy New Year"),
    "spring": ("新春快乐，万事如意", "Happy Spring Festival and a prosperous new year"),
    "lantern": ("元宵节快乐，阖家团圆", "Happy Lantern Festival"),
    "valentines": ("情人节快乐", "Happy Valentine's Day"),
    "labour": ("劳动节快乐，假期愉快", "Happy Labour Day"),
    "dragon_boat": ("端午安康", "Wishing you a healthy and happy Dragon Boat Festival"),
    "qixi": ("七夕快乐", "Happy Qixi Festival"),
    "mid_autumn": ("中秋快乐，阖家团圆", "Happy Mid-Autumn Festival"),
    "national_day": ("国庆快乐，假期愉快", "Happy National Day"),
    "double11": ("双11快乐", "Happy Singles' Day"),
    "christmas": ("圣诞快乐", "Merry Christmas"),
}
FESTIVAL_EN_IN_TEXT = {
    "new_year": "the New Year", "spring": "the Spring Festival", "lantern": "the Lantern Festival",
    "valentines": "Valentine's Day", "labour": "Labour Day", "dragon_boat": "the Dragon Boat Festival",
    "qixi": "the Qixi Festival", "mid_autumn": "the Mid-Autumn Festival", "national_day": "National Day",
    "double11": "Singles' Day", "christmas": "Christmas",
}
SUBJECTS = {
    "birthday": ("{a}，祝您生日快乐", "Happy birthday, {a}!"),
    "festival": ("{fest}快乐", "{wish}"),
    "winback": ("{a}，好久不见", "We miss you, {a}"),
    "complaint_followup": ("关于您{d}的反馈", "About your feedback of {d}"),
    "vip_thanks": ("感谢有您，{a}", "Thank you, {a}"),
    "recommendation": ("为您推荐", "Picked for you, {a}"),
}
# Optional / occasion parts (zh uses {you}: 您, or 你 when playful).
PARTS = {
    "zh": {
        "segment_top": "{you}是我们最珍视的贵宾。",
        "segment_loyal": "{you}是我们的忠实顾客。",
        "last_purchase.winback": "{you}{date}购买的{product}用得还好吗？",
        "last_purchase.vip_thanks": "希望{you}{date}购买的{product}用得称心。",
        "last_purchase.birthday": "感谢{you}{date}选购{product}。",
        "last_purchase.recommendation": "感谢{you}{date}购买{product}。",
        "last_purchase": "感谢{you}{date}购买{product}。",
        "favourite.winback": "{you}喜欢的{cat}，欢迎随时回来逛逛。",
        "favourite.recommendation": "也欢迎逛逛{you}常买的{cat}。",
        "favourite": "欢迎常来逛逛{you}喜欢的{cat}。",
        "recs": "根据{you}的购买记录，推荐{you}看看：{products}。",
        "recs.short": "推荐{you}看看：{products}。",
        "ref.topic": "关于{you}{date}反馈的{topic}问题，",
        "ref": "关于{you}{date}的反馈，",
        "open.warm": "非常抱歉给您带来不便，我们已安排专人跟进，会尽快与您联系。",
        "open.formal": "对此我们深表歉意，专员正在跟进处理，将尽快与您联系。",
        "resolved.warm": "{resolution}，请问您对处理结果还满意吗？",
        "resolved.formal": "{resolution}，不知您对处理结果是否满意？",
        "offer": "{offer}。",
        "ref.short": "关于{you}{date}的反馈，",
        "open.short": "我们深表歉意，将尽快跟进。",
        "resolved.short": "{resolution}，请问{you}满意吗？",
    },
    "en": {
        "segment_top": "You are one of our most valued customers.",
        "segment_loyal": "You are one of our most loyal customers.",
        "last_purchase.winback": "How are you finding the {product} you bought on {date}?",
        "last_purchase.vip_thanks": "We hope you are enjoying the {product} you bought on {date}.",
        "last_purchase": "Thank you for buying {product} on {date}.",
        "favourite.winback": "Your favourite {cat} is waiting for you.",
        "favourite.recommendation": "Come and browse {cat}, one of your favourites.",
        "favourite": "Drop by {cat}, one of your favourites, any time.",
        "recs": "Based on your purchases, you may like: {products}.",
        "recs.short": "You may like: {products}.",
        "ref.topic": "About the {topic} issue you reported on {date}:",
        "ref": "About your feedback of {date}:",
        "open.warm": "We are very sorry for the trouble. A colleague is following it up and will contact you soon.",
        "open.formal": "We sincerely apologise. A specialist is handling it and will contact you shortly.",
        "resolved.warm": "{resolution}. Are you happy with how it was resolved?",
        "resolved.formal": "{resolution}. We would be grateful to know whether you are satisfied with the outcome.",
        "offer": "{offer}.",
        "ref.short": "re your feedback of {date}:",
        "open.short": "we're sorry and will follow up soon.",
        "resolved.short": "{resolution}. Are you satisfied?",
    },
}
# Compact cores, used only when no full template fits (e.g. an English SMS to a Chinese name: UCS-2, 70).
SHORT_CORES = {
    "birthday": ("祝{you}生日快乐！", "Happy birthday!"),
    "festival": ("{wish}！", "{wish}!"),
    "winback": ("好久不见，期待{you}回来看看！", "We miss you! Hope to see you soon."),
    "vip_thanks": ("感谢{you}的支持！", "Thank you for your support!"),
    "recommendation": ("", ""),
    "complaint_followup": ("", ""),
}
_NO_NAME = {"zh": "您好！", "en": "Hello,"}
_MARKETING = ("winback", "recommendation")


def _part(key: str, lang: str, occasion: str | None = None) -> str:
    p = PARTS[lang]
    if occasion and f"{key}.{occasion}" in p:
        return p[f"{key}.{occasion}"]
    return p[key]


# ===================================================================================== draft
@dataclass
class Draft:
    """A care-message draft for a human to review and send (Guanxi never sends).

    ``length`` is in the channel's unit (SMS: GSM-7 septets or UCS-2 characters; otherwise
    characters) and ``limit`` the channel's limit (None for e-mail). ``sources`` list every
    personal detail in the text: ``{detail, value, source}``."""
    customer_id: str
    name: str
    occasion: str
    channel: str
    language: str
    tone: str
    text: str
    subject: str | None
    length: int
    limit: int | None
    encoding: str | None
    sources: list[dict]
    warnings: list[str]
    festival: str | None = None
    offer_id: str | None = None
    template: str = ""
    provenance: list[str] = field(default_factory=list)
    note: str = "Draft only: a person reviews and sends it; Guanxi sends nothing."

    def to_dict(self) -> dict:
        return to_jsonable(self)


@dataclass
class _P:
    key: str
    text: str
    weight: int  # 0: required; otherwise value when optional
    sources: list[dict] = field(default_factory=list)
    group: str | None = None  # at most one part per group
    block: str = "body"  # greet | body | close | optout | sign
    short: str | None = None  # shorter wording for the compact fallback


def _src(detail: str, value, source: str) -> dict:
    return {"detail": detail, "value": "" if value is None else str(value), "source": source}


def _fmt_day(d, lang: str, as_of=None) -> str:
    """"10月12日" / "Oct 12"; with the year when it is not the as-of year."""
    d = pd.Timestamp(d)
    with_year = as_of is not None and d.year != pd.Timestamp(as_of).year
    if lang == "zh":
        return (f"{d.year}年" if with_year else "") + f"{d.month}月{d.day}日"
    return f"{d:%b} {d.day}" + (f", {d.year}" if with_year else "")


def _seed(*parts) -> int:
    return int(hashlib.md5("|".join(map(str, parts)).encode("utf-8")).hexdigest()[:8], 16)


def _clean(v) -> str | None:
    v = plain(v)
    s = "" if v is None else str(v).strip()
    return s or None


def _segment_names(rfm_row) -> set[str]:
    if not rfm_row:
        return set()
    return {str(rfm_row[k]) for k in ("segment", "segment_zh", "segment_cn8", "tier", "tier_en")
            if _clean(rfm_row.get(k))}


def _resolve_occasion(occasion) -> str:
    o = str(occasion or "").strip()
    if o.startswith("festival:"):
        return "festival"
    key = _OCCASION_ALIASES.get(o.lower().replace(" ", "_"), _OCCASION_ALIASES.get(o))
    if key is None:
        raise GuanxiError(f"unknown occasion {occasion!r}; use one of {', '.join(OCCASIONS)}")
    return key


def _pick_festival(festival, occasion_raw, as_of, lang: str, warnings: list[str]) -> tuple[Festival, _dt.date, str]:
    if festival is None and str(occasion_raw or "").startswith("festival:"):
        festival = str(occasion_raw)
    if festival is not None:
        f = resolve_festival(festival)
        a = pd.Timestamp(as_of).date()
        d = festival_date(f, a.year)
        if d < a - _dt.timedelta(days=30):
            d = festival_date(f, a.year + 1)
        return f, d, "given"
    a = pd.Timestamp(as_of).date()
    cands = []
    for year in (a.year, a.year + 1):
        for f in FESTIVALS:
            if f.audience in ("all", lang):
                d = festival_date(f, year)
                if d >= a:
                    cands.append((d, f))
    d, f = min(cands, key=lambda t: (t[0], t[1].key))
    warnings.append(f"no festival given: using the next one for this customer, {f.zh} / {f.en} on {d.isoformat()}")
    return f, d, "next"


def _assemble(parts: list[_P], lang: str, channel: str) -> str:
    blocks: dict[str, list[str]] = {}
    for p in parts:
        if p.text:
            blocks.setdefault(p.block, []).append(p.text)
    j = "" if lang == "zh" else " "
    greet, body, close = (j.join(blocks.get(k, [])) for k in ("greet", "body", "close"))
    optout, sign = j.join(blocks.get("optout", [])), j.join(blocks.get("sign", []))
    if channel == "email":
        if lang == "zh" and greet.endswith("，"):
            greet = greet[:-1] + "："
        if lang == "zh" and greet.endswith("！"):
            greet = greet[:-1] + "："
        paras = [greet, body, close, sign]
        return "\n\n".join(x for x in paras[:3] if x) + ("\n\n" + sign if sign else "")
    main = j.join(x for x in (greet, body, close, optout) if x)
    if not sign:
        return main
    return main + sign if lang == "zh" else main + " " + sign


def _fit(parts: list[_P], lang: str, channel: str, optout: _P | None = None,
         marketing: bool = False) -> tuple[list[_P], str, int, bool]:
    """The most valuable selection of optional parts (at most one per group) whose text fits the
    channel's limit; the opt-out part is added (before the sign-off) when the message is
    marketing or carries an offer. Returns (kept parts, text, score, fits)."""
    optional = [p for p in parts if p.weight > 0]
    singles = [p for p in optional if p.group is None]
    groups: dict[str, list[_P]] = {}
    for p in optional:
        if p.group is not None:
            groups.setdefault(p.group, []).append(p)
    choices = [[None, p] for p in singles] + [[None, *g] for g in groups.values()]
    combos = []
    for pick in itertools.product(*choices):
        chosen = [p for p in pick if p is not None]
        combos.append((sum(p.weight for p in chosen), len(combos), chosen))
    combos.sort(key=lambda c: (-c[0], c[1]))
    last = None
    for score, _, chosen in combos:
        keep = set(map(id, chosen))
        kept = [p for p in parts if p.weight == 0 or id(p) in keep]
        if optout is not None and (marketing or any(p.key == "offer" for p in kept)):
            kept = [p for p in kept if p.block != "sign"] + [optout] + [p for p in kept if p.block == "sign"]
        text = _assemble(kept, lang, channel)
        n, limit, _ = _measure(text, channel)
        if limit is None or n <= limit:
            return kept, text, score, True
        last = (kept, text)
    return last[0], last[1], -1, False


def draft_care_message(ws_or_tables, customer_id: str, occasion: str, channel: str = "sms",
                       language: str = "auto", tone: str = "warm", festival: str | None = None,
                       feedback_id: str | None = None, offers=None, as_of=None) -> Draft:
    """Draft one care message for ``customer_id`` (a human reviews and sends it; Guanxi never sends).

    ``ws_or_tables``: a Workspace, its folder, a dict of DataFrames or a :class:`CareData`.
    ``occasion``: birthday, festival (``festival=`` 春节 / mid_autumn / Christmas …; default the
    next festival), winback, complaint_followup (``feedback_id=``; default the customer's latest
    complaint), vip_thanks, recommendation. ``channel``: sms, wechat, email. ``language``: zh,
    en, auto (Latin-script name → en). ``tone``: warm, formal, playful. ``offers``: overrides the
    workspace's ``offers.toml`` (a path, dict, list of offers, or [] for none).
    """
    data = care_data(ws_or_tables, offers=offers, as_of=as_of)
    occasion_raw = occasion
    occasion = _resolve_occasion(occasion)
    channel = str(channel or "sms").strip().lower()
    if channel in ("微信", "weixin", "wx"):
        channel = "wechat"
    if channel in ("短信", "text"):
        channel = "sms"
    if channel in ("邮件", "e-mail", "mail"):
        channel = "email"
    if channel not in CHANNELS:
        raise GuanxiError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    tone = str(tone or "warm").strip().lower()
    if tone not in TONES:
        raise GuanxiError(f"unknown tone {tone!r}; use one of {', '.join(TONES)}")
    language = str(language or "auto").strip().lower()
    if language not in LANGUAGES:
        raise GuanxiError(f"unknown language {language!r}; use one of zh, en, auto")

    cust = data.customer(customer_id)
    cid = str(cust["customer_id"])
    name = str(cust["name"]).strip()
    warnings: list[str] = []
    lang = ("en" if is_latin_name(name) else "zh") if language == "auto" else language
    if occasion == "complaint_followup" and tone == "playful":
        tone = "warm"
        warnings.append("a complaint follow-up is never playful: warm tone used")
    rfm_row, churn_row = data.rfm_row(cid), data.churn_row(cid)
    as_of = data.as_of
    you = "你" if tone == "playful" else "您"
    cust_src = f"customers table (customer_id={cid})"
    sources_base: list[dict] = []

    # ---- form of address
    gender = _clean(cust.get("gender"))
    age = _age(cust.get("birthday"), as_of)
    addr, rule = address_form(name, gender, lang, tone, age)
    addr_src = [_src("name", name, f"{cust_src}: name")]
    if "gender" in rule or "title" in rule:
        addr_src.append(_src("gender", gender, f"{cust_src}: gender"))
    if rule == "full name" and tone == "warm" and lang == "zh" and age is not None and age < 30 and gender:
        addr_src.append(_src("age", age, f"{cust_src}: birthday (full name used for customers under 30)"))
    addr_src.append(_src("form of address", addr, f"{rule} ({cust_src})"))

    seed = _seed(cid, occasion, lang, tone)
    variants = TEMPLATES[occasion][lang].get(tone) or TEMPLATES[occasion][lang]["warm"]
    order = [(seed + i) % len(variants) for i in range(len(variants))]

    # ---- occasion-specific facts
    fest = fest_day = None
    occasion_parts: list[_P] = []
    subject_fmt: dict = {"a": addr}
    core_fmt: dict = {"you": you}
    if occasion == "birthday":
        b = _clean(cust.get("birthday"))
        if b is None:
            warnings.append("no birthday on file for this customer")
        else:
            sources_base.append(_src("birthday", pd.Timestamp(b).strftime("%m-%d"), f"{cust_src}: birthday"))
    elif occasion == "festival":
        fest, fest_day, how = _pick_festival(festival, occasion_raw, as_of, lang, warnings)
        if fest.audience == "en" and lang == "zh":
            warnings.append(f"{fest.zh} greetings usually go to English-speaking customers")
        if fest.audience == "none":
            warnings.append(f"{fest.zh} / {fest.en} is a marketing date, not a customary greeting")
        wz, we = FESTIVAL_WISH[fest.key]
        core_fmt.update(fest=fest.zh if lang == "zh" else FESTIVAL_EN_IN_TEXT[fest.key], wish=wz if lang == "zh" else we)
        subject_fmt.update(fest=fest.zh if lang == "zh" else fest.en, wish=core_fmt["wish"])
        cal = (f"lunardate: lunar {fest.month}/{fest.day} of {fest_day.year}" if fest.calendar == "lunar"
               else f"solar {fest.month}/{fest.day}")
        sources_base.append(_src("festival", f"{fest.zh} / {fest.en} {fest_day.isoformat()}",
                                 f"tools.care festival calendar ({cal})"))
    elif occasion == "winback":
        basis = []
        if churn_row and _clean(churn_row.get("churn_probability")) is not None:
            basis.append(f"churn artefact: churn_probability={float(churn_row['churn_probability']):.2f}"
                         + (f", risk_band={churn_row.get('risk_band')}" if _clean(churn_row.get("risk_band")) else ""))
        if rfm_row and _clean(rfm_row.get("segment")):
            basis.append(f"rfm artefact: segment={rfm_row['segment']}")
        if not is_at_risk(rfm_row, churn_row):
            warnings.append("this customer is not flagged at risk (churn / RFM); win-back wording used as asked")
        sources_base.append(_src("occasion", "winback", "; ".join(basis) or "requested"))
    elif occasion == "vip_thanks":
        if not is_vip(rfm_row):
            warnings.append("this customer is not a high-value customer in the RFM table; thanks wording used as asked")
    elif occasion == "complaint_followup":
        occasion_parts += _complaint_parts(data, cid, feedback_id, lang, tone, you, warnings, subject_fmt)

    # ---- optional personal parts
    opt: list[_P] = []
    if occasion in ("vip_thanks", "birthday", "festival") and is_vip(rfm_row):
        seg = rfm_row.get("segment")
        top = (_seg_norm(seg) == "champions" or rfm_row.get("segment_cn8") == "重要价值客户"
               or rfm_row.get("tier") == "高价值客户") if seg is not None else True
        key = "segment_top" if top else "segment_loyal"
        shown = _part(key, lang).format(you=you)
        opt.append(_P("segment", shown, 10 if occasion != "vip_thanks" else 25,
                      [_src("segment", seg or rfm_row.get("tier"),
                            f"rfm artefact (customer_id={cid}): segment {seg}, tier {rfm_row.get('tier')}; "
                            f"shown as a positive phrase only")]))
    prof = data.purchases(cid)
    last, fav = prof["last"], prof["fav"]
    if last and occasion in ("winback", "vip_thanks", "recommendation"):
        t = _part("last_purchase", lang, occasion).format(you=you, date=_fmt_day(last[1], lang, as_of),
                                                          product=last[0])
        opt.append(_P("last_purchase", t, 20,
                      [_src("last purchase", f"{last[0]} ({last[1].date().isoformat()})",
                            f"orders table (customer_id={cid}, order_id={last[2]}): latest order line")]))
    if fav and occasion in ("winback", "vip_thanks", "recommendation"):
        t = _part("favourite", lang, occasion).format(you=you, cat=fav[0])
        opt.append(_P("favourite", t, 15, [_src("favourite category", fav[0],
                                                 f"orders table (customer_id={cid}): {fav[1]} of {fav[2]} "
                                                 f"order lines in this category")]))

    # ---- recommendations
    if occasion in ("recommendation", "winback"):
        recs = data.recommendations(cid)
        if recs:
            for k in (min(3, len(recs)), 2, 1):
                if k > len(recs) or (k == 3 and channel == "sms"):
                    continue
                chosen = recs[:k]
                sep = "、" if lang == "zh" else ", "
                names = sep.join(r["item"] for r in chosen)
                long = occasion == "recommendation"
                tmpl = _part("recs" if (long and k >= 1) else "recs.short", lang)
                srcs = [_src("recommended product", r["item"],
                             f"association rules (rules_product): {{{', '.join(r['because'])}}} → {{{r['item']}}}, "
                             f"confidence {r['confidence']:.2f}, lift {r['lift']:.2f}" if r["kind"] == "rule" else
                             f"orders table: best seller of the customer's favourite category {r['because'][0]} "
                             f"(sales {r['sales']:,.2f}), not bought yet") for r in chosen]
                weight = {3: 62, 2: 60, 1: 56}[k] if occasion == "recommendation" else {3: 14, 2: 13, 1: 12}[k]
                opt.append(_P(f"recs{k}", tmpl.format(you=you, products=names), weight, srcs, group="recs"))
                if long:
                    opt.append(_P(f"recs{k}.short", _part("recs.short", lang).format(you=you, products=names),
                                  weight - 1, srcs, group="recs"))
        elif occasion == "recommendation":
            warnings.append("no association rule or favourite-category best seller for this customer: "
                            "no products named")

    order_keys = (("last_purchase", "recs", "favourite", "segment") if occasion in ("recommendation", "winback")
                  else ("segment", "last_purchase", "favourite", "recs"))
    opt.sort(key=lambda p: order_keys.index(p.key.split(".")[0].rstrip("0123456789")))

    # ---- offer (only from the configured list)
    seg_names = _segment_names(rfm_row)
    offer, notes = data.offers.match(occasion, fest.key if fest else None, seg_names, as_of)
    warnings += notes
    offer_part = None
    if offer is not None:
        otext = offer.text_zh if lang == "zh" else offer.text_en
        if not otext:
            warnings.append(f"offer {offer.id} has no {lang} text: not used")
        else:
            otext = otext.rstrip("。.！!")
            offer_part = _P("offer", _part("offer", lang).format(offer=otext), 40,
                            [_src("offer", f"{offer.id}: {otext}",
                                  f"offer list {data.offers.path} (id={offer.id}"
                                  + (f", valid until {offer.valid_until.isoformat()})" if offer.valid_until else ")"))])
            opt.append(offer_part)

    # ---- brand and opt-out
    brand = data.offers.brand if lang == "zh" else data.offers.brand_for_en
    brand_src = (f"offer list {data.offers.path}: brand" if data.offers.configured
                 else "default brand (no offers.toml)")
    if channel == "email":
        sign_text = f"{brand} 敬上" if lang == "zh" else f"Best regards,\n{brand}"
    elif lang == "zh":
        sign_text = f"【{brand}】"
    else:
        sign_text = f"- {brand}"
    optout_text = (data.offers.sms_opt_out_zh if lang == "zh" else data.offers.sms_opt_out_en) \
        if channel == "sms" else ""
    if optout_text and lang == "en" and not optout_text.endswith("."):
        optout_text += "."

    # ---- build per variant, fit, choose: the full templates (hash order), then a compact
    # fallback, then the compact fallback without the name (only when nothing else fits)
    optout = _P("optout", optout_text, 0, block="optout") if optout_text else None
    sign = _P("sign", sign_text, 0, [_src("brand", brand, brand_src)], block="sign")
    plans = [("full", vi) for vi in order] + [("short", None), ("noname", None)]
    best = None
    for rank, (kind, vi) in enumerate(plans):
        if kind == "full":
            g_idx, core, close = variants[vi]
            greet = _G[lang][tone][g_idx].format(a=addr)
            parts = [_P("greet", greet, 0, addr_src, block="greet")]
            if core:
                parts.append(_P("core", core.format(**core_fmt), 0))
            parts += occasion_parts + opt
            parts.append(_P("close", close, 5, block="close"))
        else:
            greet = _G[lang][tone][0].format(a=addr) if kind == "short" else _NO_NAME[lang]
            parts = [_P("greet", greet, 0, addr_src if kind == "short" else [], block="greet")]
            core = SHORT_CORES[occasion][0 if lang == "zh" else 1].format(**core_fmt)
            if core:
                parts.append(_P("core", core, 0))
            parts += [_P(p.key, p.short or p.text, p.weight, p.sources, p.group, p.block) for p in occasion_parts]
            parts += opt
        parts.append(sign)
        kept, text, score, fits = _fit(parts, lang, channel, optout, occasion in _MARKETING)
        cand = (fits, kind != "noname", score, -rank, kept, text, f"{vi}" if kind == "full" else kind)
        if best is None or cand[:4] > best[:4]:
            best = cand
        if kind == "full" and rank == len(order) - 1 and best[0]:
            break  # a full template fits: the compact fallbacks are not needed
    if best is None:  # only when nothing at all could be assembled
        raise GuanxiError("could not assemble a draft")
    fits, named, score, _, kept, text, vi = best
    if not named:
        warnings.append("the name was left out to fit one SMS")
    if not fits:
        warnings.append("even the shortest draft is over the channel limit; shorten it by hand")
    dropped = [p.key for p in opt if all(p is not k for k in kept) and not p.key.endswith(".short")
               and p.group is None]
    if offer_part is not None and all(p is not offer_part for p in kept):
        warnings.append(f"offer {offer.id} did not fit the {channel} limit and was left out")
    if dropped and channel == "sms":
        warnings.append("left out to fit one SMS: " + ", ".join(dropped))

    # ---- subject (e-mail)
    subject = None
    if channel == "email":
        subject_fmt.setdefault("d", "")
        s_zh, s_en = SUBJECTS[occasion]
        subject = (s_zh if lang == "zh" else s_en).format(**subject_fmt)
        if len(subject) > SUBJECT_LIMIT:
            subject = (s_zh if lang == "zh" else s_en).format(**{**subject_fmt, "a": ""}).strip(" ,，")

    # ---- safety net: a draft never carries contact data
    from knowledge.pii import mask_text
    if mask_text(text) != text:
        text = mask_text(text)
        warnings.append("contact-like digits were masked in the draft")

    sources = list(sources_base)
    seen = set()
    for p in kept:
        for s in p.sources:
            k = (s["detail"], s["value"])
            if k not in seen:
                seen.add(k)
                sources.append(s)
    n, limit, enc = _measure(text, channel)
    offer_id = offer.id if offer_part is not None and any(p is offer_part for p in kept) else None
    prov = [provenance("draft_care_message", {"customers": len(data.customers), "orders": len(data.orders)},
                       as_of=as_of, customer=cid, occasion=occasion, channel=channel, language=lang, tone=tone)]
    return Draft(cid, name, occasion, channel, lang, tone, text, subject, n, limit, enc, sources, warnings,
                 fest.key if fest else None, offer_id, f"{occasion}/{lang}/{tone}/{vi}", prov)


def _recommend(rules: pd.DataFrame | None, bought: set[str], top: int = 3) -> list[dict]:
    if rules is None or not len(rules) or not bought:
        return []
    try:
        from tools.association import recommend_for_customer
        recs = recommend_for_customer(rules, bought, top=top)
    except ImportError:  # pragma: no cover - association module is part of the project
        recs = []
    return [{"item": str(r["item"]), "because": [str(x) for x in r.get("because", [])], "kind": "rule",
             "confidence": float(r.get("confidence") or 0), "lift": float(r.get("lift") or 0)} for r in recs]


def _complaint_parts(data: CareData, cid: str, feedback_id, lang: str, tone: str, you: str,
                     warnings: list[str], subject_fmt: dict) -> list[_P]:
    fb = data.feedback
    if fb is None or not len(fb):
        raise GuanxiError("complaint_followup: no feedback table")
    if feedback_id is not None:
        row = fb.loc[fb["feedback_id"].astype(str) == str(feedback_id).strip()]
        if not len(row):
            raise GuanxiError(f"complaint_followup: no feedback {feedback_id!r}")
        row = row.iloc[0].to_dict()
        if str(row.get("customer_id")) != cid:
            raise GuanxiError(f"complaint_followup: feedback {feedback_id} belongs to another customer")
    else:
        if "customer_id" not in fb.columns:
            raise GuanxiError("complaint_followup: the feedback table has no customer_id column")
        if data._fb_cid is None:
            data._fb_cid = fb["customer_id"].astype(str)
        mine = fb.loc[data._fb_cid == cid].to_dict(orient="records")
        cands = [r for r in mine if r.get("kind") in ("complaint", None) or "kind" not in r]
        if not cands:
            raise GuanxiError(f"complaint_followup: customer {cid} has no complaint on file"
                              + (f" (other feedback: {', '.join(str(r['feedback_id']) for r in mine[:5])}; "
                                 f"pass feedback_id to follow one up)" if mine else ""))
        row = max(enumerate(cands), key=lambda t: (pd.Timestamp(t[1]["created_at"]), t[0]))[1]
        warnings.append(f"no feedback_id given: using the latest complaint, {row['feedback_id']}")
    kind = _clean(row.get("kind"))
    if kind not in (None, "complaint"):
        warnings.append(f"feedback {row['feedback_id']} is a {kind}, not a complaint")
    age_days = (data.as_of - pd.Timestamp(row["created_at"]).normalize()).days
    if age_days > 90:
        warnings.append(f"this feedback is {age_days} days old; check that a follow-up still makes sense")
    fid = str(row["feedback_id"])
    fsrc = f"feedback table (feedback_id={fid})"
    created = pd.Timestamp(row["created_at"])
    date = _fmt_day(created, lang, data.as_of)
    subject_fmt["d"] = date
    topic = _classify(row.get("text"), _TOPICS)
    srcs = [_src("complaint date", created.date().isoformat(), f"{fsrc}: created_at")]
    if topic is not None:
        ref = _part("ref.topic", lang).format(you=you, date=date, topic=topic[1] if lang == "zh" else topic[2])
        srcs.append(_src("complaint topic", topic[1] if lang == "zh" else topic[2],
                         f"{fsrc}: text, matched to a fixed topic list (the customer's words are not quoted)"))
    else:
        ref = _part("ref", lang).format(you=you, date=date)
    status = str(_clean(row.get("status")) or "open").lower()
    short_ref = _part("ref.short", lang).format(you=you, date=date)
    parts = [_P("ref", ref, 0, srcs, short=short_ref)]
    t = "formal" if tone == "formal" else "warm"
    if status == "resolved":
        res_raw = _clean(row.get("resolution"))
        match = _classify(res_raw, _RESOLUTIONS) if res_raw else None
        if match is not None:
            phrase = match[1] if lang == "zh" else match[2].capitalize()
        else:
            phrase = "您反馈的问题已处理完毕" if lang == "zh" else "Your issue has been resolved"
        if lang == "zh" and tone != "formal" and you == "你":
            phrase = phrase.replace("您", "你")
        rs = [_src("complaint status", "resolved", f"{fsrc}: status")]
        # the staff's resolution text is classified, not copied (it is free text too)
        rs.append(_src("resolution", match[0] if match is not None else ("other" if res_raw else "none recorded"),
                       f"{fsrc}: resolution field, classified and shown as the fixed phrase '{phrase}'"))
        short_phrase = phrase[0].lower() + phrase[1:] if lang == "en" else phrase
        parts.append(_P("status", _part(f"resolved.{t}", lang).format(resolution=phrase), 0, rs,
                        short=_part("resolved.short", lang).format(resolution=short_phrase, you=you)))
    else:
        parts.append(_P("status", _part(f"open.{t}", lang), 0, [_src("complaint status", status, f"{fsrc}: status")],
                        short=_part("open.short", lang).format(you=you)))
    return parts


# ===================================================================================== batch
def draft_batch(ws, segment: str, occasion: str, channel: str = "sms", language: str = "auto",
                out_csv: str | Path | None = None, tone: str = "warm", festival: str | None = None,
                unmask: bool = False, offers=None, limit: int | None = None) -> Path:
    """Draft for every customer of an RFM segment (English, Chinese or eight-class name, or a tier,
    e.g. "At Risk", "有流失风险客户", "重要挽留客户", "高价值客户"; "all" = every customer) and write a
    CSV: customer_id, name, phone, email, channel, language, tone, occasion, text, subject, length,
    limit, offer_id, sources (JSON), warnings (JSON). Phones and e-mails are masked unless
    ``unmask=True``. A human reviews and sends the drafts; Guanxi sends nothing. Returns the path
    (default ``WORKSPACE/drafts/<occasion>_<segment>_<channel>.csv``)."""
    data = care_data(ws, offers=offers)
    ids = _segment_ids(data, segment)
    if limit is not None:
        ids = ids[: int(limit)]
    data.index_orders()
    rows = []
    for cid in ids:
        cust = data.customer(cid)
        try:
            d = draft_care_message(data, cid, occasion, channel=channel, language=language, tone=tone,
                                   festival=festival)
        except GuanxiError as e:  # e.g. no complaint on file: keep the row, say why
            rows.append({"customer_id": cid, "name": cust.get("name"), "phone": None, "email": None,
                         "channel": channel, "language": None, "tone": tone, "occasion": occasion, "text": "",
                         "subject": "", "length": 0, "limit": None, "offer_id": None, "sources": "[]",
                         "warnings": json.dumps([str(e)], ensure_ascii=False)})
            continue
        phone, email = _clean(cust.get("phone")), _clean(cust.get("email"))
        rows.append({
            "customer_id": cid, "name": d.name,
            "phone": phone if unmask else mask_phone(phone) if phone else None,
            "email": email if unmask else mask_email(email) if email else None,
            "channel": d.channel, "language": d.language, "tone": d.tone, "occasion": d.occasion,
            "text": d.text, "subject": d.subject or "", "length": d.length, "limit": d.limit,
            "offer_id": d.offer_id, "sources": json.dumps(d.sources, ensure_ascii=False),
            "warnings": json.dumps(d.warnings, ensure_ascii=False)})
    if out_csv is None:
        root = Path(ws.root if isinstance(ws, Workspace) else ws) if isinstance(ws, (Workspace, str, Path)) else Path(".")
        slug = re.sub(r"[^\w\u4e00-\u9fff]+", "_", str(segment)).strip("_") or "segment"
        out_csv = root / "drafts" / f"{_resolve_occasion(occasion)}_{slug}_{channel}.csv"
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    cols = ["customer_id", "name", "phone", "email", "channel", "language", "tone", "occasion", "text", "subject",
            "length", "limit", "offer_id", "sources", "warnings"]
    pd.DataFrame(rows, columns=cols).to_csv(out, index=False, encoding="utf-8-sig")
    return out


def _segment_ids(data: CareData, segment: str) -> list[str]:
    s = str(segment or "").strip()
    if s.lower() in ("all", "everyone", "全部", "所有"):
        return list(data._cust)
    if data.rfm is None:
        raise GuanxiError("batch drafting by segment needs the RFM table (build the workspace first)")
    try:
        from tools.rfm import segment_members
        members = segment_members(data.rfm, s, top=None)
        return [str(x) for x in members["customer_id"] if str(x) in data._cust]
    except GuanxiError:
        raise
    except Exception:  # noqa: BLE001 - a partial RFM table (tests): match the name columns directly
        want = _seg_norm(s)
        m = pd.Series(False, index=data.rfm.index)
        for col in ("segment", "segment_zh", "segment_cn8", "tier", "tier_en"):
            if col in data.rfm.columns:
                m |= data.rfm[col].astype(str).map(_seg_norm) == want
        if not m.any():
            raise GuanxiError(f"unknown segment {segment!r} (or no customer in it)") from None
        return [str(x) for x in data.rfm.loc[m, "customer_id"] if str(x) in data._cust]


# ===================================================================================== tool
def draft_care_message_tool(customer_id: str,
                            occasion: Literal["birthday", "festival", "winback", "complaint_followup",
                                              "vip_thanks", "recommendation"],
                            channel: Literal["sms", "wechat", "email"] = "sms",
                            language: Literal["auto", "zh", "en"] = "auto",
                            tone: Literal["warm", "formal", "playful"] = "warm",
                            festival: str | None = None, feedback_id: str | None = None,
                            *, ctx=None) -> dict:
    """Draft a care message for one customer (a person reviews and sends it; nothing is sent):
    birthday, festival greeting, win-back, complaint follow-up, VIP thanks or product
    recommendation, sized for SMS / WeChat / e-mail, with the source of every personal detail.

    Args:
        customer_id: the customer's id, e.g. C01023
        occasion: birthday, festival, winback, complaint_followup, vip_thanks or recommendation
        channel: sms (one message: 70 Chinese / 160 GSM-7 characters), wechat or email (with subject)
        language: zh, en or auto (from the customer's name)
        tone: warm, formal or playful
        festival: for occasion festival: 春节, 中秋, 国庆, 元旦, Christmas, New Year ... (default the next one)
        feedback_id: for complaint_followup: which complaint (default the customer's latest)
    """
    from tools.api import _as_of, _ctx, resolve_customer_id
    ctx = _ctx(ctx)
    ws = ctx.ws
    cid = resolve_customer_id(ws, customer_id)
    d = draft_care_message(ws, cid, occasion, channel=channel, language=language, tone=tone, festival=festival,
                           feedback_id=feedback_id, as_of=_as_of(ws))
    out = d.to_dict()
    out["provenance"] = " · ".join(d.provenance)
    return out
