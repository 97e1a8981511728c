"""A3 replica, `POST /migration/correspondence`: the model rules of the snapshot it follows
(Altinn/altinn-correspondence, parent of 9f4c2ef8), enforced neither less nor more strictly.

Sources: `src/Altinn.Correspondence.API/Models/InitializeCorrespondenceContentExt.cs` (content
limits of PR #2012, `[ISO6391]`), `Models/MigrateCorrespondenceStatusEventExt.cs` (only the party
is required), `Models/BaseCorrespondenceExt.cs` (no sender format; `[ExternalReferences]`),
`Models/MigrateCorrespondenceForwardingEventExt.cs` (`[OrganizationNumberOptional]`),
`Mappers/MigrateCorrespondenceMapper.cs` (runs before the handler), `Program.cs`
(`JsonStringEnumConverter`) and `Helpers/ProblemDetailsHelper.cs` (problem shapes).
"""

from __future__ import annotations

import copy

import sqlalchemy as sa

from sandbox.a3 import inspect
from tests.sandbox.payloads import SENDER_PARTY, migrate_body, with_content, with_correspondence

PATH = "/correspondence"
CONTENT = "CorrespondenceData.Correspondence.Content"


def _sql(a3, query: str, **params):
    with a3.engine.connect() as conn:
        return conn.execute(sa.text(query), params).all()


