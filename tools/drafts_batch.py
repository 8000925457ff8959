"""A care-message draft for every customer of a segment, written to a CSV (:func:`tools.drafts.draft_batch`).

Each row is the draft `tools.drafts.draft_care_message` gives that customer: the batch calls the same
`tools.drafts.compose` with one `tools.drafts.DraftMemo` for all its customers, so what they share is
worked out once — the festival, the offers by segment and day, and the plan and sentences kept for each
shape of draft (the lengths of its parts decide those, not their words). The texts of a chunk are
checked for contact data in one pass (`mask_all`), and the file is written as the chunks are drafted
(`knowledge.export.csv_rows`: the bytes ``write_csv`` writes for the whole frame), `CHUNK` customers
at a time, their purchase summaries read together and released after: a million customers never
sit in memory at once. A human reviews and sends the drafts; Guanxi sends nothing.
"""
from __future__ import annotations

import gc
import json
import re
from dataclasses import dataclass
from pathlib import Path

from knowledge.errors import GuanxiError
from knowledge.export import csv_rows
from knowledge.pii import mask_email, mask_phone, mask_text
from knowledge.workspace import Workspace
from tools.care import is_latin_name, is_vip
from tools.care_data import CareData, care_data, clean_value
from tools.draft_fit import Part, assemble, measure
from tools.draft_parts import (addressing, birthday_facts, favourite_part, last_purchase_part, plan_parts,
                               segment_part, shown_purchases, sign_off, source, subject_of)
from tools.draft_templates import TEMPLATES
from tools.drafts import (MASKED_WARNING, DraftMemo, choose_plan, compose, draft_request, festival_facts,
                          offer_facts, resolve_occasion, seed_order)
from tools.formatting import plain_text

__all__ = ["COLUMNS", "CHUNK", "BatchFile", "write_batch", "mask_all", "COLUMN_WISE"]

COLUMNS = ["customer_id", "name", "phone", "email", "channel", "language", "tone", "occasion", "text", "subject",
           "length", "limit", "offer_id", "sources", "warnings"]
#: customers drafted (and held in memory) at a time
CHUNK = 20_000
_LIMIT = COLUMNS.index("limit")
#: occasions drafted column-wise (`_Columns`); the others, and the unusual customers of these, by `compose`
COLUMN_WISE = ("birthday", "festival", "vip_thanks")


@dataclass(frozen=True)
class BatchFile:
    """The CSV of a batch and what it holds: rows, drafts with a text, rows with a warning."""
    path: Path
    rows: int
    drafted: int
    with_warnings: int


class _Restart(Exception):
    """An error row in a file being streamed: the limit column must be written as pandas writes a column
    of numbers and blanks (70.0), so the file is written again from rows held in memory."""


def write_batch(ws, segment: str, occasion: str, channel: str = "sms", language: str = "auto",
                out_csv: str | Path | None = None, tone: str = "warm", festival: str | None = None,
                unmask: bool = False, offers=None, limit: int | None = None, only=None) -> BatchFile:
    """`tools.drafts.draft_batch` (same arguments), with the counts of the file it writes."""
    data = care_data(ws, offers=offers)
    ids = data.segment_ids(segment) if only is None else list(only)
    if limit is not None:
        ids = ids[: int(limit)]
    if out_csv is None:
        root = Path(ws.root if isinstance(ws, Workspace) else ws) if isinstance(ws, (Workspace, str, Path)) else Path(".")
        slug = re.sub(r"[^\w\u4e00-\u9fff]+", "_", str(segment)).strip("_") or "segment"
        out_csv = root / "drafts" / f"{resolve_occasion(occasion)}_{slug}_{channel}.csv"
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        req, error = draft_request(occasion, channel, language, tone, festival), None
    except GuanxiError as e:   # every row says why
        req, error = None, str(e)
    args = (data, req, error, ids, unmask, (channel, tone, occasion), out)
    paused = gc.isenabled()   # a batch makes ~100 objects a customer: each full cyclic-GC pass would walk
    gc.disable()              # the whole heap, the workspace's caches too (0.1-1 s a pass, ten a call at 10M)
    try:
        if req is not None and (req.occasion != "complaint_followup" or req.channel == "email"):
            try:
                return _write(*args, stream=True)
            except _Restart:
                pass
        return _write(*args, stream=False)
    finally:
        if paused:
            gc.enable()


