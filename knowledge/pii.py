"""Masking of personal data (phones, e-mails, ID numbers, known customer names).

Used wherever a role should not see contacts (tool results, cards, exports) and always
before anything is written to a log."""
from __future__ import annotations

import re
from typing import Iterable

# Matching is done on a copy folded to ASCII one character for one (full-width digits, letters and
# ＠ ．－ as in "１３９１２３４５６７８" or "wang＠example.com", the ideographic space, dash variants), so
# positions line up and only the masked spans change in the text.
_FOLD = str.maketrans({**{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}, "\u3000": " ",
                       **{d: "-" for d in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63"}})
_SEP = r"[-. ]?"   # 139-1234-5678, 139.1234.5678, 139 1234 5678
_PHONE = re.compile(rf"(?<!\d)(?:\+?86{_SEP})?(1[3-9]\d){_SEP}(\d{{4}}){_SEP}(\d{{4}})(?!\d)")
_AT = r"(?:\s*@\s*|\s*[\[(]\s*at\s*[\])]\s*)"   # a@b.com, a @ b.com, a(at)b.com, a[at]b.com
_EMAIL = re.compile(rf"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*{_AT}([A-Za-z0-9.-]+\.[A-Za-z]{{2,}})", re.I)
_ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
# Bank-card-like runs of 15-19 digits, also in groups of four (6222 0212 3456 7890 123); ids with a
# letter prefix (order O2026...) are not personal data.
_LONG_DIGITS = re.compile(r"(?<![\dA-Za-z])(\d{4})\d{7,11}(\d{4})(?![\dA-Za-z])")
_CARD_GROUPS = re.compile(r"(?<![\dA-Za-z])(\d{4})(?:[- ]\d{4}){2,3}[- ](\d{1,4})(?![\dA-Za-z])")

def _sub(rx: re.Pattern, repl, text: str) -> str:
    """``rx.sub(repl, text)`` with the match found in the ASCII-folded copy of ``text``."""
    folded = text.translate(_FOLD)
    out, last = [], 0
    for m in rx.finditer(folded):
        out += [text[last:m.start()], repl(m)]
        last = m.end()
    return "".join(out) + text[last:] if out else text


#: what every pattern of `_MASKS` needs — 11 digits (at most one separator between two), an "@" or "(at)" —
#: in the text itself: the characters `_FOLD` folds to a separator, "@", a bracket, "a" or "t" included
_HINT = re.compile("\\d(?:[-. \u3000\uff0d\uff0e\u2010-\u2015\u2212\ufe63]?\\d){10}|[@\uff20]|"
                   "[\\[(\uff3b\uff08]\\s*[a\uff41\uff21][t\uff54\uff34]\\s*[\\])\uff3d\uff09]", re.I)
#: in this order: an ID number's digits are not read as a phone's, a phone's not as a card's
_MASKS = ((_ID_CARD, lambda m: f"{m.group(1)}********{m.group(2)}"), (_PHONE, lambda m: f"{m.group(1)}****{m.group(3)}"),
          (_EMAIL, lambda m: f"{m.group(1)}***@{m.group(2)}"), (_LONG_DIGITS, lambda m: f"{m.group(1)}****{m.group(2)}"),
          (_CARD_GROUPS, lambda m: f"{m.group(1)}****{m.group(2)}"))


def mask_phone(phone: object) -> object:
    """'13812345678' → '138****5678'; other lengths keep the first 3 and last 2 digits."""
    if phone is None or (isinstance(phone, float) and phone != phone):
        return phone
    if type(phone) is str and len(phone) == 11 and phone.isascii() and phone.isdigit():   # most: no sub needed
        return f"{phone[:3]}****{phone[-4:]}"
    s = re.sub(r"\D", "", str(phone))
    if len(s) == 13 and s.startswith("86"):
        s = s[2:]
    if len(s) >= 11:
        return f"{s[:3]}****{s[-4:]}"
    if len(s) >= 6:
        return f"{s[:3]}{'*' * (len(s) - 5)}{s[-2:]}"
    return "*" * len(s)


def mask_email(email: object) -> object:
    """'jane.doe@example.com' → 'j***@example.com'."""
    if email is None or (isinstance(email, float) and email != email):
        return email
    s = str(email)
    if "@" not in s:
        return "***"
    local, domain = s.split("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_text(text: str, names: Iterable[str] = ()) -> str:
    """Mask phones, e-mails, ID-card numbers, card numbers and the given names inside free text, also
    when written with dots or spaces (139.1234.5678), in full-width characters (１３９１２３４５６７８,
    wang＠example.com) or as "name(at)host"."""
    if not text:
        return text
    if not names and not _HINT.search(text):   # one pass: most texts have no contact data at all
        return text
    out, folded = text, text.translate(_FOLD)
    for rx, repl in _MASKS:
        if rx.search(folded):   # folded once while nothing matches (most texts: no contact at all)
            out = _sub(rx, repl, out)
            folded = out.translate(_FOLD)
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        if name in out:
            out = out.replace(name, name[0] + "*" * (len(name) - 1))
    return out
