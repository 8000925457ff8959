"""The app's views, in process (no server): the customer card from the real customer_profile
result (assistant/card.py), answers without their provenance line, the complaint table and the
other views (assistant/views.py)."""
from __future__ import annotations

import re
import types

import pytest

import app
from assistant.card import render_card
from assistant.views import (MAX_CHART_HEIGHT, chart_figure, complaints_table, customer_in, quarantine_table, sql_block,
                             split_answer)
from tools.registry import call_tool

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture(scope="module")
def cid(demo_ws) -> str:
    c = demo_ws.table("customers")
    return str(c.loc[c["phone"].notna(), "customer_id"].iloc[2])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_card_shows_every_part_of_the_profile(demo_settings, cid, lang):
    profile = call_tool("customer_profile", {"customer_id": cid}, settings=demo_settings, role="manager")
    md = render_card(profile, lang)
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
    assert render_card({"error": "no customer 'X'"}, "en").startswith("⚠")
    assert render_card(None, "zh") == app.t("card_empty", "zh")


def test_the_provenance_line_is_folded_not_repeated():
    assert split_answer("复购率为 66%。\n来源：kpi repurchase_rate") == "复购率为 66%。"
    assert split_answer("AOV 268.\nSource: kpi aov · orders") == "AOV 268."
    assert split_answer("no provenance here") == "no provenance here"


def test_the_complaint_table_speaks_the_interface_language():
    hits = [{"feedback_id": "FB1", "created_at": "2026-01-13T23:25:39", "customer_id": "C1", "kind": "complaint",
             "category": "茶叶", "status": "resolved", "text": "快递太慢", "resolution": "已退款", "score": 0.0321}]
    zh = complaints_table(hits, "zh")
    assert list(zh.columns)[:3] == ["编号", "日期", "客户"] and zh.iloc[0]["状态"] == "已解决"
    assert zh.iloc[0]["日期"] == "2026-01-13"
    en = complaints_table(hits, "en")
    assert en.iloc[0]["Status"] == "resolved" and en.iloc[0]["Resolution"] == "已退款"


def test_the_customer_of_an_answer_chart_size_and_quarantine_table():
    result = {"tool_calls": [{"tool": "customer_profile", "args": {"customer_id": "C9"}, "result": {"error": "x"}},
                             {"tool": "churn_risk", "args": {"customer_id": "C2"}, "result": {}}]}
    assert customer_in(result) == "C2" and customer_in({"tool_calls": []}) is None
    assert chart_figure({"chart": None}) is None
    fig = chart_figure({"chart": {"data": [{"type": "bar", "x": ["a"], "y": [1]}], "layout": {"height": 5000}}})
    assert fig.layout.height == MAX_CHART_HEIGHT
    q = quarantine_table({"tables": {"orders": {"rows_read": 3, "kept": 2, "quarantined": 1,
                                                "quarantine_reasons": {"bad date": 1}}}})
    assert q.iloc[0]["表 table"] == "orders" and q.iloc[0]["隔离原因 quarantine reasons"] == "bad date ×1"


def test_the_app_builds_over_a_workspace(demo_settings):
    import gradio as gr
    assert isinstance(app.build_app(demo_settings), gr.Blocks)


def _handler(blocks, name: str):
    fns = [f.fn for f in blocks.fns.values() if getattr(f.fn, "__name__", "") == name]
    assert len(fns) == 1, name
    return fns[0]


def test_the_data_page_build_shows_progress_from_the_pipeline_events(tmp_path):
    """The upload build's progress bar follows the structured events (no log parsing): it only
    moves forward, names each stage, and the log box still gets the readable lines."""
    from knowledge.demo import generate_demo
    from knowledge.settings import Settings
    data = tmp_path / "files"
    generate_demo(data, seed=3, customers=60)
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml", workspace=tmp_path / "ws")
    blocks = app.build_app(settings, anonymous_role="admin")
    request = types.SimpleNamespace(username=None, session_hash="tab-1")
    bar: list[tuple[float, str]] = []
    out = _handler(blocks, "on_build")(sorted(map(str, data.iterdir())), None, "en", request,
                                       progress=lambda p, desc="": bar.append((p, desc)))
    log, report, quarantine = out[0], out[1], out[2]
    assert "Read" in log and "feedback index ready" in log and report["tables"] and len(quarantine) == 4
    fractions = [p for p, _ in bar]
    assert fractions == sorted(fractions) and fractions[-1] > 0.9 and max(fractions) < 1
    descs = " ".join(d for _, d in bar)
    for words in ("reading", "cleaning tables", "analyses", "embedding feedback", "complaint topics"):
        assert words in descs, words
    assert blocks.sessions.get("local", "admin", "tab-1", "app").settings.workspace == tmp_path / "ws-uploaded"


def test_a_metric_answer_shows_the_sql_it_ran(demo_settings):
    """The provenance fold under a metric answer holds the DuckDB statements, as a code block."""
    from assistant import Assistant
    out = Assistant(settings=demo_settings).ask("10月销售额环比怎么样")
    block = sql_block(out)
    assert block.startswith("\n\n```sql\n") and block.rstrip().endswith("```")
    assert block.count("WITH h AS") == 2            # this month and the month before
    assert "TIMESTAMP '2026-10-01 00:00:00'" in block and "TIMESTAMP '2026-09-01 00:00:00'" in block
    assert "rows scanned: orders" in out["provenance"][0]
    assert sql_block({"tool_calls": [{"tool": "rfm_lookup", "result": {"segment": "Loyal"}}]}) == ""


def test_a_conversation_belongs_to_one_login_and_one_session_and_grants_nothing(demo_settings):
    """Conversations are keyed by (login, session hash): the same hash under another login, or
    another session of the same login, is another conversation; the role is the caller's on every
    call (a changed role starts afresh, in the home workspace); idle ones are forgotten."""
    clock = [0.0]
    sessions = app.Sessions(demo_settings, clock=lambda: clock[0])
    mine = sessions.get("alice", "admin", "h1", "app")
    assert sessions.get("bob", "agent", "h1", "app") is not mine
    assert sessions.get("alice", "admin", "h2", "app") is not mine
    assert sessions.get("alice", "admin", "h1", "app_api") is not mine
    assert sessions.get("alice", "admin", None, "app") is not sessions.get("alice", "admin", None, "app")
    assert sessions.get("alice", "admin", "h1", "app") is mine
    mine.use_workspace(demo_settings.workspace.parent / "elsewhere")
    demoted = sessions.get("alice", "agent", "h1", "app")        # the users file says agent now
    assert demoted is not mine and demoted.role == "agent" and demoted.settings == demo_settings
    sessions.drop("bob", "h1")                                   # bob's tab closing leaves alice's alone
    assert sessions.get("alice", "agent", "h1", "app") is demoted
    clock[0] += app.SESSION_IDLE_SECONDS + 1
    assert sessions.get("alice", "agent", "h1", "app") is not demoted


def test_a_login_without_a_role_in_the_users_file_is_refused(demo_settings):
    import gradio as gr
    blocks = app.build_app(demo_settings)
    ghost = types.SimpleNamespace(username="ghost", session_hash="tab-9")   # logged in, then removed
    with pytest.raises(gr.Error, match="not logged in"):
        _handler(blocks, "on_reset")("zh", ghost)
