"""How a measured campaign effect is shown: the chart (treated vs control bars with 95 % CI
whiskers, one panel per metric), the Markdown answer in Chinese or English, the ranking of
campaigns and the prescriptive next action per segment (seed 002/003: 效果跟踪 → adjust).

Everything here reads the plain-dict form of `tools.campaign_effect.CampaignEffect`
(``to_dict()``), so the chat renderer, the app's campaign page and an LLM's tool result share it.
Campaign names are text people typed: always through `md_text`.
"""
from __future__ import annotations

import json

from tools.charts import CJK_FONT, bilingual_title
from tools.formatting import OCCASION_EN, OCCASION_ZH, bullets, fmt_int, fmt_money, md_text

__all__ = ["effect_figure", "effect_markdown", "effect_headline", "next_actions", "ranking_markdown", "segment_name",
           "actions_markdown", "METRIC_ZH", "METRIC_EN", "DEFINITIONS_ZH", "DEFINITIONS_EN"]

METRIC_ZH = {"repurchase_rate": "复购率", "revenue_per_customer": "人均收入", "satisfaction": "满意度"}
METRIC_EN = {"repurchase_rate": "repurchase rate", "revenue_per_customer": "revenue per customer",
             "satisfaction": "satisfaction"}
DEFINITIONS_ZH = ("复购率＝窗口内至少下 1 单的客户占比；人均收入＝窗口内订单金额 ÷ 组内人数（未下单计 0）；"
                  "满意度＝窗口内有评分的客户的平均评分（1–5）。提升＝处理组 − 对照组；95% 置信区间：复购率用 "
                  "Newcombe（Wilson 得分）区间，人均收入与满意度用 Welch t 区间；区间不含 0 才算有可区分的效果。")
DEFINITIONS_EN = ("repurchase rate = share of the group with ≥ 1 order in the window; revenue per customer = order "
                  "amount in the window ÷ group size (no order counts 0); satisfaction = mean rating (1–5) of the "
                  "customers who rated in the window. Uplift = treated − control; 95% CI: Newcombe (Wilson score) "
                  "for the repurchase rate, Welch t for revenue and satisfaction; an effect is distinguishable "
                  "from none only when its CI excludes 0.")
_CHANNEL_ZH = {"sms": "短信", "wechat": "微信", "email": "邮件"}
_VERDICT_ZH = {"higher": "有效：处理组明显更高", "lower": "处理组明显更低", "no_measurable_effect": "无可区分的效果（区间含 0）",
               "too_small": "样本太小，无法判断", "no_data": "无数据"}
_VERDICT_EN = {"higher": "distinguishable: higher in the treated group", "lower": "distinguishable: lower in the treated group",
               "no_measurable_effect": "not distinguishable from no effect (CI includes 0)",
               "too_small": "too small to tell", "no_data": "no data"}


def _verdict(key, zh: bool) -> str:
    """The words of a verdict; a value that is not one of ours is shown as text (escaped), never a crash."""
    words = (_VERDICT_ZH if zh else _VERDICT_EN).get(key)
    return words if words is not None else md_text(str(key))


def _seg_zh(seg: str) -> str:
    from tools.rfm import SEGMENT_ZH
    return SEGMENT_ZH.get(seg, seg)


def segment_name(seg: str, zh: bool) -> str:
    """A segment's name in the answer's language, escaped."""
    return md_text(_seg_zh(seg) if zh else seg)


def _occ(d: dict, zh: bool) -> str:
    o = d.get("occasion") or ""
    return (OCCASION_ZH if zh else OCCASION_EN).get(o, o)


def _chan(d: dict, zh: bool) -> str:
    ch = d.get("channel") or ""
    return _CHANNEL_ZH.get(ch, ch) if zh else {"sms": "SMS", "wechat": "WeChat", "email": "e-mail"}.get(ch, ch)


def _val(metric: str, v) -> str:
    if v is None:
        return "—"
    if metric == "repurchase_rate":
        return f"{v * 100:.1f}%"
    if metric == "satisfaction":
        return f"{v:.2f}"
    return fmt_money(v)


