"""Care tools: who to contact and when (the care calendar), and a draft message for one customer.

A person always sends: nothing in Guanxi sends a message. The calendar is computed by
`tools.care`; drafts by `tools.drafts` (offers only from WORKSPACE/offers.toml).
"""
from __future__ import annotations

import re
from typing import Literal

import pandas as pd

from knowledge.export import new_export_path
from tools.context import (ToolContext, ToolError, artefact_by_id, context, customer_basic, customers_by_id, mask_deep,
                           match_place, resolve_customer_id, top_n)
from tools.customer_filter import (ORDER_CONDITIONS, CustomerConditions, bought_inherit, conditions_documented,
                                   keep_in_workspace, who_args)
from tools.formatting import OCCASION_EN, OCCASION_ZH, bullets, fmt_int, fmt_pct, who
from tools.results import to_jsonable
from tools.segment_tools import ALL_CUSTOMERS
from tools.spec import EVERY_ROLE, MANAGERS, Cue, Serve, ToolSpec, register

__all__ = ["care_calendar", "draft_care_message", "draft_care_batch", "churn_risk_floor"]

CareOccasion = Literal["all", "birthday", "festival", "winback", "vip_thanks", "regular"]


# =========================================================================== care_calendar
@conditions_documented
def care_calendar(days: int = 7, occasion: CareOccasion = "all", top: int = 30, province: str | None = None,
                  city: str | None = None, gender: Literal["F", "M"] | None = None,
                  age_band: Literal["<25", "25-34", "35-44", "45-54", "55+"] | None = None,
                  age_min: int | None = None, age_max: int | None = None, born_from: int | None = None,
                  born_to: int | None = None, signup_channel: str | None = None,
                  *, ctx: ToolContext | None = None) -> dict:
    """Who to contact in the next N days and on what occasion: upcoming birthdays and festivals,
    at-risk customers to win back, VIPs to thank and regular customers due for contact — optionally
    only the customers in one place, of one gender, age or sign-up channel.

    Args:
        days: the window in days starting at the as-of date (default 7)
        occasion: only this kind: birthday, festival, winback, vip_thanks, regular (default all)
        top: how many entries to list (counts are of all; default 30)
    """
    ctx = context(ctx)
    ws = ctx.ws
    try:
        days = int(days)
    except (TypeError, ValueError):
        raise ToolError(f"days must be a whole number, got {days!r}") from None
    if not 1 <= days <= 366:
        raise ToolError(f"days must be between 1 and 366, got {days}")
    from tools.care_plan import workspace_window
    win = workspace_window(ws, days)   # entries are built for the rows listed only; counts are of all
    occ = occasion or "all"
    cust = customers_by_id(ws)
    conds = CustomerConditions(province=province, city=city, gender=gender, age_band=age_band, age_min=age_min,
                               age_max=age_max, born_from=born_from, born_to=born_to, signup_channel=signup_channel)
    only = set(cust.index[keep_in_workspace(ws, conds, cust.index)]) if conds.asked() else None
    listed = win.entries(occ, limit=top_n(top, 30, 1000), only=only)
    rows = []
    for e in listed:
        d = e.to_dict()
        if e.customer_id in cust.index:
            d.update({k: v for k, v in customer_basic(ws, e.customer_id, ctx).items()
                      if k in ("city", "phone", "email")})
        mask_deep(d, ctx)
        rows.append(d)
    counts = win.counts(occ, only=only)
    as_of, window_end = win.plan.as_of.date().isoformat(), (win.end - pd.Timedelta(days=1)).date().isoformat()
    prov = win.provenance() + ([f"customers matching {conds.asked()}: {len(only):,}"] if only is not None else [])
    return {"as_of": as_of, "days": win.days, "window_end": window_end, "occasion": occ,
            "counts": counts, "total": sum(counts.values()), "shown": len(rows), "entries": rows,
            "festivals": to_jsonable(win.festivals()), "warnings": list(win.plan.warnings),
            "customer_conditions": conds.asked(), "provenance": " · ".join(prov)}


