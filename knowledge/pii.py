"""Masking of personal data (phones, e-mails, ID numbers, known customer names).

Used wherever a role should not see contacts (tool results, cards, exports) and always
before anything is written to a log."""
from __future__ import annotations

import re
from typing import Iterable

_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
# Bank-card-like runs of 15-19 digits; ids with a letter prefix (order O2026...) are not personal data.
_LONG_DIGITS = re.compile(r"(?<![\dA-Za-z])(\d{4})\d{7,11}(\d{4})(?![\dA-Za-z])")


def mask_phone(phone: object) -> object:
    """'13812345678' → '138****5678'; other lengths keep the first 3 and last 2 digits."""
    if phone is None or (isinstance(phone, float) and phone != phone):
        return phone
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
    """Mask phones, e-mails, ID-card numbers and the given names inside free text."""
    if not text:
        return text
    out = _ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    out = _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", out)
    out = _EMAIL.sub(lambda m: f"{m.group(1)}***{m.group(2)}", out)
    out = _LONG_DIGITS.sub(lambda m: f"{m.group(1)}****{m.group(2)}", out)
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        if name in out:
            out = out.replace(name, name[0] + "*" * (len(name) - 1))
    return out
