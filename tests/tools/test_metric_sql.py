"""KPIs run as DuckDB SQL (tools/metric_sql.py): the customer-value and date metrics, the SQL and
row counts a result reports, quoting of filter values, string dates, explicit-period comparisons,
and parity with plain pandas on the demo workspace.

A tiny shop worked by hand (default as_of = 2025-03-29, the day after the last order):

customer  province  city      clv_12m  churn_probability   orders (date: category amount)
C1        浙江省    杭州市      500       0.1               O1 01-05: 茶叶 100, 茶具 50 · O2 03-10: 茶叶 80
C2        浙江省    宁波市      200       0.6  (at risk)    O3 01-20: 零食 40 · O4 02-14: 零食 60
C3        广东省    O'Fallon    800       0.5  (at risk)    O5 02-03: 茶叶 120, 礼盒 200 · O6 03-05: 零食 30
C4        广东省    广州市     1000       0.9  (at risk)    O7 01-12: 礼盒 300
C5        广东省    深圳市       50       0.2               O8 03-20: 茶叶 90
C6        浙江省    杭州市        –         –  (no score)   O9 02-25: 茶具 70 · O10 03-28 21:30: 茶叶 110
C9        (no orders)          9999       0.99  — in the artefacts only, never counted

12 lines, sales 1250. Customers with an order in February: C2, C3, C6 (C1, C4, C5 bought only
outside it).
"""
from __future__ import annotations

import pandas as pd
import pytest

from knowledge.errors import GuanxiError
from tools.kpi import kpi
from tools.kpi_compare import compare_kpi
from tools.metric_sql import MetricSource

UNKNOWN = "未知"
FEB = dict(date_from="2025-02-01", date_to="2025-02-28")


@pytest.fixture
def shop() -> dict[str, pd.DataFrame]:
    customers = pd.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4", "C5", "C6"],
        "province": ["浙江省", "浙江省", "广东省", "广东省", "广东省", "浙江省"],
        "city": ["杭州市", "宁波市", "O'Fallon", "广州市", "深圳市", "杭州市"],
        "gender": ["F", "M", "F", "M", "F", "M"],
        "channel": ["微信", "天猫", "微信", "抖音", "天猫", "抖音"],
    })
    lines = [
        ("O1", "C1", "2025-01-05 10:00", "茶叶", 100.0, 2), ("O1", "C1", "2025-01-05 10:00", "茶具", 50.0, 1),
        ("O2", "C1", "2025-03-10 09:00", "茶叶", 80.0, 1),
        ("O3", "C2", "2025-01-20 12:00", "零食", 40.0, 4), ("O4", "C2", "2025-02-14 08:00", "零食", 60.0, 3),
        ("O5", "C3", "2025-02-03 15:00", "茶叶", 120.0, 1), ("O5", "C3", "2025-02-03 15:00", "礼盒", 200.0, 1),
        ("O6", "C3", "2025-03-05 11:00", "零食", 30.0, 2),
        ("O7", "C4", "2025-01-12 19:00", "礼盒", 300.0, 1),
        ("O8", "C5", "2025-03-20 10:00", "茶叶", 90.0, 1),
        ("O9", "C6", "2025-02-25 16:00", "茶具", 70.0, 1), ("O10", "C6", "2025-03-28 21:30", "茶叶", 110.0, 2),
    ]
    orders = pd.DataFrame(lines, columns=["order_id", "customer_id", "order_date", "category", "amount", "quantity"])
    orders["order_date"] = pd.to_datetime(orders["order_date"])
    clv = pd.DataFrame({"customer_id": ["C1", "C2", "C3", "C4", "C5", "C9"],
                        "clv_12m": [500.0, 200.0, 800.0, 1000.0, 50.0, 9999.0]})
    churn = pd.DataFrame({"customer_id": ["C1", "C2", "C3", "C4", "C5", "C9"],
                          "churn_probability": [0.1, 0.6, 0.5, 0.9, 0.2, 0.99]})
    return {"orders": orders, "customers": customers, "clv": clv, "churn": churn}


