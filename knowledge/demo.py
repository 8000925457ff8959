"""A realistic demo CRM: the raw input files of a Chinese consumer-goods company.

`generate_demo(out_dir, ...)` writes, for three years of history ending at `end_date`:

- ``customers.csv``  UTF-8 with BOM, Chinese headers (客户编号, 姓名, 性别, 生日, 手机号, ...)
- ``products.xlsx``  sheet 商品 (商品编号, 商品名称, 品类, 单价)
- ``orders.csv``     UTF-8, canonical English headers, one row per order line
- ``feedback.csv``   GB18030, Chinese headers (反馈编号, 客户编号, 反馈时间, 渠道, 类型, ...)
- ``manifest.json``  what was generated: sizes, the planted dirty rows (counts and ids),
                     the archetype of every customer (ground truth for churn/RFM checks).

What the analyses should find in it:

- customer archetypes: VIPs (5 %), steady (25 %), occasional (35 %), one-off buyers (20 %),
  lapsing customers (15 %) whose purchase rate declines and who stop 3-12 months before
  `end_date`; lapsing (and one-off) customers complain more;
- seasonality: the two weeks before 春节 busy and the festival week quiet (real lunar dates),
  618 (peak 6/18), 双11 (big peak on 11/11), 双12, 38 节, 中秋 gifting; a mild weekly pattern;
- bundles bought together (绿茶 + 茶杯/茶具, 咖啡豆 + 滤纸, 奶粉 + 纸尿裤, 洗发水 + 护发素,
  手机壳 + 钢化膜, 啤酒 + 花生/薯片, ...), with lift far above 1;
- feedback (complaint 55 %, inquiry 20 %, suggestion 12 %, praise 13 %) in the customers' voice,
  Chinese or English (English-speaking customers), complaint themes varying by category and
  season (late delivery after 双11), status/resolution/resolution time;
- a handful of dirty rows (duplicate customers, duplicate order lines, negative amounts,
  orders dated 2099, birthdays in 1890, "+86 138-1234-5678" phones, upper-case e-mails,
  M/F genders) listed in manifest.json.

Same arguments ⇒ byte-identical files. Vectorised with numpy: 1M order lines take seconds.

Long on purpose: one deterministic generator (byte-identical output per seed) whose archetypes,
calendar effects and planted defects depend on one random stream; split up, the draw order — and
so every demo workspace — would change.
"""
from __future__ import annotations

import io
import json
import math
import re
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from knowledge import demo_text as T
from knowledge.export import neutralise_cell, write_csv, xlsx_workbook

DEFAULT_END = date(2026, 10, 31)
HISTORY_YEARS = 3

ARCHETYPES = ("vip", "steady", "occasional", "one_off", "lapsing")
VIP, STEADY, OCCASIONAL, ONE_OFF, LAPSING = range(5)
ARCH_SHARE = np.array([0.05, 0.25, 0.35, 0.20, 0.15])
ARCH_RATE = np.array([16.0, 6.0, 1.8, 0.0, 6.0])      # orders per active year, before scaling
ARCH_MIN_ORDERS = np.array([4, 2, 1, 1, 3])
# share of each archetype that signed up before the three years of history
ARCH_EARLY = np.array([0.5, 0.25, 0.15, 0.05, 0.3])
# lines per order (1..6)
LINES_P = np.array([0.42, 0.28, 0.15, 0.08, 0.045, 0.025])
LINES_P_VIP = np.array([0.25, 0.28, 0.22, 0.13, 0.08, 0.04])
KINDS = ("complaint", "inquiry", "suggestion", "praise")
KIND_P = np.array([0.55, 0.20, 0.12, 0.13])

FILES = {"customers": "customers.csv", "products": "products.xlsx", "orders": "orders.csv",
         "feedback": "feedback.csv"}
MANIFEST = "manifest.json"
CUSTOMER_HEADERS = ["客户编号", "姓名", "性别", "生日", "手机号", "邮箱", "城市", "省份", "来源渠道", "注册日期",
                    "会员等级", "标签"]
PRODUCT_SHEET = "商品"
PRODUCT_HEADERS = ["商品编号", "商品名称", "品类", "单价"]
ORDER_HEADERS = ["order_id", "customer_id", "order_date", "product_id", "quantity", "amount", "channel"]
FEEDBACK_HEADERS = ["反馈编号", "客户编号", "反馈时间", "渠道", "类型", "商品编号", "品类", "评分", "内容", "状态",
                    "处理结果", "解决时间"]
FUTURE_YEAR = 2099
ANCIENT_YEAR = 1890
_FIXED_STAMP = (2026, 1, 1, 0, 0, 0)


# =========================================================================== API
def generate_demo(out_dir: Path, customers: int = 5000, orders: int | None = None, feedback: int | None = None,
                  products: int = 300, seed: int = 42, end_date: date | None = None) -> dict[str, Path]:
    """Write the demo company's raw files into `out_dir`; returns {table: path}.

    `customers`, `orders` (order lines), `feedback` and `products` are the row counts of the
    files (planted duplicates included). Defaults: orders = 20 × customers, feedback =
    1.6 × customers. History: three years ending at `end_date` (default 2026-10-31, fixed so
    that the same seed always gives byte-identical files).
    """
    customers = int(customers)
    orders = 20 * customers if orders is None else int(orders)
    feedback = int(round(1.6 * customers)) if feedback is None else int(feedback)
    products = int(products)
    if customers < 20:
        raise ValueError(f"customers must be at least 20, got {customers}")
    if orders < 3 * customers:
        raise ValueError(f"orders (order lines) must be at least 3 × customers ({3 * customers}), got {orders}")
    if feedback < 0:
        raise ValueError(f"feedback must be >= 0, got {feedback}")
    n_base = sum(len(v) for v in T.PRODUCTS.values())
    if not len(T.CATEGORIES) <= products <= n_base * (1 + len(_VARIANTS)):
        raise ValueError(f"products must be between {len(T.CATEGORIES)} and {n_base * (1 + len(_VARIANTS))}")
    end = _as_date(end_date) if end_date is not None else DEFAULT_END

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    cal = _Calendar(end)
    plan = _Plan(customers, orders)

    prod = _make_products(rngs[0], products)
    cust = _make_customers(rngs[1], plan.n_persons, cal)
    lines = _make_orders(rngs[2], cust, prod, cal, plan.clean_lines)
    dirt = _plant_dirt(rngs[3], plan, cust, lines, cal)
    _levels_and_tags(rngs[1], cust, lines, cal)
    fb = _make_feedback(rngs[4], feedback, cust, lines, prod, cal)

    paths = {name: out_dir / fname for name, fname in FILES.items()}
    cust_df = _customers_frame(cust, dirt)
    _write_csv(cust_df, paths["customers"], "utf-8-sig")
    _write_xlsx(paths["products"], PRODUCT_SHEET, PRODUCT_HEADERS,
                [[pid, name, cat, float(price)] for pid, name, cat, price in
                 zip(prod.ids, prod.names, prod.cat_names, prod.price)])
    order_info = _write_orders(paths["orders"], lines, cust, prod, dirt)
    fb_df = _feedback_frame(fb, cust, prod)
    _write_csv(fb_df, paths["feedback"], "gb18030")

    manifest = _manifest(seed, end, cal, plan, cust, prod, lines, dirt, fb, cust_df, order_info, fb_df, paths)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return paths


# =========================================================================== helpers
def _as_date(d) -> date:
    if isinstance(d, datetime):
        return d.date()
    if isinstance(d, date):
        return d
    return pd.Timestamp(d).date()


def _pick(rng: np.random.Generator, p, size: int) -> np.ndarray:
    """Vectorised categorical draw with probabilities p (normalised here)."""
    cum = np.cumsum(np.asarray(p, dtype=float))
    cum /= cum[-1]
    return np.minimum(np.searchsorted(cum, rng.random(size), side="right"), len(cum) - 1)


def _fmt_num(x: float) -> str:
    """89.9 -> '89.9', 120.0 -> '120', 12.345 -> '12.35'."""
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return s


class _Plan:
    """Row counts: the dirty rows planted are part of the requested totals."""

    def __init__(self, customers: int, orders: int):
        self.customers, self.orders = customers, orders
        self.dup_customers = max(2, round(0.003 * customers))
        self.n_persons = customers - self.dup_customers
        self.dup_lines = max(3, round(50 * orders / 100_000))
        self.negative = max(2, round(10 * orders / 100_000))
        self.future = max(2, round(5 * orders / 100_000))
        self.ancient = max(2, round(5 * customers / 5000))
        self.plus86 = max(3, round(0.002 * customers))
        self.upper_email = max(3, round(0.004 * customers))
        self.gender_mf = max(3, round(0.008 * customers))
        self.clean_lines = orders - self.dup_lines


