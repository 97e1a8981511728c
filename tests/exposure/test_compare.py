"""`exposure.compare.compare_dialog`: which differences count, under which field names."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from uuid import UUID

from exposure.compare import compare_dialog
from exposure.dialog import create_dialog_request
from exposure.model import A3Correspondence, CorrespondenceContent, StatusEvent

READER = "urn:altinn:person:identifier-no:01017000027"
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _pair() -> tuple[dict, dict]:
    c = A3Correspondence(
        correspondence_id=UUID("3f2b8c1e-5d4a-4b6c-9e7f-112233445566"),
        altinn2_correspondence_id=1,
        resource_id="skd-migratedcorrespondence-1-1",
        sender="urn:altinn:organization:identifier-no:974761076",
        recipient="urn:altinn:organization:identifier-no:991825827",
        content=CorrespondenceContent(message_title="Vedtak"),
        created=datetime(2024, 1, 1, tzinfo=UTC),
        requested_publish_time=datetime(2024, 1, 1, tzinfo=UTC),
        status_events=(
            StatusEvent(
                status=4, status_changed=datetime(2024, 1, 2, tzinfo=UTC), party_urn=READER
            ),
        ),
    )
    expected = create_dialog_request(c, now=NOW).body
    actual = copy.deepcopy(expected)
    # Dialogporten's own rendering: offsets instead of Z, sub-second digits, output-only fields
    actual["createdAt"] = "2024-01-01T01:00:00.0000000+01:00"
    actual["updatedAt"] = "2024-01-01T00:00:00+00:00"
    actual["revision"] = "f551b1ba-cbf2-4b91-a386-8385386bd71a"
    actual["activities"][0]["performedBy"]["actorName"] = None
    return expected, actual


def test_same_dialog_in_dialogportens_rendering_has_no_mismatch() -> None:
    expected, actual = _pair()
    assert compare_dialog(expected, actual) == []


def test_each_difference_is_named_by_field() -> None:
    expected, actual = _pair()
    actual["party"] = "urn:altinn:organization:identifier-no:974761076"
    actual["systemLabel"] = "Bin"
    actual["content"]["title"]["value"][0]["value"] = "Annet"
    actual["activities"][0]["performedBy"]["actorId"] = actual["party"]
    actual["serviceOwnerContext"]["serviceOwnerLabels"] = []
    fields = [f for f, _, _ in compare_dialog(expected, actual)]
    assert fields == [
        "party",
        "content.title",
        "label",
        "systemLabel",
        "activities.CorrespondenceOpened.performedBy.actorId",
    ]


def test_missing_activity_is_a_count_mismatch() -> None:
    expected, actual = _pair()
    actual["activities"] = []
    assert compare_dialog(expected, actual) == [("activities.CorrespondenceOpened.count", "1", "0")]
