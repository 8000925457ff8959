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

import itertools
from dataclasses import dataclass, field

__all__ = ["CHANNELS", "WECHAT_LIMIT", "SUBJECT_LIMIT", "sms_length", "measure", "Part", "assemble", "fit"]

CHANNELS = ("sms", "wechat", "email")
WECHAT_LIMIT = 300
SUBJECT_LIMIT = 60


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


def fit(parts: list[Part], lang: str, channel: str, optout: Part | None = None,
        marketing: bool = False) -> tuple[list[Part], str, int, bool]:
    """The most valuable selection of optional parts (at most one per group) whose text fits the
    channel's limit; the opt-out part is added (before the sign-off) when the message is
    marketing or carries an offer. Returns (kept parts, text, score, fits)."""
    optional = [p for p in parts if p.weight > 0]
    singles = [p for p in optional if p.group is None]
    groups: dict[str, list[Part]] = {}
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
        text = assemble(kept, lang, channel)
        n, limit, _ = measure(text, channel)
        if limit is None or n <= limit:
            return kept, text, score, True
        last = (kept, text)
    return last[0], last[1], -1, False
