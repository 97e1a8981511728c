"""Payloads for the A3 migration API, built from the `a3` marts, and the guard that keeps
crashing payloads away from A3.

Input: the mart rows of one element (`ElementRows`, read by `syncd.marts.fetch_elements`),
read by the one column name the dbt contract declares (`dbt_project/models/marts/`,
`syncd.mart_schema`; `tests/syncd/test_mart_schema.py` checks every name read is a contract
column). Output: the query parameters of `POST /migration/attachment` (reference
a3-correspondence §1.4) and the JSON body `MigrateCorrespondenceExt` of
`POST /migration/correspondence` (§1.5.1), with
`IsMigrating: true` and `makeAvailable: false` (exposure is step 5, DESIGN §1).

`guard` lists the reasons an element must not be sent: the 500 crash cases of §1.5.3 ("Other
500 cases"), §1.8 and §5 (null sender, null language, null requestedPublishTime, empty
recipients, unknown attachment id, notifications differing only in isReminder) and the
400 validation failures that would only repeat (§1.5.3 validation, §1.8). Each reason is a
short code plus a detail without personal data.

All times are sent as ISO-8601 in UTC with an explicit offset (`+00:00`), §1.1 and §5 #27.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

LANGUAGES = frozenset({"nb", "nn", "en"})
"""Languages A3 accepts (§1.5.1 content.language; others give 400/1023)."""
RESOURCE_ID = re.compile(r"^(urn:altinn:resource:)?[^:]{1,255}$")
ORG_URN = re.compile(r"^(urn:altinn:organization:identifier-no:\d{9}|0192:\d{9})$")
INT32 = (-(2**31), 2**31 - 1)
DELETE_EVENT_STATUS = {1: 8, 2: 7, 3: 13, 4: 14}
"""CorrespondenceDeleteEventType (DB, §1.3) → MigrateCorrespondenceStatusExt code sent in
`eventHistory` (HardDeletedByServiceOwner → PurgedByAltinn, HardDeletedByRecipient →
PurgedByRecipient, SoftDeleted → 13, Restored → 14)."""
ACTOR_STATUSES = frozenset({4, 6})
"""Read and Confirmed: their acting party must resolve in Register (§1.5.1, §4.6)."""
FORBIDDEN_REFERENCE_TYPES = frozenset({3, 5})
"""DialogportenDialogId (make-available would skip the element) and TransmissionId (400)."""
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
TITLE_MAX, SUMMARY_MAX, BODY_MAX = 255, 255, 30_000
"""Content limits of the A3 snapshot flytt targets (Altinn/altinn-correspondence, parent of
9f4c2ef8; PR #2012 in `src/Altinn.Correspondence.API/Models/InitializeCorrespondenceContentExt.cs`):
messageTitle `[Required]` 1-255, messageSummary <= 255, messageBody `[Required]` 1-30 000.
A3 refuses anything else with a 400 validation problem (reference a3-correspondence §1.5.1)."""

Row = Mapping[str, Any]
Reason = tuple[str, str]


def iso(value: Any) -> str | None:
    """A timestamp as ISO-8601 UTC with offset; naive datetimes are taken as UTC. None stays
    None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def utf16_length(value: Any) -> int:
    """Length as .NET's `string.Length` counts it (UTF-16 code units): what `[StringLength]`
    measures. A character above U+FFFF (an emoji, say) counts 2; None counts 0."""
    if value is None:
        return 0
    return len(str(value).encode("utf-16-le")) // 2


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass
class ElementRows:
    """Everything the marts hold for one A2 correspondence.

    Attributes:
        a2_correspondence_id: the A2 id (`altinn2CorrespondenceId`).
        correspondence: its `a3.correspondences` row, or None if the mart lacks it.
        content: its `a3.correspondence_contents` row, or None.
        attachments: `a3.attachments` rows linked through `a3.correspondence_attachments`.
        unknown_attachment_ids: linked A2 attachment ids with no `a3.attachments` row.
        status_events, delete_events, notifications, forwarding_events, reply_options,
            external_references: the rows of the matching marts.
    """

    a2_correspondence_id: int
    correspondence: Row | None = None
    content: Row | None = None
    attachments: list[Row] = field(default_factory=list)
    unknown_attachment_ids: list[str] = field(default_factory=list)
    status_events: list[Row] = field(default_factory=list)
    delete_events: list[Row] = field(default_factory=list)
    notifications: list[Row] = field(default_factory=list)
    forwarding_events: list[Row] = field(default_factory=list)
    reply_options: list[Row] = field(default_factory=list)
    external_references: list[Row] = field(default_factory=list)

    def newest_load_id(self) -> str:
        """The newest `_dlt_load_id` among the rows a migration payload carries (the
        correspondence and its status, delete, notification and forwarding rows); '' when none
        has one. Step 2.2 sends this element's events of later loads
        (`flytt.control.sync_state`)."""
        rows = [
            self.correspondence,
            *self.status_events,
            *self.delete_events,
            *self.notifications,
            *self.forwarding_events,
        ]
        return max(
            (str(r["_dlt_load_id"]) for r in rows if r and r.get("_dlt_load_id")), default=""
        )

    @property
    def resource_id(self) -> str | None:
        """The element's A3 resource id (from its correspondence row)."""
        return None if self.correspondence is None else self.correspondence.get("resource_id")


def attachment_id(row: Row) -> str:
    """The A2 attachment id of an attachments row, as text (`altinn2AttachmentId` is a string)."""
    return str(row["altinn2_attachment_id"])


def attachment_size(row: Row) -> int | None:
    """Byte count of an attachment (mart column `attachment_size`), or None if unknown."""
    size = row.get("attachment_size")
    return None if size is None else int(size)


def attachment_params(row: Row) -> dict[str, str]:
    """Query parameters of `POST /migration/attachment` for one attachments row (§1.4).

    `sendersReference` is required by validation but ignored by the mapper; we send the A2
    senders reference there and in `altinn2sendersReference` (which is stored), or the A2
    attachment id when A2 has none. `checksum` is the lower-case MD5 the loader computed.
    """
    a2_id = attachment_id(row)
    reference = _text(row.get("senders_reference")) or ""
    params: dict[str, str] = {
        "resourceId": str(row.get("resource_id")),
        "sender": str(row.get("sender")),
        "senderPartyUuid": str(row.get("sender_party_uuid") or ZERO_UUID),
        "altinn2AttachmentId": a2_id,
        "sendersReference": reference or a2_id,
        "altinn2sendersReference": reference,
    }
    optional: dict[str, str | None] = {
        "created": iso(row.get("created")),
        "fileName": _text(row.get("file_name")),
        "displayName": _text(row.get("display_name")),
        "checksum": _text(row.get("checksum")),
    }
    encrypted = row.get("is_encrypted")
    if encrypted is not None:
        optional["isEncrypted"] = "true" if encrypted else "false"
    params.update({k: v for k, v in optional.items() if v is not None and v != ""})
    if "checksum" in params:
        params["checksum"] = params["checksum"].lower()
    return params


def status_events(rows: ElementRows) -> list[dict[str, Any]]:
    """`MigrateCorrespondenceStatusEventExt` items of the element's status and delete events,
    in time order (the migration payload's `eventHistory`, sync's `syncedStatusEvents`)."""
    events: list[tuple[str, int, dict[str, Any]]] = []
    for e in rows.status_events:
        status = int(e["status"])
        changed = iso(e.get("status_changed"))
        item: dict[str, Any] = {
            "status": status,
            "statusText": _text(e.get("status_text")) or "",
            "statusChanged": changed,
            "eventUserPartyUuid": _text(e.get("party_uuid")),
        }
        user = e.get("event_user_uuid")
        if user is not None:
            item["eventUserUuid"] = str(user)
        events.append((changed or "", status, item))
    for d in rows.delete_events:
        raw = d["event_type"]
        code = d.get("migration_status")
        status = int(code) if code is not None else DELETE_EVENT_STATUS[int(raw)]
        changed = iso(d.get("event_occurred"))
        events.append(
            (
                changed or "",
                status,
                {
                    "status": status,
                    "statusText": "",
                    "statusChanged": changed,
                    "eventUserPartyUuid": _text(d.get("party_uuid")),
                },
            )
        )
    # Chronological order: A3 takes Published from the first status-2 event *in array order*
    # (§4.3), which must be the earliest one.
    events.sort(key=lambda t: (t[0], t[1]))
    return [item for _, _, item in events]


def notifications(rows: ElementRows) -> list[dict[str, Any]]:
    """`MigrateCorrespondenceNotificationExt` items, in time order (`notificationHistory`,
    sync's `syncedNotificationEvents`)."""
    return [
        {
            "notificationChannel": int(n["notification_channel"]),
            "notificationSent": iso(n.get("notification_sent")),
            "altinn2NotificationId": int(n["altinn2_notification_id"]),
            "notificationAddress": str(n.get("notification_address")),
            "isReminder": bool(n.get("is_reminder")),
        }
        for n in sorted(rows.notifications, key=lambda n: iso(n.get("notification_sent")) or "")
    ]


def forwarding(rows: ElementRows) -> list[dict[str, Any]]:
    """`MigrateCorrespondenceForwardingEventExt` items, in time order (`forwardingHistory`,
    sync's `syncedForwardingEvents`)."""
    out = []
    for f in sorted(rows.forwarding_events, key=lambda f: iso(f.get("forwarded_on_date")) or ""):
        item: dict[str, Any] = {
            "forwardedOnDate": iso(f.get("forwarded_on_date")),
            "forwardedByPartyUuid": _text(f.get("forwarded_by_party_uuid")),
            "forwardedByUserId": int(f.get("forwarded_by_user_id") or 0),
            "forwardedByUserUuid": _text(f.get("forwarded_by_user_uuid")) or ZERO_UUID,
        }
        optional = {
            "forwardedToUserId": f.get("forwarded_to_user_id"),
            "forwardedToUserUuid": _text(f.get("forwarded_to_user_uuid")),
            "forwardingText": _text(f.get("forwarding_text")),
            "forwardedToEmail": _text(f.get("forwarded_to_email_address")),
            "mailboxSupplier": _text(f.get("mailbox_supplier")),
        }
        item.update({k: v for k, v in optional.items() if v is not None})
        out.append(item)
    return out


def _property_list(value: Any) -> dict[str, str]:
    if not value:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    raise TypeError("property_list must be a JSON object")


def build_correspondence(rows: ElementRows, attachment_ids: Sequence[uuid.UUID]) -> dict[str, Any]:
    """The `MigrateCorrespondenceExt` body for one element that passed `guard` (§1.5.1).

    Args:
        rows: the element's mart rows.
        attachment_ids: A3 GUIDs of its attachments, in the order of `rows.attachments`.
    """
    c = rows.correspondence
    ct = rows.content
    assert c is not None and ct is not None, "guard() must pass before build_correspondence()"
    correspondence: dict[str, Any] = {
        "resourceId": c.get("resource_id"),
        "sender": c.get("sender"),
        "sendersReference": c.get("senders_reference"),
        "messageSender": _text(c.get("message_sender")),
        "requestedPublishTime": iso(c.get("requested_publish_time")),
        "dueDateTime": iso(c.get("due_date_time")),
        "content": {
            "language": str(ct.get("language")).lower(),
            "messageTitle": ct.get("message_title"),
            # the DB column is NOT NULL: send "" rather than null (§1.5.1)
            "messageSummary": ct.get("message_summary") or "",
            "messageBody": ct.get("message_body") or "",
        },
        "externalReferences": [
            {
                "referenceValue": str(r.get("reference_value")),
                "referenceType": int(r["reference_type"]),
            }
            for r in rows.external_references
        ],
        "propertyList": _property_list(c.get("property_list")),
        "replyOptions": [
            {"linkURL": r.get("link_url"), "linkText": _text(r.get("link_text"))}
            for r in rows.reply_options
        ],
        "ignoreReservation": c.get("ignore_reservation"),
        "isConfirmationNeeded": bool(c.get("is_confirmation_needed", False)),
        "isConfidential": bool(c.get("is_confidential", False)),
    }
    return {
        "altinn2CorrespondenceId": rows.a2_correspondence_id,
        "IsMigrating": True,
        "makeAvailable": False,
        "created": iso(c.get("created")),
        "partyId": int(c.get("party_id") or 0),
        "correspondenceData": {
            "recipients": [str(c.get("recipient"))],
            "existingAttachments": [str(a) for a in attachment_ids],
            "correspondence": correspondence,
        },
        "eventHistory": status_events(rows),
        "notificationHistory": notifications(rows),
        "forwardingHistory": forwarding(rows),
    }


def _second(value: Any) -> str:
    text = iso(value) or ""
    return text[:19]


def guard(rows: ElementRows) -> list[Reason]:
    """Reasons this element must not be sent; empty when the payload is safe.

    The content limits (`TITLE_MAX`, `SUMMARY_MAX`, `BODY_MAX`, lengths in UTF-16 units) are a
    second line behind the dbt mapping, which quarantines over-long titles and bodies, cuts
    long summaries and fills empty bodies: whatever still breaks them here would be a 400.

    Codes (all documented in a3-correspondence §1.4, §1.5, §1.8, §5):
    `not_in_mapping`, `a2_id_out_of_range`, `invalid_resource_id`, `missing_sender`,
    `invalid_sender`, `missing_recipient`, `missing_senders_reference`, `text_too_long`,
    `missing_requested_publish_time`, `missing_content`, `empty_title`, `missing_language`,
    `unsupported_language`, `title_too_long`, `summary_too_long`, `empty_body`,
    `body_too_long`, `unknown_attachment`, `empty_attachment`,
    `missing_attachment_sender`, `missing_event_party`, `missing_event_time`,
    `incomplete_notification`, `notification_reminder_conflict`, `missing_forwarding_party`,
    `forbidden_external_reference`, `too_many_external_references`, `invalid_property_list`,
    `missing_reply_link`.
    """
    reasons: list[Reason] = []
    add = reasons.append
    a2_id = rows.a2_correspondence_id
    c, ct = rows.correspondence, rows.content
    if c is None:
        return [("not_in_mapping", "no row in a3.correspondences")]
    if not INT32[0] <= a2_id <= INT32[1]:
        add(("a2_id_out_of_range", "altinn2CorrespondenceId is not a 32-bit integer"))
    resource = c.get("resource_id")
    if _blank(resource) or not RESOURCE_ID.match(str(resource)):
        add(("invalid_resource_id", "resourceId does not match the A3 resource-id pattern"))
    sender = c.get("sender")
    if _blank(sender):
        add(("missing_sender", "sender is null (A3 answers 500, §1.5.1)"))
    elif not ORG_URN.match(str(sender)):
        add(("invalid_sender", "sender is not an organisation URN or 0192:<orgno>"))
    if _blank(c.get("recipient")):
        add(("missing_recipient", "recipients would be empty (A3 answers 500, §1.5.3)"))
    reference = c.get("senders_reference")
    if _blank(reference):
        add(("missing_senders_reference", "sendersReference is required (1-4096)"))
    elif utf16_length(reference) > 4096:
        add(("text_too_long", "sendersReference is longer than 4096"))
    if utf16_length(c.get("message_sender")) > 255:
        add(("text_too_long", "messageSender is longer than 255"))
    if c.get("requested_publish_time") is None:
        add(("missing_requested_publish_time", "requestedPublishTime is null (A3 answers 500)"))
    try:
        props = _property_list(c.get("property_list"))
        if len(props) > 10 or any(len(k) > 50 or len(v) > 300 for k, v in props.items()):
            add(("invalid_property_list", "propertyList exceeds 10 keys / 50 / 300 chars"))
    except TypeError:
        add(("invalid_property_list", "propertyList is not an object"))
    if ct is None:
        add(("missing_content", "no content row (A3 answers 400/1019)"))
    else:
        title = ct.get("message_title")
        if _blank(title):
            add(("empty_title", "messageTitle is empty (A3 answers 400, [Required])"))
        elif utf16_length(title) > TITLE_MAX:
            add(
                ("title_too_long", f"messageTitle has {utf16_length(title)} UTF-16 units (max 255)")
            )
        summary = ct.get("message_summary")
        if utf16_length(summary) > SUMMARY_MAX:
            add(
                (
                    "summary_too_long",
                    f"messageSummary has {utf16_length(summary)} UTF-16 units (max 255)",
                )
            )
        body = ct.get("message_body")
        if _blank(body):
            add(("empty_body", "messageBody is empty (A3 answers 400, [Required])"))
        elif utf16_length(body) > BODY_MAX:
            add(("body_too_long", f"messageBody has {utf16_length(body)} UTF-16 units (max 30000)"))
        language = ct.get("language")
        if _blank(language):
            add(("missing_language", "language is null (A3 answers 500, §1.5.1)"))
        elif str(language).lower() not in LANGUAGES:
            add(("unsupported_language", "language is not nb, nn or en (A3 answers 400/1023)"))
    for a2_att in rows.unknown_attachment_ids:
        add(("unknown_attachment", f"attachment {a2_att} is not in a3.attachments (A3: 500)"))
    for att in rows.attachments:
        size = attachment_size(att)
        if size is not None and size <= 0:
            add(("empty_attachment", f"attachment {attachment_id(att)} has no bytes (400/2004)"))
        if _blank(att.get("sender")):
            add(("missing_attachment_sender", f"attachment {attachment_id(att)} has no sender"))
    for e in rows.status_events:
        if e.get("status_changed") is None:
            add(("missing_event_time", "a status event has no time"))
        if e.get("party_uuid") is None:
            add(("missing_event_party", f"status {e.get('status')} has no acting party"))
    for d in rows.delete_events:
        if d.get("event_occurred") is None:
            add(("missing_event_time", "a delete event has no time"))
        if d.get("party_uuid") is None:
            add(("missing_event_party", "a delete event has no acting party"))
    required = (
        "notification_channel",
        "notification_sent",
        "altinn2_notification_id",
        "notification_address",
    )
    reminders: dict[tuple[Any, ...], set[bool]] = defaultdict(set)
    for n in rows.notifications:
        if any(n.get(k) is None for k in required):
            add(("incomplete_notification", "a notification lacks a required field"))
            continue
        key = (
            _second(n.get("notification_sent")),
            int(n["notification_channel"]),
            int(n["altinn2_notification_id"]),
            str(n.get("notification_address")),
        )
        reminders[key].add(bool(n.get("is_reminder")))
    if any(len(flags) > 1 for flags in reminders.values()):
        add(
            (
                "notification_reminder_conflict",
                "two notifications differ only in isReminder (A3 unique index: 500)",
            )
        )
    for f in rows.forwarding_events:
        if f.get("forwarded_by_party_uuid") is None or f.get("forwarded_on_date") is None:
            add(("missing_forwarding_party", "a forwarding event lacks its party or date"))
        if utf16_length(f.get("forwarding_text")) > 4000:
            add(("text_too_long", "forwardingText is longer than 4000"))
    refs = rows.external_references
    if len(refs) > 10:
        add(("too_many_external_references", "more than 10 external references"))
    if any(int(r["reference_type"]) in FORBIDDEN_REFERENCE_TYPES for r in refs):
        add(("forbidden_external_reference", "external reference of type 3 or 5"))
    if any(_blank(r.get("link_url")) for r in rows.reply_options):
        add(("missing_reply_link", "a reply option has no linkURL"))
    # one row per code: the quarantine table keeps (entity, id, reason) once
    seen: dict[str, str] = {}
    for code, detail in reasons:
        seen.setdefault(code, detail)
    return list(seen.items())


SYNC_STATUSES = frozenset({4, 6, 9, 7, 8, 13, 14})
"""Status codes `syncStatusEvent` acts on: Read, Confirmed, Archived and the delete codes
(PurgedByRecipient, PurgedByAltinn, SoftDeletedByRecipient, RestoredByRecipient); A3 logs and
ignores every other code (a3-correspondence §1.7, sync-and-delegations §1.1)."""


@dataclass(frozen=True)
class SyncRequests:
    """What step 2.2 sends A3 for one element's new events (a3-correspondence §1.7): the
    bodies of `syncStatusEvent`, `syncNotificationEvent` and `syncForwardingEvent` (None when
    there is nothing for that endpoint; each list has at least one item), in that order, how
    many status events were left out because A3 ignores their code, and how many because they
    came from A3 in the first place (`echoes_suppressed`)."""

    status: dict[str, Any] | None
    notification: dict[str, Any] | None
    forwarding: dict[str, Any] | None
    skipped_by_rule: int
    echoes_suppressed: int = 0

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """`(endpoint, body)` in the order they are sent: status (and delete) events first,
        in time order, then notifications, then forwardings."""
        named = [
            ("syncStatusEvent", self.status),
            ("syncNotificationEvent", self.notification),
            ("syncForwardingEvent", self.forwarding),
        ]
        return [(endpoint, body) for endpoint, body in named if body is not None]

    @property
    def events(self) -> int:
        """Events to send: the items of every body."""
        return sum(
            len(next(v for k, v in body.items() if k != "correspondenceId"))
            for _, body in self.calls
        )


def sync_requests(
    rows: ElementRows,
    a3_id: uuid.UUID,
    echoes: set[tuple[int, int, int]] | None = None,
) -> SyncRequests:
    """The sync bodies for the events in `rows` (only those A3 lacks: the caller reads the
    rows of newer loads) of the A3 correspondence `a3_id`.

    `echoes` are the element's events that came from A3 through the SBL bridge, as
    `(A3 status code, Unix second, A2 party id)` (`flytt.control.bridge_inbox.echo_keys`): a
    status or delete event with the same code, second and acting party is that event loaded
    back from A2, so it is not sent (counted in `echoes_suppressed`; A3 would drop it as a
    duplicate to the second anyway, a3-correspondence §1.5.3).
    """
    kept_rows, echoed = _without_echoes(rows, echoes or set())
    statuses = status_events(kept_rows)
    kept = [e for e in statuses if int(e["status"]) in SYNC_STATUSES]
    notes = notifications(rows)
    forwards = forwarding(rows)
    cid = str(a3_id)
    return SyncRequests(
        status={"correspondenceId": cid, "syncedStatusEvents": kept} if kept else None,
        notification=(
            {"correspondenceId": cid, "syncedNotificationEvents": notes} if notes else None
        ),
        forwarding={"correspondenceId": cid, "syncedForwardingEvents": forwards}
        if forwards
        else None,
        skipped_by_rule=len(statuses) - len(kept),
        echoes_suppressed=echoed,
    )


def _echo_key(code: Any, when: Any, party: Any) -> tuple[int, int, int] | None:
    if code is None or when is None or party is None:
        return None
    return int(code), int(when.timestamp()), int(party)


def _without_echoes(
    rows: ElementRows, echoes: set[tuple[int, int, int]]
) -> tuple[ElementRows, int]:
    if not echoes:
        return rows, 0
    statuses = [
        e
        for e in rows.status_events
        if _echo_key(e.get("status"), e.get("status_changed"), e.get("altinn2_actor_party_id"))
        not in echoes
    ]
    deletes = [
        d
        for d in rows.delete_events
        if _echo_key(
            d.get("migration_status"), d.get("event_occurred"), d.get("altinn2_actor_party_id")
        )
        not in echoes
    ]
    echoed = len(rows.status_events) - len(statuses) + len(rows.delete_events) - len(deletes)
    return replace(rows, status_events=statuses, delete_events=deletes), echoed
