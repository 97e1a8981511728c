"""The A3 replica's migrate, re-migrate and sync handlers (`a3-correspondence.md` §1.5, §1.7).

Behaviour copied from MigrateCorrespondenceHandler and the sync handlers as the reference
describes them, quirks included:

* order: model validation first (`models.annotation_errors`, 400 before anything else); then
  the mapper (`Mappers/MigrateCorrespondenceMapper.cs` `MapToRequestAsync`), which crashes
  (500) on empty recipients or a null first recipient (`Recipients.First().ToLowerInvariant()`)
  and on a null requestedPublishTime (`(DateTimeOffset)` cast), whatever the content; then the
  handler (`Application/MigrateCorrespondence/MigrateCorrespondenceHandler.cs`
  `MigrationValidateCorrespondenceContent`): content null → 1019, title blank → 1020 (since
  PR #2012 `[Required]` already refuses a blank title as a validation problem), language null
  → crash (500), language not nb/nn/en → 1023;
* crashes (500) at insert: null sender (NOT NULL column), an unknown
  `existingAttachments` id (FK violation), two notifications that differ only in `isReminder`
  (the unique index ignores it, the handler then finds no row by Altinn2CorrespondenceId);
* in-request de-duplication to the second in UTC (§1.5.3), `Published` = the first status 2 in
  array order, delete codes 7/8/13/14 stored as delete events only on first migration;
* a unique violation on insert → re-migration: only new events are added (each in its own
  transaction, chronological), texts `Remigrate event <Status> from Altinn 2`, purge codes
  purge; the answer is 200 with the same id, `attachmentStatuses` and `dialogId` null;
* sync accepts only Read, Confirmed, Archived and the delete codes; texts
  `Sync event <Status> from Altinn 2`.

Dialogporten side effects of sync on already-available records (§1.7, activities and labels) are
not replayed by the replica; the rows are stored as A3 stores them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from sandbox.a3 import tables as t
from sandbox.a3.models import (
    DELETE_EVENT_TYPE,
    MIN_TIME,
    AttachmentStatusExt,
    CorrespondenceMigrationStatusExt,
    ForwardingEventExt,
    MigrateCorrespondenceExt,
    MigrateStatus,
    NotificationExt,
    StatusEventExt,
    status_name,
    utc_second,
)
from sandbox.a3.problems import A3Error

LANGUAGES = {"nb", "nn", "en"}
"""`IsLanguageValid` in `MigrateCorrespondenceHandler.cs` (compared after `ToLower()`)."""
SYNC_STATUSES = {
    MigrateStatus.Read,
    MigrateStatus.Confirmed,
    MigrateStatus.Archived,
    *DELETE_EVENT_TYPE,
}
PURGES = {MigrateStatus.PurgedByRecipient, MigrateStatus.PurgedByAltinn}
PURGE_IDEMPOTENCY_TYPE = 5
ATTACHMENT_PURGED = 3


class Crash(Exception):
    """An unhandled exception in the real handler; the app answers a generic 500."""


def uuid7() -> UUID:
    """A time-ordered UUIDv7 (RFC 9562), as EF/Npgsql generate A3's primary keys."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) & 0xFFF) << 64 | (0b10 << 62)
    return UUID(int=value | (rand & ((1 << 62) - 1)))


def org_number(sender: str) -> str:
    """`urn:altinn:organization:identifier-no:910000000` or `0192:910000000` → `910000000`."""
    return sender.rsplit(":", 1)[-1]


