"""The web app, served for real: the API through gradio_client, the UI through headless Chromium.

One server (``python app.py --workspace WS --port P``, a subprocess) serves every test of this
module; the workspace is the session's small demo workspace (tests/conftest.py).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from assistant.users import DEMO_USERS

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Serving:
    """`python app.py --workspace WS --port P` in a subprocess, until closed."""

    def __init__(self, workspace: Path):
        port = _free_port()
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
        self.log_path = Path(workspace) / "app-test.log"
        self.log = open(self.log_path, "w")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--workspace", str(workspace),
                                      "--port", str(port)], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url, timeout=2)
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError(self.log_path.read_text())
                time.sleep(0.25)
        else:
            self.proc.kill()
            raise AssertionError("app did not start within 90 s:\n" + self.log_path.read_text())
        print(f"\napp serving after {time.perf_counter() - t0:.1f} s")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def server(demo_settings):
    """`python app.py --workspace WS --port P` in a subprocess; yields its URL."""
    app = _Serving(demo_settings.workspace)
    yield app.url
    app.close()


def _client(url, username):
    from gradio_client import Client
    return Client(url, auth=(username, DEMO_USERS[username][1]), verbose=False)


def _ask(client, question: str) -> dict:
    out = client.predict(question, api_name="/ask")
    return out if isinstance(out, dict) else json.loads(out)


def _customer_with_contacts(ws):
    c = ws.table("customers")
    c = c.loc[c["phone"].notna()]
    return c.iloc[len(c) // 3]


def test_the_server_binds_localhost_and_hides_its_ui_handlers(server):
    assert server.startswith("http://127.0.0.1:")
    from gradio_client import Client
    info = Client(server, auth=("manager", DEMO_USERS["manager"][1]), verbose=False).view_api(
        print_info=False, return_format="dict")
    assert list(info["named_endpoints"]) == ["/ask"]  # the UI's own events are not an API


def test_wrong_password_is_refused(server):
    from gradio_client import Client
    with pytest.raises(Exception):
        Client(server, auth=("manager", "not-the-password"), verbose=False)


def test_manager_asks_in_chinese_and_gets_the_kpi_tool_with_a_chart(server):
    out = _ask(_client(server, "manager"), "各省份的销售额是多少？")
    assert out["language"] == "zh"
    assert [c["tool"] for c in out["tool_calls"]] == ["query_metrics"]
    assert out["tool_calls"][0]["args"]["by"] == "province"
    assert out["chart"] is not None and out["provenance"]
    assert "销售额" in out["answer"]


def test_manager_asks_in_english_and_gets_an_english_answer(server):
    out = _ask(_client(server, "manager"), "Which customers are most at risk of churning?")
    assert out["language"] == "en"
    assert [c["tool"] for c in out["tool_calls"]] == ["at_risk_customers"]
    assert out["provenance"]


def test_agent_is_refused_kpi_by_the_tool_layer(server):
    out = _ask(_client(server, "agent"), "What is the average order value?")
    call = out["tool_calls"][0]
    assert call["tool"] == "query_metrics" and call["result"].get("refused") is True
    assert "role 'agent' may not use tool 'query_metrics'" in call["result"]["error"]
    assert "value" not in call["result"]


def test_contacts_are_masked_for_manager_and_agent_but_not_admin(server, demo_ws):
    row = _customer_with_contacts(demo_ws)
    cid, phone = str(row["customer_id"]), str(row["phone"])
    for user in ("manager", "agent"):
        out = _ask(_client(server, user), f"{cid} 的客户画像")
        text = json.dumps(out, ensure_ascii=False)
        assert out["tool_calls"][0]["tool"] == "customer_profile"
        assert phone not in text and phone[:3] + "****" + phone[-4:] in text, user
    admin = _ask(_client(server, "admin"), f"{cid} 的客户画像")
    assert phone in json.dumps(admin, ensure_ascii=False)


def test_audit_log_records_questions_and_tools_without_personal_data(server, demo_ws):
    row = _customer_with_contacts(demo_ws)
    client = _client(server, "manager")
    before = len(demo_ws.audit_log_path.read_text(encoding="utf-8").splitlines())
    _ask(client, f"{row['name']} 的客户画像")
    _ask(client, f"{row['customer_id']} 的手机号是 {row['phone']} 吗？")
    log = demo_ws.audit_log_path.read_text(encoding="utf-8")
    records = [json.loads(line) for line in log.splitlines()]
    # Assistant.ask writes one "ask" record per question, the app none of its own
    new = [r for r in records[before:] if r["event"] == "ask"]
    assert [(r["user"], r["role"], r["entry"]) for r in new] == [("manager", "manager", "app_api")] * 2
    asks = [r for r in records if r["event"] == "ask" and r.get("entry") == "app_api" and r["user"] == "manager"]
    assert asks and all({"time", "user", "role", "question", "tool_calls"} <= set(r) for r in asks)
    assert any(c.get("args_sha256") for r in asks for c in r["tool_calls"])
    assert any(r["event"] == "login_ok" for r in records) and any(r["event"] == "login_failed" for r in records)
    customers = demo_ws.table("customers")
    phones, emails = set(customers["phone"].dropna().astype(str)), set(customers["email"].dropna().astype(str))
    assert not set(PHONE.findall(log)) & phones
    assert not set(EMAIL.findall(log)) & emails
    assert str(row["name"]) not in log


def _chromium(p):
    """Debian's chromium, headless, with no network chatter (this machine has no network)."""
    return p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"])


