"""Instantiate the assistant question set against a workspace and compute the expected facts.

``evals/questions.jsonl`` holds *templates* (one case a line): the turns of a conversation, the
tool and arguments each turn should produce, and named facts its answer must state. Nothing in
it depends on the data. This module fills the placeholders from the workspace (a customer id,
a unique name, two customers sharing a name, a category, a province …, chosen deterministically)
and computes every expected value with **plain pandas over the workspace tables** — its own
re-implementation of the documented definitions, never the tools — so the eval checks the whole
path: routing, arguments, the analyses and the answer text. Model outputs (churn probability,
CLV, clusters) cannot be re-derived without refitting; for those the artefact tables are read
directly with pandas.

Placeholders: {cid} {cid2} (customers with orders), {name} (a unique Chinese name), {name_en}
(a unique Latin-script name), {amb} (a name shared by ≥ 2 customers in different cities) and
{amb_city} (the city of one of them), {province} {city} (places with many customers),
{category} (a category), {category_en} (an English word for a category), {item_zh} / {item_en}
(a product word such as 绿茶 / green tea), {segment_en} {segment_zh} {cn8} {tier}.
Periods ("period": "last_quarter" …) are computed from the as-of date (the day after the
last order), as the router's documented convention says.

Usage: ``python -m evals.make_questions --workspace DIR [--out cases.json]`` writes the filled
cases (questions, expected tools/args/facts) for inspection; `evals.assistant` calls
`build_cases` directly.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from knowledge.workspace import Workspace

QUESTIONS = Path(__file__).with_name("questions.jsonl")

CATEGORY_EN = {"茶叶": "tea", "咖啡": "coffee", "零食": "snacks", "乳制品": "dairy", "酒水饮料": "drinks",
               "粮油调味": "cooking oil", "生鲜水果": "fresh fruit", "个护美妆": "beauty", "母婴": "baby products",
               "家居清洁": "household cleaning", "厨房用品": "kitchenware", "数码配件": "digital accessories",
               "服饰": "clothing", "图书文具": "stationery", "保健品": "health supplements"}
ITEM_WORDS = [("绿茶", "green tea"), ("咖啡豆", "coffee beans"), ("红茶", "black tea"), ("牛奶", "milk"),
              ("坚果", "nuts")]
PLACE_EN = {"广东省": "Guangdong", "浙江省": "Zhejiang", "江苏省": "Jiangsu", "四川省": "Sichuan", "山东省": "Shandong",
            "湖北省": "Hubei", "福建省": "Fujian", "湖南省": "Hunan", "河南省": "Henan", "河北省": "Hebei", "安徽省": "Anhui",
            "辽宁省": "Liaoning", "陕西省": "Shaanxi", "北京市": "Beijing", "上海市": "Shanghai", "广州市": "Guangzhou",
            "深圳市": "Shenzhen", "成都市": "Chengdu", "杭州市": "Hangzhou", "武汉市": "Wuhan", "苏州市": "Suzhou",
            "南京市": "Nanjing", "重庆市": "Chongqing", "郑州市": "Zhengzhou", "西安市": "Xi'an", "长沙市": "Changsha",
            "宁波市": "Ningbo", "青岛市": "Qingdao", "厦门市": "Xiamen", "天津市": "Tianjin", "济南市": "Jinan"}
MUNICIPALITIES = ("北京", "上海", "天津", "重庆")
SEG_ZH = {"Champions": "冠军客户", "Loyal": "忠诚客户", "Potential Loyalist": "潜力忠诚客户",
          "New Customers": "新客户", "Promising": "有潜力客户", "Need Attention": "需要关注客户",
          "About to Sleep": "即将沉睡客户", "At Risk": "有流失风险客户", "Can't Lose Them": "不能失去的客户",
          "Hibernating": "休眠客户", "Lost": "已流失客户"}


# ======================================================================= independent facts
class Facts:
    """Plain-pandas recomputation of what the answers must say (independent of tools/)."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        o = ws.table("orders").copy()
        o["customer_id"] = o["customer_id"].astype(str)
        o["order_date"] = pd.to_datetime(o["order_date"])
        self.as_of = o["order_date"].max().normalize() + pd.Timedelta(days=1)
        self.orders = o[o["order_date"] < self.as_of]
        c = ws.table("customers").copy()
        c["customer_id"] = c["customer_id"].astype(str)
        self.customers = c.drop_duplicates("customer_id").set_index("customer_id", drop=False)
        f = ws.table("feedback").copy()
        f["created_at"] = pd.to_datetime(f["created_at"])
        self.feedback = f[f["created_at"] < self.as_of]
        self.products = ws.table("products")
        self._rfm = None

    # ---------------------------------------------------------------- periods
    def period(self, name: str) -> tuple[str, str]:
        today = self.as_of
        last = today - pd.Timedelta(days=1)
        y = last.year
        d = lambda t: pd.Timestamp(t).strftime("%Y-%m-%d")  # noqa: E731
        if name == "last_month":
            end = today.replace(day=1) - pd.Timedelta(days=1)
            return d(end.replace(day=1)), d(end)
        if name == "this_month":
            return d(last.replace(day=1)), d(last)
        if name in ("last_quarter", "this_quarter"):
            q = (last.month - 1) // 3
            if name == "this_quarter":
                return d(pd.Timestamp(y, 3 * q + 1, 1)), d(last)
            qy, qq = (y, q - 1) if q > 0 else (y - 1, 3)
            start = pd.Timestamp(qy, 3 * qq + 1, 1)
            return d(start), d(start + pd.offsets.QuarterEnd(0))
        if name == "this_year":
            return f"{y}-01-01", d(last)
        if name == "last_year":
            return f"{y - 1}-01-01", f"{y - 1}-12-31"
        m = re.fullmatch(r"last_(\d+)_days", name)
        if m:
            return d(today - pd.Timedelta(days=int(m.group(1)))), d(last)
        m = re.fullmatch(r"year_(\d{4})", name)
        if m:
            return f"{m.group(1)}-01-01", f"{m.group(1)}-12-31"
        m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", name)  # an explicit range (fixed-data sets)
        if m:
            return m.group(1), m.group(2)
        raise ValueError(f"unknown period {name}")

    def _in(self, df, col, period):
        if not period:
            return df
        a, b = period
        t = df[col]
        return df[(t >= pd.Timestamp(a)) & (t < pd.Timestamp(b) + pd.Timedelta(days=1))]

    # ---------------------------------------------------------------- RFM (documented definitions)
    @property
    def rfm(self) -> pd.DataFrame:
        if self._rfm is None:
            o = self.orders
            g = o.groupby("customer_id")
            t = pd.DataFrame({"recency_days": (self.as_of - g["order_date"].max().dt.normalize()).dt.days,
                              "frequency": g["order_id"].nunique(), "monetary": g["amount"].sum()})
            t = t.sort_index()
            q = lambda s: pd.qcut(s.rank(method="first"), 5, labels=[1, 2, 3, 4, 5]).astype(int)  # noqa: E731
            t["r"], t["f"], t["m"] = q(-t["recency_days"]), q(t["frequency"]), q(t["monetary"])
            grid = {5: ["New Customers", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"],
                    4: ["Promising", "Potential Loyalist", "Potential Loyalist", "Loyal", "Loyal"],
                    3: ["About to Sleep", "About to Sleep", "Need Attention", "Loyal", "Loyal"],
                    2: ["Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"],
                    1: ["Lost", "Lost", "At Risk", "At Risk", "Can't Lose Them"]}
            t["segment"] = [grid[r][f - 1] for r, f in zip(t["r"], t["f"])]
            rh = t["recency_days"] < t["recency_days"].mean()
            fh = t["frequency"] > t["frequency"].mean()
            mh = t["monetary"] > t["monetary"].mean()
            names = {(1, 1, 1): "重要价值客户", (0, 1, 1): "重要保持客户", (1, 0, 1): "重要发展客户",
                     (0, 0, 1): "重要挽留客户", (1, 1, 0): "一般价值客户", (0, 1, 0): "一般保持客户",
                     (1, 0, 0): "一般发展客户", (0, 0, 0): "一般挽留客户"}
            t["cn8"] = [names[(int(a), int(b), int(c))] for a, b, c in zip(rh, fh, mh)]
            t["tier"] = np.where(t["r"] <= 2, "流失风险客户", np.where(t["f"] + t["m"] >= 8, "高价值客户", "潜力客户"))
            self._rfm = t
        return self._rfm

    def artefact(self, name):
        p = self.ws.artefact_path(name)
        return pd.read_parquet(p) if p.is_file() else None

    # ---------------------------------------------------------------- KPI (kpi.py's documented definitions)
    def kpi(self, metric: str, period=None, by=None, province=None, city=None, category=None):
        o = self._in(self.orders, "order_date", period)
        fb = self._in(self.feedback, "created_at", period)
        cust = self.customers
        if province or city:
            keep = cust.index
            if province:
                keep = cust.index[cust["province"].astype(str) == province]
            if city:
                keep = cust.index[cust["city"].astype(str) == city]
            o = o[o["customer_id"].isin(keep)]
            fb = fb[fb["customer_id"].astype(str).isin(keep)]
        if category:
            o = o[o["category"].astype(str) == category]

        def value(o_, fb_):
            if metric == "sales":
                return float(o_["amount"].sum())
            if metric == "orders":
                return float(o_["order_id"].nunique())
            if metric == "customers":
                return float(o_["customer_id"].nunique())
            if metric == "aov":
                n = o_["order_id"].nunique()
                return float(o_["amount"].sum() / n) if n else None
            if metric == "repurchase_rate":
                per = o_.groupby("customer_id")["order_id"].nunique()
                return float((per >= 2).mean()) if len(per) else None
            if metric == "satisfaction":
                r = fb_["rating"].dropna()
                return float(r.mean()) if len(r) else None
            if metric == "complaint_rate":
                n = o_["order_id"].nunique()
                return float((fb_["kind"] == "complaint").sum() / n) if n else None
            raise ValueError(metric)

        total = value(o, fb)
        if by is None:
            return total, None
        if by in ("province", "city"):
            lab = o["customer_id"].map(cust[by])
            groups = {}
            for g, sub in o.groupby(lab):
                groups[g] = value(sub, fb[fb["customer_id"].astype(str).map(cust[by]) == g])
        elif by == "category":
            groups = {g: value(sub, fb[fb["category"] == g]) for g, sub in o.groupby("category")}
        elif by == "month":
            mo = o["order_date"].dt.strftime("%Y-%m")
            fmo = fb["created_at"].dt.strftime("%Y-%m")
            groups = {g: value(sub, fb[fmo == g]) for g, sub in o.groupby(mo)}
        else:
            raise ValueError(by)
        groups = {k: v for k, v in groups.items() if v is not None}
        top = max(groups.items(), key=lambda kv: kv[1]) if groups else None
        return total, top


# ======================================================================= entity choice
def _pick(seq, key: str):
    seq = list(seq)
    if not seq:
        return None
    h = int(hashlib.sha1(key.encode()).hexdigest(), 16)
    return seq[h % len(seq)]


def entities(f: Facts) -> dict:
    c = f.customers
    rfm = f.rfm
    with_orders = [i for i in c.index if i in rfm.index]
    names = c["name"].astype(str)
    counts = names.value_counts()
    cjk = lambda n: bool(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", n))  # noqa: E731
    unique_zh = sorted(n for n, k in counts.items() if k == 1 and cjk(n) and c.index[names == n][0] in rfm.index)
    unique_en = sorted(n for n, k in counts.items() if k == 1 and re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", n)
                       and c.index[names == n][0] in rfm.index)
    amb = []
    for n, k in counts.items():
        if k >= 2 and cjk(n):
            ids = list(c.index[names == n])
            cities = c.loc[ids, "city"].astype(str).tolist()
            if len(set(cities)) == len(cities) and all(i in rfm.index for i in ids):
                amb.append(n)
    amb.sort()
    prov_counts = c["province"].astype(str).value_counts()
    city_counts = c["city"].astype(str).value_counts()
    cats = sorted(set(f.products["category"].dropna().astype(str)))
    prod_names = f.products["name"].astype(str)
    items = [(zh, en) for zh, en in ITEM_WORDS if prod_names.str.contains(zh, regex=False).any()]
    return {
        "customers": with_orders, "unique_zh": unique_zh, "unique_en": unique_en, "amb": amb,
        "provinces": [p for p in prov_counts.index if p in PLACE_EN and not p.startswith(MUNICIPALITIES)][:4],
        "cities": [p for p in city_counts.index if p in PLACE_EN and not p.startswith(MUNICIPALITIES)][:4],
        "categories": [x for x in cats if x in CATEGORY_EN] or cats, "items": items,
    }


def fill_values(f: Facts, ents: dict, key: str) -> dict:
    v: dict = {}
    v["cid"] = _pick(ents["customers"], key + "cid")
    v["cid2"] = _pick([x for x in ents["customers"] if x != v["cid"]], key + "cid2")
    v["name"] = _pick(ents["unique_zh"], key + "name")
    v["name_en"] = _pick(ents["unique_en"], key + "name_en") or v["name"]
    v["amb"] = _pick(ents["amb"], key + "amb")
    if v["amb"]:
        ids = sorted(f.customers.index[f.customers["name"].astype(str) == v["amb"]])
        v["amb_ids"] = ids
        v["amb_pick"] = _pick(ids, key + "ambpick")
        v["amb_city"] = str(f.customers.loc[v["amb_pick"], "city"])
    v["province"] = _pick(ents["provinces"], key + "prov")
    v["city"] = _pick(ents["cities"], key + "city")
    v["province_en"], v["city_en"] = PLACE_EN.get(v["province"], v["province"]), PLACE_EN.get(v["city"], v["city"])
    names = f.customers["name"].astype(str)
    for k in ("name", "name_en"):
        if v.get(k):
            v["cid_of_" + k] = str(f.customers.index[names == v[k]][0])
    v["category"] = _pick(ents["categories"], key + "cat")
    v["category_en"] = CATEGORY_EN.get(v["category"], v["category"])
    it = _pick(ents["items"], key + "item") or (v["category"], v["category_en"])
    v["item_zh"], v["item_en"] = it
    seg = _pick(["Champions", "Loyal", "At Risk", "Hibernating", "Lost", "Potential Loyalist", "Can't Lose Them"],
                key + "seg")
    v["segment_en"], v["segment_zh"] = seg, SEG_ZH[seg]
    v["cn8"] = _pick(["重要价值客户", "重要发展客户", "重要保持客户", "重要挽留客户", "一般价值客户", "一般挽留客户"], key + "cn8")
    v["tier"] = _pick(["高价值客户", "潜力客户"], key + "tier")
    return v


# ======================================================================= facts per case
@dataclass
class Expect:
    """One thing the answer must state: any of ``texts`` (substring), or the number ``value``
    (``pct``: a share written as a percentage; ``money``: two decimals)."""
    texts: tuple = ()
    value: float | None = None
    pct: bool = False
    label: str = ""

    def to_dict(self):
        return {"texts": list(self.texts), "value": self.value, "pct": self.pct, "label": self.label}


def facts_for(name: str, f: Facts, v: dict, period, args: dict) -> list[Expect]:
    cid = args.get("customer_id") or v.get("cid")
    param = None
    if ":" in name and not name.startswith("similar:"):
        name, param = name.split(":", 1)
    rfm = f.rfm
    if name == "rfm":
        r = rfm.loc[cid]
        return [Expect((r["segment"], SEG_ZH[r["segment"]]), label="segment"),
                Expect(value=float(r["frequency"]), label="frequency"),
                Expect(value=round(float(r["monetary"]), 2), label="monetary")]
    if name == "profile":
        r = rfm.loc[cid]
        return [Expect((str(f.customers.loc[cid, "name"]),), label="name"),
                Expect(value=float(r["frequency"]), label="frequency"),
                Expect(value=round(float(r["monetary"]), 2), label="monetary")]
    if name == "churn":
        ch = f.artefact("churn").set_index("customer_id")
        return [Expect(value=float(ch.loc[cid, "churn_probability"]), pct=True, label="churn_probability")]
    if name == "clv":
        cl = f.artefact("clv").set_index("customer_id")
        col = "clv_12m" if "clv_12m" in cl else [c for c in cl if c.startswith("clv_")][0]
        return [Expect(value=round(float(cl.loc[cid, col]), 2), label="clv")]
    if name == "clv_top":
        cl = f.artefact("clv")
        col = "clv_12m" if "clv_12m" in cl else [c for c in cl if c.startswith("clv_")][0]
        top = cl.sort_values([col, "customer_id"], ascending=[False, True]).iloc[0]
        return [Expect((str(top["customer_id"]),), label="top customer")]
    if name == "cluster":
        cl = f.artefact("clusters").set_index("customer_id")
        r = cl.loc[cid]
        return [Expect(tuple(str(x) for x in (r.get("cluster_name_zh"), r.get("cluster_name_en")) if x), label="cluster")]
    if name == "customer_id":
        return [Expect((cid,), label="customer id")]
    if name == "name":
        return [Expect((str(f.customers.loc[cid, "name"]),), label="name")]
    if name == "seg_dist":
        vc = rfm["segment"].value_counts()
        return [Expect(value=float(vc.iloc[0]), label=f"{vc.index[0]} count"),
                Expect(value=float(vc.iloc[1]), label=f"{vc.index[1]} count")]
    if name == "cn8_dist":
        vc = rfm["cn8"].value_counts()
        return [Expect(value=float(vc.iloc[0]), label=f"{vc.index[0]} count")]
    if name == "tier_dist":
        vc = rfm["tier"].value_counts()
        return [Expect(value=float(vc.iloc[0]), label=f"{vc.index[0]} count")]
    if name in ("seg_count", "seg_members"):
        seg = param or args.get("segment") or v.get("segment_en")
        col = "segment" if seg in SEG_ZH else "cn8" if seg.startswith(("重要", "一般")) else "tier"
        sub = rfm[rfm[col] == seg]
        out = [Expect(value=float(len(sub)), label=f"{seg} count")]
        if name == "seg_members" and len(sub):
            top = sub.sort_values(["monetary"], ascending=False, kind="stable")
            top = top[top["monetary"] == top["monetary"].iloc[0]].sort_index().index[0]
            out.append(Expect((top,), label="top member"))
        return out
    if name == "at_risk":
        ch = f.artefact("churn")
        ch["customer_id"] = ch["customer_id"].astype(str)
        cust = f.customers
        prov, city = args.get("province"), args.get("city")
        if prov:
            ch = ch[ch["customer_id"].map(cust["province"]) == prov]
        if city:
            ch = ch[ch["customer_id"].map(cust["city"]) == city]
        n = int((ch["churn_probability"] >= (args.get("min_probability") or 0.5)).sum())
        return [Expect(value=float(n), label="count at risk")]
    if name == "together":
        item = args.get("item") or v["item_zh"]
        o = f.orders
        col = "category" if item in set(f.products["category"].astype(str)) else "product_name"
        pairs = o[["order_id", col]].dropna().drop_duplicates()
        hit = pairs[col].astype(str).str.contains(item, regex=False)
        with_x = set(pairs.loc[hit, "order_id"])
        other = pairs[pairs["order_id"].isin(with_x) & ~hit]
        n = pairs["order_id"].nunique()
        cnt = other[col].value_counts()
        freq = pairs[col].value_counts()
        lift = (cnt / len(with_x)) / (freq[cnt.index] / n)
        cands = set(cnt.head(5).index) | set(lift[cnt >= 3].sort_values(ascending=False).head(10).index)
        return [Expect(tuple(sorted(cands)), label="a companion item")]
    if name == "kpi":
        metric = args["metric"]
        total, top = f.kpi(metric, period, args.get("by"), args.get("province"), args.get("city"), args.get("category"))
        pct = metric in ("repurchase_rate", "complaint_rate")
        out = [] if total is None else [Expect(value=total, pct=pct, label=f"{metric} value")]
        if top is not None and args.get("by") != "month":
            out.append(Expect((str(top[0]),), label=f"top {args.get('by')}"))
        return out
    if name == "topics":
        fb = f._in(f.feedback, "created_at", period)
        return [Expect(value=float((fb["kind"] == "complaint").sum()), label="complaints in period")]
    if name.startswith("similar:"):
        words = tuple(name.split(":", 1)[1].split("|"))
        return [Expect(words, label="a similar complaint")]
    if name == "birthdays":
        days = args.get("days") or 7
        b = pd.to_datetime(f.customers["birthday"], errors="coerce").dropna()
        start = f.as_of
        n = 0
        for bd in b:
            for yy in (start.year, start.year + 1):
                try:
                    d = pd.Timestamp(yy, bd.month, bd.day)
                except ValueError:
                    d = pd.Timestamp(yy, 2, 28)
                if start <= d < start + pd.Timedelta(days=days):
                    n += 1
                    break
        return [Expect(value=float(n), label="birthdays in window")]
    raise ValueError(f"unknown fact {name!r}")


# ======================================================================= building cases
def load_templates(path: Path = QUESTIONS) -> list[dict]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("//"):
            out.append(json.loads(line))
    return out


def _sub(obj, v: dict):
    if isinstance(obj, str):
        def rep(m):
            val = v.get(m.group(1))
            return str(val) if val is not None else m.group(0)
        return re.sub(r"\{(\w+)\}", rep, obj)
    if isinstance(obj, dict):
        return {k: _sub(x, v) for k, x in obj.items()}
    if isinstance(obj, list):
        return [_sub(x, v) for x in obj]
    return obj


def build_cases(ws: Workspace, templates: list[dict] | None = None) -> list[dict]:
    """Filled cases: {id, lang, split, turns: [{question, expect: {tool, args, facts, clarify}}]}."""
    f = Facts(ws)
    ents = entities(f)
    cases = []
    for t in templates or load_templates():
        v = fill_values(f, ents, t["id"])
        if any("{amb" in json.dumps(turn, ensure_ascii=False) for turn in t["turns"]) and not v.get("amb"):
            continue
        turns = []
        for turn in t["turns"]:
            q = _sub(turn["q"], v)
            exp = turn.get("expect")
            e = None
            if exp is not None:
                args = _sub(exp.get("args") or {}, v)
                if exp.get("args_customer") == "amb_pick":
                    args["customer_id"] = v["amb_pick"]
                period = f.period(exp["period"]) if exp.get("period") else None
                if period:
                    args.setdefault("date_from", period[0])
                    args.setdefault("date_to", period[1])
                facts = []
                for name in _sub(exp.get("facts") or [], v):
                    try:
                        facts += [x.to_dict() for x in facts_for(name, f, v, period, args)]
                    except (KeyError, IndexError, TypeError, AttributeError) as err:
                        facts.append({"texts": [], "value": None, "pct": False, "label": f"unavailable: {name} ({err})"})
                e = {"tool": exp.get("tool"), "args": args, "facts": facts, "clarify": bool(exp.get("clarify")),
                     "arg_contains": exp.get("arg_contains") or {}}
            turns.append({"question": q, "expect": e})
        cases.append({"id": t["id"], "lang": t.get("lang"), "tags": t.get("tags", []), "turns": turns})
    return cases


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspace", required=True)
    p.add_argument("--out", default="-")
    a = p.parse_args(argv)
    cases = build_cases(Workspace(a.workspace))
    txt = json.dumps(cases, ensure_ascii=False, indent=1, default=str)
    if a.out == "-":
        print(txt)
    else:
        Path(a.out).write_text(txt, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
