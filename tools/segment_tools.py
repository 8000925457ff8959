"""Tools about groups of customers: the segment distribution, a segment's members, the at-risk list.

Segments are the 11 RFM segments, the eight classes (重要价值客户 …), the three tiers and the
k-means clusters, all precomputed at build time (artefacts rfm, clusters, churn).
"""
from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pandas as pd

from tools.context import (ToolContext, ToolError, artefact_by_id, as_list, cached, context, customer_basic,
                           customers_by_id, match_place, meta_provenance, resolve_cluster, resolve_segment, rfm_by_id,
                           top_n)
from tools.customer_filter import CustomerConditions, bought_inherit, conditions_documented, keep_in_workspace, who_args
from tools.formatting import bullets, fmt_int, fmt_money, fmt_pct, place, who
from tools.results import fmt_date, plain, to_jsonable
from tools.spec import MANAGERS, Cue, Serve, ToolSpec, register

__all__ = ["segment_summary", "segment_members", "at_risk_customers", "ALL_CUSTOMERS", "TOP_SPENDERS"]

ALL_CUSTOMERS = "all"  # segment_members' name for everyone
# "消费最多的前10个客户" / "top spenders": the biggest spenders (segment_members over everyone)
TOP_SPENDERS = re.compile(
    r"(消费|花钱|花费|购买金额|消费金额|累计消费|买得|买的)(金额)?.{0,4}(最多|最高|最大|排名|排行|前\s*\d+|前[一二三四五六七八九十]+|top)|"
    r"(top|biggest|largest|highest|heaviest|best)[\s-]*(\d+\s*)?(spenders|spending customers|buyers)|"
    r"(spent|spend|spending) (the )?most|most (money|spend)|(highest|largest|biggest|top) (total )?(spend|spending|monetary)|"
    r"customers by (total )?(spend|spending|monetary)|"
    r"(which|what|the) customers? (have |has )?(bought|purchased|ordered) (the )?most\b(?! (of|often))|"
    r"customers? who (bought|purchased|ordered) (the )?most\b(?! (of|often))|who (bought|purchased) the most\b(?! (of|often))",
    re.I | re.ASCII)

SegmentScheme = Literal["segment", "segment_cn8", "tier", "cluster"]


# =========================================================================== segment_summary
def segment_summary(scheme: SegmentScheme = "segment", *, ctx: ToolContext | None = None) -> dict:
    """How customers are distributed over segments: count, share and spend per segment.

    Args:
        scheme: "segment" (the 11 RFM segments), "segment_cn8" (the eight-class model 重要价值客户 …),
            "tier" (高价值/潜力/流失风险) or "cluster" (k-means clusters)
    """
    from tools.charts import bar_chart_json
    ctx = context(ctx)
    ws = ctx.ws
    if scheme == "cluster":
        prof = ws.artefact("cluster_profiles")
        if prof is None:
            raise ToolError("the workspace has no cluster profiles yet (artefact 'cluster_profiles')")
        prof = prof.copy()
        rows = []
        for _, r in prof.iterrows():
            rows.append({"segment": to_jsonable(r.get("cluster")), "name_en": plain(r.get("name_en")),
                         "name_zh": plain(r.get("name_zh")), "count": int(r.get("size", 0)),
                         "share": round(float(r.get("share", np.nan)), 4) if "share" in r else None})
        df = pd.DataFrame(rows)
        fig = bar_chart_json(df.assign(label=df["name_zh"].fillna(df["segment"].astype(str))), "label", "count",
                             "客户聚类分布", "Customers per cluster", y_title="客户数 customers")
        prov = meta_provenance(ws, "cluster_profiles", "tools.segments.cluster_customers")
        return {"scheme": scheme, "total": int(df["count"].sum()), "segments": rows,
                "chart": fig, "as_of": fmt_date(ws.as_of()), "provenance": prov}
    from tools.rfm import segment_distribution
    if scheme not in ("segment", "segment_cn8", "tier"):
        raise ToolError(f"unknown scheme {scheme!r}; use segment, segment_cn8, tier or cluster")
    d = segment_distribution(rfm_by_id(ws).reset_index(drop=True), scheme=scheme)
    rows = []
    for _, r in d.iterrows():
        rows.append({"segment": r[scheme], "name_zh": r["name_zh"], "name_en": r["name_en"],
                     "count": int(r["count"]), "share": round(float(r["share"]), 4),
                     "monetary_total": round(float(r["monetary_total"]), 2),
                     "monetary_share": round(float(r["monetary_share"]), 4),
                     "mean_monetary": round(float(r["mean_monetary"]), 2),
                     "mean_recency": round(float(r["mean_recency"]), 1),
                     "mean_frequency": round(float(r["mean_frequency"]), 2)})
    fig = bar_chart_json(d.assign(label=d["name_zh"] + " " + d["name_en"].astype(str)), "label", "count",
                         "客户分群分布", "Customers per segment", y_title="客户数 customers")
    return {"scheme": scheme, "total": int(d["count"].sum()), "segments": rows, "chart": fig,
            "as_of": fmt_date(ws.as_of()),
            "provenance": meta_provenance(ws, "rfm", "rfm_table") + f" · distribution by {scheme}"}


