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
customer data from :mod:`tools.care_data`, channel limits and fitting from :mod:`tools.draft_fit`.

Batch: :func:`draft_batch` drafts for every customer of a segment into a CSV (contacts masked
unless ``unmask=True``).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from knowledge.export import write_csv
from knowledge.errors import GuanxiError
from knowledge.pii import mask_email, mask_phone
from knowledge.workspace import Workspace
from tools.care import (FESTIVALS, Festival, festival_date, is_at_risk, is_latin_name, is_vip, next_birthday,
                        resolve_festival)
from tools.care_data import CareData, care_data, clean_value
from tools.draft_fit import CHANNELS, SUBJECT_LIMIT, Part, fit, measure
from tools.formatting import plain_text
from tools.draft_templates import (COMPLAINT_TOPICS, FESTIVAL_EN_IN_TEXT, FESTIVAL_WISH, GREETINGS,
                                   NO_NAME_GREETING, RESOLUTIONS, SHORT_CORES, SUBJECTS, TEMPLATES, classify,
                                   part_text)
from tools.offers import OCCASION_ALIASES, OCCASIONS, segment_key
from tools.results import provenance, to_jsonable

__all__ = [
    "OCCASIONS", "CHANNELS", "TONES", "LANGUAGES", "Draft", "draft_care_message", "draft_batch",
    "address_form", "surname_of",
]

TONES = ("warm", "formal", "playful")
LANGUAGES = ("zh", "en", "auto")
_MARKETING = ("winback", "recommendation")


# ===================================================================================== names
COMPOUND_SURNAMES = (
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯",
    "轩辕", "令狐", "钟离", "澹台", "公冶", "太史", "申屠", "端木", "独孤", "南宫", "西门", "百里", "呼延",
    "万俟", "闻人", "赫连", "司空", "濮阳", "淳于", "单于", "仲孙", "宗政", "拓跋", "第五", "东郭", "羊舌",
    "微生", "梁丘", "左丘", "乐正", "谷梁", "公羊", "亓官", "段干", "巫马", "公西", "漆雕", "壤驷", "夹谷",
)


def surname_of(name: str) -> str | None:
    """The surname of a Chinese name (compound surnames such as 欧阳, 司马, 诸葛 recognised);
    None for names with '·' (transliterated) or Latin script."""
    n = str(name or "").strip()
    if not n or is_latin_name(n) or "·" in n or "•" in n:
        return None
    for s in COMPOUND_SURNAMES:
        if n.startswith(s) and len(n) >= 3:
            return s
    return n[0]


def _age(birthday, as_of) -> int | None:
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


def _src(detail: str, value, source: str) -> dict:
    return {"detail": detail, "value": "" if value is None else str(value), "source": source}


def _fmt_day(d, lang: str, as_of=None) -> str:
    """"10月12日" / "Oct 12"; with the year when it is not the as-of year."""
    d = pd.Timestamp(d)
    with_year = as_of is not None and d.year != pd.Timestamp(as_of).year
    if lang == "zh":
        return (f"{d.year}年" if with_year else "") + f"{d.month}月{d.day}日"
    return f"{d:%b} {d.day}" + (f", {d.year}" if with_year else "")


def _seed(*parts) -> int:
    return int(hashlib.md5("|".join(map(str, parts)).encode("utf-8")).hexdigest()[:8], 16)


