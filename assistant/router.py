"""Offline intent routing and slot filling (no LLM).

A question goes through four steps:

1. **Slots** from the workspace's own vocabulary (`Vocabulary`, built once per workspace):
   customers by id (C01023) or by name (exact Chinese/English names, rapidfuzz for typos; two
   customers with one name → a clarifying question), products and categories (plus an
   English→Chinese word list: green tea → 绿茶), segment names (11 RFM segments in English and
   Chinese, the eight classes, the tiers, cluster names), provinces and cities (with or without
   省/市, pinyin for the big ones), top-N, day windows and date ranges relative to the as-of
   date (`assistant.lang`), KPI metric and breakdown words.
2. **Masking**: entity spans become placeholders (该客户 / the customer, 该商品 / this product …)
   so the intent model sees the question's *shape*, not its names.
3. **Intent**: nearest exemplars (each tool's spec, `tools.spec.ToolSpec.exemplars`; scored by
   `assistant.intent.IntentModel`) plus the specs' keyword cues, scored per tool family; the
   specs' ``serves`` then pick the tool inside the family from the slots (a customer →
   churn_risk, none → at_risk_customers) and their ``args`` map the slots to parameters.
   Nothing here names a tool: a tool registered from a plugin is routed like a built-in one.
4. **Conversation**: pronouns and bare follow-ups ("他的流失概率呢?", "那上海呢?", "top 20
   instead") take the customer / tool / arguments from `assistant.memory.Memory`; an answer to
   a clarifying question ("第一个", "the one in 杭州", an id) resolves it.
"""
from __future__ import annotations

import re
import sys

from assistant.intent import IntentModel
from assistant.route import Route
from assistant.pending import resolve_pending
from assistant.question_words import (ARTEFACT_METRICS, AND_WORDS, BLAME, CHANGE, CHANNEL_ALIASES, CHURN_BY, CHURN_WORDS, NEVER_BOUGHT, RATE_WORDS, COMPLAINT_CONTEXT, FOLLOWUP, GENDER_ONE, GROUP_METRICS, LANGUAGE_SWITCH, LISTING, LOWEST, ORDINAL, OUT_OF_SCOPE, PLACE_GROUPS, PREVIOUS_PERIOD, PRONOUN, SAME_PERIOD_LAST_YEAR, SEG_WORDS, THEM, TWO_PERIODS, BOTH_GENDERS, churn_risk_named, group_spans, message_slots, weekdays_named, without_new_customers, age_range_named, customer_type_named, UNSUPPORTED, WHY, age_band_named, all_cues, has_slots, known_words, metrics_named)
from assistant.lang import parse_date_range, parse_days, parse_top, span_days, two_periods
from assistant.homophones import homophone_fixer
from assistant.conditions import unapplied_conditions
from assistant.group_questions import asks_for_buyers, bought_condition, bought_question, group_followup, group_question
from assistant.instructions import ignoring_instructions
from assistant.vocabulary import Mention, Vocabulary, complaint_text, nfkc, normalise_question, vocabulary_for

from knowledge.text import has_cjk, place_key, question_language
from knowledge.workspace import Workspace
from tools.kpi_tools import CUSTOMER_MIX
from tools.kpi_words import DIMENSION_WORDS, METRIC_WORDS, PREFERENCE
from tools.semantic import semantic_model
from tools.spec import Frame, ToolSpec, specs

__all__ = ["Route", "Router", "Vocabulary", "IntentModel", "Mention"]


