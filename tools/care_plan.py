"""The care calendar's computation (`tools.care.care_calendar`), split so that a workspace answers in
time at a million customers.

A `CarePlan` holds what does not depend on the window: per customer the name and language, the next
birthday, the usual interval, last touch, due day, VIP and at-risk flags (from the precomputed
``care_intervals`` artefact when given, else from the order lines). `CarePlan.window(days)` ranks
the window's personal entries as columns (one sort over numbers) and counts them with the
festivals' recipients; `CareWindow.entries(occasion, limit)` builds `CareEntry` objects only for the
entries asked for. The tool keeps one plan per workspace and as-of date; `care_calendar` builds
every entry, from the same code. This module is the second half of `tools.care` (split for length)
and uses its helpers (``care._vip_mask``, ``care._rows`` …) as its own.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.errors import GuanxiError
from knowledge.text import CJK_RE
from tools import care as c
from tools.results import provenance

__all__ = ["CarePlan", "CareWindow", "usual_intervals", "workspace_window"]

_KINDS = ("birthday", "winback", "vip_thanks", "regular")


def usual_intervals(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per customer (index, text): last_order, order_days, median_gap — from the order lines."""
    iv = c._usual_intervals(orders, as_of) if len(orders) else pd.DataFrame(
        columns=["last_order", "order_days", "median_gap"])
    iv.index = iv.index.astype(str).astype(object)
    return iv


