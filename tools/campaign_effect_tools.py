"""Effect tools (issue 12, 效果跟踪): did a campaign work, which campaign worked best, and what to
do next per segment. Measurement in `tools.campaign_effect`, the answer text, chart and the
prescriptive suggestions in `tools.campaign_effect_report`; the campaigns come from the event log
(``campaign_created`` / ``campaign_sent``), the outcomes from the orders and feedback tables.
"""
from __future__ import annotations

import json
import re
from typing import Literal

from knowledge.errors import GuanxiError
from tools.context import ToolContext, ToolError, context
from tools.formatting import bullets
from tools.results import fmt_date
from tools.spec import MANAGERS, Cue, ToolSpec, register

__all__ = ["campaign_effect", "compare_campaigns"]

Occasion = Literal["winback", "festival", "birthday", "vip_thanks", "regular", "complaint_followup", "recommendation"]
_OCCASIONS = ("winback", "festival", "birthday", "vip_thanks", "regular", "complaint_followup", "recommendation")
_ID = re.compile(r"(?<![A-Za-z0-9])cmp-[A-Za-z0-9][A-Za-z0-9-]*", re.I)   # "活动CMP-2026…" too
# an occasion named as the campaign's kind ("挽回活动", "the mid-autumn greeting"), not a group of customers
_NAMED = (("winback", r"挽回|召回|挽留|回流|win-?back|re-?engage"),
          ("festival", r"节日|中秋|春节|国庆|元旦|端午|圣诞|新年|mid-?autumn|moon ?cake|spring festival|christmas|new year|festival|holiday"),
          ("birthday", r"生日|birthday"), ("vip_thanks", r"感谢|答谢|vip|thank"),
          ("complaint_followup", r"投诉回访|complaint follow-?up"), ("recommendation", r"推荐|recommend"))
_KIND_WORD = r"\s*(的)?\s*(营销|关怀)?\s*(活动|短信|微信|消息|问候|祝福|群发|campaigns?|greetings?|messages?|sms|texts?|wishes)"
# a campaign named by a sale day or by its name ("双十一活动", "618那次活动", "the Black Friday campaign", "叫「春季焕新」的活动"):
# looked up by that name, never answered with the last campaign
_NAMED_CAMPAIGN = re.compile(
    r"(?P<day>双\s*十一|双\s*11|双\s*十二|双\s*12|(?<!\d)618(?!\d)|年货节|黑五|black friday|cyber monday|singles'? ?day|double ?(11|eleven)|"
    r"女神节|七夕|情人节|(?<!\d)520(?!\d)|店庆|周年庆|开学季|大促)\s*(那次|这次|那个|的)?\s*(营销|促销)?\s*(活动|campaign|promotion|sale)|"
    r"(叫|名为|名叫|名字是)\s*[「“\"']?(?P<name>[^」”\"'，。,?？]{2,30}?)[」”\"']?\s*的?\s*活动|"
    r"campaign (called|named) [\"“']?(?P<name_en>[^\"”',.?]{2,40}?)[\"”']?(?=\s|[,.?]|$)", re.I)


def _named_occasion(q: str) -> str | None:
    for occ, words in _NAMED:
        if re.search(rf"({words}){_KIND_WORD}", q, re.I):
            return occ
    return None


def _window(window_days, ctx) -> int:
    if window_days in (None, ""):
        return int(ctx.settings.campaign_effect_window_days)
    try:
        w = int(window_days)
    except (TypeError, ValueError):
        raise ToolError(f"window_days must be a whole number of days, got {window_days!r}") from None
    if not 1 <= w <= 365:
        raise ToolError(f"window_days must be between 1 and 365, got {w}")
    return w


def _occasion(occasion) -> str | None:
    if occasion in (None, "", "all", "any"):
        return None
    if occasion not in _OCCASIONS:
        raise ToolError(f"occasion must be one of {', '.join(_OCCASIONS)}, got {occasion!r}")
    return str(occasion)


