"""Every question is audited by `Assistant.ask` — one record per question, whatever it came in
through (Python API, `guanxi ask`, `guanxi chat`, the app) and however it ended (answered, refused,
clarified, failed) — and nothing personal is written in clear."""
from __future__ import annotations

import json
import re

import pytest

from assistant import Assistant
from assistant.audit import default_user

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def records(ws) -> list[dict]:
    p = ws.audit_log_path
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()] if p.exists() else []


class Audit:
    """The records a block of code adds to the workspace's audit log."""

    def __init__(self, ws):
        self.ws = ws

    def __enter__(self):
        self.before = len(records(self.ws))
        return self

    def __exit__(self, *exc):
        self.new = records(self.ws)[self.before:]
        return False


def assert_no_personal_data(ws) -> None:
    log = ws.audit_log_path.read_text(encoding="utf-8")
    customers = ws.table("customers")
    phones, emails = set(customers["phone"].dropna().astype(str)), set(customers["email"].dropna().astype(str))
    assert not set(PHONE.findall(log)) & phones
    assert not set(EMAIL.findall(log)) & emails
    names = {n for n in customers["name"].dropna().astype(str) if len(n) >= 2}
    assert not {n for n in names if n in log}


@pytest.fixture(scope="module")
def person(demo_ws) -> dict:
    c = demo_ws.table("customers")
    counts = c["name"].value_counts()
    unique = c[c["phone"].notna() & c["email"].notna() & c["name"].map(counts).eq(1) & c["name"].str.len().ge(2)]
    return unique.iloc[0].to_dict()


def test_a_question_from_code_is_one_record_naming_user_role_entry_and_tools(demo_settings, demo_ws, person):
    a = Assistant(settings=demo_settings, user="alice", role="manager")
    with Audit(demo_ws) as log:
        out = a.ask(f"{person['name']} 的客户画像，手机 {person['phone']}，邮箱 {person['email']}")
    assert len(log.new) == 1
    rec = log.new[0]
    assert rec["event"] == "ask" and rec["user"] == "alice" and rec["role"] == "manager" and rec["entry"] == "api"
    assert [c["tool"] for c in rec["tool_calls"]] == [c["tool"] for c in out["tool_calls"]] == ["customer_profile"]
    assert len(rec["tool_calls"][0]["args_sha256"]) == 16 and "args" not in rec["tool_calls"][0]
    assert rec["refused"] is False and rec["needs_clarification"] is False and isinstance(rec["seconds"], float)
    assert rec["question"] and person["name"] not in rec["question"] and person["phone"] not in rec["question"]
    assert_no_personal_data(demo_ws)


def test_the_default_user_is_the_login_and_audit_false_writes_nothing(demo_settings, demo_ws):
    a = Assistant(settings=demo_settings)
    assert a.user == default_user() and a.entry == "api"
    with Audit(demo_ws) as log:
        a.ask("复购率是多少？")
    assert [(r["user"], r["entry"], r["tool_calls"][0]["tool"]) for r in log.new] == [(default_user(), "api", "query_metrics")]
    with Audit(demo_ws) as log:
        Assistant(settings=demo_settings, audit=False).ask("复购率是多少？")
    assert log.new == []


def test_refused_clarified_and_unknown_questions_are_audited_too(demo_settings, demo_ws):
    agent = Assistant(settings=demo_settings, role="agent", user="bob", entry="app")
    with Audit(demo_ws) as log:
        out = agent.ask("复购率是多少？")
    assert out["tool_calls"][0]["result"].get("refused")
    assert len(log.new) == 1 and log.new[0]["refused"] is True and log.new[0]["role"] == "agent"
    call = log.new[0]["tool_calls"][0]
    assert call["tool"] == "query_metrics" and call["refused"] is True

    a = Assistant(settings=demo_settings, user="carol")
    with Audit(demo_ws) as log:
        out = a.ask("他的流失概率是多少？")          # no customer in the conversation yet
    assert out["needs_clarification"]
    assert len(log.new) == 1 and log.new[0]["needs_clarification"] is True and log.new[0]["tool_calls"] == []
    with Audit(demo_ws) as log:
        a.ask("今天天气怎么样？")
    assert len(log.new) == 1 and log.new[0]["tool_calls"] == [] and log.new[0]["user"] == "carol"


def test_a_failed_question_is_audited_with_its_error(demo_settings, demo_ws, person, monkeypatch):
    a = Assistant(settings=demo_settings, user="dave")

    def boom(question, notice=None):
        raise RuntimeError(f"router broke on {person['name']} {person['phone']}")

    monkeypatch.setattr(a, "ask_offline", boom)
    with Audit(demo_ws) as log, pytest.raises(RuntimeError):
        a.ask(f"{person['name']} 的客户画像")
    assert len(log.new) == 1
    rec = log.new[0]
    assert rec["user"] == "dave" and rec["error"].startswith("RuntimeError: router broke on")
    assert_no_personal_data(demo_ws)


def test_a_question_in_the_app_is_one_record(demo_settings, demo_ws):
    import app
    st = app.Session(demo_settings, "erin", "manager")
    with Audit(demo_ws) as log:
        out = st.ask("各省份的销售额")
    assert len(log.new) == 1
    rec = log.new[0]
    assert (rec["event"], rec["user"], rec["role"], rec["entry"]) == ("ask", "erin", "manager", "app")
    assert [c["tool"] for c in rec["tool_calls"]] == [c["tool"] for c in out["tool_calls"]]
    assert rec["tool_calls"]


def test_contacts_with_dots_full_width_digits_or_a_full_width_at_are_masked_in_the_log(demo_settings, demo_ws, person):
    """139.1234.5678, １３９１２３４５６７８ and wang＠example.com are the same contacts: none is written in clear."""
    phone, email = str(person["phone"]), str(person["email"])
    dotted = f"{phone[:3]}.{phone[3:7]}.{phone[7:]}"
    wide = phone.translate({ord(d): chr(ord(d) + 0xFEE0) for d in "0123456789"})
    at = email.replace("@", "＠")
    a = Assistant(settings=demo_settings, user="alice")
    with Audit(demo_ws) as log:
        a.ask(f"{person['customer_id']} 的手机是 {dotted} 还是 {wide}，邮箱 {at} 对吗?")
    q = log.new[0]["question"]
    local = email.split("@")[0]
    assert dotted not in q and wide not in q and at not in q and local not in q, q
    assert phone[-4:] in q and wide[-4:] not in q          # masked as 139****5678, in ASCII digits
    assert q.count(phone[:3] + "****" + phone[-4:]) == 2 and "***@" in q
