"""Maskinporten replica: the JWT-bearer grant and the tokens it issues (RFC 7523, Maskinporten
"JWT grant" rules: aud = issuer, iss = client id, lifetime ≤ 120 s, unique jti, allowed scopes)."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest

from sandbox.maskinporten.keys import new_private_key, public_pem
from sandbox.maskinporten.tokens import TokenRejected, TokenVerifier

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture(scope="module")
def client_key(maskinporten):
    key = new_private_key()
    maskinporten.replica.register_client(
        "flytt-test", public_pem(key), {"altinn:correspondence.migrate", "altinn:serviceowner"}
    )
    return key


def _assertion(key, aud: str, **claims) -> str:
    now = int(time.time())
    body = {
        "iss": "flytt-test",
        "aud": aud,
        "scope": "altinn:correspondence.migrate",
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    body.update(claims)
    return jwt.encode(body, key, algorithm="RS256")


def _grant(maskinporten, assertion: str) -> httpx.Response:
    return httpx.post(
        f"{maskinporten.url}/token", data={"grant_type": GRANT, "assertion": assertion}
    )


def test_a_signed_assertion_gets_a_token_the_a3_replica_accepts(maskinporten, client_key) -> None:
    response = _grant(maskinporten, _assertion(client_key, maskinporten.issuer))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 120
    assert body["scope"] == "altinn:correspondence.migrate"
    verifier = TokenVerifier(maskinporten.replica.public_key_pem, maskinporten.issuer)
    claims = verifier.require(f"Bearer {body['access_token']}", "altinn:correspondence.migrate")
    assert claims["client_id"] == "flytt-test"
    assert claims["consumer"]["ID"] == "0192:991825827"
    with pytest.raises(TokenRejected) as refused:
        verifier.require(f"Bearer {body['access_token']}", "altinn:serviceowner")
    assert refused.value.status == 403


def test_metadata_names_issuer_token_endpoint_and_keys(maskinporten) -> None:
    meta = httpx.get(f"{maskinporten.url}/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == maskinporten.issuer
    assert meta["token_endpoint"] == f"{maskinporten.url}/token"
    keys = httpx.get(meta["jwks_uri"]).json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256"


def test_bad_assertions_are_refused_with_oauth_errors(maskinporten, client_key) -> None:
    now = int(time.time())
    cases = {
        "invalid_grant": [
            _assertion(client_key, "https://maskinporten.no/"),  # wrong audience
            _assertion(client_key, maskinporten.issuer, iat=now - 100, exp=now + 100),  # > 120 s
            _assertion(client_key, maskinporten.issuer, iat=now - 400, exp=now - 300),  # expired
            _assertion(new_private_key(), maskinporten.issuer),  # not the registered key
        ],
        "invalid_scope": [_assertion(client_key, maskinporten.issuer, scope="altinn:other")],
        "invalid_client": [_assertion(client_key, maskinporten.issuer, iss="stranger")],
    }
    for error, assertions in cases.items():
        for assertion in assertions:
            response = _grant(maskinporten, assertion)
            assert response.status_code == 400
            assert response.json()["error"] == error
    replay = _assertion(client_key, maskinporten.issuer)
    assert _grant(maskinporten, replay).status_code == 200
    assert _grant(maskinporten, replay).json()["error"] == "invalid_grant"  # jti reused
    wrong_grant = httpx.post(f"{maskinporten.url}/token", data={"grant_type": "password"})
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
