"""`build_tables`: a folder of CSV/Excel files → the four clean tables of a workspace.

files ─ knowledge.ingest (encodings, delimiters, headers → tables) ─ knowledge.clean (rules,
quarantine, merges, derived rows) ─ WORKSPACE/tables/*.parquet, WORKSPACE/quarantine/<table>.csv,
WORKSPACE/quality_report.json. Every input row is accounted for:
rows_read == kept + quarantined + merged_duplicates + dropped_duplicates, per table (blank lines
are not rows: they are counted apart, per table and per input). Each file's number and date
columns get a format decision (knowledge.formats), reported with its evidence.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from knowledge import clean
from knowledge.engine import CUSTOMER_ORDERS, write_customer_orders
from knowledge.export import write_csv
from knowledge.ingest import DELIMITER_NAMES, SOURCE_FILE, SOURCE_ROW, combine, formats_by_table, read_folder
from knowledge.limits import Limits
from knowledge.mapping import Mapping, load_mapping
from knowledge.own_columns import declared_columns, own_name, own_number_columns
from knowledge.progress import OnProgress, StageProgress
from knowledge.schema import TABLES
from knowledge.settings import Settings
from knowledge.stream import CHUNK_ROWS, StreamedFile, StreamedOrders, streamed_file
from knowledge.workspace import Workspace

MAX_FLAGGED_LISTED = 1000
ID_COLUMNS = {"customers": "customer_id", "products": "product_id", "orders": "order_id", "feedback": "feedback_id"}


@dataclass
class TableReport:
    """The books of one table. derived_from_orders rows are added on top of `kept`; blank_lines
    (empty lines or rows of only delimiters) are not rows and not in rows_read."""
    rows_read: int = 0
    blank_lines: int = 0
    kept: int = 0
    quarantined: int = 0
    merged_duplicates: int = 0
    dropped_duplicates: int = 0
    derived_from_orders: int = 0
    rows_written: int = 0
    optional_missing: dict[str, int] = field(default_factory=dict)
    fixes: dict[str, int] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    format_decisions: list[dict] = field(default_factory=list)

    def balanced(self) -> bool:
        """rows_read == kept + quarantined + merged_duplicates + dropped_duplicates."""
        return self.rows_read == self.kept + self.quarantined + self.merged_duplicates + self.dropped_duplicates


@dataclass
class BuildReport:
    """What a build read, kept, fixed, flagged and rejected (quality_report.json is `to_dict()`)."""
    data_dir: str
    today: str
    tables: dict[str, TableReport]
    inputs: list[dict]
    flagged_rows: dict[str, dict] = field(default_factory=dict)
    own_columns: dict = field(default_factory=dict)   # own_columns_section

    def to_dict(self) -> dict:
        return {"data_dir": self.data_dir, "today": self.today,
                "tables": {k: asdict(v) for k, v in self.tables.items()},
                "inputs": self.inputs, "flagged_rows": self.flagged_rows, "own_columns": self.own_columns}

    def summary_text(self) -> str:
        """A readable multi-line summary for the screen."""
        lines = [f"Read {len(self.inputs)} input table(s) from {self.data_dir}:"]
        for i in self.inputs:
            how = f"{i['encoding']}, {DELIMITER_NAMES.get(i['delimiter'], i['delimiter'])}" if i["encoding"] else "xlsx"
            extra = "".join(f"; {i[k]:,} {what}" for k, what in (
                ("blank_lines", "blank lines"), ("fields_over_limit", "fields over max_field_chars (rows quarantined)"),
                ("unmapped_fields_over_limit", "unread fields over max_field_chars (cut)")) if i.get(k))
            lines.append(f"  {i['file']} → {i['table']} ({i['rows']:,} rows; {how}; "
                         f"{len(i['header_mapping'])} columns mapped{extra})")
        lines.append(f"  {'table':<10}{'read':>10}{'kept':>10}{'quarant.':>10}{'merged':>8}{'dup.drop':>9}"
                     f"{'derived':>9}{'written':>10}{'blank':>8}")
        for name, t in self.tables.items():
            lines.append(f"  {name:<10}{t.rows_read:>10,}{t.kept:>10,}{t.quarantined:>10,}{t.merged_duplicates:>8,}"
                         f"{t.dropped_duplicates:>9,}{t.derived_from_orders:>9,}{t.rows_written:>10,}"
                         f"{t.blank_lines:>8,}")
        lines += [format_line(d) for t in self.tables.values() for d in t.format_decisions if worth_showing(d)]
        fixes: dict[str, int] = {}
        for t in self.tables.values():
            for k, v in t.fixes.items():
                fixes[k] = fixes.get(k, 0) + v
        if fixes:
            lines.append("  fixes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(fixes.items(), key=lambda kv: -kv[1])))
        for col, info in self.own_columns.get("kept", {}).items():
            lines.append(f"  own column {col} ({info['kind']}): {info['values']:,} values, {info['missing']:,} missing")
        for col in self.own_columns.get("not_found", []):
            lines.append(f"  own column {col}: named in semantic.toml, but no input file has this header")
        for key, f in self.flagged_rows.items():
            if not f["count"]:
                continue
            lines.append(f"  flagged (kept): {f['count']:,} {key.replace('_', ' ')} (median {f['median']:,.2f})")
        for n, t in self.tables.items():
            gaps = sorted(((v, c) for c, v in t.optional_missing.items() if v), key=lambda x: (-x[0], x[1]))
            if gaps and t.rows_written:
                lines.append(f"  gaps in {n}: " + ", ".join(f"{c} {v / t.rows_written:.0%}" for v, c in gaps))
        reasons = [(v, n, r) for n, t in self.tables.items() for r, v in t.quarantine_reasons.items()]
        if reasons:
            lines.append("  top quarantine reasons:")
            for v, n, r in sorted(reasons, key=lambda x: (-x[0], x[1], x[2]))[:8]:
                lines.append(f"    {n}: {r} ×{v:,}")
        return "\n".join(lines)


PLAIN_DECISIONS = ("YMD", "decimal_point", "none")


def worth_showing(d: dict) -> bool:
    """A format decision to print: anything but plain year-first dates and point-decimal numbers
    read without a problem."""
    return bool(d["quarantined"]) or d["source"] == "mapping" or d["decision"] not in PLAIN_DECISIONS


def format_line(d: dict) -> str:
    """One format decision for the screen: file, column, decision, its evidence."""
    evidence = ", ".join(f"{k} {v:,}" for k, v in d["evidence"].items() if v)
    problems = f"; {d['quarantined']:,} quarantined" if d["quarantined"] else ""
    return f"  format: {d['file']} {d['column']} → {d['decision']} (from the {d['source']}: {evidence}){problems}"


def empty_raw() -> pd.DataFrame:
    """A raw table with no rows (a table absent from the input)."""
    return pd.DataFrame({SOURCE_FILE: pd.Series(dtype="str"), SOURCE_ROW: pd.Series(dtype="int64")})


@dataclass
class Cleaned:
    """The result of cleaning all tables: final tables, ledgers, derived counts, flags. With the
    orders streamed (knowledge.stream), ``stream`` holds their books and tables/ledgers have no
    orders: the table is already written."""
    tables: dict[str, pd.DataFrame]
    ledgers: dict[str, clean.Ledger]
    derived: dict[str, int]
    flagged: pd.DataFrame
    median_amount: float
    flagged_count: int = 0
    stream: StreamedOrders | None = None


def clean_tables(raw: dict[str, pd.DataFrame], today: pd.Timestamp,
                 formats: dict[str, dict[str, dict[str, str]]] | None = None,
                 own: dict[str, dict[str, str]] | None = None, stream: StreamedOrders | None = None) -> Cleaned:
    """Clean every table, link them (re-point merged customers, categories, product ids) and
    derive missing customers/products from orders. `formats`: table → column → {file: format}
    set in the mapping file (knowledge.ingest.formats_by_table); `own`: the company's own columns
    (knowledge.own_columns.declared_columns); `stream`: the orders read in chunks (then not in `raw`)."""
    get = lambda t: raw.get(t, empty_raw())  # noqa: E731
    f = formats or {}
    own_orders = own_number_columns(own, "orders")
    customers, id_map, conflicted = clean.clean_customers(get("customers"), today, f.get("customers"))
    products = clean.clean_products(get("products"), today, f.get("products"))
    orders = None
    if stream is None:
        orders = clean.clean_orders(get("orders"), today, id_map, f.get("orders"), conflicted, own_numbers=own_orders)
    else:
        stream.clean(stream.decide(f.get("orders"), own_orders), today, id_map, conflicted, own_orders)
        stream.drop_duplicates()
    feedback = clean.clean_feedback(get("feedback"), today, id_map, f.get("feedback"), conflicted)
    clean.parse_own_numbers(customers, "customers", own, f.get("customers"))
    spellings = clean.category_spellings([products.df["category"], feedback.df["category"]]
                                         + ([orders.df["category"]] if orders else []),
                                         stream.category_counts if stream else None)
    for led in (products, feedback) + ((orders,) if orders else ()):
        led.run(clean.unify_categories, spellings)
    known_products, known_customers = set(products.df["product_id"].dropna()), set(customers.df["customer_id"].dropna())
    if orders:
        orders.run(clean.link_products, products.df)
        lines = orders.df
    else:
        stream.link(spellings, products.df, known_customers, known_products)
        lines = stream.unknown_lines()
    new_products = clean.products_from_orders(lines, known_products)
    new_customers = clean.customers_from_orders(lines, known_customers)
    customers.fixes["customers_derived_from_orders"] += len(new_customers)
    products.fixes["products_derived_from_orders"] += len(new_products)
    frames = {"customers": _concat(customers.df, new_customers), "products": _concat(products.df, new_products),
              "feedback": feedback.df, **({"orders": orders.df} if orders else {})}
    tables = {t: clean.sort_by_id(clean.to_schema(frames[t], t), ID_COLUMNS[t]).reset_index(drop=True)
              for t in TABLES if t in frames}
    ledgers = {"customers": customers, "products": products, "feedback": feedback, **({"orders": orders} if orders else {})}
    derived = {"customers": len(new_customers), "products": len(new_products)}
    if stream:
        stream.write_table(list(own_columns_of(own, "orders")))
        return Cleaned(tables=tables, ledgers=ledgers, derived=derived, flagged=stream.flagged,
                       median_amount=stream.median_amount, flagged_count=stream.flagged_count, stream=stream)
    flagged, median = clean.extreme_amounts(tables["orders"])
    return Cleaned(tables=tables, ledgers=ledgers, derived=derived, flagged=flagged, median_amount=median,
                   flagged_count=len(flagged))


def own_columns_of(own: dict[str, dict[str, str]] | None, table: str) -> list[str]:
    """The table columns of every own column declared for ``table`` (numbers and labels)."""
    return [own_name(h) for h in (own or {}).get(table, {})]


def _concat(kept: pd.DataFrame, derived: pd.DataFrame) -> pd.DataFrame:
    if derived.empty:
        return kept
    return pd.concat([kept, derived], ignore_index=True) if len(kept) else derived


def table_report(name: str, led: clean.Ledger, table: pd.DataFrame, derived: int, blank_lines: int = 0) -> TableReport:
    """The counts of one table."""
    reasons = led.quarantine["rule"].value_counts() if led.n_quarantined else pd.Series(dtype="int64")
    optional = [c.name for c in TABLES[name].columns if not c.required]
    return TableReport(
        rows_read=led.rows_read, blank_lines=blank_lines, kept=len(led.df), quarantined=led.n_quarantined,
        merged_duplicates=led.merged, dropped_duplicates=led.dropped, derived_from_orders=derived,
        rows_written=len(table),
        optional_missing={c: int(table[c].isna().sum()) for c in optional},
        fixes={k: int(v) for k, v in sorted(led.fixes.items()) if v},
        quarantine_reasons={str(k): int(v) for k, v in reasons.items()},
        format_decisions=[d.to_dict() for d in led.decisions])


def flagged_section(c: Cleaned) -> dict[str, dict]:
    """Orders with an extreme amount (kept, listed for review; at most 1000 listed)."""
    f = c.flagged.sort_values(["amount", "order_id"], ascending=[False, True], kind="stable")
    rows = [{"order_id": r.order_id, "customer_id": r.customer_id, "order_date": r.order_date.isoformat(sep=" "),
             "amount": float(r.amount)} for r in f.head(MAX_FLAGGED_LISTED).itertuples()]
    return {"orders_amount_over_10x_median": {
        "median": round(c.median_amount, 4), "threshold": round(clean.EXTREME_FACTOR * c.median_amount, 4),
        "count": c.flagged_count, "listed": len(rows), "rows": rows}}


def own_columns_section(own: dict[str, dict[str, str]], c: Cleaned) -> dict:
    """The declared own columns kept (values, missing) and those no input file had."""
    kept, not_found = {}, []
    for table, headers in own.items():
        for header, kind in headers.items():
            col = own_name(header)
            if table == "orders" and c.stream is not None:
                counts = c.stream.own_counts.get(col)
            elif col in c.tables[table].columns:
                s = c.tables[table][col]
                counts = (int(s.notna().sum()), int(s.isna().sum()))
            else:
                counts = None
            if counts is None:
                not_found.append(f"{table}.{header}")
            else:
                kept[f"{table}.{header}"] = {"kind": kind, "values": counts[0], "missing": counts[1]}
    return {"kept": kept, "not_found": not_found} if own else {}


def streamed_report(s: StreamedOrders, blank_lines: int) -> TableReport:
    """The counts of the orders cleaned in chunks (as table_report gives them for one piece)."""
    return TableReport(
        rows_read=s.rows_read, blank_lines=blank_lines, kept=s.kept, quarantined=s.quarantined,
        merged_duplicates=0, dropped_duplicates=s.dropped, derived_from_orders=0, rows_written=s.written,
        optional_missing=dict(s.optional_missing), fixes={k: int(v) for k, v in sorted(s.fixes.items()) if v},
        quarantine_reasons={str(k): int(v) for k, v in s.reasons.items()},
        format_decisions=[d.to_dict() for d in s.decisions])


def write_outputs(ws: Workspace, c: Cleaned, raw: dict[str, pd.DataFrame], report: BuildReport) -> None:
    """Tables, quarantine files (stale ones removed) and quality_report.json."""
    for name, df in c.tables.items():
        ws.write_table(name, df)
    for name, led in c.ledgers.items():   # the orders' file, when streamed, is written by the stream
        path = ws.quarantine_dir / f"{name}.csv"
        if led.n_quarantined:
            ws.quarantine_dir.mkdir(parents=True, exist_ok=True)
            write_csv(clean.quarantine_frame(raw[name], led), path, encoding="utf-8-sig")  # opened in Excel
        elif path.exists():
            path.unlink()
    if c.stream is not None:
        ws.drop_cached("orders")
    ws.root.mkdir(parents=True, exist_ok=True)
    ws.quality_report_path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str),
                                      encoding="utf-8")
    ws.__dict__.pop("quality_report", None)  # drop the cached_property so the new report is read


def check_finite(tables: dict[str, pd.DataFrame]) -> None:
    """No infinity in a number column (the cleaner quarantines non-finite values: a bug if not)."""
    for name, df in tables.items():
        for c in TABLES[name].columns:
            if c.dtype == "float" and np.isinf(df[c.name].to_numpy(dtype="float64")).any():
                raise RuntimeError(f"{name}.{c.name}: a non-finite value reached the clean table")


def build_tables(data_dir: Path, ws: Workspace, mapping: Path | None = None,
                 log: Callable[[str], None] = lambda s: None, progress: OnProgress | None = None,
                 settings: Settings | None = None, chunk_rows: int = CHUNK_ROWS) -> BuildReport:
    """Read every CSV/Excel file of `data_dir`, clean, and write the workspace tables,
    quarantine files and quality report. Bad input raises GuanxiError before anything is written.
    ``progress`` gets the "tables" stage: read, clean, write (knowledge.progress). ``settings``
    give the import limits (max_file_mb, max_field_chars; default: the defaults) and
    stream_above_mb: order files over it are cleaned in chunks of ``chunk_rows`` lines (knowledge.stream)."""
    data_dir = Path(data_dir)
    stage = StageProgress(progress, "tables", total=3)
    m = load_mapping(Path(mapping)) if mapping else Mapping()
    own = declared_columns(ws.root)   # the columns WORKSPACE/semantic.toml names
    m = replace(m, own=own)
    log(f"reading {data_dir}")
    stage.start(f"reading {data_dir}")
    limits = Limits.from_settings(settings)
    above = (settings or Settings()).stream_above_mb << 20
    sources = read_folder(data_dir, m, log, limits, defer=lambda p: streamed_file(p, m, limits, above))
    stream = None
    if any(isinstance(s, StreamedFile) for s in sources):   # then every order file goes through the stream
        stream = StreamedOrders([s for s in sources if isinstance(s, StreamedFile) or s.table == "orders"], m, limits,
                                ws.base / "_orders-in-chunks", ws.table_path("orders"),
                                ws.quarantine_dir / "orders.csv", rows=chunk_rows)
        sources_read = [s for s in sources if not isinstance(s, StreamedFile) and s.table != "orders"]
    else:
        sources_read = sources
    raw = combine(sources_read)
    today = pd.Timestamp.today().normalize()
    log("cleaning tables")
    stage.step("cleaning tables")
    c = clean_tables(raw, today, formats_by_table([s for s in sources if not isinstance(s, StreamedFile)]), own, stream)
    blank = {t: sum(s.blank_lines for s in sources if s.describe()["table"] == t) for t in TABLES}
    tables = {t: (streamed_report(stream, blank[t]) if t == "orders" and stream else
                  table_report(t, c.ledgers[t], c.tables[t], c.derived.get(t, 0), blank[t])) for t in TABLES}
    tables["orders"].flagged = {"amount_over_10x_median": c.flagged_count}
    for name, t in tables.items():
        if not t.balanced():  # a bug in the cleaner, not the user's input
            raise RuntimeError(f"{name}: rows do not add up: {asdict(t)}")
    check_finite(c.tables)
    report = BuildReport(data_dir=str(data_dir), today=f"{today:%Y-%m-%d}", tables=tables,
                         inputs=[s.describe() for s in sources], flagged_rows=flagged_section(c),
                         own_columns=own_columns_section(own, c))
    for missing in report.own_columns.get("not_found", []):
        log(f"note: semantic.toml names the column {missing}, which no input file has")
    stage.step("writing tables")
    write_outputs(ws, c, {t: raw.get(t, empty_raw()) for t in TABLES}, report)
    if ws.table_path("orders").is_file():   # RFM's per-order totals (knowledge.engine.rfm_values reads them)
        write_customer_orders(ws.table_path("orders"), ws.table_path(CUSTOMER_ORDERS))
    stage.finish(f"tables written: {sum(t.rows_written for t in tables.values()):,} rows")
    return report