def _render_care(r: dict, zh: bool, focus: dict) -> str:
    counts = r.get("counts") or {}
    ents = r.get("entries") or []
    ctext = ("，".join(f"{OCCASION_ZH.get(k, k)} {fmt_int(v)} 位" for k, v in counts.items()) if zh else
             ", ".join(f"{OCCASION_EN.get(k, k)}: {fmt_int(v)}" for k, v in counts.items()))
    lines = []
    for e in ents[:15]:
        occ = e.get("occasion", "")
        key = "festival" if str(occ).startswith("festival") else occ
        reason = e.get("reason_zh") if zh else e.get("reason_en")
        if zh:
            lines.append(f"{e.get('date')} {who(e, zh)}：{OCCASION_ZH.get(key, key)}" + (f"（{reason}）" if reason else ""))
        else:
            lines.append(f"{e.get('date')} {who(e, zh)}: {OCCASION_EN.get(key, key)}" + (f" ({reason})" if reason else ""))
    fests = r.get("festivals") or []
    ftxt = "、".join(f"{f.get('zh') or f.get('name')}（{f.get('date')}）" for f in fests) if zh else \
        ", ".join(f"{f.get('en') or f.get('name')} ({f.get('date')})" for f in fests)
    who_zh = "、".join(CustomerConditions(**(r.get("customer_conditions") or {})).words(True))
    who_en = ", ".join(CustomerConditions(**(r.get("customer_conditions") or {})).words(False))
    if zh:
        txt = (f"未来 {fmt_int(r.get('days'))} 天（{r.get('as_of')} 至 {r.get('window_end')}）" + (f"{who_zh}的客户中" if who_zh else "")
               + f"需要关怀 {fmt_int(r.get('total'))} 人次")
        txt += (f"：{ctext}。" if ctext else "。") + (f"节日：{ftxt}。" if ftxt else "")
        return txt + ("\n" + bullets(lines) if lines else "")
    txt = (f"In the next {fmt_int(r.get('days'))} days ({r.get('as_of')} to {r.get('window_end')})" + (f", customers {who_en}" if who_en else "")
           + f": {fmt_int(r.get('total'))} contacts")
    txt += (f" — {ctext}." if ctext else ".") + (f" Festivals: {ftxt}." if ftxt else "")
    return txt + ("\n" + bullets(lines) if lines else "")


_CALENDAR_OCCASIONS = ("birthday", "festival", "winback", "vip_thanks", "regular")


def _care_args(f) -> dict:
    a = {**f.top(), **f.copy(("days", "province", "city")), **who_args(f)}   # "本周哪些女性客户过生日"
    for k in ORDER_CONDITIONS:   # a calendar of dates, not of who stopped ordering or what they bought
        a.pop(k, None)
    if f.slots.get("occasion") in _CALENDAR_OCCASIONS:
        a["occasion"] = f.slots["occasion"]
    return a


register(ToolSpec(
    care_calendar, order=13, roles=EVERY_ROLE, family="care", args=_care_args,
    exemplars=(
        '未来7天谁过生日', '这周有哪些客户过生日', '最近要过生日的客户', '下个月的节日关怀名单', '该联系哪些客户了', '需要回访的客户', '客户关怀日历', '近期有什么节日要发祝福',
        '哪些VIP需要感谢', '哪些客户该定期回访', '中秋节要给哪些客户发祝福', '今天该关怀谁', 'whose birthday is coming up',
        'upcoming customer birthdays', 'care calendar for the next two weeks',
        'who should we contact this week', 'which customers are due for a follow-up',
        'upcoming festivals to greet customers', 'customers with birthdays next week',
        'who needs a check-in call', 'care reminders', '近期有哪些节日要给客户发祝福',
        'which VIPs should we thank this month',
    ),
    cues=(
        Cue(r"(感谢|答谢|致谢|thank).{0,12}(哪些|哪位|谁|which|who)|(哪些|哪位|谁|which|who).{0,24}(感谢|答谢|致谢|thank)", 0.3),
        Cue(r"过生日|生日|寿星|birthday|b-day|节日|festival|holiday|关怀|回访|该联系|需要联系|要联系|联系谁|该问候|"
            r"due for|check[- ]?in|follow[- ]?up|reach out|care calendar|contact (this|next)|who (should|to) (we )?contact|"
            r"春节|中秋|国庆|元旦|圣诞|christmas|new year|端午|元宵|greet", 0.15),
    ),
    render=_render_care, help_zh="关怀日历", help_en="the care calendar",
    example_zh="未来7天谁过生日?", example_en="Whose birthday is in the next 7 days?"))


