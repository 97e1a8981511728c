"""The Altinn client base: a refused token is refreshed once, Retry-After is waited, transport
errors are retried and named, stream bodies are rebuilt per send, and no more requests are in
flight than the connection pool allows.

Tokens come from the sandbox Maskinporten replica (served on a local port); the API side is
respx, except for the pool test, which needs a real server because respx answers above the
connection pool.
"""

from __future__ import annotations

import ast
import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import flytt.altinn
from flytt.altinn.client import AltinnClient
from flytt.altinn.maskinporten import MIGRATE_SCOPE, MaskinportenClient
from flytt.altinn.retry import A3CallError
from sandbox.maskinporten.app import MaskinportenReplica
from sandbox.maskinporten.keys import new_private_key
from sandbox.maskinporten.tokens import TokenRejected, TokenVerifier
from sandbox.serve import serve_in_thread

API = "http://altinn.test"


def _router(token_url: str) -> respx.MockRouter:
    router = respx.mock(assert_all_called=False)
    router.route(url__startswith=token_url).pass_through()
    return router


def _client(tokens: MaskinportenClient, **kw: Any) -> AltinnClient:
    kw.setdefault("initial_wait", 0.001)
    return AltinnClient(API, tokens, [MIGRATE_SCOPE], **kw)


def _verified(mp: MaskinportenReplica, request: httpx.Request) -> httpx.Response:
    """What an Altinn API does with the bearer token: 401 unless the replica signed it."""
    try:
        TokenVerifier(mp.public_key_pem, mp.issuer).require(
            request.headers.get("Authorization"), MIGRATE_SCOPE
        )
    except TokenRejected as exc:
        return httpx.Response(exc.status)
    return httpx.Response(200, json={"ok": True})


def test_a_token_refused_after_a_key_rollover_is_refreshed_once(
    replica: tuple[MaskinportenReplica, str], tokens: MaskinportenClient
) -> None:
    mp, token_url = replica
    client = _client(tokens)

    async def go() -> httpx.Response:
        await tokens.atoken([MIGRATE_SCOPE])  # cached, signed with the old key
        mp.signing_key = new_private_key()  # the token issuer rolls its key over
        try:
            return await client.request("GET", "/thing")
        finally:
            await client.aclose()

    with _router(token_url) as router:
        route = router.get(f"{API}/thing").mock(side_effect=lambda r: _verified(mp, r))
        response = asyncio.run(go())
    assert response.json() == {"ok": True}
    assert route.call_count == 2
    first, second = (c.request.headers["Authorization"] for c in route.calls)
    assert first != second
    assert client.refreshes == 1
    assert tokens.grants == 2
    assert client.retries == 0  # the refresh is part of the try, not a retry


def test_a_token_refused_again_after_the_refresh_is_a_transient_http_401(
    replica: tuple[MaskinportenReplica, str], tokens: MaskinportenClient
) -> None:
    _, token_url = replica
    client = _client(tokens, tries=2)

    async def go() -> None:
        try:
            await client.request("GET", "/thing")
        finally:
            await client.aclose()

    with _router(token_url) as router:
        route = router.get(f"{API}/thing").mock(return_value=httpx.Response(401))
        with pytest.raises(A3CallError) as info:
            asyncio.run(go())
    assert info.value.code == "http_401"
    assert info.value.transient  # the element is tried again in a later round
    assert route.call_count == 4  # two tries, each with one refresh
    assert client.refreshes == 2


def test_retry_after_is_waited_before_the_next_try(
    replica: tuple[MaskinportenReplica, str], tokens: MaskinportenClient
) -> None:
    _, token_url = replica
    client = _client(tokens)

    async def go() -> httpx.Response:
        try:
            return await client.request("POST", "/thing", json={"a": 1})
        finally:
            await client.aclose()

    with _router(token_url) as router:
        route = router.post(f"{API}/thing").mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "1"}),
                httpx.Response(503, headers={"Retry-After": "0"}),
                httpx.Response(200, json={"ok": True}),
            ]
        )
        response = asyncio.run(go())
    assert response.status_code == 200
    assert route.call_count == 3
    assert client.retries == 2
    assert client.waited_seconds == 1.0  # what the server asked for, not the backoff
    assert all(c.request.content == b'{"a":1}' for c in route.calls)