# =========================================================================== campaign_effect
def campaign_effect(campaign: str | None = None, occasion: Occasion | None = None, window_days: int | None = None,
                    *, ctx: ToolContext | None = None) -> dict:
    """Did a campaign work? Treated vs control (the held-out group) over a window after sending:
    repurchase rate, revenue per customer and satisfaction, each with the uplift, its 95% CI, the
    group sizes and whether it is distinguishable from no effect; by RFM segment; the next step.

    Args:
        campaign: the campaign id (cmp-…), or omitted / "last" for the most recently sent one
        occasion: with "last": the most recent campaign of this occasion (winback, festival, birthday, vip_thanks …)
        window_days: days after sending to measure over (default the setting campaign_effect_window_days, 30)
    """
    from tools.campaign_effect import campaign_effect as measure
    from tools.campaign_effect_report import next_actions
    ctx = context(ctx)
    try:
        res = measure(ctx.ws, campaign or None, window_days=_window(window_days, ctx), occasion=_occasion(occasion))
    except GuanxiError as e:
        raise ToolError(str(e)) from None
    out = res.to_dict()
    out["chart"] = json.loads(res.figure_json) if res.figure_json else None
    out["next_actions"] = next_actions([out])
    out["asked"] = {"campaign": campaign or "last", "occasion": occasion}
    return out


def _render_effect(r: dict, zh: bool, focus: dict) -> str:
    from tools.campaign_effect_report import effect_markdown
    return effect_markdown(r, zh)


def _campaign_args(f) -> dict:
    a: dict = {}
    m = _ID.search(f.q)
    occ = _named_occasion(f.q) or f.slots.get("occasion")
    named = _NAMED_CAMPAIGN.search(f.q)
    if m:
        a["campaign"] = m.group(0).lower()
    elif named:
        day = named.group("day")
        a["campaign"] = (re.sub(r"\s+", " " if re.search(r"[a-z]", day, re.I) else "", day) if day else
                         (named.group("name") or named.group("name_en")).strip())
    elif occ in _OCCASIONS:
        a["occasion"] = occ
    if f.slots.get("days") and re.search(r"(\d+)\s*(天|日|days?)", f.q, re.I):
        a["window_days"] = f.slots["days"]
    return a


_EFFECT_CUE = (r"(活动|挽回|召回|营销|关怀|问候|祝福|短信|群发|campaign|win-?back|greeting|outreach).{0,14}"
               r"(效果|成效|有没有用|有用吗|管用|奏效|有效|起作用|提升|带来|拉动|复购|回购|值不值|划算|uplift|work|worked|effect|impact|lift|"
               r"pay off|paid off|worth)|"
               r"(效果|成效|uplift|effect|impact).{0,12}(活动|campaign)|cmp-[a-z0-9]")

register(ToolSpec(
    campaign_effect, order=16, roles=MANAGERS, family="campaign_effect", args=_campaign_args,
    exemplars=(
        "上次挽回活动效果怎么样", "上个月的挽回短信有用吗", "活动 cmp-20260814-ab12 的效果", "最近一次活动有没有效果",
        "中秋问候活动带来复购了吗", "这次营销活动的提升是多少", "上次活动处理组和对照组差多少", "挽回活动起作用了吗",
        "did last month's win-back campaign work?", "what was the effect of the last campaign",
        "campaign cmp-20260814-ab12 uplift", "did the festival greeting lift repurchase",
        "how did the treated group compare with the control group", "was the last campaign effective",
    ),
    cues=(Cue(_EFFECT_CUE, 0.45),
          Cue(r"(活动|camp[a-z]*).{0,10}(咋样|怎么样|如何|结果|表现|值不值|效过|results?|outcome|performance|how did)", 0.4),
          Cue(r"(对照组|控制组|处理组|实验组|holdout|control group|treated group|treatment group)", 0.3)),
    render=_render_effect, help_zh="活动效果（处理组 vs 对照组）", help_en="campaign effect (treated vs control)",
    example_zh="上次挽回活动效果怎么样?", example_en="Did last month's win-back campaign work?"))


