"""The KPI tool: a business metric over a period and filters, optionally broken down, with a chart.

The metric definitions live in `tools.kpi` (one definition each); this module holds the tool
wrapper, the words that name metrics and breakdowns in questions, and the answer renderer.
"""
from __future__ import annotations

import re
from typing import Literal

import pandas as pd

from knowledge.text import place_key
from tools.context import ToolContext, ToolError, cached, context, resolve_cluster, resolve_segment
from tools.customer_filter import age_args
from tools.formatting import bullets, fmt_int, fmt_money, fmt_num, fmt_pct, fmt_unit, period
from tools.kpi import DIMENSIONS, FEEDBACK_METRICS, METRICS
from tools.kpi_rank import rank_mark, unranked_text
from tools.kpi_words import COMPLAINT_BY
from tools.results import to_jsonable
from tools.semantic import semantic_model
from tools.spec import MANAGERS, Cue, ToolSpec, register

__all__ = ["query_metrics", "KPI_METRICS", "KPI_BY"]

KPI_METRICS = tuple(METRICS)
KPI_BY = tuple(DIMENSIONS)
KpiMetric = Literal[KPI_METRICS]
KpiBy = Literal[KPI_BY]



# =========================================================================== kpi
Comparison = Literal["previous_period", "same_period_last_year", "period"]
ExplainBy = Literal["category", "product", "province", "city", "order_channel", "channel", "segment", "gender",
                    "age_band"]


