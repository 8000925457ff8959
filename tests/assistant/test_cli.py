"""The `guanxi` command line, run as a user runs it (a subprocess): clear messages, non-zero exits,
no tracebacks for a user's mistake; every command documented in the README."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def guanxi(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert f"guanxi {name}" in readme, f"`guanxi {name}` is not documented in README.md"


@pytest.mark.parametrize("args, message", [
    (("build", "--data", "/nonexistent/folder", "--no-index"), "data folder /nonexistent/folder does not exist"),
    (("ask", "hello"), "has no built tables"),
    (("tool", "query_metrics", "--args", "{not json"), "--args: expected a JSON object"),
])
def test_user_mistakes_get_one_clear_message_and_exit_2(tmp_path, args, message):
    r = guanxi(*args, "--workspace", str(tmp_path / "ws"))
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_ask_json_and_tool_on_a_built_workspace(routing_settings):
    ws = str(routing_settings.workspace)
    r = guanxi("ask", "复购率是多少？", "--json", "--workspace", ws)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {"answer", "language", "tool_calls", "provenance", "chart", "needs_clarification"}
    assert out["language"] == "zh" and out["tool_calls"][0]["tool"] == "query_metrics"
    assert out["tool_calls"][0]["args"]["metric"] == "repurchase_rate"
    r = guanxi("tool", "segment_summary", "--args", "{}", "--workspace", ws)
    assert r.returncode == 0, r.stderr
    assert "provenance" in json.loads(r.stdout)


def _audit_records(ws) -> list[dict]:
    p = ws.audit_log_path
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()] if p.exists() else []


def test_guanxi_ask_and_chat_audit_each_question_once(demo_settings, demo_ws, capsys, monkeypatch):
    from assistant.audit import default_user
    from assistant.cli import main
    ws = str(demo_settings.workspace)
    before = len(_audit_records(demo_ws))
    assert main(["ask", "复购率是多少？", "--workspace", ws]) == 0
    assert capsys.readouterr().out.strip()
    new = _audit_records(demo_ws)[before:]
    assert [(r["event"], r["user"], r["role"], r["entry"]) for r in new] == [("ask", default_user(), "manager", "cli")]
    assert [c["tool"] for c in new[0]["tool_calls"]] == ["query_metrics"] and new[0]["question"] == "复购率是多少？"

    lines = iter(["各省份的销售额", "reset", "What is the repurchase rate?", "exit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    before = len(_audit_records(demo_ws))
    assert main(["chat", "--workspace", ws]) == 0
    new = _audit_records(demo_ws)[before:]
    assert [(r["entry"], r["user"]) for r in new] == [("chat", default_user())] * 2   # reset and exit are not questions
    assert all(r["tool_calls"] for r in new)
