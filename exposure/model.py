"""The A3 correspondence as the dialog mapping needs it (issue #5).

One `A3Correspondence` holds what Altinn 3 Correspondence loads before it builds the
Dialogporten dialog of a migrated correspondence: the `Correspondences` row, its content, its
status and delete events, notifications and forwarding events (reference
`a3-correspondence.md` §2.1-§2.2 and §1.5.1 for the field names). Party UUIDs that A3 would
resolve in Altinn Register are carried here already resolved, as URNs (`party_urn` fields), so
the mapping in `exposure.dialog` stays a pure function.

All times are timezone-aware; the mapping converts them to UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import IntEnum
from functools import cached_property
from typing import Any, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SELF_IDENTIFIED_RECIPIENT_PREFIX = "urn:altinn:party:uuid:"
"""How A3 stores an Altinn 2 self-identified recipient (a3-correspondence.md §1.5.1)."""


class CorrespondenceStatus(IntEnum):
    """A3 `MigrateCorrespondenceStatusExt` codes (a3-correspondence.md §1.3).

    0-12 are the core A3 statuses; 13 and 14 are the migration-only delete-event codes, and 7/8
    are stored as hard-delete events. All of them travel in one event list here.
    """

    INITIALIZED = 0
    READY_FOR_PUBLISH = 1
    PUBLISHED = 2
    FETCHED = 3
    READ = 4
    REPLIED = 5
    CONFIRMED = 6
    PURGED_BY_RECIPIENT = 7
    PURGED_BY_ALTINN = 8
    ARCHIVED = 9
    RESERVED = 10
    FAILED = 11
    ATTACHMENTS_DOWNLOADED = 12
    SOFT_DELETED_BY_RECIPIENT = 13
    RESTORED_BY_RECIPIENT = 14


class NotificationChannel(IntEnum):
    """A3 `NotificationChannel` (a3-correspondence.md §1.3). Anything but Email reads as SMS."""

    EMAIL = 0
    SMS = 1
    EMAIL_PREFERRED = 2
    SMS_PREFERRED = 3
    EMAIL_AND_SMS = 4


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StatusEvent(_Model):
    """One status or delete event (`CorrespondenceStatuses` / `CorrespondenceDeleteEvents`).

    `party_urn` is the Register URN of `party_uuid` (the acting party, e.g. who read or
    confirmed); it is required for Read and Confirmed events when the dialog is built (§4.6).
    """

    status: CorrespondenceStatus
    status_changed: AwareDatetime
    party_uuid: UUID = Field(default=UUID(int=0))
    party_urn: str | None = None
    status_text: str = ""


class Notification(_Model):
    """One Altinn 2 notification as stored in `CorrespondenceNotifications` (§2.2, §4.4).

    `notification_address` is personal data (e-mail or phone): never log it.
    """

    altinn2_notification_id: int | None = None
    notification_channel: NotificationChannel
    notification_sent: AwareDatetime
    notification_address: str
    is_reminder: bool = False


class ForwardingEvent(_Model):
    """One forwarding event (`CorrespondenceForwardingEvents`, §2.2).

    Exactly one target is expected: `forwarded_to_user_name` (shared with a user, the display
    name A3 would look up from `forwarded_to_user_uuid`), `forwarded_to_email`, or
    `mailbox_supplier` (digital mailbox copy, org URN). `forwarded_by_party_urn` is the Register
    URN of `forwarded_by_party_uuid`.
    """

    forwarded_on_date: AwareDatetime
    forwarded_by_party_uuid: UUID = Field(default=UUID(int=0))
    forwarded_by_party_urn: str | None = None
    forwarded_to_user_uuid: UUID | None = None
    forwarded_to_user_name: str | None = None
    forwarded_to_email: str | None = None
    mailbox_supplier: str | None = None
    forwarding_text: str | None = None


class CorrespondenceContent(_Model):
    """`CorrespondenceContents` (§2.2) without the body (the body never goes to Dialogporten)."""

    language: str = "nb"
    message_title: str
    message_summary: str = ""


class A3Correspondence(_Model):
    """A migrated A3 correspondence with the history the dialog mapping reads.

    Field names follow the A3 `Correspondences` columns (§2.1) in snake case.
    `recipient` is the stored, lower-cased URN: `urn:altinn:organization:identifier-no:…`,
    `urn:altinn:person:identifier-no:…`, or for a self-identified user
    `urn:altinn:party:uuid:…`, in which case `recipient_username` holds the Altinn 2 user name
    that Register would return (§1.5.1, §4.6).
    """

    correspondence_id: UUID
    altinn2_correspondence_id: int
    resource_id: str
    sender: str
    recipient: str
    recipient_username: str | None = None
    senders_reference: str = ""
    message_sender: str | None = None
    content: CorrespondenceContent
    created: AwareDatetime
    requested_publish_time: AwareDatetime
    due_date_time: AwareDatetime | None = None
    is_confirmation_needed: bool = False
    property_list: dict[str, str] = Field(default_factory=dict)
    status_events: tuple[StatusEvent, ...] = ()
    notifications: tuple[Notification, ...] = ()
    forwarding_events: tuple[ForwardingEvent, ...] = ()

    def _latest(self, status: CorrespondenceStatus) -> StatusEvent | None:
        events = [e for e in self.status_events if e.status == status]
        return max(events, key=lambda e: e.status_changed) if events else None

    def first(self, status: CorrespondenceStatus) -> StatusEvent | None:
        """The earliest event with `status`, or None (ties: the first in list order)."""
        events = [e for e in self.status_events if e.status == status]
        return min(events, key=lambda e: e.status_changed) if events else None

    @cached_property
    def is_soft_deleted(self) -> bool:
        """True when the latest SoftDeletedByRecipient is newer than the latest Restored (§1.6)."""
        deleted = self._latest(CorrespondenceStatus.SOFT_DELETED_BY_RECIPIENT)
        restored = self._latest(CorrespondenceStatus.RESTORED_BY_RECIPIENT)
        if deleted is None:
            return False
        return restored is None or deleted.status_changed > restored.status_changed

    @cached_property
    def is_archived(self) -> bool:
        """True when any Archived event exists (§3.1 systemLabel)."""
        return self.first(CorrespondenceStatus.ARCHIVED) is not None

    @cached_property
    def is_confirmed(self) -> bool:
        """True when any Confirmed event exists."""
        return self.first(CorrespondenceStatus.CONFIRMED) is not None

    @cached_property
    def is_purged(self) -> bool:
        """True when a purge code (7 or 8) exists; such items cannot be made available (§1.6)."""
        return any(
            e.status
            in (CorrespondenceStatus.PURGED_BY_RECIPIENT, CorrespondenceStatus.PURGED_BY_ALTINN)
            for e in self.status_events
        )


PartyResolver = Callable[[UUID], str | None]
"""Register look-up: party UUID → party URN (None when unknown)."""


def from_migration_request(
    request: Mapping[str, Any],
    *,
    correspondence_id: UUID,
    resolve_party: PartyResolver,
    recipient_username: str | None = None,
) -> A3Correspondence:
    """Build an `A3Correspondence` from a `POST /migration/correspondence` body (§1.5.1).

    Args:
        request: the `MigrateCorrespondenceExt` JSON as received (camelCase; enums as integer
            codes or names; only the first recipient counts).
        correspondence_id: the A3 id the migration handed out.
        resolve_party: Register look-up for event party UUIDs (acting parties, forwarders).
        recipient_username: Altinn 2 user name of a self-identified recipient
            (`urn:altinn:party:uuid:…`), as Register would return it.

    Raises:
        pydantic.ValidationError: the body lacks a field the mapping needs.
    """
    data = request["correspondenceData"]
    corr = data["correspondence"]
    content = corr.get("content") or {}

    def party(raw: Any) -> tuple[UUID, str | None]:
        uuid = UUID(str(raw)) if raw else UUID(int=0)
        return uuid, (resolve_party(uuid) if uuid.int else None)

    events = []
    for e in request.get("eventHistory") or []:
        uuid, urn = party(e.get("eventUserPartyUuid"))
        events.append(
            StatusEvent(
                status=_enum(CorrespondenceStatus, e["status"]),
                status_changed=e["statusChanged"],
                party_uuid=uuid,
                party_urn=urn,
                status_text=e.get("statusText") or "",
            )
        )
    forwards = []
    for f in request.get("forwardingHistory") or []:
        uuid, urn = party(f.get("forwardedByPartyUuid"))
        forwards.append(
            ForwardingEvent(
                forwarded_on_date=f["forwardedOnDate"],
                forwarded_by_party_uuid=uuid,
                forwarded_by_party_urn=urn,
                forwarded_to_user_uuid=f.get("forwardedToUserUuid"),
                forwarded_to_email=f.get("forwardedToEmail"),
                mailbox_supplier=f.get("mailboxSupplier"),
                forwarding_text=f.get("forwardingText"),
            )
        )
    return A3Correspondence(
        correspondence_id=correspondence_id,
        altinn2_correspondence_id=request["altinn2CorrespondenceId"],
        resource_id=corr["resourceId"],
        sender=corr.get("sender") or "",
        recipient=str(data["recipients"][0]).lower(),
        recipient_username=recipient_username,
        senders_reference=corr.get("sendersReference") or "",
        message_sender=corr.get("messageSender"),
        content=CorrespondenceContent(
            language=content.get("language") or "nb",
            message_title=content.get("messageTitle") or "",
            message_summary=content.get("messageSummary") or "",
        ),
        created=request.get("created") or corr["requestedPublishTime"],
        requested_publish_time=corr["requestedPublishTime"],
        due_date_time=corr.get("dueDateTime"),
        is_confirmation_needed=bool(corr.get("isConfirmationNeeded")),
        property_list=corr.get("propertyList") or {},
        status_events=tuple(events),
        notifications=tuple(
            Notification(
                altinn2_notification_id=n.get("altinn2NotificationId"),
                notification_channel=_enum(NotificationChannel, n["notificationChannel"]),
                notification_sent=n["notificationSent"],
                notification_address=n.get("notificationAddress") or "",
                is_reminder=bool(n.get("isReminder")),
            )
            for n in request.get("notificationHistory") or []
        ),
        forwarding_events=tuple(forwards),
    )


_ENUM_ALIASES = {"sms": "SMS", "email": "EMAIL"}


_E = TypeVar("_E", bound=IntEnum)


def _enum(kind: type[_E], raw: Any) -> _E:
    """Accept an integer code or a (PascalCase) name, as A3's string-enum converter does."""
    if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()):
        return kind(int(raw))
    name = "".join("_" + ch if ch.isupper() else ch for ch in str(raw)).lstrip("_").upper()
    return kind[_ENUM_ALIASES.get(str(raw).lower(), name)]
