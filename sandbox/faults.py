"""Faults on demand for every sandbox replica: one ASGI middleware, configurable at run time.

Wrap any replica's app: `FaultMiddleware(app, Faults(FaultPlan(rate_503=0.1, seed=7)))`.
Per request, in this order, with a seeded `random.Random` (same seed and request order → same
faults):

* `rate_drop`: the connection is dropped before the request is processed (the client sees the
  connection close mid-response);
* `rate_500`, `rate_502`, `rate_503`, `rate_429`: that status without processing the request;
  429 and 503 carry `Retry-After` (`retry_after_s` seconds);
* `rate_slow`: the answer is delayed by `slow_s` seconds, then the request is processed, so a
  client with a shorter timeout gives up on a request that still takes effect;
* `rate_drop_after`: the request is processed, then the connection is dropped before the
  answer arrives (the case that tests exactly-once delivery).

At most one of the status/drop faults applies to a request (the rates are cumulative slices of
[0, 1)); slowness is drawn independently. Paths under `/sandbox/` are never faulted.

Run-time control: `GET /sandbox/fault-plan` → `{"plan": {...}, "stats": {...}}`;
`PUT /sandbox/fault-plan` with a JSON plan (any `FaultPlan` fields) replaces the plan and
restarts the random sequence from its seed; or call `Faults.configure(...)` in-process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_PATH = "/sandbox/fault-plan"


@dataclass(frozen=True)
class FaultPlan:
    """Rates (0–1) of each fault, `Retry-After`/slowness in seconds, and the seed."""

    rate_500: float = 0.0
    rate_502: float = 0.0
    rate_503: float = 0.0
    rate_429: float = 0.0
    rate_drop: float = 0.0
    rate_drop_after: float = 0.0
    rate_slow: float = 0.0
    slow_s: float = 1.0
    retry_after_s: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        exclusive = (
            self.rate_500
            + self.rate_502
            + self.rate_503
            + self.rate_429
            + self.rate_drop
            + self.rate_drop_after
        )
        rates = [getattr(self, f.name) for f in fields(self) if f.name.startswith("rate_")]
        if any(r < 0 or r > 1 for r in rates) or exclusive > 1:
            raise ValueError("fault rates must lie in [0, 1] and the exclusive ones sum to ≤ 1")
        if self.slow_s < 0 or self.retry_after_s < 0:
            raise ValueError("slow_s and retry_after_s must not be negative")


@dataclass(frozen=True)
class Decision:
    """What happens to one request: `kind` is ok/500/502/503/429/drop/drop_after; `delay_s`."""

    kind: str
    delay_s: float = 0.0


class Faults:
    """The current plan, its random sequence and counters (thread-safe)."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self.plan = plan or FaultPlan()
        self._rng = random.Random(self.plan.seed)
        self.stats: Counter[str] = Counter()

    def configure(self, plan: FaultPlan | None = None, **changes: Any) -> FaultPlan:
        """Replace the plan (or change some fields); restarts the sequence from the seed.

        Raises:
            ValueError: a rate outside [0, 1], or an unknown field (TypeError from dataclasses
                is turned into ValueError).
        """
        try:
            new = replace(plan or self.plan, **changes)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        with self._lock:
            self.plan = new
            self._rng = random.Random(new.seed)
        return new

    def off(self) -> None:
        """No more faults (a clean plan with the same seed)."""
        self.configure(FaultPlan(seed=self.plan.seed))

    def decide(self) -> Decision:
        """Draw the fate of the next request and count it in `stats`."""
        with self._lock:
            plan = self.plan
            draw, slow_draw = self._rng.random(), self._rng.random()
            kind = "ok"
            edge = 0.0
            for name, rate in (
                ("500", plan.rate_500),
                ("502", plan.rate_502),
                ("503", plan.rate_503),
                ("429", plan.rate_429),
                ("drop", plan.rate_drop),
                ("drop_after", plan.rate_drop_after),
            ):
                edge += rate
                if draw < edge:
                    kind = name
                    break
            delay = plan.slow_s if slow_draw < plan.rate_slow else 0.0
            self.stats["requests"] += 1
            self.stats[kind] += 1
            if delay:
                self.stats["slow"] += 1
        return Decision(kind, delay)


async def _send_json(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw += [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class DroppedConnection(Exception):
    """Raised inside the server to abort a response half-way (the socket is closed)."""


class _QuietDrops(logging.Filter):
    """Keeps uvicorn from logging a traceback for every injected dropped connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


async def _drop(send: Send) -> None:
    # Promise a body and never deliver it: uvicorn closes the socket when the app raises, so
    # the client sees the connection end mid-response (httpx.RemoteProtocolError).
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        }
    )
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    raise DroppedConnection("connection dropped by the fault plan")


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now; return a `receive` that replays it."""
    chunks = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks)}]

    async def again() -> Message:
        if replay:
            return replay.pop()
        return await receive()

    return again


class FaultMiddleware:
    """ASGI middleware applying `faults` to every HTTP request outside `/sandbox/`."""

    def __init__(self, app: ASGIApp, faults: Faults | None = None) -> None:
        self.app = app
        self.faults = faults or Faults()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == ADMIN_PATH:
            await self._admin(scope, receive, send)
            return
        if path.startswith("/sandbox/"):
            await self.app(scope, receive, send)
            return
        decision = self.faults.decide()
        if decision.delay_s:
            # Read the body first: the request must take effect even if the client gives up.
            receive = await _buffered(receive)
            await asyncio.sleep(decision.delay_s)
        retry = {"Retry-After": str(self.faults.plan.retry_after_s)}
        if decision.kind == "drop":
            await _drop(send)
        if decision.kind in ("500", "502", "503", "429"):
            status = int(decision.kind)
            body = {"title": f"Injected fault {status}", "status": status}
            await _send_json(send, status, body, retry if status in (429, 503) else {})
            return
        if decision.kind == "drop_after":

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            await _drop(send)
            return
        await self.app(scope, receive, send)

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "GET":
            await _send_json(
                send,
                200,
                {"plan": asdict(self.faults.plan), "stats": dict(self.faults.stats)},
                {},
            )
            return
        if method not in ("PUT", "POST"):
            await _send_json(send, 405, {"title": "Method not allowed"}, {})
            return
        raw = b""
        more = True
        while more:
            message = await receive()
            raw += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            wanted = json.loads(raw or b"{}")
            plan = self.faults.configure(FaultPlan(**wanted))
        except (ValueError, TypeError) as exc:
            await _send_json(send, 400, {"title": "Invalid fault plan", "detail": str(exc)}, {})
            return
        await _send_json(send, 200, {"plan": asdict(plan), "stats": {}}, {})
        self.faults.stats.clear()
