"""The end-user (recipient) endpoints of the A3 replica and their reverse sync to Altinn 2.

Snapshot: Altinn/altinn-correspondence at `0c94adb583c88d2c52074c42e4ca6b555d1de887`. Paths
below: `API/` = `src/Altinn.Correspondence.API/`, `App/` = `src/Altinn.Correspondence.
Application/`. Routes (`API/Controllers/CorrespondenceController.cs`, base
`/correspondence/api/v1/correspondence`; kept out of the replica's migration OpenAPI document):

| Verb | Path | Policy | Handler (in `App/`, `…` = the folder named after the class) |
|---|---|---|---|
| GET | `/{id}` | SenderOrRecipient | `…/GetCorrespondenceOverviewHandler.cs` |
| GET | `/{id}/content` (text/plain) | Recipient | the same, `OnlyGettingContent = true` |
| POST | `/{id}/markasread` | Recipient | `…/MarkCorrespondenceAsReadHandler.cs` |
| POST | `/{id}/confirm` | Recipient | `ConfirmCorrespondence/ConfirmCorrespondenceHandler.cs`, then
  `VerifyCorrespondenceConfirmation/VerifyCorrespondenceConfirmationHandler.cs` |
| DELETE | `/{id}/purge` | SenderOrRecipient | `PurgeCorrespondence/PurgeCorrespondenceHandler.cs`,
  `PurgeCorrespondence/PurgeCorrespondenceHelper.cs` |

Rules (each function below names its source): a correspondence that is still migrating is not
found (`GetCorrespondenceById` excludes `IsMigrating`, `src/Altinn.Correspondence.Persistence/
Repositories/CorrespondenceRepository.cs`); the caller must have recipient access (here: be
the recipient; delegated access is out of scope) else 4001/401; the acting party comes from the
token (`ClaimsPrincipalExtensions.GetCallerPartyUrn`) and is looked up in Register (here:
`party_id_of`), unknown → 4002/400. After Read (first content read or markasread), Confirmed
and PurgedByRecipient on a correspondence with `Altinn2CorrespondenceId > 0` an SBL-bridge job is
enqueued in the same transaction (`storage_sync`). Migration sync endpoints never get here.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.exc import IntegrityError

from sandbox.a3 import storage_sync
from sandbox.a3 import tables as t
from sandbox.a3.make_available import DIALOG_ID
from sandbox.a3.migration import PURGE_IDEMPOTENCY_TYPE, Crash, MigrationHandler, uuid7
from sandbox.a3.models import ReferenceTypeExt, status_name
from sandbox.a3.problems import A3Error
from sandbox.a3.register import SandboxRegister
from sandbox.maskinporten.tokens import TokenRejected, TokenVerifier

log = logging.getLogger(__name__)

BASE = "/correspondence/api/v1/correspondence"
RECIPIENT_SCOPE = "altinn:correspondence.read"
SENDER_SCOPE = "altinn:correspondence.write"
MIGRATE_SCOPE = "altinn:correspondence.migrate"
RECIPIENT_POLICY = (RECIPIENT_SCOPE, MIGRATE_SCOPE)
"""`RecipientScopePolicy` in `API/Auth/DependencyInjection.cs`: read, or migrate."""
SENDER_OR_RECIPIENT_POLICY = (RECIPIENT_SCOPE, SENDER_SCOPE, MIGRATE_SCOPE)
"""`SenderScopePolicy || RecipientScopePolicy` (Altinn-token branch: write or migrate)."""

# CorrespondenceStatus (src/Altinn.Correspondence.Core/Models/Enums/CorrespondenceStatus.cs)
PUBLISHED, FETCHED, READ, REPLIED, CONFIRMED = 2, 3, 4, 5, 6
PURGED_BY_RECIPIENT, PURGED_BY_ALTINN, ARCHIVED, RESERVED, ATTACHMENTS_DOWNLOADED = 7, 8, 9, 10, 12
AVAILABLE_FOR_RECIPIENT = frozenset(
    {PUBLISHED, FETCHED, READ, REPLIED, CONFIRMED, ARCHIVED, RESERVED, ATTACHMENTS_DOWNLOADED}
)
"""`IsAvailableForRecipient` in `App/Helpers/CorrespondenceExtensions.cs`."""
PURGED = frozenset({PURGED_BY_RECIPIENT, PURGED_BY_ALTINN})
FETCH_DEBOUNCE_S = 15.0
"""`Correspondence_Fetched_Debounce` cache entry lifetime in GetCorrespondenceOverviewHandler."""

_SSN = re.compile(r"^\d{11}$")
_ORG = re.compile(r"^(?:\d{9}|0192:\d{9})$")
_W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
ORG_URN = "urn:altinn:organization:identifier-no"
PERSON_URN = "urn:altinn:person:identifier-no"
PARTY_URN = "urn:altinn:partyid"
_KNOWN_PREFIXES = (
    ORG_URN,
    PERSON_URN,
    "urn:altinn:person:idporten-email",
    "urn:altinn:person:legacy-selfidentified",
    PARTY_URN,
    "urn:altinn:party:uuid",
)


# --- caller identity (src/Altinn.Correspondence.Common/Helpers/) ---------------------------
def without_prefix(identifier: str | None) -> str:
    """`StringExtensions.WithoutPrefix`: the part after the last `:` ("" for blank)."""
    if not identifier or not identifier.strip():
        return ""
    return identifier.split(":")[-1]


def _mod11(digits: str, weights: tuple[int, ...]) -> int | None:
    rest = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if rest == 11 else (None if rest == 10 else rest)


def is_ssn(identifier: str) -> bool:
    """`IsSocialSecurityNumberWithNoPrefix`: 11 digits with both mod-11 check digits right."""
    if not _SSN.match(identifier):
        return False
    k1 = _mod11(identifier[:9], _W1)
    k2 = _mod11(identifier[:10], _W2)
    return k1 == int(identifier[9]) and k2 == int(identifier[10])


def with_urn_prefix(identifier: str) -> str:
    """`StringExtensions.WithUrnPrefix`: an identifier as a party URN.

    Known URN prefixes pass; `\\d{9}` or `0192:\\d{9}` → organization URN; a valid national
    identity number → person URN; 8 or 10 digits → `urn:altinn:partyid:`; a GUID →
    `urn:altinn:party:uuid:`. (E-mail addresses are not modelled.)

    Raises:
        ValueError: none of these (A3 throws ArgumentException, a 500).
    """
    if identifier.startswith(_KNOWN_PREFIXES):
        return identifier
    if _ORG.match(identifier):
        return f"{ORG_URN}:{identifier}"
    if is_ssn(identifier):
        return f"{PERSON_URN}:{identifier}"
    if len(identifier) in (8, 10) and identifier.isdigit():
        return f"{PARTY_URN}:{identifier}"
    try:
        return f"urn:altinn:party:uuid:{UUID(without_prefix(identifier))}"
    except ValueError:
        raise ValueError(f"Identifier is not a valid party identifier: {identifier}") from None


def _consumer_id(value: Any) -> str | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, dict) and value.get("ID"):
        return without_prefix(str(value["ID"]))
    return None


def caller_organization_id(claims: dict[str, Any]) -> str | None:
    """`ClaimsPrincipalExtensions.GetCallerOrganizationId`: `urn:altinn:orgNumber`, else the
    `consumer` claim's `ID` (Maskinporten), else the DialogToken's `p`, each without prefix.
    System-user tokens (`authorization_details`) are not modelled."""
    if claims.get("urn:altinn:orgNumber"):
        return without_prefix(str(claims["urn:altinn:orgNumber"]))
    if claims.get("consumer") is not None:
        return _consumer_id(claims["consumer"])
    if claims.get("p"):
        return without_prefix(str(claims["p"]))
    return None


def caller_party_urn(claims: dict[str, Any]) -> str | None:
    """`ClaimsPrincipalExtensions.GetCallerPartyUrn`: the acting party of a token, in order
    `c` (URN-prefixed), `urn:altinn:partyid`, `pid` (ID-porten person), else the organization
    of `caller_organization_id` as an organization URN.

    Raises:
        ValueError: a claim value that is no party identifier (`with_urn_prefix`).
    """
    if str(claims.get("c") or "").strip():
        return with_urn_prefix(str(claims["c"]))
    if str(claims.get(PARTY_URN) or "").strip():
        return f"{PARTY_URN}:{without_prefix(str(claims[PARTY_URN]))}"
    if str(claims.get("pid") or "").strip():
        return with_urn_prefix(str(claims["pid"]))
    org = caller_organization_id(claims)
    return with_urn_prefix(org) if org else None


def recipient_claims(recipient_urn: str) -> dict[str, Any]:
    """Extra token claims that make a token act for `recipient_urn` (for tests, simulators):
    a person → `{"pid": ssn}` (ID-porten); an organization → Maskinporten's `consumer`
    (`{"authority": "iso6523-actorid-upis", "ID": "0192:<orgno>"}`).

    Raises:
        ValueError: a URN that is neither a person nor an organization identifier.
    """
    ident = without_prefix(recipient_urn)
    if recipient_urn.startswith(PERSON_URN) or is_ssn(ident):
        return {"pid": ident}
    if recipient_urn.startswith(ORG_URN) or _ORG.match(ident):
        return {"consumer": {"authority": "iso6523-actorid-upis", "ID": f"0192:{ident}"}}
    raise ValueError(f"not a person or organization URN: {recipient_urn}")


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: its token claims, acting party URN (None when the token names
    none) and whether its scopes say "sender" (`CallingAsSender`: scope contains write)."""

    claims: dict[str, Any]
    party_urn: str | None
    calling_as_sender: bool