def _log_in(browser, server, user: str):
    from playwright.sync_api import expect
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(DEMO_USERS[user][1])
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#whoami")).to_contain_text(user, timeout=30_000)
    return page


@pytest.mark.browser
def test_a_manager_uses_the_app_in_a_real_browser(server, demo_ws):
    """Log in, ask in Chinese (answer + chart + folded provenance), see the customer card,
    search complaints, draft a follow-up from a result row, switch the interface to English."""
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is required (./test.sh installs it)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("0[1-6]*.png"):
        old.unlink()
    cid = str(_customer_with_contacts(demo_ws)["customer_id"])
    scroll_to = ("(q) => { const els = [...document.querySelectorAll('#chatbot .user')]"
                 ".filter(e => e.innerText.includes(q)); if (els.length) els[els.length - 1].scrollIntoView(); }")

    def shot(page, name):
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)

    with sync_playwright() as p:
        browser = _chromium(p)
        try:
            page = _log_in(browser, server, "manager")
            shot(page, "01-logged-in.png")

            page.fill("#question textarea", "各省份的销售额")
            page.click("#send")
            expect(page.locator("#chatbot")).to_contain_text("销售额", timeout=30_000)
            expect(page.locator("#chatbot .js-plotly-plot").first).to_be_visible(timeout=30_000)
            expect(page.locator("#chatbot")).to_contain_text("数据来源")  # the folded provenance
            assert "来源：" not in page.locator("#chatbot").inner_text()  # not repeated in the answer
            page.evaluate(scroll_to, "各省份的销售额")
            shot(page, "02-chinese-answer.png")
            page.locator("#chatbot .js-plotly-plot").first.scroll_into_view_if_needed()
            shot(page, "02b-chinese-answer-chart.png")

            page.fill("#question textarea", f"{cid} 的客户画像")
            page.click("#send")
            card = page.locator("#customer-card")
            expect(card).to_contain_text(cid, timeout=30_000)
            for label in ("RFM", "流失概率", "CLV", "偏好品类", "推荐商品"):
                expect(card).to_contain_text(label)
            assert not PHONE.search(card.inner_text())  # a manager sees masked contacts
            page.evaluate(scroll_to, cid)
            shot(page, "03-customer-card.png")

            page.get_by_role("tab", name="投诉检索").click()
            page.fill("#complaint-query textarea", "快递太慢了，等了一个星期还没到")
            page.click("#complaint-search")
            results = page.locator("#complaint-results")
            expect(results).to_contain_text("处理结果", timeout=30_000)
            expect(results.locator("[role=gridcell]").first).to_be_visible(timeout=30_000)
            results.locator("[role=gridcell]").nth(6).click()
            expect(page.get_by_text("已选中")).to_be_visible(timeout=10_000)
            shot(page, "04-complaint-search.png")

            page.click("#complaint-followup")
            expect(page.locator("#draft-text textarea")).not_to_have_value("", timeout=30_000)
            page.click("#batch-btn")  # drafts for the whole At Risk segment, as CSV
            expect(page.locator("#batch-file")).to_contain_text(".csv", timeout=30_000)
            shot(page, "05-follow-up-draft.png")

            page.locator("#ui-lang").get_by_text("English").click()
            expect(page.get_by_role("tab", name="Chat")).to_be_visible(timeout=10_000)
            page.get_by_role("tab", name="Chat").click()
            page.fill("#question textarea", "What do people buy together with green tea?")
            page.click("#send")
            expect(page.locator("#chatbot")).to_contain_text("lift", timeout=30_000)
            expect(page.locator("#customer-card")).to_contain_text("Churn probability")
            page.evaluate(scroll_to, "green tea")
            shot(page, "06-english.png")
        finally:
            browser.close()
    assert len(list(SCREENSHOTS.glob("0[1-6]*.png"))) == 7
    export = next((demo_ws.root / "exports").glob("drafts-*-manager.csv"))
    text = export.read_text(encoding="utf-8-sig")
    phones = set(demo_ws.table("customers")["phone"].dropna().astype(str))
    assert text.count("\n") > 2 and not set(PHONE.findall(text)) & phones  # the manager's export is masked