# =========================================================================== draft_care_message
def draft_care_message(customer_id: str,
                       occasion: Literal["birthday", "festival", "winback", "complaint_followup",
                                         "vip_thanks", "recommendation"],
                       channel: Literal["sms", "wechat", "email"] = "sms",
                       language: Literal["auto", "zh", "en"] = "auto",
                       tone: Literal["warm", "formal", "playful"] = "warm",
                       festival: str | None = None, feedback_id: str | None = None,
                       *, ctx: ToolContext | None = None) -> dict:
    """Draft a care message for one customer (a person reviews and sends it; nothing is sent):
    birthday, festival greeting, win-back, complaint follow-up, VIP thanks or product
    recommendation, sized for SMS / WeChat / e-mail, with the source of every personal detail.

    Args:
        customer_id: the customer's id, e.g. C01023
        occasion: birthday, festival, winback, complaint_followup, vip_thanks or recommendation
        channel: sms (one message: 70 Chinese / 160 GSM-7 characters), wechat or email (with subject)
        language: zh, en or auto (from the customer's name)
        tone: warm, formal or playful
        festival: for occasion festival: 春节, 中秋, 国庆, 元旦, Christmas, New Year ... (default the next one)
        feedback_id: for complaint_followup: which complaint (default the customer's latest)
    """
    from tools.drafts import draft_care_message as compose
    ctx = context(ctx)
    ws = ctx.ws
    cid = resolve_customer_id(ws, customer_id)
    d = compose(ws, cid, occasion, channel=channel, language=language, tone=tone, festival=festival,
                feedback_id=feedback_id, as_of=ws.as_of())
    out = d.to_dict()
    out["provenance"] = " · ".join(d.provenance)
    return out


def _render_draft(r: dict, zh: bool, focus: dict) -> str:
    ch = r.get("channel")
    lim = r.get("limit")
    subj = r.get("subject")
    src = r.get("sources") or []
    srcs = ("；".join(f"{s.get('detail')}={s.get('value')}（{s.get('source')}）" for s in src) if zh else
            "; ".join(f"{s.get('detail')}={s.get('value')} ({s.get('source')})" for s in src))
    if zh:
        head = f"给 {who(r, zh)} 的{OCCASION_ZH.get(r.get('occasion'), r.get('occasion'))}草稿（{ch}" + \
               (f"，{fmt_int(r.get('length'))}/{fmt_int(lim)} 字" if lim else "") + "）：\n"
        body = (f"主题：{subj}\n" if subj else "") + str(r.get("text"))
        warn = "；".join(map(str, r.get("warnings") or []))
        return head + body + ("\n个人信息来源：" + srcs if srcs else "") + (f"\n提示：{warn}" if warn else "") + \
            "\n（仅为草稿，需人工审核后发送，Guanxi 不会发送任何消息。）"
    head = f"Draft {OCCASION_EN.get(r.get('occasion'), r.get('occasion'))} message for {who(r, zh)} ({ch}" + \
           (f", {fmt_int(r.get('length'))}/{fmt_int(lim)} characters" if lim else "") + "):\n"
    body = (f"Subject: {subj}\n" if subj else "") + str(r.get("text"))
    warn = "; ".join(map(str, r.get("warnings") or []))
    return head + body + ("\nPersonal details from: " + srcs if srcs else "") + (f"\nNote: {warn}" if warn else "") + \
        "\n(Draft only: a person reviews and sends it; Guanxi sends nothing.)"


