"""`exposure.compare.compare_dialog`: which differences count, under which field names."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from uuid import UUID

from exposure.compare import compare_dialog
from exposure.dialog import create_dialog_request
from exposure.model import (
    A3Correspondence,
    CorrespondenceContent,
    CorrespondenceStatus,
    StatusEvent,
)

READER = "urn:altinn:person:identifier-no:01017000027"
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _correspondence(published: bool = True) -> A3Correspondence:
    events = [
        StatusEvent(
            status=CorrespondenceStatus.READ,
            status_changed=datetime(2024, 1, 2, tzinfo=UTC),
            party_urn=READER,
        )
    ]
    if published:
        events.insert(
            0,
            StatusEvent(
                status=CorrespondenceStatus.PUBLISHED,
                status_changed=datetime(2024, 1, 1, tzinfo=UTC),
            ),
        )
    return A3Correspondence(
        correspondence_id=UUID("3f2b8c1e-5d4a-4b6c-9e7f-112233445566"),
        altinn2_correspondence_id=1,
        resource_id="skd-migratedcorrespondence-1-1",
        sender="urn:altinn:organization:identifier-no:974761076",
        recipient="urn:altinn:organization:identifier-no:991825827",
        content=CorrespondenceContent(message_title="Vedtak"),
        created=datetime(2024, 1, 1, tzinfo=UTC),
        requested_publish_time=datetime(2024, 1, 1, tzinfo=UTC),
        status_events=tuple(events),
    )


def _pair() -> tuple[dict, dict]:
    expected = create_dialog_request(_correspondence(), now=NOW).body
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


def test_activities_are_paired_by_type_and_time_not_by_id() -> None:
    # real A3 draws random activity ids (Uuid.NewDatabaseFriendly), so ids never match
    expected, actual = _pair()
    actual["activities"][0]["id"] = "01a2359a-2fe5-7969-ac90-6a78a5aec67f"
    assert compare_dialog(expected, actual) == []
    actual["activities"][0]["createdAt"] = "2024-01-03T00:00:00Z"
    assert compare_dialog(expected, actual) == [
        (
            "activities.CorrespondenceOpened.createdAt",
            "2024-01-02T00:00:00+00:00",
            "2024-01-03T00:00:00+00:00",
        )
    ]


def test_no_published_event_is_reported_with_the_time_dialogporten_chose() -> None:
    # A3 sends no updatedAt without a Published status; Dialogporten sets now (dialogporten#3849)
    expected = create_dialog_request(_correspondence(published=False), now=NOW).body
    assert "updatedAt" not in expected
    actual = copy.deepcopy(expected)
    actual["updatedAt"] = "2026-11-28T09:15:00Z"
    assert compare_dialog(expected, actual) == [
        (
            "updatedAt.noPublishedEvent",
            "not sent (no Published status)",
            "2026-11-28T09:15:00+00:00",
        )
    ]


def test_a_future_visible_from_sets_the_times_dialogporten_shows() -> None:
    # Dialogporten forces createdAt/updatedAt to a future visibleFrom (reference
    # dialogporten.md): no mismatch for that, but a wrong visibleFrom or time still is one
    publish = datetime(2026, 12, 1, tzinfo=UTC)
    c = _correspondence().model_copy(update={"requested_publish_time": publish})
    expected = create_dialog_request(c, now=NOW).body
    assert expected["visibleFrom"] == "2026-12-01T00:00:00Z"
    actual = copy.deepcopy(expected)
    actual["createdAt"] = actual["updatedAt"] = "2026-12-01T01:00:00+01:00"
    assert compare_dialog(expected, actual) == []
    # verified after the publish time: the rebuilt expected dialog has no visibleFrom any more
    later = create_dialog_request(c, now=datetime(2026, 12, 2, tzinfo=UTC)).body
    assert "visibleFrom" not in later
    assert compare_dialog(later, actual) == []
    actual["createdAt"] = "2026-12-02T00:00:00Z"
    assert compare_dialog(later, actual) == [
        ("createdAt", "2026-12-01T00:00:00+00:00", "2026-12-02T00:00:00+00:00")
    ]
    actual["visibleFrom"] = "2026-12-05T00:00:00Z"
    assert ("visibleFrom", "2026-12-01T00:00:00+00:00", "2026-12-05T00:00:00+00:00") in (
        compare_dialog(expected, actual)
    )
