"""The SBL-bridge endpoint the daemon serves in Altinn Storage's place (step 2.2, A3 → A2):
Storage's token, body rules and answers (`flytt.daemon.bridge_endpoint`, `syncd.sbl_bridge`),
and the durable, idempotent inbox behind it (`flytt.bridge_inbox`).

Tokens come from the sandbox Maskinporten replica, served over HTTP, so the endpoint fetches
the issuer's real JWKS as it would from maskinporten.no.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from flytt.control import upgrade
from flytt.daemon.bridge_endpoint import PATH, SblBridgeEndpoint
from flytt.daemon.http import serving
from flytt.warehouse import Warehouse
from sandbox.maskinporten.app import MaskinportenReplica
from sandbox.maskinporten.app import create_app as create_maskinporten
from sandbox.serve import free_port, serve_in_thread
from tests.conftest import settings_for

SCOPE = "altinn:correspondence.sblbridge"
EVENT = {
    "correspondenceId": 4711,
    "partyId": 50001234,
    "eventTimestamp": "2026-12-04T10:15:00.1234567+01:00",
    "eventType": "Read",
}


@dataclass
class Bridge:
    url: str
    replica: MaskinportenReplica
    warehouse: Warehouse

    def token(self, *scopes: str, issuer: str | None = None) -> str:
        body = self.replica.issue_token(
            "altinn-correspondence", list(scopes), issuer or self.replica.issuer
        )
        return str(body["access_token"])

    def post(self, body: object, token: str | None = None, path: str = PATH) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        if isinstance(body, bytes):
            return httpx.post(self.url + path, content=body, headers=headers, timeout=30)
        return httpx.post(self.url + path, json=body, headers=headers, timeout=30)

    def inbox(self) -> list[dict[str, object]]:
        with self.warehouse.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    sa.text(
                        "select a2_correspondence_id, party_id, event_type, event_timestamp, "
                        "deliveries, outcome from flytt.bridge_inbox order by event_id"
                    )
                )
            ]


@contextmanager
def serve_bridge(warehouse: Warehouse, data_dir: Path, **overrides: object) -> Iterator[Bridge]:
    """The endpoint on a free port, checking tokens of a Maskinporten replica served over
    HTTP, with `overrides` on its settings."""
    upgrade(warehouse)
    replica = MaskinportenReplica()
    with ExitStack() as stack:
        mp_url = stack.enter_context(serve_in_thread(create_maskinporten(replica)))
        replica.issuer = f"{mp_url}/"
        settings = settings_for(
            warehouse, data_dir, maskinporten_token_url=f"{mp_url}/token", **overrides
        )
        endpoint = SblBridgeEndpoint(settings, warehouse)
        port = stack.enter_context(
            serving("127.0.0.1", 0, CollectorRegistry(), lambda: None, [endpoint])
        )
        yield Bridge(f"http://127.0.0.1:{port}", replica, warehouse)


@pytest.fixture()
def bridge(fresh_warehouse: Warehouse, tmp_path: Path) -> Iterator[Bridge]:
    with serve_bridge(fresh_warehouse, tmp_path) as served:
        yield served


def test_an_event_is_stored_once_however_often_a3_sends_it(bridge: Bridge) -> None:
    token = bridge.token(SCOPE)
    first = bridge.post(EVENT, token)
    again = bridge.post(EVENT, token, path=PATH.upper())  # ASP.NET routes without case
    assert (first.status_code, again.status_code) == (200, 200)
    assert bridge.inbox() == [
        {
            "a2_correspondence_id": 4711,
            "party_id": 50001234,
            "event_type": "read",
            "event_timestamp": datetime(2026, 12, 4, 9, 15, 0, 123456, tzinfo=UTC),
            "deliveries": 2,
            "outcome": "pending",
        }
    ]
    other = bridge.post({**EVENT, "eventType": " confirm "}, token)
    assert other.status_code == 200
    assert [e["event_type"] for e in bridge.inbox()] == ["read", "confirm"]


def test_a_call_without_a_valid_token_with_the_bridge_scope_is_refused(bridge: Bridge) -> None:
    missing = bridge.post(EVENT)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    foreign = bridge.post(EVENT, bridge.token(SCOPE, issuer="https://maskinporten.no/"))
    assert foreign.status_code == 401
    # a key id the issuer never published: refused, and the id is not repeated back
    other = MaskinportenReplica(issuer=bridge.replica.issuer, kid="<script>12345678901")
    unknown = bridge.post(EVENT, str(other.issue_token("x", [SCOPE], other.issuer)["access_token"]))
    assert unknown.status_code == 401 and "12345678901" not in unknown.text
    garbage = bridge.post(EVENT, "not-a-jwt")
    assert garbage.status_code == 401
    wrong_scope = bridge.post(EVENT, bridge.token("altinn:correspondence.migrate"))
    assert wrong_scope.status_code == 403 and SCOPE in wrong_scope.text
    assert bridge.inbox() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**EVENT, "correspondenceId": 0}, "CorrespondenceId must be larger than zero"),
        ({**EVENT, "correspondenceId": -5}, "CorrespondenceId must be larger than zero"),
        ({**EVENT, "partyId": 0}, "PartyId must be larger than zero"),
        ({k: v for k, v in EVENT.items() if k != "partyId"}, "PartyId must be larger than zero"),
        ({**EVENT, "eventTimestamp": "yesterday"}, "eventTimestamp must be an ISO 8601"),
        ({k: v for k, v in EVENT.items() if k != "eventTimestamp"}, "EventTimeStamp must have"),
        ({**EVENT, "eventType": "archive"}, "Invalid event type: archive submitted."),
        ({**EVENT, "correspondenceId": "twelve"}, "correspondenceId must be a 32-bit integer"),
        (b"{not json", "The request body is not JSON"),
        ([EVENT], "must be a JSON object"),
        # outside Int32 as a JSON number, an exponent or a string: model binding fails
        ({**EVENT, "correspondenceId": 3_000_000_000}, "correspondenceId must be a 32-bit"),
        (b'{"correspondenceId": 1e10, "partyId": 5}', "correspondenceId must be a 32-bit"),
        ({**EVENT, "partyId": 1e300}, "partyId must be a 32-bit"),
        ({**EVENT, "partyId": "9" * 5000}, "partyId must be a 32-bit"),
        ({**EVENT, "partyId": "--5"}, "partyId must be a 32-bit"),
        ({**EVENT, "partyId": "\u00b2"}, "partyId must be a 32-bit"),  # a superscript two
        ({**EVENT, "partyId": "\u0661\u0662"}, "partyId must be a 32-bit"),  # Arabic-Indic
        # a time whose UTC instant falls outside the years 1-9999
        ({**EVENT, "eventTimestamp": "0001-01-01T00:30:00+01:00"}, "eventTimestamp must be"),
        ({**EVENT, "eventTimestamp": "9999-12-31T23:30:00-01:00"}, "eventTimestamp must be"),
        (b"[" * 30000 + b"]" * 30000, "The request body is not JSON"),
        # the type is echoed as Storage does, but only when it is a short word
        ({**EVENT, "eventType": "12345678901 Ola Nordmann"}, "Invalid event type: (not shown)"),
    ],
)
def test_a_malformed_body_is_a_400_that_says_what_is_wrong(
    bridge: Bridge, body: object, message: str
) -> None:
    answer = bridge.post(body, bridge.token(SCOPE))
    assert answer.status_code == 400
    assert message in answer.text
    assert bridge.inbox() == []


def test_a_chunked_body_is_read(bridge: Bridge) -> None:
    """.NET's `PostAsJsonAsync`, which A3 uses, sends its JSON chunked, without a length."""
    body = json.dumps(EVENT).encode()
    parts = iter([body[:10], body[10:]])  # an iterator: httpx sends it chunked
    answer = httpx.post(
        bridge.url + PATH,
        content=parts,
        headers={"Authorization": f"Bearer {bridge.token(SCOPE)}"},
        timeout=30,
    )
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert answer.status_code == 200, answer.text
    assert [e["a2_correspondence_id"] for e in bridge.inbox()] == [4711]


