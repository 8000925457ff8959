"""Where the feedback vectors live (knowledge/vector_store.py): the settings that name a Chroma
server, the workspace's own collection on it, and the messages for a wrong setting. No server
needed here (tests/knowledge/test_chroma_server.py runs a real one)."""
from __future__ import annotations

import json
import shutil

import pytest

from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from knowledge.vector_store import EMBEDDED_COLLECTION, parse_chroma_url, vector_store, workspace_id


def _settings(tmp_path, **kw) -> Settings:
    return Settings.load(env={}, config_file=tmp_path / "none.toml", workspace=tmp_path / "ws", **kw)


def test_the_default_is_the_store_embedded_in_the_workspace(tmp_path):
    s = _settings(tmp_path)
    vs = vector_store(s.workspace, s)
    assert not vs.server and vs.collection == EMBEDDED_COLLECTION and vs.key == "embedded"
    assert vs.path == (tmp_path / "ws" / "chroma").resolve()
    assert "embedded" in vs.describe() and str(vs.path) in vs.describe()
    assert not (tmp_path / "ws" / "workspace_id.json").exists()    # no id needed without a server


def test_a_server_url_names_a_collection_of_this_workspace(tmp_path):
    s = _settings(tmp_path, chroma_url="http://127.0.0.1:8123/")
    assert s.chroma_url == "http://127.0.0.1:8123"
    vs = vector_store(s.workspace, s)
    wid = workspace_id(s.workspace)
    assert vs.server and vs.collection == f"guanxi-feedback-{wid}" and vs.workspace == wid
    assert vs.key == f"http://127.0.0.1:8123#{vs.collection}"
    assert vector_store(s.workspace, s).collection == vs.collection           # stable
    other = vector_store(s.workspace, s.with_(chroma_collection_prefix="shop2"))
    assert other.collection == f"shop2-feedback-{wid}"


def test_a_copied_workspace_gets_its_own_collection(tmp_path):
    s = _settings(tmp_path, chroma_url="http://127.0.0.1:8123")
    first = vector_store(s.workspace, s)
    shutil.copytree(tmp_path / "ws", tmp_path / "copy")
    copied = vector_store(tmp_path / "copy", s)
    assert copied.collection != first.collection                 # never two workspaces on one collection
    assert vector_store(s.workspace, s).collection == first.collection
    data = json.loads((tmp_path / "copy" / "workspace_id.json").read_text())
    assert data["root"] == str((tmp_path / "copy").resolve())


def test_reading_the_settings_mints_no_id(tmp_path):
    s = _settings(tmp_path, chroma_url="http://127.0.0.1:8123")
    vs = vector_store(s.workspace, s, create_id=False)
    assert vs.collection == "" and "first index build" in vs.describe()
    assert workspace_id(s.workspace, create=False) is None


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:8000", ("127.0.0.1", 8000, False)),
    ("http://chroma.internal", ("chroma.internal", 8000, False)),
    ("https://vectors.example.com", ("vectors.example.com", 443, True)),
    ("https://[::1]:9000/", ("::1", 9000, True)),
])
def test_server_urls(url, expected):
    assert parse_chroma_url(url) == expected


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://h:1", "http://", "http://h:99999", "http://h:8000/api/v2",
                                 "http://user:pw@h:8000", "chroma"])
def test_a_wrong_url_names_the_setting_and_an_example(tmp_path, url):
    with pytest.raises(GuanxiError, match=r"chroma_url.*http://127.0.0.1:8000"):
        _settings(tmp_path, chroma_url=url)


@pytest.mark.parametrize("prefix", ["-x", "a b", "店铺", "x" * 101, "a/b"])
def test_a_wrong_prefix_names_the_setting(tmp_path, prefix):
    with pytest.raises(GuanxiError, match="chroma_collection_prefix"):
        _settings(tmp_path, chroma_collection_prefix=prefix)


def test_guanxi_settings_shows_where_the_vector_store_is(tmp_path, capsys):
    from assistant import cli
    ws = tmp_path / "ws"
    cfg = tmp_path / "guanxi.toml"
    cfg.write_text('chroma_url = "http://10.0.0.5:8000"\n', encoding="utf-8")
    assert cli.main(["settings", "--workspace", str(ws), "--config", str(cfg)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["chroma_url"] == "http://10.0.0.5:8000"
    assert shown["vector_store"].startswith("Chroma server http://10.0.0.5:8000")
    assert cli.main(["settings", "--workspace", str(ws), "--config", str(tmp_path / "none.toml")]) == 0
    assert json.loads(capsys.readouterr().out)["vector_store"].startswith("embedded Chroma at")
    cfg.write_text('chroma_url = "localhost:8000"\n', encoding="utf-8")
    assert cli.main(["settings", "--workspace", str(ws), "--config", str(cfg)]) == 2
    assert "chroma_url" in capsys.readouterr().err
