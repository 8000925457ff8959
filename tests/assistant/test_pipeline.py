"""The build pipeline reports structured progress: stages in order, done ≤ total, each stage ending
with done == total (the app's progress bar is made from these events, not from log text)."""
from __future__ import annotations

from itertools import groupby

from assistant.pipeline import STAGE_SPANS, overall_fraction
from knowledge.progress import STAGES, Progress


def test_the_demo_build_reports_every_stage_in_order(demo_build_progress, demo_ws):
    events = demo_build_progress
    assert events and all(isinstance(e, Progress) for e in events)
    runs = [(stage, list(evs)) for stage, evs in groupby(events, key=lambda e: e.stage)]
    stages = [stage for stage, _ in runs]
    assert stages == ["demo", "tables", "analyses", "index", "feedback_analyses"]  # each stage once, in order
    assert stages == [s for s in STAGES if s in stages]
    for stage, evs in runs:
        assert all(0 <= e.done <= e.total for e in evs), stage
        assert [e.done for e in evs] == sorted(e.done for e in evs), stage
        assert evs[-1].done == evs[-1].total, stage
        assert all(isinstance(e.message, str) for e in evs)
    index = dict(runs)["index"]
    assert index[-1].total == len(demo_ws.table("feedback")) + 1   # a fresh build embeds every row
    assert any(0 < e.done < e.total for e in index)                 # and says so while it embeds
    assert len(dict(runs)["analyses"]) > 2                          # one message per analysis


def test_events_place_a_build_on_one_bar(demo_build_progress):
    fractions = [overall_fraction(e) for e in demo_build_progress]
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] < 1
    assert set(STAGE_SPANS) == set(STAGES)
    assert overall_fraction(Progress("index", 0, 0)) == STAGE_SPANS["index"][1]  # an empty stage is complete