def _diff(metric: str, v, zh: bool) -> str:
    if v is None:
        return "—"
    if metric == "repurchase_rate":
        return f"{v * 100:+.1f}" + (" 个百分点" if zh else " pts")
    if metric == "satisfaction":
        return f"{v:+.2f}"
    return ("+" if v >= 0 else "−") + fmt_money(abs(v))


def _ci(metric: str, lo, hi) -> str:
    if lo is None or hi is None:
        return "—"
    if metric == "repurchase_rate":
        return f"{lo * 100:.1f} – {hi * 100:.1f}"
    if metric == "satisfaction":
        return f"{lo:.2f} – {hi:.2f}"
    return f"{fmt_money(lo)} – {fmt_money(hi)}"


def _name(d: dict, zh: bool) -> str:
    return md_text(d.get("name") if zh else d.get("name_en") or d.get("name"))


# =========================================================================== chart
def effect_figure(res) -> str | None:
    """Plotly JSON: per metric a panel with the treated and control bars and their 95 % CI whiskers,
    the uplift and its CI in the panel's title; None when there is nothing to draw."""
    ms = [m for m in res.metrics if m.treated is not None and m.control is not None]
    if not ms:
        return None
    data, layout = [], {}
    w = 1.0 / max(1, len(ms))
    for i, m in enumerate(ms, start=1):
        ax = "" if i == 1 else str(i)
        vals = [m.treated, m.control]
        cis = [m.treated_ci, m.control_ci]
        scale = 100.0 if m.metric == "repurchase_rate" else 1.0
        up = [None if c[1] is None else (c[1] - v) * scale for v, c in zip(vals, cis)]
        down = [None if c[0] is None else (v - c[0]) * scale for v, c in zip(vals, cis)]
        data.append({"type": "bar", "x": [f"处理组 treated (n={m.n_treated:,})", f"对照组 control (n={m.n_control:,})"],
                     "y": [v * scale for v in vals], "marker": {"color": ["#2f6fb0", "#a0a7b4"]},
                     "error_y": {"type": "data", "symmetric": False, "array": up, "arrayminus": down, "visible": True},
                     "name": METRIC_EN[m.metric], "xaxis": f"x{ax}", "yaxis": f"y{ax}", "showlegend": False})
        lo = i - 1
        layout[f"xaxis{ax}"] = {"domain": [lo * w + 0.04, (lo + 1) * w - 0.04], "anchor": f"y{ax}", "type": "category"}
        layout[f"yaxis{ax}"] = {"anchor": f"x{ax}", "title": {"text": f"{METRIC_ZH[m.metric]} {METRIC_EN[m.metric]}"
                                                              + (" (%)" if scale == 100 else "")}}
        layout.setdefault("annotations", []).append({
            "text": f"{_diff(m.metric, m.uplift, False)}<br>95% CI {_ci(m.metric, m.ci_low, m.ci_high)}",
            "xref": "paper", "yref": "paper", "x": lo * w + w / 2, "y": 1.0, "xanchor": "center", "yanchor": "bottom",
            "showarrow": False, "font": {"size": 11}})
    partial = "" if res.complete else "（窗口未结束，部分结果） (window not over: partial)"
    layout.update({"title": {"text": bilingual_title(f"活动效果：{res.name}{partial}", f"Campaign effect: {res.name_en}"),
                             "x": 0.01},
                   "font": {"family": CJK_FONT, "size": 13}, "paper_bgcolor": "white", "plot_bgcolor": "white",
                   "margin": {"l": 60, "r": 20, "t": 90, "b": 60}, "height": 420})
    return json.dumps({"data": data, "layout": layout}, ensure_ascii=False)


