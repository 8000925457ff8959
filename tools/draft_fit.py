"""Fitting a care-message draft to its channel (:mod:`tools.drafts`): channel limits, SMS length
and the assembly of a draft from its parts.

* ``sms`` — one segment: 160 GSM-7 characters, or 70 UCS-2 characters when any character is
  outside GSM-7 (any Chinese) (:func:`sms_length`); ``wechat`` — ≤ :data:`WECHAT_LIMIT`
  characters; ``email`` — no body limit; a subject over :data:`SUBJECT_LIMIT` characters
  leaves the name out.
* a draft is a list of :class:`Part` objects: required ones (weight 0) and optional ones, each
  with a value; :func:`fit` keeps the most valuable selection of optional parts (whole sentences, never
  cut mid-word) whose text fits the limit, with the sign-off always inside it.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

__all__ = ["CHANNELS", "WECHAT_LIMIT", "SUBJECT_LIMIT", "sms_length", "text_units", "measure", "Part", "assemble", "fit"]

CHANNELS = ("sms", "wechat", "email")
WECHAT_LIMIT = 300
SUBJECT_LIMIT = 60


# ===================================================================================== SMS
_GSM7_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXT = set("^{}\\[~]|€\f")


_GSM7 = frozenset(_GSM7_BASIC | _GSM7_EXT)


def text_units(text: str) -> tuple[bool, int, int, int]:
    """(all GSM-7, characters, GSM-7 extension characters, UTF-16 units) of a text."""
    gsm = _GSM7.issuperset(text)
    return gsm, len(text), sum(text.count(ch) for ch in _GSM7_EXT) if gsm else 0, len(text.encode("utf-16-le")) // 2


def sms_length(text: str) -> tuple[str, int, int]:
    """(encoding, length in that encoding, single-SMS limit): ("GSM-7", septets, 160) when every
    character is GSM-7 (extension characters count 2), else ("UCS-2", UTF-16 units, 70)."""
    gsm, n, ext, utf16 = text_units(text)
    return ("GSM-7", n + ext, 160) if gsm else ("UCS-2", utf16, 70)


def measure(text: str, channel: str) -> tuple[int, int | None, str | None]:
    """(length, limit, encoding) of a draft body on a channel."""
    if channel == "sms":
        enc, n, limit = sms_length(text)
        return n, limit, enc
    if channel == "wechat":
        return len(text), WECHAT_LIMIT, None
    return len(text), None, None


# ===================================================================================== parts
@dataclass
class Part:
    """One sentence (or the greeting, closing, opt-out or sign-off) of a draft."""
    key: str
    text: str
    weight: int  # 0: required; otherwise value when optional
    sources: list[dict] = field(default_factory=list)
    group: str | None = None  # at most one part per group
    block: str = "body"  # greet | body | close | optout | sign
    short: str | None = None  # shorter wording for the compact fallback
    _units: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def units(self) -> tuple[bool, int, int, int]:
        """`text_units` of the text, measured once (a batch shares its segment and offer sentences)."""
        if self._units is None:
            self._units = text_units(self.text)
        return self._units


def assemble(parts: list[Part], lang: str, channel: str) -> str:
    """The draft text of ``parts``: greeting, body, closing, opt-out, sign-off (e-mail: paragraphs)."""
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


def _measured(parts: list[Part], lang: str, channel: str, units: dict) -> tuple[int, int | None]:
    """``measure(assemble(parts, lang, channel), channel)[:2]`` from each part's `text_units` (``units`` by
    id(part)), without assembling: the blocks' texts joined by "" (zh) or " " (en), the sign-off after."""
    if channel == "email":
        return 0, None
    sep = 0 if lang == "zh" else 1
    blocks: dict[str, list] = {}
    for p in parts:
        if p.text:
            blocks.setdefault(p.block, []).append(units[id(p)])
    gsm, n, ext, utf16, joins = True, 0, 0, 0, 0
    main = 0
    for b in ("greet", "body", "close", "optout", "sign"):
        us = blocks.get(b)
        if not us:
            continue
        main += b != "sign"
        joins += len(us) - 1
        for g, c, e, u in us:
            gsm, n, ext, utf16 = gsm and g, n + c, ext + e, utf16 + u
    joins = sep * (joins + max(main - 1, 0)) + (sep if blocks.get("sign") else 0)
    if channel == "wechat":
        return n + joins, WECHAT_LIMIT
    return (n + ext + joins, 160) if gsm else (utf16 + joins, 70)


@functools.lru_cache(maxsize=512)
def _selections(shape: tuple) -> tuple:
    """The selections of the optional parts of a draft whose optional parts have these (weight, group):
    (score, positions chosen), at most one per group, the most valuable first, ties in the order
    ``itertools.product`` over [None, part] per single part then [None, *members] per group gives them."""
    singles = [i for i, (_, g) in enumerate(shape) if g is None]
    groups: dict[str, list[int]] = {}
    for i, (_, g) in enumerate(shape):
        if g is not None:
            groups.setdefault(g, []).append(i)
    choices = [[None, i] for i in singles] + [[None, *m] for m in groups.values()]
    combos = []
    for pick in itertools.product(*choices):
        chosen = tuple(i for i in pick if i is not None)
        combos.append((sum(shape[i][0] for i in chosen), len(combos), chosen))
    combos.sort(key=lambda c: (-c[0], c[1]))
    return tuple((score, chosen) for score, _, chosen in combos)


def fit(parts: list[Part], lang: str, channel: str, optout: Part | None = None,
        marketing: bool = False) -> tuple[list[Part], str, int, bool]:
    """The most valuable selection of optional parts (at most one per group) whose text fits the
    channel's limit; the opt-out part is added (before the sign-off) when the message is
    marketing or carries an offer. Returns (kept parts, text, score, fits). Each selection is
    measured from its parts' lengths (`_measured`); only the one returned is assembled."""
    optional = [p for p in parts if p.weight > 0]
    units = {id(p): p.units() for p in parts + ([optout] if optout is not None else []) if p.text}
    last = None
    for score, chosen in _selections(tuple((p.weight, p.group) for p in optional)):
        keep = {id(optional[i]) for i in chosen}
        kept = [p for p in parts if p.weight == 0 or id(p) in keep]
        if optout is not None and (marketing or any(p.key == "offer" for p in kept)):
            kept = [p for p in kept if p.block != "sign"] + [optout] + [p for p in kept if p.block == "sign"]
        n, limit = _measured(kept, lang, channel, units)
        if limit is None or n <= limit:
            return kept, assemble(kept, lang, channel), score, True
        last = kept
    return last, assemble(last, lang, channel), -1, False
