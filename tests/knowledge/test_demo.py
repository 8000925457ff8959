"""The demo CRM generator: determinism, sizes, file formats/headers, the realism signals the
analyses rely on, and the planted dirty rows documented in manifest.json."""
from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from knowledge import demo_text as T
from knowledge.demo import DEFAULT_END, FILES, MANIFEST, generate_demo
from knowledge.export import FORMULA_START, restore_formulas
from knowledge.schema import TABLES, normalise_header

CJK = re.compile(r"[\u4e00-\u9fff]")


def _load(d: Path) -> dict:
    """The demo's files as `guanxi build` reads them (the apostrophe in front of a formula-like cell,
    e.g. '+86 138-…, taken off: knowledge.export.restore_formulas)."""
    m = json.loads((d / MANIFEST).read_text(encoding="utf-8"))
    c = restore_formulas(pd.read_csv(d / "customers.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig"))
    p = restore_formulas(pd.read_excel(d / "products.xlsx", sheet_name="商品", dtype={"商品编号": str}))
    o = restore_formulas(pd.read_csv(d / "orders.csv", dtype={"order_id": str, "customer_id": str, "product_id": str,
                                                                "channel": str}))
    o["order_date"] = pd.to_datetime(o["order_date"])
    f = restore_formulas(pd.read_csv(d / "feedback.csv", dtype=str, keep_default_na=False, encoding="gb18030"))
    return {"m": m, "c": c, "p": p, "o": o, "f": f, "dir": d}


def _formula_like(v) -> bool:
    """A cell Excel would run as a formula: text starting with = + - @ tab CR that is not a number."""
    return isinstance(v, str) and v.startswith(FORMULA_START) and not re.fullmatch(r"[+-]?\d[\d,]*(\.\d*)?%?", v.strip())


def test_the_demo_files_open_in_a_spreadsheet_without_formulas(small):
    """customers.csv holds '+86 138-…' phones (Excel would run "+86 138-1234-5678" as a formula): every
    CSV cell is read as a spreadsheet program reads it (csv module) and none starts a formula; every
    cell of products.xlsx is a value, not a formula (openpyxl)."""
    import csv

    from openpyxl import load_workbook
    d = small["dir"]
    for name, enc in (("customers.csv", "utf-8-sig"), ("orders.csv", "utf-8"), ("feedback.csv", "gb18030")):
        with open(d / name, newline="", encoding=enc) as fh:
            cells = [v for row in csv.reader(fh) for v in row]
        assert cells and not [v for v in cells if _formula_like(v)], name
    raw = pd.read_csv(d / "customers.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")["手机号"]
    assert raw.str.startswith("'+86 ").sum() == len(small["m"]["planted"]["phone_plus86_format"]["customer_ids"]) \
        + len(small["m"]["planted"]["duplicate_customers"]["ids_with_plus86_phone"]) > 0
    wb = load_workbook(d / "products.xlsx")
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert cells and all(c.data_type != "f" for c in cells) and not [c.value for c in cells if _formula_like(c.value)]


