"""RFC 7807 ProblemDetails as A3 Correspondence answers them (`a3-correspondence.md` §1.1, §1.8).

Domain errors carry the extensions `errorCode` and `traceId`; model-validation failures use the
`AltinnValidationProblemDetails` form (`validationErrors` plus the older `errors` dictionary);
unhandled exceptions give a generic 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"

ERRORS: dict[int, tuple[int, str]] = {
    1001: (404, "The requested correspondence was not found"),
    1019: (400, "The Content field must be provided for the correspondence"),
    1020: (400, "Message title cannot be empty"),
    1023: (400, "Invalid language chosen. Supported languages is nb, nn, en"),
    2002: (502, "Error occurred during upload"),
    2004: (400, "File must have content and has a max file size of 2GB"),
}
"""Error code → (HTTP status, message): the migration-relevant catalogue of §1.8."""


def _trace() -> str:
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"


class A3Error(Exception):
    """A domain error of the catalogue; the app turns it into ProblemDetails."""

    def __init__(self, code: int) -> None:
        super().__init__(ERRORS[code][1])
        self.code = code


def domain_problem(code: int, instance: str = "") -> JSONResponse:
    """ProblemDetails for catalogue error `code` (status and text from `ERRORS`)."""
    status, detail = ERRORS[code]
    body = {
        "type": f"urn:altinn:error:CORR-{code:05d}",
        "title": detail,
        "status": status,
        "detail": detail,
        "instance": instance,
        "errorCode": code,
        "traceId": _trace(),
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def validation_problem(errors: Sequence[tuple[str, str]]) -> JSONResponse:
    """400 `AltinnValidationProblemDetails` for (JSON path, message) pairs."""
    grouped: dict[str, list[str]] = {}
    for path, message in errors:
        grouped.setdefault(path, []).append(message)
    body: dict[str, Any] = {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errorCode": "STD-00000",
        "validationErrors": [
            {"code": "STD-00000", "title": "Invalid value", "detail": msgs[0], "paths": [path]}
            for path, msgs in grouped.items()
        ],
        "errors": grouped,
        "traceId": _trace(),
    }
    return JSONResponse(body, status_code=400, media_type=PROBLEM_JSON)


def server_error() -> JSONResponse:
    """The generic 500 ProblemDetails of an unhandled exception."""
    body = {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.6.1",
        "title": "An error occurred while processing your request.",
        "status": 500,
        "traceId": _trace(),
    }
    return JSONResponse(body, status_code=500, media_type=PROBLEM_JSON)