def query_metrics(metric: KpiMetric | str, by: KpiBy | str | None = None, date_from: str | None = None, date_to: str | None = None,
        province: str | None = None, city: str | None = None, category: str | None = None,
        channel: str | None = None, order_channel: str | None = None, top: int | None = None,
        segment: str | None = None, product: str | None = None, gender: Literal["F", "M"] | None = None,
        age_band: Literal["<25", "25-34", "35-44", "45-54", "55+"] | None = None, compare: Comparison | None = None,
        explain_by: list[ExplainBy] | None = None, order: Literal["highest", "lowest"] = "highest",
        also: list[KpiMetric | str] | None = None, compare_from: str | None = None, compare_to: str | None = None,
        where: dict[KpiBy | str, str] | None = None, age_min: int | None = None, age_max: int | None = None,
        born_from: int | None = None, born_to: int | None = None, rank_periods: bool = False,
        explain_order: Literal["size", "growth", "decline"] = "size", share_of_all: bool = False,
        *, ctx: ToolContext | None = None) -> dict:
    """A business KPI over an optional date range and filters, optionally broken down (with a chart),
    optionally compared with the previous period or the same period last year, and its change
    explained by what each group contributed.

    Args:
        metric: sales (销售额), orders (订单数), customers (客户数), aov (客单价), repurchase_rate (复购率),
            retention (留存, monthly cohorts), purchase_interval (购买间隔, days), satisfaction (满意度, mean
            rating), complaint_rate (投诉率, complaints per order), resolution_time (处理时长, days),
            new_customers (新客户数), units (销量/件数, quantity sold), sales_per_customer (人均消费),
            largest_order (最大单笔订单), average_age (平均年龄 of the buying customers), orders_per_customer
            (人均订单数), clv_mean / clv_total
            (平均 / 合计客户终身价值, 12 months), churn_probability (平均流失概率), at_risk_customers (流失风险
            客户数, probability ≥ 50%), first_purchase / last_purchase (最早 / 最近购买日期); customer values are
            over the customers who bought in the period; or a metric the workspace declares over its own
            columns in semantic.toml (gross_profit, …: `guanxi semantic` lists them)
        by: break down by province, city, gender, age_band, channel (acquisition), order_channel,
            category, product, segment / segment_cn8 / tier / cluster, month (monthly trend), quarter,
            year, weekday, feedback_channel or kind, or a dimension of the workspace's semantic.toml (store, …)
        date_from: first day included, YYYY-MM-DD
        date_to: last day included, YYYY-MM-DD
        province: only this province, e.g. 浙江省 (several: comma-separated, 江苏省,浙江省,上海)
        city: only this city, e.g. 杭州市 (several: comma-separated)
        category: only this product category
        channel: only customers acquired through this channel (customers.channel), e.g. 抖音
        order_channel: only orders placed on this channel (orders.channel), e.g. 京东
        top: keep only the first N groups of the breakdown (highest value; for month the last N)
        segment: only customers of this segment: an RFM segment (Champions), an eight-class segment
            (重要价值客户), a tier (高价值客户) or a cluster name
        product: only this product, or every product whose name contains this word (绿茶)
        gender: only female (F) or male (M) customers
        age_band: only customers of this age band
        compare: previous_period (环比), same_period_last_year (同比) or period (the explicit second
            period compare_from … compare_to); without a period, the last complete month
        explain_by: with compare, split the change of sales or units by these dimensions (each group's
            contribution; they sum to the change)
        order: with by and top: the highest groups first (default) or the lowest ("卖得最差的5个商品")
        also: more metrics over the same period, filters and breakdown ("各省销售额和订单数")
        compare_from: with compare=period, the other period's first day, YYYY-MM-DD
        compare_to: with compare=period, the other period's last day, YYYY-MM-DD
        where: more filters on any dimension, {dimension: value} (several values comma-separated), e.g.
            {"weekday": "6 Sat 周六,7 Sun 周日"} or {"cluster": "高价值忠诚客户"}
        age_min: only customers at least this old (full years at the as-of date), e.g. 30 for "30岁以上"
        age_max: only customers at most this old, e.g. 24 for "25岁以下"
        born_from: only customers born in or after this year, e.g. 1990 for "90后"
        born_to: only customers born in or before this year, e.g. 1999 for "90后"
        rank_periods: with a time breakdown (month, quarter, year, weekday, day), rank the periods by
            value ("the best month", "销售额最高的那天") instead of listing them in time order
        explain_order: with explain_by, the groups by the size of their change (default), the biggest
            rises first ("哪个省增长最快") or the biggest falls first ("which products are declining")
        share_of_all: with filters and a count or sum (customers, orders, sales, units, new / lapsed /
            at-risk customers, complaints), also the same metric over the same period without the
            filters, and the filtered value's share of it ("女性客户占比", "what share of sales is Tmall")
    """
    ctx = context(ctx)
    ws = ctx.ws
    from tools.kpi import kpi as _kpi
    tables = metric_source(ws)
    filters = {k: v for k, v in dict(province=province, city=city, category=category, channel=channel,
                                     order_channel=order_channel, product=product, gender=gender,
                                     age_band=age_band).items() if v not in (None, "")}
    ranges = {}
    if age_min is not None or age_max is not None:
        ranges["age"] = (age_min, age_max)
    if born_from is not None or born_to is not None:
        ranges["birth_year"] = (born_from, born_to)
    for k, v in (where or {}).items():
        if v not in (None, "") and filters.setdefault(k, v) != v:
            raise ToolError(f"filter {k} given twice ({filters[k]!r} and {v!r})")
    for k, v in list(filters.items()):  # "江苏省,浙江省,上海": several values of one filter
        if isinstance(v, str) and re.search(r"[,，、]", v):
            vals = [x.strip() for x in re.split(r"[,，、]", v) if x.strip()]
            filters[k] = vals if len(vals) > 1 else (vals[0] if vals else None)
    filters = {k: v for k, v in filters.items() if v}
    if segment:
        filters.update(_segment_filter(ws, segment))
    filters.update(ranges)
    if (by == "customer_type" or "customer_type" in filters) and not date_from and not compare:
        # new vs returning needs a period to be new in: the last complete month, as comparisons do
        from tools.kpi_compare import resolve_windows
        window, _ = resolve_windows("previous_period", None, None, ws.as_of())
        date_from, date_to = window.start.strftime("%Y-%m-%d"), window.end.strftime("%Y-%m-%d")
    kw = dict(by=by, date_from=date_from or None, date_to=date_to or None, as_of=ws.as_of(),
              top=int(top) if top else None, filters=filters or None, lowest=order == "lowest")
    if rank_periods:
        kw["ranked"] = True
    if compare:
        from tools.kpi_compare import compare_kpi
        res = compare_kpi(tables, metric, compare, explain_by=tuple(explain_by or ()), compare_from=compare_from or None,
                          compare_to=compare_to or None, explain_order=explain_order, **kw)
    elif explain_by:
        raise ToolError("explain_by needs a comparison (compare=previous_period or same_period_last_year)")
    else:
        res = _kpi(tables, metric, **kw)
    out = res.to_dict()
    if res.by:
        from tools.kpi import dimension_labels
        out["by_label"] = dimension_labels(res.by, tables)
    if rank_periods and res.by:
        out["ranked"] = True
    if explain_by and explain_order != "size":
        out["explain_order"] = explain_order
    if res.figure_json:
        import json as _json
        out["chart"] = _json.loads(res.figure_json)
    if also:
        out["also"] = _also(tables, [m for m in dict.fromkeys(also) if m != res.metric], res, kw)
    if share_of_all:
        out["share_of_all"] = _share_of_all(tables, res, kw)
        out["provenance"] = f"{out.get('provenance', '')} · share of all = value / the same metric without the filters"
    return out


