"""The tools' fast paths (per-customer order artefacts, the care plan, DuckDB window sums) give the
same answers as computing from the whole order table, on the demo workspace; and the tool
benchmark has arguments for every registered tool."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from knowledge.workspace import Workspace
from tools.context import ToolContext, orders_table
from tools.registry import args_model, call_tool, tool_names
from tools.results import to_jsonable

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_tools", ROOT / "benchmarks" / "bench_tools.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def ws(routing_ws) -> Workspace:
    return Workspace(routing_ws.root)   # a fresh object: caches of its own


def test_the_benchmark_has_valid_arguments_for_every_tool(ws):
    bench = _bench()
    assert set(bench.ARGS) == set(tool_names())
    picks = bench._picks(ws)
    assert picks["cid"] in set(ws.table("customers")["customer_id"].astype(str))
    for name, make in bench.ARGS.items():
        args_model(name)(**make(picks))        # raises on an argument the tool does not take
    for q in bench.METRIC_QUESTIONS:
        args_model("query_metrics")(**q)


def test_the_build_writes_the_order_artefacts(ws):
    from tools.orders_index import ORDER_ARTEFACTS
    for name in ORDER_ARTEFACTS:
        assert ws.artefact_path(name).is_file(), name


def test_one_customers_lines_are_the_table_filtered(ws):
    from tools.orders_index import customer_feedback, customer_orders
    o = orders_table(ws)
    fb = ws.table("feedback")
    ids = list(dict.fromkeys(o["customer_id"])) + ["C-none"]
    for cid in ids:
        pd.testing.assert_frame_equal(customer_orders(ws, cid), o.loc[o["customer_id"] == cid])
        pd.testing.assert_frame_equal(customer_feedback(ws, cid), fb.loc[fb["customer_id"].astype(str) == cid])


def test_the_batch_lines_are_the_table_grouped(ws):
    from tools.orders_index import customers_frame
    o = ws.table("orders")
    cols = ["order_id", "order_date", "product_name", "category", "amount"]
    some = sorted(set(o["customer_id"].astype(str)))[::3]
    got = customers_frame(ws, some, cols)
    sub = o[o["customer_id"].astype(str).isin(some)][["customer_id", *cols]]
    want = sub.iloc[sub["customer_id"].astype(str).argsort(kind="stable")].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)


def _slow_row(df: pd.DataFrame, cid: str) -> dict | None:
    """One customer's row as it was read: the index's look-up (its hash table), the first of repeated ids."""
    if cid not in df.index:
        return None
    row = df.loc[cid]
    return {str(k): to_jsonable(v) for k, v in (row.iloc[0] if isinstance(row, pd.DataFrame) else row).items()}


def test_one_customers_row_by_bisection_is_the_row_the_index_finds(ws, routing_settings, monkeypatch):
    """Past 50,000 rows a sorted artefact is bisected for one customer's row (no hash table of a million ids):
    the same rows, and the same answers from the tools that read one customer, as the index's look-up."""
    import tools.results as results
    from tools.results import row_dict
    rfm = ws.artefact("rfm").assign(customer_id=lambda d: d["customer_id"].astype(str))
    dup = pd.concat([rfm, rfm.iloc[::7].assign(monetary=-1.0)]).sort_values("customer_id", kind="stable")
    frames = [f.set_index("customer_id", drop=False) for f in (rfm, dup, rfm.iloc[::-1])]   # sorted, repeats, not sorted
    ids = rfm["customer_id"].tolist()[::3] + ["", "A", "C", "ZZZ", rfm["customer_id"].max() + "0"]
    want = [[_slow_row(f, c) for f in frames] for c in ids]
    monkeypatch.setattr(results, "_BISECT_FROM", 0)
    assert [[row_dict(f, c) for f in frames] for c in ids] == want
    assert results._sorted_ids(frames[0].index) is not None and results._sorted_ids(frames[2].index) is None
    some = rfm["customer_id"].tolist()[::97]
    answers = lambda: [call_tool(t, {"customer_id": c}, ctx=ToolContext(routing_settings, role="admin"))  # noqa: E731
                       for c in some for t in ("customer_profile", "rfm_lookup", "churn_risk", "clv_estimate",
                                               "cluster_lookup")]
    bisected = answers()
    monkeypatch.setattr(results, "_BISECT_FROM", 10 ** 12)
    assert answers() == bisected


