"""The demo's planted campaigns: the truth in the manifest, the extra orders in the orders file, the
events in the workspace's log — written once, whatever the number of rebuilds."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from knowledge.demo import generate_demo
from knowledge.demo_campaigns import WINBACK_UPLIFT, plant_campaigns, write_campaign_events
from knowledge.errors import GuanxiError
from knowledge.events import EventLog


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    generate_demo(raw, customers=1000, seed=3)
    before = pd.read_csv(raw / "orders.csv", dtype=str)
    truth = plant_campaigns(raw)
    return raw, before, truth


def test_the_manifest_says_what_was_planted(planted):
    raw, before, truth = planted
    m = json.loads((raw / "manifest.json").read_text(encoding="utf-8"))
    assert m["truth"]["campaigns"] == truth
    by = {c["key"]: c for c in truth}
    assert set(by) == {"winback", "festival", "vip_thanks"}
    assert by["winback"]["planted_uplift_repurchase"] == WINBACK_UPLIFT and by["festival"]["planted_uplift_repurchase"] == 0
    for c in truth:
        assert len(c["treated"]) == c["n_treated"] and len(c["control"]) == c["n_control"]
        assert not set(c["treated"]) & set(c["control"])
        assert c["id"].startswith("cmp-" + c["sent_at"].replace("-", ""))
    assert by["winback"]["window_complete"] and by["festival"]["window_complete"] and not by["vip_thanks"]["window_complete"]
    # the groups are big enough to see +10 points at the default scale (~24 % of the customers each)
    assert by["winback"]["n_treated"] + by["winback"]["n_control"] >= 0.2 * 1000


def test_the_extra_orders_are_the_winback_treated_customers_in_the_window(planted):
    raw, before, truth = planted
    after = pd.read_csv(raw / "orders.csv", dtype=str)
    extra = after.iloc[len(before):]
    assert after.iloc[:len(before)].equals(before)               # the generated lines are untouched
    wb = next(c for c in truth if c["key"] == "winback")
    m = json.loads((raw / "manifest.json").read_text(encoding="utf-8"))
    assert len(extra) == wb["extra_orders"] == m["planted"]["campaign_orders"]["count"] > 0
    assert set(extra["customer_id"]) <= set(wb["treated"])
    days = pd.to_datetime(extra["order_date"]).dt.normalize()
    sent = pd.Timestamp(wb["sent_at"])
    assert (days > sent).all() and (days <= sent + pd.Timedelta(days=wb["window_days"])).all()
    assert not set(extra["order_id"]) & set(before["order_id"]) and extra["order_id"].is_unique
    assert m["rows"]["orders"] == len(after)


def test_planting_twice_is_refused(planted):
    raw, _, _ = planted
    with pytest.raises(GuanxiError, match="already planted"):
        plant_campaigns(raw)


def test_the_same_files_give_the_same_campaigns(tmp_path, planted):
    _, _, truth = planted
    generate_demo(tmp_path, customers=1000, seed=3)
    assert plant_campaigns(tmp_path) == truth


def test_the_events_follow_the_contract_and_are_written_once(tmp_path, planted):
    _, _, truth = planted
    log = EventLog(tmp_path / "events.sqlite")
    segs = {cid: "At Risk" for c in truth for cid in c["treated"] + c["control"]}
    assert write_campaign_events(log, truth, segment_of=lambda as_of: segs) == [c["id"] for c in truth]
    n = log.count()
    assert write_campaign_events(log, truth, segment_of=lambda as_of: segs) == []   # a rebuild adds nothing
    assert log.count() == n
    wb = next(c for c in truth if c["key"] == "winback")
    created = log.events(kind="campaign_created", subject=wb["id"])[0]
    assert created.at == wb["created_at"]
    assert created.payload["treated"] == wb["treated"] and created.payload["control"] == wb["control"]
    assert set(created.payload["segment_of"]) == set(wb["treated"]) | set(wb["control"])
    assert {"name", "target", "occasion", "channel", "holdout_share", "as_of", "excluded"} <= set(created.payload)
    sent = log.events(kind="campaign_sent", subject=wb["id"])[0]
    assert sent.payload == {"sent_at": wb["sent_at"], "customers": wb["treated"]}
    contacts = [e for e in log.events(kind="contact") if e.payload["campaign_id"] == wb["id"]]
    assert sorted(e.subject for e in contacts) == wb["treated"]
    assert all(e.payload["marketing"] is True and e.payload["sent_at"] == wb["sent_at"] for e in contacts)
    # the steps in order, so the campaign pages read them as sent, not as waiting for an export
    assert [e.kind for e in log.events(subject=wb["id"])] == ["campaign_created", "campaign_approved",
                                                              "campaign_exported", "campaign_sent"]


def test_the_demo_build_writes_the_campaign_events(routing_ws, tmp_path):
    truth = json.loads((routing_ws.raw_dir / "manifest.json").read_text(encoding="utf-8"))["truth"]["campaigns"]
    log = EventLog.of(routing_ws)
    assert [e.subject for e in log.events(kind="campaign_created")][:3] == [c["id"] for c in truth]
    # the build's own idempotence, on a copy of the log (the session workspace stays as it is)
    for suffix in ("", "-wal"):
        if routing_ws.events_path.with_name(routing_ws.events_path.name + suffix).is_file():
            shutil.copy(routing_ws.events_path.with_name(routing_ws.events_path.name + suffix),
                        tmp_path / f"events.sqlite{suffix}")
    copy = EventLog(tmp_path / "events.sqlite")
    assert write_campaign_events(copy, truth) == [] and copy.count() == log.count()