SHARE_METRICS = ("customers", "orders", "sales", "units", "new_customers", "lapsed_customers", "at_risk_customers",
                 "complaints")


def _share_of_all(tables, res, kw: dict) -> dict:
    """The metric without the filters over the same period, and the filtered value's share of it."""
    from tools.kpi import kpi as _kpi
    if res.metric not in SHARE_METRICS:
        raise ToolError(f"share_of_all needs a count or a sum ({', '.join(SHARE_METRICS)}), not {res.metric}")
    if not kw.get("filters") or kw.get("by") or kw.get("compare"):
        raise ToolError("share_of_all needs at least one filter (the group to compare with everyone), "
                        "and no breakdown or comparison (a breakdown already has each group's share)")
    total = _kpi(tables, res.metric, **dict(kw, filters=None, date_from=res.date_from, date_to=res.date_to))
    value, whole = res.value, total.value
    return {"all_value": whole, "share": (float(value) / float(whole)) if value is not None and whole else None,
            "provenance": total.provenance}


def metric_source(ws):
    """The workspace's DuckDB `MetricSource` over its tables and artefacts (registered once per
    workspace object: a rebuilt workspace gets a new one)."""
    from tools.metric_sql import MetricSource
    from tools.metric_tables import LazyTables, ParquetTable
    from tools.metric_sums import prebuilt_sums

    def build():
        path = ws.table_path("orders")   # DuckDB scans the order Parquet: the lines are not loaded into pandas
        orders = ParquetTable(path) if path.is_file() else ws.table("orders")
        def read(path, load):   # a file DuckDB reads in place (nothing loaded into pandas), else the table
            return lambda: ParquetTable(path) if path.is_file() else load()
        return MetricSource(LazyTables({"orders": lambda: orders,
                                        "customers": read(ws.table_path("customers"), lambda: ws.table("customers")),
                                        "feedback": read(ws.table_path("feedback"), lambda: ws.table("feedback")),
                                        **{n: (lambda n=n: ws.artefact(n)) for n in ("clv", "churn")},
                                        **{n: read(ws.artefact_path(n), lambda n=n: ws.artefact(n))
                                           for n in ("rfm", "clusters")}}),
                            prebuilt=prebuilt_sums(ws))   # the build's sums: opened, not made
    src = cached(ws, "metric_source", build)
    model = semantic_model(ws)   # re-read when semantic.toml changes
    src.own_metrics, src.own_dims = model.own_metrics(), model.own_dimensions()
    return src


def _also(tables, metrics: list[str], res, kw: dict) -> list[dict]:
    """Other metrics over the same period, filters and groups as ``res`` (the groups ``res`` shows)."""
    from tools.kpi import kpi as _kpi
    out = []
    groups = [row[res.by] for row in res.to_dict()["breakdown"] or []] if res.by else []
    window = dict(kw, date_from=res.date_from, date_to=res.date_to, top=None)
    for m in metrics:
        r = _kpi(tables, m, **window)
        item = {"metric": m, "label_zh": r.label_zh, "label_en": r.label_en, "unit": r.unit, "value": r.value}
        if res.by and r.breakdown is not None:
            vals = dict(zip(r.breakdown[res.by].astype(str), r.breakdown["value"]))
            item["by_group"] = {g: to_jsonable(vals.get(str(g))) for g in groups}
        out.append(item)
    return out


def _segment_filter(ws, segment: str) -> dict:
    """{rfm column: canonical value} for a segment name (an RFM segment, eight-class, tier or cluster)."""
    from knowledge.errors import GuanxiError
    try:
        col, value = resolve_segment(segment)
        return {col: value}
    except GuanxiError:
        cl = resolve_cluster(ws, segment)
        if cl is None:
            raise
        prof = ws.artefact("cluster_profiles")
        row = prof.loc[prof["cluster"] == cl].iloc[0]
        return {"cluster": str(row.get("name_zh") or cl)}


