"""KPIs on a tiny shop worked by hand: 4 customers, 7 orders (8 lines), 5 feedback items.

customers  gender  birthday     province  city  channel   age at 2024-04-01
K1         F       2000-07-02   浙江省    杭州市  微信      23 → <25
K2         M       1990-01-01   广东省    广州市  抖音      34 → 25-34
K3         F       1970-03-31   浙江省    宁波市  微信      54 → 45-54 (birthday the day before)
K4         M       (none)       北京市    北京市  门店      未知

orders  customer  date        lines (category: amount)   order channel
A1      K1        2024-01-05  茶叶 100, 茶具 50           天猫
A2      K1        2024-01-20  茶叶 150                    天猫
A3      K1        2024-03-04  茶叶 100                    京东
B1      K2        2024-01-10  零食 60                     京东
B2      K2        2024-02-10  零食 40                     京东
C1      K3        2024-02-15  茶叶 300                    门店
D1      K4        2024-03-31  礼盒 200                    天猫
Default as_of = 2024-04-01 (the day after the last order). Sales 1000, 7 orders.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from knowledge.errors import GuanxiError
from tools import charts
from tools.kpi import METRICS, KpiResult, age_band, kpi, repurchase_rate, satisfaction


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    customers = pd.DataFrame({
        "customer_id": ["K1", "K2", "K3", "K4"], "name": ["甲", "乙", "丙", "丁"],
        "gender": ["F", "M", "F", "M"],
        "birthday": pd.to_datetime(["2000-07-02", "1990-01-01", "1970-03-31", None]),
        "province": ["浙江省", "广东省", "浙江省", "北京市"], "city": ["杭州市", "广州市", "宁波市", "北京市"],
        "channel": ["微信", "抖音", "微信", "门店"],
    })
    lines = [
        ("A1", "K1", "2024-01-05 10:00", "茶叶", 100, "天猫"), ("A1", "K1", "2024-01-05 10:00", "茶具", 50, "天猫"),
        ("A2", "K1", "2024-01-20 18:30", "茶叶", 150, "天猫"), ("A3", "K1", "2024-03-04 09:00", "茶叶", 100, "京东"),
        ("B1", "K2", "2024-01-10 12:00", "零食", 60, "京东"), ("B2", "K2", "2024-02-10 08:00", "零食", 40, "京东"),
        ("C1", "K3", "2024-02-15 20:00", "茶叶", 300, "门店"), ("D1", "K4", "2024-03-31 23:00", "礼盒", 200, "天猫"),
    ]
    orders = pd.DataFrame(lines, columns=["order_id", "customer_id", "order_date", "category", "amount", "channel"])
    orders["order_date"] = pd.to_datetime(orders["order_date"])
    orders["quantity"] = 1
    feedback = pd.DataFrame({
        "feedback_id": ["G1", "G2", "G3", "G4", "G5"],
        "customer_id": ["K1", "K2", "K3", "K1", "K4"],
        "created_at": pd.to_datetime(["2024-01-10 09:00", "2024-02-01 10:00", "2024-02-20 10:00",
                                      "2024-03-01 00:00", "2024-03-10 00:00"]),
        "channel": ["电话", "微信", "微信", "电话", "App"],
        "kind": ["complaint", "complaint", "praise", "inquiry", "complaint"],
        "category": ["茶叶", "零食", "茶叶", None, "礼盒"],
        "rating": [2.0, np.nan, 5.0, 4.0, 1.0],
        "text": ["太苦", "没发货", "好喝", "怎么泡", "盒子坏了"],
        "status": ["resolved", "open", "resolved", "resolved", "resolved"],
        "resolved_at": pd.to_datetime(["2024-01-12 09:00", None, None, "2024-03-01 12:00", "2024-03-14 00:00"]),
    })
    return {"customers": customers, "orders": orders, "feedback": feedback}


def test_sales_orders_customers_aov(tables):
    assert kpi(tables, "sales").value == pytest.approx(1000)
    assert kpi(tables, "orders").value == 7
    assert kpi(tables, "customers").value == 4
    r = kpi(tables, "aov")
    assert r.value == pytest.approx(1000 / 7)
    assert r.as_of == "2024-04-01" and "as of 2024-04-01" in r.provenance
    assert kpi(tables, "客单价").metric == "aov"  # Chinese labels are accepted


def test_repurchase_rate_and_date_range(tables):
    # K1 3 orders, K2 2, K3 1, K4 1 → 2/4
    r = kpi(tables, "repurchase_rate")
    assert r.value == pytest.approx(0.5) and r.details == {"customers": 4, "repeat_customers": 2}
    # Jan–Feb: A1 A2 B1 B2 C1 → K1 2, K2 2, K3 1 → 2/3; "2024-02" as date_to = end of February
    jan_feb = repurchase_rate(tables["orders"], date_from="2024-01-01", date_to="2024-02")
    assert jan_feb.value == pytest.approx(2 / 3) and jan_feb.date_to == "2024-02-29"
    assert kpi(tables, "sales", date_from="2024-01-01", date_to="2024-02-29").value == pytest.approx(700)
    # date_to is inclusive of the whole day: D1 at 23:00 on 03-31 counts
    assert kpi(tables, "sales", date_from="2024-03-31", date_to="2024-03-31").value == pytest.approx(200)
    # as_of excludes orders on/after it
    assert kpi(tables, "sales", as_of="2024-03-31").value == pytest.approx(800)
    with pytest.raises(GuanxiError, match="after date_to"):
        kpi(tables, "sales", date_from="2024-03-01", date_to="2024-02-01")


def test_breakdowns(tables):
    prov = kpi(tables, "sales", by="province").breakdown
    assert prov[["province", "value"]].values.tolist() == [["浙江省", 700], ["北京市", 200], ["广东省", 100]]
    assert prov["share"].tolist() == pytest.approx([0.7, 0.2, 0.1])
    cat = kpi(tables, "sales", by="category").breakdown.set_index("category")["value"].to_dict()
    assert cat == {"茶叶": 650, "礼盒": 200, "零食": 100, "茶具": 50}
    ages = kpi(tables, "sales", by="age_band").breakdown
    assert ages[["age_band", "value"]].values.tolist() == [["<25", 400], ["25-34", 100], ["45-54", 300], ["未知", 200]]
    assert kpi(tables, "customers", by="gender").breakdown.set_index("gender")["value"].to_dict() == {"F": 2, "M": 2}
    oc = kpi(tables, "sales", by="order_channel").breakdown.set_index("order_channel")["value"].to_dict()
    assert oc == {"天猫": 500, "门店": 300, "京东": 200}
    ch = kpi(tables, "orders", by="channel").breakdown.set_index("channel")["value"].to_dict()
    assert ch == {"微信": 4, "抖音": 2, "门店": 1}
    month = kpi(tables, "sales", by="month").breakdown
    assert month[["month", "value"]].values.tolist() == [["2024-01", 360], ["2024-02", 340], ["2024-03", 300]]
    assert kpi(tables, "sales", by="province", top=1).breakdown["province"].tolist() == ["浙江省"]
    aov = kpi(tables, "aov", by="province").breakdown.set_index("province")
    assert aov.loc["浙江省", "value"] == pytest.approx(700 / 4)


def test_filters(tables):
    r = kpi(tables, "sales", filters={"province": "浙江"})          # prefix match → 浙江省
    assert r.value == pytest.approx(700) and r.filters == {"province": "浙江省"}
    assert kpi(tables, "sales", filters={"province": "浙江省", "category": "茶叶"}).value == pytest.approx(650)
    assert kpi(tables, "orders", filters={"gender": "女"}).value == 4
    assert kpi(tables, "sales", filters={"order_channel": ["京东", "门店"]}).value == pytest.approx(500)
    with pytest.raises(GuanxiError, match="known province values"):
        kpi(tables, "sales", filters={"province": "火星"})


def test_age_bands_at_as_of():
    b = pd.to_datetime(pd.Series(["2000-04-01", "2000-04-02", "1990-04-01", "1969-04-01", None]))
    assert age_band(b, "2025-04-01").tolist() == ["25-34", "<25", "35-44", "55+", "未知"]


def test_new_customers(tables):
    # first orders: K1 01-05, K2 01-10, K3 02-15, K4 03-31
    assert kpi(tables, "new_customers", date_from="2024-02-01", date_to="2024-03-31").value == 2
    m = kpi(tables, "new_customers", by="month").breakdown
    assert m[["month", "value"]].values.tolist() == [["2024-01", 2], ["2024-02", 1], ["2024-03", 1]]


def test_lapsed_customers_ordered_before_the_period_and_not_in_it(tables):
    # no order in March: K2 (last 02-10) and K3 (02-15); K1 ordered 03-04, K4 first ordered 03-31 (new, not lapsed)
    r = kpi(tables, "lapsed_customers", date_from="2024-03-01")
    assert r.value == 2 and r.details["buyers_in_period"] == 2
    g = kpi(tables, "lapsed_customers", date_from="2024-03-01", by="gender").breakdown.set_index("gender")
    assert g["value"].to_dict() == {"F": 1, "M": 1}
    assert kpi(tables, "lapsed_customers", date_from="2024-02-01").value == 0   # K1 and K2, the January buyers, came back
    with pytest.raises(GuanxiError, match="date_from"):
        kpi(tables, "lapsed_customers")


def test_purchase_interval(tables):
    # K1: 01-05 → 01-20 = 15, 01-20 → 03-04 = 44; K2: 01-10 → 02-10 = 31
    r = kpi(tables, "purchase_interval")
    assert r.value == pytest.approx(30) and r.details["median_days"] == 31 and r.details["intervals"] == 3
    assert kpi(tables, "purchase_interval", date_to="2024-02-29").value == pytest.approx(23)  # 15, 31
    g = kpi(tables, "purchase_interval", by="gender").breakdown.set_index("gender")
    assert g.loc["F", "value"] == pytest.approx(29.5) and g.loc["M", "value"] == pytest.approx(31)


def test_cohort_retention(tables):
    # cohorts: 2024-01 {K1, K2}, 2024-02 {K3}, 2024-03 {K4}; last observed month 2024-03
    r = kpi(tables, "retention")
    m = r.breakdown.set_index("cohort")
    assert m["cohort_size"].to_dict() == {"2024-01": 2, "2024-02": 1, "2024-03": 1}
    assert m.loc["2024-01", [0, 1, 2]].tolist() == [1.0, 0.5, 0.5]   # Feb: K2; Mar: K1
    assert m.loc["2024-02", 0] == 1.0 and m.loc["2024-02", 1] == 0.0 and np.isnan(m.loc["2024-02", 2])
    assert np.isnan(m.loc["2024-03", 1])
    assert r.value == pytest.approx(1 / 3)   # month 1 pooled over Jan (1 of 2) and Feb (0 of 1)
    assert isinstance(r.figure().data[0], go.Heatmap)
    # only cohorts starting in the period
    assert kpi(tables, "retention", date_from="2024-02-01").breakdown["cohort"].tolist() == ["2024-02", "2024-03"]


def test_satisfaction_complaints_resolution(tables):
    s = satisfaction(tables["feedback"], customers=tables["customers"], orders=tables["orders"])
    assert s.value == pytest.approx(3.0)                       # ratings 2, 5, 4, 1
    assert s.details["complaints"] == 3 and s.details["open_complaints"] == 1
    g = kpi(tables, "satisfaction", by="gender").breakdown.set_index("gender")
    assert g.loc["F", "value"] == pytest.approx(11 / 3) and g.loc["M", "value"] == pytest.approx(1)

    c = kpi(tables, "complaint_rate")
    assert c.value == pytest.approx(3 / 7)                      # complaints per order
    assert c.details["per_100_customers"] == pytest.approx(75)
    cat = kpi(tables, "complaint_rate", by="category").breakdown.set_index("category")
    assert cat.loc["茶叶", "value"] == pytest.approx(1 / 4)    # G1 / A1 A2 A3 C1
    assert cat.loc["零食", "value"] == pytest.approx(1 / 2) and cat.loc["茶具", "value"] == 0

    t = kpi(tables, "resolution_time")                          # G1 2.0 d, G4 0.5 d, G5 4.0 d
    assert t.value == pytest.approx(6.5 / 3) and t.details["median_days"] == pytest.approx(2.0)
    assert t.details["open"] == 1
    # as of 03-12, G5 (resolved 03-14) is still open
    early = kpi(tables, "resolution_time", as_of="2024-03-12")
    assert early.value == pytest.approx(1.25) and early.details["open"] == 2
    assert kpi(tables, "complaint_rate", filters={"category": "茶叶"}).value == pytest.approx(1 / 4)


def test_charts_have_cjk_font_and_trace_types(tables):
    bar = kpi(tables, "sales", by="province").figure()
    assert isinstance(bar.data[0], go.Bar)
    assert "Noto Sans CJK SC" in bar.layout.font.family
    assert "销售额" in bar.layout.title.text and "Sales" in bar.layout.title.text
    line = kpi(tables, "sales", by="month").figure()
    assert isinstance(line.data[0], go.Scatter) and line.data[0].mode == "lines+markers"
    pie = charts.pie_chart(pd.DataFrame({"s": ["冠军客户", "新客户"], "n": [3, 1]}), "s", "n", "客户分群", "Segments")
    assert isinstance(pie.data[0], go.Pie) and pie.layout.font.family == charts.CJK_FONT
    assert kpi(tables, "sales").figure() is None


def test_unknown_names_and_json(tables):
    with pytest.raises(GuanxiError) as e:
        kpi(tables, "profit")
    assert "unknown metric 'profit'" in str(e.value)
    for name in METRICS:
        assert name in str(e.value)
    with pytest.raises(GuanxiError, match="province"):
        kpi(tables, "sales", by="colour")
    with pytest.raises(GuanxiError, match="customers table"):
        kpi({"orders": tables["orders"]}, "sales", by="province")
    r = kpi(tables, "sales", by="province")
    assert isinstance(r, KpiResult)
    d = r.to_dict()
    json.dumps(d, ensure_ascii=False)
    assert d["breakdown"][0] == {"province": "浙江省", "value": 700.0, "share": 0.7}   # sales needs no distinct counts
    aov = {row["province"]: row for row in kpi(tables, "aov", by="province").to_dict()["breakdown"]}
    assert aov["浙江省"]["orders"] == 4 and aov["浙江省"]["customers"] == 2 and aov["浙江省"]["value"] == 175.0
    assert METRICS["repurchase_rate"]["zh"] == "复购率"
