"""The web app, served for real: the API through gradio_client, the UI through headless Chromium,
and plain HTTP where an attacker would use it (the login form, the UI's own event calls with a
chosen session hash, Gradio's file route, the export download route).

One server (``python app.py --workspace WS --port P``, a subprocess) serves every test of this
module; the workspace is the session's small demo workspace (tests/conftest.py). Its login limits
are small (`LOGIN_MAX_FAILURES` per account); each test that fails logins on purpose does it on an
account of its own, and all of them together stay under the per-client limit.
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
import uuid
from pathlib import Path

import httpx
import pytest

from assistant.users import DEMO_USERS, add_user
from knowledge.export import owner_folder

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
LOGIN_MAX_FAILURES = 3
GRADIO_CACHE = "gradio-cache"   # the server's GRADIO_TEMP_DIR, inside the workspace's parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Serving:
    """`python app.py --workspace WS --port P` in a subprocess, until closed."""

    def __init__(self, workspace: Path):
        port = _free_port()
        cache = Path(workspace).parent / GRADIO_CACHE
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "GRADIO_TEMP_DIR": str(cache),
               "GUANXI_LOGIN_MAX_FAILURES": str(LOGIN_MAX_FAILURES), "GUANXI_LOGIN_CLIENT_MAX_FAILURES": "40"}
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


def _records(ws) -> list[dict]:
    return [json.loads(line) for line in ws.audit_log_path.read_text(encoding="utf-8").splitlines()]


def _http_login(server, user: str, password: str | None = None) -> httpx.Client:
    """A plain HTTP client logged in through the login form (its cookie is the login)."""
    http = httpx.Client(base_url=server, timeout=60)
    r = http.post("/login", data={"username": user, "password": password or DEMO_USERS[user][1]})
    assert r.status_code == 200, (user, r.status_code, r.text)
    return http


def _ui_call(http: httpx.Client, elem_id: str, data: list, session_hash: str, event: str = "click") -> dict:
    """Call the UI handler behind a component's event as the browser does — queue/join with a
    session hash of the caller's choosing — and return Gradio's "process_completed" message, plus
    "out": its output values by the outputs' elem_id. ``data`` are the values of the inputs that
    are not gr.State (the server holds those)."""
    config = http.get("/config").json()
    comps = {c["id"]: c for c in config["components"]}
    ids = {i for i, c in comps.items() if c.get("props", {}).get("elem_id") == elem_id}
    dep = next(d for d in config["dependencies"] if any(t == [i, event] for i in ids for t in d["targets"]))
    values = iter(data)
    full = [None if comps[i]["type"] == "state" else next(values) for i in dep["inputs"]]
    r = http.post("/gradio_api/queue/join", json={"data": full, "fn_index": dep["id"], "session_hash": session_hash,
                                                  "event_data": None, "trigger_id": None})
    r.raise_for_status()
    event_id = r.json()["event_id"]
    with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("event_id") == event_id and msg.get("msg") == "process_completed":
                    outs = (msg.get("output") or {}).get("data") or []
                    msg["out"] = {comps[o].get("props", {}).get("elem_id") or o: v for o, v in zip(dep["outputs"], outs)}
                    return msg
    raise AssertionError(f"no result for {elem_id}")


BATCH = ["At Risk", "birthday", "春节", "sms", "auto", "warm"]   # the drafts page's batch export inputs


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


# ---------------------------------------------------------------- leaks and privilege (issue 11)
def test_an_export_is_readable_by_its_maker_only_and_every_download_is_audited(server, demo_ws):
    """An admin's unmasked batch export: not served by Gradio's file route (not even to the admin),
    never copied into Gradio's cache, downloadable from the app's route by the admin alone; every
    download is audited with the user, the file and the outcome, and no contact in clear."""
    admin, agent, manager = (_http_login(server, u) for u in ("admin", "agent", "manager"))
    msg = _ui_call(admin, "batch-btn", BATCH, uuid.uuid4().hex)
    assert msg["success"], msg
    shown = json.dumps(msg["out"]["batch-file"], ensure_ascii=False)
    predictable = demo_ws.root / "exports" / "drafts-At_Risk-birthday-sms-admin.csv"
    for p in [predictable] + re.findall(r'"path": "([^"]+)"', shown):   # what an agent could fetch before
        assert agent.get(f"/gradio_api/file={p}").status_code == 403, p
    token = re.search(r'href=\\?"exports/([A-Za-z0-9_-]{32})', shown).group(1)
    (path,) = (demo_ws.root / "exports").glob(f"*/{token}/*.csv")
    assert path.parent.parent.name == owner_folder("admin") and path.name == "drafts-At_Risk-birthday-sms.csv"
    phones = set(demo_ws.table("customers")["phone"].dropna().astype(str))
    clear = set(PHONE.findall(path.read_text(encoding="utf-8-sig"))) & phones
    assert clear   # an admin's export has the contacts in clear: what must not leak

    before = len(_records(demo_ws))
    legacy = predictable                                   # a file left there by an older version
    legacy.write_text(path.read_text(encoding="utf-8-sig"), encoding="utf-8")
    for http in (agent, admin):
        for p in (path, legacy):
            assert http.get(f"/gradio_api/file={p}").status_code == 403, p
    cache = demo_ws.root.parent / GRADIO_CACHE
    cached = [f for f in cache.rglob("*") if f.is_file() and f.suffix == ".csv"] if cache.exists() else []
    assert not any(set(PHONE.findall(f.read_text(encoding="utf-8", errors="ignore"))) & clear for f in cached)

    assert agent.get(f"/exports/{token}").status_code == 404       # as if it did not exist
    assert manager.get(f"/exports/{token}").status_code == 404
    assert httpx.get(f"{server}/exports/{token}").status_code == 401
    assert agent.get(f"/exports/{'x' * 32}").status_code == 404
    r = admin.get(f"/exports/{token}")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert set(PHONE.findall(r.text)) & phones == clear and r.headers["cache-control"] == "private, no-store"

    old = time.time() - 61 * 60                                    # past the default TTL of 60 minutes
    os.utime(path, (old, old))
    assert admin.get(f"/exports/{token}").status_code == 410 and not path.exists()

    records = _records(demo_ws)[before:]
    downloads = [(r["user"], r["role"], r["outcome"], r.get("file", "")) for r in records if r["event"] == "download"]
    assert downloads == [("agent", "agent", "not_yours", ""), ("manager", "manager", "not_yours", ""),
                         ("?", "", "not_logged_in", ""), ("agent", "agent", "not_found", ""),
                         ("admin", "admin", "ok", path.name), ("admin", "admin", "expired", "")]
    ids = [r["export_id"] for r in records if r["event"] == "download"]
    assert len(set(ids[:3] + ids[4:])) == 1 and token not in json.dumps(records)   # one export, its id hashed
    log = demo_ws.audit_log_path.read_text(encoding="utf-8")
    assert not set(PHONE.findall(log)) & phones
    legacy.unlink()


def test_a_replayed_session_hash_gets_the_callers_rights_not_the_sessions(server, demo_ws):
    """An agent who replays an admin's Gradio session hash with its own login gets agent rights —
    masked contacts, no batch export — and is audited as the agent; the admin's conversation is not
    the agent's."""
    row = _customer_with_contacts(demo_ws)
    cid, phone = str(row["customer_id"]), str(row["phone"])
    admin, agent = _http_login(server, "admin"), _http_login(server, "agent")
    session_hash = uuid.uuid4().hex
    before = len(_records(demo_ws))
    admin_card = _ui_call(admin, "card-open", [cid], session_hash)["out"]["customer-card"]
    assert phone in admin_card
    agent_card = _ui_call(agent, "card-open", [cid], session_hash)["out"]["customer-card"]
    assert cid in agent_card and phone not in agent_card and phone[-4:] in agent_card
    refused = _ui_call(agent, "batch-btn", BATCH, session_hash)
    assert refused["success"] is False and "may not use tool 'draft_care_batch'" in json.dumps(refused)
    new = [r for r in _records(demo_ws)[before:] if r["event"] in ("card", "export")]
    assert [(r["event"], r["user"], r["role"], r["tool_calls"][0]["refused"]) for r in new] == [
        ("card", "admin", "admin", False), ("card", "agent", "agent", False), ("export", "agent", "agent", True)]


