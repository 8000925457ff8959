"""Complaint search and topics limited to a group of customers ("哪些男性客户投诉过物流慢", "冠军客户投诉最多的问题")."""
from __future__ import annotations

import pandas as pd

from assistant.answers import render
from tools.registry import call_tool


def _complainers(ws) -> pd.DataFrame:
    fb = ws.table("feedback")
    fb = fb[fb["kind"].astype(str) == "complaint"].assign(customer_id=lambda d: d["customer_id"].astype(str))
    cust = ws.table("customers").assign(customer_id=lambda d: d["customer_id"].astype(str)).set_index("customer_id")
    return fb.assign(gender=fb["customer_id"].map(cust["gender"]))


def test_complaint_search_keeps_the_groups_complaints_only(demo_settings, demo_ws):
    fb = _complainers(demo_ws)
    r = call_tool("similar_complaints", {"text": "物流慢", "gender": "M", "k": 10}, settings=demo_settings, role="manager")
    men = set(fb.loc[fb["gender"] == "M", "feedback_id"].astype(str))
    assert r["hits"] and {str(h["feedback_id"]) for h in r["hits"]} <= men
    assert r["matched"] == len(men) and r["customer_conditions"] == {"gender": "M"}
    assert "男性的客户" in render("similar_complaints", r, "zh")
    assert len(r["provenance"]) < 2000   # the group's ids are said as a number


def test_complaint_topics_of_a_gender_and_of_a_segment(demo_settings, demo_ws):
    fb = _complainers(demo_ws)
    women = call_tool("complaint_topics", {"gender": "F"}, settings=demo_settings, role="manager")
    everyone = call_tool("complaint_topics", {}, settings=demo_settings, role="manager")
    assert women["total"] == int((fb["gender"] == "F").sum()) < everyone["total"]
    assert "female" in render("complaint_topics", women, "en")
    rfm = demo_ws.artefact("rfm")
    champions = set(rfm.loc[rfm["segment"] == "Champions", "customer_id"].astype(str))
    r = call_tool("complaint_topics", {"segment": "Champions"}, settings=demo_settings, role="manager")
    assert r["total"] == int(fb["customer_id"].isin(champions).sum())
    assert "Champions" in render("complaint_topics", r, "zh")