def _seg_name(row: dict, zh: bool) -> str:
    zh_n, en_n = row.get("name_zh"), row.get("name_en")
    if zh_n and en_n and zh_n != en_n:
        return f"{zh_n}（{en_n}）" if zh else f"{en_n} ({zh_n})"
    return str(zh_n or en_n or row.get("segment"))


def _render_summary(r: dict, zh: bool, focus: dict) -> str:
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
        return head + f"{fmt_int(total)} 位客户的{names[0]}分布：\n" + bullets(lines)
    return head + f"{names[1].capitalize()} of {fmt_int(total)} customers:\n" + bullets(lines)


def _summary_args(f) -> dict:
    return {"scheme": f.slots.get("scheme") or f.slots.get("scheme_hint") or "segment"}


def _summary_inherit(args: dict, new: dict, f) -> None:
    if not (f.slots.get("scheme") or f.slots.get("scheme_hint")):
        new.pop("scheme", None)


register(ToolSpec(
    segment_summary, order=2, roles=MANAGERS, family="segment",
    serves=(Serve("segment", None, 90), Serve("rfm", None, 90)),
    args=_summary_args, inherit=_summary_inherit,
    exemplars=(
        '客户分群分布', '各个分群有多少客户', 'RFM分群的分布情况', '每个客户群体的人数和占比', '客户分层结构是怎样的', '八大类客户各有多少人', '该分群有多少', '该分群有多少人',
        '该分群占比多少', '高价值客户、潜力客户各有多少', '客户构成', '各类客户的消费贡献', 'RFM模型把客户分成了哪些类', '客户分级统计', 'segments overview',
        'how many customers are in each segment', 'breakdown of customers by RFM segment',
        'how many customers does this segment have', 'what share of customers are in this segment',
        'customer mix by segment', 'segment sizes', 'show the RFM segments with counts',
        'how are our customers split across tiers', 'distribution of the eight customer classes',
        'how many customers per cluster',
    ),
    cues=(
        Cue(TOP_SPENDERS, 0.3),
        Cue(r"分群|分层|细分|客群|客户群|群体|分类|八大类|八类|几类|哪类|客户类型|客户构成|客户结构|客户分级|"
            r"segment|tier|customer mix|customer base (split|breakdown)", 0.15),
    ),
    render=_render_summary, help_zh="分群分布", help_en="segment distribution",
    example_zh="重要价值客户有多少?", example_en="How many Champions do we have?"))


# =========================================================================== segment_members
_ALL_SEGMENT = {"all", "*", "everyone", "all customers", "全部", "所有", "全部客户", "所有客户", "全体客户"}