def _by(result, dim: str) -> dict:
    return result.breakdown.set_index(dim)["value"].to_dict()


# ------------------------------------------------------------------ 1. customer-value metrics

def test_clv_and_churn_over_the_customers_who_bought(shop):
    # all six bought; C6 has no CLV / churn score, C9 has scores but no order
    r = kpi(shop, "clv_mean")
    assert r.value == pytest.approx((500 + 200 + 800 + 1000 + 50) / 5)
    assert r.details["customers"] == 6 and r.details["scored"] == 5
    assert kpi(shop, "clv_total").value == pytest.approx(2550)
    assert kpi(shop, "churn_probability").value == pytest.approx((0.1 + 0.6 + 0.5 + 0.9 + 0.2) / 5)
    risk = kpi(shop, "at_risk_customers")
    assert risk.value == 3                                  # C2 0.6, C3 exactly 0.5, C4 0.9
    assert risk.details["share"] == pytest.approx(3 / 5)    # of the five customers with a score


def test_clv_and_churn_by_province(shop):
    assert _by(kpi(shop, "clv_mean", by="province"), "province") == pytest.approx(
        {"浙江省": (500 + 200) / 2, "广东省": (800 + 1000 + 50) / 3})
    assert _by(kpi(shop, "clv_total", by="province"), "province") == pytest.approx({"浙江省": 700, "广东省": 1850})
    assert _by(kpi(shop, "churn_probability", by="province"), "province") == pytest.approx(
        {"浙江省": (0.1 + 0.6) / 2, "广东省": (0.5 + 0.9 + 0.2) / 3})
    risk = kpi(shop, "at_risk_customers", by="province").breakdown.set_index("province")
    assert risk["value"].to_dict() == {"浙江省": 1, "广东省": 2}
    assert risk["share"].to_dict() == pytest.approx({"浙江省": 1 / 2, "广东省": 2 / 3})


def test_clv_and_churn_with_a_filter_and_a_window(shop):
    zj = kpi(shop, "clv_total", filters={"province": "浙江"})     # C1, C2 (+ C6 unscored)
    assert zj.value == pytest.approx(700) and zj.filters == {"province": "浙江省"}
    assert kpi(shop, "churn_probability", filters={"province": "浙江省"}).value == pytest.approx(0.35)

    # February: C2, C3, C6 bought; C1, C4, C5 only outside the window → left out
    feb = kpi(shop, "clv_mean", **FEB)
    assert feb.value == pytest.approx((200 + 800) / 2)
    assert feb.details["customers"] == 3 and feb.details["scored"] == 2
    assert kpi(shop, "clv_total", **FEB).value == pytest.approx(1000)
    assert kpi(shop, "churn_probability", **FEB).value == pytest.approx((0.6 + 0.5) / 2)
    risk = kpi(shop, "at_risk_customers", **FEB)
    assert risk.value == 2 and risk.details["share"] == pytest.approx(1.0)
    # window and filter together: February in 广东省 is C3 alone
    assert kpi(shop, "clv_total", filters={"province": "广东省"}, **FEB).value == pytest.approx(800)
    assert kpi(shop, "at_risk_customers", filters={"province": "广东省"}, **FEB).value == 1
    # March: C1, C3, C5, C6
    assert kpi(shop, "clv_total", date_from="2025-03-01", date_to="2025-03").value == pytest.approx(1350)


def test_customer_value_metrics_need_their_artefact(shop):
    with pytest.raises(GuanxiError, match="clv"):
        kpi({"orders": shop["orders"]}, "clv_mean")


# ------------------------------------------------------------------ 2. date metrics

