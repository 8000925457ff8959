"""Offers for care-message drafts: ``WORKSPACE/offers.toml``, the only place a draft's offer or
discount comes from (:mod:`tools.drafts`). With no offer list there is no offer sentence at all;
expired offers are never used.

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

:func:`load_offers` reads it (or a dict, a list of offers, a folder); :func:`write_demo_offers`
writes the demo's example list. Also here: the occasions a draft (and an offer) is for,
:data:`OCCASIONS`, with their accepted aliases (:data:`OCCASION_ALIASES`: 生日, win-back ...).
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.workspace import Workspace
from tools.care import FESTIVALS, resolve_festival

__all__ = ["OCCASIONS", "OCCASION_ALIASES", "DEFAULT_BRAND", "OFFERS_FILE", "Offer", "OfferList", "load_offers",
           "write_demo_offers", "segment_key"]

OCCASIONS = ("birthday", "festival", "winback", "complaint_followup", "vip_thanks", "recommendation")
DEFAULT_BRAND = "Guanxi 商城"
OFFERS_FILE = "offers.toml"
OCCASION_ALIASES = {
    "birthday": "birthday", "生日": "birthday", "bday": "birthday",
    "festival": "festival", "节日": "festival", "holiday": "festival",
    "winback": "winback", "win_back": "winback", "win-back": "winback", "挽回": "winback", "召回": "winback",
    "complaint_followup": "complaint_followup", "complaint": "complaint_followup", "followup": "complaint_followup",
    "complaint-followup": "complaint_followup", "投诉回访": "complaint_followup", "回访": "complaint_followup",
    "vip_thanks": "vip_thanks", "vip": "vip_thanks", "thanks": "vip_thanks", "感谢": "vip_thanks",
    "recommendation": "recommendation", "recommend": "recommendation", "推荐": "recommendation",
    "regular": "recommendation",
}


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
            elif OCCASION_ALIASES.get(o.lower(), o) == occasion:
                occ_ok = True
        if not occ_ok:
            return False
        if self.segments:
            wanted = {segment_key(s) for s in self.segments}
            return bool(wanted & {segment_key(s) for s in segment_names})
        return True


def segment_key(s: object) -> str:
    """A segment name for comparison: "At Risk", "at_risk" and "AtRisk" all give "atrisk"."""
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
