"""The build pipeline behind `guanxi demo` and `guanxi build`, the one place that orchestrates
every layer: files → clean tables (knowledge.ingest/clean) → precomputed analyses
(tools.precompute) → feedback index (knowledge.feedback_store) → feedback analyses (tools.feedback).

Every build function takes ``log`` (readable lines, the CLI prints them) and ``progress``
(structured ``knowledge.progress.Progress`` events, the app shows them as a progress bar;
``overall_fraction`` places an event on the whole build)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from knowledge.errors import GuanxiError
from knowledge.progress import OnProgress, Progress, StageProgress
from knowledge.settings import Settings
from knowledge.workspace import Workspace

Log = Callable[[str], None]

# where each stage sits on a whole build, 0..1 (embedding the feedback is most of the time)
STAGE_SPANS = {"demo": (0.0, 0.02), "tables": (0.02, 0.15), "analyses": (0.15, 0.45), "index": (0.45, 0.95),
               "feedback_analyses": (0.95, 0.99)}


def _noop(_: str) -> None:
    pass


def overall_fraction(event: Progress) -> float:
    """How far a whole build is at this event, 0..1 (an unknown stage counts as not started)."""
    lo, hi = STAGE_SPANS.get(event.stage, (0.0, 0.0))
    return round(lo + (hi - lo) * event.fraction, 4)


def build_workspace(settings: Settings, data_dir: Path, mapping: str | Path | None = None,
                    index: bool = True, log: Log = _noop, progress: OnProgress | None = None) -> str:
    """Ingest `data_dir` into the settings' workspace; returns a readable summary."""
    from knowledge.build import build_tables
    from knowledge.vector_store import require_reachable
    if index:
        require_reachable(settings)   # a Chroma server that is down stops the build before it starts
    staged = Workspace.staging(settings.workspace)   # served only once tables and analyses are done
    t0 = time.perf_counter()
    report = build_tables(Path(data_dir), staged, mapping=Path(mapping) if mapping else None, log=log,
                          progress=progress, settings=settings)
    timings = {"tables_s": round(time.perf_counter() - t0, 2)}
    log(report.summary_text())
    _finish(staged, settings, index, log, timings, progress)
    return workspace_summary(settings)


def build_demo(settings: Settings, customers: int | None = None, seed: int = 42, orders: int | None = None,
               feedback: int | None = None, index: bool = True, log: Log = _noop,
               progress: OnProgress | None = None) -> str:
    """Generate the demo CRM files into WORKSPACE/raw and build the workspace from them."""
    from knowledge.demo import generate_demo
    from knowledge.demo_campaigns import plant_campaigns
    ws = Workspace(settings.workspace)
    t0 = time.perf_counter()
    stage = StageProgress(progress, "demo", total=1)
    stage.start("generating the demo files")
    kw = {k: v for k, v in dict(customers=customers, orders=orders, feedback=feedback).items() if v is not None}
    generate_demo(ws.raw_dir, seed=seed, **kw)
    plant_campaigns(ws.raw_dir, window_days=settings.campaign_effect_window_days)   # past campaigns (events below)
    log(f"demo files generated in {time.perf_counter() - t0:.1f} s: {ws.raw_dir}")
    stage.finish(f"demo files generated: {ws.raw_dir}")
    summary = build_workspace(settings, ws.raw_dir, index=index, log=log, progress=progress)
    _demo_extras(ws)
    return summary


def _demo_extras(ws: Workspace) -> None:
    """Demo-only: one user per role (README lists them), an example offer list and the past
    campaigns planted in the files, written to the event log (once: a rebuild skips them)."""
    from assistant.users import write_demo_users
    from knowledge.demo_campaigns import demo_campaigns, write_campaign_events
    from knowledge.events import EventLog
    from tools.campaign_effect import segments_as_of
    from tools.offers import write_demo_offers
    write_demo_users(ws)
    write_demo_offers(ws)
    served = Workspace(ws.root)
    write_campaign_events(EventLog.of(served), demo_campaigns(ws.raw_dir),
                          segment_of=lambda as_of: segments_as_of(served.table("orders"), as_of))


def _finish(ws: Workspace, settings: Settings, index: bool, log: Log, timings: dict,
            progress: OnProgress | None = None) -> None:
    from tools.precompute import precompute
    t0 = time.perf_counter()
    stage = StageProgress(progress, "analyses", total=1)
    stage.start("analyses")

    def step_log(msg: str) -> None:   # each analysis' line is the stage's message
        log(msg)
        stage.update(message=msg.strip())

    try:
        precompute(ws, settings, log=step_log)
    finally:
        stage.finish("analyses done")
    timings["analyses_s"] = round(time.perf_counter() - t0, 2)
    if ws.generation:   # a staged build: serve it now that its tables and analyses are complete
        info = ws.publish()
        timings["generation"] = info["generation"]
        log(f"build {info['generation']} published (data {info['fingerprint'][:12]})")
        ws = Workspace(ws.root, generation=info["generation"])
    if index:
        t0 = time.perf_counter()
        stats = sync_feedback(ws, settings, log=log, progress=progress)
        timings["index_s"] = round(time.perf_counter() - t0, 2)
        timings["index"] = stats
    (ws.root / "build_timings.json").write_text(json.dumps(timings, ensure_ascii=False, indent=1, default=str))


def feedback_analyses(ws: Workspace, settings: Settings | None, log: Log | None = None,
                      progress: OnProgress | None = None) -> Callable:
    """The feedback analyses (complaint topics, sentiment: tools.feedback) to run once the index is
    complete: the ``analyses`` hook of ``knowledge.feedback_store.sync_feedback_index``."""
    def run(store) -> dict:
        from tools.precompute import precompute_feedback
        stage = StageProgress(progress, "feedback_analyses", total=1)
        stage.start("complaint topics and sentiment")
        try:
            return precompute_feedback(ws, store, settings=settings, log=log)
        finally:
            stage.finish("feedback analyses done")
    return run


def sync_feedback(ws, settings: Settings | None = None, log: Log | None = _noop,
                  progress: OnProgress | None = None, **kw) -> dict:
    """Sync the feedback index, then compute the feedback analyses from it (what a build does);
    returns the index counts with ``analyses``."""
    from knowledge.feedback_store import sync_feedback_index
    ws = ws if isinstance(ws, Workspace) else Workspace(ws)
    return sync_feedback_index(ws, settings, log=log, progress=progress,
                               analyses=feedback_analyses(ws, settings, log=log, progress=progress), **kw)


def workspace_summary(settings: Settings) -> str:
    """Rows per table and the quality counts, for the screen."""
    ws = Workspace(settings.workspace)
    if not ws.is_built():
        raise GuanxiError(f"workspace {ws.root} is not built")
    lines = [f"Workspace {ws.root}"]
    for name in ("customers", "products", "orders", "feedback"):
        lines.append(f"  {name:<10} {ws.table_rows(name):>9,} rows")
    orders = ws.table_columns("orders", ["order_date", "amount"])   # two columns, not the whole table
    if orders.num_rows:
        import pyarrow.compute as pc
        span = pc.min_max(orders.column("order_date")).as_py()
        lines.append(f"  orders from {span['min']:%Y-%m-%d} to {span['max']:%Y-%m-%d}, "
                     f"sales {pc.sum(orders.column('amount')).as_py():,.2f}")
    q = ws.quality_report
    if q:
        quarantined = sum(t.get("quarantined", 0) for t in q.get("tables", {}).values())
        lines.append(f"  quarantined rows: {quarantined:,} (see {ws.quarantine_dir})")
    return "\n".join(lines)
