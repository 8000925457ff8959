"""Shared fixtures: one small demo workspace built once per test session (real pipeline:
generator → ingestion → cleaning → analyses → Chroma index with the real embedding model)."""
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
def _demo_build(tmp_path_factory):
    """The small demo workspace, built once (400 customers, seed 7), and the progress events of its build."""
    from knowledge.settings import Settings
    from assistant.pipeline import build_demo

    root = tmp_path_factory.mktemp("demo-ws")
    settings = Settings.load(env={}, config_file=root / "none.toml", workspace=root)
    events: list = []
    build_demo(settings, customers=DEMO_CUSTOMERS, seed=7, progress=events.append)
    return settings, events


@pytest.fixture(scope="session")
def demo_settings(_demo_build):
    """Settings pointing at a small demo workspace, built once (400 customers, seed 7)."""
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
