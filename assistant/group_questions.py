"""Questions about a group of customers that a count alone would answer wrongly: those gone quiet,
listed or written to ("哪些客户超过90天没下单了", "给超过90天没下单的客户写挽回短信"), and a group's
share of everyone ("女性客户占比", "what share of customers are from Jiangsu"), and the segments of
one group ("女性客户的RFM分群分布", "广州客户的分群情况"), and the customers who bought (or did not buy) an
item in a period ("上个月买了绿茶的客户有哪些", "给上个月买过绿茶的客户发感谢短信")."""
from __future__ import annotations

import re

import pandas as pd

from assistant.question_words import (CHANGE, TWO_PERIODS, BOUGHT_LIST, BOUGHT_NOT, BOUGHT_RANKED, BOUGHT_TWO, CHURN_WORDS,
                                      COUNTING, LISTING, MESSAGE_CUE, SHARE_OF, SHOW_CUSTOMERS, SINCE, THEM, TOGETHER_CUE,
                                      known_words)
from assistant.vocabulary import complaint_text
from tools.kpi_tools import SHARE_METRICS
from tools.kpi_words import DIMENSION_WORDS
from tools.segment_tools import ALL_CUSTOMERS

__all__ = ["group_question", "group_followup", "bought_condition", "bought_question", "asks_for_buyers", "CUSTOMER_BYS"]

GROUP_SLOTS = ("province", "city", "gender", "age_band", "age_range", "sales_channel")
# "what share of last month's customers were new": the new customers, said in English without the metric's words
NEW_ONES = re.compile(r"\b(customers|buyers|clients|shoppers)\b.{0,30}\b(were|are|was|is)\s+(new|first[- ]time)\b", re.I)
SEGMENT_MIX = re.compile(r"分群|分层|分级|分类|八大类|层级|segment|tier|\brfm\b", re.I)


def group_question(q: str, slots: dict, scores: dict, boosts: dict, named_segment: bool, as_of, spans=()) -> None:
    """Adjust the slots and family scores of a question about no one customer, in place (``spans``: the words
    the router read as a customer, item, segment or place)."""
    filters = [v for k, v in slots.items() if k in ("signup_channel", "sales_channel", "order_channel", "channel", "category",
                                                      "product", "item") and isinstance(v, str)]
    if slots.get("metric") == "complaints" and not slots.get("by") and not CHANGE.search(q) and not TWO_PERIODS.search(q) and \
            complaint_topic(q, (*spans, slots.get("date_phrase"), *(slots.get("group_spans") or ()), *filters)):
        # "退款一直没到账的投诉有多少": complaints about something the metric cannot filter by — the similar ones,
        # not the count of every complaint
        slots.pop("metric")
        scores["similar"] = max(scores.values()) + 0.01
        return
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
    if max(scores, key=scores.get) == "together" and slots.get("item") and slots.get("metric") == "customers" \
            and COUNTING.search(q) and not TOGETHER_CUE.search(q):
        scores["kpi"] = max(scores.values()) + 0.01   # "how many people bought eggs": its buyers counted, not what goes with it
    if named_segment and slots.get("by") in CUSTOMER_BYS and slots.get("metric") in (None, "customers") and \
            max(scores, key=scores.get) in ("segment", "rfm", "cluster") and not _NAMES.search(q):
        # "冠军客户主要在哪些城市", "冠军客户里男女比例": the segment's customers counted by that, not its list or the summary
        slots["metric"] = "customers"
        scores["kpi"] = max(scores.values()) + 0.01
    if not named_segment and not slots.get("segment") and not slots.get("metric") and not slots.get("by") and \
            any(slots.get(k) for k in GROUP_SLOTS) and (SHOW_CUSTOMERS.search(q) or _NAMES.search(q)) and \
            not COUNTING.search(q) and not any(b >= 0.15 for b in boosts.values()) and \
            max(scores, key=scores.get) in _LIST_FAMILIES:
        # "上海的女客户有哪些", "25岁以下的客户有哪些", "list female customers in Shanghai": those customers listed,
        # not the segment summary, the at-risk list or one customer's card
        slots["segment"] = ALL_CUSTOMERS
        scores["segment"] = max(scores.values()) + 0.01
        boosts["segment"] = 0.15   # a question of its own: after "各省销售额", not the sales of women by province
        return
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


# the words of a complaint count that name no topic: who, how many, when
_NOT_A_TOPIC = re.compile(r"客户|顾客|会员|用户|买家|客人|女性|男性|渠道|来的|(有|快)?流失(风险)?(高|大|低)?的?|"
                          r"\b(at[- ]risk|(high )?churn(ing)?( risk)?)\b|最多|最少|主要|什么|哪些|哪个|哪类|啥|问题|方面|类型|多少|几条|几个|数量|总数|一共|总共|条数|条|"
                          r"\b(how|many|number|total|count|what|which|kinds?|types?|most|main|about|customers?|clients?|buyers?|people|from|in|of|the|were|was|are|is|"
                          r"there|did|we|get|got|have|had|received?|last|this|past|month|week|year|quarter|today|yesterday)\b",
                          re.I)


