"""A fresh start serves before the feedback is embedded (issue 11, item 6): `guanxi start` builds
the tables and analyses only, the app indexes in the background with a status line, and complaint
search is honest meanwhile."""
from __future__ import annotations

import json
import os

import pytest

from knowledge.settings import Settings
from knowledge.workspace import Workspace
from tests.assistant.test_generations import SMALL, TinyEmbedder


def test_guanxi_start_builds_without_the_index_and_serves(tmp_path, monkeypatch):
    from assistant import cli, pipeline
    calls = []
    monkeypatch.setattr(pipeline, "build_demo", lambda settings, **kw: calls.append(kw) or "built")
    monkeypatch.setattr(cli, "cmd_serve", lambda args: calls.append("serve") or 0)
    assert cli.main(["start", "--workspace", str(tmp_path / "fresh")]) == 0
    assert calls[0]["index"] is False and calls[-1] == "serve"


def test_the_app_indexes_in_the_background_and_says_how_far(tmp_path, monkeypatch):
    import knowledge.feedback_store as fs
    from assistant.indexer import BackgroundIndex, status_line
    from assistant.pipeline import build_demo
    from tools.context import ToolError
    from tools.registry import call_tool
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml", workspace=tmp_path / "ws")
    build_demo(settings, seed=3, index=False, **SMALL)
    monkeypatch.setattr(fs, "get_embedder", lambda *a, **k: TinyEmbedder())
    assert "being built" in status_line(settings, "en") and status_line(settings, "zh").startswith("⏳")
    with pytest.raises(ToolError, match="not built yet"):
        call_tool("similar_complaints", {"text": "快递太慢"}, settings=settings)

    job = BackgroundIndex(settings).start()
    assert job.thread is not None
    assert job.done.wait(120) and job.error is None
    assert fs.index_status(Workspace(settings.workspace))["state"] == "ready"
    assert status_line(settings, "en") == ""
    assert BackgroundIndex(settings).start().thread is None   # ready: nothing to do


def test_the_status_line_reports_the_percentage_while_indexing(tmp_path):
    from assistant.indexer import status_line
    from knowledge.feedback_store import index_dir
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml", workspace=tmp_path / "ws")
    idir = index_dir(Workspace(settings.workspace))
    idir.mkdir(parents=True)   # a sync of this process, 37 of 100 done
    (idir / "SYNCING").write_text(json.dumps({"pid": os.getpid(), "done": 37, "total": 100}))
    assert "37%" in status_line(settings, "en") and "37%" in status_line(settings, "zh")