# =========================================================================== one campaign
def effect_headline(d: dict, zh: bool) -> str:
    """One line: the repurchase uplift with its CI and verdict (for lists)."""
    m = next((x for x in d.get("metrics") or [] if x["metric"] == "repurchase_rate"), None)
    part = "" if d.get("complete") else ("（窗口未结束，部分结果）" if zh else " (window not over: partial)")
    if not m:
        return (f"{_name(d, zh)}（{d.get('campaign_id')}，{d.get('sent_at')} 发送）：发送之后还没有数据" if zh else
                f"{_name(d, zh)} ({d.get('campaign_id')}, sent {d.get('sent_at')}): no data after sending yet")
    if zh:
        return (f"{_name(d, zh)}（{d.get('campaign_id')}，{_occ(d, zh)}，{_chan(d, zh)}，{d.get('sent_at')} 发送）："
                f"复购率 {_val('repurchase_rate', m['treated'])} vs {_val('repurchase_rate', m['control'])}，"
                f"提升 {_diff('repurchase_rate', m['uplift'], zh)}（95% CI {_ci('repurchase_rate', m['ci_low'], m['ci_high'])}，"
                f"n={fmt_int(m['n_treated'])}/{fmt_int(m['n_control'])}）— {_verdict(m['verdict'], True)}{part}")
    return (f"{_name(d, zh)} ({d.get('campaign_id')}, {_occ(d, zh)}, {_chan(d, zh)}, sent {d.get('sent_at')}): "
            f"repurchase {_val('repurchase_rate', m['treated'])} vs {_val('repurchase_rate', m['control'])}, "
            f"uplift {_diff('repurchase_rate', m['uplift'], zh)} (95% CI {_ci('repurchase_rate', m['ci_low'], m['ci_high'])}, "
            f"n={fmt_int(m['n_treated'])}/{fmt_int(m['n_control'])}) — {_verdict(m['verdict'], False)}{part}")


