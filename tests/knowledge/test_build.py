"""build_tables end to end: a small messy zh CRM folder (GBK, BOM, xlsx, semicolons), the count
invariant, quarantine files, determinism, and the real Online Retail and CDNOW files."""
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from knowledge.build import build_tables
from knowledge.errors import GuanxiError
from knowledge.schema import TABLES
from knowledge.workspace import Workspace

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/data")
ONLINE_RETAIL = SHARED / "online-retail-sample" / "online_retail_sample.csv"
CDNOW = SHARED / "cdnow" / "CDNOW_master.txt"

CUSTOMERS = """客户编号,姓名,性别,生日,手机号,邮箱,城市,省份,注册日期
C001,王芳,女,1990-05-01,+86 138-0000-0001,WF@X.CN,杭州市,浙江省,2023/1/5
C002, 李雷 ,男,1985年3月2日,13900000002,,北京市,北京,20230110
C003,王芳,F,1990-05-01,13800000001,,杭州,浙江省,2023-02-01
C004,,男,1990-01-01,13700000004,,,,2023-01-01
C005,韩梅,女,1890-01-01,13600000005,,,,2023-01-01
C006,赵六,M,,,zl@x.cn,上海,,2999-01-01
"""
PRODUCTS = """商品编号,商品名称,品类,价格
P01,绿茶,饮料,12.5
P02,乌龙茶, 饮料 ,¥20
P03,茶杯,Home Decor,35
P03,茶杯(重复),Home Decor,35
P04,茶壶,home decor,80
"""
ORDERS = [
    ["订单号", "客户编号", "下单时间", "商品编号", "数量", "单价", "实付金额"],
    ["O1", "C001", dt.datetime(2024, 3, 5, 10, 0), "P01", 2, 12.5, 25],
    ["O2", "C003", "2024/3/6", "P02", 1, 20, None],           # re-pointed to C001; amount derived
    ["O3", "C002", "2024年3月7日", "P03", None, 35, 35],      # quantity defaults to 1
    ["O3", "C002", "2024年3月7日", "P03", None, 35, 35],      # exact duplicate
    ["O4", "C009", "2024-03-08", "P09", 1, 5, 5],             # unknown customer and product: derived
    ["O5", None, "2024-03-08", "P01", 1, 12.5, 12.5],         # missing customer
    ["O6", "C002", "2023-13-45", "P01", 1, 12.5, 12.5],       # impossible date
    ["O7", "C002", "2024-03-09", "P01", -1, 12.5, -12.5],     # negative quantity
    ["O8", "C002", "2024-03-09", "P04", 1, 80, 5000],         # extreme amount: flagged, kept
]
FEEDBACK = """反馈编号;客户编号;反馈时间;类型;内容;状态;评分
F1;C003;2024-03-10 09:00;投诉;茶叶受潮了;已解决;2
F2;C002;2024-03-11;建议;希望有小包装;处理中;4星
F3;C001;2024-03-12;表扬;很好;closed;9
F1;C001;2024-03-13;咨询;重复编号;open;3
"""


