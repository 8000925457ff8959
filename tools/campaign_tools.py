"""Campaign tools: create a campaign from chat (a *draft*: a manager approves it in the app's Campaigns
page), list the campaigns, show one. The logic is in :mod:`tools.campaigns` (targets, contact rules,
control group) and :mod:`tools.campaigns_flow` (drafts, approval, export, marked sent).

Guanxi never sends a message: a person exports the approved campaign for the SMS / e-mail platform
and marks it sent.
"""
from __future__ import annotations

import re
from typing import Literal

from tools.context import ToolContext, ToolError, context
from tools.formatting import OCCASION_EN, OCCASION_ZH, bullets, fmt_int, fmt_pct
from tools.spec import EVERY_ROLE, MANAGERS, Cue, ToolSpec, register

__all__ = ["create_campaign", "list_campaigns", "show_campaign", "EXCLUDED_ZH", "EXCLUDED_EN", "STATE_EN"]

EXCLUDED_ZH = {"opt_out": "已退订/拒收", "no_contact": "无可用联系方式", "frequency_cap": "近期已收到营销消息（频次上限）",
               "other_campaign": "已在另一个待发送的活动中", "control_elsewhere": "是另一个活动的对照组"}
EXCLUDED_EN = {"opt_out": "opted out", "no_contact": "no usable contact for the channel",
               "frequency_cap": "contacted too recently (frequency cap)", "other_campaign": "in another campaign waiting to be sent",
               "control_elsewhere": "in another campaign's control group"}
STATE_ZH = {"drafted": "草稿（待审批）", "approved": "已审批（待导出）", "exported": "已导出（待标记发送）", "sent": "已发送",
            "cancelled": "已取消"}
STATE_EN = {"drafted": "drafted (to approve)", "approved": "approved (to export)", "exported": "exported (to mark sent)",
            "sent": "sent", "cancelled": "cancelled"}
CHANNEL_ZH = {"sms": "短信", "wechat": "微信", "email": "邮件"}
TargetKind = Literal["auto", "segment", "cn8", "at_risk", "care_calendar", "cluster", "metric_query", "customers"]
Occasion = Literal["auto", "birthday", "festival", "winback", "complaint_followup", "vip_thanks", "recommendation"]


def _pick_offer(ws, occasion: str, festival, as_of) -> tuple[str | None, str | None]:
    """("auto"): the first offer of offers.toml for the occasion that is valid on its date; or why none."""
    from tools.campaigns_flow import check_offer
    from tools.offers import load_offers
    ol = load_offers(ws)
    for o in ol.offers:
        try:
            if any(str(x).split(":")[0] in (occasion, "*", "all", "any") for x in o.occasions):
                return check_offer(ws, o.id, occasion, festival, as_of), None
        except ToolError:
            continue
    return None, f"no offer in offers.toml is valid for {occasion} on the campaign's date: drafts have no offer"


