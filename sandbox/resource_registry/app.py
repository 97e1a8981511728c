"""Sandbox replica of the Altinn Resource Registry's resource API (step 1.2).

Rules, and where each comes from (Altinn/altinn-resource-registry, `ResourceController` and
`ServiceResourceHelper.ValidateResource`, read in the public code index):

* `POST /resourceregistry/api/v1/resource` (JSON ServiceResource) → 201 with `Location`
  `/resourceregistry/api/v1/resource/{id}`; an existing identifier → 409
  "The Resource already exist: {id}" (controller catches the duplicate-key error).
* `PUT /resourceregistry/api/v1/resource/{id}` → 200; unknown id → 404; id in path ≠
  `identifier` → 400 "Id in path does not match ID in resource" (controller).
* `GET /resourceregistry/api/v1/resource/{id}` → 200 or 404 (controller).
* `POST` or `PUT /resourceregistry/api/v1/resource/{id}/policy`, multipart field `policyFile`
  → 201; no file → 400 "The policy file can not be null"; unknown resource → 400
  "Unknown resource"; a refused policy → 400 with the reason (controller; checks in `xacml.py`).
* `GET /resourceregistry/api/v1/resource/{id}/policy` → the XACML as `text/xml`, or 404.
* Validation (ValidateResource) → 400 ValidationProblemDetails: identifier must match
  `^[a-z0-9_-]+$`; the `se_` prefix needs ServiceCode and ServiceEditionCode references, the
  `app_` prefix an ApplicationId reference; `title` and `description` need non-empty `en`, `nb`
  and `nn`; a `delegable` resource needs `rightDescription` in all three; `resourceType` must
  not be Default (a2-model §3.1: migrated correspondence resources are CorrespondenceService).
* Authorization: scope `altinn:resourceregistry/resource.write` (policy
  POLICY_SCOPE_RESOURCEREGISTRY_WRITE); writes also need `AuthorizationUtil.HasWriteAccess`: the
  token's organisation (`consumer` `0192:<orgno>`) equals `hasCompetentAuthority.organization`,
  or the token has the admin scope `altinn:resourceregistry/resource.admin` → else 403.

Resources and policies are kept in PostgreSQL, schema `resourceregistry` of the sandbox
database, so a restarted replica still knows them.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from sandbox.maskinporten.tokens import TokenRejected, TokenVerifier
from sandbox.resource_registry.xacml import PolicyRejected, parse_policy

BASE = "/resourceregistry/api/v1/resource"
WRITE_SCOPE = "altinn:resourceregistry/resource.write"
ADMIN_SCOPE = "altinn:resourceregistry/resource.admin"
IDENTIFIER = re.compile(r"^[a-z0-9_-]+$")
LANGUAGES = ("en", "nb", "nn")

metadata = sa.MetaData(schema="resourceregistry")
resources = sa.Table(
    "resources",
    metadata,
    sa.Column("identifier", sa.Text, primary_key=True),
    sa.Column("resource_type", sa.Text, nullable=False),
    sa.Column("serviceresourcejson", JSONB, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), server_default=sa.func.now()),
    sa.Column("updated", sa.DateTime(timezone=True), server_default=sa.func.now()),
)
policies = sa.Table(
    "policies",
    metadata,
    sa.Column("identifier", sa.Text, sa.ForeignKey(resources.c.identifier), primary_key=True),
    sa.Column("policy_xml", sa.Text, nullable=False),
    sa.Column("rules", JSONB, nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), server_default=sa.func.now()),
)


def create_tables(engine: sa.Engine) -> None:
    """Create schema `resourceregistry` and its two tables (idempotent)."""
    with engine.begin() as conn:
        conn.execute(sa.text("create schema if not exists resourceregistry"))
        metadata.create_all(conn, checkfirst=True)


def validate_resource(resource: dict[str, Any]) -> dict[str, list[str]]:
    """ValidateResource's rules; returns {property: [messages]} (empty when valid)."""
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    identifier = str(resource.get("identifier") or "")
    kinds = {
        str(r.get("referenceType"))
        for r in resource.get("resourceReferences") or []
        if isinstance(r, dict)
    }
    if identifier.startswith("se_") and not {"ServiceCode", "ServiceEditionCode"} <= kinds:
        add("Identifier", "Invalid prefix. Only to be used for Altinn 2 services")
    if identifier.startswith("app_") and "ApplicationId" not in kinds:
        add("Identifier", "Invalid Prefix. app_ is only for Altinn Studio apps")
    if not IDENTIFIER.match(identifier):
        add("Identifier", "Invalid id. Only a-z and 0-9 is allowed together with _ and -")
    texts = [("Title", "title"), ("Description", "description")]
    if resource.get("delegable", True):
        texts.append(("RightDescription", "rightDescription"))
    names = {"en": "english", "nb": "bokmal", "nn": "nynorsk"}
    for key, field in texts:
        value = resource.get(field)
        for lang in LANGUAGES:
            text = value.get(lang) if isinstance(value, dict) else None
            if not isinstance(text, str) or not text.strip():
                add(key, f"Missing {key if key != 'Title' else 'title'} in {names[lang]} {lang}")
    resource_type = resource.get("resourceType")
    if resource_type in (None, "", "Default", 0):
        add("ResourceType", "Invalid ResourceType. Default is not allowed")
    return errors