def complaint_topic(q: str, spans) -> str:
    """What the complaints of a count are about ("退款一直没到账的投诉有多少": 退款一直没到账; "how many complaints
    were about broken packaging": broken packaging), "" when the question names only who and when (``spans``:
    the words read as other slots)."""
    t = _NOT_A_TOPIC.sub(" ", complaint_text(q, tuple(s for s in spans if s), fallback=False))
    t = re.sub(r"\s+", " ", t).strip(" 的")
    return t if len(re.findall(r"[\u4e00-\u9fff]", t)) >= 2 or re.search(r"[a-z]{3,}", t, re.I) else ""


CUSTOMER_BYS = ("province", "city", "gender", "age_band", "channel")   # who the customers are, a breakdown of them
_LIST_FAMILIES = ("segment", "rfm", "profile", "churn", "contact_history", "kpi", "cluster", "clv")   # no cue said another
_NAMES = re.compile(r"名单|列出|列一下|清单|\blist\b|\bnames\b", re.I)


def group_followup(q: str, slots: dict, memory, vocab) -> bool:
    """"冠军客户有多少人" → "他们主要在哪些城市": the segment just answered about, its customers counted by the
    breakdown asked (the segment tools have none); the slots are set for the metric. False, slots untouched,
    for anything else (a group with other conditions than its segment stays with the follow-up of its tool)."""
    if memory is None or memory.last_tool not in ("segment_summary", "segment_members") or not THEM.search(q) or \
            slots.get("by") not in CUSTOMER_BYS or slots.get("metric") not in (None, "customers"):
        return False
    last = dict(memory.last_args or {})
    seg = last.pop("segment", None)
    if any(v not in (None, "", False) for k, v in last.items() if k not in ("scheme", "top")):
        return False
    if not seg and memory.turns:   # the summary's own arguments do not say which segment the question named
        found = vocab.find_segment(memory.turns[-1]["question"])
        seg = found[0] if found and found[3] else None
    if not seg or str(seg).lower() == ALL_CUSTOMERS:
        return False
    slots.update(metric="customers", segment=seg, segment_strong=True)
    return True


def silence_of(slots: dict, as_of: pd.Timestamp) -> int:
    """Days without an order a period up to today means ("最近三个月没买过的"); 90 when none is said."""
    if slots.get("date_from"):
        return max(int((as_of - pd.Timestamp(slots["date_from"])).days), 1)
    return 90


# the word after "买过" / "bought" when the catalogue has no such item ("上个月买过榴莲酥的客户"): passed on, so
# the tool says no product has it (an empty list would say nobody bought it)
_ZH_BOUGHT_WORD = re.compile(r"(?:买了|买过|购买了|购买过|买)(?P<w>[\u4e00-\u9fffA-Za-z]{2,8}?)"
                             r"(?:的(?:老|女|男|女性|男性|新)?(?:客户|顾客|客人|人|用户|会员|买家|宝妈|宝爸|有)|吗|[?？]|$)")
_ZH_NOT_A_WORD = re.compile(r"的|东西|商品|产品|货|啥|什么|单|最|多|次|件|元|块|钱|以上|以下|超过|过|了|些|样|得|到|\d")
_EN_BOUGHT_WORD = re.compile(r"\b(?:bought|purchased|buy|purchase|buys|purchases)\s+(?P<w>[a-z][a-z'-]*(?:\s+[a-z][a-z'-]*){0,2}?)"
                             r"(?=\s+(?:last|this|in|during|since|over|before|from|between|on|at|yesterday|recently|ever|the past)\b|\s*[?.!,]|\s*$)",
                             re.I)
_ORDERED = re.compile(r"(?<![没未不])(下单|下过单|下了单|有过?(订单|购买|消费)|消费过|买过东西)|\b(who|customers|people) (ordered|placed (an )?orders?|"
                      r"made (a )?purchases?|bought something|shopped)\b", re.I)
_PERIOD = re.compile(r"[上本这今去前近][个一]?(月|季度|周|星期|年)|\d+月|最近|昨天|今天|\b(last|this|past) (week|month|quarter|year)\b|"
                     r"yesterday|today|\bin (january|february|march|april|may|june|july|august|september|october|november|december)\b",
                     re.I)
_CAMPAIGN = re.compile(r"活动|营销|\bcampaigns?\b", re.I)
_WRITE = re.compile(r"写|起草|感谢|\b(write|draft|texts?|thank)", re.I)   # a message to them ("write a thank-you text")


def _said_word(q: str) -> str | None:
    """The item word after "买过" / "bought" ("榴莲酥"), without a trailing 类 / 系列 ("零食类": 零食)."""
    m = _ZH_BOUGHT_WORD.search(q)
    w = re.split(r"又|也|和|跟|与|或|还|并|且|但|而|就|有|是|在", m.group("w"))[0] if m else ""   # "咖啡又有流失风险": 咖啡
    if len(w) >= 2 and not _ZH_NOT_A_WORD.search(w):
        return re.sub(r"(品类|类目|类|系列|用品|产品|商品)$", "", w)
    m = _EN_BOUGHT_WORD.search(q)
    if m and not any(w.lower() in known_words() for w in m.group("w").split()):
        return m.group("w")
    return None


