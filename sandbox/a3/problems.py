"""RFC 7807 ProblemDetails as A3 Correspondence answers them (`a3-correspondence.md` §1.1, §1.8).

Shapes from `src/Altinn.Correspondence.API/Helpers/ProblemDetailsHelper.cs` (Altinn/
altinn-correspondence, parent of 9f4c2ef8): `ToProblemResult` overwrites `type` and `title` with
the RFC 9110 entry of the status (`StatusCodeMappings`), puts the message in `detail` and adds
the extensions `errorCode` (integer) and `traceId`; `ToValidationProblemResult` builds an
`AltinnValidationProblemDetails` with one `validationErrors` entry per ModelState error (code of
domain `CORR`, path = the ModelState key with `.` replaced by `/`) plus the older `errors`
dictionary (key → messages), type/title of 400. Unhandled exceptions give ASP.NET's generic 500.
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
    1023: (
        400,
        "Invalid language chosen. Supported languages is Norsk bokmål (nb), Nynorsk (nn) and "
        "English (en)",
    ),
    2002: (502, "Error occurred during upload"),
    2004: (400, "File must have content and has a max file size of 2GB"),
    # the recipient endpoints (`recipient.py`)
    1014: (400, "Correspondence has already been purged"),
    1015: (400, "Could not retrieve highest status for correspondence"),
    1024: (400, "Correspondence must be fetched before it can be read"),
    1025: (400, "Correspondence must be fetched before it can be confirmed"),
    1026: (
        400,
        "Cannot archive or delete a correspondence which has not been confirmed when "
        "confirmation is required",
    ),
    1040: (400, "Correspondence is already marked as read"),
    1041: (400, "Correspondence has already been confirmed"),
    1043: (400, "Cannot purge correspondence linked to a Dialogporten Transmission"),
    4001: (
        401,
        "You must use an Altinn token, DialogToken or log in to IDPorten as someone with access "
        "to the resource and organization in Altinn Authorization",
    ),
    4002: (400, "Could not retrieve party uuid from lookup in Altinn Register"),
    4006: (401, "Could not determine caller"),
}
"""Error code → (HTTP status, message): the migration-relevant catalogue of §1.8 and the
recipient endpoints' codes, texts from `src/Altinn.Correspondence.Application/Errors.cs`
(2004 with `InvalidFileSize("2GB")`)."""


def _trace() -> str:
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"


class A3Error(Exception):
    """A domain error of the catalogue; the app turns it into ProblemDetails."""

    def __init__(self, code: int) -> None:
        super().__init__(ERRORS[code][1])
        self.code = code


STATUS_TYPES: dict[int, tuple[str, str]] = {
    400: ("https://tools.ietf.org/html/rfc9110#section-15.5.1", "Bad Request"),
    401: ("https://tools.ietf.org/html/rfc9110#section-15.5.2", "Unauthorized"),
    404: ("https://tools.ietf.org/html/rfc9110#section-15.5.5", "Not Found"),
    502: ("https://tools.ietf.org/html/rfc9110#section-15.6.3", "Bad Gateway"),
}
"""`ProblemDetailsHelper.StatusCodeMappings` for the statuses the replica's errors have."""


def domain_problem(code: int, instance: str = "") -> JSONResponse:
    """ProblemDetails for catalogue error `code` (status and text from `ERRORS`).

    `instance` is accepted for the callers' convenience and not sent (the real helper sets none).
    """
    status, detail = ERRORS[code]
    type_, title = STATUS_TYPES[status]
    body = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail,
        "errorCode": code,
        "traceId": _trace(),
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def validation_problem(errors: Sequence[tuple[str, str]]) -> JSONResponse:
    """400 `AltinnValidationProblemDetails` for (ModelState key, message) pairs.

    Keys are what ASP.NET puts in ModelState: a JSON path (`$.eventHistory[0].status`) for a
    deserialization error, a C# property path (`CorrespondenceData.Correspondence.Content.
    MessageTitle`) for a DataAnnotation, a parameter name for a query binding error.
    """
    grouped: dict[str, list[str]] = {}
    for key, message in errors:
        grouped.setdefault(key, []).append(message)
    type_, title = STATUS_TYPES[400]
    body: dict[str, Any] = {
        "type": type_,
        "title": title,
        "status": 400,
        "errorCode": "STD-00000",
        "validationErrors": [
            {"code": "CORR-00000", "detail": message, "paths": [key.replace(".", "/")]}
            for key, message in errors
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
