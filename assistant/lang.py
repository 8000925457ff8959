"""Language helpers for the offline router: zh/en detection, Chinese numerals, top-N, day
windows and date ranges relative to the workspace's as-of date.

Dates: "today" is the workspace's as-of date (the day after the last order), never the wall
clock, so "上个月 / last month" means the calendar month before the as-of date's month, and
"last 30 days" means the 30 days before the as-of date (as_of − 30 … as_of − 1, inclusive).
Ranges are returned as inclusive ISO days ``(date_from, date_to)``.

>>> import pandas as pd
>>> parse_date_range("上个月的销售额", pd.Timestamp("2026-11-01"))
('2026-10-01', '2026-10-31', '上个月')
>>> parse_top("前十名客户"), parse_top("top 5 products"), parse_top("未来7天")
(10, 5, None)
"""
from __future__ import annotations

import re

import pandas as pd

from knowledge.text import CJK_RE, has_cjk

__all__ = ["cn_number", "parse_top", "parse_days", "parse_date_range", "has_cjk",
           "CJK_RE"]



_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def cn_number(s: str) -> int | None:
    """'十' → 10, '二十' → 20, '十五' → 15, '一百' → 100, '20' → 20; None when not a number."""
    s = (s or "").strip()
    if not s:
        return None
    if s.isdigit():
        return int(s)
    total, cur = 0, 0
    for ch in s:
        if ch in _CN_DIGITS:
            cur = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (cur or 1) * _CN_UNITS[ch]
            cur = 0
        else:
            return None
    return total + cur


_NUM = r"(\d{1,4}|[零〇一二两三四五六七八九十百]{1,4})"
_EN_NUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100}
_EN_NUM_RE = r"(\d{1,4}|" + "|".join(_EN_NUM) + r")"


def _en_num(s: str) -> int:
    return int(s) if s.isdigit() else _EN_NUM[s.lower()]


_SPAN_DAYS = {"天": 1, "日": 1, "周": 7, "星期": 7, "礼拜": 7, "月": 30, "年": 365,
              "day": 1, "week": 7, "month": 30, "year": 365}
_SPAN_RE = re.compile(r"(半)\s*(个)?(月|年)|" + _NUM + r"\s*(?:个)?\s*(天|日|周|星期|礼拜|月|年)|"
                      r"\b" + _EN_NUM_RE + r"\s+(day|week|month|year)s?\b|\b(?:a|one)\s+(week|month|year)\b|"
                      r"\bhalf a year\b", re.I)


def span_days(text: str) -> int | None:
    """A backward span of time in days: "30天" → 30, "三个月" → 90, "半年" → 180, "60 days" → 60, "a year"
    → 365; the first span named, None when there is none."""
    text = text or ""
    for m in _SPAN_RE.finditer(text):
        if m.group(4) and _calendar_word(text, m):
            continue   # "10月份", "2025年", "10月1日": a month, a year or a date, not a span
        break
    else:
        return None
    if m.group(1):                      # 半个月 / 半年
        return 15 if m.group(3) == "月" else 180
    if m.group(4):
        n = cn_number(m.group(4))
        return n * _SPAN_DAYS[m.group(5)] if n else None
    if m.group(6):
        return _en_num(m.group(6)) * _SPAN_DAYS[m.group(7).lower()]
    if m.group(8):
        return _SPAN_DAYS[m.group(8).lower()]
    return 180                          # half a year


def _calendar_word(text: str, m: re.Match) -> bool:
    """Whether a "N月" / "N年" / "N日" match names a month, a year or a day of a date rather than a span."""
    unit, n = m.group(5), cn_number(m.group(4))
    if unit == "月":
        return "个" not in m.group(0)          # "三个月" is a span, "10月" October
    if unit == "年":
        return bool(n) and n >= 100            # "两年" a span, "2025年" a year
    return unit in ("日", "天") and m.start() > 0 and text[m.start() - 1] in "月-/"   # "10月1日"