def _resolve_occasion(occasion) -> str:
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
    occasion_raw = occasion
    occasion = _resolve_occasion(occasion)
    channel = str(channel or "sms").strip().lower()
    if channel in ("微信", "weixin", "wx"):
        channel = "wechat"
    if channel in ("短信", "text"):
        channel = "sms"
    if channel in ("邮件", "e-mail", "mail"):
        channel = "email"
    if channel not in CHANNELS:
        raise GuanxiError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    tone = str(tone or "warm").strip().lower()
    if tone not in TONES:
        raise GuanxiError(f"unknown tone {tone!r}; use one of {', '.join(TONES)}")
    language = str(language or "auto").strip().lower()
    if language not in LANGUAGES:
        raise GuanxiError(f"unknown language {language!r}; use one of zh, en, auto")

    cust = data.customer(customer_id)
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
    cust_src = f"customers table (customer_id={cid})"
    sources_base: list[dict] = []

    # ---- form of address
    gender = clean_value(cust.get("gender"))
    age = _age(cust.get("birthday"), as_of)
    addr, rule = address_form(shown, gender, lang, tone, age) if shown else ("", "no name")
    addr_src = [_src("name", shown, f"{cust_src}: name")]
    if "gender" in rule or "title" in rule:
        addr_src.append(_src("gender", gender, f"{cust_src}: gender"))
    if rule == "full name" and tone == "warm" and lang == "zh" and age is not None and age < 30 and gender:
        addr_src.append(_src("age", age, f"{cust_src}: birthday (full name used for customers under 30)"))
    addr_src.append(_src("form of address", addr, f"{rule} ({cust_src})"))

    seed = _seed(cid, occasion, lang, tone)
    variants = TEMPLATES[occasion][lang].get(tone) or TEMPLATES[occasion][lang]["warm"]
    order = [(seed + i) % len(variants) for i in range(len(variants))]

    # ---- occasion-specific facts
    fest = fest_day = None
    occasion_parts: list[Part] = []
    subject_fmt: dict = {"a": addr}
    core_fmt: dict = {"you": you}
    occasion_day = pd.Timestamp(as_of).date()   # the day the message is for: offers must be valid then
    if occasion == "birthday":
        b = clean_value(cust.get("birthday"))
        if b is None:
            warnings.append("no birthday on file for this customer")
        else:
            sources_base.append(_src("birthday", pd.Timestamp(b).strftime("%m-%d"), f"{cust_src}: birthday"))
            occasion_day = next_birthday(b, as_of) or occasion_day
    elif occasion == "festival":
        fest, fest_day, how = _pick_festival(festival, occasion_raw, as_of, lang, warnings)
        occasion_day = fest_day
        if fest.audience == "en" and lang == "zh":
            warnings.append(f"{fest.zh} greetings usually go to English-speaking customers")
        if fest.audience == "none":
            warnings.append(f"{fest.zh} / {fest.en} is a marketing date, not a customary greeting")
        wz, we = FESTIVAL_WISH[fest.key]
        core_fmt.update(fest=fest.zh if lang == "zh" else FESTIVAL_EN_IN_TEXT[fest.key], wish=wz if lang == "zh" else we)
        subject_fmt.update(fest=fest.zh if lang == "zh" else fest.en, wish=core_fmt["wish"])
        cal = (f"lunardate: lunar {fest.month}/{fest.day} of {fest_day.year}" if fest.calendar == "lunar"
               else f"solar {fest.month}/{fest.day}")
        sources_base.append(_src("festival", f"{fest.zh} / {fest.en} {fest_day.isoformat()}",
                                 f"tools.care festival calendar ({cal})"))
    elif occasion == "winback":
        basis = []
        if churn_row and clean_value(churn_row.get("churn_probability")) is not None:
            basis.append(f"churn artefact: churn_probability={float(churn_row['churn_probability']):.2f}"
                         + (f", risk_band={churn_row.get('risk_band')}" if clean_value(churn_row.get("risk_band")) else ""))
        if rfm_row and clean_value(rfm_row.get("segment")):
            basis.append(f"rfm artefact: segment={rfm_row['segment']}")
        if not is_at_risk(rfm_row, churn_row):
            warnings.append("this customer is not flagged at risk (churn / RFM); win-back wording used as asked")
        sources_base.append(_src("occasion", "winback", "; ".join(basis) or "requested"))
    elif occasion == "vip_thanks":
        if not is_vip(rfm_row):
            warnings.append("this customer is not a high-value customer in the RFM table; thanks wording used as asked")
    elif occasion == "complaint_followup":
        occasion_parts += _complaint_parts(data, cid, feedback_id, lang, tone, you, warnings, subject_fmt)

    # ---- optional personal parts
    opt: list[Part] = []
    if occasion in ("vip_thanks", "birthday", "festival") and is_vip(rfm_row):
        seg = rfm_row.get("segment")
        top = (segment_key(seg) == "champions" or rfm_row.get("segment_cn8") == "重要价值客户"
               or rfm_row.get("tier") == "高价值客户") if seg is not None else True
        key = "segment_top" if top else "segment_loyal"
        shown = part_text(key, lang).format(you=you)
        opt.append(Part("segment", shown, 10 if occasion != "vip_thanks" else 25,
                        [_src("segment", seg or rfm_row.get("tier"),
                              f"rfm artefact (customer_id={cid}): segment {seg}, tier {rfm_row.get('tier')}; "
                              f"shown as a positive phrase only")]))
    prof = data.purchases(cid)
    last, fav = prof["last"], prof["fav"]
    # product and category names from the data: their words only, no markup
    last = (plain_text(last[0]), *last[1:]) if last and plain_text(last[0]) else None
    fav = (plain_text(fav[0]), *fav[1:]) if fav and plain_text(fav[0]) else None
    if last and occasion in ("winback", "vip_thanks", "recommendation"):
        t = part_text("last_purchase", lang, occasion).format(you=you, date=_fmt_day(last[1], lang, as_of),
                                                              product=last[0])
        opt.append(Part("last_purchase", t, 20,
                        [_src("last purchase", f"{last[0]} ({last[1].date().isoformat()})",
                              f"orders table (customer_id={cid}, order_id={last[2]}): latest order line")]))
    if fav and occasion in ("winback", "vip_thanks", "recommendation"):
        t = part_text("favourite", lang, occasion).format(you=you, cat=fav[0])
        opt.append(Part("favourite", t, 15, [_src("favourite category", fav[0],
                                                   f"orders table (customer_id={cid}): {fav[1]} of {fav[2]} "
                                                   f"order lines in this category")]))

    # ---- recommendations
    if occasion in ("recommendation", "winback"):
        recs = [{**r, "item": plain_text(r["item"])} for r in data.recommendations(cid) if plain_text(r["item"])]
        if recs:
            for k in (min(3, len(recs)), 2, 1):
                if k > len(recs) or (k == 3 and channel == "sms"):
                    continue
                chosen = recs[:k]
                sep = "、" if lang == "zh" else ", "
                names = sep.join(r["item"] for r in chosen)
                long = occasion == "recommendation"
                tmpl = part_text("recs" if (long and k >= 1) else "recs.short", lang)
                srcs = [_src("recommended product", r["item"],
                             f"association rules (rules_product): {{{', '.join(r['because'])}}} → {{{r['item']}}}, "
                             f"confidence {r['confidence']:.2f}, lift {r['lift']:.2f}" if r["kind"] == "rule" else
                             f"orders table: best seller of the customer's favourite category {r['because'][0]} "
                             f"(sales {r['sales']:,.2f}), not bought yet") for r in chosen]
                weight = {3: 62, 2: 60, 1: 56}[k] if occasion == "recommendation" else {3: 14, 2: 13, 1: 12}[k]
                opt.append(Part(f"recs{k}", tmpl.format(you=you, products=names), weight, srcs, group="recs"))
                if long:
                    opt.append(Part(f"recs{k}.short", part_text("recs.short", lang).format(you=you, products=names),
                                    weight - 1, srcs, group="recs"))
        elif occasion == "recommendation":
            warnings.append("no association rule or favourite-category best seller for this customer: "
                            "no products named")

    order_keys = (("last_purchase", "recs", "favourite", "segment") if occasion in ("recommendation", "winback")
                  else ("segment", "last_purchase", "favourite", "recs"))
    opt.sort(key=lambda p: order_keys.index(p.key.split(".")[0].rstrip("0123456789")))

    # ---- offer (only from the configured list)
    seg_names = data.segment_names(cid)
    offer, notes = data.offers.match(occasion, fest.key if fest else None, seg_names, occasion_day)
    warnings += notes
    offer_part = None
    if offer is not None:
        otext = offer.text_zh if lang == "zh" else offer.text_en
        if not otext:
            warnings.append(f"offer {offer.id} has no {lang} text: not used")
        else:
            otext = otext.rstrip("。.！!")
            offer_part = Part("offer", part_text("offer", lang).format(offer=otext), 40,
                              [_src("offer", f"{offer.id}: {otext}",
                                    f"offer list {data.offers.path} (id={offer.id}"
                                    + (f", valid until {offer.valid_until.isoformat()})" if offer.valid_until else ")"))])
            opt.append(offer_part)

    # ---- brand and opt-out
    brand = data.offers.brand if lang == "zh" else data.offers.brand_for_en
    brand_src = (f"offer list {data.offers.path}: brand" if data.offers.configured
                 else "default brand (no offers.toml)")
    if channel == "email":
        sign_text = f"{brand} 敬上" if lang == "zh" else f"Best regards,\n{brand}"
    elif lang == "zh":
        sign_text = f"【{brand}】"
    else:
        sign_text = f"- {brand}"
    optout_text = (data.offers.sms_opt_out_zh if lang == "zh" else data.offers.sms_opt_out_en) \
        if channel == "sms" else ""
    if optout_text and lang == "en" and not optout_text.endswith("."):
        optout_text += "."

    # ---- build per variant, fit, choose: the full templates (hash order), then a compact
    # fallback, then the compact fallback without the name (only when nothing else fits)
    optout = Part("optout", optout_text, 0, block="optout") if optout_text else None
    sign = Part("sign", sign_text, 0, [_src("brand", brand, brand_src)], block="sign")
    plans = [("full", vi) for vi in order] + [("short", None), ("noname", None)] if addr else [("noname", None)]
    best = None
    for rank, (kind, vi) in enumerate(plans):
        if kind == "full":
            g_idx, core, close = variants[vi]
            greet = GREETINGS[lang][tone][g_idx].format(a=addr)
            parts = [Part("greet", greet, 0, addr_src, block="greet")]
            if core:
                parts.append(Part("core", core.format(**core_fmt), 0))
            parts += occasion_parts + opt
            parts.append(Part("close", close, 5, block="close"))
        else:
            greet = GREETINGS[lang][tone][0].format(a=addr) if kind == "short" else NO_NAME_GREETING[lang]
            parts = [Part("greet", greet, 0, addr_src if kind == "short" else [], block="greet")]
            core = SHORT_CORES[occasion][0 if lang == "zh" else 1].format(**core_fmt)
            if core:
                parts.append(Part("core", core, 0))
            parts += [Part(p.key, p.short or p.text, p.weight, p.sources, p.group, p.block) for p in occasion_parts]
            parts += opt
        parts.append(sign)
        kept, text, score, fits = fit(parts, lang, channel, optout, occasion in _MARKETING)
        cand = (fits, kind != "noname", score, -rank, kept, text, f"{vi}" if kind == "full" else kind)
        if best is None or cand[:4] > best[:4]:
            best = cand
        if kind == "full" and rank == len(order) - 1 and best[0]:
            break  # a full template fits: the compact fallbacks are not needed
    if best is None:  # only when nothing at all could be assembled
        raise GuanxiError("could not assemble a draft")
    fits, named, score, _, kept, text, vi = best
    if not named and addr:
        warnings.append("the name was left out to fit one SMS")
    if not fits:
        warnings.append("even the shortest draft is over the channel limit; shorten it by hand")
    dropped = [p.key for p in opt if all(p is not k for k in kept) and not p.key.endswith(".short")
               and p.group is None]
    if offer_part is not None and all(p is not offer_part for p in kept):
        warnings.append(f"offer {offer.id} did not fit the {channel} limit and was left out")
    if dropped and channel == "sms":
        warnings.append("left out to fit one SMS: " + ", ".join(dropped))

    # ---- subject (e-mail)
    subject = None
    if channel == "email":
        subject_fmt.setdefault("d", "")
        s_zh, s_en = SUBJECTS[occasion]
        subject = (s_zh if lang == "zh" else s_en).format(**subject_fmt)
        if len(subject) > SUBJECT_LIMIT:
            subject = (s_zh if lang == "zh" else s_en).format(**{**subject_fmt, "a": ""}).strip(" ,，")

    # ---- safety net: a draft never carries contact data
    from knowledge.pii import mask_text
    if mask_text(text) != text:
        text = mask_text(text)
        warnings.append("contact-like digits were masked in the draft")

    sources = list(sources_base)
    seen = set()
    for p in kept:
        for s in p.sources:
            k = (s["detail"], s["value"])
            if k not in seen:
                seen.add(k)
                sources.append(s)
    n, limit, enc = measure(text, channel)
    offer_id = offer.id if offer_part is not None and any(p is offer_part for p in kept) else None
    prov = [provenance("draft_care_message", {"customers": len(data.customers), "orders": data.n_orders()},
                       as_of=as_of, customer=cid, occasion=occasion, channel=channel, language=lang, tone=tone)]
    return Draft(cid, name, occasion, channel, lang, tone, text, subject, n, limit, enc, sources, warnings,
                 fest.key if fest else None, offer_id, f"{occasion}/{lang}/{tone}/{vi}", prov)