def test_two_api_clients_of_one_user_are_two_conversations(server, demo_ws):
    cid = str(_customer_with_contacts(demo_ws)["customer_id"])
    first, second = _client(server, "manager"), _client(server, "manager")
    assert _ask(first, f"{cid} 的客户画像")["tool_calls"][0]["args"]["customer_id"] == cid
    other = _ask(second, "他的流失概率是多少？")          # the second client has no customer in focus
    assert other["needs_clarification"] and cid not in json.dumps(other, ensure_ascii=False)
    again = _ask(first, "他的流失概率是多少？")           # the first one still has its own
    assert again["tool_calls"][0]["args"]["customer_id"] == cid


def test_an_export_asked_for_through_the_api_links_to_its_makers_download(server, demo_ws):
    out = _ask(_client(server, "admin"), "draft win-back SMS for all At Risk customers")
    result = out["tool_calls"][0]["result"]
    assert out["tool_calls"][0]["tool"] == "draft_care_batch" and re.fullmatch(r"/exports/[\w-]{32}", result["download"])
    assert result["file"] == "drafts-At_Risk-winback-sms.csv" and "path" not in result
    assert _http_login(server, "admin").get(result["download"]).status_code == 200
    assert _http_login(server, "manager").get(result["download"]).status_code == 404


