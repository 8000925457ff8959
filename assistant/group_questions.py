"""Questions about a group of customers that a count alone would answer wrongly: those gone quiet,
listed or written to ("哪些客户超过90天没下单了", "给超过90天没下单的客户写挽回短信"), and a group's
share of everyone ("女性客户占比", "what share of customers are from Jiangsu"), and the segments of
one group ("女性客户的RFM分群分布", "广州客户的分群情况")."""
from __future__ import annotations

import re

import pandas as pd

from assistant.question_words import COUNTING, SHARE_OF, SHOW_CUSTOMERS
from tools.kpi_tools import SHARE_METRICS
from tools.segment_tools import ALL_CUSTOMERS

__all__ = ["group_question"]

GROUP_SLOTS = ("province", "city", "gender", "age_band", "age_range", "sales_channel")
SEGMENT_MIX = re.compile(r"分群|分层|分级|分类|八大类|层级|segment|tier|\brfm\b", re.I)


def group_question(q: str, slots: dict, scores: dict, boosts: dict, named_segment: bool, as_of) -> None:
    """Adjust the slots and family scores of a question about no one customer, in place."""
    lapsed = slots.get("metric") == "lapsed_customers"
    as_of = pd.Timestamp(as_of).normalize()
    to_today = not slots.get("date_to") or pd.Timestamp(slots["date_to"]) >= as_of - pd.Timedelta(days=1)
    writing = bool(boosts.get("draft") or boosts.get("draft_batch"))
    if lapsed and to_today and not COUNTING.search(q) and not boosts.get("campaign") and (writing or SHOW_CUSTOMERS.search(q)):
        # those customers, listed or written to: ordered before, nothing in the last N days
        slots["silent_days"] = slots.pop("lapse_days", None) or silence_of(slots, as_of)
        for k in ("metric", "date_from", "date_to", "date_phrase"):
            slots.pop(k, None)   # the span is the silence, not a period to rank spend in
        slots.setdefault("segment", ALL_CUSTOMERS)
        scores["draft_batch" if writing else "segment"] = max(scores.values()) + 0.01
    elif lapsed and max(scores, key=scores.get) in ("churn", "kpi", "segment", "rfm", "care"):
        scores["kpi"] = max(scores.values()) + 0.01   # "超过90天没下单的客户有多少": a count, not the churn model's list
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