# =========================================================================== create_campaign
def create_campaign(target: TargetKind = "auto", top: int | None = None, segment: str | None = None,
                    cluster: str | None = None, days: int | None = None, min_days_since_order: int | None = None,
                    city: str | None = None, province: str | None = None, customer_ids: str | None = None,
                    occasion: Occasion = "auto", channel: Literal["sms", "wechat", "email"] = "sms",
                    language: Literal["auto", "zh", "en"] = "auto", tone: Literal["warm", "formal", "playful"] = "warm",
                    offer: str | None = None, festival: str | None = None, name: str | None = None,
                    *, ctx: ToolContext | None = None) -> dict:
    """Create a care / marketing campaign as a draft (a manager approves, exports and marks it sent in
    the app's Campaigns page; nothing is sent): the target, customers left out by the contact rules
    (opted out, no contact, frequency cap ...) counted by reason, and a random control group.

    Args:
        target: at_risk (the at-risk list), care_calendar (birthdays / festivals in the next N days),
            segment, cn8 (the eight classes), cluster, metric_query (days since the last order, place),
            customers (explicit ids) or auto (from the other arguments)
        top: for at_risk: how many of the most at-risk customers (default: all with probability ≥ 0.5)
        segment: an RFM segment, eight-class name or tier (Champions, 重要挽留客户 …)
        cluster: a cluster number or name
        days: for care_calendar: the window in days (default 7)
        min_days_since_order: for metric_query: customers with no order in at least this many days
        city: only customers in this city, e.g. 上海
        province: only customers in this province
        customer_ids: for customers: ids separated by commas
        occasion: birthday, festival, winback, complaint_followup, vip_thanks, recommendation (auto: from the target)
        channel: sms, wechat or email
        language: zh, en or auto (from each customer's name)
        tone: warm, formal or playful
        offer: an offer id from offers.toml, or "auto" (the first valid for the occasion); default none
        festival: for occasion festival: 春节, 中秋, Christmas …
        name: the campaign's name
    """
    from tools.campaigns import create_campaign as create
    ctx = context(ctx)
    ws = ctx.ws
    kind = target
    if kind in (None, "", "auto"):
        kind = ("customers" if customer_ids else "cluster" if cluster is not None else
                "metric_query" if min_days_since_order is not None else
                "care_calendar" if occasion in ("birthday", "festival") else
                "at_risk" if occasion == "winback" or (top and not segment) else
                "segment" if segment else None)
        if kind is None:
            raise ToolError("which customers is the campaign for? e.g. the at-risk list, next week's birthdays, "
                            "a segment, or customers who have not bought in 90 days")
    spec = {"top": top, "segment": segment, "cluster": cluster, "city": city, "province": province,
            "min_days_since_order": min_days_since_order, "ids": customer_ids}
    if kind == "care_calendar":
        spec.update(days=days or 7, occasion=occasion if occasion in ("birthday", "festival") else "birthday")
    occ = None if occasion in (None, "", "auto") else occasion
    notes = []
    if offer and str(offer).lower() == "auto":
        from tools.campaigns import DEFAULT_OCCASION
        o_occ = occ or DEFAULT_OCCASION.get(kind, "vip_thanks")
        offer, note = _pick_offer(ws, o_occ, festival, ws.as_of())
        notes += [note] if note else []
    c = create(ws, actor=ctx.user or ctx.role, role=ctx.role, target_kind=kind, target_spec=spec, name=name,
               occasion=occ, channel=channel, language=language, tone=tone, offer=offer, festival=festival,
               holdout_share=ctx.settings.campaign_holdout_percent / 100, cap_days=ctx.settings.contact_cap_days)
    out = c.summary()
    out["warnings"] = notes + out["warnings"]
    out["cap_days"] = ctx.settings.contact_cap_days
    out.pop("history", None)
    out["provenance"] = (f"tools.campaigns.create_campaign · target {c.target['kind']} · contact rules: opt-out, "
                         f"contact for {c.channel}, frequency cap {ctx.settings.contact_cap_days} days · holdout "
                         f"{fmt_pct(c.holdout_share, 0)} seed {c.seed} · event log campaign_created {c.id}")
    return out


WARNINGS_ZH = {"the target has no customer": "目标中没有客户",
               "every targeted customer is excluded by the contact rules: nobody to message": "目标客户全部被联系规则排除，没有可发送的客户",
               "too few eligible customers for a control group: the effect cannot be measured": "可发送的客户太少，无法留出对照组，效果将无法衡量"}


def _warnings(r: dict, zh: bool) -> list[str]:
    out = []
    for w in r.get("warnings") or []:
        if w and zh and w.startswith("no offer in offers.toml"):
            w = "offers.toml 中没有在活动日期有效、适用于该场景的优惠：草稿不含优惠"
        out.append(WARNINGS_ZH.get(w, w) if zh else w)
    return [w for w in out if w]


def _excluded_text(counts: dict, zh: bool) -> str:
    ex = {k: v for k, v in (counts.get("excluded") or {}).items() if v}
    if not ex:
        return "无人被排除" if zh else "nobody excluded"
    if zh:
        return f"排除 {fmt_int(sum(ex.values()))} 位（" + "，".join(f"{EXCLUDED_ZH.get(k, k)} {fmt_int(v)}" for k, v in ex.items()) + "）"
    return f"{fmt_int(sum(ex.values()))} excluded (" + ", ".join(f"{EXCLUDED_EN.get(k, k)}: {fmt_int(v)}" for k, v in ex.items()) + ")"


