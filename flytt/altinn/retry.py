"""Retry policy for calls to Altinn 3: what is retried, how long to wait, what the error is called.

Used by the one client base (`flytt.altinn.client.AltinnClient`) and by Maskinporten; modelled
on dlt's `dlt/sources/helpers/requests/retry.py` (`wait_exponential_retry_after`: tenacity with
the server's Retry-After taking precedence over exponential backoff).

Transient (retried): HTTP 429, 500, 502, 503, 504, timeouts and dropped connections. The wait is
the server's `Retry-After` (seconds or an HTTP date, RFC 9110 §10.2.3) when it sends one,
otherwise exponential backoff with full jitter. Everything else (400 validation, 404, 409,
415, ...) is permanent and is not retried.

Error codes are short strings stored in `flytt.element_state.last_error_code` and shown by
`flytt report`: `http_<status>` or `http_<status>_<A3 errorCode>` (ProblemDetails extension
`errorCode`, reference a3-correspondence §1.1/§1.8), `timeout`, `connection` (dropped), `connect`
(refused or unreachable: the service is down, not the element's fault).
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base

T = TypeVar("T")

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 120.0
"""A Retry-After longer than this is capped: the element is retried in a later round instead."""


class A3CallError(Exception):
    """A call to an Altinn 3 API failed.

    Attributes:
        code: short error code (`http_503`, `http_400_1020`, `timeout`, `connection`).
        status: HTTP status, or None for transport errors.
        transient: True when retrying may help.
        retry_after: seconds the server asked us to wait, if it said so.
        detail: a short description without personal data (ProblemDetails title, no body).
    """

    def __init__(
        self,
        code: str,
        *,
        status: int | None = None,
        transient: bool,
        retry_after: float | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.status = status
        self.transient = transient
        self.retry_after = retry_after
        self.detail = detail


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date; None if absent
    or unreadable. Never negative."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_from_response(response: httpx.Response) -> A3CallError:
    """Classify a non-2xx answer. Reads the ProblemDetails `errorCode` and `title` if present."""
    status = response.status_code
    a3_code: Any = None
    title = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            a3_code = body.get("errorCode")
            title = str(body.get("title") or "")[:200]
    except ValueError:
        pass
    code = f"http_{status}" + (f"_{a3_code}" if a3_code is not None else "")
    return A3CallError(
        code,
        status=status,
        transient=status in TRANSIENT_STATUS,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        detail=title,
    )


def error_from_transport(exc: httpx.TransportError) -> A3CallError:
    """Classify a timeout, a refused connection (`connect`) or a dropped one (`connection`);
    always transient."""
    if isinstance(exc, httpx.ConnectError):
        code = "connect"
    elif isinstance(exc, httpx.TimeoutException):
        code = "timeout"
    else:
        code = "connection"
    return A3CallError(code, transient=True, detail=type(exc).__name__)


class wait_retry_after_or_backoff(wait_base):
    """tenacity wait: the server's Retry-After when given (capped), else exponential backoff
    with full jitter: uniform(0, min(cap, initial * 2**(attempt-1)))."""

    def __init__(self, initial: float = 0.2, cap: float = 20.0) -> None:
        self.initial = initial
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, A3CallError) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER_S)
        ceiling = min(self.cap, self.initial * 2 ** (retry_state.attempt_number - 1))
        return random.uniform(0, ceiling)  # noqa: S311 (jitter, not security)


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, A3CallError) and exc.transient


async def call_with_retry(
    call: Callable[[], Awaitable[T]],
    *,
    tries: int,
    initial_wait: float = 0.2,
    max_wait: float = 20,
    on_wait: Callable[[float], None] | None = None,
) -> T:
    """Run `call` up to `tries` times while it raises a transient `A3CallError`.

    Args:
        call: one attempt.
        tries: attempts in all.
        initial_wait, max_wait: backoff ceiling of the first retry and its cap, in seconds
            (`wait_retry_after_or_backoff`; the server's Retry-After wins).
        on_wait: told the seconds about to be waited before each retry (for counters).

    Returns the first successful result. Raises the last `A3CallError` when the tries are used
    up or the error is permanent.
    """

    def before_sleep(state: RetryCallState) -> None:
        if on_wait is not None:
            on_wait(float(state.upcoming_sleep))

    retrying = AsyncRetrying(
        stop=stop_after_attempt(tries),
        wait=wait_retry_after_or_backoff(initial_wait, max_wait),
        retry=retry_if_exception(_is_transient),
        before_sleep=before_sleep,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover


def element_backoff_seconds(attempts: int, base: float = 2.0, cap: float = 300.0) -> float:
    """Delay before an element that failed `attempts` times is tried again (exponential with
    jitter between half and the full value), in seconds."""
    full = min(cap, base * 2 ** max(0, attempts - 1))
    return random.uniform(full / 2, full)  # noqa: S311 (jitter, not security)
