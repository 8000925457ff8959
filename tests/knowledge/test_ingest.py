"""Reading files: encodings, delimiters, header mapping (zh/en), table assignment, mapping files,
and one clear GuanxiError for each kind of bad input."""
from pathlib import Path

import pandas as pd
import pytest

from knowledge.errors import GuanxiError
from knowledge.headers import assign_table, filename_hint, match_headers
from knowledge.ingest import detect_encoding, read_folder, sniff_delimiter
from knowledge.mapping import Mapping, load_mapping

ORDERS_ZH = "订单号,客户编号,下单时间,商品名称,数量,金额\nA001,00012,2024/3/5,绿茶,2,12.50\nA002,00013,2024年3月6日,乌龙茶,1,8\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# ---------------------------------------------------------------- header mapping
def test_header_mapping_zh():
    m = match_headers(["订单号", "客户编号", "下单时间", "商品名称", "数量", "实付金额", "备注"], "orders")
    assert m == {"order_id": "订单号", "customer_id": "客户编号", "order_date": "下单时间",
                 "product_name": "商品名称", "quantity": "数量", "amount": "实付金额"}


def test_header_mapping_zh_erp_style_codes():
    m = match_headers(["订单编码", "客户编码", "交易时间", "产品编码", "成交金额"], "orders")
    assert m == {"order_id": "订单编码", "customer_id": "客户编码", "order_date": "交易时间",
                 "product_id": "产品编码", "amount": "成交金额"}


def test_header_mapping_en_ignores_case_spaces_dashes_underscores_and_units():
    m = match_headers(["InvoiceNo", "Customer ID", "Invoice-Date", "UnitPrice", "Qty", "Amount (USD)"], "orders")
    assert m == {"order_id": "InvoiceNo", "customer_id": "Customer ID", "order_date": "Invoice-Date",
                 "quantity": "Qty", "unit_price": "UnitPrice", "amount": "Amount (USD)"}


def test_exact_column_name_wins_over_an_alias():
    assert match_headers(["日期", "order_date"], "orders")["order_date"] == "order_date"


@pytest.mark.parametrize("headers, name, table", [
    (["商品编号", "商品名称", "品类", "价格"], "data.csv", "products"),  # ties with orders on count; signature decides
    (["客户编号", "姓名", "性别", "手机号", "注册日期"], "x.csv", "customers"),
    (["工单号", "客户编号", "反馈时间", "类型", "内容", "状态"], "x.csv", "feedback"),
    (["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"],
     "online_retail.csv", "orders"),
    (["客户编号", "日期", "内容"], "客户投诉.csv", "feedback"),  # the file name helps
])
def test_table_assignment_by_headers_and_file_name(headers, name, table):
    assert assign_table(headers, name, name, Mapping()) == table


def test_filename_hint_last_keyword_wins():
    assert filename_hint("客户投诉.csv") == "feedback"
    assert filename_hint("customer_orders.csv") == "orders"
    assert filename_hint("CDNOW_master.txt") is None


# ---------------------------------------------------------------- encodings and delimiters
def test_gbk_file_with_chinese_headers(tmp_path):
    path = write(tmp_path / "订单.csv", ORDERS_ZH, "gbk")
    assert detect_encoding(path) == "gb18030"
    [src] = read_folder(tmp_path)
    assert src.table == "orders" and src.encoding == "gb18030"
    assert src.frame["product_name"].tolist() == ["绿茶", "乌龙茶"]
    assert src.frame["customer_id"].tolist() == ["00012", "00013"]  # leading zeros kept


def test_utf8_bom_file(tmp_path):
    path = write(tmp_path / "orders.csv", ORDERS_ZH, "utf-8-sig")
    assert detect_encoding(path) == "utf-8-sig"
    [src] = read_folder(tmp_path)
    assert src.header_map["order_id"] == "订单号"  # the BOM is not glued to the first header


def test_utf16_tab_text_as_excel_unicode_text_export(tmp_path):
    write(tmp_path / "orders.txt", ORDERS_ZH.replace(",", "\t").replace("\n", "\r\n"), "utf-16")
    [src] = read_folder(tmp_path)
    assert (src.encoding, src.delimiter) == ("utf-16", "\t")
    assert src.frame["product_name"].tolist() == ["绿茶", "乌龙茶"] and src.frame["source_row"].tolist() == [2, 3]


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, sep):
    write(tmp_path / "orders.csv", ORDERS_ZH.replace(",", sep))
    [src] = read_folder(tmp_path)
    assert src.delimiter == sep and src.frame["amount"].tolist() == ["12.50", "8"]