@conditions_documented
def segment_members(segment: str, top: int = 20, province: str | None = None, city: str | None = None,
                    date_from: str | None = None, date_to: str | None = None,
                    gender: Literal["F", "M"] | None = None,
                    age_band: Literal["<25", "25-34", "35-44", "45-54", "55+"] | None = None,
                    age_min: int | None = None, age_max: int | None = None, born_from: int | None = None,
                    born_to: int | None = None, signup_channel: str | None = None, silent_days: int | None = None,
                    no_order_from: str | None = None, no_order_to: str | None = None,
                    ordered_from: str | None = None, ordered_to: str | None = None,
                    bought_product: str | None = None, bought_category: str | None = None,
                    bought_from: str | None = None, bought_to: str | None = None, not_bought: bool = False,
                    *, ctx: ToolContext | None = None) -> dict:
    """The customers in one segment, biggest spenders first, with the segment's total size.

    Args:
        segment: a segment name in English or Chinese (Champions, 冠军客户, 重要价值客户, 高价值客户,
            At Risk …), a cluster name, or "all" (every customer: the biggest spenders overall)
        top: how many members to list (default 20)
        date_from: with date_to, rank by what members spent in this period (YYYY-MM-DD, first day
            included; members without orders in it are left out); default all time
        date_to: last day included, YYYY-MM-DD
    """
    ctx = context(ctx)
    ws = ctx.ws
    top = top_n(top, 20)
    everyone = _members_frame(ws)   # ranked by spend, then id: a total order, so a subset keeps it
    try:
        if str(segment or "").strip().lower() in _ALL_SEGMENT:
            col, value, label = "all", "all", "all"
            members = everyone
        else:
            col, value = resolve_segment(segment)
            members = everyone.loc[(everyone[col] == value).to_numpy(bool)]
            label = value
    except ToolError:
        cl = resolve_cluster(ws, segment)
        if cl is None:
            raise
        clusters = artefact_by_id(ws, "clusters", "clusters")
        ids = clusters.index[clusters["cluster"] == cl]
        members = everyone.loc[everyone.index.isin(ids)]
        col, value, label = "cluster", to_jsonable(cl), str(segment)
    mask = match_place(members["province"], province) & match_place(members["city"], city)
    members = members.loc[mask]
    conds = CustomerConditions(gender=gender, age_band=age_band, age_min=age_min, age_max=age_max, born_from=born_from,
                               born_to=born_to, signup_channel=signup_channel, silent_days=silent_days,
                               no_order_from=no_order_from, no_order_to=no_order_to, ordered_from=ordered_from, ordered_to=ordered_to,
                               bought_product=bought_product, bought_category=bought_category, bought_from=bought_from, bought_to=bought_to,
                               not_bought=not_bought)
    if conds.asked():
        members = members.loc[keep_in_workspace(ws, conds, members.index)]
    size = int(len(members))
    period = None
    if date_from or date_to:
        # spend and orders inside the period (orders before the as-of date), members with none left out
        from tools.orders_index import period_totals
        b = pd.Timestamp(date_to) + pd.Timedelta(days=1) if date_to else ws.as_of()
        g, a = period_totals(ws, pd.Timestamp(date_from) if date_from else None, min(b, ws.as_of()))
        members = members.join(g, how="inner")
        members["monetary"] = members["period_monetary"]
        members["frequency"] = members["period_orders"]
        period = {"date_from": fmt_date(a), "date_to": fmt_date(min(b, ws.as_of()) - pd.Timedelta(days=1))}
    if period is not None:
        members = members.sort_values(["monetary", "customer_id"], ascending=[False, True], kind="stable")
    rows = []
    for cid, r in members.head(top).iterrows():
        basic = customer_basic(ws, cid, ctx)
        rows.append({**basic, "recency_days": int(r["recency_days"]), "frequency": int(r["frequency"]),
                     "monetary": round(float(r["monetary"]), 2), "segment": r.get("segment"),
                     "segment_cn8": r.get("segment_cn8"), "tier": r.get("tier")})
    out = {"segment": label, "scheme": col, "count": int(len(members)), "shown": len(rows),
           "province": province, "city": city, "customer_conditions": conds.asked(), "members": rows,
           "as_of": fmt_date(ws.as_of()),
           "provenance": meta_provenance(ws, "rfm", "rfm_table") + f" · members of {label}, sorted by monetary"}
    if period:
        out.update(period)
        out["segment_size"] = size
        out["provenance"] += f" in {period['date_from']} … {period['date_to']} (orders)"
    return out


