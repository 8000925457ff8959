"""Tools over customer feedback: similar past complaints (and how they were resolved), complaint topics.

Search and topics run on the feedback index (knowledge.feedback_store: Chroma + BM25, hybrid);
complaint text is customer data: masked here for every role but admin, never instructions.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.workspace import Workspace
from tools.context import (ToolContext, ToolError, cached, context, customers_by_id, mask_text, resolve_segment, rfm_by_id,
                           top_n)
from tools.customer_filter import ORDER_CONDITIONS, CustomerConditions, conditions_documented, keep_in_workspace, who_args
from tools.formatting import STATUS_ZH, bullets, fmt_int, fmt_pct, period, short
from tools.results import fmt_date, to_jsonable
from tools.spec import EVERY_ROLE, Cue, ToolSpec, register

__all__ = ["similar_complaints", "complaint_topics", "feedback_store", "latest_complaint"]


def index_not_ready(status: dict) -> str | None:
    """Why complaint search cannot answer yet (an honest "indexing, N%", never "nothing found"),
    or None when the feedback index mirrors the served feedback table."""
    state, pct = status.get("state"), status.get("percent", 0)
    if state == "ready":
        return None
    if state == "indexing":
        return (f"the feedback index is being built (indexing, {pct}%): complaint search answers when it is done "
                f"· 投诉检索的索引正在建立（{pct}%），建好后即可搜索")
    if state == "interrupted":
        return (f"the feedback index is incomplete (its build stopped at {pct}%); `guanxi start` or `guanxi build` "
                f"finishes it · 投诉检索的索引未建完（停在 {pct}%），重新启动或构建后即可搜索")
    if state == "stale":
        return ("the feedback index is being built for the new data (the index is being built; `guanxi start` "
                "indexes in the background) · 投诉检索的索引正在为新数据重建，建好后即可搜索")
    return ("the feedback index is not built yet (`guanxi start` indexes in the background, or run `guanxi build` "
            "without --no-index) · 投诉检索的索引尚未建立")


def feedback_store(ctx: ToolContext):
    from knowledge.feedback_store import FeedbackStore, index_status
    why = index_not_ready(index_status(ctx.ws))
    if why:
        raise ToolError(why)
    try:
        return FeedbackStore.open(ctx.ws, ctx.settings)
    except GuanxiError as e:
        raise ToolError(f"the feedback index is not available ({e}); build it with `guanxi build` "
                        f"(without --no-index)") from None


def latest_complaint(ws: Workspace, cid: str) -> str | None:
    """The text of a customer's latest complaint (first 200 characters), or None."""
    try:
        fb = ws.table("feedback")
    except Exception:  # noqa: BLE001 - no feedback table: no text to borrow
        return None
    if "customer_id" not in fb or "text" not in fb:
        return None
    mine = fb[(fb["customer_id"].astype(str) == cid) & ((fb["kind"] == "complaint") if "kind" in fb else True)]
    if mine.empty:
        return None
    if "created_at" in mine:
        mine = mine.sort_values("created_at")
    return str(mine["text"].iloc[-1])[:200]


def _group(ws: Workspace, conds: CustomerConditions, segment: str | None = None) -> list[str] | None:
    """The ids of the customers ``conds`` (and an RFM segment) ask for ("男性客户投诉过…", "冠军客户投诉过…"),
    None when they ask for none."""
    if not conds.asked() and not segment:
        return None
    ids = customers_by_id(ws).index
    if segment:
        col, value = resolve_segment(segment)
        rfm = rfm_by_id(ws)
        ids = ids[ids.isin(rfm.index[rfm[col] == value])]
    return [str(i) for i in (ids[keep_in_workspace(ws, conds, ids)] if conds.asked() else ids)]


def _who_words(r: dict, zh: bool) -> str:
    """"（男性、广州市的客户）" / " (from male, in 广州市 customers)": the customers the result is limited to."""
    words = ([r["segment"]] if r.get("segment") else []) + CustomerConditions(**(r.get("customer_conditions") or {})).words(zh)
    if not words:
        return ""
    return f"（{'、'.join(words)}的客户）" if zh else f" (customers: {', '.join(words)})"


