"""Bounded input (issue 11 §9): a field over max_field_chars quarantines its row without being loaded
whole, a file over max_file_mb is refused with a clear message. The limits are set low in the
test settings so that the generated files stay small and the tests fast (peak memory is measured
by hand: benchmarks/bench_import_limits.py)."""
from __future__ import annotations

import csv
import io
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from knowledge.build import build_tables
from knowledge.errors import GuanxiError
from knowledge.limits import long_field_spans
from knowledge.settings import Settings
from knowledge.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
LOW = Settings(max_field_chars=1000, max_file_mb=64)


def build(data: Path, tmp_path: Path, settings: Settings = LOW):
    report = build_tables(data, Workspace(tmp_path / "ws"), settings=settings)
    for name, t in report.tables.items():
        assert t.balanced(), name
    return report, Workspace(tmp_path / "ws")


def quarantine(ws: Workspace, table: str) -> pd.DataFrame:
    return pd.read_csv(ws.quarantine_dir / f"{table}.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)


def write_feedback_with_a_huge_text(path: Path, size: int, encoding: str = "utf-8") -> None:
    """feedback.csv: F2's text is `size` characters, quoted, with commas, quotes and line breaks
    inside (a naive scan would split it)."""
    chunk = 'Tea, "wet"\nagain; '
    huge = (chunk * (size // len(chunk) + 1))[:size].replace('"', '""')
    with path.open("w", encoding=encoding, newline="") as f:
        f.write("反馈编号,客户编号,反馈时间,内容,评分\n")
        f.write('F1,C1,2024-03-05,"short, fine",4\n')
        f.write(f'F2,C2,2024-03-06,"{huge}",2\n')
        f.write("F3,C3,2024-03-07,ok,5\n")


def test_a_20_mb_field_quarantines_its_row_and_the_build_finishes(tmp_path):
    """A 50 MB field made a build run past 10 minutes at 6.5 GB peak memory."""
    data = tmp_path / "data"
    data.mkdir()
    write_feedback_with_a_huge_text(data / "feedback.csv", 20 << 20)
    report, ws = build(data, tmp_path)
    assert ws.table("feedback")["feedback_id"].tolist() == ["F1", "F3"]
    assert ws.table("feedback").set_index("feedback_id").loc["F1", "text"] == "short, fine"
    q = quarantine(ws, "feedback")
    assert q["feedback_id"].tolist() == ["F2"] and q["source_row"].tolist() == ["3"]
    assert q["reason"].iloc[0].startswith("text (header '内容') is ")
    assert q["reason"].iloc[0].endswith(" bytes long; the limit is 1,000 characters (setting max_field_chars, "
                                        "GUANXI_MAX_FIELD_CHARS)")
    assert q["text"].iloc[0].startswith("Tea, wet\nagain; ") and "[guanxi: field truncated," in q["text"].iloc[0]
    assert (ws.quarantine_dir / "feedback.csv").stat().st_size < 10_000   # the field is not copied whole
    assert report.tables["feedback"].quarantine_reasons == {"field over max_field_chars": 1}
    assert report.inputs[0]["fields_over_limit"] == 1


@pytest.mark.parametrize("encoding", ["gb18030", "utf-16", "utf-8-sig"])
def test_a_huge_field_is_cut_in_other_encodings(tmp_path, encoding):
    data = tmp_path / "data"
    data.mkdir()
    write_feedback_with_a_huge_text(data / "feedback.csv", 200_000, encoding)
    report, ws = build(data, tmp_path)
    assert ws.table("feedback")["feedback_id"].tolist() == ["F1", "F3"]
    assert quarantine(ws, "feedback")["feedback_id"].tolist() == ["F2"]


def test_long_chinese_text_within_the_character_limit_is_kept(tmp_path):
    """900 characters of Chinese are 2,700 bytes in UTF-8: over the limit in bytes, not in characters."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "feedback.csv").write_text(f"反馈编号,反馈时间,内容\nF1,2024-03-05,{'茶' * 900}\nF2,2024-03-05,{'茶' * 1001}\n",
                                       encoding="utf-8")
    report, ws = build(data, tmp_path)
    assert ws.table("feedback")["text"].str.len().tolist() == [900]
    assert quarantine(ws, "feedback")["reason"].iloc[0].startswith("text (header '内容') is 3,003 bytes long")


def test_a_huge_field_in_a_column_guanxi_does_not_read_is_cut_and_the_row_kept(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.csv").write_text("订单号,客户编号,下单时间,金额,备注\nO1,C1,2024-03-05,5," + "x" * 50_000 + "\n",
                                     encoding="utf-8")
    report, ws = build(data, tmp_path)
    assert ws.table("orders")["order_id"].tolist() == ["O1"]
    assert report.inputs[0]["unmapped_fields_over_limit"] == 1 and report.inputs[0]["fields_over_limit"] == 0


def test_a_long_workbook_cell_quarantines_its_row(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    wb = Workbook()
    for row in (["反馈编号", "反馈时间", "内容"], ["F1", "2024-03-05", "好"], ["F2", "2024-03-05", "差" * 5000]):
        wb.active.append(row)
    wb.save(data / "feedback.xlsx")
    report, ws = build(data, tmp_path)
    assert ws.table("feedback")["feedback_id"].tolist() == ["F1"]
    assert quarantine(ws, "feedback")["reason"].iloc[0].startswith("text (header '内容') is 5,000 characters long")


def test_a_file_over_the_size_limit_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.csv").write_text("订单号,客户编号,下单时间,金额\n" + "O1,C1,2024-03-05,5\n" * 120_000, encoding="utf-8")
    with pytest.raises(GuanxiError, match=r"orders\.csv: the file is 2\.\d MB, over the limit of 1 MB per file "
                                          r"\(setting max_file_mb, GUANXI_MAX_FILE_MB\)"):
        build(data, tmp_path, Settings(max_file_mb=1))
    assert not (tmp_path / "ws").exists()


def test_a_workbook_that_unpacks_over_the_limit_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    wb = Workbook()
    wb.active.append(["订单号", "客户编号", "下单时间", "金额"])
    for i in range(80):   # 80 cells of 30,000 characters (Excel's cell limit is 32,767): 2.4 MB that zip to KB
        wb.active.append([f"O{i}", "C1", "2024-03-05", "5" * 30_000])
    wb.save(data / "orders.xlsx")
    assert (data / "orders.xlsx").stat().st_size < 1 << 20
    with pytest.raises(GuanxiError, match=r"orders\.xlsx: the workbook unpacks to .* MB, over the limit of 1 MB"):
        build(data, tmp_path, Settings(max_file_mb=1))


def test_the_limits_come_from_the_environment_and_the_cli_explains(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_feedback_with_a_huge_text(data / "feedback.csv", 2 << 20)
    env = {**os.environ, "GUANXI_MAX_FIELD_CHARS": "1000"}
    run = lambda env: subprocess.run([sys.executable, "-m", "assistant.cli", "build", "--data", str(data),  # noqa: E731
                                      "--workspace", str(tmp_path / "ws"), "--no-index"], cwd=tmp_path, env=env,
                                     capture_output=True, text=True, timeout=300)
    r = run(env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "field over max_field_chars ×1" in r.stdout
    r = run({**env, "GUANXI_MAX_FILE_MB": "1"})
    assert r.returncode == 2 and "Traceback" not in r.stdout + r.stderr
    assert re.search(r"error: feedback\.csv: the file is 2\.\d MB, over the limit of 1 MB per file", r.stderr)


@pytest.mark.parametrize("name", ["max_field_chars", "max_file_mb"])
def test_the_limits_are_whole_numbers_of_at_least_one(name):
    with pytest.raises(GuanxiError, match=rf"setting '{name}': expected a whole number of at least 1"):
        Settings.load(env={f"GUANXI_{name.upper()}": "0"})


# ---------------------------------------------------------------- the scan agrees with a CSV parser
def test_the_field_scan_finds_exactly_the_long_fields_a_csv_parser_sees(tmp_path):
    rng = random.Random(11)
    alphabet = ['a', 'b', ',', '"', '\n', ' ', '茶']
    rows = [[''.join(rng.choice(alphabet) for _ in range(rng.choice([0, 3, 40, 120]))) for _ in range(4)]
            for _ in range(300)]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path = tmp_path / "x.csv"
    path.write_bytes(buf.getvalue().encode("utf-8"))
    raw = path.read_bytes()
    spans = long_field_spans(path, "utf-8", ",", 100)
    cut = [raw[a:b].decode("utf-8") for a, b in spans]
    expected = [f for row in rows for f in row if len(csv_field(f).encode("utf-8")) > 100]
    assert [next(csv.reader([c]))[0] if c else "" for c in cut] == expected


def csv_field(value: str) -> str:
    """How csv.writer writes one field (quoted when needed)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([value])
    return buf.getvalue()
