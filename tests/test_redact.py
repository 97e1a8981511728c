from flytt.redact import mask_ssn, redact


def test_ssn_email_phone_token_are_masked() -> None:
    text = (
        "party 01017012345 mail ola.nordmann@example.no sms +4791234567 "
        "Authorization: Bearer abcdefghijklmnop url postgresql://u:pw@db/x org 974760673"
    )
    masked = redact(text)
    assert "01017012345" not in masked and "010170*****" in masked
    assert "ola.nordmann" not in masked and "o***@example.no" in masked
    assert "91234567" not in masked and "+4791******" in masked
    assert "abcdefghijklmnop" not in masked
    assert ":pw@" not in masked
    assert "974760673" in masked  # organisation numbers are public
    assert redact(masked) == masked


def test_mask_ssn() -> None:
    assert mask_ssn("01017012345") == "010170*****"
    assert mask_ssn("abc") == "abc"