def authenticate(
    verifier: TokenVerifier, authorization: str | None, scopes: tuple[str, ...]
) -> Caller:
    """Check the bearer token (issuer, lifetime, signature; not audience) and the policy's
    scopes (`API/Auth/DependencyInjection.cs`). The sandbox token (minted by the Maskinporten
    replica, `pid` / `consumer` claims) stands in for the Altinn platform token the real
    Recipient policy authenticates; the issuer-substring branches of the policies are not
    modelled.

    Raises:
        TokenRejected: 401 (no or bad token) or 403 (none of `scopes`).
        Crash: an identity claim that is no party identifier (A3 throws: 500).
    """
    rejected: TokenRejected | None = None
    for scope in scopes:
        try:
            claims = verifier.require(authorization, scope)
            break
        except TokenRejected as exc:
            if exc.status == 401:
                raise
            rejected = exc
    else:
        assert rejected is not None
        raise rejected
    try:
        urn = caller_party_urn(claims)
    except ValueError as exc:
        raise Crash(str(exc)) from None
    sender = SENDER_SCOPE in str(claims.get("scope", ""))
    return Caller(claims, urn, sender)


# --- the correspondence as the handlers load it ---------------------------------------------
@dataclass
class Loaded:
    """A correspondence row with its statuses (`Statuses`) and fetches (`StatusFetched`)."""

    row: dict[str, Any]
    statuses: list[dict[str, Any]]
    fetches: list[dict[str, Any]]
    external_references: list[dict[str, Any]]

    def highest_status(self) -> dict[str, Any] | None:
        """`GetHighestStatus`: the status row with the largest code, Fetched (3) excluded."""
        rows = [s for s in self.statuses if s["Status"] != FETCHED]
        return max(rows, key=lambda s: s["Status"]) if rows else None

    def status_has_been(self, status: int) -> bool:
        """`StatusHasBeen`: in `Statuses` or in `StatusFetched`."""
        return any(s["Status"] == status for s in self.statuses) or any(
            s["Status"] == status for s in self.fetches
        )

    def purged_status(self) -> dict[str, Any] | None:
        """`GetPurgedStatus`: the latest PurgedByRecipient/PurgedByAltinn row."""
        rows = [s for s in self.statuses if s["Status"] in PURGED]
        return max(rows, key=lambda s: s["StatusChanged"]) if rows else None

    def read_timestamp(self) -> datetime | None:
        """`GetReadTimestamp`: the earliest Read status time, or None."""
        reads = [s["StatusChanged"] for s in self.statuses if s["Status"] == READ]
        return min(reads) if reads else None

    @property
    def altinn2_id(self) -> int | None:
        """`Altinn2CorrespondenceId` when > 0 (the condition for the SBL-bridge job)."""
        a2 = self.row["Altinn2CorrespondenceId"]
        return int(a2) if a2 is not None and a2 > 0 else None

    @property
    def dialog_id(self) -> str | None:
        """The `DialogportenDialogId` external reference, if any."""
        return next(
            (
                r["ReferenceValue"]
                for r in self.external_references
                if r["ReferenceType"] == DIALOG_ID
            ),
            None,
        )


