"""The build pipeline behind `guanxi demo` and `guanxi build`:
files → clean tables (knowledge.ingest/clean) → feedback index (knowledge.feedback_store)
→ precomputed analyses (tools.precompute)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from knowledge.workspace import Workspace

Log = Callable[[str], None]


def _noop(_: str) -> None:
    pass


def build_workspace(settings: Settings, data_dir: Path, mapping: str | Path | None = None,
                    index: bool = True, log: Log = _noop) -> str:
    """Ingest `data_dir` into the settings' workspace; returns a readable summary."""
    from knowledge.build import build_tables
    ws = Workspace(settings.workspace)
    t0 = time.perf_counter()
    report = build_tables(Path(data_dir), ws, mapping=Path(mapping) if mapping else None, log=log)
    timings = {"tables_s": round(time.perf_counter() - t0, 2)}
    log(report.summary_text())
    _finish(ws, settings, index, log, timings)
    return workspace_summary(settings)


def build_demo(settings: Settings, customers: int | None = None, seed: int = 42, orders: int | None = None,
               feedback: int | None = None, index: bool = True, log: Log = _noop) -> str:
    """Generate the demo CRM files into WORKSPACE/raw and build the workspace from them."""
    from knowledge.demo import generate_demo
    ws = Workspace(settings.workspace)
    t0 = time.perf_counter()
    kw = {k: v for k, v in dict(customers=customers, orders=orders, feedback=feedback).items() if v is not None}
    generate_demo(ws.raw_dir, seed=seed, **kw)
    log(f"demo files generated in {time.perf_counter() - t0:.1f} s: {ws.raw_dir}")
    summary = build_workspace(settings, ws.raw_dir, index=index, log=log)
    _demo_extras(ws)
    return summary


def _demo_extras(ws: Workspace) -> None:
    """Demo-only: one user per role (README lists them) and an example offer list."""
    from assistant.users import write_demo_users
    write_demo_users(ws)
    try:
        from tools.offers import write_demo_offers
    except ImportError:
        return
    write_demo_offers(ws)


def _finish(ws: Workspace, settings: Settings, index: bool, log: Log, timings: dict) -> None:
    t0 = time.perf_counter()
    try:
        from tools.precompute import precompute
    except ImportError:
        precompute = None
    if precompute is not None:
        precompute(ws, settings, log=log)
        timings["analyses_s"] = round(time.perf_counter() - t0, 2)
    if index:
        t0 = time.perf_counter()
        try:
            from knowledge.feedback_store import sync_feedback_index
        except ImportError:
            sync_feedback_index = None
        if sync_feedback_index is not None:
            stats = sync_feedback_index(ws, settings, log=log)
            timings["index_s"] = round(time.perf_counter() - t0, 2)
            timings["index"] = stats
    (ws.root / "build_timings.json").write_text(json.dumps(timings, ensure_ascii=False, indent=1, default=str))


def workspace_summary(settings: Settings) -> str:
    """Rows per table and the quality counts, for the screen."""
    ws = Workspace(settings.workspace)
    if not ws.is_built():
        raise GuanxiError(f"workspace {ws.root} is not built")
    lines = [f"Workspace {ws.root}"]
    for name in ("customers", "products", "orders", "feedback"):
        df = ws.table(name)
        lines.append(f"  {name:<10} {len(df):>9,} rows")
    orders = ws.table("orders")
    if len(orders):
        lines.append(f"  orders from {orders['order_date'].min():%Y-%m-%d} to {orders['order_date'].max():%Y-%m-%d}, "
                     f"sales {orders['amount'].sum():,.2f}")
    q = ws.quality_report
    if q:
        quarantined = sum(t.get("quarantined", 0) for t in q.get("tables", {}).values())
        lines.append(f"  quarantined rows: {quarantined:,} (see {ws.quarantine_dir})")
    return "\n".join(lines)