class CarePlan:
    """Everything of the calendar but the window (see the module docstring)."""

    def __init__(self, customers: pd.DataFrame, intervals: pd.DataFrame, as_of: pd.Timestamp, n_orders: int,
                 rfm: pd.DataFrame | None = None, churn: pd.DataFrame | None = None,
                 contact_every_days: int | None = None, feedback: pd.DataFrame | None = None):
        for col in ("customer_id", "name"):
            if col not in customers.columns:
                raise GuanxiError(f"care_calendar: customers table needs a '{col}' column")
        if contact_every_days is not None and int(contact_every_days) < 1:
            raise GuanxiError(f"care_calendar: contact_every_days must be ≥ 1, got {contact_every_days}")
        self.as_of, self.contact_every_days = as_of, contact_every_days
        self.n_customers, self.n_orders = len(customers), n_orders
        self.n_rfm = None if rfm is None else len(rfm)
        self.n_churn = None if churn is None else len(churn)
        a_date = as_of.date()
        self.warnings: list[str] = []
        cust = c._first_per_customer(customers)
        name_s = cust["name"].astype(str)
        ids = cust.index.tolist()
        self.names = dict(zip(ids, name_s.tolist()))
        # the patterns as text: Arrow's RE2 runs them (CJK_RE compiled makes pandas loop in Python)
        latin = (name_s.str.contains(c._LATIN.pattern) & ~name_s.str.contains(CJK_RE.pattern)).to_numpy(bool)
        self.lang_of = dict(zip(ids, np.where(latin, "en", "zh").tolist()))
        # festival recipients by customer id: Arrow sorts text by code point, as sorted() does; tuples of
        # text are containers the cyclic GC stops walking (lists of a million ids it walks at every collection)
        by_id = pc.sort_indices(pa.array(ids, type=pa.large_string())).to_numpy() if ids else np.zeros(0, int)
        order = np.asarray(ids, dtype=object)[by_id]
        self.rank = dict(zip(order.tolist(), range(len(order))))
        self.recipients = {"all": tuple(order.tolist()), "zh": tuple(order[~latin[by_id]].tolist()),
                           "en": tuple(order[latin[by_id]].tolist()), "none": ()}
        self.rfm_f, self.churn_f = c._by_customer(rfm), c._by_customer(churn)
        if rfm is None:
            self.warnings.append("no RFM table: VIP thanks not assessed (build the workspace to precompute it)")
        if rfm is None and churn is None:
            self.warnings.append("no RFM or churn table: win-back not assessed")

        self.has_birthdays = "birthday" in cust.columns
        if self.has_birthdays:
            bdays = pd.to_datetime(cust["birthday"], errors="coerce")
            self.bdays, self.next_bday = bdays, c._next_birthdays(bdays, a_date)
        else:
            self.warnings.append("customers table has no birthday column: no birthdays listed")

        iv = intervals.loc[cust.index.get_indexer(intervals.index) >= 0]   # cust.index is unique
        if feedback is not None and len(feedback) and "customer_id" in feedback.columns:
            fb = feedback.dropna(subset=["customer_id"])
            created = pd.to_datetime(fb["created_at"])
            fb_last = created[created < as_of].groupby(
                fb.loc[created < as_of, "customer_id"].astype(str).astype(object)).max().dt.normalize()
        else:
            fb_last = pd.Series(dtype="datetime64[ns]")
        last_order = pd.to_datetime(iv["last_order"]).dt.normalize()
        last_touch = pd.concat([last_order, fb_last.reindex(iv.index).fillna(last_order)], axis=1).max(axis=1)
        a_ts = pd.Timestamp(a_date)
        rfm_pos, churn_pos = c._positions(self.rfm_f, iv.index), c._positions(self.churn_f, iv.index)
        vip = c._vip_mask(self.rfm_f, iv.index, rfm_pos)
        if contact_every_days is not None:
            interval = pd.Series(int(contact_every_days), index=iv.index)
        else:
            gap = pd.to_numeric(iv["median_gap"], errors="coerce")
            own = gap.round().clip(lower=c.MIN_INTERVAL_DAYS, upper=180)
            interval = own.where((iv["order_days"] >= 2) & gap.notna(), vip.map({True: 30, False: 60})).astype(int)
        threshold = interval.where(vip, (interval * 1.5).round().astype(int))
        if "churn_probability" in self.churn_f and len(self.churn_f):
            p_churn = self.churn_f["churn_probability"].iloc[np.maximum(churn_pos, 0)].set_axis(iv.index).where(
                churn_pos >= 0)   # reindex(iv.index) by the positions found once
        elif "churn_probability" in self.churn_f:
            p_churn = self.churn_f["churn_probability"].reindex(iv.index)
        else:
            p_churn = pd.Series(float("nan"), index=iv.index)
        self.due = pd.DataFrame({
            "lo": last_order, "lt": last_touch, "since": (a_ts - last_touch).dt.days,
            "order": (a_ts - last_order).dt.days, "iv": interval, "p": p_churn,
            "risky": c._risk_mask(self.rfm_f, self.churn_f, iv.index, rfm_pos, churn_pos), "vip": vip,
            "due": last_touch + pd.to_timedelta(threshold, unit="D"),
            "regular_ok": vip | (iv["order_days"] >= 2) | (contact_every_days is not None)})

    # ------------------------------------------------------------------ one window
    def window(self, days: int) -> "CareWindow":
        """The window of the next ``days`` days (the last few asked for are kept: a window is read-only)."""
        if days is None or int(days) < 1:
            raise GuanxiError(f"care_calendar: days must be ≥ 1, got {days}")
        days = int(days)
        kept = self.__dict__.setdefault("_windows", {})
        if days not in kept:
            if len(kept) >= 8:
                kept.pop(next(iter(kept)))
            kept[days] = self._window(days)
        return kept[days]

    def _window(self, days: int) -> "CareWindow":
        end = self.as_of + pd.Timedelta(days=days)  # exclusive
        a_date, e_date = self.as_of.date(), end.date()
        a_day = np.datetime64(a_date, "D")
        cols = {"cid": [], "kind": [], "day": [], "urgency": []}
        if self.has_birthdays:
            nxt = self.next_bday
            inside = nxt.notna() & (nxt >= pd.Timestamp(a_date)) & (nxt < pd.Timestamp(e_date))
            ids = self.bdays.index[inside].tolist()
            cols["cid"] += ids
            cols["kind"].append(np.zeros(len(ids), dtype=np.int8))
            cols["day"].append(nxt[inside].to_numpy().astype("datetime64[D]"))
            cols["urgency"].append(np.zeros(len(ids)))
        d = self.due
        listed = d["risky"] | ((d["due"] < pd.Timestamp(e_date)) & d["regular_ok"])
        sub = d[listed]
        risky, vip = sub["risky"].to_numpy(bool), sub["vip"].to_numpy(bool)
        kind = np.where(risky, 1, np.where(vip, 2, 3)).astype(np.int8)
        day = np.where(risky, a_day, np.maximum(sub["due"].to_numpy().astype("datetime64[D]"), a_day))
        # as the entry's details["urgency"] (Python's round, not numpy's)
        urg = [round(float(p) if r and p == p else o / 1000.0 if r else s / v, 4)
               for p, r, o, s, v in zip(sub["p"].tolist(), risky.tolist(), sub["order"].tolist(),
                                        sub["since"].tolist(), sub["iv"].tolist())]
        cols["cid"] += sub.index.tolist()
        cols["kind"].append(kind)
        cols["day"].append(day)
        cols["urgency"].append(np.asarray(urg, dtype=float))
        kinds = np.concatenate(cols["kind"]) if cols["kind"] else np.zeros(0, np.int8)
        dayv = np.concatenate(cols["day"]) if cols["day"] else np.zeros(0, "datetime64[D]")
        urgv = np.concatenate(cols["urgency"]) if cols["urgency"] else np.zeros(0)
        rank = np.fromiter((self.rank[x] for x in cols["cid"]), dtype=np.int64, count=len(cols["cid"]))
        order = np.lexsort((rank, -urgv, kinds, dayv.astype("int64")))   # date, priority, urgency ↓, id
        fests = c.festivals_between(self.as_of, end)
        return CareWindow(self, days, end, tuple([cols["cid"][i] for i in order.tolist()]), kinds[order], dayv[order],
                          fests)

    def due_rows(self, cids: list) -> dict:
        """{customer_id: (due-for-contact columns, rfm row, churn row)} for the customers of ``cids``."""
        ids = pd.Index(list(dict.fromkeys(x for x in cids if x in self.due.index)))
        if not len(ids):
            return {}
        sub = self.due.loc[ids]
        rfm_rows = c._rows(self.rfm_f, [k for k in ("segment", "segment_zh", "segment_cn8", "tier", "tier_en")
                                        if k in self.rfm_f.columns], ids)
        churn_rows = c._rows(self.churn_f, [k for k in ("churn_probability", "risk_band") if k in self.churn_f.columns],
                             ids)
        cols = zip(sub["lo"].dt.date, sub["lt"].dt.date, sub["since"].tolist(), sub["order"].tolist(),
                   sub["iv"].tolist(), sub["p"].tolist(), sub["risky"].tolist())
        return {cid: (row, rfm_rows.get(cid), churn_rows.get(cid)) for cid, row in zip(ids.tolist(), cols)}

    def personal_entry(self, cid: str, kind: int, day, due: dict | None = None) -> "c.CareEntry":
        """The entry of one customer: a birthday (kind 0) or due for contact (1 winback, 2 vip, 3 regular);
        ``due``: `due_rows` of the customers being built."""
        names, lang = self.names, self.lang_of[cid]
        if kind == 0:
            d, b = pd.Timestamp(day).date(), self.bdays[cid].date()
            feb29 = (b.month, b.day) == (2, 29) and (d.month, d.day) == (2, 28)
            note_zh = "（2月29日生日，平年按2月28日）" if feb29 else ""
            note_en = " (born 29 Feb; 28 Feb this year)" if feb29 else ""
            return c.CareEntry(
                cid, names[cid], d.isoformat(), "birthday", "birthday",
                f"{c._fmt_md(d, 'zh')}生日{note_zh}", f"birthday on {c._fmt_md(d, 'en')}{note_en}", lang, None,
                {"customer_id": cid, "occasion": "birthday", "language": lang},
                {"birthday": b.isoformat(), "age": d.year - b.year, "source": "customers.birthday"})
        (lo, lt, n_since, n_order, n_iv, p, at_risk), r, ch = (due or self.due_rows([cid]))[cid]
        a_date = self.as_of.date()
        n_since, n_order, n_iv = int(n_since), int(n_order), int(n_iv)
        details = {"last_order": lo.isoformat(), "days_since_last_order": n_order,
                   "last_touch": lt.isoformat(), "days_since_last_touch": n_since,
                   "usual_interval_days": n_iv}
        if r is not None:
            details.update({k: r.get(k) for k in ("segment", "segment_zh", "segment_cn8", "tier") if k in r})
        if ch is not None:
            details.update({k: ch.get(k) for k in ("churn_probability", "risk_band") if k in ch})
        # ranking within a day: win-back by churn probability (else days since the last order),
        # thanks / check-ins by how far past the usual interval the customer is
        details["urgency"] = round(float(p) if at_risk and p == p else n_order / 1000.0 if at_risk
                                   else n_since / n_iv, 4)
        name = names[cid]
        if at_risk:
            bits_zh, bits_en = [], []
            if ch is not None and c._row_get(ch, "churn_probability") is not None:
                band = c._row_get(ch, "risk_band")
                bits_zh.append(f"流失概率 {float(ch['churn_probability']):.2f}" + (f"（{band}）" if band else ""))
                bits_en.append(f"churn probability {float(ch['churn_probability']):.2f}" + (f" ({band})" if band else ""))
            if r is not None and c._row_get(r, "segment"):
                bits_zh.append(f"RFM 分群：{c._row_get(r, 'segment_zh') or r['segment']}")
                bits_en.append(f"RFM segment: {r['segment']}")
            bits_zh.append(f"距上次下单 {n_order} 天")
            bits_en.append(f"{n_order} days since the last order")
            return c.CareEntry(
                cid, name, a_date.isoformat(), "winback", "winback",
                "流失风险，建议挽回：" + "，".join(bits_zh), "at risk, win back: " + ", ".join(bits_en), lang, None,
                {"customer_id": cid, "occasion": "winback", "language": lang}, details)
        date = pd.Timestamp(day).date().isoformat()
        if kind == 2:
            seg = (c._row_get(r, "segment_zh") or c._row_get(r, "tier") or "高价值客户", c._row_get(r, "segment") or
                   c._row_get(r, "tier_en") or "high value")
            return c.CareEntry(
                cid, name, date, "vip_thanks", "vip_thanks",
                f"高价值客户（{seg[0]}），距上次联系 {n_since} 天，超过其常规间隔 {n_iv} 天",
                f"high-value customer ({seg[1]}), {n_since} days since the last contact, usual interval {n_iv} days",
                lang, None, {"customer_id": cid, "occasion": "vip_thanks", "language": lang}, details)
        return c.CareEntry(
            cid, name, date, "regular", "recommendation",
            f"距上次联系 {n_since} 天，超过其常规间隔 {n_iv} 天的 1.5 倍，建议推荐商品",
            f"{n_since} days since the last contact, over 1.5 × the usual interval of {n_iv} days; "
            f"suggest a recommendation",
            lang, None, {"customer_id": cid, "occasion": "recommendation", "language": lang}, details)

    def festival_entry(self, cid: str, d: _dt.date, f: "c.Festival", src: str) -> "c.CareEntry":
        lang = self.lang_of[cid]
        return c.CareEntry(
            cid, self.names[cid], d.isoformat(), f"festival:{f.key}", "festival",
            f"{f.zh}（{d.month}月{d.day}日）问候", f"{f.en} greeting ({c._fmt_md(d, 'en')})", lang, f.key,
            {"customer_id": cid, "occasion": "festival", "festival": f.key, "language": lang},
            {"festival_date": d.isoformat(), "source": src})