def _validation_problem(errors: dict[str, list[str]]) -> JSONResponse:
    return JSONResponse(
        {
            "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
            "title": "One or more validation errors occurred.",
            "status": 400,
            "errors": errors,
        },
        status_code=400,
        media_type="application/problem+json",
    )


def _claims(request: Request, authorization: Annotated[str | None, Header()] = None) -> Any:
    verifier: TokenVerifier = request.app.state.verifier
    try:
        return verifier.require(authorization, WRITE_SCOPE)
    except TokenRejected as exc:
        if exc.status == 403:
            return verifier.require(authorization, ADMIN_SCOPE)
        raise


Claims = Annotated[dict[str, Any], Depends(_claims)]


def _has_write_access(claims: dict[str, Any], organization: str | None) -> bool:
    if ADMIN_SCOPE in str(claims.get("scope", "")).split():
        return True
    consumer = str((claims.get("consumer") or {}).get("ID", ""))
    return bool(organization) and consumer.rsplit(":", 1)[-1] == organization


def create_app(database_url: str | sa.URL, verifier: TokenVerifier) -> FastAPI:
    """Build the Resource Registry replica; tables are created at start-up.

    Args:
        database_url: SQLAlchemy URL of the sandbox database.
        verifier: checks the Maskinporten tokens of callers.

    Returns:
        The app; `app.state.engine` holds the engine (`resources`/`policies` tables).
    """
    engine = sa.create_engine(database_url, pool_pre_ping=True)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(create_tables, engine)
        yield
        engine.dispose()

    app = FastAPI(
        title="Altinn Resource Registry (sandbox replica)",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.verifier = verifier

    @app.exception_handler(TokenRejected)
    async def _token(_: Request, exc: TokenRejected) -> Response:
        return Response(status_code=exc.status)

    def _get(identifier: str) -> dict[str, Any] | None:
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(resources.c.serviceresourcejson).where(
                    resources.c.identifier == identifier
                )
            ).scalar()
        return dict(row) if row is not None else None

    async def _body(request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    @app.post(BASE, status_code=201)
    async def create(request: Request, claims: Claims) -> Response:
        resource = await _body(request)
        if resource is None:
            return _validation_problem({"$": ["The JSON value could not be converted."]})
        errors = validate_resource(resource)
        if errors:
            return _validation_problem(errors)
        authority = resource.get("hasCompetentAuthority") or {}
        if not _has_write_access(claims, authority.get("organization")):
            return Response(status_code=403)
        identifier = resource["identifier"]
        with engine.begin() as conn:
            inserted = conn.execute(
                pg_insert(resources)
                .values(
                    identifier=identifier,
                    resource_type=str(resource["resourceType"]),
                    serviceresourcejson=resource,
                )
                .on_conflict_do_nothing()
                .returning(resources.c.identifier)
            ).scalar()
        if inserted is None:
            return PlainTextResponse(f"The Resource already exist: {identifier}", 409)
        return Response(status_code=201, headers={"Location": f"{BASE}/{identifier}"})

    @app.put(BASE + "/{identifier}")
    async def update(identifier: str, request: Request, claims: Claims) -> Response:
        if _get(identifier) is None:
            return Response(status_code=404)
        resource = await _body(request)
        if resource is None:
            return _validation_problem({"$": ["The JSON value could not be converted."]})
        if resource.get("identifier") != identifier:
            return PlainTextResponse("Id in path does not match ID in resource", 400)
        errors = validate_resource(resource)
        if errors:
            return _validation_problem(errors)
        authority = resource.get("hasCompetentAuthority") or {}
        if not _has_write_access(claims, authority.get("organization")):
            return Response(status_code=403)
        with engine.begin() as conn:
            conn.execute(
                resources.update()
                .where(resources.c.identifier == identifier)
                .values(
                    resource_type=str(resource["resourceType"]),
                    serviceresourcejson=resource,
                    updated=sa.func.now(),
                )
            )
        return Response(status_code=200)

    @app.get(BASE + "/{identifier}")
    def get(identifier: str) -> Response:
        resource = _get(identifier)
        if resource is None:
            return Response(status_code=404)
        return JSONResponse(resource)

    async def write_policy(
        identifier: str, claims: Claims, policyFile: UploadFile | None = None
    ) -> Response:
        if policyFile is None:
            return PlainTextResponse("The policy file can not be null", 400)
        resource = _get(identifier)
        if resource is None:
            return PlainTextResponse("Unknown resource", 400)
        authority = resource.get("hasCompetentAuthority") or {}
        if not _has_write_access(claims, authority.get("organization")):
            return Response(status_code=403)
        xml = await policyFile.read()
        try:
            rules = parse_policy(xml, identifier)
        except PolicyRejected as exc:
            return PlainTextResponse(str(exc), 400)
        rows = [
            {
                "ruleId": r.rule_id,
                "effect": r.effect,
                "subjects": [f"{a}:{v}" for a, v in r.subjects],
                "actions": list(r.actions),
            }
            for r in rules
        ]
        with engine.begin() as conn:
            conn.execute(
                pg_insert(policies)
                .values(identifier=identifier, policy_xml=xml.decode("utf-8"), rules=rows)
                .on_conflict_do_update(
                    index_elements=[policies.c.identifier],
                    set_={
                        "policy_xml": xml.decode("utf-8"),
                        "rules": rows,
                        "updated": sa.func.now(),
                    },
                )
            )
        return Response(status_code=201, headers={"Location": f"{identifier}/policy"})

    app.add_api_route(BASE + "/{identifier}/policy", write_policy, methods=["POST", "PUT"])

    @app.get(BASE + "/{identifier}/policy")
    def get_policy(identifier: str) -> Response:
        with engine.connect() as conn:
            xml = conn.execute(
                sa.select(policies.c.policy_xml).where(policies.c.identifier == identifier)
            ).scalar()
        if xml is None:
            return PlainTextResponse("Unable to find requested policy", 404)
        return Response(xml, media_type="text/xml")

    return app


def resource_exists(engine: sa.Engine, identifier: str) -> bool:
    """True when the registry holds `identifier` (used by the Dialogporten replica's check)."""
    with engine.connect() as conn:
        return (
            conn.execute(
                sa.select(resources.c.identifier).where(resources.c.identifier == identifier)
            ).scalar()
            is not None
        )