_DRAFT_OCCASIONS = ("birthday", "festival", "winback", "complaint_followup", "vip_thanks", "recommendation")


def _draft_args(f) -> dict:
    s = f.slots
    occ = s.get("occasion")
    a: dict = {"occasion": occ if occ in _DRAFT_OCCASIONS else "vip_thanks" if occ == "regular" else
               "festival" if s.get("festival") else "birthday" if occ is None else "vip_thanks"}
    if s.get("festival"):
        a["festival"] = s["festival"]
    for k, key in (("channel", "channel"), ("tone", "tone"), ("draft_language", "language")):
        if s.get(k):
            a[key] = s[k]
    return a


def _draft_inherit(args: dict, new: dict, f) -> None:
    if not f.slots.get("occasion"):
        new.pop("occasion", None)  # "换成微信": the same occasion on another channel


register(ToolSpec(
    draft_care_message, order=14, roles=EVERY_ROLE, family="draft", customer="required",
    args=_draft_args, inherit=_draft_inherit,
    exemplars=(
        '给该客户写一条生日祝福短信', '帮我给该客户起草一条关怀消息', '给该客户写个中秋祝福', '写一封感谢信给该客户', '给该客户拟一条挽回短信', '帮我写条微信发给该客户',
        '给该客户写一条推荐商品的消息', '起草投诉回访消息给该客户', '给该分群客户批量写挽回短信', '写一条春节祝福',
        'draft a birthday message for the customer', 'write a win-back SMS to the customer',
        'compose a thank-you email for the customer',
        "write a follow-up message after the customer's complaint",
        'draft a Christmas greeting for the customer',
        'write a WeChat message recommending products to the customer',
        'prepare a care message for the customer', 'draft messages for all this segment customers',
        '给该客户发个微信问候一下', '给该客户发条短信', 'send the customer a birthday text',
        'email the customer about new arrivals',
    ),
    cues=(
        Cue(r"(写|起草|草拟|拟|编写|撰写|生成|准备|帮我写).{0,12}(短信|消息|微信|邮件|祝福|信|文案|问候|关怀|感谢|贺卡|贺词|话术|回访|致歉|道歉)|"
            r"(发|送)(个|一个|一条|条|一段|段|一封|封|点)?.{0,10}(短信|微信消息|消息|邮件|祝福|问候|贺卡)|(语气|口吻).{0,6}(点|些|一点|的)|"
            r"\b(in a|with a) (formal|playful|warm|friendly|casual) tone\b|"
            r"\bsend\b.{0,40}\b(text|message|sms|note|e-?mail|card|greeting|wish(es)?|wechat)\b|"
            r"(发|送)(个|一个|一条|一段|一封)?.{0,6}(问候|祝福|短信|消息|贺卡).{0,8}(拟|写|起草)|帮我拟|拟一下|起草一下|"
            r"(短信|消息|文案|微信|邮件|祝福语?)(草稿|模板)|\bdrafts?\b|\bcompose\b|\bwrite\b.{0,40}\b(sms|message|text|email|e-mail|"
            r"wechat|note|greeting|letter|card|wish(es)?)|\bprepare\b.{0,20}\b(message|sms|email|greeting)", 0.35),
    ),
    render=_render_draft, help_zh="关怀消息草稿", help_en="care-message drafts",
    example_zh="给C00012写一条生日祝福短信", example_en="Draft a birthday SMS for C00012"))


# =========================================================================== draft_care_batch
ChurnRisk = Literal["high", "at_risk"]


