"""CSV files for people: text cells cannot run as spreadsheet formulas; numbers are untouched."""
from __future__ import annotations

import pandas as pd

from knowledge.export import neutralise_cell, write_csv


def test_formula_starts_are_neutralised_and_numbers_are_not():
    for bad in ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=x", "\r=x"):
        assert neutralise_cell(bad) == "'" + bad
    for ok in ("-5", "+86", "-3.50", "1e3", "张三", "", None, 12.5):
        assert neutralise_cell(ok) == ok


def test_write_csv_writes_the_neutralised_copy(tmp_path):
    df = pd.DataFrame({"name": ["=evil()", "王伟"], "amount": [-5.0, 3.0]})
    back = pd.read_csv(write_csv(df, tmp_path / "x.csv"))
    assert back["name"].tolist() == ["'=evil()", "王伟"] and back["amount"].tolist() == [-5.0, 3.0]
    assert df["name"].iloc[0] == "=evil()"  # the caller's frame is not changed
