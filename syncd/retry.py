"""Former home of the Altinn 3 retry policy; it now lives in `flytt.altinn.retry`.

Kept so that existing imports (`from syncd.retry import A3CallError, ...`) keep working while
their callers move to `flytt.altinn.retry`. Holds no logic of its own.
"""

from __future__ import annotations

from flytt.altinn.retry import (
    MAX_RETRY_AFTER_S,
    TRANSIENT_STATUS,
    A3CallError,
    call_with_retry,
    element_backoff_seconds,
    error_from_response,
    error_from_transport,
    parse_retry_after,
    wait_retry_after_or_backoff,
)

__all__ = [
    "MAX_RETRY_AFTER_S",
    "TRANSIENT_STATUS",
    "A3CallError",
    "call_with_retry",
    "element_backoff_seconds",
    "error_from_response",
    "error_from_transport",
    "parse_retry_after",
    "wait_retry_after_or_backoff",
]
