"""How numbers and small pieces of text look in answers (zh and en), defined once.

Renderers (the ``render`` of each `tools.spec.ToolSpec`) and the app use these; nothing here
computes a number, it only formats one read from a tool result.

Answers are Markdown (the app renders them), and customer data is data: `md_text` is the one
escaping of text that comes from the data (names, complaint text, product names, resolutions,
masked contacts such as 182****3495) so that it shows as written — no HTML, image, link, auto-link,
emphasis or heading from it. `md_safe` applies it to every string of a tool result before a renderer
sees it (`assistant.answers.render`); `md_answer` keeps the formatting of Markdown an LLM wrote but
takes out what could fetch or link; `plain_text` is a name or product name without any markup, for
drafts; `md_unescape` undoes `md_text` for a terminal.

>>> fmt_money(1234.5), fmt_pct(0.4567), fmt_int(12345.0), fmt_num(2.0), fmt_num(2.345)
('1,234.50', '45.7%', '12,345', '2', '2.35')
"""
from __future__ import annotations

import functools
import html
import math
import re

__all__ = ["md_text", "md_code", "md_safe", "md_answer", "md_unescape", "plain_text", "number", "fmt_money", "fmt_pct", "fmt_int", "fmt_num", "fmt_unit", "pick", "who", "place", "bullets", "period",
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
    if unit in ("orders per day", "orders per customer"):
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
    if len(s) <= n:
        return s
    cut = s[: n - 1]
    if (len(cut) - len(cut.rstrip("\\"))) % 2:  # never end on half of an escape (md_text's "\\*")
        cut = cut[:-1]
    return cut + "…"


# ----------------------------------------------------------------------------- Markdown and data
# characters with a meaning in (GitHub-flavoured) Markdown, HTML or the chat's LaTeX: \ ` * { } [ ] < > # | ~ & @ $
_MD_SPECIAL = re.compile(r"([\\`*{}\[\]<>#|~&@$])")
_MD_UNDERSCORE = re.compile(r"(?<!\w)_|_(?!\w)")           # snake_case underscores cannot emphasise: left alone
_MD_AUTOLINK = re.compile(r"(?i)\b(https?|ftp)(?=://)|\b(www)(?=\.)")   # auto-links of GFM: http://x, www.x
_MD_LINE_START = re.compile(r"^([-+=]+|\d{1,9}(?=[.)]))(?=[\s.)]|$)")    # a list item, a setext underline


def _md_line(line: str) -> str:
    line = _MD_SPECIAL.sub(r"\\\1", line.strip())
    line = _MD_UNDERSCORE.sub(r"\\_", line)
    line = _MD_AUTOLINK.sub(lambda m: (m.group(1) + "\\") if m.group(1) else (m.group(2) + "\\"), line)
    return _MD_LINE_START.sub(lambda m: "\\" + m.group(1) if not m.group(1)[0].isdigit() else m.group(1) + "\\", line)


def md_text(s, lines: bool = False) -> str:
    """Text from the data, safe inside Markdown: shown as written, never markup. One line (whitespace
    collapsed) unless ``lines``, which keeps its line breaks (a draft's paragraphs).

    >>> print(md_text('<img src=http://127.0.0.1:9/x> [a](http://x) 182****3495'))
    \\<img src=http\\://127.0.0.1:9/x\\> \\[a\\](http\\://x) 182\\*\\*\\*\\*3495
    """
    s = str(s if s is not None else "")
    if not lines:
        return _md_line(re.sub(r"\s+", " ", s))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(_md_line(ln) for ln in s.replace("\r\n", "\n").split("\n")))


def md_code(s) -> str:
    """An id inside a Markdown code span (`C01023`): nothing that could close the span."""
    return re.sub(r"[`\s]+", " ", str(s if s is not None else "")).strip() or " "