_TOP_PATTERNS = [
    re.compile(r"\btop[\s-]*" + _EN_NUM_RE + r"(?![0-9A-Za-z])", re.I),  # "TOP10城市": no \b before a CJK char
    re.compile(r"\b(?:first|best|biggest|largest|highest|worst|main)\s+" + _EN_NUM_RE + r"(?![0-9A-Za-z])", re.I),
    re.compile(r"\bbottom[\s-]*" + _EN_NUM_RE + r"(?![0-9A-Za-z])", re.I),
    re.compile(r"倒数(?:前)?\s*" + _NUM + r"\s*(?:名|个|位|条|款|种|项|家|类)?"),
    re.compile(r"前\s*" + _NUM + r"\s*(?:名|个|位|条|款|大|种|项|家|类)?"),
    re.compile(r"(?:最\S{1,6}?的|列出|列一下|列举|给我|显示|看看|找出|推荐)\s*" + _NUM + r"\s*(?:个|位|名|条|款|种|项|件|样)"),
    re.compile(r"(?<![\d年月])" + _NUM + r"\s*(?:个|位|名)\s*(?:客户|顾客|会员|用户|商品|产品|主题|话题|问题)"),
    re.compile(r"\b" + _EN_NUM_RE + r"\s+(?:customers|clients|people|products|items|topics|members|complaints|buyers"
               r"|names|accounts|suggestions|recommendations|themes|categories|cities|provinces|channels)\b", re.I),
]


def parse_top(text: str) -> int | None:
    """The N of "top 10", "前10", "前十名", "5个客户", "20 customers"; None when absent."""
    for pat in _TOP_PATTERNS:
        m = pat.search(text or "")
        if m and re.match(r"\s*个?(季度|月|天|日|周|星期|年)", (text or "")[m.end(1):]):
            continue   # "前三个季度" / "前两个月" is a period, not a top N
        if m:
            g = m.group(1)
            n = _en_num(g) if (g.isdigit() or g.lower() in _EN_NUM) else cn_number(g)
            if n and 0 < n <= 1000:
                return n
    return None


_DAYS_PATTERNS = [
    (re.compile(r"(?:未来|接下来|之后|今后|往后|后面|近|最近)\s*" + _NUM + r"\s*(?:天|日)"), 1),
    (re.compile(r"\b(?:next|coming|following|upcoming)\s+" + _EN_NUM_RE + r"\s+days?\b", re.I), 1),
    (re.compile(r"\bwithin\s+" + _EN_NUM_RE + r"\s+days?\b", re.I), 1),
    (re.compile(r"\bin\s+the\s+next\s+" + _EN_NUM_RE + r"\s+days?\b", re.I), 1),
    (re.compile(r"(?:未来|接下来|之后|近)\s*" + _NUM + r"\s*(?:周|个星期|星期)"), 7),
    (re.compile(r"\b(?:next|coming)\s+" + _EN_NUM_RE + r"\s+weeks?\b", re.I), 7),
    (re.compile(r"(?:未来|接下来|之后)\s*" + _NUM + r"\s*个?月"), 30),
    (re.compile(r"\b(?:next|coming)\s+" + _EN_NUM_RE + r"\s+months?\b", re.I), 30),
]
_DAYS_WORDS = [
    (re.compile(r"明天|tomorrow", re.I), 1),
    (re.compile(r"后天"), 2),
    (re.compile(r"本周|这周|这一周|这个星期|下周|下个星期|下一周|一周内|这礼拜|下礼拜|\bthis week\b|\bnext week\b|"
                r"\bcoming week\b|\bweek ahead\b", re.I), 7),
    (re.compile(r"两周|半个月|\bnext two weeks\b|\bfortnight\b|\b2 weeks\b", re.I), 14),
    (re.compile(r"本月|这个月|下个月|下月|一个月内|\bthis month\b|\bnext month\b", re.I), 30),
]