def _render_members(r: dict, zh: bool, focus: dict) -> str:
    seg, n = r.get("segment"), r.get("count")
    conds = CustomerConditions(**(r.get("customer_conditions") or {})).words(zh)   # "女性", "50 岁及以上"
    where = ("、" if zh else ", ").join(x for x in (" ".join(x for x in (r.get("province"), r.get("city")) if x), *conds) if x)
    rows = r.get("members") or []
    lines = []
    for m in rows:
        if zh:
            lines.append(f"{who(m, zh)}" + (f"，{place(m)}" if place(m) else "") + f"：消费 {fmt_money(m.get('monetary'))}，"
                         f"{fmt_int(m.get('frequency'))} 单，最近购买 {fmt_int(m.get('recency_days'))} 天前"
                         + (f"，电话 {m.get('phone')}" if m.get("phone") else ""))
        else:
            lines.append(f"{who(m, zh)}" + (f", {place(m)}" if place(m) else "") + f": spent {fmt_money(m.get('monetary'))}, "
                         f"{fmt_int(m.get('frequency'))} orders, last purchase {fmt_int(m.get('recency_days'))} days ago"
                         + (f", phone {m.get('phone')}" if m.get("phone") else ""))
    if r.get("date_from") or r.get("date_to"):  # ranked by spend inside a period
        per = f"{r.get('date_from')} 至 {r.get('date_to')}" if zh else f"{r.get('date_from')} to {r.get('date_to')}"
        everyone = r.get("scheme") == "all"
        if zh:
            txt = (f"{per}，" + (f"{where}" if where else "") + ("" if everyone else f"「{seg}」（共 {fmt_int(r.get('segment_size'))} 位）中")
                   + f"有购买的客户共 {fmt_int(n)} 位")
            txt += f"，期间消费金额最高的 {fmt_int(len(rows))} 位：\n" + bullets(lines) if rows else "。"
            return txt
        txt = (f"{fmt_int(n)} " + ("customers" if everyone else f"of the {fmt_int(r.get('segment_size'))} \"{seg}\" customers")
               + (f" in {where}" if where else "") + f" bought in {per}")
        txt += f"; the top {fmt_int(len(rows))} by spend in that period:\n" + bullets(lines) if rows else "."
        return txt
    if r.get("scheme") == "all":  # everyone: the biggest spenders overall
        if zh:
            txt = (f"{where}的客户共 {fmt_int(n)} 位（均有购买记录）" if conds else
                   (f"{where}" if where else "全部") + f"共有 {fmt_int(n)} 位有购买记录的客户")
            txt += f"，累计消费金额最高的 {fmt_int(len(rows))} 位：\n" + bullets(lines) if rows else "。"
            return txt
        txt = f"{fmt_int(n)} customers with orders" + ((f" ({where})" if conds else f" in {where}") if where else "")
        txt += f"; the top {fmt_int(len(rows))} by total spend:\n" + bullets(lines) if rows else "."
        return txt
    if zh:
        txt = f"「{seg}」" + (f"（{where}）" if where else "") + f"共有 {fmt_int(n)} 位客户"
        txt += f"，按消费金额排前 {fmt_int(len(rows))} 位：\n" + bullets(lines) if rows else "。"
        return txt
    txt = f"\"{seg}\"" + (f" ({where})" if where else "") + f" has {fmt_int(n)} customers"
    txt += f"; the top {fmt_int(len(rows))} by spend:\n" + bullets(lines) if rows else "."
    return txt


_LISTING = re.compile(r"哪些|有谁|是谁|都是谁|名单|列出|列一下|成员|导出|清单|前\d|前[一二三四五六七八九十]|消费最多|花钱最多|"
                      r"\bwho\b|\blist\b|members|names|export|show me (the )?(customers|members|people)|which customers|"
                      r"top\s*\d|top spenders|biggest spenders", re.I)
