"""Rankings of ratio metrics: which groups of a breakdown are compared, and the answer's note on the others.

A ratio (a rate, a mean, a value per customer or per order) is ranked only over the groups with a
known label and at least `MIN_RANK_BASE` of its base — the breakdown column it is computed over
(`RANK_BASE`): 4 repeat buyers among the 5 customers of the 未知 channel are not "the channel with
the highest repurchase rate". The other groups stay in the breakdown after the ranked ones, with
``ranked`` False, and the answer names them and says why. Additive metrics (sales, orders, units …)
rank every group: a small group's total is small, it cannot top a ranking by chance.

>>> import pandas as pd
>>> bd = pd.DataFrame({"channel": ["未知", "天猫", "抖音"], "value": [0.8, 0.67, 0.61], "customers": [5, 1413, 708]})
>>> rank_fairly(bd, "channel", "customers", top=None)[["channel", "ranked"]].to_dict("records")
[{'channel': '天猫', 'ranked': True}, {'channel': '抖音', 'ranked': True}, {'channel': '未知', 'ranked': False}]
"""
from __future__ import annotations

import pandas as pd

from tools.formatting import fmt_int
from tools.metric_sql import UNKNOWN

__all__ = ["MIN_RANK_BASE", "RANK_BASE", "rank_fairly", "fair_first", "rank_mark", "unranked_text"]

#: The fewest of its base (customers, orders, ratings …) a group needs to be ranked by a ratio:
#: 30, the usual smallest sample for comparing a mean or a share.
MIN_RANK_BASE = 30
#: ratio metric → the breakdown column it is over
RANK_BASE = {"aov": "orders", "repurchase_rate": "customers", "sales_per_customer": "customers",
             "orders_per_customer": "customers", "average_age": "with_birthday", "satisfaction": "rated",
             "complaint_rate": "orders", "resolution_time": "resolved", "purchase_interval": "intervals",
             "clv_mean": "scored", "churn_probability": "scored"}
_BASE_WORDS = {"customers": ("位客户", "customers"), "orders": ("单", "orders"),
               "with_birthday": ("位有生日信息的客户", "customers with a birthday"), "rated": ("条评分", "ratings"),
               "resolved": ("条已解决的反馈", "resolved items"), "intervals": ("个购买间隔", "purchase intervals"),
               "scored": ("位有评分的客户", "scored customers")}


def fair_first(bd: pd.DataFrame, fair: pd.Series, top: int | None) -> pd.DataFrame:
    """The rows where ``fair`` holds, in ``bd``'s order (the first ``top``), then the others; a
    ``ranked`` column says which were ranked."""
    fair = fair.eq(True)   # after an outer merge (a comparison): True, False or missing
    head = bd[fair].head(int(top)) if top else bd[fair]
    return pd.concat([head.assign(ranked=True), bd[~fair].assign(ranked=False)]).reset_index(drop=True)


def rank_fairly(bd: pd.DataFrame, by: str, base: str, top: int | None) -> pd.DataFrame:
    """``bd`` (sorted by value) with the groups fit to rank first: a known label and at least
    `MIN_RANK_BASE` in column ``base``."""
    return fair_first(bd, (bd[by].astype(str) != UNKNOWN) & (bd[base] >= MIN_RANK_BASE), top)


def rank_mark(row: dict, zh: bool) -> str:
    """What a breakdown line of a group left out of the ranking ends with."""
    return ("（未参与排名）" if zh else " (not ranked)") if row.get("ranked") is False else ""


def unranked_text(rows: list[dict], by: str, metric: str, zh: bool, shown: int = 8) -> str:
    """The answer's note on the groups left out of a ranking and why ("" when none were)."""
    base = RANK_BASE.get(metric)
    out = [r for r in rows if r.get("ranked") is False]
    if not out or base is None:
        return ""
    unit_zh, unit_en = _BASE_WORDS.get(base, ("", base))
    names = [str(r.get(by)) + ("" if r.get(base) is None else f"（{fmt_int(r.get(base))} {unit_zh}）" if zh else
                                f" ({fmt_int(r.get(base))} {unit_en})") for r in out[:shown]]
    more = len(out) - len(names)
    if zh:
        return (f"\n未参与排名（标签未知，或不足 {MIN_RANK_BASE} {unit_zh}，样本太少无法比较）：" + "、".join(names)
                + (f" 等 {fmt_int(len(out))} 组" if more else "") + "。")
    return (f"\nNot ranked (unknown label, or fewer than {MIN_RANK_BASE} {unit_en}: too few to compare): "
            + ", ".join(names) + (f" and {fmt_int(more)} more" if more else "") + ".")
