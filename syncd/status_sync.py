"""Step 2.2, A2 → A3: new A2 events on migrated correspondences go to A3's sync endpoints.

What goes (a3-correspondence §1.7, sync-and-delegations §1.1): status events Read, Confirmed
and Archived and the delete events (purge, trash, restore) to `syncStatusEvent`, in time
order; notifications to `syncNotificationEvent`; forwardings to `syncForwardingEvent`. Other
status codes are not sent (A3 would log and ignore them) and are counted as
`skipped_by_rule`. An element that is not migrated yet sends nothing here: its migration
payload carries its events.

What it costs: a pass reads only the event rows of loads after the previous pass, the
elements delivered since then and the retries that are due (`flytt.control.sync_state`),
never the whole history (the first pass ever, on a warehouse migrated before this step
existed, is the exception: it sends every migrated element's events once, and A3 drops the
duplicates to the second).

One pass at a time across every host (`locks.sync_pass`); a pass that finds another running
does nothing. Each element's calls are sent one after the other, the element's state is
written when they all went through, and the pass's cursor only moves when the pass ended
(`sync_state.write_cursor`), so a pass killed at any point is repeated by the next one and
A3's de-duplication makes the repeat harmless (partial success is by design there: each event
is its own transaction, §1.7). Answers: 404 (A3 does not know the id) and 400 fail the element
with their code (`failed`, in `flytt report`; `flytt sync --retry-failed` tries them again);
429, 5xx and timeouts are retried as delivery does, then the element waits
`element_backoff_seconds` and the next passes try again, up to `settings.max_attempts`; an A3
that refuses connections costs no attempt (the next pass starts from the same cursor).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from flytt.altinn.retry import A3CallError, element_backoff_seconds
from flytt.control import bridge_inbox, elements, locks, sync_state
from flytt.errors import MartsNotBuilt, UserError
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from syncd.a3_client import A3MigrationClient
from syncd.marts import SCHEMA, describe_error, fetch_events_after, relation_exists
from syncd.maskinporten import MaskinportenClient
from syncd.payloads import ElementRows, SyncRequests, sync_requests


def run_sync(
    settings: Settings,
    warehouse: Warehouse,
    *,
    client: A3MigrationClient | None = None,
    should_stop: Callable[[], bool] | None = None,
    retry_failed: bool = False,
) -> dict[str, int]:
    """One A2 → A3 sync pass (module docstring); `flytt sync` and the daemon's `sync` job.

    Args:
        settings: A3 and Maskinporten settings, `batch_size`, `concurrency`, `max_attempts`.
        warehouse: the warehouse with the `a3` marts and schema `flytt`.
        client: an A3 client to use (tests); default one from `settings`.
        should_stop: polled between batches; True ends the pass early (the cursor stays).
        retry_failed: first put the elements whose sync A3 refused back in line
            (`retried` in the counts).

    Returns:
        Counts: `elements` looked at, `synced` (elements whose new events all went through),
        `events_sent`, `skipped_by_rule`, `failed`, `retry_later`; `busy` 1 when another
        pass was running (then nothing else).

    Raises:
        MartsNotBuilt: the event marts are not built yet (`flytt build`).
        UserError: Maskinporten refuses our client (fix the client id, key or scopes), or A3
            refused the connection (no attempt counted, the cursor stays: the next pass
            sends what this one could not).
    """
    with warehouse.engine.connect() as lock_conn, locks.sync_pass(lock_conn) as mine:
        if not mine:
            return {"busy": 1}
        retried = {}
        if retry_failed:
            with warehouse.engine.begin() as conn:
                retried = {"retried": sync_state.retry_failed(conn)}
        counts = asyncio.run(_pass(settings, warehouse, client, should_stop or (lambda: False)))
        return {**retried, **counts}


async def _pass(
    settings: Settings,
    warehouse: Warehouse,
    client: A3MigrationClient | None,
    should_stop: Callable[[], bool],
) -> dict[str, int]:
    with warehouse.engine.begin() as conn:
        locks.share_marts(conn)
        if not relation_exists(conn, "correspondence_status_events"):
            raise MartsNotBuilt(f"{SCHEMA}.correspondence_status_events")
        after, since = sync_state.read_cursor(conn)
        started: datetime = conn.execute(sa.text("select now()")).scalar_one()
        upto = sync_state.newest_load(conn)
        ids = sync_state.candidates(conn, after, upto, since)
    counts: Counter[str] = Counter({"elements": len(ids)})
    own = client is None
    a3 = client or A3MigrationClient(
        settings.a3_base_url,
        MaskinportenClient.from_settings(settings),
        concurrency=settings.concurrency,
    )
    gate = asyncio.Semaphore(settings.concurrency)

    async def guarded(
        rows: ElementRows, a3_id: uuid.UUID | None, echoes: set[tuple[int, int, int]]
    ) -> Counter[str]:
        async with gate:
            return await sync_element(settings, warehouse, a3, rows, a3_id, upto, echoes)

    stopped = False
    try:
        for start in range(0, len(ids), settings.batch_size):
            if should_stop():
                stopped = True
                break
            batch = ids[start : start + settings.batch_size]
            with warehouse.engine.begin() as conn:
                locks.share_marts(conn)
                floors = sync_state.floors(conn, batch)
                rows = fetch_events_after(conn, floors, upto)
                known = elements.a3_ids(conn, batch)
                echoes = bridge_inbox.echo_keys(conn, batch)
            outcomes = await asyncio.gather(
                *(guarded(rows[i], known.get(i), echoes.get(i, set())) for i in batch)
            )
            for outcome in outcomes:
                counts.update(outcome)
    except A3CallError as exc:
        if exc.code.startswith("maskinporten_"):
            raise UserError(
                f"Maskinporten refused flytt's client ({exc.code}); check "
                "FLYTT_MASKINPORTEN_CLIENT_ID, the key and the scope altinn:correspondence.migrate."
            ) from None
        raise
    finally:
        if own:
            await a3.aclose()
    if counts["unreachable"]:
        raise UserError(
            f"Altinn 3 at {settings.a3_base_url} refused the connection for "
            f"{counts['unreachable']} elements; start it (`flytt sandbox serve` for the "
            "sandbox) or check FLYTT_A3_BASE_URL. Nothing is lost: the next pass sends them."
        )
    if not stopped:
        with warehouse.engine.begin() as conn:
            sync_state.write_cursor(conn, upto, started)
    return {k: int(counts.get(k, 0)) for k in _COUNTS}


_COUNTS = (
    "elements",
    "synced",
    "events_sent",
    "skipped_by_rule",
    "echoes_suppressed",
    "failed",
    "retry_later",
)


async def sync_element(
    settings: Settings,
    warehouse: Warehouse,
    a3: A3MigrationClient,
    rows: ElementRows,
    a3_id: uuid.UUID | None,
    upto: str,
    echoes: set[tuple[int, int, int]] | None = None,
) -> Counter[str]:
    """Send one element's new events (`rows`, read up to load `upto`) to A3 and record the
    outcome in `flytt.sync_state`; returns the element's counts.

    `echoes`: the element's events that came from A3 through the SBL bridge
    (`bridge_inbox.echo_keys`); they are not sent back (`payloads.sync_requests`).

    An element A3 no longer has in a synced state (reset since) is left alone: its next
    migration payload carries its events. Maskinporten refusing our client is raised (the
    pass stops: no element is to blame); any other error ends on this element.
    """
    a2_id = rows.a2_correspondence_id
    if a3_id is None:
        return Counter()
    requests = sync_requests(rows, a3_id, echoes)
    try:
        for endpoint, body in requests.calls:
            await a3.sync(endpoint, body)
    except A3CallError as exc:
        if exc.code.startswith("maskinporten_") and not exc.transient:
            raise
        if exc.code.endswith("connect"):
            # A3 is down, not the element's fault: no attempt is counted, and the pass keeps
            # its cursor so that the next one finds this element again
            return Counter({"unreachable": 1})
        return await asyncio.to_thread(_failed, settings, warehouse, a2_id, exc)
    except Exception as exc:  # one element's data never stops the pass
        error = A3CallError("unexpected_error", transient=True, detail=describe_error(exc))
        return await asyncio.to_thread(_failed, settings, warehouse, a2_id, error)
    await asyncio.to_thread(_synced, warehouse, a2_id, upto, requests)
    return Counter(
        {
            "synced": 1,
            "events_sent": requests.events,
            "skipped_by_rule": requests.skipped_by_rule,
            "echoes_suppressed": requests.echoes_suppressed,
        }
    )


def _synced(warehouse: Warehouse, a2_id: int, upto: str, sent: SyncRequests) -> None:
    with warehouse.engine.begin() as conn:
        sync_state.mark_synced(
            conn, a2_id, upto, sent.events, sent.skipped_by_rule, sent.echoes_suppressed
        )


def _failed(settings: Settings, warehouse: Warehouse, a2_id: int, exc: A3CallError) -> Counter[str]:
    code = exc.code
    if exc.status == 404:
        code = "a3_not_found"
    elif exc.status == 400:
        code = f"a3_rejected_{exc.code}"
    permanent = exc.status in (400, 404) or not exc.transient
    with warehouse.engine.begin() as conn:
        attempts = sync_state.attempts(conn, a2_id) + 1
        if permanent or attempts >= settings.max_attempts:
            sync_state.mark_failed(conn, a2_id, code, exc.detail, None)
            return Counter({"failed": 1})
        retry_at = datetime.now(UTC) + timedelta(seconds=element_backoff_seconds(attempts))
        sync_state.mark_failed(conn, a2_id, code, exc.detail, retry_at)
    return Counter({"retry_later": 1})