def _what(r: dict, zh: bool) -> str:
    occ = r.get("occasion")
    ch = r.get("channel")
    if zh:
        return f"{OCCASION_ZH.get(occ, occ)}·{CHANNEL_ZH.get(ch, ch)}" + (f"·优惠 {r['offer']}" if r.get("offer") else "")
    return f"{OCCASION_EN.get(occ, occ)} by {ch}" + (f", offer {r['offer']}" if r.get("offer") else "")


def _render_created(r: dict, zh: bool, focus: dict) -> str:
    n = r.get("counts") or {}
    t = r.get("target") or {}
    warn = _warnings(r, zh)
    if zh:
        txt = (f"已创建活动草稿 {r.get('campaign_id')}（{_what(r, zh)}）。\n"
               f"- 目标：{t.get('description_zh')}，共 {fmt_int(n.get('targeted'))} 位\n"
               f"- 联系规则：{_excluded_text(n, zh)}\n"
               f"- 对照组：{fmt_int(n.get('control'))} 位（{fmt_pct(r.get('holdout_share'), 0)}，按 RFM 分群随机留出，不发送，用于衡量效果）\n"
               f"- 待发送：{fmt_int(n.get('treated'))} 位\n\n"
               f"下一步：经理或管理员在「营销活动」页审核草稿、审批、导出，发送后标记已发送。Guanxi 不会发送任何消息。")
        return txt + (f"\n\n提示：{'；'.join(warn)}" if warn else "")
    txt = (f"Created draft campaign {r.get('campaign_id')} ({_what(r, zh)}).\n"
           f"- Target: {t.get('description_en')}: {fmt_int(n.get('targeted'))} customers\n"
           f"- Contact rules: {_excluded_text(n, zh)}\n"
           f"- Control group: {fmt_int(n.get('control'))} ({fmt_pct(r.get('holdout_share'), 0)}, held out at random per RFM "
           f"segment, not messaged, to measure the effect)\n"
           f"- To message: {fmt_int(n.get('treated'))}\n\n"
           f"Next: a manager or admin reviews the drafts in the Campaigns page, approves, exports, and marks it sent. "
           f"Guanxi sends nothing.")
    return txt + (f"\n\nNote: {'; '.join(warn)}" if warn else "")


_CREATE_VERB = (r"(做|搞|办|发起|发|创建|新建|建|策划|安排|来|跑|开展|组织|启动|弄|设|开)(?![了过]?(多少|几))"   # not "发了多少条"
                r"(一|个|一个|一次|一波|一场|场|次|波)?"
                r".{0,16}(活动|营销|campaign)|"
                r"(活动|营销活动)(草稿)?.{0,4}(创建|新建|发起)|(发|送)(个|张|点|些|一波)?(优惠券|红包)|"
                r"\b(run|create|start|launch|set up|setup|plan|make|build|do|new)\b.{0,40}\bcampaigns?\b")
_DAYS_NOT_BOUGHT = re.compile(r"(\d+)\s*(天|日|days?)\s*(以上|多)?\s*(没|未|不|没有|no|not|without|haven't|hasn't)"
                              r"|(没|未|没有)(买|下单|购买|消费)过?\s*(\d+)\s*天|(no order|not (bought|ordered)|haven't (bought|ordered)|"
                              r"inactive).{0,12}?(\d+)\s*days", re.I)
_OFFER = re.compile(r"优惠|券|折扣|打折|满减|红包|促销|coupon|discount|voucher|offer|promo", re.I)
_CHURN = re.compile(r"流失|挽回|挽留|召回|唤醒|churn|at[- ]risk|win[- ]?back|lapsed|losing", re.I)


_HOW_MANY = re.compile(r"(\d+)\s*(个|位|名)?\s*(人|客户|顾客|会员)|\b(\d+)\s+(customers|people|members)\b", re.I)