# =========================================================================== similar_complaints
@conditions_documented
def similar_complaints(text: str, k: int = 5, category: str | None = None, status: str | None = None,
                       date_from: str | None = None, date_to: str | None = None, kind: str | None = "complaint",
                       province: str | None = None, city: str | None = None, gender: Literal["F", "M"] | None = None,
                       age_band: Literal["<25", "25-34", "35-44", "45-54", "55+"] | None = None,
                       age_min: int | None = None, age_max: int | None = None, born_from: int | None = None,
                       born_to: int | None = None, signup_channel: str | None = None, segment: str | None = None,
                       *, ctx: ToolContext | None = None) -> dict:
    """Past complaints most like a description (hybrid semantic + keyword search), with how each
    was resolved, and how many feedback items passed the filters; optionally only complaints from
    customers in one place, of one gender, age or sign-up channel.

    Args:
        text: what the complaint is about, in any words, e.g. 快递破损 or parcel arrived damaged
        k: how many complaints to return (default 5)
        category: only complaints about this product category
        status: open or resolved
        date_from: first day included, YYYY-MM-DD
        date_to: last day included, YYYY-MM-DD
        kind: complaint (default), suggestion, praise, inquiry, or "all" for every kind of feedback
        segment: only complaints from the customers of this RFM segment / eight-class segment / tier
    """
    ctx = context(ctx)
    from tools.feedback import similar_feedback
    from tools.service_tools import status_overrides, with_effective_status
    store = feedback_store(ctx)
    kind = None if kind in (None, "", "all", "any") else kind
    conds = CustomerConditions(province=province, city=city, gender=gender, age_band=age_band, age_min=age_min,
                               age_max=age_max, born_from=born_from, born_to=born_to, signup_channel=signup_channel)
    group = _group(ctx.ws, conds, segment)
    if group is not None and not group:
        return {"query": text, "filters": {}, "matched": 0, "count": 0, "resolved": 0, "hits": [], "collapsed": 0,
                "customer_conditions": conds.asked(), "segment": segment, "as_of": fmt_date(ctx.ws.as_of()),
                "provenance": "similar_complaints: no customer meets the conditions " + str(conds.asked())}
    changes = status_overrides(ctx)   # the event log's follow-through: the status that counts
    res = similar_feedback(store, text, k=top_n(k, 5, 50), kind=kind, category=category or None,
                           status=status or None, date_from=date_from or None, date_to=date_to or None,
                           customer_id=group, status_of={i: c.status for i, c in changes.items()})
    hits = []
    for h in res.hits:
        h = with_effective_status(to_jsonable(h), changes)
        for key in ("text", "resolution", "resolution_source"):
            if isinstance(h.get(key), str):
                h[key] = mask_text(h[key], ctx.unmasked)
        hits.append(h)
    resolved = sum(1 for h in hits if str(h.get("status")) == "resolved")
    filters = {k: v for k, v in to_jsonable(res.filters).items() if k != "customer_id"}   # not thousands of ids
    return {"query": text, "filters": filters, "matched": int(res.matched), "count": len(hits),
            "resolved": resolved, "hits": hits, "collapsed": int(res.collapsed),
            "customer_conditions": conds.asked(), "segment": segment, "as_of": fmt_date(ctx.ws.as_of()),
            "provenance": _short_ids(res.provenance, group)
            + (f" · status from the event log for {len(changes):,} complaints" if changes else "")}


def _short_ids(prov: str, group: list[str] | None) -> str:
    """The provenance with the group's customer ids said as their number."""
    if not group:
        return prov
    for form in (str(group), ",".join(group), ", ".join(group)):
        prov = prov.replace(form, f"{len(group):,} customers")
    return prov