def effect_markdown(d: dict, zh: bool, segments: int = 8, actions: bool = True) -> str:
    """The whole answer for one campaign: what was computed (campaign, window, groups, definitions),
    each metric's two values, uplift, CI, sizes and verdict, the per-segment breakdown, the next step."""
    occ, ch = _occ(d, zh), _chan(d, zh)
    lines = []
    if zh:
        how = "，".join(x for x in (occ, ch) if x)
        lines.append(f"活动效果：{_name(d, zh)}（{d.get('campaign_id')}；{how + '；' if how else ''}{d.get('sent_at')} 发送）")
        lines.append(f"窗口：发送后 {fmt_int(d.get('window_days'))} 天（{d.get('window_start')} 至 {d.get('window_end')}）。")
        if not d.get("days_observed"):
            lines.append(f"⚠ 数据只到 {d.get('data_as_of')} 之前，还没有发送之后的数据，暂时无法评估；导入新数据（guanxi build）后再看。")
        elif not d.get("complete"):
            lines.append(f"⚠ 窗口尚未结束：数据截至 {d.get('observed_to')}，以下是前 {fmt_int(d.get('days_observed'))} 天的部分结果，"
                         f"窗口结束后再看结论。")
        grp = f"分组：处理组 {fmt_int(d.get('n_treated'))} 人（已发送），对照组 {fmt_int(d.get('n_control'))} 人（按设计未发送）"
        if d.get("target_zh"):
            grp += f"；目标：{md_text(d['target_zh'])}"
        if d.get("n_not_in_data"):
            grp += f"；{fmt_int(d['n_not_in_data'])} 位不在当前数据中，未计入"
        lines.append(grp + "。")
    else:
        how = ", ".join(x for x in (occ, ch) if x)
        lines.append(f"Campaign effect: {_name(d, zh)} ({d.get('campaign_id')}; {how + '; ' if how else ''}sent {d.get('sent_at')})")
        lines.append(f"Window: {fmt_int(d.get('window_days'))} days after sending ({d.get('window_start')} to {d.get('window_end')}).")
        if not d.get("days_observed"):
            lines.append(f"⚠ The data ends before {d.get('data_as_of')}, with nothing after the sending day yet: "
                         f"nothing to measure until newer data is built (guanxi build).")
        elif not d.get("complete"):
            lines.append(f"⚠ The window is not over yet: data up to {d.get('observed_to')}, so these are partial figures "
                         f"over the first {fmt_int(d.get('days_observed'))} days; judge once the window has ended.")
        grp = (f"Groups: {fmt_int(d.get('n_treated'))} treated (sent), {fmt_int(d.get('n_control'))} control "
               f"(held out by design)")
        if d.get("target_en"):
            grp += f"; target: {md_text(d['target_en'])}"
        if d.get("n_not_in_data"):
            grp += f"; {fmt_int(d['n_not_in_data'])} not in the current data, left out"
        lines.append(grp + ".")
    rows = []
    for m in d.get("metrics") or []:
        k = m["metric"]
        if m["n_treated"] == 0 and m["n_control"] == 0 and k == "satisfaction":
            rows.append("满意度：窗口内两组都没有评分" if zh else "satisfaction: no ratings in the window in either group")
            continue
        v = _verdict(m["verdict"], zh)
        unit = ("评分人数 " if zh else "raters") if k == "satisfaction" else ""
        if zh:
            rows.append(f"{METRIC_ZH.get(k) or md_text(k)}：处理组 {_val(k, m['treated'])} vs 对照组 {_val(k, m['control'])}，提升 "
                        f"{_diff(k, m['uplift'], zh)}（95% CI {_ci(k, m['ci_low'], m['ci_high'])}；"
                        f"{unit}n={fmt_int(m['n_treated'])}/{fmt_int(m['n_control'])}）— {v}")
        else:
            rows.append(f"{METRIC_EN.get(k) or md_text(k)}: treated {_val(k, m['treated'])} vs control {_val(k, m['control'])}, uplift "
                        f"{_diff(k, m['uplift'], zh)} (95% CI {_ci(k, m['ci_low'], m['ci_high'])}; "
                        f"{unit + ' ' if unit else ''}n={fmt_int(m['n_treated'])}/{fmt_int(m['n_control'])}) — {v}")
    if rows:
        lines.append(bullets(rows))
    segs = d.get("segments") or []
    if segs:
        lines.append("按 RFM 分群（复购率，处理组/对照组人数）：" if zh else "By RFM segment (repurchase rate; treated/control sizes):")
        srows = []
        for s in segs[:segments]:
            name = _seg_zh(s["segment"]) if zh else s["segment"]
            v = _verdict(s["verdict"], zh)
            srows.append(f"{md_text(name)}：{_val('repurchase_rate', s['treated'])} vs {_val('repurchase_rate', s['control'])}，"
                         f"{_diff('repurchase_rate', s['uplift'], zh)}（95% CI {_ci('repurchase_rate', s['ci_low'], s['ci_high'])}，"
                         f"n={fmt_int(s['n_treated'])}/{fmt_int(s['n_control'])}）— {v}" if zh else
                         f"{md_text(name)}: {_val('repurchase_rate', s['treated'])} vs {_val('repurchase_rate', s['control'])}, "
                         f"{_diff('repurchase_rate', s['uplift'], zh)} (95% CI {_ci('repurchase_rate', s['ci_low'], s['ci_high'])}, "
                         f"n={fmt_int(s['n_treated'])}/{fmt_int(s['n_control'])}) — {v}")
        if len(segs) > segments:
            srows.append(f"另有 {len(segs) - segments} 个分群" if zh else f"{len(segs) - segments} more segments")
        lines.append(bullets(srows))
    if actions:
        acts = next_actions([d])
        if acts:
            lines.append(("建议（依据上面的数字）：" if zh else "Next step (from the figures above):") + "\n" +
                         bullets([a["text_zh" if zh else "text_en"] for a in acts[:6]]) +
                         ("\n\n" + _MULTIPLE[zh] if len(acts) > 1 else ""))
    lines.append(("口径：" + DEFINITIONS_ZH) if zh else ("Definitions: " + DEFINITIONS_EN))
    return "\n\n".join(lines)


