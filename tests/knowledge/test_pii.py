from knowledge.pii import mask_email, mask_phone, mask_text


def test_phone_and_email_masks_keep_only_what_identifies_the_row():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_email("Jane.Doe@Example.com") == "J***@Example.com"
    assert mask_phone(None) is None


def test_free_text_is_masked_for_logs():
    text = "王伟 13812345678, mail wang.wei@example.com, 身份证 110101199003071234"
    out = mask_text(text, names=["王伟"])
    assert "13812345678" not in out and "138****5678" in out
    assert "wang.wei@example.com" not in out and "w***@example.com" in out
    assert "110101199003071234" not in out
    assert "王伟" not in out and "王*" in out


def test_ids_are_not_personal_data_but_card_numbers_are():
    assert mask_text("订单 O202609020033 已发货") == "订单 O202609020033 已发货"
    assert "6222021234567890123" not in mask_text("卡号 6222021234567890123")


def test_phones_with_dots_spaces_or_full_width_digits_are_masked():
    for text, shown in (("电话 139.1234.5678 谢谢", "139****5678"), ("电话 139 1234 5678", "139****5678"),
                        ("电话１３９１２３４５６７８，谢谢", "139****5678"), ("+86．139．1234．5678", "139****5678"),
                        ("手机：１３９－１２３４－５６７８", "139****5678"), ("call 139—1234—5678", "139****5678")):
        out = mask_text(text)
        assert shown in out and "1234" not in out and "１２３４" not in out, (text, out)
    assert mask_text("电话１３９１２３４５６７８，谢谢") == "电话139****5678，谢谢"   # the rest of the text unchanged


def test_full_width_and_spelled_out_e_mails_are_masked():
    for text in ("mail wang.wei＠example.com", "mail ｗａｎｇ．ｗｅｉ＠ｅｘａｍｐｌｅ．ｃｏｍ", "mail wang.wei @ example.com",
                 "mail wang.wei(at)example.com", "mail wang.wei [at] example.com"):
        out = mask_text(text)
        assert "wang.wei" not in out and "ｗａｎｇ" not in out and "w***@" in out, (text, out)


def test_a_card_number_in_groups_of_four_is_masked_but_dates_are_not():
    assert "0212" not in mask_text("卡号 6222 0212 3456 7890 123")
    assert mask_text("2025-10-03 到 2025-10-31 的订单 O202609020033") == "2025-10-03 到 2025-10-31 的订单 O202609020033"
