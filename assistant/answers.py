"""Answers written from templates, in the question's language (zh / en).

Every number in an answer is read from the tool result it describes — nothing is computed
here except formatting (thousands separators, percentages) — and every answer ends with a
provenance line. Lists use bullets, not numbers, so the only numbers in the text are facts.

`render(tool, result, language, ...)` → text; `help_text`, `clarify_text`, `error_text`,
`denied_text` for the other outcomes; `numbers_in` / `unsupported_numbers` check that a text
(e.g. an LLM's answer) states no number that is not in the tool results.
"""
from __future__ import annotations

import math
import re

__all__ = ["render", "help_text", "clarify_text", "error_text", "denied_text", "missing_text",
           "numbers_in", "unsupported_numbers", "provenance_line", "fmt_money", "fmt_pct"]


# --------------------------------------------------------------------------- formatting
def _num(v):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def fmt_money(v) -> str:
    f = _num(v)
    return "—" if f is None else f"{f:,.2f}"


def fmt_pct(v, nd: int = 1) -> str:
    f = _num(v)
    return "—" if f is None else f"{f * 100:.{nd}f}%"


def fmt_int(v) -> str:
    f = _num(v)
    return "—" if f is None else f"{int(round(f)):,}"


def fmt_num(v, nd: int = 2) -> str:
    f = _num(v)
    if f is None:
        return "—"
    if float(f).is_integer() and abs(f) < 1e12:
        return f"{int(f):,}"
    return f"{f:,.{nd}f}"


def _get(d, *paths, default=None):
    """First non-empty value among dotted paths in nested dicts."""
    for p in paths:
        cur = d
        ok = True
        for part in p.split("."):
            if isinstance(cur, dict) and part in cur:
                cur = cur[part]
            else:
                ok = False
                break
        if ok and cur not in (None, "", [], {}):
            return cur
    return default


def _who(r: dict, zh: bool) -> str:
    name, cid = r.get("name"), r.get("customer_id")
    if name and cid and str(name) != str(cid):
        return f"{name}（{cid}）" if zh else f"{name} ({cid})"
    return str(name or cid or "")


def _place(r: dict) -> str:
    return str(r.get("city") or r.get("province") or "")


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {l}" for l in lines)


def provenance_line(prov: str | list, zh: bool) -> str:
    if isinstance(prov, list):
        prov = " · ".join(map(str, prov))
    return ("来源：" if zh else "Source: ") + str(prov or "—")


_BANDS_ZH = {"high": "高风险", "medium": "中风险", "low": "低风险", "very high": "极高风险"}
_DAYS_ZH = "天"
_OCC_ZH = {"birthday": "生日", "winback": "挽回", "vip_thanks": "VIP 感谢", "regular": "定期回访", "festival": "节日问候",
           "complaint_followup": "投诉回访", "recommendation": "商品推荐"}
_OCC_EN = {"birthday": "birthday", "winback": "win-back", "vip_thanks": "VIP thanks", "regular": "regular check-in",
           "festival": "festival greeting", "complaint_followup": "complaint follow-up", "recommendation": "recommendation"}
_STATUS_ZH = {"resolved": "已解决", "open": "未解决"}


def _period(r: dict, zh: bool) -> str:
    a, b = r.get("date_from"), r.get("date_to")
    if not a and not b:
        return ""
    if zh:
        return f"{a or '最早'} 至 {b or r.get('as_of') or '最近'}"
    return f"{a or 'the start'} to {b or r.get('as_of') or 'the end'}"


