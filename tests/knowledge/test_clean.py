"""Each cleaning rule on a tiny DataFrame: what is kept, what is quarantined and why, what is counted."""
import numpy as np
import pandas as pd
import pytest

from knowledge import clean, formats

TODAY = pd.Timestamp("2025-06-15")


def frame(**cols) -> pd.DataFrame:
    """A raw-looking frame: every value a string (None = missing)."""
    return pd.DataFrame({k: pd.Series(v, dtype="str") for k, v in cols.items()})


# ---------------------------------------------------------------- prepare
def test_prepare_trims_unifies_missing_tokens_and_half_widths_ids():
    raw = frame(customer_id=["  C001 ", "Ｃ００２", "12345.0", "C004"],
                name=[" 张  三 ", "Li\tSi", "NA", "无"], city=["杭州市", "-", "null", " 上海 "])
    out = clean.prepare(raw, "customers")
    df = out.kept
    assert df["customer_id"].tolist() == ["C001", "C002", "12345", "C004"]
    assert df["name"].tolist()[:2] == ["张 三", "Li Si"]
    assert df["name"].isna().tolist() == [False, False, True, True]
    assert df["city"].isna().tolist() == [False, True, True, False]
    assert out.counts["ids_normalised"] == 3
    assert out.counts["names_trimmed"] == 2
    # absent schema columns are added, all missing
    assert "email" in df and df["email"].isna().all()


# ---------------------------------------------------------------- dates
@pytest.mark.parametrize("text, expected, order", [
    ("2024-03-05", "2024-03-05 00:00:00", None),
    ("2024-03-05 14:30:00", "2024-03-05 14:30:00", None),
    ("2024/3/5", "2024-03-05 00:00:00", None),
    ("20240305", "2024-03-05 00:00:00", None),
    ("2024年3月5日", "2024-03-05 00:00:00", None),
    ("2024年3月5日 8时26分", "2024-03-05 08:26:00", None),
    ("3/5/2024 8:26", "2024-03-05 08:26:00", "MDY"),   # alone, 3/5 is ambiguous: the order is given
    ("3/5/2024 8:26 PM", "2024-03-05 20:26:00", "MDY"),
    ("3/15/2024 8:26 PM", "2024-03-15 20:26:00", None),
    ("5.3.2024", "2024-03-05 00:00:00", None),          # dotted: day first
    ("2024-03-05T14:30:00Z", "2024-03-05 14:30:00", None),
    ("45356", "2024-03-05 00:00:00", None),  # Excel serial day
    ("March 5, 2024", "2024-03-05 00:00:00", None),
])
def test_parse_dates_formats(text, expected, order):
    parsed, _ = formats.parse_dates(pd.Series([text], dtype="str"), order=order)
    assert parsed.iloc[0] == pd.Timestamp(expected)


def test_parse_dates_day_first_when_a_first_part_exceeds_12_and_impossible_dates_are_nat():
    parsed, reformatted = formats.parse_dates(pd.Series(["13/5/2024", "3/5/2024", "2023-13-45", None, "2024-01-02"],
                                                        dtype="str"), "date")
    assert parsed.iloc[0] == pd.Timestamp("2024-05-13")
    assert parsed.iloc[1] == pd.Timestamp("2024-05-03")
    assert pd.isna(parsed.iloc[2]) and pd.isna(parsed.iloc[3])
    assert reformatted.tolist() == [True, True, False, False, False]


def test_required_unparseable_date_is_quarantined_with_the_value_in_the_reason():
    df = frame(order_date=["2024-01-05", "2023-13-45"])
    out = clean.parse_date_column(df, "order_date", "datetime", required=True)
    assert len(out.kept) == 1
    assert out.quarantined["reason"].tolist() == ["order_date '2023-13-45' is not a date"]
    assert out.quarantined["rule"].tolist() == ["order_date is not a date"]


