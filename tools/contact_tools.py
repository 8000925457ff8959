"""The contact history (联系记录, 定期沟通) over the event log's contacts: who was contacted in a
window, who has not been contacted in N days among the active customers (most valuable first),
and one customer's history."""
from __future__ import annotations

import itertools
import re
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.events import EventLog
from tools.context import ToolContext, ToolError, cached, context, customers_by_id, resolve_customer_id, top_n
from tools.customer_filter import ORDER_CONDITIONS, CustomerConditions, conditions_documented, keep_in_workspace, who_args
from tools.formatting import OCCASION_EN, OCCASION_ZH, bullets, fmt_int, fmt_money, who
from tools.results import plain
from tools import service_log as sl
from tools.spec import EVERY_ROLE, Cue, ToolSpec, register

__all__ = ["contact_history"]


def _customer_value(ws) -> tuple[pd.Series, str]:
    clv = ws.artefact("clv")
    if isinstance(clv, pd.DataFrame) and "clv_12m" in clv and "customer_id" in clv:
        return clv.set_index(clv["customer_id"].astype(str))["clv_12m"].astype(float), "clv_12m"
    rfm = ws.artefact("rfm")
    if isinstance(rfm, pd.DataFrame) and "monetary" in rfm:
        s = rfm.set_index(rfm["customer_id"].astype(str))["monetary"] if "customer_id" in rfm else rfm["monetary"]
        return s.astype(float), "monetary"
    return pd.Series(dtype=float), ""


def _active_customers(ws, as_of: pd.Timestamp, active_days: int) -> pd.Index:
    """Customer ids (sorted) with an order in the ``active_days`` days before ``as_of``: from the
    care_intervals artefact (last order day per customer) when the build has it, else the order lines."""
    from tools.orders_index import care_intervals
    iv = care_intervals(ws)
    start = as_of - pd.Timedelta(days=active_days)
    if iv is not None and ws.as_of() == as_of:
        ids = iv.index[pd.to_datetime(iv["last_order"]) >= start].astype(str)
        return pd.Index(ids if ids.is_monotonic_increasing and ids.is_unique else sorted(set(ids)))
    orders = ws.table("orders")
    recent = orders[(orders["order_date"] < as_of) & (orders["order_date"] >= start)]
    return pd.Index(sorted(set(recent["customer_id"].astype(str))))


def _active_by_value(ws, as_of: pd.Timestamp, active_days: int) -> tuple[tuple, tuple, dict, str]:
    """The active customers (`_active_customers`) most valuable first — ids, values (0 without one), the
    ids as a dict's keys, the value's name — sorted once per workspace, as-of date and activity window
    (tuples and a dict of text: containers the cyclic GC stops walking, unlike lists and sets)."""
    def build():
        active = _active_customers(ws, as_of, active_days)
        value, vname = _customer_value(ws)
        v = value.reindex(active).fillna(0.0).sort_values(ascending=False, kind="stable")
        ids = tuple(map(str, v.index.tolist()))
        return ids, tuple(v.to_numpy(float).tolist()), dict.fromkeys(ids), vname
    return cached(ws, f"active_by_value:{as_of.date()}:{active_days}", build)