def _render_similar(r: dict, zh: bool, focus: dict) -> str:
    hits = r.get("hits") or []
    who_ = _who_words(r, zh)
    if not hits:
        return (f"没有找到与「{short(r.get('query'), 60)}」相似的投诉{who_}。" if zh else
                f"No complaints similar to \"{short(r.get('query'), 60)}\"{who_}.")
    lines = []
    for h in hits:
        status = h.get("status")
        res = h.get("resolution")
        date = str(h.get("created_at") or "")[:10]
        fid = h.get("feedback_id")
        if zh:
            label = h.get("status_label_zh") or STATUS_ZH.get(str(status), status or '状态未知')
            lines.append(f"[{date}，{label}] {fid}「{short(h.get('text'))}」"
                         + (f" → 处理：{short(res, 50)}" if res else ""))
        else:
            label = h.get("status_label_en") or status or 'status unknown'
            lines.append(f"[{date}, {label}] {fid} \"{short(h.get('text'))}\""
                         + (f" → resolution: {short(res, 50)}" if res else ""))
    if zh:
        return (f"找到 {fmt_int(len(hits))} 条与「{short(r.get('query'), 60)}」相似的投诉{who_}（其中 {fmt_int(r.get('resolved'))} 条已解决）：\n"
                + bullets(lines))
    return (f"{fmt_int(len(hits))} complaints similar to \"{short(r.get('query'), 60)}\"{who_} ({fmt_int(r.get('resolved'))} resolved):\n"
            + bullets(lines))


def _similar_args(f) -> dict:
    s = f.slots
    a = {"text": f.complaint_text(f.q, (s.get("date_phrase"), *s.get("mention_spans", ()), *s.get("group_spans", ())))}
    a.update(f.top("k"))
    a.update(f.copy(("status", "date_from", "date_to", "province", "city")))
    if s.get("segment") and s.get("segment_strong"):
        a["segment"] = s["segment"]   # "冠军客户有没有投诉过物流慢"
    a.update({k: v for k, v in who_args(f).items() if k not in ORDER_CONDITIONS})   # "哪些男性客户投诉过物流慢"
    return a


def _similar_inherit(args: dict, new: dict, f) -> None:
    if not (f.slots.get("item") or len(f.complaint_text(f.q)) > 6):
        new.pop("text", None)  # "那已解决的呢?": the same description, another filter


def _similar_refine(route, f) -> None:
    """"C100352 投诉了，之前类似问题怎么处理的": complaints like this customer's latest one."""
    s = f.slots
    if f.who and not f.complaint_text(f.q, (s.get("date_phrase"), *s.get("mention_spans", ())), False):
        latest = latest_complaint(f.ws, f.who)
        if latest:
            route.args["text"] = latest


