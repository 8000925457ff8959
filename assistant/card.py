"""The customer card: a customer_profile result (and recommend_products) as Markdown for the app's
card panel, in zh or en. Customer text (names, complaints, products) is escaped so it cannot add markup
(`tools.formatting.md_text`, the one escaping the answers use too);
the facts table is HTML with escaped cells. Contacts are shown as the tool returned them (masked
for every role but admin)."""
from __future__ import annotations

import html
import re

from tools.formatting import OCCASION_EN, OCCASION_ZH, fmt_money, md_code, md_text, number  # md_text: the one escaping of data text

__all__ = ["CARD_EMPTY", "md_text", "render_card"]

CARD_EMPTY = ("对话中提到某位客户时，这里会显示他的客户卡片；也可以直接输入客户编号。",
              "The card of the customer in the conversation shows here; or type a customer id.")
RISK_ZH = {"high": "高", "medium": "中", "low": "低"}
SOURCE_ZH = {"rule": "关联规则", "best seller in a favourite category": "偏好品类的畅销品"}


def _money(v) -> str:
    return "" if number(v) is None else "¥" + fmt_money(v)


def _h(s) -> str:
    """Text for an HTML cell of the card."""
    return html.escape(str(s if s is not None else ""))


def _reasons(v) -> list[str]:
    if not v:
        return []
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v if str(x).strip()]
    return [p.strip() for p in re.split(r"[;；\n]", str(v)) if p.strip()]


def _service_lines(p: dict, zh: bool) -> list[str]:
    """The event log's part of the card: complaints followed through (the status that counts and the
    file's), notes, the contact history."""
    out: list[str] = []
    open_ids = {str(c.get("feedback_id")) for c in p.get("open_complaints") or []}
    done = [c for c in p.get("followed_complaints") or [] if str(c.get("feedback_id")) not in open_ids]
    if done:
        out += ["", "**投诉跟进**" if zh else "**Complaint follow-through**"]
        for c in done:
            res = c.get("resolution")
            out.append(f"- `{md_code(c.get('feedback_id', ''))}` {md_text(c.get('status_label_zh' if zh else 'status_label_en') or '')}"
                       + (f" · {'处理' if zh else 'resolution'}：{md_text(str(res)[:80])}" if res else ""))
    notes = p.get("notes") or []
    if notes:
        out += ["", "**备注**" if zh else "**Notes**"]
        out += [f"- {md_text(str(n.get('at', ''))[:10])} {md_text(n.get('actor', ''))}：{md_text(n.get('text', ''))}" for n in notes]
    total = p.get("contacts_total")
    if total:
        out += ["", (f"**联系记录**：{total} 次" if zh else f"**Contact history**: {total}")]
        for c in p.get("contacts") or []:
            out.append(f"- {md_text(c.get('sent_at', ''))} · {md_text(c.get('channel') or '')} · {md_text((OCCASION_ZH if zh else OCCASION_EN).get(c.get('occasion'), c.get('occasion') or ''))}"
                       + (f" · {md_text(c.get('campaign_id'))}" if c.get("campaign_id") else "") + f" · {md_text(c.get('actor', ''))}")
    elif "contacts_total" in p:
        out += ["", "**联系记录**：无" if zh else "**Contact history**: none on record"]
    return out


