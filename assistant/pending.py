"""Answers to a clarifying question: "which 王伟?" answered by "第一个", "the one in 杭州", a gender,
an id or a list number picks one of the candidates and resumes the pending tool call."""
from __future__ import annotations

import re

from assistant.question_words import ORDINAL
from assistant.route import Route
from knowledge.text import question_language

__all__ = ["resolve_pending"]


def resolve_pending(router, q: str, memory):
    """The route for an answer to the open clarifying question (\"第一个\", \"杭州那位\", an id), or None."""
    p = memory.pending
    cands: list[str] = p.get("candidates") or []
    kind = p.get("kind")
    lang = question_language(q) if q else memory.language
    chosen: str | None = None
    mentions = router.vocab.find_customers(q)
    if kind == "customer" or kind == "missing_customer":
        ids = [i for m in mentions for i in m.ids]
        if kind == "customer":
            inter = [i for i in ids if i in cands]
            if len(inter) == 1:
                chosen = inter[0]
        elif len(set(ids)) == 1:
            chosen = ids[0]
        elif len(set(ids)) > 1:
            route = Route(p["tool"], dict(p.get("args") or {}), p["tool"], lang)
            return router._clarify(route, list(dict.fromkeys(ids)), "customer", mentions[0].span)
        if chosen is None and cands:
            m = re.fullmatch(r"\s*(\d)\s*[.)、]?\s*", q)
            if m and 1 <= int(m.group(1)) <= len(cands):
                chosen = cands[int(m.group(1)) - 1]
        if chosen is None and cands:
            # distinguishing info: city / province / gender
            prov, city, _ = router.vocab.find_places(q)
            cust = router.vocab.cust
            pool = cands
            if city:
                pool = [c for c in pool if str(cust.loc[c].get("city")) == city]
            elif prov:
                pool = [c for c in pool if str(cust.loc[c].get("province")) == prov]
            if (city or prov) and len(pool) == 1:
                chosen = pool[0]
            elif (city or prov) and not pool and len(q) <= 20 and re.search(
                    r"那个|那位|这个|这位|的那|那一个|住在|\b(one|who|lives?|living|from)\b", q, re.I):
                # "杭州那个" when none of them is in 杭州: ask again with the same choices
                route = Route(p["tool"], dict(p.get("args") or {}), p["tool"], p.get("language") or lang)
                route.notes.append(f"no candidate in {city or prov}")
                return router._clarify(route, list(cands), "customer", "")
            elif re.search(r"女|female|woman|ms\b|mrs\b", q, re.I) or re.search(r"男|male|\bman\b|mr\b", q, re.I):
                g = "F" if re.search(r"女|female|woman|ms\b|mrs\b", q, re.I) else "M"
                pool2 = [c for c in cands if str(cust.loc[c].get("gender")) == g]
                if len(pool2) == 1:
                    chosen = pool2[0]
    if chosen is None and cands:
        for rx, idx in ORDINAL:
            if rx.search(q):
                try:
                    chosen = cands[idx]
                except IndexError:
                    pass
                break
    if chosen is None:
        if kind == "customer" and re.fullmatch(r"\s*(都|全部|all|both|都要|两个都)\s*", q, re.I):
            pass
        memory.pending = None if not re.search(r"第|one|个|位", q) else memory.pending
        return None
    args = dict(p.get("args") or {})
    args["customer_id"] = chosen
    memory.pending = None
    route = Route(p["tool"], args, p["tool"], p.get("language") or lang, 1.0, followup=True)
    route.notes.append("clarified")
    return route