def _how_many(f) -> int | None:
    if f.slots.get("top"):
        return f.slots["top"]
    m = _HOW_MANY.search(f.q)
    return int(m.group(1) or m.group(4)) if m else None


def _not_bought_days(q: str) -> int | None:
    m = _DAYS_NOT_BOUGHT.search(q)
    if not m:
        return None
    return int(next(g for g in (m.group(1), m.group(7), m.group(11)) if g))


def _create_args(f) -> dict:
    s = f.slots
    a: dict = {k: s[k] for k in ("city", "province") if s.get(k)}
    quiet = _not_bought_days(f.q)
    occ = s.get("occasion")
    if quiet is not None:
        a.update(target="metric_query", min_days_since_order=quiet)
        if s.get("segment") and s.get("segment_strong"):
            a["segment"] = s["segment"]
    elif s.get("festival"):      # a named festival: greet the segment (everyone), not the calendar's window
        a.update(target="segment", segment=s["segment"] if s.get("segment") else "all")
        occ = "festival"
    elif occ in ("birthday", "festival") or re.search(r"生日|birthday|节日|festival", f.q, re.I):
        a.update(target="care_calendar", days=s.get("days") or 7)
        occ = occ if occ in ("birthday", "festival") else ("festival" if re.search(r"节日|festival", f.q, re.I) else "birthday")
    elif _CHURN.search(f.q):
        a["target"] = "at_risk"
        if _how_many(f):
            a["top"] = _how_many(f)
        if s.get("segment") and s.get("segment_strong") and s["segment"] != "At Risk":
            a["segment"] = s["segment"]
    elif s.get("segment"):
        a.update(target="segment", segment=s["segment"])
    elif _how_many(f):
        a.update(target="at_risk", top=_how_many(f))
    if occ in ("birthday", "festival", "winback", "complaint_followup", "vip_thanks", "recommendation"):
        a["occasion"] = occ
    elif a.get("target") in ("at_risk", "metric_query"):
        a["occasion"] = "winback"
    if s.get("festival"):
        a["festival"] = s["festival"]
    for k, key in (("channel", "channel"), ("tone", "tone"), ("draft_language", "language")):
        if s.get(k):
            a[key] = s[k]
    if _OFFER.search(f.q):
        a["offer"] = "auto"
    return a


register(ToolSpec(
    create_campaign, order=16, roles=MANAGERS, family="campaign_create", args=_create_args,
    exemplars=(
        "给流失风险最高的 200 个客户做一次挽回活动", "给该地区90天没买过的客户发个优惠券活动", "给下周过生日的客户做一个生日关怀活动",
        "为该分群创建一个营销活动", "策划一次中秋节日问候活动", "发起一个挽回活动", "搞一波召回活动，给最可能流失的100人",
        "run a birthday campaign for next week's birthdays", "create a win-back campaign for the 200 customers most at risk",
        "start a campaign for customers in this region who haven't bought in 90 days",
        "launch a campaign for this segment", "set up a festival greeting campaign",
    ),
    cues=(Cue(_CREATE_VERB, 0.6),),
    render=_render_created, help_zh="创建营销活动（草稿、排除规则、对照组）", help_en="create a campaign (draft, contact rules, control group)",
    example_zh="给流失风险最高的 200 个客户做一次挽回活动", example_en="Run a birthday campaign for next week's birthdays"))


# =========================================================================== list_campaigns
def list_campaigns(state: Literal["all", "drafted", "approved", "exported", "sent", "cancelled"] = "all",
                   top: int = 20, *, ctx: ToolContext | None = None) -> dict:
    """The workspace's campaigns, newest first: state, target, counts treated / control / excluded.

    Args:
        state: only campaigns in this state (drafted, approved, exported, sent, cancelled; default all)
        top: how many to list (default 20)
    """
    from tools.campaigns import campaigns
    ctx = context(ctx)
    every = campaigns(ctx.ws)
    chosen = [c for c in every if state in (None, "", "all") or c.state == state]
    rows = []
    for c in chosen[: max(1, min(int(top or 20), 200))]:
        s = c.summary()
        s.pop("history", None)
        rows.append(s)
    by_state: dict[str, int] = {}
    for c in every:
        by_state[c.state] = by_state.get(c.state, 0) + 1
    return {"total": len(every), "matching": len(chosen), "state": state or "all", "by_state": by_state,
            "campaigns": rows, "provenance": f"event log {ctx.ws.events_path.name}: campaign_* events · {len(every)} campaigns"}


