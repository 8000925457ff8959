from knowledge.schema import TABLES, normalise_header, schema_markdown


def test_every_table_has_the_documented_columns():
    assert set(TABLES) == {"customers", "products", "orders", "feedback"}
    assert TABLES["customers"].column_names[:10] == [
        "customer_id", "name", "gender", "birthday", "phone", "email", "city", "province", "channel",
        "signup_date"]
    assert {"order_id", "customer_id", "order_date", "product_id", "quantity", "amount", "channel"} <= set(
        TABLES["orders"].column_names)
    assert {"feedback_id", "customer_id", "created_at", "channel", "kind", "product_id", "category", "rating",
            "text", "status", "resolution", "resolved_at"} <= set(TABLES["feedback"].column_names)


def test_chinese_and_english_aliases_from_the_issue_are_accepted():
    orders = TABLES["orders"]
    assert {"客户编号", "客户ID"} <= set(TABLES["customers"].column("customer_id").aliases)
    assert {"下单时间", "订单日期"} <= set(orders.column("order_date").aliases)
    assert {"金额", "实付金额"} <= set(orders.column("amount").aliases)


def test_an_alias_is_unique_within_a_table():
    for table in TABLES.values():
        seen = {}
        for col in table.columns:
            for alias in col.all_names():
                key = normalise_header(alias)
                assert key not in seen or seen[key] == col.name, (table.name, alias, seen.get(key), col.name)
                seen[key] = col.name


def test_header_normalisation_ignores_case_spaces_and_bom():
    assert normalise_header("\ufeff Customer ID ") == "customer_id"
    assert normalise_header("Order-Date") == "order_date"


def test_schema_markdown_lists_every_column():
    md = schema_markdown()
    for table in TABLES.values():
        for col in table.columns:
            assert f"`{col.name}`" in md


def test_docs_schema_md_is_generated_from_the_schema():
    """docs/SCHEMA.md must be regenerated (`guanxi schema > docs/SCHEMA.md`) when aliases change."""
    from pathlib import Path
    doc = Path(__file__).resolve().parents[2] / "docs" / "SCHEMA.md"
    assert doc.read_text(encoding="utf-8").strip() == schema_markdown().strip()
