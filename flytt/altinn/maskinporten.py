"""Maskinporten client: JWT-bearer grant with a signed assertion, tokens cached per scope set.

The flow is Maskinporten's "JWT grant" (docs.digdir.no, Maskinporten "Bruk av JWT-grant"):
the client signs a short-lived JWT (RS256) with its private key and posts it to the token
endpoint as `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>`. The
answer is `{"access_token", "token_type": "Bearer", "expires_in", "scope"}`.

The A3 migration API accepts exactly such a raw Maskinporten token with scope
`altinn:correspondence.migrate` (reference a3-correspondence §1.1).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import jwt

from flytt.altinn.retry import TRANSIENT_STATUS, A3CallError, error_from_transport
from flytt.errors import UserError
from flytt.settings import Settings

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MIGRATE_SCOPE = "altinn:correspondence.migrate"
RESOURCE_WRITE_SCOPE = "altinn:resourceregistry/resource.write"
RESOURCE_ADMIN_SCOPE = "altinn:resourceregistry/resource.admin"
"""Lets one integration write resources of every service owner (the registry otherwise allows
only the owner organisation of `hasCompetentAuthority`)."""
ASSERTION_LIFETIME_S = 60
"""Maskinporten refuses assertions that live longer than 120 s; one minute is plenty."""
EXPIRY_MARGIN_S = 30
"""A cached token is replaced this many seconds before it expires."""


class MaskinportenError(A3CallError):
    """The token endpoint refused the grant or could not be reached.

    `code` is `maskinporten_<oauth error>` for a refused grant (permanent: fix the client id,
    key or scopes), `maskinporten_http_<status>` for 429/5xx and `maskinporten_<timeout|
    connection>` for transport errors (both transient). The message never holds a token.
    """


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic() seconds


def _transport(exc: httpx.TransportError) -> MaskinportenError:
    base = error_from_transport(exc)
    return MaskinportenError(f"maskinporten_{base.code}", transient=True, detail=base.detail)


def _scope_key(scopes: Iterable[str]) -> str:
    return " ".join(sorted(set(scopes)))


def audience_for(token_url: str) -> str:
    """Audience of the assertion: the issuer URL of the token endpoint.

    `https://maskinporten.no/token` → `https://maskinporten.no/` (Maskinporten's issuer, the
    value its documentation asks for in `aud`).
    """
    parts = urlsplit(token_url)
    path = parts.path.rsplit("/", 1)[0] + "/"
    return f"{parts.scheme}://{parts.netloc}{path}"


def private_key_from(settings: Settings) -> str:
    """The PEM private key: `FLYTT_MASKINPORTEN_KEY` wins over `FLYTT_MASKINPORTEN_KEY_FILE`.

    Raises:
        UserError: neither is set, or the file cannot be read.
    """
    if settings.maskinporten_key is not None:
        return settings.maskinporten_key.get_secret_value()
    if settings.maskinporten_key_file is not None:
        try:
            return settings.maskinporten_key_file.read_text()
        except OSError as exc:
            raise UserError(
                f"Cannot read the Maskinporten key file ({exc.strerror}); fix "
                "FLYTT_MASKINPORTEN_KEY_FILE."
            ) from None
    raise UserError(
        "No Maskinporten key is configured; set FLYTT_MASKINPORTEN_KEY_FILE (a PEM file) or "
        "FLYTT_MASKINPORTEN_KEY."
    )


class MaskinportenClient:
    """Fetch and cache Maskinporten access tokens, one per scope set.

    Safe to share between threads (`token`) and between the tasks of one event loop
    (`atoken`); concurrent callers for the same scope set trigger a single grant.

    Args:
        token_url: the token endpoint, e.g. `https://maskinporten.no/token`.
        client_id: the integration's client id (`iss` of the assertion).
        private_key: PEM text of the RSA private key.
        key_id: optional `kid` header for keys registered by id.
        audience: `aud` of the assertion; default `audience_for(token_url)`.
        timeout: HTTP timeout in seconds.
        http: a blocking httpx client for `token` (default: a new connection per grant).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        private_key: str,
        *,
        key_id: str | None = None,
        audience: str | None = None,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.audience = audience or audience_for(token_url)
        self._key = private_key
        self._key_id = key_id
        self._timeout = timeout
        self._http = http
        self._cache: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self._alocks: dict[tuple[int, str], asyncio.Lock] = {}
        self.grants = 0
        """Number of grants made (tokens fetched), for tests and metrics."""

    @classmethod
    def from_settings(cls, settings: Settings) -> MaskinportenClient:
        """Client for `settings.maskinporten_token_url` / `maskinporten_client_id` / key."""
        return cls(
            settings.maskinporten_token_url,
            settings.maskinporten_client_id,
            private_key_from(settings),
        )

    def assertion(self, scopes: Iterable[str]) -> str:
        """A freshly signed JWT grant (RS256) for `scopes`, valid for one minute."""
        now = int(time.time())
        claims = {
            "aud": self.audience,
            "iss": self.client_id,
            "scope": _scope_key(scopes),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_S,
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self._key_id} if self._key_id else None
        return jwt.encode(claims, self._key, algorithm="RS256", headers=headers)

    def _cached(self, key: str) -> str | None:
        token = self._cache.get(key)
        if token and token.expires_at - EXPIRY_MARGIN_S > time.monotonic():
            return token.value
        return None

    def _store(self, key: str, response: httpx.Response) -> str:
        status = response.status_code
        if status in TRANSIENT_STATUS:
            raise MaskinportenError(f"maskinporten_http_{status}", status=status, transient=True)
        if status != 200:
            try:
                error = str(response.json().get("error", "unknown"))
            except ValueError:
                error = "unknown"
            raise MaskinportenError(
                f"maskinporten_{error}", status=status, transient=False, detail=f"HTTP {status}"
            )
        body = response.json()
        token = _Token(body["access_token"], time.monotonic() + float(body.get("expires_in", 0)))
        self._cache[key] = token
        self.grants += 1
        return token.value

    def _form(self, key: str) -> dict[str, str]:
        return {"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion(key.split())}

    def token(self, scopes: Iterable[str]) -> str:
        """An access token for `scopes` (blocking). Cached until shortly before it expires.

        Raises:
            MaskinportenError: the endpoint answered with an error or could not be reached.
        """
        key = _scope_key(scopes)
        with self._lock:
            cached = self._cached(key)
            if cached:
                return cached
            try:
                post = self._http.post if self._http is not None else httpx.post
                response = post(self.token_url, data=self._form(key), timeout=self._timeout)
            except httpx.TransportError as exc:
                raise _transport(exc) from None
            return self._store(key, response)

    async def atoken(self, scopes: Iterable[str], client: httpx.AsyncClient | None = None) -> str:
        """An access token for `scopes` (async). Cached; one grant per scope set at a time.

        Args:
            client: an AsyncClient to reuse (its base URL is ignored); default a new one.

        Raises:
            MaskinportenError: the endpoint answered with an error or could not be reached.
        """
        key = _scope_key(scopes)
        cached = self._cached(key)
        if cached:
            return cached
        # An asyncio.Lock belongs to one event loop; keep one per loop and scope set.
        lock = self._alocks.setdefault((id(asyncio.get_running_loop()), key), asyncio.Lock())
        async with lock:
            cached = self._cached(key)
            if cached:
                return cached
            try:
                if client is None:
                    async with httpx.AsyncClient(timeout=self._timeout) as own:
                        response = await own.post(self.token_url, data=self._form(key))
                else:
                    response = await client.post(
                        self.token_url, data=self._form(key), timeout=self._timeout
                    )
            except httpx.TransportError as exc:
                raise _transport(exc) from None
            with self._lock:
                return self._store(key, response)

    def invalidate(self, scopes: Iterable[str]) -> None:
        """Forget the cached token for `scopes` (after a 401 from the API)."""
        with self._lock:
            self._cache.pop(_scope_key(scopes), None)