def churn_risk_floor(churn_risk: str | None, min_probability: float | None) -> float | None:
    """The lowest churn probability a batch keeps: ``min_probability`` (0-1, or a percentage), else
    "high" = the churn tool's high risk band (≥ 0.6), "at_risk" = the at-risk lists' threshold (0.5)."""
    if min_probability is not None:
        p = float(min_probability)
        p = p / 100 if 1 < p <= 100 else p
        if not 0 <= p <= 1:
            raise ToolError(f"min_probability must be between 0 and 1, got {min_probability}")
        return p
    if churn_risk in (None, ""):
        return None
    from tools.churn import RISK_BANDS
    from tools.kpi import AT_RISK_PROBABILITY
    floors = {"high": dict(RISK_BANDS)["high"], "at_risk": AT_RISK_PROBABILITY}
    if churn_risk not in floors:
        raise ToolError(f"churn_risk must be one of {', '.join(floors)}, got {churn_risk!r}")
    return floors[churn_risk]


def _batch_members(ws, segment: str, floor: float | None, conds: CustomerConditions):
    """(the segment's ids, those the filters keep — in the segment's order —, the filters in words)."""
    from tools.care_data import care_data
    ids = care_data(ws).segment_ids(segment)
    if floor is None and not conds.asked():
        return ids, ids, []
    keep = pd.Series(True, index=pd.Index(ids, dtype=object))
    words = []
    if floor is not None:   # the churn artefact, as at_risk_customers reads it
        p = artefact_by_id(ws, "churn", "churn scores")["churn_probability"].reindex(keep.index)
        keep &= p.ge(floor).to_numpy()
        words.append(f"churn_probability ≥ {floor:g} (churn artefact)")
    if conds.asked():
        keep &= keep_in_workspace(ws, conds, keep.index)
        words += [f"{k} {v}" for k, v in conds.asked().items()]
    return ids, [i for i in ids if keep[i]], words


@conditions_documented
def draft_care_batch(segment: str,
                     occasion: Literal["birthday", "festival", "winback", "complaint_followup",
                                       "vip_thanks", "recommendation"] = "vip_thanks",
                     channel: Literal["sms", "wechat", "email"] = "sms",
                     language: Literal["auto", "zh", "en"] = "auto",
                     tone: Literal["warm", "formal", "playful"] = "warm",
                     festival: str | None = None, churn_risk: ChurnRisk | None = None,
                     min_probability: float | None = None, province: str | None = None, city: str | None = None,
                     gender: Literal["F", "M"] | None = None,
                     age_band: Literal["<25", "25-34", "35-44", "45-54", "55+"] | None = None,
                     age_min: int | None = None, age_max: int | None = None, born_from: int | None = None,
                     born_to: int | None = None, signup_channel: str | None = None, silent_days: int | None = None,
                     no_order_from: str | None = None, no_order_to: str | None = None,
                     ordered_from: str | None = None, ordered_to: str | None = None,
                     bought_product: str | None = None, bought_category: str | None = None,
                     bought_from: str | None = None, bought_to: str | None = None, not_bought: bool = False,
                     *, ctx: ToolContext | None = None) -> dict:
    """Draft a care message for every customer of a segment — optionally only those at churn risk, in
    one place, of one gender, age or sign-up channel — into a CSV file for a person to review and send
    (nothing is sent); contacts in the file are masked for every role but admin.

    Args:
        segment: a segment name in English or Chinese (Champions, 重要价值客户, 高价值客户, At Risk …) or "all"
        occasion: birthday, festival, winback, complaint_followup, vip_thanks or recommendation
        channel: sms, wechat or email
        language: zh, en or auto (from each customer's name)
        tone: warm, formal or playful
        festival: for occasion festival: 春节, 中秋, 国庆, 元旦, Christmas ... (default the next one)
        churn_risk: only the customers at this churn risk (churn artefact): high (流失风险高, probability
            ≥ 0.6) or at_risk (有流失风险 / 快流失, probability ≥ 0.5, as the at-risk list)
        min_probability: only the customers with churn probability ≥ this (0-1; "流失概率超过80%")
    """
    from tools.drafts_batch import write_batch
    ctx = context(ctx)
    ws = ctx.ws
    floor = churn_risk_floor(churn_risk, min_probability)
    conds = CustomerConditions(province=province, city=city, gender=gender, age_band=age_band, age_min=age_min,
                             age_max=age_max, born_from=born_from, born_to=born_to, signup_channel=signup_channel,
                             silent_days=silent_days,
                             no_order_from=no_order_from, no_order_to=no_order_to, ordered_from=ordered_from, ordered_to=ordered_to,
                             bought_product=bought_product, bought_category=bought_category, bought_from=bought_from, bought_to=bought_to,
                             not_bought=not_bought)
    ids, only, words = _batch_members(ws, segment, floor, conds)
    base = {"segment": segment, "occasion": occasion, "channel": channel, "segment_size": len(ids),
            "churn_risk": churn_risk if min_probability is None else None, "min_probability": floor,
            "province": province, "city": city, "customer_conditions": conds.asked()}
    prov = f"tools.drafts.draft_batch · segment {segment} ({len(ids):,} customers)" + "".join(f" · {w}" for w in words)
    if words and not only:   # nothing to draft: say so, write no empty file
        return {**base, "rows": 0, "drafted": 0, "with_warnings": 0, "path": None, "masked": not ctx.unmasked,
                "provenance": prov + " · 0 customers matched"}
    slug = re.sub(r"[^\w\u4e00-\u9fff]+", "_", str(segment)).strip("_") or "segment"
    # the file has contacts (in clear for an admin): it goes to its maker's own folder, under a random id
    out = new_export_path(ws.root, ctx.user or ctx.role, f"drafts-{slug}-{occasion}-{channel}.csv",
                          ctx.settings.export_ttl_minutes)
    done = write_batch(ws, segment, occasion, channel, language, out, tone=tone, festival=festival,
                       unmask=ctx.unmasked, only=only)   # counted as written, not read back
    return {**base, "rows": done.rows, "drafted": done.drafted, "with_warnings": done.with_warnings,
            "path": str(done.path), "masked": not ctx.unmasked,
            "provenance": f"{prov} · {done.rows:,} customers drafted · {done.path.name}"}


