"""The one HTTP client base for every Altinn 3 call (A3 migration API, Resource Registry,
Dialogporten): Maskinporten token, 401 → one token refresh, retries that honour Retry-After,
transport errors classified and retried, a bounded connection pool.

Modelled on dlt's REST client (`dlt/sources/helpers/rest_client/client.py`: one session with
auth and a retrying send) and its retry policy (`dlt/sources/helpers/requests/retry.py`:
tenacity, retry on status and transport errors, `Retry-After` first). Here the policy is
`flytt.altinn.retry` (429/5xx/timeouts transient; the server's Retry-After, seconds or HTTP date
per RFC 9110 §10.2.3, else exponential backoff with full jitter) and the token comes from
`flytt.altinn.maskinporten.MaskinportenClient` (cached per scope set).

One call goes like this:

1. take the cached token for the client's scopes (a grant only when none is cached);
2. send; a transport error becomes `A3CallError` `connect` / `timeout` / `connection`
   (transient);
3. on 401 forget the token, fetch a new one and send once more (an expired or revoked token,
   reference a3-correspondence §1.1: the APIs answer 401 to a token they do not accept); a
   second 401 is a transient `http_401`, so the retry policy may try again later;
4. a status outside the accepted ones becomes `A3CallError` (`http_<status>[_<errorCode>]`),
   transient for 408/429/5xx with the server's Retry-After;
5. transient errors are retried up to `tries` sends in all, permanent ones are raised at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Iterable
from typing import Any, TypeVar

import httpx

from flytt.altinn.maskinporten import MaskinportenClient
from flytt.altinn.retry import (
    A3CallError,
    call_with_retry,
    error_from_response,
    error_from_transport,
)

T = TypeVar("T")

SUCCESS = range(200, 300)
"""Statuses accepted when a call names none: every 2xx."""


def default_timeout(read_seconds: float = 30.0) -> httpx.Timeout:
    """Timeouts in seconds: 5 to connect, `read_seconds` to read and to write, and no limit on
    the wait for a free connection of the pool (the pool size is the back-pressure; a caller
    that waits for a slot has not sent anything yet)."""
    return httpx.Timeout(connect=5.0, read=read_seconds, write=read_seconds, pool=None)


class AltinnClient:
    """An httpx.AsyncClient for one Altinn 3 API with Maskinporten auth and retries.

    Args:
        base_url: the API's base URL; paths of `send`/`request` are relative to it (a trailing
            `/` is dropped).
        tokens: Maskinporten client; its cached token for `scopes` is the bearer token.
        scopes: Maskinporten scopes the API wants (e.g. `altinn:correspondence.migrate`).
        concurrency: connection pool size (`httpx.Limits(max_connections=...)`, as many kept
            alive): at most this many requests of this client are in flight at once; the others
            wait for a free connection.
        tries: attempts per call for transient errors (429, 5xx, timeouts, dropped
            connections); an attempt is one send, or two when the first is answered 401.
        timeout: httpx timeout; default `default_timeout()`.
        transport: an httpx async transport (tests: `httpx.ASGITransport` on a sandbox
            replica, or respx); default the network.
        initial_wait: first backoff ceiling in seconds (doubles per try, full jitter, capped
            at `max_wait`), used when the server sends no Retry-After.
        max_wait: cap of the backoff in seconds.
        accept: the `Accept` header, or None to send none (the A3 migration API answers 406 to
            anything but `application/json`, reference a3-correspondence §1.1).

    Attributes:
        http: the underlying `httpx.AsyncClient`.
        requests: HTTP requests sent (retries and the re-send after a 401 included).
        refreshes: tokens replaced after a 401.
        retries: calls tried again after a transient error.
        waited_seconds: seconds spent waiting between tries (Retry-After or backoff).
    """

    def __init__(
        self,
        base_url: str,
        tokens: MaskinportenClient,
        scopes: Iterable[str],
        *,
        concurrency: int = 8,
        tries: int = 4,
        timeout: httpx.Timeout | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        initial_wait: float = 0.2,
        max_wait: float = 20.0,
        accept: str | None = "application/json",
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.tokens = tokens
        self.scopes = tuple(scopes)
        self.tries = tries
        self.initial_wait = initial_wait
        self.max_wait = max_wait
        self.accept = accept
        self.concurrency = concurrency
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout or default_timeout(),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
        )
        self.requests = 0
        self.refreshes = 0
        self.retries = 0
        self.waited_seconds = 0.0

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def __aenter__(self) -> AltinnClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _once(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        fresh: Callable[[], dict[str, Any]] | None,
        kwargs: dict[str, Any],
    ) -> httpx.Response:
        token = await self.tokens.atoken(self.scopes)
        sent = {"Authorization": f"Bearer {token}", **headers}
        if self.accept and "Accept" not in sent:
            sent["Accept"] = self.accept
        extra = fresh() if fresh is not None else {}
        self.requests += 1
        try:
            return await self.http.request(method, path, headers=sent, **kwargs, **extra)
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from None

    async def send(
        self,
        method: str,
        path: str,
        *,
        ok: Container[int] = SUCCESS,
        fresh: Callable[[], dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One send without retries (but with the token refresh after a 401).

        Args:
            method, path: HTTP method and path relative to the base URL.
            ok: statuses returned to the caller; any other raises. Default every 2xx.
            fresh: builds request arguments that can be read only once (a byte stream as
                `content`, multipart `files`), called anew for every send.
            headers: extra headers (the bearer token and `Accept` are added).
            **kwargs: passed to `httpx.AsyncClient.request` (`json`, `params`, `content`, ...).

        Returns:
            The response, its status in `ok`.

        Raises:
            A3CallError: a status outside `ok` (`http_<status>[_<A3 errorCode>]`, transient for
                408/429/5xx, with the server's Retry-After), a second 401 (`http_401`,
                transient), or a transport error (`connect`, `timeout`, `connection`).
            MaskinportenError: the token could not be had.
        """
        extra = dict(headers or {})
        response = await self._once(method, path, extra, fresh, kwargs)
        if response.status_code == 401 and 401 not in ok:
            self.tokens.invalidate(self.scopes)
            self.refreshes += 1
            response = await self._once(method, path, extra, fresh, kwargs)
            if response.status_code == 401:
                raise A3CallError(
                    "http_401", status=401, transient=True, detail="token refused after a refresh"
                )
        if response.status_code not in ok:
            raise error_from_response(response)
        return response

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call` (usually one or more `send`s) with this client's retry policy.

        Returns the first result; raises the last `A3CallError` when it is permanent or the
        `tries` are used up (`flytt.altinn.retry.call_with_retry`).
        """
        return await call_with_retry(
            call,
            tries=self.tries,
            initial_wait=self.initial_wait,
            max_wait=self.max_wait,
            on_wait=self._waited,
        )

    def _waited(self, seconds: float) -> None:
        self.retries += 1
        self.waited_seconds += seconds

    async def request(
        self,
        method: str,
        path: str,
        *,
        ok: Container[int] = SUCCESS,
        fresh: Callable[[], dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """`send` with retries: the arguments, result and errors of `send`, transient errors
        retried up to `tries` sends (waiting Retry-After or backoff)."""

        async def once() -> httpx.Response:
            return await self.send(method, path, ok=ok, fresh=fresh, headers=headers, **kwargs)

        return await self.retrying(once)
