"""The words of questions the router reads besides the workspace's own vocabulary: follow-up
markers and pronouns, comparisons (环比 / 同比), explanations (为什么…下降), rankings from the bottom,
language switches, metrics the data has no column for, place groups and channel aliases, a churn
risk put on a group (流失风险高的…) and a care message's occasion, channel, tone and language.
Tool-specific cues live in each tool's spec (`tools.spec.ToolSpec.cues`)."""
from __future__ import annotations

import re

from tools.kpi_words import METRIC_WORDS
from tools.spec import specs

__all__ = ["customer_type_named", "group_spans", "AGE_WORDS", "BLAME", "LISTING", "GENDER_ONE", "CHURN_HIGH", "CHURN_AT_RISK", "churn_risk_named", "message_slots", "COUNTING", "SINCE", "THEM", "OUT_OF_SCOPE", "age_band_named", "metrics_named", "has_slots", "SEG_WORDS", "rx", "HELP_CUE", "FOLLOWUP", "PRONOUN", "ORDINAL", "PREVIOUS_PERIOD", "SAME_PERIOD_LAST_YEAR", "WHY", "CHANGE", "LANGUAGE_SWITCH", "UNSUPPORTED", "NEVER_BOUGHT", "BOUGHT_LIST", "BOUGHT_NOT", "BOUGHT_TWO", "BOUGHT_RANKED", "TOGETHER_CUE", "MESSAGE_CUE", "SHOW_CUSTOMERS", "CHURN_WORDS", "COMPLAINT_CONTEXT", "GROUP_METRICS", "LOWEST", "AND_WORDS", "PLACE_GROUPS", "CHANNEL_ALIASES", "known_words", "all_cues"]


SEG_WORDS = re.compile(r"分群|分层|细分|客群|群体|人群|分组|分类|这一类|这类|类客户|段|segment|tier|group|cohort|bucket|"
                        r"cluster|聚类|名单|成员|members|list", re.I)


# ================================================================= rules
def rx(p: str) -> re.Pattern:
    # ASCII word boundaries: "C01023的CLV" has a boundary between 的 and CLV
    return re.compile(p, re.I | re.ASCII)


# "what can you do": the one cue that is not a tool's (each tool's cues are in its spec)
HELP_CUE = (rx(r"你能做什么|你会什么|能做什么|能干什么|可以做什么|怎么用|如何使用|使用说明|帮助|功能|能回答|能问什么|"
                 r"^help\b|what can you|how (do|can) i use|what (questions|kind of questions)|^(你好|您好|hi|hello|hey)\W*$"), 0.25)

# (ASCII \b never matches between two Chinese characters, so the Chinese openers stand without it)
FOLLOWUP = rx(r"^(那|那么|换成|换为|改成|改为|改看|再看|只看|仅看|同样)|^(and\b|and what|what about|how about|"
                r"same (for|but)|now (for|show|by)|only|just|instead|ok,? (and|what|now)|also for|then|for)\b|呢[?？。!！]*$|"
                r"instead\W*$|\bthen\W*$|(换成|改成|换为|改为).{1,12}$")
PRONOUN = rx(r"(?<![其吉])[他她](?!们)|该客户|这个客户|这位客户|这位|此客户|那位|ta的|\b(his|her|him|this customer|that customer|"
               r"this client|that client|this person|he|she)\b")
ORDINAL = [(re.compile(r"第一|第1|头一个|first|1st|上面那个"), 0), (re.compile(r"第二|第2|second|2nd|\btwo\b"), 1),
            (re.compile(r"第三|第3|third|3rd|\bthree\b"), 2), (re.compile(r"第四|第4|fourth|4th"), 3),
            (re.compile(r"第五|第5|fifth|5th"), 4), (re.compile(r"最后一|last one|the last"), -1)]


