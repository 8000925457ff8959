"""A company's own columns: the ones the canonical schema has no place for (毛利, 门店, 积分), kept by
`guanxi build` when the workspace's semantic model names them.

``WORKSPACE/semantic.toml`` declares a metric or a dimension over a column of the company's
orders or customers files by its header (tools/semantic.py reads the rest of the entry)::

    [metrics.gross_profit]
    column = "orders.毛利"        # table.header, as the header reads in the file
    [dimensions.store]
    column = "orders.门店"

The build keeps such a column as ``own:<header>`` beside the canonical ones (a metric's column
parsed as numbers, unreadable values cleared and counted; a dimension's as text) and reports a
declared column that no input file has. Only declared columns are kept: an export's other
columns (notes, addresses) never reach the tables.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from knowledge.errors import GuanxiError

__all__ = ["OWN_PREFIX", "OWN_TABLES", "SEMANTIC_FILE", "own_name", "own_number_columns", "parse_column_ref",
           "declared_columns"]

OWN_PREFIX = "own:"
OWN_TABLES = ("orders", "customers")
SEMANTIC_FILE = "semantic.toml"
NUMBER, TEXT = "number", "text"


def own_name(header: str) -> str:
    """The table column that holds a declared header: "own:毛利"."""
    return OWN_PREFIX + header


def own_number_columns(own: dict[str, dict[str, str]] | None, table: str) -> tuple[str, ...]:
    """The table columns of ``table``'s declared metric (number) headers: ("own:毛利", ...)."""
    return tuple(own_name(h) for h, kind in (own or {}).get(table, {}).items() if kind == NUMBER)


def parse_column_ref(value, where: str) -> tuple[str, str]:
    """("orders", "毛利") from "orders.毛利"; anything else raises GuanxiError naming ``where``."""
    if not isinstance(value, str) or "." not in value:
        raise GuanxiError(f"{where}: column = {value!r}: expected \"TABLE.HEADER\" with TABLE one of "
                          f"{', '.join(OWN_TABLES)}, e.g. \"orders.毛利\"")
    table, header = (p.strip() for p in value.split(".", 1))
    if table not in OWN_TABLES:
        raise GuanxiError(f"{where}: column = {value!r}: table {table!r} is not one of {', '.join(OWN_TABLES)}")
    if not header:
        raise GuanxiError(f"{where}: column = {value!r}: the header after the table is empty")
    return table, header


def declared_columns(root: str | Path) -> dict[str, dict[str, str]]:
    """table → {header: "number" (a metric's) | "text" (a dimension's)} declared in
    ``root/semantic.toml``; {} without the file. A malformed file raises GuanxiError."""
    path = Path(root) / SEMANTIC_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise GuanxiError(f"{path}: not valid TOML ({e})") from None
    except UnicodeDecodeError:
        raise GuanxiError(f"{path}: not UTF-8 text") from None
    out: dict[str, dict[str, str]] = {}
    for section, kind in (("metrics", NUMBER), ("dimensions", TEXT)):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            continue   # tools.semantic names the problem
        for name, entry in entries.items():
            if isinstance(entry, dict) and "column" in entry:
                table, header = parse_column_ref(entry["column"], f"{path}: {section}.{name}")
                if out.setdefault(table, {}).setdefault(header, kind) != kind:
                    raise GuanxiError(f"{path}: {section}.{name}: column {table}.{header} is both a metric's "
                                      f"(numbers) and a dimension's (labels); declare it once")
    return out