def test_the_demo_workbook_writer_stores_a_formula_like_name_as_text(tmp_path):
    from openpyxl import load_workbook

    from knowledge.demo import _write_xlsx
    _write_xlsx(tmp_path / "p.xlsx", "商品", ["商品编号", "商品名称"], [["P1", '=HYPERLINK("http://x","y")'], ["P2", "@SUM(A1)"]])
    ws = load_workbook(tmp_path / "p.xlsx")["商品"]
    names = [ws.cell(row=r, column=2) for r in (2, 3)]
    assert [c.data_type for c in names] == ["s", "s"]
    assert [c.value for c in names] == ['\'=HYPERLINK("http://x","y")', "'@SUM(A1)"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo-small")
    paths = generate_demo(d, customers=300, seed=42)
    return {**_load(d), "paths": paths}


@pytest.fixture(scope="module")
def mid(tmp_path_factory):
    """1,000 customers / 20,000 lines: enough for the statistical signals to be stable."""
    d = tmp_path_factory.mktemp("demo-mid")
    generate_demo(d, customers=1000, seed=3)
    return _load(d)


def _clean_orders(o: pd.DataFrame) -> pd.DataFrame:
    return o[(o["order_date"].dt.year < 2090) & (o["amount"] > 0)].drop_duplicates()


# ----------------------------------------------------------------------------- contract
def test_returns_paths_of_all_tables(small):
    assert set(small["paths"]) == {"customers", "products", "orders", "feedback"}
    for name, path in small["paths"].items():
        assert path.is_file() and path.name == FILES[name]
    assert (small["dir"] / MANIFEST).is_file()


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_demo(a, customers=120, seed=5)
    generate_demo(b, customers=120, seed=5)
    generate_demo(c, customers=120, seed=6)
    for fname in [*FILES.values(), MANIFEST]:
        assert (a / fname).read_bytes() == (b / fname).read_bytes(), fname
    for fname in FILES.values():
        assert (a / fname).read_bytes() != (c / fname).read_bytes(), fname


def test_rerun_overwrites(tmp_path):
    generate_demo(tmp_path, customers=150, seed=1)
    generate_demo(tmp_path, customers=100, seed=1)
    assert len(pd.read_csv(tmp_path / "customers.csv", dtype=str)) == 100


def test_sizes_follow_parameters(small, tmp_path):
    assert len(small["c"]) == 300
    assert len(small["o"]) == 6000            # orders default = 20 x customers (order lines)
    assert len(small["f"]) == 480             # feedback default = 1.6 x customers
    assert len(small["p"]) == 300
    m = small["m"]
    assert m["rows"] == {"customers": 300, "products": 300, "orders": 6000,
                         "orders_distinct": small["o"]["order_id"].nunique(), "feedback": 480}
    generate_demo(tmp_path, customers=200, orders=3000, feedback=90, products=120, seed=2)
    d = _load(tmp_path)
    assert (len(d["c"]), len(d["o"]), len(d["f"]), len(d["p"])) == (200, 3000, 90, 120)
    names = set(d["p"]["商品名称"])
    for anchors, partners, _ in T.BUNDLES[:2]:      # bundles survive a smaller catalogue
        assert set(anchors) <= names and {q for q, _ in partners} <= names


def test_default_sizes_and_dates(tmp_path):
    paths = generate_demo(tmp_path)  # speed is measured in benchmarks/bench_demo.py, not here
    o = pd.read_csv(paths["orders"], usecols=["order_id", "order_date"])
    assert len(o) == 100_000
    assert len(pd.read_csv(paths["customers"], dtype=str)) == 5000
    assert len(pd.read_csv(paths["feedback"], dtype=str, encoding="gb18030")) == 8000
    dates = pd.to_datetime(o["order_date"])
    real = dates[dates.dt.year < 2090]
    assert real.max().date() <= DEFAULT_END == date(2026, 10, 31)
    assert real.min().date() >= date(2023, 11, 1)
    assert real.max().date() >= DEFAULT_END - timedelta(days=3)
    assert o["order_id"].nunique() > 35_000


def test_end_date_parameter(tmp_path):
    generate_demo(tmp_path, customers=100, end_date=date(2025, 6, 30))
    d = _load(tmp_path)
    real = d["o"]["order_date"][d["o"]["order_date"].dt.year < 2090]
    assert real.max() <= pd.Timestamp("2025-06-30 23:59:59")
    assert real.min() >= pd.Timestamp("2022-07-01")
    assert d["m"]["end_date"] == "2025-06-30"


def test_bad_parameters():
    with pytest.raises(ValueError):
        generate_demo(Path("/nonexistent-never-created"), customers=5)
    with pytest.raises(ValueError):
        generate_demo(Path("/nonexistent-never-created"), customers=100, orders=250)


# ----------------------------------------------------------------------------- formats
def _columns_for(table: str, headers: list[str]) -> list[str]:
    t = TABLES[table]
    lookup = {normalise_header(n): c.name for c in t.columns for n in c.all_names()}
    out = []
    for h in headers:
        assert normalise_header(h) in lookup, f"{table}: header {h!r} is not a known alias"
        out.append(lookup[normalise_header(h)])
    return out


def test_headers_are_schema_aliases(small):
    heads = {
        "customers": list(small["c"].columns),
        "products": list(small["p"].columns),
        "orders": list(small["o"].columns),
        "feedback": list(small["f"].columns),
    }
    assert heads["customers"] == ["客户编号", "姓名", "性别", "生日", "手机号", "邮箱", "城市", "省份", "来源渠道",
                                  "注册日期", "会员等级", "标签"]
    assert heads["orders"] == ["order_id", "customer_id", "order_date", "product_id", "quantity", "amount", "channel"]
    for table, hs in heads.items():
        cols = _columns_for(table, hs)
        assert len(set(cols)) == len(cols), f"{table}: two headers map to one column"
        assert set(TABLES[table].required) <= set(cols) | {"quantity"}, table


def test_encodings(small):
    d = small["dir"]
    assert (d / "customers.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    orders = (d / "orders.csv").read_bytes()
    assert not orders.startswith(b"\xef\xbb\xbf")
    orders.decode("utf-8")
    raw = (d / "feedback.csv").read_bytes()
    text = raw.decode("gb18030")
    assert text.startswith("反馈编号,")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    import zipfile
    with zipfile.ZipFile(d / "products.xlsx") as z:
        assert "xl/workbook.xml" in z.namelist()


def test_amount_format_and_ids(small):
    lines = (small["dir"] / "orders.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert all(re.fullmatch(r"-?\d+\.\d\d", ln.split(",")[5]) for ln in lines)
    o = small["o"]
    assert o["order_id"].str.fullmatch(r"O\d{13}").all()
    assert o["quantity"].between(1, 12).all()
    assert small["c"]["客户编号"].is_unique
    assert small["f"]["反馈编号"].is_unique
    assert set(o["product_id"]) <= set(small["p"]["商品编号"])
    assert set(o["customer_id"]) <= set(small["c"]["客户编号"])
    fb_cust = set(small["f"]["客户编号"]) - {""}
    assert fb_cust <= set(small["c"]["客户编号"])


# ----------------------------------------------------------------------------- products and customers
def test_products_catalogue(small):
    p = small["p"]
    assert p["商品名称"].is_unique and p["商品编号"].is_unique
    assert p["品类"].nunique() == 15
    assert (p["单价"] > 0).all()
    assert p["商品名称"].str.contains("绿茶").sum() >= 2
    med = p.groupby("品类")["单价"].median()
    assert med["粮油调味"] < med["茶叶"] and med["零食"] < med["服饰"]


def test_larger_catalogue_has_unique_names(tmp_path):
    generate_demo(tmp_path, customers=100, products=700)
    p = pd.read_excel(tmp_path / "products.xlsx", sheet_name="商品")
    assert len(p) == 700 and p["商品名称"].is_unique


def test_customers_look_real(mid):
    c = mid["c"]
    births = c["生日"][c["生日"] != ""]
    assert set(births.str[5:7]) == {f"{m:02d}" for m in range(1, 13)}
    ages = 2026 - births.str[:4].astype(int)
    assert ((ages >= 18) & (ages <= 77) | (ages > 130)).all()
    digits = c["手机号"].str.replace(r"\D", "", regex=True).str.replace(r"^86(?=\d{11}$)", "", regex=True)
    assert digits.str.fullmatch(r"1[358]\d{9}").all()
    english = c["姓名"].str.contains(r"[A-Za-z]")
    assert 0.04 < english.mean() < 0.13
    assert 0.5 < (c["邮箱"] != "").mean() < 0.72
    assert c["姓名"].str.strip().eq("王伟").sum() >= 2 and c["姓名"].str.strip().eq("李娜").sum() >= 2
    assert set(c["会员等级"]) == {"普通会员", "银卡", "金卡", "钻石"}
    assert {"北京市", "上海市", "广州市"} <= set(c["城市"])
    pairs = set(zip(c["城市"], c["省份"]))
    assert ("杭州市", "浙江省") in pairs and ("北京市", "北京") in pairs
    assert set(c["来源渠道"]) == set(T.CHANNELS)


def test_first_order_after_signup(mid):
    o = _clean_orders(mid["o"])
    first = o.groupby("customer_id")["order_date"].min().dt.normalize()
    signup = pd.to_datetime(mid["c"].set_index("客户编号")["注册日期"])
    assert (first >= signup.reindex(first.index)).all()


def test_level_follows_value(mid):
    o = _clean_orders(mid["o"])
    spend = o.groupby("customer_id")["amount"].sum()
    lv = mid["c"].set_index("客户编号")["会员等级"].reindex(spend.index)
    med = spend.groupby(lv).median()
    assert med["普通会员"] < med["银卡"] < med["金卡"] < med["钻石"]


# ----------------------------------------------------------------------------- realism signals
def test_bundles_have_high_lift(mid):
    o = _clean_orders(mid["o"])
    names = dict(zip(mid["p"]["商品编号"], mid["p"]["商品名称"]))
    baskets = o.assign(name=o["product_id"].map(names)).groupby("order_id")["name"].agg(set)
    n = len(baskets)

    def lift(a: set, b: str) -> float:
        has_a = baskets.map(lambda s: bool(s & a))
        has_b = baskets.map(lambda s: b in s)
        return (has_a & has_b).sum() * n / (has_a.sum() * has_b.sum())

    green_tea = {x for x in names.values() if "绿茶" in x}
    assert lift(green_tea, "玻璃茶杯 带滤网") > 3
    assert lift({"手机壳"}, "钢化膜 2 片装") > 3
    assert lift({"去屑洗发水 750ml"}, "柔顺护发素 750ml") > 3
    assert lift({"婴儿配方奶粉 3 段 800g"}, "纸尿裤 L 码") > 3


def test_orders_have_one_to_six_lines_without_repeated_products(mid):
    o = _clean_orders(mid["o"])
    sizes = o.groupby("order_id").size()
    assert sizes.between(1, 6).all() and (sizes == 1).mean() > 0.25 and sizes.max() == 6
    assert not o.duplicated(["order_id", "product_id"]).any()


def test_double11_peak(mid):
    o = _clean_orders(mid["o"])
    daily = o.groupby(o["order_date"].dt.date)["amount"].sum()
    med = daily.median()
    for d in mid["m"]["info"]["double11"]:
        assert daily.get(date.fromisoformat(d), 0) > 3 * med, d


def test_spring_festival_pattern(mid):
    from lunardate import LunarDate
    o = _clean_orders(mid["o"])
    daily = o.groupby(o["order_date"].dt.date)["amount"].sum()
    sfs = [date.fromisoformat(d) for d in mid["m"]["info"]["spring_festivals"]]
    assert sfs == [LunarDate(y, 1, 1).to_solar_date() for y in (2024, 2025, 2026)]
    for sf in sfs[1:]:
        before = daily[(daily.index >= sf - timedelta(14)) & (daily.index < sf)].mean()
        during = daily[(daily.index >= sf) & (daily.index < sf + timedelta(7))].mean()
        assert before > 2.5 * during


def test_archetypes_behave(mid):
    o = _clean_orders(mid["o"])
    arch = mid["m"]["truth"]["archetype_by_customer"]
    per = o.drop_duplicates("order_id").assign(arch=lambda x: x["customer_id"].map(arch))
    stats = per.groupby("customer_id").agg(n=("order_id", "size"), last=("order_date", "max"),
                                           first=("order_date", "min"), arch=("arch", "first"))
    dup_ids = {b for _, b in mid["m"]["planted"]["duplicate_customers"]["pairs"]}
    dup_ids |= {a for a, _ in mid["m"]["planted"]["duplicate_customers"]["pairs"]}
    clean = stats[~stats.index.isin(dup_ids)]
    mean_n = clean.groupby("arch")["n"].mean()
    assert mean_n["vip"] > 2 * mean_n["steady"] > 2 * mean_n["occasional"]
    assert (clean.loc[clean["arch"] == "one_off", "n"] == 1).all()
    end = pd.Timestamp(mid["m"]["end_date"]) + pd.Timedelta(days=1)
    lap = clean[clean["arch"] == "lapsing"]
    assert ((end - lap["last"]).dt.days >= 90).all()
    recent = clean.groupby("arch")["last"].apply(lambda s: (end - s).dt.days.median())
    assert recent["vip"] < 60 and recent["steady"] < 120 and recent["lapsing"] > 150
    counts = mid["m"]["info"]["archetype_counts"]
    total = sum(counts.values())
    assert 0.1 < counts["lapsing"] / total < 0.2 and 0.02 < counts["vip"] / total < 0.09


def test_lapsing_customers_slow_down(mid):
    o = _clean_orders(mid["o"]).drop_duplicates("order_id")
    arch = mid["m"]["truth"]["archetype_by_customer"]
    first_half, second_half = [], []
    for cid, g in o[o["customer_id"].map(arch) == "lapsing"].groupby("customer_id"):
        if len(g) < 4:
            continue
        lo, hi = g["order_date"].min(), g["order_date"].max()
        mid_t = lo + (hi - lo) / 2
        first_half.append((g["order_date"] < mid_t).sum())
        second_half.append((g["order_date"] > mid_t).sum())
    assert len(first_half) > 30
    assert np.mean(second_half) < 0.8 * np.mean(first_half)


def test_lapsing_customers_complain_more(mid):
    arch = mid["m"]["truth"]["archetype_by_customer"]
    f = mid["f"]
    o = _clean_orders(mid["o"]).drop_duplicates("order_id")
    orders_by_arch = o["customer_id"].map(arch).value_counts()
    complaints = f.loc[f["类型"] == "投诉", "客户编号"].map(arch).value_counts()
    rate = complaints / orders_by_arch
    assert rate["lapsing"] > 1.5 * rate["steady"]


# ----------------------------------------------------------------------------- feedback
def test_feedback_mix_ratings_status(mid):
    f = mid["f"]
    share = f["类型"].value_counts(normalize=True)
    assert set(share.index) == {"投诉", "咨询", "建议", "表扬"}
    assert 0.48 < share["投诉"] < 0.62 and 0.14 < share["咨询"] < 0.26
    rated = f[f["评分"] != ""]
    assert 0.62 < len(rated) / len(f) < 0.78
    r = rated["评分"].astype(int)
    assert r[rated["类型"] == "投诉"].isin([1, 2]).all()
    assert r[rated["类型"] == "表扬"].isin([4, 5]).all()
    assert r[rated["类型"].isin(["咨询", "建议"])].between(3, 5).all()
    assert set(f["状态"]) == {"已解决", "处理中"}
    resolved = f[f["状态"] == "已解决"]
    assert 0.62 < len(resolved) / len(f) < 0.88
    assert (resolved["处理结果"] != "").all() and (resolved["解决时间"] != "").all()
    opened = f[f["状态"] == "处理中"]
    assert (opened["处理结果"] == "").all() and (opened["解决时间"] == "").all()
    created = pd.to_datetime(resolved["反馈时间"])
    done = pd.to_datetime(resolved["解决时间"])
    assert (done > created).all() and ((done - created) <= pd.Timedelta(days=10, hours=3)).all()
    assert done.max() <= pd.Timestamp(mid["m"]["end_date"]) + pd.Timedelta(days=1)
    # recent items are more often still open
    age = pd.Timestamp(mid["m"]["end_date"]) - pd.to_datetime(f["反馈时间"])
    assert (f.loc[age < pd.Timedelta(days=30), "状态"] == "处理中").mean() > \
        (f.loc[age > pd.Timedelta(days=180), "状态"] == "处理中").mean()


def test_feedback_languages(mid):
    f, c = mid["f"], mid["c"]
    english_ids = set(c.loc[c["姓名"].str.contains(r"[A-Za-z]"), "客户编号"])
    is_en = f["客户编号"].isin(english_ids)
    assert is_en.sum() > 20
    assert not f.loc[is_en, "内容"].str.contains(CJK).any()
    zh = f.loc[~is_en, "内容"]
    assert zh.str.contains(CJK).all()
    mixed = zh.str.contains(r"\b(?:please|really|delay|refund|tracking|broken|quality|thanks|thx)\b", case=False)
    assert 0.005 < mixed.mean() < 0.08


def test_complaint_themes_in_both_languages(mid, tmp_path):
    themes = mid["m"]["truth"]["complaint_theme_by_feedback"]
    f = mid["f"].set_index("反馈编号")
    assert set(themes) == set(f.index[f["类型"] == "投诉"])
    texts = f.loc[list(themes), "内容"]
    theme_s = pd.Series(themes)
    is_zh = texts.str.contains(CJK)
    for th in T.THEMES:
        sub = theme_s[theme_s == th].index
        assert is_zh[sub].any(), th
        assert (~is_zh[sub]).any(), th
        assert texts[sub].nunique() >= 10, th
    # category-dependent themes: damaged goods more common for kitchenware/electronics than food
    cat = f.loc[list(themes), "品类"]
    dmg = theme_s == "damaged"
    assert dmg[cat.isin(["厨房用品", "数码配件"])].mean() > dmg[cat.isin(["零食", "保健品"])].mean()


def test_phrase_banks_are_rich():
    for th in T.THEMES:
        zh = set(T.COMPLAINT_ZH[th])
        en = set(T.COMPLAINT_EN[th])
        if th == "damaged":
            zh |= {t for g in T.DAMAGE_GROUPS.values() for t in g[0]}
            en |= {t for g in T.DAMAGE_GROUPS.values() for t in g[1]}
        assert len(zh) >= 15 and len(en) >= 8, th
        assert len(T.RESOLUTION_ZH[th]) >= 5 and len(T.RESOLUTION_EN[th]) >= 5, th
    assert set(T.DEFECTS) == set(T.CATEGORIES)


def test_late_delivery_complaints_peak_after_double11(mid):
    themes = pd.Series(mid["m"]["truth"]["complaint_theme_by_feedback"])
    f = mid["f"].set_index("反馈编号").loc[themes.index]
    when = pd.to_datetime(f["反馈时间"])
    late = themes == "late_delivery"
    nov = (when.dt.month == 11) & (when.dt.day >= 11)
    assert late[nov].mean() > late[~nov].mean()


# ----------------------------------------------------------------------------- planted dirt
def _digits(phone: str) -> str:
    d = re.sub(r"\D", "", phone)
    return d[2:] if len(d) == 13 and d.startswith("86") else d


def test_planted_dirt_matches_manifest(mid):
    m, c, o = mid["m"]["planted"], mid["c"].set_index("客户编号"), mid["o"]
    # duplicate customers: same phone digits, same name modulo spaces, orders on both ids
    pairs = m["duplicate_customers"]["pairs"]
    assert len(pairs) == m["duplicate_customers"]["count"] == 3
    ordered = set(o["customer_id"])
    for a, b in pairs:
        assert _digits(c.at[a, "手机号"]) == _digits(c.at[b, "手机号"])
        assert re.sub(r"\s", "", c.at[a, "姓名"]) == re.sub(r"\s", "", c.at[b, "姓名"])
        assert a in ordered and b in ordered
    digits = c["手机号"].map(_digits)
    assert digits.duplicated().sum() == len(pairs)
    # exact duplicate order lines
    dup = o[o.duplicated(keep="first")]
    assert len(dup) == m["duplicate_order_lines"]["count"] == 10
    assert sorted(dup["order_id"]) == m["duplicate_order_lines"]["order_ids"]
    neg = o[o["amount"] < 0]
    assert len(neg) == m["negative_amounts"]["count"] == 2
    assert sorted(neg["order_id"]) == m["negative_amounts"]["order_ids"]
    fut = o[o["order_date"].dt.year == 2099]
    assert len(fut) == m["future_order_dates"]["count"] == 2
    assert sorted(fut["order_id"]) == m["future_order_dates"]["order_ids"]
    assert (o["order_date"].dt.year < 2090).sum() == len(o) - len(fut)
    # customer fields
    assert sorted(c.index[c["生日"].str.startswith("1890")]) == m["birthday_1890"]["customer_ids"]
    plus86 = set(c.index[c["手机号"].str.startswith("+86 ")])
    assert set(m["phone_plus86_format"]["customer_ids"]) | set(m["duplicate_customers"]["ids_with_plus86_phone"]) \
        == plus86
    assert all(re.fullmatch(r"\+86 1\d\d-\d{4}-\d{4}", c.at[i, "手机号"]) for i in plus86)
    upper = set(c.index[c["邮箱"].str.contains(r"[A-Z]")])
    assert upper == set(m["email_upper_case"]["customer_ids"])
    mf = set(c.index[c["性别"].isin(["M", "F"])])
    assert mf == set(m["gender_MF"]["customer_ids"])
    assert set(c["性别"]) <= {"男", "女", "M", "F", ""}
    assert (c["性别"].isin(["男", "女"])).mean() > 0.95
    # e-mails unique (case-insensitively) apart from duplicate customers who kept theirs
    emails = c.loc[c["邮箱"] != "", "邮箱"].str.lower()
    assert emails.duplicated().sum() <= len(pairs)


def test_default_dirt_counts_near_brief(small):
    m = small["m"]["planted"]
    assert m["duplicate_customers"]["count"] >= 2
    assert m["duplicate_order_lines"]["count"] >= 3
    assert m["negative_amounts"]["count"] >= 2 and m["future_order_dates"]["count"] >= 2
    assert m["birthday_1890"]["count"] >= 2


# ----------------------------------------------------------------------------- scale
@pytest.mark.slow
def test_one_million_lines(tmp_path):
    paths = generate_demo(tmp_path, customers=50_000, orders=1_000_000)
    with open(paths["orders"], "rb") as fh:
        assert sum(1 for _ in fh) == 1_000_001
