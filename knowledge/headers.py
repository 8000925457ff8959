"""Headers → tables: which canonical column each header of a file is (knowledge.schema aliases,
or the mapping file's explicit pairs), and which table the file holds (signature columns and the
file name). Used by knowledge.ingest."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from knowledge.errors import GuanxiError
from knowledge.mapping import Mapping
from knowledge.schema import CUSTOMERS, TABLES, normalise_header

# Extra columns an orders file may carry about its customer (used to derive customer rows).
CUSTOMER_EXTRAS = ("name", "gender", "phone", "email", "city", "province")
EXTRA_PREFIX = "customer:"
# The last keyword in a file name wins: "客户投诉.csv" is feedback, "customer_orders.csv" orders.
FILENAME_HINTS = {
    "customers": ("customer", "客户", "会员", "client", "member", "用户"),
    "orders": ("order", "订单", "交易", "transaction", "sales", "销售", "invoice", "purchase", "购买"),
    "products": ("product", "商品", "产品", "goods", "sku", "item"),
    "feedback": ("feedback", "反馈", "投诉", "评价", "工单", "complaint", "review", "ticket", "comment"),
}


def _header_keys(h: object) -> tuple[str, ...]:
    """Keys a header is compared by: normalised, without '_', without a trailing '(unit)'."""
    n = normalise_header(h)
    no_unit = re.sub(r"[（(][^()（）]*[)）]$", "", n).strip("_")
    return tuple(dict.fromkeys((n, n.replace("_", ""), no_unit, no_unit.replace("_", ""))))


@lru_cache(maxsize=None)
def _alias_index(table: str) -> dict[str, tuple[str, int]]:
    """normalised alias → (canonical column, rank) for one table; the column name itself ranks 0."""
    idx: dict[str, tuple[str, int]] = {}
    for col in TABLES[table].columns:
        for rank, alias in enumerate(col.all_names()):
            n = normalise_header(alias)
            idx.setdefault(n, (col.name, rank))
            idx.setdefault(n.replace("_", ""), (col.name, rank))
    return idx


def match_headers(headers: list[str], table: str, explicit: dict[str, str] | None = None,
                  label: str = "") -> dict[str, str]:
    """canonical column → source header for `table`. Explicit (mapping-file) pairs win; among
    several headers for one column the exact name, then the earlier alias, then the earlier
    header is taken."""
    out: dict[str, str] = {}
    for canonical, source in (explicit or {}).items():
        found = find_header(headers, source)
        if found is None:
            raise GuanxiError(f"{label}: the mapping file maps {table}.{canonical} to header '{source}', "
                              f"which is not in the file (headers found: {', '.join(map(str, headers))})")
        out[canonical] = found
    taken = set(out.values())
    idx = _alias_index(table)
    best: dict[str, tuple[int, int, int, str]] = {}
    for pos, h in enumerate(headers):
        if h in taken:
            continue
        for level, key in enumerate(_header_keys(h)):
            if key in idx:
                col, rank = idx[key]
                cand = (level, rank, pos, h)
                if col not in out and (col not in best or cand < best[col]):
                    best[col] = cand
                break
    out.update({col: cand[3] for col, cand in best.items()})
    order = TABLES[table].column_names
    return {c: out[c] for c in order if c in out}


def find_header(headers: list[str], wanted: str) -> str | None:
    if wanted in headers:
        return wanted
    key = normalise_header(wanted)
    return next((h for h in headers if normalise_header(h) == key), None)


def customer_extras(headers: list[str], used: set[str]) -> dict[str, str]:
    """Customer attributes carried by an orders file: 'customer:province' → 'Country', ..."""
    idx = _alias_index(CUSTOMERS.name)
    out: dict[str, str] = {}
    for h in headers:
        if h in used:
            continue
        for key in _header_keys(h):
            if key in idx and key != "name":
                col = idx[key][0]
                if col in CUSTOMER_EXTRAS and EXTRA_PREFIX + col not in out:
                    out[EXTRA_PREFIX + col] = h
                break
    return out


def filename_hint(name: str) -> str | None:
    """The table a file name suggests (the last keyword in the name wins), or None."""
    low = Path(name).stem.lower()
    best, best_pos = None, -1
    for table, words in FILENAME_HINTS.items():
        for w in words:
            pos = low.rfind(w)
            if pos > best_pos:
                best, best_pos = table, pos
    return best


def score_tables(headers: list[str], file_name: str, mapping: Mapping) -> dict[str, tuple]:
    """Per candidate table: (score, signature matches). A table is a candidate with 2+ signature
    columns, or 2+ matched columns when the file name points to it."""
    hint = filename_hint(file_name)
    out = {}
    for t, table in TABLES.items():
        explicit = {c: s for c, s in mapping.columns.get(t, {}).items() if find_header(headers, s)}
        matched = match_headers(headers, t, explicit)
        sig = len(set(matched) & set(table.signature))
        hinted = hint == t
        if sig >= 2 or (hinted and len(matched) >= 2):
            out[t] = (len(matched) + sig + (2 if hinted else 0), sig)
    return out


def assign_table(headers: list[str], label: str, file_name: str, mapping: Mapping) -> str:
    """The table a file holds: the mapping file's word, else the best header match."""
    forced = mapping.for_file(label, file_name).table
    if forced:
        return forced
    scores = score_tables(headers, file_name, mapping)
    if not scores:
        raise GuanxiError(unrecognised_message(label, headers))
    return max(scores, key=lambda t: (scores[t], -list(TABLES).index(t)))


def unrecognised_message(label: str, headers: list[str]) -> str:
    """The error for a file no table matches: its headers and what each table needs."""
    needs = "; ".join(
        f"{t.name}: 2+ of " + ", ".join(f"{c} ({'/'.join(t.column(c).aliases[:2])})" for c in t.signature)
        for t in TABLES.values())
    return (f"{label}: no recognisable table; headers found: {', '.join(map(str, headers)) or '(none)'}. "
            f"Expected headers of one of the tables — {needs}. Rename the headers, or map them in a "
            f"mapping file (--mapping), or move the file out of the data folder")


def check_required(label: str, table: str, matched: dict[str, str], headers: list[str]) -> None:
    """Raise GuanxiError naming the first required column the file cannot provide."""
    t = TABLES[table]
    for col in t.required:
        if col in matched:
            continue
        if table == "orders" and col in ("order_id", "quantity"):
            continue  # derived: customer + date; defaults to 1
        if table == "orders" and col == "amount" and "unit_price" in matched:
            continue  # derived: quantity × unit_price
        extra = " (or a unit_price column to compute it)" if (table, col) == ("orders", "amount") else ""
        aliases = ", ".join(t.column(col).all_names())
        raise GuanxiError(f"{label}: table {table} needs column '{col}'{extra} but no header matches; "
                          f"accepted headers: {aliases}. Headers found: {', '.join(map(str, headers))}")