def _write(data: CareData, req, error: str | None, ids: list, unmask: bool, given: tuple, out: Path,
           stream: bool) -> BatchFile:
    memo = DraftMemo()
    cols = _Columns(data, req, memo) if req is not None and req.occasion in COLUMN_WISE else None
    n = drafted = warned = 0
    held: list[list] = []
    with csv_rows(out, COLUMNS, encoding="utf-8-sig") as write:   # customer text: no formulas
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            data.index_orders(chunk, bought=cols is None)   # only recommendations need the products bought
            rows = _rows(data, req, error, chunk, memo, cols, unmask, given)
            data.release(chunk)
            n += len(rows)
            drafted += sum(r[8] != "" for r in rows)
            warned += sum(r[14] != "[]" for r in rows)
            if not stream:
                held += rows
                continue
            if req.channel != "email" and any(r[_LIMIT] is None for r in rows):
                raise _Restart
            write([_cells(r, False) for r in rows])
        if not stream:   # pandas: a column of numbers and blanks is a float column
            floats = any(r[_LIMIT] is None for r in held) and any(r[_LIMIT] is not None for r in held)
            write([_cells(r, floats) for r in held])
    return BatchFile(out, n, drafted, warned)


def _cells(row: list, floats: bool) -> list:
    lim = row[_LIMIT]
    row[10] = str(row[10])
    row[_LIMIT] = None if lim is None else str(float(lim)) if floats else str(lim)
    return row


def _text(v) -> str | None:
    """A cell as pandas writes an object column's value: blank for None and NaN."""
    return None if v is None or v != v else str(v)


def _rows(data: CareData, req, error: str | None, ids: list, memo: DraftMemo, cols, unmask: bool,
          given: tuple) -> list[list]:
    """The rows of ``ids`` (text cells, length and limit as numbers)."""
    channel, tone, occasion = given
    made: list[tuple] = []
    for cid in ids:
        cust = data.customer(cid)
        try:
            if req is None:
                raise GuanxiError(error)
            rec = cols.draft(cust) if cols is not None else None
            if rec is None:
                d = compose(data, req, cust, memo)
                rec = [d.name, d.channel, d.language, d.tone, d.occasion, d.text, d.subject or "", d.length, d.limit,
                       d.offer_id, json.dumps(d.sources, ensure_ascii=False), d.warnings]
        except GuanxiError as e:  # e.g. no complaint on file: keep the row, say why
            rec = str(e)
        made.append((cid, cust, rec))
    done = [r for _, _, r in made if not isinstance(r, str)]
    for r, text in zip(done, mask_all([r[5] for r in done])):
        if text != r[5]:
            r[5] = text
            r[11] = [*r[11], MASKED_WARNING]
            r[7] = measure(text, r[1])[0]
    rows, said = [], {(): "[]"}   # the warnings of a batch repeat: each list encoded once
    for cid, cust, r in made:
        if isinstance(r, str):
            rows.append([_text(cid), _text(cust.get("name")), None, None, channel, None, tone, occasion, "", "", 0,
                         None, None, "[]", json.dumps([r], ensure_ascii=False)])
            continue
        phone, email, w = clean_value(cust.get("phone")), clean_value(cust.get("email")), tuple(r[11])
        rows.append([_text(cid), r[0], phone if unmask else mask_phone(phone) if phone else None,
                     email if unmask else mask_email(email) if email else None, *r[1:11],
                     said.get(w) or said.setdefault(w, json.dumps(r[11], ensure_ascii=False))])
    return rows