# =========================================================================== many campaigns
def ranking_markdown(effects: list[dict], zh: bool) -> str:
    """Campaigns ranked by repurchase uplift (complete windows first), each with its CI and verdict."""
    if not effects:
        return "事件记录里还没有已标记发送的活动，无法评估效果。" if zh else \
            "No campaign has been marked sent in the event log yet, so there is no effect to measure."
    done = [e for e in effects if e.get("complete")]
    pending = [e for e in effects if not e.get("complete")]
    lines = [(f"已评估 {len(done)} 个窗口已结束的活动（按复购率提升排序）：" if zh else
              f"{len(done)} campaign(s) with a finished window, by repurchase uplift:") if done else
             ("还没有窗口已结束的活动。" if zh else "No campaign's window is over yet.")]
    lines.append(bullets([effect_headline(e, zh) for e in done]))
    if pending:
        lines.append("窗口未结束（部分结果，暂不下结论）：" if zh else "Window not over (partial figures, no verdict yet):")
        lines.append(bullets([effect_headline(e, zh) for e in pending]))
    best = next((e for e in done if _rep(e) and _rep(e)["verdict"] == "higher"), None)
    if best:
        lines.append(f"最有效：{_name(best, zh)}（{best['campaign_id']}）。" if zh else
                     f"Most effective: {_name(best, zh)} ({best['campaign_id']}).")
    elif done:
        lines.append("没有一个活动的复购率提升能与无效果区分开。" if zh else
                     "No campaign's repurchase uplift is distinguishable from no effect.")
    return "\n\n".join(x for x in lines if x)


def _rep(e: dict) -> dict | None:
    return next((m for m in e.get("metrics") or [] if m["metric"] == "repurchase_rate"), None)


def _fig(x: dict, zh: bool) -> str:
    return (f"{_diff('repurchase_rate', x['uplift'], zh)}（95% CI {_ci('repurchase_rate', x['ci_low'], x['ci_high'])}，"
            f"n={fmt_int(x['n_treated'])}/{fmt_int(x['n_control'])}）" if zh else
            f"{_diff('repurchase_rate', x['uplift'], zh)} (95% CI {_ci('repurchase_rate', x['ci_low'], x['ci_high'])}, "
            f"n={fmt_int(x['n_treated'])}/{fmt_int(x['n_control'])})")


