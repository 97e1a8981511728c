"""Sandbox replica of the Maskinporten token endpoint (JWT-bearer grant, RFC 7523).

Rules follow Digdir's public Maskinporten documentation ("Maskinporten: JWT grant" and
"Maskinporten: token"), as summarised in reference `dialogporten.md` §4 and
`a3-correspondence.md` §1.1:

* `POST /token`, form fields `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and
  `assertion` (a JWT signed RS256/RS384/RS512 by the client's registered key).
* Assertion claims: `iss` = client id, `aud` = the Maskinporten issuer identifier (with or without
  the trailing slash), `scope` = space-separated scopes the client is allowed, `iat`, `exp`
  (at most 120 s after `iat`), `jti` (unique; a replayed `jti` is refused).
* Errors: 400 `{"error": "invalid_grant" | "invalid_scope" | "invalid_client" |
  "unsupported_grant_type", "error_description": ...}` as RFC 6749 §5.2 prescribes.
* Answer: `{"access_token", "token_type": "Bearer", "expires_in", "scope"}`; the access token is a
  JWT signed RS256 by the replica's own key with claims `iss`, `client_id`, `scope`, `consumer`
  (`{"authority": "iso6523-actorid-upis", "ID": "0192:<orgno>"}`), `token_type`, `iat`, `exp`,
  `jti`, and `client_amr` = `private_key_jwt`.
* `GET /.well-known/oauth-authorization-server` (metadata: issuer, token_endpoint, jwks_uri) and
  `GET /jwk` (the signing key as a JWK set), as the real service publishes.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox.maskinporten.keys import new_private_key, public_pem

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_ASSERTION_LIFETIME = 120  # seconds between iat and exp (Maskinporten JWT grant docs)
CLOCK_SKEW = 10  # seconds of leeway on iat/exp

DEFAULT_SCOPES = frozenset(
    {
        "altinn:correspondence.migrate",
        "altinn:serviceowner",
        "altinn:resourceregistry/resource.write",
        "altinn:resourceregistry/resource.admin",
        "digdir:dialogporten.serviceprovider",
        "digdir:dialogporten.serviceprovider.search",
        "digdir:dialogporten.serviceprovider.admin",
        "digdir:dialogporten.correspondence",
    }
)
"""Scopes a sandbox client may ask for unless registered with others."""


@dataclass(frozen=True)
class RegisteredClient:
    """A Maskinporten integration: id, public key of its assertion key, allowed scopes, org."""

    client_id: str
    public_key_pem: bytes
    scopes: frozenset[str] = DEFAULT_SCOPES
    org_no: str = "991825827"


def _error(code: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


@dataclass
class MaskinportenReplica:
    """The token endpoint's state: its signing key, registered clients and seen `jti`s.

    Args:
        issuer: the issuer identifier, e.g. `http://127.0.0.1:8734/` (with trailing slash, as
            `https://maskinporten.no/`). None: derived from each request's base URL.
        token_lifetime: seconds an access token lives (Maskinporten's default is 120).
    """

    issuer: str | None = None
    token_lifetime: int = 120
    signing_key: rsa.RSAPrivateKey = field(default_factory=new_private_key)
    kid: str = field(default_factory=lambda: f"sandbox-{uuid.uuid4().hex[:8]}")
    clients: dict[str, RegisteredClient] = field(default_factory=dict)
    _seen_jti: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register_client(
        self,
        client_id: str,
        public_key_pem: bytes,
        scopes: frozenset[str] | set[str] = DEFAULT_SCOPES,
        org_no: str = "991825827",
    ) -> None:
        """Register (or replace) a client whose assertions are signed by `public_key_pem`."""
        self.clients[client_id] = RegisteredClient(
            client_id, public_key_pem, frozenset(scopes), org_no
        )

    @property
    def public_key_pem(self) -> bytes:
        """PEM of the key that verifies the access tokens this replica issues."""
        return public_pem(self.signing_key)

    def issue_token(
        self,
        client_id: str,
        scopes: list[str],
        issuer: str,
        org_no: str = "991825827",
        extra_claims: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Mint an access token for `client_id` (no assertion check; used by `/token`).

        `extra_claims` are added to (and override) the claims, e.g. `{"pid": "<ssn>"}` for a
        token that acts for a person as an ID-porten/Altinn token does, or another `consumer`
        organisation; `/token` never passes any (tests and simulators only).

        Returns:
            The token response body: access_token, token_type, expires_in, scope.
        """
        now = int(time.time())
        claims = {
            "iss": issuer,
            "client_amr": "private_key_jwt",
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "client_id": client_id,
            "consumer": {"authority": "iso6523-actorid-upis", "ID": f"0192:{org_no}"},
            "iat": now,
            "exp": now + self.token_lifetime,
            "jti": uuid.uuid4().hex,
        }
        claims.update(extra_claims or {})
        token = jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.kid})
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "scope": " ".join(scopes),
        }

    def grant(self, form: dict[str, str], issuer: str) -> JSONResponse:
        """Check one JWT-bearer token request and answer as Maskinporten does."""
        if form.get("grant_type") != JWT_BEARER:
            return _error("unsupported_grant_type", f"grant_type must be {JWT_BEARER}")
        assertion = form.get("assertion")
        if not assertion:
            return _error("invalid_request", "assertion is missing")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _error("invalid_grant", "assertion is not a JWT")
        client = self.clients.get(str(unverified.get("iss", "")))
        if client is None:
            return _error("invalid_client", "unknown client (iss)")
        audiences = [issuer, issuer.rstrip("/")]
        try:
            claims = jwt.decode(
                assertion,
                client.public_key_pem,
                algorithms=["RS256", "RS384", "RS512"],
                audience=audiences,
                issuer=client.client_id,
                leeway=CLOCK_SKEW,
                options={"require": ["iss", "aud", "iat", "exp", "jti"]},
            )
        except jwt.InvalidAudienceError:
            return _error("invalid_grant", f"aud must be the issuer {issuer}")
        except jwt.PyJWTError as exc:
            return _error("invalid_grant", f"invalid assertion: {type(exc).__name__}")
        if int(claims["exp"]) - int(claims["iat"]) > MAX_ASSERTION_LIFETIME:
            return _error("invalid_grant", "assertion lifetime exceeds 120 seconds")
        scopes = str(claims.get("scope", "")).split()
        if not scopes:
            return _error("invalid_scope", "scope is missing")
        refused = [s for s in scopes if s not in client.scopes]
        if refused:
            return _error("invalid_scope", f"client may not use scope {refused[0]}")
        with self._lock:
            key = (client.client_id, str(claims["jti"]))
            if key in self._seen_jti:
                return _error("invalid_grant", "jti has been used before")
            self._seen_jti.add(key)
        return JSONResponse(self.issue_token(client.client_id, scopes, issuer, client.org_no))

    def jwks(self) -> dict[str, Any]:
        """The signing key as a JWK set (`{"keys": [{kty, n, e, kid, alg, use}]}`)."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.signing_key.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}


def create_app(replica: MaskinportenReplica | None = None) -> FastAPI:
    """The Maskinporten replica as an ASGI app; `app.state.replica` holds its state."""
    replica = replica or MaskinportenReplica()
    app = FastAPI(title="Maskinporten (sandbox replica)", docs_url=None, redoc_url=None)
    app.state.replica = replica

    def issuer_of(request: Request) -> str:
        return replica.issuer or str(request.base_url)

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        parsed = parse_qs((await request.body()).decode("utf-8", "replace"))
        form = {k: v[0] for k, v in parsed.items()}
        return replica.grant(form, issuer_of(request))

    @app.get("/.well-known/oauth-authorization-server")
    async def metadata(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "issuer": issuer_of(request),
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwk",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "grant_types_supported": [JWT_BEARER],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384", "RS512"],
        }

    @app.get("/jwk")
    async def jwk() -> dict[str, Any]:
        return replica.jwks()

    return app