_CID = "\x01"   # stands for the customer id in the sources shared by a batch
_RFM_KEYS = ("segment", "segment_zh", "segment_cn8", "tier", "tier_en")


def _key(v):
    """A cell as a key of the batch's memos: every NaN the same (NaN != NaN), the rest as it is."""
    return "\x00NaN" if isinstance(v, float) and v != v else v


def _js(s: str) -> str:
    """``json.dumps(s, ensure_ascii=False)``: quotes around the text unless it holds a quote, a backslash
    or a control character (which json escapes; isprintable is False for those, and a few more)."""
    return '"' + s + '"' if s.isprintable() and '"' not in s and "\\" not in s else json.dumps(s, ensure_ascii=False)


def _jsource(src: dict) -> str:
    """``json.dumps(src, ensure_ascii=False)`` of a `tools.draft_parts.source` entry."""
    return '{"detail": ' + _js(src["detail"]) + ', "value": ' + _js(src["value"]) + ', "source": ' + \
        _js(src["source"]) + "}"


class _Columns:
    """The drafts of a birthday, festival or thanks batch with what the customers share worked out once:
    per language the templates, festival, sign-off and their sources' JSON; per RFM row the segment
    sentence; per shape the plan and sentences chosen (`tools.drafts.choose_plan`, `DraftMemo.plans`), and the
    text's layout for it — the greeting's name and the personal sentences are its only slots. A customer
    whose name holds markup is left to `compose` (``draft`` returns None)."""

    def __init__(self, data: CareData, req, memo: DraftMemo):
        self.data, self.req, self.memo = data, req, memo
        self.langs: dict = {}
        self.rfm: dict = {}
        self.layouts: dict = {}
        self.genders: dict = {}

    def _lang(self, lang: str) -> dict:
        if lang not in self.langs:
            req, data = self.req, self.data
            you = "你" if req.tone == "playful" else "您"
            variants = TEMPLATES[req.occasion][lang].get(req.tone) or TEMPLATES[req.occasion][lang]["warm"]
            optout, sign = sign_off(data, lang, req.channel)
            k = {"you": you, "variants": variants, "optout": optout, "sign": sign, "notes": [], "base": [],
                 "core": {"you": you}, "subject": {}, "day": data.as_of.date(), "fest": None}
            if req.occasion == "festival":
                fest, k["day"], k["notes"], core, k["subject"], src = festival_facts(req, data.as_of, lang, self.memo)
                k["fest"], k["base"] = fest.key, [_jsource(src)]
                k["core"].update(core)
            k["sign_src"] = [_jsource(s) for s in sign.sources]
            self.langs[lang] = k
        return self.langs[lang]

    def _segment(self, rfm_row, lang: str, you: str) -> tuple:
        """(high value, the segment sentence with the id left out, its sources' JSON, the segment names)."""
        rk = None if rfm_row is None else tuple(map(rfm_row.get, _RFM_KEYS))
        if (rk, lang) not in self.rfm and rk is not None and any(v != v for v in rk):   # NaN != NaN: one key
            rk = tuple(map(_key, rk))
        if (rk, lang) not in self.rfm:
            part = segment_part(rfm_row, _CID, self.req.occasion, lang, you)
            names = set() if rfm_row is None else {str(rfm_row[c]) for c in _RFM_KEYS if clean_value(rfm_row.get(c))}
            self.rfm[rk, lang] = (is_vip(rfm_row), part, [_jsource(s) for s in part.sources] if part else [],
                                  frozenset(names))
        return self.rfm[rk, lang]

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

    def draft(self, cust: dict) -> list | None:
        """[name, channel, language, tone, occasion, text, subject, length, limit, offer_id, sources JSON,
        warnings] of the customer's draft, as `compose` gives it; None to leave it to `compose`."""
        data, req, memo = self.data, self.req, self.memo
        occasion, channel, tone = req.occasion, req.channel, req.tone
        cid = str(cust["customer_id"])
        name = str(cust["name"]).strip()
        if not name or plain_text(name) != name:
            return None
        lang = ("en" if is_latin_name(name) else "zh") if req.language == "auto" else req.language
        k = self._lang(lang)
        raw = cust.get("gender")
        g = _key(raw)
        if g not in self.genders:
            self.genders[g] = clean_value(raw)
        addr, addr_src = addressing(cid, name, self.genders[g], cust.get("birthday"), data.as_of, lang, tone)
        warnings, base, day = list(k["notes"]), k["base"], k["day"]
        if occasion == "birthday":
            b = clean_value(cust.get("birthday"))
            if b is None:
                warnings.append("no birthday on file for this customer")
            else:
                md, next_day = birthday_facts(b, data.as_of)
                base = [_jsource(source("birthday", md, f"customers table (customer_id={cid}): birthday"))]
                day = next_day or day
        vip, seg, seg_src, seg_names = self._segment(data.rfm_row(cid), lang, k["you"])
        if occasion == "vip_thanks" and not vip:
            warnings.append("this customer is not a high-value customer in the RFM table; thanks wording used as asked")
        opt = [seg] if seg is not None else []
        if occasion == "vip_thanks":
            last, fav = shown_purchases(data.purchases(cid))
            opt += [p for p in (last_purchase_part(last, cid, occasion, lang, k["you"], data.as_of),
                                favourite_part(fav, cid, occasion, lang, k["you"])) if p is not None]
        offer, notes, offer_part = offer_facts(data, occasion, k["fest"], seg_names, day, lang, memo)
        warnings += notes
        if offer_part is not None:
            opt.append(offer_part)
        (fits, named, rank, keys), plans = choose_plan(
            memo, lang, tone, occasion, channel, seed_order(cid, occasion, lang, tone, len(k["variants"])),
            k["variants"], addr, addr_src, k["core"], [], opt, k["optout"], k["sign"],
            offer.id if offer_part is not None else None)
        kind, vi = plans[rank]
        by_key = {p.key: p for p in opt}
        layout = self._layout(lang, kind, vi, keys, [x for x in keys if x in by_key])
        if layout is None:
            return None
        lits, slots = layout
        text = lits[0] + "".join((addr if s == "@" else by_key[s].text) + lit for s, lit in zip(slots, lits[1:]))
        if not named:
            warnings.append("the name was left out to fit one SMS")
        if not fits:
            warnings.append("even the shortest draft is over the channel limit; shorten it by hand")
        dropped = [p.key for p in opt if p.key not in keys and not p.key.endswith(".short") and p.group is None]
        if offer_part is not None and "offer" not in keys:
            warnings.append(f"offer {offer.id} did not fit the {channel} limit and was left out")
        if dropped and channel == "sms":
            warnings.append("left out to fit one SMS: " + ", ".join(dropped))
        srcs = list(base)
        for x in keys:
            if x == "greet" and kind != "noname":
                srcs += [_jsource(s) for s in addr_src]
            elif x == "segment":
                srcs += [s.replace("\\u0001", _js(cid)[1:-1]) for s in seg_src]
            elif x == "sign":
                srcs += k["sign_src"]
            elif x in by_key:
                srcs += [_jsource(s) for s in by_key[x].sources]
        n, limit, _ = measure(text, channel)
        subject = subject_of(occasion, lang, {"a": addr, **k["subject"]}) if channel == "email" else ""
        return [name, channel, lang, tone, occasion, text, subject, n, limit,
                offer.id if offer_part is not None and "offer" in keys else None, "[" + ", ".join(srcs) + "]", warnings]


def mask_all(texts: list[str]) -> list[str]:
    """``[mask_text(t) for t in texts]`` in one pass over the texts joined by NUL (no pattern of
    `knowledge.pii` matches across a NUL): most batches have no contact data at all."""
    if not texts:
        return []
    joined = "\x00".join(texts)
    if joined.count("\x00") != len(texts) - 1:   # a NUL in a text: one by one
        return [mask_text(t) for t in texts]
    masked = mask_text(joined)
    return texts if masked == joined else masked.split("\x00")