def test_a_malformed_chunked_body_is_a_400(bridge: Bridge) -> None:
    host, port = bridge.url.removeprefix("http://").split(":")
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {bridge.token(SCOPE)}"
        "\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(request.encode())
        answer = conn.makefile("rb").read().decode()
    assert answer.startswith("HTTP/1.0 400") and "chunked body is malformed" in answer
    assert bridge.inbox() == []


def test_keys_that_cannot_be_fetched_are_a_503_not_the_callers_fault(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/jwk"  # nobody listens there
    with serve_bridge(fresh_warehouse, tmp_path, sbl_bridge_jwks_url=nobody) as served:
        answer = served.post(EVENT, served.token(SCOPE))
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert "127.0.0.1" not in answer.text  # the daemon's own set-up is not the caller's business


def test_only_post_is_allowed(bridge: Bridge) -> None:
    answer = httpx.get(bridge.url + PATH, timeout=30)
    assert answer.status_code == 405 and answer.headers["Allow"] == "POST"


def test_once_altinn_2_is_off_the_endpoint_is_gone(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    with serve_bridge(fresh_warehouse, tmp_path, a2_endpoints_disabled=True) as served:
        answer = served.post(EVENT, served.token(SCOPE))
    assert answer.status_code == 410
    assert "Altinn 2 is no longer supported" in answer.text