def _refused(a3, body: dict, a2_id: int) -> dict:
    """Post `body`; assert a 400 validation problem and that nothing was stored; return it."""
    response = a3.client.post(PATH, json=body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert inspect.correspondence_id(a3.engine, a2_id) is None
    return response.json()


def test_a_title_over_255_utf16_units_is_a_validation_problem(a3) -> None:
    base = migrate_body(7101)
    problem = _refused(a3, with_content(base, messageTitle="T" * 256), 7101)
    assert problem["title"] == "Bad Request"
    assert problem["type"] == "https://tools.ietf.org/html/rfc9110#section-15.5.1"
    assert problem["errors"] == {
        f"{CONTENT}.MessageTitle": [
            "The field MessageTitle must be a string with a minimum length of 1 and a maximum "
            "length of 255."
        ]
    }
    assert problem["validationErrors"][0]["paths"] == [
        "CorrespondenceData/Correspondence/Content/MessageTitle"
    ]
    # .NET counts UTF-16 code units: 254 letters and one emoji are 256 units, 255 characters
    _refused(a3, with_content(base, messageTitle="T" * 254 + "\U0001f600"), 7101)
    ok = a3.client.post(PATH, json=with_content(base, messageTitle="T" * 255))
    assert ok.status_code == 200, ok.text
    stored = _sql(
        a3,
        'select length(c."MessageTitle") from correspondence."CorrespondenceContents" c '
        'join correspondence."Correspondences" r on r."Id" = c."CorrespondenceId" '
        'where r."Altinn2CorrespondenceId" = 7101',
    )
    assert stored == [(255,)]


def test_a_blank_or_missing_title_is_refused_by_the_model_not_by_error_1020(a3) -> None:
    base = migrate_body(7102)
    blank = _refused(a3, with_content(base, messageTitle="   "), 7102)
    assert "errorCode" not in blank or blank["errorCode"] != 1020
    assert blank["errors"][f"{CONTENT}.MessageTitle"] == ["The MessageTitle field is required."]
    empty = _refused(a3, with_content(base, messageTitle=""), 7102)
    assert len(empty["errors"][f"{CONTENT}.MessageTitle"]) == 2  # [Required] and [StringLength]
    _refused(a3, with_content(base, messageTitle=None), 7102)
    missing = copy.deepcopy(base)
    del missing["correspondenceData"]["correspondence"]["content"]["messageTitle"]
    _refused(a3, missing, 7102)


def test_a_summary_over_255_is_refused_and_255_is_accepted(a3) -> None:
    base = migrate_body(7103)
    problem = _refused(a3, with_content(base, messageSummary="S" * 256), 7103)
    assert problem["errors"] == {
        f"{CONTENT}.MessageSummary": [
            "The field MessageSummary must be a string with a maximum length of 255."
        ]
    }
    assert (
        a3.client.post(PATH, json=with_content(base, messageSummary="S" * 255)).status_code == 200
    )


def test_an_empty_null_missing_or_too_long_body_is_a_400_not_a_500(a3) -> None:
    base = migrate_body(7104)
    key = f"{CONTENT}.MessageBody"
    assert _refused(a3, with_content(base, messageBody=None), 7104)["errors"] == {
        key: ["The MessageBody field is required."]
    }
    assert _refused(a3, with_content(base, messageBody=""), 7104)["errors"][key] == [
        "The MessageBody field is required.",
        "The field MessageBody must be a string with a minimum length of 1 and a maximum "
        "length of 30000.",
    ]
    _refused(a3, with_content(base, messageBody=" \n "), 7104)
    _refused(a3, with_content(base, messageBody="B" * 30001), 7104)
    missing = copy.deepcopy(base)
    del missing["correspondenceData"]["correspondence"]["content"]["messageBody"]
    _refused(a3, missing, 7104)
    ok = a3.client.post(PATH, json=with_content(base, messageBody="B" * 30000))
    assert ok.status_code == 200, ok.text


def test_all_content_rule_failures_are_reported_together(a3) -> None:
    body = with_content(
        migrate_body(7105), messageTitle="T" * 300, messageSummary="S" * 300, messageBody=""
    )
    problem = _refused(a3, body, 7105)
    assert set(problem["errors"]) == {
        f"{CONTENT}.MessageTitle",
        f"{CONTENT}.MessageSummary",
        f"{CONTENT}.MessageBody",
    }
    assert len(problem["validationErrors"]) == 4  # one entry per message


def test_language_length_is_a_model_rule_and_unsupported_codes_stay_1023(a3) -> None:
    base = migrate_body(7106)
    problem = _refused(a3, with_content(base, language="nob"), 7106)
    assert problem["errors"] == {
        f"{CONTENT}.Language": ["The ISO6391 field must be exactly 2 characters long!"]
    }
    unsupported = a3.client.post(PATH, json=with_content(base, language="sv"))
    assert (unsupported.status_code, unsupported.json()["errorCode"]) == (400, 1023)
    assert unsupported.json()["title"] == "Bad Request"
    assert (
        unsupported.json()["detail"]
        == "Invalid language chosen. Supported languages is Norsk bokmål (nb), Nynorsk (nn) and "
        "English (en)"
    )
    assert a3.client.post(PATH, json=with_content(base, language="NB")).status_code == 200


def test_enums_bind_as_system_text_json_with_integers_allowed(a3) -> None:
    body = migrate_body(7107)
    body["eventHistory"][1]["status"] = "published"  # a name in any case
    body["eventHistory"][2]["status"] = "4"  # a numeric string
    body["eventHistory"].append(
        {
            "status": 99,  # not a MigrateCorrespondenceStatusExt member: bound and stored
            "statusText": None,
            "statusChanged": "2025-03-03T10:00:00+00:00",
            "eventUserPartyUuid": SENDER_PARTY,
        }
    )
    body["notificationHistory"][0]["notificationChannel"] = "SMS"
    response = a3.client.post(PATH, json=body)
    assert response.status_code == 200, response.text
    statuses = [(s["Status"], s["StatusText"]) for s in inspect.statuses(a3.engine, 7107)]
    assert (2, "Correspondence Published in Altinn 2") in statuses
    assert (4, "Migrated event Read from Altinn 2") in statuses
    assert (99, "99") in statuses  # StatusText ?? Status.ToString()
    channel = _sql(
        a3,
        'select n."NotificationChannel" from correspondence."CorrespondenceNotifications" n '
        'join correspondence."Correspondences" r on r."Id" = n."CorrespondenceId" '
        'where r."Altinn2CorrespondenceId" = 7107',
    )
    assert channel == [(1,)]
    bad = copy.deepcopy(body)
    bad["altinn2CorrespondenceId"] = 7108
    bad["eventHistory"][0]["status"] = "Opened"
    problem = _refused(a3, bad, 7108)
    assert list(problem["errors"]) == ["$.eventHistory[0].status"]


def test_a_status_event_needs_only_its_party(a3) -> None:
    body = migrate_body(7109)
    body["eventHistory"] = [{"eventUserPartyUuid": SENDER_PARTY}]
    response = a3.client.post(PATH, json=body)
    assert response.status_code == 200, response.text
    [status] = inspect.statuses(a3.engine, 7109)
    assert (status["Status"], status["StatusText"]) == (0, "")
    assert status["StatusChanged"].year == 1  # default(DateTimeOffset)
    no_party = migrate_body(7110)
    del no_party["eventHistory"][0]["eventUserPartyUuid"]
    _refused(a3, no_party, 7110)


def test_the_sender_has_no_format_rule(a3) -> None:
    body = with_correspondence(migrate_body(7111), sender="Etat X uten orgnummer")
    response = a3.client.post(PATH, json=body)
    assert response.status_code == 200, response.text
    row = _sql(
        a3,
        'select "Sender", "ServiceOwnerId" from correspondence."Correspondences" '
        'where "Altinn2CorrespondenceId" = 7111',
    )
    assert row == [("Etat X uten orgnummer", None)]


def test_the_transmission_type_value_is_checked_only_for_a_single_type_6_reference(a3) -> None:
    base = migrate_body(7112)
    one_bad = with_correspondence(
        base, externalReferences=[{"referenceValue": "Bogus", "referenceType": 6}]
    )
    problem = _refused(a3, one_bad, 7112)
    assert problem["errors"] == {
        "CorrespondenceData.Correspondence.ExternalReferences": [
            "DialogportenTransmissionType referenceValue must be a valid transmission type"
        ]
    }
    lower = with_correspondence(
        base,
        externalReferences=[
            {"referenceValue": "decision", "referenceType": "DialogportenTransmissionType"}
        ],
    )
    assert a3.client.post(PATH, json=lower).status_code == 200
    two_bad = with_correspondence(
        migrate_body(7113),
        externalReferences=[
            {"referenceValue": "Bogus", "referenceType": 6},
            {"referenceValue": "Other", "referenceType": 6},
        ],
    )
    assert a3.client.post(PATH, json=two_bad).status_code == 200


def test_a_mailbox_supplier_must_be_an_organisation_number(a3) -> None:
    body = migrate_body(7114)
    body["forwardingHistory"] = [
        {
            "forwardedOnDate": "2025-03-04T10:00:00+00:00",
            "forwardedByPartyUuid": SENDER_PARTY,
            "mailboxSupplier": "910753614",
        }
    ]
    problem = _refused(a3, body, 7114)
    assert list(problem["errors"]) == ["ForwardingHistory[0].MailboxSupplier"]
    body["forwardingHistory"][0]["mailboxSupplier"] = "0192:910753614"
    assert a3.client.post(PATH, json=body).status_code == 200


def test_the_mapper_crashes_before_the_handler_validates_content(a3) -> None:
    body = with_correspondence(migrate_body(7115), content=None)
    body["correspondenceData"]["recipients"] = []
    response = a3.client.post(PATH, json=body)
    assert response.status_code == 500  # Recipients.First() throws before error 1019
    body["correspondenceData"]["recipients"] = [None]
    assert a3.client.post(PATH, json=body).status_code == 500
    assert inspect.correspondence_id(a3.engine, 7115) is None
    missing_content = a3.client.post(
        PATH, json=with_correspondence(migrate_body(7115), content=None)
    )
    assert missing_content.status_code == 400
    assert missing_content.json() | {"traceId": ""} == {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "Bad Request",
        "status": 400,
        "detail": "The Content field must be provided for the correspondence",
        "errorCode": 1019,
        "traceId": "",
    }
