"""Sandbox replica of the Dialogporten service-owner API (issue #5).

Endpoints (all under `/api/v1/serviceowner`, dialogporten.md §1.1): create dialog, get dialog,
soft delete, `dialoglookup`, list/append activities, set end-user system labels. Every request
is first checked against the official OpenAPI document with openapi-core (`spec.py`), then
against the domain rules the document cannot express (`rules.py`). Behaviour replicated:

* 201 + `Location` + `Etag` (revision) on create; the body is the id as a JSON string (§1.6);
* 422 "already exists" for an existing id; 409 for a reused `idempotentKey` and for a write
  while another write on the same dialog is in flight; 412 for a stale `If-Match` (§1.6-§1.7);
* bearer tokens from the Maskinporten replica with scope `digdir:dialogporten.serviceprovider`;
  `digdir:dialogporten.correspondence` for CorrespondenceService resources and the
  CorrespondenceOpened/Confirmed activity types (§2.3);
* hidden query flag `isSilentUpdate` (case-insensitive, §2.1);
* a switch that corrupts a field on create (today: `opened_actor`, the actor of the
  CorrespondenceOpened activity, as in correspondence#1952).

Injected 429/503 (and other faults) come from `sandbox.faults.FaultMiddleware`, which wraps every
replica (`sandbox.services`, the tests). Sandbox-only control endpoints under `/sandbox/` (not
part of Dialogporten): `GET /sandbox/stats`, `POST /sandbox/corrupt`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Container
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.dialogporten import rules
from sandbox.dialogporten.spec import SpecViolation, strip_unknown, validate
from sandbox.dialogporten.store import Conflict, DialogStore

BASE = "/api/v1/serviceowner"
SERVICEPROVIDER = "digdir:dialogporten.serviceprovider"
CORRESPONDENCE = "digdir:dialogporten.correspondence"
ADMIN = "digdir:dialogporten.serviceprovider.admin"
ALL_SCOPES = frozenset(
    {
        SERVICEPROVIDER,
        CORRESPONDENCE,
        ADMIN,
        "digdir:dialogporten.serviceprovider.search",
    }
)
INVALID = "One or more validation errors occurred."
CONCURRENT = "The request conflicted with a concurrent operation. Please try again."
CORRUPTIBLE = frozenset({"opened_actor"})
WRONG_ACTOR = "urn:altinn:organization:identifier-no:974760673"
"""Actor written by the `opened_actor` corruption when the party itself is the reader."""


class TokenCheck(Protocol):
    """What the replica needs from a token verifier (e.g. the Maskinporten replica's).

    `require` returns the token's claims or raises an exception with a `status` (401/403).
    """

    def require(self, authorization: str | None, scope: str) -> dict[str, Any]: ...


class Problem(Exception):
    """An error answer (RFC 7807 ProblemDetails, dialogporten.md §1.7)."""

    def __init__(self, status: int, title: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(title)
        self.status, self.title, self.errors = status, title, errors or {}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def new_uuid7(now: datetime) -> str:
    """A random UUIDv7 stamped `now` (for ids the client did not supply)."""
    ms = int(now.timestamp() * 1000)
    rand = uuid.uuid4().int
    value = (ms << 80) | (0x7 << 76) | ((rand >> 64) & 0xFFF) << 64 | (0b10 << 62)
    return str(uuid.UUID(int=value | (rand & ((1 << 62) - 1))))


@dataclass
class DialogportenReplica:
    """State and settings of one replica; `app()` builds its FastAPI application.

    Args:
        verifier: checks bearer tokens (the Maskinporten replica's `TokenVerifier`); None
            accepts any bearer token with every scope (the OpenAPI security still requires one).
        org: the service owner code stored on dialogs.
        is_correspondence_resource: which resources are of type CorrespondenceService
            (default: all, as every migrated correspondence resource is).
        known_resources: resource ids that exist in the Resource Registry; None: all exist.
        checksums: check mod-11 of organisation and national identity numbers, as the real one.
        write_delay_s: time a write holds its dialog (makes concurrent writes observable).
        corrupt: fields to corrupt on create (see `CORRUPTIBLE`).
        clock: the current time (UTC).
    """

    verifier: TokenCheck | None = None
    org: str = "digdir"
    is_correspondence_resource: Callable[[str], bool] = field(default=lambda _: True)
    known_resources: Container[str] | None = None
    checksums: bool = True
    write_delay_s: float = 0.0
    corrupt: set[str] = field(default_factory=set)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    store: DialogStore = field(default_factory=DialogStore)
    stats: Counter[str] = field(default_factory=Counter)

    # --- helpers ------------------------------------------------------------------------
    def _scopes(self, request: Request) -> frozenset[str]:
        authorization = request.headers.get("authorization")
        if self.verifier is None:
            if not authorization or not authorization.lower().startswith("bearer "):
                raise Problem(401, "Unauthorized.")
            return ALL_SCOPES
        try:
            claims = self.verifier.require(authorization, SERVICEPROVIDER)
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status not in (401, 403):
                raise
            raise Problem(status, "Unauthorized." if status == 401 else "Forbidden.") from None
        return frozenset(str(claims.get("scope", "")).split())

    async def _checked(self, request: Request) -> tuple[frozenset[str], Any]:
        """Authenticate, then validate against the OpenAPI document; return scopes and body."""
        raw = await request.body()
        scopes = self._scopes(request)
        try:
            validate(request, raw)
        except SpecViolation as exc:
            raise Problem(exc.status, exc.title, exc.errors) from None
        return scopes, (json.loads(raw) if raw else None)

    @staticmethod
    def _silent(request: Request) -> bool:
        return any(
            k.lower() == "issilentupdate" and v.lower() == "true"
            for k, v in request.query_params.items()
        )

    def _dialog(self, dialog_id: str) -> dict[str, Any]:
        dialog = self.store.get(dialog_id)
        if dialog is None:
            raise Problem(404, "Resource not found.", {"Dialog": [f"{dialog_id} not found"]})
        return dialog

    @staticmethod
    def _if_match(request: Request, revision: str) -> None:
        wanted = request.headers.get("if-match")
        if wanted and wanted.strip('"').lower() != revision.lower():
            raise Problem(412, "Precondition failed.")

    async def _hold(self) -> None:
        if self.write_delay_s:
            await asyncio.sleep(self.write_delay_s)

    def _materialize(self, body: dict[str, Any], dialog_id: str, now: datetime) -> dict[str, Any]:
        created = rules.parse_time(body.get("createdAt")) or now
        updated = rules.parse_time(body.get("updatedAt")) or now
        visible = rules.parse_time(body.get("visibleFrom"))
        if visible and visible > now:
            created = updated = visible
        status = body.get("status") or "NotApplicable"
        status = {"New": "NotApplicable", "Sent": "Awaiting"}.get(status, status)
        activities = [self._activity(a, now) for a in body.get("activities") or []]
        labels = (body.get("serviceOwnerContext") or {}).get("serviceOwnerLabels") or []
        resource = body["serviceResource"]
        dialog = {
            "id": dialog_id,
            "revision": str(uuid.uuid4()),
            "idempotentKey": body.get("idempotentKey"),
            "org": self.org,
            "serviceResource": resource,
            "serviceResourceType": (
                "CorrespondenceService"
                if self.is_correspondence_resource(resource)
                else "GenericAccessResource"
            ),
            "party": body["party"].lower(),
            "progress": body.get("progress"),
            "process": body.get("process"),
            "precedingProcess": body.get("precedingProcess"),
            "extendedStatus": body.get("extendedStatus"),
            "externalReference": body.get("externalReference"),
            "status": status,
            "systemLabel": body.get("systemLabel") or "Default",
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
            "contentUpdatedAt": _iso(updated),
            "dueAt": _iso(d) if (d := rules.parse_time(body.get("dueAt"))) else None,
            "expiresAt": _iso(e) if (e := rules.parse_time(body.get("expiresAt"))) else None,
            "visibleFrom": _iso(visible) if visible else None,
            "deletedAt": None,
            "isApiOnly": bool(body.get("isApiOnly")),
            "content": copy.deepcopy(body.get("content")),
            "searchTags": [{"value": t["value"]} for t in body.get("searchTags") or []],
            "serviceOwnerContext": {
                "revision": str(uuid.uuid4()),
                "serviceOwnerLabels": [{"value": v["value"]} for v in labels],
            },
            "endUserContext": {
                "revision": str(uuid.uuid4()),
                "systemLabels": [body.get("systemLabel") or "Default"],
            },
            "activities": activities,
            "attachments": copy.deepcopy(body.get("attachments") or []),
            "guiActions": copy.deepcopy(body.get("guiActions") or []),
            "apiActions": copy.deepcopy(body.get("apiActions") or []),
            "transmissions": copy.deepcopy(body.get("transmissions") or []),
            "seenSinceLastUpdate": [],
            "seenSinceLastContentUpdate": [],
        }
        self._unopened(dialog)
        return dialog

    @staticmethod
    def _activity(activity: dict[str, Any], now: datetime) -> dict[str, Any]:
        actor = activity["performedBy"]
        return {
            "id": activity.get("id") or new_uuid7(now),
            "createdAt": _iso(rules.parse_time(activity.get("createdAt")) or now),
            "type": activity["type"],
            "extendedType": activity.get("extendedType"),
            "transmissionId": activity.get("transmissionId"),
            "performedBy": {
                "actorType": actor["actorType"],
                "actorId": actor["actorId"].lower() if actor.get("actorId") else None,
                "actorName": actor.get("actorName"),
            },
            "description": copy.deepcopy(activity.get("description")),
        }

    @staticmethod
    def _unopened(dialog: dict[str, Any]) -> None:
        if dialog["serviceResourceType"] == "CorrespondenceService":
            opened = any(a["type"] == "CorrespondenceOpened" for a in dialog["activities"])
            dialog["hasUnopenedContent"] = not opened
        else:
            dialog["hasUnopenedContent"] = False

    def _corrupt(self, dialog: dict[str, Any]) -> None:
        if "opened_actor" in self.corrupt:
            for activity in dialog["activities"]:
                if activity["type"] == "CorrespondenceOpened":
                    actor = activity["performedBy"]
                    wrong = dialog["party"] if actor["actorId"] != dialog["party"] else WRONG_ACTOR
                    actor["actorId"] = wrong
                    self.stats["corrupted"] += 1

    def _need_correspondence_scope(self, scopes: frozenset[str], types: list[str]) -> None:
        if CORRESPONDENCE not in scopes and rules.CORRESPONDENCE_ACTIVITIES & set(types):
            raise Problem(403, "Forbidden.", {"Type": [f"requires scope {CORRESPONDENCE}"]})

    # --- endpoints ----------------------------------------------------------------------
    async def create_dialog(self, request: Request) -> Response:
        """`POST /dialogs`: validate, create, answer 201 with the id (or 4xx)."""
        self.stats["create_requests"] += 1
        try:
            scopes, body = await self._checked(request)
        except Problem as exc:
            if exc.status == 400:
                self.stats["create_spec_invalid"] += 1
            raise
        body = strip_unknown("CreateDialog", body)  # unknown members are skipped (spec.py)
        now = self.clock()
        resource = str(body.get("serviceResource") or "")
        if self.is_correspondence_resource(resource) and CORRESPONDENCE not in scopes:
            raise Problem(403, "Forbidden.", {"ServiceResource": [f"requires {CORRESPONDENCE}"]})
        self._need_correspondence_scope(
            scopes, [str(a.get("type")) for a in body.get("activities") or []]
        )
        errors = rules.create_errors(
            body, now, silent=self._silent(request), scopes=scopes, checksums=self.checksums
        )
        if errors:
            grouped: dict[str, list[str]] = {}
            for path, message in errors:
                grouped.setdefault(path, []).append(message)
            raise Problem(400, INVALID, grouped)
        resource_id = resource.removeprefix("urn:altinn:resource:")
        if self.known_resources is not None and resource_id not in self.known_resources:
            raise Problem(422, "Unprocessable request.", {"ServiceResource": ["unknown"]})
        dialog_id = str(body.get("id") or new_uuid7(now)).lower()
        key = body.get("idempotentKey")
        if key and (existing := self.store.by_idempotent_key(self.org, key)):
            raise Problem(
                409,
                "Conflict.",
                {"IdempotentKey": [f"'{key}' already exists with DialogId '{existing}'"]},
            )
        with self.store.writing(dialog_id):
            await self._hold()
            if self.store.get(dialog_id) is not None:
                raise Problem(
                    422,
                    "Unprocessable request.",
                    {"Id": [f"Entity 'DialogEntity' with key '{dialog_id}' already exists."]},
                )
            dialog = self._materialize(body, dialog_id, now)
            self._corrupt(dialog)
            self.store.insert(dialog, self.org)
        self.stats["created"] += 1
        return JSONResponse(
            dialog_id,
            status_code=201,
            headers={"Location": f"{BASE}/dialogs/{dialog_id}", "Etag": dialog["revision"]},
        )

    async def get_dialog(self, request: Request) -> Response:
        """`GET /dialogs/{dialogId}`: the full aggregate, with `revision`."""
        await self._checked(request)
        dialog = copy.deepcopy(self._dialog(request.path_params["dialogId"]))
        return JSONResponse(dialog, headers={"Etag": dialog["revision"]})

    async def delete_dialog(self, request: Request) -> Response:
        """`DELETE /dialogs/{dialogId}`: soft delete (410 when already deleted)."""
        await self._checked(request)
        dialog = self._dialog(request.path_params["dialogId"])
        with self.store.writing(dialog["id"]):
            await self._hold()
            if dialog["deletedAt"]:
                raise Problem(410, "Resource no longer available.")
            self._if_match(request, dialog["revision"])
            dialog["deletedAt"] = _iso(self.clock())
            revision = self.store.touch(dialog)
        return Response(status_code=204, headers={"Etag": revision})

    async def lookup(self, request: Request) -> Response:
        """`GET /dialoglookup?instanceRef=`: resolve a correspondence/dialog/instance ref."""
        await self._checked(request)
        ref = request.query_params["instanceRef"].strip()
        lowered = ref.lower()
        if lowered.startswith("urn:altinn:dialog-id:"):
            dialog = self.store.get(lowered.rsplit(":", 1)[1])
        elif lowered.startswith(("urn:altinn:correspondence-id:", "urn:altinn:instance-id:")):
            dialog = self.store.by_label(lowered)
        else:
            raise Problem(400, INVALID, {"InstanceRef": ["unsupported instance reference"]})
        if dialog is None:
            raise Problem(404, "Resource not found.", {"InstanceRef": ["no dialog found"]})
        title = (dialog.get("content") or {}).get("title") or {}
        return JSONResponse(
            {
                "dialogId": dialog["id"],
                "instanceRef": ref,
                "party": dialog["party"],
                "title": copy.deepcopy(title.get("value") or []),
                "nonSensitiveTitle": [],
                "serviceResource": {
                    "id": dialog["serviceResource"],
                    "isDelegable": True,
                    "minimumAuthenticationLevel": 3,
                    "name": [],
                },
                "serviceOwner": {"code": self.org, "orgNumber": "991825827", "name": []},
            }
        )

    async def list_activities(self, request: Request) -> Response:
        """`GET /dialogs/{dialogId}/activities`."""
        await self._checked(request)
        dialog = self._dialog(request.path_params["dialogId"])
        return JSONResponse(copy.deepcopy(dialog["activities"]))

    async def create_activity(self, request: Request) -> Response:
        """`POST /dialogs/{dialogId}/activities` (If-Match → 412; existing id → 422)."""
        scopes, body = await self._checked(request)
        body = strip_unknown("CreateDialogActivityRequest", body)
        dialog = self._dialog(request.path_params["dialogId"])
        now = self.clock()
        self._need_correspondence_scope(scopes, [str(body.get("type"))])
        errors = rules.activity_errors(
            "",
            body,
            now,
            correspondence=CORRESPONDENCE in scopes,
            checksums=self.checksums,
            transmission_ids={str(t.get("id")) for t in dialog["transmissions"]},
        )
        if errors:
            raise Problem(400, INVALID, {p.lstrip(".") or "Activity": [m] for p, m in errors})
        with self.store.writing(dialog["id"]):
            await self._hold()
            if dialog["deletedAt"] and ADMIN not in scopes:
                raise Problem(410, "Resource no longer available.")
            self._if_match(request, dialog["revision"])
            activity = self._activity(body, now)
            if any(a["id"] == activity["id"] for a in dialog["activities"]):
                message = f"Activity '{activity['id']}' already exists."
                raise Problem(422, "Unprocessable request.", {"Id": [message]})
            dialog["activities"].append(activity)
            self._unopened(dialog)
            if not self._silent(request):
                dialog["updatedAt"] = _iso(now)
                dialog["systemLabel"] = "Default"
                dialog["endUserContext"]["systemLabels"] = ["Default"]
            revision = self.store.touch(dialog)
        return JSONResponse(
            activity["id"],
            status_code=201,
            headers={
                "Location": f"{BASE}/dialogs/{dialog['id']}/activities/{activity['id']}",
                "Etag": revision,
            },
        )

    async def set_system_labels(self, request: Request) -> Response:
        """`PUT /dialogs/{dialogId}/endusercontext/systemlabels` (If-Match = end-user revision)."""
        scopes, body = await self._checked(request)
        dialog = self._dialog(request.path_params["dialogId"])
        if not request.query_params.get("enduserId") and not (
            body.get("performedBy") and ADMIN in scopes
        ):
            raise Problem(400, INVALID, {"EnduserId": ["enduserId or performedBy is required"]})
        context = dialog["endUserContext"]
        with self.store.writing(dialog["id"]):
            await self._hold()
            if dialog["deletedAt"]:
                raise Problem(410, "Resource no longer available.")
            self._if_match(request, context["revision"])
            label = _next_label(dialog["systemLabel"], body)
            dialog["systemLabel"] = label
            context["systemLabels"] = [label]
            context["revision"] = str(uuid.uuid4())
        return Response(status_code=204, headers={"Etag": context["revision"]})

    # --- application --------------------------------------------------------------------
    def app(self) -> FastAPI:
        """The FastAPI application serving this replica."""
        api = FastAPI(title="Dialogporten service-owner API (sandbox replica)")
        routes: list[tuple[str, str, Callable[[Request], Awaitable[Response]]]] = [
            ("POST", "/dialogs", self.create_dialog),
            ("GET", "/dialogs/{dialogId}", self.get_dialog),
            ("DELETE", "/dialogs/{dialogId}", self.delete_dialog),
            ("GET", "/dialoglookup", self.lookup),
            ("GET", "/dialogs/{dialogId}/activities", self.list_activities),
            ("POST", "/dialogs/{dialogId}/activities", self.create_activity),
            ("PUT", "/dialogs/{dialogId}/endusercontext/systemlabels", self.set_system_labels),
        ]
        for method, path, handler in routes:
            api.add_api_route(BASE + path, _answering(handler), methods=[method])

        @api.middleware("http")
        async def count_requests(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            if request.url.path.startswith("/api/"):
                self.stats["requests"] += 1
            return await call_next(request)

        @api.get("/sandbox/stats")
        async def stats() -> dict[str, Any]:
            return {**self.stats, "dialogs": len(self.store)}

        @api.post("/sandbox/corrupt")
        async def corrupt(request: Request) -> Response:
            wanted = set((await request.json()).get("fields", []))
            if not wanted <= CORRUPTIBLE:
                return JSONResponse({"error": f"corruptible: {sorted(CORRUPTIBLE)}"}, 400)
            self.corrupt = wanted
            return JSONResponse({"fields": sorted(self.corrupt)})

        return api


def _next_label(current: str, body: dict[str, Any]) -> str:
    """The dialog's primary system label after a set-labels request (Bin/Archive/Default)."""
    primary = {"Default", "Bin", "Archive"}
    label = current
    for wanted in body.get("systemLabels") or []:
        if wanted in primary:
            label = wanted
    for added in body.get("addLabels") or []:
        if added in primary:
            label = added
    if label in set(body.get("removeLabels") or []):
        label = "Default"
    return label


def _answering(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Conflict:
            return _problem(request, Problem(409, "Conflict.", {"Dialog": [CONCURRENT]}))
        except Problem as exc:
            return _problem(request, exc)

    return endpoint


def _problem(request: Request, exc: Problem) -> Response:
    body: dict[str, Any] = {
        "type": f"https://datatracker.ietf.org/doc/html/rfc9110#status-{exc.status}",
        "title": exc.title,
        "status": exc.status,
        "instance": request.url.path,
        "traceId": uuid.uuid4().hex,
    }
    if exc.errors:
        body["errors"] = exc.errors
    return JSONResponse(body, status_code=exc.status, media_type="application/problem+json")


def create_app(**settings: Any) -> FastAPI:
    """A fresh replica's application; keyword arguments as for `DialogportenReplica`."""
    return DialogportenReplica(**settings).app()