# "环比" / "vs last month" and "同比" / "vs last year": a metric compared with another period
PREVIOUS_PERIOD = rx(r"上上个?月|前一个?(月|季度|周)|(跟|和|与|比|较)(上|前)(一)?(个)?(月|季度|周)|涨了还是跌了|是涨是跌|增长还是下降|"
                     r"the (month|quarter|week) before|(vs\.?|versus|compared (to|with)) the previous|环比|比上(个|一个)?(月|季度|周|期)|较上(个)?(月|季度|周|期)|(跟|和|与|同)上(个|一个)?(月|季度|周)(比|相比|对比)|"
                       r"上(个)?(月|季度|周)(相比|对比)|相比上(个)?(月|季度|周)|month[- ]over[- ]month|quarter[- ]over[- ]quarter|"
                       r"week[- ]over[- ]week|\b(mom|qoq|wow)\b|(vs\.?|versus|compared (to|with)|than|against) (the )?(last|previous|prior) "
                       r"(month|quarter|week|period)|\b(with|against|to) (the )?(last|previous|prior) (month|quarter|week)\b")
SAME_PERIOD_LAST_YEAR = rx(r"去年的?(这个|同一个?|同个)(月|季度)|(compared? (to|with)|vs\.?|versus) .{0,12}\blast year\b|同比|去年同期|上年同期|比去年|较去年|(跟|和|与|同)去年(比|相比|对比|同期)|相比去年|year[- ]over[- ]year|"
                             r"\byoy\b|(vs\.?|versus|compared (to|with)|than|against) (the )?(last|previous|prior) year|"
                             r"same (period|month|quarter|time) (last|a) year")
# two named periods set against each other ("10月和9月比", "Q3 vs Q2", "October compared with September")
TWO_PERIODS = rx(r"(和|与|跟|同|比|较|对比|相比|比较|相较|vs\.?|versus|\bcompared?\b|against|than)")
# a date word left over once two periods are read: the reading is not sure
# both genders named ("男性客户和女性客户谁的客单价高"): a breakdown by gender, not one filter
BOTH_GENDERS = rx(r"(男|male|\bmen\b).{0,12}(女|female|women)|(女|female|women).{0,12}(男|\bmale\b|\bmen\b)")
PERIOD_WORD = rx(r"\d{1,2}\s*月|[一二三四五六七八九十]\s*月|\d{4}\s*年|今年|去年|前年|季度|\bQ[1-4]\b|上个?月|本月")
WEEKEND = rx(r"周末|双休日|礼拜六.{0,2}礼拜天|\bweekends?\b")
WORKDAYS = rx(r"工作日|周一到周五|\bworkdays?\b|\bon weekdays\b|\bweekdays only\b")
# metrics read from the per-customer artefacts: a group's aggregate goes to the metric tool
ARTEFACT_METRICS = ("clv_mean", "clv_total", "churn_probability", "at_risk_customers")


def weekdays_named(q: str) -> str | None:
    """The weekday labels a question keeps: 周末 / weekends → Sat, Sun; 工作日 / workdays → Mon–Fri."""
    if WEEKEND.search(q) and not WORKDAYS.search(q):
        return "6 Sat 周六,7 Sun 周日"
    if WORKDAYS.search(q) and not WEEKEND.search(q):
        return "1 Mon 周一,2 Tue 周二,3 Wed 周三,4 Thu 周四,5 Fri 周五"
    return None


def without_new_customers(q: str, metrics: list[str]) -> list[str]:
    """The metrics of a new-vs-returning question: 新客 names the breakdown, not the new-customer count."""
    return [m for m in metrics if m != "new_customers"] or [
        "customers" if re.search(r"多少|几个|how many|number", q, re.I) else "sales"]


_OF_NEW = rx(r"(?P<w>新(客户?|用户|会员|顾客|买家)|首单客户|\bnew (customers?|buyers?|users?)('s?)?|(?P<o>老(客户?|用户|会员|顾客)|"
             r"回头客|\b(returning|existing|repeat) (customers?|buyers?)('s?)?))(的|\s*(of|,))?\s*(?=复购|回购|客单|销售|消费|"
             r"订单|留存|满意|购买间隔|人均|平均|repurchase|repeat rate|aov|average|spend|sales|revenue|orders|retention)")


