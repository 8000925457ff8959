"""Build progress as structured events, not text to parse.

A build reports ``Progress(stage, done, total, message)`` events to an ``on_progress`` callback,
beside the readable ``log`` lines the CLI prints. Within a stage ``done`` never decreases, never
exceeds ``total``, and the stage's last event has ``done == total``. The stages of a build, in
order (``assistant.pipeline`` runs them):

| stage | reported by | unit of done / total |
|---|---|---|
| demo | assistant.pipeline.build_demo | 0/1 → 1/1 (demo files generated) |
| tables | knowledge.build.build_tables | steps: read, clean, write |
| analyses | assistant.pipeline (tools.precompute) | 0/1 → 1/1, each step's line as message |
| index | knowledge.feedback_store.sync_feedback_index | feedback rows to (re)embed, +1 for the snapshot |
| feedback_analyses | assistant.pipeline (tools.feedback) | 0/1 → 1/1 (complaint topics, sentiment) |
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

STAGES = ("demo", "tables", "analyses", "index", "feedback_analyses")


@dataclass(frozen=True)
class Progress:
    """One progress event: ``done`` of ``total`` units of ``stage`` are finished."""
    stage: str
    done: int
    total: int
    message: str = ""

    @property
    def fraction(self) -> float:
        """done / total in [0, 1] (an empty stage is complete)."""
        return 1.0 if self.total <= 0 else min(1.0, max(0.0, self.done / self.total))


OnProgress = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    pass


class StageProgress:
    """Reports one stage and keeps its events well-formed: done is clamped to [previous done,
    total], a total may grow (a stage learns its size as it goes) but never below done."""

    def __init__(self, on_progress: OnProgress | None, stage: str, total: int = 1):
        self.on_progress = on_progress or no_progress
        self.stage = stage
        self.total = max(0, int(total))
        self.done = 0

    def update(self, done: int | None = None, message: str = "", total: int | None = None) -> None:
        if total is not None:
            self.total = max(int(total), self.done)
        if done is not None:
            self.done = min(max(self.done, int(done)), self.total)
        self.on_progress(Progress(self.stage, self.done, self.total, message))

    def start(self, message: str = "", total: int | None = None) -> None:
        self.update(self.done, message, total)

    def step(self, message: str = "", n: int = 1) -> None:
        self.update(self.done + n, message)

    def finish(self, message: str = "") -> None:
        self.update(self.total, message)
