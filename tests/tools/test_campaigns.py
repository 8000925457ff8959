"""Campaigns: targets, contact rules (every exclusion counted), the seeded control group, the steps
drafted → approved → exported → sent, and the chat tools — on a copy of the session's small demo
workspace (the shared one is never written to)."""
from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest

from knowledge.events import EventLog
from knowledge.workspace import Workspace
from tools.campaigns import campaign, campaigns, create_campaign, holdout_split, is_opt_out, resolve_target
from tools.campaigns_flow import (approve_campaign, campaign_drafts, cancel_campaign, check_offer, export_campaign,
                                  mark_sent)
from tools.context import ToolContext, ToolError


@pytest.fixture
def ws(routing_ws_copy) -> Workspace:
    return routing_ws_copy


def _new(ws, kind="at_risk", spec=None, **kw):
    return create_campaign(ws, actor="mia", role="manager", target_kind=kind, target_spec=spec or {"top": 60}, **kw)


def _ids(ws, n):
    cust = ws.table("customers")
    return cust.loc[cust["phone"].notna() & cust["email"].notna(), "customer_id"].astype(str).head(n).tolist()


# ----------------------------------------------------------------------------- the control group
def test_the_holdout_is_seeded_sized_and_spread_over_the_segments():
    ids = [f"C{i:04d}" for i in range(500)]
    seg = {i: ("Champions" if n % 5 == 0 else "At Risk" if n % 5 in (1, 2) else "Loyal") for n, i in enumerate(ids)}
    treated, control = holdout_split(ids, seg, 0.1, seed=7)
    assert len(control) == 50 and not set(treated) & set(control) and sorted(treated + control) == sorted(ids)
    for name in ("Champions", "At Risk", "Loyal"):
        members = [i for i in ids if seg[i] == name]
        assert abs(sum(seg[i] == name for i in control) - 0.1 * len(members)) <= 1, name
    assert holdout_split(ids, seg, 0.1, seed=7) == (treated, control)          # the same seed, the same split
    assert holdout_split(ids, seg, 0.1, seed=8)[1] != control
    assert holdout_split(ids, seg, 0.0, seed=7) == (ids, [])


def test_a_small_segment_still_adds_up_to_the_rounded_share():
    ids = [f"C{i}" for i in range(23)]
    seg = {i: f"s{n % 7}" for n, i in enumerate(ids)}    # seven segments of 3-4: each 0.3 of a person
    assert len(holdout_split(ids, seg, 0.1, seed=1)[1]) == 2


# ----------------------------------------------------------------------------- targets
def test_the_at_risk_target_is_the_churn_tools_list(ws):
    from tools.segment_tools import at_risk_customers
    from knowledge.settings import Settings
    listed = at_risk_customers(top=25, ctx=ToolContext(Settings.load(env={}, workspace=ws.root), workspace=ws))
    assert resolve_target(ws, "at_risk", {"top": 25}).ids == [c["customer_id"] for c in listed["customers"]]


def test_a_metric_style_target_is_the_place_and_the_days_since_the_last_order(ws):
    orders, cust = ws.table("orders"), ws.table("customers")
    city = cust["city"].value_counts().index[0]
    last = orders.groupby("customer_id")["order_date"].max()
    quiet = (ws.as_of() - pd.to_datetime(last).dt.normalize()).dt.days
    want = set(quiet.index[quiet >= 90].astype(str)) & set(cust.loc[cust["city"] == city, "customer_id"].astype(str))
    t = resolve_target(ws, "metric_query", {"city": city, "min_days_since_order": 90})
    assert want and set(t.ids) == want
    assert "90" in t.description_zh and city in t.description_zh