def test_first_and_last_purchase(shop):
    first, last = kpi(shop, "first_purchase"), kpi(shop, "last_purchase")
    assert (first.value, last.value) == ("2025-01-05", "2025-03-28")   # O10 at 21:30 → the day only
    assert _by(kpi(shop, "first_purchase", by="province"), "province") == {"浙江省": "2025-01-05", "广东省": "2025-01-12"}
    assert _by(kpi(shop, "last_purchase", by="province"), "province") == {"浙江省": "2025-03-28", "广东省": "2025-03-20"}
    assert kpi(shop, "first_purchase", **FEB).value == "2025-02-03"
    assert kpi(shop, "last_purchase", **FEB).value == "2025-02-25"
    assert kpi(shop, "first_purchase", filters={"province": "浙江省"}, **FEB).value == "2025-02-14"
    assert kpi(shop, "last_purchase", filters={"city": "深圳市"}).value == "2025-03-20"


# ------------------------------------------------------------------ 3. the SQL and the rows scanned

def test_the_result_shows_its_sql_and_the_rows_it_scanned(shop):
    r = kpi(shop, "sales")
    assert r.value == pytest.approx(1250)
    assert r.sql and all(s.lstrip().startswith("WITH") for s in r.sql)
    assert all("lines" in s for s in r.sql)
    assert r.rows_scanned == {"orders": len(shop["orders"])}           # no customer dimension: orders only
    assert "DuckDB" in r.provenance and "rows scanned" in r.provenance

    p = kpi(shop, "sales", by="province")
    assert p.rows_scanned == {"orders": 12, "customers": len(shop["customers"])}
    assert any("cust" in s for s in p.sql)
    assert kpi(shop, "orders", filters={"gender": "女"}).rows_scanned == {"orders": 12, "customers": 6}

    c = kpi(shop, "clv_mean")
    assert c.rows_scanned == {"orders": 12, "clv": len(shop["clv"])}
    assert all(s.startswith("WITH") for s in c.sql)


def test_a_shared_source_reports_each_call_on_its_own(shop):
    src = MetricSource(shop)
    by_province = kpi(src, "sales", by="province")
    plain = kpi(src, "sales")
    assert by_province.rows_scanned == {"orders": 12, "customers": 6}
    assert plain.rows_scanned == {"orders": 12}          # the previous call's customers are not carried over
    assert plain.value == pytest.approx(1250)
    assert not set(plain.sql) & set(by_province.sql)


def test_lazy_tables_are_loaded_by_the_first_metric_that_reads_them(shop):
    from tools.metric_sql import LazyTables
    loaded: list[str] = []
    load = lambda name: lambda: loaded.append(name) or shop.get(name)  # noqa: E731
    lazy = MetricSource(LazyTables({n: load(n) for n in ("orders", "customers", "feedback", "clv", "churn", "rfm")}))
    eager = MetricSource(shop)
    for metric, by in (("sales", None), ("sales", "province"), ("clv_mean", None), ("churn_probability", "city")):
        a, b = kpi(lazy, metric, by=by), kpi(eager, metric, by=by)
        assert (a.value, a.rows_scanned, a.sql) == (b.value, b.rows_scanned, b.sql), (metric, by)
        if by is None and metric == "sales":
            assert loaded == ["orders"]                              # nothing but the lines yet
    assert loaded == ["orders", "customers", "clv", "churn"]         # each once; feedback and rfm never read


# ------------------------------------------------------------------ 4. quoting and unknown values

def test_a_city_with_a_quote_is_matched_and_counted(shop):
    r = kpi(shop, "sales", filters={"city": "O'Fallon"})
    assert r.value == pytest.approx(120 + 200 + 30) and r.filters == {"city": "O'Fallon"}
    assert any("'O''Fallon'" in s for s in r.sql)        # the literal is escaped, not cut short
    assert kpi(shop, "orders", filters={"city": "O'Fallon"}).value == 2
    assert kpi(shop, "clv_total", filters={"city": "O'Fallon"}).value == pytest.approx(800)
    assert kpi(shop, "sales", filters={"city": ["O'Fallon", "深圳市"]}).value == pytest.approx(440)
    assert _by(kpi(shop, "sales", by="city"), "city")["O'Fallon"] == pytest.approx(350)