def test_transport_errors_are_retried_and_named_when_they_persist(
    replica: tuple[MaskinportenReplica, str], tokens: MaskinportenClient
) -> None:
    _, token_url = replica

    async def call(client: AltinnClient) -> httpx.Response:
        try:
            return await client.request("GET", "/thing")
        finally:
            await client.aclose()

    with _router(token_url) as router:
        route = router.get(f"{API}/thing").mock(
            side_effect=[
                httpx.ConnectError("refused"),
                httpx.ReadTimeout("slow"),
                httpx.RemoteProtocolError("dropped"),
                httpx.Response(200, json={"ok": True}),
            ]
        )
        assert asyncio.run(call(_client(tokens))).json() == {"ok": True}
        assert route.call_count == 4

    for error, code in [
        (httpx.ConnectError("refused"), "connect"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.RemoteProtocolError("dropped"), "connection"),
    ]:
        with _router(token_url) as router:
            route = router.get(f"{API}/thing").mock(side_effect=error)
            with pytest.raises(A3CallError) as info:
                asyncio.run(call(_client(tokens, tries=3)))
        assert info.value.code == code
        assert info.value.transient
        assert route.call_count == 3


def test_a_permanent_error_is_raised_at_once_with_the_a3_error_code(
    replica: tuple[MaskinportenReplica, str], tokens: MaskinportenClient
) -> None:
    _, token_url = replica
    client = _client(tokens)

    async def go() -> None:
        try:
            await client.request("POST", "/thing", json={})
        finally:
            await client.aclose()

    with _router(token_url) as router:
        route = router.post(f"{API}/thing").mock(
            return_value=httpx.Response(400, json={"title": "Bad", "errorCode": 1020})
        )
        with pytest.raises(A3CallError) as info:
            asyncio.run(go())
    assert info.value.code == "http_400_1020"
    assert not info.value.transient
    assert route.call_count == 1


def test_a_stream_body_is_rebuilt_for_the_send_after_a_refresh(
    replica: tuple[MaskinportenReplica, str], tokens: MaskinportenClient
) -> None:
    _, token_url = replica
    client = _client(tokens)
    built = 0

    def body() -> dict[str, Any]:
        nonlocal built
        built += 1

        async def chunks() -> AsyncIterator[bytes]:
            yield b"hello "
            yield b"world"

        return {"content": chunks()}

    async def go() -> httpx.Response:
        try:
            return await client.request(
                "POST", "/upload", fresh=body, headers={"Content-Length": "11"}
            )
        finally:
            await client.aclose()

    with _router(token_url) as router:
        route = router.post(f"{API}/upload").mock(
            side_effect=[httpx.Response(401), httpx.Response(200, json={"ok": True})]
        )
        asyncio.run(go())
    assert built == 2
    assert [c.request.content for c in route.calls] == [b"hello world", b"hello world"]


class _Probe:
    """A server that counts requests in flight; each one waits until a second one is in
    flight (at most 2 s), so requests the client sends together overlap here."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0

    async def slow(self, request: Request) -> JSONResponse:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        for _ in range(200):
            if self.in_flight >= 2:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        with self.lock:
            self.in_flight -= 1
        return JSONResponse({"ok": True})


def test_no_more_requests_in_flight_than_the_pool_allows(tokens: MaskinportenClient) -> None:
    probe = _Probe()
    app = Starlette(routes=[Route("/slow", probe.slow)])
    with serve_in_thread(app) as url:
        client = AltinnClient(url, tokens, [MIGRATE_SCOPE], concurrency=2)

        async def go() -> list[httpx.Response]:
            try:
                return await asyncio.gather(*(client.request("GET", "/slow") for _ in range(6)))
            finally:
                await client.aclose()

        responses = asyncio.run(go())
    assert [r.json() for r in responses] == [{"ok": True}] * 6
    assert probe.most == 2
    assert client.requests == 6


def test_the_client_wing_imports_no_stage_and_no_sandbox() -> None:
    banned = ("syncd", "exposure", "sandbox", "loaders", "flytt.cli", "flytt.demo")
    folder = Path(flytt.altinn.__file__).parent
    for source in folder.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert not name.startswith(banned), (source.name, name)


def test_the_old_import_paths_name_the_same_objects() -> None:
    import flytt.altinn.maskinporten as mp
    import flytt.altinn.retry as retry
    import syncd.maskinporten
    import syncd.retry

    assert syncd.maskinporten.MaskinportenClient is mp.MaskinportenClient
    assert syncd.maskinporten.MaskinportenError is mp.MaskinportenError
    assert syncd.retry.A3CallError is retry.A3CallError
    assert syncd.retry.call_with_retry is retry.call_with_retry
