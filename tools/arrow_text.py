"""Arrow kernels for making many texts at once (:mod:`tools.drafts_vector`): codes per distinct value,
templates with placeholders filled row by row, CSV cells as ``knowledge.export.csv_cell`` writes them, and
a string array's bytes for the file."""
from __future__ import annotations

import re

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.export import FORMULA_START
from tools.drafts_columns import MARKS

__all__ = ["codes_of", "arrow_codes", "combine_codes", "take_text", "duckdb_cursor", "Templates", "uniform", "split_template",
           "csv_cells", "rows_with_bytes", "utf8_bytes"]

# a placeholder of `tools.drafts_columns` in a template
_MARK = re.compile("(" + "|".join(map(re.escape, MARKS.values())) + ")")
# the first characters of a cell `csv_cell` may neutralise (a formula start, an apostrophe)
_CELL_STARTS = pa.array([*FORMULA_START, "'"])


def codes_of(values) -> tuple[np.ndarray, list]:
    """(codes, distinct values) of an array; a missing value (None, NaN, NaT) is code -1."""
    codes, uniq = pd.factorize(np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values)
    return codes.astype(np.int64), list(uniq)


def arrow_codes(values: pa.Array, keep: np.ndarray | None = None) -> tuple[np.ndarray, list]:
    """`codes_of` of an Arrow array (null, and rows ``keep`` leaves out: -1)."""
    enc = pc.dictionary_encode(values)
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    if keep is not None:
        codes = np.where(keep, codes, -1)
    return codes, enc.dictionary.to_pylist()