def test_intervals_and_sales_artefacts_match_pandas(ws):
    from tools.care_plan import usual_intervals
    from tools.orders_index import care_intervals, category_product_sales, product_sales
    o = ws.table("orders")
    want = usual_intervals(o, ws.as_of())
    got = care_intervals(ws)
    got = got.set_axis(got.index.astype(str).astype(object))
    pd.testing.assert_frame_equal(got[want.columns], want, check_names=False, check_dtype=False)
    pd.testing.assert_series_equal(product_sales(ws).sort_index(), o.groupby("product_name")["amount"].sum(),
                                   check_names=False, rtol=0, atol=1e-9)
    pd.testing.assert_series_equal(category_product_sales(ws).sort_index(),
                                   o.groupby(["category", "product_name"])["amount"].sum(), check_names=False,
                                   rtol=0, atol=1e-9)


def _slow_calendar(ws, days, occasion, top):
    """The care_calendar tool's answer as it was computed: every entry from the whole order table."""
    from tools.care import care_calendar
    cal = care_calendar(ws.table("customers"), ws.table("orders"), as_of=ws.as_of(), days=days,
                        rfm=ws.artefact("rfm"), churn=ws.artefact("churn"), feedback=ws.table("feedback"))
    entries = cal.entries if occasion == "all" else cal.by_occasion(occasion)
    personal = [e for e in entries if not e.occasion.startswith("festival:")]
    festive = [e for e in entries if e.occasion.startswith("festival:")]
    counts: dict[str, int] = {}
    for e in entries:
        key = "festival" if e.occasion.startswith("festival:") else e.occasion
        counts[key] = counts.get(key, 0) + 1
    return cal, counts, len(entries), [e.to_dict() for e in (personal + festive)[:top]]


@pytest.mark.parametrize("days,occasion,top", [(7, "all", 30), (45, "all", 1000), (120, "festival", 50),
                                               (90, "winback", 20), (60, "birthday", 500), (200, "regular", 40),
                                               (30, "vip_thanks", 1000)])
def test_the_care_tool_lists_what_the_whole_calendar_gives(routing_settings, days, occasion, top):
    ctx = ToolContext(routing_settings, role="admin")
    got = call_tool("care_calendar", {"days": days, "occasion": occasion, "top": top}, ctx=ctx)
    cal, counts, total, entries = _slow_calendar(ctx.ws, days, occasion, top)
    assert got["counts"] == counts and got["total"] == total
    assert [{k: e[k] for k in entries[0]} for e in got["entries"]] == entries if entries else got["entries"] == []
    assert got["festivals"] == cal.to_dict()["festivals"]
    assert got["provenance"].startswith(" · ".join(cal.provenance))


def test_the_care_plans_columns_are_the_per_customer_rules(ws):
    from tools.care import is_at_risk, is_latin_name, is_vip, next_birthday
    from tools.care_plan import workspace_window
    plan = workspace_window(Workspace(ws.root), 7).plan
    first = lambda t: {str(r["customer_id"]): r for r in t.drop_duplicates("customer_id").to_dict(orient="records")}  # noqa: E731
    rfm, churn, cust = first(ws.artefact("rfm")), first(ws.artefact("churn")), first(ws.table("customers"))
    due = plan.due
    assert due["vip"].tolist() == [is_vip(rfm.get(i)) for i in due.index]
    assert due["risky"].tolist() == [is_at_risk(rfm.get(i), churn.get(i)) for i in due.index]
    assert [p if p == p else None for p in due["p"]] == [(churn.get(i) or {}).get("churn_probability") for i in due.index]
    assert plan.lang_of == {i: "en" if is_latin_name(r["name"]) else "zh" for i, r in cust.items()}
    assert plan.recipients["all"] == tuple(sorted(cust)) and set(plan.recipients["en"]) == {
        i for i, lang in plan.lang_of.items() if lang == "en"} and plan.recipients["en"]
    a = ws.as_of().date()
    assert [None if pd.isna(d) else d.date() for d in plan.next_bday] == [
        next_birthday(None if pd.isna(b) else b, a) for b in plan.bdays]


def test_calendar_targets_are_the_calendar_customers(ws):
    from tools.campaigns import resolve_target
    for occ in ("birthday", "festival", "winback", "regular"):
        cal, _, _, _ = _slow_calendar(ws, 120, "all", 0)
        want = list(dict.fromkeys(str(e.customer_id) for e in cal.by_occasion(occ)))
        assert resolve_target(ws, "care_calendar", {"days": 120, "occasion": occ}).ids == want


