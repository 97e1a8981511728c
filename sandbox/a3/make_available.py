"""`POST /migration/makemigratedcorrespondenceavailable` of the A3 replica.

Reference `a3-correspondence.md` §1.6 and `dialogporten.md` §3.3. Per correspondence:
not found → error; an ExternalReference of type 3 already there → that id (idempotent, ok);
purged → error; else the dialog is built with `exposure.dialog.create_dialog_request` (the one
mapping, issue #5) and POSTed to Dialogporten with `?isSilentUpdate=true` unless `createEvents`
(batch mode only). A Dialogporten 400/422 gives `ok: true, dialogId: ""` and leaves the record
migrating (the quirk a feeder must treat as failure); another non-2xx is an error. On success
one transaction stores ExternalReference type 3, sets IsMigrating = false and keeps the ids of
the opened/confirmed activities in IdempotencyKeys (§2.4).

Batch mode: candidates `Altinn2CorrespondenceId IS NOT NULL AND IsMigrating AND NOT purged`,
Created in [createdFrom, createdTo), newest first (Created DESC, Id ASC); `createdTo` missing →
500. `asyncProcessing` answers `{"statuses": []}` at once and works in the background.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from exposure.dialog import MappingError, create_dialog_request
from exposure.model import (
    SELF_IDENTIFIED_RECIPIENT_PREFIX,
    A3Correspondence,
    CorrespondenceContent,
    CorrespondenceStatus,
    ForwardingEvent,
    Notification,
    NotificationChannel,
    StatusEvent,
)
from sandbox.a3 import tables as t
from sandbox.a3.migration import Crash, uuid7
from sandbox.a3.models import (
    STATUS_OF_DELETE_EVENT,
    MakeAvailableRequestExt,
    MakeAvailableStatusExt,
    ReferenceTypeExt,
)
from sandbox.a3.register import SandboxRegister

DIALOG_ID = int(ReferenceTypeExt.DialogportenDialogId)
ACTIVITY_STATUS = {"CorrespondenceOpened": 4, "CorrespondenceConfirmed": 6}
"""Activities whose ids A3 keeps in IdempotencyKeys, with the status they stand for."""
PURGED = (int(CorrespondenceStatus.PURGED_BY_RECIPIENT), int(CorrespondenceStatus.PURGED_BY_ALTINN))


def load_correspondence(
    conn: sa.Connection, corr_id: UUID, register: SandboxRegister
) -> A3Correspondence | None:
    """Read one correspondence with its history into the mapping's input model.

    Status rows and delete events both become `status_events` (delete events under their
    migration codes 7/8/13/14); party UUIDs are resolved through `register`.
    """
    c = t.correspondences
    row = conn.execute(sa.select(c).where(c.c.Id == corr_id)).mappings().first()
    if row is None:
        return None
    content = conn.execute(sa.select(t.contents).where(t.contents.c.CorrespondenceId == corr_id))
    content_row = content.mappings().first()
    events = [
        StatusEvent(
            status=CorrespondenceStatus(s["Status"]),
            status_changed=s["StatusChanged"],
            party_uuid=s["PartyUuid"],
            party_urn=register.resolve(s["PartyUuid"]),
            status_text=s["StatusText"],
        )
        for s in conn.execute(
            sa.select(t.statuses).where(t.statuses.c.CorrespondenceId == corr_id)
        ).mappings()
    ]
    events += [
        StatusEvent(
            status=CorrespondenceStatus(int(STATUS_OF_DELETE_EVENT[d["EventType"]])),
            status_changed=d["EventOccurred"],
            party_uuid=d["PartyUuid"],
            party_urn=register.resolve(d["PartyUuid"]),
        )
        for d in conn.execute(
            sa.select(t.delete_events).where(t.delete_events.c.CorrespondenceId == corr_id)
        ).mappings()
        if d["EventType"] in (3, 4)  # hard deletes on first migration are stored only
    ]
    notes = [
        Notification(
            altinn2_notification_id=n["Altinn2NotificationId"],
            notification_channel=NotificationChannel(n["NotificationChannel"]),
            notification_sent=n["NotificationSent"] or n["RequestedSendTime"],
            notification_address=n["NotificationAddress"] or "",
            is_reminder=n["IsReminder"],
        )
        for n in conn.execute(
            sa.select(t.notifications).where(t.notifications.c.CorrespondenceId == corr_id)
        ).mappings()
    ]
    forwards = [
        ForwardingEvent(
            forwarded_on_date=f["ForwardedOnDate"],
            forwarded_by_party_uuid=f["ForwardedByPartyUuid"],
            forwarded_by_party_urn=register.resolve(f["ForwardedByPartyUuid"]),
            forwarded_to_user_uuid=f["ForwardedToUserUuid"],
            forwarded_to_user_name=(
                str(f["ForwardedToUserUuid"]) if f["ForwardedToUserUuid"] else None
            ),
            forwarded_to_email=f["ForwardedToEmailAddress"],
            mailbox_supplier=f["MailboxSupplier"],
            forwarding_text=f["ForwardingText"],
        )
        for f in conn.execute(
            sa.select(t.forwarding_events).where(t.forwarding_events.c.CorrespondenceId == corr_id)
        ).mappings()
    ]
    recipient = str(row["Recipient"])
    username = None
    if recipient.startswith(SELF_IDENTIFIED_RECIPIENT_PREFIX):
        try:
            username = register.username(
                UUID(recipient.removeprefix(SELF_IDENTIFIED_RECIPIENT_PREFIX))
            )
        except ValueError:
            username = None
    return A3Correspondence(
        correspondence_id=corr_id,
        altinn2_correspondence_id=row["Altinn2CorrespondenceId"] or 0,
        resource_id=row["ResourceId"],
        sender=row["Sender"],
        recipient=recipient,
        recipient_username=username,
        senders_reference=row["SendersReference"],
        message_sender=row["MessageSender"],
        content=CorrespondenceContent(
            language=(content_row["Language"] if content_row else "nb").lower(),
            message_title=content_row["MessageTitle"] if content_row else "",
            message_summary=(content_row["MessageSummary"] or "") if content_row else "",
        ),
        created=row["Created"],
        requested_publish_time=row["RequestedPublishTime"],
        due_date_time=row["DueDateTime"],
        is_confirmation_needed=row["IsConfirmationNeeded"],
        property_list=dict(row["PropertyList"] or {}),
        status_events=tuple(events),
        notifications=tuple(notes),
        forwarding_events=tuple(forwards),
    )


@dataclass
class MakeAvailable:
    """Creates dialogs in Dialogporten for migrated correspondences.

    Args:
        engine: the replica's database.
        dialogporten_base_url: base of the Dialogporten service-owner API (the create path
            `/api/v1/serviceowner/dialogs` is appended), or None when no Dialogporten runs (then
            every item fails with an error naming that).
        token: returns a bearer token with the Dialogporten service-provider scopes.
        a3_base_url: this replica's public base URL (goes into the dialog's content URLs).
        register: party look-ups (§4.6).
    """

    engine: sa.Engine
    dialogporten_base_url: str | None
    token: Callable[[], str]
    a3_base_url: str = "https://platform.altinn.no"
    register: SandboxRegister = field(default_factory=SandboxRegister)

    def one(self, corr_id: UUID, create_events: bool = False) -> MakeAvailableStatusExt:
        """Make one correspondence available; never raises (errors go into the status)."""
        try:
            dialog_id = self._one(corr_id, create_events)
        except Exception as exc:  # the real endpoint reports the full exception text
            return MakeAvailableStatusExt(correspondenceId=corr_id, error=str(exc), ok=False)
        return MakeAvailableStatusExt(correspondenceId=corr_id, dialogId=dialog_id, ok=True)

    def _one(self, corr_id: UUID, create_events: bool) -> str:
        with self.engine.connect() as conn:
            existing = conn.execute(
                sa.select(t.external_references.c.ReferenceValue)
                .where(t.external_references.c.CorrespondenceId == corr_id)
                .where(t.external_references.c.ReferenceType == DIALOG_ID)
            ).scalar()
            if existing is not None:
                return str(existing)
            correspondence = load_correspondence(conn, corr_id, self.register)
        if correspondence is None:
            raise LookupError(f"Correspondence {corr_id} not found")
        if correspondence.is_purged:
            raise ValueError(f"Correspondence {corr_id} is purged and cannot be made available")
        if self.dialogporten_base_url is None:
            raise RuntimeError("Dialogporten is not configured in this sandbox")
        try:
            request = create_dialog_request(
                correspondence,
                now=datetime.now(UTC),
                correspondence_base_url=self.a3_base_url,
                silent=not create_events,
            )
        except MappingError as exc:
            raise RuntimeError(str(exc)) from None
        response = httpx.post(
            self.dialogporten_base_url.rstrip("/") + request.path,
            params=request.params,
            json=request.body,
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=30,
        )
        if response.status_code in (400, 422):
            return ""  # the quirk of §1.6: logged, reported ok, nothing stored
        response.raise_for_status()
        dialog_id = str(response.json())
        with self.engine.begin() as conn:
            conn.execute(
                t.external_references.insert().values(
                    Id=uuid7(),
                    CorrespondenceId=corr_id,
                    ReferenceType=DIALOG_ID,
                    ReferenceValue=dialog_id,
                )
            )
            conn.execute(
                t.correspondences.update()
                .where(t.correspondences.c.Id == corr_id)
                .values(IsMigrating=False)
            )
            keys = [
                {
                    "Id": UUID(a["id"]),
                    "CorrespondenceId": corr_id,
                    "PartyUrn": a["performedBy"].get("actorId"),
                    "StatusAction": ACTIVITY_STATUS[a["type"]],
                    "IdempotencyType": 0,  # DialogportenActivity (§2.2)
                }
                for a in request.body.get("activities") or []
                if a.get("type") in ACTIVITY_STATUS
            ]
            if keys:
                conn.execute(pg_insert(t.idempotency_keys).values(keys).on_conflict_do_nothing())
        return dialog_id

    def candidates(self, req: MakeAvailableRequestExt) -> list[UUID]:
        """Batch-mode candidates, newest first (Created DESC, Id ASC), at most `batchSize`.

        Raises:
            Crash: `createdTo` is missing (InvalidOperationException in the real service).
        """
        if req.createdTo is None:
            raise Crash("createdTo is required in batch mode")
        c = t.correspondences
        purged = (
            sa.select(t.statuses.c.CorrespondenceId)
            .where(t.statuses.c.CorrespondenceId == c.c.Id)
            .where(t.statuses.c.Status.in_(PURGED))
        )
        query = (
            sa.select(c.c.Id)
            .where(c.c.Altinn2CorrespondenceId.is_not(None))
            .where(c.c.IsMigrating.is_(True))
            .where(~sa.exists(purged))
            .where(c.c.Created < req.createdTo)
            .order_by(c.c.Created.desc(), c.c.Id.asc())
            .limit(req.batchSize)
        )
        if req.createdFrom is not None:
            query = query.where(c.c.Created >= req.createdFrom)
        with self.engine.connect() as conn:
            found: list[Any] = list(conn.execute(query).scalars())
            return [UUID(str(i)) for i in found]

    def run(self, req: MakeAvailableRequestExt) -> tuple[list[MakeAvailableStatusExt], list[Any]]:
        """Resolve the mode; return (statuses, background work) for the app to answer/run.

        Single mode wins over list mode; batch mode when `batchSize` > 0. Single and list
        modes always create silently; batch mode honours `createEvents`.
        """
        if req.correspondenceId is not None:
            return [self.one(req.correspondenceId)], []
        if req.correspondenceIds:
            return [self.one(i) for i in req.correspondenceIds], []
        if req.batchSize and req.batchSize > 0:
            ids = self.candidates(req)
            if req.asyncProcessing:
                return [], [(i, req.createEvents) for i in ids]
            return [self.one(i, req.createEvents) for i in ids], []
        return [], []
