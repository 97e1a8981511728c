"""Masking of personal data and secrets before anything reaches a log or an error message.

Rules (DEVELOPERS guide, "Personal data"): national identity numbers (11 digits), e-mail
addresses, phone numbers and tokens never appear in full. Organisation numbers (9 digits) are
public register data and are kept.
"""

from __future__ import annotations

import re

_SSN = re.compile(r"(?<!\d)(\d{6})(\d{5})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PHONE = re.compile(r"(?<![\d-])(\+47\s?|0047\s?)?([49]\d)\d{6}(?![\d-])")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


def mask_ssn(value: str) -> str:
    """Return an 11-digit national identity number with its last five digits masked.

    `"01017012345"` → `"010170*****"`. Other strings are returned unchanged.
    """
    return _SSN.sub(lambda m: m.group(1) + "*****", value)


def redact(text: str) -> str:
    """Mask personal data and secrets in free text.

    Input: any string (a log line, an exception text, a URL). Output: the same text with
    national identity numbers (birth date kept), e-mail addresses (first letter and domain kept),
    Norwegian mobile numbers (first two digits kept), bearer tokens, JWTs and URL passwords
    replaced by `*`. Idempotent.
    """
    text = _URL_PASSWORD.sub(r"\1***@", text)
    text = _BEARER.sub(r"\1***", text)
    text = _JWT.sub("***jwt***", text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _SSN.sub(lambda m: m.group(1) + "*****", text)
    text = _PHONE.sub(lambda m: (m.group(1) or "") + m.group(2) + "******", text)
    return text