def test_drafts_from_the_artefacts_match_drafts_from_the_tables(ws):
    from tools.care_data import care_data
    from tools.drafts import draft_care_message
    lazy = care_data(ws)
    assert lazy.ws is not None and len(lazy.orders) == 0
    tables = {n: ws.table(n) for n in ("customers", "orders", "feedback")}
    tables.update(rfm=ws.artefact("rfm"), churn=ws.artefact("churn"), rules_product=ws.artefact("rules_product"),
                  as_of=ws.as_of(), offers=ws.root)
    eager = care_data(tables)
    ids = sorted(lazy._cust)[::7]
    assert lazy.best_sellers() == eager.best_sellers()
    for cid in ids:
        assert lazy.purchases(cid) == eager.purchases(cid)
        assert lazy.recommendations(cid) == eager.recommendations(cid)
        a = draft_care_message(lazy, cid, "recommendation", as_of=ws.as_of())
        b = draft_care_message(eager, cid, "recommendation", as_of=ws.as_of())
        assert (a.text, a.sources, a.warnings) == (b.text, b.sources, b.warnings)
    lazy.index_orders(ids[:5])
    assert all(lazy.order_rows(c) == eager.order_rows(c) for c in ids)   # in the batch or not


def test_rows_built_when_asked_are_the_rows_of_the_whole_table_dict(ws):
    from tools.care_data import RowsById
    rfm = ws.artefact("rfm")
    dup = pd.concat([rfm, rfm.iloc[::5].assign(monetary=-1.0)], ignore_index=True)   # ids on two rows
    cust = ws.table("customers").assign(customer_id=lambda d: d.index + 1000)          # numbers, not text
    cases = [(dup, False, False, {str(r["customer_id"]): r for r in dup.to_dict(orient="records")}),
             (dup, True, False, {str(r["customer_id"]): r for r in dup.drop_duplicates("customer_id").to_dict(
                 orient="records")}),
             (cust, True, True, {str(r["customer_id"]): {**r, "customer_id": str(r["customer_id"])}
                                 for r in cust.to_dict(orient="records")})]
    for df, first, text_ids, want in cases:
        one, batch = RowsById(df, first, text_ids), RowsById(df, first, text_ids)
        assert list(one) == list(want) and len(one) == len(want)
        batch.prefetch(list(want)[::3] + ["nobody"])
        for cid, row in want.items():
            assert one.get(cid) == row and batch[cid] == row and cid in one
            assert [type(v) for v in one[cid].values()] == [type(v) for v in row.values()]
        assert one.get("nobody") is None and "nobody" not in batch


def test_campaign_windows_by_duckdb_match_pandas(ws):
    from tools.campaign_effect import Campaign, measure_campaign, workspace_lines
    churn = ws.artefact("churn").sort_values("customer_id")
    ids = churn["customer_id"].astype(str).tolist()
    for back in (20, 45, 90):
        sent = (ws.as_of() - pd.Timedelta(days=back)).date().isoformat()
        c = Campaign(id="cmp-x", name="x", name_en="x", occasion="winback", channel="sms", created_at=sent,
                     as_of=sent, treated=ids[0::2], control=ids[1::2], sent_at=sent, sent_to=ids[0::2])
        slow = measure_campaign(c, ws.table("orders"), ws.table("feedback"), ws.as_of(), 30)
        fast = measure_campaign(c, None, ws.table("feedback"), ws.as_of(), 30, window_lines=workspace_lines(ws))
        assert fast.to_dict() == slow.to_dict()


def test_active_customers_from_the_intervals_match_the_orders(ws):
    from tools.contact_tools import _active_customers
    o = ws.table("orders")
    as_of = ws.as_of()
    for days in (30, 90, 365):
        recent = o[(o["order_date"] < as_of) & (o["order_date"] >= as_of - pd.Timedelta(days=days))]
        assert _active_customers(ws, as_of, days).tolist() == sorted(set(recent["customer_id"].astype(str)))


def test_the_router_reads_the_order_channels_from_the_column_alone(routing_ws):
    from assistant.vocabulary import _order_channels
    fresh = Workspace(routing_ws.root)
    got = _order_channels(fresh)
    assert "orders" not in fresh._tables                     # the order table was not loaded
    assert got == set(routing_ws.table("orders")["channel"].dropna().astype(str).unique()) and got


def _close(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y)) or (x != x and y != y)
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k]) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_close(a, b) for a, b in zip(x, y))
    return x == y


