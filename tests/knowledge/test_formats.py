"""Number and date formats decided per column from all its values (issue 11 §7): decimal comma or
point, day/month order; each decision in the quality report with its evidence; values that stay
ambiguous or contradict the decision quarantined with the reason; non-finite numbers quarantined;
a mapping file's date_format / decimal settles a column. Each test runs the real build on a
small messy folder."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from knowledge.build import build_tables
from knowledge.errors import GuanxiError
from knowledge.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
HEADER = "订单号,客户编号,下单时间,金额\n"


def orders_folder(tmp_path: Path, rows: list[tuple[str, str]], name: str = "orders.csv") -> Path:
    """orders.csv with one line per (order_date, amount); ids O1.., customers C1.."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    lines = [f'O{i},C{i},{d},"{a}"' for i, (d, a) in enumerate(rows, 1)]
    (data / name).write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return data


def build(data: Path, tmp_path: Path, mapping: str | None = None):
    ws = Workspace(tmp_path / "ws")
    m = None
    if mapping is not None:
        m = tmp_path / "map.toml"
        m.write_text(mapping, encoding="utf-8")
    report = build_tables(data, ws, mapping=m)
    for name, t in report.tables.items():
        assert t.balanced(), name
    return report, ws


def quarantine(ws: Workspace, table: str = "orders") -> pd.DataFrame:
    path = ws.quarantine_dir / f"{table}.csv"
    if not path.exists():
        return pd.DataFrame(columns=["order_id", "reason"])
    return pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)


def decision(report, column: str, file: str = "orders.csv", table: str = "orders") -> dict:
    [d] = [d for d in report.tables[table].format_decisions if d["column"] == column and d["file"] == file]
    return d


def amounts(ws: Workspace) -> dict[str, float]:
    return ws.table("orders").set_index("order_id")["amount"].to_dict()


# ---------------------------------------------------------------- decimal separators
def test_a_decimal_comma_column_is_read_with_a_decimal_comma(tmp_path):
    """'€3,50' was 350 and '1.234,56' was 1.23456."""
    data = orders_folder(tmp_path, [("2024-03-05", "€3,50"), ("2024-03-05", "1.234,56"), ("2024-03-05", "12"),
                                    ("2024-03-05", "1.234"), ("2024-03-05", "7,5 €")])
    report, ws = build(data, tmp_path)
    assert amounts(ws) == {"O1": 3.5, "O2": 1234.56, "O3": 12.0, "O4": 1234.0, "O5": 7.5}
    d = decision(report, "amount")
    assert (d["decision"], d["source"], d["quarantined"]) == ("decimal_comma", "values", 0)
    assert d["evidence"]["decimal_comma"] == 3 and d["evidence"]["ambiguous"] == 1
    assert d["evidence"]["decimal_point"] == 0 and d["evidence"]["no_separator"] == 1


def test_a_decimal_point_column_reads_comma_thousands(tmp_path):
    data = orders_folder(tmp_path, [("2024-03-05", "12.50"), ("2024-03-05", "¥1,234.50"), ("2024-03-05", "1,234"),
                                    ("2024-03-05", "1,234,567")])
    report, ws = build(data, tmp_path)
    assert amounts(ws) == {"O1": 12.5, "O2": 1234.5, "O3": 1234.0, "O4": 1234567.0}
    assert decision(report, "amount")["decision"] == "decimal_point"


def test_a_value_against_the_columns_decimal_separator_is_quarantined(tmp_path):
    data = orders_folder(tmp_path, [("2024-03-05", "12.50"), ("2024-03-05", "8.20"), ("2024-03-05", "3,50")])
    report, ws = build(data, tmp_path)
    assert sorted(amounts(ws)) == ["O1", "O2"]
    q = quarantine(ws)
    assert q["order_id"].tolist() == ["O3"] and q["source_row"].tolist() == ["4"]
    assert q["reason"].iloc[0].startswith("amount '3,50' has a decimal comma, but the column's other values in "
                                          "orders.csv use a decimal point (2 values, e.g. '12.50')")
    assert report.tables["orders"].quarantine_reasons == {"amount contradicts the column's decimal separator": 1}
    assert decision(report, "amount")["quarantined"] == 1


