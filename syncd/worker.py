"""The delivery loop: claim batches while workers deliver, until nothing is claimable and no
short retry is pending. The loop only; the state writes are `DeliveryRun`'s, the delivery of
one element is `syncd.element_delivery`'s.

`settings.concurrency` workers take claimed elements from a queue; the claimer keeps the queue
at most two batches ahead; a heartbeat renews the leases of queued and in-flight elements every
third of `settings.lease_seconds`. When the loop ends, for any reason, the leases still held
are given back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import Callable

from flytt.control.elements import Claimed, ServiceQuota
from flytt.errors import UserError
from syncd.attachments_upload import known_attachments
from syncd.delivery_run import DeliveryRun
from syncd.element_delivery import deliver_element
from syncd.marts import UNREADABLE, fetch_readable
from syncd.payloads import ElementRows, attachment_id

UNREACHABLE_LIMIT = 10
"""Elements in a row that found A3 or Maskinporten unreachable before the run stops."""
MAX_RETRY_WAIT_S = 60.0
"""Elements waiting for a retry sooner than this keep the run alive; later ones wait for the
next run."""


async def deliver_elements(run: DeliveryRun, on_done: Callable[[str], None]) -> None:
    """Producer/worker loop: claim batches while workers deliver, until nothing is claimable
    and no short retry is pending (module docstring). `on_done(outcome)` is called once per
    element that reached an end in this run (not for those that will be retried in it).

    Raises:
        UserError: A3 or Maskinporten refused connections `UNREACHABLE_LIMIT` times in a row.
        A3CallError: Maskinporten refuses our client. Warehouse connection errors pass through.
    """
    s = run.settings
    workers = s.concurrency
    batch_size = max(1, min(s.batch_size, workers * 4))
    queue: asyncio.Queue[tuple[Claimed, ElementRows, dict[str, uuid.UUID]] | None] = asyncio.Queue()
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=workers + 2)
    # state writes run in threads (asyncio.to_thread); the default pool has only cpu+4 threads
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(max_workers=workers + 4)
    )
    held: set[int] = set()

    async def worker() -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            claimed, rows, known = item
            try:
                outcome = await deliver_element(run, claimed, rows, known, executor)
            finally:
                run.inflight -= 1
            # the element's lease is settled; on an exception it stays in `held` and is
            # released when the loop ends
            held.discard(claimed.a2_correspondence_id)
            run.counts[outcome] += 1
            run.unreachable = run.unreachable + 1 if outcome == "unreachable" else 0
            if run.unreachable >= UNREACHABLE_LIMIT:
                raise UserError(
                    f"Altinn 3 at {run.settings.a3_base_url} (or Maskinporten at "
                    f"{run.settings.maskinporten_token_url}) refuses connections; check "
                    "FLYTT_A3_BASE_URL and FLYTT_MASKINPORTEN_TOKEN_URL, then run flytt migrate "
                    "again."
                )
            if outcome in ("retry", "unreachable"):
                # it will be claimed again in this run: give its place in the quota back
                q = run.quotas[claimed.resource_id]
                run.quotas[q.resource_id] = ServiceQuota(
                    q.resource_id, q.remaining + 1, q.wait_minutes
                )
            else:
                on_done(outcome)

    def fetch(
        batch: list[Claimed],
    ) -> tuple[dict[int, ElementRows], dict[int, str], dict[str, uuid.UUID]]:
        with run.warehouse.engine.connect() as conn:
            rows, unreadable = fetch_readable(conn, [c.a2_correspondence_id for c in batch])
        att_ids = [attachment_id(a) for r in rows.values() for a in r.attachments]
        return rows, unreadable, known_attachments(run.warehouse, att_ids)

    async def settle_unreadable(claimed: Claimed, detail: str) -> None:
        # its rows cannot be read: quarantined, so it is never claimed again (no poison pill)
        ok = await asyncio.to_thread(
            run.quarantine, claimed.a2_correspondence_id, [(UNREADABLE, detail)]
        )
        held.discard(claimed.a2_correspondence_id)
        outcome = "quarantined" if ok else "lost"
        run.counts[outcome] += 1
        on_done(outcome)

    async def renew() -> None:
        # keep the leases of queued and in-flight elements alive while A3 is slow
        while True:
            await asyncio.sleep(s.lease_seconds / 3)
            if held:
                await asyncio.to_thread(run.renew, list(held))

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    renewer = asyncio.create_task(renew())
    try:
        while True:
            if any(t.done() for t in tasks):
                break  # a worker raised; gather below re-raises it
            if queue.qsize() >= workers * 2:
                await asyncio.sleep(0.01)
                continue
            if run.should_stop():
                break  # graceful stop: what is queued or in flight finishes below
            batch = await asyncio.to_thread(run.claim, batch_size)
            if batch:
                for c in batch:
                    quota = run.quotas[c.resource_id]
                    run.quotas[c.resource_id] = ServiceQuota(
                        quota.resource_id, quota.remaining - 1, quota.wait_minutes
                    )
                    held.add(c.a2_correspondence_id)
                rows, unreadable, known = await asyncio.to_thread(fetch, batch)
                for c in batch:
                    if c.a2_correspondence_id in unreadable:
                        await settle_unreadable(c, unreadable[c.a2_correspondence_id])
                        continue
                    run.inflight += 1
                    queue.put_nowait((c, rows[c.a2_correspondence_id], known))
                continue
            if run.inflight > 0:
                await asyncio.sleep(0.05)
                continue
            wait = await asyncio.to_thread(run.next_retry_in)
            if wait is None or wait > MAX_RETRY_WAIT_S or run.should_stop():
                break
            await asyncio.sleep(wait + 0.05)
    finally:
        if any(t.done() for t in tasks):  # stopping on an error: hand back what is queued
            while not queue.empty():
                item = queue.get_nowait()
                if item is not None:
                    run.inflight -= 1
        for _ in tasks:
            queue.put_nowait(None)
        try:
            await asyncio.gather(*tasks)
            renewer.cancel()
        finally:
            renewer.cancel()
            executor.shutdown(wait=False, cancel_futures=True)
            if held:
                await asyncio.to_thread(run.release, list(held))