def _kpi_row_extra(metric, row: dict, zh: bool) -> str:
    """The counts behind one breakdown row's rate (complaints / orders, repeat / all customers)."""
    if metric == "complaint_rate" and row.get("complaints") is not None:
        return (f"（投诉 {fmt_int(row.get('complaints'))} 条 / 订单 {fmt_int(row.get('orders'))} 单）" if zh else
                f" ({fmt_int(row.get('complaints'))} complaints / {fmt_int(row.get('orders'))} orders)")
    if metric == "repurchase_rate" and row.get("repeat_customers") is not None:
        return (f"（{fmt_int(row.get('repeat_customers'))} / {fmt_int(row.get('customers'))} 位客户）" if zh else
                f" ({fmt_int(row.get('repeat_customers'))} of {fmt_int(row.get('customers'))} customers)")
    return ""


def _render_kpi(r: dict, zh: bool, focus: dict) -> str:
    label = r.get("label_zh") if zh else r.get("label_en")
    unit = r.get("unit")
    span = period(r, zh)
    filt = r.get("filters") or {}
    def _fv(v, sep):
        return sep.join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
    ftxt = "、".join(_fv(v, "、") for v in filt.values()) if zh else ", ".join(f"{k}={_fv(v, '/')}" for k, v in filt.items())
    by = r.get("by")
    bd = r.get("breakdown") or []
    if zh:
        txt = (f"{span}" if span else "全部时间") + (f"（{ftxt}）" if ftxt else "") + f"的{label}为 {fmt_unit(r.get('value'), unit, zh)}"
    else:
        txt = f"{label}" + (f" for {span}" if span else " over all time") + (f" ({ftxt})" if ftxt else "") + \
              f": {fmt_unit(r.get('value'), unit, zh)}"
    share = r.get("share_of_all") or {}
    if share.get("share") is not None:   # "女性客户占比": the group's share of everyone in the same period
        txt += (f"，占同期全部{label}（{fmt_unit(share.get('all_value'), unit, zh)}）的 {fmt_pct(share['share'])}" if zh else
                f", {fmt_pct(share['share'])} of the {fmt_unit(share.get('all_value'), unit, zh)} in total")
    det = r.get("details") or {}
    extra = []
    if r.get("metric") == "complaint_rate":
        if det.get("complaints") is not None:
            extra.append(f"投诉 {fmt_int(det.get('complaints'))} 条" if zh else f"{fmt_int(det.get('complaints'))} complaints")
        if det.get("orders") is not None:
            extra.append(f"订单 {fmt_int(det.get('orders'))} 单" if zh else f"{fmt_int(det.get('orders'))} orders")
    elif r.get("metric") == "lapsed_customers" and det.get("buyers_in_period") is not None:
        extra.append("之前下过单、这段时间没有再下单；这段时间下过单的客户 " + fmt_int(det["buyers_in_period"]) + " 位" if zh else
                     f"ordered before, none in this period; {fmt_int(det['buyers_in_period'])} customers ordered in it")
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
    elif r.get("metric") == "largest_order" and det.get("order_id"):
        extra.append(f"订单 {det.get('order_id')}，客户 {det.get('customer_id')}，{det.get('order_date')}" if zh else
                     f"order {det.get('order_id')} by customer {det.get('customer_id')} on {det.get('order_date')}")
    elif r.get("metric") == "sales_per_customer" and det.get("customers") is not None:
        extra.append(f"销售额 {fmt_money(det.get('sales'))} / {fmt_int(det.get('customers'))} 位客户" if zh else
                     f"sales {fmt_money(det.get('sales'))} / {fmt_int(det.get('customers'))} customers")
    elif r.get("metric") == "average_age" and det.get("with_birthday") is not None:
        extra.append(f"{fmt_int(det.get('with_birthday'))} 位有生日信息的购买客户" if zh else
                     f"{fmt_int(det.get('with_birthday'))} buying customers with a birthday on file")
    elif det.get("own_column"):   # a metric over the company's own column (semantic.toml)
        gap = (det.get("order_lines") or det.get("customers") or 0) - (det.get("with_value") or 0)
        how = det.get("definition_zh") if zh else det["definition"]
        extra.append((f"{how}；{fmt_int(gap)} 行无值" if zh else f"{how}; {fmt_int(gap)} without a value") if gap else how)
    if extra:
        txt += ("（" + "，".join(extra) + "）") if zh else (" (" + ", ".join(extra) + ")")
    txt += "。" if zh else "."
    cmp_ = r.get("comparison")
    if cmp_:
        txt += _comparison_text(cmp_, unit, zh)
    also = r.get("also") or []
    for a in also:
        txt += ((f"{a['label_zh']}为 {fmt_unit(a.get('value'), a.get('unit'), zh)}。") if zh else
                f" {a['label_en']}: {fmt_unit(a.get('value'), a.get('unit'), zh)}.")
    if r.get("metric") == "retention":
        n = len(bd)
        txt += (f"共 {fmt_int(n)} 个月度同期群，见热力图。" if zh else f" {fmt_int(n)} monthly cohorts; see the heatmap.")
        return txt
    if by and bd:
        timeline = by in ("month", "day") and not r.get("ranked")
        show = bd if timeline else bd if len(bd) <= 20 else bd[:10]
        if timeline and len(show) > (24 if by == "month" else 31):
            show = show[-(24 if by == "month" else 31):]
        lines = [(f"{row.get(by)}：{fmt_unit(row.get('value'), unit, zh)}" if zh else
                  f"{row.get(by)}: {fmt_unit(row.get('value'), unit, zh)}") + _kpi_row_extra(r.get("metric"), row, zh) + rank_mark(row, zh)
                 + (_row_change(row, unit, zh) if cmp_ else "") + _also_row(also, row.get(by), zh) for row in show]
        dim = (r.get("by_label") or DIMENSIONS.get(by) or {}).get("zh", by) if zh else \
            (r.get("by_label") or {}).get("en", by.replace("_", " ")) if by not in DIMENSIONS else by.replace("_", " ")
        if zh:
            txt += f"\n按{dim}" + (f"（前 {fmt_int(len(show))} 个）" if len(show) < len(bd) and by != "month" else "") + "：\n" + bullets(lines)
        else:
            txt += f"\nBy {dim}" + (f" (top {fmt_int(len(show))})" if len(show) < len(bd) and by != "month" else "") + ":\n" + bullets(lines)
        txt += unranked_text(bd, by, r.get("metric"), zh)
    for dim, rows in (r.get("contributions") or {}).items():
        txt += _contributions_text(dim, rows, unit, zh, r.get("explain_order") or "size")
    return txt