def dedup_status_events(events: Iterable[StatusEventExt]) -> list[StatusEventExt]:
    """First occurrence per (status, statusChanged to the second in UTC, party) (#1902)."""
    seen: set[tuple[int, datetime, UUID]] = set()
    out = []
    for e in events:
        key = (int(e.status), utc_second(e.statusChanged), e.eventUserPartyUuid)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def dedup_notifications(items: Iterable[NotificationExt]) -> list[NotificationExt]:
    """First occurrence per (sent to the second, channel, A2 id, address, isReminder)."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for n in items:
        key = (
            utc_second(n.notificationSent),
            int(n.notificationChannel),
            n.altinn2NotificationId,
            n.notificationAddress,
            n.isReminder,
        )
        if key not in seen:
            seen.add(key)
            out.append(n)
    return out


def dedup_forwarding(items: Iterable[ForwardingEventExt]) -> list[ForwardingEventExt]:
    """First occurrence per (date to the second, by party, to user id, to user uuid)."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for f in items:
        key = (
            utc_second(f.forwardedOnDate),
            f.forwardedByPartyUuid,
            f.forwardedToUserId,
            f.forwardedToUserUuid,
        )
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _pgcode(exc: IntegrityError) -> str | None:
    return getattr(exc.orig, "pgcode", None)


def _notification_row(corr_id: UUID, n: NotificationExt, synced: datetime | None) -> dict:
    sent = n.notificationSent.astimezone(UTC)
    return {
        "Id": uuid7(),
        "NotificationTemplate": 2,  # Altinn2Message
        "NotificationChannel": int(n.notificationChannel),
        "RequestedSendTime": MIN_TIME,
        "CorrespondenceId": corr_id,
        "Created": sent,
        "IsReminder": n.isReminder,
        "NotificationSent": sent,
        "NotificationAddress": n.notificationAddress,
        "Altinn2NotificationId": n.altinn2NotificationId,
        "SyncedFromAltinn2": synced,
    }


def _forwarding_row(corr_id: UUID, f: ForwardingEventExt, synced: datetime | None) -> dict:
    return {
        "Id": uuid7(),
        "ForwardedOnDate": f.forwardedOnDate.astimezone(UTC),
        "ForwardedByPartyUuid": f.forwardedByPartyUuid,
        "ForwardedByUserId": f.forwardedByUserId,
        "ForwardedByUserUuid": f.forwardedByUserUuid,
        "ForwardedToUserId": f.forwardedToUserId,
        "ForwardedToUserUuid": f.forwardedToUserUuid,
        "ForwardingText": f.forwardingText,
        "ForwardedToEmailAddress": f.forwardedToEmail,
        "MailboxSupplier": f.mailboxSupplier,
        "CorrespondenceId": corr_id,
        "SyncedFromAltinn2": synced,
    }


