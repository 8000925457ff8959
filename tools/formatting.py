"""How numbers and small pieces of text look in answers (zh and en), defined once.

Renderers (the ``render`` of each `tools.spec.ToolSpec`) and the app use these; nothing here
computes a number, it only formats one read from a tool result.

>>> fmt_money(1234.5), fmt_pct(0.4567), fmt_int(12345.0), fmt_num(2.0), fmt_num(2.345)
('1,234.50', '45.7%', '12,345', '2', '2.35')
"""
from __future__ import annotations

import math

__all__ = ["number", "fmt_money", "fmt_pct", "fmt_int", "fmt_num", "fmt_unit", "pick", "who", "place", "bullets", "period",
           "short", "provenance_line", "BANDS_ZH", "OCCASION_ZH", "OCCASION_EN", "STATUS_ZH"]


def number(v) -> float | None:
    """``v`` as a finite float, else None."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def fmt_money(v) -> str:
    f = number(v)
    return "—" if f is None else f"{f:,.2f}"


def fmt_pct(v, nd: int = 1) -> str:
    f = number(v)
    return "—" if f is None else f"{f * 100:.{nd}f}%"


def fmt_int(v) -> str:
    f = number(v)
    return "—" if f is None else f"{int(round(f)):,}"


def fmt_num(v, nd: int = 2) -> str:
    f = number(v)
    if f is None:
        return "—"
    if float(f).is_integer() and abs(f) < 1e12:
        return f"{int(f):,}"
    return f"{f:,.{nd}f}"


def fmt_unit(v, unit: str | None, zh: bool = True) -> str:
    """A metric value in its unit: shares as percentages, counts as integers, days with the word."""
    if unit in ("share", "complaints per order"):
        return fmt_pct(v, 2)
    if unit in ("orders", "customers", "units", "complaints"):
        return fmt_int(v)
    if unit == "orders per day":
        return fmt_num(v, 1)
    if unit == "date":
        return "—" if v is None else str(v)
    if unit == "years":
        return f"{fmt_num(v, 1)} {'岁' if zh else 'years'}"
    if unit == "days":
        return f"{fmt_num(v, 1)} {'天' if zh else 'days'}"
    if unit and unit.startswith("rating"):
        return f"{fmt_num(v, 2)}"
    return fmt_money(v)


def pick(d, *paths, default=None):
    """First non-empty value among dotted paths in nested dicts: ``pick(r, "rfm.segment", "segment")``."""
    for p in paths:
        cur = d
        ok = True
        for part in p.split("."):
            if isinstance(cur, dict) and part in cur:
                cur = cur[part]
            else:
                ok = False
                break
        if ok and cur not in (None, "", [], {}):
            return cur
    return default


def who(r: dict, zh: bool) -> str:
    """"王伟（C01023）" / "Wang Wei (C01023)"."""
    name, cid = r.get("name"), r.get("customer_id")
    if name and cid and str(name) != str(cid):
        return f"{name}（{cid}）" if zh else f"{name} ({cid})"
    return str(name or cid or "")


def place(r: dict) -> str:
    return str(r.get("city") or r.get("province") or "")


def bullets(lines: list[str]) -> str:
    """Lists use bullets, not numbers, so the only numbers in an answer are facts."""
    return "\n".join(f"- {line}" for line in lines)


def period(r: dict, zh: bool) -> str:
    a, b = r.get("date_from"), r.get("date_to")
    if not a and not b:
        return ""
    if zh:
        return f"{a or '最早'} 至 {b or r.get('as_of') or '最近'}"
    return f"{a or 'the start'} to {b or r.get('as_of') or 'the end'}"


def short(s, n: int = 60) -> str:
    s = " ".join(str(s or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


def provenance_line(prov: str | list, zh: bool) -> str:
    if isinstance(prov, list):
        prov = " · ".join(map(str, prov))
    return ("来源：" if zh else "Source: ") + str(prov or "—")


BANDS_ZH = {"high": "高风险", "medium": "中风险", "low": "低风险", "very high": "极高风险"}
OCCASION_ZH = {"birthday": "生日", "winback": "挽回", "vip_thanks": "VIP 感谢", "regular": "定期回访", "festival": "节日问候",
               "complaint_followup": "投诉回访", "recommendation": "商品推荐"}
OCCASION_EN = {"birthday": "birthday", "winback": "win-back", "vip_thanks": "VIP thanks", "regular": "regular check-in",
               "festival": "festival greeting", "complaint_followup": "complaint follow-up", "recommendation": "recommendation"}
STATUS_ZH = {"resolved": "已解决", "open": "未解决"}
