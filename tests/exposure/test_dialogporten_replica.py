"""The Dialogporten replica rejects what the real one rejects (dialogporten.md §1, §2.3)."""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest

from exposure.dialog import create_dialog_request
from exposure.model import A3Correspondence, CorrespondenceContent, StatusEvent
from tests.exposure.conftest import CORRESPONDENCE, SERVICEPROVIDER, Dialogporten, Maskinporten

CREATE = "/api/v1/serviceowner/dialogs"
READER = "urn:altinn:person:identifier-no:01017000027"  # valid mod-11 check digits


def request_for(title: str = "Vedtak") -> tuple[str, dict, dict]:
    now = datetime.now(UTC)
    c = A3Correspondence(
        correspondence_id=uuid4(),
        altinn2_correspondence_id=1,
        resource_id="skd-migratedcorrespondence-1234-1",
        sender="urn:altinn:organization:identifier-no:974761076",
        recipient="urn:altinn:organization:identifier-no:991825827",
        content=CorrespondenceContent(message_title=title),
        created=now - timedelta(days=30),
        requested_publish_time=now - timedelta(days=30),
        status_events=(
            StatusEvent(status=4, status_changed=now - timedelta(days=29), party_urn=READER),
        ),
    )
    r = create_dialog_request(c, now=now)
    return str(r.dialog_id), r.params, r.body


def create(dp: Dialogporten, body: dict, **kw: object) -> httpx.Response:
    return dp.client.post(CREATE, params={"isSilentUpdate": "true"}, json=body, **kw)  # type: ignore[arg-type]


def test_create_then_get_and_lookup(dialogporten: Dialogporten) -> None:
    dialog_id, _, body = request_for()
    answer = create(dialogporten, body)
    assert answer.status_code == 201
    assert answer.json() == dialog_id
    assert answer.headers["location"] == f"{CREATE}/{dialog_id}"
    got = dialogporten.client.get(f"{CREATE}/{dialog_id}").json()
    assert got["revision"] == answer.headers["etag"]
    assert got["party"] == body["party"]
    assert got["activities"][0]["performedBy"]["actorId"] == READER
    assert got["hasUnopenedContent"] is False
    label = body["serviceOwnerContext"]["serviceOwnerLabels"][0]["value"]
    found = dialogporten.client.get(
        "/api/v1/serviceowner/dialoglookup", params={"instanceRef": label.upper()}
    )
    assert found.status_code == 200
    assert found.json()["dialogId"] == dialog_id
    missing = dialogporten.client.get(
        "/api/v1/serviceowner/dialoglookup",
        params={"instanceRef": f"urn:altinn:correspondence-id:{uuid4()}"},
    )
    assert missing.status_code == 404
    odd = dialogporten.client.get(
        "/api/v1/serviceowner/dialoglookup", params={"instanceRef": "urn:foo:bar"}
    )
    assert odd.status_code == 400
    no_ref = dialogporten.client.get("/api/v1/serviceowner/dialoglookup")
    assert no_ref.status_code == 400  # required query parameter, per the OpenAPI document


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda b: b.update(status="Finished"), "$.status"),
        (lambda b: b.update(createdAt="yesterday"), "$.createdAt"),
        (lambda b: b["activities"][0].update(type="Opened"), "$.activities[0].type"),
        (
            lambda b: b["activities"][0]["performedBy"].update(actorType="Robot"),
            "$.activities[0].performedBy",
        ),
    ],
)
def test_bodies_the_openapi_document_rejects(dialogporten: Dialogporten, change, where) -> None:
    _, _, body = request_for()
    change(body)
    answer = create(dialogporten, body)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert where in answer.json()["errors"]
    assert dialogporten.replica.stats["create_spec_invalid"] == 1
    assert len(dialogporten.replica.store) == 0


def test_unknown_members_are_skipped_not_refused(dialogporten: Dialogporten) -> None:
    # The real service's JSON options set no UnmappedMemberHandling (Altinn/dialogporten
    # src/Digdir.Domain.Dialogporten.WebApi/Program.cs), so System.Text.Json skips unknown
    # members although the document says additionalProperties: false. A3 relies on it: its
    # GUI action titles carry `mediaType`.
    _, _, body = request_for()
    body["unknownField"] = 1
    body["content"]["title"]["extra"] = True
    body["guiActions"] = [
        {
            "action": "read",
            "url": "https://platform.altinn.no/correspondence/api/v1/correspondence/x/purge",
            "httpMethod": "DELETE",
            "priority": "Tertiary",
            "isDeleteDialogAction": True,
            "title": [{"languageCode": "nb", "value": "Slett", "mediaType": "text/plain"}],
        }
    ]
    answer = create(dialogporten, body)
    assert answer.status_code == 201, answer.text
    stored = dialogporten.client.get(f"/api/v1/serviceowner/dialogs/{answer.json()}").json()
    assert "unknownField" not in stored
    assert "extra" not in stored["content"]["title"]
    assert stored["guiActions"][0]["title"] == [{"languageCode": "nb", "value": "Slett"}]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.update(id=str(uuid4())), "Id"),  # v4, not v7
        (lambda b: b.update(party="urn:altinn:organization:identifier-no:991825828"), "Party"),
        (lambda b: b.update(systemLabel="Sent"), "SystemLabel"),
        (lambda b: b.update(updatedAt="2000-01-01T00:00:00Z"), "UpdatedAt"),
        (lambda b: b["activities"][0].update(type="Information"), "Activities[0].Description"),
        (lambda b: b["content"]["title"].update(mediaType="text/html"), "Content.title.MediaType"),
    ],
)
def test_domain_rules_beyond_the_document(dialogporten: Dialogporten, change, field) -> None:
    _, _, body = request_for()
    change(body)
    answer = create(dialogporten, body)
    assert answer.status_code == 400
    assert field in answer.json()["errors"]
    assert dialogporten.replica.stats["create_spec_invalid"] == 0