_COUNTING = re.compile(r"多少|几个|几位|占比|比例|分布|多大|规模|how many|share|percentage|proportion|distribution|"
                       r"breakdown|size|how big|how large|count", re.I)


def _members_wanted(f) -> bool:
    """A named segment asked for as a list (or not as a count); or the top spenders of everyone."""
    if f.slots.get("segment") and (_LISTING.search(f.q) or not _COUNTING.search(f.q)):
        return True
    if f.slots.get("segment") and (f.slots.get("bought_product") or f.slots.get("bought_category")):
        return True   # "冠军客户里有多少人没买过茶叶": the summary has no purchases; the list's answer starts with the count
    if not f.slots.get("segment") and TOP_SPENDERS.search(f.q):
        f.slots["segment"] = ALL_CUSTOMERS  # the biggest spenders of all customers
        return True
    return False


def _cluster_members_wanted(f) -> bool:
    return not f.has_customer and bool(f.slots.get("segment")) and f.slots.get("scheme") == "cluster"


register(ToolSpec(
    segment_members, order=3, roles=MANAGERS, family="segment", needs=("segment",),
    serves=(Serve("segment", _members_wanted, 20), Serve("rfm", _members_wanted, 20),
            Serve("cluster", _cluster_members_wanted, 20)),
    args=lambda f: {**f.top(), **f.copy(("segment", "province", "city", "date_from", "date_to")), **who_args(f)},
    inherit=bought_inherit, after_list_customer="rfm_lookup",
    exemplars=(
        '该分群有哪些客户', '列出该分群的客户', '该分群的名单', '该分群都是谁', '给我该分群客户名单', '导出该分群的成员', '该分群里消费最多的客户', '看看该分群的前几名',
        '该分群客户有谁', '该分群的成员', 'who are this segment', 'list the customers in this segment',
        'members of this segment', 'show me this segment customers', 'give me the list of this segment',
        'top spenders in this segment', 'which customers are in this segment', 'names in this segment',
        'export this segment', '消费金额最高的客户', '花钱最多的前十个客户', 'who spent the most', 'our biggest spenders',
    ),
    render=_render_members, help_zh="分群成员", help_en="segment members",
    example_zh="列出消费最多的前10个客户", example_en="List the Champions"))


# =========================================================================== at_risk_customers
def _members_frame(ws) -> pd.DataFrame:
    """The RFM table with each customer's name and place, ranked by spend then id (once per workspace)."""
    def build():
        members = rfm_by_id(ws).drop(columns=["customer_id"]).join(
            customers_by_id(ws)[["name", "city", "province"]], how="left")
        members.index.name = "customer_id"
        members = members.reset_index()
        members.index = members["customer_id"].to_numpy()
        return members.sort_values(["monetary", "customer_id"], ascending=[False, True], kind="stable")
    return cached(ws, "members_frame", build)


def _at_risk_frame(ws) -> pd.DataFrame:
    """Churn scores joined with the customer's place and RFM values (once per workspace)."""
    def build():
        churn = artefact_by_id(ws, "churn", "churn scores")
        cust = customers_by_id(ws)
        rfm = rfm_by_id(ws)
        return churn[["churn_probability"] + [c for c in ("risk_band", "reasons_en", "reasons_zh", "value_at_risk",
                                                          "reasons_deferred") if c in churn]].join(
            cust[["name", "city", "province"]], how="left").join(
            rfm[["recency_days", "frequency", "monetary", "segment", "segment_zh", "segment_cn8", "tier"]], how="left")
    return cached(ws, "at_risk_frame", build)


def _rank_at_risk(df: pd.DataFrame, threshold: float) -> pd.DataFrame:
    if "value_at_risk" in df:
        return df.assign(_at_risk=df["churn_probability"] >= threshold).sort_values(
            ["_at_risk", "value_at_risk", "churn_probability"], ascending=[False, False, False], kind="stable")
    return df.sort_values(["churn_probability", "monetary"], ascending=[False, False], kind="stable")