_RISK_ZH = {"high": "流失风险高", "at_risk": "有流失风险"}
_RISK_EN = {"high": "at high churn risk", "at_risk": "at risk of churning"}


def _batch_filters(r: dict, zh: bool) -> str:
    """The filters of a batch in words ("流失风险高（流失概率 ≥ 60%）、杭州市"), "" for none."""
    p, risk = r.get("min_probability"), r.get("churn_risk")
    parts = [] if p is None else [(f"{_RISK_ZH[risk]}（流失概率 ≥ {fmt_pct(p, 0)}）" if risk in _RISK_ZH else f"流失概率 ≥ {fmt_pct(p, 0)}")
                                  if zh else (f"{_RISK_EN[risk]} (churn probability ≥ {fmt_pct(p, 0)})" if risk in _RISK_EN
                                              else f"with churn probability ≥ {fmt_pct(p, 0)}")]
    parts += CustomerConditions(**(r.get("customer_conditions") or {k: r.get(k) for k in ("province", "city")})).words(zh)
    return ("、" if zh else ", ").join(parts)


def _render_batch(r: dict, zh: bool, focus: dict) -> str:
    occ = (OCCASION_ZH if zh else OCCASION_EN).get(r.get("occasion"), r.get("occasion"))
    filt, seg, n, size = _batch_filters(r, zh), r.get("segment"), r.get("rows"), r.get("segment_size")
    seg = ("全部客户" if zh else "all customers") if str(seg).lower() == ALL_CUSTOMERS else seg
    if zh:
        head = (f"「{seg}」共 {fmt_int(size)} 位客户，按{filt}筛选后 {fmt_int(n)} 位符合条件" if filt else "")
        if filt and not n:
            return head + "，没有生成草稿。"
        return ((head + "；已为这些客户" if filt else f"已为「{seg}」的 {fmt_int(n)} 位客户") + f"生成{occ}草稿（{r.get('channel')}），"
                f"其中 {fmt_int(r.get('drafted'))} 条可用、{fmt_int(r.get('with_warnings'))} 条有提示；文件：{r.get('path')}"
                + ("（联系方式已脱敏）" if r.get("masked") else "") + "。草稿需人工审核后发送，Guanxi 不会发送任何消息。")
    head = f"Of the {fmt_int(size)} customers of \"{seg}\", {fmt_int(n)} are {filt}" if filt else ""
    if filt and not n:
        return head + ": no drafts written."
    return ((head + f"; drafted {occ} messages ({r.get('channel')}) for them: " if filt else
             f"Drafted {occ} messages ({r.get('channel')}) for the {fmt_int(n)} customers of \"{seg}\": ") +
            f"{fmt_int(r.get('drafted'))} ready, {fmt_int(r.get('with_warnings'))} with warnings; file: {r.get('path')}"
            + (" (contacts masked)" if r.get("masked") else "") + ". A person reviews and sends them; Guanxi sends nothing.")