# --------------------------------------------------------------------------- per tool
def _customer_profile(r: dict, zh: bool, focus: dict) -> str:
    who = _who(r, zh)
    seg = _get(r, "rfm.segment", "segment")
    seg_zh = _get(r, "rfm.segment_zh", "segment_zh")
    cn8 = _get(r, "rfm.segment_cn8", "segment_cn8")
    rec = _get(r, "rfm.recency_days", "recency_days")
    freq = _get(r, "rfm.frequency", "frequency", "orders_count")
    mon = _get(r, "rfm.monetary", "monetary", "total_spent")
    prob = _get(r, "churn.churn_probability", "churn_probability")
    band = _get(r, "churn.risk_band", "risk_band")
    clv = _get(r, "clv.clv_12m", "clv_12m")
    cl = _get(r, "cluster.cluster_name_zh" if zh else "cluster.cluster_name_en", "cluster_name_zh" if zh else "cluster_name_en",
              "cluster.cluster")
    favs = _get(r, "favourite_categories", "favorite_categories", "top_categories", default=[])
    favs = [f if isinstance(f, str) else str(_get(f, "category", "name", default=f)) for f in favs][:3]
    last = _get(r, "last_order", "last_order_date")
    open_c = _get(r, "open_complaints", default=[])
    n_open = len(open_c) if isinstance(open_c, list) else open_c
    n_all = r.get("complaints") if isinstance(r.get("complaints"), int) and not isinstance(r.get("complaints"), bool) else None
    phone, email = r.get("phone") or _get(r, "contact.phone"), r.get("email") or _get(r, "contact.email")
    place = " ".join(x for x in (r.get("province"), r.get("city")) if x)
    if zh:
        parts = [f"客户 {who}" + (f"，{place}" if place else "") + (f"，电话 {phone}" if phone else "")
                 + (f"，邮箱 {email}" if email else "") + "。"]
        if seg:
            parts.append(f"RFM 分群：{seg_zh or seg}（{seg}）" + (f"，八大类：{cn8}" if cn8 else "") + "。")
        if rec is not None or freq is not None:
            parts.append(f"最近一次购买在 {fmt_int(rec)} 天前，共 {fmt_int(freq)} 单，累计消费 {fmt_money(mon)}。")
        if prob is not None:
            parts.append(f"流失概率 {fmt_pct(prob)}" + (f"（{_BANDS_ZH.get(str(band), band)}）" if band else "") + "。")
        if clv is not None:
            parts.append(f"未来 12 个月 CLV 预计 {fmt_money(clv)}。")
        if cl is not None:
            parts.append(f"所属聚类：{cl}。")
        if favs:
            parts.append("偏好品类：" + "、".join(favs) + "。")
        if last:
            parts.append(f"最近下单日期 {last}。")
        if n_open is not None:
            parts.append(f"未解决投诉 {fmt_int(n_open)} 条" + (f"（共投诉 {fmt_int(n_all)} 条）" if isinstance(n_all, int) else "")
                         + (f"，最近一条：「{_short(open_c[-1].get('text'), 40)}」" if isinstance(open_c, list) and open_c
                            and isinstance(open_c[-1], dict) and open_c[-1].get("text") else "") + "。")
        extra = _profile_extra(r, True)
        return "".join(parts) + ("\n" + extra if extra else "")
    parts = [f"Customer {who}" + (f", {place}" if place else "") + (f", phone {phone}" if phone else "")
             + (f", e-mail {email}" if email else "") + "."]
    if seg:
        parts.append(f"RFM segment: {seg}" + (f" ({seg_zh})" if seg_zh else "") + (f"; eight-class: {cn8}" if cn8 else "") + ".")
    if rec is not None or freq is not None:
        parts.append(f"Last purchase {fmt_int(rec)} days ago, {fmt_int(freq)} orders, {fmt_money(mon)} spent in total.")
    if prob is not None:
        parts.append(f"Churn probability {fmt_pct(prob)}" + (f" ({band} risk)" if band else "") + ".")
    if clv is not None:
        parts.append(f"Expected 12-month CLV {fmt_money(clv)}.")
    if cl is not None:
        parts.append(f"Cluster: {cl}.")
    if favs:
        parts.append("Favourite categories: " + ", ".join(favs) + ".")
    if last:
        parts.append(f"Last order on {last}.")
    if n_open is not None:
        parts.append(f"Open complaints: {fmt_int(n_open)}" + (f" ({fmt_int(n_all)} complaints in all)" if isinstance(n_all, int) else "")
                     + (f", latest: \"{_short(open_c[-1].get('text'), 60)}\"" if isinstance(open_c, list) and open_c
                        and isinstance(open_c[-1], dict) and open_c[-1].get("text") else "") + ".")
    extra = _profile_extra(r, False)
    return " ".join(parts) + ("\n" + extra if extra else "")


def _profile_extra(r: dict, zh: bool) -> str:
    """Membership level, birthday, the latest orders and the recommended products of a card."""
    out = []
    level, bday, age = r.get("level"), r.get("birthday"), r.get("age")
    if level or bday:
        if zh:
            out.append("会员等级：" + (str(level) if level else "未知") + (f"；生日 {bday}" if bday else "")
                       + (f"（{fmt_int(age)} 岁）" if age is not None and bday else "") + "。")
        else:
            out.append("Membership level: " + (str(level) if level else "unknown") + (f"; birthday {bday}" if bday else "")
                       + (f" (age {fmt_int(age)})" if age is not None and bday else "") + ".")
    orders = [o for o in (r.get("recent_orders") or []) if isinstance(o, dict)][:3]
    if orders:
        if zh:
            out.append("最近订单：" + "；".join(f"{o.get('date')} {o.get('items')}（{fmt_money(o.get('amount'))}）" for o in orders) + "。")
        else:
            out.append("Recent orders: " + "; ".join(f"{o.get('date')} {o.get('items')} ({fmt_money(o.get('amount'))})" for o in orders) + ".")
    recs = [str(p.get("product")) for p in (r.get("recommended_products") or []) if isinstance(p, dict) and p.get("product")][:3]
    if recs:
        out.append(("推荐商品：" + "、".join(recs) + "。") if zh else ("Recommended: " + ", ".join(recs) + "."))
    return "\n".join(out)


def _rfm_lookup(r: dict, zh: bool, focus: dict) -> str:
    who = _who(r, zh)
    if zh:
        return (f"{who} 的 RFM 分群是「{r.get('segment_zh') or r.get('segment')}」（{r.get('segment')}），"
                f"R/F/M 分数 {r.get('r_score')}/{r.get('f_score')}/{r.get('m_score')}；八大类为「{r.get('segment_cn8')}」，"
                f"层级为「{r.get('tier')}」。最近一次购买在 {fmt_int(r.get('recency_days'))} 天前，"
                f"共 {fmt_int(r.get('frequency'))} 单，累计消费 {fmt_money(r.get('monetary'))}（截至 {r.get('as_of')}）。")
    return (f"{who} is in the RFM segment \"{r.get('segment')}\" ({r.get('segment_zh')}), scores "
            f"R/F/M {r.get('r_score')}/{r.get('f_score')}/{r.get('m_score')}; eight-class: {r.get('segment_cn8')}"
            f" ({r.get('segment_cn8_en') or ''}); tier: {r.get('tier')} ({r.get('tier_en') or ''}). Last purchase "
            f"{fmt_int(r.get('recency_days'))} days ago, {fmt_int(r.get('frequency'))} orders, "
            f"{fmt_money(r.get('monetary'))} spent in total (as of {r.get('as_of')}).")


def _seg_name(row: dict, zh: bool) -> str:
    zh_n, en_n = row.get("name_zh"), row.get("name_en")
    if zh_n and en_n and zh_n != en_n:
        return f"{zh_n}（{en_n}）" if zh else f"{en_n} ({zh_n})"
    return str(zh_n or en_n or row.get("segment"))