@conditions_documented
def at_risk_customers(top: int = 20, province: str | None = None, city: str | None = None,
                      segment: str | None = None, min_probability: float | None = None,
                      gender: Literal["F", "M"] | None = None,
                      age_band: Literal["<25", "25-34", "35-44", "45-54", "55+"] | None = None,
                      age_min: int | None = None, age_max: int | None = None, born_from: int | None = None,
                      born_to: int | None = None, signup_channel: str | None = None, silent_days: int | None = None,
                      no_order_from: str | None = None, no_order_to: str | None = None,
                      ordered_from: str | None = None, ordered_to: str | None = None,
                      bought_product: str | None = None, bought_category: str | None = None,
                      bought_from: str | None = None, bought_to: str | None = None, not_bought: bool = False,
                      *, ctx: ToolContext | None = None) -> dict:
    """Customers at risk of churning (against their own buying cycle), those worth saving first — value at
    risk = churn probability × yearly spend — with the count above the probability threshold.

    Args:
        top: how many customers to list (default 20)
        segment: only customers in this RFM segment / eight-class segment / tier
        min_probability: only customers with churn probability ≥ this (0-1; default 0.5 for the count)
    """
    ctx = context(ctx)
    ws = ctx.ws
    top = top_n(top, 20)
    if min_probability is not None and not (0 <= float(min_probability) <= 1):
        mp = float(min_probability)
        if 1 < mp <= 100:
            min_probability = mp / 100
        else:
            raise ToolError(f"min_probability must be between 0 and 1, got {min_probability}")
    everyone = _at_risk_frame(ws)
    keep = np.ones(len(everyone), dtype=bool)   # the customers asked about, as positions in `everyone`
    if province or city:
        keep &= (match_place(everyone["province"], province) & match_place(everyone["city"], city)).to_numpy(bool)
    conds = CustomerConditions(gender=gender, age_band=age_band, age_min=age_min, age_max=age_max, born_from=born_from,
                             born_to=born_to, signup_channel=signup_channel, silent_days=silent_days,
                             no_order_from=no_order_from, no_order_to=no_order_to, ordered_from=ordered_from, ordered_to=ordered_to,
                             bought_product=bought_product, bought_category=bought_category, bought_from=bought_from, bought_to=bought_to,
                             not_bought=not_bought)
    if conds.asked():
        keep &= keep_in_workspace(ws, conds, everyone.index)
    seg_label = None
    if segment:
        col, value = resolve_segment(segment)
        keep &= (everyone[col] == value).to_numpy(bool)
        seg_label = value
    threshold = 0.5 if min_probability is None else float(min_probability)
    high = everyone["churn_probability"].to_numpy() >= threshold
    by_value = "value_at_risk" in everyone
    # everyone ranked once per threshold (a stable sort: filtering before or after it lists the same order)
    ranked = cached(ws, f"at_risk_ranked:{threshold!r}", lambda: _rank_at_risk(
        everyone.assign(_pos=np.arange(len(everyone))), threshold)["_pos"].to_numpy())
    shown = keep & high if min_probability is not None else keep
    listed = everyone.iloc[ranked[shown[ranked]][:top]]
    if by_value:   # those at risk first, the most value at risk first among them
        order = (f"ranked by value at risk = churn_probability × annual_value (total spend ÷ years since the first "
                 f"order, at least one), those with probability ≥ {threshold:g} first")
    else:          # a churn artefact from before value_at_risk
        order = "ranked by churn_probability"
    rows = []
    from tools.churn_reasons import fill_reasons
    for cid, r in fill_reasons(ws, listed).iterrows():
        basic = customer_basic(ws, cid, ctx)
        rows.append({**basic, "churn_probability": round(float(r["churn_probability"]), 6),
                     "risk_band": plain(r.get("risk_band")), "recency_days": plain(r.get("recency_days")),
                     "monetary": round(float(r["monetary"]), 2) if pd.notna(r.get("monetary")) else None,
                     "segment": plain(r.get("segment")), "reasons_en": as_list(r.get("reasons_en"))[:2],
                     "reasons_zh": as_list(r.get("reasons_zh"))[:2],
                     **({"value_at_risk": round(float(r["value_at_risk"]), 2) if pd.notna(r.get("value_at_risk"))
                         else None} if by_value else {})})
    chart = None
    if rows:
        from tools.charts import bar_chart_json
        cdf = pd.DataFrame(rows)
        cdf = cdf.assign(label=cdf["customer_id"] + " " + cdf["name"].fillna(""))
        chart = (bar_chart_json(cdf, "label", "value_at_risk", "最值得挽回的流失风险客户(流失概率×年消费)",
                                "At-risk customers most worth saving (churn probability × yearly spend)",
                                y_title="风险价值 value at risk") if by_value else
                 bar_chart_json(cdf, "label", "churn_probability", "流失概率最高的客户", "Highest churn probability",
                                y_title="流失概率 churn probability"))
    return {"count_at_risk": int((keep & high).sum()), "threshold": threshold, "customers_considered": int(keep.sum()),
            "shown": len(rows), "customers": rows, "province": province, "city": city, "segment": seg_label,
            "customer_conditions": conds.asked(),
            "chart": chart, "as_of": fmt_date(ws.as_of()), "order": "value_at_risk" if by_value else "churn_probability",
            "provenance": meta_provenance(ws, "churn", "tools.churn.churn_scores")
            + f" · {order}; count with probability ≥ {threshold:g}"}


