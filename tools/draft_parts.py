"""The sentences of a care-message draft (:mod:`tools.drafts`) and the source of each personal detail in
them: the segment, last purchase, favourite category and recommended products, the complaint reference
and status, the sign-off and opt-out, and the parts of each plan (a full template, the compact fallback,
the compact fallback without the name). Shared by the one-customer draft and the batch
(:mod:`tools.drafts_batch`), so that both say the same words.
"""
from __future__ import annotations

import functools

import pandas as pd

from knowledge.errors import GuanxiError
from tools.care import is_vip, next_birthday
from tools.care_data import CareData, clean_value
from tools.draft_fit import SUBJECT_LIMIT, Part
from tools.draft_names import address_form, age_on
from tools.draft_templates import (COMPLAINT_TOPICS, GREETINGS, NO_NAME_GREETING, RESOLUTIONS, SHORT_CORES,
                                   SUBJECTS, classify, part_text)
from tools.formatting import plain_text
from tools.offers import segment_key

__all__ = ["source", "fmt_day", "addressing", "birthday_facts", "subject_of", "segment_part", "shown_purchases", "last_purchase_part", "purchase_part", "favourite_part",
           "recs_parts", "personal_parts", "sign_off", "plan_parts", "complaint_parts"]

_WITH_FACTS = ("winback", "vip_thanks", "recommendation")   # occasions that name the last purchase / favourite


def source(detail: str, value, source: str) -> dict:
    return {"detail": detail, "value": "" if value is None else str(value), "source": source}




@functools.lru_cache(maxsize=8192)   # the same days come back in every draft of a batch
def fmt_day(d, lang: str, as_of=None) -> str:
    """"10月12日" / "Oct 12"; with the year when it is not the as-of year."""
    d = pd.Timestamp(d)
    with_year = as_of is not None and d.year != pd.Timestamp(as_of).year
    if lang == "zh":
        return (f"{d.year}年" if with_year else "") + f"{d.month}月{d.day}日"
    return f"{d:%b} {d.day}" + (f", {d.year}" if with_year else "")





def addressing(cid: str, shown: str, gender: str | None, birthday, as_of, lang: str, tone: str) -> tuple[str, list[dict]]:
    """(the form of address, its sources: the name, the gender or age when they decided it, the rule)."""
    cust_src = f"customers table (customer_id={cid})"
    age = age_on(birthday, as_of) if lang == "zh" and tone == "warm" else None   # only used then
    addr, rule = address_form(shown, gender, lang, tone, age) if shown else ("", "no name")
    addr_src = [source("name", shown, f"{cust_src}: name")]
    if "gender" in rule or "title" in rule:
        addr_src.append(source("gender", gender, f"{cust_src}: gender"))
    if rule == "full name" and tone == "warm" and lang == "zh" and age is not None and age < 30 and gender:
        addr_src.append(source("age", age, f"{cust_src}: birthday (full name used for customers under 30)"))
    addr_src.append(source("form of address", addr, f"{rule} ({cust_src})"))
    return addr, addr_src


@functools.lru_cache(maxsize=8192)
def birthday_facts(birthday: str, as_of) -> tuple[str, object]:
    """("MM-DD", the next birthday celebration on or after ``as_of``) of a birthday on file."""
    return pd.Timestamp(birthday).strftime("%m-%d"), next_birthday(birthday, as_of)


def subject_of(occasion: str, lang: str, subject_fmt: dict) -> str:
    """An e-mail's subject; without the name when it would be over `SUBJECT_LIMIT` characters."""
    subject_fmt.setdefault("d", "")
    s_zh, s_en = SUBJECTS[occasion]
    subject = (s_zh if lang == "zh" else s_en).format(**subject_fmt)
    if len(subject) > SUBJECT_LIMIT:
        subject = (s_zh if lang == "zh" else s_en).format(**{**subject_fmt, "a": ""}).strip(" ,，")
    return subject


def segment_part(rfm_row, cid: str, occasion: str, lang: str, you: str) -> Part | None:
    """"您是我们最珍视的贵宾。" for a high-value customer on a birthday, festival or thanks; else None."""
    if occasion not in ("vip_thanks", "birthday", "festival") or not is_vip(rfm_row):
        return None
    seg = rfm_row.get("segment")
    top = (segment_key(seg) == "champions" or rfm_row.get("segment_cn8") == "重要价值客户"
           or rfm_row.get("tier") == "高价值客户") if seg is not None else True
    shown = part_text("segment_top" if top else "segment_loyal", lang).format(you=you)
    return Part("segment", shown, 10 if occasion != "vip_thanks" else 25,
                [source("segment", seg or rfm_row.get("tier"),
                        f"rfm artefact (customer_id={cid}): segment {seg}, tier {rfm_row.get('tier')}; "
                        f"shown as a positive phrase only")])


def shown_purchases(prof: dict) -> tuple[tuple | None, tuple | None]:
    """(last purchase, favourite category) of a purchase summary (`tools.care_data.CareData.purchases`) with
    the product and category names by their words only (no markup); None when nothing is left of a name."""
    last, fav = prof["last"], prof["fav"]
    last = (plain_text(last[0]), *last[1:]) if last and plain_text(last[0]) else None
    fav = (plain_text(fav[0]), *fav[1:]) if fav and plain_text(fav[0]) else None
    return last, fav


def last_purchase_part(last, cid: str, occasion: str, lang: str, you: str, as_of) -> Part | None:
    """"希望您10月24日购买的缓震跑步鞋用得称心。" (win-back, thanks, recommendation); else None."""
    if not last or occasion not in _WITH_FACTS:
        return None
    return purchase_part(last[0], fmt_day(last[1], lang, as_of), last[1].date().isoformat(), last[2], cid, occasion,
                         lang, you)


