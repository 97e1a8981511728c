"""The official Dialogporten service-owner OpenAPI document, and request validation with it.

The document (`openapi.v1.serviceowner.verified.json`, see README.md here for its source)
declares no servers; a relative server `/` is added so that openapi-core matches any host.
Validation covers the path, the method, path/query/header parameters, the bearer security
scheme and the request body (JSON Schema of `CreateDialog`, `CreateDialogActivityRequest`,
...), with `additionalProperties: false` everywhere: an unknown field is rejected.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.contrib.starlette.requests import StarletteOpenAPIRequest
from openapi_core.templating.paths.exceptions import (
    OperationNotFound,
    PathNotFound,
    ServerNotFound,
)
from openapi_core.validation.request.exceptions import (
    ParameterValidationError,
    RequestBodyValidationError,
    SecurityValidationError,
)
from starlette.requests import Request

SPEC_PATH = Path(__file__).with_name("openapi.v1.serviceowner.verified.json")


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document as a dict (read as UTF-8 with BOM), with server `/` added."""
    document: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8-sig"))
    document["servers"] = [{"url": "/"}]
    return document


@lru_cache(maxsize=1)
def openapi() -> OpenAPI:
    """The openapi-core object for the document (built once per process, ~0.3 s)."""
    return OpenAPI.from_dict(openapi_document())


class SpecViolation(Exception):
    """A request the OpenAPI document rejects.

    `status`: 404 (unknown path), 405 (method), 401 (no bearer token), 400 (parameters or
    body); `errors`: property path → messages, as in Dialogporten's ValidationProblemDetails.
    """

    def __init__(self, status: int, title: str, errors: dict[str, list[str]]) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.errors = errors


def validate(request: Request, body: bytes | None) -> None:
    """Validate `request` (with its already read `body`) against the document.

    Raises:
        SpecViolation: the document rejects the request.
    """
    try:
        openapi().validate_request(StarletteOpenAPIRequest(request, body or None))
    except (PathNotFound, ServerNotFound):
        raise SpecViolation(404, "Resource not found.", {}) from None
    except OperationNotFound:
        raise SpecViolation(405, "Method not allowed.", {}) from None
    except SecurityValidationError:
        raise SpecViolation(401, "Unauthorized.", {}) from None
    except RequestBodyValidationError as exc:
        raise SpecViolation(
            400, "One or more validation errors occurred.", _schema_errors(exc)
        ) from None
    except ParameterValidationError as exc:
        name = getattr(exc, "name", "parameter")
        raise SpecViolation(
            400, "One or more validation errors occurred.", {name: [str(exc)[:200]]}
        ) from None


def _schema_errors(exc: RequestBodyValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    cause = exc.__cause__
    for error in getattr(cause, "schema_errors", None) or []:
        path = "$" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
        )
        # The validator's message may quote the rejected value; keep it short.
        errors.setdefault(path, []).append(str(error.message)[:200])
    if not errors:
        errors["body"] = [type(cause).__name__ if cause else "invalid request body"]
    return errors
