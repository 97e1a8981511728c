"""Injected 429/503 answers for the Dialogporten replica (back-pressure tests).

Dialogporten answers 503 with `Retry-After` as an RFC 1123 date in maintenance mode; a 429 from
the API gateway is assumed to carry `Retry-After` in seconds (dialogporten.md §1.7-§1.8).
Faults are deterministic: every `every`-th API request fails, alternating 429 and 503 when
`statuses` holds both, until `remaining` faults have been served.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from starlette.responses import PlainTextResponse, Response


@dataclass
class FaultInjector:
    """Decides, per API request, whether to answer with an injected fault.

    Args:
        every: fail every n-th request (0: never).
        statuses: the statuses to cycle through (429 and/or 503).
        remaining: how many faults to serve at most (None: unlimited).
        retry_after_s: the delay announced in `Retry-After` (0 is allowed).
    """

    every: int = 0
    statuses: tuple[int, ...] = (429, 503)
    remaining: int | None = None
    retry_after_s: int = 0
    requests: int = 0
    served: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def configure(
        self,
        every: int,
        statuses: tuple[int, ...] = (429, 503),
        remaining: int | None = None,
        retry_after_s: int = 0,
    ) -> None:
        """Change the plan at run time (counters restart)."""
        with self._lock:
            self.every, self.statuses, self.remaining = every, statuses, remaining
            self.retry_after_s, self.requests, self.served = retry_after_s, 0, 0

    def maybe_fault(self) -> Response | None:
        """A fault response for this request, or None to serve it normally."""
        with self._lock:
            self.requests += 1
            if self.every <= 0 or self.requests % self.every != 0:
                return None
            if self.remaining is not None and self.served >= self.remaining:
                return None
            status = self.statuses[self.served % len(self.statuses)]
            self.served += 1
        if status == 503:
            when = datetime.now(UTC) + timedelta(seconds=self.retry_after_s)
            retry_after = format_datetime(when, usegmt=True)
            return PlainTextResponse(
                "Service Unavailable", status_code=503, headers={"Retry-After": retry_after}
            )
        return PlainTextResponse(
            "Too Many Requests",
            status_code=status,
            headers={"Retry-After": str(self.retry_after_s)},
        )