def _batch_args(f) -> dict:
    s = f.slots
    a = {k: v for k, v in _draft_args(f).items() if k != "language" or v}
    if s.get("segment"):
        a["segment"] = s["segment"]
    a.update(f.copy(("churn_risk", "province", "city")))   # "流失风险高的重要价值客户", "杭州的冠军客户"
    a.update(who_args(f))   # "女性", "30岁以下的", "90后的", "抖音来的"
    if s.get("min_probability") is not None and re.search(r"流失|churn", f.q, re.I):   # "流失概率超过80%的": that number
        a.pop("churn_risk", None)
        a["min_probability"] = s["min_probability"]
    if ("silent_days" in a or "no_order_from" in a) and not s.get("occasion"):
        a["occasion"] = "winback"   # "给超过90天没下单的客户写短信": customers gone quiet, a win-back
    if "churn_risk" in a or "min_probability" in a:
        a.setdefault("segment", ALL_CUSTOMERS)   # "给流失风险高的客户写短信": every customer at that risk
        if not s.get("occasion"):
            a["occasion"] = "winback"   # "写关怀短信" to customers about to leave: a win-back
    return a


_MANY = re.compile(r"所有|全部|每个|每位|每一位|各位|批量|群发|一批|\b(every|each|all|bulk|batch|mass)\b", re.I)


def _for_a_segment(f) -> bool:
    """A message for a named segment, or for the customers at a churn risk, and no one customer
    ("给冠军客户每人写一条生日短信", "给流失风险高的客户写挽回短信") is a batch."""
    return not f.has_customer and (bool(f.slots.get("churn_risk")) or bool(f.slots.get("segment")) and bool(
        f.slots.get("segment_strong") or f.segment_words or _MANY.search(f.q)))


register(ToolSpec(
    draft_care_batch, order=15, roles=MANAGERS, family="draft_batch", needs=("segment",),
    serves=(Serve("draft_batch"), Serve("draft", _for_a_segment, 10)),
    args=_batch_args, inherit=bought_inherit,
    exemplars=(
        "给该分群的客户批量写生日短信", "给该分群群发一条节日祝福", "为该分群所有客户生成挽回短信草稿", "批量给该分群写感谢信",
        "导出该分群的关怀短信", "该分群每个人都写一条关怀消息",
        "draft birthday SMS for everyone in this segment", "write a win-back message to every customer in this segment",
        "bulk draft festival greetings for this segment", "export care messages for all customers in this segment",
        "prepare thank-you messages for each customer of this segment",
    ),
    cues=(Cue(r"批量|群发|一批|导出.{0,8}(短信|消息|草稿|文案)|(所有|全部|每个|每位|每一位).{0,8}(客户|人|会员).{0,10}(写|发|生成|起草)|"
              r"\b(bulk|batch|mass)\b.{0,30}\b(messages?|sms|drafts?|greetings?)\b|"
              r"\b(every|each|all)\b.{0,20}\b(customers?|members?)\b.{0,20}\b(message|sms|draft|greeting|note)", 0.4),),
    render=_render_batch, help_zh="分群批量草稿", help_en="batch drafts for a segment",
    example_zh="给重要价值客户批量写生日短信", example_en="Draft birthday SMS for all Champions"))