register(ToolSpec(
    similar_complaints, order=11, roles=EVERY_ROLE, family="similar",
    args=_similar_args, inherit=_similar_inherit, refine=_similar_refine,
    exemplars=(
        '有没有人投诉过快递破损', '类似的投诉有哪些', '之前有没有类似的投诉', '有客户反映过发错货吗', '以前怎么处理退款慢的投诉', '找一下和质量问题相关的投诉', '有没有人说过客服态度差',
        '搜索关于漏发的投诉', '有人抱怨过包装破了吗', '这种投诉以前是怎么解决的', '查一下相似的客户反馈', '有没有人投诉物流慢',
        'has anyone complained about damaged parcels', 'similar complaints about late shipping',
        'find complaints like wrong item received', 'did customers complain about refunds before',
        'how did we resolve complaints about rude staff', 'search feedback about poor quality',
        'any complaints mentioning broken packaging', 'have we seen this complaint before',
        'past complaints about billing errors', 'show me similar feedback', '客户说东西坏了，以前有类似的吗', '有人说过过敏吗',
        '这个问题有先例吗', '客户来电说收到的货少了', 'customer says the parcel never arrived, similar cases?',
        'anyone else report the machine not working',
    ),
    cues=(
        Cue(r"投诉过|抱怨过|反映过|反馈过|投诉说|说过|类似.{0,6}(投诉|反馈|问题|情况|案例)|相似.{0,6}(投诉|反馈|问题|案例)|"
            r"同样的(投诉|问题)|有没有人.{0,12}(投诉|抱怨|反映|说)|有人.{0,8}(投诉|抱怨|反映|说|提到|反馈|吐槽|遇到)|有没有.{0,4}(投诉|反馈).{1,20}的|"
            r"(客户|顾客|用户|买家|消费者).{0,4}(说|反馈|反映|吐槽)(了)?.{2,}|(有没有|有无|有)类似的?(吗|呢|没有?)?[?？。!！]*$|先例|有过(吗|没有|没)|(发生|出现|遇到)过|"
            r"anyone (else )?(report|mention|say|said|complain|raise)|(happened|come up|seen this) before|"
            r"complain(ed|ing|s)?( that)? (the|my|our|their|his|her|a|an) [a-z]+( [a-z]+)? (was|were|is|are|tasted|smelled|"
            r"arrived|came|broke|had|has|did|does|didn't|wasn't|never|keeps?)\b|"
            r"(customer|client|buyer|user) (says|said|reports?|reported|told us|claims?)\b|"
            r"(similar|same) (cases|issues|problems|tickets|complaints)|like this before|"
            r"complain(ed|s)? (about|of|that)|anyone complain|(similar|related|matching) (complaints|feedback|cases|tickets|issues)|"
            r"complaints? (about|like|mentioning|regarding|on|that mention)|feedback (about|mentioning|on)|"
            r"\bcases? (of|where|like)\b|怎么(处理|解决)的|how (did|do) we (resolve|handle|fix)", 0.2),
    ),
    render=_render_similar, help_zh="相似投诉", help_en="similar complaints",
    example_zh="有没有人投诉过快递破损?", example_en="Has anyone complained about damaged parcels?"))


# =========================================================================== complaint_topics
@conditions_documented
def complaint_topics(date_from: str | None = None, date_to: str | None = None, top: int = 10,
                     province: str | None = None, city: str | None = None, gender: Literal["F", "M"] | None = None,
                     age_band: Literal["<25", "25-34", "35-44", "45-54", "55+"] | None = None,
                     age_min: int | None = None, age_max: int | None = None, born_from: int | None = None,
                     born_to: int | None = None, signup_channel: str | None = None, segment: str | None = None,
                     *, ctx: ToolContext | None = None) -> dict:
    """The main complaint topics in a period, each with a label, keywords, a count, a share, a
    monthly trend and example complaints, biggest first; optionally only the complaints of customers
    in one place, of one gender, age or sign-up channel ("男性客户最常投诉什么").

    Args:
        date_from: first day included, YYYY-MM-DD
        date_to: last day included, YYYY-MM-DD
        top: how many topics (default 10)
        segment: only complaints from the customers of this RFM segment / eight-class segment / tier
    """
    ctx = context(ctx)
    ws = ctx.ws
    from tools.feedback import complaint_topics as _topics
    store = feedback_store(ctx)
    meta, art = ws.artefact("feedback_topics_meta"), ws.artefact("feedback_topics")
    conds = CustomerConditions(province=province, city=city, gender=gender, age_band=age_band, age_min=age_min,
                               age_max=age_max, born_from=born_from, born_to=born_to, signup_channel=signup_channel)
    feedback, group = ws.table("feedback"), _group(ws, conds, segment)
    if group is not None:
        feedback = feedback.loc[np.asarray(feedback["customer_id"].astype(str).isin(group), dtype=bool)]
    res = _topics(feedback, store, date_from=date_from or None, date_to=date_to or None,
                  top=top_n(top, 10, 50), fitted=(meta, art) if meta is not None and art is not None else None)
    fb = cached(ws, "feedback_by_id", lambda: ws.table("feedback").assign(
        feedback_id=ws.table("feedback")["feedback_id"].astype(str)).drop_duplicates("feedback_id", keep="last")
        .set_index("feedback_id"))
    topics = []
    for t in res.topics:
        t = to_jsonable(t)
        t["examples"] = [mask_text(str(fb.loc[i, "text"]), ctx.unmasked) for i in t.get("example_ids", [])
                         if i in fb.index][:2]
        topics.append(t)
    chart = None
    if topics:
        from tools.charts import bar_chart_json
        cdf = pd.DataFrame({"label": [t["label"] for t in topics], "count": [t["count"] for t in topics]})
        chart = bar_chart_json(cdf, "label", "count", "投诉主题", "Complaint topics", y_title="投诉数 complaints")
    return {"date_from": res.date_from, "date_to": res.date_to, "total": int(res.total), "n_topics": int(res.n_topics),
            "topics": topics, "months": res.months, "method": res.method, "chart": chart,
            "customer_conditions": conds.asked(), "segment": segment, "as_of": fmt_date(ws.as_of()),
            "provenance": res.provenance + (f" · complaints of the {len(group):,} customers meeting "
                                            f"{dict(conds.asked(), **({'segment': segment} if segment else {}))}"
                                            if group is not None else "")}