def test_existing_id_is_422_and_reused_idempotent_key_is_409(dialogporten: Dialogporten) -> None:
    _, _, body = request_for()
    assert create(dialogporten, body).status_code == 201
    again = create(dialogporten, body)
    assert again.status_code == 422
    assert "already exists" in str(again.json()["errors"])
    _, _, first = request_for()
    _, _, second = request_for()
    first["idempotentKey"] = second["idempotentKey"] = "key-123"
    assert create(dialogporten, first).status_code == 201
    conflict = create(dialogporten, second)
    assert conflict.status_code == 409
    assert len(dialogporten.replica.store) == 2


def test_stale_if_match_is_412(dialogporten: Dialogporten) -> None:
    dialog_id, _, body = request_for()
    etag = create(dialogporten, body).headers["etag"]
    activity = {
        "type": "Information",
        "performedBy": {"actorType": "ServiceOwner"},
        "description": [{"languageCode": "nb", "value": "Hei"}],
    }
    path = f"{CREATE}/{dialog_id}/activities"
    stale = dialogporten.client.post(path, json=activity, headers={"If-Match": str(uuid4())})
    assert stale.status_code == 412
    fresh = dialogporten.client.post(path, json=activity, headers={"If-Match": etag})
    assert fresh.status_code == 201
    assert fresh.headers["etag"] != etag
    again = dialogporten.client.post(path, json=activity, headers={"If-Match": etag})
    assert again.status_code == 412  # the revision moved on
    labels = f"{CREATE}/{dialog_id}/endusercontext/systemlabels"
    context = dialogporten.client.get(f"{CREATE}/{dialog_id}").json()["endUserContext"]
    params = {"enduserId": READER}
    assert (
        dialogporten.client.put(
            labels,
            params=params,
            json={"addLabels": ["Archive"]},
            headers={"If-Match": str(uuid4())},
        ).status_code
        == 412
    )
    assert (
        dialogporten.client.put(
            labels,
            params=params,
            json={"addLabels": ["Archive"]},
            headers={"If-Match": context["revision"]},
        ).status_code
        == 204
    )
    assert dialogporten.client.get(f"{CREATE}/{dialog_id}").json()["systemLabel"] == "Archive"


def test_concurrent_writes_to_one_dialog_get_409(dialogporten: Dialogporten) -> None:
    dialog_id, _, body = request_for()
    assert create(dialogporten, body).status_code == 201
    dialogporten.replica.write_delay_s = 0.3
    activity = {
        "type": "Information",
        "performedBy": {"actorType": "ServiceOwner"},
        "description": [{"languageCode": "nb", "value": "Hei"}],
    }
    statuses: list[int] = []

    def post() -> None:
        statuses.append(
            dialogporten.client.post(f"{CREATE}/{dialog_id}/activities", json=activity).status_code
        )

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409]


def test_scopes(dialogporten: Dialogporten, maskinporten: Maskinporten) -> None:
    _, _, body = request_for()
    url = dialogporten.url + CREATE
    assert httpx.post(url, json=body).status_code == 401
    bad = httpx.post(url, json=body, headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401
    other = maskinporten.token("altinn:correspondence.migrate")
    assert (
        httpx.post(url, json=body, headers={"Authorization": f"Bearer {other}"}).status_code == 403
    )
    plain = maskinporten.token(SERVICEPROVIDER)  # no digdir:dialogporten.correspondence
    answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {plain}"})
    assert answer.status_code == 403
    full = maskinporten.token(SERVICEPROVIDER, CORRESPONDENCE)
    ok = httpx.post(
        url,
        json=body,
        params={"isSilentUpdate": "true"},
        headers={"Authorization": f"Bearer {full}"},
    )
    assert ok.status_code == 201


def test_injected_429_and_503_carry_retry_after(dialogporten: Dialogporten) -> None:
    dialogporten.faults.configure(rate_429=1.0, retry_after_s=2)
    throttled = dialogporten.client.get(f"{CREATE}/{uuid4()}")
    dialogporten.faults.configure(rate_429=0.0, rate_503=1.0, retry_after_s=3)
    unavailable = dialogporten.client.get(f"{CREATE}/{uuid4()}")
    dialogporten.faults.off()
    assert (throttled.status_code, throttled.headers["retry-after"]) == (429, "2")
    assert (unavailable.status_code, unavailable.headers["retry-after"]) == (503, "3")
    assert dialogporten.client.get(f"{CREATE}/{uuid4()}").status_code == 404


def test_corruption_switch_changes_the_opened_actor(dialogporten: Dialogporten) -> None:
    dialogporten.replica.corrupt = {"opened_actor"}
    dialog_id, _, body = request_for()
    assert create(dialogporten, copy.deepcopy(body)).status_code == 201
    got = dialogporten.client.get(f"{CREATE}/{dialog_id}").json()
    assert got["activities"][0]["performedBy"]["actorId"] == body["party"]
    assert UUID(got["id"]) == UUID(dialog_id)
