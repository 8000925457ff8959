"""The workspace's own vocabulary, for finding entities in a question (no LLM).

Customers by id (C01023) or by name (exact Chinese/English names, rapidfuzz for typos; two
customers with one name are both returned), products and categories (plus an English→Chinese
word list: green tea → 绿茶), segment names (11 RFM segments in English and Chinese, the eight
classes, the tiers, cluster names), provinces and cities (with or without 省/市, pinyin for the
big ones) and sales / acquisition channels. Built once per workspace (`vocabulary_for`).
"""
from __future__ import annotations

import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from assistant.item_words import EN_ZH_ALT, EN_ZH_ITEMS
from knowledge.text import place_key
from knowledge.workspace import Workspace

__all__ = ["Mention", "Vocabulary", "vocabulary_for", "nfkc", "normalise_question", "complaint_text", "PINYIN_PLACES"]


@dataclass
class Mention:
    """A customer mentioned in a question: the text span and the matching customer ids."""
    span: str
    ids: list[str]
    how: str  # id | name | fuzzy | pronoun | ordinal | memory



PINYIN_PLACES = {
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

_ITEM_STOP = {"客户", "顾客", "商品", "产品", "一起", "什么", "哪些", "购买", "套装", "家用", "组合", "礼盒", "经常", "同时",
              "一次", "一个", "多久", "平均", "今年", "上月", "本月", "复购", "满意", "投诉", "退款", "快递", "包装", "质量",
              "推荐", "搭配", "关联", "销售", "多少", "最近", "今年", "去年", "人还", "还会"}
_ITEM_STOP_PARTS = ("客户", "顾客", "购买", "一起", "什么", "哪些", "推荐", "销售", "多少", "的", "了", "吗", "呢", "和", "买")


def nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s or "")


# colloquial / trade words → the words the rules and exemplars use
_NORMALISE = [("客诉", "投诉"), ("啥时候", "什么时候"), ("为啥", "为什么"), ("干啥", "做什么"), ("咋样", "怎么样"), ("咋办", "怎么办"),
              ("咋", "怎么"), ("啥", "什么"), ("尿不湿", "纸尿裤"),
              # frequent pinyin-input slips of the metric words
              ("流式概率", "流失概率"), ("流式风险", "流失风险"), ("留失", "流失"), ("流逝风险", "流失风险"), ("复购律", "复购率"),
              ("回购律", "回购率"), ("销售饿", "销售额"), ("销售e", "销售额"), ("客单加", "客单价"), ("投诉律", "投诉率"),
              ("满意读", "满意度"), ("画象", "画像")]


_EN_SLIPS = [(r"\byrs?\b", "year"), (r"\b(revnue|reveune|revenu|revenew)\b", "revenue"), (r"\bmnth\b", "month"),
             (r"\bcustmers?\b", "customers"), (r"\bsles\b", "sales")]


