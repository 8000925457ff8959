"""The Arrow kernels of batch drafting give what the per-value functions give."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from knowledge.export import csv_cell
from tools.arrow_text import Templates, combine_codes, csv_cells, rows_with_bytes, split_template, utf8_bytes

VALUES = ["plain", "a,b", 'say "hi"', "two\nlines", "", None, "你好，世界", "=1+2", "'quoted", "café, naïve", "\r alone"]


def test_csv_cells_are_csv_cell_and_formula_starts_are_left_out():
    cells, bad = csv_cells(pa.array(VALUES, pa.string()))
    for v, c, b in zip(VALUES, cells.to_pylist(), bad):
        if not b:   # the others (a formula start, an apostrophe) are left to the row-by-row path
            assert c == csv_cell(v)
    assert bad.tolist() == [False] * 7 + [True, True, False, True]


def test_rows_with_bytes_finds_ascii_bytes_in_utf8_text_slices_included():
    arr = pa.array(["x", "中,文", "ab", "a\nb", "，"], pa.string()).slice(1)
    assert rows_with_bytes(arr, b",\n").tolist() == [True, False, True, False]


def test_templates_fill_each_rows_placeholders_whatever_their_shape():
    cid = "⸨i⸩"
    t = Templates([split_template(f"id={cid};"), split_template("none"), split_template(f"{cid}-{cid}")])
    got = t.render(np.array([0, 2, 1, 0]), {cid: pa.array(["A", "B", "C", "D"])})
    assert got.to_pylist() == ["id=A;", "B-B", "none", "id=D;"]


def test_combined_codes_group_equal_combinations():
    code, first = combine_codes(np.array([0, 1, 0, -1]), np.array([2, 2, 2, 2]))
    assert code[0] == code[2] != code[1] != code[3] and sorted(first.tolist()) == [0, 1, 3]


def test_utf8_bytes_are_the_values_one_after_the_other():
    arr = pa.array(["ab\n", "中\n", "c\n"], pa.string()).slice(1)
    assert bytes(utf8_bytes(arr)) == "中\nc\n".encode()