def test_wrong_passwords_lock_the_account_with_a_clear_message(server, demo_settings, demo_ws):
    """Failed logins to one account lock it (even the right password is refused, with 429, a clear
    message and Retry-After); each attempt is audited with the account tried, never a password."""
    add_user(demo_settings, "lock-probe", "agent", "the-right-password")

    def attempt(password):
        return httpx.post(f"{server}/login", data={"username": "lock-probe", "password": password}, timeout=60)

    before = len(_records(demo_ws))
    assert [attempt("a-wrong-password").status_code for _ in range(LOGIN_MAX_FAILURES)] == [400] * LOGIN_MAX_FAILURES
    r = attempt("the-right-password")
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 900
    assert "Too many failed logins" in r.json()["detail"] and "登录失败次数过多" in r.json()["detail"]
    from gradio_client import Client
    with pytest.raises(Exception):
        Client(server, auth=("lock-probe", "the-right-password"), verbose=False)
    new = [(r["event"], r["user"], r["client"]) for r in _records(demo_ws)[before:] if r["event"].startswith("login")]
    assert new == [("login_failed", "lock-probe", "127.0.0.1")] * LOGIN_MAX_FAILURES + [
        ("login_locked", "lock-probe", "127.0.0.1")] * 2
    log = demo_ws.audit_log_path.read_text(encoding="utf-8")
    assert "a-wrong-password" not in log and "the-right-password" not in log


def test_an_unknown_account_answers_as_slowly_as_a_known_one(server, demo_settings):
    """No timing oracle for which names exist: an unknown name pays the same password check."""
    probes = [f"timing-probe-{i}" for i in range(2)]
    for name in probes:
        add_user(demo_settings, name, "agent", "the-right-password")

    def seconds(username):
        t0 = time.perf_counter()
        r = httpx.post(f"{server}/login", data={"username": username, "password": "wrong"}, timeout=60)
        assert r.status_code == 400
        return time.perf_counter() - t0

    known, unknown = [], []
    for i in range(2 * (LOGIN_MAX_FAILURES - 1)):     # interleaved: a busy machine slows both alike
        known.append(seconds(probes[i % 2]))
        unknown.append(seconds(f"nobody-{i}"))
    assert min(unknown) > 0.5 * min(known), (unknown, known)


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
            with page.expect_download() as download:   # from the app's own route, as its maker
                page.locator("#batch-file a").click()
            exported = Path(download.value.path()).read_text(encoding="utf-8-sig")
            exported_name = download.value.suggested_filename
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

            page.click("#reset")                       # a new conversation: no customer in focus
            page.fill("#question textarea", "draft win-back SMS for all At Risk customers")
            page.click("#send")                        # a batch asked for in the chat: its link under the answer
            link = page.locator("#chatbot a", has_text="drafts-At_Risk-winback-sms.csv")
            expect(link).to_be_visible(timeout=30_000)
            with page.expect_download() as chat_download:
                link.click()
            from_chat = Path(chat_download.value.path()).read_text(encoding="utf-8-sig")
        finally:
            browser.close()
    assert len(list(SCREENSHOTS.glob("0[1-6]*.png"))) == 7
    export = max((demo_ws.root / "exports" / owner_folder("manager")).glob(f"*/{exported_name}"),
                 key=lambda p: p.stat().st_mtime)
    text = export.read_text(encoding="utf-8-sig")
    phones = set(demo_ws.table("customers")["phone"].dropna().astype(str))
    assert text.count("\n") > 2 and not set(PHONE.findall(text)) & phones  # the manager's export is masked
    assert exported == text
    assert from_chat.count("\n") > 2 and not set(PHONE.findall(from_chat)) & phones


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