def md_safe(obj):
    """A copy of a tool result with `md_text` applied to every string (keys and numbers unchanged)."""
    if isinstance(obj, str):
        return md_text(obj, lines=True)
    if isinstance(obj, dict):
        return {k: md_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(md_safe(v) for v in obj)
    return obj


_MD_ESCAPED = re.compile(r"\\([\\`*_{}\[\]<>#|~&@$:.+=()!-])")


def md_unescape(s: str) -> str:
    """Markdown from `md_text` back to the plain text (for a terminal)."""
    return _MD_ESCAPED.sub(r"\1", s or "")


_MD_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*([^)\s\n]*)[^)\n]*\)")
_MASK_RUN = re.compile(r"(?<=\w)\*{2,}(?=[\w@])")


def md_answer(text: str) -> str:
    """Markdown written by an LLM (which reads customer text) as the answer: bold, lists and line
    breaks stay; raw HTML, images, links and auto-links are shown as text, and the asterisks of a
    masked contact (138****5678, j***@x.com) as asterisks."""
    t = str(text or "")
    t = _MD_IMAGE.sub(lambda m: m.group(1), t)
    t = _MD_LINK.sub(lambda m: m.group(1) + (f" ({m.group(2)})" if m.group(2) else ""), t)
    t = re.sub(r"([<>\[\]])", r"\\\1", t)
    t = _MASK_RUN.sub(lambda m: "\\*" * len(m.group(0)), t)
    t = re.sub(r"(?<=\w)\*(?=@)", r"\\*", t)
    t = re.sub(r"@", r"\\@", t)
    return _MD_AUTOLINK.sub(lambda m: (m.group(1) + "\\") if m.group(1) else (m.group(2) + "\\"), t)


def plain_text(s) -> str:
    """A name or product name for a draft (an SMS, a WeChat message, an e-mail): its words without any
    markup — no HTML tag, image, link, URL or Markdown character from the data."""
    return _plain_text(str(s if s is not None else ""))


# what any step of `_plain_text` acts on: an entity, a tag or Markdown character, a URL, a run of spaces
_MARKUP_HINT = re.compile(r"[&<>\[\]{}`*|#\\$~_:]|www\.|\s\s|[^\S ]", re.I)


@functools.lru_cache(maxsize=65536)   # the same product and category names come back in every draft of a batch
def _plain_text(t: str) -> str:
    if not _MARKUP_HINT.search(t):   # most names: nothing to take out but the spaces at the ends
        return t.strip()
    t = html.unescape(t)
    t = _MD_IMAGE.sub(r"\1", t)
    t = re.sub(r"\[([^\]\n]*)\]\([^)\n]*\)", r"\1", t)
    t = re.sub(r"<[/!?]?[A-Za-z][^<>]*(?:>|$)", " ", t)
    t = re.sub(r"(?i)\b(?:https?|ftp)://\S*|\bwww\.\S*|\bjavascript:\S*", " ", t)
    t = re.sub(r"[<>\[\]{}`*|#\\$~]", "", t)
    t = re.sub(r"(?<!\w)_+|_+(?!\w)", "", t)
    return re.sub(r"\s+", " ", t).strip()


def provenance_line(prov: str | list, zh: bool) -> str:
    """"来源：…" / "Source: …" — escaped (`md_text`): a provenance can quote the question or a segment name."""
    if isinstance(prov, list):
        prov = " · ".join(map(str, prov))
    return ("来源：" if zh else "Source: ") + (md_text(prov) if prov else "—")


BANDS_ZH = {"high": "高风险", "medium": "中风险", "low": "低风险", "very high": "极高风险"}
OCCASION_ZH = {"birthday": "生日", "winback": "挽回", "vip_thanks": "VIP 感谢", "regular": "定期回访", "festival": "节日问候",
               "complaint_followup": "投诉回访", "recommendation": "商品推荐"}
OCCASION_EN = {"birthday": "birthday", "winback": "win-back", "vip_thanks": "VIP thanks", "regular": "regular check-in",
               "festival": "festival greeting", "complaint_followup": "complaint follow-up", "recommendation": "recommendation"}
STATUS_ZH = {"resolved": "已解决", "open": "未解决"}