def test_optional_unparseable_date_is_cleared_and_counted():
    df = frame(birthday=["1990-02-03", "someday"])
    out = clean.parse_date_column(df, "birthday", "date", required=False)
    assert len(out.kept) == 2 and out.quarantined.empty
    assert out.kept["birthday"].isna().tolist() == [False, True]
    assert out.counts["invalid_birthday_cleared"] == 1


def test_future_and_pre_1990_dates_are_quarantined():
    df = pd.DataFrame({"order_date": pd.to_datetime(["2024-01-01 00:00", "2025-06-16 00:00", "1989-12-31 00:00", "2025-06-15 23:00"])})
    out = clean.check_date_range(df, "order_date", TODAY)
    assert out.kept.index.tolist() == [0, 3]
    assert sorted(out.quarantined["reason"]) == ["order_date 1989-12-31 is before 1990-01-01",
                                                 "order_date 2025-06-16 is in the future"]


def test_age_outside_0_to_120_is_quarantined():
    df = pd.DataFrame({"birthday": pd.to_datetime(["1990-01-01", "1900-01-01", "2026-01-01", None])})
    out = clean.check_age(df, TODAY)
    assert out.kept.index.tolist() == [0, 3]
    assert "gives age 125 (expected 0-120)" in out.quarantined["reason"].iloc[0]


# ---------------------------------------------------------------- numbers
def test_parse_numbers_handles_currency_thousands_and_decimal_comma():
    values, fixed = formats.parse_numbers(pd.Series(["12.5", "¥1,234.50", "1,234", "12元", "abc", None, "inf"],
                                                    dtype="str"))
    assert values.iloc[:4].tolist() == [12.5, 1234.5, 1234.0, 12.0]
    assert values.iloc[4:].isna().all()
    assert fixed.sum() == 3
    values, _ = formats.parse_numbers(pd.Series(["€3,50", "1.234,56", "1.234", "7"], dtype="str"))
    assert values.tolist() == [3.5, 1234.56, 1234.0, 7.0]


def test_quantity_defaults_to_1_and_must_be_a_positive_whole_number():
    df = frame(quantity=[None, "2", "2.5", "x", "-3", "0"])
    led = clean.Ledger("orders", df)
    led.run(clean.default_quantity).run(clean.parse_number_column, "quantity", required=True, integer=True)
    led.run(clean.check_not_negative, "quantity").run(clean.check_positive, "quantity")
    assert led.df["quantity"].tolist() == [1.0, 2.0]
    assert led.fixes["quantity_defaulted"] == 1
    assert sorted(led.quarantine["reason"]) == ["quantity '2.5' is not a whole number", "quantity 'x' is not a number",
                                                "quantity -3 is negative", "quantity is 0"]
    assert led.balanced()


def test_amount_derived_from_quantity_times_unit_price_and_order_id_from_customer_and_date():
    df = pd.DataFrame({"order_id": pd.Series([None, "A9"], dtype="str"), "customer_id": ["C1", "C2"],
                       "order_date": pd.to_datetime(["2024-03-05 10:00", "2024-03-06 00:00"]),
                       "quantity": [3.0, 1.0], "unit_price": [2.5, np.nan], "amount": [np.nan, 9.0]})
    df = clean.derive_amount(df).kept
    assert df["amount"].tolist() == [7.5, 9.0]
    out = clean.derive_order_ids(df)
    assert out.kept["order_id"].tolist() == ["C1-20240305", "A9"]
    assert out.counts["order_ids_derived"] == 1


def test_rating_outside_1_to_5_is_quarantined():
    df = frame(rating=["4星", "5", "7", None])
    led = clean.Ledger("feedback", df).run(clean.strip_rating_units)
    led.run(clean.parse_number_column, "rating", required=False).run(clean.check_rating)
    assert led.df["rating"].tolist()[:2] == [4.0, 5.0]
    assert led.quarantine["reason"].tolist() == ["rating 7 is outside 1-5"]