def customer_type_named(q: str, metrics: list[str]) -> str | None:
    """"新客复购率" / "老客的客单价": the new (or returning) customers as a filter of another metric,
    "新客 new" or "老客 returning" (the customer_type labels); None for "新客户数和复购率"."""
    m = _OF_NEW.search(q)
    if not m or not [x for x in metrics if x != "new_customers"]:
        return None
    return "老客 returning" if m.group("o") else "新客 new"


# "为什么…下降了" / "why did sales drop": the change explained by what contributed to it
# "哪个品类拖的后腿" / "下滑最多的是哪个省": which group the change came from
BLAME = rx(r"拖(了)?(的)?后腿|拖累|主要是哪|(下滑|下降|减少|增长|增速|上涨|涨|跌|掉)(得)?最(多|厉害|大|快)的?(是)?|"
           r"which .{0,20}(drove|dragged|caused|contributed)|(fell|dropped|grew|rose) the most|"
           r"(growing|grew|rising|rose|declining|dropping|falling|shrinking)( the)? (fastest|most)|fastest[- ]growing|"
           r"(which|what) .{0,24}\b(declining|shrinking|dropping|falling|growing)\b")
WHY = rx(r"为什么|为何|为啥|什么原因|原因|怎么回事|咋回事|怎么会|是什么导致|导致|\bwhy\b|what (drove|caused|explains|is behind)|"
           r"reasons? for|driv(er|ers|ing|en)")
CHANGE = rx(r"下降|下滑|减少|降低|下跌|跌|少了|变少|上升|上涨|增长|增加|涨|多了|变多|变化|波动|drop|declin|fall|fell|down|"
              r"rise|rose|grow|grew|increas|went up|change|dip|slump|jump")

# a request to say the last answer in the other language (nothing else in the question)
LANGUAGE_SWITCH = rx(r"\s*(请|麻烦)?(用|换成|改成|改用|翻译成|切换到?)?(英文|英语|中文|汉语)(说|回答|回复|显示|讲|版|再说一遍|来)?(一下|一遍|吧|呢|可以吗)?[。.!！?？]*\s*|"
                       r"\s*(can you |could you |please )?(say|answer|reply|show|repeat|translate)?( (it|that|this))?( again)? ?"
                       r"(in|into) (english|chinese)( please)?[.!?]*\s*|\s*(english|chinese),? please[.!?]*\s*")

# a metric the canonical tables have no column for (never answered with another metric)
UNSUPPORTED = rx(r"(下个?月|下季度|下一季度|明年|下周|未来.{0,4}(个月|季度|年))[^，。?？]{0,10}(销售额|销量|订单|营收|业绩|收入)|"
                 r"(销售额|销量|订单量|营收|业绩)[^，。?？]{0,10}(下个?月|明年|预测|预计能)|"
                 r"\b(forecast|predict)\w*\b.{0,20}\b(sales|revenue|orders)|\bnext (month|quarter|year)'?s? (sales|revenue|orders)|"
                 r"退(货|款)(最多|最高|排名|排行)|退(货|款)(比较|很|特别|次数)?(多|频繁)的|经常退(货|款)|\b(frequent|many|lots of) (returns|refunds)\b|(退货|退款).{0,6}(最多|最高)的|most (returns|refunds)|(returned|refunded) the most|"
                 r"发货(时间|时长|速度|天数)|配送(时间|时长)|物流时效|(?<!发)(?<!送)(?<!发个)(?<!送个)(?<!发张)(?<!送张)优惠券(?!.{0,8}活动)|核销|折扣率|delivery time|shipping time|"
                 r"\bcoupons?\b(?!.{0,20}\bcampaign)|"
                 r"退货率|退款率|退货(金额|数量|量|数|订单|情况|多少)|退款(金额|总额|数量|笔数|多少)|(多少|几)(单|笔|个|件)?(退货|退款)|"
                   r"毛利(率)?|利润(率)?|净利|盈利|成本|库存|进货|广告(费|投放|花费)?|投放(效果|回报)|投入产出|\broi\b|roas|转化率|"
                   r"点击率|浏览量|访客数|访问量|流量|客流量|\b(uv|pv)\b|"
                   r"\breturns? (rate|ratio|volume|amount)|\bhow many (returns|refunds)|\brefund (rate|amount|total)|"
                   r"\b(gross |net )?(profit|margin)s?\b|\bcogs\b|cost of goods|\binventory\b|stock levels?|ad spend|"
                   r"advertising|conversion rate|click[- ]through|page views|web traffic|site traffic|\bvisitors\b")