def test_thousands_that_could_be_decimals_are_quarantined_when_nothing_tells(tmp_path):
    data = orders_folder(tmp_path, [("2024-03-05", "1,234"), ("2024-03-05", "5"), ("2024-03-05", "2.500")])
    report, ws = build(data, tmp_path)
    assert list(amounts(ws)) == ["O2"]
    reasons = quarantine(ws).set_index("order_id")["reason"]
    assert reasons["O1"].startswith("amount '1,234' is ambiguous: 1234 or 1.234 (no value of the column shows its "
                                    "decimal separator in orders.csv)")
    assert reasons["O3"].startswith("amount '2.500' is ambiguous: 2.5 or 2500")
    assert 'set decimal = "." or "," for amount in a mapping file' in reasons["O1"]
    d = decision(report, "amount")
    assert d["decision"] == "none" and d["evidence"]["ambiguous"] == 2 and d["quarantined"] == 2


def test_the_mapping_file_sets_a_columns_decimal_separator(tmp_path):
    data = orders_folder(tmp_path, [("2024-03-05", "1,234"), ("2024-03-05", "5"), ("2024-03-05", "2.500")])
    report, ws = build(data, tmp_path, '[files."orders.csv".decimal]\namount = ","\n')
    assert amounts(ws) == {"O1": 1.234, "O2": 5.0, "O3": 2500.0}
    d = decision(report, "amount")
    assert (d["decision"], d["source"], d["quarantined"]) == ("decimal_comma", "mapping", 0)


def test_each_file_decides_its_own_separator(tmp_path):
    orders_folder(tmp_path, [("2024-03-05", "3,50"), ("2024-03-05", "1,234")], name="orders_de.csv")
    data = orders_folder(tmp_path, [("2024-03-05", "3.50"), ("2024-03-05", "1,234")], name="orders_us.csv")
    (data / "orders_us.csv").write_text((data / "orders_us.csv").read_text().replace("O", "U"), encoding="utf-8")
    report, ws = build(data, tmp_path)
    assert amounts(ws) == {"O1": 3.5, "O2": 1.234, "U1": 3.5, "U2": 1234.0}
    assert decision(report, "amount", "orders_de.csv")["decision"] == "decimal_comma"
    assert decision(report, "amount", "orders_us.csv")["decision"] == "decimal_point"


def test_as_many_commas_as_points_is_mixed_and_quarantined(tmp_path):
    data = orders_folder(tmp_path, [("2024-03-05", "3,50"), ("2024-03-05", "3.50"), ("2024-03-05", "4")])
    report, ws = build(data, tmp_path)
    assert list(amounts(ws)) == ["O3"]
    assert decision(report, "amount")["decision"] == "mixed"
    assert set(report.tables["orders"].quarantine_reasons) == {"amount mixes decimal separators"}


# ---------------------------------------------------------------- non-finite numbers
@pytest.mark.parametrize("value", ["1e309", "inf", "-Infinity", "nan", "NaN", "1e999"])
def test_non_finite_numbers_are_quarantined(tmp_path, value):
    data = orders_folder(tmp_path, [("2024-03-05", "12.50"), ("2024-03-05", value)])
    report, ws = build(data, tmp_path)
    assert list(amounts(ws)) == ["O1"] and np.isfinite(ws.table("orders")["amount"]).all()
    assert quarantine(ws)["reason"].tolist() == [f"amount '{value}' is not a finite number (infinity, NaN or "
                                                 f"beyond ±1.8e308)"]
    assert decision(report, "amount")["evidence"]["non_finite"] == 1


def test_a_non_finite_price_or_rating_is_quarantined_too(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "products.csv").write_text("商品编号,商品名称,价格\nP1,茶,12.5\nP2,壶,inf\n", encoding="utf-8")
    (data / "feedback.csv").write_text("反馈编号,反馈时间,内容,评分\nF1,2024-03-05,好,4\nF2,2024-03-05,差,nan\n",
                                       encoding="utf-8")
    report, ws = build(data, tmp_path)
    assert ws.table("products")["product_id"].tolist() == ["P1"]
    assert ws.table("feedback")["feedback_id"].tolist() == ["F1"]
    assert report.tables["products"].quarantine_reasons == {"price is not a finite number": 1}
    assert report.tables["feedback"].quarantine_reasons == {"rating is not a finite number": 1}