@dataclass
class CareWindow:
    """The personal entries of one window, ranked (as columns), and its festivals."""
    plan: CarePlan
    days: int
    end: pd.Timestamp
    cids: tuple
    kinds: np.ndarray
    day: np.ndarray
    fests: list

    @staticmethod
    def _source(d, f) -> str:
        return f"lunardate: lunar {f.month}/{f.day} of {d.year}" if f.calendar == "lunar" else f"solar {f.month}/{f.day}"

    def festivals(self) -> list[dict]:
        out = []
        for d, f in self.fests:
            aud_zh = {"all": "全部客户", "zh": "中文名客户", "en": "英文名客户", "none": "营销节点，不默认发送问候"}[f.audience]
            aud_en = {"all": "all customers", "zh": "Chinese-named customers", "en": "English-speaking customers",
                      "none": "marketing date; no default greeting"}[f.audience]
            out.append({"key": f.key, "date": d.isoformat(), "name_zh": f.zh, "name_en": f.en, "zh": f.zh, "en": f.en,
                        "calendar": f.calendar, "audience": f.audience, "audience_zh": aud_zh, "audience_en": aud_en,
                        "n_recipients": len(self.plan.recipients.get(f.audience, [])), "source": self._source(d, f)})
        return out

    def _fest_order(self) -> list:   # the festival entries' order: date, then "festival:<key>", then id
        return sorted(self.fests, key=lambda t: (t[0], f"festival:{t[1].key}"))

    def _recipients(self, audience: str, only: set | None) -> list:
        ids = self.plan.recipients.get(audience, [])
        return ids if only is None else [i for i in ids if i in only]

    def counts(self, occasion: str = "all", only: set | None = None) -> dict[str, int]:
        """Entries per kind ("festival" for all festival greetings), in the order the tool lists them;
        ``only``: the customer ids to count (None: everyone)."""
        out: dict[str, int] = {}
        if occasion in (None, "", "all") or occasion in _KINDS:
            kinds = self.kinds if only is None else self.kinds[np.fromiter((c in only for c in self.cids), bool, len(self.cids))]
            ks, n = np.unique(kinds, return_counts=True)
            by = dict(zip(ks.tolist(), n.tolist()))
            first = {}
            for k in by:    # keys in order of first appearance (as the entries are counted)
                first[k] = int(np.argmax(kinds == k))
            for k in sorted(by, key=first.get):
                if occasion in (None, "", "all") or _KINDS[k] == occasion:
                    out[_KINDS[k]] = by[k]
        if occasion in (None, "", "all", "festival"):
            n = sum(len(self._recipients(f.audience, only)) for _, f in self.fests)
            if n:
                out["festival"] = n
        return out

    def entries(self, occasion: str = "all", limit: int | None = None, only: set | None = None) -> list:
        """The window's entries (of ``occasion``; of the customers ``only`` when given), personal ones
        first, built for the first ``limit`` only."""
        cap = float("inf") if limit is None else int(limit)
        out = []
        want = None if occasion in (None, "", "all") else occasion
        if want is None or want in _KINDS:
            code = None if want is None else _KINDS.index(want)
            pick = []
            for i, (cid, k) in enumerate(zip(self.cids, self.kinds.tolist())):
                if len(pick) >= cap:
                    break
                if (code is None or k == code) and (only is None or cid in only):
                    pick.append((cid, k, i))
            due = self.plan.due_rows([cid for cid, k, _ in pick if k])
            out = [self.plan.personal_entry(cid, k, self.day[i], due) for cid, k, i in pick]
        if want is None or want == "festival":
            for d, f in self._fest_order():
                src = self._source(d, f)
                for cid in self._recipients(f.audience, only):
                    if len(out) >= cap:
                        return out
                    out.append(self.plan.festival_entry(cid, d, f, src))
        return out

    def customer_ids(self, occasion: str) -> list[str]:
        """The customers of the entries `tools.care.CareCalendar.by_occasion` gives, in order, once each."""
        occ = str(occasion or "")
        out: list[str] = []
        if occ in _KINDS:
            code = _KINDS.index(occ)
            out = [cid for cid, k in zip(self.cids, self.kinds.tolist()) if k == code]
        elif occ == "festival" or occ.startswith("festival:"):
            for _, f in self._fest_order():
                if occ == "festival" or occ == f"festival:{f.key}":
                    out += self.plan.recipients.get(f.audience, [])
        return list(dict.fromkeys(out))

    def provenance(self) -> list[str]:
        p = self.plan
        prov = [provenance("care_calendar", {"customers": p.n_customers, "orders": p.n_orders}, as_of=p.as_of,
                           days=self.days, contact_every_days=p.contact_every_days)]
        if p.n_rfm is not None:
            prov.append(f"rfm artefact ({p.n_rfm:,} customers): segment / tier")
        if p.n_churn is not None:
            prov.append(f"churn artefact ({p.n_churn:,} customers): churn_probability / risk_band")
        if any(f.calendar == "lunar" for _, f in self.fests):
            prov.append("lunar festival dates: lunardate")
        return prov

    def calendar(self) -> "c.CareCalendar":
        """Every entry, as `tools.care.care_calendar` returns them."""
        return c.CareCalendar(self.plan.as_of.date().isoformat(), self.days,
                              (self.end - pd.Timedelta(days=1)).date().isoformat(), self.entries(),
                              self.festivals(), self.provenance(), list(self.plan.warnings))


def workspace_window(ws, days: int) -> CareWindow:
    """The care calendar window of a workspace: one `CarePlan` per workspace object and as-of date
    (from the care_intervals artefact when the build has it, else from the order lines)."""
    import pyarrow.parquet as pq

    from tools.context import cached
    from tools.orders_index import care_intervals
    as_of = ws.as_of()

    def build() -> CarePlan:
        iv = care_intervals(ws)
        if iv is None:
            orders = ws.table("orders")
            iv, n = usual_intervals(orders, as_of), len(orders)
        else:
            iv = iv.set_axis(iv.index.astype(str).astype(object))
            n = pq.read_metadata(ws.table_path("orders")).num_rows
        rfm, churn = ws.artefact("rfm"), ws.artefact("churn")
        return CarePlan(ws.table("customers"), iv, as_of, n,
                        rfm=rfm if isinstance(rfm, pd.DataFrame) else None,
                        churn=churn if isinstance(churn, pd.DataFrame) else None, feedback=ws.table("feedback"))
    return cached(ws, f"care_plan:{as_of.date()}", build).window(days)