def next_actions(effects: list[dict]) -> list[dict]:
    """The next action per RFM segment from the measured campaigns (windows over only), each with
    the numbers it rests on: ``{segment, action, campaign_id, occasion, channel, uplift, ci_low,
    ci_high, n_treated, n_control, text_zh, text_en}``; action is ``repeat`` (a distinguishable lift),
    ``stop`` (a distinguishable drop), ``retest`` (not distinguishable, leaning positive), ``change``
    (measured, no effect), ``test_bigger`` (too few to tell). A campaign without a segment split counts as one segment "all"."""
    rows: dict[str, list[tuple[dict, dict]]] = {}
    for e in effects:
        if not e.get("complete"):
            continue
        segs = e.get("segments") or []
        if not segs and _rep(e):
            r = _rep(e)
            segs = [{"segment": "all", "n_treated": r["n_treated"], "n_control": r["n_control"], "treated": r["treated"],
                     "control": r["control"], "uplift": r["uplift"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                     "verdict": r["verdict"]}]
        for s in segs:
            rows.setdefault(s["segment"], []).append((e, s))
    out = []
    for seg, pairs in sorted(rows.items(), key=lambda kv: -sum(s["n_treated"] + s["n_control"] for _, s in kv[1])):
        seg_zh = "全部目标客户" if seg == "all" else _seg_zh(seg)
        seg_en = "all targeted customers" if seg == "all" else seg
        ups = sorted([p for p in pairs if p[1]["verdict"] == "higher"], key=lambda p: -(p[1]["ci_low"] or 0))
        downs = [p for p in pairs if p[1]["verdict"] == "lower"]
        nulls = [p for p in pairs if p[1]["verdict"] == "no_measurable_effect"]
        if ups:
            e, s = ups[0]
            action = "repeat"
            zh = (f"{md_text(seg_zh)}：{_occ(e, True)}（{_chan(e, True)}）使复购率提升 {_fig(s, True)} → 建议对该分群继续做"
                  f"{_occ(e, True)}（{_chan(e, True)}），并保留对照组")
            en = (f"{md_text(seg_en)}: {_occ(e, False)} by {_chan(e, False)} lifted repurchase by {_fig(s, False)} → "
                  f"suggest repeating {_occ(e, False)} by {_chan(e, False)} for them, keeping a holdout")
        elif downs:
            e, s = downs[0]
            action = "stop"
            zh = (f"{md_text(seg_zh)}：{_occ(e, True)}（{_chan(e, True)}）后复购率反而更低 {_fig(s, True)} → 建议暂停对该分群发送")
            en = (f"{md_text(seg_en)}: after {_occ(e, False)} by {_chan(e, False)} repurchase was lower {_fig(s, False)} → "
                  f"suggest pausing it for them")
        elif nulls:
            e, s = max(nulls, key=lambda p: p[1]["uplift"] or 0)
            figs_zh = "；".join(f"{_occ(x, True)}（{_chan(x, True)}）{_fig(y, True)}" for x, y in nulls)
            figs_en = "; ".join(f"{_occ(x, False)} by {_chan(x, False)} {_fig(y, False)}" for x, y in nulls)
            if (s["uplift"] or 0) > 0:
                action = "retest"
                zh = (f"{md_text(seg_zh)}：没有可区分的效果，但方向为正 — {figs_zh} → 建议用更大的样本再测一次"
                      f"{_occ(e, True)}（{_chan(e, True)}），保留对照组")
                en = (f"{md_text(seg_en)}: no distinguishable effect, though leaning positive — {figs_en} → suggest "
                      f"testing {_occ(e, False)} by {_chan(e, False)} again on a bigger group, with a holdout")
            else:
                action = "change"
                zh = f"{md_text(seg_zh)}：没有可测出的效果 — {figs_zh} → 建议换一种场合、渠道或加优惠再试，并保留对照组"
                en = (f"{md_text(seg_en)}: no measurable effect — {figs_en} → suggest another occasion, channel or an "
                      f"offer next time, with a holdout")
        else:
            e, s = max(pairs, key=lambda p: p[1]["n_treated"] + p[1]["n_control"])
            action = "test_bigger"
            zh = (f"{md_text(seg_zh)}：人数太少无法判断 {_fig(s, True)} → 下次活动给该分群更大的样本或对照组")
            en = (f"{md_text(seg_en)}: too few customers to tell {_fig(s, False)} → give them a bigger sample or "
                  f"holdout next time")
        out.append({"segment": seg, "action": action, "campaign_id": e["campaign_id"], "occasion": e.get("occasion"),
                    "channel": e.get("channel"), "uplift": s["uplift"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
                    "n_treated": s["n_treated"], "n_control": s["n_control"], "text_zh": zh, "text_en": en})
    return out


def actions_markdown(effects: list[dict], zh: bool) -> str:
    """The prescriptive part: the next action per segment, or why there is none yet."""
    acts = next_actions(effects)
    if not acts:
        pending = [e for e in effects if not e.get("complete")]
        if zh:
            return "还没有可依据的测量结果：没有窗口已结束的活动" + (f"（{len(pending)} 个活动的窗口尚未结束）" if pending else "") + \
                "，所以暂不给出建议。"
        return "Nothing measured to base a suggestion on yet: no campaign's window is over" + \
            (f" ({len(pending)} still running)" if pending else "") + "."
    head = "下一步建议（按分群，依据已结束窗口的活动）：" if zh else "Next action per segment (from the campaigns whose window is over):"
    return head + "\n" + bullets([a["text_zh" if zh else "text_en"] for a in acts]) + "\n\n" + _MULTIPLE[zh]


_MULTIPLE = {True: "注意：每个分群单独检验（未做多重比较校正），分群越多越可能有偶然的“有效”，请在下一次活动中用对照组复核。",
             False: "Note: each segment is tested on its own (no correction for multiple comparisons); with many "
                    "segments one may look effective by chance, so check it again with a holdout next time."}