def test_whitespace_delimited_like_cdnow():
    lines = [" customer_id  date number_of_cds  dollar_value", " 00001 19970101  1   11.77", " 00002 19970112  1   12.00"]
    assert sniff_delimiter(lines) == "whitespace"


def test_quoted_commas_do_not_confuse_the_sniffer():
    lines = ['"id","name","price"', '"1","Tea, green",2.5', '"2","Mug",3']
    assert sniff_delimiter(lines) == ","


def test_source_row_is_the_line_number_with_blank_lines_skipped(tmp_path):
    write(tmp_path / "orders.csv", "订单号,客户编号,下单时间,金额\nA1,C1,2024-01-01,5\n\nA2,C2,2024-01-02,6\n\n")
    [src] = read_folder(tmp_path)
    assert src.frame["source_row"].tolist() == [2, 4]


def test_xlsx_every_sheet_is_a_table(tmp_path):
    import datetime as dt
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = "订单"
    ws.append(["订单号", "客户编号", "下单时间", "金额"])
    ws.append(["A1", "00012", dt.datetime(2024, 3, 5, 14, 30), 12.5])
    ws = wb.create_sheet("客户")
    ws.append(["客户编号", "姓名", "手机号"])
    ws.append(["00012", "王芳", 13800000000])
    wb.create_sheet("空白")
    wb.save(tmp_path / "crm.xlsx")
    srcs = {s.table: s for s in read_folder(tmp_path)}
    assert set(srcs) == {"orders", "customers"}
    assert srcs["orders"].label == "crm.xlsx#订单"
    assert srcs["orders"].frame["order_date"].tolist() == ["2024-03-05 14:30:00"]
    assert srcs["customers"].frame["phone"].tolist() == ["13800000000"]


# ---------------------------------------------------------------- mapping file
CDNOW_MAPPING = """
[files."cd.txt"]
table = "orders"
sep = "whitespace"
header = false
names = ["cid", "day", "n", "usd"]
[files."cd.txt".columns]
customer_id = "cid"
order_date = "day"
quantity = "n"
amount = "usd"
"""


def test_mapping_file_names_columns_of_a_headerless_whitespace_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write(data / "cd.txt", " 00001 19970101  1   11.77\n 00002 19970112  5   77.00\n")
    mapping = load_mapping(write(tmp_path / "map.toml", CDNOW_MAPPING))
    [src] = read_folder(data, mapping)
    assert src.table == "orders" and src.delimiter == "whitespace"
    assert src.frame["customer_id"].tolist() == ["00001", "00002"]
    assert src.frame["source_row"].tolist() == [1, 2]


def test_global_columns_section_maps_any_orders_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write(data / "orders.csv", "单据,客户编号,下单时间,成交价\nA1,C1,2024-01-01,5\n")
    mapping = load_mapping(write(tmp_path / "map.toml", '[columns.orders]\norder_id = "单据"\namount = "成交价"\n'))
    [src] = read_folder(data, mapping)
    assert src.header_map["order_id"] == "单据" and src.header_map["amount"] == "成交价"


@pytest.mark.parametrize("text, match", [
    ('[files."a.csv"]\ntable = "ordres"\n', r'map\.toml: files\."a\.csv": unknown table \'ordres\''),
    ('[files."a.csv"]\ntable = "orders"\n[files."a.csv".columns]\norder_no = "x"\n',
     r"files\.\"a\.csv\"\.columns: unknown column 'order_no' for table orders"),
    ('[files."a.csv"]\ntabel = "orders"\n', r"unknown key 'tabel'"),
    ('[files."a.csv"]\nsep = "#"\n', r"sep '#' is not one of"),
    ('[columns.clients]\nname = "x"\n', r"columns: unknown table 'clients'"),
    ('[files."a.csv"]\nheader = false\n', r"header = false needs names"),
    ("this is = = not toml", r"not a valid TOML file"),
])
def test_mapping_file_is_validated(tmp_path, text, match):
    with pytest.raises(GuanxiError, match=match):
        load_mapping(write(tmp_path / "map.toml", text))