# =========================================================================== compare_campaigns
def compare_campaigns(occasion: Occasion | None = None, window_days: int | None = None, top: int = 10,
                      segment: str | None = None, *, ctx: ToolContext | None = None) -> dict:
    """Which campaign worked best, and what to do next per segment: every campaign marked sent,
    ranked by its repurchase uplift over control (95% CI, sizes, verdict; windows not over shown
    apart as partial), and the next action per RFM segment from what was measured.

    Args:
        occasion: only campaigns of this occasion (winback, festival, birthday, vip_thanks …)
        window_days: days after sending to measure over (default the setting campaign_effect_window_days, 30)
        top: how many campaigns to list (default 10)
        segment: only this RFM segment's next action (Champions, At Risk, 休眠客户 …)
    """
    from knowledge.events import EventLog
    from tools.campaign_effect import (campaigns_from_events, known_ids, measure_campaign, sent_campaigns,
                                      workspace_lines)
    from tools.campaign_effect_report import next_actions
    ctx = context(ctx)
    ws = ctx.ws
    w = _window(window_days, ctx)
    log = EventLog.of(ws)
    sent = sent_campaigns(campaigns_from_events(log.events(
        kind=("campaign_created", "campaign_approved", "campaign_sent", "campaign_cancelled"))), _occasion(occasion))
    try:
        top = max(1, min(100, int(top)))
    except (TypeError, ValueError):
        raise ToolError(f"top must be a whole number, got {top!r}") from None
    fb, as_of = ws.table("feedback"), ws.as_of()
    known = known_ids(ws)
    lines = workspace_lines(ws)
    effects = [measure_campaign(c, None, fb, as_of, w, known_customers=known, window_lines=lines).to_dict()
               for c in sent[:top]]

    def key(e):
        m = next((x for x in e["metrics"] if x["metric"] == "repurchase_rate"), None)
        return (not e["complete"], -(m["uplift"] if m and m["uplift"] is not None else -9))
    effects.sort(key=key)
    chart = _ranking_chart(effects) if effects else None
    actions = next_actions(effects)
    seg = None
    if segment not in (None, "", "all"):
        from tools.rfm import resolve_segment
        try:
            col, seg = resolve_segment(segment)
        except GuanxiError as e:
            raise ToolError(str(e)) from None
        if col != "segment":
            raise ToolError(f"campaigns are split by RFM segment (Champions, At Risk …), not by {col}: {segment!r}")
        actions = [a for a in actions if a["segment"] == seg]
    return {"occasion": occasion, "window_days": w, "count": len(effects), "campaigns_sent": len(sent),
            "segment": seg, "effects": effects, "next_actions": actions, "chart": chart, "as_of": fmt_date(as_of),
            "provenance": (f"tools.campaign_effect.measure_campaign × {len(effects)} · events.sqlite "
                           f"({len(sent)} campaigns marked sent) · orders, feedback · window {w} days · as of "
                           f"{fmt_date(as_of)} · Newcombe / Welch 95% CI")}


def _ranking_chart(effects: list[dict]) -> dict:
    from tools.charts import CJK_FONT, bilingual_title
    names, ys, up, down, colors = [], [], [], [], []
    for e in effects:
        m = next((x for x in e["metrics"] if x["metric"] == "repurchase_rate"), None)
        if not m or m["uplift"] is None:
            continue
        names.append(f"{e['name']} ({e['campaign_id']})" + ("" if e["complete"] else " *"))
        ys.append(m["uplift"] * 100)
        up.append(None if m["ci_high"] is None else (m["ci_high"] - m["uplift"]) * 100)
        down.append(None if m["ci_low"] is None else (m["uplift"] - m["ci_low"]) * 100)
        colors.append("#2f6fb0" if m["verdict"] == "higher" else "#c0504d" if m["verdict"] == "lower" else "#a0a7b4")
    return {"data": [{"type": "bar", "x": names, "y": ys, "marker": {"color": colors}, "name": "uplift",
                      "error_y": {"type": "data", "symmetric": False, "array": up, "arrayminus": down, "visible": True}}],
            "layout": {"title": {"text": bilingual_title("各活动复购率提升（个百分点，95% CI；* 窗口未结束）",
                                                         "Repurchase uplift by campaign (pts, 95% CI; * window not over)"),
                                 "x": 0.01},
                       "font": {"family": CJK_FONT, "size": 13}, "paper_bgcolor": "white", "plot_bgcolor": "white",
                       "margin": {"l": 60, "r": 20, "t": 60, "b": 120}, "height": 440,
                       "xaxis": {"type": "category", "categoryorder": "array", "categoryarray": names},
                       "yaxis": {"title": {"text": "复购率提升 uplift (pts)"}, "zeroline": True}}}