@conditions_documented
def contact_history(mode: Literal["contacted", "not_contacted", "customer"] | None = None,
                    customer_id: str | None = None,
                    period: Literal["last_week", "this_week", "last_month", "this_month", "days"] | None = None,
                    days: int | None = None, date_from: str | None = None, date_to: str | None = None,
                    active_days: int = 365, top: int = 20, province: str | None = None, city: str | None = None,
                    gender: Literal["F", "M"] | None = None,
                    age_band: Literal["<25", "25-34", "35-44", "45-54", "55+"] | None = None,
                    age_min: int | None = None, age_max: int | None = None, born_from: int | None = None,
                    born_to: int | None = None, signup_channel: str | None = None,
                    *, ctx: ToolContext | None = None) -> dict:
    """Who we contacted (from the event log's contacts: campaigns marked sent and single messages
    marked sent), who has not been contacted in N days among active customers (定期沟通, most
    valuable first), or one customer's contact history; the first two optionally only for the
    customers in one place, of one gender, age or sign-up channel.

    Args:
        mode: contacted (who was contacted in the window), not_contacted (no contact in the last `days` days) or
            customer (one customer's history); default customer when a customer_id is given, else contacted
        customer_id: one customer's history, e.g. C01023 (ignored by the modes contacted / not_contacted)
        period: last_week, this_week, last_month, this_month (counted back from today)
        days: the window in days: contacted in the last N days (default 7), or not contacted for N days (default 90)
        date_from: first day included, YYYY-MM-DD
        date_to: last day included, YYYY-MM-DD
        active_days: for not_contacted: active customers are those with an order in this many days before the as-of date
        top: how many customers to list (counts are of all)
    """
    ctx = context(ctx)
    ws = ctx.ws
    conds = CustomerConditions(province=province, city=city, gender=gender, age_band=age_band, age_min=age_min,
                               age_max=age_max, born_from=born_from, born_to=born_to, signup_channel=signup_channel)
    log = EventLog.of(ws)
    today = date.today()
    top = top_n(top, 20, 500)
    cust = customers_by_id(ws)
    names = lambda ids: [plain(cust.loc[i].get("name")) if i in cust.index else None for i in ids]  # noqa: E731
    cf = sl.contacts_frame(log)
    prov = f"event log {log.path.name} · {len(cf):,} contact events · today {today.isoformat()}"
    mode = mode or ("customer" if customer_id else "contacted")
    if mode == "customer":
        if not customer_id:
            raise ToolError("which customer? give a customer id, e.g. C01023")
        cid = resolve_customer_id(ws, customer_id)
        mine = cf[cf["customer_id"] == cid].sort_values(["sent_at", "at"], ascending=False)
        rows = mine.head(top).drop(columns=["customer_id"]).to_dict("records")
        return {"mode": "customer", "customer_id": cid, "name": names([cid])[0], "total": int(len(mine)),
                "last_contact": mine["sent_at"].iloc[0] if len(mine) else None, "contacts": rows, "today": today.isoformat(),
                "provenance": prov + f" · customer {cid}"}
    if mode == "not_contacted":
        n = int(days or 90)
        if not 1 <= n <= 3660:
            raise ToolError(f"days must be between 1 and 3660, got {n}")
        since = (pd.Timestamp(today) - pd.Timedelta(days=n - 1)).strftime("%Y-%m-%d")
        as_of = ws.as_of()
        ids, values, members, vname = _active_by_value(ws, as_of, int(active_days))
        if conds.asked():   # the active customers who meet the conditions, in the same order
            keep = np.flatnonzero(keep_in_workspace(ws, conds, pd.Index(ids, dtype=object)))
            ids, values = tuple(ids[i] for i in keep), tuple(values[i] for i in keep)
            members = dict.fromkeys(ids)
            prov += f" · customers matching {conds.asked()}"
        last = cf.groupby("customer_id")["sent_at"].max() if len(cf) else pd.Series(dtype=object)
        contacted = set(last[last >= since].index)
        # the first `top` active customers by value who were not contacted (a stable sort of the active
        # ones: removing the contacted leaves the others in the order sorting them alone gives)
        order = list(itertools.islice((i for i, c in enumerate(ids) if c not in contacted), top))
        in_active = [c for c in last.index if c in members]
        n_contacted = sum(1 for c in in_active if c in contacted)
        n_todo = len(ids) - n_contacted
        lst = [{"customer_id": ids[i], "name": nm, "last_contact": last.get(ids[i]), "value": round(values[i], 2)}
               for i, nm in zip(order, names([ids[i] for i in order]))]
        return {"mode": "not_contacted", "days": n, "since": since, "today": today.isoformat(),
                "active_customers": int(len(ids)), "active_days": int(active_days),
                "contacted": int(n_contacted), "not_contacted": int(n_todo),
                "never_contacted": int(n_todo - (len(in_active) - n_contacted)),
                "value_measure": vname, "shown": len(lst), "customers": lst, "as_of": as_of.strftime("%Y-%m-%d"),
                "customer_conditions": conds.asked(),
                "provenance": prov + f" · active = ordered in the {int(active_days)} days before {as_of:%Y-%m-%d}"
                              + (f" · sorted by {vname}" if vname else "")}
    try:
        a, b = sl.contact_window(period, days, date_from, date_to, today=today)
    except GuanxiError as e:
        raise ToolError(str(e)) from None
    win = cf[(cf["sent_at"] >= a) & (cf["sent_at"] <= b)]
    if conds.asked():
        ids = pd.Index(win["customer_id"].astype(str).unique(), dtype=object)
        win = win[win["customer_id"].astype(str).isin(set(ids[keep_in_workspace(ws, conds, ids)]))]
        prov += f" · customers matching {conds.asked()}"
    per = (win.sort_values(["sent_at", "at"]).groupby("customer_id")
           .agg(messages=("sent_at", "size"), last_contact=("sent_at", "max"), channel=("channel", "last"),
                occasion=("occasion", "last"), campaign_id=("campaign_id", "last"))
           .sort_values(["last_contact", "messages"], ascending=False))
    lst = [{"customer_id": c, "name": nm, **{k: plain(v) for k, v in per.loc[c].items()}}
           for c, nm in zip(per.index[:top], names(per.index[:top]))]
    return {"mode": "contacted", "date_from": a, "date_to": b, "period": period, "today": today.isoformat(),
            "messages": int(len(win)), "customers": int(len(per)),
            "by_channel": {str(k): int(v) for k, v in win["channel"].fillna("?").value_counts().items()},
            "from_campaigns": int(win["campaign_id"].notna().sum()), "single": int(win["campaign_id"].isna().sum()),
            "marketing": int(win["marketing"].sum()), "shown": len(lst), "list": lst, "provenance": prov,
            "customer_conditions": conds.asked()}