def _segment_summary(r: dict, zh: bool, focus: dict) -> str:
    rows = r.get("segments") or []
    total = r.get("total")
    want = focus.get("segment")
    head = ""
    if want:
        hit = next((s for s in rows if want in (s.get("segment"), s.get("name_zh"), s.get("name_en"))), None)
        if hit:
            head = (f"「{_seg_name(hit, zh)}」共 {fmt_int(hit.get('count'))} 位客户，占 {fmt_pct(hit.get('share'))}"
                    + (f"，贡献消费 {fmt_pct(hit.get('monetary_share'))}" if hit.get("monetary_share") is not None else "")
                    + "。\n") if zh else (
                f"\"{_seg_name(hit, zh)}\" has {fmt_int(hit.get('count'))} customers, {fmt_pct(hit.get('share'))} of all"
                + (f", {fmt_pct(hit.get('monetary_share'))} of spend" if hit.get("monetary_share") is not None else "") + ".\n")
    scheme = r.get("scheme")
    lines = []
    for s in rows:
        if zh:
            lines.append(f"{_seg_name(s, zh)}：{fmt_int(s.get('count'))} 人（{fmt_pct(s.get('share'))}）"
                         + (f"，平均消费 {fmt_money(s.get('mean_monetary'))}" if s.get("mean_monetary") is not None else ""))
        else:
            lines.append(f"{_seg_name(s, zh)}: {fmt_int(s.get('count'))} customers ({fmt_pct(s.get('share'))})"
                         + (f", mean spend {fmt_money(s.get('mean_monetary'))}" if s.get("mean_monetary") is not None else ""))
    names = {"segment": ("RFM 分群", "RFM segments"), "segment_cn8": ("八大类客户", "eight-class segments"),
             "tier": ("客户层级", "tiers"), "cluster": ("聚类", "clusters")}.get(scheme, (scheme, scheme))
    if zh:
        return head + f"{fmt_int(total)} 位客户的{names[0]}分布：\n" + _bullets(lines)
    return head + f"{names[1].capitalize()} of {fmt_int(total)} customers:\n" + _bullets(lines)


def _segment_members(r: dict, zh: bool, focus: dict) -> str:
    seg, n = r.get("segment"), r.get("count")
    where = " ".join(x for x in (r.get("province"), r.get("city")) if x)
    rows = r.get("members") or []
    lines = []
    for m in rows:
        if zh:
            lines.append(f"{_who(m, zh)}" + (f"，{_place(m)}" if _place(m) else "") + f"：消费 {fmt_money(m.get('monetary'))}，"
                         f"{fmt_int(m.get('frequency'))} 单，最近购买 {fmt_int(m.get('recency_days'))} 天前"
                         + (f"，电话 {m.get('phone')}" if m.get("phone") else ""))
        else:
            lines.append(f"{_who(m, zh)}" + (f", {_place(m)}" if _place(m) else "") + f": spent {fmt_money(m.get('monetary'))}, "
                         f"{fmt_int(m.get('frequency'))} orders, last purchase {fmt_int(m.get('recency_days'))} days ago"
                         + (f", phone {m.get('phone')}" if m.get("phone") else ""))
    if r.get("date_from") or r.get("date_to"):  # ranked by spend inside a period
        per = f"{r.get('date_from')} 至 {r.get('date_to')}" if zh else f"{r.get('date_from')} to {r.get('date_to')}"
        everyone = r.get("scheme") == "all"
        if zh:
            txt = (f"{per}，" + (f"{where}" if where else "") + ("" if everyone else f"「{seg}」（共 {fmt_int(r.get('segment_size'))} 位）中")
                   + f"有购买的客户共 {fmt_int(n)} 位")
            txt += f"，期间消费金额最高的 {fmt_int(len(rows))} 位：\n" + _bullets(lines) if rows else "。"
            return txt
        txt = (f"{fmt_int(n)} " + ("customers" if everyone else f"of the {fmt_int(r.get('segment_size'))} \"{seg}\" customers")
               + (f" in {where}" if where else "") + f" bought in {per}")
        txt += f"; the top {fmt_int(len(rows))} by spend in that period:\n" + _bullets(lines) if rows else "."
        return txt
    if r.get("scheme") == "all":  # everyone: the biggest spenders overall
        if zh:
            txt = (f"{where}" if where else "全部") + f"共有 {fmt_int(n)} 位有购买记录的客户"
            txt += f"，累计消费金额最高的 {fmt_int(len(rows))} 位：\n" + _bullets(lines) if rows else "。"
            return txt
        txt = f"{fmt_int(n)} customers with orders" + (f" in {where}" if where else "")
        txt += f"; the top {fmt_int(len(rows))} by total spend:\n" + _bullets(lines) if rows else "."
        return txt
    if zh:
        txt = f"「{seg}」" + (f"（{where}）" if where else "") + f"共有 {fmt_int(n)} 位客户"
        txt += f"，按消费金额排前 {fmt_int(len(rows))} 位：\n" + _bullets(lines) if rows else "。"
        return txt
    txt = f"\"{seg}\"" + (f" ({where})" if where else "") + f" has {fmt_int(n)} customers"
    txt += f"; the top {fmt_int(len(rows))} by spend:\n" + _bullets(lines) if rows else "."
    return txt