def parse_days(text: str) -> int | None:
    """A forward window in days: "未来7天" → 7, "next 2 weeks" → 14, "下周" → 7, "this month" → 30."""
    for pat, mult in _DAYS_PATTERNS:
        m = pat.search(text or "")
        if m:
            g = m.group(1)
            n = _en_num(g) if (g.isdigit() or g.lower() in _EN_NUM) else cn_number(g)
            if n:
                return min(366, n * mult)
    for pat, n in _DAYS_WORDS:
        if pat.search(text or ""):
            return n
    return None


# --------------------------------------------------------------------------- date ranges
def _d(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d")


def _month_range(year: int, month: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(year=year, month=month, day=1)
    return start, start + pd.offsets.MonthEnd(0)


def _quarter_range(year: int, q: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(year=year, month=3 * (q - 1) + 1, day=1)
    return start, start + pd.offsets.QuarterEnd(0)


_Q_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_MONTHS_EN = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"])}
_MONTHS_EN.update({m[:3]: i for m, i in list(_MONTHS_EN.items())})
_MONTHS_EN["sept"] = 9


def parse_date_range(text: str, as_of) -> tuple[str, str, str] | None:
    """(date_from, date_to, matched phrase) for the first date expression in ``text``; None if none.

    Covers 上个月/last month, 本月/this month, 上季度/last quarter, 本季度/this quarter, 今年/this
    year (year to date), 去年/last year, 前年, 最近N天/last N days, 最近N个月/last N months,
    上周/last week, 本周/这周/this week (Monday to the day before as_of), 最近一周, YYYY年, YYYY年M月, M月 (the latest such month before as_of),
    YYYY年第N季度 / Q3 2025, "2025-01-01 到 2025-03-31", 双11 / 618 (with 今年/去年/YYYY年).
    """
    if not text:
        return None
    t = text
    as_of = pd.Timestamp(as_of).normalize()
    today = as_of  # the day after the last order; periods end the day before
    last_day = today - pd.Timedelta(days=1)
    year = last_day.year

    # explicit ISO range
    m = re.search(r"(\d{4}[-/.]\d{1,2}[-/.]\d{1,2})\s*(?:到|至|-|–|~|to|until|and)\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2})", t)
    if m:
        a = pd.Timestamp(m.group(1).replace("/", "-").replace(".", "-"))
        b = pd.Timestamp(m.group(2).replace("/", "-").replace(".", "-"))
        return _d(a), _d(b), m.group(0)
    m = re.search(r"(?:since|from|自|从)\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2})(?:\s*(?:起|以来|开始))?", t, re.I)
    if m:
        a = pd.Timestamp(m.group(1).replace("/", "-").replace(".", "-"))
        return _d(a), _d(last_day), m.group(0)

    # days: "10月1号到10月7号" / "2025年11月11日" (a range, or one day)
    m = re.search(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*[日号](?:\s*(?:到|至|-|~|–|—)\s*(?:(\d{1,2})\s*月\s*)?"
                  r"(\d{1,2})\s*[日号]?)?", t)
    if m:
        y, m1, d1, m2, d2 = m.groups()
        try:
            yy = int(y) if y else None
            a = pd.Timestamp(year=yy or year, month=int(m1), day=int(d1))
            if yy is None and a > last_day:
                a = a.replace(year=year - 1)
            b = a if not d2 else pd.Timestamp(year=a.year, month=int(m2 or m1), day=int(d2))
            if b >= a:
                return _d(a), _d(b), m.group(0)
        except ValueError:
            pass

    # month ranges: "3月到6月" / "2025年3-5月" / "from March to June 2025"
    mon_en = "|".join(sorted(_MONTHS_EN, key=len, reverse=True))
    m = re.search(r"(?:(\d{4})\s*年\s*)?(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月?份?\s*(?:到|至|-|~|–|—)\s*"
                  r"(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月", t)
    m_en = re.search(r"\b(?:from\s+|between\s+)?(" + mon_en + r")\.?\s*(?:to|until|through|till|and|-|–)\s*(" + mon_en +
                     r")\b\.?(?:\s*,?\s*(\d{4}))?", t, re.I)
    if m or m_en:
        if m:
            a_m, b_m, y = cn_number(m.group(2)), cn_number(m.group(3)), m.group(1)
        else:
            a_m, b_m, y = _MONTHS_EN[m_en.group(1).lower()], _MONTHS_EN[m_en.group(2).lower()], m_en.group(3)
        if a_m and b_m and 1 <= a_m <= b_m <= 12:
            yy = int(y) if y else (year if pd.Timestamp(year=year, month=a_m, day=1) <= last_day else year - 1)
            if not y and re.search(r"去年|last year", t, re.I):
                yy = year - 1
            a, _ = _month_range(yy, a_m)
            _, b = _month_range(yy, b_m)
            return _d(a), _d(b), (m or m_en).group(0)

    # "since March" / "3月以来" / "自2025年3月起" / "2025年以来": from the start of that month (year) to the last day
    m = re.search(r"(?:自|从)?\s*(?:(\d{4})\s*年\s*)?(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月份?(?:\s*(?:1|一)\s*[日号])?\s*"
                  r"(?:以来|以后|之后|开始|起|至今|到现在|到今天|到目前)", t)
    if m:
        mm = cn_number(m.group(2))
        if mm and 1 <= mm <= 12:
            yy = int(m.group(1)) if m.group(1) else (year if pd.Timestamp(year=year, month=mm, day=1) <= last_day else year - 1)
            return _d(pd.Timestamp(year=yy, month=mm, day=1)), _d(last_day), m.group(0)
    m = re.search(r"\b(?:since|from)\s+(?:the\s+(?:start|beginning)\s+of\s+)?(" + "|".join(sorted(_MONTHS_EN, key=len, reverse=True))
                  + r")\.?(?:\s+(\d{4}))?\b(?!\s+(?:to|until|through|till)\b)", t, re.I)
    if m:
        mm = _MONTHS_EN[m.group(1).lower()]
        yy = int(m.group(2)) if m.group(2) else (year if pd.Timestamp(year=year, month=mm, day=1) <= last_day else year - 1)
        return _d(pd.Timestamp(year=yy, month=mm, day=1)), _d(last_day), m.group(0)
    m = re.search(r"(?:自|从)?\s*(\d{4})\s*年?\s*(?:以来|至今|开始|起)|\bsince\s+(\d{4})\b", t, re.I)
    if m:
        yy = int(m.group(1) or m.group(2))
        if 1990 <= yy <= year:
            return f"{yy}-01-01", _d(last_day), m.group(0)

    # half years: 上半年 / 下半年 / H1 2025 / first half of 2025; 近半年 / last six months
    m = re.search(r"(?:最近|近|过去)\s*(?:的)?\s*半年|\b(?:last|past)\s+(?:half\s+(?:a\s+)?year|half-year)\b", t, re.I)
    if m:
        return _relative(6, "月", today, m.group(0))
    m = re.search(r"(今年|去年|前年|(\d{4})\s*年?)?\s*的?\s*(上半年|下半年)", t) or \
        re.search(r"\b(?:(H[12])|(first|second)\s+half)(?:\s+(?:of\s+)?(\d{4}|this year|last year))?\b", t, re.I)
    if m:
        if m.re.pattern.startswith("(今年"):
            rel, y, which = m.group(1), m.group(2), m.group(3)
            first = which == "上半年"
            yy = int(y) if y else year - 1 if rel == "去年" else year - 2 if rel == "前年" else None
        else:
            first = (m.group(1) or m.group(2)).lower() in ("h1", "first")
            y = (m.group(3) or "").lower()
            yy = int(y) if y.isdigit() else year - 1 if y == "last year" else year if y == "this year" else None
        if yy is None:  # the latest such half that has started
            yy = year if (first or last_day.month >= 7) else year - 1
        a = pd.Timestamp(year=yy, month=1 if first else 7, day=1)
        b = min(a + pd.DateOffset(months=6) - pd.Timedelta(days=1), last_day) if a <= last_day else \
            a + pd.DateOffset(months=6) - pd.Timedelta(days=1)
        return _d(a), _d(pd.Timestamp(b)), m.group(0)

    # "on 11/11 last year", "6/18": the shopping-festival days written month/day
    m = re.search(r"(?<![\d/.-])(11/11|6/18|12/12)(?![\d/.-])", t)
    if m:
        mo, dd = map(int, m.group(1).split("/"))
        yy = year - 1 if re.search(r"去年|last year", t, re.I) else year
        if pd.Timestamp(year=yy, month=mo, day=dd) > last_day:
            yy -= 1
        day = pd.Timestamp(year=yy, month=mo, day=dd)
        return _d(day), _d(day), m.group(0)

    # yesterday / today / this week (to date)
    m = re.search(r"昨天|昨日|\byesterday\b", t, re.I)
    if m:
        return _d(last_day), _d(last_day), m.group(0)
    m = re.search(r"前天|\bday before yesterday\b", t, re.I)
    if m:
        d = last_day - pd.Timedelta(days=1)
        return _d(d), _d(d), m.group(0)

    # fixed-date holidays and shopping festivals (the latest that has begun, or the year named)
    m = re.search(r"(今年|去年|前年|(\d{4})\s*年?)?\s*的?\s*(国庆(?:节|黄金周|假期|长假)?|十一黄金周|黄金周|五一(?:假期|黄金周)?|劳动节|"
                  r"元旦|圣诞(?:节)?|平安夜|情人节|双\s*12|双十二|national day|golden week|labou?r day|christmas|"
                  r"new year'?s day|valentine'?s(?: day)?|double\s*12)", t, re.I)
    if m and not re.search(r"祝福|问候|贺卡|关怀|greeting|wish|card|message|短信|消息|文案|节日|festival|holiday", t, re.I):
        rel, y, name = m.group(1), m.group(2), m.group(3).lower()
        spans = [(("国庆", "黄金周", "national", "golden"), (10, 1), (10, 7)), (("五一", "劳动", "labo"), (5, 1), (5, 5)),
                 (("元旦", "new year"), (1, 1), (1, 1)), (("平安夜",), (12, 24), (12, 24)), (("圣诞", "christmas"), (12, 25), (12, 25)),
                 (("情人", "valentine"), (2, 14), (2, 14)), (("12", "十二"), (12, 12), (12, 12))]
        for keys, (m1, d1), (m2, d2) in spans:
            if any(k in name for k in keys):
                if y:
                    yy = int(y)
                elif rel in ("去年", "前年"):
                    yy = year - (1 if rel == "去年" else 2)
                else:
                    yy = year if pd.Timestamp(year=year, month=m1, day=d1) <= last_day else year - 1
                return _d(pd.Timestamp(year=yy, month=m1, day=d1)), _d(pd.Timestamp(year=yy, month=m2, day=d2)), m.group(0)

    # festivals: 双11 / 618
    m = re.search(r"(今年|去年|前年|(\d{4})\s*年?)?\s*的?\s*(双\s*11|双十一|双\s*十一|double\s*11|singles'? day|618|六一八)"
                  r"(?:\s*(?:in\s+)?(\d{4}))?", t, re.I)
    if m:
        rel, y, fest, y2 = m.group(1), m.group(2), m.group(3), m.group(4)
        md = (11, 11) if ("11" in fest or "十一" in fest or "single" in fest.lower()) else (6, 18)
        if y or y2:
            yy = int(y or y2)
        elif rel == "去年":
            yy = year - 1
        elif rel == "前年":
            yy = year - 2
        elif rel == "今年":
            yy = year
        else:
            yy = year if pd.Timestamp(year=year, month=md[0], day=md[1]) <= last_day else year - 1
        day = pd.Timestamp(year=yy, month=md[0], day=md[1])
        return _d(day), _d(day), m.group(0)

    # last N days / weeks / months
    m = re.search(r"(?:最近|近|过去|前)\s*(\d{1,4}|[一二两三四五六七八九十百]+)\s*(天|日|周|个?星期|个?月|年)", t)
    if not m:
        m2 = re.search(r"\b(?:last|past|previous|recent)\s+(\d{1,4}|" + "|".join(_EN_NUM) + r")\s+(days?|weeks?|months?|years?)\b",
                       t, re.I)
        if m2:
            n = _en_num(m2.group(1))
            unit = m2.group(2).lower()[0]
            return _relative(n, {"d": "天", "w": "周", "m": "月", "y": "年"}[unit], today, m2.group(0))
    else:
        n = cn_number(m.group(1))
        if n:
            unit = m.group(2)
            return _relative(n, "天" if unit in ("天", "日") else "周" if "周" in unit or "星期" in unit
                             else "月" if "月" in unit else "年", today, m.group(0))

    m = re.search(r"(?:最近|近|过去)(?:一|1)?(?:个)?(周|星期|礼拜)|\bpast week\b|\blast 7 days\b", t, re.I)
    if m:
        return _d(today - pd.Timedelta(days=7)), _d(last_day), m.group(0)

    # quarters
    m = re.search(r"(\d{4})\s*年?\s*(?:第\s*([一二三四1-4])\s*季度|[Qq]([1-4]))", t) or \
        re.search(r"\b[Qq]([1-4])\s*(?:of\s*)?(\d{4})\b", t)
    if m:
        if m.re.pattern.startswith(r"\b[Qq]"):
            q, yy = int(m.group(1)), int(m.group(2))
        else:
            yy, q = int(m.group(1)), _Q_WORDS[m.group(2) or m.group(3)]
        a, b = _quarter_range(yy, q)
        return _d(a), _d(b), m.group(0)
    cur_q = (last_day.month - 1) // 3 + 1
    # "今年前三个季度" / "first two quarters": from Q1 to that quarter
    m = re.search(r"(今年|去年|前年|(\d{4})\s*年)?\s*的?\s*前\s*([两二三2-3])\s*个?季度|\bfirst (two|three|2|3) quarters\b(?:\s+of\s+(\d{4}))?", t, re.I)
    if m:
        n = {"两": 2, "二": 2, "三": 3, "2": 2, "3": 3, "two": 2, "three": 3}[(m.group(3) or m.group(4)).lower()]
        rel, y = m.group(1), m.group(2) or m.group(5)
        yy = int(y) if y else year - 1 if rel == "去年" else year - 2 if rel == "前年" else year
        a, _ = _quarter_range(yy, 1)
        _, b = _quarter_range(yy, n)
        return _d(a), _d(b), m.group(0)
    m = re.search(r"上个?季度|上一个?季度|\blast quarter\b|\bprevious quarter\b|\bprior quarter\b", t, re.I)
    if m:
        q, yy = (cur_q - 1, year) if cur_q > 1 else (4, year - 1)
        a, b = _quarter_range(yy, q)
        return _d(a), _d(b), m.group(0)
    m = re.search(r"本季度?|这个?季度|当季|\bthis quarter\b|\bcurrent quarter\b|\bquarter to date\b|\bQTD\b", t, re.I)
    if m:
        a, _ = _quarter_range(year, cur_q)
        return _d(a), _d(last_day), m.group(0)
    # a quarter without a year ("Q3", "三季度", "第二季度"): the latest such quarter that has begun
    m = re.search(r"(今年|去年|前年)?\s*的?\s*(?:第\s*([一二三四1-4])\s*季度?|([一二三四])\s*季度|(?<![A-Za-z0-9])[Qq]([1-4])(?![0-9]))", t)
    if m:
        q = _Q_WORDS[m.group(2) or m.group(3) or m.group(4)]
        rel = m.group(1)
        yy = year - 1 if rel == "去年" else year - 2 if rel == "前年" else year
        a, b = _quarter_range(yy, q)
        if not rel and a > last_day:
            a, b = _quarter_range(yy - 1, q)
        return _d(a), _d(min(b, last_day) if a <= last_day else b), m.group(0)

    # months
    m = re.search(r"(今年|本年|去年|上一?年|前年)\s*的?\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月份?(?!\d|日|号)", t)
    if m:  # "去年12月" / "今年10月": that month of that year, not the whole year
        mm = cn_number(m.group(2))
        if mm and 1 <= mm <= 12:
            yy = year - 2 if m.group(1) == "前年" else year if m.group(1) in ("今年", "本年") else year - 1
            a, b = _month_range(yy, mm)
            return _d(a), _d(b), m.group(0)
    m = re.search(r"(\d{4})\s*年\s*(\d{1,2})\s*月(?:份)?|(\d{4})[-/](\d{1,2})(?![-/\d])", t)
    if m:
        yy, mm = (int(m.group(1)), int(m.group(2))) if m.group(1) else (int(m.group(3)), int(m.group(4)))
        if 1 <= mm <= 12:
            a, b = _month_range(yy, mm)
            return _d(a), _d(b), m.group(0)
    m = re.search(r"\b(" + "|".join(sorted(_MONTHS_EN, key=len, reverse=True)) + r")\.?\s+(\d{4})\b", t, re.I) or \
        re.search(r"\b(\d{4})\s+(" + "|".join(sorted(_MONTHS_EN, key=len, reverse=True)) + r")\b", t, re.I)
    if m:
        g1, g2 = m.group(1), m.group(2)
        yy, mon = (int(g2), g1) if g2.isdigit() else (int(g1), g2)
        a, b = _month_range(yy, _MONTHS_EN[mon.lower()])
        return _d(a), _d(b), m.group(0)
    # an English month without a year ("new customers in September"): the latest such month;
    # "may"/"march" only after a preposition (they are also words)
    m = re.search(r"\b(?:in|during|for|of|last|over|through)\s+(" + mon_en + r")\b\.?", t, re.I) or \
        re.search(r"\b(january|february|april|june|july|august|september|october|november|december|sept?|oct|nov|dec|jan|feb|apr|"
                  r"jun|jul|aug)\b", t, re.I)
    if m and not re.search(r"\d{4}", t):
        mm = _MONTHS_EN[m.group(1).lower()]
        yy = year if pd.Timestamp(year=year, month=mm, day=1) <= last_day else year - 1
        if re.search(r"last year", t, re.I):
            yy = year - 1
        a, b = _month_range(yy, mm)
        return _d(a), _d(b), m.group(0)
    m = re.search(r"上个?月|上一个月|\blast month\b|\bprevious month\b|\bprior month\b", t, re.I)
    if m:
        prev = (today.replace(day=1) - pd.Timedelta(days=1))
        a, b = _month_range(prev.year, prev.month)
        return _d(a), _d(b), m.group(0)
    m = re.search(r"本月|这个月|当月|\bthis month\b|\bmonth to date\b|\bMTD\b", t, re.I)
    if m:
        return _d(last_day.replace(day=1)), _d(last_day), m.group(0)
    m = re.search(r"(?<![\d年])(\d{1,2}|[一二三四五六七八九十]{1,2})\s*月份?(?!\d|日|号)", t)
    if m and "个月" not in t[max(0, m.start() - 1):m.end() + 1]:
        mm = cn_number(m.group(1))
        if mm and 1 <= mm <= 12:
            yy = year if pd.Timestamp(year=year, month=mm, day=1) <= last_day else year - 1
            if re.search(r"去年", t):
                yy = year - 1
            a, b = _month_range(yy, mm)
            return _d(a), _d(b), m.group(0)

    # weeks
    m = re.search(r"上周|上个?星期|上个礼拜|\blast week\b|\bprevious week\b", t, re.I)
    if m:
        start_this = today - pd.Timedelta(days=today.weekday())
        a = start_this - pd.Timedelta(days=7)
        return _d(a), _d(a + pd.Timedelta(days=6)), m.group(0)
    # this week: from its Monday to the day before as_of (the week of the last day of data, as 本月 is its month)
    m = re.search(r"本周|这周|这一周|这个?星期|本星期|这礼拜|这个礼拜|\bthis week\b|\bweek to date\b|\bWTD\b", t, re.I)
    if m:
        return _d(last_day - pd.Timedelta(days=last_day.weekday())), _d(last_day), m.group(0)

    # years
    m = re.search(r"(\d{4})\s*(?:年|全年|年度)|\b(?:in|during|for|of|year)\s+(\d{4})\b|\b(\d{4})\s+(?:sales|revenue|orders)\b", t, re.I)
    if m:
        yy = int(m.group(1) or m.group(2) or m.group(3))
        if 1990 <= yy <= 2100:
            return f"{yy}-01-01", f"{yy}-12-31", m.group(0)
    m = re.search(r"今年(?:以来)?|本年度?|\bthis year\b|\byear to date\b|\bYTD\b|\bso far this year\b", t, re.I)
    if m:
        return f"{year}-01-01", _d(last_day), m.group(0)
    m = re.search(r"去年|上一年|上年度?|\blast year\b|\bprevious year\b|\bprior year\b", t, re.I)
    if m:
        return f"{year - 1}-01-01", f"{year - 1}-12-31", m.group(0)
    m = re.search(r"前年|\byear before last\b", t, re.I)
    if m:
        return f"{year - 2}-01-01", f"{year - 2}-12-31", m.group(0)
    return None


def _relative(n: int, unit: str, today: pd.Timestamp, phrase: str) -> tuple[str, str, str]:
    last_day = today - pd.Timedelta(days=1)
    if unit == "天":
        start = today - pd.Timedelta(days=n)
    elif unit == "周":
        start = today - pd.Timedelta(days=7 * n)
    elif unit == "月":
        start = today - pd.DateOffset(months=n)
    else:
        start = today - pd.DateOffset(years=n)
    return _d(pd.Timestamp(start)), _d(last_day), phrase


def two_periods(text: str, first: tuple[str, str, str], as_of):
    """Two named periods set against each other ("去年12月和今年10月比", "Q3 vs Q2"), ``first`` being
    the one `parse_date_range` found: (the later period, "period", (other's first, last day)), or
    (this year so far, "same_period_last_year", None) for this year against last year; None when
    there is no second period, or a third date word is left over (the reading is not sure)."""
    from assistant.question_words import PERIOD_WORD
    other = parse_date_range(text.replace(first[2], " ", 1), as_of)
    if not other or other[:2] == first[:2]:
        return None
    if PERIOD_WORD.search(text.replace(first[2], " ", 1).replace(other[2], " ", 1)):
        return None
    older, newer = sorted([first, other], key=lambda p: p[0])
    if newer[0].endswith("-01-01") and older[0].endswith("-01-01") and older[1].endswith("-12-31") and \
            int(older[0][:4]) == int(newer[0][:4]) - 1 and newer[1] < f"{newer[0][:4]}-12-31":
        return newer, "same_period_last_year", None   # "今年和去年比": the year so far, like for like
    return newer, "period", (older[0], older[1])

