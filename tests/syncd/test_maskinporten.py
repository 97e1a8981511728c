"""Maskinporten client against the sandbox Maskinporten replica: signed JWT grant, one token
per scope set, cached until shortly before expiry, one grant for concurrent callers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from flytt.altinn.maskinporten import (
    MIGRATE_SCOPE,
    RESOURCE_WRITE_SCOPE,
    MaskinportenClient,
    MaskinportenError,
    audience_for,
    private_key_from,
)
from flytt.errors import UserError
from flytt.settings import load_settings
from sandbox.maskinporten.app import MaskinportenReplica, create_app
from sandbox.maskinporten.keys import new_private_key, private_pem, public_pem

TOKEN_URL = "http://testserver/token"


@pytest.fixture()
def replica() -> MaskinportenReplica:
    return MaskinportenReplica(issuer="http://testserver/", token_lifetime=120)


def _client(replica: MaskinportenReplica, **kw: object) -> MaskinportenClient:
    key = new_private_key()
    replica.register_client("flytt-test", public_pem(key))
    http = TestClient(create_app(replica))
    return MaskinportenClient(TOKEN_URL, "flytt-test", private_pem(key).decode(), http=http, **kw)  # type: ignore[arg-type]


def test_audience_is_the_issuer_of_the_token_endpoint() -> None:
    assert audience_for("https://maskinporten.no/token") == "https://maskinporten.no/"
    assert audience_for("http://127.0.0.1:8734/token") == "http://127.0.0.1:8734/"


def test_assertion_is_an_rs256_jwt_with_maskinporten_claims(replica: MaskinportenReplica) -> None:
    client = _client(replica)
    assertion = client.assertion([MIGRATE_SCOPE, RESOURCE_WRITE_SCOPE])
    assert jwt.get_unverified_header(assertion)["alg"] == "RS256"
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert claims["iss"] == "flytt-test"
    assert claims["aud"] == "http://testserver/"
    assert claims["scope"] == f"{MIGRATE_SCOPE} {RESOURCE_WRITE_SCOPE}"
    assert 0 < claims["exp"] - claims["iat"] <= 120


def test_token_has_the_scope_and_is_cached_per_scope_set(replica: MaskinportenReplica) -> None:
    client = _client(replica)
    first = client.token([MIGRATE_SCOPE])
    claims = jwt.decode(
        first, replica.public_key_pem, algorithms=["RS256"], options={"verify_aud": False}
    )
    assert claims["scope"] == MIGRATE_SCOPE
    assert client.token([MIGRATE_SCOPE]) == first
    other = client.token([RESOURCE_WRITE_SCOPE])
    assert other != first
    assert client.grants == 2
    client.invalidate([MIGRATE_SCOPE])
    assert client.token([MIGRATE_SCOPE]) != first
    assert client.grants == 3


def test_a_token_close_to_expiry_is_replaced(replica: MaskinportenReplica) -> None:
    replica.token_lifetime = 20  # shorter than the 30 s safety margin: never reused
    client = _client(replica)
    client.token([MIGRATE_SCOPE])
    client.token([MIGRATE_SCOPE])
    assert client.grants == 2


def test_concurrent_async_callers_share_one_grant(replica: MaskinportenReplica) -> None:
    client = _client(replica)
    app = create_app(replica)

    async def main() -> list[str]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
            return await asyncio.gather(
                *(client.atoken([MIGRATE_SCOPE], client=http) for _ in range(20))
            )

    tokens = asyncio.run(main())
    assert len(set(tokens)) == 1
    assert client.grants == 1


def test_refused_scope_is_a_permanent_error(replica: MaskinportenReplica) -> None:
    client = _client(replica)
    with pytest.raises(MaskinportenError) as info:
        client.token(["altinn:not-granted"])
    assert info.value.code == "maskinporten_invalid_scope"
    assert not info.value.transient


def test_unknown_client_is_refused(replica: MaskinportenReplica) -> None:
    http = TestClient(create_app(replica))
    stranger = MaskinportenClient(
        TOKEN_URL, "stranger", private_pem(new_private_key()).decode(), http=http
    )
    with pytest.raises(MaskinportenError) as info:
        stranger.token([MIGRATE_SCOPE])
    assert info.value.code == "maskinporten_invalid_client"


def test_key_from_file_or_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pem = private_pem(new_private_key()).decode()
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem)
    monkeypatch.setenv("FLYTT_CONFIG", str(tmp_path / "absent.toml"))
    assert private_key_from(load_settings(maskinporten_key_file=key_file)) == pem
    monkeypatch.setenv("FLYTT_MASKINPORTEN_KEY", pem)
    assert private_key_from(load_settings()) == pem
    monkeypatch.delenv("FLYTT_MASKINPORTEN_KEY")
    with pytest.raises(UserError, match="FLYTT_MASKINPORTEN_KEY_FILE"):
        private_key_from(load_settings())