def _cluster_lookup(r: dict, zh: bool, focus: dict) -> str:
    if r.get("customer_id"):
        p = r.get("profile") or {}
        name = r.get("cluster_name_zh") if zh else r.get("cluster_name_en")
        size = p.get("size")
        if zh:
            return (f"{_who(r, zh)} 属于聚类 {r.get('cluster')}「{name or r.get('cluster_name_en')}」"
                    + (f"，该聚类共 {fmt_int(size)} 位客户（{fmt_pct(p.get('share'))}）" if size is not None else "") + "。")
        return (f"{_who(r, zh)} is in cluster {r.get('cluster')} \"{name or r.get('cluster_name_zh')}\""
                + (f", which has {fmt_int(size)} customers ({fmt_pct(p.get('share'))})" if size is not None else "") + ".")
    rows = r.get("clusters") or []
    lines = []
    for p in rows:
        nm = (p.get("name_zh") if zh else p.get("name_en")) or p.get("name_en") or p.get("name_zh")
        if zh:
            lines.append(f"聚类 {p.get('cluster')}「{nm}」：{fmt_int(p.get('size'))} 人（{fmt_pct(p.get('share'))}）")
        else:
            lines.append(f"cluster {p.get('cluster')} \"{nm}\": {fmt_int(p.get('size'))} customers ({fmt_pct(p.get('share'))})")
    if zh:
        return f"客户共分为 {fmt_int(len(rows))} 个聚类：\n" + _bullets(lines)
    return f"Customers fall into {fmt_int(len(rows))} clusters:\n" + _bullets(lines)


def _churn_risk(r: dict, zh: bool, focus: dict) -> str:
    band = r.get("risk_band")
    reasons = r.get("reasons_zh" if zh else "reasons_en") or r.get("reasons_en") or []
    if zh:
        txt = (f"{_who(r, zh)} 的流失概率为 {fmt_pct(r.get('churn_probability'))}"
               + (f"（{_BANDS_ZH.get(str(band), band)}）" if band else "")
               + (f"，未来 {fmt_int(r.get('horizon_days'))} 天内不再购买的可能性" if r.get("horizon_days") else "") + "。")
        if r.get("recency_days") is not None:
            txt += f"最近一次购买在 {fmt_int(r.get('recency_days'))} 天前。"
        if reasons:
            txt += "主要原因：" + "；".join(map(str, reasons[:3])) + "。"
        return txt
    txt = (f"{_who(r, zh)} has a churn probability of {fmt_pct(r.get('churn_probability'))}"
           + (f" ({band} risk)" if band else "")
           + (f": the chance of no purchase in the next {fmt_int(r.get('horizon_days'))} days" if r.get("horizon_days") else "") + ".")
    if r.get("recency_days") is not None:
        txt += f" Last purchase {fmt_int(r.get('recency_days'))} days ago."
    if reasons:
        txt += " Main reasons: " + "; ".join(map(str, reasons[:3])) + "."
    return txt


def _at_risk(r: dict, zh: bool, focus: dict) -> str:
    where = " ".join(x for x in (r.get("province"), r.get("city"), r.get("segment")) if x)
    rows = r.get("customers") or []
    lines = []
    for c in rows:
        if zh:
            lines.append(f"{_who(c, zh)}" + (f"，{_place(c)}" if _place(c) else "") + f"：流失概率 {fmt_pct(c.get('churn_probability'))}"
                         + (f"，最近购买 {fmt_int(c.get('recency_days'))} 天前" if c.get("recency_days") is not None else "")
                         + (f"，累计消费 {fmt_money(c.get('monetary'))}" if c.get("monetary") is not None else "")
                         + (f"，电话 {c.get('phone')}" if c.get("phone") else ""))
        else:
            lines.append(f"{_who(c, zh)}" + (f", {_place(c)}" if _place(c) else "") + f": churn probability {fmt_pct(c.get('churn_probability'))}"
                         + (f", last purchase {fmt_int(c.get('recency_days'))} days ago" if c.get("recency_days") is not None else "")
                         + (f", spent {fmt_money(c.get('monetary'))}" if c.get("monetary") is not None else "")
                         + (f", phone {c.get('phone')}" if c.get("phone") else ""))
    if zh:
        txt = (("在" + where + "，") if where else "") + \
              f"流失概率 ≥ {fmt_pct(r.get('threshold'), 0)} 的客户共 {fmt_int(r.get('count_at_risk'))} 位" + \
              f"（共评估 {fmt_int(r.get('customers_considered'))} 位）。"
        if rows:
            txt += f"流失概率最高的 {fmt_int(len(rows))} 位：\n" + _bullets(lines)
        return txt
    txt = (f"In {where}, " if where else "") + \
          f"{fmt_int(r.get('count_at_risk'))} customers have a churn probability of at least {fmt_pct(r.get('threshold'), 0)}" + \
          f" (of {fmt_int(r.get('customers_considered'))} scored)."
    if rows:
        txt += f" The {fmt_int(len(rows))} most at risk:\n" + _bullets(lines)
    return txt


def _clv(r: dict, zh: bool, focus: dict) -> str:
    if r.get("customer_id"):
        if zh:
            return (f"{_who(r, zh)} 未来 12 个月的 CLV 预计为 {fmt_money(r.get('clv_12m'))}；"
                    f"仍活跃的概率 P(alive) 为 {fmt_pct(r.get('p_alive'))}，未来 90 天预计购买 "
                    f"{fmt_num(r.get('expected_purchases_90d'), 2)} 次，预计平均每次消费 {fmt_money(r.get('expected_avg_value'))}"
                    f"（在 {fmt_int(r.get('customers'))} 位客户中排第 {fmt_int(r.get('rank'))}）。")
        return (f"{_who(r, zh)} has an expected 12-month CLV of {fmt_money(r.get('clv_12m'))}; P(alive) "
                f"{fmt_pct(r.get('p_alive'))}, {fmt_num(r.get('expected_purchases_90d'), 2)} expected purchases in the "
                f"next 90 days, expected spend per purchase {fmt_money(r.get('expected_avg_value'))} "
                f"(rank {fmt_int(r.get('rank'))} of {fmt_int(r.get('customers'))} customers).")
    rows = r.get("top") or []
    lines = [(f"{_who(c, zh)}：CLV {fmt_money(c.get('clv_12m'))}，P(alive) {fmt_pct(c.get('p_alive'))}" if zh else
              f"{_who(c, zh)}: CLV {fmt_money(c.get('clv_12m'))}, P(alive) {fmt_pct(c.get('p_alive'))}") for c in rows]
    if zh:
        return (f"{fmt_int(r.get('customers'))} 位客户未来 12 个月 CLV 合计 {fmt_money(r.get('total_clv_12m'))}，"
                f"平均 {fmt_money(r.get('mean_clv_12m'))}。CLV 最高的 {fmt_int(len(rows))} 位：\n" + _bullets(lines))
    return (f"The expected 12-month CLV of {fmt_int(r.get('customers'))} customers totals {fmt_money(r.get('total_clv_12m'))} "
            f"(mean {fmt_money(r.get('mean_clv_12m'))}). The {fmt_int(len(rows))} highest:\n" + _bullets(lines))