def test_an_unknown_filter_value_names_the_known_ones(shop):
    with pytest.raises(GuanxiError) as e:
        kpi(shop, "sales", filters={"city": "Springfield"})
    msg = str(e.value)
    assert "Springfield" in msg and "known city values" in msg
    for city in ("O'Fallon", "杭州市", "深圳市"):
        assert city in msg


# ------------------------------------------------------------------ 5. dates as strings

def test_string_dates_give_the_same_sales_as_datetimes():
    days = ["2025-01-05", "2025-01-20", "2025-02-03", "2025-02-14", "2025-03-05", "2025-03-28"]
    text = pd.DataFrame({"order_id": [f"O{i}" for i in range(6)], "customer_id": ["A", "B", "A", "C", "B", "A"],
                         "order_date": days, "amount": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]})
    dated = text.assign(order_date=pd.to_datetime(text["order_date"]))
    for kw in ({}, FEB, {"date_from": "2025-03-05", "date_to": "2025-03-05"}):
        assert kpi({"orders": text}, "sales", **kw).value == pytest.approx(kpi({"orders": dated}, "sales", **kw).value)
    assert kpi({"orders": text}, "sales", **FEB).value == pytest.approx(70)
    assert kpi({"orders": text}, "sales", date_from="2025-03-05", date_to="2025-03-05").value == pytest.approx(50)
    assert _by(kpi({"orders": text}, "sales", by="month"), "month") == {"2025-01": 30, "2025-02": 70, "2025-03": 110}
    assert kpi({"orders": text}, "last_purchase").value == "2025-03-28"
    assert kpi({"orders": text}, "sales").as_of == "2025-03-29"


# ------------------------------------------------------------------ 6. an explicit comparison period

def test_compare_march_with_an_explicit_january(shop):
    o = shop["orders"]
    march = o.loc[(o["order_date"] >= "2025-03-01") & (o["order_date"] < "2025-04-01"), "amount"].sum()
    january = o.loc[(o["order_date"] >= "2025-01-01") & (o["order_date"] < "2025-02-01"), "amount"].sum()
    assert (march, january) == (310, 490)
    r = compare_kpi(shop, "sales", "period", date_from="2025-03-01", date_to="2025-03-31",
                    compare_from="2025-01-01", compare_to="2025-01-31", as_of="2025-04-01")
    c = r.comparison
    assert c["current"] == pytest.approx(march) and c["previous"] == pytest.approx(january)
    assert c["change"] == pytest.approx(march - january)
    assert c["change_pct"] == pytest.approx((march - january) / january)
    assert (c["current_period"], c["previous_period"]) == ("2025-03", "2025-01")
    assert r.sql and all(s.startswith("WITH") for s in r.sql)


def test_a_date_metric_has_no_change_to_compare(shop):
    window = dict(date_from="2025-03-01", date_to="2025-03-31", compare_from="2025-01-01",
                  compare_to="2025-01-31", as_of="2025-04-01")
    with pytest.raises(GuanxiError, match="date"):
        compare_kpi(shop, "last_purchase", "period", **window)
    # kpi() accepts the name however it is spelled; so must the comparison's check
    assert kpi(shop, "Last Purchase").metric == "last_purchase"
    with pytest.raises(GuanxiError, match="date"):
        compare_kpi(shop, "Last Purchase", "period", **window)


# ------------------------------------------------------------------ 7. parity with pandas on the demo data

def _label(s: pd.Series) -> pd.Series:
    """A dimension label as the SQL makes it: trimmed text, blank or missing → 未知."""
    return s.astype(object).where(s.notna(), "").astype(str).str.strip().replace("", UNKNOWN)


