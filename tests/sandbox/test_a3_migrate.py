"""A3 replica, `POST /migration/correspondence`: storage in the real layout, validation errors,
the crash cases, re-migration and de-duplication (a3-correspondence.md §1.5)."""

from __future__ import annotations

import copy
import uuid

import sqlalchemy as sa

from sandbox.a3 import inspect
from tests.sandbox.payloads import READER_PARTY, migrate_body, with_content, with_correspondence

PATH = "/correspondence"


def _sql(a3, query: str, **params):
    with a3.engine.connect() as conn:
        return conn.execute(sa.text(query), params).all()


def test_first_migration_stores_every_table_as_a3_does(a3) -> None:
    response = a3.client.post(PATH, json=migrate_body(1001))
    assert response.status_code == 200, response.text
    body = response.json()
    corr_id = body["correspondenceId"]
    assert body["altinn2CorrespondenceId"] == 1001
    assert body["attachmentStatuses"] == []
    assert body["dialogId"] is None
    assert uuid.UUID(corr_id).version == 7

    row = _sql(
        a3,
        'select "Recipient", "RecipientType", "Sender", "IsMigrating", "PartyId", "Published", '
        '"Created", "PropertyList" from correspondence."Correspondences" '
        'where "Altinn2CorrespondenceId" = 1001',
    )[0]
    assert row.Recipient == "urn:altinn:organization:identifier-no:310000000"
    assert row.RecipientType == "urn:altinn:organization:identifier-no"
    assert row.IsMigrating is True
    assert row.PartyId == 50012345
    assert row.Published.isoformat() == "2025-03-01T08:00:00+00:00"  # stored in UTC
    assert row.Created.isoformat() == "2025-03-01T08:00:00+00:00"
    assert row.PropertyList == {"Altinn2ArchiveUnitReference": "AR1"}

    statuses = inspect.statuses(a3.engine, 1001)
    assert [(s["Status"], s["StatusText"]) for s in statuses] == [
        (0, "Correspondence Created in Altinn 2"),
        (2, "Correspondence Published in Altinn 2"),
        (4, "Migrated event Read from Altinn 2"),
    ]
    assert all(s["SyncedFromAltinn2"] is None for s in statuses)
    note = _sql(
        a3,
        'select "NotificationTemplate", "RequestedSendTime", "NotificationSent", "Created" '
        'from correspondence."CorrespondenceNotifications"',
    )[0]
    assert note.NotificationTemplate == 2
    assert note.RequestedSendTime.year == 1
    assert note.NotificationSent == note.Created
    assert inspect.counts_by_altinn2_id(a3.engine, [1001])[1001] == inspect.Counts(1, 0, 3, 0, 1, 0)


def test_names_and_case_insensitive_properties_and_unknown_fields_are_accepted(a3) -> None:
    body = migrate_body(1002)
    body["isMigrating"] = body.pop("IsMigrating")
    body["eventHistory"][2]["status"] = "Read"
    body["notificationHistory"][0]["notificationChannel"] = "Sms"
    body["correspondenceData"]["correspondence"]["senderPartyUuid"] = str(uuid.uuid4())
    body["CORRESPONDENCEDATA"] = body.pop("correspondenceData")
    response = a3.client.post("/Correspondence", json=body)  # routes ignore case too
    assert response.status_code == 200, response.text
    channel = _sql(
        a3,
        'select n."NotificationChannel" from correspondence."CorrespondenceNotifications" n '
        'join correspondence."Correspondences" c on c."Id" = n."CorrespondenceId" '
        'where c."Altinn2CorrespondenceId" = 1002',
    )
    assert channel[0][0] == 1