# ---------------------------------------------------------------- contacts and vocabularies
def test_phones_are_normalised_and_cn_prefix_removed():
    df = frame(phone=["+86 138-1234-5678", "0086 13812345679", "(021) 5555-1234", "１３８１２３４５６７０", "call me"])
    out = clean.normalise_phones(df)
    assert out.kept["phone"].tolist()[:4] == ["13812345678", "13812345679", "02155551234", "13812345670"]
    assert pd.isna(out.kept["phone"].iloc[4])
    assert out.counts["phones_normalised"] == 4 and out.counts["invalid_phone_cleared"] == 1


def test_emails_lower_cased():
    out = clean.normalise_emails(frame(email=["Wang.Li@Example.COM", "not-an-email"]))
    assert out.kept["email"].iloc[0] == "wang.li@example.com" and pd.isna(out.kept["email"].iloc[1])


@pytest.mark.parametrize("rule, col, raw, expected", [
    (clean.unify_gender, "gender", ["男", "Male", "f", "女", "M", "?"], ["M", "M", "F", "F", "M", None]),
    (clean.unify_kind, "kind", ["投诉", "Complaint", "建议", "好评", "咨询", "物流"],
     ["complaint", "complaint", "suggestion", "praise", "inquiry", None]),
    (clean.unify_status, "status", ["已解决", "CLOSED", "处理中", "待处理", "Open", "x"],
     ["resolved", "resolved", "open", "open", "open", None]),
])
def test_vocabularies_are_unified_and_unknown_values_cleared(rule, col, raw, expected):
    out = rule(frame(**{col: raw}))
    got = [None if pd.isna(v) else v for v in out.kept[col]]
    assert got == expected
    assert out.counts[f"unrecognised_{col}_cleared"] == 1


def test_category_spellings_pick_the_most_frequent_spelling():
    spell = clean.category_spellings([pd.Series(["Home Decor", "home decor", "Home Decor", "HOME  DECOR", "Toys"],
                                                dtype="str"),
                                      pd.Series(["ｔｏｙｓ"], dtype="str")])
    assert spell == {"home decor": "Home Decor", "HOME  DECOR": "Home Decor", "ｔｏｙｓ": "Toys"}
    out = clean.unify_categories(frame(category=["home decor", "Toys", None]), spell)
    assert out.kept["category"].tolist()[:2] == ["Home Decor", "Toys"] and out.counts["categories_unified"] == 1


# ---------------------------------------------------------------- duplicates
def customers_frame(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "name", "phone", "email", "birthday", "city"]).astype("str")
    return df.assign(birthday=pd.to_datetime(df["birthday"]))


def test_duplicate_customers_merge_through_chains_to_the_lowest_id():
    df = customers_frame([
        ["C10", "王芳", "13800000001", None, None, None],
        ["C9", "王芳", "13800000001", "wf@x.cn", None, "杭州"],  # same phone as C10
        ["C11", "Fang", None, "wf@x.cn", None, None],           # same e-mail as C9: a chain
        ["C20", "李雷", None, None, "1990-01-02", None],
        ["C21", "李雷", None, None, "1990-01-02", "北京"],       # same name + birthday
        ["C30", "韩梅", "13900000000", None, None, None],
    ])
    out, id_map = clean.merge_duplicate_customers(df)
    assert out.merged == 3
    assert sorted(out.kept["customer_id"]) == ["C20", "C30", "C9"]
    c9 = out.kept.set_index("customer_id").loc["C9"]
    assert (c9["name"], c9["email"], c9["city"]) == ("王芳", "wf@x.cn", "杭州")
    assert out.kept.set_index("customer_id").loc["C20", "city"] == "北京"  # gap filled from the duplicate
    assert id_map == {"C10": "C9", "C11": "C9", "C21": "C20"}


def test_orders_are_repointed_to_the_surviving_customer():
    out = clean.repoint_customers(frame(customer_id=["C10", "C5", "C11"]), {"C10": "C9", "C11": "C9"},
                                  "orders_repointed")
    assert out.kept["customer_id"].tolist() == ["C9", "C5", "C9"] and out.counts["orders_repointed"] == 2