@pytest.fixture(scope="module")
def demo(routing_ws):
    orders, customers = routing_ws.table("orders"), routing_ws.table("customers")
    o = orders.copy()
    o["customer_id"] = o["customer_id"].astype(str)
    o["order_date"] = pd.to_datetime(o["order_date"])
    o = o.loc[o["order_date"] < routing_ws.as_of()]
    c = customers.assign(customer_id=customers["customer_id"].astype(str)).drop_duplicates("customer_id")
    for dim in ("province", "gender", "channel"):
        o[dim] = _label(o["customer_id"].map(c.set_index("customer_id")[dim]))
    o["category_label"] = _label(o["category"])
    return {"orders": orders, "customers": customers}, o, routing_ws.as_of()


def test_demo_sales_by_province_match_pandas(demo):
    tables, o, as_of = demo
    r = kpi(tables, "sales", by="province", as_of=as_of)
    assert r.value == pytest.approx(o["amount"].sum(), rel=1e-6)
    assert _by(r, "province") == pytest.approx(o.groupby("province")["amount"].sum().to_dict(), rel=1e-6)
    assert r.rows_scanned == {"orders": len(tables["orders"]), "customers": len(tables["customers"])}


def test_demo_orders_by_month_match_pandas(demo):
    tables, o, as_of = demo
    want = o.groupby(o["order_date"].dt.strftime("%Y-%m"))["order_id"].nunique().to_dict()
    got = _by(kpi(tables, "orders", by="month", as_of=as_of), "month")
    assert {m: v for m, v in got.items() if v} == want
    assert all(v == 0 for m, v in got.items() if m not in want)


def test_demo_aov_by_gender_matches_pandas(demo):
    tables, o, as_of = demo
    g = o.groupby("gender")
    want = (g["amount"].sum() / g["order_id"].nunique()).to_dict()
    r = kpi(tables, "aov", by="gender", as_of=as_of)
    assert _by(r, "gender") == pytest.approx(want, rel=1e-6)
    assert r.value == pytest.approx(o["amount"].sum() / o["order_id"].nunique(), rel=1e-6)


def test_demo_repurchase_rate_by_channel_matches_pandas(demo):
    tables, o, as_of = demo
    per = o.groupby(["channel", "customer_id"])["order_id"].nunique()
    want = (per >= 2).groupby(level="channel").mean().to_dict()
    r = kpi(tables, "repurchase_rate", by="channel", as_of=as_of)
    assert _by(r, "channel") == pytest.approx(want, rel=1e-6)
    overall = o.groupby("customer_id")["order_id"].nunique()
    assert r.value == pytest.approx((overall >= 2).mean(), rel=1e-6)


def test_demo_units_by_category_in_zhejiang_match_pandas(demo):
    tables, o, as_of = demo
    zj = o.loc[o["province"] == "浙江省"]
    assert len(zj)
    want = zj.groupby("category_label")["quantity"].sum().to_dict()
    r = kpi(tables, "units", by="category", filters={"province": "浙江省"}, as_of=as_of)
    assert r.value == int(zj["quantity"].sum())
    assert _by(r, "category") == pytest.approx(want, rel=1e-6)


def test_age_and_birth_year_ranges_filter_the_customers():
    """age_min / age_max in full years at the as-of date, born_from / born_to on the birthday's year."""
    import pandas as pd
    from tools.kpi import kpi
    orders = pd.DataFrame({"order_id": ["o1", "o2", "o3", "o4"], "customer_id": ["a", "b", "c", "d"],
                           "order_date": pd.to_datetime(["2025-03-01"] * 4), "amount": [10.0, 20.0, 40.0, 80.0]})
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                              "birthday": pd.to_datetime(["1995-06-01", "1990-03-31", "1985-01-01", None])})
    t = {"orders": orders, "customers": customers}
    as_of = "2025-04-01"   # ages: a 29, b 35 (birthday on 31 March), c 40, d unknown
    assert kpi(t, "sales", as_of=as_of, filters={"age": (30, None)}).value == 60.0
    assert kpi(t, "sales", as_of=as_of, filters={"age": (None, 35)}).value == 30.0
    assert kpi(t, "sales", as_of=as_of, filters={"age": (35, 35)}).value == 20.0
    r = kpi(t, "customers", as_of=as_of, filters={"birth_year": (1990, 1999)})
    assert r.value == 2 and r.filters == {"birth_year": "born 1990-1999"}
    assert "year(c.birthday) >= 1990" in r.sql[0]


