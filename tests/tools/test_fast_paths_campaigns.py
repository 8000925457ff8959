"""The campaign, contact and at-risk tools' fast paths give the answers the customer-by-customer
computation gives, on copies of the demo workspace: the contact rules of a new campaign, the
campaigns read back from the event log, who was not contacted, the at-risk list."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from knowledge.events import EventLog
from knowledge.workspace import Workspace
from tools.campaigns import _shuffle  # noqa: I001 - the stdlib's shuffle, inlined: checked against it below
from tools.campaigns import (CHANNEL_CONTACT, EXCLUSION_REASONS, campaigns, contactable, reserved_customers,
                             create_campaign, has_contact, is_marketing, opted_out, recently_contacted, resolve_target)
from tools.campaigns_flow import approve_campaign
from tools.context import ToolContext, customers_by_id, match_place, resolve_segment, rfm_by_id
from tools.registry import call_tool


@pytest.fixture
def ws(routing_ws_copy) -> Workspace:
    return routing_ws_copy


def _day(ws, n: int) -> str:
    return (ws.as_of() - pd.Timedelta(days=n)).date().isoformat()


# ----------------------------------------------------------------------------- contact rules
class _Customers:
    """A workspace holding only a customers table (what `contactable` reads)."""

    def __init__(self, df: pd.DataFrame):
        self.df = df

    def table(self, name):
        return self.df


def test_the_contactable_customers_are_those_has_contact_accepts(routing_ws):
    odd = pd.DataFrame({"customer_id": [f"X{i}" for i in range(9)], "name": ["x"] * 9,
                        "phone": ["138 0013 8000", "１３８００１３８０００", "123-456", None, "tel: 1234567", "",
                                  "☎13800138000", "n/a", "0"],
                        "email": ["a@b.cn", "no-at", None, " x@y ", "＠full", "", "@", "mail@例子.中国", "a"]})
    for tables in (routing_ws, _Customers(odd), _Customers(odd.astype(object))):
        cust = customers_by_id(tables)
        for channel in ("sms", "wechat", "email"):
            col = CHANNEL_CONTACT[channel]
            want = {i for i, v in zip(cust.index, cust[col]) if has_contact({col: v}, channel)}
            assert set(contactable(tables, channel)) == want, channel
    assert set(contactable(_Customers(odd), "sms")) == {"X0", "X1", "X4", "X6"}


def _slow_rules(ws, ids: list[str], channel: str, occasion: str, cap_days: int) -> tuple[dict, dict]:
    """The contact rules as they were applied: customer by customer, has_contact on each row."""
    as_of = pd.Timestamp(ws.as_of()).normalize()
    cust = customers_by_id(ws)
    optout, _ = opted_out(ws)
    recent = recently_contacted(ws, as_of, cap_days)
    busy, held = reserved_customers(campaigns(ws), as_of)
    excluded = {r: [] for r in EXCLUSION_REASONS}
    eligible = []
    col = CHANNEL_CONTACT[channel]
    for i in ids:
        row = cust.loc[i] if i in cust.index else {}
        if i in optout:
            excluded["opt_out"].append(i)
        elif not has_contact({col: row.get(col)}, channel):
            excluded["no_contact"].append(i)
        elif is_marketing(occasion) and i in recent:
            excluded["frequency_cap"].append(i)
        elif i in busy:
            excluded["other_campaign"].append(i)
        elif i in held:
            excluded["control_elsewhere"].append(i)
        else:
            eligible.append(i)
    seg = rfm_by_id(ws)["segment"]
    return excluded, {i: (str(seg[i]) if i in seg.index and pd.notna(seg[i]) else "none") for i in eligible}


def test_a_campaigns_contact_rules_are_the_rules_applied_one_customer_at_a_time(ws):
    cust = ws.table("customers").copy()
    ids = cust["customer_id"].astype(str).tolist()
    cust.loc[cust["customer_id"].isin(ids[:15]), "opt_out"] = "退订"
    cust.loc[cust["customer_id"].isin(ids[15:30]), "phone"] = None
    cust.loc[cust["customer_id"].isin(ids[25:45]), "email"] = "not an address"
    new = cust.tail(3).assign(customer_id=["N1", "N2", "N3"], phone=["13800000001", "☎１３８００１３８０００", "12"], opt_out=None)
    ws.write_table("customers", pd.concat([cust, new], ignore_index=True))   # customers with no order: no RFM row
    rfm = ws.artefact("rfm")
    rfm.loc[rfm["customer_id"].astype(str).isin(ids[60:64]), "segment"] = None   # and RFM rows with no segment
    ws.write_artefact("rfm", rfm)
    ws = Workspace(ws.root)
    (ws.root / "opt_out.txt").write_text(f"{ids[50]}\n{ids[51]}\n", encoding="utf-8")
    EventLog.of(ws).append_many([("contact", "mia", i, {"campaign_id": None, "channel": "sms", "occasion": "winback",
                                                        "marketing": n % 2 == 0, "sent_at": _day(ws, n % 10)})
                                 for n, i in enumerate(ids[40:90])])
    first = create_campaign(ws, actor="mia", role="manager", target_kind="at_risk", target_spec={"top": 120})
    approve_campaign(ws, first.id, actor="mia", role="manager")
    for kind, spec, channel, occasion in (("segment", {"segment": "all"}, "sms", "vip_thanks"),
                                          ("segment", {"segment": "all"}, "email", "complaint_followup"),
                                          ("at_risk", {"top": 300}, "wechat", "winback"),
                                          ("segment", {"segment": "Champions", "city": "上海"}, "sms", "festival")):
        want_excluded, want_segments = _slow_rules(ws, resolve_target(ws, kind, spec).ids, channel, occasion, 7)
        c = create_campaign(ws, actor="mia", role="manager", target_kind=kind, target_spec=spec, channel=channel,
                            occasion=occasion, seed=11)
        assert c.excluded == want_excluded, (kind, channel)
        assert c.segment_of == want_segments and sorted(c.treated + c.control) == sorted(want_segments)
        assert any(want_excluded.values())
        if spec == {"segment": "all"} and channel == "sms":
            assert {"N1", "N2"} <= set(want_segments) and "N3" in want_excluded["no_contact"]
            assert {want_segments[i] for i in ("N1", *ids[60:64]) if i in want_segments} == {"none"}


def test_the_control_group_is_drawn_by_the_standard_shuffle():
    import random

    from tools.campaigns import holdout_split
    for n in (0, 1, 2, 5, 64, 1000, 70_000):
        for seed in ("1|Champions", "977|none"):
            mine, std = list(range(n)), list(range(n))
            _shuffle(mine, random.Random(seed))
            random.Random(seed).shuffle(std)
            assert mine == std, (n, seed)
    ids = [f"C{i:05d}" for i in range(3000)]
    seg = {i: ("Champions", "At Risk", "Loyal", "Hibernating")[n % 4 if n < 2990 else 3] for n, i in enumerate(ids)}
    control: set = set()
    groups: dict = {}
    for i in ids:
        groups.setdefault(seg[i], []).append(i)
    treated, held = holdout_split(ids, seg, 0.1, seed=42)
    quota = {g: sum(seg[i] == g for i in held) for g in groups}
    for g, members in groups.items():   # as it was drawn: random.shuffle of the sorted members
        pool = sorted(members)
        random.Random(f"42|{g}").shuffle(pool)
        control.update(pool[: quota[g]])
    assert held == [i for i in ids if i in control] and len(held) == 300


# ----------------------------------------------------------------------------- the campaigns read back
def test_the_campaigns_read_back_are_those_of_the_logs_rows(ws):
    from tools.campaign_effect import campaigns_from_events
    from tools.campaigns import campaign
    sent = _day(ws, 40)
    EventLog.of(ws).append("campaign_created", "mia", "cmp-x", {
        "name": "ids as numbers", "treated": [101, 102], "control": [103], "segment_of": {101: "Champions"}},
        at=f"{sent} 08:00:00")
    EventLog.of(ws).append("campaign_sent", "mia", "cmp-x", {"sent_at": sent, "customers": [101]})
    first = create_campaign(ws, actor="mia", role="manager", target_kind="at_risk", target_spec={"top": 50})
    kinds = ("campaign_created", "campaign_approved", "campaign_sent", "campaign_cancelled")
    got = {c.id: c for c in campaigns_from_events(EventLog.of(ws).events(kind=kinds))}
    x = got["cmp-x"]
    assert (x.treated, x.control, x.segment_of, x.sent_to) == (["101", "102"], ["103"], {"101": "Champions"}, ["101"])
    assert got[first.id].treated == first.treated and got[first.id].segment_of == first.segment_of
    assert campaign(ws, first.id.upper()).id == first.id and campaigns(ws)[0].id == first.id


# ----------------------------------------------------------------------------- who was not contacted
def _slow_not_contacted(ws, days: int, active_days: int, top: int) -> dict:
    """contact_history(mode="not_contacted") as it was computed: the active customers not contacted, sorted."""
    from tools import service_log as sl
    from tools.contact_tools import _active_customers, _customer_value
    cf = sl.contacts_frame(EventLog.of(ws))
    since = (pd.Timestamp(date.today()) - pd.Timedelta(days=days - 1)).strftime("%Y-%m-%d")
    active = _active_customers(ws, ws.as_of(), active_days)
    last = cf.groupby("customer_id")["sent_at"].max() if len(cf) else pd.Series(dtype=object)
    todo = active[~active.isin(list(set(last[last >= since].index)))]
    value, _ = _customer_value(ws)
    v = value.reindex(todo).fillna(0.0)
    order = v.sort_values(ascending=False, kind="stable").index[:top]
    return {"active_customers": len(active), "contacted": len(active) - len(todo), "not_contacted": len(todo),
            "never_contacted": int((~todo.isin(last.index)).sum()),
            "customers": [(c, last.get(c), round(float(v[c]), 2)) for c in order]}


def test_who_was_not_contacted_is_the_active_customers_sorted_without_the_contacted(ws, routing_settings):
    from tools.contact_tools import _customer_value
    value, _ = _customer_value(ws)
    best = value.sort_values(ascending=False).index.tolist()
    today = date.today()
    sent = lambda n: (pd.Timestamp(today) - pd.Timedelta(days=n)).strftime("%Y-%m-%d")  # noqa: E731
    EventLog.of(ws).append_many([("contact", "mia", c, {"campaign_id": None, "channel": "sms", "occasion": "winback",
                                                        "marketing": True, "sent_at": sent(n * 9)})
                                 for n, c in enumerate(best[:40:2] + best[100:110])])
    ctx = ToolContext(routing_settings, role="admin", workspace=ws)
    seen = []
    for days, active_days, top in ((90, 365, 20), (30, 365, 50), (7, 90, 500), (365, 30, 5)):
        seen.append(got := call_tool("contact_history", {"mode": "not_contacted", "days": days, "active_days": active_days,
                                            "top": top}, ctx=ctx))
        want = _slow_not_contacted(ws, days, active_days, top)
        assert {k: got[k] for k in ("active_customers", "contacted", "not_contacted", "never_contacted")} == \
            {k: want[k] for k in ("active_customers", "contacted", "not_contacted", "never_contacted")}
        assert [(c["customer_id"], c["last_contact"], c["value"]) for c in got["customers"]] == want["customers"]
    assert seen[1]["contacted"] and seen[1]["never_contacted"] < seen[1]["not_contacted"]   # contacted before the window


# ----------------------------------------------------------------------------- the at-risk list
def _slow_at_risk(ws, top=20, province=None, city=None, segment=None, min_probability=None) -> dict:
    """at_risk_customers as it was computed: the filtered frame, everyone ranked, the filter realigned."""
    from tools.segment_tools import _at_risk_frame, _rank_at_risk
    everyone = _at_risk_frame(ws)
    keep = match_place(everyone["province"], province) & match_place(everyone["city"], city)
    if segment:
        col, value = resolve_segment(segment)
        keep &= everyone[col] == value
    df = everyone.loc[keep]
    threshold = 0.5 if min_probability is None else float(min_probability)
    ranked = _rank_at_risk(everyone, threshold)
    listed = ranked.loc[keep.reindex(ranked.index).to_numpy(bool)]
    if min_probability is not None:
        listed = listed.loc[listed["churn_probability"].to_numpy() >= threshold]
    return {"count_at_risk": int((df["churn_probability"] >= threshold).sum()), "customers_considered": len(df),
            "ids": listed.head(top).index.tolist()}


@pytest.mark.parametrize("args", [{}, {"top": 200}, {"province": "浙江省"}, {"city": "上海", "top": 50},
                                  {"segment": "At Risk", "top": 100}, {"min_probability": 0.7, "top": 300},
                                  {"segment": "重要挽留客户", "min_probability": 0.2}])
def test_the_at_risk_list_is_everyone_ranked_then_filtered(routing_settings, args):
    ctx = ToolContext(routing_settings, role="admin")
    got = call_tool("at_risk_customers", args, ctx=ctx)
    want = _slow_at_risk(ctx.ws, **args)
    assert (got["count_at_risk"], got["customers_considered"]) == (want["count_at_risk"], want["customers_considered"])
    assert [c["customer_id"] for c in got["customers"]] == want["ids"] and (want["ids"] or not args)