def test_published_is_the_first_published_event_in_array_order(a3) -> None:
    body = migrate_body(1003)
    body["eventHistory"] = [
        {
            "status": 2,
            "statusChanged": "2025-03-05T09:00:00+00:00",
            "eventUserPartyUuid": READER_PARTY,
        },
        {
            "status": 2,
            "statusChanged": "2025-03-01T09:00:00+00:00",
            "eventUserPartyUuid": READER_PARTY,
        },
    ]
    assert a3.client.post(PATH, json=body).status_code == 200
    published = _sql(
        a3,
        'select "Published" from correspondence."Correspondences" '
        'where "Altinn2CorrespondenceId" = 1003',
    )[0][0]
    assert published.isoformat() == "2025-03-05T09:00:00+00:00"


def test_events_equal_to_the_second_in_utc_are_stored_once(a3) -> None:
    body = migrate_body(1004)
    read = body["eventHistory"][2]
    body["eventHistory"].append({**read, "statusChanged": "2025-03-02T09:00:00.000731+00:00"})
    body["notificationHistory"].append(
        {**body["notificationHistory"][0], "notificationSent": "2025-03-01T08:05:00.4+00:00"}
    )
    assert a3.client.post(PATH, json=body).status_code == 200
    counts = inspect.counts_by_altinn2_id(a3.engine, [1004])[1004]
    assert (counts.statuses, counts.notifications) == (3, 1)


def test_validation_errors_are_problem_details_with_the_a3_codes(a3) -> None:
    base = migrate_body(1010)
    cases = {
        1019: with_correspondence(base, content=None),
        1023: with_content(base, language="sv"),
    }
    for code, body in cases.items():
        response = a3.client.post(PATH, json=body)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errorCode"] == code
    missing = copy.deepcopy(base)
    del missing["altinn2CorrespondenceId"]
    response = a3.client.post(PATH, json=missing)
    assert response.status_code == 400
    assert "$.altinn2CorrespondenceId" in response.json()["errors"]
    too_many = with_correspondence(base, propertyList={f"k{i}": "v" for i in range(11)})
    assert a3.client.post(PATH, json=too_many).status_code == 400
    assert inspect.correspondence_id(a3.engine, 1010) is None


def test_payloads_the_real_handler_crashed_on_give_500_and_store_nothing(a3) -> None:
    base = migrate_body(1020)
    crashes = {
        "null sender": with_correspondence(base, sender=None),
        "null language": with_content(base, language=None),
        "null requestedPublishTime": with_correspondence(base, requestedPublishTime=None),
        "unknown attachment": copy.deepcopy(base),
        "notifications differing only in isReminder": copy.deepcopy(base),
    }
    crashes["empty recipients"] = copy.deepcopy(base)
    crashes["empty recipients"]["correspondenceData"]["recipients"] = []
    crashes["unknown attachment"]["correspondenceData"]["existingAttachments"] = [str(uuid.uuid4())]
    twin = crashes["notifications differing only in isReminder"]["notificationHistory"]
    twin.append({**twin[0], "isReminder": True})
    for name, body in crashes.items():
        response = a3.client.post(PATH, json=body)
        assert response.status_code == 500, name
        assert response.json()["title"] == "An error occurred while processing your request."
    assert inspect.correspondence_id(a3.engine, 1020) is None


def test_re_migration_returns_the_same_id_and_adds_only_new_events(a3) -> None:
    first = a3.client.post(PATH, json=migrate_body(1030)).json()
    body = migrate_body(1030)
    body["correspondenceData"]["correspondence"]["content"]["messageTitle"] = "Changed title"
    body["eventHistory"].append(
        {
            "status": 6,
            "statusChanged": "2025-03-03T10:00:00+01:00",
            "eventUserPartyUuid": READER_PARTY,
        }
    )
    # the same Read again, microseconds later: a duplicate to the second
    body["eventHistory"][2]["statusChanged"] = "2025-03-02T10:00:00.999+01:00"
    again = a3.client.post(PATH, json=body)
    assert again.status_code == 200
    assert again.json() == {
        "altinn2CorrespondenceId": 1030,
        "correspondenceId": first["correspondenceId"],
        "attachmentStatuses": None,
        "dialogId": None,
    }
    statuses = inspect.statuses(a3.engine, 1030)
    assert [s["Status"] for s in statuses] == [0, 2, 4, 6]
    assert statuses[-1]["StatusText"] == "Remigrate event Confirmed from Altinn 2"
    assert statuses[-1]["SyncedFromAltinn2"] is not None
    title = _sql(
        a3,
        'select "MessageTitle" from correspondence."CorrespondenceContents" '
        'where "CorrespondenceId" = :i',
        i=first["correspondenceId"],
    )
    assert title[0][0] == "Vedtak"  # re-migration never changes content
    assert a3.client.post(PATH, json=body).json()["correspondenceId"] == first["correspondenceId"]
    assert inspect.counts_by_altinn2_id(a3.engine, [1030])[1030].statuses == 4