def test_an_overflowing_amount_no_longer_kills_the_build_after_the_tables_are_written(tmp_path):
    """'1e309' was kept as infinity; the analyses then died with a traceback and sales showed '—'."""
    lines = [f"O{i},C{i % 7},2024-0{1 + i % 6}-1{i % 9},绿茶,{10 + i}.5" for i in range(60)]
    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.csv").write_text("订单号,客户编号,下单时间,商品名称,金额\n" + "\n".join(lines)
                                     + "\nO99,C1,2024-03-05,绿茶,1e309\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "assistant.cli", "build", "--data", str(data), "--workspace",
                        str(tmp_path / "ws"), "--no-index"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stdout + r.stderr
    assert "sales 2,400.00" in r.stdout and "amount is not a finite number ×1" in r.stdout


# ---------------------------------------------------------------- day / month order
def dates(ws: Workspace) -> dict[str, str]:
    return {k: f"{v:%Y-%m-%d}" for k, v in ws.table("orders").set_index("order_id")["order_date"].items()}


def test_dotted_dates_are_day_first(tmp_path):
    """'5.3.2024' became May 3."""
    data = orders_folder(tmp_path, [("5.3.2024", "1"), ("6.3.2024", "1"), ("2024-03-07", "1")])
    report, ws = build(data, tmp_path)
    assert dates(ws) == {"O1": "2024-03-05", "O2": "2024-03-06", "O3": "2024-03-07"}
    d = decision(report, "order_date")
    assert d["decision"] == "DMY" and d["evidence"]["dotted_dmy"] == 2 and d["evidence"]["ymd"] == 1


@pytest.mark.parametrize("other, expected", [("13/05/2024", "2024-05-03"), ("05/13/2024", "2024-03-05")])
def test_an_ambiguous_date_follows_the_order_the_column_shows(tmp_path, other, expected):
    """'03/05/2024' was March or May depending on the other rows, unflagged: now the decision is
    reported with its evidence."""
    data = orders_folder(tmp_path, [("03/05/2024", "1"), (other, "1"), (other, "1")])
    report, ws = build(data, tmp_path)
    assert dates(ws)["O1"] == expected
    d = decision(report, "order_date")
    assert d["decision"] == ("DMY" if other.startswith("13") else "MDY")
    assert d["evidence"]["ambiguous"] == 1 and d["evidence"]["dmy" if other.startswith("13") else "mdy"] == 2


def test_a_column_of_only_ambiguous_dates_is_quarantined_not_guessed(tmp_path):
    data = orders_folder(tmp_path, [("03/05/2024", "1"), ("04/06/2024", "1"), ("07/07/2024", "1")])
    report, ws = build(data, tmp_path)
    assert dates(ws) == {"O3": "2024-07-07"}  # the same date either way
    q = quarantine(ws).set_index("order_id")["reason"]
    assert q["O1"] == ("order_date '03/05/2024' is ambiguous: 2024-05-03 (day first) or 2024-03-05 (month first); "
                       "no date of the column has a day over 12 in orders.csv; set date_format = \"DMY\" or "
                       "\"MDY\" for order_date in a mapping file")
    d = decision(report, "order_date")
    assert (d["decision"], d["quarantined"]) == ("ambiguous", 2)
    assert report.tables["orders"].quarantine_reasons == {"order_date is ambiguous (day/month order)": 2}


@pytest.mark.parametrize("fmt, expected", [("DMY", "2024-05-03"), ("MDY", "2024-03-05")])
def test_the_mapping_file_sets_a_columns_date_order(tmp_path, fmt, expected):
    data = orders_folder(tmp_path, [("03/05/2024", "1"), ("04/06/2024", "1")])
    report, ws = build(data, tmp_path, f'[date_format.orders]\norder_date = "{fmt}"\n')
    assert dates(ws)["O1"] == expected
    d = decision(report, "order_date")
    assert (d["decision"], d["source"], d["quarantined"]) == (fmt, "mapping", 0)


