"""Rows that must not be merged or dropped silently (issue 11 §8): two people under one customer_id,
a header repeated in a file, blank lines. Each test runs the real build on small messy files."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from knowledge.build import build_tables
from knowledge.errors import GuanxiError
from knowledge.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


def folder(tmp_path: Path, **files: str) -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for name, text in files.items():
        (data / name.replace("_csv", ".csv")).write_text(text, encoding="utf-8")
    return data


def build(data: Path, tmp_path: Path, mapping: str | None = None):
    ws = Workspace(tmp_path / "ws")
    m = None
    if mapping:
        m = tmp_path / "map.toml"
        m.write_text(mapping, encoding="utf-8")
    report = build_tables(data, ws, mapping=m)
    for name, t in report.tables.items():
        assert t.balanced(), name
    return report, ws


def quarantine(ws: Workspace, table: str) -> pd.DataFrame:
    return pd.read_csv(ws.quarantine_dir / f"{table}.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)


# ---------------------------------------------------------------- two people, one customer_id
CUSTOMERS = """客户编号,姓名,手机号,邮箱,生日
C1,王芳,13800000001,wf@x.cn,1990-05-01
C2,李雷,13900000002,,1985-03-02
C1,张伟,13700000003,zw@y.cn,1979-11-30
"""
ORDERS = """订单号,客户编号,下单时间,金额
O1,C1,2024-03-05,10
O2,C2,2024-03-06,20
"""
FEEDBACK = """反馈编号,客户编号,反馈时间,内容
F1,C1,2024-03-07,茶叶受潮了
"""


def test_two_people_sharing_a_customer_id_are_both_quarantined_with_their_contacts(tmp_path):
    """The second person was merged away and their contacts kept nowhere."""
    report, ws = build(folder(tmp_path, customers_csv=CUSTOMERS, orders_csv=ORDERS, feedback_csv=FEEDBACK), tmp_path)
    q = quarantine(ws, "customers")
    assert q[["customer_id", "name", "phone", "email", "source_row"]].values.tolist() == [
        ["C1", "王芳", "13800000001", "wf@x.cn", "2"], ["C1", "张伟", "13700000003", "zw@y.cn", "4"]]
    assert q["reason"].iloc[0] == (
        "customer_id C1 is used by 2 different people: '王芳' (customers.csv row 2); '张伟' (customers.csv row 4) — "
        "the names differ and no phone, e-mail or birthday links them; give each person their own id")
    t = report.tables["customers"]
    assert (t.rows_read, t.kept, t.quarantined, t.merged_duplicates) == (3, 1, 2, 0)
    assert t.quarantine_reasons == {"customer_id used by different people": 2}
    # their orders cannot be told apart: quarantined too, never re-attached to a derived 'C1'
    assert "C1" not in set(ws.table("customers")["customer_id"]) and ws.table("orders")["order_id"].tolist() == ["O2"]
    assert quarantine(ws, "orders")["reason"].iloc[0].startswith("customer_id C1 is used by different people")
    # feedback keeps its text, without the customer
    fb = ws.table("feedback").set_index("feedback_id")
    assert pd.isna(fb.loc["F1", "customer_id"]) and report.tables["feedback"].fixes["customer_id_cleared_id_conflict"] == 1


@pytest.mark.parametrize("second", [
    "C1,王 芳,13600000009,,",                  # same name (spacing aside), new phone: the same person
    "C1,Fang Wang,13800000001,,",              # another spelling, same phone
    "C1,Fang Wang,,WF@x.cn,",                  # same e-mail
    "C1,Fang Wang,,,1990-05-01",               # same birthday
])
def test_one_person_twice_under_one_id_is_still_merged(tmp_path, second):
    report, ws = build(folder(tmp_path, customers_csv=CUSTOMERS.splitlines()[0] + "\n"
                              + CUSTOMERS.splitlines()[1] + "\n" + second + "\n"), tmp_path)
    t = report.tables["customers"]
    assert (t.kept, t.quarantined, t.merged_duplicates) == (1, 0, 1)
    assert ws.table("customers").set_index("customer_id").loc["C1", "name"] == "王芳"


def test_a_chain_links_rows_of_one_id(tmp_path):
    """Row 3 shares a phone with row 2, row 4 an e-mail with row 3: one person, not three."""
    text = ("客户编号,姓名,手机号,邮箱\nC1,王芳,13800000001,\nC1,Fang,13800000001,f@x.cn\n"
            "C1,F. Wang,,f@x.cn\n")
    report, _ = build(folder(tmp_path, customers_csv=text), tmp_path)
    assert report.tables["customers"].merged_duplicates == 2 and report.tables["customers"].quarantined == 0


# ---------------------------------------------------------------- a header twice
def guanxi_build(data: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", "build", "--data", str(data), "--workspace",
                           str(tmp_path / "ws"), "--no-index"], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_a_repeated_header_is_refused_naming_the_file_and_the_header(tmp_path):
    """The second 'name' column was silently dropped."""
    data = folder(tmp_path, customers_csv="customer_id,name,phone,name\nC1,Ann,13800000001,Annie\n")
    with pytest.raises(GuanxiError, match=r"customers\.csv: the header 'name' appears 2 times: 'name' \(column 2\), "
                                          r"'name' \(column 4\); Guanxi reads it as customers\.name"):
        build(data, tmp_path)
    r = guanxi_build(data, tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stdout + r.stderr
    assert "error: customers.csv: the header 'name' appears 2 times" in r.stderr
    assert not (tmp_path / "ws" / "tables").exists()


def test_a_header_repeated_with_other_case_or_spaces_is_refused(tmp_path):
    data = folder(tmp_path, orders_csv="订单号,客户编号,下单时间,Amount,amount \nO1,C1,2024-03-05,5,6\n")
    with pytest.raises(GuanxiError, match=r"orders\.csv: the header 'Amount' appears 2 times: 'Amount' \(column 4\), "
                                          r"'amount' \(column 5\); Guanxi reads it as orders\.amount"):
        build(data, tmp_path)


def test_a_repeated_header_in_a_workbook_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    wb = Workbook()
    wb.active.append(["客户编号", "姓名", "手机号", "手机号"])
    wb.active.append(["C1", "王芳", "13800000001", "13900000002"])
    wb.save(data / "customers.xlsx")
    with pytest.raises(GuanxiError, match=r"customers\.xlsx: the header '手机号' appears 2 times"):
        build(data, tmp_path)


def test_names_in_the_mapping_file_map_a_repeated_header_explicitly(tmp_path):
    data = folder(tmp_path, customers_csv="customer_id,name,phone,name\nC1,Ann,13800000001,Annie\n")
    report, ws = build(data, tmp_path, '[files."customers.csv"]\nnames = ["customer_id", "name", "phone", "nickname"]\n')
    assert ws.table("customers")["name"].tolist() == ["Ann"]
    assert report.inputs[0]["unmapped_headers"] == ["nickname"]


def test_names_must_match_the_number_of_columns(tmp_path):
    data = folder(tmp_path, customers_csv="customer_id,name,phone,name\nC1,Ann,13800000001,Annie\n")
    with pytest.raises(GuanxiError, match=r"customers\.csv: the mapping file gives 3 names but the file's first line "
                                          r"has 4 columns"):
        build(data, tmp_path, '[files."customers.csv"]\nnames = ["customer_id", "name", "phone"]\n')


def test_a_repeated_header_guanxi_does_not_read_is_kept_as_unmapped(tmp_path):
    data = folder(tmp_path, customers_csv="客户编号,姓名,备注,备注\nC1,王芳,a,b\n")
    report, ws = build(data, tmp_path)
    assert report.inputs[0]["unmapped_headers"] == ["备注", "备注 #2"]
    assert len(ws.table("customers")) == 1


# ---------------------------------------------------------------- blank lines
def test_blank_lines_are_counted_in_the_quality_report(tmp_path):
    text = "订单号,客户编号,下单时间,金额\n\nO1,C1,2024-03-05,5\n,,,\n   \nO2,C2,2024-03-06,6\n\n"
    report, ws = build(folder(tmp_path, orders_csv=text), tmp_path)
    assert report.inputs[0]["blank_lines"] == 4 and report.inputs[0]["rows"] == 2
    t = report.tables["orders"]
    assert (t.rows_read, t.blank_lines, t.kept) == (2, 4, 2)
    assert ws.quality_report["tables"]["orders"]["blank_lines"] == 4
    assert ws.quality_report["inputs"][0]["blank_lines"] == 4
    assert ws.table("orders")["order_id"].tolist() == ["O1", "O2"]


def test_blank_rows_of_a_workbook_are_counted(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    wb = Workbook()
    for row in (["订单号", "客户编号", "下单时间", "金额"], ["O1", "C1", "2024-03-05", 5], [], ["O2", "C1", "2024-03-06", 6]):
        wb.active.append(row)
    wb.save(data / "orders.xlsx")
    report, ws = build(data, tmp_path)
    assert report.tables["orders"].blank_lines == 1
    q = ws.table("orders")
    assert q["order_id"].tolist() == ["O1", "O2"]
