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
def demo_settings(tmp_path_factory):
    """Settings pointing at a small demo workspace, built once (400 customers, seed 7)."""
    from knowledge.settings import Settings
    from assistant.pipeline import build_demo

    root = tmp_path_factory.mktemp("demo-ws")
    settings = Settings.load(env={}, config_file=root / "none.toml", workspace=root)
    build_demo(settings, customers=DEMO_CUSTOMERS, seed=7)
    return settings


@pytest.fixture(scope="session")
def demo_ws(demo_settings):
    """The built small demo `Workspace`."""
    from knowledge.workspace import Workspace
    return Workspace(demo_settings.workspace)
