"""Questions about a group of customers that a count alone would answer wrongly: those gone quiet,
listed or written to ("哪些客户超过90天没下单了", "给超过90天没下单的客户写挽回短信"), and a group's
share of everyone ("女性客户占比", "what share of customers are from Jiangsu"), and the segments of
one group ("女性客户的RFM分群分布", "广州客户的分群情况")."""
from __future__ import annotations

import re

import pandas as pd

from assistant.question_words import COUNTING, SHARE_OF, SHOW_CUSTOMERS, SINCE
from tools.kpi_tools import SHARE_METRICS
from tools.segment_tools import ALL_CUSTOMERS

__all__ = ["group_question"]

GROUP_SLOTS = ("province", "city", "gender", "age_band", "age_range", "sales_channel")
# "what share of last month's customers were new": the new customers, said in English without the metric's words
NEW_ONES = re.compile(r"\b(customers|buyers|clients|shoppers)\b.{0,30}\b(were|are|was|is)\s+(new|first[- ]time)\b", re.I)
SEGMENT_MIX = re.compile(r"分群|分层|分级|分类|八大类|层级|segment|tier|\brfm\b", re.I)


def group_question(q: str, slots: dict, scores: dict, boosts: dict, named_segment: bool, as_of) -> None:
    """Adjust the slots and family scores of a question about no one customer, in place."""
    lapsed = slots.get("metric") == "lapsed_customers"
    as_of = pd.Timestamp(as_of).normalize()
    if lapsed and slots.get("date_from") and SINCE.search(q):
        # "since last quarter began": nothing from its first day up to today (the quarter's words no longer fit)
        slots["date_to"] = (as_of - pd.Timedelta(days=1)).date().isoformat()
        slots.pop("date_phrase", None)
    to_today = not slots.get("date_to") or pd.Timestamp(slots["date_to"]) >= as_of - pd.Timedelta(days=1)
    writing = bool(boosts.get("draft") or boosts.get("draft_batch"))
    if lapsed and not COUNTING.search(q) and not boosts.get("campaign") and (writing or SHOW_CUSTOMERS.search(q)):
        # those customers, listed or written to: ordered before, nothing in the last N days — or, for a
        # period that has ended ("上个季度没下单的客户有哪些"), nothing in that period (orders since do not matter)
        if to_today:
            slots["silent_days"] = slots.pop("lapse_days", None) or silence_of(slots, as_of)
        else:
            slots["no_order_from"], slots["no_order_to"] = slots["date_from"], slots["date_to"]
        for k in ("metric", "date_from", "date_to", "date_phrase"):
            slots.pop(k, None)   # the span is the silence, not a period to rank spend in
        slots.setdefault("segment", ALL_CUSTOMERS)
        scores["draft_batch" if writing else "segment"] = max(scores.values()) + 0.01
    elif lapsed and max(scores, key=scores.get) in ("churn", "kpi", "segment", "rfm", "care"):
        scores["kpi"] = max(scores.values()) + 0.01   # "超过90天没下单的客户有多少": a count, not the churn model's list
    complaints = {f: boosts[f] for f in ("similar", "topics") if boosts.get(f, 0) >= 0.15}
    if named_segment and complaints and max(scores, key=scores.get) in ("segment", "rfm"):
        # "冠军客户有没有投诉过物流慢": the segment's complaints, not its member list
        scores[max(complaints, key=complaints.get)] = max(scores.values()) + 0.01
    who = ("gender", "age_band", "age_range", "sales_channel")
    if not named_segment and not slots.get("segment") and not slots.get("by") and any(slots.get(k) for k in GROUP_SLOTS) \
            and max(scores, key=scores.get) in ("segment", "rfm") and not SHOW_CUSTOMERS.search(q) and \
            SEGMENT_MIX.search(q):
        # "女性客户的RFM分群分布": the segments of that group, a count by segment over it
        slots["metric"], slots["by"] = "customers", slots.get("scheme_hint") or "segment"
        scores["kpi"] = max(scores.values()) + 0.01
        return
    if named_segment and any(slots.get(k) for k in who) and COUNTING.search(q) and not SHOW_CUSTOMERS.search(q) \
            and max(scores, key=scores.get) in ("segment", "rfm") and slots.get("metric") in (None, "customers"):
        # "女性冠军客户有多少": the segment's customers of that group, counted (the segment table has no gender)
        slots["metric"] = "customers"
        scores["kpi"] = max(scores.values()) + 0.01
        return
    new_ones = slots.get("customer_type") or ("新客 new" if slots.get("metric") == "new_customers" or NEW_ONES.search(q) else None)
    if SHARE_OF.search(q) and new_ones and not slots.get("by") and not SEGMENT_MIX.search(q) and not boosts.get("campaign") \
            and slots.get("metric") in (None, "new_customers", *SHARE_METRICS):
        # "上个月新客户占比": the period's buyers whose first order is in it, as a share of all its buyers (the
        # customer type, not the RFM segment "新客户"); "新客销售额占比": their sales' share
        slots["customer_type"] = new_ones
        if slots.get("metric") in (None, "new_customers"):
            slots["metric"] = "customers"
        slots["share_of_all"] = True
        slots.pop("segment", None)
        scores["kpi"] = max(scores.values()) + 0.01
        return
    if SHARE_OF.search(q) and any(slots.get(k) for k in GROUP_SLOTS) and not slots.get("by") and not named_segment \
            and slots.get("metric") in (None, *SHARE_METRICS) and not boosts.get("campaign"):
        # that group's count (or sales) as a share of everyone's in the same period
        slots.setdefault("metric", "customers")
        slots["share_of_all"] = True
        scores["kpi"] = max(scores.values()) + 0.01


def silence_of(slots: dict, as_of: pd.Timestamp) -> int:
    """Days without an order a period up to today means ("最近三个月没买过的"); 90 when none is said."""
    if slots.get("date_from"):
        return max(int((as_of - pd.Timestamp(slots["date_from"])).days), 1)
    return 90