def _ref_type(ref: dict[str, Any]) -> str | int:
    try:
        return ReferenceTypeExt(ref["ReferenceType"]).name
    except ValueError:
        return int(ref["ReferenceType"])


def load(conn: sa.Connection, corr_id: UUID) -> Loaded | None:
    """`CorrespondenceRepository.GetCorrespondenceById(includeStatus: true)`: None for an
    unknown or still migrating (`IsMigrating`) correspondence."""
    c = t.correspondences
    row = (
        conn.execute(sa.select(c).where(c.c.Id == corr_id).where(c.c.IsMigrating.is_(False)))
        .mappings()
        .first()
    )
    if row is None:
        return None

    def rows(table: sa.Table, order: Any = None) -> list[dict[str, Any]]:
        query = sa.select(table).where(table.c.CorrespondenceId == corr_id)
        if order is not None:
            query = query.order_by(order)
        return [dict(r) for r in conn.execute(query).mappings()]

    return Loaded(
        dict(row),
        rows(t.statuses, t.statuses.c.StatusChanged),
        rows(t.fetches, t.fetches.c.StatusChanged),
        rows(t.external_references),
    )


@dataclass
class RecipientActions:
    """What the recipient endpoints do, on the replica's tables.

    Args:
        engine: the replica's database.
        register: party UUID → URN look-ups; the acting party is added to it so the dialog
            mapper can resolve the actor of the new Read/Confirmed status.
        party_id_of: Register's answer for a party URN: its A2 party id, or None when Register
            does not know it (then 4002). None: Register knows no party.
        party_uuid_of: the party's UUID for a URN (Register's `Party.Uuid`); when None or
            answering None, a stable `uuid5(NAMESPACE_URL, urn)` stands in (deviation).
        on_dialog_refresh: called after commit with the correspondence id when A3 enqueues a
            Dialogporten job for the action (opened, confirmed, purged).
        on_job_enqueued: called after commit when an SBL-bridge job was enqueued.
    """

    engine: sa.Engine
    register: SandboxRegister
    party_id_of: Callable[[str], int | None] | None = None
    party_uuid_of: Callable[[str], UUID | None] | None = None
    on_dialog_refresh: Callable[[UUID], None] | None = None
    on_job_enqueued: Callable[[], None] | None = None
    _fetched_at: dict[tuple[UUID, UUID], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- helpers --------------------------------------------------------------------------
    def _party(self, urn: str | None) -> tuple[UUID, int]:
        """`altinnRegisterService.LookUpPartyById(caller)`; unknown → 4002."""
        party_id = self.party_id_of(urn) if (urn and self.party_id_of) else None
        if urn is None or party_id is None:
            raise A3Error(4002)
        party_uuid = self.party_uuid_of(urn) if self.party_uuid_of else None
        if party_uuid is None:
            party_uuid = uuid.uuid5(uuid.NAMESPACE_URL, urn)
        self.register.add(party_uuid, urn)
        return party_uuid, int(party_id)

    def _has_recipient_access(self, caller: Caller, loaded: Loaded) -> bool:
        """`CheckAccessAsRecipient` (Altinn Authorization): here only the recipient itself."""
        if caller.party_urn is None:
            return False
        recipient = str(loaded.row["Recipient"])
        if caller.party_urn.startswith(PARTY_URN + ":"):
            known = self.party_id_of(with_urn_prefix(recipient)) if self.party_id_of else None
            return known is not None and str(known) == without_prefix(caller.party_urn)
        return without_prefix(caller.party_urn).lower() == without_prefix(recipient).lower()

    def _load_checked(self, conn: sa.Connection, corr_id: UUID, caller: Caller) -> Loaded:
        loaded = load(conn, corr_id)
        if loaded is None:
            raise A3Error(1001)
        # CheckAccessAsSender is not modelled (sender access is out of scope): False.
        if not self._has_recipient_access(caller, loaded):
            raise A3Error(4001)
        return loaded

    def _after_commit(self, corr_id: UUID, job: bool, dialog: bool) -> None:
        if job and self.on_job_enqueued is not None:
            self.on_job_enqueued()
        if dialog and self.on_dialog_refresh is not None:
            self.on_dialog_refresh(corr_id)

    @staticmethod
    def _status_row(corr_id: UUID, status: int, at: datetime, party: UUID) -> dict[str, Any]:
        return {
            "Id": uuid7(),
            "CorrespondenceId": corr_id,
            "Status": status,
            "StatusText": status_name(status),
            "StatusChanged": at,
            "PartyUuid": party,
            "SyncedFromAltinn2": None,
        }

    # --- GET /{id} and GET /{id}/content --------------------------------------------------
    def overview(self, corr_id: UUID, caller: Caller, only_content: bool) -> dict[str, Any]:
        """`GetCorrespondenceOverviewHandler.Process`.

        Order: not found / migrating → 1001; no access → 4001; no status → 1001; purged →
        1001; party unknown → 4002; as recipient (not calling as sender): highest status not
        available for recipient → 1001, then a Fetched row (at most one per correspondence and
        party per 15 s), and for `only_content` a Read row when none was ever stored, with the
        SBL-bridge job `read` (Altinn2CorrespondenceId > 0) and the Dialogporten opened
        activity. Not modelled: the inline publish of a delayed correspondence, confidential
        reminders.

        Returns:
            The `CorrespondenceOverviewExt` JSON (times ISO 8601 UTC; `status` by name).

        Raises:
            A3Error: 1001, 4001, 4002.
        """
        now = datetime.now(UTC)
        job = dialog = False
        with self.engine.begin() as conn:
            loaded = self._load_checked(conn, corr_id, caller)
            latest = loaded.highest_status()
            if latest is None or loaded.purged_status() is not None:
                raise A3Error(1001)
            party_uuid, party_id = self._party(caller.party_urn)
            read_at: datetime | None = None
            if not caller.calling_as_sender:
                if latest["Status"] not in AVAILABLE_FOR_RECIPIENT:
                    raise A3Error(1001)
                if self._debounced_fetch(corr_id, party_uuid):
                    row = self._status_row(corr_id, FETCHED, now, party_uuid)
                    conn.execute(t.fetches.insert().values(**row))
                if only_content and not loaded.status_has_been(READ):
                    conn.execute(
                        t.statuses.insert().values(
                            **self._status_row(corr_id, READ, now, party_uuid)
                        )
                    )
                    read_at = now
                    if loaded.altinn2_id is not None:
                        storage_sync.enqueue(
                            conn, corr_id, loaded.altinn2_id, party_id, now, "read"
                        )
                        job = True
                    dialog = True
            body = self._overview_body(conn, loaded, latest, read_at)
        self._after_commit(corr_id, job, dialog)
        return body

    def _debounced_fetch(self, corr_id: UUID, party: UUID) -> bool:
        key = (corr_id, party)
        now = time.monotonic()
        with self._lock:
            last = self._fetched_at.get(key)
            if last is not None and now - last < FETCH_DEBOUNCE_S:
                return False
            self._fetched_at[key] = now
            return True

    @staticmethod
    def _overview_body(
        conn: sa.Connection, loaded: Loaded, latest: dict[str, Any], read_at: datetime | None
    ) -> dict[str, Any]:
        row = loaded.row
        corr_id = row["Id"]
        content = (
            conn.execute(sa.select(t.contents).where(t.contents.c.CorrespondenceId == corr_id))
            .mappings()
            .first()
        )
        replies = [
            {"linkURL": r["LinkURL"], "linkText": r["LinkText"]}
            for r in conn.execute(
                sa.select(t.reply_options).where(t.reply_options.c.CorrespondenceId == corr_id)
            ).mappings()
        ]
        notes = [
            {"notificationOrderId": n["NotificationOrderId"], "isReminder": n["IsReminder"]}
            for n in conn.execute(
                sa.select(t.notifications).where(t.notifications.c.CorrespondenceId == corr_id)
            ).mappings()
        ]
        content_ext = None
        if content is not None:
            body = content["MessageBody"]
            if len(replies) > 3:  # reply options appended to the body (overview handler)
                label = {"en": "Reply options:", "nn": "Svarval:"}.get(
                    (content["Language"] or "").lower(), "Svarvalg:"
                )
                body += (
                    "\n\n"
                    + label
                    + "\n"
                    + "\n".join(f"{r['linkText']}: {r['linkURL']}" for r in replies)
                )
            content_ext = {
                "language": content["Language"],
                "messageTitle": content["MessageTitle"],
                "messageSummary": content["MessageSummary"],
                "messageBody": body,
                "attachments": [],
            }

        def iso(v: datetime | None) -> str | None:
            return v.astimezone(UTC).isoformat() if v is not None else None

        read = read_at or loaded.read_timestamp()
        return {
            "correspondenceId": str(corr_id),
            "status": status_name(latest["Status"]),
            "statusText": latest["StatusText"],
            "statusChanged": iso(latest["StatusChanged"]),
            "resourceId": row["ResourceId"],
            "sender": row["Sender"],
            "sendersReference": row["SendersReference"],
            "messageSender": row["MessageSender"] or "",
            "created": iso(row["Created"]),
            "recipient": row["Recipient"],
            "content": content_ext,
            "replyOptions": replies,
            "notifications": [
                {**n, "notificationOrderId": str(n["notificationOrderId"])}
                if n["notificationOrderId"]
                else n
                for n in notes
            ],
            "propertyList": row["PropertyList"] or {},
            "externalReferences": [
                {"referenceValue": r["ReferenceValue"], "referenceType": _ref_type(r)}
                for r in loaded.external_references
            ],
            "requestedPublishTime": iso(row["RequestedPublishTime"]),
            "dueDateTime": None,  # not set by the handler in this snapshot
            "ignoreReservation": bool(row["IgnoreReservation"]),
            "published": iso(row["Published"]),
            "read": iso(read),
            "isConfirmationNeeded": bool(row["IsConfirmationNeeded"]),
            "isConfidential": bool(row["IsConfidential"]),
            "altinn2CorrespondenceId": row["Altinn2CorrespondenceId"],
        }

    # --- POST /{id}/markasread ------------------------------------------------------------
    def mark_as_read(self, corr_id: UUID, caller: Caller) -> UUID:
        """`MarkCorrespondenceAsReadHandler.Process`: 1001, 4001; highest status missing →
        1015, not available for recipient (or purged) → 1001; never Fetched → 1024; already
        Read → 1040; party unknown → 4002; then a Read row (now, UTC) and, when
        Altinn2CorrespondenceId > 0, the SBL-bridge job `read`, in one transaction. No
        Dialogporten activity (the real handler enqueues none).

        Raises:
            A3Error: as listed.
        """
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            loaded = self._load_checked(conn, corr_id, caller)
            self._check_current_status(loaded)
            if not loaded.status_has_been(FETCHED):
                raise A3Error(1024)
            if loaded.status_has_been(READ):
                raise A3Error(1040)
            party_uuid, party_id = self._party(caller.party_urn)
            conn.execute(
                t.statuses.insert().values(**self._status_row(corr_id, READ, now, party_uuid))
            )
            job = loaded.altinn2_id is not None
            if job:
                storage_sync.enqueue(conn, corr_id, loaded.altinn2_id or 0, party_id, now, "read")
        self._after_commit(corr_id, job, False)
        return corr_id

    @staticmethod
    def _check_current_status(loaded: Loaded) -> None:
        """`ValidateCurrentStatus` of the markasread and confirm handlers."""
        current = loaded.highest_status()
        if current is None:
            raise A3Error(1015)
        if current["Status"] not in AVAILABLE_FOR_RECIPIENT or current["Status"] in PURGED:
            raise A3Error(1001)

    # --- POST /{id}/confirm ---------------------------------------------------------------
    def confirm(self, corr_id: UUID, caller: Caller) -> UUID:
        """`ConfirmCorrespondenceHandler.Process` + `VerifyCorrespondenceConfirmationHandler`.

        1001, 4001, 1015/1001 as markasread; never Fetched → 1025; already Confirmed → 1041
        (IsConfirmationNeeded is NOT checked: a confirm of a correspondence that needs none is
        accepted, as in the real handler); caller blank → 4006; party unknown → 4002. The real
        handler then patches the dialog (no dialog reference → ArgumentException → 500) and a
        job 4 s later verifies the patch and stores Confirmed with the SBL-bridge job `confirm`
        and the confirmed activity. Deviations: the Dialogporten replica has no PATCH, so no
        patch is sent and the verify step is taken as passed; Confirmed is stored before the
        answer (not 4 s later).

        Raises:
            A3Error: as listed.
            Crash: no dialog reference on the correspondence (500).
        """
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            loaded = self._load_checked(conn, corr_id, caller)
            self._check_current_status(loaded)
            if not loaded.status_has_been(FETCHED):
                raise A3Error(1025)
            if loaded.status_has_been(CONFIRMED):
                raise A3Error(1041)
            if not (caller.party_urn or "").strip():
                raise A3Error(4006)
            party_uuid, party_id = self._party(caller.party_urn)
            if loaded.dialog_id is None:
                # PatchCorrespondenceDialogToConfirmed: not migrating and no dialog → throws.
                raise Crash(f"No dialog found on correspondence with id {corr_id}")
            conn.execute(
                t.statuses.insert().values(**self._status_row(corr_id, CONFIRMED, now, party_uuid))
            )
            job = loaded.altinn2_id is not None
            if job:
                storage_sync.enqueue(
                    conn, corr_id, loaded.altinn2_id or 0, party_id, now, "confirm"
                )
        self._after_commit(corr_id, job, True)
        return corr_id

    # --- DELETE /{id}/purge ---------------------------------------------------------------
    def purge(self, corr_id: UUID, caller: Caller) -> UUID:
        """`PurgeCorrespondenceHandler.Process` as recipient + `PurgeCorrespondenceHelper`.

        1001; a DialogportenTransmissionId reference → 1043; no access → 4001; highest status
        missing → 1015, purged → 1014 (note: `GetHighestStatus` orders by code, so Archived (9)
        hides an earlier purge, which the idempotency key then absorbs), not available → 1001,
        confirmation needed and not Confirmed → 1026; party unknown → 4002. Then: the
        idempotency key `uuid5(id, "PurgeCorrespondence")` (already there → answer the id, do
        nothing), a PurgedByRecipient row, the SBL-bridge job `delete` (Altinn2CorrespondenceId
        > 0), Purged rows for attachments no other correspondence uses, and the dialog's
        soft-delete in the background.

        Raises:
            A3Error: as listed.
        """
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            loaded = load(conn, corr_id)
            if loaded is None:
                raise A3Error(1001)
            transmission = int(ReferenceTypeExt.DialogportenTransmissionId)
            if any(r["ReferenceType"] == transmission for r in loaded.external_references):
                raise A3Error(1043)
            if not self._has_recipient_access(caller, loaded):
                raise A3Error(4001)
            highest = loaded.highest_status()
            if highest is None:
                raise A3Error(1015)
            if highest["Status"] in PURGED:
                raise A3Error(1014)
            if highest["Status"] not in AVAILABLE_FOR_RECIPIENT:
                raise A3Error(1001)
            if loaded.row["IsConfirmationNeeded"] and not loaded.status_has_been(CONFIRMED):
                raise A3Error(1026)
            party_uuid, party_id = self._party(caller.party_urn)
        key = uuid.uuid5(corr_id, "PurgeCorrespondence")
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.idempotency_keys.insert().values(
                        Id=key, CorrespondenceId=corr_id, IdempotencyType=PURGE_IDEMPOTENCY_TYPE
                    )
                )
                conn.execute(
                    t.statuses.insert().values(
                        **self._status_row(corr_id, PURGED_BY_RECIPIENT, now, party_uuid)
                    )
                )
                job = loaded.altinn2_id is not None
                if job:
                    storage_sync.enqueue(
                        conn, corr_id, loaded.altinn2_id or 0, party_id, now, "delete"
                    )
                MigrationHandler._purge_attachments(conn, corr_id, party_uuid, now)
        except IntegrityError as exc:
            if getattr(exc.orig, "pgcode", None) == "23505":
                log.info("Purge already processed for correspondence %s; skipping", corr_id)
                return corr_id
            raise
        self._after_commit(corr_id, job, loaded.dialog_id is not None)
        return corr_id


