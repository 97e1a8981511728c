"""A3 replica, the end-user (recipient) endpoints and their SBL-bridge calls to Altinn Storage
(a3-correspondence.md §3.3, sync-and-delegations.md §1.1; rules in sandbox/a3/recipient.py).

The Storage side is a small capturing receiver served in this process; it can be told to answer
500 a number of times. Waiting is done by polling with generous timeouts."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.a3 import inspect, storage_sync
from sandbox.a3 import tables as t
from sandbox.a3.app import create_app
from sandbox.a3.recipient import recipient_claims
from sandbox.a3.recipients_sim import act_randomly
from sandbox.a3.register import SandboxRegister, synthetic_person_urn
from sandbox.dialogporten.app import create_app as create_dialogporten
from sandbox.maskinporten.tokens import TokenVerifier
from sandbox.serve import serve_in_thread
from tests.sandbox.payloads import READER_PARTY, SENDER_PARTY, migrate_body, with_correspondence

ORG = "urn:altinn:organization:identifier-no:310000000"
OTHER_ORG = "urn:altinn:organization:identifier-no:320000000"
PERSON = synthetic_person_urn(uuid.UUID("33333333-3333-4333-8333-333333333333"))
UNKNOWN_PERSON = synthetic_person_urn(uuid.UUID("44444444-4444-4444-8444-444444444444"))
PARTY_IDS = {ORG: 50012345, PERSON: 50067890, OTHER_ORG: 50099999}
REC = "/correspondence/api/v1/correspondence"
TIMEOUT = 90.0


def wait_for(check: Callable[[], Any], timeout: float = TIMEOUT, what: str = "condition") -> Any:
    """Poll `check` until it returns a truthy value (busy machines: generous timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Storage:
    """The capturing SBL-bridge receiver: recorded requests and a count of 500s to answer."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def for_a2(self, a2_id: int) -> list[dict[str, Any]]:
        """Recorded requests whose body names A2 correspondence `a2_id`."""
        with self.lock:
            return [r for r in self.requests if (r["json"] or {}).get("correspondenceId") == a2_id]


def _storage_app(storage: Storage) -> FastAPI:
    app = FastAPI()

    @app.post("/storage/api/v1/sblbridge/synccorrespondenceevent")
    async def sync(request: Request) -> Response:
        body = await request.json()
        with storage.lock:
            failing = storage.fail_next > 0
            if failing:
                storage.fail_next -= 1
            storage.requests.append(
                {"json": body, "headers": dict(request.headers), "status": 500 if failing else 200}
            )
        if failing:
            return JSONResponse({"error": "bridge down"}, status_code=500)
        return Response(status_code=200)

    return app


@pytest.fixture(scope="module")
def storage() -> Iterator[Storage]:
    """A capturing Storage receiver on a free port."""
    state = Storage()
    with serve_in_thread(_storage_app(state)) as url:
        state.url = url
        yield state


@pytest.fixture(scope="module")
def dialogporten() -> Iterator[str]:
    """A Dialogporten replica (any bearer token; no mod-11 checks on the test parties)."""
    with serve_in_thread(create_dialogporten(checksums=False)) as url:
        yield url


@pytest.fixture(scope="module")
def a3r(a3_factory, maskinporten, storage, dialogporten):
    """The A3 replica with Dialogporten, a Register for the test parties and Storage calls."""
    register = SandboxRegister()
    register.add(uuid.UUID(READER_PARTY), ORG)
    register.add(uuid.UUID(SENDER_PARTY), "urn:altinn:organization:identifier-no:910000000")
    return a3_factory(
        dialogporten_base_url=dialogporten,
        dialogporten_token=lambda: "any",
        register=register,
        party_id_of=PARTY_IDS.get,
        storage_base_url=storage.url,
        storage_token=lambda: maskinporten.token("altinn:correspondence.sblbridge"),
        storage_retry_scale=0.001,
    )


def token_for(maskinporten, urn: str, scopes: tuple[str, ...] = ("altinn:correspondence.read",)):
    """A bearer token acting for `urn` (pid or consumer claim) with `scopes`."""
    body = maskinporten.replica.issue_token(
        "recipient", list(scopes), maskinporten.issuer, extra_claims=recipient_claims(urn)
    )
    return {"Authorization": f"Bearer {body['access_token']}"}


def history(read: bool) -> list[dict[str, Any]]:
    """The event history of `migrate_body`, with or without its A2 Read event."""
    events = migrate_body(0)["eventHistory"]
    return events if read else events[:2]


def available(a3, a2_id: int, *, read_in_a2: bool = False, recipient: str = ORG, **fields):
    """Migrate A2 element `a2_id` and make it available (its dialog is created)."""
    body = with_correspondence(migrate_body(a2_id, eventHistory=history(read_in_a2)), **fields)
    body["correspondenceData"]["recipients"] = [recipient]
    response = a3.client.post("/correspondence", json=body)
    assert response.status_code == 200, response.text
    corr_id = response.json()["correspondenceId"]
    made = a3.client.post(
        "/makemigratedcorrespondenceavailable", json={"correspondenceId": corr_id}
    )
    assert made.status_code == 200, made.text
    (status,) = made.json()["statuses"]
    assert status["ok"] and status["dialogId"], status
    return corr_id


def rec(a3) -> httpx.Client:
    """A client on the recipient API of `a3` (no default token)."""
    return httpx.Client(base_url=f"{a3.url}{REC}", timeout=30)


def drained(a3) -> bool:
    return storage_sync.pending_jobs(a3.engine) == 0


def test_fetch_then_markasread_sends_one_read_event(a3r, storage, maskinporten) -> None:
    corr_id = available(a3r, 7001)
    auth = token_for(maskinporten, ORG)
    with rec(a3r) as client:
        early = client.post(f"/{corr_id}/markasread", headers=auth)
        assert (early.status_code, early.json()["errorCode"]) == (400, 1024)
        overview = client.get(f"/{corr_id}", headers=auth)
        assert overview.status_code == 200
        assert overview.json()["status"] == "Published"
        assert overview.json()["altinn2CorrespondenceId"] == 7001
        read = client.post(f"/{corr_id}/markasread", headers=auth)
        assert (read.status_code, read.json()) == (200, corr_id)
        again = client.post(f"/{corr_id}/markasread", headers=auth)
        assert (again.status_code, again.json()["errorCode"]) == (400, 1040)
    sent = wait_for(lambda: storage.for_a2(7001), what="read event")
    wait_for(lambda: drained(a3r), what="queue drained")
    assert len(storage.for_a2(7001)) == 1
    body = sent[0]["json"]
    assert set(body) == {"correspondenceId", "partyId", "eventTimestamp", "eventType"}
    assert body["correspondenceId"] == 7001 and isinstance(body["correspondenceId"], int)
    assert body["partyId"] == PARTY_IDS[ORG] and isinstance(body["partyId"], int)
    assert body["eventType"] == "read"
    at = datetime.fromisoformat(body["eventTimestamp"])
    assert at.utcoffset() == timedelta(0)
    reads = [r for r in inspect.statuses(a3r.engine, 7001) if r["Status"] == 4]
    assert [r["StatusChanged"] for r in reads] == [at]
    bearer = sent[0]["headers"]["authorization"].split(" ", 1)[1]
    claims = jwt.decode(bearer, options={"verify_signature": False})
    assert "altinn:correspondence.sblbridge" in claims["scope"].split()
    with a3r.engine.connect() as conn:
        fetched = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.fetches)
            .where(t.fetches.c.CorrespondenceId == corr_id)
        ).scalar()
    assert fetched == 1


def test_content_reads_once_and_not_when_read_in_altinn2(a3r, storage, maskinporten) -> None:
    unread = available(a3r, 7002)
    read_before = available(a3r, 7003, read_in_a2=True)
    auth = token_for(maskinporten, ORG)
    with rec(a3r) as client:
        first = client.get(f"/{unread}/content", headers=auth)
        assert (first.status_code, first.text) == (200, "<p>Hei</p>")
        assert first.headers["content-type"].startswith("text/plain")
        assert client.get(f"/{unread}/content", headers=auth).status_code == 200
        assert client.get(f"/{read_before}/content", headers=auth).status_code == 200
        overview = client.get(f"/{unread}", headers=auth).json()
        assert overview["read"] is not None
    wait_for(lambda: storage.for_a2(7002), what="read event")
    wait_for(lambda: drained(a3r), what="queue drained")
    assert [r["json"]["eventType"] for r in storage.for_a2(7002)] == ["read"]
    assert storage.for_a2(7003) == []
    assert [r["Status"] for r in inspect.statuses(a3r.engine, 7003)].count(4) == 1


def test_confirm_then_purge(a3r, storage, maskinporten) -> None:
    corr_id = available(a3r, 7004, isConfirmationNeeded=True)
    auth = token_for(maskinporten, ORG)
    with rec(a3r) as client:
        early = client.post(f"/{corr_id}/confirm", headers=auth)
        assert (early.status_code, early.json()["errorCode"]) == (400, 1025)
        assert client.get(f"/{corr_id}", headers=auth).status_code == 200
        unconfirmed = client.delete(f"/{corr_id}/purge", headers=auth)
        assert (unconfirmed.status_code, unconfirmed.json()["errorCode"]) == (400, 1026)
        confirmed = client.post(f"/{corr_id}/confirm", headers=auth)
        assert (confirmed.status_code, confirmed.json()) == (200, corr_id)
        again = client.post(f"/{corr_id}/confirm", headers=auth)
        assert (again.status_code, again.json()["errorCode"]) == (400, 1041)
        purged = client.delete(f"/{corr_id}/purge", headers=auth)
        assert (purged.status_code, purged.json()) == (200, corr_id)
        twice = client.delete(f"/{corr_id}/purge", headers=auth)
        assert (twice.status_code, twice.json()["errorCode"]) == (400, 1014)
        gone = client.get(f"/{corr_id}", headers=auth)
        assert (gone.status_code, gone.json()["errorCode"]) == (404, 1001)
    wait_for(lambda: len(storage.for_a2(7004)) >= 2, what="confirm and delete events")
    wait_for(lambda: drained(a3r), what="queue drained")
    assert [r["json"]["eventType"] for r in storage.for_a2(7004)] == ["confirm", "delete"]
    statuses = [r["Status"] for r in inspect.statuses(a3r.engine, 7004)]
    assert statuses.count(6) == 1 and statuses.count(7) == 1


def test_confirm_without_required_confirmation_is_accepted_as_in_a3(
    a3r, storage, maskinporten
) -> None:
    # ConfirmCorrespondenceHandler.ValidateConfirmRequest checks Fetched and Confirmed only.
    corr_id = available(a3r, 7005, isConfirmationNeeded=False)
    auth = token_for(maskinporten, ORG)
    with rec(a3r) as client:
        assert client.get(f"/{corr_id}", headers=auth).status_code == 200
        assert client.post(f"/{corr_id}/confirm", headers=auth).status_code == 200
    wait_for(lambda: storage.for_a2(7005), what="confirm event")
    assert [r["json"]["eventType"] for r in storage.for_a2(7005)] == ["confirm"]


def test_events_from_the_sync_endpoints_never_call_storage(a3r, storage) -> None:
    corr_id = available(a3r, 7006)
    events = [
        {"eventUserPartyUuid": READER_PARTY, "status": s, "statusChanged": at}
        for s, at in ((4, "2025-05-01T10:00:00+00:00"), (7, "2025-05-02T10:00:00+00:00"))
    ]
    body = {"correspondenceId": corr_id, "syncedStatusEvents": events}
    assert a3r.client.post("/correspondence/syncStatusEvent", json=body).status_code == 200
    assert [r["Status"] for r in inspect.statuses(a3r.engine, 7006)][-2:] == [4, 7]
    assert storage_sync.jobs(a3r.engine, uuid.UUID(corr_id)) == []
    time.sleep(0.5)
    assert storage.for_a2(7006) == []


def test_a_500_is_retried_until_it_succeeds_and_the_job_row_stays(
    a3r, storage, maskinporten
) -> None:
    corr_id = available(a3r, 7007)
    auth = token_for(maskinporten, ORG)
    with storage.lock:
        storage.fail_next = 4  # the 4 tries (Polly: 1 + 3 retries) of the first execution
    with rec(a3r) as client:
        assert client.get(f"/{corr_id}/content", headers=auth).status_code == 200
    wait_for(lambda: [r for r in storage.for_a2(7007) if r["status"] == 200], what="success")
    wait_for(lambda: drained(a3r), what="queue drained")
    assert [r["status"] for r in storage.for_a2(7007)] == [500, 500, 500, 500, 200]
    (job,) = storage_sync.jobs(a3r.engine, uuid.UUID(corr_id))
    assert (job["state"], job["attempts"]) == ("succeeded", 2)
    assert "Status code: 500" in job["last_error"]


def test_tokens_scopes_and_access(a3r, storage, maskinporten) -> None:
    corr_id = available(a3r, 7008)
    migrating = a3r.client.post("/correspondence", json=migrate_body(7009)).json()
    with rec(a3r) as client:
        assert client.get(f"/{corr_id}").status_code == 401
        assert client.post(f"/{corr_id}/markasread").status_code == 401
        bad = token_for(maskinporten, ORG, ("altinn:serviceowner",))
        assert client.get(f"/{corr_id}", headers=bad).status_code == 403
        assert client.delete(f"/{corr_id}/purge", headers=bad).status_code == 403
        writer = token_for(maskinporten, ORG, ("altinn:correspondence.write",))
        assert client.post(f"/{corr_id}/markasread", headers=writer).status_code == 403
        stranger = token_for(maskinporten, OTHER_ORG)
        for answer in (
            client.get(f"/{corr_id}", headers=stranger),
            client.get(f"/{corr_id}/content", headers=stranger),
            client.delete(f"/{corr_id}/purge", headers=stranger),
        ):
            assert (answer.status_code, answer.json()["errorCode"]) == (401, 4001)
        hidden = client.get(
            f"/{migrating['correspondenceId']}", headers=token_for(maskinporten, ORG)
        )
        assert (hidden.status_code, hidden.json()["errorCode"]) == (404, 1001)
        assert client.get("/not-a-guid", headers=token_for(maskinporten, ORG)).status_code == 400
    assert storage.for_a2(7008) == []


def test_person_recipient_and_a_party_register_does_not_know(a3r, storage, maskinporten) -> None:
    known = available(a3r, 7010, recipient=PERSON)
    unknown = available(a3r, 7011, recipient=UNKNOWN_PERSON)
    with rec(a3r) as client:
        assert (
            client.get(f"/{known}/content", headers=token_for(maskinporten, PERSON)).status_code
            == 200
        )
        refused = client.get(f"/{unknown}", headers=token_for(maskinporten, UNKNOWN_PERSON))
        assert (refused.status_code, refused.json()["errorCode"]) == (400, 4002)
    sent = wait_for(lambda: storage.for_a2(7010), what="read event of the person")
    assert sent[0]["json"]["partyId"] == PARTY_IDS[PERSON]
    assert storage.for_a2(7011) == []


def test_the_simulator_acts_only_on_available_correspondences(a3r, maskinporten) -> None:
    for a2_id in (7020, 7021, 7022):
        available(a3r, a2_id, isConfirmationNeeded=a2_id == 7021)

    unknown_party = []

    def mint(urn: str) -> str:
        if urn == UNKNOWN_PERSON:  # Register does not know it: 4002 on every act
            unknown_party.append(urn)
        return token_for(maskinporten, urn)["Authorization"].split(" ", 1)[1]

    counts = act_randomly(a3r.url, a3r.engine, mint, random.Random(7), n=8)
    acted = sum(counts[k] for k in ("content", "markasread", "confirm", "purge"))
    assert counts["refused"] == len(unknown_party)
    assert counts["overview"] == acted > 0
    wait_for(lambda: drained(a3r), what="queue drained")


def test_no_storage_call_when_calls_to_altinn2_are_disabled(
    fresh_warehouse, maskinporten, storage
) -> None:
    app = create_app(
        fresh_warehouse.sqlalchemy_url(),
        TokenVerifier(maskinporten.replica.public_key_pem, maskinporten.issuer),
        party_id_of=PARTY_IDS.get,
        storage_base_url=None,
    )
    migrate = {"Authorization": f"Bearer {maskinporten.token('altinn:correspondence.migrate')}"}
    with serve_in_thread(app) as url:
        body = migrate_body(7030, IsMigrating=False, eventHistory=history(False))
        created = httpx.post(
            f"{url}/correspondence/api/v1/migration/correspondence", json=body, headers=migrate
        )
        corr_id = created.json()["correspondenceId"]
        auth = token_for(maskinporten, ORG)
        with httpx.Client(base_url=f"{url}{REC}", timeout=30) as client:
            assert client.get(f"/{corr_id}", headers=auth).status_code == 200
            assert client.post(f"/{corr_id}/markasread", headers=auth).status_code == 200
            # A3 without a dialog: PatchCorrespondenceDialogToConfirmed throws → 500.
            assert client.post(f"/{corr_id}/confirm", headers=auth).status_code == 500
        engine = app.state.engine
        wait_for(lambda: storage_sync.pending_jobs(engine) == 0, what="queue drained")
        (job,) = storage_sync.jobs(engine)
        assert job["state"] == "succeeded"
        assert job["last_error"] == "skipped: DisableCallsToAltinn2"
        assert job["payload"]["eventType"] == "read"
    assert storage.for_a2(7030) == []