def _also_row(also: list, group, zh: bool) -> str:
    parts = [f"{a['label_zh' if zh else 'label_en']} {fmt_unit((a.get('by_group') or {}).get(group), a.get('unit'), zh)}"
             for a in also if a.get("by_group")]
    if not parts:
        return ""
    return ("，" + "，".join(parts)) if zh else ("; " + ", ".join(parts))


def _signed(v, unit, zh) -> str:
    if v is None:
        return "—"
    return ("+" if float(v) > 0 else "-" if float(v) < 0 else "±") + fmt_unit(abs(float(v)), unit, zh)


def _comparison_text(c: dict, unit, zh: bool) -> str:
    kind = {"previous_period": ("环比", "vs the previous period"), "same_period_last_year": ("同比", "vs the same period last year"),
            "period": ("对比", "compared")}
    k = kind.get(c.get("compare"), ("对比", "compared"))
    pct = f"{float(c['change_pct']) * 100:+.1f}%" if c.get("change_pct") is not None else "—"
    if zh:
        return (f"{k[0]}：{c.get('current_period')} 为 {fmt_unit(c.get('current'), unit, zh)}，{c.get('previous_period')} 为 "
                f"{fmt_unit(c.get('previous'), unit, zh)}，变化 {_signed(c.get('change'), unit, zh)}（{pct}）。")
    return (f" {k[1].capitalize()}: {c.get('current_period')} {fmt_unit(c.get('current'), unit, zh)}, "
            f"{c.get('previous_period')} {fmt_unit(c.get('previous'), unit, zh)}, change {_signed(c.get('change'), unit, zh)} ({pct}).")


def _row_change(row: dict, unit, zh: bool) -> str:
    if row.get("previous") is None:
        return ""
    pct = f"{float(row['change_pct']) * 100:+.1f}%" if row.get("change_pct") is not None else "—"
    return (f"（上期 {fmt_unit(row.get('previous'), unit, zh)}，{_signed(row.get('change'), unit, zh)}，{pct}）" if zh else
            f" (before {fmt_unit(row.get('previous'), unit, zh)}, {_signed(row.get('change'), unit, zh)}, {pct})")