def _line(c: dict, zh: bool) -> str:
    n = c.get("counts") or {}
    t = c.get("target") or {}
    if zh:
        return (f"{c.get('campaign_id')}（{c.get('created_at', '')[:10]}，{STATE_ZH.get(c.get('state'), c.get('state'))}）："
                f"{_what(c, zh)}，{t.get('description_zh')}；发送 {fmt_int(n.get('treated'))}、对照 {fmt_int(n.get('control'))}、"
                f"排除 {fmt_int(n.get('excluded_total'))}")
    return (f"{c.get('campaign_id')} ({c.get('created_at', '')[:10]}, {STATE_EN.get(c.get('state'), c.get('state'))}): "
            f"{_what(c, zh)}, {t.get('description_en')}; treated {fmt_int(n.get('treated'))}, control "
            f"{fmt_int(n.get('control'))}, excluded {fmt_int(n.get('excluded_total'))}")


def _render_list(r: dict, zh: bool, focus: dict) -> str:
    rows = r.get("campaigns") or []
    if not r.get("total"):
        return ("还没有营销活动。可以说“给流失风险最高的 200 个客户做一次挽回活动”来创建一个草稿。" if zh else
                "No campaigns yet. Say \"create a win-back campaign for the 200 customers most at risk\" to draft one.")
    states = r.get("by_state") or {}
    if zh:
        head = f"共有 {fmt_int(r.get('total'))} 个活动（" + "，".join(f"{STATE_ZH.get(k, k)} {v}" for k, v in states.items()) + "）"
        head += f"，以下 {fmt_int(len(rows))} 个" + (f"为「{STATE_ZH.get(r['state'], r['state'])}」" if r.get("state") != "all" else "") + "，最新的在前：\n"
    else:
        head = f"{fmt_int(r.get('total'))} campaigns (" + ", ".join(f"{STATE_EN.get(k, k)}: {v}" for k, v in states.items()) + ")"
        head += f"; {fmt_int(len(rows))} shown" + (f" ({r['state']})" if r.get("state") != "all" else "") + ", newest first:\n"
    return head + bullets([_line(c, zh) for c in rows])


_STATE_WORDS = (("drafted", r"待审批|未审批|没审批|还没审|草稿|waiting for approval|to approve|not approved|drafted"),
                ("approved", r"待导出|已审批|approved"), ("exported", r"待发送|还没发送?|没发出|已导出|not (yet )?sent|exported"),
                ("sent", r"已发送|发过的|sent\b"), ("cancelled", r"取消|cancel"))


def _state_in(q: str) -> dict:
    return next(({"state": s} for s, rx in _STATE_WORDS if re.search(rx, q, re.I)), {})


register(ToolSpec(
    list_campaigns, order=17, roles=EVERY_ROLE, family="campaign_list",
    args=lambda f: {**f.top(), **_state_in(f.q)},
    exemplars=("最近有哪些活动", "列出所有营销活动", "我们做过哪些活动", "有哪些活动还没发送", "查看活动列表",
               "list the campaigns", "what campaigns have we run", "show recent campaigns", "which campaigns are waiting for approval"),
    cues=(Cue(r"(哪些|什么|列出|所有|全部|查看|看看|看下|最近的?|做过|办过|跑过).{0,8}(营销)?活动(?!.{0,10}(效果|成效|怎么样|如何|有用|提升|对照|处理组|复购|回购|带来))|"
              r"活动(列表|清单|记录)|\b(list|show|recent|all|which|what)\b.{0,20}\bcampaigns\b(?!.{0,30}\b(work|effect|uplift|result))", 0.5),),
    render=_render_list, help_zh="营销活动列表", help_en="the campaigns",
    example_zh="最近有哪些活动?", example_en="List the campaigns"))