def _recipient(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    """Dependency: the caller under policy Recipient (`request.app.state.verifier`)."""
    return authenticate(request.app.state.verifier, authorization, RECIPIENT_POLICY)


def _sender_or_recipient(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Caller:
    """Dependency: the caller under policy SenderOrRecipient."""
    return authenticate(request.app.state.verifier, authorization, SENDER_OR_RECIPIENT_POLICY)


RecipientCaller = Annotated[Caller, Depends(_recipient)]
SenderOrRecipientCaller = Annotated[Caller, Depends(_sender_or_recipient)]


def build_router(actions: RecipientActions) -> APIRouter:
    """The five recipient routes on `actions`; tokens are checked by the app's
    `app.state.verifier` (the same `TokenVerifier` as the migration API).

    Answers: 200 with the overview JSON, the body as `text/plain`, or the correspondence id as
    a JSON string; ProblemDetails for the `A3Error`s raised (`problems.ERRORS`, answered by the
    app's handler); 401/403 for a missing token / missing scope
    (raised as `TokenRejected`, answered by the app); an invalid GUID → 400 validation problem.
    The routes are not in the replica's (migration) OpenAPI document.
    """
    router = APIRouter(include_in_schema=False)

    @router.get(BASE + "/{correspondenceId}")
    def get_overview(correspondenceId: UUID, caller: SenderOrRecipientCaller) -> Any:
        return JSONResponse(actions.overview(correspondenceId, caller, only_content=False))

    @router.get(BASE + "/{correspondenceId}/content")
    def get_content(correspondenceId: UUID, caller: RecipientCaller) -> Any:
        # MessageBodyHelpers.ConvertMixedToMarkdown (HTML → Markdown) is not replicated: the
        # stored body is returned as it is.
        body = actions.overview(correspondenceId, caller, only_content=True)
        text = (body.get("content") or {}).get("messageBody") or ""
        return PlainTextResponse(text)

    @router.post(BASE + "/{correspondenceId}/markasread")
    def mark_as_read(correspondenceId: UUID, caller: RecipientCaller) -> Any:
        return JSONResponse(str(actions.mark_as_read(correspondenceId, caller)))

    @router.post(BASE + "/{correspondenceId}/confirm")
    def confirm(correspondenceId: UUID, caller: RecipientCaller) -> Any:
        return JSONResponse(str(actions.confirm(correspondenceId, caller)))

    @router.delete(BASE + "/{correspondenceId}/purge")
    def purge(correspondenceId: UUID, caller: SenderOrRecipientCaller) -> Any:
        return JSONResponse(str(actions.purge(correspondenceId, caller)))

    return router