def test_delete_codes_are_stored_as_delete_events_only_on_first_migration(a3) -> None:
    body = migrate_body(1040)
    body["eventHistory"] += [
        {
            "status": 13,
            "statusChanged": "2025-03-04T10:00:00+00:00",
            "eventUserPartyUuid": READER_PARTY,
        },
        {
            "status": 7,
            "statusChanged": "2025-03-05T10:00:00+00:00",
            "eventUserPartyUuid": READER_PARTY,
        },
    ]
    assert a3.client.post(PATH, json=body).status_code == 200
    events = _sql(
        a3,
        'select d."EventType" from correspondence."CorrespondenceDeleteEvents" d '
        'join correspondence."Correspondences" c on c."Id" = d."CorrespondenceId" '
        'where c."Altinn2CorrespondenceId" = 1040 order by 1',
    )
    assert [e[0] for e in events] == [2, 3]
    assert [s["Status"] for s in inspect.statuses(a3.engine, 1040)] == [0, 2, 4]  # no purge


def test_tokens_without_the_migrate_scope_or_signature_are_refused(a3, maskinporten) -> None:
    body = migrate_body(1050)
    assert a3.client.post(PATH, json=body, headers={"Authorization": ""}).status_code == 401
    other = maskinporten.token("digdir:dialogporten.serviceprovider")
    assert (
        a3.client.post(PATH, json=body, headers={"Authorization": f"Bearer {other}"}).status_code
        == 403
    )
    forged = other[:-4] + ("AAAA" if not other.endswith("AAAA") else "BBBB")
    assert (
        a3.client.post(PATH, json=body, headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )
    assert a3.client.post(PATH, json=body, headers={"Accept": "text/html"}).status_code == 406
    assert inspect.correspondence_id(a3.engine, 1050) is None


def test_defaults_a3_applied_to_omitted_values(a3) -> None:
    body = migrate_body(1060)
    del body["created"]
    body["eventHistory"][2]["statusText"] = None  # explicit null → the enum name
    del body["eventHistory"][0]["statusText"]  # absent → ""
    assert a3.client.post(PATH, json=body).status_code == 200
    created = _sql(
        a3,
        'select "Created" from correspondence."Correspondences" '
        'where "Altinn2CorrespondenceId" = 1060',
    )[0][0]
    assert created.year == 1  # C#'s default(DateTimeOffset)
    texts = [s["StatusText"] for s in inspect.statuses(a3.engine, 1060)]
    assert texts == ["", "Correspondence Published in Altinn 2", "Read"]


def test_external_reference_rules(a3) -> None:
    base = migrate_body(1070)
    refused = [
        [{"referenceValue": str(uuid.uuid4()), "referenceType": 5}],
        [{"referenceValue": "Nonsense", "referenceType": "DialogportenTransmissionType"}],
        [{"referenceValue": "x", "referenceType": 0}] * 11,
    ]
    for refs in refused:
        response = a3.client.post(PATH, json=with_correspondence(base, externalReferences=refs))
        assert response.status_code == 400
    ok = [
        {"referenceValue": "Decision", "referenceType": 6},
        {"referenceValue": "x", "referenceType": 0},
    ]
    assert (
        a3.client.post(PATH, json=with_correspondence(base, externalReferences=ok)).status_code
        == 200
    )
    assert inspect.table_counts(a3.engine)["ExternalReferences"] >= 2