def render_card(profile: dict | None, lang: str, recs: dict | None = None) -> str:
    """A customer's card as Markdown, from the customer_profile tool result (and recommend_products)."""
    if not profile:
        return CARD_EMPTY[1] if lang == "en" else CARD_EMPTY[0]
    if profile.get("error"):
        return f"⚠ {md_text(profile['error'])}"
    zh = lang != "en"
    p = profile
    lines = [f"#### {md_text(p.get('name') or '')} · `{md_code(p.get('customer_id', ''))}`"]
    place = " ".join(x for x in (p.get("province"), p.get("city")) if x)
    bits = [place, p.get("level"), p.get("channel"),
            (f"{p['age']} 岁" if zh else f"age {p['age']}") if p.get("age") is not None else None]
    lines.append(" · ".join(md_text(b) for b in bits if b))
    contact = " · ".join(x for x in ((f"手机 {md_text(p['phone'])}" if zh else f"phone {md_text(p['phone'])}") if p.get("phone") else "",
                                     (f"邮箱 {md_text(p['email'])}" if zh else f"e-mail {md_text(p['email'])}")
                                     if p.get("email") else "") if x)
    if contact:
        lines += ["", contact]
    rows: list[tuple[str, str]] = []
    rfm = p.get("rfm") or {}
    if rfm:
        seg = rfm.get("segment_zh") if zh else rfm.get("segment")
        cn8 = rfm.get("segment_cn8")
        rows.append(("RFM", f"R{rfm.get('r_score')} F{rfm.get('f_score')} M{rfm.get('m_score')} · <b>{_h(seg or '')}</b>"
                     + (f"（{_h(cn8)}）" if cn8 and zh else f" ({_h(cn8)})" if cn8 else "")))
        if rfm.get("recency_days") is not None:
            rows.append(("最近购买" if zh else "Last purchase",
                         f"{rfm['recency_days']} 天前" if zh else f"{rfm['recency_days']} days ago"))
    cl = p.get("cluster") or {}
    if cl:
        rows.append(("聚类" if zh else "Cluster", _h(cl.get("cluster_name_zh") if zh else cl.get("cluster_name_en"))))
    ch = p.get("churn") or {}
    if ch.get("churn_probability") is not None:
        band = ch.get("risk_band") or ""
        band = RISK_ZH.get(band, band) + "风险" if zh and band else band + " risk" if band else ""
        rows.append(("流失概率" if zh else "Churn probability", f"<b>{float(ch['churn_probability']):.0%}</b> {_h(band)}"))
    clv = p.get("clv") or {}
    if clv.get("clv_12m") is not None:
        rows.append(("未来12个月 CLV" if zh else "12-month CLV", _money(clv["clv_12m"])))
    if p.get("orders_count") is not None:
        rows.append(("订单 / 消费" if zh else "Orders / spend",
                     f"{p['orders_count']} 单 · {_money(p.get('total_spent'))}" if zh
                     else f"{p['orders_count']} · {_money(p.get('total_spent'))}"))
    if rows:
        lines += ["", "<table class='gx-facts'>"] + [f"<tr><td>{_h(k)}</td><td>{v}</td></tr>" for k, v in rows] \
            + ["</table>"]
    reasons = _reasons(ch.get("reasons_zh" if zh else "reasons_en"))
    if reasons:
        lines += ["", "**流失原因**" if zh else "**Why at risk**"] + [f"- {md_text(r)}" for r in reasons[:3]]
    cats = p.get("favourite_categories") or []
    if cats:
        lines += ["", ("**偏好品类**：" if zh else "**Favourite categories**: ")
                  + "、".join(md_text(c.get("category", c) if isinstance(c, dict) else c) for c in cats)]
    orders = p.get("recent_orders") or p.get("last_orders") or []
    if orders:
        lines += ["", "**最近订单**" if zh else "**Last orders**"]
        for o in orders[:3]:
            lines.append(f"- {str(o.get('date') or o.get('order_date') or '')[:10]} · "
                         f"{md_text(o.get('items') or o.get('product_name') or '')} · {_money(o.get('amount'))}")
    complaints = p.get("open_complaints") or []
    n_open = p.get("open_count", len(complaints))
    lines += ["", (f"**未解决投诉**：{n_open} 条" if zh else f"**Open complaints**: {n_open}")
              + (f"（累计投诉 {p['complaints']} 条）" if zh and p.get("complaints") else
                 f" ({p['complaints']} in all)" if p.get("complaints") else "")]
    for fb in complaints[:3]:
        label = fb.get("status_label_zh" if zh else "status_label_en")
        lines.append(f"- {str(fb.get('date') or fb.get('created_at') or '')[:10]} `{md_code(fb.get('feedback_id', ''))}` "
                     f"{md_text(str(fb.get('text', ''))[:60])}" + (f" · {md_text(label)}" if label else ""))
    lines += _service_lines(p, zh)
    products = p.get("recommended_products") or (recs or {}).get("products") or []
    if products:
        lines += ["", "**推荐商品**" if zh else "**Recommended products**"]
        for r in products[:5]:
            r = r if isinstance(r, dict) else {"product": r}
            why = "、".join(map(str, r.get("because_bought") or []))
            src = r.get("source") or ""
            if why:
                note = f"（因为买过 {why}）" if zh else f" (bought {why})"
            elif src:
                note = f"（{SOURCE_ZH.get(src, src)}）" if zh else f" ({src})"
            else:
                note = ""
            price = f" {_money(r['price'])}" if r.get("price") is not None else ""
            lines.append(f"- {md_text(r.get('product') or r.get('item') or '')}{price} {md_text(note)}".rstrip())
    prov = p.get("provenance")
    if prov:
        lines += ["", f"<sub>{'来源' if zh else 'Source'}: {md_text(prov)}</sub>"]
    return "\n".join(lines)
