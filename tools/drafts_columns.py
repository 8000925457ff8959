"""The drafts of a birthday, festival or thanks batch (:mod:`tools.drafts_batch`) built a chunk of customers
at a time from columns: each customer's draft is the one `tools.drafts.compose` gives, with every piece
that does not name the customer worked out once for all who share it.

A draft's text is a layout of constant pieces with slots (the form of address and the personal sentences),
chosen per *shape*: the language, the template order of the id's hash, and the lengths of the slots' texts
(`tools.drafts.choose_plan`: the lengths decide, not the words). Per batch, once: per language the templates,
festival, sign-off and their sources' JSON; per name, gender and age the form of address and its sources;
per RFM row the segment sentence; per product and day the last-purchase sentence; per category the
favourite sentence; per segment names and day the offer; per shape the layout, the warnings and the
length. Per customer there is left: the hash, the lookups, the text joined from the layout, and the ids put
into the sources' JSON (made once with a placeholder where the customer id, order id and line counts go).
A customer whose name holds markup, or whose values hold a placeholder, is left to `compose` (None).
"""
from __future__ import annotations

import json

import pandas as pd

from knowledge.errors import GuanxiError
from tools.care import is_latin_name
from tools.care_data import CareData, clean_value
from tools.draft_fit import Part, assemble, measure, text_units
from tools.draft_names import age_on
from tools.draft_parts import (addressing, birthday_facts, favourite_part, fmt_day, plan_parts, purchase_part,
                               segment_part, sign_off, source, subject_of)
from tools.draft_templates import TEMPLATES
from tools.drafts import DraftMemo, choose_plan, festival_facts, offer_facts, seed_orders
from tools.formatting import plain_text
from tools.purchase_facts import facts_of

__all__ = ["ColumnDrafts", "COLUMN_WISE", "RFM_KEYS", "MARKS", "SLOTS", "batch_key", "json_text", "holds_mark"]

#: occasions drafted column-wise; the others, and the unusual customers of these, by `compose`
COLUMN_WISE = ("birthday", "festival", "vip_thanks")
#: the RFM columns a birthday, festival or thanks draft reads
RFM_KEYS = ("segment", "segment_zh", "segment_cn8", "tier", "tier_en")
# placeholders in the texts and JSON made once for many customers: the customer id, an order id, a day as
# written and as an ISO date, two line counts, a product (printable: JSON leaves them as they are)
_CID, _ORDER, _DATE, _ISO, _LINES, _ALL, _PRODUCT = "⸨i⸩", "⸨o⸩", "⸨d⸩", "⸨s⸩", "⸨n⸩", "⸨a⸩", "⸨p⸩"
#: the placeholders by what they stand for (`tools.drafts_vector` fills them in column by column; "name": the
#: customer's name in the sources' JSON, put there by `tools.drafts_vector` only)
MARKS = {"cid": _CID, "order": _ORDER, "date": _DATE, "iso": _ISO, "lines": _LINES, "all": _ALL, "product": _PRODUCT,
         "name": "⸨m⸩"}
_MISS = object()
_NS_DAY = 86_400_000_000_000
_MEMO_MAX = 50_000
#: the slots of a layout, in `ColumnDrafts.drafts` order
SLOTS = ("@", "segment", "last_purchase", "favourite", "offer")


def _key(v):
    """A cell as a key of the batch's memos: every NaN the same (NaN != NaN), the rest as it is."""
    return "\x00NaN" if isinstance(v, float) and v != v else v


def json_text(s: str) -> str:
    """``json.dumps(s, ensure_ascii=False)``: quotes around the text unless it holds a quote, a backslash
    or a control character (which json escapes; isprintable is False for those, and a few more)."""
    return '"' + s + '"' if s.isprintable() and '"' not in s and "\\" not in s else json.dumps(s, ensure_ascii=False)


def _jsource(src: dict) -> str:
    """``json.dumps(src, ensure_ascii=False)`` of a `tools.draft_parts.source` entry."""
    return ('{"detail": ' + json_text(src["detail"]) + ', "value": ' + json_text(src["value"]) + ', "source": '
            + json_text(src["source"]) + "}")


def holds_mark(s: str) -> bool:
    """True when a value holds a placeholder's bracket (its customer is left to `compose`)."""
    return "⸨" in s or "⸩" in s


_held = holds_mark


