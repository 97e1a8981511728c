"""The expected Dialogporten dialog of a migrated A3 correspondence (issue #5).

`create_dialog_request` predicts the dialog real A3 creates for a migrated correspondence:
`flytt expose` checks it before make-available (`exposure.expected.preflight`) and compares
what Dialogporten holds with it. The A3 replica has its own mapping
(`sandbox/a3/dialog_mapper.py`, written from A3's source), so the comparison can find an error
in this one. The rules follow how Altinn 3 Correspondence built dialogs for migrated
correspondences: `dialogporten.md` §2.4 (ids), §3.1-§3.2 (fields and activities), §5 (time
clamping) and `a3-correspondence.md` §4.6.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from markdown_it import MarkdownIt
from pydantic import BaseModel, ConfigDict

from exposure.model import (
    SELF_IDENTIFIED_RECIPIENT_PREFIX,
    A3Correspondence,
    CorrespondenceStatus,
    ForwardingEvent,
    Notification,
    NotificationChannel,
)
from flytt.altinn.uuid7 import deterministic_uuid7

CREATE_DIALOG_PATH = "/api/v1/serviceowner/dialogs"
CORRESPONDENCE_LABEL_PREFIX = "urn:altinn:correspondence-id:"
SELF_IDENTIFIED_PARTY_PREFIX = "urn:altinn:person:legacy-selfidentified:"
MAIN_CONTENT_MEDIA_TYPE = "application/vnd.dialogporten.frontchannelembed+json;type=markdown"
"""What A3 sends (CreateDialogRequestMapper.CreateCorrespondenceContent; dialogporten.md §3.1)."""
DEFAULT_CORRESPONDENCE_BASE_URL = "https://platform.altinn.no"

TEXT_LIMIT = 512
"""Title, summary and sender name, per localization, with `digdir:dialogporten.correspondence`.