def _contributions_text(dim: str, rows, unit, zh: bool, order: str = "size") -> str:
    name = DIMENSIONS.get(dim, {}).get("zh" if zh else "en", dim)
    if isinstance(rows, dict):  # the change of this metric cannot be split
        return (f"\n无法按{name}拆分：{rows.get('error')}" if zh else f"\nNot split by {name}: {rows.get('error')}")
    lines = [(f"{row.get(dim)}：{_signed(row.get('delta'), unit, zh)}（{fmt_unit(row.get('previous'), unit, zh)} → "
              f"{fmt_unit(row.get('current'), unit, zh)}）" if zh else
              f"{row.get(dim)}: {_signed(row.get('delta'), unit, zh)} ({fmt_unit(row.get('previous'), unit, zh)} → "
              f"{fmt_unit(row.get('current'), unit, zh)})") for row in rows]
    first_zh = {"size": "影响最大的在前", "growth": "增长最多的在前", "decline": "下降最多的在前"}[order]
    first_en = {"size": "biggest first", "growth": "biggest rises first", "decline": "biggest falls first"}[order]
    if zh:
        return f"\n按{name}拆分变化（各项相加等于总变化，{first_zh}）：\n" + bullets(lines)
    return f"\nThe change by {name} (the parts add up to the total change, {first_en}):\n" + bullets(lines)


GROWTH_WORDS = re.compile(r"增长|上涨|涨|上升|增加|提升|grow|grew|rising|rose|increas|up the most", re.I)
DECLINE_WORDS = re.compile(r"下滑|下降|减少|降低|下跌|跌|掉|拖.{0,2}后腿|拖累|declin|drop|fall|fell|shrink|los(e|ing)|dragg", re.I)
# "客户的性别分布": how the customers split, a count — not sales
CUSTOMER_MIX = re.compile(r"(客户|顾客|会员|用户|买家|customers?|clients?|members?|buyers?).{0,12}(分布|构成|占比|比例|结构|组成|"
                          r"distribution|breakdown|mix|split)|(分布|distribution|breakdown|mix|split).{0,12}(客户|customers|clients|members)",
                          re.I)
# "哪个月卖得最好" / "best month": a time breakdown ranked by value
RANKED_PERIOD = re.compile(r"最(高|好|多|低|差|少|旺|淡)|哪(个|一)?(月|季度|年|天)|那(一)?天|\b(best|worst|highest|lowest|peak|busiest|"
                           r"quietest|slowest|record|top|which (month|quarter|year|day|weekday))\b", re.I)
_ACQUISITION = re.compile(r"获客|来源|引流|注册|acqui|sign(ed)? ?up|came from|source", re.I)