def _bought_together(r: dict, zh: bool, focus: dict) -> str:
    rows = r.get("items") or []
    item = r.get("item")
    if not rows:
        return (f"没有找到和「{item}」一起购买的明显规律。" if zh else f"No clear pattern of items bought together with \"{item}\".")
    lines = []
    for it in rows:
        if zh:
            lines.append(f"{it.get('item')}：置信度 {fmt_pct(it.get('confidence'))}，提升度 {fmt_num(it.get('lift'), 2)}"
                         + (f"，共同出现 {fmt_int(it.get('orders'))} 单" if it.get("orders") is not None else ""))
        else:
            lines.append(f"{it.get('item')}: confidence {fmt_pct(it.get('confidence'))}, lift {fmt_num(it.get('lift'), 2)}"
                         + (f", together in {fmt_int(it.get('orders'))} orders" if it.get("orders") is not None else ""))
    how = r.get("method")
    mixed = how == "rules" and any(len(it.get("with") or []) > 1 for it in rows)  # pair rules first, then the rest
    if zh:
        return (f"购买「{item}」的订单中，最常一起购买的是" + (("（按关联规则：单品规则优先，各按提升度排序）" if mixed else
                                                          "（按关联规则的提升度排序）") if how == "rules" else "（按共同出现次数）")
                + "：\n" + _bullets(lines))
    return (f"Orders with \"{item}\" most often also contain" + (((" (association rules: pair rules first, each by lift)" if mixed
                                                                   else " (association rules, by lift)")) if how == "rules" else
                                                                  " (co-occurrence counts)") + ":\n" + _bullets(lines))


def _recommend(r: dict, zh: bool, focus: dict) -> str:
    rows = r.get("products") or []
    if not rows:
        return (f"暂时没有可以推荐给 {_who(r, zh)} 的商品。" if zh else f"No recommendation for {_who(r, zh)} yet.")
    lines = []
    for p in rows:
        because = "、".join(p.get("because_bought") or []) if zh else ", ".join(p.get("because_bought") or [])
        if zh:
            lines.append(f"{p.get('product')}" + (f"（{p.get('category')}，{fmt_money(p.get('price'))}）" if p.get("price") is not None else "")
                         + (f"：因为买过 {because}" if because and p.get("lift") is not None else
                            f"：偏好品类 {because} 的热销品" if because else "")
                         + (f"，置信度 {fmt_pct(p.get('confidence'))}，提升度 {fmt_num(p.get('lift'), 2)}" if p.get("lift") is not None else ""))
        else:
            lines.append(f"{p.get('product')}" + (f" ({p.get('category')}, {fmt_money(p.get('price'))})" if p.get("price") is not None else "")
                         + (f": bought {because}" if because and p.get("lift") is not None else
                            f": best seller in favourite category {because}" if because else "")
                         + (f", confidence {fmt_pct(p.get('confidence'))}, lift {fmt_num(p.get('lift'), 2)}" if p.get("lift") is not None else ""))
    if zh:
        return f"推荐给 {_who(r, zh)} 的 {fmt_int(len(rows))} 款商品：\n" + _bullets(lines)
    return f"{fmt_int(len(rows))} products to recommend to {_who(r, zh)}:\n" + _bullets(lines)


def _kpi_value(v, unit: str | None, zh: bool) -> str:
    if unit in ("share", "complaints per order"):
        return fmt_pct(v, 2)
    if unit in ("orders", "customers"):
        return fmt_int(v)
    if unit == "days":
        return f"{fmt_num(v, 1)} {'天' if zh else 'days'}"
    if unit and unit.startswith("rating"):
        return f"{fmt_num(v, 2)}"
    return fmt_money(v)


_DIM_ZH = {"province": "省份", "city": "城市", "gender": "性别", "age_band": "年龄段", "channel": "获客渠道",
           "order_channel": "下单渠道", "category": "品类", "month": "月份", "feedback_channel": "反馈渠道", "kind": "反馈类型"}


def _kpi_row_extra(metric, row: dict, zh: bool) -> str:
    """The counts behind one breakdown row's rate (complaints / orders, repeat / all customers)."""
    if metric == "complaint_rate" and row.get("complaints") is not None:
        return (f"（投诉 {fmt_int(row.get('complaints'))} 条 / 订单 {fmt_int(row.get('orders'))} 单）" if zh else
                f" ({fmt_int(row.get('complaints'))} complaints / {fmt_int(row.get('orders'))} orders)")
    if metric == "repurchase_rate" and row.get("repeat_customers") is not None:
        return (f"（{fmt_int(row.get('repeat_customers'))} / {fmt_int(row.get('customers'))} 位客户）" if zh else
                f" ({fmt_int(row.get('repeat_customers'))} of {fmt_int(row.get('customers'))} customers)")
    return ""


