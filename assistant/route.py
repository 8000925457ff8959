"""`Route`: the offline router's decision for one question (a tool and its arguments, or help,
a decline or a clarifying question)."""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Route"]


@dataclass
class Route:
    """The router's decision for one question."""
    tool: str | None                    # a tool name, or None for help / unknown / clarification
    args: dict = field(default_factory=dict)
    intent: str = "unknown"             # tool name, "help", "unknown", "clarify"
    language: str = "en"
    confidence: float = 0.0
    needs_clarification: bool = False
    clarify_kind: str | None = None     # customer | missing_customer | missing_item | missing_segment
    candidates: list[str] = field(default_factory=list)  # customer ids to choose from
    followup: bool = False
    notes: list[str] = field(default_factory=list)
    scores: dict = field(default_factory=dict)
    focus: dict = field(default_factory=dict)   # what the answer should lead with (e.g. one segment)