def _render_topics(r: dict, zh: bool, focus: dict) -> str:
    rows = r.get("topics") or []
    span = period(r, zh)
    lines = []
    for t in rows:
        kw = "、".join((t.get("keywords") or [])[:4]) if zh else ", ".join((t.get("keywords") or [])[:4])
        ex = (t.get("examples") or [None])[0]
        if zh:
            lines.append(f"{t.get('label')}：{fmt_int(t.get('count'))} 条（{fmt_pct(t.get('share'))}）"
                         + (f"，关键词 {kw}" if kw else "") + (f"，例：「{short(ex, 40)}」" if ex else ""))
        else:
            lines.append(f"{t.get('label')}: {fmt_int(t.get('count'))} complaints ({fmt_pct(t.get('share'))})"
                         + (f", keywords {kw}" if kw else "") + (f", e.g. \"{short(ex, 40)}\"" if ex else ""))
    who_ = _who_words(r, zh)
    if zh:
        return ((span or "全部时间") + f"{who_}共有 {fmt_int(r.get('total'))} 条投诉，主要主题：\n" + bullets(lines))
    return (f"{fmt_int(r.get('total'))} complaints" + (f" from {span}" if span else " in all") + who_ + "; the main topics:\n"
            + bullets(lines))


register(ToolSpec(
    complaint_topics, order=12, roles=EVERY_ROLE, family="topics",
    args=lambda f: {**f.top(), **f.copy(("date_from", "date_to", "province", "city")),
                    **{k: v for k, v in who_args(f).items() if k not in ORDER_CONDITIONS},
                    **({"segment": f.slots["segment"]} if f.slots.get("segment") and f.slots.get("segment_strong") else {})},
    exemplars=(
        '投诉主要集中在哪些方面', '投诉最多的问题是什么', '主要投诉类型', '投诉热点', '客户都在抱怨什么', '投诉主题分析', '最常见的投诉原因', '投诉话题排名', '客户反馈的主要问题',
        '差评主要说了什么', 'top complaint topics', 'what are customers complaining about', 'main complaint areas',
        'most common complaints', 'complaint categories breakdown', 'what do complaints talk about',
        'biggest pain points from feedback', 'top issues in customer complaints', 'complaint trends by topic',
    ),
    cues=(
        Cue(r"投诉.{0,8}(主题|热点|类型|原因|方面|话题|集中|分类|排名|排行|最多)|(主要|最多|最常见|常见|热门|高频).{0,6}(投诉|抱怨|问题|差评)|"
            r"投诉.{0,4}(都|主要).{0,4}(是|在|关于)|抱怨.{0,4}什么|吐槽.{0,4}什么|差评.{0,6}(说|原因|主要)|"
            r"complaint (topics?|themes?|categories|reasons|drivers|clusters|types)|"
            r"(top|main|common|biggest|frequent|key|recurring|major)\b.{0,25}\b(complaints|issues|pain points|problems|grievances)|"
            r"complaining about|what (do|are) (customers|people|clients).{0,20}(complain|unhappy)|topics? of complaints", 0.2),
    ),
    render=_render_topics, help_zh="投诉主题", help_en="complaint topics",
    example_zh="上季度投诉主要集中在哪些问题?", example_en="Top complaint topics last quarter"))