def _render_at_risk(r: dict, zh: bool, focus: dict) -> str:
    where = " ".join(x for x in (r.get("province"), r.get("city"), r.get("segment")) if x)
    conds = CustomerConditions(**(r.get("customer_conditions") or {})).words(zh)   # "女性、41 岁及以上"
    rows = r.get("customers") or []
    lines = []
    for c in rows:
        if zh:
            lines.append(f"{who(c, zh)}" + (f"，{place(c)}" if place(c) else "") + f"：流失概率 {fmt_pct(c.get('churn_probability'))}"
                         + (f"，最近购买 {fmt_int(c.get('recency_days'))} 天前" if c.get("recency_days") is not None else "")
                         + (f"，累计消费 {fmt_money(c.get('monetary'))}" if c.get("monetary") is not None else "")
                         + (f"，风险价值 {fmt_money(c.get('value_at_risk'))}/年" if c.get("value_at_risk") is not None else "")
                         + (f"，电话 {c.get('phone')}" if c.get("phone") else ""))
        else:
            lines.append(f"{who(c, zh)}" + (f", {place(c)}" if place(c) else "") + f": churn probability {fmt_pct(c.get('churn_probability'))}"
                         + (f", last purchase {fmt_int(c.get('recency_days'))} days ago" if c.get("recency_days") is not None else "")
                         + (f", spent {fmt_money(c.get('monetary'))}" if c.get("monetary") is not None else "")
                         + (f", value at risk {fmt_money(c.get('value_at_risk'))}/yr" if c.get("value_at_risk") is not None else "")
                         + (f", phone {c.get('phone')}" if c.get("phone") else ""))
    by_value = r.get("order") == "value_at_risk"
    if zh:
        txt = (("在" + where + "，") if where else "") + ("、".join(conds) + "的客户中，" if conds else "") + \
              f"流失概率 ≥ {fmt_pct(r.get('threshold'), 0)} 的客户共 {fmt_int(r.get('count_at_risk'))} 位" + \
              f"（共评估 {fmt_int(r.get('customers_considered'))} 位）。"
        if rows:
            txt += ((f"最值得挽回的 {fmt_int(len(rows))} 位(按风险价值=流失概率×年消费排序)：\n" if by_value
                     else f"流失概率最高的 {fmt_int(len(rows))} 位：\n") + bullets(lines))
        return txt
    txt = (f"In {where}, " if where else "") + (f"{'a' if where else 'A'}mong customers ({'; '.join(conds)}), " if conds else "") + \
          f"{fmt_int(r.get('count_at_risk'))} customers have a churn probability of at least {fmt_pct(r.get('threshold'), 0)}" + \
          f" (of {fmt_int(r.get('customers_considered'))} scored)."
    if rows:
        txt += ((f" The {fmt_int(len(rows))} most worth saving (by value at risk = churn probability × yearly spend):\n"
                 if by_value else f" The {fmt_int(len(rows))} most at risk:\n") + bullets(lines))
    return txt