@pytest.mark.parametrize("metric,kw", [("sales", {"by": "province"}), ("repurchase_rate", {"by": "month"}),
                                       ("customers", {"by": "city", "top": 5}), ("aov", {"by": "order_channel"}),
                                       ("units", {"by": "category", "date_from": "2026-03-01"})])
def test_metrics_scanned_from_the_parquet_match_the_dataframe(ws, metric, kw):
    from tools.kpi import kpi
    from tools.metric_sql import MetricSource, ParquetTable
    others = {"customers": ws.table("customers"), "feedback": ws.table("feedback"),
              **{n: ws.artefact(n) for n in ("rfm", "clusters", "clv", "churn")}}
    slow = kpi(MetricSource({"orders": ws.table("orders"), **others}), metric, as_of=ws.as_of(), **kw).to_dict()
    fast = kpi(MetricSource({"orders": ParquetTable(ws.table_path("orders")), **others}), metric, as_of=ws.as_of(),
               **kw).to_dict()
    slow.pop("figure_json", None), fast.pop("figure_json", None)
    assert _close(to_jsonable(fast), to_jsonable(slow))


def _cooccurrence_from_the_table(ws, level, name, top):
    """Plain co-occurrence as it was computed: from the whole order table in pandas."""
    o = orders_table(ws)
    col = "category" if level == "category" else "product_name"
    pairs = o[["order_id", col]].dropna().astype(str).drop_duplicates()
    pairs.columns = ["order_id", "item"]
    freq, n = pairs["item"].value_counts(), pairs["order_id"].nunique()
    matched = [name] if name in freq.index else [i for i in freq.index if name.lower() in str(i).lower()]
    if not matched:
        return None
    with_x = pairs.loc[pairs["item"].isin(matched), "order_id"].unique()
    other = pairs.loc[pairs["order_id"].isin(with_x) & ~pairs["item"].isin(matched), "item"].value_counts()
    rows = [{"item": it, "support": c / n, "confidence": c / len(with_x), "lift": (c / len(with_x)) / (freq[it] / n),
             "count": int(c), "antecedents": sorted(matched)[:5]} for it, c in other.items()]
    rows.sort(key=lambda r: (-r["count"], -r["lift"], r["item"]))
    return sorted(matched), rows[:top]


def test_co_occurrence_by_duckdb_matches_pandas(ws):
    from tools.basket_tools import _cooccurrence
    o = ws.table("orders")
    names = o["product_name"].value_counts().index.tolist()
    cats = o["category"].dropna().unique().tolist()
    cases = [("product", names[0]), ("product", names[-1]), ("category", cats[0]), ("product", names[3][:2]),
             ("product", "no such thing")]
    listed = 0
    for level, name in cases:
        want = _cooccurrence_from_the_table(ws, level, name, 10)
        got = _cooccurrence(ws, level, name, 10)
        assert (got is None) == (want is None)
        if got is not None:
            assert (got.matched, got.items) == want
            listed += len(got.items)
    assert listed


@pytest.mark.parametrize("dates", [{"date_from": "2026-06-01", "date_to": "2026-09-30"}, {"date_to": "2026-03-31"}])
def test_segment_members_in_a_period_sum_the_periods_lines(routing_settings, dates):
    ctx = ToolContext(routing_settings, role="admin")
    got = call_tool("segment_members", {"segment": "all", "top": 500, **dates}, ctx=ctx)
    o = orders_table(ctx.ws)
    a = pd.Timestamp(dates.get("date_from") or o["order_date"].min().normalize())
    b = min(pd.Timestamp(dates["date_to"]) + pd.Timedelta(days=1), ctx.ws.as_of())
    sel = o[(o["order_date"] >= a) & (o["order_date"] < b)]
    g = sel.groupby("customer_id").agg(m=("amount", "sum"), n=("order_id", "nunique"))
    rfm_ids = set(ctx.ws.artefact("rfm")["customer_id"].astype(str))
    g = g[g.index.isin(rfm_ids)]
    assert got["count"] == len(g) and got["date_from"] == a.strftime("%Y-%m-%d")
    want = g.assign(cid=g.index).sort_values(["m", "cid"], ascending=[False, True]).head(500)
    assert [r["customer_id"] for r in got["members"]] == want.index.tolist()
    assert [(r["monetary"], r["frequency"]) for r in got["members"]] == [(round(float(m), 2), int(n))
                                                                         for m, n in zip(want["m"], want["n"])]
