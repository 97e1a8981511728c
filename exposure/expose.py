"""Step 5: make migrated correspondences available in Dialogporten and verify every dialog.

`flytt expose` (issue #5, DESIGN §1 step 5):

1. claims migrated, not yet available elements of the services marked ready
   (`settings.ready_services`), cut-over year first, newest first, then each earlier year
   (`flytt.control.elements`);
2. fails at once, without a request, each element real A3 would not make available
   (`exposure.expected.preflight`: `party_not_resolvable`, `purged`, `dialog_title_too_long`,
   `dialog_text_too_long`), counted as `blocked`;
3. asks A3 to make them available in list mode (`exposure.clients`), `expose_batch_size` ids
   per request and at most `concurrency` requests in flight; 429/5xx are retried honouring
   `Retry-After`; an item answered with `ok: false` or an empty dialog id is a failure and is
   re-sent (tenacity, `max_attempts` tries in this run, then later runs until the element has
   failed `max_attempts` times in all, when it becomes `failed`);
4. records `dialog_id`, `available_at` and state `available` in `flytt.element_state`;
5. verifies each newly available element's dialog in Dialogporten (`exposure.verify`).

One element's failure never stops the others: an answer that cannot be used, or an error
raised while handling one request, counts as a failed attempt of that request's elements
(`unexpected_error`), and the run goes on.

Re-running is safe: A3 returns the existing dialog id for an element that already has one, and
only `migrated` elements are selected, so a second run creates no dialog.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from exposure.clients import AvailabilityStatus, DialogportenClient, MakeAvailableClient
from exposure.expected import preflight
from exposure.verify import verify_available
from flytt.control import elements
from flytt.control.states import ElementState
from flytt.redact import redact
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from syncd.marts import describe_error, is_connection_error
from syncd.maskinporten import MaskinportenClient
from syncd.retry import A3CallError, element_backoff_seconds

COUNT_KEYS = (
    "selected",
    "blocked",
    "made_available",
    "retry_later",
    "failed",
    "not_ready",
    "verified",
    "dialogs_with_mismatches",
    "mismatches",
    "verify_errors",
)


class _ItemsFailed(Exception):
    """Some items of a make-available request failed; they are re-sent."""


def _not_ready(engine: sa.Engine, services: list[str]) -> int:
    with engine.connect() as conn:
        return elements.not_ready(conn, services)


class _Exposer:
    def __init__(
        self,
        settings: Settings,
        warehouse: Warehouse,
        a3: MakeAvailableClient,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.settings, self.engine, self.a3 = settings, warehouse.engine, a3
        self.should_stop = should_stop
        self.owner = elements.new_lease_owner(elements.Stage.EXPOSURE)
        self.counts: Counter[str] = Counter()
        self.claimed = 0
        self.tried: set[int] = set()
        """Elements that failed in this run: not claimed again before the next run."""
        self.gate = asyncio.Semaphore(settings.concurrency)
        self.retry_wait = wait_exponential_jitter(multiplier=0.1, max=5, jitter=0.2)

    async def _send(self, chunk: list[elements.Candidate]) -> None:
        by_a3 = {c.a3_correspondence_id: c for c in chunk}
        pending = list(by_a3)
        done: dict[Any, AvailabilityStatus] = {}
        failure: dict[Any, tuple[str, str]] = {}
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.settings.max_attempts),
                wait=self.retry_wait,
                retry=retry_if_exception_type(_ItemsFailed),
                reraise=True,
            ):
                with attempt:
                    async with self.gate:
                        statuses = await self.a3.make_available(pending)
                    answered = {s.correspondence_id: s for s in statuses}
                    still: list[Any] = []
                    for a3_id in pending:
                        status = answered.get(a3_id)
                        if status is not None and status.succeeded:
                            done[a3_id] = status
                        else:
                            still.append(a3_id)
                            failure[a3_id] = _failure(status)
                    pending = still
                    if pending:
                        raise _ItemsFailed
        except _ItemsFailed:
            pass
        except A3CallError as exc:
            for a3_id in pending:
                failure[a3_id] = (exc.code, exc.detail)
        except Exception as exc:  # one request's surprise fails its elements, not the run
            if is_connection_error(exc):
                raise
            for a3_id in pending:
                failure[a3_id] = ("unexpected_error", describe_error(exc))
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            for a3_id, status in done.items():
                candidate = by_a3[a3_id]
                try:
                    dialog = UUID(str(status.dialog_id))
                except ValueError:
                    pending.append(a3_id)
                    failure[a3_id] = (
                        "a3_invalid_dialog_id",
                        "A3 answered a dialog id that is no UUID",
                    )
                    continue
                if elements.mark_available(
                    conn, self.owner, candidate.a2_correspondence_id, dialog, now
                ):
                    self.counts["made_available"] += 1
            for a3_id in pending:
                candidate = by_a3[a3_id]
                self.tried.add(candidate.a2_correspondence_id)
                code, detail = failure[a3_id]
                gave_up = (
                    elements.fail_attempt(
                        conn,
                        elements.Stage.EXPOSURE,
                        self.owner,
                        candidate.a2_correspondence_id,
                        error_code=code,
                        detail=redact(detail),
                        retry_in_seconds=element_backoff_seconds(candidate.attempts + 1),
                        max_attempts=self.settings.max_attempts,
                    )
                    is ElementState.FAILED
                )
                self.counts["failed" if gave_up else "retry_later"] += 1

    def _without_blocked(self, batch: list[elements.Candidate]) -> list[elements.Candidate]:
        """`batch` less the elements real A3 would not make available; those fail now."""
        with self.engine.begin() as conn:
            blocked = preflight(
                conn,
                [(c.a2_correspondence_id, c.a3_correspondence_id) for c in batch],
                now=datetime.now(UTC),
                correspondence_base_url=self.settings.a3_base_url,
            )
            for a2_id, blocker in blocked.items():
                self.tried.add(a2_id)
                if elements.mark_blocked(
                    conn, self.owner, a2_id, blocker.code, redact(blocker.detail)
                ):
                    self.counts["blocked"] += 1
                    self.counts["failed"] += 1
        return [c for c in batch if c.a2_correspondence_id not in blocked]

    async def _renew(self, ids: list[int]) -> None:
        """Keep this batch's leases alive while A3 is slow (every third of a lease), as
        delivery does: a lease that ran out mid-batch would let another process make the same
        element available again."""
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            await asyncio.to_thread(self._renew_once, ids)

    def _renew_once(self, ids: list[int]) -> None:
        with self.engine.begin() as conn:
            elements.renew(conn, self.owner, ids, self.settings.lease_seconds)

    async def make_available(self, limit: int | None) -> None:
        services = list(self.settings.ready_services)
        size = self.settings.expose_batch_size
        with self.engine.begin() as conn:
            elements.reap_dead_leases(conn)  # of processes of this host killed mid-exposure
        try:
            while (limit is None or self.claimed < limit) and not self.should_stop():
                want = self.settings.batch_size
                if limit is not None:
                    want = min(want, limit - self.claimed)
                with self.engine.begin() as conn:
                    batch = elements.claim_for_exposure(
                        conn,
                        owner=self.owner,
                        services=services,
                        cutover_year=self.settings.cutover_year,
                        limit=want,
                        lease_seconds=self.settings.lease_seconds,
                        exclude=sorted(self.tried),
                        lanes=elements.Lanes(
                            self.settings.live_share, self.settings.live_window_minutes
                        ),
                    )
                if not batch:
                    break
                self.claimed += len(batch)
                self.counts["selected"] += len(batch)
                batch = self._without_blocked(batch)
                chunks = [batch[i : i + size] for i in range(0, len(batch), size)]
                if not chunks:
                    continue
                held = [c.a2_correspondence_id for c in batch]
                heartbeat = asyncio.create_task(self._renew(held))
                try:
                    await asyncio.gather(*(self._send(chunk) for chunk in chunks))
                finally:
                    heartbeat.cancel()
        finally:
            with self.engine.begin() as conn:
                elements.release(conn, self.owner)


def _failure(status: AvailabilityStatus | None) -> tuple[str, str]:
    if status is None:
        return "a3_no_status", "A3 answered without a status for this id"
    if not status.ok:
        return "a3_not_ok", (status.error or "")[:300]
    return "a3_empty_dialog_id", "A3 answered ok with an empty dialog id (Dialogporten 4xx)"


def run_expose(settings: Settings, warehouse: Warehouse, **options: Any) -> dict[str, int]:
    """Make migrated elements available and verify their dialogs; return counts.

    Options:
        limit (int): expose at most this many elements in this run.
        verify (bool, default True): verify dialogs after making them available.
        recheck (bool): verify every available element again, not only new ones.
        tokens (MaskinportenClient): token client (default: from settings).
        should_stop (callable): polled between batches; True ends the run after the batch in
            flight (`flytt daemon` on SIGTERM).

    Returns:
        Counts: `selected`, `blocked` (failed before any request, see step 2; also counted in
        `failed`), `made_available`, `retry_later`, `failed`, `not_ready` (migrated
        elements of services not marked ready), `verified`, `dialogs_with_mismatches`,
        `mismatches`, `verify_errors`.

    Raises:
        UserError: no Maskinporten key is configured.
    """
    services = list(settings.ready_services)
    if not _has_work(warehouse.engine, services, bool(options.get("recheck"))):
        idle = dict.fromkeys(COUNT_KEYS, 0)
        idle["not_ready"] = _not_ready(warehouse.engine, services)
        return idle
    tokens: MaskinportenClient = options.get("tokens") or MaskinportenClient.from_settings(settings)
    return asyncio.run(_run(settings, warehouse, tokens, options))


def _has_work(engine: sa.Engine, services: list[str], recheck: bool) -> bool:
    """True when an element of a ready service waits for exposure, or an available element
    waits for verification; answered from the warehouse alone (no token, no network)."""
    with engine.connect() as conn:
        return elements.has_exposure_work(conn, services, recheck)


async def _run(
    settings: Settings, warehouse: Warehouse, tokens: MaskinportenClient, options: dict[str, Any]
) -> dict[str, int]:
    common = {
        "concurrency": settings.concurrency,
        "tries": settings.max_attempts,
        "initial_wait": 0.2,
    }
    a3 = MakeAvailableClient(settings.a3_base_url, tokens, **common)
    dialogporten = DialogportenClient(settings.dialogporten_base_url, tokens, **common)
    stop: Callable[[], bool] = options.get("should_stop") or (lambda: False)
    exposer = _Exposer(settings, warehouse, a3, stop)
    try:
        await exposer.make_available(options.get("limit"))
        counts = exposer.counts
        counts["not_ready"] = _not_ready(warehouse.engine, list(settings.ready_services))
        if options.get("verify", True):
            counts.update(
                await verify_available(
                    warehouse.engine,
                    dialogporten,
                    correspondence_base_url=settings.a3_base_url,
                    batch_size=settings.batch_size,
                    concurrency=settings.concurrency,
                    recheck=bool(options.get("recheck")),
                    run_id=options.get("run_id"),
                    should_stop=stop,
                )
            )
    finally:
        await a3.aclose()
        await dialogporten.aclose()
    return {k: int(counts.get(k, 0)) for k in COUNT_KEYS}
