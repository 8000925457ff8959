"""Shared fixtures: one small demo workspace built once per test session (real pipeline:
generator → ingestion → cleaning → analyses → Chroma index with the real embedding model).

It is built in two steps, each at most once per session and only when a test asks for it:
- `routing_settings` / `routing_ws`: tables and analyses, no feedback vector index. For tests that
  route questions or call table tools (RFM, KPI, churn, baskets ...), not complaint search;
  `pytest tests/assistant/test_router.py` then embeds no feedback at all.
- `demo_settings` / `demo_ws`: the same workspace with its feedback index (Chroma + BM25 + the
  feedback analyses) added — what `build_demo(..., index=True)` gives.
A test on `routing_ws` may therefore find the index present (another test asked for it first)
or absent: it must not need it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEMO_CUSTOMERS = 400


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public datasets beside the project (../shared/data)."""
    assert SHARED_DATA.is_dir(), f"expected the shared datasets at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def _routing_build(tmp_path_factory):
    """The small demo workspace (400 customers, seed 7) with its tables and analyses, and the
    progress events of that build."""
    from knowledge.settings import Settings
    from assistant.pipeline import build_demo

    root = tmp_path_factory.mktemp("demo-ws")
    settings = Settings.load(env={}, config_file=root / "none.toml", workspace=root)
    events: list = []
    build_demo(settings, customers=DEMO_CUSTOMERS, seed=7, index=False, progress=events.append)
    return settings, events


@pytest.fixture(scope="session")
def routing_settings(_routing_build):
    """Settings of the small demo workspace without the feedback vector index (routing, table tools)."""
    return _routing_build[0]


@pytest.fixture(scope="session")
def routing_ws(routing_settings):
    """The small demo `Workspace` for routing and table tools (no feedback index needed)."""
    from knowledge.workspace import Workspace
    return Workspace(routing_settings.workspace)


@pytest.fixture
def routing_ws_copy(routing_ws, tmp_path):
    """A writable copy of the routing demo workspace (its tables and analyses; no exports, audit,
    events or feedback index), for tests that write events."""
    import shutil
    from knowledge.workspace import Workspace
    root = tmp_path / "ws"
    shutil.copytree(routing_ws.root, root, ignore=shutil.ignore_patterns("exports", "audit.jsonl", "events.sqlite*",
                                                                          "chroma", "index"))
    return Workspace(root)


@pytest.fixture(scope="session")
def _demo_build(_routing_build):
    """The same workspace completed with the feedback index and the feedback analyses — the step
    `build_demo(..., index=True)` ends with — and all the build's progress events."""
    from assistant.pipeline import sync_feedback
    from knowledge.workspace import Workspace

    settings, events = _routing_build
    sync_feedback(Workspace(settings.workspace), settings, log=None, progress=events.append)
    return settings, events


@pytest.fixture(scope="session")
def demo_settings(_demo_build):
    """Settings pointing at the small demo workspace, complete (feedback index included)."""
    return _demo_build[0]


@pytest.fixture(scope="session")
def demo_build_progress(_demo_build) -> list:
    """The `knowledge.progress.Progress` events the demo build reported, in order."""
    return list(_demo_build[1])


@pytest.fixture(scope="session")
def demo_ws(demo_settings):
    """The built small demo `Workspace`."""
    from knowledge.workspace import Workspace
    return Workspace(demo_settings.workspace)


@pytest.fixture(scope="session")
def spark():
    """One SparkSession for the whole run (local[2], UI off), for the Spark-engine tests; they skip,
    saying why, when pyspark or Java is missing (./test.sh installs the spark extra)."""
    from knowledge.engine import spark_available, spark_session
    why = spark_available()
    if why:
        pytest.skip(f"Spark engine tests need Spark: {why}")
    session = spark_session("local[2]", app_name="guanxi-tests")
    yield session
    session.stop()
