"""Care calendar: who to contact in the next N days, and on what occasion.

Three kinds of entry, each naming the occasion a draft should use
(:func:`tools.drafts.draft_care_message` takes ``entry.draft_args``):

* **birthdays** falling in ``[as_of, as_of + days)``; a 29 February birthday is celebrated on
  28 February in non-leap years; the window may cross the year end.
* **festivals** in the window, each with its Chinese and English name and the customers who get
  that greeting (:data:`FESTIVALS`): everyone gets 春节 / 中秋 / 国庆 / 元旦 (New Year);
  English-speaking customers (Latin-script name, :func:`is_latin_name`) get Christmas;
  Chinese-named customers get 元宵 / 端午 / 劳动节. 情人节, 七夕 and 双11 are listed as
  marketing dates without personal greetings. Lunar festivals are converted with ``lunardate``
  for the right year — never hard-coded.
* **due for contact** (dated ``as_of``, or the due day when it falls inside the window):
  ``winback`` — at-risk customers (churn ``risk_band`` high, or churn probability ≥ 0.6, or RFM
  segment At Risk / Can't Lose Them, or 重要挽留客户); ``vip_thanks`` — high-value customers
  (tier 高价值客户, segment Champions / Loyal, or 重要价值客户) whose last touch (last order or
  last feedback) is older than their usual interval; ``regular`` — other repeat customers whose
  last touch is older than 1.5 × their usual interval. The usual interval is the median gap
  between a customer's order days (clipped to 30-180 days: never more often than monthly), or
  ``contact_every_days`` when
  given (then it applies to everyone); customers with a single order use 30 days (VIP) or 60.

Example::

    cal = care_calendar(customers, orders, as_of="2026-11-01", days=14, rfm=rfm, churn=churn)
    cal.to_dict(limit=50)        # JSON-safe, with provenance
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.text import CJK_RE
from tools.results import provenance, resolve_as_of, to_jsonable

__all__ = [
    "Festival", "FESTIVALS", "FESTIVAL_ALIASES", "festival_date", "festivals_between", "resolve_festival",
    "is_latin_name", "next_birthday", "is_vip", "is_at_risk", "CareEntry", "CareCalendar",
    "care_calendar",
]


# ------------------------------------------------------------------------------------ festivals
@dataclass(frozen=True)
class Festival:
    """A festival: ``calendar`` "lunar" or "solar" month/day; ``audience`` of the personal greeting:
    "all", "zh" (Chinese-named customers), "en" (English-speaking customers) or "none" (a marketing
    date only, no greeting by default)."""
    key: str
    zh: str
    en: str
    calendar: str
    month: int
    day: int
    audience: str


FESTIVALS: tuple[Festival, ...] = (
    Festival("new_year", "元旦", "New Year", "solar", 1, 1, "all"),
    Festival("spring", "春节", "Spring Festival", "lunar", 1, 1, "all"),
    Festival("lantern", "元宵节", "Lantern Festival", "lunar", 1, 15, "zh"),
    Festival("valentines", "情人节", "Valentine's Day", "solar", 2, 14, "none"),
    Festival("labour", "劳动节", "Labour Day", "solar", 5, 1, "zh"),
    Festival("dragon_boat", "端午节", "Dragon Boat Festival", "lunar", 5, 5, "zh"),
    Festival("qixi", "七夕", "Qixi Festival", "lunar", 7, 7, "none"),
    Festival("mid_autumn", "中秋节", "Mid-Autumn Festival", "lunar", 8, 15, "all"),
    Festival("national_day", "国庆节", "National Day", "solar", 10, 1, "all"),
    Festival("double11", "双11", "Singles' Day", "solar", 11, 11, "none"),
    Festival("christmas", "圣诞节", "Christmas", "solar", 12, 25, "en"),
)
_BY_KEY = {f.key: f for f in FESTIVALS}

# Names accepted for a festival (lower-cased, spaces/dashes/apostrophes removed).
FESTIVAL_ALIASES: dict[str, str] = {
    "newyear": "new_year", "newyearsday": "new_year", "元旦": "new_year", "新年": "new_year", "元旦节": "new_year",
    "spring": "spring", "springfestival": "spring", "chinesenewyear": "spring", "lunarnewyear": "spring",
    "cny": "spring", "春节": "spring", "过年": "spring", "农历新年": "spring",
    "lantern": "lantern", "lanternfestival": "lantern", "元宵": "lantern", "元宵节": "lantern",
    "valentines": "valentines", "valentinesday": "valentines", "valentine": "valentines", "情人节": "valentines",
    "labour": "labour", "labor": "labour", "labourday": "labour", "laborday": "labour", "mayday": "labour",
    "劳动节": "labour", "五一": "labour",
    "dragonboat": "dragon_boat", "dragonboatfestival": "dragon_boat", "端午": "dragon_boat", "端午节": "dragon_boat",
    "qixi": "qixi", "qixifestival": "qixi", "七夕": "qixi", "七夕节": "qixi",
    "midautumn": "mid_autumn", "midautumnfestival": "mid_autumn", "mooncakefestival": "mid_autumn",
    "中秋": "mid_autumn", "中秋节": "mid_autumn",
    "nationalday": "national_day", "国庆": "national_day", "国庆节": "national_day", "十一": "national_day",
    "double11": "double11", "singlesday": "double11", "1111": "double11", "双11": "double11", "双十一": "double11",
    "christmas": "christmas", "xmas": "christmas", "圣诞": "christmas", "圣诞节": "christmas",
}


def _norm(s: object) -> str:
    return re.sub(r"[\s\-_'’.·]+", "", str(s)).lower()


for _f in FESTIVALS:
    FESTIVAL_ALIASES.setdefault(_norm(_f.zh), _f.key)
    FESTIVAL_ALIASES.setdefault(_norm(_f.en), _f.key)


def resolve_festival(name: object) -> Festival:
    """The :class:`Festival` for a key, a Chinese or an English name ("中秋", "Mid-Autumn", "new_year")."""
    if isinstance(name, Festival):
        return name
    s = str(name or "").strip()
    if s.startswith("festival:"):
        s = s.split(":", 1)[1]
    if s in _BY_KEY:
        return _BY_KEY[s]
    key = FESTIVAL_ALIASES.get(_norm(s))
    if key is None:
        known = ", ".join(f"{f.key} ({f.zh} / {f.en})" for f in FESTIVALS)
        raise GuanxiError(f"unknown festival {name!r}; known: {known}")
    return _BY_KEY[key]


def festival_date(festival: Festival | str, year: int) -> _dt.date:
    """The Gregorian date of ``festival`` in ``year`` (lunar festivals via ``lunardate``)."""
    f = resolve_festival(festival)
    if f.calendar == "lunar":
        from lunardate import LunarDate
        return LunarDate(year, f.month, f.day).to_solar_date()
    return _dt.date(year, f.month, f.day)


def festivals_between(start, end) -> list[tuple[_dt.date, Festival]]:
    """Festivals dated ``start <= date < end`` (dates or Timestamps), in date order."""
    s, e = pd.Timestamp(start).date(), pd.Timestamp(end).date()
    out = []
    for year in range(s.year - 1, e.year + 1):
        for f in FESTIVALS:
            try:
                d = festival_date(f, year)
            except ValueError:  # outside lunardate's range
                continue
            if s <= d < e:
                out.append((d, f))
    return sorted(out, key=lambda t: (t[0], t[1].key))


# ------------------------------------------------------------------------------------ customers
_LATIN = re.compile(r"[A-Za-zÀ-ɏ]")


def is_latin_name(name: object) -> bool:
    """True for a Latin-script name ("Emily Chen"): Latin letters and no CJK characters."""
    s = "" if name is None or (isinstance(name, float) and name != name) else str(name)
    return bool(_LATIN.search(s)) and not CJK_RE.search(s)


def next_birthday(birthday, as_of) -> _dt.date | None:
    """The first birthday celebration on or after ``as_of`` (29 Feb → 28 Feb in non-leap years)."""
    if birthday is None or birthday is pd.NaT or (isinstance(birthday, float) and birthday != birthday):
        return None
    b = birthday.date() if isinstance(birthday, _dt.datetime) else (
        birthday if isinstance(birthday, _dt.date) else pd.Timestamp(birthday).date())
    a = as_of if isinstance(as_of, _dt.date) and not isinstance(as_of, _dt.datetime) else pd.Timestamp(as_of).date()
    for year in (a.year, a.year + 1):
        try:
            d = _dt.date(year, b.month, b.day)
        except ValueError:  # 29 February in a non-leap year
            d = _dt.date(year, 2, 28)
        if d >= a:
            return d
    return None


_VIP_SEGMENTS = {"champions", "loyal", "loyalcustomers"}
_VIP_OTHER = {"高价值客户", "high_value", "重要价值客户", "冠军客户", "忠诚客户"}
_RISK_SEGMENTS = {"atrisk", "cantlosethem", "cannotlosethem"}
_RISK_OTHER = {"重要挽留客户", "有流失风险客户", "不能失去的客户"}


def _row_get(row, key):
    if row is None:
        return None
    v = row.get(key) if hasattr(row, "get") else None
    if v is None or (isinstance(v, float) and v != v):
        return None
    return v


def is_vip(rfm_row) -> bool:
    """High-value: tier 高价值客户, segment Champions / Loyal, or 重要价值客户."""
    if rfm_row is None:
        return False
    seg = _row_get(rfm_row, "segment")
    if seg is not None and _norm(seg) in _VIP_SEGMENTS:
        return True
    return any(_row_get(rfm_row, k) in _VIP_OTHER for k in ("tier", "tier_en", "segment_cn8", "segment_zh"))


def _risk_band_high(band) -> bool:
    return band is not None and ("high" in str(band).lower() or "高" in str(band))


def is_at_risk(rfm_row=None, churn_row=None) -> bool:
    """At risk: churn risk_band high (or probability ≥ 0.6), or RFM At Risk / Can't Lose Them / 重要挽留客户."""
    if churn_row is not None:
        if _risk_band_high(_row_get(churn_row, "risk_band")):
            return True
        p = _row_get(churn_row, "churn_probability")
        if p is not None and float(p) >= 0.6:
            return True
    if rfm_row is not None:
        seg = _row_get(rfm_row, "segment")
        if seg is not None and _norm(seg) in _RISK_SEGMENTS:
            return True
        if _row_get(rfm_row, "segment_cn8") in _RISK_OTHER or _row_get(rfm_row, "segment_zh") in _RISK_OTHER:
            return True
    return False


