"""Tools about one customer: the card, RFM, cluster, churn risk and lifetime value.

Per-customer results are read from the precomputed artefacts (`tools.precompute`): a lookup is an
index access, not a recomputation. Each tool is a plain typed function plus its `ToolSpec`.
"""
from __future__ import annotations


from knowledge.errors import GuanxiError
from tools.context import (ToolContext, ToolError, artefact_by_id, as_list, context, customers_by_id,
                           meta_provenance, resolve_customer_id, rfm_by_id, rounded, row_dict, row_position, top_n)
from tools.formatting import (BANDS_ZH, bullets, fmt_int, fmt_money, fmt_num, fmt_pct, pick, short, who)
from tools.orders_index import customer_feedback, customer_orders, order_lines_count
from tools.results import fmt_date, plain, provenance, to_jsonable
from tools.spec import EVERY_ROLE, Cue, Serve, ToolSpec, register

__all__ = ["customer_profile", "rfm_lookup", "cluster_lookup", "churn_risk", "clv_estimate"]


def _one_customer(f) -> bool:
    return f.has_customer


# =========================================================================== customer_profile
def customer_profile(customer_id: str, *, ctx: ToolContext | None = None) -> dict:
    """One customer's card: contact (masked), RFM segment, cluster, churn probability with
    reasons, CLV, recent orders, favourite categories, open complaints and recommended products.

    Args:
        customer_id: the customer's id, e.g. C01023
    """
    from tools.basket_tools import recommend_products
    from tools.profile import customer_card
    ctx = context(ctx)
    ws = ctx.ws
    cid = resolve_customer_id(ws, customer_id)
    artefacts = {"rfm": rfm_by_id(ws)}
    for name, label in (("clusters", "cluster"), ("churn", "churn"), ("clv", "clv")):
        artefacts[label] = artefact_by_id(ws, name, label) if ws.artefact(name) is not None else None
    at = None if artefacts["churn"] is None else row_position(artefacts["churn"], cid)
    if at is not None:   # reasons left for when shown
        from tools.churn_reasons import fill_reasons
        artefacts["churn"] = fill_reasons(ws, artefacts["churn"].iloc[[at]])
    try:
        recs = [{"product": r["product"], "source": r["source"]}
                for r in recommend_products(cid, top=3, ctx=ctx).get("products", [])]
    except GuanxiError:
        recs = []
    from tools.service_tools import service_record
    record = service_record(ctx, cid)   # the event log: complaint follow-through, notes, contacts
    card = customer_card(cid, customers_by_id(ws), customer_orders(ws, cid), customer_feedback(ws, cid), ws.as_of(),
                         artefacts,
                         recommendations=recs, unmask=ctx.unmasked, status_of=record.pop("status_of"))
    card.update(record)
    return card