def _kpi_args(f) -> dict:
    s, q = f.slots, f.q
    metric = s.get("metric") or ("customers" if s.get("by") and CUSTOMER_MIX.search(q) else "sales")
    a: dict = {"metric": metric}
    if s.get("by") and metric != "retention":
        a["by"] = s["by"]
    a.update(f.copy(("date_from", "date_to", "province", "city")))
    if metric == "lapsed_customers" and f.ws is not None and (s.get("lapse_days") or not s.get("date_from")):
        as_of = f.ws.as_of()   # no order in the last N days (90 when unsaid): those days are the period
        a["date_from"] = f"{as_of - pd.Timedelta(days=int(s.get('lapse_days') or 90)):%Y-%m-%d}"
        a["date_to"] = f"{as_of - pd.Timedelta(days=1):%Y-%m-%d}"
    if s.get("item") and a.get("by") != "category" and f.vocab is not None and s["item"] in f.vocab.categories:
        a["category"] = s["item"]
    several = "," in (s.get("sales_channel") or "")
    if s.get("sales_channel") and (a.get("by") not in ("channel", "order_channel") or several):
        kind = s.get("channel_kind") or "order_channel"
        if metric in FEEDBACK_METRICS:
            kind = "channel"  # feedback has no order channel
        a[kind] = s["sales_channel"]
        if several and not s.get("compare"):
            a["by"] = kind   # two channels named: the two side by side
    if s.get("compare") and not s.get("by"):
        # the places side by side: a breakdown limited to them
        a["by"] = s["compare"]
        a.pop("city", None)
        if s["compare"] == "province" or (a.get("province") and place_key(a["province"]) in
                                          {place_key(c) for c in s.get("compare_places") or []}):
            a.pop("province", None)
        a[s["compare"]] = ",".join(s["compare_places"])
    if a.get("by") == "channel" and metric in ("sales", "orders", "aov") and not _ACQUISITION.search(q):
        a["by"] = "order_channel"  # sales "by channel": where the orders were placed
    if s.get("top") and a.get("by"):
        a["top"] = s["top"]
    if s.get("segment") and (s.get("segment_strong") or f.segment_words) and a.get("by") not in _SEGMENT_BYS:
        a["segment"] = s["segment"]  # "冠军客户的平均年龄": the metric over one segment
    if s.get("item") and "category" not in a and f.vocab is not None and metric not in FEEDBACK_METRICS \
            and _product_word(s["item"], q, f.vocab.products):
        a["product"] = s["item"]  # a product, or a word in product names ("绿茶": every green tea)
    for k in ("gender", "age_band"):
        if s.get(k) and a.get("by") != k:
            a[k] = s[k]
    if s.get("age_range") and metric not in FEEDBACK_METRICS:
        a.update(age_args({"age_range": s["age_range"]}))
    if metric in ("sales_per_day", "orders_per_day") and a.get("by") == "day":
        a.pop("by")   # "平均每天多少订单": the day is in the metric
    if a.get("by") in ("month", "quarter", "year", "weekday", "day") and RANKED_PERIOD.search(q):
        a["rank_periods"] = True   # "what is our best month ever": the periods by value
    if s.get("weekday") and a.get("by") != "weekday":
        a["where"] = {"weekday": s["weekday"]}
    if s.get("customer_type") and a.get("by") != "customer_type":
        a.setdefault("where", {})["customer_type"] = s["customer_type"]   # "新客复购率": new customers only
    for dim, labels in (s.get("own_where") or {}).items():   # the workspace's own dimension (semantic.toml)
        if len(labels) > 1 and not a.get("by"):
            a["by"] = dim   # "西湖店和滨江店的毛利": the two side by side
        if a.get("by") != dim or len(labels) > 1:
            a.setdefault("where", {})[dim] = ",".join(labels)
    if s.get("lowest") and a.get("by"):
        a["order"] = "lowest"
    if s.get("share_of_all") and not a.get("by") and metric in SHARE_METRICS:
        a["share_of_all"] = True   # "女性客户占比": the group's share of everyone
    if s.get("also_metrics"):
        a["also"] = [m for m in s["also_metrics"] if m != metric]
    if s.get("period_compare") and metric != "retention":
        a["compare"] = s["period_compare"]
        if s["period_compare"] == "period":
            a["compare_from"], a["compare_to"] = s["compare_from"], s["compare_to"]
        if s.get("explain"):
            if GROWTH_WORDS.search(q) and not DECLINE_WORDS.search(q):
                a["explain_order"] = "growth"
            elif DECLINE_WORDS.search(q) and not GROWTH_WORDS.search(q):
                a["explain_order"] = "decline"
            if a.get("by") and a["by"] in _EXPLAINABLE:
                a["explain_by"] = [a.pop("by")]   # "哪个品类拖的后腿": the change split by that dimension
                a.pop("top", None)
            else:
                a["explain_by"] = [d for d in ("category", "province", "order_channel") if d != a.get("by")]
    return a


def _product_word(item: str, q: str, products) -> bool:
    """A product's name, or a word of the question (jieba) found in product names — not two characters
    that happen to meet across words ("今年高" holds 年高, as in 中老年高钙奶粉), or the Chinese word an English
    one stands for ("green tea": 绿茶, not in the question's own words)."""
    if item in products:
        return True
    if item not in q:
        return any(item in p for p in products)
    from knowledge.text import tokenize
    return item in tokenize(q, stop=False) and any(item in p for p in products)


_SEGMENT_BYS = ("segment", "segment_cn8", "tier", "cluster")
_EXPLAINABLE = ("category", "product", "province", "city", "order_channel", "channel", "segment", "gender", "age_band")


_HIGHEST = re.compile(r"最高|最多|最好|最大|\b(highest|most|best|top)\b", re.I)


def _kpi_inherit(args: dict, new: dict, f) -> None:
    s = f.slots
    if s.get("top") and args.get("by"):
        new["top"] = s["top"]  # "top 5 instead"
    if s.get("lowest") and args.get("by"):
        new["order"] = "lowest"  # "那最低的呢": the bottom of the same ranking
    elif args.get("order") == "lowest" and _HIGHEST.search(f.q):
        args.pop("order")  # "那最高的呢"
    if s.get("metric"):
        args["metric"] = s["metric"]
    new.pop("metric", None)
    if (s.get("city") or s.get("province")) and args.get("by") in ("city", "province") and not s.get("by"):
        args.pop("by", None)
    if s.get("city") and not s.get("province"):
        args.pop("province", None)
    if s.get("province") and not s.get("city"):
        args.pop("city", None)
    if new.get("product") or new.get("category"):   # "那红茶呢" after coffee: the other item, not both
        args.pop("category" if new.get("product") else "product", None)