def test_exact_duplicate_lines_and_duplicate_ids_are_dropped_and_counted():
    df = frame(order_id=["1", "1", "1"], amount=["5", "5", "6"])
    out = clean.drop_exact_duplicates(df, ["order_id", "amount"])
    assert out.dropped == 1 and len(out.kept) == 2
    out = clean.drop_duplicate_ids(frame(product_id=["P1", "P2", "P1"], name=["a", "b", "c"]), "product_id")
    assert out.dropped == 1 and out.kept["name"].tolist() == ["a", "b"]


def test_ledger_keeps_the_count_invariant():
    led = clean.Ledger("orders", frame(customer_id=["C1", None, "C1"], order_date=["2024-01-01", "2024-01-02", None]))
    led.run(clean.require, "customer_id").run(clean.require, "order_date")
    assert led.rows_read == 3 and len(led.df) == 1 and led.n_quarantined == 2 and led.balanced()
    assert led.quarantine["reason"].tolist() == ["missing required field customer_id",
                                                 "missing required field order_date"]


# ---------------------------------------------------------------- linking tables
def test_link_products_by_name_and_fill_names_from_products():
    products = frame(product_id=["P1"], name=["Green Tea"], category=["饮料"])
    orders = frame(product_id=[None, None, "P1"], product_name=["green  tea", "Oolong", None], category=[None] * 3)
    out = clean.link_products(orders, products)
    ids = out.kept["product_id"].tolist()
    assert ids[0] == "P1" and ids[1] == clean.product_id_for_name("oolong") and ids[1].startswith("P-")
    assert out.kept["product_name"].iloc[2] == "Green Tea" and out.kept["category"].iloc[2] == "饮料"
    assert out.counts["product_ids_derived"] == 1 and out.counts["product_ids_matched_by_name"] == 1


def test_products_and_customers_derived_from_orders():
    orders = pd.DataFrame({
        "customer_id": ["C2", "C2", "C1"], "order_date": pd.to_datetime(["2024-02-01 09:00", "2024-01-05 00:00", "2024-03-01 00:00"]),
        "product_id": ["A", "A", "B"], "product_name": ["Mug", "Mug", None], "category": [None, None, None],
        "quantity": [1, 2, 1], "unit_price": [2.0, 4.0, np.nan], "amount": [2.0, 8.0, 5.0],
        "customer:province": [None, "United Kingdom", "France"]}).astype({"customer_id": "str", "product_id": "str"})
    products = clean.products_from_orders(orders, set())
    assert products["product_id"].tolist() == ["A", "B"]
    assert products["name"].tolist() == ["Mug", "B"] and products["price"].tolist() == [3.0, 5.0]
    customers = clean.customers_from_orders(orders, {"C1"})
    assert customers["customer_id"].tolist() == ["C2"]
    row = customers.iloc[0]
    assert (row["name"], row["signup_date"], row["province"]) == ("C2", pd.Timestamp("2024-01-05"), "United Kingdom")


def test_extreme_amounts_are_flagged_not_dropped():
    orders = pd.DataFrame({"amount": [10.0, 12.0, 11.0, 500.0, 9.0]})
    flagged, median = clean.extreme_amounts(orders)
    assert median == 11.0 and flagged["amount"].tolist() == [500.0]


def test_to_schema_gives_schema_columns_and_dtypes():
    df = clean.to_schema(pd.DataFrame({"customer_id": ["1"], "birthday": pd.to_datetime(["1990-01-02 13:00"]),
                                       "extra": [1]}), "customers")
    assert list(df.columns)[:4] == ["customer_id", "name", "gender", "birthday"] and "extra" not in df
    assert df["birthday"].iloc[0] == pd.Timestamp("1990-01-02") and str(df["birthday"].dtype) == "datetime64[ns]"
    assert df["name"].isna().all() and df["name"].dtype == "str"