# customers who never bought something: no tool lists the absence of an item ("哪些客户从来没买过咖啡");
# a span before it is a lapse ("90天没买过的客户": lapsed_customers, a campaign's min_days_since_order)
NEVER_BOUGHT = rx(r"(从来|从未|从没|一直|还)(都)?(没|没有|未)?(买|购买|下单|订)过|(?<![天日周月年期拜\d])(没|没有|未)(买|购买)过(?!的客户|的老客户|东西)|"
                  r"\bnever (bought|purchased|ordered)\b|\bhave(n't| not) (ever )?(bought|purchased|tried)\b(?!.{0,40}\b(days?|weeks?|months?|years?)\b)")
# the people who bought (or did not buy) an item ("上个月买了绿茶的客户有哪些", "冠军客户里买过绿茶的",
# "which customers did not buy coffee last month"): `assistant.group_questions.bought_condition` reads the
# condition; what is bought with it is `bought_together` ("买绿茶的人还会买什么")
_ZH_WHO = r"(老|女|男|女性|男性|新|vip|VIP)?(客户|顾客|客人|人|用户|会员|买家|宝妈|宝爸)"
# a segment's or group's name may stand between 的 and the customers ("买了坚果的冠军客户"), a period between the
# customers and the verb ("冠军客户上个季度没有买", "客户里这个月买过")
_ZH_NAMED_WHO = r"[^，。,?？的]{0,8}?" + _ZH_WHO
_ZH_GAP = r"[^，。,?？]{0,8}?"
BOUGHT_LIST = rx(r"(买了|买过|购买了|购买过|下单了|下单过|买)[^，。,?？]{0,12}的" + _ZH_NAMED_WHO + r"|(没|没有|未|不)(再)?(买|购买|下单)[^，。,?？]{0,12}的" + _ZH_NAMED_WHO + "|"
                 + _ZH_WHO + r"(里|中|里面|当中|之中)?(有)?(谁|哪些|哪几位|哪位)?" + _ZH_GAP + r"(都)?(买了|买过|购买了|购买过|下单了|下单过)|"
                 + _ZH_WHO + _ZH_GAP + r"(都)?(从来|从未|从没|一直)?(都)?(没|没有|未)(再)?(买|购买)|"
                 r"谁(都)?(买了|买过|买的|购买了|购买过)|"
                 r"\bwho (buys|bought|purchases|purchased|orders|ordered|has bought|have bought)\b|\b(customers|people|buyers|shoppers|members|everyone|anyone) (who|that) "
                 r"(bought|purchased|ordered|did not buy|didn't buy|did not purchase|didn't purchase|never bought|have bought|has bought)\b|"
                 r"\bwhich\s+(?!(products?|items?|categor\w*|goods|brands?|things?|skus?)\b)\w+(\s+\w+)?\s+(bought|purchased|ordered)\b|"
                 r"\b(did not|didn't|do not|don't|never|have not|haven't|has not|hasn't) (buy|purchase|order|bought|purchased|ordered)\b")
# not bought ("上个月没买咖啡的", "没再买", "从来没买过", "did not buy", "never bought")
BOUGHT_NOT = rx(r"(没|没有|未|不)(再)?(买|购买|下单)|\b(did not|didn't|do not|don't|never|have not|haven't|has not|hasn't|not) "
                r"(buy|purchase|order|bought|purchased|ordered)\b")
# two purchase conditions at once ("买了坚果但没买咖啡"), or customers ranked by an item ("who buys the most coffee"):
# one condition per question, no ranking of customers by an item
BOUGHT_TWO = rx(r"(但|但是|却|而|可|又|并且|且)(都)?(没|没有|未|不)(再)?(买|购买)|\bbut (not|never|didn't|did not|haven't|no)\b|"
                r"\b(and|or) (not|never|didn't|did not|haven't|have not) (buy|purchase|order|bought|purchased|ordered)\b")