def _render_compare(r: dict, zh: bool, focus: dict) -> str:
    from tools.campaign_effect_report import DEFINITIONS_EN, DEFINITIONS_ZH, actions_markdown, ranking_markdown
    effects = r.get("effects") or []
    head = (f"评估窗口：发送后 {r.get('window_days')} 天；数据截至 {r.get('as_of')}。" if zh else
            f"Window: {r.get('window_days')} days after sending; data as of {r.get('as_of')}.")
    parts = [head, ranking_markdown(effects, zh)]
    seg = r.get("segment")
    if seg and effects:
        from tools.campaign_effect_report import segment_name
        acts = r.get("next_actions") or []
        parts.append((f"「{segment_name(seg, zh)}」的下一步：" if zh else f"Next action for {segment_name(seg, zh)}:") + "\n" +
                     (bullets([a["text_zh" if zh else "text_en"] for a in acts]) if acts else
                      ("- 已结束窗口的活动里没有这个分群的客户，暂无依据。" if zh else
                       "- no finished campaign reached this segment: nothing to base a suggestion on.")))
    elif effects:
        parts.append(actions_markdown(effects, zh))
    if effects:
        parts.append(("口径：" + DEFINITIONS_ZH) if zh else ("Definitions: " + DEFINITIONS_EN))
    return "\n\n".join(parts)


def _compare_args(f) -> dict:
    a = dict(f.top())
    if f.slots.get("segment") and f.slots.get("scheme") == "segment":
        a["segment"] = f.slots["segment"]
    occ = _named_occasion(f.q)   # "哪种活动对流失客户最管用" asks about customers, not win-back campaigns only
    if occ:
        a["occasion"] = occ
    return a


register(ToolSpec(
    compare_campaigns, order=17, roles=MANAGERS, family="compare_campaigns", args=_compare_args,
    exemplars=(
        "哪个活动最有效", "哪次营销活动效果最好", "所有活动的效果对比", "活动效果排名", "下一步该对哪个分群做什么活动",
        "根据活动效果给每个分群什么建议", "哪种活动对流失客户最管用",
        "which campaign worked best", "compare the effect of all campaigns", "rank our campaigns by uplift",
        "what should we do next for each segment based on past campaigns",
        "which occasion and channel worked for which segment",
    ),
    cues=(Cue(r"(哪个|哪次|哪种|哪些|哪类|所有|各个|各次|历次|每个)(营销)?(活动|campaign).{0,10}(最|效果|有效|管用|好)|"
              r"活动.{0,6}(效果)?(排名|对比|比较)|"
              r"\b(which|what) (campaign|occasion)s?\b.{0,30}\b(best|most|work|worked|effective)|"
              r"\b(which|what) channels?\b(?=.*\b(campaigns?|messages?|sms|texts?|wechat|e-?mails?|send|sent|outreach)\b)"
              r".{0,30}\b(best|most|work|worked|effective)|"   # a message channel: "which channel brings the most repeat buyers" is a KPI
              r"\b(compare|rank)\b.{0,20}\bcampaigns\b|\bcampaigns?\b.{0,20}\b(ranking|compared)|"
              r"(下一步|接下来|建议).{0,12}(分群|segment).{0,12}(活动|campaign)|"
              r"(效果最好|最有效|最管用|最成功|提升最大|最好用).{0,8}(活动|campaign)|(活动|campaign).{0,10}(效果最好|最有效|最管用|最成功|提升最大)|"
              r"\b(best|most effective|most successful|biggest uplift|highest uplift|largest uplift)\b.{0,20}\bcampaigns?\b|"
              r"\bcampaigns?\b.{0,30}\b(best|most effective|biggest uplift|highest uplift)\b|"
              r"\bnext (step|action)s?\b.{0,30}\b(segment|campaign)|\b(do|try|send) next\b.{0,40}\b(segments?|campaigns?)\b|"
              r"\bbased on (the )?(past|previous|earlier|last) campaigns\b|"
              r"\b(which|what) (campaign|occasion)s?\b.{0,20}\b(repeat|run again|reuse|keep|stop)\b|"
              r"(哪个|哪次|哪种|什么)(营销)?活动.{0,10}(值得|应该|可以)?(再做|重复|继续做|再来|停掉)", 0.6),),
    render=_render_compare, help_zh="活动效果对比与下一步建议", help_en="campaigns compared, and the next action per segment",
    example_zh="哪个活动最有效?", example_en="Which campaign worked best?"))