@pytest.mark.browser
def test_an_agent_resolves_a_complaint_from_the_search_results_in_a_real_browser(demo_settings, tmp_path):
    """Complaint follow-through (issue 12): an agent finds an open complaint, marks it resolved with
    a resolution, and the results show the new status beside the file's; the event log has it, by
    that agent; the follow-up drafted from the same row says it was resolved."""
    from playwright.sync_api import expect, sync_playwright

    from knowledge.events import EventLog
    from knowledge.workspace import Workspace
    root = tmp_path / "ws"
    shutil.copytree(demo_settings.workspace, root, ignore=shutil.ignore_patterns(
        "exports", "audit.jsonl", "*.log", "events.sqlite*"))
    ws = Workspace(root)
    fb = ws.table("feedback")
    row = fb.loc[fb["kind"].eq("complaint") & fb["status"].eq("open")].iloc[0]
    fid, text = str(row["feedback_id"]), str(row["text"])
    app = _Serving(root)
    try:
        with sync_playwright() as p:
            browser = _chromium(p)
            try:
                page = _log_in(browser, app.url, "agent")
                page.click("#tab-complaints-button")
                page.fill("#complaint-query textarea", text)
                page.click("#complaint-search")
                results = page.locator("#complaint-results")
                expect(results).to_contain_text(fid, timeout=60_000)
                expect(results.locator("[role=gridcell]").first).to_be_visible(timeout=30_000)
                results.locator("[role=gridcell]", has_text=fid).first.click()
                expect(page.get_by_text(f"已选中: {fid}")).to_be_visible(timeout=10_000)
                page.fill("#complaint-resolution textarea", "已补发新品并致歉")
                page.click("#complaint-update")
                expect(results).to_contain_text("已解决（agent", timeout=30_000)
                expect(results).to_contain_text("源文件为 未解决")
                page.screenshot(path=str(SCREENSHOTS / "12-complaint-resolved.png"), full_page=True)
                page.click("#complaint-followup")
                expect(page.locator("#draft-text textarea")).not_to_have_value("", timeout=30_000)
                draft = page.locator("#draft-text textarea").input_value()
                page.click("#draft-sent")
                expect(page.locator("#draft-sent-status")).to_contain_text("已记录", timeout=30_000)
                # the customer's card shows the follow-through (both statuses), and takes a note
                page.click("#tab-chat-button")
                page.fill("#card-id textarea", str(row["customer_id"]))
                page.click("#card-open")
                card = page.locator("#customer-card")
                expect(card).to_contain_text("投诉跟进", timeout=30_000)
                expect(card).to_contain_text("源文件为 未解决")
                expect(card).to_contain_text("联系记录")
                page.locator("#card-followup").get_by_text("客服跟进").click()
                page.fill("#card-note textarea", "<b>只在工作日联系</b>")
                page.click("#card-add-note")
                expect(card).to_contain_text("<b>只在工作日联系</b>", timeout=30_000)   # as text, not markup
                page.screenshot(path=str(SCREENSHOTS / "12-card-follow-through.png"), full_page=True)
            finally:
                browser.close()
    finally:
        app.close()
    (ev,) = EventLog.of(ws).events(kind="complaint_status")
    assert (ev.subject, ev.actor, ev.payload["status"], ev.payload["resolution"]) == (fid, "agent", "resolved", "已补发新品并致歉")
    assert ev.payload["previous_status"] == "open"
    (contact,) = EventLog.of(ws).events(kind="contact")
    assert (contact.subject, contact.actor, contact.payload["campaign_id"], contact.payload["occasion"]) == (
        str(row["customer_id"]), "agent", None, "complaint_followup")
    assert "补发" in draft   # the follow-up reads the log's resolution (classified: reship), not the file's status
    assert [e.payload["text"] for e in EventLog.of(ws).events(kind="customer_note")] == ["<b>只在工作日联系</b>"]
    audited = [r["event"] for r in _records(ws)]
    assert "complaint_update" in audited and "mark_sent" in audited