register(ToolSpec(
    query_metrics, order=10, roles=MANAGERS, family="kpi",
    args=_kpi_args, inherit=_kpi_inherit,
    exemplars=(
        '复购率是多少', '客单价多少', '按省份的销售额', '月度销售趋势', '留存率怎么样', '客户满意度', '投诉率是多少', '销售额是多少', '订单数', '卖了多少钱',
        '新客户有多少', '平均多久复购一次', '投诉处理要多久', '各渠道的客户数', '哪个城市卖得最好', '按品类看销售额', '男女客户的客单价对比', '各年龄段的复购率', '每个月的订单量',
        '该地区的销售额', '该商品的销售额', '营业额', 'GMV多少', '同期群留存', 'what is the repurchase rate', 'average order value',
        'sales split by province', 'monthly sales trend', 'customer retention', 'customer satisfaction level',
        'complaint rate', 'total revenue', 'how many orders did we get', 'number of new customers',
        'mean days between purchases', 'how long does it take to resolve complaints',
        'which city has the highest sales', 'sales by category', 'AOV by gender',
        'repeat purchase rate by channel', 'orders per month', 'sales in this region',
        'how are sales trending', 'revenue of this product', 'retention of monthly cohorts', '哪个品类投诉最多',
        '投诉处理平均用时', '新老客户各多少', '各渠道销售额对比', '两个地区哪个卖得多', 'which category gets the most complaints',
        'sales on each platform', 'how many customers came from this channel',
    ),
    cues=(
        Cue(r"环比|同比|平均年龄|人均消费|客均|最大的?一?笔?订单|单笔|销量|件数|多少件|畅销|热销|爆款|卖得最好|year[- ]over[- ]year|"
            r"month[- ]over[- ]month|\byoy\b|\bmom\b|units sold|best[- ]selling|best sellers?|top products|largest order|"
            r"biggest order|average age|per customer", 0.25),
        Cue(r"satisf|消费金额|消费额|复购率|回购率|重复购买率|客单价|平均订单|销售额|销售收入|营业额|营收|收入|gmv|销量|卖了多少|买了?多少(?!件|次|单|笔|人|位|个|天|回)|订单数|订单量|多少单|"
            r"多少订单|客户数|新客户数|新客数|新增客户|留存|同期群|购买间隔|复购周期|回购周期|多久(一次)?(复购|回购|买一次|下一单|再买)|满意度|平均评分|评分|好评率|投诉率|"
            r"投诉数|投诉量|投诉.{0,3}(多少|几条|几个|几次)|处理时长|解决时长|处理时间|多久解决|趋势|走势|月度|每月|按月|各省|各城市|各地区|各渠道|各品类|按省|按城市|"
            r"分省|分城市|年龄段|男女|性别|哪个(省|城市|渠道|品类)|kpi|指标|"
            r"repurchase|repeat (purchase|rate|buyers?)|average order|\baov\b|order value|basket size|revenue|\bsales\b|"
            r"turnover|\bgmv\b|how many complaints|number of complaints|how much\s+(\S+\s+){0,4}did\s+(\S+\s+){1,5}(buy|purchase|order|spend)|how many orders|number of orders|order count|orders per|new customers|retention|cohort|"
            r"purchase interval|between (purchases|orders)|satisfaction|csat|rating|complaint rate|complaints per|"
            r"resolution time|time to resolve|resolve complaints|trend|monthly|by month|per month|by province|by city|"
            r"by region|by channel|by category|by gender|by age|which (province|city|region|channel|category)", 0.2),
        Cue(COMPLAINT_BY, 0.3),
    ),
    render=_render_kpi,
    help_zh="经营指标（销售额、订单数、客单价、复购率、留存、满意度、投诉率、处理时长，可按省份/城市/月份/品类等拆分）",
    help_en="KPIs (sales, orders, AOV, repurchase rate, retention, satisfaction, complaint rate, resolution time — by "
            "province, city, month, category …)",
    example_zh="各省销售额", example_en="Sales by province"))
