"""Conversation state for one `Assistant`: what the last question was about, so follow-ups work.

- ``customer_id``: the customer in focus ("他的流失概率呢?" / "and his CLV?").
- ``last_tool`` / ``last_args``: the last tool call ("那上海呢?" re-runs it with city=上海市).
- ``last_list``: customer ids of the last list shown ("第一个的CLV" / "the first one").
- ``pending``: an open clarifying question (which of two 王伟?), answered by "第一个", "the one
  in 杭州" or an id.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Memory:
    customer_id: str | None = None
    last_tool: str | None = None
    last_args: dict = field(default_factory=dict)
    last_list: list[str] = field(default_factory=list)
    pending: dict | None = None
    language: str = "zh"
    turns: list[dict] = field(default_factory=list)
    max_turns: int = 50

    def reset(self) -> None:
        self.customer_id = None
        self.last_tool = None
        self.last_args = {}
        self.last_list = []
        self.pending = None
        self.turns = []

    def remember(self, question: str, tool: str | None, args: dict, result: dict | None, language: str) -> None:
        """Record one answered turn: a successful tool call updates the focus; a failed one (its
        result holds "error") is still the question a follow-up refers to ("那今年呢?" after
        "上季度投诉主题" asks the same tool again), but moves no customer or list focus."""
        self.language = language
        self.turns.append({"question": question, "tool": tool, "args": dict(args or {})})
        del self.turns[:-self.max_turns]
        if tool is None or result is None:
            return
        self.last_tool = tool
        self.last_args = dict(args or {})
        if "error" in result:
            return
        cid = (args or {}).get("customer_id") or result.get("customer_id")
        if cid:
            self.customer_id = str(cid)
        ids = _list_ids(result)
        if ids:
            self.last_list = ids

    def ask_clarification(self, tool: str, args: dict, candidates: list[str], kind: str, language: str) -> None:
        self.pending = {"tool": tool, "args": dict(args or {}), "candidates": list(candidates), "kind": kind,
                        "language": language}


def _list_ids(result: dict) -> list[str]:
    for key in ("customers", "members", "entries", "top"):
        rows = result.get(key)
        if isinstance(rows, list) and rows and isinstance(rows[0], dict) and "customer_id" in rows[0]:
            return [str(r["customer_id"]) for r in rows if r.get("customer_id")]
    return []
