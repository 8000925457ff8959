"""Batch drafting's fast path — the purchase summaries of a whole segment at once, its customers' rows
fetched together — gives every customer the draft the one-customer path gives, on the demo data."""
from __future__ import annotations

import pandas as pd
import pytest

from knowledge.workspace import Workspace
from tools.care_data import care_data, purchase_summaries
from tools.drafts import draft_care_message


@pytest.fixture(scope="module")
def ws(routing_ws) -> Workspace:
    return Workspace(routing_ws.root)   # a fresh object: caches of its own


def _tables(ws) -> dict:
    t = {n: ws.table(n) for n in ("customers", "orders", "feedback")}
    t.update(rfm=ws.artefact("rfm"), churn=ws.artefact("churn"), rules_product=ws.artefact("rules_product"),
             as_of=ws.as_of(), offers=ws.root)
    return t


def test_the_segments_purchase_summaries_are_each_customers(ws):
    for data in (care_data(Workspace(ws.root)), care_data(_tables(ws))):   # from the artefact, from the table
        ids = list(data._cust)
        data.index_orders(ids)
        fast = dict(data._prof)
        one = care_data(_tables(ws))
        assert len(fast) == len(ids) and all(fast[c] == one.purchases(c) for c in ids)
        assert sum(p["fav"] is not None for p in fast.values()) > len(ids) // 2


def test_purchase_summaries_break_ties_as_the_line_by_line_summary():
    from tools.care_data import CareData
    day = pd.Timestamp("2026-10-01")
    later, then = day + pd.Timedelta(hours=3), day + pd.Timedelta(days=40)
    lines = pd.DataFrame({
        "customer_id": ["A"] * 7 + ["B"] * 6 + ["C"] * 2 + ["D"],
        "order_id": [f"o{i}" for i in range(16)],
        "order_date": [day, day, later, later, day, day, then] + [day] * 9,
        "product_name": ["茶", " ", "壶", "杯", "茶", None, "后来", "x", "y", "z", "w", "v", "u", "m", "n", "k"],
        "category": ["茶叶", "茶具", " 茶具 ", "茶叶", None, "茶具", "茶叶"] + ["b", "a"] * 3 + ["c", "c", "d"],
        # B: a and b tie on lines; their spends are equal but for the order of the additions
        # (0.1 + 0.2 + 0.3 > 0.3 + 0.2 + 0.1): b wins only when summed line by line
        "amount": [5.0, 3.0, 8.0, 8.0, 1.0, 2.0, 9.0, 0.1, 0.3, 0.2, 0.2, 0.3, 0.1, 1.0, float("nan"), 0.0]})
    as_of = day + pd.Timedelta(days=30)
    customers = pd.DataFrame({"customer_id": list("ABCDE"), "name": list("甲乙丙丁戊")})
    one = CareData(customers, lines, as_of=as_of)
    got = purchase_summaries(lines, list("ABCDE"), as_of)
    assert "C" not in got                                  # an unknown amount: left to the one-by-one summary
    assert {c: got[c] for c in "ABDE"} == {c: one.purchases(c) for c in "ABDE"}
    assert got["A"]["last"][0] == "壶" and got["A"]["fav"] == ("茶具", 3, 6) and got["E"]["n"] == 0
    assert got["B"]["fav"][0] == "b"


@pytest.mark.parametrize("segment,occasion,channel", [
    ("Champions", "vip_thanks", "sms"), ("At Risk", "winback", "wechat"), ("Loyal", "birthday", "email"),
    ("重要挽留客户", "recommendation", "sms"), ("Champions", "festival", "wechat"),
    ("At Risk", "complaint_followup", "sms")])
def test_a_batch_drafts_each_customer_as_one_draft_would(ws, segment, occasion, channel):
    from knowledge.errors import GuanxiError
    batch = care_data(ws)
    ids = batch.segment_ids(segment)
    batch.index_orders(ids)
    assert ids and len(batch._prof) >= len(ids)

    def draft(data, cid):
        try:
            return draft_care_message(data, cid, occasion, channel=channel, festival="中秋").to_dict()
        except GuanxiError as e:
            return str(e)
    single = care_data(Workspace(ws.root))
    drafted = [draft(batch, cid) for cid in ids]
    assert drafted == [draft(single, cid) for cid in ids]
    assert sum(isinstance(d, dict) for d in drafted) > len(ids) // 2
