"""The metric shortcuts made at build time, so that a process opens them instead of summing the
order lines on its first question (`tools.metric_sql.MetricSource`, ``prebuilt``).

`write_metric_sums` (called by `tools.precompute`) makes, by the same SQL a `MetricSource` runs,
the lines before the as-of date summed per customer, per customer and month and per category and
month (Parquet artefacts ``metric_sums_<grain>``) and writes ``metric_sums.json``: the as-of date,
the first order day, the most lines of one order, and per table its rows and whether its distinct
orders add up (a table that does not is not written and never read). `prebuilt_sums` reads them
back for a workspace: a source uses them only for that as-of date.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["METRIC_SUMS", "SUMS_TABLES", "write_metric_sums", "prebuilt_sums"]

METRIC_SUMS = "metric_sums"
SUMS_TABLES = {"customer": "metric_sums_customer", "customer_month": "metric_sums_customer_month",
               "category_month": "metric_sums_category_month"}


def write_metric_sums(ws, as_of: pd.Timestamp) -> dict:
    """Write the sums of ``ws``'s order lines before ``as_of`` and their facts; returns provenance lines."""
    from tools.metric_sql import MetricSource
    from tools.metric_tables import ParquetTable
    path = ws.table_path("orders")
    src = MetricSource({"orders": ParquetTable(path) if path.is_file() else ws.table("orders")})
    ws.artefacts_dir.mkdir(parents=True, exist_ok=True)
    facts = src.export_sums(pd.Timestamp(as_of), {g: ws.artefact_path(name) for g, name in SUMS_TABLES.items()})
    for grain, name in SUMS_TABLES.items():
        if not facts["tables"][grain]["usable"]:
            ws.artefact_path(name).unlink(missing_ok=True)
    ws.write_artefact(METRIC_SUMS, facts)
    rows = ", ".join(f"{t['rows']:,} per {g.replace('_', '-')}" for g, t in facts["tables"].items() if t["usable"])
    return {METRIC_SUMS: f"order lines before {pd.Timestamp(as_of).date()} summed ({rows or 'none usable'})"}


def prebuilt_sums(ws) -> dict | None:
    """The build's facts with each usable table's path (a `MetricSource`'s ``prebuilt``); None when the
    workspace has none or a usable table's file is missing."""
    facts = ws.artefact(METRIC_SUMS)
    if not isinstance(facts, dict) or "tables" not in facts:
        return None
    tables = {}
    for grain, t in facts["tables"].items():
        path = ws.artefact_path(SUMS_TABLES[grain])
        if t.get("usable") and not path.is_file():
            return None
        tables[grain] = {**t, "path": str(path)}
    return {**facts, "tables": tables}
