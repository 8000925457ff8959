"""The CSV lines of a birthday, festival or thanks batch (:mod:`tools.drafts_batch`) made column by column
with Arrow kernels: the bytes `tools.drafts_columns.ColumnDrafts` and ``csv_cell`` give, row for row.

What a draft is made of is decided once per distinct value, as `ColumnDrafts` decides it (its memos and
methods): per name, gender and age band the form of address, per RFM row the segment sentence, per
product, day and category the purchase sentences, per shape the plan. What is left per customer — finding
its values, choosing the pieces, joining the text, filling the ids into the sources' JSON, masking the
contacts, quoting the cells — is done here over whole columns: NumPy codes (``pd.factorize``) pick each
row's pieces, Arrow joins the strings, DuckDB hashes the ids for the template order.

A row this cannot make exactly (no customer row, unusual ids or values, contact-like digits in the
text, a cell a spreadsheet would read as a formula) is left to ``legacy``, which drafts it as before; the
lines are put back in the customers' order.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.errors import GuanxiError
from knowledge.export import csv_cell
from tools.arrow_text import (Templates, arrow_codes, codes_of, combine_codes, csv_cells, duckdb_cursor, rows_with_bytes,
                              split_template, take_text)
from tools.care import is_latin_name
from tools.care_data import clean_value
from tools.drafts import offer_facts
from tools.drafts_columns import MARKS, RFM_KEYS, SLOTS, ColumnDrafts, holds_mark, json_text
from tools.draft_fit import measure, text_units
from tools.draft_parts import purchase_part
from tools.formatting import plain_text
from tools.purchase_facts import facts_arrays

__all__ = ["ArrowDrafts"]

# ids and order ids put into the JSON as they are: printable ASCII without a quote or a backslash
_PLAIN_ID = r"^[ !#-\[\]-~]*$"
# `knowledge.pii._HINT` for RE2 (Unicode digits and spaces: a superset) — a text that may hold contact data
_CONTACT_HINT = ("(?i)\\p{Nd}(?:[-. \\x{3000}\\x{ff0d}\\x{ff0e}\\x{2010}-\\x{2015}\\x{2212}\\x{fe63}]?\\p{Nd}){10}|"
                 "[@\\x{ff20}]|[\\[(\\x{ff3b}\\x{ff08}][\\s\\p{Z}]*[a\\x{ff41}\\x{ff21}][t\\x{ff54}\\x{ff34}]")
# a value that is already what `clean_value` makes of it: printable ASCII at both ends
_TRIMMED = r"^[!-~](?:.*[!-~])?$"


class ArrowDrafts(ColumnDrafts):
    """`ColumnDrafts` whose rows are made as CSV lines over whole columns (see the module)."""

    def lines(self, ids: list, unmask: bool, legacy) -> tuple[pa.Array, int, int]:
        """(the CSV lines of ``ids``' rows, each ending in a newline; drafts with a text; rows with a
        warning). ``legacy(ids)``: (lines, drafted, warned) of the rows left to the per-customer path."""
        n = len(ids)
        made = self._made(ids, unmask) if n else None
        if made is None:
            done = np.zeros(n, bool)
            vec = pa.array([], pa.string())
            drafted = warned = 0
        else:
            done, vec, drafted, warned = made
        if done.all():
            return vec, drafted, warned
        rest = np.flatnonzero(~done)
        lines, d2, w2 = legacy([ids[i] for i in rest.tolist()])
        if not done.any():
            return pa.array([x + "\n" for x in lines], pa.string()), d2, w2
        order = np.empty(n, np.int64)
        order[np.flatnonzero(done)] = np.arange(len(vec))
        order[rest] = len(vec) + np.arange(len(rest))
        both = pa.concat_arrays([vec, pa.array([x + "\n" for x in lines], pa.string())])
        return both.take(pa.array(order)), drafted + d2, warned + w2

    # ------------------------------------------------------------------ per distinct value
    def _made(self, ids: list, unmask: bool):
        data, req = self.data, self.req
        occasion, channel, tone = req.occasion, req.channel, req.tone
        keys = [str(c or "").strip() for c in ids]
        cust = data.table_coded("customers", keys, {"name": "codes", "gender": "codes", "birthday": "raw",
                                                    "phone": "arrow", "email": "arrow"})
        rfm = data.table_coded("rfm", keys, dict.fromkeys(RFM_KEYS, "codes"))
        if cust is None or rfm is None:
            return None
        hit, cols = cust
        bdays, phones, emails = cols["birthday"], cols["phone"], cols["email"]
        if cols["name"] is None or bdays is None or bdays.dtype.kind != "M":
            return None
        n = len(keys)
        none = (np.full(n, -1, np.int64), [None])
        key_arr = pa.array(keys, pa.string())
        ok = hit.copy()
        ok &= pc.match_substring_regex(key_arr, _PLAIN_ID).to_numpy(zero_copy_only=False)
        ok &= np.fromiter((type(i) is str for i in ids), bool, n) & (np.asarray(ids, object) == np.asarray(keys, object))
        # the name: its language and the name as drafts show it (`ColumnDrafts.drafts`); code -1: the last
        name_codes, name_uniq = cols["name"]
        name_codes = name_codes.astype(np.int64)
        name_info: list = [None] * len(name_uniq)   # the names of this chunk only (the codes are the column's)
        for u in np.unique(name_codes).tolist():
            name_info[u] = self._name(name_uniq[u])
        name_ok = np.array([x is not None for x in name_info])
        lang_of = np.array([0 if x is None or x[1] == "zh" else 1 for x in name_info])
        ok &= name_ok[name_codes]
        lang = lang_of[name_codes]
        langs = {}
        for li, lg in enumerate(("zh", "en")):
            if (ok & (lang == li)).any():
                try:
                    langs[li] = self._lang(lg)
                except GuanxiError:   # e.g. an unknown festival: `compose` says so in each row
                    ok &= lang != li
        if not ok.any():
            return None
        # the template order: md5 of the id, as `tools.drafts.seed_orders`
        order_v = self._orders(key_arr, lang, {li: ("|" + "|".join((occasion, ("zh", "en")[li], tone)), len(k["variants"]))
                                               for li, k in langs.items()})
        # gender and age (the age only decides for a warm Chinese draft: under 30, the full name)
        g_codes, g_uniq = cols["gender"] or none
        gender_of = [clean_value(v) for v in g_uniq]
        age_key = np.full(n, -1, np.int64)   # -1: no age under 30
        if tone == "warm":
            b = pd.DatetimeIndex(bdays)
            a = pd.Timestamp(data.as_of)
            before = (b.month.to_numpy() > a.month) | ((b.month.to_numpy() == a.month) & (b.day.to_numpy() > a.day))
            age = a.year - b.year.to_numpy() - before
            young = (lang == 0) & ~np.isnat(bdays) & (age < 30)
            age_key = np.where(young, age, -1).astype(np.int64)
        def name_info_ok(i):
            return name_info[name_codes[i]] is not None

        addr_code, addr_first = combine_codes(name_codes, g_codes, age_key + 1_000_000, lang)
        addrs, greet_src, kept, name_mark = [], [], self.addrs, '"' + MARKS["name"] + '"'
        for i in addr_first.tolist():
            if not name_info_ok(i) or lang[i] not in langs:
                addrs.append(None)
                greet_src.append("")
                continue
            nm, g, lg = name_info[name_codes[i]][0], gender_of[g_codes[i]], ("zh", "en")[lang[i]]
            got = kept.get((nm, g, int(age_key[i]) if age_key[i] >= 0 else None, lg))   # `_address`'s memo key
            got = got if got is not None else self._address(nm, g, pd.Timestamp(bdays[i]), lg)
            addrs.append(got)
            # the name in its sources' JSON as a placeholder: the sources of many names are one template (the
            # surname and gender decide the rest); filled back with that very name, so the bytes are the same
            quoted = json_text(nm)
            greet_src.append(got[2].replace(quoted, name_mark) if quoted == f'"{nm}"' else got[2])
        addr_held = np.array([a is None or a[4] for a in addrs])
        ok &= ~addr_held[addr_code]
        # the RFM row: the segment sentence
        has_rfm, rfm_cols = rfm
        rfm_cols = [rfm_cols[c] or none for c in RFM_KEYS]
        rfm_codes = [np.where(has_rfm, c, -2) for c, _ in rfm_cols]
        seg_code, seg_first = combine_codes(*rfm_codes, lang)
        segs = []
        for i in seg_first.tolist():
            rk = tuple(u[c[i]] for c, u in rfm_cols) if has_rfm[i] else None
            lg = ("zh", "en")[lang[i]]
            segs.append(self._segment(rk, lg, langs[lang[i]]["you"]) if lang[i] in langs else None)
        seg_bad = np.array([s is None or s[4] for s in segs])
        ok &= ~seg_bad[seg_code]
        # the day the draft is for, and the birthday's source
        base_t = [langs[li]["base"] if li in langs else "" for li in (0, 1)]
        day_list = [langs[li]["day"] if li in langs else None for li in (0, 1)]
        no_bday = np.zeros(n, bool)
        if occasion == "birthday":
            bd_code, bd_uniq = codes_of(bdays)
            bd = [self._birthday(pd.Timestamp(v)) for v in bd_uniq] + [self._birthday(pd.NaT)]
            no_bday = np.array([x is None for x in bd])[bd_code]
            day_of = [x[0] if x is not None else None for x in bd]
            base_of = [x[1] if x is not None else None for x in bd]
            # per row: (birthday code, language): the day and base
            dkey, dfirst = combine_codes(bd_code, lang)
            day_keys = [(day_of[bd_code[i]] or day_list[lang[i]]) if not no_bday[i] else day_list[lang[i]]
                        for i in dfirst.tolist()]
            base_keys = [base_of[bd_code[i]] if not no_bday[i] else base_t[lang[i]] for i in dfirst.tolist()]
        else:
            dkey, dfirst = combine_codes(lang)
            day_keys = [day_list[lang[i]] for i in dfirst.tolist()]
            base_keys = [base_t[lang[i]] for i in dfirst.tolist()]
        # purchases (thanks): the last purchase and the favourite category
        thanks = occasion == "vip_thanks"
        last_u = fav_u = day_u = None
        fills = {MARKS["cid"]: key_arr, MARKS["name"]: take_text([x[0] if x else "" for x in name_info] + [""], name_codes)}
        if thanks:
            f = facts_arrays(data.ws, keys, data.as_of, data.positions) if data.ws is not None else None
            if f is None:
                return None
            found = f["found"]
            ok &= ~(found & f["unsure"])
            for c in ("last_product", "fav_category"):   # a customer with lines and no name for them: row by row
                ok &= ~(found & f[c].is_null().to_numpy(zero_copy_only=False))
            lp_code, lp_uniq = arrow_codes(f["last_product"], found)
            lkey, lfirst = combine_codes(lp_code, lang)
            last_u = [self._last(lp_uniq[lp_code[i]], ("zh", "en")[lang[i]], langs[lang[i]]["you"])
                      if lp_code[i] >= 0 and lang[i] in langs else None for i in lfirst.tolist()]
            ok &= ~np.array([x is False for x in last_u])[lkey]
            has_last = np.array([bool(x) for x in last_u])[lkey]
            ld = f["last_date"]
            ld = ld.astype("M8[D]") if ld.dtype.kind == "M" else ld   # `_day` writes the calendar day
            ld_code, ld_uniq = codes_of(np.where(has_last, ld, np.datetime64("NaT")))
            dykey, dyfirst = combine_codes(ld_code, lang)
            day_u = [self._day(pd.Timestamp(ld_uniq[ld_code[i]]), ("zh", "en")[lang[i]]) if ld_code[i] >= 0 else ("", "")
                     for i in dyfirst.tolist()]
            fc_code, fc_uniq = arrow_codes(f["fav_category"], found)
            fkey, ffirst = combine_codes(fc_code, lang)
            fav_u = [self._favourite((fc_uniq[fc_code[i]],), ("zh", "en")[lang[i]], langs[lang[i]]["you"])
                     if fc_code[i] >= 0 and lang[i] in langs else None for i in ffirst.tolist()]
            ok &= ~np.array([x is False for x in fav_u])[fkey]
            has_fav = np.array([bool(x) for x in fav_u])[fkey]
            orders_txt = pc.if_else(pa.array(has_last), f["last_order"], "")
            ok &= ~(has_last & orders_txt.is_null().to_numpy(zero_copy_only=False))
            orders_txt = orders_txt.fill_null("")
            ok &= pc.match_substring_regex(orders_txt, _PLAIN_ID).to_numpy(zero_copy_only=False)
            fl = np.where(has_fav, f["fav_lines"], 0.0)
            ok &= ~np.isnan(fl)
            fills[MARKS["order"]] = orders_txt
            fills[MARKS["iso"]] = take_text([d[1] for d in day_u], dykey)
            fills[MARKS["lines"]] = pa.array(np.where(ok, fl, 0).astype(np.int64)).cast(pa.string())
            fills[MARKS["all"]] = pa.array(np.where(found, f["lines"], 0).astype(np.int64)).cast(pa.string())
        else:
            lkey = dykey = fkey = np.zeros(n, np.int64)
            has_last = has_fav = np.zeros(n, bool)
        if not ok.any():
            return None
        # the offer: per segment row, day and language
        okey, ofirst = combine_codes(seg_code, dkey)
        offers = []
        for i in ofirst.tolist():
            s, lg = segs[seg_code[i]], ("zh", "en")[lang[i]]
            if s is None or lang[i] not in langs:
                offers.append(None)
                continue
            memo_key = (s[3], day_keys[dkey[i]], lg)
            entry = self.offers.get(memo_key)
            if entry is None:
                entry = self.offers[memo_key] = offer_facts(data, occasion, langs[lang[i]]["fest"], s[2],
                                                            day_keys[dkey[i]], lg, self.memo)
            offers.append(entry)
        # the shape: what decides the plan (`ColumnDrafts.drafts`: pk)
        last_units = self._sum_units(last_u, lkey, day_u, dykey, has_last) if thanks else np.zeros(n, np.int64)
        addr_units = codes_of(np.array([a[1] if a else None for a in addrs] + [None], dtype=object))[0][addr_code]
        seg_units = codes_of(np.array([s[0].units() if s and s[0] else None for s in segs] + [None], dtype=object))[0][seg_code]
        fav_units = (codes_of(np.array([x[0].units() if x else None for x in fav_u] + [None], dtype=object))[0][fkey]
                     if thanks else np.zeros(n, np.int64))
        off_units = codes_of(np.array([(o[0].id, o[2].units()) if o and o[2] else None for o in offers] + [None],
                                    dtype=object))[0][okey]
        plan_code, plan_first = combine_codes(ok.astype(np.int64), lang, order_v, addr_units, seg_units, last_units, fav_units, off_units)
        plans, vals_of = [], []
        variants_orders = {li: [tuple((s + i) % len(k["variants"]) for i in range(len(k["variants"])))
                                for s in range(len(k["variants"]))] for li, k in langs.items()}
        for i in plan_first.tolist():
            if not ok[i]:
                plans.append(None)
                continue
            plans.append(self._shape(i, lang, langs, variants_orders, order_v, addrs[addr_code[i]], segs[seg_code[i]],
                                     last_u[lkey[i]] if thanks and has_last[i] else None,
                                     day_u[dykey[i]] if thanks and has_last[i] else None,
                                     fav_u[fkey[i]] if thanks and has_fav[i] else None, offers[okey[i]], keys[i],
                                     fills, thanks))
        ok &= np.array([p is not None for p in plans])[plan_code]
        if not ok.any():
            return None
        # the warnings: per shape, birthday on file and offer
        wkey, wfirst = combine_codes(plan_code, no_bday.astype(np.int64), okey)
        warn_cells, warn_any = [], []
        for i in wfirst.tolist():
            p = plans[plan_code[i]]
            if p is None:
                warn_cells.append("")
                warn_any.append(False)
                continue
            k, s, o = langs[lang[i]], segs[seg_code[i]], offers[okey[i]]
            w = list(k["notes"])
            if no_bday[i]:
                w.append("no birthday on file for this customer")
            if thanks and (s is None or s[0] is None):
                w.append("this customer is not a high-value customer in the RFM table; thanks wording used as asked")
            w = w + list(o[1]) + p[1][4]
            warn_cells.append(csv_cell(json.dumps(w, ensure_ascii=False)))
            warn_any.append(bool(w))
        # ---- the rows that are made here, as strings
        rows = np.flatnonzero(ok)
        if not len(rows):
            return None
        sub = pa.array(rows)
        m = len(rows)
        pc_ = plan_code[rows]
        texts, quote, other = self._texts(rows, plans, pc_, addrs, addr_code, segs, seg_code, last_u, lkey, day_u, dykey, fav_u, fkey,
                            offers, okey, has_last, has_fav, thanks)
        hint = pc.match_substring_regex(texts, _CONTACT_HINT).to_numpy(zero_copy_only=False)
        text_cells, text_bad = csv_cells(texts, quote, other)
        name_arr = take_text([x[0] if x else "" for x in name_info] + [""], name_codes[rows])
        name_cells, name_bad = csv_cells(name_arr)
        id_cells, id_bad = csv_cells(key_arr.take(sub))
        phone_cells, phone_bad = self._contact(phones, rows, unmask, "phone")
        email_cells, email_bad = self._contact(emails, rows, unmask, "email")
        bad = hint | text_bad | name_bad | id_bad | phone_bad | email_bad
        group, pieces, shapes, kinds = self._source_kinds(rows, plans, pc_, lang, langs, dkey, base_keys, greet_src,
                                                         addr_code, segs, seg_code, last_u, lkey, fav_u, fkey, offers,
                                                         okey)
        lang_cells = [",".join(map(csv_cell, (channel, lg, tone, occasion))) for lg in ("zh", "en")]
        plan_cols = [[("" if p is None else str(p[1][5])) for p in plans],
                     [("" if p is None or p[1][6] is None else csv_cell(str(p[1][6]))) for p in plans],
                     [("" if p is None else csv_cell(p[1][3])) for p in plans]]
        subject = ([csv_cell(a[3] or "") if a else "" for a in addrs] if channel == "email" else None)
        c = ","
        head = [id_cells, c, name_cells, c, phone_cells, c, email_cells, c, take_text(lang_cells, lang[rows]), c,
                text_cells, c, take_text(subject, addr_code[rows]) if subject is not None else None, c,
                take_text(plan_cols[0], pc_), c, take_text(plan_cols[1], pc_), c, take_text(plan_cols[2], pc_), c]
        warn_col = take_text(warn_cells, wkey[rows])
        parts, where = [], []
        for g in range(len(pieces)):   # one join per group: the sources' pieces go into the line as they are
            at = np.flatnonzero((group == g) & ~bad)
            if not len(at):
                continue
            take = pa.array(at)
            args = [a.take(take) if isinstance(a, pa.Array) else "" if a is None else a for a in head]
            args += self._line_args(at, pieces[g], shapes[g], kinds, fills, pa.array(rows[at]))
            args += [c, warn_col.take(take), "\n"]
            parts.append(pc.binary_join_element_wise(*args, ""))
            where.append(at)
        kept = np.concatenate(where) if where else np.zeros(0, np.int64)
        order = np.argsort(kept, kind="stable")   # the groups' rows back in the customers' order
        line = (parts[0] if len(parts) == 1 else pa.concat_arrays(parts).take(pa.array(order))) if parts else None
        keep = ~bad
        done = np.zeros(n, bool)
        done[rows[keep]] = True
        if line is None:
            return None
        warned = int(np.array(warn_any)[wkey[rows[keep]]].sum())
        return done, line, int(keep.sum()), warned

    def _name(self, raw):
        """(the name as drafts show it, its language) or None (left to `compose`): `ColumnDrafts.drafts`."""
        if not isinstance(raw, str):
            return None
        got = self.names.get(raw, False)
        if got is False:
            name = raw.strip()
            got = None if not name or plain_text(name) != name or holds_mark(name) else (
                name, ("en" if is_latin_name(name) else "zh") if self.req.language == "auto" else self.req.language)
            self.names[raw] = got
        return got

    @staticmethod
    def _orders(key_arr: pa.Array, lang: np.ndarray, tails: dict) -> np.ndarray:
        """`tools.drafts.seed_orders`' hash of each id (its first 8 hex digits of md5(id + tail)) modulo the
        number of variants, by language (``tails``: language → (tail, variants))."""
        t = pa.table({"k": key_arr, "l": pa.array(lang)})   # noqa: F841  (read by DuckDB by name)
        tail = "case l " + " ".join(f"when {int(li)} then ${2 * j + 1}" for j, li in enumerate(tails)) + " end"
        mod = "case l " + " ".join(f"when {int(li)} then ${2 * j + 2}" for j, li in enumerate(tails)) + " else 1 end"
        args = [x for li in tails for x in (tails[li][0], int(tails[li][1]))]
        return duckdb_cursor().execute(f"select coalesce(('0x' || left(md5(k || {tail}), 8))::UBIGINT % {mod}, 0) as v from t",
                                 args).fetchnumpy()["v"].astype(np.int64)

    @staticmethod
    def _sum_units(last_u, lkey, day_u, dykey, has_last) -> np.ndarray:
        """A code per distinct `text_units` of each last-purchase sentence (before + day + after: the
        units add up), -1 without one."""
        before = [text_units(x[0] + x[1]) if x else None for x in last_u]
        days = [text_units(d[0]) for d in day_u]
        pair, first = combine_codes(lkey, dykey)
        units = []
        for i in first.tolist():
            b, d = before[lkey[i]], days[dykey[i]]
            if not has_last[i] or b is None:
                units.append(None)
                continue
            gsm = b[0] and d[0]
            units.append((gsm, b[1] + d[1], b[2] + d[2] if gsm else 0, b[3] + d[3]))
        return codes_of(np.array(units + [None], dtype=object))[0][pair]

    def _shape(self, i, lang, langs, variants_orders, order_v, addr, seg, last, day, fav, offer_entry, cid, fills,
               thanks):
        """(pk, the plan) of row ``i``'s shape, the plan chosen as `ColumnDrafts.drafts` chooses it (kept in
        the same memo); None: left to ``legacy``."""
        req, li = self.req, int(lang[i])
        lg, k = ("zh", "en")[li], langs[li]
        order = variants_orders[li][int(order_v[i])]
        seg_part = seg[0]
        last_text = dstr = iso = None
        if last:
            dstr, iso = day
            last_text = last[0] + dstr + last[1]
        offer, _, offer_part = offer_entry
        pk = (lg, order, addr[1], seg_part and seg_part.units(), last_text and text_units(last_text),
              fav and fav[0].units(), offer_part and (offer.id, offer_part.units()))
        plan = self.plans.get(pk)
        if plan is None and pk not in self.plans:
            order_id = fills[MARKS["order"]][i].as_py() if last_text else None
            opt = [p for p in (seg_part, last_text and purchase_part(last[3], dstr, iso, order_id, cid, req.occasion, lg,
                                                                      k["you"]),
                               fav and fav[0], offer_part) if p]
            plan = self.plans[pk] = self._plan(lg, order, addr[0], opt, offer)
        if plan is None:
            return None
        if plan[5] is None:   # the length of the shape: its first draft's
            vals = (addr[0], seg_part and seg_part.text, last_text, fav and fav[0].text, offer_part and offer_part.text)
            plan[5], plan[6], _ = measure(plan[0] % tuple(vals[x] for x in plan[1]), req.channel)
        return pk, plan

    def _texts(self, rows, plans, pc_, addrs, addr_code, segs, seg_code, last_u, lkey, day_u, dykey, fav_u, fkey,
               offers, okey, has_last, has_fav, thanks) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        """(the drafts' texts of ``rows``: each plan's layout with its slots filled; per row whether the text
        holds a quote, and a comma or a newline — from its pieces, each looked at once)."""
        vals = {"@": ([a[0] if a else "" for a in addrs], addr_code[rows]),
                "segment": ([s[0].text if s and s[0] else "" for s in segs], seg_code[rows]),
                "offer": ([o[2].text if o and o[2] else "" for o in offers], okey[rows])}
        if thanks:
            vals["favourite"] = ([x[0].text if x else "" for x in fav_u], fkey[rows])
            last = [([x[0] if x else "" for x in last_u], lkey[rows]), ([d[0] for d in day_u], dykey[rows]),
                    ([x[1] if x else "" for x in last_u], lkey[rows])]
        fills = {k: take_text(v, c) for k, (v, c) in vals.items()}
        if thanks:
            fills["last_purchase"] = pc.binary_join_element_wise(*[take_text(v, c) for v, c in last], "")
        templates = [((p[1][7]), tuple(SLOTS[x] for x in p[1][1])) if p else (("",), ()) for p in plans]
        flags = []
        for chars in (b'"', b",\n"):
            def rows_holding(values, codes, chars=chars):   # one scan of the values' bytes (thousands of names)
                return rows_with_bytes(pa.array(values or [""], pa.string()), chars)[codes]
            row = rows_holding(["".join(lits) for lits, _ in templates], pc_)
            for slot in fills:
                used = np.array([slot in marks for _, marks in templates])[pc_]
                row |= used & np.logical_or.reduce([rows_holding(v, c) for v, c in
                                                    (last if slot == "last_purchase" else [vals[slot]])])
            flags.append(row)
        return Templates(templates).render(pc_, fills), flags[0], flags[1]

    def _source_kinds(self, rows, plans, pc_, lang, langs, dkey, base_keys, greet_src, addr_code, segs, seg_code,
                      last_u, lkey, fav_u, fkey, offers, okey) -> tuple:
        """(a code per row of ``rows`` for the pieces its sources list and their templates' shapes, the pieces
        of each code, the templates and codes of each piece): the sources' JSON, CSV-escaped, of the rows
        of one code is one join (`_line_args`)."""
        made = {   # per kind: (the source templates of its values, each value's code per row)
            "base": (lambda: [b or "" for b in base_keys], dkey),
            "greet": (lambda: greet_src, addr_code),
            "segment": (lambda: [s[1] if s else "" for s in segs], seg_code),
            "sign": (lambda: [langs[li]["sign_src"] if li in langs else "" for li in (0, 1)], lang),
            "last_purchase": (lambda: [x[2] if x else "" for x in (last_u or [])], lkey),
            "favourite": (lambda: [x[1] if x else "" for x in (fav_u or [])], fkey),
            "offer": (lambda: [self._offer_src(o[2]) if o and o[2] else "" for o in offers], okey),
        }

        def templates(x):   # one template per distinct source (the forms of address share a few: surname + gender)
            distinct, of_value = {}, []
            for t in made[x][0]():
                of_value.append(distinct.setdefault(t, len(distinct)))
            codes = np.array(of_value or [0], np.int64)[made[x][1][rows]]
            return Templates([split_template(t, True) for t in distinct] or [split_template("", True)]), codes
        has_base = np.array([bool(b) for b in base_keys])[dkey[rows]]
        by_kinds: dict[tuple, int] = {}   # the pieces a row lists: few distinct lists, whatever the plans
        plan_kinds = np.array([by_kinds.setdefault(tuple(x if x in made else "offer" for x in p[1][2]) if p else (),
                                                   len(by_kinds)) for p in plans])
        kind_of = {v: k for k, v in by_kinds.items()}
        row_kinds = plan_kinds[pc_]
        used = {x for k in by_kinds for x in k} | ({"base"} if has_base.any() else set())
        kinds = {x: templates(x) for x in used}
        shape = {x: t.shape_of[c] for x, (t, c) in kinds.items()}
        group, first = combine_codes(row_kinds, has_base.astype(np.int64), *shape.values())
        pieces = [(["base"] if has_base[j] else []) + list(kind_of[row_kinds[j]]) for j in first.tolist()]
        shapes = [{x: int(shape[x][j]) for x in shape} for j in first.tolist()]
        return group, pieces, shapes, kinds

    def _line_args(self, at, pieces, shapes, kinds, fills, rows_at) -> list:
        """The join arguments of the sources cell of the rows ``at`` (positions in the chunk's drafted rows)
        of one `_source_kinds` code."""
        if not pieces:
            return ["[]"]
        out = ['"[']
        for x in pieces:
            t, codes = kinds[x]
            out += t.args(shapes[x], codes[at], fills, rows_at) + [", "]
        out[-1] = ']"'
        return out

    @staticmethod
    def _contact(values, rows, unmask: bool, kind: str) -> tuple[pa.Array, np.ndarray]:
        """(the phone or e-mail cells of ``rows``, masked unless ``unmask``; the rows left to ``legacy``:
        values `knowledge.pii` or `clean_value` would change in other ways)."""
        m = len(rows)
        if values is None:   # no such column: no contact
            return pa.array([""] * m, pa.string()), np.zeros(m, bool)
        if values is False:   # not text: as `clean_value` makes it, row by row
            return pa.array([""] * m, pa.string()), np.ones(m, bool)
        texts = values.take(pa.array(rows))
        missing = texts.is_null().to_numpy(zero_copy_only=False)
        trimmed = pc.fill_null(pc.match_substring_regex(texts, _TRIMMED), False).to_numpy(zero_copy_only=False)
        bad = ~missing & ~trimmed
        shown = texts
        if not unmask and kind == "phone":
            fast = pc.fill_null(pc.match_substring_regex(texts, "^[0-9]{11}$"), False).to_numpy(zero_copy_only=False)
            bad |= ~missing & ~fast
            shown = pc.binary_join_element_wise(pc.utf8_slice_codeunits(texts, 0, 3), "****",
                                                pc.utf8_slice_codeunits(texts, 7, 11), "")
        elif not unmask:
            at = pc.fill_null(pc.match_substring(texts, "@"), False)
            shown = pc.if_else(at, pc.replace_substring_regex(texts, "^([^@]?)[^@]*@", "\\1***@", max_replacements=1),
                               pa.scalar("***"))
            shown = pc.if_else(texts.is_null(), pa.scalar(None, pa.string()), shown)
        cells, formula = csv_cells(shown)
        return cells, bad | formula