def test_segment_cn8_cluster_and_explicit_ids_are_targets(ws):
    rfm = ws.artefact("rfm")
    cn8 = rfm["segment_cn8"].value_counts().index[0]
    t = resolve_target(ws, "segment", {"segment": cn8})
    assert t.kind == "cn8" and set(t.ids) == set(rfm.loc[rfm["segment_cn8"] == cn8, "customer_id"].astype(str))
    assert len(resolve_target(ws, "segment", {"segment": "所有客户"}).ids) == ws.table("customers")["customer_id"].nunique()
    ids = _ids(ws, 3)
    assert resolve_target(ws, "customers", {"ids": ", ".join(i.lower() for i in ids)}).ids == ids
    with pytest.raises(ToolError, match="unknown customer id.*NOPE1"):
        resolve_target(ws, "customers", {"ids": [ids[0], "NOPE1"]})
    clusters = ws.artefact("clusters")
    one = clusters["cluster"].iloc[0]
    assert set(resolve_target(ws, "cluster", {"cluster": str(one)}).ids) == set(
        clusters.loc[clusters["cluster"] == one, "customer_id"].astype(str))


# ----------------------------------------------------------------------------- contact rules
def test_opted_out_customers_are_never_targeted_and_are_counted(ws):
    ids = _ids(ws, 12)
    cust = ws.table("customers").copy()
    cust["opt_out"] = None
    cust.loc[cust["customer_id"].isin(ids[:2]), "opt_out"] = "拒收"
    cust.loc[cust["customer_id"] == ids[2], "opt_out"] = "否"
    ws.write_table("customers", cust)
    ws = Workspace(ws.root)
    (ws.root / "opt_out.txt").write_text(f"# unsubscribed by phone\n{ids[3]}\nC-NOT-A-CUSTOMER\n", encoding="utf-8")
    c = _new(ws, "customers", {"ids": ids}, holdout_share=0.0)
    assert sorted(c.excluded["opt_out"]) == sorted(ids[:2] + [ids[3]])
    assert ids[2] in c.treated and not set(c.excluded["opt_out"]) & set(c.treated + c.control)
    assert c.counts()["excluded"]["opt_out"] == 3
    assert any("opt_out.txt: 1 (1 ids not in" in s for s in c.opt_out_sources)


@pytest.mark.parametrize("value, out", [("拒收", True), ("退订", True), ("Yes", True), ("1", True), (True, True),
                                        ("否", False), ("0", False), ("", False), (None, False), (float("nan"), False)])
def test_an_opt_out_cell(value, out):
    assert is_opt_out(value) is out


def test_the_opt_out_column_survives_the_ingest_with_its_chinese_header():
    from knowledge.clean import clean_customers
    from knowledge.headers import match_headers
    assert match_headers(["客户编号", "姓名", "拒收短信"], "customers")["opt_out"] == "拒收短信"
    raw = pd.DataFrame({"customer_id": ["C1", "C2"], "name": ["王芳", "李雷"], "opt_out": ["是", None]})
    led = clean_customers(raw, pd.Timestamp("2026-11-01"))[0]
    kept = led.df.set_index("customer_id")["opt_out"]
    assert kept["C1"] == "是" and pd.isna(kept["C2"])


def test_the_frequency_cap_counts_recent_marketing_contacts_only(ws):
    ids = _ids(ws, 6)
    day = lambda n: (ws.as_of() - pd.Timedelta(days=n)).date().isoformat()   # noqa: E731
    EventLog.of(ws).append_many([
        ("contact", "mia", ids[0], {"campaign_id": None, "channel": "sms", "occasion": "winback", "marketing": True,
                                    "sent_at": day(3)}),
        ("contact", "mia", ids[1], {"campaign_id": None, "channel": "sms", "occasion": "winback", "marketing": True,
                                    "sent_at": day(7)}),       # a week ago: may be messaged again
        ("contact", "mia", ids[2], {"campaign_id": None, "channel": "sms", "occasion": "complaint_followup",
                                    "marketing": False, "sent_at": day(1)}),   # service, not marketing
        ("contact", "mia", ids[3], {"campaign_id": None, "channel": "sms", "occasion": "winback", "marketing": True,
                                    "sent_at": day(-20)})])    # sent after the data's as-of date
    c = _new(ws, "customers", {"ids": ids}, holdout_share=0.0, cap_days=7)
    assert sorted(c.excluded["frequency_cap"]) == sorted([ids[0], ids[3]])
    assert set(ids[1:3]) <= set(c.treated)
    assert _new(ws, "customers", {"ids": ids}, holdout_share=0.0, cap_days=0).excluded["frequency_cap"] == []