BOUGHT_RANKED = rx(r"最多|最常|最频繁|最大|排名|排行|前\s*\d+|前[一二三四五六七八九十]+|\b(most|top|biggest|largest|ranked|ranking)\b")
TOGETHER_CUE = rx(r"还(会|喜欢|爱|常)?买|还会?选|一起|同时|搭配|连带|组合|together|\balso\b|\belse\b|along with|bundle|pair")
MESSAGE_CUE = rx(r"短信|消息|祝福|问候|文案|发(给|送|个|条|一)|活动|营销|\b(send|message|sms|wechat|e-?mail|campaign|draft|note)\b")
# complaint words: "有人投诉退款慢吗" is a complaint search, not a refund metric
COMPLAINT_CONTEXT = rx(r"投诉|抱怨|差评|吐槽|反馈|反映|客诉|(客户|顾客|用户|买家|会员|有人).{0,6}(说|问|讲)|complain|feedback|unhappy|"
                         r"(customer|client|buyer|someone) (says|said|asks|asked|reports?)")

# metrics of a group that the segment tools do not give (a segment named with one → the KPI over it)
GROUP_METRICS = ("average_age", "units", "largest_order", "aov", "repurchase_rate", "purchase_interval", "satisfaction",
                  "complaint_rate", "resolution_time", "sales_per_customer", "new_customers", "retention", "complaints",
                  "open_complaints")

# one gender named ("女性客户", "female customers"): a filter unless the question groups by gender
GENDER_ONE = rx(r"女性|女客户|女顾客|女士|女生|女的|男性|男客户|男顾客|男士|男生|男的|\b(female|male|women|men|ladies)\b")
# a churn risk as a condition on a group ("流失风险高的重要价值客户", "快流失的忠诚客户", "Loyal customers at
# high risk of churn"): high = the high risk band, at_risk = the at-risk lists' threshold (tools.care_tools.churn_risk_floor)
CHURN_HIGH = rx(r"(高|较高|很高)(的)?流失风险|流失风险(很|较|比较|特别|非常|偏)?(高|大)|流失(的)?(概率|可能性?)(很|较|比较|特别|非常|偏)?(高|大)|"
                r"\bhigh(ly)?[- ](churn[- ])?risk\b|\bat high risk\b|\bhigh (risk of|chance of|churn)")
CHURN_AT_RISK = rx(r"有流失风险|存在流失风险|有流失的?(风险|可能)|(快|快要|就要|将要|可能|可能会|容易|会|要)流失|流失预警|"
                   r"\bat[- ]risk\b|\b(likely|about|going) to (churn|leave)|\b(might|may|could|will) (churn|leave us)|"
                   r"\brisk of (churn|churning|leaving)|\bchurn risk|\bchurning\b")
# a list asked for ("名单", "who are"): the segment's members, not a number
LISTING = rx(r"哪些|有那些[?？。!！]*$|有谁|是谁|都是谁|名单|列出|列一下|成员|清单|\bwho\b|\blist\b|members|names")
# "show customers who…", "which customers…", "who are…": a list of customers asked for (a bare "customers who…"
# is a noun phrase, which a count answers as well)
SHOW_CUSTOMERS = rx(r"哪些|有那些[?？。!！]*$|有谁|是谁|名单|列出|列一下|清单|\b(list|who are|who is|names)\b|"
                    r"\b(show|give|get|find|tell)( me| us)? who\b|^\s*who (has|have|hasn'?t|haven'?t|did|didn'?t|never|still|stopped)\b|"
                    r"\b(show|give|get|find|pull)( me)?( (the|all|our))? (customers|clients|buyers|people)\b|\bwhich (customers|clients|buyers)\b")