def test_a_date_against_the_columns_order_is_quarantined(tmp_path):
    data = orders_folder(tmp_path, [("13/05/2024", "1"), ("14/05/2024", "1"), ("05/15/2024", "1"),
                                    ("2024-05-16", "1")])
    report, ws = build(data, tmp_path)
    assert sorted(dates(ws)) == ["O1", "O2", "O4"]
    [reason] = quarantine(ws)["reason"]
    assert reason.startswith("order_date '05/15/2024' can only be month first, but the column's other dates in "
                             "orders.csv are day first (2 values, e.g. '13/05/2024')")


def test_a_mapped_order_quarantines_dates_that_cannot_be_read_that_way(tmp_path):
    data = orders_folder(tmp_path, [("03/05/2024", "1"), ("05/13/2024", "1"), ("2024-05-16", "1")])
    report, ws = build(data, tmp_path, '[files."orders.csv".date_format]\norder_date = "DMY"\n')
    assert dates(ws) == {"O1": "2024-05-03", "O3": "2024-05-16"}
    assert quarantine(ws)["reason"].tolist() == [
        "order_date '05/13/2024' can only be month first, but the mapping file sets date_format = \"DMY\" for "
        "order_date"]


def test_an_optional_date_column_decides_too(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text("客户编号,姓名,生日\nC1,王芳,03/04/1990\nC2,李雷,25/12/1985\nC3,韩梅,\n",
                                        encoding="utf-8")
    report, ws = build(data, tmp_path)
    birthdays = ws.table("customers").set_index("customer_id")["birthday"]
    assert birthdays["C1"] == pd.Timestamp("1990-04-03") and birthdays["C2"] == pd.Timestamp("1985-12-25")
    assert decision(report, "birthday", "customers.csv", "customers")["decision"] == "DMY"


def test_the_summary_names_each_non_trivial_decision(tmp_path):
    data = orders_folder(tmp_path, [("5.3.2024", "€3,50")])
    report, _ = build(data, tmp_path)
    text = report.summary_text()
    assert "format: orders.csv order_date → DMY (from the values: dotted_dmy 1)" in text
    assert "format: orders.csv amount → decimal_comma (from the values: decimal_comma 1)" in text


# ---------------------------------------------------------------- the mapping options are validated
@pytest.mark.parametrize("text, match", [
    ('[date_format.orders]\norder_date = "DD/MM"\n', r"date_format\.orders: order_date = 'DD/MM' is not one of"),
    ('[decimal.orders]\namount = ";"\n', r"decimal\.orders: amount = ';' is not \",\" or \"\.\""),
    ('[decimal.orders]\norder_date = ","\n', r"decimal is for a number column; orders\.order_date is datetime"),
    ('[date_format.orders]\nprice = "DMY"\n', r"unknown column 'price' for table orders"),
    ('[files."orders.csv".date_format]\namount = "DMY"\n', r'files\."orders\.csv"\.date_format: date_format is for '
                                                           r"a date column; orders\.amount is float"),
])
def test_format_options_in_the_mapping_file_are_validated(tmp_path, text, match):
    data = orders_folder(tmp_path, [("2024-03-05", "1")])
    with pytest.raises(GuanxiError, match=match):
        build(data, tmp_path, text)


def test_excel_number_cells_are_exact_and_text_cells_decide_like_a_csv(tmp_path):
    """A number cell 1.234 is 1.234 (the workbook stores a number, not text); a text cell '3,50'
    among number cells with a decimal point contradicts them."""
    from openpyxl import Workbook
    data = tmp_path / "data"
    data.mkdir()
    wb = Workbook()
    for row in (["订单号", "客户编号", "下单时间", "金额"], ["O1", "C1", "2024-03-05", 1.234], ["O2", "C1", "2024-03-05", 25],
                ["O3", "C1", "2024-03-05", "3,50"], ["O4", "C1", "2024-03-05", 12.5]):
        wb.active.append(row)
    wb.save(data / "orders.xlsx")
    report, ws = build(data, tmp_path)
    assert amounts(ws) == {"O1": 1.234, "O2": 25.0, "O4": 12.5}
    assert quarantine(ws)["reason"].iloc[0].startswith("amount '3,50' has a decimal comma, but the column's other "
                                                       "values in orders.xlsx use a decimal point (2 values")