def test_mapping_naming_an_absent_file_or_header_is_an_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write(data / "orders.csv", ORDERS_ZH)
    with pytest.raises(GuanxiError, match=r'files\."order.csv" names a file that is not in'):
        read_folder(data, load_mapping(write(tmp_path / "m1.toml", '[files."order.csv"]\ntable = "orders"\n')))
    bad = '[files."orders.csv"]\ntable = "orders"\n[files."orders.csv".columns]\namount = "总额"\n'
    with pytest.raises(GuanxiError, match=r"orders\.csv: the mapping file maps orders\.amount to header '总额'"):
        read_folder(data, load_mapping(write(tmp_path / "m2.toml", bad)))


# ---------------------------------------------------------------- bad input: one clear message each
def test_missing_folder(tmp_path):
    with pytest.raises(GuanxiError, match=r"data folder .*nope does not exist"):
        read_folder(tmp_path / "nope")


def test_folder_without_tables(tmp_path):
    write(tmp_path / "README.md", "hello")
    with pytest.raises(GuanxiError, match=r"holds no \.csv, \.txt, \.tsv or \.xlsx files"):
        read_folder(tmp_path)


def test_unrecognisable_file_next_to_good_ones_lists_its_headers_and_what_tables_need(tmp_path):
    write(tmp_path / "orders.csv", ORDERS_ZH)
    write(tmp_path / "weather.csv", "city,temp,wind\nHangzhou,21,3\n")
    with pytest.raises(GuanxiError, match=r"weather\.csv: no recognisable table; headers found: city, temp, wind\. "
                                          r"Expected .*customers: 2\+ of customer_id"):
        read_folder(tmp_path)


def test_required_column_missing_names_table_column_and_aliases(tmp_path):
    write(tmp_path / "customers.csv", "客户编号,性别,手机号\nC1,男,13800000000\n")
    with pytest.raises(GuanxiError, match=r"customers\.csv: table customers needs column 'name' .*"
                                          r"accepted headers: name, 姓名, 客户姓名"):
        read_folder(tmp_path)


def test_orders_without_amount_or_unit_price(tmp_path):
    write(tmp_path / "orders.csv", "订单号,客户编号,下单时间,数量\nA1,C1,2024-01-01,2\n")
    with pytest.raises(GuanxiError, match=r"needs column 'amount' \(or a unit_price column to compute it\)"):
        read_folder(tmp_path)


def test_xlsx_that_is_really_text(tmp_path):
    write(tmp_path / "orders.xlsx", ORDERS_ZH)
    with pytest.raises(GuanxiError, match=r"orders\.xlsx: not a valid \.xlsx workbook"):
        read_folder(tmp_path)


def test_corrupt_xlsx_zip(tmp_path):
    import zipfile
    with zipfile.ZipFile(tmp_path / "orders.xlsx", "w") as z:
        z.writestr("hello.txt", "not a workbook")
    with pytest.raises(GuanxiError, match=r"orders\.xlsx: cannot read it as an Excel \.xlsx workbook"):
        read_folder(tmp_path)


def test_binary_garbage(tmp_path):
    (tmp_path / "orders.csv").write_bytes(bytes(range(256)) * 20)
    with pytest.raises(GuanxiError, match=r"orders\.csv: looks like a binary file"):
        read_folder(tmp_path)


def test_empty_file_and_header_only_file(tmp_path):
    (tmp_path / "orders.csv").write_bytes(b"")
    with pytest.raises(GuanxiError, match=r"orders\.csv: empty file \(0 bytes\)"):
        read_folder(tmp_path)
    for text in ("订单号,客户编号,下单时间,金额\n", "订单号,客户编号,下单时间,金额\n\n", "订单号,客户编号,下单时间,金额"):
        write(tmp_path / "orders.csv", text)
        with pytest.raises(GuanxiError, match=r"orders\.csv: empty file \(a header but no data rows\)"):
            read_folder(tmp_path)


def test_wrong_delimiter_reads_as_one_column(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write(data / "orders.csv", ORDERS_ZH.replace(",", ";"))
    mapping = load_mapping(write(tmp_path / "m.toml", '[files."orders.csv"]\nsep = ","\n'))
    with pytest.raises(GuanxiError, match=r"orders\.csv: looks like one column .*expected "
                                          r"comma/semicolon/tab-separated"):
        read_folder(data, mapping)


def test_ragged_csv_names_the_file(tmp_path):
    write(tmp_path / "orders.csv", "订单号,客户编号,下单时间,金额\nA1,C1,2024-01-01,5\n" * 30 + "A2,C2,2024-01-01,5,x,y,z\n")
    with pytest.raises(GuanxiError, match=r"orders\.csv: cannot read it as comma-separated text"):
        read_folder(tmp_path)