# "女性客户占比", "what share of customers are from Jiangsu": a group's share of everyone
SHARE_OF = rx(r"占比|(站|战)比|占多少|占全部|占总|比例|百分之几|百分比|几成|\b(share|percentage|proportion|percent|fraction)\b|% of")
# a count ("有多少", "how many")
COUNTING = rx(r"多少|几个|几位|how many|number of|count")
# "since last quarter began", "上季度开始到现在": from the period's start up to today, not the period alone
SINCE = rx(r"\bsince\b|以来|至今|到现在|到今天|到目前|\b(until|till|up to) (now|today)\b|\bto date\b")
# "他们平均消费多少": the group of the last answer
THEM = rx(r"他们|她们|这些(客户|人|会员)|那些(客户|人|会员)|这群|\b(they|them|those customers|these customers)\b")
# what a CRM assistant does not do
OUT_OF_SCOPE = rx(r"爬虫|写(个|一个|段)?(代码|程序|脚本)|python|javascript|sql|\b(write|code) (a |some )?(code|script|program|scraper)\b|"
                  r"\bscrape\b")


def churn_risk_named(q: str) -> str | None:
    """"high" or "at_risk" when the question puts a churn risk on the customers it means, else None."""
    return "high" if CHURN_HIGH.search(q) else "at_risk" if CHURN_AT_RISK.search(q) else None


def age_band_named(q: str) -> str | None:
    """The age band a question names ("25到34岁", "25-34 year olds"), when it is exactly one of the bands."""
    m = re.search(r"(\d{2})\s*(?:到|至|-|~|–|to)\s*(\d{2})\s*(?:岁|周岁|year)", q, re.I)
    if m:
        band = f"{m.group(1)}-{m.group(2)}"
        return band if band in ("25-34", "35-44", "45-54") else None
    if re.search(r"(25|二十五)岁以下|不到25岁|under 25", q, re.I):
        return "<25"
    if re.search(r"55岁(以上|及以上)|over 55|55\+", q, re.I):
        return "55+"
    return None


# an age said as words ("30岁以上", "90后", "under 25", "aged 25-34"): the span, to take out of a complaint's text
AGE_WORDS = rx(r"(?<!\d)[0-9]0\s*后|\d{2}\s*(?:到|至|-|~|–|to)\s*\d{2}\s*(?:岁|周岁|years?(?: old)?)|(?:aged|between)\s+\d{2}\s*"
               r"(?:-|–|to|and)\s*\d{2}|\d{2}\s*(?:周岁|岁)\s*(?:及以上|以上|往上|或以上|及以下|以下|以内)?|"
               r"(?:over|above|older than|under|below|younger than)\s+\d{2}\b|不到\s*\d{2}\s*岁|\d{2}\s*\+")


def group_spans(q: str, slots: dict, place_spans) -> tuple[str, ...]:
    """The words of ``q`` that say which customers it means (a place or segment, a gender, an age), each with the
    "哪些 … 的客户里" around it: "哪些男性客户投诉过物流慢" → ("哪些男性客户",). A complaint search drops
    them from its text (the tool filters by them instead)."""
    words = list(place_spans or ())
    if slots.get("gender"):
        words += [m.group(0) for m in GENDER_ONE.finditer(q)]
    if slots.get("age_band") or slots.get("age_range"):
        words += [m.group(0) for m in AGE_WORDS.finditer(q)]
    out = []
    for w in sorted({w for w in words if w}, key=len, reverse=True):
        m = re.search(r"(哪些|哪位|哪个)?(来自|在)?" + re.escape(w) + r"(的)?(客户|顾客|用户|会员|买家)?(们)?(里面|里|中|当中|之中)?", q)
        out.append(m.group(0) if m else w)
    return tuple(out)