def _render_contacts(r: dict, zh: bool, focus: dict) -> str:
    mode = r.get("mode")
    if mode == "customer":
        rows = r.get("contacts") or []
        lines = [(f"{c.get('sent_at')} {c.get('channel')} {OCCASION_ZH.get(c.get('occasion'), c.get('occasion'))}"
                  + (f"（活动 {c.get('campaign_id')}）" if c.get("campaign_id") else "") + f"，{c.get('actor')}") if zh else
                 (f"{c.get('sent_at')} {c.get('channel')} {OCCASION_EN.get(c.get('occasion'), c.get('occasion'))}"
                  + (f" (campaign {c.get('campaign_id')})" if c.get("campaign_id") else "") + f", by {c.get('actor')}")
                 for c in rows[:10]]
        if zh:
            return (f"{who(r, zh)} 共有 {fmt_int(r.get('total'))} 次联系记录" +
                    (f"，最近一次在 {r.get('last_contact')}：\n" + bullets(lines) if lines else "（事件日志中没有记录）。"))
        return (f"{who(r, zh)} has {fmt_int(r.get('total'))} contacts on record" +
                (f", the latest on {r.get('last_contact')}:\n" + bullets(lines) if lines else " (none in the event log)."))
    conds = CustomerConditions(**(r.get("customer_conditions") or {})).words(zh)
    whose = (("、".join(conds) + "的") if zh else (" (" + ", ".join(conds) + ")")) if conds else ""
    if mode == "not_contacted":
        rows = r.get("customers") or []
        vm = r.get("value_measure")
        lines = []
        for c in rows[:15]:
            lc = c.get("last_contact")
            val = f"CLV {fmt_money(c.get('value'))}" if vm == "clv_12m" else (f"¥{fmt_money(c.get('value'))}" if vm else "")
            lines.append(f"{who(c, zh)}：{val}，" + (f"上次联系 {lc}" if lc else "从未联系") if zh else
                         f"{who(c, zh)}: {val}, " + (f"last contacted {lc}" if lc else "never contacted"))
        order_zh = {"clv_12m": "按未来 12 个月 CLV 从高到低", "monetary": "按累计消费从高到低"}.get(vm, "")
        order_en = {"clv_12m": "most valuable first (12-month CLV)", "monetary": "biggest spenders first"}.get(vm, "")
        if zh:
            return (f"在 {fmt_int(r.get('active_customers'))} 位{whose}活跃客户（截至 {r.get('as_of')} 的 {fmt_int(r.get('active_days'))} 天内有购买）中，"
                    f"{fmt_int(r.get('not_contacted'))} 位在最近 {fmt_int(r.get('days'))} 天（{r.get('since')} 起）没有联系记录，"
                    f"其中 {fmt_int(r.get('never_contacted'))} 位从未联系；{fmt_int(r.get('contacted'))} 位已联系。"
                    + (f"以下{order_zh}列出 {fmt_int(len(rows))} 位：\n" + bullets(lines) if lines else ""))
        return (f"Of {fmt_int(r.get('active_customers'))} active customers{whose} (a purchase in the {fmt_int(r.get('active_days'))} days "
                f"before {r.get('as_of')}), {fmt_int(r.get('not_contacted'))} have no contact in the last {fmt_int(r.get('days'))} days "
                f"(since {r.get('since')}), {fmt_int(r.get('never_contacted'))} of them never; contacted in that time: {fmt_int(r.get('contacted'))}."
                + (f" The {fmt_int(len(rows))} listed, {order_en}:\n" + bullets(lines) if lines else ""))
    rows = r.get("list") or []
    lines = [(f"{who(c, zh)}：{c.get('last_contact')} {c.get('channel')} {OCCASION_ZH.get(c.get('occasion'), c.get('occasion'))}"
              + (f"，共 {fmt_int(c.get('messages'))} 条" if (c.get("messages") or 0) > 1 else "")) if zh else
             (f"{who(c, zh)}: {c.get('last_contact')} {c.get('channel')} {OCCASION_EN.get(c.get('occasion'), c.get('occasion'))}"
              + (f", {fmt_int(c.get('messages'))} messages" if (c.get("messages") or 0) > 1 else "")) for c in rows[:15]]
    if zh:
        return (f"{r.get('date_from')} 至 {r.get('date_to')} 共联系了 {fmt_int(r.get('customers'))} 位{whose}客户、"
                f"{fmt_int(r.get('messages'))} 条消息（活动 {fmt_int(r.get('from_campaigns'))} 条，单条 {fmt_int(r.get('single'))} 条）"
                + ("：\n" + bullets(lines) if lines else "；事件日志中这段时间没有联系记录。"))
    return (f"From {r.get('date_from')} to {r.get('date_to')} we contacted {fmt_int(r.get('customers'))} customers{whose} with "
            f"{fmt_int(r.get('messages'))} messages ({fmt_int(r.get('from_campaigns'))} from campaigns, {fmt_int(r.get('single'))} single)"
            + (":\n" + bullets(lines) if lines else "; the event log has no contact in that window."))


