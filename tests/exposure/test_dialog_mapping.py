"""The one dialog mapping (`exposure.dialog.create_dialog_request`) on the tricky cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from exposure.dialog import (
    MappingError,
    create_dialog_request,
    dialog_id,
)
from exposure.model import (
    A3Correspondence,
    CorrespondenceContent,
    CorrespondenceStatus,
    ForwardingEvent,
    Notification,
    NotificationChannel,
    StatusEvent,
    from_migration_request,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
CORR_ID = UUID("3f2b8c1e-5d4a-4b6c-9e7f-112233445566")  # a v4 id, as migration gave out
RECIPIENT = "urn:altinn:organization:identifier-no:991825827"
READER = "urn:altinn:person:identifier-no:01017012345"
S = CorrespondenceStatus


def event(status: S, at: datetime, urn: str | None = None) -> StatusEvent:
    return StatusEvent(status=status, status_changed=at, party_urn=urn)


def corr(**overrides: object) -> A3Correspondence:
    fields: dict[str, object] = {
        "correspondence_id": CORR_ID,
        "altinn2_correspondence_id": 412345678,
        "resource_id": "skd-migratedcorrespondence-1234-1",
        "sender": "urn:altinn:organization:identifier-no:974761076",
        "recipient": RECIPIENT.upper(),
        "senders_reference": "ref-1",
        "message_sender": "Skatteetaten",
        "content": CorrespondenceContent(
            language="nb", message_title="Vedtak", message_summary="<p>Om <b>skatt</b></p>"
        ),
        "created": datetime(2024, 3, 1, 8, 0, tzinfo=UTC),
        "requested_publish_time": datetime(2024, 3, 1, 8, 0, tzinfo=UTC),
        "status_events": (
            event(S.INITIALIZED, datetime(2024, 3, 1, 8, 0, tzinfo=UTC)),
            event(S.PUBLISHED, datetime(2024, 3, 1, 9, 0, tzinfo=UTC)),
        ),
    }
    fields.update(overrides)
    return A3Correspondence.model_validate(fields)


def body(c: A3Correspondence) -> dict:
    return create_dialog_request(c, now=NOW).body


def test_basic_dialog_fields() -> None:
    request = create_dialog_request(corr(), now=NOW)
    b = request.body
    assert request.params == {"isSilentUpdate": "true"}
    assert b["party"] == RECIPIENT
    assert b["serviceResource"] == "urn:altinn:resource:skd-migratedcorrespondence-1234-1"
    assert b["content"]["title"]["value"] == [{"languageCode": "nb", "value": "Vedtak"}]
    assert b["content"]["summary"]["value"][0]["value"] == "Om skatt"
    assert b["content"]["senderName"]["value"][0]["value"] == "Skatteetaten"
    assert b["content"]["mainContentReference"]["value"][0]["value"] == (
        f"https://platform.altinn.no/correspondence/api/v1/correspondence/{CORR_ID}/content"
    )
    assert b["serviceOwnerContext"]["serviceOwnerLabels"] == [
        {"value": f"urn:altinn:correspondence-id:{CORR_ID}"}
    ]
    assert b["status"] == "NotApplicable"
    assert b["systemLabel"] == "Default"
    assert b["createdAt"] == "2024-03-01T08:00:00Z"
    assert b["updatedAt"] == "2024-03-01T09:00:00Z"  # first Published
    assert b["externalReference"] == "ref-1"
    assert b["activities"] == []


def test_dialog_id_is_deterministic_uuid7_from_created() -> None:
    a, b = body(corr()), body(corr())
    value = UUID(a["id"])
    assert a["id"] == b["id"]
    assert value.version == 7
    assert value.int >> 80 == int(datetime(2024, 3, 1, 8, 0, tzinfo=UTC).timestamp() * 1000)
    assert (value.int >> 62) & 0b11 == 0b10  # RFC 4122 variant
    other = UUID(body(corr(correspondence_id=UUID(int=CORR_ID.int + 1)))["id"])
    assert other != value


def test_dialog_id_takes_timestamp_of_uuid7_correspondence_id_and_clamps_future() -> None:
    v7 = UUID("018f3173-7000-7b29-9ae7-f093dc439679")
    assert dialog_id(v7, NOW, now=NOW).int >> 80 == v7.int >> 80
    future = NOW + timedelta(days=3)
    clamped = dialog_id(CORR_ID, future, now=NOW)
    assert clamped.int >> 80 == int(NOW.timestamp() * 1000)


def test_self_identified_recipient_becomes_legacy_selfidentified_urn() -> None:
    c = corr(
        recipient="urn:altinn:party:uuid:7d6f0a2e-1111-4222-8333-444455556666",
        recipient_username="Kari.Nordmann",
    )
    assert body(c)["party"] == "urn:altinn:person:legacy-selfidentified:kari.nordmann"
    with pytest.raises(MappingError):
        body(corr(recipient="urn:altinn:party:uuid:7d6f0a2e-1111-4222-8333-444455556666"))


def test_past_due_date_is_dropped_future_one_kept() -> None:
    assert "dueAt" not in body(corr(due_date_time=datetime(2024, 4, 1, tzinfo=UTC)))
    due = NOW + timedelta(days=10)
    assert body(corr(due_date_time=due))["dueAt"] == due.isoformat().replace("+00:00", "Z")


def test_confirmation_needed_and_missing_requires_attention() -> None:
    assert body(corr(is_confirmation_needed=True))["status"] == "RequiresAttention"
    confirmed = corr(
        is_confirmation_needed=True,
        status_events=(event(S.CONFIRMED, datetime(2024, 3, 5, tzinfo=UTC), READER),),
    )
    b = body(confirmed)
    assert b["status"] == "NotApplicable"
    assert [a["type"] for a in b["activities"]] == ["CorrespondenceConfirmed"]


def test_system_label_bin_beats_archive_and_restore_returns_to_archive() -> None:
    t = datetime(2024, 3, 2, tzinfo=UTC)
    archived = (event(S.ARCHIVED, t),)
    deleted = (*archived, event(S.SOFT_DELETED_BY_RECIPIENT, t + timedelta(days=1)))
    restored = (*deleted, event(S.RESTORED_BY_RECIPIENT, t + timedelta(days=2)))
    assert body(corr(status_events=archived))["systemLabel"] == "Archive"
    assert body(corr(status_events=deleted))["systemLabel"] == "Bin"
    assert body(corr(status_events=restored))["systemLabel"] == "Archive"
    # delete after restore (events listed out of order): the latest delete wins
    again = (*restored[::-1], event(S.SOFT_DELETED_BY_RECIPIENT, t + timedelta(days=3)))
    assert body(corr(status_events=again))["systemLabel"] == "Bin"


def test_times_as_a3_sends_them_and_no_updated_at_without_published() -> None:
    # CreateCorrespondenceDialog: createdAt = Created but not after the first Published time;
    # only updatedAt (= that time) is clamped to now; activities keep their own times.
    future = NOW + timedelta(days=2)
    c = corr(
        created=future + timedelta(hours=1),
        requested_publish_time=future,
        status_events=(event(S.PUBLISHED, future), event(S.READ, future, READER)),
    )
    b = body(c)
    assert b["createdAt"] == "2026-12-01T12:00:00Z"
    assert b["updatedAt"] == "2026-11-29T12:00:00Z"
    assert b["activities"][0]["createdAt"] == "2026-12-01T12:00:00Z"
    assert b["visibleFrom"] == future.isoformat().replace("+00:00", "Z")
    # no Published status: A3 sends no updatedAt (Dialogporten then sets now, dialogporten#3849)
    never_published = body(corr(status_events=()))
    assert never_published["createdAt"] == "2024-03-01T08:00:00Z"
    assert "updatedAt" not in never_published


def test_activities_first_read_and_confirm_by_acting_party_then_information() -> None:
    t = datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
    other = "urn:altinn:person:identifier-no:02029012345"
    c = corr(
        is_confirmation_needed=True,
        status_events=(
            event(S.READ, t + timedelta(days=1), other),
            event(S.READ, t, READER),
            event(S.CONFIRMED, t + timedelta(hours=1), READER),
        ),
        notifications=(
            Notification(
                notification_channel=NotificationChannel.SMS,
                notification_sent=t - timedelta(hours=2),
                notification_address="+4791234567",
            ),
            Notification(
                notification_channel=NotificationChannel.EMAIL,
                notification_sent=t + timedelta(days=7),
                notification_address="kari@example.no",
                is_reminder=True,
            ),
        ),
        forwarding_events=(
            ForwardingEvent(
                forwarded_on_date=t + timedelta(days=2),
                forwarded_by_party_urn=READER,
                forwarded_to_email="per@example.no",
                forwarding_text="Se <b>her</b>",
            ),
        ),
    )
    acts = body(c)["activities"]
    assert [a["type"] for a in acts] == [
        "Information",
        "CorrespondenceOpened",
        "CorrespondenceConfirmed",
        "Information",
        "Information",
    ]
    opened = acts[1]
    assert opened["performedBy"] == {"actorType": "PartyRepresentative", "actorId": READER}
    assert opened["createdAt"] == "2024-03-02T10:00:00Z"  # the first read, not the later one
    assert acts[0]["performedBy"] == {"actorType": "ServiceOwner"}
    assert acts[0]["description"][0] == {
        "languageCode": "nb",
        "value": "Varsel om mottatt melding sendt til +4791234567 på SMS.",
    }
    # DialogportenText.CorrespondenceForwardedToEmail: title and note quoted, note as written
    assert acts[3]["description"][0]["value"] == (
        'videresendte "Vedtak" til per@example.no og skrev: "Se <b>her</b>"'
    )
    assert acts[3]["description"][2]["value"] == (
        'forwarded "Vedtak" to per@example.no with note: "Se <b>her</b>"'
    )
    assert acts[4]["description"][0]["value"] == (
        "Revarsel om mottatt melding sendt til kari@example.no på e-post."
    )
    assert all(UUID(a["id"]).version == 7 for a in acts)
    assert len({a["id"] for a in acts}) == 5
    # without IsConfirmationNeeded A3 creates no Confirmed key, hence no Confirmed activity
    plain = body(corr(status_events=c.status_events))["activities"]
    assert "CorrespondenceConfirmed" not in [a["type"] for a in plain]


def test_unresolved_reader_is_a_mapping_error_and_purged_is_refused() -> None:
    t = datetime(2024, 3, 2, tzinfo=UTC)
    with pytest.raises(MappingError, match="read"):
        body(corr(status_events=(event(S.READ, t, None),)))
    with pytest.raises(MappingError, match="purged"):
        body(corr(status_events=(event(S.PURGED_BY_ALTINN, t),)))


def test_title_is_sent_as_stored_and_summary_as_a3_strips_it() -> None:
    long_title = "Å" * 700
    c = corr(
        content=CorrespondenceContent(
            language="EN",
            message_title=long_title,
            message_summary="# Heading\n\n*emph* [link](https://x.no) & more",
        )
    )
    b = body(c)
    # not cut to Dialogporten's 512: A3 sends the title as stored (Dialogporten then says 400)
    assert b["content"]["title"]["value"][0]["value"] == long_title
    assert b["content"]["title"]["value"][0]["languageCode"] == "en"
    # StripSummaryForHtmlAndMarkdown removes tags but leaves the renderer's entities
    assert b["content"]["summary"]["value"][0]["value"] == "Heading emph link &amp; more"
    assert "summary" not in body(corr(content=CorrespondenceContent(message_title="T")))


def test_from_migration_request_reads_a_migrate_body() -> None:
    request = {
        "altinn2CorrespondenceId": 7,
        "created": "2025-03-01T09:00:00+01:00",
        "correspondenceData": {
            "recipients": ["urn:altinn:organization:identifier-no:991825827"],
            "correspondence": {
                "resourceId": "abc-migratedcorrespondence-1-1",
                "sender": "urn:altinn:organization:identifier-no:974761076",
                "requestedPublishTime": "2025-03-01T09:00:00+01:00",
                "content": {"language": "nb", "messageTitle": "Hei", "messageSummary": ""},
                "isConfirmationNeeded": True,
            },
        },
        "eventHistory": [
            {
                "status": "Read",
                "statusChanged": "2025-03-02T10:00:00+01:00",
                "eventUserPartyUuid": "22222222-2222-4222-8222-222222222222",
            },
        ],
        "notificationHistory": [
            {
                "notificationChannel": 1,
                "notificationSent": "2025-03-01T09:05:00+01:00",
                "altinn2NotificationId": 9,
                "notificationAddress": "+4791234567",
                "isReminder": False,
            },
        ],
    }
    c = from_migration_request(request, correspondence_id=CORR_ID, resolve_party=lambda _: READER)
    assert c.status_events[0].status == S.READ
    assert c.status_events[0].party_urn == READER
    assert c.notifications[0].notification_channel == NotificationChannel.SMS
    b = create_dialog_request(c, now=NOW).body
    assert b["status"] == "RequiresAttention"
    assert b["createdAt"] == "2025-03-01T08:00:00Z"
