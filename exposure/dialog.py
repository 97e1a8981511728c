"""The expected Dialogporten dialog of a migrated A3 correspondence (issue #5).

`create_dialog_request` is the one mapping: the A3 sandbox's make-available creates its dialogs
with it, and `flytt expose` compares what Dialogporten holds with it. The rules follow how Altinn
3 Correspondence built dialogs for migrated correspondences: `dialogporten.md` §2.4 (ids),
§3.1-§3.2 (fields and activities), §5 (time clamping) and `a3-correspondence.md` §4.6.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
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

CREATE_DIALOG_PATH = "/api/v1/serviceowner/dialogs"
CORRESPONDENCE_LABEL_PREFIX = "urn:altinn:correspondence-id:"
SELF_IDENTIFIED_PARTY_PREFIX = "urn:altinn:person:legacy-selfidentified:"
MAIN_CONTENT_MEDIA_TYPE = "application/vnd.dialogporten.frontchannelembed-url;type=text/markdown"
DEFAULT_CORRESPONDENCE_BASE_URL = "https://platform.altinn.no"

TEXT_LIMIT = 512
"""Title, summary and sender name, per localization, with `digdir:dialogporten.correspondence`."""
DESCRIPTION_LIMIT = 4095
"""Information activity description with the correspondence scope (dialogporten.md §1.5)."""
EXTERNAL_REFERENCE_LIMIT = 255
SEARCH_TAG_LIMIT = 63
CLOCK_TOLERANCE = timedelta(seconds=15)
VISIBLE_FROM_LEAD = timedelta(minutes=1)


class MappingError(ValueError):
    """The correspondence cannot become a dialog (A3's make-available reports it as an error).

    Raised for a purged correspondence, a Read/Confirmed event without a resolved acting party,
    or a self-identified recipient without a user name (a3-correspondence.md §1.6, §4.6).
    The message holds no personal data.
    """


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
        `serviceResource`, `status`, `systemLabel`, `createdAt`/`updatedAt` (both always,
        never in the future), `dueAt` only when still ahead, `visibleFrom` only when more than a
        minute ahead, plain-text `content`, the label `urn:altinn:correspondence-id:{id}`, and
        the activities sorted by time.

    Raises:
        MappingError: see the class.
    """
    c = correspondence
    now = now.astimezone(UTC)
    if c.is_purged:
        raise MappingError(f"correspondence {c.correspondence_id} is purged")
    published = c.first(CorrespondenceStatus.PUBLISHED)
    publish_time = _utc(published.status_changed if published else c.requested_publish_time)
    updated_at = min(publish_time, now)
    created_at = min(_utc(c.created), updated_at)
    language = _language(c.content.language)

    content: dict[str, Any] = {
        "title": _text(_plain(c.content.message_title), language),
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
        content["senderName"] = _text(_plain(c.message_sender), language)

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
        "updatedAt": _iso(updated_at),
        "content": content,
        "serviceOwnerContext": {"serviceOwnerLabels": [{"value": correspondence_label(c)}]},
        "activities": _activities(c, now=now),
    }
    if c.senders_reference:
        body["externalReference"] = c.senders_reference[:EXTERNAL_REFERENCE_LIMIT]
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
                f"correspondence {correspondence.correspondence_id}: self-identified "
                "recipient has no usable user name"
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
    return uuid7_from(ms, f"{correspondence_id.hex}:{ms}")


def uuid7_from(unix_ms: int, seed: str) -> UUID:
    """A UUIDv7 with timestamp `unix_ms` and the 74 other bits from SHA-256 of `seed`."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    rand_a = digest >> (256 - 12)
    rand_b = (digest >> (256 - 12 - 62)) & ((1 << 62) - 1)
    value = (
        ((unix_ms & ((1 << 48) - 1)) << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    )
    return UUID(int=value)


def _activities(c: A3Correspondence, *, now: datetime) -> list[dict[str, Any]]:
    language = _language(c.content.language)
    activities: list[tuple[datetime, dict[str, Any]]] = []
    for status, kind in (
        (CorrespondenceStatus.READ, "CorrespondenceOpened"),
        (CorrespondenceStatus.CONFIRMED, "CorrespondenceConfirmed"),
    ):
        event = c.first(status)
        if event is None:
            continue
        if not event.party_urn:
            raise MappingError(
                f"correspondence {c.correspondence_id}: the party of the first "
                f"{status.name.lower()} event is not resolved"
            )
        at = min(_utc(event.status_changed), now)
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
        at = min(_utc(note.notification_sent), now)
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
            raise MappingError(
                f"correspondence {c.correspondence_id}: the party of a forwarding event is "
                "not resolved"
            )
        at = min(_utc(fwd.forwarded_on_date), now)
        activities.append(
            (
                at,
                {
                    "id": str(_activity_id(c, "forwarding", i, at)),
                    "type": "Information",
                    "createdAt": _iso(at),
                    "performedBy": _representative(fwd.forwarded_by_party_urn),
                    "description": _forwarding_text(fwd, language),
                },
            )
        )
    activities.sort(key=lambda pair: pair[0])
    return [a for _, a in activities]


def _activity_id(c: A3Correspondence, kind: str, index: int, at: datetime) -> UUID:
    ms = int(at.timestamp() * 1000)
    return uuid7_from(ms, f"{c.correspondence_id.hex}:{kind}:{index}:{ms}")


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
    "nb": ("delte meldingen med {0}", "videresendte meldingen til {0}",
           "sendte meldingen til postkasseleverandør {0}", " og skrev: {0}"),
    "nn": ("delte meldinga med {0}", "vidaresende meldinga til {0}",
           "sende meldinga til postkasseleverandør {0}", " og skreiv: {0}"),
    "en": ("shared the message with {0}", "forwarded the message to {0}",
           "sent the message to mailbox supplier {0}", " with note: {0}"),
}  # fmt: skip


def _notification_text(note: Notification, language: str) -> list[dict[str, str]]:
    texts = []
    for lang in _ordered_languages(language):
        first, reminder = _NOTIFICATION[lang]
        if note.notification_channel == NotificationChannel.EMAIL:
            channel = "Email" if lang == "en" else "e-post"
        else:
            channel = "SMS"
        text = (reminder if note.is_reminder else first).format(note.notification_address, channel)
        texts.append({"languageCode": lang, "value": text[:DESCRIPTION_LIMIT]})
    return texts


def _forwarding_text(fwd: ForwardingEvent, language: str) -> list[dict[str, str]]:
    texts = []
    for lang in _ordered_languages(language):
        shared, emailed, mailbox, note = _FORWARDING[lang]
        if fwd.mailbox_supplier:
            text = mailbox.format(fwd.mailbox_supplier)
        elif fwd.forwarded_to_email:
            text = emailed.format(fwd.forwarded_to_email)
        else:
            text = shared.format(fwd.forwarded_to_user_name or fwd.forwarded_to_user_uuid or "")
        if fwd.forwarding_text and fwd.forwarding_text.strip():
            text += note.format(_plain(fwd.forwarding_text))
        texts.append({"languageCode": lang, "value": text[:DESCRIPTION_LIMIT]})
    return texts


def _ordered_languages(language: str) -> list[str]:
    return [language, *(lang for lang in ("nb", "nn", "en") if lang != language)]


def _language(code: str) -> str:
    code = (code or "nb").strip().lower().split("-")[0]
    return code if code in ("nb", "nn", "en") else "nb"


def _text(value: str, language: str) -> dict[str, Any]:
    return {
        "mediaType": "text/plain",
        "value": [{"languageCode": language, "value": value[:TEXT_LIMIT]}],
    }


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


_MARKDOWN = MarkdownIt("commonmark", {"html": True})


def _plain(value: str | None) -> str:
    """Plain text of a string that may hold HTML or Markdown (summary rule, §3.1)."""
    if not value:
        return ""
    extractor = _TextExtractor()
    extractor.feed(_MARKDOWN.render(value))
    extractor.close()
    return " ".join("".join(extractor.parts).split())


def _search_tags(properties: dict[str, str]) -> list[str]:
    tags: list[str] = []
    seen: set[str] = set()
    for raw in properties.values():
        tag = raw.strip()[:SEARCH_TAG_LIMIT].strip()
        if len(tag) < 3 or tag.lower() in seen:
            continue
        seen.add(tag.lower())
        tags.append(tag)
    return tags


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