def test_customers_without_the_channels_contact_are_left_out_and_counted(ws):
    ids = _ids(ws, 5)
    cust = ws.table("customers").copy()
    cust.loc[cust["customer_id"] == ids[0], "email"] = None
    ws.write_table("customers", cust)
    ws = Workspace(ws.root)
    by_mail = _new(ws, "customers", {"ids": ids}, channel="email", holdout_share=0.0)
    assert by_mail.excluded["no_contact"] == [ids[0]] and ids[0] in _new(
        ws, "customers", {"ids": ids}, channel="sms", holdout_share=0.0).treated


def test_a_control_group_and_an_approved_campaign_keep_their_customers(ws):
    first = _new(ws, spec={"top": 80})
    approve_campaign(ws, first.id, actor="mia", role="manager")
    second = _new(ws, spec={"top": 80})
    assert sorted(second.excluded["other_campaign"]) == sorted(first.treated)
    assert sorted(second.excluded["control_elsewhere"]) == sorted(first.control)
    assert second.treated == [] and any("excluded" in w for w in second.warnings)


# ----------------------------------------------------------------------------- the steps
def test_the_steps_run_in_order_and_an_early_step_is_refused_with_the_state(ws):
    c = _new(ws)
    assert c.state == "drafted" and len(c.treated) + len(c.control) == 60 and len(c.control) == 6
    assert set(c.segment_of) == set(c.treated + c.control)
    for step in (lambda: export_campaign(ws, c.id, actor="mia", role="manager"),
                 lambda: mark_sent(ws, c.id, actor="mia", role="manager")):
        with pytest.raises(ToolError, match="drafted.*next step: approve it"):
            step()
    drafts = campaign_drafts(ws, c)
    assert [d["customer_id"] for d in drafts] == c.treated and all(d["text"] and d["sources"] for d in drafts)
    who = c.treated[0]
    approve_campaign(ws, c.id, actor="mia", role="manager", edits={who: '=HYPERLINK("http://x","点我") 回来看看'})
    with pytest.raises(ToolError, match="approved.*next step: export it"):
        approve_campaign(ws, c.id, actor="mia", role="manager")
    csv = export_campaign(ws, c.id, actor="mia", role="manager", fmt="csv", send_hours="09:00-20:30")
    table = pd.read_csv(csv["path"], dtype=str, encoding="utf-8-sig").set_index("customer_id")
    assert list(table.index) == c.treated and csv["masked"]
    assert set(table["send_not_before"]) == {"09:00"} and set(table["send_not_after"]) == {"20:30"}  # quiet time
    assert table.loc[who, "text"].startswith("'=HYPERLINK")                    # never a formula
    phones = set(ws.table("customers")["phone"].dropna().astype(str))
    assert not set(table["phone"].dropna()) & phones and table["phone"].str.contains(r"\*").all()
    xlsx = export_campaign(ws, c.id, actor="mia", role="admin", fmt="xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(open(xlsx["path"], "rb").read())).active
    head = [x.value for x in sheet[1]]
    cell = next(r[head.index("text")] for r in sheet.iter_rows(min_row=2) if r[head.index("customer_id")].value == who)
    assert cell.data_type == "s" and cell.value.startswith("'=") and not xlsx["masked"]
    sent = mark_sent(ws, c.id, actor="mia", role="manager", sent_at="2026-11-03", not_sent=[c.treated[-1]])
    assert sent.state == "sent" and sent.sent["customers"] == c.treated[:-1]
    contacts = [e for e in EventLog.of(ws).events(kind="contact") if e.payload["campaign_id"] == c.id]
    assert sorted(e.subject for e in contacts) == sorted(c.treated[:-1])
    assert {e.payload["sent_at"] for e in contacts} == {"2026-11-03"} and all(e.payload["marketing"] for e in contacts)
    log = EventLog.of(ws).events(subject=c.id)
    assert [e.kind for e in log] == ["campaign_created", "campaign_approved", "campaign_exported", "campaign_exported",
                                     "campaign_sent"]
    with pytest.raises(ToolError, match="sent.*cannot cancel"):
        cancel_campaign(ws, c.id, actor="mia", role="manager")


def test_the_approved_texts_are_what_is_exported_even_after_a_rebuild_changes_the_data(ws):
    c = _new(ws, spec={"top": 10})
    approve_campaign(ws, c.id, actor="mia", role="manager")
    approved = {d["customer_id"]: d["text"] for d in campaign_drafts(ws, c.id)}
    cust = ws.table("customers").copy()
    cust["name"] = "新名字"
    ws.write_table("customers", cust)
    out = export_campaign(ws := Workspace(ws.root), c.id, actor="mia", role="manager")
    got = pd.read_csv(out["path"], dtype=str, encoding="utf-8-sig").set_index("customer_id")["text"].to_dict()
    assert got == approved


def test_bad_edits_and_a_cancelled_campaign_are_refused_clearly(ws):
    c = _new(ws, spec={"top": 10})
    with pytest.raises(ToolError, match="not a treated customer"):
        approve_campaign(ws, c.id, actor="mia", role="manager", edits={c.control[0] if c.control else "X": "hi"})
    with pytest.raises(ToolError, match="the text is empty"):
        approve_campaign(ws, c.id, actor="mia", role="manager", edits={c.treated[0]: "  "})
    cancel_campaign(ws, c.id, actor="mia", role="manager", reason="wrong list")
    assert campaign(ws, c.id).state == "cancelled"
    with pytest.raises(ToolError, match="cancelled"):
        approve_campaign(ws, c.id, actor="mia", role="manager")
    with pytest.raises(ToolError, match="no campaign 'cmp-nope'"):
        campaign(ws, "cmp-nope")


def test_an_agent_may_look_but_not_create_approve_export_or_mark_sent(ws):
    c = _new(ws, spec={"top": 10})
    for step in (lambda: create_campaign(ws, actor="al", role="agent", target_kind="at_risk", target_spec={"top": 5}),
                 lambda: approve_campaign(ws, c.id, actor="al", role="agent"),
                 lambda: export_campaign(ws, c.id, actor="al", role="agent"),
                 lambda: mark_sent(ws, c.id, actor="al", role="agent")):
        with pytest.raises(ToolError, match="only a manager or admin"):
            step()
    assert [x.id for x in campaigns(ws)] == [c.id]


def test_an_offer_only_when_it_is_valid_on_the_occasions_date(ws):
    as_of = ws.as_of().date()
    (ws.root / "offers.toml").write_text(
        '[[offers]]\nid = "OLD"\noccasions = ["winback"]\ntext_zh = "回归立减 10 元"\ntext_en = "10 off"\n'
        f'valid_until = {(as_of - pd.Timedelta(days=1)).isoformat()}\n'
        '[[offers]]\nid = "BACK"\noccasions = ["winback"]\ntext_zh = "回归立减 20 元"\ntext_en = "20 off"\n'
        f'valid_until = {(as_of + pd.Timedelta(days=30)).isoformat()}\n', encoding="utf-8")
    with pytest.raises(ToolError, match="offer OLD is not valid on"):
        check_offer(ws, "OLD", "winback", None, ws.as_of())
    with pytest.raises(ToolError, match="no offer 'NOPE'.*OLD, BACK"):
        check_offer(ws, "NOPE", "winback", None, ws.as_of())
    c = _new(ws, spec={"top": 20}, offer="back")
    assert c.offer == "BACK"
    drafts = campaign_drafts(ws, c)
    assert {d["offer_id"] for d in drafts} <= {"BACK", None} and any(d["offer_id"] == "BACK" for d in drafts)
    assert not any("10 元" in d["text"] for d in drafts)


# ----------------------------------------------------------------------------- from chat
@pytest.fixture
def settings(ws):
    from knowledge.settings import Settings
    return Settings.load(env={}, config_file=ws.root / "none.toml", workspace=ws.root)


def test_a_campaign_created_from_chat_is_a_draft_and_the_answer_says_what_was_targeted(settings, ws):
    from assistant import Assistant
    out = Assistant(settings=settings, role="manager", user="mia").ask("给流失风险最高的 50 个客户做一次挽回活动")
    call = out["tool_calls"][0]
    assert call["tool"] == "create_campaign" and call["args"]["top"] == 50, out["tool_calls"]
    c = campaign(ws, call["result"]["campaign_id"])
    assert c.state == "drafted" and c.created_by == "mia" and c.occasion == "winback"
    assert len(c.treated) + len(c.control) + c.counts()["excluded_total"] == 50
    assert f"对照组：{len(c.control)} 位" in out["answer"] and "营销活动" in out["answer"] and c.id in out["answer"]
    en = Assistant(settings=settings, role="agent").ask("what campaigns have we run?")
    assert en["tool_calls"][0]["tool"] == "list_campaigns" and c.id in en["answer"]
    shown = Assistant(settings=settings, role="agent").ask(f"show campaign {c.id}")
    assert shown["tool_calls"][0]["tool"] == "show_campaign" and "drafted" in shown["answer"]
    refused = Assistant(settings=settings, role="agent").ask("给流失风险最高的 50 个客户做一次挽回活动")
    assert refused["tool_calls"][0]["result"]["refused"] is True
    assert len(campaigns(ws)) == 1


@pytest.mark.parametrize("hours, ok", [("08:00-21:00", True), ("9:00-20:00", False), ("21:00-08:00", False),
                                       ("00:00-24:00", True), ("08:00-25:00", False), ("evening", False)])
def test_the_send_hours_setting_is_a_window_within_one_day(hours, ok):
    from knowledge.errors import GuanxiError
    from knowledge.settings import Settings
    if ok:
        assert Settings.load(env={}, campaign_send_hours=hours).campaign_send_hours == hours
    else:
        with pytest.raises(GuanxiError, match="campaign_send_hours.*HH:MM-HH:MM"):
            Settings.load(env={}, campaign_send_hours=hours)


def test_a_step_raced_by_another_session_does_not_count_twice(ws):
    c = _new(ws, spec={"top": 10})
    approve_campaign(ws, c.id, actor="mia", role="manager")
    # a second approval written by a session that read the campaign before the first one committed
    EventLog.of(ws).append("campaign_approved", "bob", c.id, {"approved_by_role": "manager", "edits": {},
                                                              "texts": {i: "late" for i in c.treated}})
    again = campaign(ws, c.id)
    assert again.approved["actor"] == "mia" and [h["actor"] for h in again.history] == ["mia", "mia"]
    assert {d["text"] for d in campaign_drafts(ws, c.id)} != {"late"}


def test_two_sessions_marking_one_campaign_sent_at_once_write_its_contacts_once(ws, monkeypatch):
    import tools.campaigns_flow as flow
    c = _new(ws, spec={"top": 10})
    approve_campaign(ws, c.id, actor="mia", role="manager")
    export_campaign(ws, c.id, actor="mia", role="manager")
    stale = campaign(ws, c.id)            # what the second session read before the first one committed
    mark_sent(ws, c.id, actor="mia", role="manager", sent_at="2026-11-03")
    monkeypatch.setattr(flow, "campaign", lambda ws_, cid: stale if cid == c.id and stale.state == "exported" else campaign(ws_, cid))
    with pytest.raises(ToolError, match="cannot mark it sent"):
        mark_sent(ws, c.id, actor="bob", role="manager", sent_at="2026-11-03")
    log = EventLog.of(ws)
    assert len(log.events(kind="campaign_sent", subject=c.id)) == 1
    contacts = [e for e in log.events(kind="contact") if e.payload.get("campaign_id") == c.id]
    assert sorted(e.subject for e in contacts) == sorted(c.treated) and {e.actor for e in contacts} == {"mia"}