def write_crm(folder: Path) -> Path:
    """The messy CRM folder: GBK customers, BOM products, an orders workbook, ';' feedback."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_bytes(CUSTOMERS.encode("gbk"))
    (folder / "products.csv").write_bytes(PRODUCTS.encode("utf-8-sig"))
    wb = Workbook()
    wb.active.title = "订单"
    for row in ORDERS:
        wb.active.append(row)
    wb.save(folder / "orders.xlsx")
    (folder / "feedback.csv").write_text(FEEDBACK, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def crm(tmp_path_factory):
    """The messy folder built once: (report, workspace)."""
    root = tmp_path_factory.mktemp("crm")
    ws = Workspace(root / "ws")
    report = build_tables(write_crm(root / "data"), ws)
    return report, ws


def test_a_build_reports_the_tables_stage_as_progress_events(tmp_path):
    events = []
    build_tables(write_crm(tmp_path / "data"), Workspace(tmp_path / "ws"), progress=events.append)
    assert {e.stage for e in events} == {"tables"}
    assert [(e.done, e.total) for e in events] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert all(e.message for e in events)


def test_counts_per_table(crm):
    report, _ = crm
    t = report.tables
    assert (t["customers"].rows_read, t["customers"].kept, t["customers"].quarantined,
            t["customers"].merged_duplicates, t["customers"].derived_from_orders, t["customers"].rows_written) \
        == (6, 2, 3, 1, 1, 3)
    assert (t["orders"].rows_read, t["orders"].kept, t["orders"].quarantined, t["orders"].dropped_duplicates) \
        == (9, 5, 3, 1)
    assert (t["products"].rows_read, t["products"].kept, t["products"].dropped_duplicates,
            t["products"].derived_from_orders) == (5, 4, 1, 1)
    assert (t["feedback"].rows_read, t["feedback"].kept, t["feedback"].quarantined,
            t["feedback"].dropped_duplicates) == (4, 2, 1, 1)


def test_count_invariant_holds_for_every_table(crm):
    report, _ = crm
    for name, t in report.tables.items():
        assert t.rows_read == t.kept + t.quarantined + t.merged_duplicates + t.dropped_duplicates, name
        assert t.rows_written == t.kept + t.derived_from_orders, name


def test_tables_have_schema_columns_and_dtypes(crm):
    _, ws = crm
    for name, table in TABLES.items():
        df = ws.table(name)
        assert list(df.columns) == table.column_names
        for c in table.columns:
            kind = str(df[c.name].dtype)
            expected = {"str": "str", "date": "datetime64[ns]", "datetime": "datetime64[ns]",
                        "int": "int64", "float": "float64"}[c.dtype]
            assert kind == expected, (name, c.name, kind)


def test_cleaned_values(crm):
    _, ws = crm
    customers = ws.table("customers").set_index("customer_id")
    assert list(customers.index) == ["C001", "C002", "C009"]
    assert customers.loc["C001", "phone"] == "13800000001" and customers.loc["C001", "email"] == "wf@x.cn"
    assert customers.loc["C002", "name"] == "李雷" and customers.loc["C002", "gender"] == "M"
    assert customers.loc["C002", "birthday"] == pd.Timestamp("1985-03-02")
    assert customers.loc["C009", "signup_date"] == pd.Timestamp("2024-03-08")  # derived: first order
    orders = ws.table("orders").set_index("order_id")
    assert orders.loc["O2", "customer_id"] == "C001" and orders.loc["O2", "amount"] == 20.0
    assert orders.loc["O3", "quantity"] == 1 and orders.loc["O1", "product_name"] == "绿茶"
    assert orders.loc["O1", "order_date"] == pd.Timestamp("2024-03-05 10:00")
    products = ws.table("products").set_index("product_id")
    assert products.loc["P02", "price"] == 20.0
    assert products.loc["P04", "category"] == "Home Decor" and products.loc["P02", "category"] == "饮料"
    assert products.loc["P09", "name"] == "P09" and products.loc["P09", "price"] == 5.0
    feedback = ws.table("feedback").set_index("feedback_id")
    assert feedback.loc["F1", "customer_id"] == "C001" and feedback.loc["F1", "kind"] == "complaint"
    assert feedback.loc["F2", "status"] == "open" and feedback.loc["F2", "rating"] == 4.0


def test_quarantine_files_keep_original_values_line_numbers_and_reasons(crm):
    _, ws = crm
    q = pd.read_csv(ws.quarantine_dir / "customers.csv", dtype=str, encoding="utf-8-sig")
    assert q[["customer_id", "source_file", "source_row"]].values.tolist() == [
        ["C004", "customers.csv", "5"], ["C005", "customers.csv", "6"], ["C006", "customers.csv", "7"]]
    age = pd.Timestamp.today().year - 1890
    assert q["reason"].tolist() == ["missing required field name", f"birthday 1890-01-01 gives age {age} (expected 0-120)",
                                    "signup_date 2999-01-01 is in the future"]
    o = pd.read_csv(ws.quarantine_dir / "orders.csv", dtype=str, encoding="utf-8-sig")
    assert o["order_date"].tolist()[1] == "2023-13-45"  # the original text, not a parsed value
    assert o["source_file"].unique().tolist() == ["orders.xlsx"] and o["source_row"].tolist() == ["7", "8", "9"]
    assert o["reason"].tolist() == ["missing required field customer_id", "order_date '2023-13-45' is not a date",
                                    "quantity -1 is negative (a return or cancellation)"]
    assert not (ws.quarantine_dir / "products.csv").exists()


def test_quality_report_on_disk(crm):
    report, ws = crm
    q = json.loads(ws.quality_report_path.read_text(encoding="utf-8"))
    assert q == json.loads(json.dumps(report.to_dict(), default=str))
    inputs = {i["file"]: i for i in q["inputs"]}
    assert inputs["customers.csv"]["encoding"] == "gb18030" and inputs["products.csv"]["encoding"] == "utf-8-sig"
    assert inputs["feedback.csv"]["delimiter"] == ";" and inputs["orders.xlsx"]["table"] == "orders"
    assert inputs["orders.xlsx"]["header_mapping"]["amount"] == "实付金额"
    fixes = q["tables"]["orders"]["fixes"]
    assert fixes["orders_repointed"] == 1 and fixes["amounts_derived"] == 1 and fixes["quantity_defaulted"] == 2
    assert q["tables"]["customers"]["fixes"]["phones_normalised"] == 1
    assert q["tables"]["customers"]["fixes"]["customers_derived_from_orders"] == 1
    assert q["tables"]["products"]["fixes"]["categories_unified"] == 1
    assert q["tables"]["feedback"]["fixes"]["feedback_repointed"] == 1
    assert q["tables"]["orders"]["flagged"] == {"amount_over_10x_median": 1}
    assert [r["order_id"] for r in q["flagged_rows"]["orders_amount_over_10x_median"]["rows"]] == ["O8"]
    assert q["tables"]["orders"]["quarantine_reasons"] == {"missing required field customer_id": 1,
                                                           "order_date is not a date": 1, "quantity is negative": 1}
    assert q["tables"]["customers"]["optional_missing"]["industry"] == 3


def test_summary_text_is_readable(crm):
    report, _ = crm
    text = report.summary_text()
    assert "customers.csv → customers" in text and "gb18030" in text
    assert "orders amount over 10x median" in text and "top quarantine reasons" in text


def test_rebuild_is_deterministic_and_removes_stale_quarantine(crm, tmp_path):
    _, ws1 = crm
    data = write_crm(tmp_path / "data")
    ws2 = Workspace(tmp_path / "ws")
    build_tables(data, ws2)
    for name in TABLES:
        pd.testing.assert_frame_equal(ws1.table(name), Workspace(ws2.root).table(name))
    # fix the inputs: the old quarantine files must go
    (data / "customers.csv").write_bytes(CUSTOMERS.encode("gbk").split(b"\n")[0] + b"\nC001,Ann,F,,,,,,\n")
    (data / "orders.xlsx").unlink()
    (data / "orders.csv").write_text("订单号,客户编号,下单时间,金额\nO1,C001,2024-01-01,5\n", encoding="utf-8")
    (data / "feedback.csv").unlink()
    report = build_tables(data, ws2)
    assert not (ws2.quarantine_dir / "customers.csv").exists() and not (ws2.quarantine_dir / "orders.csv").exists()
    assert report.tables["feedback"].rows_written == 0 and ws2.table_path("feedback").is_file()
    assert list(Workspace(ws2.root).table("feedback").columns) == TABLES["feedback"].column_names


def test_bad_input_writes_nothing(tmp_path):
    data = write_crm(tmp_path / "data")
    (data / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(GuanxiError, match=r"notes\.csv: no recognisable table"):
        build_tables(data, ws)
    assert not ws.root.exists()


def test_mapping_error_names_the_mapping_file_and_key(tmp_path):
    data = write_crm(tmp_path / "data")
    mapping = tmp_path / "map.toml"
    mapping.write_text('[columns.orders]\ntotal = "实付金额"\n', encoding="utf-8")
    with pytest.raises(GuanxiError, match=r"map\.toml: columns\.orders: unknown column 'total'"):
        build_tables(data, Workspace(tmp_path / "ws"), mapping=mapping)


# ---------------------------------------------------------------- real public data
def linked_folder(tmp_path: Path, source: Path) -> Path:
    """A data folder holding only a link to `source` (the shared file is never copied)."""
    assert source.is_file(), f"expected the shared dataset at {source}"
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / source.name).symlink_to(source)
    return folder


def test_online_retail_sample(tmp_path):
    ws = Workspace(tmp_path / "ws")
    report = build_tables(linked_folder(tmp_path, ONLINE_RETAIL), ws)
    o = report.tables["orders"]
    assert (o.rows_read, o.kept, o.quarantined, o.dropped_duplicates) == (20000, 14573, 5420, 7)
    assert o.quarantine_reasons == {"missing required field customer_id": 5078, "quantity is negative": 342}
    assert o.balanced()
    orders = ws.table("orders")
    assert not orders["order_id"].str.startswith("C").any()  # cancellations are quarantined
    assert orders["customer_id"].nunique() == 3017
    customers = ws.table("customers")
    assert report.tables["customers"].derived_from_orders == len(customers) == 3017
    assert customers.set_index("customer_id").loc["12621", "province"] == "Germany"  # from Country
    assert (customers["name"] == customers["customer_id"]).all()
    assert orders["amount"].round(2).equals((orders["quantity"] * orders["unit_price"]).round(2))
    assert len(ws.table("products")) == orders["product_id"].nunique()
    q = pd.read_csv(ws.quarantine_dir / "orders.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert (q.loc[q["customer_id"] == "NA", "reason"] == "missing required field customer_id").sum() == 5078


CDNOW_MAPPING = """
[files."CDNOW_master.txt"]
table = "orders"
sep = "whitespace"
encoding = "utf-8"
header = true
[files."CDNOW_master.txt".columns]
customer_id = "customer_id"
order_date = "date"
quantity = "number_of_cds"
amount = "dollar_value"
"""


def test_cdnow_master_with_a_mapping_file(tmp_path):
    mapping = tmp_path / "cdnow.toml"
    mapping.write_text(CDNOW_MAPPING, encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    report = build_tables(linked_folder(tmp_path, CDNOW), ws, mapping=mapping)
    o = report.tables["orders"]
    # 255 lines repeat an earlier line in every field, but CDNOW has no order ids: two identical purchases
    # on one day are not provably duplicates, so every line is kept and the published sums hold.
    assert (o.rows_read, o.kept, o.quarantined, o.dropped_duplicates) == (69659, 69659, 0, 0)
    orders = ws.table("orders")
    assert orders["quantity"].sum() == 167881
    assert round(orders["amount"].sum(), 2) == 2500315.63
    assert orders["customer_id"].nunique() == 23570 and len(ws.table("customers")) == 23570
    assert orders["order_date"].min() == pd.Timestamp("1997-01-01")
    assert orders["order_date"].max() == pd.Timestamp("1998-06-30")
    # same customer + day share the derived order id: distinct lines, one order
    assert orders.loc[orders["customer_id"] == "00002", "order_id"].tolist() == ["00002-19970112"] * 2
    assert ws.table("customers")["customer_id"].iloc[0] == "00001"  # zero padding kept
    assert report.inputs[0]["delimiter"] == "whitespace"


def test_a_quarantine_file_fixed_and_built_again_keeps_its_values(tmp_path):
    """A quarantine file has formula-like cells written with an apostrophe (knowledge.export); built again
    after the impossible birthday is fixed, the values are the customer's, without the apostrophe."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text("客户编号,姓名,性别,生日,手机号\nC001,=HYPERLINK(\"http://x\"),女,1890-01-01,"
                                        "+86 138-0000-0001\nC002,@王芳,女,,\n", encoding="utf-8")
    (data / "orders.csv").write_text("订单号,客户编号,下单时间,商品名称,数量,实付金额\nO1,C002,2024-03-05,-茶-,1,10\n", encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    build_tables(data, ws)
    q = pd.read_csv(ws.quarantine_dir / "customers.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert q["name"].tolist() == ["'=HYPERLINK(\"http://x\")"] and q["phone"].tolist() == ["'+86 138-0000-0001"]
    c = ws.table("customers").set_index("customer_id")
    assert c.loc["C002", "name"] == "@王芳"
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    q.drop(columns=[x for x in q.columns if x not in ("customer_id", "name", "gender", "phone")]) \
        .rename(columns={"customer_id": "客户编号", "name": "姓名", "gender": "性别", "phone": "手机号"}) \
        .assign(生日="1990-01-01").to_csv(fixed / "customers.csv", index=False)   # a person's own edit
    (fixed / "orders.csv").write_text((data / "orders.csv").read_text(encoding="utf-8").replace("C002", "C001"),
                                      encoding="utf-8")
    ws2 = Workspace(tmp_path / "ws2")
    build_tables(fixed, ws2)
    c2 = ws2.table("customers").set_index("customer_id")
    assert c2.loc["C001", "name"] == "=HYPERLINK(\"http://x\")" and c2.loc["C001", "phone"] == "13800000001"
    assert ws2.table("orders")["product_name"].tolist() == ["-茶-"]