def _complaint_parts(data: CareData, cid: str, feedback_id, lang: str, tone: str, you: str,
                     warnings: list[str], subject_fmt: dict) -> list[Part]:
    fb = data.feedback
    if fb is None or not len(fb):
        raise GuanxiError("complaint_followup: no feedback table")
    if feedback_id is not None:
        row = fb.loc[fb["feedback_id"].astype(str) == str(feedback_id).strip()]
        if not len(row):
            raise GuanxiError(f"complaint_followup: no feedback {feedback_id!r}")
        row = row.iloc[0].to_dict()
        if str(row.get("customer_id")) != cid:
            raise GuanxiError(f"complaint_followup: feedback {feedback_id} belongs to another customer")
    else:
        if "customer_id" not in fb.columns:
            raise GuanxiError("complaint_followup: the feedback table has no customer_id column")
        mine = data.feedback_rows(cid)
        cands = [r for r in mine if r.get("kind") in ("complaint", None) or "kind" not in r]
        if not cands:
            raise GuanxiError(f"complaint_followup: customer {cid} has no complaint on file"
                              + (f" (other feedback: {', '.join(str(r['feedback_id']) for r in mine[:5])}; "
                                 f"pass feedback_id to follow one up)" if mine else ""))
        row = max(enumerate(cands), key=lambda t: (pd.Timestamp(t[1]["created_at"]), t[0]))[1]
        warnings.append(f"no feedback_id given: using the latest complaint, {row['feedback_id']}")
    kind = clean_value(row.get("kind"))
    if kind not in (None, "complaint"):
        warnings.append(f"feedback {row['feedback_id']} is a {kind}, not a complaint")
    age_days = (data.as_of - pd.Timestamp(row["created_at"]).normalize()).days
    if age_days > 90:
        warnings.append(f"this feedback is {age_days} days old; check that a follow-up still makes sense")
    fid = str(row["feedback_id"])
    fsrc = f"feedback table (feedback_id={fid})"
    created = pd.Timestamp(row["created_at"])
    date = _fmt_day(created, lang, data.as_of)
    subject_fmt["d"] = date
    topic = classify(row.get("text"), COMPLAINT_TOPICS)
    srcs = [_src("complaint date", created.date().isoformat(), f"{fsrc}: created_at")]
    if topic is not None:
        ref = part_text("ref.topic", lang).format(you=you, date=date, topic=topic[1] if lang == "zh" else topic[2])
        srcs.append(_src("complaint topic", topic[1] if lang == "zh" else topic[2],
                         f"{fsrc}: text, matched to a fixed topic list (the customer's words are not quoted)"))
    else:
        ref = part_text("ref", lang).format(you=you, date=date)
    ch = data.status_of.get(fid)   # the event log's follow-through (tools.service_log) supersedes the file
    status, fsrc = (ch.status, f"event log (complaint_status by {ch.actor} {ch.at[:10]})") if ch else (str(clean_value(row.get("status")) or "open").lower(), fsrc)
    short_ref = part_text("ref.short", lang).format(you=you, date=date)
    parts = [Part("ref", ref, 0, srcs, short=short_ref)]
    t = "formal" if tone == "formal" else "warm"
    if status == "resolved":
        res_raw = ch.resolution if ch and ch.resolution else clean_value(row.get("resolution"))
        match = classify(res_raw, RESOLUTIONS) if res_raw else None
        if match is not None:
            phrase = match[1] if lang == "zh" else match[2].capitalize()
        else:
            phrase = "您反馈的问题已处理完毕" if lang == "zh" else "Your issue has been resolved"
        if lang == "zh" and tone != "formal" and you == "你":
            phrase = phrase.replace("您", "你")
        rs = [_src("complaint status", "resolved", f"{fsrc}: status")]
        # the staff's resolution text is classified, not copied (it is free text too)
        rs.append(_src("resolution", match[0] if match is not None else ("other" if res_raw else "none recorded"),
                       f"{fsrc}: resolution field, classified and shown as the fixed phrase '{phrase}'"))
        short_phrase = phrase[0].lower() + phrase[1:] if lang == "en" else phrase
        parts.append(Part("status", part_text(f"resolved.{t}", lang).format(resolution=phrase), 0, rs,
                          short=part_text("resolved.short", lang).format(resolution=short_phrase, you=you)))
    else:
        parts.append(Part("status", part_text(f"open.{t}", lang), 0,
                          [_src("complaint status", status, f"{fsrc}: status")],
                          short=part_text("open.short", lang).format(you=you)))
    return parts


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
    ``WORKSPACE/drafts/<occasion>_<segment>_<channel>.csv``)."""
    data = care_data(ws, offers=offers)
    ids = data.segment_ids(segment) if only is None else list(only)
    if limit is not None:
        ids = ids[: int(limit)]
    data.index_orders(ids)
    rows = []
    for cid in ids:
        cust = data.customer(cid)
        try:
            d = draft_care_message(data, cid, occasion, channel=channel, language=language, tone=tone,
                                   festival=festival)
        except GuanxiError as e:  # e.g. no complaint on file: keep the row, say why
            rows.append({"customer_id": cid, "name": cust.get("name"), "phone": None, "email": None,
                         "channel": channel, "language": None, "tone": tone, "occasion": occasion, "text": "",
                         "subject": "", "length": 0, "limit": None, "offer_id": None, "sources": "[]",
                         "warnings": json.dumps([str(e)], ensure_ascii=False)})
            continue
        phone, email = clean_value(cust.get("phone")), clean_value(cust.get("email"))
        rows.append({
            "customer_id": cid, "name": d.name,
            "phone": phone if unmask else mask_phone(phone) if phone else None,
            "email": email if unmask else mask_email(email) if email else None,
            "channel": d.channel, "language": d.language, "tone": d.tone, "occasion": d.occasion,
            "text": d.text, "subject": d.subject or "", "length": d.length, "limit": d.limit,
            "offer_id": d.offer_id, "sources": json.dumps(d.sources, ensure_ascii=False),
            "warnings": json.dumps(d.warnings, ensure_ascii=False)})
    if out_csv is None:
        root = Path(ws.root if isinstance(ws, Workspace) else ws) if isinstance(ws, (Workspace, str, Path)) else Path(".")
        slug = re.sub(r"[^\w\u4e00-\u9fff]+", "_", str(segment)).strip("_") or "segment"
        out_csv = root / "drafts" / f"{_resolve_occasion(occasion)}_{slug}_{channel}.csv"
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    cols = ["customer_id", "name", "phone", "email", "channel", "language", "tone", "occasion", "text", "subject",
            "length", "limit", "offer_id", "sources", "warnings"]
    write_csv(pd.DataFrame(rows, columns=cols), out, encoding="utf-8-sig")  # customer text: no formulas
    return out