def normalise_question(q: str) -> str:
    for a, b in _NORMALISE:
        q = q.replace(a, b)
    for a, b in _EN_SLIPS:
        q = re.sub(a, b, q, flags=re.I)
    return q


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
                    self.provinces.setdefault(place_key(p), p)
        if "city" in cust:
            pairs = cust[["city"]].assign(province=cust["province"] if "province" in cust else None)
            for c, p in pairs.dropna(subset=["city"]).astype(str).drop_duplicates().itertuples(index=False, name=None):
                if c.strip():
                    self.cities.setdefault(place_key(c), c)
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
        try:   # the one column, not the whole order table
            chans |= _order_channels(ws)
        except Exception:  # noqa: BLE001 - the vocabulary works without the orders' channels
            pass
        self.channels = sorted({c for c in chans if c.strip() and c.lower() not in ("nan", "none")}, key=len, reverse=True)
        # the shape of this workspace's ids (letters + digits), to tell an unknown id from a number
        shapes = [re.fullmatch(r"([A-Za-z]{1,4})[-_]?(\d{3,12})", i) for i in self.ids]
        self.id_prefixes = {m.group(1).upper() for m in shapes if m}
        lens = [len(m.group(2)) for m in shapes if m]
        self.id_digits = (min(lens), max(lens)) if lens else (0, 0)
        self.latin_words = {w for n in self.latin_names for w in n.split()}
        self.blocked = (set(self.provinces) | set(self.cities) | {c.lower() for c in self.categories}
                        | {s for s, *_ in self.segments})

    # ---------------------------------------------------------------- segments
    def _segment_forms(self) -> list[tuple[str, str, str, bool]]:
        """(surface lower-case, canonical name, scheme, strong) — longest first."""
        from tools.rfm import CN8_EN, CN8_NAMES, SEGMENT_ZH, SEGMENTS, TIER_EN, TIERS
        forms: list[tuple[str, str, str, bool]] = []
        weak_en = {"At Risk", "New Customers", "Promising", "Lost", "Loyal", "Need Attention"}
        weak_zh = {"有流失风险客户", "新客户"}   # "已流失客户" is said of the Lost segment itself, not of churn risk
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
                  ("沉睡客户", "Hibernating", "segment", True), ("流失客户", "Lost", "segment", False), ("已流失的客户", "Lost", "segment", True),
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
        """(canonical, scheme, span, strong) of the first (longest) segment name in ``text``; an
        English name typed with a slip ("Champoins") is matched fuzzily."""
        hit = self._find_segment_exact(text)
        if hit is not None:
            return hit
        from rapidfuzz import fuzz, process
        latin = [(f, c, sch, st) for f, c, sch, st in self.segments if st and re.fullmatch(r"[a-z' ]{6,}", f)]
        for m in re.finditer(r"[A-Za-z][A-Za-z']{5,}(?: [A-Za-z][A-Za-z']+)?", text):
            span = m.group(0)
            best = process.extractOne(span.lower(), [f for f, *_ in latin], scorer=fuzz.ratio, score_cutoff=85)
            if best:
                f, canon, scheme, strong = latin[best[2]]
                return canon, scheme, span, strong
        return None

    def _find_segment_exact(self, text: str) -> tuple[str, str, str, bool] | None:
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

    def unknown_ids(self, text: str) -> list[str]:
        """Tokens shaped like this workspace's customer ids (C01023) that name no customer."""
        if not self.id_prefixes:
            return []
        lo, hi = self.id_digits
        out = []
        for m in re.finditer(r"(?<![A-Za-z0-9])([A-Za-z]{1,4})[-_]?(\d{3,12})(?![A-Za-z0-9])", text):
            tok = m.group(0)
            if m.group(1).upper() in self.id_prefixes and lo - 2 <= len(m.group(2)) <= hi + 2 \
                    and tok.upper() not in self.id_upper and tok.upper().replace("-", "").replace("_", "") not in self.id_upper:
                out.append(tok)
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
            if len(key) >= 2 and key in text and (city is None or key not in city or key != place_key(city)):
                if city and place_key(city) == key:
                    continue
                prov = self.provinces[key]
                spans.append(key + ("省" if key + "省" in text else ""))
                break
        for py, zh in sorted(PINYIN_PLACES.items(), key=lambda kv: -len(kv[0])):
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
        for py, zh in sorted(PINYIN_PLACES.items(), key=lambda kv: -len(kv[0])):
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
    ((en, tuple(dict.fromkeys(EN_ZH_ALT.get(en, ()) + ((zh,) if zh else ()))))
     for en, zh in {**{k: None for k in EN_ZH_ALT}, **EN_ZH_ITEMS}.items()),
    key=lambda kv: -len(kv[0]))

_NOT_NAMES = {"客户", "顾客", "会员", "用户", "商品", "产品", "销售", "投诉", "流失", "分群", "推荐", "生日", "画像",
              "价值", "风险", "重要", "一般", "最近", "今年", "去年", "上月", "本月", "哪些", "多少", "平均", "趋势",
              "高价", "潜力", "忠诚", "冠军", "新客", "满意", "留存", "复购", "订单", "品类", "城市", "省份", "渠道",
              "关怀", "节日", "祝福", "短信", "微信", "邮件", "文案", "信息", "资料", "情况", "分布", "名单", "成员",
              "聚类", "概率", "原因", "主题", "问题", "快递", "物流", "质量", "退款", "客服", "包装", "一起", "搭配"}
_EN_NOT_NAMES = {"top", "what", "which", "who", "show", "list", "the", "customer", "customers", "sales", "may", "will",
                 "june", "july", "april", "august", "march", "rfm", "clv", "churn", "segment", "risk", "at risk"}


_VOCABS: dict[str, Vocabulary] = {}
_VOCAB_LOCK = threading.Lock()


def vocabulary_for(ws: Workspace) -> Vocabulary:
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


# ================================================================= complaint descriptions
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
    r"recently|last|time|times|top|most|mostly|often|usually|commonly|happen(ed|s)?|else|\d+)\b", re.I)


def complaint_text(q: str, drop: tuple = (), fallback: bool = True) -> str:
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


def _order_channels(ws) -> set[str]:
    """The distinct order channels (as text), read from the orders Parquet's channel column alone."""
    path = ws.table_path("orders") if hasattr(ws, "table_path") else None
    if "orders" in getattr(ws, "_tables", {}) or path is None or not path.is_file():   # loaded, or not a file
        orders = ws.table("orders")
        return set(orders["channel"].dropna().astype(str).unique()) if "channel" in orders else set()
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    if "channel" not in pq.read_schema(path).names:
        return set()
    col = pq.read_table(path, columns=["channel"]).column("channel")
    return {str(v) for v in pc.unique(col.drop_null()).to_pylist()}
