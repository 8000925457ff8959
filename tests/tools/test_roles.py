"""Role enforcement over every tool × role pair, in the tool layer (tools.registry.call_tool):
the agent is refused kpi / segment_summary / segment_members / at_risk_customers / draft_care_batch /
create_campaign with a message;
every other pair answers; only admin sees phone numbers and e-mail addresses in clear."""
from __future__ import annotations

import json
import re

import pytest

from tools import registry
from tools.registry import ToolDenied, call_tool

ROLES = ("manager", "agent", "admin")
AGENT_REFUSED = {"query_metrics", "segment_summary", "segment_members", "at_risk_customers", "draft_care_batch",
                 "create_campaign", "campaign_effect", "compare_campaigns"}
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@pytest.fixture(scope="module")
def tool_args(demo_ws) -> dict[str, dict]:
    """Valid arguments for every registered tool, from the demo workspace."""
    cust = demo_ws.table("customers")
    rfm = demo_ws.artefact("rfm")
    churn = demo_ws.artefact("churn")
    scored = set(churn["customer_id"].astype(str)) & set(rfm["customer_id"].astype(str))
    with_contacts = cust.loc[cust["phone"].notna() & cust["email"].notna()
                             & cust["customer_id"].astype(str).isin(scored), "customer_id"]
    cid = str(with_contacts.iloc[0])
    segment = str(rfm.loc[rfm["customer_id"].astype(str) == cid, "segment"].iloc[0])
    item = str(demo_ws.table("orders")["product_name"].value_counts().index[0])
    fb = demo_ws.table("feedback")
    fid = str(fb.loc[fb["kind"].eq("complaint") & fb["status"].eq("open"), "feedback_id"].iloc[0])
    return {
        "customer_profile": {"customer_id": cid},
        "rfm_lookup": {"customer_id": cid},
        "segment_summary": {"scheme": "segment"},
        "segment_members": {"segment": segment, "top": 5},
        "cluster_lookup": {"customer_id": cid},
        "churn_risk": {"customer_id": cid},
        "at_risk_customers": {"top": 5},
        "clv_estimate": {"customer_id": cid},
        "bought_together": {"item": item},
        "recommend_products": {"customer_id": cid},
        "query_metrics": {"metric": "sales", "by": "province"},
        "similar_complaints": {"text": "快递太慢了", "k": 3},
        "complaint_topics": {},
        "care_calendar": {"days": 30, "top": 10},
        "draft_care_message": {"customer_id": cid, "occasion": "winback"},
        "draft_care_batch": {"segment": segment, "occasion": "vip_thanks"},
        # these write events to the shared workspace's log: in progress stays open; a contact long ago caps nothing
        "update_complaint": {"feedback_id": fid, "status": "in_progress", "resolution": "跟进中"},
        "add_customer_note": {"customer_id": cid, "text": "prefers calls"},
        "mark_message_sent": {"customer_id": cid, "occasion": "birthday", "sent_at": "2020-01-05"},
        "contact_history": {"mode": "not_contacted", "days": 90},
        # a drafted campaign (nothing approved or sent): it changes no other tool's answer
        "create_campaign": {"target": "customers", "customer_ids": cid},
        "list_campaigns": {},
        "show_campaign": {},
        "campaign_effect": {},
        "compare_campaigns": {},
    }


@pytest.fixture(scope="module")
def contacts(demo_ws) -> tuple[set[str], set[str]]:
    c = demo_ws.table("customers")
    return set(c["phone"].dropna().astype(str)), set(c["email"].dropna().astype(str))


def test_every_registered_tool_is_covered(tool_args):
    assert set(registry.tool_names()) == set(tool_args)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("tool", sorted(registry.CORE_TOOLS))
def test_tool_role_pair(tool, role, tool_args, contacts, demo_settings):
    args = tool_args[tool]
    if role == "agent" and tool in AGENT_REFUSED:
        with pytest.raises(ToolDenied, match=rf"^role 'agent' may not use tool '{tool}'$"):
            call_tool(tool, args, settings=demo_settings, role=role)
        assert not registry.allowed(tool, role)
        return
    assert registry.allowed(tool, role)
    result = call_tool(tool, args, settings=demo_settings, role=role)
    text = json.dumps(result, ensure_ascii=False)
    assert result.get("provenance"), tool
    phones, emails = contacts
    if role != "admin":  # contacts masked everywhere in the result
        assert not set(PHONE.findall(text)) & phones, (tool, role)
        assert not set(EMAIL.findall(text)) & emails, (tool, role)


def test_admin_sees_contacts_in_clear(tool_args, contacts, demo_settings):
    phones, emails = contacts
    card = call_tool("customer_profile", tool_args["customer_profile"], settings=demo_settings, role="admin")
    assert card["phone"] in phones and card["email"] in emails
    listed = json.dumps(call_tool("at_risk_customers", {"top": 20}, settings=demo_settings, role="admin"))
    assert set(PHONE.findall(listed)) & phones


def test_the_assistant_reports_a_refusal_instead_of_an_answer(demo_settings):
    from assistant import Assistant
    out = Assistant(settings=demo_settings, role="agent").ask("哪些客户有流失风险？")
    call = out["tool_calls"][0]
    assert call["tool"] == "at_risk_customers" and call["result"]["refused"] is True
    assert "agent" in out["answer"]