def test_per_day_complaint_counts_days_and_ranked_periods():
    """Daily averages over the period's calendar days; complaints and open complaints counted; a
    time breakdown ranked by value when asked."""
    import pandas as pd
    from tools.kpi import kpi
    orders = pd.DataFrame({"order_id": ["o1", "o2", "o3", "o4"], "customer_id": ["a", "b", "a", "b"],
                           "order_date": pd.to_datetime(["2025-03-01", "2025-03-01", "2025-03-05", "2025-03-10"]),
                           "amount": [10.0, 30.0, 50.0, 20.0]})
    feedback = pd.DataFrame({"created_at": pd.to_datetime(["2025-03-02", "2025-03-03", "2025-03-04"]),
                             "kind": ["complaint", "complaint", "praise"], "status": ["resolved", "open", "resolved"],
                             "resolved_at": pd.to_datetime(["2025-03-03", None, None])})
    t = {"orders": orders, "feedback": feedback}
    r = kpi(t, "sales_per_day", date_from="2025-03-01", date_to="2025-03-10", as_of="2025-04-01")
    assert r.value == 11.0 and r.details["days"] == 10                     # 110 over ten days
    assert kpi(t, "orders_per_day", date_from="2025-03-01", date_to="2025-03-10", as_of="2025-04-01").value == 0.4
    assert kpi(t, "complaints", as_of="2025-04-01").value == 2
    assert kpi(t, "open_complaints", as_of="2025-04-01").value == 1
    days = kpi(t, "sales", by="day", as_of="2025-04-01")
    assert list(days.breakdown["day"]) == ["2025-03-01", "2025-03-05", "2025-03-10"]          # in time order
    best = kpi(t, "sales", by="day", as_of="2025-04-01", ranked=True, top=1)
    assert list(best.breakdown["day"]) == ["2025-03-05"] and best.breakdown["value"].iloc[0] == 50.0


def test_new_and_returning_customers_split_a_period():
    """新客: the customer's first order ever is in the period; 老客: they bought before it."""
    import pandas as pd
    from tools.kpi import kpi
    orders = pd.DataFrame({"order_id": ["o1", "o2", "o3", "o4"], "customer_id": ["a", "a", "b", "c"],
                           "order_date": pd.to_datetime(["2025-01-05", "2025-03-02", "2025-03-03", "2025-03-09"]),
                           "amount": [5.0, 10.0, 20.0, 40.0]})
    r = kpi({"orders": orders}, "sales", by="customer_type", date_from="2025-03-01", date_to="2025-03-31",
            as_of="2025-04-01")
    assert dict(zip(r.breakdown["customer_type"], r.breakdown["value"])) == {"新客 new": 60.0, "老客 returning": 10.0}
    n = kpi({"orders": orders}, "customers", by="customer_type", date_from="2025-03-01", date_to="2025-03-31",
            as_of="2025-04-01")
    new = dict(zip(n.breakdown["customer_type"], n.breakdown["value"]))["新客 new"]
    assert new == kpi({"orders": orders}, "new_customers", date_from="2025-03-01", date_to="2025-03-31",
                      as_of="2025-04-01").value == 2


def test_orders_per_customer_divides_distinct_orders_by_buyers():
    import pandas as pd
    from tools.kpi import kpi
    orders = pd.DataFrame({"order_id": ["o1", "o1", "o2", "o3"], "customer_id": ["a", "a", "a", "b"],
                           "order_date": pd.to_datetime(["2025-03-01"] * 4), "amount": [1.0, 2.0, 3.0, 4.0]})
    assert kpi({"orders": orders}, "orders_per_customer", as_of="2025-04-01").value == 1.5   # 3 orders, 2 buyers