def test_the_effect_page_measures_a_campaign_for_managers_only(server, demo_ws):
    """The campaign-effect view (issue 12): a manager measures the planted win-back campaign and
    gets its figures and chart; an agent's call is refused by the tool layer; both are audited."""
    from tools.campaign_effect import campaign_choices
    wb = next(cid for label, cid in campaign_choices(demo_ws) if "挽回" in label)
    manager = _http_login(server, "manager")
    msg = _ui_call(manager, "effect-run", [wb, 30, "zh"], uuid.uuid4().hex)
    out = msg["out"]
    assert msg.get("success", True), msg
    assert wb in out["effect-text"] and "95% CI" in out["effect-text"]
    assert out["effect-plot"] is not None
    agent = _http_login(server, "agent")
    refused = _ui_call(agent, "effect-run", [wb, 30, "zh"], uuid.uuid4().hex)["out"]
    assert refused["effect-text"].startswith("⚠") and refused["effect-plot"] is None
    calls = [r for r in _records(demo_ws) if r.get("event") == "campaign_effect"]
    assert {(r["user"], r["tool_calls"][0]["refused"]) for r in calls[-2:]} == {("manager", False), ("agent", True)}


@pytest.mark.browser
def test_a_manager_sees_the_planted_uplift_on_the_effect_page(server):
    from playwright.sync_api import expect, sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = _chromium(p)
        try:
            page = _log_in(browser, server, "manager")
            page.get_by_role("tab", name="活动效果").click()
            page.click("#effect-compare")
            expect(page.locator("#effect-text")).to_contain_text("已评估", timeout=30_000)
            expect(page.locator("#effect-plot .js-plotly-plot")).to_be_visible(timeout=30_000)
            page.click("#effect-run")
            expect(page.locator("#effect-text")).to_contain_text("活动效果：", timeout=30_000)
            expect(page.locator("#effect-text")).to_contain_text("95% CI")
            page.screenshot(path=str(SCREENSHOTS / "11-campaign-effect.png"), full_page=True)
        finally:
            browser.close()


