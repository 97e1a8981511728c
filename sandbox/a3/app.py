"""The A3 Correspondence migration API replica as a FastAPI app.

Endpoints (base `/correspondence/api/v1/migration`, paths case-insensitive as in ASP.NET),
`a3-correspondence.md` §1.2:

| Verb | Path | Answer |
|---|---|---|
| POST | `/attachment` (query metadata, octet-stream body) | 200 `"<attachment id>"` |
| POST | `/correspondence` | 200 `CorrespondenceMigrationStatusExt` |
| POST | `/makemigratedcorrespondenceavailable` | 200 `{"statuses": [...]}` |
| POST | `/correspondence/syncStatusEvent` | 200 `"<correspondence id>"` |
| POST | `/correspondence/syncForwardingEvent` | 200 `"<correspondence id>"` |
| POST | `/correspondence/syncNotificationEvent` | 200 `"<correspondence id>"` |

Every call needs a Maskinporten bearer token with scope `altinn:correspondence.migrate`
(issuer and lifetime checked, audience not; 401 without, 403 without the scope). A given
`Accept` header that does not allow JSON gives 406. Errors are ProblemDetails (`problems`).
The app's OpenAPI document is committed as `sandbox/openapi/a3-migration.json`.

The end-user (recipient) endpoints under `/correspondence/api/v1/correspondence` live in
`recipient.py` (not in that document); the SBL-bridge jobs they enqueue are run by
`storage_sync.SblBridgeWorker`, started and stopped with the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.dialects.postgresql import insert as pg_insert
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.a3 import attachments
from sandbox.a3.dialog_sync import refresh_dialog
from sandbox.a3.make_available import MakeAvailable
from sandbox.a3.migration import Crash, MigrationHandler
from sandbox.a3.models import (
    CorrespondenceMigrationStatusExt,
    MakeAvailableRequestExt,
    MakeAvailableResponseExt,
    MigrateCorrespondenceExt,
    SyncForwardingRequestExt,
    SyncNotificationRequestExt,
    SyncStatusRequestExt,
    annotation_errors,
    forwarding_errors,
)
from sandbox.a3.problems import A3Error, domain_problem, server_error, validation_problem
from sandbox.a3.recipient import RecipientActions, build_router
from sandbox.a3.register import SandboxRegister
from sandbox.a3.storage_sync import SblBridgeWorker
from sandbox.a3.tables import create_tables
from sandbox.a3.tables import service_owners as service_owners_table
from sandbox.maskinporten.tokens import TokenRejected, TokenVerifier

BASE = "/correspondence/api/v1/migration"
MIGRATE_SCOPE = "altinn:correspondence.migrate"
OPENAPI_FILE = Path(__file__).resolve().parent.parent / "openapi" / "a3-migration.json"
_JSON_TYPES = ("*/*", "application/*", "application/json")


class _NotAcceptable:
    """406 when a given `Accept` header allows no JSON (A3's accept-header middleware, §1.1)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].lower().startswith(BASE):
            accept = next((v for k, v in scope["headers"] if k == b"accept"), None)
            if accept:
                ranges = [p.split(";")[0].strip().lower() for p in accept.decode().split(",")]
                if not any(r in _JSON_TYPES for r in ranges):
                    await PlainTextResponse("Not Acceptable", status_code=406)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class _CaseInsensitivePaths:
    """Rewrites the request path to the declared spelling (ASP.NET routes ignore case)."""

    def __init__(self, app: ASGIApp, paths: Callable[[], dict[str, str]]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            canonical = self.paths().get(scope["path"].lower())
            if canonical and canonical != scope["path"]:
                scope = {**scope, "path": canonical, "raw_path": canonical.encode()}
        await self.app(scope, receive, send)


def authorized(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    """Dependency: the caller's token claims; needs scope `altinn:correspondence.migrate`.

    Raises:
        TokenRejected: 401 (no or bad token) or 403 (scope missing).
    """
    verifier: TokenVerifier = request.app.state.verifier
    return verifier.require(authorization, MIGRATE_SCOPE)


Auth = Annotated[dict[str, Any], Depends(authorized)]


def create_app(
    database_url: str | sa.URL,
    verifier: TokenVerifier,
    *,
    dialogporten_base_url: str | None = None,
    dialogporten_token: Callable[[], str] = lambda: "",
    public_base_url: str = "https://platform.altinn.no",
    register: SandboxRegister | None = None,
    service_owners: dict[str, str] | None = None,
    party_id_of: Callable[[str], int | None] | None = None,
    party_uuid_of: Callable[[str], UUID | None] | None = None,
    storage_base_url: str | None = None,
    storage_token: Callable[[], str] | None = None,
    storage_retry_scale: float = 1.0,
) -> FastAPI:
    """Build the A3 migration API replica.

    Args:
        database_url: SQLAlchemy URL of the replica's own PostgreSQL database; schemas
            `correspondence` and `sandbox_storage` are created there at start-up if missing
            (`prepare_database`).
        verifier: checks the Maskinporten tokens of callers.
        dialogporten_base_url: Dialogporten replica base for make-available (None: none runs).
        dialogporten_token: returns a token for calling Dialogporten.
        public_base_url: this service's public base (used in dialog content URLs).
        register: party look-ups for dialog activities (default: synthetic person URNs).
        service_owners: org number → org code rows for `ServiceOwners` (resolves
            ServiceOwnerId as A3 does; empty: ServiceOwnerId stays null).
        party_id_of: Register for the recipient endpoints: a party URN
            (`urn:altinn:person:identifier-no:<ssn>`, `urn:altinn:organization:identifier-no:
            <orgno>`) → its A2 party id, None when unknown (the action then fails with 4002, as
            A3 does when Register does not know the caller). None: no party is known.
        party_uuid_of: the same URN → the party's UUID (Register's `Party.Uuid`, stored as
            PartyUuid of the user's status rows); None or answering None: `uuid5(NAMESPACE_URL,
            urn)` stands in.
        storage_base_url: Altinn platform base for the SBL-bridge calls
            (`{base}/storage/api/v1/sblbridge/synccorrespondenceevent`); None = A3's
            `DisableCallsToAltinn2`: jobs succeed without a call.
        storage_token: returns a bearer token with scope `altinn:correspondence.sblbridge`.
        storage_retry_scale: factor on Hangfire's retry delays of those jobs (1.0 = real
            seconds, 15 s and more; the sandbox may shorten them, e.g. 0.01).

    Returns:
        The app; `app.state.engine`, `app.state.handler`, `app.state.make_available`,
        `app.state.register`, `app.state.recipient` (`RecipientActions`) and
        `app.state.sbl_bridge` (`SblBridgeWorker`) are exposed for tests and the inspect helpers.
    """
    engine = sa.create_engine(
        database_url,
        pool_size=10,
        max_overflow=30,
        # A sandbox may trade durability against a server crash for speed: commits do not
        # wait for the WAL flush (a crash of flytt, the client, loses nothing).
        connect_args={
            "options": "-c timezone=UTC -c synchronous_commit=off",
            "application_name": "sandbox-a3",
        },
    )
    register = register or SandboxRegister()
    jobs = ThreadPoolExecutor(max_workers=2, thread_name_prefix="a3-hangfire")
    maker = MakeAvailable(
        engine, dialogporten_base_url, dialogporten_token, public_base_url, register
    )

    def enqueue_make_available(corr_id: UUID) -> None:
        # makeAvailable=true on migrate: a background job with createEvents=true (§1.5.3).
        jobs.submit(maker.one, corr_id, True)

    def enqueue_dialog_refresh(corr_id: UUID) -> None:
        # Sync and re-migration report saved events to Dialogporten in background jobs (§1.7).
        jobs.submit(refresh_dialog, maker, corr_id)

    handler = MigrationHandler(
        engine, on_make_available=enqueue_make_available, on_events_added=enqueue_dialog_refresh
    )
    sbl_bridge = SblBridgeWorker(
        engine, storage_base_url, storage_token, retry_scale=storage_retry_scale
    )
    recipient = RecipientActions(
        engine,
        register,
        party_id_of=party_id_of,
        party_uuid_of=party_uuid_of,
        on_dialog_refresh=enqueue_dialog_refresh,
        on_job_enqueued=sbl_bridge.wake,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(prepare_database, engine, service_owners or {})
        sbl_bridge.start()
        yield
        await run_in_threadpool(sbl_bridge.stop)
        jobs.shutdown(wait=True, cancel_futures=True)
        engine.dispose()

    app = FastAPI(
        title="Altinn 3 Correspondence migration API (sandbox replica)",
        version="1.0",
        description="Replica of MigrationController as of the parent of 9f4c2ef8; see "
        "a3-correspondence.md §1. Hidden from the real public OpenAPI document.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.verifier = verifier
    app.state.handler = handler
    app.state.make_available = maker
    app.state.register = register
    app.state.recipient = recipient
    app.state.sbl_bridge = sbl_bridge

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # ModelState key of a System.Text.Json error: its JSON path, `$.a.b[0].c`.
        errors = []
        for e in exc.errors():
            path = "$"
            for p in e.get("loc", ()):
                if p == "body":
                    continue
                path += f"[{p}]" if isinstance(p, int) else f".{p}"
            errors.append((path, str(e.get("msg", "invalid"))))
        return validation_problem(errors)

    @app.exception_handler(A3Error)
    async def _domain(request: Request, exc: A3Error) -> JSONResponse:
        return domain_problem(exc.code, request.url.path)

    @app.exception_handler(Crash)
    async def _crash(_: Request, exc: Crash) -> JSONResponse:
        return server_error()

    @app.exception_handler(TokenRejected)
    async def _token(_: Request, exc: TokenRejected) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return Response(status_code=exc.status, headers=headers)

    @app.exception_handler(Exception)
    async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
        # Unhandled → generic 500 ProblemDetails, as ASP.NET's exception handler answers.
        return server_error()

    @app.post(
        f"{BASE}/attachment",
        response_model=UUID,
        summary="Migrate one attachment's bytes and metadata (§1.4)",
        openapi_extra={
            "parameters": [
                {"name": n, "in": "query", "required": r, "schema": {"type": "string"}}
                for n, r in (
                    ("resourceId", True),
                    ("sender", False),
                    ("senderPartyUuid", True),
                    ("altinn2AttachmentId", True),
                    ("created", False),
                    ("sendersReference", True),
                    ("altinn2sendersReference", False),
                    ("fileName", False),
                    ("displayName", False),
                    ("isEncrypted", False),
                    ("checksum", False),
                    ("expirationInDays", False),
                )
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            },
        },
    )
    async def migrate_attachment(request: Request, _: Auth) -> Response:
        content_type = request.headers.get("content-type")
        if content_type and content_type.split(";")[0].strip() != "application/octet-stream":
            return Response(status_code=415)
        params = {k.lower(): v for k, v in request.query_params.items()}
        query, errors = attachments.parse_query(params)
        if query is None:
            return validation_problem(errors)
        raw_length = request.headers.get("content-length")
        length = int(raw_length) if raw_length and raw_length.isdigit() else None
        attachment_id = await attachments.upload(engine, query, length, request.stream())
        return JSONResponse(str(attachment_id))

    @app.post(
        f"{BASE}/correspondence",
        response_model=CorrespondenceMigrationStatusExt,
        summary="Migrate one correspondence with its history (§1.5)",
    )
    def migrate_correspondence(
        body: MigrateCorrespondenceExt, _: Auth
    ) -> CorrespondenceMigrationStatusExt | JSONResponse:
        # DataAnnotations run before the action ([ApiController]); see models.annotation_errors.
        errors = annotation_errors(body)
        if errors:
            return validation_problem(errors)
        return handler.migrate(body)

    @app.post(
        f"{BASE}/makemigratedcorrespondenceavailable",
        response_model=MakeAvailableResponseExt,
        summary="Create the dialogs of migrated correspondences (§1.6)",
    )
    def make_available(body: MakeAvailableRequestExt, _: Auth) -> MakeAvailableResponseExt:
        statuses, background = maker.run(body)
        for corr_id, create_events in background:
            jobs.submit(maker.one, corr_id, create_events)
        return MakeAvailableResponseExt(statuses=statuses)

    @app.post(f"{BASE}/correspondence/syncStatusEvent", response_model=UUID)
    def sync_status(body: SyncStatusRequestExt, _: Auth) -> UUID:
        """Sync status and delete events of a migrated correspondence (§1.7)."""
        handler.sync_status(body.correspondenceId, body.syncedStatusEvents)
        return body.correspondenceId

    @app.post(f"{BASE}/correspondence/syncForwardingEvent", response_model=UUID)
    def sync_forwarding(body: SyncForwardingRequestExt, _: Auth) -> UUID | JSONResponse:
        """Sync forwarding events of a migrated correspondence (§1.7).

        The events' DataAnnotations are checked first (`models.forwarding_errors`; the real
        property is `SyncedEvents` in `Models/SyncCorrespondenceForwardingEventRequestExt.cs`).
        """
        errors = forwarding_errors("SyncedEvents", body.syncedForwardingEvents)
        if errors:
            return validation_problem(errors)
        handler.sync_forwarding(body.correspondenceId, body.syncedForwardingEvents)
        return body.correspondenceId

    @app.post(f"{BASE}/correspondence/syncNotificationEvent", response_model=UUID)
    def sync_notification(body: SyncNotificationRequestExt, _: Auth) -> UUID:
        """Sync notification events of a migrated correspondence (§1.7)."""
        handler.sync_notifications(body.correspondenceId, body.syncedNotificationEvents)
        return body.correspondenceId

    app.include_router(build_router(recipient))

    paths: dict[str, str] = {}

    def canonical_paths() -> dict[str, str]:
        if not paths:
            for route in app.routes:
                path = getattr(route, "path", "")
                paths[path.lower()] = path
        return paths

    app.add_middleware(_NotAcceptable)
    app.add_middleware(_CaseInsensitivePaths, paths=canonical_paths)
    return app


def prepare_database(engine: sa.Engine, service_owners: dict[str, str]) -> None:
    """Create the replica's tables (idempotent) and add `ServiceOwners` rows (org no → code).

    Runs at app start-up (lifespan); call it yourself when driving the app without lifespan.
    """
    create_tables(engine)
    if service_owners:
        with engine.begin() as conn:
            conn.execute(
                pg_insert(service_owners_table)
                .values([{"Id": k, "Name": v} for k, v in service_owners.items()])
                .on_conflict_do_nothing()
            )