def _kpi(r: dict, zh: bool, focus: dict) -> str:
    label = r.get("label_zh") if zh else r.get("label_en")
    unit = r.get("unit")
    period = _period(r, zh)
    filt = r.get("filters") or {}
    def _fv(v, sep):
        return sep.join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
    ftxt = "、".join(_fv(v, "、") for v in filt.values()) if zh else ", ".join(f"{k}={_fv(v, '/')}" for k, v in filt.items())
    by = r.get("by")
    bd = r.get("breakdown") or []
    if zh:
        txt = (f"{period}" if period else "全部时间") + (f"（{ftxt}）" if ftxt else "") + f"的{label}为 {_kpi_value(r.get('value'), unit, zh)}"
    else:
        txt = f"{label}" + (f" for {period}" if period else " over all time") + (f" ({ftxt})" if ftxt else "") + \
              f": {_kpi_value(r.get('value'), unit, zh)}"
    det = r.get("details") or {}
    extra = []
    if r.get("metric") == "complaint_rate":
        if det.get("complaints") is not None:
            extra.append(f"投诉 {fmt_int(det.get('complaints'))} 条" if zh else f"{fmt_int(det.get('complaints'))} complaints")
        if det.get("orders") is not None:
            extra.append(f"订单 {fmt_int(det.get('orders'))} 单" if zh else f"{fmt_int(det.get('orders'))} orders")
    elif r.get("metric") == "repurchase_rate":
        if det.get("repeat_customers") is not None and det.get("customers") is not None:
            extra.append(f"{fmt_int(det.get('repeat_customers'))} / {fmt_int(det.get('customers'))} 位客户" if zh else
                         f"{fmt_int(det.get('repeat_customers'))} of {fmt_int(det.get('customers'))} customers")
    elif r.get("metric") == "aov":
        if det.get("orders") is not None:
            extra.append(f"订单 {fmt_int(det.get('orders'))} 单，销售额 {fmt_money(det.get('sales'))}" if zh and det.get("sales") is not None
                         else f"{fmt_int(det.get('orders'))} orders" + (f", sales {fmt_money(det.get('sales'))}" if det.get("sales") is not None else ""))
    elif r.get("metric") in ("purchase_interval", "resolution_time") and det.get("median") is not None:
        extra.append(f"中位数 {fmt_num(det.get('median'), 1)} 天" if zh else f"median {fmt_num(det.get('median'), 1)} days")
    elif r.get("metric") == "satisfaction" and det.get("rated") is not None:
        extra.append(f"{fmt_int(det.get('rated'))} 条评分" if zh else f"{fmt_int(det.get('rated'))} ratings")
    if extra:
        txt += ("（" + "，".join(extra) + "）") if zh else (" (" + ", ".join(extra) + ")")
    txt += "。" if zh else "."
    if r.get("metric") == "retention":
        n = len(bd)
        txt += (f"共 {fmt_int(n)} 个月度同期群，见热力图。" if zh else f" {fmt_int(n)} monthly cohorts; see the heatmap.")
        return txt
    if by and bd:
        show = bd if by == "month" else bd if len(bd) <= 20 else bd[:10]
        if by == "month" and len(show) > 24:
            show = show[-24:]
        lines = [(f"{row.get(by)}：{_kpi_value(row.get('value'), unit, zh)}" if zh else
                  f"{row.get(by)}: {_kpi_value(row.get('value'), unit, zh)}") + _kpi_row_extra(r.get("metric"), row, zh)
                 for row in show]
        dim = _DIM_ZH.get(by, by) if zh else by.replace("_", " ")
        if zh:
            txt += f"\n按{dim}" + (f"（前 {fmt_int(len(show))} 个）" if len(show) < len(bd) and by != "month" else "") + "：\n" + _bullets(lines)
        else:
            txt += f"\nBy {dim}" + (f" (top {fmt_int(len(show))})" if len(show) < len(bd) and by != "month" else "") + ":\n" + _bullets(lines)
    return txt