def _at_risk_args(f) -> dict:
    s = f.slots
    a = {**f.top(), **{k: s[k] for k in ("province", "city", "min_probability") if s.get(k) is not None}}
    if s.get("segment") and (s.get("segment_strong") or f.segment_words) and s.get("segment") != "At Risk":
        a["segment"] = s["segment"]
    a.update(who_args(f))   # "哪些女性客户有流失风险", "抖音渠道来的客户"
    return a


_THOSE = re.compile(r"那些|这些|他们|她们|其中|里面|当中|\b(them|those|these|among)\b", re.I)


def _at_risk_refine(route, f) -> None:
    """"冠军客户名单" → "那些人里谁要流失": the at-risk list of the group just listed — its segment, place and
    conditions ("上个季度买过坚果的客户有哪些" → "这些人里谁快流失了": those buyers)."""
    m = f.memory
    if m is None or m.last_tool != "segment_members" or route.args.get("segment") or not _THOSE.search(f.q):
        return
    last = m.last_args or {}
    if last.get("segment") and str(last["segment"]).lower() != ALL_CUSTOMERS and last["segment"] != "At Risk":
        route.args["segment"] = last["segment"]
    for k in _CONDITION_KEYS:
        if last.get(k) not in (None, "", False) and not route.args.get(k):
            route.args[k] = last[k]


_CONDITION_KEYS = tuple(CustomerConditions.__dataclass_fields__)   # province, city, gender … bought_product


register(ToolSpec(
    at_risk_customers, order=6, roles=MANAGERS, family="churn",
    serves=(Serve("churn", None, 90),),
    args=_at_risk_args, inherit=bought_inherit, refine=_at_risk_refine, after_list_customer="churn_risk",
    exemplars=(
        '哪些客户有流失风险', '流失风险最高的客户', '可能流失的客户名单', '列出高流失风险客户', '快要流失的客户有哪些', '哪些客户要流失了', '流失预警名单', '该地区有哪些客户可能流失',
        '需要挽回的客户', '流失概率排名', '高风险流失客户有多少', '哪些老客户不来了', 'which customers are at risk of churning',
        'who is likely to churn', 'customers most likely to churn', 'churn risk list',
        'show me at-risk customers', 'who might we lose', 'top churn risks in this region',
        'customers we are about to lose', 'high churn probability customers',
        'which customers should we win back', 'how many customers are at high risk of churn', '很久没下单的客户有哪些',
        '哪些客户需要唤醒', "which customers haven't bought in months", 'dormant customers to reactivate',
    ),
    cues=(
        Cue(r"流失|churn|at[- ]risk|attrition|流失风险|可能不再|不再购买|不来了|lose|losing|leave us|stop buying|"
            r"还(会|能)?(再)?(来|回来)?(买|下单|光顾|复购)(吗|不|嘛)|会不会(再)?(来|回来|买)|还会回来|还会来|"
            r"(会|要)(跑|走)(吗|了)|跑路|跑掉|留不住|沉睡|休眠|唤醒|不活跃|(没|未|不)(再)?(下单|购买|买过?|消费|来)(过)?的(老)?(客户|顾客|会员)|"
            r"\b(dormant|inactive|lapsed)\b|(haven't|have not|hasn't|not) (bought|ordered|purchased|shopped|been back)|"
            r"\b(come|coming) back\b|\breturn to (us|buy)\b|"
            r"lapse|lapsing|defect|挽回|挽留|召回|win[- ]?back", 0.15),
    ),
    render=_render_at_risk, help_zh="流失风险名单", help_en="the at-risk list",
    example_zh="哪些客户有流失风险?", example_en="Which customers are at risk of churning?"))