@pytest.mark.browser
def test_a_manager_runs_a_win_back_campaign_in_the_browser(demo_settings, tmp_path):
    """Create a win-back campaign for the at-risk list (an opted-out customer and one contacted two days
    ago are left out and counted), edit a draft, approve, export .xlsx (masked, a formula-like name
    kept as text), mark it sent; an agent sees the campaign but none of the steps."""
    import io

    import openpyxl
    import pandas as pd
    from playwright.sync_api import expect, sync_playwright

    from knowledge.events import EventLog
    from knowledge.workspace import Workspace
    from tools.campaigns import resolve_target

    root = tmp_path / "ws"
    shutil.copytree(demo_settings.workspace, root, ignore=shutil.ignore_patterns("exports", "audit.jsonl", "*.log",
                                                                                  "events.sqlite*"))
    ws = Workspace(root)
    top = resolve_target(ws, "at_risk", {"top": 40}).ids
    opted, capped, renamed = top[0], top[1], top[2:5]   # three, so that one is surely not in the control group
    (root / "opt_out.txt").write_text(f"# asked not to be messaged\n{opted}\n", encoding="utf-8")
    as_of = ws.as_of()
    EventLog.of(ws).append("contact", "alice", capped, {"campaign_id": None, "channel": "sms", "occasion": "birthday",
                                                         "marketing": True,
                                                         "sent_at": (as_of - pd.Timedelta(days=2)).date().isoformat()})
    cust = ws.table("customers").copy()
    cust.loc[cust["customer_id"].isin(renamed), "name"] = "=HYPERLINK(\"http://x\",\"点我\")"
    ws.write_table("customers", cust)
    phones = set(cust["phone"].dropna().astype(str))
    app = _Serving(root)
    try:
        with sync_playwright() as p:
            browser = _chromium(p)
            try:
                page = _log_in(browser, app.url, "manager")
                page.get_by_role("tab", name="营销活动").click()
                expect(page.locator("#campaign-create")).to_be_visible(timeout=30_000)
                page.locator("#campaign-size input").fill("40")
                page.click("#campaign-create")
                msg = page.locator("#campaign-msg")
                expect(msg).to_contain_text("已创建活动草稿", timeout=60_000)
                expect(msg).to_contain_text("已退订/拒收 1")
                expect(msg).to_contain_text("频次上限） 1")
                cmp_id = re.search(r"cmp-\d{8}-[0-9a-f]{4}", msg.inner_text()).group(0)
                table = page.locator("#campaign-drafts")
                expect(table.locator("[role=gridcell]").first).to_be_visible(timeout=60_000)
                table.locator("[role=gridcell]").nth(2).click()          # the first draft's text
                expect(page.locator("#campaign-edit-text textarea")).not_to_have_value("", timeout=10_000)
                edited_for = page.locator("#campaign-edit-cid textarea").input_value()
                expect(page.locator("#campaign-sources")).to_contain_text("customers table", timeout=30_000)
                page.fill("#campaign-edit-text textarea", "王女士您好，好久不见，回来看看新品吧。回T退订【Guanxi 商城】")
                page.click("#campaign-edit-save")
                expect(table).to_contain_text("✓", timeout=30_000)
                page.screenshot(path=str(SCREENSHOTS / "12-campaign-drafts.png"), full_page=True)
                page.click("#campaign-export-xlsx")                         # out of order: refused, said why
                expect(msg).to_contain_text("不能导出", timeout=30_000)
                page.click("#campaign-approve")
                expect(msg).to_contain_text("已审批（含 1 处修改）", timeout=60_000)
                page.click("#campaign-export-xlsx")
                expect(page.locator("#campaign-file")).to_contain_text(".xlsx", timeout=60_000)
                with page.expect_download() as download:
                    page.locator("#campaign-file a").click()
                assert download.value.suggested_filename == f"{cmp_id}-sms.xlsx"
                book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
                page.click("#campaign-sent")
                expect(msg).to_contain_text("已标记为已发送", timeout=60_000)
                expect(page.locator("#campaign-info")).to_contain_text("已发送", timeout=30_000)
                page.screenshot(path=str(SCREENSHOTS / "13-campaign-sent.png"), full_page=True)
                page.close()

                page = _log_in(browser, app.url, "agent")
                page.get_by_role("tab", name="营销活动").click()
                expect(page.locator("#campaign-info")).to_contain_text(cmp_id, timeout=30_000)
                page.click("#campaign-refresh")
                expect(page.locator("#campaign-info")).to_contain_text("已发送", timeout=30_000)
                assert not page.locator("#campaign-create").is_visible()
                assert not page.locator("#campaign-approve").is_visible()
            finally:
                browser.close()
    finally:
        app.close()
    sheet = book.active
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    head, body = rows[0], rows[1:]
    by_id = {r[head.index("customer_id")]: r for r in body}
    assert opted not in by_id and capped not in by_id and len(body) >= 30
    assert by_id[edited_for][head.index("text")].startswith("王女士您好")
    cells = [sheet.cell(row=2 + list(by_id).index(c), column=head.index("name") + 1) for c in renamed if c in by_id]
    assert cells and all(c.data_type == "s" and str(c.value).startswith("'=HYPERLINK") for c in cells)  # text, not a formula
    assert not {str(r[head.index("phone")]) for r in body} & phones          # masked for a manager
    log = EventLog.of(Workspace(root))
    sent = log.events(kind="campaign_sent", subject=cmp_id)
    assert len(sent) == 1 and sorted(sent[0].payload["customers"]) == sorted(by_id)
    contacts = [e for e in log.events(kind="contact") if e.payload.get("campaign_id") == cmp_id]
    assert sorted(e.subject for e in contacts) == sorted(by_id)