def combine_codes(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a code per distinct combination of the code arrays, the first row of each combination)."""
    key = np.zeros(len(codes[0]), np.int64)
    for c in codes:
        c = c + 1   # -1 (missing) → 0
        key = key * (int(c.max(initial=0)) + 1) + c
    got, first = np.unique(key, return_index=True)
    return np.searchsorted(got, key), first


def take_text(values: list, codes: np.ndarray) -> pa.Array:
    """``values[code]`` per row as an Arrow string array."""
    return pa.array(values, pa.string()).take(pa.array(codes))


_CON: list = []


def duckdb_cursor():
    """A cursor of one in-memory DuckDB connection of this process (a connection costs ~20 ms)."""
    if not _CON:
        _CON.append(duckdb.connect())
    return _CON[0].cursor()


class Templates:
    """Templates — (literals, placeholders between them) each — whose rows are rendered (`render`) or
    joined into a longer text (`args`); the literals of each placeholder sequence made once."""

    def __init__(self, templates: list[tuple[tuple, tuple]]):
        shapes: dict[tuple, list[int]] = {}
        for t, (_, marks) in enumerate(templates):
            shapes.setdefault(marks, []).append(t)
        self.shape_of = np.zeros(max(len(templates), 1), np.int64)
        self.local = np.zeros(max(len(templates), 1), np.int64)   # a template's place among its shape's
        self.shapes, self.lits, self.marks_of = {}, {}, []
        for s, (marks, ts) in enumerate(shapes.items()):
            self.shapes[marks] = s
            self.marks_of.append(marks)
            self.shape_of[ts], self.local[ts] = s, np.arange(len(ts))
            self.lits[marks] = [uniform([templates[t][0][j] for t in ts]) for j in range(len(marks) + 1)]

    def args(self, shape: int, codes: np.ndarray, fills: dict, rows: pa.Array) -> list:
        """The join arguments of rows whose templates (``codes``) are all of one shape: literals (a scalar
        where they are all the same) and the placeholders' values (``fills``' arrays taken at ``rows``)."""
        marks = self.marks_of[shape]
        out, sub = [], None
        for j, lit in enumerate(self.lits[marks]):
            if isinstance(lit, str):
                out.append(lit)
            else:
                sub = pa.array(self.local[codes]) if sub is None else sub
                out.append(lit.take(sub))
            if j < len(marks):
                out.append(fills[marks[j]].take(rows))
        return out

    def render(self, codes: np.ndarray, fills: dict) -> pa.Array:
        """Per row the template ``codes[row]`` with each placeholder filled from ``fills[placeholder]`` (an
        Arrow array, one value per row)."""
        one = len(self.shapes) == 1
        row_shape = self.shape_of[codes] if len(codes) else codes
        parts, where = [], []
        for marks, s in self.shapes.items():
            rows = np.arange(len(codes)) if one else np.flatnonzero(row_shape == s)
            if not len(rows):
                continue
            sub = pa.array(self.local[codes[rows]])
            pieces = []
            for j, lit in enumerate(self.lits[marks]):
                pieces.append(lit if isinstance(lit, str) else lit.take(sub))
                if j < len(marks):
                    pieces.append(fills[marks[j]] if one else fills[marks[j]].take(pa.array(rows)))
            if len(pieces) == 1:
                pieces.append("")
            parts.append(pc.binary_join_element_wise(*pieces, "") if any(not isinstance(p, str) for p in pieces)
                         else pa.array(["".join(pieces)] * len(rows), pa.string()))
            where.append(rows)
        if len(parts) == 1:
            return parts[0]
        order = np.empty(len(codes), np.int64)
        order[np.concatenate(where)] = np.arange(len(codes))
        return pa.concat_arrays(parts).take(pa.array(order))


def uniform(values: list[str]):
    """The one value of a list when all are equal (a scalar for the join: no copy per row), else an array."""
    first = values[0]
    return first if all(v == first for v in values) else pa.array(values, pa.string())


_SPLITS: dict = {}


def split_template(template: str, escape: bool = False) -> tuple[tuple, tuple]:
    """(literals, placeholders) of a template; ``escape``: quotes doubled, as inside a quoted CSV cell."""
    got = _SPLITS.get((template, escape))
    if got is None:
        if len(_SPLITS) > 200_000:   # one entry per form of address: bounded
            _SPLITS.clear()
        bits = _MARK.split(template.replace('"', '""') if escape else template)
        got = _SPLITS[template, escape] = (tuple(bits[0::2]), tuple(bits[1::2]))
    return got


def rows_with_bytes(values: pa.Array, chars: bytes) -> np.ndarray:
    """Per row whether its text holds one of the ASCII ``chars`` (a scan of the UTF-8 buffer: an ASCII byte
    is never part of another character)."""
    hit = np.zeros(len(values), bool)
    if not len(values) or values.buffers()[2] is None:
        return hit
    off = np.frombuffer(values.buffers()[1], np.int64 if pa.types.is_large_string(values.type) else np.int32)
    off = off[values.offset: values.offset + len(values) + 1].astype(np.int64)
    data = np.frombuffer(values.buffers()[2], np.uint8)[off[0]: off[-1]]
    found = np.zeros(len(data), bool)
    for b in chars:
        found |= data == b
    at = np.flatnonzero(found) + off[0]
    hit[np.searchsorted(off, at, side="right") - 1] = True
    return hit


def csv_cells(values: pa.Array, quote: np.ndarray | None = None,
              other: np.ndarray | None = None) -> tuple[pa.Array, np.ndarray]:
    """(`knowledge.export.csv_cell` of each text, null → ""; the rows it would neutralise, left out).
    ``quote`` / ``other``: per row whether the text holds a quote / a comma or newline, when known."""
    bad = pc.fill_null(pc.is_in(pc.utf8_slice_codeunits(values, 0, 1), value_set=_CELL_STARTS), False)
    quote = rows_with_bytes(values, b'"') if quote is None else quote
    other = rows_with_bytes(values, b",\n") if other is None else other
    if not (quote.any() or other.any()):   # most columns: nothing to quote
        return pc.fill_null(values, ""), bad.to_numpy(zero_copy_only=False)
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    plain = pc.if_else(pa.array(other), pc.binary_join_element_wise('"', values, '"', ""), values)
    cells = pc.fill_null(pc.if_else(pa.array(quote), quoted, plain), "")
    return cells, bad.to_numpy(zero_copy_only=False)


def utf8_bytes(lines: pa.Array) -> memoryview:
    """The UTF-8 bytes of a string array's values one after the other (no copy)."""
    off = np.frombuffer(lines.buffers()[1], np.int64 if pa.types.is_large_string(lines.type) else np.int32)
    off = off[lines.offset: lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    return memoryview(data)[int(off[0]): int(off[-1])] if data is not None and len(lines) else memoryview(b"")
