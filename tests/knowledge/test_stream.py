"""Order files cleaned in chunks (knowledge.stream) give the tables, quarantine files and quality
report of the same files cleaned in one piece: the demo, real Online Retail and CDNOW lines, and
a messy export whose deciding values sit in its last chunk."""
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from knowledge.build import build_tables
from knowledge.demo import generate_demo
from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from knowledge.workspace import Workspace
from tests.knowledge.test_build import CDNOW, CDNOW_MAPPING, ONLINE_RETAIL, linked_folder

TABLE_NAMES = ("customers", "products", "orders", "feedback")


def build(data: Path, root: Path, streamed: bool, rows: int, mapping: Path | None = None):
    """(workspace, report, log) of one build, the orders streamed or not."""
    root.mkdir(parents=True, exist_ok=True)
    env = {"GUANXI_STREAM_ABOVE_MB": "0" if streamed else "100000"}
    settings = Settings.load(env=env, config_file=root / "none.toml", workspace=root)
    ws = Workspace(root)
    lines: list[str] = []
    report = build_tables(data, ws, mapping=mapping, settings=settings, chunk_rows=rows, log=lines.append)
    return ws, report, "\n".join(lines)


def assert_same_build(data: Path, tmp_path: Path, rows: int, mapping: Path | None = None):
    whole, whole_report, _ = build(data, tmp_path / "whole", False, rows, mapping)
    chunked, chunked_report, log = build(data, tmp_path / "chunked", True, rows, mapping)
    assert "read in chunks" in log
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(whole.table(name), chunked.table(name), obj=name)
    assert whole_report.to_dict() == chunked_report.to_dict()
    files = sorted(p.name for p in whole.quarantine_dir.glob("*.csv"))
    assert files == sorted(p.name for p in chunked.quarantine_dir.glob("*.csv"))
    for f in files:
        assert (whole.quarantine_dir / f).read_bytes() == (chunked.quarantine_dir / f).read_bytes(), f
    assert not list(chunked.root.glob("**/_orders-in-chunks"))   # the parts are cleaned up
    return whole_report


def test_the_demo_in_chunks_is_the_demo_in_one_piece(tmp_path):
    data = tmp_path / "data"
    generate_demo(data, customers=400, seed=7)
    report = assert_same_build(data, tmp_path, rows=997)
    o = report.tables["orders"]
    assert o.dropped_duplicates > 0 and o.quarantined > 0 and report.flagged_rows["orders_amount_over_10x_median"]["count"]


def test_online_retail_in_chunks(tmp_path):
    report = assert_same_build(linked_folder(tmp_path, ONLINE_RETAIL), tmp_path, rows=1500)
    assert report.tables["orders"].dropped_duplicates == 7   # some of them across chunk boundaries


def test_cdnow_with_a_mapping_file_in_chunks(tmp_path):
    """Whitespace-separated, so read by pandas in chunks; order ids derived per customer and day."""
    mapping = tmp_path / "cdnow.toml"
    mapping.write_text(CDNOW_MAPPING, encoding="utf-8")
    assert_same_build(linked_folder(tmp_path, CDNOW), tmp_path, rows=9000, mapping=mapping)


def messy_orders(folder: Path, n: int = 600) -> None:
    """An order export whose dates are day-first (told only by its last lines), with decimal
    commas, a duplicate across chunks, a blank-delimiter line, an over-long field, an own column
    (毛利), unknown customers and products, and a second small workbook of orders."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["订单号;客户编号;下单日期;商品编号;商品名称;品类;数量;实付金额;毛利"]
    for i in range(n):
        day, month = 1 + i % 12, 1 + (i // 12) % 12
        lines.append(f"O{i};C{i % 40};{day:02d}/{month:02d}/2024;P{i % 9};商品{i % 9};"
                     f"{'Home Decor' if i % 3 else 'home  decor'};{1 + i % 3};{10 + i % 7},5{i % 10};{i % 5},2")
    lines.insert(200, "O7;C7;08/01/2024;P7;商品7;Home Decor;2;10,57;2,2")    # O7 again, identical
    lines.insert(300, ";;;;;;;;")
    lines.insert(350, "O9000;C9000;01/01/2024;P99;新品;饮料;1;" + "9" * 300 + ";1,0")   # long amount
    lines += ["O9001;C1;25/12/2024;P1;商品1;Home Decor;1;12,00;x", "O9002;C2;31/03/2024;;无编号商品;饮料;1;8,50;1,5"]
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    wb = Workbook()
    wb.active.append(["订单号", "客户编号", "下单日期", "商品编号", "数量", "实付金额", "渠道"])
    wb.active.append(["W1", "C1", "2024-05-01", "P1", 1, 12.0, "门店"])
    wb.active.append(["O7", "C7", "08/01/2024", "P7", 2, 11.57, "门店"])
    wb.save(folder / "orders_shop.xlsx")
    (folder / "customers.csv").write_text("客户编号,姓名\n" + "".join(f"C{i},客户{i}\n" for i in range(30)),
                                          encoding="utf-8")
    (folder / "products.csv").write_text("商品编号,商品名称,品类\n" + "".join(f"P{i},商品{i},Home Decor\n" for i in range(5)),
                                         encoding="utf-8")


def test_a_messy_export_in_chunks_decides_formats_over_the_whole_file(tmp_path):
    data = tmp_path / "data"
    messy_orders(data)
    (tmp_path / "whole").mkdir()
    (tmp_path / "chunked").mkdir()
    for ws in ("whole", "chunked"):   # the workspace's semantic model keeps the own column 毛利
        (tmp_path / ws / "semantic.toml").write_text('[metrics.gross]\ncolumn = "orders.毛利"\n', encoding="utf-8")
    env_limit = {"GUANXI_MAX_FIELD_CHARS": "200"}
    report = None
    for name in ("whole", "chunked"):
        root = tmp_path / name
        settings = Settings.load(env={**env_limit, "GUANXI_STREAM_ABOVE_MB": "0" if name == "chunked" else "100000"},
                                 config_file=root / "none.toml", workspace=root)
        r = build_tables(data, Workspace(root), settings=settings, chunk_rows=101)
        report = r.to_dict() if report is None else report
        if name == "chunked":
            assert r.to_dict() == report
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(Workspace(tmp_path / "whole").table(name),
                                      Workspace(tmp_path / "chunked").table(name), obj=name)
    assert ((tmp_path / "whole" / "quarantine" / "orders.csv").read_bytes()
            == (tmp_path / "chunked" / "quarantine" / "orders.csv").read_bytes())
    dates = [d for d in report["tables"]["orders"]["format_decisions"] if d["column"] == "order_date"]
    assert [d["decision"] for d in dates if d["file"] == "orders.csv"] == ["DMY"]
    assert report["tables"]["orders"]["dropped_duplicates"] == 1
    assert report["own_columns"]["kept"]["orders.毛利"]["missing"] >= 1
    orders = Workspace(tmp_path / "chunked").table("orders")
    assert orders.loc[orders["order_id"] == "O9001", "order_date"].iloc[0] == pd.Timestamp("2024-12-25")
    assert report["tables"]["orders"]["blank_lines"] == 1


def test_a_ragged_line_in_a_streamed_file_is_named(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = ["order_id,customer_id,order_date,amount"] + [f"O{i},C{i},2024-01-01,5" for i in range(300)]
    rows.insert(250, "O-x,C1,2024-01-01,5,extra,fields")
    (data / "orders.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(GuanxiError, match=r"orders\.csv: cannot read it as comma-separated text"):
        build(data, tmp_path / "ws", True, rows=100)
