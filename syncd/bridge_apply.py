"""Step 2.2, A3 → A2: apply the events A3 sent to flytt's SBL-bridge endpoint to Altinn 2.

The endpoint (`syncd.sbl_bridge`, served by the daemon) stores each event in
`flytt.bridge_inbox`; this pass sends the pending ones, oldest event time first, to the A2 SBL
bridge as Storage did (`syncd.a2_bridge_client`; reference sync-and-delegations §1.1), each
element's events in the order they happened (a later one waits while an earlier one waits for
its retry; events out of order were A3 bug #1593):

* an event the last build already shows in A2 (same element, kind, second in UTC and party,
  the de-dup rule of a3-correspondence §1.5.3) is not sent: outcome `echo`, so nothing is
  written twice in A2;
* 2xx: `applied`. When the event comes back with a later load, step 2.2 A2 → A3 recognises it
  (`bridge_inbox.echo_keys`) and does not send it to A3 again;
* 410 Gone (the element was deleted permanently in A2 in the meantime): `superseded`: A2's
  deletion wins, there is nothing left to record, and that deletion reaches A3 by step 2.2;
* any other 4xx: `failed` with code `a2_bridge_rejected_<status>` (in `flytt report`;
  `flytt sync --retry-failed` puts it back);
* 408, 429, 5xx, timeouts, dropped connections: retried within the call, then the event waits
  `element_backoff_seconds` and later passes try again, up to `settings.max_attempts`;
* a bridge that refuses the connection costs no attempt: the pass stops, the events stay
  pending, and the next pass starts with them.

One pass at a time across every host (`locks.sync_pass(conn, locks.BRIDGE)`). An event's
outcome is written right after its call, so a pass killed at any point leaves at most the one
event in flight to be sent again by the next pass, which the A2 bridge answers without writing
twice (same event to the second).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flytt.altinn.retry import A3CallError, element_backoff_seconds
from flytt.control import bridge_inbox, locks
from flytt.errors import UserError
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from syncd.a2_bridge_client import A2BridgeClient
from syncd.marts import relation_exists

COUNTS = ("events", "applied", "echoes_suppressed", "superseded", "failed", "retry_later")
"""The keys of `run_bridge_apply`'s counts."""


def run_bridge_apply(
    settings: Settings,
    warehouse: Warehouse,
    *,
    client: A2BridgeClient | None = None,
    should_stop: Callable[[], bool] | None = None,
    retry_failed: bool = False,
) -> dict[str, int]:
    """One pass over the due inbox events (module docstring); the daemon's `bridge` job and
    part of `flytt sync`.

    Args:
        settings: `a2_bridge_base_url`, `batch_size`, `max_attempts`.
        warehouse: the warehouse with schema `flytt` (the marts are optional: without them
            no event is taken for an echo).
        client: an A2 bridge client (tests); default one for `settings.a2_bridge_base_url`.
        should_stop: polled between events; True ends the pass early.
        retry_failed: first put the events the A2 bridge refused back in line (`retried`).

    Returns:
        Counts (`COUNTS`): `events` looked at, `applied`, `echoes_suppressed` (A2 had them),
        `superseded`, `failed`, `retry_later`; `busy` 1 when another pass was running.

    Raises:
        UserError: the A2 bridge cannot be reached (nothing is lost: the events stay
            pending and the next pass sends them).
    """
    with warehouse.engine.connect() as lock_conn, locks.sync_pass(lock_conn, locks.BRIDGE) as mine:
        if not mine:
            return {"busy": 1}
        retried = {}
        if retry_failed:
            with warehouse.engine.begin() as conn:
                retried = {"retried": bridge_inbox.retry_failed(conn)}
        counts = asyncio.run(_pass(settings, warehouse, client, should_stop or (lambda: False)))
    return {**retried, **counts}


async def _pass(
    settings: Settings,
    warehouse: Warehouse,
    client: A2BridgeClient | None,
    should_stop: Callable[[], bool],
) -> dict[str, int]:
    counts: Counter[str] = Counter()
    held: set[int] = set()  # elements with an event waiting for a retry: the rest waits too
    own = client is None
    bridge = client or A2BridgeClient(settings.a2_bridge_base_url)
    try:
        while not should_stop():
            with warehouse.engine.begin() as conn:
                events = bridge_inbox.due(conn, settings.batch_size)
                marts = relation_exists(conn, "correspondence_delete_events")
            todo = [e for e in events if e.a2_correspondence_id not in held]
            if not todo:
                break
            for event in todo:
                if should_stop():
                    break
                if event.a2_correspondence_id in held:
                    continue
                counts["events"] += 1
                outcome = await _apply(settings, warehouse, bridge, event, marts)
                if outcome == "unreachable":
                    raise UserError(
                        f"The Altinn 2 bridge at {settings.a2_bridge_base_url} cannot be "
                        "reached (connection refused or host unknown); start it (the sandbox "
                        "starts a replica) or check FLYTT_A2_BRIDGE_BASE_URL. Nothing is lost: "
                        "the events stay pending."
                    )
                counts[outcome] += 1
                if outcome == "retry_later":
                    held.add(event.a2_correspondence_id)
    finally:
        if own:
            await bridge.aclose()
    return {k: int(counts.get(k, 0)) for k in COUNTS}


async def _apply(
    settings: Settings,
    warehouse: Warehouse,
    bridge: A2BridgeClient,
    event: bridge_inbox.InboxEvent,
    marts: bool,
) -> str:
    """Send one event and record its outcome; returns the count key it adds to."""
    if marts:
        with warehouse.engine.begin() as conn:
            if bridge_inbox.in_a2(conn, event):
                bridge_inbox.mark_applied(conn, event.event_id, outcome="echo")
                return "echoes_suppressed"
    try:
        await bridge.send(
            event.event_type, event.a2_correspondence_id, event.party_id, event.event_timestamp
        )
    except A3CallError as exc:
        if exc.code == "connect":
            return "unreachable"
        return _failed(settings, warehouse, event, exc)
    with warehouse.engine.begin() as conn:
        bridge_inbox.mark_applied(conn, event.event_id)
    return "applied"


def _failed(
    settings: Settings, warehouse: Warehouse, event: bridge_inbox.InboxEvent, exc: A3CallError
) -> str:
    with warehouse.engine.begin() as conn:
        if exc.status == 410:
            bridge_inbox.mark_applied(conn, event.event_id, outcome="superseded")
            return "superseded"
        if exc.status is not None and not exc.transient:
            code = f"a2_bridge_rejected_{exc.status}"
            bridge_inbox.mark_failed(conn, event.event_id, code, exc.detail, None)
            return "failed"
        code = f"a2_bridge_{exc.code}"
        if event.attempts + 1 >= settings.max_attempts:
            bridge_inbox.mark_failed(conn, event.event_id, code, exc.detail, None)
            return "failed"
        delay = element_backoff_seconds(event.attempts + 1)
        retry_at = datetime.now(UTC) + timedelta(seconds=delay)
        bridge_inbox.mark_failed(conn, event.event_id, code, exc.detail, retry_at)
    return "retry_later"
