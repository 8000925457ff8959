"""How a care-message draft (:mod:`tools.drafts`) addresses a customer: the surname of a Chinese name
(compound surnames such as 欧阳, 司马 recognised), the customer's age, and the form of address
(王女士 / 欧阳先生, the full name, "Ms. Chen" or the first name) with the rule used.
"""
from __future__ import annotations

import pandas as pd

from tools.care import is_latin_name

__all__ = ["COMPOUND_SURNAMES", "surname_of", "age_on", "address_form"]

COMPOUND_SURNAMES = (
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯",
    "轩辕", "令狐", "钟离", "澹台", "公冶", "太史", "申屠", "端木", "独孤", "南宫", "西门", "百里", "呼延",
    "万俟", "闻人", "赫连", "司空", "濮阳", "淳于", "单于", "仲孙", "宗政", "拓跋", "第五", "东郭", "羊舌",
    "微生", "梁丘", "左丘", "乐正", "谷梁", "公羊", "亓官", "段干", "巫马", "公西", "漆雕", "壤驷", "夹谷",
)
_COMPOUND = frozenset(COMPOUND_SURNAMES)   # all of two characters: a set lookup, not a scan (batch drafts)


def surname_of(name: str) -> str | None:
    """The surname of a Chinese name (compound surnames such as 欧阳, 司马, 诸葛 recognised);
    None for names with '·' (transliterated) or Latin script."""
    n = str(name or "").strip()
    if not n or is_latin_name(n) or "·" in n or "•" in n:
        return None
    return n[:2] if len(n) >= 3 and n[:2] in _COMPOUND else n[0]


def age_on(birthday, as_of) -> int | None:
    """Whole years from ``birthday`` to ``as_of``; None without a birthday."""
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
