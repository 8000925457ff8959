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


# ----------------------------------------------------------------------------- whole batch files
def test_the_builds_purchase_facts_are_each_customers_summary(ws):
    from tools.purchase_facts import PURCHASE_FACTS, facts_summaries
    assert ws.artefact_path(PURCHASE_FACTS).is_file()   # written by the build
    one = care_data(_tables(ws))
    ids = list(one._cust)
    facts = facts_summaries(ws, ids, one.as_of)
    assert set(facts) == set(ids)   # the demo has no line of unknown amount
    assert all({**facts[c], "bought": None} == {**one.purchases(c), "bought": None} for c in ids)
    assert sum(f["last"] is not None for f in facts.values()) > len(ids) // 2
    assert facts_summaries(ws, ids, one.as_of + pd.Timedelta(days=1)) is None   # another date: not these facts


def _one_by_one(data, ids, out, occasion, channel, language, tone, festival, unmask):
    """The batch file as drafting customer by customer gives it (`draft_care_message`, one row each, one
    DataFrame written by `write_csv`)."""
    import json

    from knowledge.errors import GuanxiError
    from knowledge.export import write_csv
    from knowledge.pii import mask_email, mask_phone
    from tools.care_data import clean_value
    rows = []
    for cid in ids:
        cust = data.customer(cid)
        try:
            d = draft_care_message(data, cid, occasion, channel=channel, language=language, tone=tone,
                                   festival=festival)
        except GuanxiError as e:
            rows.append({"customer_id": cid, "name": cust.get("name"), "phone": None, "email": None,
                         "channel": channel, "language": None, "tone": tone, "occasion": occasion, "text": "",
                         "subject": "", "length": 0, "limit": None, "offer_id": None, "sources": "[]",
                         "warnings": json.dumps([str(e)], ensure_ascii=False)})
            continue
        phone, email = clean_value(cust.get("phone")), clean_value(cust.get("email"))
        rows.append({"customer_id": cid, "name": d.name,
                     "phone": phone if unmask else mask_phone(phone) if phone else None,
                     "email": email if unmask else mask_email(email) if email else None,
                     "channel": d.channel, "language": d.language, "tone": d.tone, "occasion": d.occasion,
                     "text": d.text, "subject": d.subject or "", "length": d.length, "limit": d.limit,
                     "offer_id": d.offer_id, "sources": json.dumps(d.sources, ensure_ascii=False),
                     "warnings": json.dumps(d.warnings, ensure_ascii=False)})
    from tools.drafts_batch import COLUMNS
    write_csv(pd.DataFrame(rows, columns=COLUMNS), out, encoding="utf-8-sig")
    return rows


GRID = [  # occasion, channel, language, tone, festival, unmask
    ("vip_thanks", "sms", "auto", "warm", None, False), ("vip_thanks", "wechat", "zh", "formal", None, True),
    ("vip_thanks", "email", "en", "playful", None, False), ("birthday", "sms", "auto", "playful", None, False),
    ("birthday", "email", "zh", "warm", None, True), ("birthday", "wechat", "en", "formal", None, False),
    ("festival", "sms", "auto", "warm", "中秋", False), ("festival", "email", "en", "formal", None, False),
    ("festival", "wechat", "zh", "playful", "Christmas", True), ("festival", "sms", "zh", "warm", "no such day", False),
    ("winback", "sms", "auto", "formal", None, False), ("winback", "email", "en", "warm", None, True),
    ("recommendation", "wechat", "auto", "playful", None, False), ("recommendation", "sms", "zh", "warm", None, False),
    ("complaint_followup", "sms", "auto", "playful", None, False),
    ("complaint_followup", "email", "en", "formal", None, True), ("vip_thanks", "fax", "auto", "warm", None, False)]


@pytest.mark.parametrize("occasion,channel,language,tone,festival,unmask", GRID)
def test_a_batch_file_is_the_customer_by_customer_file(ws, tmp_path, monkeypatch, occasion, channel, language, tone,
                                                       festival, unmask):
    import tools.drafts_batch as batch
    monkeypatch.setattr(batch, "CHUNK", 150)   # the demo's 400 customers in three chunks
    done = batch.write_batch(ws, "all", occasion, channel, language, tmp_path / "fast.csv", tone=tone,
                             festival=festival, unmask=unmask)
    ids = care_data(ws).segment_ids("all")
    rows = _one_by_one(care_data(Workspace(ws.root)), ids, tmp_path / "slow.csv", occasion, channel, language,
                       tone, festival, unmask)
    assert done.path.read_bytes() == (tmp_path / "slow.csv").read_bytes()
    assert (done.rows, done.drafted, done.with_warnings) == (
        len(rows), sum(r["text"] != "" for r in rows), sum(r["warnings"] != "[]" for r in rows))
    if occasion in batch.COLUMN_WISE and channel != "fax" and festival != "no such day":
        assert done.drafted == len(ids)


def test_a_batch_of_odd_customers_is_the_customer_by_customer_file(ws, tmp_path):
    """Names with markup or none, a product name with a phone number in it (masked in the text), an
    offer list: the batch gives what the one-customer drafts give."""
    from tools.drafts_batch import write_batch
    t = _tables(ws)
    cust, orders = t["customers"].copy(), t["orders"].copy()
    ids = cust["customer_id"].astype(str).tolist()[:60]
    cust.loc[cust.index[:3], "name"] = ["<b>王芳</b>", "**", "Emily  Chen"]
    orders.loc[orders["customer_id"].astype(str).isin(ids[3:30]), "product_name"] = "客服13912345678同款杯"
    offers = {"brand": "好物", "offers": [{"id": "T1", "occasions": ["vip_thanks", "birthday"],
                                           "text_zh": "本月满200减30", "text_en": "30 off 200 this month"}]}
    tables = {**t, "customers": cust, "orders": orders, "offers": offers}
    for occasion, channel in (("vip_thanks", "sms"), ("birthday", "wechat"), ("vip_thanks", "email")):
        done = write_batch(tables, "all", occasion, channel, "auto", tmp_path / "fast.csv", only=ids)
        _one_by_one(care_data(tables), ids, tmp_path / "slow.csv", occasion, channel, "auto", "warm", None, False)
        assert done.path.read_bytes() == (tmp_path / "slow.csv").read_bytes()
    text = pd.read_csv(done.path)["text"]
    assert text.str.contains("139****5678", regex=False).any() and not text.str.contains("13912345678").any()


def test_the_tools_answer_counts_the_file_it_wrote(routing_settings):
    from tools.registry import call_tool
    r = call_tool("draft_care_batch", {"segment": "all", "occasion": "birthday", "churn_risk": "at_risk"},
                  settings=routing_settings, role="manager")
    table = pd.read_csv(r["path"])
    assert r["rows"] == len(table) > 0 and r["drafted"] == int(table["text"].notna().sum())
    assert r["with_warnings"] == int((table["warnings"] != "[]").sum())
