"""Payload builder and guard: mart rows → MigrateCorrespondenceExt / attachment parameters, and
the crash cases of a3-correspondence §1.5.3/§1.8/§5 that must be quarantined, not sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from sandbox.a3.models import MigrateCorrespondenceExt, annotation_errors
from syncd.payloads import ElementRows, attachment_params, build_correspondence, guard

T0 = datetime(2021, 3, 1, 8, 0, tzinfo=UTC)
READER = "6f1b9a52-0000-4000-8000-000000000001"


def _rows(**changes: Any) -> ElementRows:
    correspondence = {
        "altinn2_correspondence_id": 4242,
        "resource_id": "skd-migratedcorrespondence-3476-130314",
        "recipient": "urn:altinn:organization:identifier-no:310000001",
        "sender": "urn:altinn:organization:identifier-no:974761076",
        "senders_reference": "ref-1",
        "message_sender": "Skatteetaten",
        "requested_publish_time": T0,
        "due_date_time": None,
        "property_list": {"Altinn2ArchiveUnitReference": "AR1"},
        "ignore_reservation": False,
        "created": T0,
        "is_confirmation_needed": True,
        "is_confidential": False,
        "party_id": 50012345,
    }
    correspondence.update(changes.pop("correspondence", {}))
    content = {
        "altinn2_correspondence_id": 4242,
        "language": "nb",
        "message_title": "Vedtak",
        "message_summary": "",
        "message_body": "<p>Hei</p>",
    }
    content_changes = changes.pop("content", {})
    content.update(content_changes or {})
    rows = ElementRows(
        a2_correspondence_id=4242,
        correspondence=correspondence,
        content=content,
        attachments=[
            {
                "altinn2_attachment_id": "77",
                "resource_id": correspondence["resource_id"],
                "sender": correspondence["sender"],
                "file_name": "vedtak.pdf",
                "display_name": "Vedtak",
                "is_encrypted": False,
                "checksum": "9E107D9D372BB6826BD81D3542A419D6",
                "senders_reference": "",
                "attachment_size": 1234,
                "created": T0,
            }
        ],
        status_events=[
            # deliberately out of order: the payload must be chronological
            {
                "status": 4,
                "status_text": "Read",
                "status_changed": T0 + timedelta(days=1),
                "party_uuid": READER,
                "event_user_uuid": None,
            },
            {
                "status": 0,
                "status_text": "Correspondence Created in Altinn 2",
                "status_changed": T0,
                "party_uuid": "00000000-0000-0000-0000-000000000000",
            },
            {
                "status": 2,
                "status_text": "Correspondence Published in Altinn 2",
                "status_changed": T0,
                "party_uuid": READER,
            },
        ],
        delete_events=[
            {
                "event_type": 3,
                "migration_status": 13,
                "event_occurred": T0 + timedelta(days=3),
                "party_uuid": READER,
            },
        ],
        notifications=[
            {
                "notification_channel": 0,
                "notification_sent": T0 + timedelta(minutes=5),
                "altinn2_notification_id": 9001,
                "notification_address": "post@example.no",
                "is_reminder": False,
            },
        ],
        forwarding_events=[
            {
                "forwarded_on_date": T0 + timedelta(days=2),
                "forwarded_by_party_uuid": READER,
                "forwarded_by_user_id": 12,
                "forwarded_by_user_uuid": None,
                "forwarded_to_email_address": "x@example.no",
                "forwarding_text": "fyi",
            },
        ],
        reply_options=[{"link_url": "https://example.no/svar", "link_text": "Svar"}],
        external_references=[{"reference_type": 0, "reference_value": "case-9"}],
    )
    if content_changes is None:
        rows.content = None
    for key, value in changes.items():
        setattr(rows, key, value)
    return rows


def test_payload_is_what_the_a3_contract_accepts() -> None:
    att = uuid.uuid4()
    body = build_correspondence(_rows(), [att])
    MigrateCorrespondenceExt.model_validate(body)  # the replica's request model
    assert body["altinn2CorrespondenceId"] == 4242
    assert body["IsMigrating"] is True and body["makeAvailable"] is False
    assert body["partyId"] == 50012345
    data = body["correspondenceData"]
    assert data["recipients"] == ["urn:altinn:organization:identifier-no:310000001"]
    assert data["existingAttachments"] == [str(att)]
    c = data["correspondence"]
    assert c["requestedPublishTime"] == "2021-03-01T08:00:00+00:00"
    assert c["content"] == {
        "language": "nb",
        "messageTitle": "Vedtak",
        "messageSummary": "",
        "messageBody": "<p>Hei</p>",
    }
    assert c["propertyList"] == {"Altinn2ArchiveUnitReference": "AR1"}
    assert c["replyOptions"] == [{"linkURL": "https://example.no/svar", "linkText": "Svar"}]
    assert c["externalReferences"] == [{"referenceValue": "case-9", "referenceType": 0}]
    assert [e["status"] for e in body["eventHistory"]] == [0, 2, 4, 13]
    assert body["eventHistory"][2]["eventUserPartyUuid"] == READER
    assert body["notificationHistory"] == [
        {
            "notificationChannel": 0,
            "notificationSent": "2021-03-01T08:05:00+00:00",
            "altinn2NotificationId": 9001,
            "notificationAddress": "post@example.no",
            "isReminder": False,
        }
    ]
    fwd = body["forwardingHistory"][0]
    assert fwd["forwardedToEmail"] == "x@example.no"
    assert fwd["forwardedByUserUuid"] == "00000000-0000-0000-0000-000000000000"


def test_times_are_sent_in_utc_with_offset() -> None:
    oslo = timezone(timedelta(hours=2))
    rows = _rows(correspondence={"created": datetime(2025, 6, 30, 12, 6, 9, tzinfo=oslo)})
    assert build_correspondence(rows, [])["created"] == "2025-06-30T10:06:09+00:00"


def test_attachment_parameters() -> None:
    params = attachment_params(_rows().attachments[0])
    assert params == {
        "resourceId": "skd-migratedcorrespondence-3476-130314",
        "sender": "urn:altinn:organization:identifier-no:974761076",
        "senderPartyUuid": "00000000-0000-0000-0000-000000000000",
        "altinn2AttachmentId": "77",
        "sendersReference": "77",
        "altinn2sendersReference": "",
        "created": "2021-03-01T08:00:00+00:00",
        "fileName": "vedtak.pdf",
        "displayName": "Vedtak",
        "checksum": "9e107d9d372bb6826bd81d3542a419d6",
        "isEncrypted": "false",
    }


def test_a_clean_element_passes_the_guard() -> None:
    assert guard(_rows()) == []


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"correspondence": {"sender": None}}, "missing_sender"),
        ({"correspondence": {"sender": "skd"}}, "invalid_sender"),
        ({"correspondence": {"recipient": None}}, "missing_recipient"),
        ({"correspondence": {"requested_publish_time": None}}, "missing_requested_publish_time"),
        ({"content": {"language": None}}, "missing_language"),
        ({"content": {"language": "se"}}, "unsupported_language"),
        ({"content": {"message_title": "  "}}, "empty_title"),
        ({"content": None}, "missing_content"),
        ({"unknown_attachment_ids": ["88"]}, "unknown_attachment"),
        ({"correspondence": {"resource_id": "a:b"}}, "invalid_resource_id"),
        (
            {"correspondence": {"property_list": {f"k{i}": "v" for i in range(11)}}},
            "invalid_property_list",
        ),
        (
            {"external_references": [{"reference_type": 3, "reference_value": "d"}]},
            "forbidden_external_reference",
        ),
    ],
)
def test_crash_and_rejection_cases_are_refused(changes: dict[str, Any], code: str) -> None:
    assert code in [c for c, _ in guard(_rows(**changes))]


def test_reminder_only_duplicate_notifications_are_refused() -> None:
    rows = _rows()
    twin = dict(
        rows.notifications[0],
        is_reminder=True,
        notification_sent=T0 + timedelta(minutes=5, microseconds=300),
    )
    rows.notifications.append(twin)
    assert [c for c, _ in guard(rows)] == ["notification_reminder_conflict"]


def test_missing_acting_party_and_empty_attachment_are_refused() -> None:
    rows = _rows()
    rows.status_events[0]["party_uuid"] = None
    rows.attachments[0]["attachment_size"] = 0
    assert sorted(c for c, _ in guard(rows)) == ["empty_attachment", "missing_event_party"]


def test_guard_details_carry_no_personal_data() -> None:
    rows = _rows(correspondence={"sender": None, "recipient": None})
    rows.notifications[0]["notification_address"] = None
    text = " ".join(d for _, d in guard(rows))
    assert "@" not in text and "310000001" not in text


CONTENT_LIMIT_CASES = [
    ({"message_title": "T" * 256}, "title_too_long"),
    ({"message_title": "T" * 254 + "\U0001f600"}, "title_too_long"),  # 256 UTF-16 units
    ({"message_summary": "S" * 256}, "summary_too_long"),
    ({"message_body": ""}, "empty_body"),
    ({"message_body": None}, "empty_body"),
    ({"message_body": "  \n"}, "empty_body"),
    ({"message_body": "B" * 30_001}, "body_too_long"),
]
"""Content that A3's model (PR #2012, InitializeCorrespondenceContentExt) refuses with a 400."""


@pytest.mark.parametrize(("content", "code"), CONTENT_LIMIT_CASES)
def test_content_the_real_api_refuses_is_quarantined_not_sent(
    content: dict[str, Any], code: str
) -> None:
    rows = _rows(content=content)
    assert [c for c, _ in guard(rows)] == [code]
    # the replica's copy of the real model refuses the same payload
    body = build_correspondence(rows, [uuid.uuid4()])
    assert annotation_errors(MigrateCorrespondenceExt.model_validate(body)) != []


def test_content_at_the_limits_passes_the_guard_and_the_model() -> None:
    rows = _rows(
        content={
            "message_title": "T" * 255,
            "message_summary": "S" * 254 + "\u2026",
            "message_body": "B" * 30_000,
        }
    )
    assert guard(rows) == []
    body = build_correspondence(rows, [uuid.uuid4()])
    assert annotation_errors(MigrateCorrespondenceExt.model_validate(body)) == []
