"""The web app, served for real: the API through gradio_client, the UI through headless Chromium."""
from __future__ import annotations

import json
import os
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_settings):
    """`python app.py --workspace WS --port P` in a subprocess; yields its URL."""
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    log = open(demo_settings.workspace / "app-test.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--workspace", str(demo_settings.workspace),
                             "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise AssertionError((demo_settings.workspace / "app-test.log").read_text())
            time.sleep(0.5)
    else:
        proc.kill()
        raise AssertionError("app did not start within 90 s")
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


def _client(url, username):
    from gradio_client import Client
    return Client(url, auth=(username, DEMO_USERS[username][1]), verbose=False)


def test_wrong_password_is_refused(server):
    from gradio_client import Client
    with pytest.raises(Exception):
        Client(server, auth=("manager", "not-the-password"), verbose=False)


def test_manager_asks_through_the_api_and_gets_the_right_tool(server):
    client = _client(server, "manager")
    out = client.predict("各省份的销售额是多少？", api_name="/ask")
    out = out if isinstance(out, dict) else json.loads(out)
    assert out["language"] == "zh"
    assert [c["tool"] for c in out["tool_calls"]] == ["kpi"]
    assert out["chart"] is not None and out["provenance"]


def test_agent_may_not_use_kpi_through_the_app(server, demo_ws):
    client = _client(server, "agent")
    out = client.predict("What is the average order value?", api_name="/ask")
    out = out if isinstance(out, dict) else json.loads(out)
    text = json.dumps(out, ensure_ascii=False)
    assert "agent" in text and "kpi" in text  # the refusal names the role and the tool
    assert not any(c.get("result", {}).get("value") for c in out["tool_calls"])


def test_audit_log_has_no_contacts_in_clear(server, demo_ws):
    client = _client(server, "manager")
    cid = demo_ws.table("customers")["customer_id"].iloc[3]
    client.predict(f"{cid} 的客户画像", api_name="/ask")
    log = demo_ws.audit_log_path.read_text(encoding="utf-8")
    assert '"user": "manager"' in log
    customers = demo_ws.table("customers")
    for phone in customers["phone"].dropna().head(200):
        assert phone not in log
    for email in customers["email"].dropna().head(200):
        assert email not in log


@pytest.mark.browser
def test_a_manager_uses_the_app_in_a_real_browser(server, demo_ws):
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is required (./test.sh installs it)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cid = demo_ws.table("customers")["customer_id"].iloc[5]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        page.get_by_label("username").fill("manager")
        page.get_by_label("password").fill(DEMO_USERS["manager"][1])
        page.get_by_role("button", name="Login").click()
        page.wait_for_selector("#question textarea", timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "01-logged-in.png"))

        page.fill("#question textarea", "各省份的销售额")
        page.click("#send")
        expect(page.locator("#chatbot .js-plotly-plot").first).to_be_visible(timeout=30_000)
        expect(page.locator("#chatbot")).to_contain_text("销售额", timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "02-chinese-answer-with-chart.png"), full_page=True)

        page.fill("#question textarea", f"{cid} 的客户画像")
        page.click("#send")
        expect(page.locator("#customer-card")).to_contain_text(cid, timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "03-customer-card.png"), full_page=True)

        page.fill("#question textarea", "What do people buy together with green tea?")
        page.click("#send")
        expect(page.locator("#chatbot")).to_contain_text("tea", timeout=30_000)

        page.get_by_role("tab", name="投诉检索").click()
        page.fill("#complaint-query textarea", "快递太慢了，等了一个星期还没到")
        page.click("#complaint-search")
        expect(page.locator("#complaint-results tbody tr").first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "04-complaint-search.png"), full_page=True)
        browser.close()
    assert len(list(SCREENSHOTS.glob("*.png"))) >= 4
