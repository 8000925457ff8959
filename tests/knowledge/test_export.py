"""CSV files for people: text cells cannot run as spreadsheet formulas; numbers are untouched.
Exports belong to their maker: a folder of their own, an unguessable id, a TTL."""
from __future__ import annotations

import os
import stat
import time
import re
from pathlib import Path

import pandas as pd

from knowledge.export import (csv_rows, export_token, new_export_path, neutralise_cell, open_export, owner_folder,
                              purge_expired_exports, write_csv)


def test_formula_starts_are_neutralised_and_numbers_are_not():
    for bad in ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=x", "\r=x"):
        assert neutralise_cell(bad) == "'" + bad
    for ok in ("-5", "+86", "-3.50", "1e3", "张三", "", None, 12.5):
        assert neutralise_cell(ok) == ok


def test_a_csv_written_in_pieces_has_the_bytes_of_the_whole_frame(tmp_path):
    cells = ["", None, "plain", "a,b", 'say "hi"', "two\nlines", "cr\ronly", "=evil()", "-5", "'=x", "@张三",
             "\t=x", '[{"detail": "name", "value": "王芳"}]', " lead", "trail ", "a\r\nb", "\u2028", "'plain"]
    rows = [[cells[(i * 7 + j) % len(cells)] for j in range(4)] for i in range(len(cells) * 3)]
    header = ["id", "=name", "text", "note"]
    with csv_rows(tmp_path / "pieces.csv", header, encoding="utf-8-sig") as write:
        write(rows[:10])
        write(rows[10:])
    write_csv(pd.DataFrame(rows, columns=header), tmp_path / "whole.csv", encoding="utf-8-sig")
    assert (tmp_path / "pieces.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()


def test_write_csv_writes_the_neutralised_copy(tmp_path):
    df = pd.DataFrame({"name": ["=evil()", "王伟"], "amount": [-5.0, 3.0]})
    back = pd.read_csv(write_csv(df, tmp_path / "x.csv"))
    assert back["name"].tolist() == ["'=evil()", "王伟"] and back["amount"].tolist() == [-5.0, 3.0]
    assert df["name"].iloc[0] == "=evil()"  # the caller's frame is not changed


def _export(root, user, now=None):
    path = new_export_path(root, user, "drafts-At_Risk-birthday-sms.csv", ttl_minutes=60, now=now)
    path.write_text("customer_id,phone\nC1,13812345678\n", encoding="utf-8")
    return path


def test_an_export_goes_to_its_makers_folder_under_an_unguessable_id(tmp_path):
    a, b = _export(tmp_path, "admin"), _export(tmp_path, "admin")
    assert a.parent.parent == b.parent.parent == tmp_path / "exports" / owner_folder("admin")
    assert a.parent != b.parent and a.name == "drafts-At_Risk-birthday-sms.csv"   # same name, two exports
    token = export_token(a)
    assert len(token) == 32 and token == a.parent.name and export_token(tmp_path / "x.csv") is None
    assert stat.S_IMODE(a.parent.stat().st_mode) == 0o700
    assert owner_folder("a b") != owner_folder("a_b") and "/" not in owner_folder("../../etc")


def test_an_export_opens_for_its_maker_only_and_only_within_its_ttl(tmp_path):
    path = _export(tmp_path, "admin")
    token = export_token(path)
    assert open_export(tmp_path, "admin", token, 60) == ("ok", path)
    assert open_export(tmp_path, "agent", token, 60) == ("not_yours", None)
    for bad in ("x" * 32, "../" * 11, "*" * 32, token[:-1]):
        assert open_export(tmp_path, "admin", bad, 60) == ("not_found", None)
    later = time.time() + 61 * 60
    assert open_export(tmp_path, "admin", token, 60, now=later) == ("expired", None)
    assert not path.exists() and not path.parent.exists()       # deleted when refused
    assert open_export(tmp_path, "admin", token, 60) == ("not_found", None)


def test_expired_exports_are_purged_old_flat_ones_too(tmp_path):
    fresh, stale = _export(tmp_path, "manager"), _export(tmp_path, "admin")
    legacy = tmp_path / "exports" / "drafts-At_Risk-birthday-sms-admin.csv"   # before exports had owners
    legacy.write_text("x", encoding="utf-8")
    old = time.time() - 2 * 3600
    for p in (stale, legacy):
        os.utime(p, (old, old))
    assert purge_expired_exports(tmp_path, 60) == 2
    assert fresh.exists() and not stale.exists() and not stale.parent.exists() and not legacy.exists()
    _export(tmp_path, "agent", now=time.time() + 2 * 3600)       # a new export purges first
    assert not fresh.exists()


def test_a_neutralised_value_reads_back_as_itself():
    """`guanxi build` on a file Guanxi wrote (a fixed quarantine file, the demo) gets the values back."""
    from knowledge.export import restore_cell
    for v in ("=1+1", "'=1+1", "''=x", "+86 138-0000-0001", "@张三", "-5", "'abc", "张三", "", None, 3.5, "\t=x"):
        assert restore_cell(neutralise_cell(v)) == v, v


def test_headers_are_cells_too_and_the_frame_round_trips(tmp_path):
    from knowledge.export import restore_formulas
    df = pd.DataFrame({"=cmd": ["@SUM(A1)", "x"], "n": [1, 2], "phone": ["+86 138-0000-0001", None]})
    path = write_csv(df, tmp_path / "x.csv")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(back.columns) == ["'=cmd", "n", "phone"] and back.iloc[0].tolist() == ["'@SUM(A1)", "1", "'+86 138-0000-0001"]
    again = restore_formulas(back)
    assert list(again.columns) == ["=cmd", "n", "phone"] and again.iloc[0].tolist() == ["@SUM(A1)", "1", "+86 138-0000-0001"]


def test_an_xlsx_cell_is_text_never_a_formula(tmp_path):
    """openpyxl stores a string starting with "=" as a formula; the workbook writer stores text."""
    from openpyxl import load_workbook

    from knowledge.export import xlsx_workbook
    xlsx_workbook("s", ["name", "n"], [["=HYPERLINK(\"http://x\")", 1], ["+cmd", -5], ["ok", 2]]).save(tmp_path / "x.xlsx")
    ws = load_workbook(tmp_path / "x.xlsx")["s"]
    col = [ws.cell(row=r, column=1) for r in range(2, 5)]
    assert [c.data_type for c in col] == ["s", "s", "s"]
    assert [c.value for c in col] == ["'=HYPERLINK(\"http://x\")", "'+cmd", "ok"] and ws.cell(row=3, column=2).value == -5


# Code that writes a spreadsheet file, and where it may: knowledge/export.py is the one writer.
_WRITERS = re.compile(r"\.to_csv\(|\.to_excel\(|csv\.writer\(|csv\.DictWriter\(|ExcelWriter\(|\bWorkbook\(|"
                      r"(?:pa_csv|pacsv|pyarrow\.csv)\.write_csv\(")
_ALLOWED = {  # file → the one writer allowed there, and why
    "knowledge/export.py": (r".", "the neutralising writers themselves"),
    "knowledge/demo.py": (r"pa_csv\.write_csv\(", "orders.csv through Arrow: its text columns come from neutralised dictionaries"),
    "knowledge/demo_campaigns.py": (r"neutralise_cell", "appends the planted campaign orders to orders.csv, each cell neutralised"),
}


def test_every_spreadsheet_writer_goes_through_knowledge_export():
    root = Path(__file__).resolve().parents[2]
    files = [root / "app.py", *[p for d in ("knowledge", "tools", "assistant", "evals", "scripts", "benchmarks")
                                for p in sorted((root / d).rglob("*.py"))]]
    bad, seen = [], set()
    for f in files:
        rel = str(f.relative_to(root))
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if _WRITERS.search(line) and not line.lstrip().startswith("#"):
                seen.add(rel)
                if rel not in _ALLOWED or not re.search(_ALLOWED[rel][0], line):
                    bad.append(f"{rel}:{n}: {line.strip()}")
    assert not bad, "spreadsheet files must be written through knowledge.export:\n" + "\n".join(bad)
    assert "knowledge/export.py" in seen  # the scan sees the writers
