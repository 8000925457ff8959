"""The feedback index on a real Chroma server (`chroma run` on loopback, a free port, a temporary
folder): pointing a workspace at it, incremental sync and resume after a crash against it, the same
similar-complaint hits as the embedded store on the same data, and clear messages when the server
does not answer or holds a collection of another model."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from knowledge.errors import GuanxiError
from knowledge.feedback_store import FeedbackStore, index_dir, index_status, sync_feedback_index
from knowledge.settings import Settings
from knowledge.vector_store import vector_store
from knowledge.workspace import Workspace
from tests.assistant.test_generations import TinyEmbedder

N_FEEDBACK = 100   # a subset of the session demo's feedback: enough kinds, categories and customers
QUERIES = ["快递太慢了，等了好几天", "收到的茶叶有股陈味", "奶粉快过期了", "客服不理人", "the package arrived damaged",
           "能不能便宜点", "退款一直没到账"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_chroma(path: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """`chroma run` on loopback, storing in `path`; returns (process, URL) once its heartbeat answers."""
    exe = Path(sys.executable).with_name("chroma")
    exe = exe if exe.exists() else Path(shutil.which("chroma") or "chroma")
    port = port or _free_port()
    path.mkdir(parents=True, exist_ok=True)
    log = path / f"chroma-{port}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(exe), "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port",
                                 str(port)], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_chroma(proc)
            pytest.fail(f"chroma run did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)


def stop_chroma(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    """A real Chroma server for this module; its URL. Stopped at teardown."""
    proc, url = start_chroma(tmp_path_factory.mktemp("chroma-server"))
    yield url
    stop_chroma(proc)


def _settings(root: Path, **kw) -> Settings:
    return Settings.load(env={}, config_file=root / "none.toml", workspace=root, **kw)


def _small_ws(root: Path, feedback) -> Workspace:
    ws = Workspace(root)
    ws.write_table("feedback", feedback)
    return ws


@pytest.fixture(scope="module")
def feedback(routing_ws):
    return routing_ws.table("feedback").head(N_FEEDBACK).copy()


def _hits(store: FeedbackStore, mode: str, **filters) -> list[list[str]]:
    return [[store.ids[h.row] for h in store.search(q, k=5, mode=mode, **filters)] for q in QUERIES]


def test_pointing_a_workspace_at_a_server_gives_the_same_hits(tmp_path, chroma_server, feedback):
    ws = _small_ws(tmp_path / "ws", feedback)
    embedded = _settings(ws.root)
    first = sync_feedback_index(ws, embedded, log=None, analyses=False)
    assert first["added"] == len(feedback)
    local = FeedbackStore.from_chroma(ws, FeedbackStore.open(ws, embedded).embedder, settings=embedded)

    served = embedded.with_(chroma_url=chroma_server)
    assert index_status(ws)["state"] == "ready"
    assert index_status(ws, served)["state"] == "stale"        # the background indexer fills the server
    moved = sync_feedback_index(ws, served, log=None, analyses=False)
    assert moved["embedded"] == 0 and moved["added"] == len(feedback)   # vectors from the local cache
    assert index_status(ws, served)["state"] == "ready"
    vs = vector_store(ws, served)
    assert vs.server and vs.collection.startswith("guanxi-feedback-")
    assert (index_dir(ws) / "current.json").is_file()          # snapshot, manifest and cache stay local
    assert not any((Path(ws.root) / "chroma").glob(f"*{vs.workspace}*"))

    remote = FeedbackStore.from_chroma(ws, local.embedder, settings=served)    # read back from the server
    assert remote.source == "chroma" and remote.vstore.server
    assert list(remote.ids) == list(local.ids)
    assert np.allclose(remote.vectors, local.vectors, atol=1e-6)
    assert remote.meta.drop(columns="tokens").equals(local.meta.drop(columns="tokens"))
    snap = FeedbackStore.open(ws, served, cached=False)
    for mode in ("hybrid", "dense", "bm25"):
        assert _hits(remote, mode) == _hits(local, mode) == _hits(snap, mode)
    assert _hits(remote, "hybrid", kind="complaint") == _hits(local, "hybrid", kind="complaint")
    assert any(_hits(remote, "dense", kind="complaint"))

    # Chroma's own HNSW search, on the server and embedded, agrees too (with and without `where`)
    for q in QUERIES[:3]:
        qv = local.embed_query(q)
        for f in ({}, {"kind": "complaint"}, {"status": "resolved", "kind": ["complaint", "inquiry"]}):
            assert remote.chroma_query(qv, 5, **f) == local.chroma_query(qv, 5, **f)
    assert remote.collection.count() == len(feedback)
    remote.close()
    local.close()


def test_the_app_moves_an_embedded_index_to_the_server_it_is_pointed_at(tmp_path, chroma_server, feedback,
                                                                        monkeypatch):
    import knowledge.feedback_store as fs
    from assistant.indexer import BackgroundIndex, status_line
    monkeypatch.setattr(fs, "get_embedder", lambda *a, **k: TinyEmbedder())
    ws = _small_ws(tmp_path / "ws", feedback.head(50))
    sync_feedback_index(ws, _settings(ws.root), log=None, analyses=False)
    served = _settings(ws.root, chroma_url=chroma_server)
    job = BackgroundIndex(served).start()          # `guanxi start` with chroma_url newly set
    assert job.thread is not None and job.done.wait(120) and job.error is None
    assert index_status(ws, served)["state"] == "ready" and status_line(served, "en") == ""
    store = FeedbackStore.open(ws, served, cached=False)
    assert store.vstore.server and store.collection.count() == 50
    store.close()
    assert BackgroundIndex(served).start().thread is None      # in place: nothing more to do


def test_incremental_sync_and_resume_on_a_server(tmp_path, chroma_server, feedback):
    ws = _small_ws(tmp_path / "ws", feedback)
    settings = _settings(ws.root, chroma_url=chroma_server)
    emb = TinyEmbedder()
    with pytest.raises(RuntimeError, match="simulated crash"):
        sync_feedback_index(ws, settings, log=None, analyses=False, embedder=emb, batch_size=30,
                            _crash_after_batches=2)
    assert (index_dir(ws) / "SYNCING").exists()                # killed midway: the marker says so
    resumed = sync_feedback_index(ws, settings, log=None, analyses=False, embedder=emb, batch_size=30)
    assert resumed["embedded"] == 0                            # every vector was cached before the crash
    assert resumed["added"] == len(feedback) - 60 and resumed["unchanged"] == 60
    assert index_status(ws, settings)["state"] == "ready"

    changed = feedback.copy()
    changed.iloc[0, changed.columns.get_loc("text")] = "快递员把包裹扔在门口就走了"
    changed.iloc[1, changed.columns.get_loc("status")] = "open" if changed.iloc[1]["status"] != "open" else "resolved"
    changed = changed.drop(index=changed.index[2])
    ws.write_table("feedback", changed)
    st = sync_feedback_index(ws, settings, log=None, analyses=False, embedder=emb)
    assert (st["embedded"], st["updated"], st["removed"], st["added"]) == (1, 2, 1, 0)
    store = FeedbackStore.open(ws, settings, embedder=emb, cached=False)
    assert store.collection.count() == len(changed) == len(store)
    gone = str(feedback.iloc[2]["feedback_id"])
    assert store.collection.get(ids=[gone])["ids"] == []
    back = FeedbackStore.from_chroma(ws, emb, settings=settings)
    assert sorted(back.ids) == sorted(store.ids)
    assert back.record(back.row_of[str(changed.iloc[0]["feedback_id"])])["text"] == "快递员把包裹扔在门口就走了"
    store.close()


def test_a_server_lost_midway_is_a_message_and_the_next_sync_resumes(tmp_path, feedback):
    proc, url = start_chroma(tmp_path / "server")
    ws = _small_ws(tmp_path / "ws", feedback)
    settings = _settings(ws.root, chroma_url=url)
    emb = TinyEmbedder()

    def kill_when_writing(event) -> None:     # the server dies after the vectors are embedded
        if event.message.startswith("writing") and proc.poll() is None:
            proc.kill()
            proc.wait()
    try:
        with pytest.raises(GuanxiError, match=rf"{url} \(setting chroma_url\) does not answer"):
            sync_feedback_index(ws, settings, log=None, analyses=False, embedder=emb, batch_size=20,
                                progress=kill_when_writing)
        assert (index_dir(ws) / "SYNCING").exists() and not (index_dir(ws) / "current.json").exists()
        proc, _ = start_chroma(tmp_path / "server", port=int(url.rsplit(":", 1)[1]))   # back, same data
        st = sync_feedback_index(ws, settings, log=None, analyses=False, embedder=emb, batch_size=20)
        assert st["embedded"] == 0 and st["added"] + st["unchanged"] == len(feedback)
        assert index_status(ws, settings)["state"] == "ready"
        assert FeedbackStore.from_chroma(ws, emb, settings=settings).vectors.shape == (len(feedback), emb.dim)
    finally:
        stop_chroma(proc)


def test_two_workspaces_share_one_server_without_clashing(tmp_path, chroma_server, feedback):
    a = _small_ws(tmp_path / "a", feedback.head(40))
    b = _small_ws(tmp_path / "b", feedback.tail(30))
    emb = TinyEmbedder()
    for ws in (a, b):
        sync_feedback_index(ws, _settings(ws.root, chroma_url=chroma_server), log=None, analyses=False, embedder=emb)
    sa = FeedbackStore.from_chroma(a, emb, settings=_settings(a.root, chroma_url=chroma_server))
    sb = FeedbackStore.from_chroma(b, emb, settings=_settings(b.root, chroma_url=chroma_server))
    assert len(sa) == 40 and len(sb) == 30 and not set(sa.ids) & set(sb.ids)
    assert sa.vstore.collection != sb.vstore.collection


def test_a_server_that_does_not_answer_is_one_clear_message(tmp_path, feedback):
    ws = _small_ws(tmp_path / "ws", feedback.head(10))
    url = f"http://127.0.0.1:{_free_port()}"                   # nothing listens there
    settings = _settings(ws.root, chroma_url=url)
    with pytest.raises(GuanxiError) as e:
        sync_feedback_index(ws, settings, log=None, analyses=False, embedder=TinyEmbedder())
    assert url in str(e.value) and "chroma_url" in str(e.value) and "chroma run" in str(e.value)
    assert not (index_dir(ws) / "SYNCING").exists()            # stopped before the sync began
    assert index_status(ws, settings)["state"] == "missing"
    with pytest.raises(GuanxiError, match="chroma_url"):
        FeedbackStore.from_chroma(ws, TinyEmbedder(), settings=settings)


def test_the_cli_and_the_app_say_so_too(tmp_path, routing_ws, monkeypatch, capsys):
    from assistant import cli
    import knowledge.feedback_store as fs
    from assistant.indexer import BackgroundIndex, status_line
    url = f"http://127.0.0.1:{_free_port()}"
    cfg = tmp_path / "guanxi.toml"
    cfg.write_text(f'chroma_url = "{url}"\n', encoding="utf-8")
    code = cli.main(["build", "--workspace", str(tmp_path / "ws"), "--data", str(routing_ws.raw_dir),
                     "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code != 0 and url in err and "chroma_url" in err and "Traceback" not in err
    assert not Workspace(tmp_path / "ws").is_built()            # stopped before building anything

    ws = _small_ws(tmp_path / "app-ws", routing_ws.table("feedback").head(10))
    settings = _settings(ws.root, chroma_url=url)
    monkeypatch.setattr(fs, "get_embedder", lambda *a, **k: TinyEmbedder())
    job = BackgroundIndex(settings).start()
    assert job.done.wait(60) and url in job.error
    line = status_line(settings, "en")
    assert line.startswith("⚠") and "127.0.0.1" in line and "chroma_url" in line
    assert status_line(settings, "zh").startswith("⚠ 投诉检索索引同步失败")


def test_a_collection_of_another_model_is_a_clear_message(tmp_path, chroma_server, feedback):
    ws = _small_ws(tmp_path / "ws", feedback.head(20))
    settings = _settings(ws.root, chroma_url=chroma_server)
    vs = vector_store(ws, settings)
    with vs.session() as client:   # someone else's collection under this workspace's name, 3-dimensional
        col = client.create_collection(vs.collection, embedding_function=None, metadata={"dim": 3})
        col.add(ids=["x1"], embeddings=np.eye(3, dtype=np.float32)[:1])
    with pytest.raises(GuanxiError, match=r"not made by Guanxi.*dimension 3.*chroma_collection_prefix"):
        sync_feedback_index(ws, settings, log=None, analyses=False, embedder=TinyEmbedder())
    with vs.session() as client:
        assert client.get_collection(vs.collection).count() == 1        # never deleted
        client.delete_collection(vs.collection)

    sync_feedback_index(ws, settings, log=None, analyses=False, embedder=TinyEmbedder())

    class OtherModel(TinyEmbedder):
        name, dim = "test-other-8", 8
    with pytest.raises(GuanxiError, match=r"built with test-tiny-16 \(dimension 16\), not test-other-8"):
        FeedbackStore.from_chroma(ws, OtherModel(), settings=settings)
    again = sync_feedback_index(ws, settings, log=None, analyses=False, embedder=OtherModel())
    assert again["added"] == 20                 # this workspace's own index of another model: rebuilt
    assert FeedbackStore.from_chroma(ws, OtherModel(), settings=settings).vectors.shape == (20, 8)