# =========================================================================== show_campaign
CAMPAIGN_ID = re.compile(r"\bcmp-\d{8}-[0-9a-z]{2,8}\b", re.I)


def show_campaign(campaign_id: str | None = None, *, ctx: ToolContext | None = None) -> dict:
    """One campaign: its state and history, target, counts treated / control / excluded by reason,
    offer, exports and when it was marked sent (the latest campaign when no id is given).

    Args:
        campaign_id: the campaign's id, e.g. cmp-20261202-ab12 (default the latest)
    """
    from tools.campaigns import campaign, campaigns
    ctx = context(ctx)
    if campaign_id:
        c = campaign(ctx.ws, campaign_id)
    else:
        every = campaigns(ctx.ws)
        if not every:
            return {"campaign_id": None, "state": None, "provenance": f"event log {ctx.ws.events_path.name}: no campaign"}
        c = every[0]
    out = c.summary()
    out["provenance"] = f"event log {ctx.ws.events_path.name}: {len(c.history)} events of {c.id}"
    return out


def _render_show(r: dict, zh: bool, focus: dict) -> str:
    if not r.get("campaign_id"):
        return _render_list({"total": 0}, zh, focus)
    n = r.get("counts") or {}
    t = r.get("target") or {}
    hist = r.get("history") or []
    if zh:
        lines = [f"目标：{t.get('description_zh')}，共 {fmt_int(n.get('targeted'))} 位",
                 f"联系规则：{_excluded_text(n, zh)}",
                 f"对照组 {fmt_int(n.get('control'))} 位（{fmt_pct(r.get('holdout_share'), 0)}），发送 {fmt_int(n.get('treated'))} 位"
                 + (f"，已标记发送 {fmt_int(n.get('sent'))} 位（{r.get('sent_at')}）" if r.get("sent_at") else ""),
                 "经过：" + " → ".join(f"{h['kind'].replace('campaign_', '')} {h['at'][:16]} {h['actor']}" for h in hist)]
        return (f"活动 {r.get('campaign_id')}：{STATE_ZH.get(r.get('state'), r.get('state'))}，{_what(r, zh)}\n"
                + bullets(lines) + "\n")
    lines = [f"Target: {t.get('description_en')}: {fmt_int(n.get('targeted'))} customers",
             f"Contact rules: {_excluded_text(n, zh)}",
             f"Control group {fmt_int(n.get('control'))} ({fmt_pct(r.get('holdout_share'), 0)}), treated {fmt_int(n.get('treated'))}"
             + (f", marked sent to {fmt_int(n.get('sent'))} on {r.get('sent_at')}" if r.get("sent_at") else ""),
             "History: " + " → ".join(f"{h['kind'].replace('campaign_', '')} {h['at'][:16]} {h['actor']}" for h in hist)]
    return f"Campaign {r.get('campaign_id')}: {STATE_EN.get(r.get('state'), r.get('state'))}, {_what(r, zh)}\n" + bullets(lines) + "\n"


def _show_args(f) -> dict:
    m = CAMPAIGN_ID.search(f.q)
    return {"campaign_id": m.group(0)} if m else {}


register(ToolSpec(
    show_campaign, order=18, roles=EVERY_ROLE, family="campaign_show", args=_show_args,
    exemplars=("看看活动 cmp-20261202-ab12", "活动 cmp-20261202-ab12 的情况", "这个活动现在什么状态", "最新的活动进展到哪一步了",
               "show campaign cmp-20261202-ab12", "what is the status of the latest campaign", "campaign cmp-20261202-ab12 details"),
    cues=(Cue(CAMPAIGN_ID.pattern, 0.8),
          Cue(r"活动.{0,8}(状态|进展|情况|详情|哪一步|审批了|导出了|发送了)(?!.{0,6}(效果|成效))|"
              r"\bcampaign\b.{0,20}\b(status|details|state|progress)\b", 0.4)),
    render=_render_show, help_zh="营销活动详情", help_en="one campaign's status",
    example_zh="最新的活动进展到哪一步了?", example_en="What is the status of the latest campaign?"))
