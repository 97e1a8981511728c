"""The official Dialogporten service-owner OpenAPI document, and request validation with it.

The document (`openapi.v1.serviceowner.verified.json`, see README.md here for its source)
declares no servers; a relative server `/` is added so that openapi-core matches any host.
Validation covers the path, the method, path/query/header parameters, the bearer security
scheme and the request body (JSON Schema of `CreateDialog`, `CreateDialogActivityRequest`,
...).

Unknown fields: the document says `additionalProperties: false` on every object, but the real
service does not enforce it. Its JSON options (`src/Digdir.Domain.Dialogporten.WebApi/
Program.cs` in Altinn/dialogporten, `x.Serializer.Options...`) set no
`UnmappedMemberHandling`, so System.Text.Json skips an unknown member: it is ignored, not a
400. Real A3 depends on that (its `Title` class sends `mediaType` in every GUI action title,
`CreateDialogRequestMapper.GetGuiActionsForCorrespondence`). The replica therefore validates
with `additionalProperties` removed, and `strip_unknown` drops the unknown members before a
body is used, as deserialisation into the real command would.
"""

from __future__ import annotations

import copy
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


def _lenient(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _lenient(v) for k, v in node.items() if k != "additionalProperties"}
    if isinstance(node, list):
        return [_lenient(v) for v in node]
    return node


@lru_cache(maxsize=1)
def openapi() -> OpenAPI:
    """The openapi-core object for the document without `additionalProperties` (unknown
    members are skipped by the real service, see the module docstring); built once (~0.3 s)."""
    return OpenAPI.from_dict(_lenient(openapi_document()))


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    schemas = openapi_document()["components"]["schemas"]
    while "$ref" in schema:
        schema = schemas[str(schema["$ref"]).rsplit("/", 1)[-1]]
    return schema


def _strip(schema: dict[str, Any], value: Any) -> Any:
    schema = _resolve(schema)
    for key in ("oneOf", "anyOf", "allOf"):
        if key in schema and len(schema[key]) == 1:  # the document's nullable-$ref pattern
            return _strip(schema[key][0], value)
    if isinstance(value, dict) and "properties" in schema:
        known = schema["properties"]
        return {k: _strip(known[k], v) for k, v in value.items() if k in known}
    if isinstance(value, list) and "items" in schema:
        return [_strip(schema["items"], v) for v in value]
    return value


def strip_unknown(schema_name: str, body: Any) -> Any:
    """`body` without the members the document's schema `schema_name` does not declare, at
    any depth (what System.Text.Json's default `Skip` does when the real service reads it).

    Input is not changed; a new structure is returned. Unknown schema name → KeyError.
    """
    return _strip({"$ref": f"#/components/schemas/{schema_name}"}, copy.deepcopy(body))


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
