"""The app's rendering helpers, in process (no server): the customer card from the real
customer_profile result, answers without their provenance line, the complaint table."""
from __future__ import annotations

import re

import pytest

import app
from tools.registry import call_tool

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture(scope="module")
def cid(demo_ws) -> str:
    c = demo_ws.table("customers")
    return str(c.loc[c["phone"].notna(), "customer_id"].iloc[2])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_card_shows_every_part_of_the_profile(demo_settings, cid, lang):
    profile = call_tool("customer_profile", {"customer_id": cid}, settings=demo_settings, role="manager")
    md = app.render_card(profile, lang)
    assert cid in md and profile["name"] in md
    labels = (["RFM", "聚类", "流失概率", "CLV", "最近订单", "未解决投诉", "推荐商品"] if lang == "zh" else
              ["RFM", "Cluster", "Churn probability", "CLV", "Last orders", "Open complaints", "Recommended products"])
    for label in labels:
        if label in ("推荐商品", "Recommended products") and not profile.get("recommended_products"):
            continue
        assert label in md, label
    assert profile["phone"] in md.replace("\\*", "*") and not PHONE.search(md)
    assert f"{profile['churn']['churn_probability']:.0%}" in md
    assert "{" not in md  # no raw JSON


def test_an_unknown_customer_gives_a_message_not_a_card():
    assert app.render_card({"error": "no customer 'X'"}, "en").startswith("⚠")
    assert app.render_card(None, "zh") == app.t("card_empty", "zh")


def test_the_provenance_line_is_folded_not_repeated():
    assert app.split_answer("复购率为 66%。\n来源：kpi repurchase_rate") == "复购率为 66%。"
    assert app.split_answer("AOV 268.\nSource: kpi aov · orders") == "AOV 268."
    assert app.split_answer("no provenance here") == "no provenance here"


def test_the_complaint_table_speaks_the_interface_language():
    hits = [{"feedback_id": "FB1", "created_at": "2026-01-13T23:25:39", "customer_id": "C1", "kind": "complaint",
             "category": "茶叶", "status": "resolved", "text": "快递太慢", "resolution": "已退款", "score": 0.0321}]
    zh = app.complaints_table(hits, "zh")
    assert list(zh.columns)[:3] == ["编号", "日期", "客户"] and zh.iloc[0]["状态"] == "已解决"
    assert zh.iloc[0]["日期"] == "2026-01-13"
    en = app.complaints_table(hits, "en")
    assert en.iloc[0]["Status"] == "resolved" and en.iloc[0]["Resolution"] == "已退款"


def test_the_app_builds_over_a_workspace(demo_settings):
    import gradio as gr
    assert isinstance(app.build_app(demo_settings), gr.Blocks)
