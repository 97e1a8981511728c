"""The A3 replica's own dialog mapping: a stored correspondence → Dialogporten create request.

Written from Altinn/altinn-correspondence at `9f4c2ef8^` (not from flytt's exposure package):
`src/Altinn.Correspondence.Integrations/Dialogporten/Mappers/CreateDialogRequestMapper.cs`
(CreateCorrespondenceDialog), `.../Dialogporten/DialogportenService.cs`
(CreateCorrespondenceDialogForMigratedCorrespondence, BuildForwardingActivity, GetDialogParty),
`src/Altinn.Correspondence.Core/Services/PartyUrnHelper.cs` and `.../Mappers/DialogportenText.cs`;
reference `a3-correspondence.md` §4.6 and `dialogporten.md` §3.1-§3.2.

In: a connection to the replica's tables, a correspondence id, a party resolver (Register), now.
Out: `DialogCreate` (path, params, body, activity ids to keep) or an exception whose text is what
make-available reports.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from markdown_it import MarkdownIt

from sandbox.a3 import tables as t
from sandbox.a3.migration import uuid7

PUBLISHED, READ, CONFIRMED, PURGED_BY_RECIPIENT, PURGED_BY_ALTINN, ARCHIVED = 2, 4, 6, 7, 8, 9
SOFT_DELETED, RESTORED = 3, 4  # CorrespondenceDeleteEventType (a3-correspondence.md §1.3)
OPENED_ACTION, CONFIRMED_ACTION = READ, CONFIRMED  # IdempotencyKeys.StatusAction (§2.2)
DIALOGS = "/api/v1/serviceowner/dialogs"
MAIN_CONTENT_MEDIA_TYPE = "application/vnd.dialogporten.frontchannelembed+json;type=markdown"
DOWNLOAD_ALL_LIMIT = 2_000_000_000
"""Bytes: the "Alle vedlegg" zip entry only below this total (GetAttachmentsForCorrespondence;
`EnableDownloadAll` is true in appsettings.production.json)."""
ATTACHMENT_MEDIA_TYPES = {
    ".pdf": "application/pdf", ".xml": "application/xml", ".html": "text/html",
    ".json": "application/json", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".png": "image/png", ".csv": "text/csv", ".txt": "text/plain", ".zip": "application/zip",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "PPT", ".pps": "PPS", ".gif": "GIF", ".bmp": "BMP", ".dcm": "DCM",
    ".dicom": "DICOM",
}  # fmt: skip
# DialogportenService.BuildForwardingActivity: known mailbox suppliers.
MAILBOX_SUPPLIERS = {
    "urn:altinn:organization:identifier-no:984661185": "Digipost",
    "urn:altinn:organization:identifier-no:922020175": "e-Boks",
    "urn:altinn:organization:identifier-no:996460320": "e-Boks",
}


@dataclass
class DialogCreate:
    """The POST to Dialogporten and the activity ids A3 keeps after success."""

    path: str
    params: dict[str, str]
    body: dict[str, Any]
    idempotency_keys: list[dict[str, Any]] = field(default_factory=list)
    forwarding_activity_ids: dict[UUID, UUID] = field(default_factory=dict)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def deterministic_dialog_id(corr_id: UUID, created: datetime, now: datetime) -> UUID:
    """CreateDialogRequestMapper.GetDialogId / CreateDeterministicUuidV7.

    Timestamp from the correspondence id if it is a UUIDv7, else Created; clamped to now when
    more than 15 s ahead; the random part is SHA-256 of "{id:N}:{unix ms}".
    """
    hex_id = corr_id.hex
    ms = int(hex_id[:12], 16) if hex_id[12] == "7" else int(created.timestamp() * 1000)
    if ms > (now + timedelta(seconds=15)).timestamp() * 1000:
        ms = int(now.timestamp() * 1000)
    ms = max(0, ms)
    ts = f"{ms & 0xFFFFFFFFFFFF:012x}"
    digest = hashlib.sha256(f"{hex_id}:{ms}".encode()).hexdigest()
    variant = (int(digest[3], 16) & 0x3) | 0x8
    return UUID(f"{ts[:8]}-{ts[8:12]}-7{digest[:3]}-{variant:x}{digest[4:7]}-{digest[7:19]}")


_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def strip_summary(value: str) -> str:
    """TextValidation.StripSummaryForHtmlAndMarkdown: Markdown → HTML (Markdig with advanced
    extensions; markdown-it's CommonMark with tables and strikethrough stands in), then every
    `<...>` removed by regex, whitespace runs → one space, trimmed. Entities the renderer
    wrote (`&amp;`, `&quot;`, ...) stay as they are: A3 does not decode them."""
    if not value:
        return value
    html = _MARKDOWN.render(value)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", "", html)).strip()


def _value(value: str, language: str, media: str = "text/plain") -> dict[str, Any]:
    return {"mediaType": media, "value": [{"languageCode": language, "value": value}]}


def _three(nb: str, nn: str, en: str) -> list[dict[str, str]]:
    return [
        {"languageCode": "nb", "value": nb},
        {"languageCode": "nn", "value": nn},
        {"languageCode": "en", "value": en},
    ]


def _note_text(reminder: bool, address: str | None, channel: int) -> list[dict[str, str]]:
    """DialogportenText NotificationSent / NotificationReminderSent.

    Channel token: Email (0) → "Email", anything else "SMS"
    (CreateDialogRequestMapper.GetActivityFromAltinn2Notification); then
    DialogportenText.NormalizeNotificationChannel writes Email as "e-post" in nb/nn. Without an
    address no tokens are passed and GetDialogportenText throws ArgumentException ("expects two
    tokens"), which fails the whole make-available: raised here as ValueError.
    """
    if address is None:
        raise ValueError("NotificationSent expects two tokens (destination, channel)")
    email = channel == 0
    re_nb = "Revarsel" if reminder else "Varsel"
    re_en = "Reminder notification" if reminder else "Notification"
    no = "e-post" if email else "SMS"
    return _three(
        f"{re_nb} om mottatt melding sendt til {address} på {no}.",
        f"{re_nb} om mottatt melding sendt til {address} på {no}.",
        f"{re_en} about received message sent to {address} on {'Email' if email else 'SMS'}.",
    )


# DialogportenText: CorrespondenceInstanceDelegated / ForwardedToEmail / ForwardedToMailboxSupplier
# (nb and nn read the same at this snapshot).
_FORWARD = {
    "delegated": ('delte "{0}" med {1}', 'shared "{0}" with {1}'),
    "email": ('videresendte "{0}" til {1}', 'forwarded "{0}" to {1}'),
    "mailbox": ('sendte "{0}" til {1}', 'sent "{0}" to {1}'),
}


def _forward_text(kind: str, title: str, target: str, note: str | None) -> list[dict[str, str]]:
    """The three texts of a forwarding activity; the note only when not blank."""
    nb, en = _FORWARD[kind]
    has_note = bool(note and note.strip())
    nb_text = nb.format(title, target) + (f' og skrev: "{note}"' if has_note else "")
    en_text = en.format(title, target) + (f' with note: "{note}"' if has_note else "")
    return _three(nb_text, nb_text, en_text)


def _attachment_media_type(file_name: str | None) -> str | None:
    """DialogportenAttachmentMediaTypeMapper.GetDialogportenAttachmentMediaTypeForFileName."""
    if not file_name or not file_name.strip():
        return None
    dot = file_name.rfind(".")
    ext = file_name[dot:].lower() if dot >= 0 else ""
    return ATTACHMENT_MEDIA_TYPES.get(ext)


def build_dialog(
    conn: sa.Connection,
    corr_id: UUID,
    resolve: Callable[[UUID], str | None],
    *,
    now: datetime,
    base_url: str,
    silent: bool = True,
    display_name: Callable[[UUID], str | None] | None = None,
) -> DialogCreate | None:
    """Build the create request for a migrated correspondence; None when it does not exist.

    `resolve` is Register's party UUID → URN (None: unknown); `display_name` its party name
    (BuildForwardingActivity names the user a message was shared with; default: the URN).
    `now` is an aware time; all times in the body are UTC ISO-8601. Where real A3 draws random
    ids (activities without a stored key, attachments) this draws new UUIDv7s too.

    Raises:
        ValueError: purged (DialogportenService / handler "is purged and cannot be made
            available").
        LookupError: a self-identified recipient or the party of the first Read/Confirmed
            status is not in Register (GetDialogParty; GetActivityFromStatus since PR #1952).
        ValueError: also an A2 notification without an address (DialogportenText throws).
    """
    name_of = display_name or resolve
    c = conn.execute(sa.select(t.correspondences).where(t.correspondences.c.Id == corr_id))
    row = c.mappings().first()
    if row is None:
        return None
    content = (
        conn.execute(sa.select(t.contents).where(t.contents.c.CorrespondenceId == corr_id))
        .mappings()
        .first()
    )
    statuses = sorted(
        conn.execute(sa.select(t.statuses).where(t.statuses.c.CorrespondenceId == corr_id))
        .mappings()
        .all(),
        key=lambda s: s["StatusChanged"],
    )
    if any(s["Status"] in (PURGED_BY_RECIPIENT, PURGED_BY_ALTINN) for s in statuses):
        raise ValueError(f"Correspondence {corr_id} is purged and cannot be made available")
    deletes = conn.execute(
        sa.select(t.delete_events).where(t.delete_events.c.CorrespondenceId == corr_id)
    ).mappings()
    last: dict[int, datetime] = {}
    for d in deletes:
        if d["EventType"] in (SOFT_DELETED, RESTORED):
            last[d["EventType"]] = max(
                last.get(d["EventType"], d["EventOccurred"]), d["EventOccurred"]
            )
    # MakeCorrespondenceAvailable: soft-deleted = latest SoftDeleted newer than latest Restored.
    soft_deleted = SOFT_DELETED in last and (
        RESTORED not in last or last[SOFT_DELETED] > last[RESTORED]
    )

    language = (content["Language"] if content else "nb").lower()
    title = content["MessageTitle"] if content else ""
    base = base_url.rstrip("/") + f"/correspondence/api/v1/correspondence/{corr_id}"

    # DialogportenService.GetDialogParty: party:uuid recipients → legacy-selfidentified username.
    party = str(row["Recipient"])
    if party.startswith("urn:altinn:party:uuid:"):
        urn = resolve(UUID(party.removeprefix("urn:altinn:party:uuid:"))) or ""
        prefix = "urn:altinn:person:legacy-selfidentified:"
        if not urn.startswith(prefix):
            raise LookupError(
                "Could not find recipient party in Altinn Register for self-identified "
                f"correspondence with recipient urn {party}"
            )
        party = urn

    # CreateCorrespondenceDialog: first Published → updatedAt (clamped to now), createdAt not
    # after it; no Published → no updatedAt at all (Dialogporten then uses now, dialogporten#3849).
    published = next((s["StatusChanged"] for s in statuses if s["Status"] == PUBLISHED), None)
    created = row["Created"]
    if published is not None and created > published:
        created = published
    if published is not None and published > now:
        published = now
    due = row["DueDateTime"]
    if due is not None and due < now:  # includeActivities (migrated): past DueAt dropped
        due = None
    confirmed = any(s["Status"] == CONFIRMED for s in statuses)
    needs_confirm = bool(row["IsConfirmationNeeded"])

    keys = {
        k["StatusAction"]: k["Id"]
        for k in conn.execute(
            sa.select(t.idempotency_keys)
            .where(t.idempotency_keys.c.CorrespondenceId == corr_id)
            .where(t.idempotency_keys.c.IdempotencyType == 0)
        ).mappings()
    }
    activities: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    # CreateIdempotencyKeysForCorrespondence: an Opened key always, a Confirmed key only when
    # confirmation is needed; GetActivitiesForMigratedCorrespondence adds an activity only
    # when its key exists, so a Confirmed status without IsConfirmationNeeded gives none.
    wanted = [(READ, "CorrespondenceOpened")]
    if needs_confirm:
        wanted.append((CONFIRMED, "CorrespondenceConfirmed"))
    for status, kind in wanted:
        activity_id = keys.get(status) or uuid7()
        first = next((s for s in statuses if s["Status"] == status), None)
        if first is None:
            kept.append(
                {
                    "Id": activity_id,
                    "CorrespondenceId": corr_id,
                    "PartyUrn": None,
                    "StatusAction": status,
                    "IdempotencyType": 0,
                }
            )
            continue
        # PartyUrnHelper.GetDialogPortenActorIdsForStatusEvents + GetActivityFromStatus (#1952):
        # an unresolvable party throws, so make-available reports an error.
        actor = resolve(first["PartyUuid"])
        if not actor:
            raise LookupError(
                f"Failed to find party URN for PartyUuid {first['PartyUuid']} in activity for "
                f"correspondence {corr_id}. Status: {status}."
            )
        kept.append(
            {
                "Id": activity_id,
                "CorrespondenceId": corr_id,
                "PartyUrn": actor,
                "StatusAction": status,
                "IdempotencyType": 0,
            }
        )
        activities.append(
            {
                "id": str(activity_id),
                "type": kind,
                "createdAt": _iso(first["StatusChanged"]),
                "performedBy": {"actorType": "PartyRepresentative", "actorId": actor},
                "description": [],
            }
        )
    # GetActivitiesFromNotifications: one Information per A2 notification, actor ServiceOwner.
    for n in conn.execute(
        sa.select(t.notifications).where(t.notifications.c.CorrespondenceId == corr_id)
    ).mappings():
        if n["Altinn2NotificationId"] is None:
            continue
        activities.append(
            {
                "id": str(uuid7()),
                "type": "Information",
                "createdAt": _iso(n["NotificationSent"] or n["RequestedSendTime"]),
                "performedBy": {"actorType": "ServiceOwner"},
                "description": _note_text(
                    n["IsReminder"], n["NotificationAddress"], n["NotificationChannel"]
                ),
            }
        )
    forwarded: dict[UUID, UUID] = {}
    # BuildForwardingActivities: a forwarding event that cannot be built is skipped (logged).
    for f in sorted(
        conn.execute(
            sa.select(t.forwarding_events).where(t.forwarding_events.c.CorrespondenceId == corr_id)
        ).mappings(),
        key=lambda f: f["ForwardedOnDate"],
    ):
        by = resolve(f["ForwardedByPartyUuid"])
        if not by:
            continue
        if f["ForwardedToUserUuid"] is not None:
            to_user = name_of(f["ForwardedToUserUuid"])
            if not to_user:
                continue
            text = _forward_text("delegated", title, to_user, f["ForwardingText"])
        elif f["ForwardedToEmailAddress"]:
            text = _forward_text("email", title, f["ForwardedToEmailAddress"], f["ForwardingText"])
        elif f["MailboxSupplier"] and f["MailboxSupplier"].lower() in MAILBOX_SUPPLIERS:
            text = _forward_text(
                "mailbox",
                title,
                MAILBOX_SUPPLIERS[f["MailboxSupplier"].lower()],
                f["ForwardingText"],
            )
        else:
            continue
        activity_id = f["DialogActivityId"] or uuid7()
        forwarded[f["Id"]] = activity_id
        activities.append(
            {
                "id": str(activity_id),
                "type": "Information",
                "createdAt": _iso(f["ForwardedOnDate"]),
                "performedBy": {"actorType": "PartyRepresentative", "actorId": by},
                "description": text,
            }
        )
    activities.sort(key=lambda a: a["createdAt"])  # OrderBy(a => a.CreatedAt)

    summary = strip_summary((content["MessageSummary"] or "") if content else "")
    body_content: dict[str, Any] = {
        # Title is sent as stored, never truncated: Dialogporten refuses > 512 with 400.
        "title": _value(title, language),
        "mainContentReference": _value(
            f"{base}/content",
            language,
            MAIN_CONTENT_MEDIA_TYPE,
        ),
    }
    if summary:
        body_content["summary"] = _value(summary, language)
    if row["MessageSender"] and row["MessageSender"].strip():
        body_content["senderName"] = _value(row["MessageSender"], language)

    tags: list[dict[str, str]] = []
    for value in (row["PropertyList"] or {}).values():
        trimmed = str(value or "").strip()[:63]
        if len(trimmed) >= 3 and {"value": trimmed} not in tags:
            tags.append({"value": trimmed})

    api_actions: list[dict[str, Any]] = [
        {
            "action": "read",
            "name": "getCorrespondence",
            "endpoints": [{"httpMethod": "GET", "url": base}],
        },
        {
            "action": "write",
            "name": "purgeCorrespondence",
            "endpoints": [{"httpMethod": "DELETE", "url": f"{base}/purge"}],
        },
    ]
    if needs_confirm:
        api_actions.append(
            {
                "action": "write",
                "name": "confirmCorrespondence",
                "endpoints": [{"httpMethod": "POST", "url": f"{base}/confirm"}],
            }
        )
    # Content.Attachments → one downloadCorrespondenceAttachment API action each and the
    # dialog attachments (GetApiActionsForCorrespondence, GetAttachmentsForCorrespondence).
    linked = (
        conn.execute(
            sa.select(
                t.correspondence_attachments.c.AttachmentId,
                t.correspondence_attachments.c.ExpirationTime,
                t.attachments.c.FileName,
                t.attachments.c.DisplayName,
                t.attachments.c.AttachmentSize,
            )
            .join(t.attachments, t.attachments.c.Id == t.correspondence_attachments.c.AttachmentId)
            .join(
                t.contents,
                t.contents.c.Id == t.correspondence_attachments.c.CorrespondenceContentId,
            )
            .where(t.contents.c.CorrespondenceId == corr_id)
            .order_by(t.correspondence_attachments.c.Created, t.correspondence_attachments.c.Id)
        )
        .mappings()
        .all()
    )
    attachments: list[dict[str, Any]] = []
    for a in linked:
        url = f"{base}/attachment/{a['AttachmentId']}/download"
        api_actions.append(
            {
                "action": "read",
                "name": "downloadCorrespondenceAttachment",
                "endpoints": [{"httpMethod": "GET", "url": url}],
            }
        )
        entry: dict[str, Any] = {
            "id": str(uuid7()),
            "displayName": [{"languageCode": language, "value": a["DisplayName"] or a["FileName"]}],
            "urls": [
                {
                    "consumerType": "Gui",
                    "mediaType": _attachment_media_type(a["FileName"]),
                    "url": url,
                }
            ],
        }
        if a["ExpirationTime"] is not None:
            entry["expiresAt"] = _iso(a["ExpirationTime"])
        attachments.append(entry)
    if len(linked) >= 2 and sum(a["AttachmentSize"] or 0 for a in linked) < DOWNLOAD_ALL_LIMIT:
        attachments.insert(
            0,
            {
                "id": str(uuid7()),
                "displayName": _three("Alle vedlegg", "Alle vedlegg", "All attachments"),
                "urls": [
                    {
                        "consumerType": "Gui",
                        "mediaType": "application/zip",
                        "url": f"{base}/attachments/downloadall",
                    }
                ],
            },
        )
    gui_actions: list[dict[str, Any]] = []
    replies = (
        conn.execute(
            sa.select(t.reply_options).where(t.reply_options.c.CorrespondenceId == corr_id)
        )
        .mappings()
        .all()
    )
    if 0 < len(replies) <= 3:
        for r in replies:
            gui_actions.append(
                {
                    "action": "read",
                    "url": r["LinkURL"],
                    "httpMethod": "GET",
                    "priority": "Tertiary",
                    "title": [
                        dict(x, mediaType="text/plain")
                        for x in _three(
                            r["LinkText"] or "Gå til tjeneste",
                            r["LinkText"] or "Gå til teneste",
                            r["LinkText"] or "Go to service",
                        )
                    ],
                }
            )
    if needs_confirm and not confirmed:
        gui_actions.append(
            {
                "action": "read",
                "url": f"{base}/confirm",
                "httpMethod": "POST",
                "priority": "Primary",
                "title": [
                    dict(x, mediaType="text/plain") for x in _three("Bekreft", "Bekreft", "Confirm")
                ],
            }
        )
    gui_actions.append(
        {
            "action": "read",
            "url": f"{base}/purge",
            "httpMethod": "DELETE",
            "priority": "Tertiary",
            "isDeleteDialogAction": True,
            "title": [dict(x, mediaType="text/plain") for x in _three("Slett", "Slett", "Purge")],
        }
    )

    if soft_deleted:  # GetSystemLabelForCorrespondence (migrated only)
        label = "Bin"
    elif any(s["Status"] == ARCHIVED for s in statuses):
        label = "Archive"
    else:
        label = "Default"

    body: dict[str, Any] = {
        "id": str(deterministic_dialog_id(corr_id, row["Created"], now)),
        "serviceResource": f"urn:altinn:resource:{row['ResourceId']}",
        "party": party,
        "createdAt": _iso(created),
        "status": "RequiresAttention" if needs_confirm and not confirmed else "NotApplicable",
        "externalReference": row["SendersReference"],
        "content": body_content,
        "searchTags": tags,
        "apiActions": api_actions,
        "guiActions": gui_actions,
        "attachments": attachments,
        "activities": activities,
        "transmissions": [],
        "systemLabel": label,
        "serviceOwnerContext": {
            "serviceOwnerLabels": [{"value": f"urn:altinn:correspondence-id:{corr_id}"}]
        },
    }
    if published is not None:
        body["updatedAt"] = _iso(published)
    if row["RequestedPublishTime"] >= now + timedelta(minutes=1):
        body["visibleFrom"] = _iso(row["RequestedPublishTime"])
    if due is not None:
        body["dueAt"] = _iso(due)
    return DialogCreate(
        path=DIALOGS,
        params={"isSilentUpdate": "true"} if silent else {},
        body=body,
        idempotency_keys=kept,
        forwarding_activity_ids=forwarded,
    )