# =========================================================================== calendar
class _Calendar:
    """Day index 0..D-1 over the three years; day weights (seasonality) and flags."""

    def __init__(self, end: date):
        self.end = end
        self.start = _add_years(end, -HISTORY_YEARS) + timedelta(days=1)
        self.days = np.arange(np.datetime64(self.start), np.datetime64(end) + 1)
        D = self.D = len(self.days)
        dti = pd.DatetimeIndex(self.days)
        month, dom, dow = dti.month.to_numpy(), dti.day.to_numpy(), dti.day_of_week.to_numpy()
        self.yyyymmdd = (dti.year.to_numpy() * 10000 + month * 100 + dom).astype(np.int64)
        self.epoch_day = self.days.astype("datetime64[D]").astype(np.int64)
        w = np.array([0.95, 0.95, 0.97, 1.0, 1.03, 1.1, 1.12])[dow]
        promo = np.zeros(D, bool)
        gift = np.zeros(D, bool)
        peak = np.zeros(D, bool)
        self.spring_festivals: list[date] = []
        self.double11: list[date] = []

        def idx(d0: date, d1: date) -> slice:
            a = max((d0 - self.start).days, 0)
            b = min((d1 - self.start).days, D - 1)
            return slice(a, b + 1) if b >= a else slice(0, 0)

        from lunardate import LunarDate
        for y in range(self.start.year - 1, end.year + 2):
            sf = _lunar(LunarDate, y, 1, 1)
            if self.start <= sf <= end:
                self.spring_festivals.append(sf)
            s = idx(sf - timedelta(21), sf - timedelta(15)); w[s] *= 1.3; gift[s] = True
            s = idx(sf - timedelta(14), sf - timedelta(1)); w[s] *= 1.9; gift[s] = promo[s] = peak[s] = True
            s = idx(sf, sf + timedelta(6)); w[s] *= 0.35
            s = idx(sf + timedelta(7), sf + timedelta(14)); w[s] *= 0.75
            mid = _lunar(LunarDate, y, 8, 15)
            s = idx(mid - timedelta(10), mid - timedelta(1)); w[s] *= 1.35; gift[s] = True
            s = idx(date(y, 3, 6), date(y, 3, 7)); w[s] *= 1.2
            s = idx(date(y, 3, 8), date(y, 3, 8)); w[s] *= 1.6; promo[s] = True
            s = idx(date(y, 6, 1), date(y, 6, 15)); w[s] *= 1.5; promo[s] = True
            s = idx(date(y, 6, 16), date(y, 6, 17)); w[s] *= 2.0; promo[s] = True
            s = idx(date(y, 6, 18), date(y, 6, 18)); w[s] *= 4.5; promo[s] = True
            s = idx(date(y, 6, 1), date(y, 6, 25)); peak[s] = True
            s = idx(date(y, 10, 20), date(y, 10, 31)); w[s] *= 1.25; promo[s] = True
            s = idx(date(y, 11, 1), date(y, 11, 10)); w[s] *= 1.8; promo[s] = True
            s = idx(date(y, 11, 11), date(y, 11, 11)); w[s] *= 9.0; promo[s] = True
            if self.start <= date(y, 11, 11) <= end:
                self.double11.append(date(y, 11, 11))
            s = idx(date(y, 11, 12), date(y, 11, 14)); w[s] *= 0.85
            s = idx(date(y, 11, 1), date(y, 11, 25)); peak[s] = True
            s = idx(date(y, 12, 10), date(y, 12, 11)); w[s] *= 1.3
            s = idx(date(y, 12, 12), date(y, 12, 12)); w[s] *= 2.8; promo[s] = True
            s = idx(date(y, 12, 10), date(y, 12, 18)); peak[s] = True
        self.weight = w
        self.cw = np.concatenate([[0.0], np.cumsum(w)])
        self.flags = {
            "promo": promo, "gift": gift, "peak": peak,
            "summer": (month >= 6) & (month <= 8),
            "school": ((month == 8) & (dom >= 20)) | ((month == 9) & (dom <= 10)),
            "winter": (month == 12) | (month <= 2),
        }
        self.end_ts = int((self.epoch_day[-1] + 1) * 86400 - 1)

    def sample(self, lo: np.ndarray, hi: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Day in [lo, hi] (inclusive indices) at seasonal-weighted quantile t ∈ [0, 1)."""
        a, b = self.cw[lo], self.cw[hi + 1]
        day = np.searchsorted(self.cw, a + t * (b - a), side="right") - 1
        return np.clip(day, lo, hi)

    def day_of(self, d: date) -> int:
        return (d - self.start).days


def _lunar(LunarDate, y: int, m: int, d: int) -> date:
    ld = LunarDate(y, m, d)
    return ld.to_solar_date() if hasattr(ld, "to_solar_date") else ld.toSolarDate()


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


# =========================================================================== products
_VARIANTS = [("礼盒装", 1.5), ("家庭装", 1.8), ("组合装", 2.0), ("旗舰款", 1.4), ("经典款", 0.95),
             ("升级款", 1.2), ("便携装", 0.6), ("量贩装", 2.5)]


class _Products:
    pass


def _nice_price(p: float) -> float:
    if p >= 100:
        return float(int(round(p / 10.0)) * 10 - 1)
    if p >= 10:
        return round(max(round(p) - 0.1, 1.9), 1)
    return round(p, 1)


def _make_products(rng: np.random.Generator, n: int) -> _Products:
    cats = list(T.CATEGORIES)
    shares = np.array([T.CATEGORIES[c][0] for c in cats])
    # how many products per category: proportional split of n, at least one each
    per = np.maximum(1, np.floor(n * np.full(len(cats), 1 / len(cats))).astype(int))
    i = 0
    while per.sum() < n:
        per[np.argsort(-shares, kind="stable")[i % len(cats)]] += 1
        i += 1
    while per.sum() > n:
        j = int(np.argmax(per))
        per[j] -= 1
    names, prices, glosses, cat_idx = [], [], [], []
    for c, cat in enumerate(cats):
        base = T.PRODUCTS[cat]
        items = list(base[: per[c]])
        k = 0
        while len(items) < per[c]:
            suffix, mult = _VARIANTS[k // len(base)]
            nm, pr, en = base[k % len(base)]
            items.append((f"{nm}（{suffix}）", pr * mult, en))
            k += 1
        for nm, pr, en in items:
            names.append(nm)
            prices.append(_nice_price(pr * math.exp(rng.normal(0, 0.08))))
            glosses.append(en)
            cat_idx.append(c)
    P = _Products()
    P.n = len(names)
    P.cats = cats
    P.names = names
    P.glosses = glosses
    P.cat = np.array(cat_idx)
    P.cat_names = [cats[c] for c in cat_idx]
    P.price = np.array(prices)
    P.ids = [f"P{10001 + i}" for i in range(P.n)]
    P.qty_lambda = np.array([T.CATEGORIES[cats[c]][1] for c in cat_idx])
    P.cat_share = shares / shares.sum()
    # popularity within category: log-normal, cheaper items sell more, bundle anchors popular
    pop = rng.lognormal(0.0, 0.8, P.n)
    med = np.array([np.median(P.price[P.cat == P.cat[i]]) for i in range(P.n)])
    pop *= (P.price / med) ** -0.35
    by_name = {nm: i for i, nm in enumerate(names)}
    P.partner = np.full((P.n, 2), -1)
    P.partner_w = np.zeros(P.n)
    P.bundle_p = np.zeros(P.n)
    P.bundles = []
    for anchors, partners, p in T.BUNDLES:
        a_idx = [by_name[a] for a in anchors if a in by_name]
        p_idx = [(by_name[q], w) for q, w in partners if q in by_name]
        if not a_idx or not p_idx:
            continue
        P.bundles.append(([names[i] for i in a_idx], [names[i] for i, _ in p_idx], p))
        tot = sum(w for _, w in p_idx)
        for i in a_idx:
            P.partner[i, 0] = p_idx[0][0]
            P.partner[i, 1] = p_idx[1][0] if len(p_idx) > 1 else p_idx[0][0]
            P.partner_w[i] = p_idx[0][1] / tot
            P.bundle_p[i] = p
            same = pop[P.cat == P.cat[i]]
            pop[i] = max(pop[i], float(np.quantile(same, 0.8)))
    P.pop = pop
    # searchsorted keys: category c's products occupy (c, c+1]
    keys = np.empty(P.n)
    for c in range(len(cats)):
        m = np.flatnonzero(P.cat == c)
        cum = np.cumsum(pop[m]) / pop[m].sum()
        cum[-1] = 1.0
        keys[m] = c + cum
    P.keys = keys
    P.global_cum = np.cumsum(pop) / pop.sum()
    return P


def _product_in_category(rng, P: _Products, cat: np.ndarray) -> np.ndarray:
    u = 1.0 - rng.random(len(cat))  # (0, 1]
    return np.minimum(np.searchsorted(P.keys, cat + u, side="left"), P.n - 1)


# =========================================================================== customers
class _Customers:
    pass


def _make_customers(rng: np.random.Generator, n: int, cal: _Calendar) -> _Customers:
    C = _Customers()
    C.n = n
    C.arch = _pick(rng, ARCH_SHARE, n)
    C.is_en = rng.random(n) < 0.08
    C.gender = np.where(rng.random(n) < 0.56, "F", "M")
    # age 18-75 at end_date, birthdays uniform over the year
    age = 18.0 + rng.beta(1.8, 3.5, n) * 57.5
    C.birth = (np.datetime64(cal.end) - np.round(age * 365.2425).astype(np.int64)).astype("datetime64[D]")
    birth_year = C.birth.astype("datetime64[Y]").astype(int) + 1970
    era = np.where(birth_year < 1975, 0, np.where(birth_year < 1995, 1, 2))
    C.name, C.py_given, C.py_sur = _names(rng, C.gender, era, C.is_en)
    C.phone = _phones(rng, n)
    C.email = _emails(rng, C, birth_year)
    city_w = np.array([c[2] for c in T.CITIES])
    en_w = city_w * np.array([T.EN_CITY_BOOST.get(c[0], 0.3) for c in T.CITIES])
    C.city = np.where(C.is_en, _pick(rng, en_w, n), _pick(rng, city_w, n))

    # signup, active window [a, b] (day indices), lapsing stop day
    D = cal.D
    stop = np.full(n, D - 1)
    lap = C.arch == LAPSING
    stop[lap] = D - 1 - rng.integers(90, 330, lap.sum())
    ub = np.full(n, D - 8)
    ub[C.arch == STEADY] = D - 60
    ub[C.arch == VIP] = D - 365
    ub[lap] = stop[lap] - 180
    early = rng.random(n) < ARCH_EARLY[C.arch]
    g = 1.2   # growth: linear density 1 + g·t over the window
    u = rng.random(n)
    t = (-1 + np.sqrt(1 + 2 * g * u * (1 + g / 2))) / g
    signup_in = cal.sample(np.zeros(n, int), np.maximum(ub, 0), t)
    signup_early = -rng.integers(1, 4 * 365, n)
    signup = np.where(early, signup_early, signup_in)
    # nobody registers before 16
    birth_day = (C.birth - np.datetime64(cal.start)).astype(np.int64)
    lb = birth_day + 16 * 365 + rng.integers(0, 200, n)
    signup = np.minimum(np.maximum(signup, lb), D - 8)
    C.signup = signup
    C.a = np.maximum(signup, 0)
    stop = np.where(lap, np.clip(np.maximum(stop, C.a + 150), 0, D - 60), stop)
    C.b = np.maximum(stop, C.a)
    # acquisition channel: mix drifts towards 抖音 over time
    tt = np.clip(signup / D, 0, 1)
    p0, p1 = np.array(T.CHANNEL_MIX_START), np.array(T.CHANNEL_MIX_END)
    C.channel = np.where(rng.random(n) < tt, _pick(rng, p1, n), _pick(rng, p0, n))
    # favourite categories (top 3) from demographics
    cats = list(T.CATEGORIES)
    base = np.array([T.CATEGORIES[c][0] for c in cats])
    W = np.tile(base, (n, 1))
    ci = {c: i for i, c in enumerate(cats)}
    female = C.gender == "F"
    for c, f, m in (("个护美妆", 2.2, 0.5), ("母婴", 1.5, 0.8), ("服饰", 1.3, 0.9), ("数码配件", 0.6, 1.8),
                    ("酒水饮料", 0.7, 1.6)):
        W[:, ci[c]] *= np.where(female, f, m)
    W[:, ci["母婴"]] *= np.where((age >= 24) & (age <= 40), 2.5, 0.25)
    old = age >= 50
    W[:, ci["保健品"]] *= np.where(old, 2.5, 1.0)
    W[:, ci["茶叶"]] *= np.where(old, 1.8, 1.0)
    W[:, ci["数码配件"]] *= np.where(old, 0.5, 1.0)
    young = age < 30
    W[:, ci["零食"]] *= np.where(young, 1.5, 1.0)
    W[:, ci["咖啡"]] *= np.where(young, 1.5, 1.0) * np.where(C.is_en, 2.0, 1.0)
    gumbel = -np.log(-np.log(rng.random((n, len(cats)))))
    C.fav = np.argsort(-(np.log(W) + gumbel), axis=1)[:, :3]
    C.age = age
    C.start64 = np.datetime64(cal.start, "D")
    return C


def _names(rng, gender, era, is_en):
    n = len(gender)
    sur = T.SURNAMES
    s_idx = _pick(rng, [s[2] for s in sur], n)
    m1 = _pick(rng, [g[2] for g in T.GIVEN_MALE_1], n)
    f1 = _pick(rng, [g[2] for g in T.GIVEN_FEMALE_1], n)
    single = rng.random(n) < np.where(era == 2, 0.35, 0.55)
    two_u = rng.random(n)
    en_first_m = rng.integers(0, len(T.EN_FIRST_MALE), n)
    en_first_f = rng.integers(0, len(T.EN_FIRST_FEMALE), n)
    en_last = rng.integers(0, len(T.EN_LAST), n)
    names, py_g, py_s = [], [], []
    for i in range(n):
        if is_en[i]:
            first = T.EN_FIRST_FEMALE[en_first_f[i]] if gender[i] == "F" else T.EN_FIRST_MALE[en_first_m[i]]
            last = T.EN_LAST[en_last[i]]
            names.append(f"{first} {last}")
            py_g.append(first.lower())
            py_s.append(re.sub(r"[^a-z]", "", last.lower()))
            continue
        s, s_py, _ = sur[s_idx[i]]
        if single[i]:
            g, g_py, _ = (T.GIVEN_FEMALE_1[f1[i]] if gender[i] == "F" else T.GIVEN_MALE_1[m1[i]])
        else:
            pool = T.GIVEN_2[(gender[i], int(era[i]))]
            g, g_py = pool[int(two_u[i] * len(pool))]
        names.append(s + g)
        py_g.append(g_py)
        py_s.append(s_py)
    # a few guaranteed namesakes so that "王伟" needs a clarification question
    k = max(2, n // 1500)
    cn = np.flatnonzero(~is_en)
    for (nm, s_py, g_py, sex) in (("王伟", "wang", "wei", "M"), ("李娜", "li", "na", "F"), ("张敏", "zhang", "min", "F")):
        cand = cn[gender[cn] == sex]
        for i in rng.choice(cand, size=min(k, len(cand)), replace=False):
            names[i], py_s[i], py_g[i] = nm, s_py, g_py
    return np.array(names, dtype=object), py_g, py_s


def _phones(rng, n: int) -> np.ndarray:
    pre = np.array(T.PHONE_PREFIXES, dtype=np.int64)
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        m = int(n * 1.2) + 10
        cand = pre[rng.integers(0, len(pre), m)] * 100_000_000 + rng.integers(0, 100_000_000, m)
        allc = np.concatenate([out, cand])
        _, first = np.unique(allc, return_index=True)
        out = allc[np.sort(first)]
    return out[:n]


def _emails(rng, C: _Customers, birth_year: np.ndarray) -> list[str]:
    n = C.n
    has = rng.random(n) < np.where(C.is_en, 0.85, 0.6)
    dom_cn = _pick(rng, [d[1] for d in T.EMAIL_DOMAINS_CN], n)
    dom_en = _pick(rng, [d[1] for d in T.EMAIL_DOMAINS_EN], n)
    style = rng.integers(0, 5, n)
    num = rng.integers(1, 1000, n)
    qq = rng.integers(10_000, 3_999_999_999, n)
    seen: set[str] = set()
    out = []
    for i in range(n):
        if not has[i]:
            out.append("")
            continue
        g, s = C.py_given[i], C.py_sur[i]
        yy = int(birth_year[i]) % 100
        if C.is_en[i]:
            dom = T.EMAIL_DOMAINS_EN[dom_en[i]][0]
            local = [f"{g}.{s}", f"{g}{s}{num[i]}", f"{g[0]}{s}", f"{g}_{s}{yy:02d}", f"{s}.{g}"][style[i]]
        else:
            dom = T.EMAIL_DOMAINS_CN[dom_cn[i]][0]
            if dom == "qq.com" and style[i] < 3:
                local = str(qq[i])
            else:
                local = [f"{s}{g}{num[i]}", f"{g}{s}", f"{s}.{g}", f"{s}{g}{int(birth_year[i])}",
                         f"{s}{''.join(p[0] for p in _syllables(g))}{num[i]}"][style[i]]
        email = f"{local}@{dom}"
        j = 0
        while email in seen:
            j += 1
            email = f"{local}{(num[i] * 7 + j * 13) % 10000}@{dom}"
        seen.add(email)
        out.append(email)
    return out


_PY_SYL = re.compile(r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uan|uai|"
                     r"ai|ei|ao|ou|an|en|in|un|ia|ie|iu|ua|uo|ui|ve|er|a|o|e|i|u|v)(?:n(?![aeiouv]))?")


def _syllables(py: str) -> list[str]:
    return _PY_SYL.findall(py) or [py]


# =========================================================================== orders
class _Lines:
    pass


def _make_orders(rng: np.random.Generator, C: _Customers, P: _Products, cal: _Calendar, target: int) -> _Lines:
    n = C.n
    years = (C.b - C.a + 1) / 365.25
    het = rng.gamma(2.0, 0.5, n)                       # individual rate heterogeneity
    expected = ARCH_RATE[C.arch] * het * years
    lines_p = np.where((C.arch == VIP)[:, None], LINES_P_VIP, LINES_P)
    mean_l = lines_p @ np.arange(1, 7)
    oneoff = C.arch == ONE_OFF
    fixed_lines = (mean_l * oneoff).sum()
    denom = (expected * mean_l * ~oneoff).sum()
    scale = max(target - fixed_lines, 0) / denom if denom > 0 else 0.0
    count = rng.poisson(expected * scale)
    count = np.maximum(count, ARCH_MIN_ORDERS[C.arch])
    count[oneoff] = 1
    never = (C.arch == OCCASIONAL) & (rng.random(n) < 0.05)
    count[never] = 0
    C.never_ordered = never

    # ---- orders: owner, day, time
    owner = np.repeat(np.arange(n), count)
    N = len(owner)
    t = rng.random(N)
    lap = C.arch[owner] == LAPSING
    # lapsing: purchase rate declines linearly to 30 % of its initial level, then stops
    c = 0.7
    t[lap] = (1 - np.sqrt(1 - 2 * c * t[lap] * (1 - c / 2))) / c
    day = cal.sample(C.a[owner], C.b[owner], t)
    # the first order usually follows the signup closely
    first = np.concatenate([[0], np.cumsum(count)[:-1]])[count > 0]
    own_first = owner[first]
    near = (C.signup[own_first] >= 0) & (rng.random(len(first)) < 0.65)
    gap = np.minimum(rng.geometric(0.12, len(first)) - 1, 60)
    day[first[near]] = np.minimum(C.signup[own_first[near]] + gap[near], C.b[own_first[near]])
    hour_w = np.array([1.2, 0.6, 0.3, 0.2, 0.15, 0.2, 0.4, 0.9, 1.5, 2.2, 2.8, 3.0, 2.6, 2.4, 2.6, 2.7, 2.5, 2.4,
                       2.6, 3.2, 3.8, 4.2, 3.6, 2.2])
    hour = _pick(rng, hour_w, N)
    d11 = np.zeros(cal.D, bool)
    for d in cal.double11:
        d11[cal.day_of(d)] = True
    midnight = d11[day] & (rng.random(N) < 0.25)
    hour[midnight] = 0
    ts = cal.epoch_day[day] * 86400 + hour * 3600 + rng.integers(0, 3600, N)
    order = np.lexsort((np.arange(N), ts))
    owner, day, ts = owner[order], day[order], ts[order]
    # order ids: O + yyyymmdd + 5-digit sequence within the day
    first_of_day = np.searchsorted(day, day, side="left")
    seq = np.arange(N) - first_of_day + 1
    oid_num = cal.yyyymmdd[day] * 100_000 + seq
    # order channel: mostly the customer's own acquisition channel
    tt = day / cal.D
    glob = np.where(rng.random(N) < tt, _pick(rng, T.CHANNEL_MIX_END, N), _pick(rng, T.CHANNEL_MIX_START, N))
    ochan = np.where(rng.random(N) < 0.65, C.channel[owner], glob)

    # ---- lines per order
    vip = C.arch[owner] == VIP
    L = np.where(vip, _pick(rng, LINES_P_VIP, N), _pick(rng, LINES_P, N)) + 1
    primary = _sample_products(rng, C, P, cal, owner, day)
    bump = (L == 1) & (P.bundle_p[primary] > 0) & (rng.random(N) < P.bundle_p[primary])
    L[bump] = 2
    _adjust_total(rng, L, target)

    # ---- expand to lines
    l_order = np.repeat(np.arange(N), L)
    starts = np.concatenate([[0], np.cumsum(L)[:-1]])
    slot = np.arange(len(l_order)) - starts[l_order]
    l_owner, l_day = owner[l_order], day[l_order]
    prod = np.empty(len(l_order), dtype=np.int64)
    prod[starts] = primary
    rest = slot > 0
    prod[rest] = _sample_products(rng, C, P, cal, l_owner[rest], l_day[rest], primary_cat=P.cat[primary[l_order[rest]]])
    # bundles: an anchor is followed by its partner
    prev = np.concatenate([[0], prod[:-1]])
    m = rest & (P.bundle_p[prev] > 0)
    m &= rng.random(len(prod)) < P.bundle_p[prev]
    which = np.where(rng.random(len(prod)) < P.partner_w[prev], 0, 1)
    prod[m] = P.partner[prev[m], which[m]]
    _dedupe_products(rng, P, l_order, prod)

    # ---- quantity and amount
    q_mult = np.where(vip[l_order], 1.5, 1.0)
    qty = 1 + rng.poisson(P.qty_lambda[prod] * q_mult)
    qty = np.minimum(qty, 12)
    qty[(P.price[prod] > 300) & (rng.random(len(prod)) < 0.9)] = 1
    promo = cal.flags["promo"][l_day]
    factor = np.ones(len(prod))
    factor[promo] = np.round(rng.uniform(0.8, 0.95, promo.sum()), 2)
    coupon = ~promo & (rng.random(len(prod)) < 0.1)
    factor[coupon] = np.round(rng.uniform(0.9, 0.98, coupon.sum()), 2)
    amount = np.round(qty * P.price[prod] * factor, 2)

    Ls = _Lines()
    Ls.n_orders = N
    Ls.o_owner, Ls.o_day, Ls.o_ts, Ls.o_id_num, Ls.o_channel = owner, day, ts, oid_num, ochan
    Ls.o_cust = owner.copy()           # customer row (changes for duplicate customers)
    Ls.order, Ls.slot, Ls.prod, Ls.qty, Ls.amount = l_order, slot, prod, qty, amount
    Ls.count = np.bincount(owner, minlength=n)
    Ls.promo_orders = np.bincount(owner, weights=cal.flags["promo"][day], minlength=n)
    return Ls


def _sample_products(rng, C: _Customers, P: _Products, cal: _Calendar, owner, day, primary_cat=None):
    n = len(owner)
    k = _pick(rng, [0.55, 0.3, 0.15], n)
    cat = np.where(rng.random(n) < 0.62, C.fav[owner, k], _pick(rng, P.cat_share, n))
    if primary_cat is not None:
        same = rng.random(n) < 0.25
        cat[same] = primary_cat[same]
    for flag, (prob, dist) in T.SEASONAL_CATEGORIES.items():
        m = cal.flags[flag][day] & (rng.random(n) < prob)
        cats = [P.cats.index(c) for c in dist]
        cat[m] = np.array(cats)[_pick(rng, list(dist.values()), int(m.sum()))]
    return _product_in_category(rng, P, cat)


def _adjust_total(rng, L: np.ndarray, target: int) -> None:
    """Add or remove lines on random orders so that sum(L) == target (within 1..6 per order)."""
    for _ in range(50):
        diff = target - int(L.sum())
        if diff == 0:
            return
        if diff > 0:
            cand = np.flatnonzero(L < 6)
        else:
            cand = np.flatnonzero(L >= 3)
            if len(cand) == 0:
                cand = np.flatnonzero(L >= 2)
        if len(cand) == 0:
            return
        pick = rng.choice(cand, size=min(abs(diff), len(cand)), replace=False)
        L[pick] += 1 if diff > 0 else -1


def _dedupe_products(rng, P: _Products, l_order: np.ndarray, prod: np.ndarray) -> None:
    """No product twice in one order (it would be one line with a bigger quantity)."""
    for it in range(40):
        key = l_order * P.n + prod
        srt = np.argsort(key, kind="stable")
        ks = key[srt]
        dup = np.zeros(len(key), bool)
        dup[srt[1:][ks[1:] == ks[:-1]]] = True
        if not dup.any():
            return
        m = int(dup.sum())
        if it < 30:
            prod[dup] = np.minimum(np.searchsorted(P.global_cum, rng.random(m), side="right"), P.n - 1)
        else:
            prod[dup] = (prod[dup] + 1 + it) % P.n
    raise RuntimeError("could not make order lines unique")  # pragma: no cover


# =========================================================================== dirty rows
class _Dirt:
    pass


def _plant_dirt(rng: np.random.Generator, plan: _Plan, C: _Customers, Ls: _Lines, cal: _Calendar) -> _Dirt:
    X = _Dirt()
    n = C.n
    count = Ls.count
    # --- duplicate customers: same phone, new id, orders on both ids
    cand = np.flatnonzero((count >= 4))
    k = min(plan.dup_customers, len(cand))
    orig = np.sort(rng.choice(cand, size=k, replace=False))
    X.dup_orig = orig
    X.dup_rows = []
    order_pos = np.argsort(Ls.o_owner, kind="stable")       # orders grouped by owner, time order
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    for j, p in enumerate(orig):
        row = n + j
        mine = order_pos[starts[p]: starts[p] + count[p]]
        days = Ls.o_day[mine]
        split = np.median(days)
        move = (days > split) & (rng.random(len(mine)) < 0.7)
        move[-1] = True
        move[0] = False
        Ls.o_cust[mine[move]] = row
        first_moved = int(days[move].min())
        signup = max(first_moved - int(rng.integers(0, 15)), int(C.signup[p]))
        variant = rng.random()
        name = C.name[p]
        if variant < 0.7:
            if C.is_en[p]:
                opts = [name.replace(" ", "  "), " " + name, name + " "]
            else:
                opts = [name[0] + " " + name[1:], " " + name, name + " ", name[0] + "\u3000" + name[1:]]
            name = opts[int(rng.integers(0, len(opts)))]
        X.dup_rows.append(dict(
            row=row, orig=int(p), name=name, signup=signup,
            phone_fmt="plus86" if rng.random() < 0.3 else "plain",
            email=C.email[p] if (C.email[p] and rng.random() < 0.5) else "",
            birthday=bool(rng.random() < 0.6),
            channel=int(_pick(rng, T.CHANNEL_MIX_END, 1)[0]),
        ))
    # --- customer field dirt on disjoint sets of other customers
    others = np.setdiff1d(np.arange(n), orig)
    perm = rng.permutation(others)
    pos = 0

    def take(k: int, ok) -> np.ndarray:
        nonlocal pos
        chosen = []
        while len(chosen) < k and pos < len(perm):
            i = perm[pos]
            pos += 1
            if ok(i):
                chosen.append(i)
        return np.array(sorted(chosen), dtype=int)

    X.blank_birthday = np.zeros(n, bool)
    X.blank_gender = np.zeros(n, bool)
    X.ancient = take(plan.ancient, lambda i: True)
    X.plus86 = take(plan.plus86, lambda i: True)
    X.upper_email = take(plan.upper_email, lambda i: bool(C.email[i]))
    X.gender_mf = take(plan.gender_mf, lambda i: True)
    rest = perm[pos:]
    X.blank_birthday[rest[rng.random(len(rest)) < 0.06]] = True
    X.blank_gender[rest[rng.random(len(rest)) < 0.01]] = True

    # --- order-line dirt: lines of customers with >= 3 orders, disjoint sets
    n_lines = len(Ls.prod)
    l_owner = Ls.o_owner[Ls.order]
    dup_set = set(orig.tolist())
    eligible = (count[l_owner] >= 3) & ~np.isin(l_owner, list(dup_set))
    single = np.bincount(Ls.order, minlength=Ls.n_orders) == 1
    elig_idx = np.flatnonzero(eligible)
    rng.shuffle(elig_idx)
    fut_pool = elig_idx[single[Ls.order[elig_idx]]]
    X.future = np.sort(fut_pool[: plan.future])
    # one future line per order at most, and other sets avoid those orders
    used_orders = set(Ls.order[X.future].tolist())
    rest_idx = [i for i in elig_idx[: plan.negative + plan.dup_lines + 4 * len(used_orders) + 100]
                if Ls.order[i] not in used_orders]
    rest_idx = np.array(rest_idx, dtype=int)
    X.negative = np.sort(rest_idx[: plan.negative])
    X.dup_lines = np.sort(rest_idx[plan.negative: plan.negative + plan.dup_lines])
    return X


# =========================================================================== levels and tags
def _levels_and_tags(rng, C: _Customers, Ls: _Lines, cal: _Calendar) -> None:
    n = C.n
    spend = np.bincount(Ls.o_owner[Ls.order], weights=Ls.amount, minlength=n)
    score = np.log1p(spend) + rng.normal(0, 0.25, n)
    score[spend <= 0] = -np.inf
    rank = np.empty(n)
    order = np.argsort(-score, kind="stable")
    rank[order] = np.arange(n)
    buyers = max(int((spend > 0).sum()), 1)
    frac = rank / buyers
    level = np.where(frac < 0.03, 3, np.where(frac < 0.13, 2, np.where(frac < 0.38, 1, 0)))
    level[spend <= 0] = 0
    C.level = level
    C.spend = spend
    tag_fav = rng.random(n) < 0.55
    tag_en = rng.random(n) < 0.8
    tag_biz = rng.random(n) < 0.01
    promo_share = np.divide(Ls.promo_orders, np.maximum(Ls.count, 1))
    tags = []
    for i in range(n):
        t = []
        if tag_fav[i]:
            t.append(T.CATEGORY_TAGS[list(T.CATEGORIES)[C.fav[i, 0]]])
        if Ls.count[i] >= 3 and promo_share[i] > 0.5:
            t.append("大促敏感")
        if level[i] == 3:
            t.append("高价值")
        if C.signup[i] >= cal.D - 60:
            t.append("新客")
        if C.is_en[i] and tag_en[i]:
            t.append("英语沟通")
        if tag_biz[i]:
            t.append("企业采购")
        tags.append(";".join(t))
    C.tags = tags


# =========================================================================== feedback
class _Feedback:
    pass


def _make_feedback(rng: np.random.Generator, n_fb: int, C: _Customers, Ls: _Lines, P: _Products,
                   cal: _Calendar) -> _Feedback:
    n = C.n
    F = _Feedback()
    kind = _pick(rng, KIND_P, n_fb)
    count = Ls.count.astype(float)
    has = count > 0
    w_complaint = has * count ** 0.7 * np.array([0.8, 1.0, 1.2, 2.0, 3.0])[C.arch]
    w_praise = has * count ** 0.7 * np.array([1.5, 1.2, 1.0, 0.6, 0.4])[C.arch]
    w_other = (count + 0.5) ** 0.5
    person = np.empty(n_fb, dtype=np.int64)
    for k, w in ((0, w_complaint), (1, w_other), (2, w_other), (3, w_praise)):
        m = kind == k
        person[m] = _pick(rng, w, int(m.sum()))
    # lines of each person, in time order
    l_owner = Ls.o_owner[Ls.order]
    by_person = np.lexsort((Ls.o_ts[Ls.order], l_owner))
    n_lines_p = np.bincount(l_owner, minlength=n)
    start_p = np.concatenate([[0], np.cumsum(n_lines_p)[:-1]])
    u = rng.random(n_fb)
    skew = (kind == 0) & (C.arch[person] == LAPSING)
    u[skew] = u[skew] ** 0.35              # lapsing customers complain about their last orders
    with_line = n_lines_p[person] > 0
    want_product = rng.random(n_fb) < np.array([1.0, 0.65, 0.4, 0.85])[kind]
    line = np.full(n_fb, -1)
    li = by_person[np.minimum(start_p[person] + (u * n_lines_p[person]).astype(int),
                              np.maximum(start_p[person] + n_lines_p[person] - 1, 0))]
    line[with_line] = li[with_line]
    prod = np.where(with_line & want_product, Ls.prod[np.maximum(line, 0)], -1)

    # complaint theme: category and season dependent
    themes = T.THEMES
    theme = np.full(n_fb, -1)
    ci = np.flatnonzero(kind == 0)
    tw = np.tile(np.array([T.THEME_BASE[t] for t in themes]), (len(ci), 1))
    for c_name, boost in T.THEME_CATEGORY_BOOST.items():
        if c_name not in P.cats:
            continue
        cidx = P.cats.index(c_name)
        rows = (prod[ci] >= 0) & (P.cat[np.maximum(prod[ci], 0)] == cidx)
        for th, mult in boost.items():
            tw[rows, themes.index(th)] *= mult
    o_day_line = Ls.o_day[Ls.order[np.maximum(line, 0)]]
    peak_rows = (line[ci] >= 0) & cal.flags["peak"][o_day_line[ci]]
    tw[peak_rows, themes.index("late_delivery")] *= T.PEAK_LATE_BOOST
    cum = np.cumsum(tw, axis=1)
    cum /= cum[:, -1:]
    theme[ci] = (rng.random(len(ci))[:, None] > cum).sum(axis=1)
    no_prod_service = (theme == themes.index("rude_service")) & (rng.random(n_fb) < 0.5)
    prod[no_prod_service] = -1

    # delay (days) after the order; consistent with the "{d} days" in the text
    lo_hi = {"late_delivery": (3, 15), "damaged": (1, 6), "wrong_item": (1, 6), "refund_delay": (7, 25),
             "rude_service": (1, 10), "quality": (1, 8), "billing": (3, 20)}
    delay = np.zeros(n_fb, dtype=np.int64)
    for j, th in enumerate(themes):
        m = theme == j
        lo, hi = lo_hi[th]
        delay[m] = rng.integers(lo, hi + 1, m.sum())
    late_peak = (theme == themes.index("late_delivery")) & (line >= 0) & cal.flags["peak"][o_day_line]
    delay[late_peak] += rng.integers(1, 5, late_peak.sum())
    for k, (lo, hi) in ((1, (0, 2)), (2, (3, 30)), (3, (2, 12))):
        m = kind == k
        delay[m] = rng.integers(lo, hi + 1, m.sum())
    hour = rng.integers(8, 24, n_fb)
    secs = rng.integers(0, 3600, n_fb)
    line_ts = Ls.o_ts[Ls.order[np.maximum(line, 0)]]
    order_midnight = (line_ts // 86400) * 86400
    created = order_midnight + delay * 86400 + hour * 3600 + secs
    created = np.maximum(created, line_ts + 600)
    # no linked order: any day of the customer's active window
    free_day = cal.sample(C.a[person], np.full(n_fb, cal.D - 1), rng.random(n_fb))
    free_ts = cal.epoch_day[free_day] * 86400 + hour * 3600 + secs
    created = np.where(line >= 0, created, free_ts)
    late = created > cal.end_ts
    created[late] = cal.end_ts - rng.integers(600, 3 * 86400, late.sum())
    if (line >= 0).any():
        created = np.where(line >= 0, np.maximum(created, line_ts + 600), created)
        created = np.minimum(created, cal.end_ts)

    # language: English customers write English; ~3 % of Chinese customers mix
    lang = np.where(C.is_en[person], "en", np.where(rng.random(n_fb) < 0.03, "mixed", "zh"))
    # status and resolution time
    age_days = (cal.end_ts - created) / 86400
    base_open = np.array([0.24, 0.12, 0.45, 0.06])[kind]
    recent = np.array([0.75, 0.8, 0.5, 0.5])[kind] * np.exp(-age_days / np.array([20, 3, 30, 5])[kind])
    is_open = rng.random(n_fb) < np.minimum(base_open + recent, 0.97)
    res_days = np.where(kind == 0, np.minimum(rng.exponential(2.5, n_fb), 10.0),
                        np.where(kind == 2, rng.uniform(1, 10, n_fb), rng.uniform(0, 1.5, n_fb)))
    resolved_at = created + (res_days * 86400).astype(np.int64) + rng.integers(300, 7200, n_fb)
    resolved_at = np.minimum(resolved_at, created + 10 * 86400)
    is_open |= resolved_at > cal.end_ts
    # rating
    rating = np.zeros(n_fb, dtype=np.int64)
    rating[kind == 0] = np.where(rng.random((kind == 0).sum()) < 0.7, 1, 2)
    rating[kind == 3] = np.where(rng.random((kind == 3).sum()) < 0.75, 5, 4)
    for k, p in ((1, [0.3, 0.4, 0.3]), (2, [0.45, 0.4, 0.15])):
        m = kind == k
        rating[m] = 3 + _pick(rng, p, int(m.sum()))
    rating[rng.random(n_fb) < 0.3] = 0
    # channel
    ch_names = [c[0] for c in T.FEEDBACK_CHANNELS]
    ch = np.where(lang == "en", _pick(rng, [c[2] for c in T.FEEDBACK_CHANNELS], n_fb),
                  _pick(rng, [c[1] for c in T.FEEDBACK_CHANNELS], n_fb))

    # texts
    texts, resolutions = _texts(rng, kind, theme, lang, prod, line, delay, Ls, P, is_open)

    # customer id: the id that placed the linked order (duplicate customers have two ids)
    cust_row = np.where(line >= 0, Ls.o_cust[Ls.order[np.maximum(line, 0)]], person)
    order = np.lexsort((np.arange(n_fb), created))
    F.n = n_fb
    F.kind, F.theme, F.lang, F.person, F.cust_row = kind[order], theme[order], lang[order], person[order], cust_row[order]
    F.prod, F.created, F.rating, F.channel = prod[order], created[order], rating[order], np.array(ch_names)[ch[order]]
    F.is_open, F.resolved_at = is_open[order], resolved_at[order]
    F.text = [texts[i] for i in order]
    F.resolution = [resolutions[i] for i in order]
    F.line = line[order]
    return F


def _texts(rng, kind, theme, lang, prod, line, delay, Ls: _Lines, P: _Products, is_open):
    """Customer-voice texts and, for resolved items, the resolution, one per feedback item."""
    n = len(kind)
    themes = T.THEMES
    cache: dict = {}

    def usable(items: list, has_p: bool, has_o: bool) -> list:
        """Templates (first element of each item) whose slots can be filled."""
        def ok(s: str, p: bool, o: bool) -> bool:
            return (p or ("{p}" not in s and "{x}" not in s)) and (o or "{o}" not in s)
        good = [it for it in items if ok(it[0], has_p, has_o)]
        return good or [it for it in items if ok(it[0], False, False)]

    def complaint_pool(th: str, lg: str, cat: str, has_p: bool, has_o: bool) -> list:
        key = ("c", th, lg, cat if th == "damaged" else "", has_p, has_o)
        if key not in cache:
            if lg == "mixed":
                items = [(t, "mixed") for t in T.COMPLAINT_MIXED[th]]
            else:
                col = 1 if lg == "en" else 0
                items = list(T.COMPLAINT_EN[th] if lg == "en" else T.COMPLAINT_ZH[th])
                if th == "damaged":
                    for g in T.CATEGORY_DAMAGE.get(cat, ()):
                        items += T.DAMAGE_GROUPS[g][col]
                items = [(t, "plain") for t in items]
            cache[key] = usable(items, has_p, has_o)
        return cache[key]

    def topic_pool(k: str, lg: str, has_p: bool, has_o: bool) -> list:
        key = ("o", k, lg, has_p, has_o)
        if key not in cache:
            items = []
            for ti, (_, zh, en, _, _) in enumerate(T.TOPICS[k]):
                items += [(t, ti) for t in (en if lg == "en" else zh)]
            cache[key] = usable(items, has_p, has_o)
        return cache[key]

    r = rng.random((n, 9)).tolist()
    small_n = rng.integers(2, 6, n).tolist()
    hours = rng.integers(1, 4, n).tolist()
    partial = rng.uniform(0.2, 0.5, n).tolist()
    fee = rng.integers(6, 31, n).tolist()
    # plain Python lists: per-item numpy scalar access is slow
    oid_num = Ls.o_id_num[Ls.order[np.maximum(line, 0)]].tolist()
    line_amount = np.abs(Ls.amount[np.maximum(line, 0)]).tolist()
    kind_l, theme_l, lang_l = kind.tolist(), theme.tolist(), lang.tolist()
    prod_l, line_l, delay_l, open_l = prod.tolist(), line.tolist(), delay.tolist(), is_open.tolist()
    texts, resolutions = [], []
    for i in range(n):
        k = KINDS[kind_l[i]]
        lg = lang_l[i]
        has_p = prod_l[i] >= 0
        has_o = line_l[i] >= 0
        p = prod_l[i] if has_p else 0
        amount = line_amount[i] if has_o else float(fee[i])
        ri = r[i]
        if k == "complaint":
            th = themes[theme_l[i]]
            cat = P.cat_names[p] if has_p else ""
            use_mixed = lg == "mixed" and ri[0] < 0.5
            items = complaint_pool(th, "mixed" if use_mixed else ("en" if lg == "en" else "zh"), cat, has_p, has_o)
            tpl, origin = items[int(ri[1] * len(items))]
            if th == "billing" and ri[2] >= 0.6:
                amount = float(fee[i])
        else:
            items = topic_pool(k, "en" if lg == "en" else "zh", has_p, has_o)
            tpl, origin = items[int(ri[1] * len(items))]
            use_mixed = False
        slots = {"o": "", "p": "", "x": "", "d": str(delay_l[i]), "h": str(hours[i]),
                 "n": str(small_n[i]), "a": _fmt_num(amount)}
        if has_o:
            slots["o"] = f"O{oid_num[i]}"
        if has_p:
            slots["p"] = P.glosses[p] if lg == "en" else P.names[p]
            defects = T.DEFECTS.get(P.cat_names[p], [("有质量问题", "is faulty")])
            dz, de = defects[int(ri[3] * len(defects))]
            # "充电宝 20000mAh，接触不良": a comma after a name that ends in a specification
            spec = " " in P.names[p] or not ("\u4e00" <= P.names[p][-1] <= "\u9fff")
            slots["x"] = de if lg == "en" else ("，" + dz if spec else dz)
        body = tpl.format(**slots)
        grp = "complaint" if k == "complaint" else "other"
        if lg == "en":
            pre = T.PREFIX_EN[grp][int(ri[4] * len(T.PREFIX_EN[grp]))]
            suf = T.SUFFIX_EN[k][int(ri[5] * len(T.SUFFIX_EN[k]))]
            if pre and body[:1].isupper() and not body.startswith(("I ", "I'", "Order ", "O2")):
                body = body[0].lower() + body[1:]
            text = pre + body + suf
        elif use_mixed:
            text = body
        else:
            pre = T.PREFIX_ZH[grp][int(ri[4] * len(T.PREFIX_ZH[grp]))]
            if lg == "mixed":      # Chinese text with an English tail
                tail = T.MIXED_SUFFIX[grp][int(ri[6] * len(T.MIXED_SUFFIX[grp]))]
                body = body.rstrip("。！!")
                text = pre + body + (" " + tail.lstrip("，").strip() if body[-1:] in ("？", "?") else tail)
            else:
                suf = T.SUFFIX_ZH[k][int(ri[5] * len(T.SUFFIX_ZH[k]))]
                if suf and body[-1:] not in ("。", "！", "？", "!", "?"):
                    body += "。" if suf != "👍" else ""
                text = pre + body + suf
        texts.append(text)
        if open_l[i]:
            resolutions.append("")
            continue
        if k == "complaint":
            bank = T.RESOLUTION_EN[th] if lg == "en" else T.RESOLUTION_ZH[th]
        else:
            topic = T.TOPICS[k][origin]
            bank = topic[4] if lg == "en" else topic[3]
        res = bank[int(ri[7] * len(bank))]
        resolutions.append(res.format(r=_fmt_num(round(max(amount * partial[i], 5.0), 2))))
    return texts, resolutions


# =========================================================================== frames and writing
def _date_str(d: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(d.astype("datetime64[D]"), unit="D").astype(object)


def _customers_frame(C: _Customers, X: _Dirt) -> pd.DataFrame:
    n = C.n
    k = len(X.dup_rows)
    ids = np.array([f"C{100001 + i}" for i in range(n + k)], dtype=object)
    C.ids = ids
    name = list(C.name)
    gender = np.where(C.gender == "F", "女", "男").astype(object)
    gender[X.gender_mf] = C.gender[X.gender_mf]
    gender[X.blank_gender] = ""
    birth = C.birth.copy()
    for i in X.ancient:
        d = pd.Timestamp(birth[i])
        birth[i] = np.datetime64(date(ANCIENT_YEAR, d.month, min(d.day, 28)))
    birth_s = _date_str(birth)
    birth_s[X.blank_birthday] = ""
    phone = C.phone.astype(str).astype(object)
    for i in X.plus86:
        phone[i] = _plus86(phone[i])
    email = np.array(C.email, dtype=object)
    for i in X.upper_email:
        email[i] = email[i].upper()
    city = [T.CITIES[c][0] for c in C.city]
    prov = [T.CITIES[c][1] for c in C.city]
    chan = [T.CHANNELS[c] for c in C.channel]
    signup = _date_str(C.start64 + C.signup)
    level = [T.LEVELS[v] for v in C.level]
    cols = {
        "客户编号": list(ids[:n]), "姓名": name, "性别": list(gender), "生日": list(birth_s), "手机号": list(phone),
        "邮箱": list(email), "城市": city, "省份": prov, "来源渠道": chan, "注册日期": list(signup),
        "会员等级": level, "标签": list(C.tags),
    }
    for d in X.dup_rows:
        p = d["orig"]
        cols["客户编号"].append(ids[d["row"]])
        cols["姓名"].append(d["name"])
        cols["性别"].append("女" if C.gender[p] == "F" else "男")
        cols["生日"].append(str(np.datetime64(C.birth[p], "D")) if d["birthday"] else "")
        ph = str(C.phone[p])
        cols["手机号"].append(_plus86(ph) if d["phone_fmt"] == "plus86" else ph)
        cols["邮箱"].append(d["email"])
        cols["城市"].append(city[p])
        cols["省份"].append(prov[p])
        cols["来源渠道"].append(T.CHANNELS[d["channel"]])
        cols["注册日期"].append(str(C.start64 + d["signup"]))
        cols["会员等级"].append(T.LEVELS[0])
        cols["标签"].append("")
    return pd.DataFrame(cols, columns=CUSTOMER_HEADERS)


def _plus86(digits: str) -> str:
    return f"+86 {digits[:3]}-{digits[3:7]}-{digits[7:]}"


def _write_orders(path: Path, Ls: _Lines, C: _Customers, P: _Products, X: _Dirt) -> dict:
    """orders.csv via Arrow's C++ CSV writer (pandas' writer is the bottleneck at 1M rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv
    n_lines = len(Ls.prod)
    rep = np.ones(n_lines, dtype=np.int64)
    rep[X.dup_lines] = 2
    rows = np.repeat(np.arange(n_lines), rep)
    cents = np.round(Ls.amount * 100).astype(np.int64)
    cents[X.negative] = -cents[X.negative]
    ts = Ls.o_ts[Ls.order].copy()
    for i in X.future:
        d = datetime(1970, 1, 1) + timedelta(seconds=int(ts[i]))
        d = d.replace(year=FUTURE_YEAR, day=min(d.day, 28) if d.month == 2 else d.day)
        ts[i] = int((d - datetime(1970, 1, 1)).total_seconds())
    oid = pc.binary_join_element_wise(pa.scalar("O"), pc.cast(pa.array(Ls.o_id_num), pa.string()), pa.scalar(""))
    # the text columns are taken from these small dictionaries, so neutralising them (knowledge.export)
    # neutralises every cell of the file; the order ids are "O" + digits
    cids, pids, chans = (pa.array([neutralise_cell(str(v)) for v in vals]) for vals in (C.ids, P.ids, T.CHANNELS))
    with open(path, "wb") as f:
        f.write((",".join(map(neutralise_cell, ORDER_HEADERS)) + "\n").encode("utf-8"))
        for s0 in range(0, len(rows), 250_000):
            r = rows[s0:s0 + 250_000]
            o = Ls.order[r]
            # amount as decimal(18, 2) from the cents (two's-complement 128-bit words): "119.20", "-56.70"
            c = cents[r]
            words = np.empty((len(c), 2), dtype="<i8")
            words[:, 0] = c
            words[:, 1] = np.where(c < 0, -1, 0)
            amount = pa.Array.from_buffers(pa.decimal128(18, 2), len(c), [None, pa.py_buffer(words)])
            table = pa.table({
                "order_id": pc.take(oid, pa.array(o)),
                "customer_id": pc.take(cids, pa.array(Ls.o_cust[o])),
                "order_date": pa.array(ts[r].astype("datetime64[s]")),
                "product_id": pc.take(pids, pa.array(Ls.prod[r])),
                "quantity": pa.array(Ls.qty[r]),
                "amount": amount,
                "channel": pc.take(chans, pa.array(Ls.o_channel[o])),
            })
            pa_csv.write_csv(table, f, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    planted = np.concatenate([X.dup_lines, X.negative, X.future]).astype(np.int64)
    line_oid = dict(zip(planted.tolist(), pc.take(oid, pa.array(Ls.order[planted])).to_pylist()))
    return {"rows": int(len(rows)), "distinct_orders": int(Ls.n_orders), "line_order_ids": line_oid}


def _feedback_frame(F: _Feedback, C: _Customers, P: _Products) -> pd.DataFrame:
    day = (F.created // 86400).astype("datetime64[D]")
    yyyymmdd = pd.DatetimeIndex(day).strftime("%Y%m%d").to_numpy(dtype=object) if F.n else np.array([], object)
    seq = np.zeros(F.n, dtype=np.int64)
    if F.n:
        dnum = F.created // 86400
        seq = np.arange(F.n) - np.searchsorted(dnum, dnum, side="left") + 1
    fid = [f"FB{d}{s:04d}" for d, s in zip(yyyymmdd, seq)]
    resolved_s = pd.Series(F.resolved_at.astype("datetime64[s]")).dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(object)
    resolved_s[F.is_open] = ""
    pid = [P.ids[p] if p >= 0 else "" for p in F.prod]
    cat = [P.cat_names[p] if p >= 0 else "" for p in F.prod]
    return pd.DataFrame({
        "反馈编号": fid,
        "客户编号": list(C.ids[F.cust_row]),
        "反馈时间": pd.Series(F.created.astype("datetime64[s]")).dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(object),
        "渠道": list(F.channel),
        "类型": [T.KIND_ZH[KINDS[k]] for k in F.kind],
        "商品编号": pid,
        "品类": cat,
        "评分": [str(int(r)) if r > 0 else "" for r in F.rating],
        "内容": F.text,
        "状态": [T.STATUS_ZH["open" if o else "resolved"] for o in F.is_open],
        "处理结果": F.resolution,
        "解决时间": list(resolved_s),
    }, columns=FEEDBACK_HEADERS)


def _write_csv(df: pd.DataFrame, path: Path, encoding: str) -> None:
    # the demo's input files are opened in Excel too: formula cells ("+86 138-…") neutralised like
    # every file Guanxi writes (knowledge.export); `guanxi build` takes the apostrophe off again
    write_csv(df, path, encoding=encoding, lineterminator="\n")


def _write_xlsx(path: Path, sheet: str, header: list[str], rows: list[list]) -> None:
    """An .xlsx with fixed timestamps inside (openpyxl stamps 'now'), so reruns are byte-identical;
    text cells neutralised and stored as text (knowledge.export.xlsx_workbook)."""
    wb = xlsx_workbook(sheet, header, rows)
    fixed = datetime(*_FIXED_STAMP)
    wb.properties.creator = "Guanxi demo"
    wb.properties.created = fixed
    buf = io.BytesIO()
    wb.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>2026-01-01T00:00:00Z\g<2>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=_FIXED_STAMP)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, data)
    path.write_bytes(out.getvalue())


# =========================================================================== manifest
def _manifest(seed, end, cal, plan, C, P, Ls, X, F, cust_df, order_info, fb_df, paths) -> dict:
    ids = C.ids
    n_lines = len(Ls.prod)
    line_oid = order_info["line_order_ids"]
    lang_counts = {lg: int((F.lang == lg).sum()) for lg in ("zh", "en", "mixed")}
    planted = {
        "duplicate_customers": {
            "count": len(X.dup_rows),
            "description": "same person registered twice: same phone (digits), new customer id, name spacing "
                           "may differ; the person's later orders are split over both ids",
            "pairs": [[str(ids[d["orig"]]), str(ids[d["row"]])] for d in X.dup_rows],
            "ids_with_spacing_variant": [str(ids[d["row"]]) for d in X.dup_rows if d["name"] != C.name[d["orig"]]],
            "ids_with_plus86_phone": [str(ids[d["row"]]) for d in X.dup_rows if d["phone_fmt"] == "plus86"],
        },
        "duplicate_order_lines": {
            "count": int(len(X.dup_lines)),
            "description": "exact copies of an order line (every column equal), right after the original",
            "order_ids": sorted(str(line_oid[i]) for i in X.dup_lines),
        },
        "negative_amounts": {"count": int(len(X.negative)), "order_ids": sorted(str(line_oid[i]) for i in X.negative)},
        "future_order_dates": {"count": int(len(X.future)), "year": FUTURE_YEAR,
                               "order_ids": sorted(str(line_oid[i]) for i in X.future)},
        "birthday_1890": {"count": int(len(X.ancient)), "customer_ids": [str(ids[i]) for i in X.ancient]},
        "phone_plus86_format": {"count": int(len(X.plus86)), "example": "+86 138-1234-5678",
                                "customer_ids": [str(ids[i]) for i in X.plus86]},
        "email_upper_case": {"count": int(len(X.upper_email)), "customer_ids": [str(ids[i]) for i in X.upper_email]},
        "gender_MF": {"count": int(len(X.gender_mf)), "description": "gender written M/F instead of 男/女",
                      "customer_ids": [str(ids[i]) for i in X.gender_mf]},
    }
    arch_of = {str(ids[i]): ARCHETYPES[C.arch[i]] for i in range(C.n)}
    for d in X.dup_rows:
        arch_of[str(ids[d["row"]])] = ARCHETYPES[C.arch[d["orig"]]]
    return {
        "generator": "knowledge.demo.generate_demo",
        "seed": seed,
        "start_date": cal.start.isoformat(),
        "end_date": end.isoformat(),
        "files": {k: p.name for k, p in paths.items()},
        "encodings": {"customers": "utf-8-sig", "products": "xlsx", "orders": "utf-8", "feedback": "gb18030"},
        "rows": {"customers": int(len(cust_df)), "products": int(P.n), "orders": order_info["rows"],
                 "orders_distinct": order_info["distinct_orders"], "feedback": int(len(fb_df))},
        "planted": planted,
        "info": {
            "archetype_counts": {a: int((C.arch == i).sum()) for i, a in enumerate(ARCHETYPES)},
            "english_customers": int(C.is_en.sum()),
            "customers_without_orders": int((Ls.count == 0).sum()),
            "blank_birthdays": int(X.blank_birthday.sum()),
            "blank_genders": int(X.blank_gender.sum()),
            "spring_festivals": [d.isoformat() for d in cal.spring_festivals],
            "double11": [d.isoformat() for d in cal.double11],
            "bundles": [{"anchors": a, "partners": p, "probability": pr} for a, p, pr in P.bundles],
            "feedback_kinds": {k: int((F.kind == i).sum()) for i, k in enumerate(KINDS)},
            "feedback_languages": lang_counts,
            "complaint_themes": {t: int((F.theme == i).sum()) for i, t in enumerate(T.THEMES)},
            "feedback_open": int(F.is_open.sum()),
            "order_lines_clean": int(n_lines),
        },
        "truth": {
            "archetype_by_customer": arch_of,
            "complaint_theme_by_feedback": {str(fid): T.THEMES[th] for fid, th, k in
                                            zip(fb_df["反馈编号"], F.theme.tolist(), F.kind.tolist()) if k == 0},
        },
    }