def age_range_named(q: str) -> tuple[str, int, int] | None:
    """An age range that is not one of the bands: ("age", lo, hi) in full years at the as-of date
    ("30岁以上", "over 40", "30到40岁"), or ("birth_year", lo, hi) for a generation ("90后", "00后").
    "over 70%", "over 50 yuan", "over 30 days" are not ages."""
    m = re.search(r"(?<!\d)([0-9])0\s*后", q)
    if m:
        d = int(m.group(1))
        start = 2000 + 10 * d if d <= 2 else 1900 + 10 * d
        return "birth_year", start, start + 9
    m = re.search(r"(\d{2})\s*(?:到|至|-|~|–|to)\s*(\d{2})\s*(?:岁|周岁|years?)|(?:aged|between)\s+(\d{2})\s*(?:-|–|to|and)\s*(\d{2})", q, re.I)
    if m:
        a, b = (int(m.group(1)), int(m.group(2))) if m.group(1) else (int(m.group(3)), int(m.group(4)))
        return ("age", a, b) if a <= b else None
    m = re.search(r"(\d{2})\s*(?:周岁|岁)\s*(及以上|以上|往上|或以上)|(?:over|above|older than)\s+(\d{2})\b(?!\s*(?:%|％|percent|yuan|rmb|元|块|orders?|purchases?|times|days?|weeks?|months?|items?|units?|dollars?))|(\d{2})\s*\+", q, re.I)
    if m:
        if m.group(1):
            return "age", int(m.group(1)), 129
        return ("age", int(m.group(3)) + 1, 129) if m.group(3) else ("age", int(m.group(4)), 129)
    m = re.search(r"(\d{2})\s*(?:周岁|岁)\s*(及以下|以下|以内)|(?:under|below|younger than)\s+(\d{2})\b(?!\s*(?:%|％|percent|yuan|rmb|元|块|orders?|purchases?|times|days?|weeks?|months?|items?|units?|dollars?))|不到\s*(\d{2})\s*岁", q, re.I)
    if m:
        n = int(m.group(1) or m.group(3) or m.group(4))
        return "age", 0, (n if m.group(2) == "及以下" else n - 1)
    return None


# the customer groups the churn artefact's values break down by ("有流失风险的客户主要在哪些城市")
CHURN_BY = ("province", "city", "gender", "age_band", "channel", "level", "industry", "segment")
CHURN_WORDS = rx(r"流失|churn|at[- ]risk|likely to (leave|lapse)")   # the churn model's subject, not a win-back message
# a rate or level asked of a group, not a count ("流失率最高的城市", "which city has the highest churn")
RATE_WORDS = rx(r"率|比例|占比|最高|最低|\b(rate|share|highest|lowest|proportion)\b")
LOWEST = rx(r"最差|最少|最低|倒数|垫底|最不好卖|卖得(最)?(差|少|不好)|\b(worst|bottom|least|lowest|fewest)\b")
AND_WORDS = rx(r"和|与|及|以及|、|还有|跟|\band\b|,|&|\+")

PLACE_GROUPS = [(re.compile(r"江浙沪|沪苏浙|长三角|yangtze (river )?delta", re.I), "province", ("江苏", "浙江", "上海")),
                 (re.compile(r"京津冀"), "province", ("北京", "天津", "河北")),
                 (re.compile(r"北上广深|一线城市|tier[- ]1 cities|first[- ]tier cities", re.I), "city", ("北京", "上海", "广州", "深圳")),
                 (re.compile(r"北上广"), "city", ("北京", "上海", "广州")),
                 (re.compile(r"珠三角|pearl river delta", re.I), "city", ("广州", "深圳", "东莞", "佛山", "珠海")),
                 (re.compile(r"东三省|东北三省"), "province", ("黑龙江", "吉林", "辽宁"))]
CHANNEL_ALIASES = [(r"(?<![a-z])(jd|jd\.com|jingdong)(?![a-z])", "京东"), (r"(?<![a-z])(tmall|tianmao)(?![a-z])", "天猫"),
                    (r"(?<![a-z])(douyin|tiktok)(?![a-z])", "抖音"), (r"mini[- ]?program|小程序", "微信小程序"),
                    (r"offline stores?|physical stores?|in[- ]store|brick[- ]and[- ]mortar|线下|门店|实体店", "线下门店"),
                    (r"official (web)?site|own website|web ?shop|(?<![a-z])website(?![a-z])|官方网站|官网", "官网")]


_KNOWN_WORDS: set[str] = set()


def known_words() -> set[str]:
    """English words the router knows: its exemplars' and cues' words and common function words."""
    if not _KNOWN_WORDS:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        from assistant.exemplars import all_exemplars
        words = set(ENGLISH_STOP_WORDS)
        for ts in all_exemplars().values():
            for t in ts:
                words.update(w.lower() for w in re.findall(r"[A-Za-z]{2,}", t))
        for sp in specs():
            for _, rx, _ in sp.compiled_cues:
                words.update(w.lower() for w in re.findall(r"[A-Za-z]{3,}", rx.pattern))
        _KNOWN_WORDS.update(words)
    return _KNOWN_WORDS


