"""Care-message drafts: personalised, channel-sized, every personal detail traced to its source.

**A human sends; Guanxi only drafts.** Nothing here sends an SMS, a WeChat message or an e-mail,
and no send function exists anywhere in Guanxi: drafts are returned (or written to a CSV) for a
person to review, edit and send.

``draft_care_message(ws_or_tables, customer_id, occasion, ...) -> Draft``

* occasions: ``birthday``, ``festival`` (春节, 中秋, 国庆, 元旦 / New Year, Christmas and the
  other festivals of :data:`tools.care.FESTIVALS`), ``winback`` (at-risk customer),
  ``complaint_followup`` (uses that complaint's status and resolution: open → apology and what
  happens next; resolved → the resolution and a satisfaction check), ``vip_thanks``,
  ``recommendation`` (products from the association rules, ``tools.association.recommend_for_customer``).
* personalised from the customer's data: form of address (王女士 / 欧阳先生 from surname + gender,
  the full name for a playful tone or a customer under 30; "Dear Ms. Chen" / first name in
  English), RFM segment (only positive ones are ever shown: "忠实顾客"), last purchase and
  favourite category (orders), recommended products (rules), complaint status / resolution
  (feedback), an offer (offer list).
* ``sources``: one ``{detail, value, source}`` per personal detail that appears in the text.
* a draft carries no markup from the data: names, product and category names are used by their words
  (`tools.formatting.plain_text`: no HTML tag, link, URL or Markdown character).
* channels: ``sms`` — one segment: 160 GSM-7 characters, or 70 UCS-2 characters when any
  character is outside GSM-7 (any Chinese); ``wechat`` — ≤ 300 characters; ``email`` — with a
  subject. Optional parts are dropped (never cut mid-word) until the draft fits; the sign-off
  【brand】 is always inside the limit.
* language ``zh`` / ``en`` / ``auto`` (Latin-script name → en); tone ``warm`` / ``formal`` /
  ``playful`` (a complaint follow-up is never playful). Several templates per occasion × tone ×
  language, picked by a hash of the customer id: varied across customers, reproducible.
* offers and discounts come **only** from ``WORKSPACE/offers.toml`` (:func:`tools.offers.load_offers`);
  with no offer list there is no offer sentence at all.
* complaint text is data, never instructions: a draft refers to a complaint only by its date and
  a topic from a fixed list (物流, 质量 ...), and to a resolution only by a fixed phrase
  (已为您办理退款 ...); the customer's words are never copied.

Modules: offers from :mod:`tools.offers`, the wording from :mod:`tools.draft_templates`, the
sentences and their sources from :mod:`tools.draft_parts`, forms of address from
:mod:`tools.draft_names`, the customer data from :mod:`tools.care_data`, channel limits and fitting
from :mod:`tools.draft_fit`. A draft is `draft_request` (checked) + `compose` (one customer).

Batch: :func:`draft_batch` drafts for every customer of a segment into a CSV (contacts masked
unless ``unmask=True``), by :mod:`tools.drafts_batch`: the same `compose` with one `DraftMemo` for
the batch, and its birthday, festival and thanks drafts built column-wise (:mod:`tools.drafts_columns`).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.pii import mask_text
from tools.care import (FESTIVALS, Festival, festival_date, is_at_risk, is_latin_name, is_vip,
                        resolve_festival)
from tools.care_data import CareData, care_data, clean_value
from tools.draft_fit import CHANNELS, Part, assemble, fit, measure, text_units
from tools.draft_names import address_form, surname_of
from tools.draft_parts import (addressing, birthday_facts, complaint_parts, personal_parts, plan_parts,
                               sign_off, source, subject_of)
from tools.formatting import plain_text
from tools.draft_templates import FESTIVAL_EN_IN_TEXT, FESTIVAL_WISH, TEMPLATES, part_text
from tools.offers import OCCASION_ALIASES, OCCASIONS
from tools.results import provenance, to_jsonable

__all__ = [
    "OCCASIONS", "CHANNELS", "TONES", "LANGUAGES", "Draft", "DraftRequest", "DraftMemo", "draft_request",
    "draft_care_message", "compose", "choose_plan", "festival_facts", "offer_facts", "seed_order", "seed_orders", "resolve_occasion", "draft_batch", "address_form", "surname_of", "MASKED_WARNING",
]

TONES = ("warm", "formal", "playful")
LANGUAGES = ("zh", "en", "auto")
_MARKETING = ("winback", "recommendation")


# ===================================================================================== draft
@dataclass
class Draft:
    """A care-message draft for a human to review and send (Guanxi never sends).

    ``length`` is in the channel's unit (SMS: GSM-7 septets or UCS-2 characters; otherwise
    characters) and ``limit`` the channel's limit (None for e-mail). ``sources`` list every
    personal detail in the text: ``{detail, value, source}``."""
    customer_id: str
    name: str
    occasion: str
    channel: str
    language: str
    tone: str
    text: str
    subject: str | None
    length: int
    limit: int | None
    encoding: str | None
    sources: list[dict]
    warnings: list[str]
    festival: str | None = None
    offer_id: str | None = None
    template: str = ""
    provenance: list[str] = field(default_factory=list)
    note: str = "Draft only: a person reviews and sends it; Guanxi sends nothing."

    def to_dict(self) -> dict:
        return to_jsonable(self)



def resolve_occasion(occasion) -> str:
    o = str(occasion or "").strip()
    if o.startswith("festival:"):
        return "festival"
    key = OCCASION_ALIASES.get(o.lower().replace(" ", "_"), OCCASION_ALIASES.get(o))
    if key is None:
        raise GuanxiError(f"unknown occasion {occasion!r}; use one of {', '.join(OCCASIONS)}")
    return key


def _pick_festival(festival, occasion_raw, as_of, lang: str, warnings: list[str]) -> tuple[Festival, _dt.date, str]:
    if festival is None and str(occasion_raw or "").startswith("festival:"):
        festival = str(occasion_raw)
    if festival is not None:
        f = resolve_festival(festival)
        a = pd.Timestamp(as_of).date()
        d = festival_date(f, a.year)
        if d < a - _dt.timedelta(days=30):
            d = festival_date(f, a.year + 1)
        return f, d, "given"
    a = pd.Timestamp(as_of).date()
    cands = []
    for year in (a.year, a.year + 1):
        for f in FESTIVALS:
            if f.audience in ("all", lang):
                d = festival_date(f, year)
                if d >= a:
                    cands.append((d, f))
    d, f = min(cands, key=lambda t: (t[0], t[1].key))
    warnings.append(f"no festival given: using the next one for this customer, {f.zh} / {f.en} on {d.isoformat()}")
    return f, d, "next"


@dataclass(frozen=True)
class DraftRequest:
    """What to draft, validated (`draft_request`): the occasion as given and its key, channel, language, tone."""
    occasion_raw: str
    occasion: str
    channel: str
    language: str
    tone: str
    festival: str | None = None
    feedback_id: str | None = None


def draft_request(occasion, channel="sms", language="auto", tone="warm", festival=None,
                  feedback_id=None) -> DraftRequest:
    """The request checked and normalised (微信 → wechat, 短信 → sms ...); GuanxiError when unknown."""
    occ = resolve_occasion(occasion)
    channel = str(channel or "sms").strip().lower()
    channel = {"微信": "wechat", "weixin": "wechat", "wx": "wechat", "短信": "sms", "text": "sms", "邮件": "email",
               "e-mail": "email", "mail": "email"}.get(channel, channel)
    if channel not in CHANNELS:
        raise GuanxiError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    tone = str(tone or "warm").strip().lower()
    if tone not in TONES:
        raise GuanxiError(f"unknown tone {tone!r}; use one of {', '.join(TONES)}")
    language = str(language or "auto").strip().lower()
    if language not in LANGUAGES:
        raise GuanxiError(f"unknown language {language!r}; use one of zh, en, auto")
    return DraftRequest(occasion, occ, channel, language, tone, festival, feedback_id)


@dataclass
class DraftMemo:
    """What the drafts of one batch share (same data, request and as-of date): the festival picked per
    language, the offer per (segment names, day), and the plan and sentences chosen per shape — the
    lengths of the parts decide them (`tools.draft_fit.fit`), not their words. With a memo `compose`
    leaves the provenance out and the contact masking to the batch (one pass over all the texts)."""
    festivals: dict = field(default_factory=dict)
    offers: dict = field(default_factory=dict)
    plans: dict = field(default_factory=dict)


def festival_facts(req: DraftRequest, as_of, lang: str, memo: DraftMemo | None = None) -> tuple:
    """(the festival, its day, the warnings, the core's and the subject's fields, its source) of a
    festival draft in ``lang`` (once per batch with a memo)."""
    key = (req.festival, req.occasion_raw, lang)
    if memo is not None and key in memo.festivals:
        return memo.festivals[key]
    warnings: list[str] = []
    fest, fest_day, _ = _pick_festival(req.festival, req.occasion_raw, as_of, lang, warnings)
    if fest.audience == "en" and lang == "zh":
        warnings.append(f"{fest.zh} greetings usually go to English-speaking customers")
    if fest.audience == "none":
        warnings.append(f"{fest.zh} / {fest.en} is a marketing date, not a customary greeting")
    wz, we = FESTIVAL_WISH[fest.key]
    core = {"fest": fest.zh if lang == "zh" else FESTIVAL_EN_IN_TEXT[fest.key], "wish": wz if lang == "zh" else we}
    subject = {"fest": fest.zh if lang == "zh" else fest.en, "wish": core["wish"]}
    cal = (f"lunardate: lunar {fest.month}/{fest.day} of {fest_day.year}" if fest.calendar == "lunar"
           else f"solar {fest.month}/{fest.day}")
    src = source("festival", f"{fest.zh} / {fest.en} {fest_day.isoformat()}", f"tools.care festival calendar ({cal})")
    facts = (fest, fest_day, warnings, core, subject, src)
    if memo is not None:
        memo.festivals[key] = facts
    return facts


def offer_facts(data: CareData, occasion: str, festival: str | None, segment_names: set[str], day, lang: str,
                memo: DraftMemo | None = None) -> tuple:
    """(the offer of the list that fits, the warnings about it, its sentence or None) for a customer of
    these segments on ``day`` (once per segments and day with a memo)."""
    key = (frozenset(segment_names), day, festival, lang)
    if memo is not None and key in memo.offers:
        return memo.offers[key]
    offer, notes = data.offers.match(occasion, festival, segment_names, day)
    notes, part = list(notes), None
    if offer is not None:
        otext = offer.text_zh if lang == "zh" else offer.text_en
        if not otext:
            notes.append(f"offer {offer.id} has no {lang} text: not used")
        else:
            otext = otext.rstrip("。.！!")
            part = Part("offer", part_text("offer", lang).format(offer=otext), 40,
                        [source("offer", f"{offer.id}: {otext}",
                                f"offer list {data.offers.path} (id={offer.id}"
                                + (f", valid until {offer.valid_until.isoformat()})" if offer.valid_until else ")"))])
    facts = (offer, notes, part)
    if memo is not None:
        memo.offers[key] = facts
    return facts


def seed_order(cid: str, occasion: str, lang: str, tone: str, n: int) -> tuple[int, ...]:
    """The order in which the ``n`` template variants are tried for a customer: from a hash of the id,
    varied across customers and reproducible."""
    return seed_orders([cid], occasion, lang, tone, n)[0]


def seed_orders(cids, occasion: str, lang: str, tone: str, n: int) -> list[tuple[int, ...]]:
    """`seed_order` of each id (a batch: one hash each, the orders shared)."""
    orders = [tuple((s + i) % n for i in range(n)) for s in range(n)]
    tail, md5 = "|" + "|".join(map(str, (occasion, lang, tone))), hashlib.md5
    return [orders[int(md5((str(c) + tail).encode("utf-8")).hexdigest()[:8], 16) % n] for c in cids]


def draft_care_message(ws_or_tables, customer_id: str, occasion: str, channel: str = "sms",
                       language: str = "auto", tone: str = "warm", festival: str | None = None,
                       feedback_id: str | None = None, offers=None, as_of=None) -> Draft:
    """Draft one care message for ``customer_id`` (a human reviews and sends it; Guanxi never sends).

    ``ws_or_tables``: a Workspace, its folder, a dict of DataFrames or a :class:`tools.care_data.CareData`.
    ``occasion``: birthday, festival (``festival=`` 春节 / mid_autumn / Christmas …; default the
    next festival), winback, complaint_followup (``feedback_id=``; default the customer's latest
    complaint), vip_thanks, recommendation. ``channel``: sms, wechat, email. ``language``: zh,
    en, auto (Latin-script name → en). ``tone``: warm, formal, playful. ``offers``: overrides the
    workspace's ``offers.toml`` (a path, dict, list of offers, or [] for none).
    """
    data = care_data(ws_or_tables, offers=offers, as_of=as_of)
    req = draft_request(occasion, channel, language, tone, festival, feedback_id)
    return compose(data, req, data.customer(customer_id))


def compose(data: CareData, req: DraftRequest, cust: dict, memo: DraftMemo | None = None) -> Draft:
    """The draft of ``req`` for the customer row ``cust`` of ``data`` (`draft_care_message`; a batch passes
    one ``memo`` for all its customers)."""
    occasion, channel, language, tone = req.occasion, req.channel, req.language, req.tone
    cid = str(cust["customer_id"])
    name = str(cust["name"]).strip()
    warnings: list[str] = []
    shown = plain_text(name)   # a draft carries the name's words, never markup from the data
    if shown != name:
        warnings.append("the name holds markup (HTML, a link or Markdown): only its words are used"
                        if shown else "the name is only markup: the draft has no name")
    lang = ("en" if is_latin_name(shown) else "zh") if language == "auto" else language
    if occasion == "complaint_followup" and tone == "playful":
        tone = "warm"
        warnings.append("a complaint follow-up is never playful: warm tone used")
    rfm_row, churn_row = data.rfm_row(cid), data.churn_row(cid)
    as_of = data.as_of
    you = "你" if tone == "playful" else "您"
    sources_base: list[dict] = []

    # ---- form of address
    gender = clean_value(cust.get("gender"))
    addr, addr_src = addressing(cid, shown, gender, cust.get("birthday"), as_of, lang, tone)

    variants = TEMPLATES[occasion][lang].get(tone) or TEMPLATES[occasion][lang]["warm"]
    order = seed_order(cid, occasion, lang, tone, len(variants))

    # ---- occasion-specific facts
    fest = None
    occasion_parts: list[Part] = []
    subject_fmt: dict = {"a": addr}
    core_fmt: dict = {"you": you}
    occasion_day = pd.Timestamp(as_of).date()   # the day the message is for: offers must be valid then
    if occasion == "birthday":
        b = clean_value(cust.get("birthday"))
        if b is None:
            warnings.append("no birthday on file for this customer")
        else:
            md, day = birthday_facts(b, as_of)
            sources_base.append(source("birthday", md, f"customers table (customer_id={cid}): birthday"))
            occasion_day = day or occasion_day
    elif occasion == "festival":
        fest, fest_day, notes, core_more, subject_more, fest_src = festival_facts(req, as_of, lang, memo)
        warnings += notes
        occasion_day = fest_day
        core_fmt.update(core_more)
        subject_fmt.update(subject_more)
        sources_base.append(fest_src)
    elif occasion == "winback":
        basis = []
        if churn_row and clean_value(churn_row.get("churn_probability")) is not None:
            basis.append(f"churn artefact: churn_probability={float(churn_row['churn_probability']):.2f}"
                         + (f", risk_band={churn_row.get('risk_band')}" if clean_value(churn_row.get("risk_band")) else ""))
        if rfm_row and clean_value(rfm_row.get("segment")):
            basis.append(f"rfm artefact: segment={rfm_row['segment']}")
        if not is_at_risk(rfm_row, churn_row):
            warnings.append("this customer is not flagged at risk (churn / RFM); win-back wording used as asked")
        sources_base.append(source("occasion", "winback", "; ".join(basis) or "requested"))
    elif occasion == "vip_thanks":
        if not is_vip(rfm_row):
            warnings.append("this customer is not a high-value customer in the RFM table; thanks wording used as asked")
    elif occasion == "complaint_followup":
        occasion_parts += complaint_parts(data, cid, req.feedback_id, lang, tone, you, warnings, subject_fmt)

    opt = personal_parts(data, cid, rfm_row, occasion, channel, lang, you, as_of, warnings)

    # ---- offer (only from the configured list)
    offer, notes, offer_part = offer_facts(data, occasion, fest.key if fest else None, data.segment_names(cid),
                                           occasion_day, lang, memo)
    warnings += notes
    if offer_part is not None:
        opt.append(offer_part)
    optout, sign = sign_off(data, lang, channel)

    # ---- the plan: the full templates (hash order), then a compact fallback, then the compact fallback
    # without the name (only when nothing else fits); a batch chooses once per shape of parts
    (fits, named, rank, keys), plans = choose_plan(memo, lang, tone, occasion, channel, order, variants, addr,
                                                   addr_src, core_fmt, occasion_parts, opt, optout, sign,
                                                   offer.id if offer_part is not None else None)
    kind, vi = plans[rank]
    by_key = {p.key: p for p in plan_parts(kind, vi, lang, tone, occasion, variants, addr, addr_src, core_fmt,
                                            occasion_parts, opt, sign)}
    if optout is not None:
        by_key["optout"] = optout
    kept = [by_key[k] for k in keys]
    text = assemble(kept, lang, channel)
    if not named and addr:
        warnings.append("the name was left out to fit one SMS")
    if not fits:
        warnings.append("even the shortest draft is over the channel limit; shorten it by hand")
    dropped = [p.key for p in opt if p.key not in keys and not p.key.endswith(".short") and p.group is None]
    if offer_part is not None and "offer" not in keys:
        warnings.append(f"offer {offer.id} did not fit the {channel} limit and was left out")
    if dropped and channel == "sms":
        warnings.append("left out to fit one SMS: " + ", ".join(dropped))

    subject = subject_of(occasion, lang, subject_fmt) if channel == "email" else None

    # ---- safety net: a draft never carries contact data (a batch masks all its texts at once)
    if memo is None and mask_text(text) != text:
        text = mask_text(text)
        warnings.append(MASKED_WARNING)

    sources = list(sources_base)
    seen = set()
    for p in kept:
        for s in p.sources:
            k = (s["detail"], s["value"])
            if k not in seen:
                seen.add(k)
                sources.append(s)
    n, limit, enc = measure(text, channel)
    offer_id = offer.id if offer_part is not None and "offer" in keys else None
    prov = [] if memo is not None else [
        provenance("draft_care_message", {"customers": len(data.customers), "orders": data.n_orders()},
                   as_of=as_of, customer=cid, occasion=occasion, channel=channel, language=lang, tone=tone)]
    return Draft(cid, name, occasion, channel, lang, tone, text, subject, n, limit, enc, sources, warnings,
                 fest.key if fest else None, offer_id, f"{occasion}/{lang}/{tone}/{vi if kind == 'full' else kind}", prov)


MASKED_WARNING = "contact-like digits were masked in the draft"


def choose_plan(memo: DraftMemo | None, lang: str, tone: str, occasion: str, channel: str, order: tuple, variants,
                addr: str, addr_src: list[dict], core_fmt: dict, occasion_parts: list[Part], opt: list[Part],
                optout: Part | None, sign: Part, offer_id: str | None) -> tuple[tuple, list]:
    """((fits, named, rank, kept part keys), the plans) of a draft: the full templates (hash order), then
    a compact fallback, then the compact fallback without the name (only when nothing else fits); a
    batch chooses once per shape of parts (their lengths decide, not their words)."""
    plans = [("full", vi) for vi in order] + [("short", None), ("noname", None)] if addr else [("noname", None)]
    shape = (lang, order, text_units(addr), offer_id,
             tuple((p.key, p.weight, p.group, u, u if p.short is None else text_units(p.short))
                   for p in occasion_parts + opt for u in (p.units(),)))
    chosen = memo.plans.get(shape) if memo is not None else None
    if chosen is None:
        build = lambda kind, vi: plan_parts(kind, vi, lang, tone, occasion, variants, addr, addr_src, core_fmt,  # noqa: E731
                                             occasion_parts, opt, sign)
        fits, named, _, rank, kept = _choose(plans, build, lang, channel, optout, occasion in _MARKETING)
        chosen = (fits, named, rank, tuple(p.key for p in kept))
        if memo is not None:
            memo.plans[shape] = chosen
    return chosen, plans


def _choose(plans: list[tuple[str, int | None]], build, lang: str, channel: str, optout: Part | None,
            marketing: bool) -> tuple[bool, bool, int, int, list[Part]]:
    """(fits, named, score, rank in ``plans``, kept parts) of the best plan: fitting first, then with the
    name, then the most valuable sentences, then the earliest; the compact fallbacks are tried only when
    no full template fits."""
    n_full = sum(kind == "full" for kind, _ in plans)
    best = None
    for rank, (kind, vi) in enumerate(plans):
        kept, _, score, fits = fit(build(kind, vi), lang, channel, optout, marketing)
        cand = (fits, kind != "noname", score, -rank, kept)
        if best is None or cand[:4] > best[:4]:
            best = cand
        if kind == "full" and rank == n_full - 1 and best[0]:
            break  # a full template fits: the compact fallbacks are not needed
    if best is None:  # only when nothing at all could be assembled
        raise GuanxiError("could not assemble a draft")
    fits, named, score, rank, kept = best
    return fits, named, score, -rank, kept


# ===================================================================================== batch
def draft_batch(ws, segment: str, occasion: str, channel: str = "sms", language: str = "auto",
                out_csv: str | Path | None = None, tone: str = "warm", festival: str | None = None,
                unmask: bool = False, offers=None, limit: int | None = None, only=None) -> Path:
    """Draft for every customer of an RFM segment (English, Chinese or eight-class name, or a tier,
    e.g. "At Risk", "有流失风险客户", "重要挽留客户", "高价值客户"; "all" = every customer) and write a
    CSV: customer_id, name, phone, email, channel, language, tone, occasion, text, subject, length,
    limit, offer_id, sources (JSON), warnings (JSON). Phones and e-mails are masked unless
    ``unmask=True``. ``only``: these ids of the segment instead of all of them. A human reviews and
    sends the drafts; Guanxi sends nothing. Returns the path (default
    ``WORKSPACE/drafts/<occasion>_<segment>_<channel>.csv``); `tools.drafts_batch.write_batch` also
    gives the counts."""
    from tools.drafts_batch import write_batch
    return write_batch(ws, segment, occasion, channel, language, out_csv, tone, festival, unmask, offers,
                       limit, only).path