def purchase_part(product: str, date: str, iso_day: str, order_id, cid: str, occasion: str, lang: str,
                  you: str) -> Part:
    """`last_purchase_part` of a purchase given by its shown product, its day as the draft writes it and
    as an ISO date, and its order (a batch fills in placeholders)."""
    t = part_text("last_purchase", lang, occasion).format(you=you, date=date, product=product)
    return Part("last_purchase", t, 20,
                [source("last purchase", f"{product} ({iso_day})",
                        f"orders table (customer_id={cid}, order_id={order_id}): latest order line")])


def favourite_part(fav, cid: str, occasion: str, lang: str, you: str) -> Part | None:
    """"欢迎常来逛逛您喜欢的个护美妆。" (win-back, thanks, recommendation); else None."""
    if not fav or occasion not in _WITH_FACTS:
        return None
    t = part_text("favourite", lang, occasion).format(you=you, cat=fav[0])
    return Part("favourite", t, 15, [source("favourite category", fav[0],
                                            f"orders table (customer_id={cid}): {fav[1]} of {fav[2]} "
                                            f"order lines in this category")])


def recs_parts(recs: list[dict], occasion: str, channel: str, lang: str, you: str,
               warnings: list[str]) -> list[Part]:
    """The recommended-products sentences (3, 2 or 1 products; one of them is kept) of a recommendation
    or win-back; ``recs`` by their shown names (`tools.care_data.CareData.recommendations`)."""
    opt: list[Part] = []
    if recs:
        for k in (min(3, len(recs)), 2, 1):
            if k > len(recs) or (k == 3 and channel == "sms"):
                continue
            chosen = recs[:k]
            sep = "、" if lang == "zh" else ", "
            names = sep.join(r["item"] for r in chosen)
            long = occasion == "recommendation"
            tmpl = part_text("recs" if (long and k >= 1) else "recs.short", lang)
            srcs = [source("recommended product", r["item"],
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
    return opt




def personal_parts(data: CareData, cid: str, rfm_row, occasion: str, channel: str, lang: str, you: str,
                   as_of, warnings: list[str]) -> list[Part]:
    """The optional personal sentences (segment, last purchase, favourite category, recommended
    products), in the order the occasion puts them."""
    last, fav = shown_purchases(data.purchases(cid))
    opt = [p for p in (segment_part(rfm_row, cid, occasion, lang, you),
                       last_purchase_part(last, cid, occasion, lang, you, as_of),
                       favourite_part(fav, cid, occasion, lang, you)) if p is not None]
    if occasion in ("recommendation", "winback"):
        recs = [{**r, "item": plain_text(r["item"])} for r in data.recommendations(cid) if plain_text(r["item"])]
        opt += recs_parts(recs, occasion, channel, lang, you, warnings)
    return order_parts(opt, occasion)


def order_parts(opt: list[Part], occasion: str) -> list[Part]:
    """The optional sentences in the order the occasion puts them (a win-back starts from the purchase)."""
    order_keys = (("last_purchase", "recs", "favourite", "segment") if occasion in ("recommendation", "winback")
                  else ("segment", "last_purchase", "favourite", "recs"))
    return sorted(opt, key=lambda p: order_keys.index(p.key.split(".")[0].rstrip("0123456789")))


def sign_off(data: CareData, lang: str, channel: str) -> tuple[Part | None, Part]:
    """(the SMS opt-out part or None, the sign-off part with the brand) of a draft."""
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
    optout = Part("optout", optout_text, 0, block="optout") if optout_text else None
    return optout, Part("sign", sign_text, 0, [source("brand", brand, brand_src)], block="sign")


def plan_parts(kind: str, vi, lang: str, tone: str, occasion: str, variants, addr: str, addr_src: list[dict],
                core_fmt: dict, occasion_parts: list[Part], opt: list[Part], sign: Part) -> list[Part]:
    """The parts of one plan: a full template (``vi``: its variant), the compact fallback ("short") or the
    compact fallback without the name ("noname")."""
    if kind == "full":
        g_idx, core, close = variants[vi]
        parts = [Part("greet", GREETINGS[lang][tone][g_idx].format(a=addr), 0, addr_src, block="greet")]
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
    return parts




def complaint_parts(data: CareData, cid: str, feedback_id, lang: str, tone: str, you: str,
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
    date = fmt_day(created, lang, data.as_of)
    subject_fmt["d"] = date
    topic = classify(row.get("text"), COMPLAINT_TOPICS)
    srcs = [source("complaint date", created.date().isoformat(), f"{fsrc}: created_at")]
    if topic is not None:
        ref = part_text("ref.topic", lang).format(you=you, date=date, topic=topic[1] if lang == "zh" else topic[2])
        srcs.append(source("complaint topic", topic[1] if lang == "zh" else topic[2],
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
        rs = [source("complaint status", "resolved", f"{fsrc}: status")]
        # the staff's resolution text is classified, not copied (it is free text too)
        rs.append(source("resolution", match[0] if match is not None else ("other" if res_raw else "none recorded"),
                       f"{fsrc}: resolution field, classified and shown as the fixed phrase '{phrase}'"))
        short_phrase = phrase[0].lower() + phrase[1:] if lang == "en" else phrase
        parts.append(Part("status", part_text(f"resolved.{t}", lang).format(resolution=phrase), 0, rs,
                          short=part_text("resolved.short", lang).format(resolution=short_phrase, you=you)))
    else:
        parts.append(Part("status", part_text(f"open.{t}", lang), 0,
                          [source("complaint status", status, f"{fsrc}: status")],
                          short=part_text("open.short", lang).format(you=you)))
    return parts