# ------------------------------------------------------------------------------------ result
@dataclass
class CareEntry:
    """One customer to contact: ``occasion`` is birthday / festival:<key> / winback / vip_thanks /
    regular; ``draft_args`` are the arguments for ``draft_care_message`` (customer_id, occasion,
    festival, language)."""
    customer_id: str
    name: str
    date: str
    occasion: str
    suggested_occasion: str
    reason_zh: str
    reason_en: str
    language: str
    festival: str | None = None
    draft_args: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return to_jsonable(self)


@dataclass
class CareCalendar:
    as_of: str
    days: int
    window_end: str  # last day included
    entries: list[CareEntry]
    festivals: list[dict]
    provenance: list[str]
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = {}
        for e in self.entries:
            c[e.occasion] = c.get(e.occasion, 0) + 1
        return c

    def by_occasion(self, occasion: str) -> list[CareEntry]:
        return [e for e in self.entries if e.occasion == occasion or e.occasion.startswith(occasion + ":")]

    def to_dict(self, limit: int | None = None, include_festival_recipients: bool = True) -> dict:
        """JSON-safe. ``limit`` caps the listed entries (personal occasions first); counts are of all."""
        entries = [e for e in self.entries
                   if include_festival_recipients or not e.occasion.startswith("festival:")]
        shown = entries if limit is None else entries[: max(0, int(limit))]
        return {
            "as_of": self.as_of, "days": self.days, "window_end": self.window_end,
            "counts": self.counts(), "n_entries": len(self.entries),
            "truncated": len(shown) < len(entries),
            "festivals": to_jsonable(self.festivals),
            "entries": [e.to_dict() for e in shown],
            "warnings": list(self.warnings),
            "provenance": list(self.provenance),
        }