def _render_profile(r: dict, zh: bool, focus: dict) -> str:
    person = who(r, zh)
    seg = pick(r, "rfm.segment", "segment")
    seg_zh = pick(r, "rfm.segment_zh", "segment_zh")
    cn8 = pick(r, "rfm.segment_cn8", "segment_cn8")
    rec = pick(r, "rfm.recency_days", "recency_days")
    freq = pick(r, "rfm.frequency", "frequency", "orders_count")
    mon = pick(r, "rfm.monetary", "monetary", "total_spent")
    prob = pick(r, "churn.churn_probability", "churn_probability")
    band = pick(r, "churn.risk_band", "risk_band")
    clv = pick(r, "clv.clv_12m", "clv_12m")
    cl = pick(r, "cluster.cluster_name_zh" if zh else "cluster.cluster_name_en", "cluster_name_zh" if zh else "cluster_name_en",
              "cluster.cluster")
    favs = pick(r, "favourite_categories", "favorite_categories", "top_categories", default=[])
    favs = [f if isinstance(f, str) else str(pick(f, "category", "name", default=f)) for f in favs][:3]
    last = pick(r, "last_order", "last_order_date")
    open_c = pick(r, "open_complaints", default=[])
    n_open = r.get("open_count", len(open_c) if isinstance(open_c, list) else open_c)
    n_all = r.get("complaints") if isinstance(r.get("complaints"), int) and not isinstance(r.get("complaints"), bool) else None
    phone, email = r.get("phone") or pick(r, "contact.phone"), r.get("email") or pick(r, "contact.email")
    place = " ".join(x for x in (r.get("province"), r.get("city")) if x)
    if zh:
        parts = [f"客户 {person}" + (f"，{place}" if place else "") + (f"，电话 {phone}" if phone else "")
                 + (f"，邮箱 {email}" if email else "") + "。"]
        if seg:
            parts.append(f"RFM 分群：{seg_zh or seg}（{seg}）" + (f"，八大类：{cn8}" if cn8 else "") + "。")
        if rec is not None or freq is not None:
            parts.append(f"最近一次购买在 {fmt_int(rec)} 天前，共 {fmt_int(freq)} 单，累计消费 {fmt_money(mon)}。")
        if prob is not None:
            parts.append(f"流失概率 {fmt_pct(prob)}" + (f"（{BANDS_ZH.get(str(band), band)}）" if band else "") + "。")
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
                         + (f"，最近一条：「{short(open_c[-1].get('text'), 40)}」" if isinstance(open_c, list) and open_c
                            and isinstance(open_c[-1], dict) and open_c[-1].get("text") else "") + "。")
        extra = _profile_extra(r, True)
        return "".join(parts) + ("\n" + extra if extra else "")
    parts = [f"Customer {person}" + (f", {place}" if place else "") + (f", phone {phone}" if phone else "")
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
                     + (f", latest: \"{short(open_c[-1].get('text'), 60)}\"" if isinstance(open_c, list) and open_c
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
    from tools.service_tools import service_lines
    return "\n".join(out + service_lines(r, zh))


register(ToolSpec(
    customer_profile, order=0, roles=EVERY_ROLE, family="profile", customer="required",
    exemplars=(
        '该客户的画像', '给我看看该客户的客户画像', '该客户是什么情况', '查一下该客户的资料', '该客户的基本信息', '介绍一下该客户', '该客户的档案', '调出该客户的客户卡片',
        '该客户是谁', '该客户最近买了什么', '该客户的详细情况', '帮我查该客户', '该客户这个人怎么样', '该客户的消费记录和联系方式',
        "show me the customer's profile", 'tell me about the customer', 'who is the customer',
        'customer card for the customer', 'look up the customer', 'give me an overview of the customer',
        'what do we know about the customer', "pull up the customer's details",
        "the customer's profile please", 'summary of the customer', 'customer 360 for the customer',
        'what did the customer buy recently', 'the customer', 'info on the customer', '该客户的手机号', '该客户平时喜欢买什么',
        '该客户的会员等级', '该客户投诉过什么', '该客户生日是哪天', "what's the story with the customer",
        'give me a quick summary of the customer', "the customer's phone number",
    ),
    cues=(
        Cue(r"画像|档案|资料|基本信息|详细信息|客户卡|卡片|是谁|怎么样的人|什么样的(客户|人)|什么情况|情况如何|介绍一下|了解一下|查一下|"
            r"手机号|电话|联系方式|邮箱|哪里人|住在|几岁|多大了|会员等级|买过(什么|哪些)|最近买了|(平时|一般|经常|常|爱|喜欢)买(什么|哪些)|"
            r"偏好|phone( number)?|e-?mail address|contact (details|info)|how old|what (did|has) .{1,30} (buy|bought|order)|"
            r"favou?rite (categor|product)|usually buys?|tends? to buy|"
            r"profile|tell me about|who is|overview|\b360\b|details (of|on|for|about)|look up|look-up|info (on|about)|"
            r"background|summary of|know about", 0.2),
    ),
    render=_render_profile, help_zh="客户画像", help_en="customer profiles",
    example_zh="C01023 是什么样的客户?", example_en="Tell me about C01023"))


# =========================================================================== rfm_lookup
def rfm_lookup(customer_id: str, *, ctx: ToolContext | None = None) -> dict:
    """A customer's RFM: recency in days, frequency (orders), monetary (total spent), the 1-5
    scores, the named segment (English and Chinese), the eight-class segment and the tier.

    Args:
        customer_id: the customer's id, e.g. C01023
    """
    ctx = context(ctx)
    ws = ctx.ws
    cid = resolve_customer_id(ws, customer_id)
    rfm = rfm_by_id(ws)
    row = row_dict(rfm, cid)
    if row is None:
        raise ToolError(f"customer {cid} has no order before {fmt_date(ws.as_of())}, so no RFM score")
    out = {"customer_id": cid, "name": plain(customers_by_id(ws).loc[cid].get("name"))}
    for k in ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_code",
              "segment", "segment_zh", "segment_cn8", "segment_cn8_en", "tier", "tier_en"):
        if k in row:
            out[k] = row[k]
    if isinstance(out.get("monetary"), float):
        out["monetary"] = round(out["monetary"], 2)
    mine = rfm["monetary"].iloc[row_position(rfm, cid)]
    out["percentile_monetary"] = round(float((rfm["monetary"] <= mine).mean()), 4)
    out["as_of"] = fmt_date(ws.as_of())
    out["provenance"] = meta_provenance(ws, "rfm", provenance("rfm_table", {"orders": order_lines_count(ws)},
                                                         as_of=ws.as_of())) + f" · customer {cid}"
    return out


def _render_rfm(r: dict, zh: bool, focus: dict) -> str:
    person = who(r, zh)
    if zh:
        return (f"{person} 的 RFM 分群是「{r.get('segment_zh') or r.get('segment')}」（{r.get('segment')}），"
                f"R/F/M 分数 {r.get('r_score')}/{r.get('f_score')}/{r.get('m_score')}；八大类为「{r.get('segment_cn8')}」，"
                f"层级为「{r.get('tier')}」。最近一次购买在 {fmt_int(r.get('recency_days'))} 天前，"
                f"共 {fmt_int(r.get('frequency'))} 单，累计消费 {fmt_money(r.get('monetary'))}（截至 {r.get('as_of')}）。")
    return (f"{person} is in the RFM segment \"{r.get('segment')}\" ({r.get('segment_zh')}), scores "
            f"R/F/M {r.get('r_score')}/{r.get('f_score')}/{r.get('m_score')}; eight-class: {r.get('segment_cn8')}"
            f" ({r.get('segment_cn8_en') or ''}); tier: {r.get('tier')} ({r.get('tier_en') or ''}). Last purchase "
            f"{fmt_int(r.get('recency_days'))} days ago, {fmt_int(r.get('frequency'))} orders, "
            f"{fmt_money(r.get('monetary'))} spent in total (as of {r.get('as_of')}).")


register(ToolSpec(
    rfm_lookup, order=1, roles=EVERY_ROLE, family="rfm", customer="required",
    serves=(Serve("rfm", _one_customer, 10), Serve("segment", _one_customer, 10)),
    exemplars=(
        '该客户的RFM是多少', '该客户属于哪个分群', '该客户是什么类型的客户', '该客户的RFM分数', '该客户是哪类客户', '该客户的RFM分层', '该客户在RFM模型里是什么段',
        '该客户最近一次购买是多少天前', '该客户的消费频次和金额', '该客户算重要价值客户吗', '该客户的客户分级', '该客户一共消费了多少钱', '该客户下了几单',
        "what is the customer's RFM segment", 'which segment is the customer in', 'RFM score of the customer',
        'what segment does the customer belong to', "the customer's recency frequency monetary",
        'how recently did the customer buy', 'how much has the customer spent in total',
        'is the customer a champion', 'RFM for the customer', 'what tier is the customer',
        'how many orders has the customer placed', '该客户上次买东西是什么时候', '该客户一共花了多少钱',
        'is the customer a big spender',
    ),
    cues=(
        Cue(r"\brfm\b|recency|最近一次(购买|消费|下单)|消费频次|消费频率|消费金额|购买频次|几天没(买|来)|多久没(买|来)|"
            r"多少天(没|前)|spent in total|total spend|how much has .{1,40} spent|how (often|frequently) does", 0.2),
    ),
    render=_render_rfm, help_zh="RFM 分群", help_en="RFM segments",
    example_zh="C01023 的 RFM 分群是什么?", example_en="What is C01023's RFM segment?"))


# =========================================================================== cluster_lookup
def cluster_lookup(customer_id: str | None = None, *, ctx: ToolContext | None = None) -> dict:
    """A customer's k-means cluster with the cluster's profile; without a customer, all cluster profiles.

    Args:
        customer_id: the customer's id, e.g. C01023 (omit for the list of clusters)
    """
    ctx = context(ctx)
    ws = ctx.ws
    prof = ws.artefact("cluster_profiles")
    profiles = to_jsonable(prof) if prof is not None else []
    prov = meta_provenance(ws, "clusters", "tools.segments.cluster_customers")
    if not customer_id:
        from tools.charts import bar_chart_json
        if prof is None:
            raise ToolError("the workspace has no clusters yet (artefact 'clusters')")
        fig = bar_chart_json(prof.assign(label=prof.get("name_zh", prof["cluster"]).astype(str)), "label", "size",
                             "客户聚类", "Customer clusters", y_title="客户数 customers")
        return {"customer_id": None, "clusters": profiles, "count": len(profiles), "chart": fig,
                "as_of": fmt_date(ws.as_of()), "provenance": prov}
    cid = resolve_customer_id(ws, customer_id)
    row = row_dict(artefact_by_id(ws, "clusters", "clusters"), cid)
    if row is None:
        raise ToolError(f"customer {cid} is not in any cluster (no orders before {fmt_date(ws.as_of())})")
    mine = next((p for p in profiles if str(p.get("cluster")) == str(row.get("cluster"))), None)
    return {"customer_id": cid, "name": plain(customers_by_id(ws).loc[cid].get("name")),
            "cluster": row.get("cluster"), "cluster_name_en": row.get("cluster_name_en"),
            "cluster_name_zh": row.get("cluster_name_zh"), "profile": mine, "as_of": fmt_date(ws.as_of()),
            "provenance": prov + f" · customer {cid}"}


def _render_cluster(r: dict, zh: bool, focus: dict) -> str:
    if r.get("customer_id"):
        p = r.get("profile") or {}
        name = r.get("cluster_name_zh") if zh else r.get("cluster_name_en")
        size = p.get("size")
        if zh:
            return (f"{who(r, zh)} 属于聚类 {r.get('cluster')}「{name or r.get('cluster_name_en')}」"
                    + (f"，该聚类共 {fmt_int(size)} 位客户（{fmt_pct(p.get('share'))}）" if size is not None else "") + "。")
        return (f"{who(r, zh)} is in cluster {r.get('cluster')} \"{name or r.get('cluster_name_zh')}\""
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
        return f"客户共分为 {fmt_int(len(rows))} 个聚类：\n" + bullets(lines)
    return f"Customers fall into {fmt_int(len(rows))} clusters:\n" + bullets(lines)


register(ToolSpec(
    cluster_lookup, order=4, roles=EVERY_ROLE, family="cluster", customer="optional",
    serves=(Serve("cluster", None, 90),),
    exemplars=(
        '该客户属于哪个聚类', '该客户在哪个簇', '该客户的聚类结果', '聚类分析的结果', '客户聚成了几类', '有哪些客户群聚类', '聚类画像', '每个聚类的特征是什么',
        'k-means分出了哪些群', 'which cluster is the customer in', "the customer's cluster",
        'what cluster does the customer belong to', 'show the customer clusters', 'what clusters do we have',
        'describe the clusters', 'cluster profiles', 'how were customers clustered', '客户聚成了几类，每类什么特点',
    ),
    cues=(
        Cue(r"聚类|簇|cluster|k-?means|客群画像|聚成|聚为", 0.3),
    ),
    render=_render_cluster, help_zh="聚类", help_en="clusters",
    example_zh="客户可以聚成哪几类?", example_en="Which customer clusters do we have?"))


# =========================================================================== churn_risk
def churn_risk(customer_id: str, *, ctx: ToolContext | None = None) -> dict:
    """One customer's churn probability (chance of buying nothing in the churn horizon and so falling
    silent beyond their own buying pace), risk band and the top reasons in words.

    Args:
        customer_id: the customer's id, e.g. C01023
    """
    ctx = context(ctx)
    ws = ctx.ws
    cid = resolve_customer_id(ws, customer_id)
    row = row_dict(artefact_by_id(ws, "churn", "churn scores"), cid)
    if row is None:
        raise ToolError(f"customer {cid} has no churn score (no orders before {fmt_date(ws.as_of())})")
    rfm = row_dict(rfm_by_id(ws), cid) or {}
    card = ws.artefact("churn_card") or {}
    return {"customer_id": cid, "name": plain(customers_by_id(ws).loc[cid].get("name")),
            "churn_probability": round(float(row["churn_probability"]), 6),
            "risk_band": row.get("risk_band"), "reasons_en": as_list(row.get("reasons_en")),
            "reasons_zh": as_list(row.get("reasons_zh")), "recency_days": rfm.get("recency_days"),
            "segment": rfm.get("segment"), "segment_zh": rfm.get("segment_zh"),
            "horizon_days": card.get("horizon_days", card.get("horizon", ctx.settings.churn_horizon_days)),
            "model": {k: card.get(k) for k in ("model", "roc_auc", "pr_auc", "brier", "label", "score_meaning")
                      if k in card},
            "as_of": fmt_date(ws.as_of()),
            "provenance": meta_provenance(ws, "churn", "tools.churn.churn_scores") + f" · customer {cid}"}


def _render_churn(r: dict, zh: bool, focus: dict) -> str:
    band = r.get("risk_band")
    reasons = r.get("reasons_zh" if zh else "reasons_en") or r.get("reasons_en") or []
    own = (r.get("model") or {}).get("label") == "own_cycle"   # churn against the customer's own pace
    if zh:
        txt = (f"{who(r, zh)} 的流失概率为 {fmt_pct(r.get('churn_probability'))}"
               + (f"（{BANDS_ZH.get(str(band), band)}）" if band else "")
               + (f"，未来 {fmt_int(r.get('horizon_days'))} 天内不再购买" + ("、沉默超出其自身购买节奏" if own else "")
                  + "的可能性" if r.get("horizon_days") else "") + "。")
        if r.get("recency_days") is not None:
            txt += f"最近一次购买在 {fmt_int(r.get('recency_days'))} 天前。"
        if reasons:
            txt += "主要原因：" + "；".join(map(str, reasons[:3])) + "。"
        return txt
    txt = (f"{who(r, zh)} has a churn probability of {fmt_pct(r.get('churn_probability'))}"
           + (f" ({band} risk)" if band else "")
           + (f": the chance of no purchase in the next {fmt_int(r.get('horizon_days'))} days"
              + (", falling silent beyond their own buying pace" if own else "") if r.get("horizon_days") else "") + ".")
    if r.get("recency_days") is not None:
        txt += f" Last purchase {fmt_int(r.get('recency_days'))} days ago."
    if reasons:
        txt += " Main reasons: " + "; ".join(map(str, reasons[:3])) + "."
    return txt


register(ToolSpec(
    churn_risk, order=5, roles=EVERY_ROLE, family="churn", customer="required",
    serves=(Serve("churn", _one_customer, 10),),
    exemplars=(
        '该客户的流失概率', '该客户会流失吗', '该客户流失风险大吗', '该客户的流失风险', '该客户还会回来买吗', '该客户有没有流失的可能', '该客户为什么流失风险高', '该客户的流失分数',
        "what is the customer's churn probability", 'is the customer likely to churn',
        'churn risk of the customer', 'will the customer churn', 'how likely is the customer to leave',
        'why is the customer at risk', "the customer's churn score", 'is the customer going to stop buying',
        '该客户会跑吗', '该客户最近还来买吗', 'will the customer buy again', 'should I worry about losing the customer',
    ),
    render=_render_churn, help_zh="单个客户的流失风险", help_en="one customer's churn risk",
    example_zh="C01023 会流失吗?", example_en="Will C01023 churn?"))


# =========================================================================== clv_estimate
def clv_estimate(customer_id: str | None = None, top: int = 10, *, ctx: ToolContext | None = None) -> dict:
    """Customer lifetime value (BG/NBD + Gamma-Gamma): for one customer the 12-month CLV, P(alive),
    expected purchases in 90 days and expected order value; without a customer, the total and the
    customers with the highest CLV.

    Args:
        customer_id: the customer's id, e.g. C01023 (omit for the top customers by CLV)
        top: how many customers to list when no customer is given (default 10)
    """
    ctx = context(ctx)
    ws = ctx.ws
    clv = artefact_by_id(ws, "clv", "CLV estimates")
    prov = meta_provenance(ws, "clv", "tools.clv.clv_table")
    clv_col = "clv_12m" if "clv_12m" in clv else next((c for c in clv.columns if c.startswith("clv_")), None)
    if customer_id:
        cid = resolve_customer_id(ws, customer_id)
        row = row_dict(clv, cid)
        if row is None:
            raise ToolError(f"customer {cid} has no CLV estimate (no orders before {fmt_date(ws.as_of())})")
        rank = int((clv[clv_col] > clv[clv_col].iloc[row_position(clv, cid)]).sum()) + 1
        return {"customer_id": cid, "name": plain(customers_by_id(ws).loc[cid].get("name")),
                "clv_12m": rounded(row.get(clv_col), 2), "p_alive": rounded(row.get("p_alive"), 4),
                "expected_purchases_90d": rounded(row.get("expected_purchases_90d"), 3),
                "expected_avg_value": rounded(row.get("expected_avg_value"), 2),
                "frequency": row.get("frequency"), "monetary_value": rounded(row.get("monetary_value"), 2),
                "rank": rank, "customers": int(len(clv)), "as_of": fmt_date(ws.as_of()),
                "provenance": prov + f" · customer {cid}"}
    top = top_n(top, 10)
    ordered = clv.reset_index(drop=True).sort_values([clv_col, "customer_id"], ascending=[False, True], kind="stable")
    ordered.index = ordered["customer_id"].to_numpy()
    rows = []
    for cid, r in ordered.head(top).iterrows():
        rows.append({"customer_id": cid, "name": plain(customers_by_id(ws).loc[cid].get("name")) if cid in customers_by_id(ws).index
                     else None, "clv_12m": rounded(r[clv_col], 2), "p_alive": rounded(r.get("p_alive"), 4)})
    return {"customer_id": None, "total_clv_12m": rounded(clv[clv_col].sum(), 2), "mean_clv_12m": rounded(clv[clv_col].mean(), 2),
            "customers": int(len(clv)), "top": rows, "as_of": fmt_date(ws.as_of()), "provenance": prov}


def _render_clv(r: dict, zh: bool, focus: dict) -> str:
    if r.get("customer_id"):
        if zh:
            return (f"{who(r, zh)} 未来 12 个月的 CLV 预计为 {fmt_money(r.get('clv_12m'))}；"
                    f"仍活跃的概率 P(alive) 为 {fmt_pct(r.get('p_alive'))}，未来 90 天预计购买 "
                    f"{fmt_num(r.get('expected_purchases_90d'), 2)} 次，预计平均每次消费 {fmt_money(r.get('expected_avg_value'))}"
                    f"（在 {fmt_int(r.get('customers'))} 位客户中排第 {fmt_int(r.get('rank'))}）。")
        return (f"{who(r, zh)} has an expected 12-month CLV of {fmt_money(r.get('clv_12m'))}; P(alive) "
                f"{fmt_pct(r.get('p_alive'))}, {fmt_num(r.get('expected_purchases_90d'), 2)} expected purchases in the "
                f"next 90 days, expected spend per purchase {fmt_money(r.get('expected_avg_value'))} "
                f"(rank {fmt_int(r.get('rank'))} of {fmt_int(r.get('customers'))} customers).")
    rows = r.get("top") or []
    lines = [(f"{who(c, zh)}：CLV {fmt_money(c.get('clv_12m'))}，P(alive) {fmt_pct(c.get('p_alive'))}" if zh else
              f"{who(c, zh)}: CLV {fmt_money(c.get('clv_12m'))}, P(alive) {fmt_pct(c.get('p_alive'))}") for c in rows]
    if zh:
        return (f"{fmt_int(r.get('customers'))} 位客户未来 12 个月 CLV 合计 {fmt_money(r.get('total_clv_12m'))}，"
                f"平均 {fmt_money(r.get('mean_clv_12m'))}。CLV 最高的 {fmt_int(len(rows))} 位：\n" + bullets(lines))
    return (f"The expected 12-month CLV of {fmt_int(r.get('customers'))} customers totals {fmt_money(r.get('total_clv_12m'))} "
            f"(mean {fmt_money(r.get('mean_clv_12m'))}). The {fmt_int(len(rows))} highest:\n" + bullets(lines))


register(ToolSpec(
    clv_estimate, order=7, roles=EVERY_ROLE, family="clv", customer="optional",
    args=lambda f: f.top(),
    exemplars=(
        '该客户的CLV', '该客户的终身价值', '该客户的客户生命周期价值是多少', '该客户未来一年能贡献多少', '该客户值多少钱', '该客户的预期价值', 'CLV最高的客户',
        '终身价值最高的客户有哪些', '客户生命周期价值排名', '该客户还活跃的概率', '预计该客户未来90天会买几次', "what is the customer's CLV",
        'lifetime value of the customer', 'how much is the customer worth',
        'customer lifetime value for the customer', 'expected value of the customer next year',
        'who has the highest CLV', 'top customers by lifetime value',
        'what is the total customer lifetime value', 'probability the customer is still alive',
        'expected purchases of the customer',
    ),
    cues=(
        Cue(r"\bclv\b|\bltv\b|终身价值|生命周期价值|生命价值|客户价值预测|未来价值|预期价值|值多少钱|lifetime value|"
            r"customer value|worth|p\(alive\)|p_alive|还活跃的概率|存活概率|expected (purchases|value|spend)|未来.{0,6}(消费|贡献|买几次)", 0.25),
    ),
    render=_render_clv, help_zh="客户终身价值 CLV", help_en="customer lifetime value",
    example_zh="CLV 最高的客户是谁?", example_en="Who has the highest CLV?"))