# ================================================================= router
class Router:
    """Routes one question (with the conversation's memory) to a tool and its arguments."""

    def __init__(self, ws: Workspace, model: IntentModel | None = None):
        self.ws = ws
        self.vocab = vocabulary_for(ws)
        self._model = model
        self.as_of = ws.as_of()
        self.semantic  # a bad WORKSPACE/semantic.toml is refused here, with its file and entry

    semantic = property(lambda self: semantic_model(self.ws), doc="The workspace's semantic model (own words included).")
    model = property(lambda self: self._model or IntentModel.shared(),
                     doc="The given intent model, else the shared one for today's exemplars (plugins included).")

    # ---------------------------------------------------------------- public
    @ignoring_instructions  # pasted "SYSTEM: 调用 segment_members …", tool names and calls are not the question
    def route(self, question: str, memory=None) -> Route:
        q = normalise_question(nfkc(question).strip())
        q = homophone_fixer(self.semantic.terms).fix(q)  # 客单架 → 客单价: same pinyin, wrong character
        v = self.vocab
        # 0. "用英文说" / "in English please": the last answer again, in that language
        switch = LANGUAGE_SWITCH.fullmatch(q)
        if switch and memory is not None and memory.last_tool and self._spec(memory.last_tool) is not None \
                and self._spec(memory.last_tool).family not in ("draft", "draft_batch"):
            target = "en" if re.search(r"英|english", q, re.I) else "zh"
            route = Route(memory.last_tool, dict(memory.last_args or {}), memory.last_tool, target, 1.0, followup=True)
            route.notes.append("language switch")
            return route
        # a verified question of the workspace (WORKSPACE/semantic.toml): its query, trusted first
        verified = self.semantic.verified_query(q)
        if verified is not None:
            route = Route("query_metrics", verified, "kpi", question_language(q), 1.0)
            route.notes.append("verified question")
            return route
        # 1. pending clarification: an answer picks one of the candidates
        if memory is not None and memory.pending:
            r = resolve_pending(self, q, memory)
            if r is not None:
                return r
        mentions = v.find_customers(q)
        item, item_span = v.find_item(q)
        bought = None if mentions else bought_condition(q, item, item_span, v.categories)   # "上个月买了绿茶的客户有哪些"
        # 2. what the data cannot answer, said plainly instead of answering another question
        declined = self._decline(q, mentions, bought)
        if declined is not None:
            return declined
        seg = v.find_segment(q)
        seg_term = self.semantic.term_in(q, "segment")
        if seg_term and (not seg or len(seg_term[1]) > len(seg[2])):
            seg = (seg_term[0], "segment", seg_term[1], True)  # the company's word for a segment ("老客")
        if seg and not seg[3] and (SEG_WORDS.search(q) or (seg[2] in q and re.fullmatch(r"[A-Z][a-z]+(?: [A-Z][a-z]+)*", seg[2])
                                                          and not q.startswith(seg[2]))):
            seg = (seg[0], seg[1], seg[2], True)  # "the At Risk segment", "list the At Risk customers"
        prov, city, place_spans = v.find_places(q)
        spans = [m.span for m in mentions] + ([item_span] if item_span else []) + \
                ([seg[2]] if seg else []) + place_spans
        lang = question_language(q, ignore=spans)
        masked = self._mask(q, mentions, item_span, seg if seg and seg[3] else None, place_spans, lang)
        fam_scores = self.model.scores(masked)
        boosts = {}
        q_rules = q.replace(seg[2], " 分群 ") if seg and seg[3] else q  # "有流失风险客户" is a segment, not a churn cue
        for fam, rx, b in all_cues():
            if rx.search(q_rules):
                boosts[fam] = max(boosts.get(fam, 0.0), b)
        scores = {f: s + boosts.get(f, 0.0) for f, s in fam_scores.items()}
        slots = self._slots(q, lang, mentions, item, seg, prov, city)
        # "哪些男性客户投诉过物流慢", "冠军客户有没有投诉过…": who complained, not what about
        slots["group_spans"] = group_spans(q, slots, place_spans + ([seg[2]] if seg and seg[3] else []))
        has_customer = bool(mentions)
        pronoun = bool(PRONOUN.search(q))
        if isinstance(bought, dict) and not pronoun and (fam := bought_question(q, slots, bought, item_span, self.as_of)):
            return self._build(fam, q, lang, slots, mentions, pronoun, memory, scores, max(scores.values()))
        if (isinstance(bought, dict) and (bought["not_bought"] or bought.get("ordered"))) or (item and asks_for_buyers(q)):
            return Route(None, {}, "unknown", lang, 0.0, notes=["customers who bought an item, by group or in a metric"])
        # slot-driven adjustments
        if has_customer or pronoun:
            for f in {sp.family for sp in specs() if sp.customer}:  # families of the tools about one customer
                scores[f] = scores.get(f, 0) + 0.03
        if item and not re.search(r"投诉|抱怨|差评|吐槽|complain", q, re.I):
            scores["together"] = scores.get("together", 0) + 0.03
        if has_customer and slots.get("channel") and slots.get("occasion") and slots["occasion"] != "regular":
            scores["draft"] = scores.get("draft", 0) + 0.3  # "C100352 生日快乐短信": a message for one customer
        if seg and seg[3]:
            scores["segment"] = scores.get("segment", 0) + 0.1
        if slots.get("metric"):
            scores["kpi"] = scores.get("kpi", 0) + (0.25 if slots.get("metric_term") else 0.05)
            if seg and (slots["metric"] in GROUP_METRICS or slots.get("province") or slots.get("city")
                        or slots.get("sales_channel") or slots.get("date_from")):
                scores["kpi"] += 0.1  # "冠军客户的平均年龄": a metric over a segment, not the segment's list
            if seg and (slots.get("province") or slots.get("city") or slots.get("sales_channel")) \
                    and not LISTING.search(q):
                # "广州的重要价值客户有多少": the segment tables cannot filter by place or channel; the KPI can
                scores["kpi"] = max(scores["kpi"], scores.get("segment", 0) + 0.01)
            if slots["metric"] == "customers" and SEG_WORDS.search(q) and not has_customer and not (
                    seg and (slots.get("province") or slots.get("city") or slots.get("sales_channel"))):
                scores["kpi"] -= boosts.get("kpi", 0) + 0.05  # "各分群客户数量" is a segment count
        if slots.get("by") and not has_customer and not pronoun and \
                not any(b >= 0.15 for f, b in boosts.items() if f not in ("kpi", "segment", "rfm")):
            scores["kpi"] = scores.get("kpi", 0) + 0.08
        if seg and seg[3] and boosts.get("churn") and not has_customer and not pronoun and \
                scores.get("segment", 0) >= scores.get("churn", 0) and \
                not re.search(r"各|分布|占比|比例|结构|构成|分层|breakdown|distribution|split|share|mix", q, re.I):
            # "冠军客户里有谁可能要流失": churn words outside the segment's name → the at-risk list of that segment
            scores["churn"] = scores["segment"] + 0.01
        one_customer = (has_customer and len(mentions[0].ids) == 1) or (
            not has_customer and pronoun and memory is not None and bool(memory.customer_id))
        if one_customer and item and re.search(r"买过|购买过|买了|\b(bought|purchased|ordered)\b", q, re.I) and not boosts.get("draft"):
            scores["profile"] = max(scores.values()) + 0.01   # "C100001买过咖啡吗": the card lists their orders
        if one_customer:
            lead = max(scores, key=scores.get)
            if lead == "similar" and not boosts.get("draft") and not re.search(
                    r"类似|相似|同样|这种|这类|一样的|怎么(处理|解决|回复)|如何(处理|解决)|similar|same|like this|how (did|do|should) we", q, re.I) \
                    and not complaint_text(q, (slots.get("date_phrase"), *slots.get("mention_spans", ())), fallback=False):
                scores["profile"] = scores["similar"] + 0.01  # "C101353 之前投诉过什么": the customer's card lists them
            if lead == "care" and not boosts.get("draft") and not re.search(r"哪些|谁|名单|list|who|which|upcoming|calendar", q, re.I):
                scores["profile"] = scores["care"] + 0.01  # "Linda Clark 生日快到了吗": the card has the birthday
        if not has_customer and not pronoun and max(scores, key=scores.get) in ("profile", "segment") and \
                slots.get("by") in ("category", "product", "order_channel") and not LISTING.search(q) and (
                slots.get("gender") or slots.get("age_band") or slots.get("province") or slots.get("city")
                or slots.get("sales_channel") or PREFERENCE.search(q)):
            # "25岁以下的客户买得最多的品类是什么", "冠军客户最喜欢买什么": a group's ranking of categories, not its top customers
            scores["kpi"] = max(scores.values()) + 0.01
        if not has_customer and not pronoun and max(scores, key=scores.get) == "profile" and slots.get("by") and (
                slots.get("gender") or seg or slots.get("province") or slots.get("city") or slots.get("sales_channel")):
            # "女性客户喜欢买什么品类": a group's preference, a breakdown over that group
            scores["kpi"] = scores["profile"] + 0.01
        if not has_customer and not pronoun and slots.get("by") and CUSTOMER_MIX.search(q) and \
                max(scores, key=scores.get) in {sp.family for sp in specs() if sp.customer}:
            scores["kpi"] = max(scores.values()) + 0.01   # "会员等级分布": how the customers split, not one customer
        if has_customer and max(scores, key=scores.get) == "kpi":
            # "邹宇轩下过多少单" / "王博文以后能带来多少收入": one customer's numbers are in the customer tools, not a KPI
            fams = ("rfm", "profile", "clv", "churn", "recommend", "cluster")
            if re.search(r"以后|未来|将来|预计|预期|能带来|会带来|还能|future|expected|predicted|will (bring|spend|be worth)", q, re.I):
                scores["clv"] = scores.get("clv", 0) + 0.05
            pick = max(fams, key=lambda f: scores.get(f, 0))
            scores[pick] = scores["kpi"] + 0.01
        by_value = {"channel": "sales_channel", "city": "city", "province": "province", "gender": "gender"}.get(slots.get("by"))
        if boosts.get("churn") and CHURN_WORDS.search(q) and not has_customer and not pronoun and slots.get("metric") in (None, "customers") \
                and slots.get("by") in CHURN_BY and not (by_value and slots.get(by_value)):   # "抖音来的客户有哪些…": a filter
            # "有流失风险的客户主要在哪些城市", "哪个省份流失风险的客户最多": those at risk counted per group;
            # "which city has the highest churn": the mean churn probability per group, ranked
            slots["metric"] = "churn_probability" if RATE_WORDS.search(q) else "at_risk_customers"
        if not has_customer and not pronoun:   # "哪些客户超过90天没下单了", "女性客户占比"
            group_question(q, slots, scores, boosts, bool(seg and seg[3]), self.as_of, spans)
        artefact_metric = slots.get("metric") in ARTEFACT_METRICS and not has_customer and not pronoun
        if artefact_metric and (slots["metric"] == "churn_probability" or slots.get("by") or slots.get("province")
                                or slots.get("city") or slots.get("sales_channel") or slots.get("gender")
                                or slots.get("age_band") or slots.get("date_from") or (seg and seg[3])):
            # "各省的平均流失概率", "杭州客户的平均CLV": an aggregate over a group, which the lists cannot give
            scores["kpi"] = max(scores.values()) + 0.01
        elif slots.get("metric") in ("first_purchase", "last_purchase") and not has_customer and not pronoun:
            scores["kpi"] = max(scores.values()) + 0.01   # "杭州客户最近一次购买是什么时候": a date over a group
        elif artefact_metric:
            # "有多少客户有流失风险", "平均CLV是多少": the churn / CLV tools answer the whole base, with names
            fam = "churn" if slots["metric"] in ("at_risk_customers", "churn_probability") else "clv"
            scores[fam] = max(scores.values()) + 0.01
        if boosts.get("churn") and not slots.get("metric") and not has_customer and \
                scores.get("kpi", 0) >= scores.get("churn", 0) > 0:
            scores["churn"] = scores["kpi"] + 0.01  # "which city has the highest churn": no churn KPI, the at-risk list
        top2 = sorted(scores, key=lambda f: -scores[f])[:3]
        if top2[0] == "similar" and "topics" in top2 and not has_customer and not pronoun and not slots.get("status") and \
                not complaint_text(q, (slots.get("date_phrase"), *slots["group_spans"]), fallback=False):
            # "which products do customers complain about": no description to match → the topics
            scores["topics"] = scores["similar"] + 0.01
        if boosts.get("draft") and boosts.get("care") and not has_customer and not pronoun and \
                re.search(r"哪些|哪位|谁|什么|有没有|\b(which|who|what|any)\b", q, re.I):
            # "近期有什么节日要给客户发祝福": no one to write to yet — who is due, from the care calendar
            scores["care"] = max(scores.get("care", 0), scores.get("draft", 0) + 0.01)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        family, best = ranked[0]
        last_spec = self._spec(memory.last_tool) if memory is not None else None
        last_family = last_spec.family if last_spec is not None else None
        cues = {f for f, b in boosts.items() if b >= 0.15 and f != "help"}
        own_intent = bool(cues) or bool(seg and seg[3]) or bool(slots.get("metric"))
        marker = bool(FOLLOWUP.search(q))
        if not mentions and group_followup(q, slots, memory, v):   # "冠军客户有多少人" → "他们主要在哪些城市"
            return self._build("kpi", q, lang, slots, mentions, pronoun, memory, scores, best)
        # 2. follow-ups: "那上海呢?", "top 20 instead", "换成上个月" re-run the last tool with new slots
        if last_family and has_slots(slots, mentions, pronoun, q) and not boosts.get("help"):
            # the question's own cues, without the placeholder a segment name was replaced by above
            q_plain = q.replace(seg[2], " ") if seg and seg[3] else q
            own_cues = {f for f, rx, b in all_cues() if b >= 0.15 and f != "help" and rx.search(q_plain)}
            other_cue = bool(own_cues - {last_family})
            same_only = bool(own_cues) and not other_cue and not slots.get("metric") and len(q) <= 24
            group_ref = bool(THEM.search(q)) and not mentions and last_family == "kpi"
            if (marker and not other_cue) or (not own_intent and (len(q) <= 14 or marker or family == "unknown")) \
                    or same_only or group_ref:
                return self._followup(q, lang, memory, slots, mentions, pronoun, scores)
        strong_cue = bool(cues)
        # 3. nothing recognisable
        if family in ("unknown", "help") or (best < 0.84 and not strong_cue and not mentions and not item):
            if mentions and family != "help":
                family = "profile"
            else:
                intent = "help" if family == "help" or boosts.get("help") else "unknown"
                return Route(None, {}, intent, lang, best, scores=scores)
        return self._build(family, q, lang, slots, mentions, pronoun, memory, scores, best)

    # ---------------------------------------------------------------- pieces
    def _decline(self, q: str, mentions, bought) -> Route | None:
        """A metric the data has no column for, a customer id that does not exist, no words at all, or what
        `bought_condition` declines (``bought`` a string: why)."""
        lang = question_language(q)
        m, rest = UNSUPPORTED.search(q), q
        while m and self.semantic.declares_metric(q, m.group(0)):   # the workspace's own metric ("毛利")
            rest = rest.replace(m.group(0), " ")
            m = UNSUPPORTED.search(rest)
        if m and not COMPLAINT_CONTEXT.search(q):
            return Route(None, {}, "unsupported", lang, 0.0, notes=[f"unsupported:{m.group(0)}"])
        if OUT_OF_SCOPE.search(q):
            return Route(None, {}, "unknown", lang, 0.0, notes=["out of scope"])
        if isinstance(bought, str):   # "哪些人买了坚果但没买咖啡", "who buys the most coffee"
            return Route(None, {}, "unknown", lang, 0.0, notes=[f"customers who bought an item: {bought}"])
        if NEVER_BOUGHT.search(q) and not mentions and not bought:   # "从来没买过的客户": never bought what?
            return Route(None, {}, "unknown", lang, 0.0, notes=["customers who never bought an item"])
        if len(q) > 400 and not COMPLAINT_CONTEXT.search(q[:400]):
            return Route(None, {}, "unknown", lang, 0.0, notes=["a long paste, not a question"])
        unknown = self.vocab.unknown_ids(q)
        if unknown and not mentions:
            return Route(None, {}, "unknown_customer", lang, 0.0, notes=[f"unknown_customer:{unknown[0]}"])
        if not self._has_words(q):
            return Route(None, {}, "unknown", lang, 0.0, notes=["no words"])
        return None

    def _has_words(self, q: str) -> bool:
        """Chinese characters, a known English word, a number or an entity: something to read."""
        if has_cjk(q):
            return True
        words = re.findall(r"[A-Za-z]{2,}", q)
        if not words:
            return bool(re.search(r"\d", q))
        known = known_words()
        return any(w.lower() in known or w.lower() in self.vocab.latin_words for w in words)

    def _mask(self, q, mentions, item_span, seg, place_spans, lang) -> str:
        zh = lang == "zh"
        out = q
        for m in sorted(mentions, key=lambda m: -len(m.span)):
            out = out.replace(m.span, "该客户" if zh else "the customer")
        if item_span:
            out = out.replace(item_span, "该商品" if zh else "this product")
        if seg:
            out = out.replace(seg[2], "该分群" if zh else "this segment")
        for s in sorted(place_spans, key=len, reverse=True):
            out = out.replace(s, "该地区" if zh else "this region")
        return out

    def _slots(self, q, lang, mentions, item, seg, prov, city) -> dict:
        s: dict = {}
        top = parse_top(q)
        if top:
            s["top"] = top
        dr = parse_date_range(q, self.as_of)
        if dr:
            s["date_from"], s["date_to"], s["date_phrase"] = dr
        days = parse_days(q)
        if days:
            s["days"] = days
        if item:
            s["item"] = item
        s["mention_spans"] = tuple(m.span for m in mentions if m.span)
        if seg:
            s["segment"], s["scheme"], _, s["segment_strong"] = seg
        if prov:
            s["province"] = prov
        if city:
            s["city"] = city
        term = self.semantic.term_in(q, "metric")
        if term:
            s["metric"], s["metric_term"] = term  # the company's own word wins ("GMV", "成交额")
        for rx, m in METRIC_WORDS if not term else ():
            if rx.search(q):
                if m == "orders" and rx is METRIC_WORDS[-1][0] and mentions:
                    break  # "C100420 的订单" is about the customer, not the order count
                s["metric"] = m
                break
        if s.get("metric") == "lapsed_customers" and span_days(q):   # "超过90天没下单的客户": the span with no order, backwards from as_of
            s["lapse_days"] = span_days(q)
        # a breakdown word inside a date ("三月份以来") or a named channel is not a breakdown
        q_by = q.replace(dr[2], " ") if dr else q
        chan, chan_span = self._channel(q_by)
        if chan:
            q_by = q_by.replace(chan_span, " ")
            chan2, span2 = self._channel(q_by)
            if chan2 and chan2 != chan:   # "天猫和京东哪个渠道客单价高": both, side by side
                chan, q_by = f"{chan},{chan2}", q_by.replace(span2, " ")
        grouping = re.search(r"各|按|每个|每一个|每类|分品类|分渠道|分省|分城市|分月|哪个|哪些|哪类|哪一|排名|排行|对比|比较|分布|\bby\b|per\b|which|"
                             r"across|breakdown|split|compare|ranking|distribution", q_by, re.I)
        for rx, b in DIMENSION_WORDS:
            mm = rx.search(q_by)
            if mm:
                # a named place is a filter, not a breakdown ("杭州的销售额")
                if b in ("city", "province") and (city or prov) and not re.search(r"各|按|每个|哪个|哪些|by|per|which|across", q, re.I):
                    continue
                if b == "channel" and re.search(r"sms|短信|微信|wechat|email|邮件", q_by, re.I):
                    continue
                if b in ("channel", "order_channel") and chan and not grouping:
                    continue  # "抖音渠道的客户数": one channel, a filter
                if b == "category" and item and item in self.vocab.categories and not grouping:
                    continue  # "茶叶类目今年卖了多少": one category, a filter
                if b == "gender" and GENDER_ONE.search(q_by) and not BOTH_GENDERS.search(q_by) and \
                        not re.search(r"男女|性别|gender|men and women", q_by, re.I):
                    continue  # "山东女性客户的客单价", "哪些女性客户有流失风险": one gender, a filter (set below)
                if b == "age_band" and s.get("metric") == "average_age" and not grouping:
                    continue  # "冠军客户的平均年龄": the age is the metric, not a breakdown
                if b == "age_band" and (age_band_named(q) or age_range_named(q)) and not re.search(r"年龄段|各.{0,3}年龄|by age|age (group|band)s", q_by, re.I):
                    continue  # "25岁以下的客户": one band, a filter (set below)
                s["by"] = b
                break
        dim_term = self.semantic.term_in(q_by, "dimension")
        if dim_term and "by" not in s:
            s["by"] = dim_term[0]
        if self.semantic.own and (own := self.semantic.own_values_in(self.ws, q_by)):
            s["own_where"] = own   # "西湖店的毛利": a label of the workspace's own dimension, a filter
        group = next((g for g in PLACE_GROUPS if g[0].search(q)), None)
        if group:
            # "江浙沪" / "北上广深": several places at once → compare them in a breakdown
            kind, names = group[1], group[2]
            known = self.vocab.cities if kind == "city" else self.vocab.provinces
            places = [known[n] for n in names if n in known]
            if len(places) >= 2:
                s["compare"], s["compare_places"] = kind, places
                s.pop("city", None)
                s.pop("province", None)
        elif prov or city:
            cities, provs = self.vocab.compared_places(q)
            # a municipality named with provinces ("北京和广东") is compared as a province
            muni = [self.vocab.provinces[place_key(c)] for c in cities if place_key(c) in self.vocab.provinces]
            if re.search(r"和|与|跟|及|、|还是|对比|比较|哪个|vs\.?|versus|compare|\band\b|\bor\b|,", q, re.I):
                # places side by side: a breakdown limited to them, not one filter ("杭州和宁波哪个卖得多")
                if len(cities) >= 2:
                    s["compare"], s["compare_places"] = "city", cities
                elif len(provs) >= 2 or (provs and len(muni) == len(cities) and len(provs) + len(muni) >= 2):
                    s["compare"], s["compare_places"] = "province", provs + [m for m in muni if m not in provs]
        if chan:
            # orders placed on a platform vs customers acquired through it
            acq = re.search(r"获客|来源|来的|引流|拉来|注册|acqui|sign(ed)? ?up|(customers|clients|buyers|people|users|who) (\w+ )?came from|source", q, re.I)
            s["sales_channel"] = chan
            s["channel_kind"] = "channel" if acq or s.get("metric") in (
                "customers", "new_customers", "repurchase_rate", "retention", "purchase_interval") and not re.search(
                r"订单|下单|销售|卖|order|sales|revenue", q, re.I) else "order_channel"
        m = re.search(r"(?:概率|可能性|probability|chance)\s*(?:超过|大于|高于|above|over|>|≥|>=|at least)\s*(\d{1,3}(?:\.\d+)?)\s*(%|％)?", q, re.I) or \
            re.search(r"(?:超过|大于|高于|above|over|>|≥|>=|at least)\s*(\d{1,3}(?:\.\d+)?)\s*(%|％)", q, re.I)
        if m:
            val = float(m.group(1))
            s["min_probability"] = val / 100 if (m.group(2) or val > 1) else val
        # comparisons and explanations of a metric ("10月销售额环比", "为什么上个月销售额下降了")
        cmp_m = SAME_PERIOD_LAST_YEAR.search(q) or PREVIOUS_PERIOD.search(q)
        if cmp_m:
            s["period_compare"] = "same_period_last_year" if SAME_PERIOD_LAST_YEAR.search(q) else "previous_period"
            if dr and dr[2] and dr[2] in cmp_m.group(0):
                # "和去年同期比": 去年 names the comparison, not the period asked about — unless the
                # question names its own period outside the comparison ("Q3 … vs Q3 last year")
                own = parse_date_range(q.replace(cmp_m.group(0), " "), self.as_of)
                for k in ("date_from", "date_to", "date_phrase"):
                    s.pop(k, None)
                if own:
                    s["date_from"], s["date_to"], s["date_phrase"] = own
        two = two_periods(q, dr, self.as_of) if not cmp_m and dr and TWO_PERIODS.search(q) else None
        if two:   # "2026年10月和2025年10月比" / "Q3 vs Q2": the later period is the current one
            (s["date_from"], s["date_to"], s["date_phrase"]), s["period_compare"], other = two
            if other:
                s["compare_from"], s["compare_to"] = other
        if s.get("by") != "weekday" and weekdays_named(q):
            s["weekday"] = weekdays_named(q)   # "周末的销售额": Saturdays and Sundays only
        if BOTH_GENDERS.search(q) and not s.get("by"):
            s["by"] = "gender"   # "男性客户和女性客户谁的客单价高": the two side by side
        g = GENDER_ONE.search(q)
        if g and s.get("by") != "gender":
            s["gender"] = "F" if re.search(r"女|female|women|ladies", g.group(0), re.I) else "M"
        band = age_band_named(q)
        span = None if band else age_range_named(q)
        if span:   # "30岁以上女性客户", "90后": an age or birth-year range, a filter
            s["age_range"] = span
        if band and (not grouping or s.get("by") != "age_band"):
            s["age_band"] = band   # one band; "under 25 … by category" filters too
        if (span or s.get("age_band")) and s.get("by") == "age_band":
            s.pop("by")
        if LOWEST.search(q):
            s["lowest"] = True  # "卖得最差的5个商品": the bottom of the ranking
        metrics = metrics_named(q)
        if seg and seg[3] and (prov or city or chan or dr) and re.search(r"有多少(?!钱)(人|位|个)?(?=$|[、，,和?？。])|how many", q, re.I) \
                and "customers" not in metrics:
            # "成都的重要价值客户有多少(、平均消费多少)": a count inside a place, not the national table
            metrics = ["customers"] + metrics
            s["metric"] = "customers"
        if s.get("by") != "customer_type" and not seg and (ctype := customer_type_named(q, metrics or [s.get("metric")])):
            s["customer_type"], metrics = ctype, [m for m in metrics if m != "new_customers"]   # "新客复购率"
            s["metric"] = (metrics or [s.get("metric")])[0]
        if s.get("by") == "customer_type" and "new_customers" in metrics + [s.get("metric")]:
            metrics = without_new_customers(q, metrics)   # "新客和老客的销售额": new / returning is the breakdown
            s["metric"] = metrics[0]
        if len(metrics) >= 2 and AND_WORDS.search(q):
            # "各省销售额和订单数": the first metric named leads, the others come along
            s["metric"], s["also_metrics"] = metrics[0], metrics[1:]
        if (WHY.search(q) or BLAME.search(q)) and CHANGE.search(q):
            s["explain"] = True
            s.setdefault("period_compare", "previous_period")
        if re.search(r"未解决|没解决|没有解决|还没(有)?(解决|处理)|待处理|处理中|未处理|\bopen\b|unresolved|pending|not (yet )?resolved", q, re.I):
            s["status"] = "open"
        elif re.search(r"已解决|已经解决|解决了|解决好|处理好|处理完|已处理|resolved|closed", q, re.I):
            s["status"] = "resolved"
        s.update(message_slots(q))   # the occasion, channel, tone and language of a care message
        if risk := churn_risk_named(q.replace(seg[2], " ") if seg else q):
            s["churn_risk"] = risk   # "流失风险高的重要价值客户": a condition on the segment (its own name aside)
        if re.search(r"聚类|cluster", q, re.I):
            s["scheme_hint"] = "cluster"
        elif re.search(r"八大类|八类|八种|重要价值|重要发展|重要保持|重要挽留|一般价值|一般发展|一般保持|一般挽留|eight", q, re.I):
            s["scheme_hint"] = "segment_cn8"
        elif re.search(r"\btiers?\b|三层|三类|高价值|潜力客户|层级|分层|high[- ]value|potential customers", q, re.I):
            s["scheme_hint"] = "tier"
        return s

    def _channel(self, q: str) -> tuple[str | None, str | None]:
        """A sales / acquisition channel named in the question (天猫, 京东, "JD", "Tmall" …)."""
        chans = self.vocab.channels
        for c in chans:
            if c in q:
                return c, c
        low = q.lower()
        for alias, zh in CHANNEL_ALIASES:
            m = re.search(alias, low)
            if m:
                hit = next((c for c in chans if c == zh), None) or next((c for c in chans if zh in c), None)
                if hit:
                    return hit, q[m.start():m.end()]
        return None, None

    def _customer(self, mentions, pronoun, memory, q) -> tuple[list[str], Mention | None]:
        if mentions:
            m = mentions[0]
            return m.ids, m
        # ordinal reference to the last list ("第一个的CLV")
        if memory is not None and memory.last_list:
            for rx, idx in ORDINAL:
                if rx.search(q) and (re.search(r"个|位|名|one|customer|客户|guy|person", q, re.I)):
                    try:
                        return [memory.last_list[idx]], Mention(rx.pattern, [memory.last_list[idx]], "ordinal")
                    except IndexError:
                        break
        if memory is not None and memory.customer_id:
            return [memory.customer_id], Mention("", [memory.customer_id], "memory")
        return [], None

    def _spec(self, name: str | None) -> ToolSpec | None:
        return next((sp for sp in specs() if sp.name == name), None) if name else None

    def _customer_tool(self, name: str | None, optional: bool = True) -> bool:
        sp = self._spec(name)
        return sp is not None and (sp.customer == "required" or (optional and sp.customer == "optional"))

    def _frame(self, q, lang, slots, has_customer, memory, who=None) -> Frame:
        return Frame(q=q, slots=slots, has_customer=has_customer, language=lang, memory=memory, vocab=self.vocab,
                     ws=self.ws, who=who, segment_words=bool(SEG_WORDS.search(q)), complaint_text=complaint_text)

    def _build(self, family, q, lang, slots, mentions, pronoun, memory, scores, best) -> Route:
        ids, mention = [], None
        if mentions:
            ids, mention = self._customer(mentions, pronoun, memory, q)
        elif memory is not None:
            ids, mention = self._customer([], pronoun, memory, q)
            if mention is not None and mention.how == "memory" and not pronoun:
                needs_one = family in ("profile", "draft") or (family == "recommend" and not slots.get("item")) or (
                    bool(FOLLOWUP.search(q)) and self._customer_tool(memory.last_tool)
                    and memory.last_args.get("customer_id") == memory.customer_id)
                if not needs_one:
                    ids, mention = [], None  # "哪些客户有流失风险" is not about the last customer
        who = mentions[0].ids[0] if mentions and len(mentions[0].ids) == 1 else (
            memory.customer_id if pronoun and not mentions and memory is not None and memory.customer_id else None)
        frame = self._frame(q, lang, slots, bool(ids) or (pronoun and family in ("churn", "clv", "cluster", "rfm")),
                            memory, who)
        spec = self._tool_for(family, frame)
        if spec is None:
            return Route(None, {}, "unknown", lang, best, scores=scores)
        tool = spec.name
        route = Route(tool, spec.route_args(frame), tool, lang, best, scores=scores)
        if slots.get("segment"):
            route.focus["segment"] = slots["segment"]
        if spec.customer == "required" or (spec.customer == "optional" and (ids or pronoun)):
            if not ids:
                fuzzy = self.vocab.fuzzy_cjk(q)
                if fuzzy and fuzzy.ids:
                    return self._clarify(route, fuzzy.ids, "customer", fuzzy.span)
                route.needs_clarification, route.clarify_kind, route.intent = True, "missing_customer", tool
                return route
            if len(ids) > 1:
                return self._clarify(route, ids, "customer", mention.span if mention else "")
            route.args["customer_id"] = ids[0]
            if mention is not None and mention.how == "fuzzy":
                route.notes.append(f"fuzzy:{mention.span}")
        if spec.refine is not None:
            spec.refine(route, frame)
        if cut := unapplied_conditions(spec, slots, route.args):
            route.focus["unapplied"] = cut   # "给女性重要价值客户写短信": the answer says the tool took no gender
        for need in spec.needs:  # "买什么的人还会买…" without an item: ask which one
            if not route.args.get(need):
                route.needs_clarification, route.clarify_kind = True, f"missing_{need}"
                break
        return route

    def _clarify(self, route: Route, ids: list[str], kind: str, span: str) -> Route:
        route.needs_clarification = True
        route.clarify_kind = kind
        route.candidates = list(ids)[:8]
        route.notes.append(f"ambiguous:{span}")
        return route

    def _tool_for(self, family: str, frame: Frame) -> ToolSpec | None:
        """The spec that serves ``family`` for these slots: the first (by priority) whose
        condition holds."""
        cands = []
        for sp in specs():
            sv = sp.serve_for(family)
            if sv is not None:
                cands.append((sv.priority, sp.order, sp, sv))
        for _, _, sp, sv in sorted(cands, key=lambda c: (c[0], c[1])):
            if sv.when is None or sv.when(frame):
                return sp
        return None

    # ---------------------------------------------------------------- conversation
    def _followup(self, q, lang, memory, slots, mentions, pronoun, scores) -> Route:
        tool = memory.last_tool
        spec = self._spec(tool)
        args = dict(memory.last_args or {})
        frame = self._frame(q, lang, slots, bool(mentions), memory)
        new = spec.route_args(frame) if spec is not None else {}
        if spec is not None and spec.inherit is not None:
            spec.inherit(args, new, frame)
        args.update({k: v for k, v in new.items() if v is not None})
        route = Route(tool, args, tool, lang, max(scores.values()), followup=True, scores=scores)
        if self._customer_tool(tool):
            ids, mention = self._customer(mentions, pronoun, memory, q)
            if ids:
                if len(ids) > 1:
                    return self._clarify(route, ids, "customer", mention.span if mention else "")
                route.args["customer_id"] = ids[0]
            elif self._customer_tool(tool, optional=False):
                route.needs_clarification, route.clarify_kind = True, "missing_customer"
        elif mentions and len(mentions[0].ids) == 1 and spec is not None and spec.after_list_customer:
            # a named customer after a list: show that customer's card for the same topic
            route.tool = route.intent = spec.after_list_customer
            route.args = {"customer_id": mentions[0].ids[0]}
        return route


if __name__ == "__main__" and "--ship" in sys.argv:
    from assistant.intent import ship_vectors
    print(ship_vectors())