def all_cues():
    """(family, pattern, boost) of every registered tool's cues, then help's."""
    for sp in specs():
        yield from sp.compiled_cues
    yield ("help", *HELP_CUE)


def metrics_named(q: str) -> list[str]:
    """Every metric a question names, in the order they appear (non-overlapping, first pattern wins)."""
    found, taken = [], []
    for rx, m in METRIC_WORDS:
        for mm in rx.finditer(q):
            a, b = mm.span()
            if b > a and all(b <= x or a >= y for x, y in taken):
                taken.append((a, b))
                found.append((a, m))
    return list(dict.fromkeys(m for _, m in sorted(found)))


def has_slots(slots, mentions, pronoun, q: str = "") -> bool:
    """Whether a question says something a follow-up could change; who the customers are ("只看女性", "那30岁以下的呢")
    only with a follow-up word (a bare "女性客户有哪些" is a question of its own)."""
    keys = {"top", "date_from", "item", "segment", "province", "city", "metric", "by", "days", "min_probability",
            "status", "channel", "occasion", "sales_channel", "period_compare", "explain", "lowest", "weekday"}
    who = ("gender", "age_band", "age_range") if FOLLOWUP.search(q) else ()
    return bool(mentions) or pronoun or any(k in slots for k in (*keys, *who))


def message_slots(q: str) -> dict:
    """A care message's details a question names: occasion, festival, channel, tone, draft_language."""
    s: dict = {}
    occ = None
    if re.search(r"生日|birthday|b-day|寿星", q, re.I):
        occ = "birthday"
    elif re.search(r"春节|新年|中秋|国庆|元旦|圣诞|christmas|new year|端午|元宵|节日|festival|holiday", q, re.I):
        occ = "festival"
    elif re.search(r"挽回|挽留|召回|win[- ]?back|回流|流失", q, re.I):
        occ = "winback"
    elif re.search(r"投诉.{0,6}(回访|跟进|回复|答复|安抚|处理)|(回访|跟进|回复|答复|安抚|处理|解决).{0,8}(投诉|问题|差评)|complaint|"
                   r"apolog|道歉|致歉|follow[- ]?up on (the|his|her|their|this|an?) (issue|problem|case|ticket)", q, re.I):
        occ = "complaint_followup"
    elif re.search(r"感谢|谢谢|thank|vip", q, re.I):
        occ = "vip_thanks"
    elif re.search(r"推荐|recommend|新品|上新|新款|suggest|new arrivals?|new products?|new collection|"
                   r"促销|优惠|折扣|promo|discount|on sale", q, re.I):   # a promotion: what to buy, not a birthday
        occ = "recommendation"
    elif re.search(r"回访|定期|due for|check[- ]?in|regular", q, re.I):
        occ = "regular"
    if occ:
        s["occasion"] = occ
    fm = re.search(r"(春节|中秋节?|国庆节?|元旦|圣诞节?|christmas|new year|端午节?|元宵节?|劳动节|情人节|七夕)", q, re.I)
    if fm:
        s["festival"] = fm.group(1)
    if re.search(r"短信|sms|text message|\b(a|an|the) text\b|\btexts\b", q, re.I):
        s["channel"] = "sms"
    elif re.search(r"微信|wechat|weixin", q, re.I):
        s["channel"] = "wechat"
    elif re.search(r"邮件|email|e-mail|信(?!息)", q, re.I):
        s["channel"] = "email"
    if re.search(r"正式|formal", q, re.I):
        s["tone"] = "formal"
    elif re.search(r"活泼|俏皮|轻松|playful|fun|casual", q, re.I):
        s["tone"] = "playful"
    if re.search(r"英文|英语|in english", q, re.I):
        s["draft_language"] = "en"
    elif re.search(r"中文|汉语|in chinese", q, re.I):
        s["draft_language"] = "zh"
    return s