A3 does not cut texts to it (CreateDialogRequestMapper sends `MessageTitle` as stored), so a
longer title makes Dialogporten answer 400 and make-available return `ok: true` with an empty
dialog id; `exposure.expected.preflight` stops such an element before the call."""
DESCRIPTION_LIMIT = 4095
"""Information activity description with the correspondence scope (dialogporten.md §1.5)."""
EXTERNAL_REFERENCE_LIMIT = 255
SEARCH_TAG_LIMIT = 63
CLOCK_TOLERANCE = timedelta(seconds=15)
VISIBLE_FROM_LEAD = timedelta(minutes=1)


class MappingError(ValueError):
    """The correspondence cannot become a dialog (A3's make-available reports it as an error).

    Raised for a purged correspondence (`code` `purged`), a Read/Confirmed event without a
    resolved acting party, or a self-identified recipient without a user name (both
    `party_not_resolvable`: A3's PartyUrnHelper throws when Register does not know the party,
    a3-correspondence.md §1.6, §4.6). The message holds no personal data.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class DialogRequest(BaseModel):
    """One create-dialog call: `POST {dialogporten}{path}?{params}` with `body` as JSON.

    `body` is the `CreateDialog` document (camelCase, times as ISO-8601 UTC strings) that the
    official OpenAPI document validates; `params` carries the hidden `isSilentUpdate=true`.
    """

    model_config = ConfigDict(frozen=True)

    dialog_id: UUID
    path: str = CREATE_DIALOG_PATH
    params: dict[str, str]
    body: dict[str, Any]


def create_dialog_request(
    correspondence: A3Correspondence,
    *,
    now: datetime,
    correspondence_base_url: str = DEFAULT_CORRESPONDENCE_BASE_URL,
    silent: bool = True,
) -> DialogRequest:
    """Compute the create-dialog request A3 sends for a migrated correspondence.

    Args:
        correspondence: the A3 correspondence with its history, party URNs resolved.
        now: the current time (aware); the result depends on it only through clamping of
            future times and dropping of past due dates, so callers fix it in tests.
        correspondence_base_url: HTTPS base of the A3 Correspondence API, used for the
            front-channel-embed URL of the main content.
        silent: send `isSilentUpdate=true` (make-available list/single mode always does).

    Returns:
        The `DialogRequest`; its `body` holds: deterministic UUIDv7 `id` (§2.4), `party`,
        `serviceResource`, `status`, `systemLabel`, `createdAt`, `updatedAt` (first Published
        time clamped to now; absent without a Published status, as A3 sends none), `dueAt`
        only when still ahead, `visibleFrom` only when more than a minute ahead, `content`
        (title and sender name as stored, never cut; summary as plain text), the label
        `urn:altinn:correspondence-id:{id}`, and the activities sorted by time. Activity ids
        are flytt's own: A3 draws random ones, so `exposure.compare` matches activities by type
        and time, never by id.

    Raises:
        MappingError: see the class.
    """
    c = correspondence
    now = now.astimezone(UTC)
    if c.is_purged:
        raise MappingError("purged", f"correspondence {c.correspondence_id} is purged")
    # CreateCorrespondenceDialog: createdAt = Created, not after the first Published time;
    # updatedAt = that time clamped to now, and absent without a Published status (then
    # Dialogporten sets it to the time of creation, dialogporten#3849).
    published = c.first(CorrespondenceStatus.PUBLISHED)
    created_at = _utc(c.created)
    updated_at: datetime | None = None
    if published is not None:
        created_at = min(created_at, _utc(published.status_changed))
        updated_at = min(_utc(published.status_changed), now)
    language = _language(c.content.language)

    content: dict[str, Any] = {
        "title": _text(c.content.message_title, language),
        "mainContentReference": {
            "mediaType": MAIN_CONTENT_MEDIA_TYPE,
            "value": [
                {
                    "languageCode": language,
                    "value": f"{correspondence_base_url.rstrip('/')}/correspondence/api/v1/"
                    f"correspondence/{c.correspondence_id}/content",
                }
            ],
        },
    }
    summary = _plain(c.content.message_summary)
    if summary:
        content["summary"] = _text(summary, language)
    if c.message_sender and c.message_sender.strip():
        content["senderName"] = _text(c.message_sender, language)

    body: dict[str, Any] = {
        "id": str(dialog_id(c.correspondence_id, c.created, now=now)),
        "serviceResource": f"urn:altinn:resource:{c.resource_id}",
        "party": party_urn(c),
        "status": (
            "RequiresAttention"
            if c.is_confirmation_needed and not c.is_confirmed
            else "NotApplicable"
        ),
        "systemLabel": system_label(c),
        "createdAt": _iso(created_at),
        "content": content,
        "serviceOwnerContext": {"serviceOwnerLabels": [{"value": correspondence_label(c)}]},
        "activities": _activities(c, now=now),
    }
    if updated_at is not None:
        body["updatedAt"] = _iso(updated_at)
    if c.senders_reference:
        body["externalReference"] = c.senders_reference
    if c.due_date_time is not None and _utc(c.due_date_time) > now:
        body["dueAt"] = _iso(_utc(c.due_date_time))
    if _utc(c.requested_publish_time) >= now + VISIBLE_FROM_LEAD:
        body["visibleFrom"] = _iso(_utc(c.requested_publish_time))
    tags = _search_tags(c.property_list)
    if tags:
        body["searchTags"] = [{"value": t} for t in tags]
    return DialogRequest(
        dialog_id=UUID(body["id"]),
        params={"isSilentUpdate": "true"} if silent else {},
        body=body,
    )


def correspondence_label(correspondence: A3Correspondence) -> str:
    """The service-owner label `urn:altinn:correspondence-id:{id}` that dialoglookup uses."""
    return f"{CORRESPONDENCE_LABEL_PREFIX}{correspondence.correspondence_id}"


def party_urn(correspondence: A3Correspondence) -> str:
    """The dialog party: the recipient URN, lower-cased; self-identified users become
    `urn:altinn:person:legacy-selfidentified:{username}` (dialogporten.md §3.1).

    Raises:
        MappingError: a self-identified recipient has no user name.
    """
    recipient = correspondence.recipient.lower()
    if recipient.startswith(SELF_IDENTIFIED_RECIPIENT_PREFIX):
        username = correspondence.recipient_username
        if not username or ":" in username:
            raise MappingError(
                "party_not_resolvable",
                f"correspondence {correspondence.correspondence_id}: self-identified "
                "recipient has no usable user name",
            )
        return f"{SELF_IDENTIFIED_PARTY_PREFIX}{username}".lower()
    return recipient


def system_label(correspondence: A3Correspondence) -> Literal["Bin", "Archive", "Default"]:
    """`Bin` if soft-deleted, else `Archive` if archived, else `Default` (§3.1)."""
    if correspondence.is_soft_deleted:
        return "Bin"
    if correspondence.is_archived:
        return "Archive"
    return "Default"


def dialog_id(correspondence_id: UUID, created: datetime, *, now: datetime) -> UUID:
    """Deterministic big-endian UUIDv7 dialog id (dialogporten.md §2.4).

    The 48-bit millisecond timestamp comes from `correspondence_id` if that is a UUIDv7, else
    from `created`; it is clamped to `now` when later than `now` + 15 s. The other bits come
    from SHA-256 of `"{correspondence_id hex}:{unix ms}"`.
    """
    if correspondence_id.version == 7:
        ms = correspondence_id.int >> 80
    else:
        ms = int(_utc(created).timestamp() * 1000)
    now_ms = int(now.timestamp() * 1000)
    if ms > now_ms + int(CLOCK_TOLERANCE.total_seconds() * 1000):
        ms = now_ms
    return deterministic_uuid7(ms, f"{correspondence_id.hex}:{ms}")


def _activities(c: A3Correspondence, *, now: datetime) -> list[dict[str, Any]]:
    language = _language(c.content.language)
    activities: list[tuple[datetime, dict[str, Any]]] = []
    # GetActivitiesForMigratedCorrespondence: a Confirmed activity only when the correspondence
    # needs confirmation (only then does A3 create its idempotency key).
    kinds = [(CorrespondenceStatus.READ, "CorrespondenceOpened")]
    if c.is_confirmation_needed:
        kinds.append((CorrespondenceStatus.CONFIRMED, "CorrespondenceConfirmed"))
    for status, kind in kinds:
        event = c.first(status)
        if event is None:
            continue
        if not event.party_urn:
            raise MappingError(
                "party_not_resolvable",
                f"correspondence {c.correspondence_id}: the party of the first "
                f"{status.name.lower()} event is not resolved",
            )
        at = _utc(event.status_changed)
        activities.append(
            (
                at,
                {
                    "id": str(_activity_id(c, kind, 0, at)),
                    "type": kind,
                    "createdAt": _iso(at),
                    "performedBy": _representative(event.party_urn),
                },
            )
        )
    for i, note in enumerate(sorted(c.notifications, key=lambda n: n.notification_sent)):
        at = _utc(note.notification_sent)
        activities.append(
            (
                at,
                {
                    "id": str(_activity_id(c, "notification", i, at)),
                    "type": "Information",
                    "createdAt": _iso(at),
                    "performedBy": {"actorType": "ServiceOwner"},
                    "description": _notification_text(note, language),
                },
            )
        )
    for i, fwd in enumerate(sorted(c.forwarding_events, key=lambda f: f.forwarded_on_date)):
        if not fwd.forwarded_by_party_urn:
            continue  # BuildForwardingActivities logs and skips an event it cannot build
        text = _forwarding_text(fwd, c.content.message_title, language)
        if text is None:
            continue
        at = _utc(fwd.forwarded_on_date)
        activities.append(
            (
                at,
                {
                    "id": str(_activity_id(c, "forwarding", i, at)),
                    "type": "Information",
                    "createdAt": _iso(at),
                    "performedBy": _representative(fwd.forwarded_by_party_urn),
                    "description": text,
                },
            )
        )
    activities.sort(key=lambda pair: pair[0])
    return [a for _, a in activities]


def _activity_id(c: A3Correspondence, kind: str, index: int, at: datetime) -> UUID:
    ms = int(at.timestamp() * 1000)
    return deterministic_uuid7(ms, f"{c.correspondence_id.hex}:{kind}:{index}:{ms}")


def _representative(urn: str) -> dict[str, str]:
    return {"actorType": "PartyRepresentative", "actorId": urn.lower()}


# Wording after Altinn Correspondence's DialogportenText (nb/nn/en), see dialogporten.md §3.2.
_NOTIFICATION = {
    "nb": ("Varsel om mottatt melding sendt til {0} på {1}.",
           "Revarsel om mottatt melding sendt til {0} på {1}."),
    "nn": ("Varsel om mottatt melding sendt til {0} på {1}.",
           "Revarsel om mottatt melding sendt til {0} på {1}."),
    "en": ("Notification about received message sent to {0} on {1}.",
           "Reminder notification about received message sent to {0} on {1}."),
}  # fmt: skip
_FORWARDING = {
    "nb": ('delte "{0}" med {1}', 'videresendte "{0}" til {1}', 'sendte "{0}" til {1}',
           ' og skrev: "{0}"'),
    "nn": ('delte "{0}" med {1}', 'videresendte "{0}" til {1}', 'sendte "{0}" til {1}',
           ' og skrev: "{0}"'),
    "en": ('shared "{0}" with {1}', 'forwarded "{0}" to {1}', 'sent "{0}" to {1}',
           ' with note: "{0}"'),
}  # fmt: skip
MAILBOX_SUPPLIERS = {
    "urn:altinn:organization:identifier-no:984661185": "Digipost",
    "urn:altinn:organization:identifier-no:922020175": "e-Boks",
    "urn:altinn:organization:identifier-no:996460320": "e-Boks",
}
"""DialogportenService.BuildForwardingActivity: the mailbox suppliers A3 names."""


def _notification_text(note: Notification, language: str) -> list[dict[str, str]]:
    texts = []
    for lang in _ordered_languages(language):
        first, reminder = _NOTIFICATION[lang]
        if note.notification_channel == NotificationChannel.EMAIL:
            channel = "Email" if lang == "en" else "e-post"
        else:
            channel = "SMS"
        text = (reminder if note.is_reminder else first).format(note.notification_address, channel)
        texts.append({"languageCode": lang, "value": text})
    return texts


def _forwarding_text(
    fwd: ForwardingEvent, title: str, language: str
) -> list[dict[str, str]] | None:
    """DialogportenText for a forwarding event, or None when A3 would skip the event (shared
    with a user it cannot name, unknown mailbox supplier, no target), as
    DialogportenService.BuildForwardingActivity throws and BuildForwardingActivities skips."""
    texts = []
    supplier = MAILBOX_SUPPLIERS.get((fwd.mailbox_supplier or "").lower())
    for lang in _ordered_languages(language):
        shared, emailed, mailbox, note = _FORWARDING[lang]
        if fwd.forwarded_to_user_uuid is not None:
            if not fwd.forwarded_to_user_name:
                return None
            text = shared.format(title, fwd.forwarded_to_user_name)
        elif fwd.forwarded_to_email:
            text = emailed.format(title, fwd.forwarded_to_email)
        elif fwd.mailbox_supplier and fwd.mailbox_supplier.strip():
            if supplier is None:
                return None
            text = mailbox.format(title, supplier)
        else:
            return None
        if fwd.forwarding_text and fwd.forwarding_text.strip():
            text += note.format(fwd.forwarding_text)
        texts.append({"languageCode": lang, "value": text})
    return texts


def _ordered_languages(language: str) -> list[str]:
    return [language, *(lang for lang in ("nb", "nn", "en") if lang != language)]


def _language(code: str) -> str:
    code = (code or "nb").strip().lower().split("-")[0]
    return code if code in ("nb", "nn", "en") else "nb"


def _text(value: str, language: str) -> dict[str, Any]:
    return {"mediaType": "text/plain", "value": [{"languageCode": language, "value": value}]}


_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _plain(value: str | None) -> str:
    """The summary as A3 sends it (TextValidation.StripSummaryForHtmlAndMarkdown, §3.1):
    Markdown rendered to HTML, tags removed by regex, whitespace collapsed, trimmed; HTML
    entities the renderer wrote (`&amp;`) are not decoded."""
    if not value:
        return ""
    html = _MARKDOWN.render(value)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", "", html)).strip()


def _search_tags(properties: dict[str, str]) -> list[str]:
    """CreateDialogRequestMapper.GetSearchTagsForCorrespondence: each value trimmed, skipped
    when shorter than 3, cut to 63, then exact duplicates removed (DistinctBy value)."""
    tags: list[str] = []
    for raw in properties.values():
        tag = (raw or "").strip()
        if len(tag) < 3:
            continue
        tag = tag[:SEARCH_TAG_LIMIT]
        if tag not in tags:
            tags.append(tag)
    return tags


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
