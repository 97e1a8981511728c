"""Retry policy of the A3 client (respx): 5xx/429/timeouts retried with backoff that honours
Retry-After, validation errors not retried, error codes as `flytt report` shows them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx
from tenacity import RetryCallState

from flytt.altinn.retry import (
    A3CallError,
    element_backoff_seconds,
    parse_retry_after,
    wait_retry_after_or_backoff,
)
from syncd.a3_client import A3MigrationClient

BASE = "http://a3.test"
MIGRATE = f"{BASE}/correspondence/api/v1/migration/correspondence"
ATTACH = f"{BASE}/correspondence/api/v1/migration/attachment"


class _Tokens:
    """Stands in for the Maskinporten client (tested on its own against its replica)."""

    def __init__(self) -> None:
        self.invalidated = 0

    async def atoken(self, scopes: Any, client: Any = None) -> str:
        return "token"

    def invalidate(self, scopes: Any) -> None:
        self.invalidated += 1


def _client(tries: int = 4) -> A3MigrationClient:
    return A3MigrationClient(BASE, _Tokens(), tries=tries, initial_wait=0.001)  # type: ignore[arg-type]


def _ok(a3_id: uuid.UUID) -> httpx.Response:
    return httpx.Response(200, json={"correspondenceId": str(a3_id), "attachmentStatuses": []})


def _migrate(client: A3MigrationClient) -> Any:
    async def go() -> Any:
        try:
            return await client.migrate_correspondence({"altinn2CorrespondenceId": 1})
        finally:
            await client.aclose()

    return asyncio.run(go())


@respx.mock
def test_5xx_429_and_timeouts_are_retried_until_success() -> None:
    a3_id = uuid.uuid4()
    route = respx.post(MIGRATE).mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.ReadTimeout("slow"),
            _ok(a3_id),
        ]
    )
    result = _migrate(_client())
    assert result.correspondence_id == a3_id
    assert not result.remigrated
    assert route.call_count == 4
    assert route.calls[0].request.headers["Authorization"] == "Bearer token"


@respx.mock
def test_remigration_is_recognised_by_null_attachment_statuses() -> None:
    a3_id = uuid.uuid4()
    respx.post(MIGRATE).mock(
        return_value=httpx.Response(
            200, json={"correspondenceId": str(a3_id), "attachmentStatuses": None}
        )
    )
    assert _migrate(_client()).remigrated


@respx.mock
def test_validation_error_is_not_retried_and_carries_the_a3_error_code() -> None:
    route = respx.post(MIGRATE).mock(
        return_value=httpx.Response(
            400, json={"title": "Message title cannot be empty", "errorCode": 1020}
        )
    )
    with pytest.raises(A3CallError) as info:
        _migrate(_client())
    assert route.call_count == 1
    assert info.value.code == "http_400_1020"
    assert not info.value.transient


@respx.mock
def test_gives_up_after_the_tries_with_the_last_error() -> None:
    route = respx.post(MIGRATE).mock(return_value=httpx.Response(502, json={"errorCode": 2002}))
    with pytest.raises(A3CallError) as info:
        _migrate(_client(tries=3))
    assert route.call_count == 3
    assert info.value.code == "http_502_2002"
    assert info.value.transient


@respx.mock
def test_a_refused_token_is_renewed_and_retried() -> None:
    client = _client()
    respx.post(MIGRATE).mock(side_effect=[httpx.Response(401), _ok(uuid.uuid4())])
    _migrate(client)
    assert client.tokens.invalidated == 1  # type: ignore[attr-defined]


@respx.mock
def test_attachment_upload_streams_bytes_with_length_and_metadata() -> None:
    att_id = uuid.uuid4()
    route = respx.post(ATTACH).mock(
        side_effect=[httpx.ConnectError("dropped"), httpx.Response(200, json=str(att_id))]
    )

    def body() -> Any:
        async def gen() -> Any:
            yield b"hello "
            yield b"world"

        return gen()

    client = _client()

    async def go() -> uuid.UUID:
        try:
            return await client.upload_attachment({"altinn2AttachmentId": "7"}, 11, body)
        finally:
            await client.aclose()

    assert asyncio.run(go()) == att_id
    sent = route.calls[-1].request
    assert sent.headers["Content-Length"] == "11"
    assert sent.headers["Content-Type"] == "application/octet-stream"
    assert sent.url.params["altinn2AttachmentId"] == "7"
    assert sent.content == b"hello world"


def _state(exc: BaseException, attempt: int) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


def test_wait_honours_retry_after_and_otherwise_backs_off_with_jitter() -> None:
    wait = wait_retry_after_or_backoff(initial=0.5, cap=4)
    assert wait(_state(A3CallError("http_429", transient=True, retry_after=7), 1)) == 7
    assert wait(_state(A3CallError("http_429", transient=True, retry_after=9999), 1)) == 120
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 4.0)]:
        samples = [
            wait(_state(A3CallError("http_503", transient=True), attempt)) for _ in range(50)
        ]
        assert all(0 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 1  # jitter


def test_retry_after_as_seconds_or_http_date() -> None:
    assert parse_retry_after("3") == 3
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= (parse_retry_after(format_datetime(later, usegmt=True)) or 0) <= 31
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_element_backoff_grows_and_is_capped() -> None:
    assert 1 <= element_backoff_seconds(1) <= 2
    assert 8 <= element_backoff_seconds(4) <= 16
    assert element_backoff_seconds(30) <= 300