# ------------------------------------------------------------------------------------ calendar
_PRIORITY = {"birthday": 0, "winback": 1, "vip_thanks": 2, "regular": 3}
MIN_INTERVAL_DAYS = 30  # never suggest a thank-you / check-in more often than monthly


def _usual_intervals(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per customer: last order day, number of order days, median gap between order days."""
    o = orders.loc[:, ["customer_id", "order_date"]].copy()
    o["day"] = pd.to_datetime(o["order_date"]).dt.normalize()
    o = o.loc[o["day"] < as_of].drop_duplicates(["customer_id", "day"]).sort_values(["customer_id", "day"])
    o["gap"] = o.groupby("customer_id")["day"].diff().dt.days
    g = o.groupby("customer_id")
    return pd.DataFrame({"last_order": g["day"].max(), "order_days": g["day"].size(),
                         "median_gap": g["gap"].median()})


def _by_customer(t: pd.DataFrame | None) -> pd.DataFrame:
    """An artefact indexed by customer_id (as text, first row per customer); empty without one."""
    if t is None or not len(t):
        return pd.DataFrame(index=pd.Index([], dtype="str"))
    return _first_per_customer(t)


def _first_per_customer(t: pd.DataFrame) -> pd.DataFrame:
    """``t``'s first row per customer_id, indexed by it as Python text (object dtype: hashing and iterating them is
    many times cheaper than Arrow's)."""
    t = t.assign(customer_id=t["customer_id"].astype(str).astype(object))
    out = t.set_index("customer_id", drop=False)
    # the index's hash table answers the check and the look-ups after it
    return out if out.index.is_unique else t.drop_duplicates("customer_id").set_index("customer_id", drop=False)


def _hits(t: pd.DataFrame, col: str, pos: np.ndarray, test) -> np.ndarray:
    """``test(t[col])`` at the rows ``pos`` (`_positions`; -1: no row → False), computed once per distinct value
    (a missing value → False)."""
    if col not in t.columns or not len(t):
        return np.zeros(len(pos), bool)
    codes, values = pd.factorize(t[col])   # missing: code -1, the last entry below
    known = np.array([bool(test(v)) for v in values] + [False])
    return np.where(pos >= 0, known[codes[np.maximum(pos, 0)]], False)


def _rows(t: pd.DataFrame, cols: list[str], ids: pd.Index) -> dict[str, dict]:
    """{customer_id: {col: value}} for the customers of ``ids`` that ``t`` holds (plain Python values)."""
    if not len(t):
        return {}
    sub = t.reindex(ids[ids.isin(t.index)])
    values = [sub[c].astype(object).tolist() for c in cols]
    return {cid: dict(zip(cols, row)) for cid, *row in zip(sub.index.tolist(), *values)} if cols else \
        {cid: {} for cid in sub.index.tolist()}


def _positions(t: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    """The rows of ``ids`` in ``t`` (`_by_customer`: one row per customer), -1 where absent."""
    return t.index.get_indexer(ids)


def _vip_mask(rfm: pd.DataFrame, ids: pd.Index, pos: np.ndarray) -> pd.Series:
    """`is_vip` for every customer of ``ids`` at once (``pos``: `_positions` of ``ids`` in ``rfm``)."""
    out = _hits(rfm, "segment", pos, lambda v: _norm(v) in _VIP_SEGMENTS)
    for k in ("tier", "tier_en", "segment_cn8", "segment_zh"):
        out |= _hits(rfm, k, pos, lambda v: v in _VIP_OTHER)
    return pd.Series(out, index=ids)


def _risk_mask(rfm: pd.DataFrame, churn: pd.DataFrame, ids: pd.Index, rfm_pos: np.ndarray,
               churn_pos: np.ndarray) -> pd.Series:
    """`is_at_risk` for every customer of ``ids`` at once (``*_pos``: `_positions` of ``ids`` in each table)."""
    out = _hits(churn, "risk_band", churn_pos, _risk_band_high)
    if "churn_probability" in churn.columns and len(churn):
        p = churn["churn_probability"]
        p = (p if pd.api.types.is_numeric_dtype(p) else pd.to_numeric(p.astype(object), errors="coerce")).to_numpy(
            dtype=float, na_value=np.nan)
        out |= np.where(churn_pos >= 0, p[np.maximum(churn_pos, 0)], np.nan) >= 0.6
    out |= _hits(rfm, "segment", rfm_pos, lambda v: _norm(v) in _RISK_SEGMENTS)
    for k in ("segment_cn8", "segment_zh"):
        out |= _hits(rfm, k, rfm_pos, lambda v: v in _RISK_OTHER)
    return pd.Series(out, index=ids)


def _next_birthdays(bdays: pd.Series, as_of: _dt.date) -> pd.Series:
    """`next_birthday` for a column of birthdays (NaT where missing)."""
    ok = bdays.notna()
    out = pd.Series(pd.NaT, index=bdays.index, dtype="datetime64[ns]")
    if not ok.any():
        return out
    m, d = bdays[ok].dt.month.to_numpy(), bdays[ok].dt.day.to_numpy()

    def in_year(year: int) -> np.ndarray:   # the month's first day + the day (a valid date: 29 Feb → 28 Feb)
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        dd = np.where((m == 2) & (d == 29) & (not leap), 28, d)
        first = np.datetime64(f"{year:04d}-01", "M") + (m - 1).astype("timedelta64[M]")
        return first.astype("datetime64[D]") + (dd - 1).astype("timedelta64[D]")
    this = in_year(as_of.year)
    nxt = np.where(this >= np.datetime64(as_of, "D"), this, in_year(as_of.year + 1))
    out[ok] = nxt.astype("datetime64[ns]")
    return out


def _fmt_md(d: _dt.date, lang: str) -> str:
    return f"{d.month}月{d.day}日" if lang == "zh" else f"{d:%b} {d.day}"


def care_calendar(customers: pd.DataFrame, orders: pd.DataFrame, as_of=None, days: int = 7,
                  rfm: pd.DataFrame | None = None, churn: pd.DataFrame | None = None,
                  contact_every_days: int | None = None, feedback: pd.DataFrame | None = None,
                  festivals: bool = True, intervals: pd.DataFrame | None = None) -> CareCalendar:
    """Birthdays and festivals in ``[as_of, as_of + days)`` and customers due for contact.

    ``as_of`` defaults to the day after the last order. ``rfm`` / ``churn`` are the precomputed
    artefacts (without them, VIP thanks and win-back are not assessed and a warning says so).
    ``feedback`` (optional) counts as a touch point for the last-contact date.
    Entries are sorted by date, then birthday < winback < vip_thanks < regular < festival, then by
    ``details["urgency"]`` (win-back: churn probability; thanks / check-ins: days since the last
    touch ÷ usual interval), highest first. ``intervals``: the per-customer order days
    (`tools.care_plan.usual_intervals` or the workspace's care_intervals artefact) instead of
    computing them from ``orders`` (which then only gives the as-of date and its row count).
    """
    if days is None or int(days) < 1:
        raise GuanxiError(f"care_calendar: days must be ≥ 1, got {days}")
    days = int(days)
    if contact_every_days is not None and int(contact_every_days) < 1:
        raise GuanxiError(f"care_calendar: contact_every_days must be ≥ 1, got {contact_every_days}")
    for col in ("customer_id", "name"):
        if col not in customers.columns:
            raise GuanxiError(f"care_calendar: customers table needs a '{col}' column")
    as_of = resolve_as_of(orders, as_of)
    from tools.care_plan import CarePlan, usual_intervals
    iv = usual_intervals(orders, as_of) if intervals is None else intervals
    plan = CarePlan(customers, iv, as_of, len(orders), rfm=rfm, churn=churn,
                    contact_every_days=contact_every_days, feedback=feedback)
    win = plan.window(days)
    if not festivals:
        win.fests = []
    return win.calendar()
