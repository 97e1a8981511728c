"""Request bodies for the A3 migration API tests (our own data, shaped as §1.5.1 shows)."""

from __future__ import annotations

import copy
from typing import Any

SENDER_PARTY = "11111111-1111-4111-8111-111111111111"
READER_PARTY = "22222222-2222-4222-8222-222222222222"
ZERO = "00000000-0000-0000-0000-000000000000"


def migrate_body(a2_id: int, **overrides: Any) -> dict[str, Any]:
    """A valid `MigrateCorrespondenceExt` for A2 element `a2_id`; top-level keys overridable."""
    body: dict[str, Any] = {
        "altinn2CorrespondenceId": a2_id,
        "IsMigrating": True,
        "makeAvailable": False,
        "created": "2025-03-01T09:00:00+01:00",
        "partyId": 50012345,
        "correspondenceData": {
            "recipients": ["urn:altinn:organization:identifier-no:310000000"],
            "existingAttachments": [],
            "correspondence": {
                "resourceId": "abc-migratedcorrespondence-1234-1",
                "sender": "urn:altinn:organization:identifier-no:910000000",
                "sendersReference": "ref-1",
                "messageSender": "Etat X",
                "requestedPublishTime": "2025-03-01T09:00:00+01:00",
                "dueDateTime": None,
                "content": {
                    "language": "nb",
                    "messageTitle": "Vedtak",
                    "messageSummary": "",
                    "messageBody": "<p>Hei</p>",
                },
                "externalReferences": [],
                "propertyList": {"Altinn2ArchiveUnitReference": "AR1"},
                "replyOptions": [],
                "ignoreReservation": None,
                "isConfirmationNeeded": False,
            },
        },
        "eventHistory": [
            {
                "status": 0,
                "statusText": "Correspondence Created in Altinn 2",
                "statusChanged": "2025-03-01T09:00:00+01:00",
                "eventUserPartyUuid": ZERO,
            },
            {
                "status": 2,
                "statusText": "Correspondence Published in Altinn 2",
                "statusChanged": "2025-03-01T09:00:00+01:00",
                "eventUserPartyUuid": SENDER_PARTY,
            },
            {
                "status": 4,
                "statusText": "Migrated event Read from Altinn 2",
                "statusChanged": "2025-03-02T10:00:00+01:00",
                "eventUserPartyUuid": READER_PARTY,
            },
        ],
        "notificationHistory": [
            {
                "notificationChannel": 0,
                "notificationSent": "2025-03-01T09:05:00+01:00",
                "altinn2NotificationId": 9001,
                "notificationAddress": "post@example.no",
                "isReminder": False,
            }
        ],
        "forwardingHistory": [],
    }
    body.update(overrides)
    return body


def with_correspondence(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A copy of `body` with `correspondenceData.correspondence` fields replaced."""
    out = copy.deepcopy(body)
    out["correspondenceData"]["correspondence"].update(fields)
    return out


def with_content(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A copy of `body` with `correspondence.content` fields replaced."""
    out = copy.deepcopy(body)
    out["correspondenceData"]["correspondence"]["content"].update(fields)
    return out
