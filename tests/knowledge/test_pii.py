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