def bought_condition(q: str, item: str | None, item_span: str | None, categories) -> dict | str | None:
    """The purchase condition of a question asking for the customers who bought (or did not buy) an item —
    listed, written to or checked for churn risk: {"ordered": True} for any order in the period said ("上个月
    下过单的客户"), else {"bought_category" (a category of the catalogue) or
    "bought_product" (a word of product names, `Vocabulary.find_item`'s item, else the word after the verb):
    the item, "not_bought": bool}. A string: why it is declined (two purchase conditions, customers ranked by
    an item, a campaign, which cannot target by purchase). None: no such question (a count of buyers is the
    metric's, what is bought with it is bought_together's)."""
    if not item and _ORDERED.search(q) and _PERIOD.search(q) and not BOUGHT_NOT.search(q) and not COUNTING.search(q):
        listed = SHOW_CUSTOMERS.search(q) or re.search(r"谁|^\s*who\b", q, re.I)
        if listed or MESSAGE_CUE.search(q) or _WRITE.search(q):   # "上个月下单的女客户有哪些", "给上个月下过单的客户发短信"
            return {"ordered": True, "not_bought": False}
    if not BOUGHT_LIST.search(q) or TOGETHER_CUE.search(q):
        return None
    said = _said_word(q)
    # the catalogue's item, unless the word said holds more than it ("榴莲酥" is not 金枕榴莲: nothing has it)
    word = said if said and (not item or (item_span and item_span in said and item_span != said)) else item
    negated = bool(BOUGHT_NOT.search(q))
    counting = COUNTING.search(q.replace("哪几", "")) and not SHOW_CUSTOMERS.search(q)   # "哪几位客户" lists them
    if not word or (counting and not negated and not MESSAGE_CUE.search(q)):
        return None
    if BOUGHT_TWO.search(q):
        return "two purchase conditions"
    if BOUGHT_RANKED.search(q):
        return "customers ranked by an item"
    if _CAMPAIGN.search(q):
        return "a campaign for the customers who bought an item"
    key = "bought_category" if word in set(categories) else "bought_product"
    return {key: word, "not_bought": negated}


def asks_for_buyers(q: str) -> bool:
    """Whether the question asks for a list of the customers who bought an item ("买过咖啡的客户有哪些", "list who
    bought…"), which no metric gives; a count of them ("how many customers who bought green tea") is the metric's."""
    listing = SHOW_CUSTOMERS.search(q) or (LISTING.search(q) and not COUNTING.search(q))   # "customers who…": a clause
    return bool(BOUGHT_LIST.search(q) and listing and not TOGETHER_CUE.search(q) and not MESSAGE_CUE.search(q))


_LIST_METRICS = (None, "customers", "lapsed_customers", "at_risk_customers", "churn_probability")   # "…的客户", "…流失"


def bought_question(q: str, slots: dict, bought: dict, item_span: str | None, as_of) -> str | None:
    """Put ``bought`` (`bought_condition`) on the slots, with the question's period as the purchase's
    (bought_from / bought_to, or ordered_from / ordered_to for any order: the days of "上个月", "last quarter",
    "10月"; "since …" runs to today), and
    return the family that answers: a batch of messages when one is asked, the at-risk list for a churn
    risk, else the members of the segment named (everyone when none). None, slots untouched, for a breakdown
    or another metric over those customers ("买过绿茶的客户城市分布": the metric's, with a product filter)."""
    by = slots.get("by")
    if by in ("product", "category") and item_span and not any(
            b == by and rx.search(q.replace(item_span, " ")) for rx, b in DIMENSION_WORDS):
        by = None   # "did not buy baby products": the item's own word, not a breakdown
    ordered = bought.get("ordered")   # any order in the period: ordered_from / ordered_to, and no period is no question
    if by or slots.get("metric") not in _LIST_METRICS or (ordered and not slots.get("date_from")):
        return None
    slots.update({k: v for k, v in bought.items() if v and k != "ordered"})
    if slots.get("date_from"):
        start, end = ("ordered_from", "ordered_to") if ordered else ("bought_from", "bought_to")
        slots[start] = slots["date_from"]
        slots[end] = ((pd.Timestamp(as_of).normalize() - pd.Timedelta(days=1)).date().isoformat()
                              if SINCE.search(q) else slots.get("date_to"))
    for k in ("metric", "date_from", "date_to", "date_phrase", "item", "by", "lapse_days"):
        slots.pop(k, None)   # the period is the purchase's, not one to rank spend in
    if MESSAGE_CUE.search(q) or _WRITE.search(q):
        slots.setdefault("segment", ALL_CUSTOMERS)
        return "draft_batch"
    if CHURN_WORDS.search(q) or slots.get("churn_risk"):
        return "churn"
    slots.setdefault("segment", ALL_CUSTOMERS)
    return "segment"
