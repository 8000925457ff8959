"""The words of questions the router reads besides the workspace's own vocabulary: follow-up
markers and pronouns, comparisons (环比 / 同比), explanations (为什么…下降), rankings from the bottom,
language switches, metrics the data has no column for, and place groups and channel aliases.
Tool-specific cues live in each tool's spec (`tools.spec.ToolSpec.cues`)."""
from __future__ import annotations

import re

from tools.kpi_tools import METRIC_WORDS
from tools.spec import specs

__all__ = ["metrics_named", "has_slots", "SEG_WORDS", "rx", "HELP_CUE", "FOLLOWUP", "PRONOUN", "ORDINAL", "PREVIOUS_PERIOD", "SAME_PERIOD_LAST_YEAR", "WHY", "CHANGE", "LANGUAGE_SWITCH", "UNSUPPORTED", "COMPLAINT_CONTEXT", "GROUP_METRICS", "LOWEST", "AND_WORDS", "PLACE_GROUPS", "CHANNEL_ALIASES", "known_words", "all_cues"]


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
PREVIOUS_PERIOD = rx(r"环比|比上(个|一个)?(月|季度|周|期)|较上(个)?(月|季度|周|期)|(跟|和|与|同)上(个|一个)?(月|季度|周)(比|相比|对比)|"
                       r"上(个)?(月|季度|周)(相比|对比)|相比上(个)?(月|季度|周)|month[- ]over[- ]month|quarter[- ]over[- ]quarter|"
                       r"week[- ]over[- ]week|\b(mom|qoq|wow)\b|(vs\.?|versus|compared (to|with)|than|against) (the )?(last|previous|prior) "
                       r"(month|quarter|week|period)")
SAME_PERIOD_LAST_YEAR = rx(r"同比|去年同期|上年同期|比去年|较去年|(跟|和|与|同)去年(比|相比|对比|同期)|相比去年|year[- ]over[- ]year|"
                             r"\byoy\b|(vs\.?|versus|compared (to|with)|than|against) (the )?(last|previous|prior) year|"
                             r"same (period|month|quarter|time) (last|a) year")
# "为什么…下降了" / "why did sales drop": the change explained by what contributed to it
WHY = rx(r"为什么|为何|为啥|什么原因|原因是|怎么回事|咋回事|怎么会|是什么导致|导致|\bwhy\b|what (drove|caused|explains|is behind)|"
           r"reasons? for|driv(er|ers|ing|en)")
CHANGE = rx(r"下降|下滑|减少|降低|下跌|跌|少了|变少|上升|上涨|增长|增加|涨|多了|变多|变化|波动|drop|declin|fall|fell|down|"
              r"rise|rose|grow|grew|increas|went up|change|dip|slump|jump")

# a request to say the last answer in the other language (nothing else in the question)
LANGUAGE_SWITCH = rx(r"\s*(请|麻烦)?(用|换成|改成|改用|翻译成|切换到?)?(英文|英语|中文|汉语)(说|回答|回复|显示|讲|版|再说一遍|来)?(一下|一遍|吧|呢|可以吗)?[。.!！?？]*\s*|"
                       r"\s*(can you |could you |please )?(say|answer|reply|show|repeat|translate)?( (it|that|this))?( again)? ?"
                       r"(in|into) (english|chinese)( please)?[.!?]*\s*|\s*(english|chinese),? please[.!?]*\s*")

# a metric the canonical tables have no column for (never answered with another metric)
UNSUPPORTED = rx(r"退货率|退款率|退货(金额|数量|量|数|订单|情况|多少)|退款(金额|总额|数量|笔数|多少)|(多少|几)(单|笔|个|件)?(退货|退款)|"
                   r"毛利(率)?|利润(率)?|净利|盈利|成本|库存|进货|广告(费|投放|花费)?|投放(效果|回报)|投入产出|\broi\b|roas|转化率|"
                   r"点击率|浏览量|访客数|访问量|流量|客流量|\b(uv|pv)\b|"
                   r"\breturns? (rate|ratio|volume|amount)|\bhow many (returns|refunds)|\brefund (rate|amount|total)|"
                   r"\b(gross |net )?(profit|margin)s?\b|\bcogs\b|cost of goods|\binventory\b|stock levels?|ad spend|"
                   r"advertising|conversion rate|click[- ]through|page views|web traffic|site traffic|\bvisitors\b")
# complaint words: "有人投诉退款慢吗" is a complaint search, not a refund metric
COMPLAINT_CONTEXT = rx(r"投诉|抱怨|差评|吐槽|反馈|反映|客诉|(客户|顾客|用户|买家|会员|有人).{0,6}(说|问|讲)|complain|feedback|unhappy|"
                         r"(customer|client|buyer|someone) (says|said|asks|asked|reports?)")

# metrics of a group that the segment tools do not give (a segment named with one → the KPI over it)
GROUP_METRICS = ("average_age", "units", "largest_order", "aov", "repurchase_rate", "purchase_interval", "satisfaction",
                  "complaint_rate", "resolution_time", "sales_per_customer", "new_customers", "retention")

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


def has_slots(slots, mentions, pronoun) -> bool:
    keys = {"top", "date_from", "item", "segment", "province", "city", "metric", "by", "days", "min_probability",
            "status", "channel", "occasion", "sales_channel", "period_compare", "explain", "lowest"}
    return bool(mentions) or pronoun or any(k in slots for k in keys)