@dataclass
class MigrationHandler:
    """Writes what the migration and sync endpoints receive into the A3 tables.

    Args:
        engine: SQLAlchemy engine of the replica's own database (tables already created).
        on_make_available: called with the new correspondence id after a first migration with
            `makeAvailable: true` (the app runs it in the background, as A3's Hangfire job).
        on_events_added: called with the correspondence id when re-migration or sync saved at
            least one row (the app then updates the dialog in the background, §1.7).
    """

    engine: sa.Engine
    on_make_available: Callable[[UUID], None] | None = None
    on_events_added: Callable[[UUID], None] | None = None

    # --- POST /migration/correspondence -------------------------------------------------
    def migrate(self, req: MigrateCorrespondenceExt) -> CorrespondenceMigrationStatusExt:
        """First migration, or re-migration when the A2 id is already there.

        Raises:
            A3Error: 1019, 1020 or 1023.
            Crash: the request would crash the real handler (500).
        """
        c = req.correspondenceData.correspondence
        # The mapper runs before the handler (MigrationController.MigrateCorrespondence).
        recipients = req.correspondenceData.recipients
        if not recipients:
            raise Crash("Recipients.First() on an empty list")
        first_recipient = recipients[0]
        if first_recipient is None:
            raise Crash("ToLowerInvariant() on a null recipient")
        if c.requestedPublishTime is None:
            raise Crash("requestedPublishTime is null")
        content = c.content
        if content is None:
            raise A3Error(1019)
        if content.messageTitle is None or not content.messageTitle.strip():
            raise A3Error(1020)
        if content.language is None:
            raise Crash("null language")
        if content.language.lower() not in LANGUAGES:
            raise A3Error(1023)
        events = dedup_status_events(req.eventHistory)
        corr_id = uuid7()
        created = (req.created or MIN_TIME).astimezone(UTC)
        published = next((e.statusChanged for e in events if e.status == 2), None)
        recipient = first_recipient.lower()
        try:
            with self.engine.begin() as conn:
                service_owner = None
                if c.sender is not None:
                    service_owner = conn.execute(
                        sa.select(t.service_owners.c.Id).where(
                            t.service_owners.c.Id == org_number(c.sender)
                        )
                    ).scalar()
                conn.execute(
                    t.correspondences.insert().values(
                        Id=corr_id,
                        ResourceId=c.resourceId,
                        Recipient=recipient,
                        RecipientType=recipient.rsplit(":", 1)[0] if ":" in recipient else None,
                        Sender=c.sender,
                        SendersReference=c.sendersReference,
                        MessageSender=c.messageSender,
                        RequestedPublishTime=c.requestedPublishTime.astimezone(UTC),
                        DueDateTime=c.dueDateTime.astimezone(UTC) if c.dueDateTime else None,
                        PropertyList=c.propertyList or {},
                        IgnoreReservation=c.ignoreReservation,
                        Created=created,
                        Altinn2CorrespondenceId=req.altinn2CorrespondenceId,
                        Published=published.astimezone(UTC) if published else None,
                        IsConfirmationNeeded=c.isConfirmationNeeded,
                        IsMigrating=req.IsMigrating,
                        IsConfidential=c.isConfidential,
                        PartyId=req.partyId,
                        ServiceOwnerId=service_owner,
                    )
                )
                content_id = uuid7()
                conn.execute(
                    t.contents.insert().values(
                        Id=content_id,
                        CorrespondenceId=corr_id,
                        Language=content.language,
                        MessageTitle=content.messageTitle,
                        MessageSummary=content.messageSummary,
                        MessageBody=content.messageBody,
                    )
                )
                self._insert_children(conn, corr_id, content_id, created, req, events)
        except IntegrityError as exc:
            if _pgcode(exc) == "23505":
                return self._remigrate(req)
            raise Crash(f"database error {_pgcode(exc)}") from None
        for e in events:
            if e.status in DELETE_EVENT_TYPE:
                self._store_delete_event(corr_id, e, synced=None)
        if req.makeAvailable and self.on_make_available is not None:
            self.on_make_available(corr_id)
        return CorrespondenceMigrationStatusExt(
            altinn2CorrespondenceId=req.altinn2CorrespondenceId,
            correspondenceId=corr_id,
            attachmentStatuses=[
                AttachmentStatusExt(attachmentId=a)
                for a in req.correspondenceData.existingAttachments or []
            ],
            dialogId="" if req.makeAvailable else None,
        )

    def _insert_children(
        self,
        conn: sa.Connection,
        corr_id: UUID,
        content_id: UUID,
        created: datetime,
        req: MigrateCorrespondenceExt,
        events: Sequence[StatusEventExt],
    ) -> None:
        c = req.correspondenceData.correspondence
        rows: list[tuple[sa.Table, list[dict[str, Any]]]] = [
            (
                t.statuses,
                [
                    {
                        "Id": uuid7(),
                        "CorrespondenceId": corr_id,
                        "Status": int(e.status),
                        # StatusText ?? Status.ToString() (MigrateCorrespondenceMapper)
                        "StatusText": status_name(e.status)
                        if e.statusText is None
                        else e.statusText,
                        "StatusChanged": e.statusChanged.astimezone(UTC),
                        "PartyUuid": e.eventUserPartyUuid,
                        "SyncedFromAltinn2": None,
                    }
                    for e in events
                    if e.status not in DELETE_EVENT_TYPE
                ],
            ),
            (
                t.notifications,
                [
                    _notification_row(corr_id, n, None)
                    for n in dedup_notifications(req.notificationHistory)
                ],
            ),
            (
                t.forwarding_events,
                [
                    _forwarding_row(corr_id, f, None)
                    for f in dedup_forwarding(req.forwardingHistory)
                ],
            ),
            (
                t.reply_options,
                [
                    {
                        "Id": uuid7(),
                        "CorrespondenceId": corr_id,
                        "LinkURL": r.linkURL,
                        "LinkText": r.linkText,
                    }
                    for r in c.replyOptions or []
                ],
            ),
            (
                t.external_references,
                [
                    {
                        "Id": uuid7(),
                        "CorrespondenceId": corr_id,
                        "ReferenceType": int(r.referenceType),
                        "ReferenceValue": r.referenceValue,
                    }
                    for r in c.externalReferences or []
                ],
            ),
            (
                t.correspondence_attachments,
                [
                    {
                        "Id": uuid7(),
                        "AttachmentId": a,
                        "CorrespondenceContentId": content_id,
                        "Created": created,
                    }
                    for a in req.correspondenceData.existingAttachments or []
                ],
            ),
        ]
        for table, values in rows:
            if values:
                conn.execute(table.insert(), values)

    def _remigrate(self, req: MigrateCorrespondenceExt) -> CorrespondenceMigrationStatusExt:
        with self.engine.connect() as conn:
            corr_id = conn.execute(
                sa.select(t.correspondences.c.Id).where(
                    t.correspondences.c.Altinn2CorrespondenceId == req.altinn2CorrespondenceId
                )
            ).scalar()
        if corr_id is None:
            # The unique violation came from another index (e.g. two notifications that differ
            # only in isReminder); the real handler's follow-up lookup throws here.
            raise Crash("re-migration lookup found no correspondence")
        self.add_events(
            corr_id,
            "Remigrate",
            dedup_status_events(req.eventHistory),
            dedup_notifications(req.notificationHistory),
            dedup_forwarding(req.forwardingHistory),
        )
        return CorrespondenceMigrationStatusExt(
            altinn2CorrespondenceId=req.altinn2CorrespondenceId,
            correspondenceId=corr_id,
            attachmentStatuses=None,
            dialogId=None,
        )

    # --- shared by re-migration and the sync endpoints ----------------------------------
    def add_events(
        self,
        corr_id: UUID,
        operation: str,
        events: Sequence[StatusEventExt],
        notes: Sequence[NotificationExt] = (),
        forwards: Sequence[ForwardingEventExt] = (),
    ) -> dict[str, int]:
        """Add the events not yet stored (to the second in UTC), each in its own transaction.

        Args:
            corr_id: the A3 correspondence id.
            operation: `Remigrate` or `Sync`, used in the status text.
            events, notes, forwards: already de-duplicated within the request.

        Returns:
            Rows added per kind: statuses, delete_events, notifications, forwarding_events.
        """
        now = datetime.now(UTC)
        added = {"statuses": 0, "delete_events": 0, "notifications": 0, "forwarding_events": 0}
        with self.engine.connect() as conn:
            have_status = {
                (r[0], utc_second(r[1]), r[2])
                for r in conn.execute(
                    sa.select(
                        t.statuses.c.Status, t.statuses.c.StatusChanged, t.statuses.c.PartyUuid
                    ).where(t.statuses.c.CorrespondenceId == corr_id)
                )
            }
            have_delete = {
                (r[0], utc_second(r[1]), r[2])
                for r in conn.execute(
                    sa.select(
                        t.delete_events.c.EventType,
                        t.delete_events.c.EventOccurred,
                        t.delete_events.c.PartyUuid,
                    ).where(t.delete_events.c.CorrespondenceId == corr_id)
                )
            }
            have_note = {
                (r[0], r[1], r[2], utc_second(r[3]))
                for r in conn.execute(
                    sa.select(
                        t.notifications.c.NotificationAddress,
                        t.notifications.c.NotificationChannel,
                        t.notifications.c.Altinn2NotificationId,
                        t.notifications.c.NotificationSent,
                    ).where(t.notifications.c.CorrespondenceId == corr_id)
                )
                if r[3] is not None
            }
            have_forward = {
                (utc_second(r[0]), r[1])
                for r in conn.execute(
                    sa.select(
                        t.forwarding_events.c.ForwardedOnDate,
                        t.forwarding_events.c.ForwardedByPartyUuid,
                    ).where(t.forwarding_events.c.CorrespondenceId == corr_id)
                )
            }
        for e in sorted(events, key=lambda e: e.statusChanged):
            second = utc_second(e.statusChanged)
            if e.status in DELETE_EVENT_TYPE:
                key = (DELETE_EVENT_TYPE[e.status], second, e.eventUserPartyUuid)
                if key in have_delete:
                    continue
                if e.status in PURGES:
                    saved = self._purge(corr_id, e, operation, now)
                else:
                    saved = self._store_delete_event(corr_id, e, synced=now)
                added["delete_events"] += saved
                have_delete.add(key)
                continue
            if (int(e.status), second, e.eventUserPartyUuid) in have_status:
                continue
            row = {
                "Id": uuid7(),
                "CorrespondenceId": corr_id,
                "Status": int(e.status),
                "StatusText": f"{operation} event {status_name(e.status)} from Altinn 2",
                "StatusChanged": e.statusChanged.astimezone(UTC),
                "PartyUuid": e.eventUserPartyUuid,
                "SyncedFromAltinn2": now,
            }
            added["statuses"] += self._insert_one(t.statuses, row)
            have_status.add((int(e.status), second, e.eventUserPartyUuid))
        for n in notes:
            nkey = (
                n.notificationAddress,
                int(n.notificationChannel),
                n.altinn2NotificationId,
                utc_second(n.notificationSent),
            )
            if nkey not in have_note:
                added["notifications"] += self._insert_one(
                    t.notifications, _notification_row(corr_id, n, now)
                )
                have_note.add(nkey)
        for f in forwards:
            fkey = (utc_second(f.forwardedOnDate), f.forwardedByPartyUuid)
            if fkey not in have_forward:
                added["forwarding_events"] += self._insert_one(
                    t.forwarding_events, _forwarding_row(corr_id, f, now)
                )
                have_forward.add(fkey)
        if any(added.values()) and self.on_events_added is not None:
            self.on_events_added(corr_id)
        return added

    def _insert_one(self, table: sa.Table, row: dict[str, Any]) -> int:
        """Insert one row in its own transaction; a unique violation means "not saved" (0)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(table.insert().values(**row))
        except IntegrityError as exc:
            if _pgcode(exc) == "23505":
                return 0
            raise
        return 1

    def _store_delete_event(self, corr_id: UUID, e: StatusEventExt, synced: datetime | None) -> int:
        return self._insert_one(
            t.delete_events,
            {
                "Id": uuid7(),
                "EventType": DELETE_EVENT_TYPE[e.status],
                "EventOccurred": e.statusChanged.astimezone(UTC),
                "CorrespondenceId": corr_id,
                "PartyUuid": e.eventUserPartyUuid,
                "SyncedFromAltinn2": synced,
            },
        )

    def _purge(self, corr_id: UUID, e: StatusEventExt, operation: str, now: datetime) -> int:
        """Purge on re-migration or sync (§1.7): guarded by an idempotency key, adds the
        PurgedBy* status and the delete event, purges attachments no other correspondence uses.
        """
        key_id = uuid.uuid5(corr_id, "PurgeCorrespondence")
        try:
            with self.engine.begin() as conn:
                already = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.statuses)
                    .where(t.statuses.c.CorrespondenceId == corr_id)
                    .where(t.statuses.c.Status.in_([int(s) for s in PURGES]))
                ).scalar()
                if already:
                    return 0
                conn.execute(
                    t.idempotency_keys.insert().values(
                        Id=key_id, CorrespondenceId=corr_id, IdempotencyType=PURGE_IDEMPOTENCY_TYPE
                    )
                )
                at = e.statusChanged.astimezone(UTC)
                conn.execute(
                    t.statuses.insert().values(
                        Id=uuid7(),
                        CorrespondenceId=corr_id,
                        Status=int(e.status),
                        StatusText=f"{operation} event {status_name(e.status)} from Altinn 2",
                        StatusChanged=at,
                        PartyUuid=e.eventUserPartyUuid,
                        SyncedFromAltinn2=now,
                    )
                )
                conn.execute(
                    t.delete_events.insert().values(
                        Id=uuid7(),
                        EventType=DELETE_EVENT_TYPE[e.status],
                        EventOccurred=at,
                        CorrespondenceId=corr_id,
                        PartyUuid=e.eventUserPartyUuid,
                        SyncedFromAltinn2=now,
                    )
                )
                self._purge_attachments(conn, corr_id, e.eventUserPartyUuid, now)
        except IntegrityError as exc:
            if _pgcode(exc) == "23505":
                return 0
            raise
        return 1

    @staticmethod
    def _purge_attachments(conn: sa.Connection, corr_id: UUID, party: UUID, now: datetime) -> None:
        ca, ct = t.correspondence_attachments, t.contents
        mine = sa.select(ca.c.AttachmentId).join(ct, ct.c.Id == ca.c.CorrespondenceContentId)
        others = (
            sa.select(ca.c.AttachmentId)
            .join(ct, ct.c.Id == ca.c.CorrespondenceContentId)
            .where(ct.c.CorrespondenceId != corr_id)
        )
        ids: Sequence[Any] = (
            conn.execute(
                mine.where(ct.c.CorrespondenceId == corr_id).where(ca.c.AttachmentId.not_in(others))
            )
            .scalars()
            .all()
        )
        rows = [
            {
                "Id": uuid7(),
                "AttachmentId": a,
                "Status": ATTACHMENT_PURGED,
                "StatusChanged": now,
                "StatusText": "Purged",
                "PartyUuid": party,
            }
            for a in ids
        ]
        if rows:
            conn.execute(t.attachment_statuses.insert(), rows)

    # --- sync endpoints -----------------------------------------------------------------
    def _require(self, corr_id: UUID) -> None:
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(t.correspondences.c.Id).where(t.correspondences.c.Id == corr_id)
            ).scalar()
        if found is None:
            raise A3Error(1001)

    def sync_status(self, corr_id: UUID, events: Sequence[StatusEventExt]) -> dict[str, int]:
        """`syncStatusEvent`: only Read, Confirmed, Archived and delete codes; others ignored.

        Raises:
            A3Error: 1001 when `corr_id` is unknown.
        """
        self._require(corr_id)
        kept = [e for e in events if e.status in SYNC_STATUSES]
        return self.add_events(corr_id, "Sync", dedup_status_events(kept))

    def sync_notifications(self, corr_id: UUID, notes: Sequence[NotificationExt]) -> dict[str, int]:
        """`syncNotificationEvent` (raises A3Error 1001 for an unknown id)."""
        self._require(corr_id)
        return self.add_events(corr_id, "Sync", [], dedup_notifications(notes))

    def sync_forwarding(
        self, corr_id: UUID, forwards: Sequence[ForwardingEventExt]
    ) -> dict[str, int]:
        """`syncForwardingEvent` (raises A3Error 1001 for an unknown id)."""
        self._require(corr_id)
        return self.add_events(corr_id, "Sync", [], [], dedup_forwarding(forwards))