def _short(s, n: int = 60) -> str:
    s = " ".join(str(s or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _similar(r: dict, zh: bool, focus: dict) -> str:
    hits = r.get("hits") or []
    if not hits:
        return (f"没有找到与「{r.get('query')}」相似的投诉。" if zh else f"No complaints similar to \"{r.get('query')}\".")
    lines = []
    for h in hits:
        status = h.get("status")
        res = h.get("resolution")
        date = str(h.get("created_at") or "")[:10]
        if zh:
            lines.append(f"[{date}，{_STATUS_ZH.get(str(status), status or '状态未知')}] 「{_short(h.get('text'))}」"
                         + (f" → 处理：{_short(res, 50)}" if res else ""))
        else:
            lines.append(f"[{date}, {status or 'status unknown'}] \"{_short(h.get('text'))}\""
                         + (f" → resolution: {_short(res, 50)}" if res else ""))
    if zh:
        return (f"找到 {fmt_int(len(hits))} 条与「{r.get('query')}」相似的投诉（其中 {fmt_int(r.get('resolved'))} 条已解决）：\n"
                + _bullets(lines))
    return (f"{fmt_int(len(hits))} complaints similar to \"{r.get('query')}\" ({fmt_int(r.get('resolved'))} resolved):\n"
            + _bullets(lines))


def _topics(r: dict, zh: bool, focus: dict) -> str:
    rows = r.get("topics") or []
    period = _period(r, zh)
    lines = []
    for t in rows:
        kw = "、".join((t.get("keywords") or [])[:4]) if zh else ", ".join((t.get("keywords") or [])[:4])
        ex = (t.get("examples") or [None])[0]
        if zh:
            lines.append(f"{t.get('label')}：{fmt_int(t.get('count'))} 条（{fmt_pct(t.get('share'))}）"
                         + (f"，关键词 {kw}" if kw else "") + (f"，例：「{_short(ex, 40)}」" if ex else ""))
        else:
            lines.append(f"{t.get('label')}: {fmt_int(t.get('count'))} complaints ({fmt_pct(t.get('share'))})"
                         + (f", keywords {kw}" if kw else "") + (f", e.g. \"{_short(ex, 40)}\"" if ex else ""))
    if zh:
        return ((period or "全部时间") + f"共有 {fmt_int(r.get('total'))} 条投诉，主要主题：\n" + _bullets(lines))
    return (f"{fmt_int(r.get('total'))} complaints" + (f" from {period}" if period else " in all") + "; the main topics:\n"
            + _bullets(lines))


def _care(r: dict, zh: bool, focus: dict) -> str:
    counts = r.get("counts") or {}
    ents = r.get("entries") or []
    ctext = ("，".join(f"{_OCC_ZH.get(k, k)} {fmt_int(v)} 位" for k, v in counts.items()) if zh else
             ", ".join(f"{_OCC_EN.get(k, k)}: {fmt_int(v)}" for k, v in counts.items()))
    lines = []
    for e in ents[:15]:
        occ = e.get("occasion", "")
        key = "festival" if str(occ).startswith("festival") else occ
        reason = e.get("reason_zh") if zh else e.get("reason_en")
        if zh:
            lines.append(f"{e.get('date')} {_who(e, zh)}：{_OCC_ZH.get(key, key)}" + (f"（{reason}）" if reason else ""))
        else:
            lines.append(f"{e.get('date')} {_who(e, zh)}: {_OCC_EN.get(key, key)}" + (f" ({reason})" if reason else ""))
    fests = r.get("festivals") or []
    ftxt = "、".join(f"{f.get('zh') or f.get('name')}（{f.get('date')}）" for f in fests) if zh else \
        ", ".join(f"{f.get('en') or f.get('name')} ({f.get('date')})" for f in fests)
    if zh:
        txt = f"未来 {fmt_int(r.get('days'))} 天（{r.get('as_of')} 至 {r.get('window_end')}）需要关怀 {fmt_int(r.get('total'))} 人次"
        txt += (f"：{ctext}。" if ctext else "。") + (f"节日：{ftxt}。" if ftxt else "")
        return txt + ("\n" + _bullets(lines) if lines else "")
    txt = f"In the next {fmt_int(r.get('days'))} days ({r.get('as_of')} to {r.get('window_end')}): {fmt_int(r.get('total'))} contacts"
    txt += (f" — {ctext}." if ctext else ".") + (f" Festivals: {ftxt}." if ftxt else "")
    return txt + ("\n" + _bullets(lines) if lines else "")


def _draft(r: dict, zh: bool, focus: dict) -> str:
    ch = r.get("channel")
    lim = r.get("limit")
    subj = r.get("subject")
    src = r.get("sources") or []
    srcs = ("；".join(f"{s.get('detail')}={s.get('value')}（{s.get('source')}）" for s in src) if zh else
            "; ".join(f"{s.get('detail')}={s.get('value')} ({s.get('source')})" for s in src))
    if zh:
        head = f"给 {_who(r, zh)} 的{_OCC_ZH.get(r.get('occasion'), r.get('occasion'))}草稿（{ch}" + \
               (f"，{fmt_int(r.get('length'))}/{fmt_int(lim)} 字" if lim else "") + "）：\n"
        body = (f"主题：{subj}\n" if subj else "") + str(r.get("text"))
        return head + body + ("\n个人信息来源：" + srcs if srcs else "") + "\n（仅为草稿，需人工审核后发送，Guanxi 不会发送任何消息。）"
    head = f"Draft {_OCC_EN.get(r.get('occasion'), r.get('occasion'))} message for {_who(r, zh)} ({ch}" + \
           (f", {fmt_int(r.get('length'))}/{fmt_int(lim)} characters" if lim else "") + "):\n"
    body = (f"Subject: {subj}\n" if subj else "") + str(r.get("text"))
    return head + body + ("\nPersonal details from: " + srcs if srcs else "") + \
        "\n(Draft only: a person reviews and sends it; Guanxi sends nothing.)"


RENDERERS = {
    "customer_profile": _customer_profile, "rfm_lookup": _rfm_lookup, "segment_summary": _segment_summary,
    "segment_members": _segment_members, "cluster_lookup": _cluster_lookup, "churn_risk": _churn_risk,
    "at_risk_customers": _at_risk, "clv_estimate": _clv, "bought_together": _bought_together,
    "recommend_products": _recommend, "kpi": _kpi, "similar_complaints": _similar, "complaint_topics": _topics,
    "care_calendar": _care, "draft_care_message": _draft,
}


def render(tool: str, result: dict, language: str, focus: dict | None = None, with_provenance: bool = True) -> str:
    """The answer text for one tool result, ending with its provenance line."""
    zh = language == "zh"
    fn = RENDERERS.get(tool)
    if fn is None:
        import json
        body = json.dumps({k: v for k, v in result.items() if k not in ("chart", "provenance")}, ensure_ascii=False,
                          default=str)[:1500]
    else:
        body = fn(result, zh, focus or {})
    if with_provenance:
        body += "\n" + provenance_line(result.get("provenance"), zh)
    return body


# --------------------------------------------------------------------------- other outcomes
EXAMPLES_ZH = ["C01023 的 RFM 分群是什么?", "哪些客户有流失风险?", "买绿茶的人还会一起买什么?", "上季度投诉主要集中在哪些问题?",
               "今年的复购率是多少?", "各省销售额", "重要价值客户有多少?", "有没有人投诉过快递破损?", "未来7天谁过生日?",
               "给C00012写一条生日祝福短信"]
EXAMPLES_EN = ["What is C01023's RFM segment?", "Which customers are at risk of churning?",
               "What do people buy together with green tea?", "Top complaint topics last quarter",
               "Repurchase rate this year", "Sales by province", "How many Champions do we have?",
               "Has anyone complained about damaged parcels?", "Whose birthday is in the next 7 days?",
               "Draft a birthday SMS for C00012"]


def help_text(language: str, unknown: bool = True, tools: list[str] | None = None) -> str:
    zh = language == "zh"
    if zh:
        head = "这个问题我回答不了，我只回答这个 CRM 知识库里的事实。" if unknown else "我是 Guanxi CRM 助手。"
        return (head + "我可以回答：客户画像、RFM 分群、分群分布与成员、聚类、流失风险（单个客户或名单）、客户终身价值 CLV、"
                "一起购买的商品、商品推荐、经营指标（销售额、订单数、客单价、复购率、留存、满意度、投诉率、处理时长，可按省份/城市/"
                "月份/品类等拆分）、相似投诉、投诉主题、关怀日历和关怀消息草稿。例如：\n" + _bullets(EXAMPLES_ZH))
    head = ("I can't answer that one: I only answer from this CRM knowledge base." if unknown else "I'm the Guanxi CRM assistant.")
    return (head + " I can answer: customer profiles, RFM segments, segment distribution and members, clusters, churn risk "
            "(one customer or a ranked list), customer lifetime value, products bought together, product recommendations, "
            "KPIs (sales, orders, AOV, repurchase rate, retention, satisfaction, complaint rate, resolution time — by "
            "province, city, month, category …), similar complaints, complaint topics, the care calendar and care-message "
            "drafts. For example:\n" + _bullets(EXAMPLES_EN))


def clarify_text(candidates: list[dict], language: str, span: str = "", fuzzy: bool = False) -> str:
    """"Which 王伟?" with distinguishing details (city, last order, masked phone)."""
    zh = language == "zh"
    lines = []
    for c in candidates:
        det = [x for x in (c.get("city") or c.get("province"),
                           (f"最近下单 {c['last_order']}" if zh else f"last order {c['last_order']}") if c.get("last_order") else None,
                           c.get("phone")) if x]
        lines.append(f"{c.get('name')}（{c.get('customer_id')}）" + ("：" + "，".join(det) if det else "") if zh else
                     f"{c.get('name')} ({c.get('customer_id')})" + (": " + ", ".join(det) if det else ""))
    if zh:
        head = (f"没有找到「{span}」，您是指下面哪一位？" if fuzzy else
                f"有 {len(candidates)} 位客户叫「{span}」，请问是哪一位？") if span else "请问是哪一位客户？"
        return head + "\n" + _bullets(lines) + "\n回复「第一个」、城市或客户编号即可。"
    head = (f"I found no customer called \"{span}\"; did you mean one of these?" if fuzzy else
            f"{len(candidates)} customers are called \"{span}\" — which one do you mean?") if span else "Which customer do you mean?"
    return head + "\n" + _bullets(lines) + "\nReply \"the first one\", a city or the customer id."


def missing_text(kind: str, tool: str, language: str) -> str:
    zh = language == "zh"
    if kind == "missing_item":
        return "请告诉我是哪个商品或品类，例如「绿茶」。" if zh else "Which product or category? For example \"green tea\"."
    if kind == "missing_segment":
        return ("请告诉我是哪个分群，例如「冠军客户」「重要价值客户」「高价值客户」。" if zh else
                "Which segment? For example Champions, At Risk, 重要价值客户 or high-value customers.")
    return ("请告诉我是哪位客户（客户编号如 C01023，或姓名）。" if zh else
            "Which customer? Give a customer id such as C01023 or a name.")


def error_text(tool: str, message: str, language: str) -> str:
    return (f"没能回答：{message}" if language == "zh" else f"I couldn't answer that: {message}")


def denied_text(tool: str, role: str, language: str) -> str:
    msg = f"role '{role}' may not use tool '{tool}'"
    return (f"抱歉，您的角色（{role}）无权查看这类信息（{msg}）。" if language == "zh" else
            f"Sorry, your role cannot see this ({msg}).")


# --------------------------------------------------------------------------- number check
_NUM_RE = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?%?")


def numbers_in(text: str) -> list[str]:
    """Numbers written in ``text`` (with their % sign when present)."""
    return [m.group(0) for m in _NUM_RE.finditer(text or "")]


def _flatten_numbers(obj, out: set[float]) -> None:
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        if not (isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj))):
            out.add(float(obj))
        return
    if isinstance(obj, str):
        for n in _NUM_RE.findall(obj):
            try:
                v = float(n.rstrip("%").replace(",", ""))
            except ValueError:
                continue
            out.add(v)
            if n.endswith("%"):
                out.add(v / 100)  # "churn rate 68.3%" in a provenance line supports "68.3%"
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k != "chart":
                _flatten_numbers(v, out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _flatten_numbers(v, out)


def unsupported_numbers(text: str, results: list, extra: tuple = ()) -> list[str]:
    """Numbers in ``text`` that match no number in ``results`` (after rounding / as a percentage).

    Small integers ≤ 10 (list positions, "3 reasons") and years are allowed; a number matches a
    result value when it equals it rounded to the number's own decimals, directly or ×100 (%).
    """
    known: set[float] = set(float(x) for x in extra)
    for r in results:
        _flatten_numbers(r, known)
    bad = []
    for tok in numbers_in(text):
        pct = tok.endswith("%")
        s = tok.rstrip("%").replace(",", "")
        try:
            v = float(s)
        except ValueError:
            continue
        if not pct and float(v).is_integer() and (abs(v) <= 10 or 1990 <= v <= 2100):
            continue
        nd = len(s.split(".")[1]) if "." in s else 0
        tol = 0.51 * 10 ** (-nd)  # rounding of an already rounded value (61.75 → 61.8)
        ok = False
        for k in known:
            cands = (k * 100,) if pct else (k, k * 100)
            if any(abs(c - v) <= tol for c in cands):
                ok = True
                break
        if not ok:
            bad.append(tok)
    return bad
