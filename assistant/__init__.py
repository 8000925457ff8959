"""The assistant: `Assistant` answers zh/en questions over a workspace (offline router by
default, an LLM agent when configured), with the same tools in both modes.

Importing the package is cheap (the CLI imports it for every command); `Assistant` loads on
first use. The package registers the tools that live above ``tools`` (care-message drafts).
"""
from __future__ import annotations

__all__ = ["Assistant"]


def _register_tools() -> None:
    from tools.registry import register_lazy
    register_lazy("draft_care_message", "assistant.drafts:draft_care_message_tool")


_register_tools()


def __getattr__(name: str):
    if name == "Assistant":
        from assistant.core import Assistant
        return Assistant
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