_NOT = re.compile(r"(没|未|没有|从未|从没|还没)(有)?(人|被|再)?(联系|触达|联络|沟通|回访|跟进)|多久没(人)?(联系|沟通)|"
                  r"\b(not|never|n't|haven't|hasn't)\b.{0,20}\b(contacted|reached|messaged)\b|\bno contact\b", re.I)


def _contact_args(f) -> dict:
    q = f.q
    if f.slots.get("mention_spans") or PRONOUN_RX.search(q):   # this question names one customer
        return {"mode": "customer"}
    a: dict = {"mode": "not_contacted" if _NOT.search(q) else "contacted"}
    if f.slots.get("days"):
        a["days"] = f.slots["days"]
    else:
        m = re.search(r"(\d+)\s*(天|days?)", q, re.I)
        if m:
            a["days"] = int(m.group(1))
    if a["mode"] == "contacted":
        for period, rx in (("last_week", r"上周|上个?星期|上个?礼拜|last week"), ("this_week", r"本周|这周|这个星期|this week"),
                           ("last_month", r"上个?月|last month"), ("this_month", r"本月|这个月|this month")):
            if re.search(rx, q, re.I):
                a["period"] = period
                a.pop("days", None)
                break
    a.update(f.top())
    a.update(f.copy(("province", "city")))
    a.update({k: v for k, v in who_args(f).items() if k not in ORDER_CONDITIONS})   # "哪些女性客户超过90天没联系过了"
    return a


PRONOUN_RX = re.compile(r"[他她](?!们)|该客户|这个客户|这位|\b(his|her|him|this customer|the customer|he|she)\b", re.I)


def _contact_inherit(args: dict, new: dict, f) -> None:
    """"那最近30天呢?" after "上周联系了谁": the new window replaces the old one."""
    if new.get("days") or new.get("period"):
        for k in ("days", "period", "date_from", "date_to"):
            args.pop(k, None)
    if new.get("mode") != "customer":
        args.pop("customer_id", None)


register(ToolSpec(
    contact_history, order=43, roles=EVERY_ROLE, family="contact_history", customer="optional", args=_contact_args,
    inherit=_contact_inherit,
    exemplars=(
        "上周联系了哪些客户", "这周我们联系了谁", "最近7天联系过哪些客户", "哪些客户90天没联系了", "有多少客户很久没联系了", "该客户的联系记录",
        "我们上次联系该客户是什么时候", "哪些活跃客户还没有回访过",
        "who did we contact last week", "which customers did we message this month", "who hasn't been contacted in 90 days",
        "customers we have not contacted for a long time", "contact history of the customer", "when did we last contact the customer",
    ),
    cues=(Cue(r"(联系|触达|联络|沟通|回访)(了|过)(哪些|谁|多少|几)|(谁|哪些客户|多少客户).{0,12}(没|未)(有)?(被)?(联系|触达|联络|沟通)|"
              r"(没|未)(有)?(被)?(联系|触达|联络)|联系记录|联系历史|沟通记录|上次联系|最近一次联系|"
              r"\bcontact(ed)? history\b|\bwho did we (contact|message|text|email|call|reach)|\b(been|was|were) contacted\b|"
              r"\bhaven't contacted\b|\bnot contacted\b|\blast contact(ed)?\b|\bdid we (message|contact)\b|"
              r"(发|发送|发出)(了|过)(多少|几)(条|次|个)|(发|发送)了?(多少|几)(条|次)|"
              r"\bhow many (messages|texts|sms|e-?mails)\b.{0,20}\b(did we|have we|were|went)\b", 0.45),),
    render=_render_contacts, help_zh="联系记录（谁联系过、谁很久没联系）", help_en="contact history (who was contacted, who not)",
    example_zh="上周联系了哪些客户?", example_en="Who hasn't been contacted in 90 days?"))