def batch_key(data: CareData, req) -> tuple:
    """What, besides the lengths of a draft's parts, decides its plan and layout: the request, the as-of
    date (the festival's day) and the sign-off and opt-out texts (the brand settings)."""
    ends = [sign_off(data, lang, req.channel) for lang in ("zh", "en")]
    return req, data.as_of, tuple((o and o.text, s.text) for o, s in ends)


class ColumnDrafts:
    """The drafts of a birthday, festival or thanks batch (`drafts`), with what the customers share worked
    out once for the batch (see the module)."""

    def __init__(self, data: CareData, req, memo: DraftMemo):
        self.data, self.req, self.memo = data, req, memo
        shared = data.batch_cache(batch_key(data, req))   # decided by lengths alone: kept across batches
        self.plans: dict = shared.setdefault("shapes", {})
        self.layouts: dict = shared.setdefault("layouts", {})
        # names and forms of address are the same in every batch of this request: kept across batches too
        self.names_kept: dict = shared.setdefault("names", {})
        self.addrs_kept: dict = shared.setdefault("addresses", {})
        a = pd.Timestamp(data.as_of)
        self.thirty = (a.year - 30, a.month, a.day)   # born on or before: 30 or older at the as-of date
        # per batch, by value: language, segment row, gender, name, birthday, form of address, product,
        # purchase template, day, category, offer key, warnings, offer sources
        self.langs, self.rfm, self.genders, self.ages, self.bdays = {}, {}, {}, {}, {}
        self.names, self.addrs = self.names_kept, self.addrs_kept
        self.lasts, self.langs_purchase, self.days, self.favs, self.offers, self.warns, self.offer_srcs = \
            {}, {}, {}, {}, {}, {}, {}

    # ------------------------------------------------------------------ what a batch shares
    def _lang(self, lang: str) -> dict:
        if lang not in self.langs:
            req, data = self.req, self.data
            you = "你" if req.tone == "playful" else "您"
            variants = TEMPLATES[req.occasion][lang].get(req.tone) or TEMPLATES[req.occasion][lang]["warm"]
            optout, sign = sign_off(data, lang, req.channel)
            k = {"you": you, "variants": variants, "optout": optout, "sign": sign, "notes": [], "base": "",
                 "core": {"you": you}, "subject": {}, "day": data.as_of.date(), "fest": None}
            if req.occasion == "festival":
                fest, k["day"], k["notes"], core, k["subject"], src = festival_facts(req, data.as_of, lang, self.memo)
                k["fest"], k["base"] = fest.key, _jsource(src)
                k["core"].update(core)
            k["sign_src"] = ", ".join(_jsource(s) for s in sign.sources)
            self.langs[lang] = k
        return self.langs[lang]

    def _segment(self, rk, lang: str, you: str) -> tuple:
        """(the segment sentence or None, its sources' JSON with the id left out, the segment names, their
        memo key, whether a value holds a placeholder's bracket) of an RFM row (its `RFM_KEYS` values; None:
        no row)."""
        got = self.rfm.get((rk, lang))
        if got is None:
            nk = None if rk is None else tuple(map(_key, rk))   # NaN != NaN: one key
            got = self.rfm.get((nk, lang))
            if got is None:
                row = None if rk is None else dict(zip(RFM_KEYS, rk))
                part = segment_part(row, _CID, self.req.occasion, lang, you)
                names = set() if row is None else {str(row[c]) for c in RFM_KEYS if clean_value(row.get(c))}
                js = ", ".join(_jsource(s) for s in part.sources) if part else ""
                got = (part, js, frozenset(names), nk, _held(js.replace(_CID, "")))
                self.rfm[nk, lang] = got
            if rk == nk:
                self.rfm[rk, lang] = got
        return got

    def _layout(self, lang: str, kind: str, vi, keys: tuple, slots: list[str]) -> tuple | None:
        """(literals, slots) of the text of this plan and these parts: the text is
        literals[0] + slot 0 + literals[1] + ...; None when a constant holds a NUL."""
        key = (lang, kind, vi, keys)
        if key not in self.layouts:
            k, req = self._lang(lang), self.req
            opt = [Part(s, f"\x00{s}\x00", 1) for s in slots]
            parts = plan_parts(kind, vi, lang, req.tone, req.occasion, k["variants"], "\x00@\x00", [], k["core"], [],
                               opt, k["sign"])
            by_key = {p.key: p for p in parts}
            if k["optout"] is not None:
                by_key["optout"] = k["optout"]
            pieces = assemble([by_key[x] for x in keys], lang, req.channel).split("\x00")
            want = [x for x in keys if x == "greet" and kind != "noname" or x in slots]
            got = pieces[1::2]
            self.layouts[key] = (pieces[0::2], got) if [("greet" if g == "@" else g) for g in got] == want else None
        return self.layouts[key]

    def _address(self, name: str, gender, birthday, lang: str) -> tuple:
        """(form of address, its text units, its sources' JSON with the id left out, the e-mail subject,
        whether a value in it holds a placeholder's bracket)."""
        tone = self.req.tone
        age = None
        if lang == "zh" and tone == "warm":   # the only case where the age decides (under 30: the full name)
            if type(birthday) is pd.Timestamp and (birthday.year, birthday.month, birthday.day) <= self.thirty:
                age = 30   # 30 or older: as good as no age (`tools.draft_names.address_form`)
            else:
                bk = _key(birthday)
                age = self.ages.get(bk, _MISS)
                if age is _MISS:
                    age = self.ages[bk] = age_on(birthday, self.data.as_of)
        key = (name, gender, age if age is not None and age < 30 else None, lang)
        got = self.addrs.get(key)
        if got is None:
            addr, src = addressing(_CID, name, gender, birthday, self.data.as_of, lang, tone)
            subject = (subject_of(self.req.occasion, lang, {"a": addr, **self._lang(lang)["subject"]})
                       if self.req.channel == "email" else "")
            js = ", ".join(_jsource(s) for s in src)
            got = self.addrs[key] = (addr, text_units(addr), js, subject, _held(js.replace(_CID, "")))
        return got

    def _birthday(self, birthday) -> tuple | None:
        """(next celebration day, the birthday's source JSON with the id left out); None: no birthday."""
        bk = _key(birthday)
        got = self.bdays.get(bk, _MISS)
        if got is _MISS:
            b = clean_value(birthday)
            if b is None:
                got = None
            else:
                md, next_day = birthday_facts(b, self.data.as_of)
                got = (next_day, _jsource(source("birthday", md, f"customers table (customer_id={_CID}): birthday")))
            self.bdays[bk] = got
        return got

    def _last(self, product, lang: str, you: str):
        """(the last-purchase sentence before and after its day, its source JSON with the ids and the day
        left out) of a product, or None; False: left to `compose`."""
        key = (product, lang)
        got = self.lasts.get(key, _MISS)
        if got is _MISS:
            shown = plain_text(product)
            if not shown:
                got = None
            elif _held(shown):
                got = False
            else:
                text, js = self._purchase(lang, you)
                got = (*text.replace(_PRODUCT, shown).split(_DATE, 1),
                       js.replace(_PRODUCT, json_text(shown)[1:-1]), shown)
            self.lasts[key] = got
        return got

    def _purchase(self, lang: str, you: str) -> tuple[str, str]:
        """(the last-purchase sentence, its source JSON) with placeholders for the product, day and ids."""
        got = self.langs_purchase.get(lang)
        if got is None:
            p = purchase_part(_PRODUCT, _DATE, _ISO, _ORDER, _CID, self.req.occasion, lang, you)
            got = self.langs_purchase[lang] = (p.text, ", ".join(_jsource(x) for x in p.sources))
        return got

    def _day(self, day, lang: str) -> tuple:
        """(the day as a draft writes it, as an ISO date) of a last purchase (a Timestamp: its calendar day)."""
        key = (day.value // _NS_DAY if day.tzinfo is None else day.date(), lang)
        got = self.days.get(key)
        if got is None:
            got = self.days[key] = (fmt_day(day, lang, self.data.as_of), day.date().isoformat())
        return got

    def _favourite(self, fav, lang: str, you: str):
        """(the favourite-category sentence, its source JSON with the counts left out) or None; False: compose."""
        key = (fav[0], lang)
        got = self.favs.get(key, _MISS)
        if got is _MISS:
            shown = plain_text(fav[0])
            if not shown:
                got = None
            elif _held(shown):
                got = False
            else:
                p = favourite_part((shown, _LINES, _ALL), _CID, self.req.occasion, lang, you)
                got = None if p is None else (p, ", ".join(_jsource(s) for s in p.sources))
            self.favs[key] = got
        return got

    def _purchases(self, ids: list[str]) -> list[tuple]:
        """(last, fav) of each customer, as `tools.care_data.CareData.purchases` gives them."""
        data = self.data
        facts = (facts_of(data.ws, ids, data.as_of) if data.ws is not None else None) or [None] * len(ids)
        todo = [c for c, f in zip(ids, facts) if f is None]
        if todo:   # unsure summaries, or no artefact: from the order lines
            data.index_orders(todo, bought=False)
            facts = [f if f is not None else (lambda p: (p["last"], p["fav"], p["n"]))(data.purchases(c))
                     for c, f in zip(ids, facts)]
        return facts

    def _plan(self, lang: str, order: tuple, addr: str, opt: list[Part], offer) -> list | None:
        """What a shape of draft decides: [layout literals, (slot, literal after it) pairs, the parts whose
        sources it lists, the offer id shown, the plan's warnings, length, limit] — the length is filled
        in by the first draft of the shape (its parts' lengths decide it); None: left to `compose`."""
        req, k = self.req, self._lang(lang)
        offer_part = opt[-1] if opt and opt[-1].key == "offer" else None
        (fits, named, rank, keys), plans = choose_plan(
            self.memo, lang, req.tone, req.occasion, req.channel, order, k["variants"], addr, [], k["core"], [], opt,
            k["optout"], k["sign"], offer.id if offer_part is not None else None)
        kind, vi = plans[rank]
        by_key = {p.key: p for p in opt}
        layout = self._layout(lang, kind, vi, keys, [x for x in keys if x in by_key])
        if layout is None:
            return None
        warnings = []
        if not named:
            warnings.append("the name was left out to fit one SMS")
        if not fits:
            warnings.append("even the shortest draft is over the channel limit; shorten it by hand")
        dropped = [p.key for p in opt if p.key not in keys and not p.key.endswith(".short") and p.group is None]
        if offer_part is not None and "offer" not in keys:
            warnings.append(f"offer {offer.id} did not fit the {req.channel} limit and was left out")
        if dropped and req.channel == "sms":
            warnings.append("left out to fit one SMS: " + ", ".join(dropped))
        srcs = tuple(x for x in keys if x == "greet" and kind != "noname" or x == "sign" or x in by_key)
        shown = offer.id if offer_part is not None and "offer" in keys else None
        lits, slots = layout
        text = "%s".join(x.replace("%", "%%") for x in lits)   # the text: text % (the slots' values)
        return [text, tuple(SLOTS.index(x) for x in slots), srcs, shown, warnings, None, None, tuple(lits)]

    # ------------------------------------------------------------------ the drafts
    def drafts(self, keys: list[str]) -> list[list | None]:
        """Per id (as `tools.care_data.CareData.customer` looks it up: text, stripped): [name, channel,
        language, tone, occasion, text, subject, length, limit, offer_id, sources JSON, warnings] of its
        draft, as `tools.drafts.compose` gives it; None to leave it to `compose`."""
        data, req, memo = self.data, self.req, self.memo
        occasion, channel, tone, language = req.occasion, req.channel, req.tone, req.language
        ids = keys
        for memo_ in (self.names, self.addrs, self.lasts):   # one entry per name or product: memory stays
            if len(memo_) > _MEMO_MAX:                       # that of a few chunks in a million-customer batch
                memo_.clear()
        got, rfm = data.table_values("customers", keys, ("name", "gender", "birthday")), \
            data.table_values("rfm", keys, RFM_KEYS)
        out: list = [None] * len(ids)
        if got is None or rfm is None:
            return out
        found, (names, genders, birthdays) = got
        has_rfm, rfm_rows = rfm[0], list(zip(*rfm[1]))
        langs: list = [None] * len(ids)
        for i, raw in enumerate(names):
            if not found[i] or _held(keys[i]):
                continue
            nk = _key(raw)
            nl = self.names.get(nk, _MISS)
            if nl is _MISS:
                name = str(raw).strip()
                nl = None if not name or plain_text(name) != name or _held(name) else (
                    name, ("en" if is_latin_name(name) else "zh") if language == "auto" else language)
                self.names[nk] = nl
            langs[i] = nl
        orders: list = [None] * len(ids)
        for lang in ("zh", "en"):
            at = [i for i, nl in enumerate(langs) if nl is not None and nl[1] == lang]
            if not at:
                continue
            try:
                k = self._lang(lang)
            except GuanxiError:   # e.g. an unknown festival: `compose` says so in each row
                for i in at:
                    langs[i] = None
                continue
            for i, o in zip(at, seed_orders([keys[i] for i in at], occasion, lang, tone, len(k["variants"]))):
                orders[i] = o
        thanks, birthday = occasion == "vip_thanks", occasion == "birthday"
        purchases = self._purchases([c for c, nl in zip(keys, langs) if nl is not None]) if thanks else None
        bought = iter(purchases or ())
        genders_memo, offers_memo, plans_memo, warns_memo = self.genders, self.offers, self.plans, self.warns
        for i, nl in enumerate(langs):
            if nl is None:
                continue
            name, lang = nl
            cid = keys[i]
            k = self.langs[lang]
            you = k["you"]
            raw = genders[i]
            g = _key(raw)
            gender = genders_memo.get(g, _MISS)
            if gender is _MISS:
                gender = genders_memo[g] = clean_value(raw)
            addr, addr_units, addr_src, subject, held = self._address(name, gender, birthdays[i], lang)
            if held:
                continue
            base, day, no_bday = k["base"], k["day"], False
            if birthday:
                b = self._birthday(birthdays[i])
                if b is None:
                    no_bday = True
                else:
                    day, base = b[0] or day, b[1]
            seg, seg_src, seg_names, rk, held = self._segment(rfm_rows[i] if has_rfm[i] else None, lang, you)
            if held:
                continue
            last = fav = last_text = None
            if thanks:
                lf = next(bought)
                if lf[0]:
                    last = self._last(lf[0][0], lang, you)
                    if last:
                        dstr, iso = self._day(lf[0][1], lang)
                        last_text = last[0] + dstr + last[1]
                if lf[1]:
                    fav = self._favourite(lf[1], lang, you)
                if last is False or fav is False:
                    continue
            ok = (rk, day, lang)
            offer_entry = offers_memo.get(ok)
            if offer_entry is None:
                offer_entry = offers_memo[ok] = offer_facts(data, occasion, k["fest"], seg_names, day, lang, memo)
            offer, offer_notes, offer_part = offer_entry
            pk = (lang, orders[i], addr_units, seg and seg.units(), last_text and text_units(last_text),
                  fav and fav[0].units(), offer_part and (offer.id, offer_part.units()))
            plan = plans_memo.get(pk, _MISS)
            if plan is _MISS:
                opt = [p for p in (seg, last_text and purchase_part(last[3], dstr, iso, lf[0][2], cid, occasion, lang, you),
                                   fav and fav[0], offer_part) if p]
                plan = plans_memo[pk] = self._plan(lang, orders[i], addr, opt, offer)
            if plan is None:
                continue
            fmt, slots, srcs, offer_id, plan_warnings, n, limit, _ = plan
            vals = (addr, seg and seg.text, last_text, fav and fav[0].text, offer_part and offer_part.text)
            text = fmt % tuple([vals[x] for x in slots])
            if n is None:
                n, limit, _ = measure(text, channel)   # the same for the shape: its parts' lengths are
                plan[5], plan[6] = n, limit
            wk = (pk, no_bday, id(offer_entry))
            warnings = warns_memo.get(wk)
            if warnings is None:
                w = list(k["notes"])
                if no_bday:
                    w.append("no birthday on file for this customer")
                if thanks and seg is None:   # no segment sentence: not high-value (`segment_part`)
                    w.append("this customer is not a high-value customer in the RFM table; "
                             "thanks wording used as asked")
                warnings = warns_memo[wk] = tuple(w + list(offer_notes) + plan_warnings)
            cj = json_text(cid)[1:-1]
            pieces = [base.replace(_CID, cj)] if base else []
            for x in srcs:
                if x == "greet":
                    pieces.append(addr_src.replace(_CID, cj))
                elif x == "segment":
                    pieces.append(seg_src.replace(_CID, cj))
                elif x == "sign":
                    pieces.append(k["sign_src"])
                elif x == "last_purchase":
                    pieces.append(last[2].replace(_CID, cj).replace(_ISO, iso).replace(
                        _ORDER, json_text(str(lf[0][2]))[1:-1]))
                elif x == "favourite":
                    pieces.append(fav[1].replace(_CID, cj).replace(_LINES, str(lf[1][1])).replace(
                        _ALL, str(lf[1][2])))
                else:
                    pieces.append(self._offer_src(offer_part))
            sources = "[" + ", ".join(pieces) + "]"
            out[i] = [name, channel, lang, tone, occasion, text, subject, n, limit, offer_id,
                      sources, warnings]
        return out

    def _offer_src(self, part: Part) -> str:
        got = self.offer_srcs.get(id(part))
        if got is None:
            got = self.offer_srcs[id(part)] = ", ".join(_jsource(s) for s in part.sources)
        return got
