"""All replicas together (sandbox/services.py): a client that signs its own Maskinporten
assertion with the provisioned key creates a resource, uploads an attachment, migrates a
correspondence and makes it available, and the dialog lands in the Dialogporten replica.
Also the empty-dialog-id quirk when Dialogporten refuses (unknown resource)."""

from __future__ import annotations

import hashlib
import time
import uuid

import httpx
import jwt
import pytest
import sqlalchemy as sa

from sandbox.a3 import inspect
from sandbox.a3.register import synthetic_person_urn
from sandbox.services import start_replicas
from tests.sandbox.payloads import READER_PARTY, migrate_body, with_correspondence
from tests.sandbox.test_resource_registry import _policy, _resource

MIGRATION = "/correspondence/api/v1/migration"
RID = "abc-migratedcorrespondence-1234-1"


@pytest.fixture(scope="module")
def replicas(settings, pg_admin):
    with start_replicas(settings) as running:
        # Register knows the reader of the payloads' Read events (an unknown party fails
        # make-available, as in real A3 since PR #1952).
        reader = uuid.UUID(READER_PARTY)
        running.apps["a3"].state.register.add(reader, synthetic_person_urn(reader))
        yield running
    running.apps["a3"].state.engine.dispose()
    engine = sa.create_engine(pg_admin.sqlalchemy_url("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        name = running.sandbox_database_url.database
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    engine.dispose()


def _token(settings, scopes: str) -> str:
    """What flytt's Maskinporten client does: sign an assertion with the key file, post it."""
    token_url = settings.maskinporten_token_url
    now = int(time.time())
    assertion = jwt.encode(
        {
            "iss": settings.maskinporten_client_id,
            "aud": token_url.rsplit("/", 1)[0] + "/",
            "scope": scopes,
            "iat": now,
            "exp": now + 60,
            "jti": str(uuid.uuid4()),
        },
        settings.maskinporten_key_file.read_bytes(),
        algorithm="RS256",
    )
    response = httpx.post(
        token_url,
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_settings_point_at_the_replicas(replicas, settings) -> None:
    live = replicas.settings
    assert live.a3_base_url == replicas.urls["a3"] != settings.a3_base_url
    assert live.maskinporten_token_url == replicas.urls["maskinporten"] + "/token"
    assert live.maskinporten_key_file.is_file()
    assert live.maskinporten_key_file.is_relative_to(settings.data_dir)
    assert set(replicas.urls) == {
        "maskinporten",
        "resource_registry",
        "dialogporten",
        "a3",
        "a2_bridge",
    }
    assert live.a2_bridge_base_url == replicas.urls["a2_bridge"] + "/serviceengine/api/"


def test_resource_attachment_migrate_and_make_available_end_to_end(replicas) -> None:
    live = replicas.settings
    admin = _token(live, "altinn:resourceregistry/resource.admin")
    registry = httpx.Client(
        base_url=live.resource_registry_base_url, headers={"Authorization": f"Bearer {admin}"}
    )
    assert registry.post("/resourceregistry/api/v1/resource", json=_resource()).status_code == 201
    files = {"policyFile": ("p.xml", _policy(), "application/xml")}
    assert (
        registry.post(f"/resourceregistry/api/v1/resource/{RID}/policy", files=files).status_code
        == 201
    )

    token = _token(live, "altinn:correspondence.migrate")
    a3 = httpx.Client(
        base_url=live.a3_base_url + MIGRATION, headers={"Authorization": f"Bearer {token}"}
    )
    data = b"%PDF-1.4 sandbox attachment"
    params = {
        "resourceId": RID,
        "sender": "urn:altinn:organization:identifier-no:910000000",
        "senderPartyUuid": str(uuid.uuid4()),
        "altinn2AttachmentId": "A2-77",
        "sendersReference": "ref",
        "fileName": "vedtak.pdf",
        "checksum": hashlib.md5(data).hexdigest(),
    }
    headers = {"Content-Type": "application/octet-stream"}
    attachment = a3.post("/attachment", params=params, content=data, headers=headers)
    assert attachment.status_code == 200, attachment.text
    body = migrate_body(5001)
    body["correspondenceData"]["existingAttachments"] = [attachment.json()]
    migrated = a3.post("/correspondence", json=body)
    assert migrated.status_code == 200, migrated.text
    corr_id = migrated.json()["correspondenceId"]

    made = a3.post("/makemigratedcorrespondenceavailable", json={"correspondenceIds": [corr_id]})
    status = made.json()["statuses"][0]
    assert status["ok"] is True, status
    assert status["dialogId"]
    db = replicas.sandbox_database_url
    assert inspect.dialog_ids(db) == {5001: status["dialogId"]}
    issuer = live.maskinporten_token_url.rsplit("/", 1)[0] + "/"
    dp_token = replicas.maskinporten.issue_token(
        "t", ["digdir:dialogporten.serviceprovider"], issuer
    )["access_token"]
    lookup = httpx.get(
        f"{live.dialogporten_base_url}/api/v1/serviceowner/dialoglookup",
        params={"instanceRef": f"urn:altinn:correspondence-id:{corr_id}"},
        headers={"Authorization": f"Bearer {dp_token}"},
    )
    assert lookup.status_code == 200, lookup.text
    assert lookup.json()["dialogId"] == status["dialogId"]
    again = a3.post("/makemigratedcorrespondenceavailable", json={"correspondenceId": corr_id})
    assert again.json()["statuses"][0]["dialogId"] == status["dialogId"]  # idempotent
    counts = inspect.counts_by_altinn2_id(db, [5001])[5001]
    assert (counts.correspondences, counts.attachments) == (1, 1)
    with replicas.apps["a3"].state.engine.connect() as conn:
        keys = conn.execute(
            sa.text(
                'select "StatusAction", "IdempotencyType" from correspondence."IdempotencyKeys" '
                'where "CorrespondenceId" = :c'
            ),
            {"c": corr_id},
        ).all()
    assert [tuple(k) for k in keys] == [(4, 0)]  # the opened activity of the migrated Read


def test_a_dialogporten_refusal_gives_ok_with_an_empty_dialog_id(replicas) -> None:
    live = replicas.settings
    token = _token(live, "altinn:correspondence.migrate")
    a3 = httpx.Client(
        base_url=live.a3_base_url + MIGRATION, headers={"Authorization": f"Bearer {token}"}
    )
    body = with_correspondence(migrate_body(5002), resourceId="abc-migratedcorrespondence-9-9")
    corr_id = a3.post("/correspondence", json=body).json()["correspondenceId"]
    made = a3.post("/makemigratedcorrespondenceavailable", json={"correspondenceIds": [corr_id]})
    assert made.json()["statuses"] == [
        {"correspondenceId": corr_id, "dialogId": "", "error": None, "ok": True}
    ]
    migrating = _is_migrating(replicas, 5002)
    assert migrating is True
    unknown = str(uuid.uuid4())
    missing = a3.post("/makemigratedcorrespondenceavailable", json={"correspondenceId": unknown})
    assert missing.json()["statuses"][0]["ok"] is False


def _is_migrating(replicas, a2_id: int) -> bool:
    engine = replicas.apps["a3"].state.engine
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                'select "IsMigrating" from correspondence."Correspondences" '
                'where "Altinn2CorrespondenceId" = :i'
            ),
            {"i": a2_id},
        ).scalar()


def _a3_client(replicas) -> httpx.Client:
    """An A3 client; makes sure the test resource exists in the Resource Registry first."""
    live = replicas.settings
    admin = _token(live, "altinn:resourceregistry/resource.admin")
    created = httpx.post(
        f"{live.resource_registry_base_url}/resourceregistry/api/v1/resource",
        json=_resource(),
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert created.status_code in (201, 409)
    token = _token(live, "altinn:correspondence.migrate")
    return httpx.Client(
        base_url=live.a3_base_url + MIGRATION, headers={"Authorization": f"Bearer {token}"}
    )


def _wait_for_dialog(replicas, a2_id: int) -> str | None:
    for _ in range(200):  # bounded wait for the replica's background job
        found = inspect.dialog_ids(replicas.sandbox_database_url).get(a2_id)
        if found:
            return found
        time.sleep(0.05)
    return None


def test_batch_mode_walks_newest_first_within_the_window(replicas) -> None:
    a3 = _a3_client(replicas)
    ids = {}
    for a2_id, created in ((5101, "2019-01-01"), (5102, "2019-03-01"), (5103, "2019-02-01")):
        body = migrate_body(a2_id, created=f"{created}T12:00:00+00:00")
        ids[a2_id] = a3.post("/correspondence", json=body).json()["correspondenceId"]
    window = {"createdFrom": "2019-01-01T00:00:00Z", "createdTo": "2019-12-31T00:00:00Z"}
    made = a3.post("/makemigratedcorrespondenceavailable", json={"batchSize": 2, **window})
    statuses = made.json()["statuses"]
    assert [s["correspondenceId"] for s in statuses] == [ids[5102], ids[5103]]
    assert all(s["ok"] and s["dialogId"] for s in statuses)
    assert not _is_migrating(replicas, 5102)
    assert _is_migrating(replicas, 5101)
    no_end = a3.post("/makemigratedcorrespondenceavailable", json={"batchSize": 2})
    assert no_end.status_code == 500
    queued = a3.post(
        "/makemigratedcorrespondenceavailable",
        json={"batchSize": 5, "asyncProcessing": True, **window},
    )
    assert queued.json() == {"statuses": []}
    assert _wait_for_dialog(replicas, 5101)


def test_make_available_on_migrate_answers_an_empty_id_and_creates_the_dialog_later(
    replicas,
) -> None:
    a3 = _a3_client(replicas)
    response = a3.post("/correspondence", json=migrate_body(5201, makeAvailable=True))
    assert response.json()["dialogId"] == ""
    assert _wait_for_dialog(replicas, 5201)
    resent = a3.post("/correspondence", json=migrate_body(5202, makeAvailable=False))
    corr_id = resent.json()["correspondenceId"]
    again = a3.post("/correspondence", json=migrate_body(5202, makeAvailable=True))
    assert again.json()["dialogId"] is None  # re-migration ignores makeAvailable
    assert inspect.dialog_ids(replicas.sandbox_database_url).get(5202) is None
    purge = {
        "status": 8,
        "statusChanged": "2025-05-01T00:00:00+00:00",
        "eventUserPartyUuid": str(uuid.uuid4()),
    }
    a3.post(
        "/correspondence/syncStatusEvent",
        json={"correspondenceId": corr_id, "syncedStatusEvents": [purge]},
    )
    refused = a3.post("/makemigratedcorrespondenceavailable", json={"correspondenceId": corr_id})
    status = refused.json()["statuses"][0]
    assert status["ok"] is False and "purged" in status["error"]


def test_a_lost_answer_and_a_re_send_leave_one_correspondence(replicas) -> None:
    a3 = _a3_client(replicas)
    faults = replicas.faults["a3"]
    faults.configure(rate_drop_after=1.0)
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            a3.post("/correspondence", json=migrate_body(5301))
    finally:
        faults.off()
    first = inspect.correspondence_id(replicas.sandbox_database_url, 5301)
    assert first is not None  # the request took effect although the answer was lost
    again = a3.post("/correspondence", json=migrate_body(5301))
    assert again.json()["correspondenceId"] == first
    counts = inspect.counts_by_altinn2_id(replicas.sandbox_database_url, [5301])[5301]
    assert (counts.correspondences, counts.statuses, counts.notifications) == (1, 3, 1)
    assert faults.stats["drop_after"] == 1


def _dialog(replicas, dialog_id: str) -> dict:
    live = replicas.settings
    issuer = live.maskinporten_token_url.rsplit("/", 1)[0] + "/"
    token = replicas.maskinporten.issue_token(
        "t", ["digdir:dialogporten.serviceprovider", "digdir:dialogporten.correspondence"], issuer
    )["access_token"]
    response = httpx.get(
        f"{live.dialogporten_base_url}/api/v1/serviceowner/dialogs/{dialog_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _wait_until(check) -> bool:
    for _ in range(200):  # bounded wait for the replica's background job
        if check():
            return True
        time.sleep(0.05)
    return False


def test_sync_on_an_available_correspondence_updates_its_dialog(replicas) -> None:
    a3 = _a3_client(replicas)
    body = migrate_body(5401)
    body["eventHistory"] = body["eventHistory"][:2]  # created + published, never read
    corr_id = a3.post("/correspondence", json=body).json()["correspondenceId"]
    made = a3.post("/makemigratedcorrespondenceavailable", json={"correspondenceId": corr_id})
    dialog_id = made.json()["statuses"][0]["dialogId"]
    before = _dialog(replicas, dialog_id)
    assert [a["type"] for a in before["activities"]] == ["Information"]  # the notification
    assert before["systemLabel"] == "Default"

    reader_uuid = uuid.uuid4()
    replicas.apps["a3"].state.register.add(reader_uuid, synthetic_person_urn(reader_uuid))
    reader = str(reader_uuid)
    events = [
        {"status": 4, "statusChanged": "2025-03-10T10:00:00+00:00", "eventUserPartyUuid": reader},
        {"status": 9, "statusChanged": "2025-03-11T10:00:00+00:00", "eventUserPartyUuid": reader},
    ]
    a3.post(
        "/correspondence/syncStatusEvent",
        json={"correspondenceId": corr_id, "syncedStatusEvents": events},
    )

    def updated() -> bool:
        dialog = _dialog(replicas, dialog_id)
        types = sorted(a["type"] for a in dialog["activities"])
        return (
            types == ["CorrespondenceOpened", "Information"] and dialog["systemLabel"] == "Archive"
        )

    assert _wait_until(updated)
    a3.post(  # the same events again: nothing new is saved or sent
        "/correspondence/syncStatusEvent",
        json={"correspondenceId": corr_id, "syncedStatusEvents": events},
    )
    assert len(_dialog(replicas, dialog_id)["activities"]) == 2
