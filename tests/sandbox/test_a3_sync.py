"""A3 replica, the three sync endpoints (a3-correspondence.md §1.7): unknown id → 404/1001,
only Read/Confirmed/Archived and delete codes accepted, de-dup to the second against the
database, texts "Sync event <Status> from Altinn 2", purge with its idempotency key."""

from __future__ import annotations

import uuid

from sandbox.a3 import inspect
from tests.sandbox.payloads import READER_PARTY, migrate_body

BASE_EVENT = {"eventUserPartyUuid": READER_PARTY}


def _migrate(a3, a2_id: int) -> str:
    return a3.client.post("/correspondence", json=migrate_body(a2_id)).json()["correspondenceId"]


def test_status_sync_adds_only_the_accepted_new_events(a3) -> None:
    corr_id = _migrate(a3, 3001)
    events = [
        {**BASE_EVENT, "status": 4, "statusChanged": "2025-03-02T09:00:00.4+00:00"},  # dup Read
        {**BASE_EVENT, "status": 6, "statusChanged": "2025-03-04T10:00:00+02:00"},
        {**BASE_EVENT, "status": "Archived", "statusChanged": "2025-03-05T10:00:00+00:00"},
        {**BASE_EVENT, "status": 5, "statusChanged": "2025-03-05T11:00:00+00:00"},  # ignored
        {**BASE_EVENT, "status": 13, "statusChanged": "2025-03-06T10:00:00+00:00"},
    ]
    body = {"correspondenceId": corr_id, "syncedStatusEvents": events}
    response = a3.client.post("/correspondence/syncStatusEvent", json=body)
    assert (response.status_code, response.json()) == (200, corr_id)
    rows = inspect.statuses(a3.engine, 3001)
    assert [r["Status"] for r in rows] == [0, 2, 4, 6, 9]
    assert rows[3]["StatusText"] == "Sync event Confirmed from Altinn 2"
    assert rows[3]["StatusChanged"].isoformat() == "2025-03-04T08:00:00+00:00"
    assert inspect.counts_by_altinn2_id(a3.engine, [3001])[3001].delete_events == 1
    again = a3.client.post("/correspondence/syncStatusEvent", json=body)
    assert again.status_code == 200
    assert len(inspect.statuses(a3.engine, 3001)) == 5


def test_purge_by_sync_adds_status_delete_event_and_happens_once(a3) -> None:
    corr_id = _migrate(a3, 3002)
    purge = {**BASE_EVENT, "status": 7, "statusChanged": "2025-04-01T10:00:00+00:00"}
    body = {"correspondenceId": corr_id, "syncedStatusEvents": [purge]}
    assert a3.client.post("/correspondence/syncStatusEvent", json=body).status_code == 200
    later = {**purge, "statusChanged": "2025-04-02T10:00:00+00:00"}
    body2 = {"correspondenceId": corr_id, "syncedStatusEvents": [later]}
    assert a3.client.post("/correspondence/syncStatusEvent", json=body2).status_code == 200
    statuses = [r["Status"] for r in inspect.statuses(a3.engine, 3002)]
    assert statuses.count(7) == 1
    assert inspect.counts_by_altinn2_id(a3.engine, [3002])[3002].delete_events == 1


def test_notification_and_forwarding_sync(a3) -> None:
    corr_id = _migrate(a3, 3003)
    note = migrate_body(0)["notificationHistory"][0]
    notes = [
        {**note, "notificationSent": "2025-03-01T08:05:00.7+00:00"},  # same second as migrated
        {**note, "altinn2NotificationId": 9002, "isReminder": True},
    ]
    response = a3.client.post(
        "/correspondence/syncNotificationEvent",
        json={"correspondenceId": corr_id, "syncedNotificationEvents": notes},
    )
    assert response.status_code == 200
    forward = {
        "forwardedOnDate": "2025-03-03T10:00:00+00:00",
        "forwardedByPartyUuid": READER_PARTY,
        "forwardedToEmail": "x@example.no",
    }
    for _ in range(2):
        response = a3.client.post(
            "/correspondence/syncForwardingEvent",
            json={"correspondenceId": corr_id, "syncedForwardingEvents": [forward]},
        )
        assert response.status_code == 200
    counts = inspect.counts_by_altinn2_id(a3.engine, [3003])[3003]
    assert (counts.notifications, counts.forwarding_events) == (2, 1)


def test_unknown_correspondence_and_empty_lists(a3) -> None:
    unknown = str(uuid.uuid4())
    event = {**BASE_EVENT, "status": 4, "statusChanged": "2025-03-02T09:00:00+00:00"}
    response = a3.client.post(
        "/correspondence/syncStatusEvent",
        json={"correspondenceId": unknown, "syncedStatusEvents": [event]},
    )
    assert (response.status_code, response.json()["errorCode"]) == (404, 1001)
    empty = a3.client.post(
        "/correspondence/syncStatusEvent",
        json={"correspondenceId": unknown, "syncedStatusEvents": []},
    )
    assert empty.status_code == 400