@pytest.mark.browser
def test_each_role_sees_only_its_pages(server):
    """An agent gets no data page and no segment export, and is told it may not see KPIs; an
    admin gets the data page with the quality report and quarantine counts."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = _chromium(p)
        try:
            for user in ("agent", "admin"):
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.goto(server)
                page.get_by_label("username").fill(user)
                page.get_by_label("password").fill(DEMO_USERS[user][1])
                page.get_by_role("button", name="Login").click()
                expect(page.locator("#whoami")).to_contain_text(user, timeout=30_000)
                if user == "agent":
                    page.fill("#question textarea", "各省份的销售额")
                    page.click("#send")
                    expect(page.locator("#chatbot")).to_contain_text("无权", timeout=30_000)
                    assert page.get_by_role("tab", name="数据").count() == 0
                    page.get_by_role("tab", name="关怀消息").click()
                    expect(page.locator("#draft-btn")).to_be_visible()
                    assert not page.locator("#batch-btn").is_visible()
                    page.get_by_role("tab", name="对话").click()
                    page.screenshot(path=str(SCREENSHOTS / "07-agent-refused-kpi.png"), full_page=True)
                else:
                    page.get_by_role("tab", name="数据").click()
                    expect(page.locator("#tab-data")).to_contain_text("quarantined", timeout=30_000)
                    expect(page.locator("#tab-data")).to_contain_text("customers")
                    page.screenshot(path=str(SCREENSHOTS / "08-admin-data-page.png"), full_page=True)
                page.context.close()
        finally:
            browser.close()


@pytest.mark.browser
def test_a_comparison_and_a_ranking_show_their_charts_in_the_browser(server):
    """"10月销售额环比怎么样" answers with both months, the change and a chart; "上季度卖得最好的5个商品"
    with the ranked products and their bar chart."""
    from playwright.sync_api import expect, sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = _chromium(p)
        try:
            page = _log_in(browser, server, "manager")
            page.fill("#question textarea", "上个月销售额环比怎么样")
            page.click("#send")
            expect(page.locator("#chatbot")).to_contain_text("环比", timeout=30_000)
            expect(page.locator("#chatbot .js-plotly-plot").first).to_be_visible(timeout=30_000)
            text = page.locator("#chatbot").inner_text()
            assert re.search(r"变化 [+-][\d,]+\.\d\d（[+-]\d+\.\d%）", text), text[-400:]
            page.screenshot(path=str(SCREENSHOTS / "09-comparison.png"), full_page=True)
            page.fill("#question textarea", "上季度卖得最好的5个商品")
            page.click("#send")
            expect(page.locator("#chatbot")).to_contain_text("按商品", timeout=30_000)
            expect(page.locator("#chatbot .js-plotly-plot")).to_have_count(2, timeout=30_000)
            page.locator("#chatbot .js-plotly-plot").last.scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / "10-ranking.png"), full_page=True)
        finally:
            browser.close()


@pytest.mark.browser
def test_markup_in_a_name_and_a_complaint_renders_as_text_and_fetches_nothing(demo_settings, tmp_path):
    """A customer named <img src=http://127.0.0.1:PORT/…> and a complaint holding a [link](…) and an image:
    in the chat answer and the card they read as written, the page asks the bait server for nothing, and
    the masked phone shows its asterisks. The app serves a copy of the demo workspace with that data."""
    import http.server
    import threading

    import pandas as pd
    from playwright.sync_api import expect, sync_playwright

    from knowledge.workspace import Workspace
    hits: list[str] = []

    class Bait(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    bait = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Bait)
    threading.Thread(target=bait.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{bait.server_address[1]}"
    root = tmp_path / "ws"
    shutil.copytree(demo_settings.workspace, root, ignore=shutil.ignore_patterns(
        "chroma", "index", "exports", "audit.jsonl", "*.log"))
    ws = Workspace(root)
    fb, cust = ws.table("feedback").copy(), ws.table("customers").copy()
    open_ = fb["kind"].eq("complaint") & fb["status"].eq("open") & fb["customer_id"].isin(
        cust.loc[cust["phone"].notna(), "customer_id"])
    cid = str(fb.loc[open_, "customer_id"].iloc[0])
    name = f"<img src={origin}/name.png>"
    complaint = f"快递太慢 [点我]({origin}/link) ![图]({origin}/img.png) <{origin}/auto>"
    cust.loc[cust["customer_id"] == cid, "name"] = name
    fb.loc[open_ & fb["customer_id"].eq(cid), "text"] = complaint
    ws.write_table("customers", cust)
    ws.write_table("feedback", fb)
    phone = str(cust.loc[cust["customer_id"] == cid, "phone"].iloc[0])
    app = _Serving(root)
    try:
        with sync_playwright() as p:
            browser = _chromium(p)
            try:
                page = _log_in(browser, app.url, "manager")
                requested: list[str] = []
                page.on("request", lambda r: requested.append(r.url))
                page.fill("#question textarea", f"{cid} 的客户画像")
                page.click("#send")
                expect(page.locator("#customer-card")).to_contain_text(cid, timeout=30_000)
                expect(page.locator("#chatbot")).to_contain_text("未解决投诉", timeout=30_000)
                chat, card = page.locator("#chatbot").inner_text(), page.locator("#customer-card").inner_text()
                for text in (chat, card):
                    assert name in text, text[:500]              # the name reads as written
                assert "[点我](" in chat or "[点我](" in card     # the complaint's link too
                assert phone[:3] + "****" + phone[-4:] in chat   # the mask shows as a mask, not bold
                assert page.locator(f"img[src^='{origin}'], a[href^='{origin}']").count() == 0
                page.screenshot(path=str(SCREENSHOTS / "11-markup-as-text.png"), full_page=True)
            finally:
                browser.close()
    finally:
        app.close()
        bait.shutdown()
    assert not [u for u in requested if u.startswith(origin)] and hits == [], (requested, hits)
