"""Owner of every SQL statement on `flytt.bridge_inbox` (Alembic revision 0009): step 2.2,
A3 → A2, the events Altinn 3 sent to the SBL-bridge endpoint that flytt serves in Storage's
place (sync-and-delegations §1.1, a3-correspondence §3.3).

An event is `(A2 correspondence id, acting party id, type, time)`: `read`, `confirm` or
`delete`, as A3's `SyncCorrespondenceEventToSblBridge` sent it. It is stored before the
endpoint answers (`accept`), applied to A2 by the `bridge` job in time order (`due`,
`mark_applied`, `mark_failed`) and then recognised when it comes back from A2 with a load, so
step 2.2 does not send it to A3 again (`echo_keys`). Outcomes: `pending`, `applied`, `echo`
(A2 already had the same event: same kind, same second in UTC, same party — the de-dup rule of
a3-correspondence §1.5.3 — so nothing was written twice), `superseded` (A2 had deleted the
element permanently since: its bridge answered 410), `failed` (the A2 bridge refused it:
needs a look, `flytt sync --retry-failed` puts it back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

EVENT_TYPES = ("read", "confirm", "delete")
"""The event types A3 sends (`Core/Models/Enums/SyncEventType.cs`, lower-cased)."""
A3_STATUS_OF = {"read": 4, "confirm": 6, "delete": 7}
"""The A3 status code an event of each type becomes once A2 has it and it is loaded back:
Read, Confirmed, PurgedByRecipient (A2 103 → A3 7, seed `a2_status_code_map`)."""

ACCEPT = """
insert into flytt.bridge_inbox (a2_correspondence_id, party_id, event_type, event_timestamp)
values (:a2_id, :party_id, :event_type, :ts)
on conflict (a2_correspondence_id, party_id, event_type, event_timestamp) do update
   set deliveries = flytt.bridge_inbox.deliveries + 1
returning event_id, (xmax = 0) as inserted
"""

# An event waits while an earlier one of its element is pending (in backoff, say), so that A2
# gets each element's events in the order they happened (events out of order: A3 bug #1593).
DUE = """
select i.event_id, i.a2_correspondence_id, i.party_id, i.event_type, i.event_timestamp,
       i.attempts
from flytt.bridge_inbox i
where i.outcome = 'pending' and (i.next_attempt_at is null or i.next_attempt_at <= now())
  and not exists (
    select 1 from flytt.bridge_inbox e
     where e.a2_correspondence_id = i.a2_correspondence_id and e.outcome = 'pending'
       and (e.event_timestamp, e.event_id) < (i.event_timestamp, i.event_id)
  )
order by i.event_timestamp, i.event_id
limit :limit
"""

MARK_DONE = """
update flytt.bridge_inbox
   set outcome = :outcome, applied_at = now(), next_attempt_at = null,
       last_error_code = null, last_error_detail = null
 where event_id = :id
"""

MARK_FAILED = """
update flytt.bridge_inbox
   set attempts = attempts + 1, next_attempt_at = :retry_at, last_error_code = :code,
       last_error_detail = :detail,
       outcome = case when cast(:retry_at as timestamptz) is null then 'failed' else 'pending' end
 where event_id = :id
returning attempts
"""

ECHO_KEYS = """
select a2_correspondence_id, event_type, party_id,
       extract(epoch from date_trunc('second', event_timestamp))::bigint as second
from flytt.bridge_inbox
where a2_correspondence_id = any(cast(:ids as integer[])) and outcome in ('applied', 'echo')
"""

# Is the event already in A2, as the last build shows it? Same element, status, second, party.
IN_A2 = """
select exists (
    select 1 from a3.correspondence_status_events
     where altinn2_correspondence_id = :a2_id and status = :status
       and altinn2_actor_party_id = :party_id
       and date_trunc('second', status_changed) = date_trunc('second', cast(:ts as timestamptz))
    union all
    select 1 from a3.correspondence_delete_events
     where altinn2_correspondence_id = :a2_id and migration_status = :status
       and altinn2_actor_party_id = :party_id
       and date_trunc('second', event_occurred) = date_trunc('second', cast(:ts as timestamptz))
)
"""

TOTALS = """
select count(*) as received,
       coalesce(sum(deliveries), 0) as deliveries,
       count(*) filter (where outcome = 'applied') as applied,
       count(*) filter (where outcome = 'echo') as echoes,
       count(*) filter (where outcome = 'superseded') as superseded,
       count(*) filter (where outcome = 'pending') as pending,
       count(*) filter (where outcome = 'pending' and attempts > 0) as retrying,
       count(*) filter (where outcome = 'failed') as failed,
       min(received_at) filter (where outcome = 'pending') as oldest_pending
from flytt.bridge_inbox
"""

FAILED_BY_ERROR = """
select last_error_code, count(*) from flytt.bridge_inbox where outcome = 'failed'
group by 1 order by 2 desc, 1
"""

PENDING_BY_ERROR = """
select coalesce(last_error_code, 'not_tried_yet'), count(*) from flytt.bridge_inbox
where outcome = 'pending' group by 1 order by 2 desc, 1
"""

RETRY_FAILED = """
update flytt.bridge_inbox
   set outcome = 'pending', attempts = 0, next_attempt_at = null
 where outcome = 'failed'
"""

# Applied events that a later load should have brought back from A2 but did not: the newest
# load in the marts began (its id is its Unix start time) a minute after the event was applied.
MISSING_IN_A2 = """
with newest as (
    select max(_dlt_load_id) as load_id from (
        select max(_dlt_load_id) as _dlt_load_id from a3.correspondence_status_events
        union all
        select max(_dlt_load_id) from a3.correspondence_delete_events
    ) loads
)
select i.event_id, i.a2_correspondence_id, i.event_type, i.event_timestamp
from flytt.bridge_inbox i, newest
where i.outcome = 'applied'
  and newest.load_id ~ '^[0-9]+(\\.[0-9]+)?$'
  and cast(newest.load_id as double precision) > extract(epoch from i.applied_at) + 60
  and not exists (
    select 1 from a3.correspondence_status_events s
     where s.altinn2_correspondence_id = i.a2_correspondence_id
       and s.status = case i.event_type when 'read' then 4 when 'confirm' then 6 end
       and s.altinn2_actor_party_id = i.party_id
       and date_trunc('second', s.status_changed) = date_trunc('second', i.event_timestamp)
  )
  and not exists (
    select 1 from a3.correspondence_delete_events d
     where d.altinn2_correspondence_id = i.a2_correspondence_id
       and i.event_type = 'delete' and d.migration_status = 7
       and d.altinn2_actor_party_id = i.party_id
       and date_trunc('second', d.event_occurred) = date_trunc('second', i.event_timestamp)
  )
order by i.event_id
limit :limit
"""


@dataclass(frozen=True)
class InboxEvent:
    """One received event: its row id, the A2 correspondence id, the acting party's A2 id,
    `event_type` (`EVENT_TYPES`), `event_timestamp` (aware, UTC) and failed `attempts`."""

    event_id: int
    a2_correspondence_id: int
    party_id: int
    event_type: str
    event_timestamp: datetime
    attempts: int


def accept(conn: sa.Connection, a2_id: int, party_id: int, event_type: str, ts: datetime) -> bool:
    """Store an event A3 sent (call inside the transaction that commits before the answer).

    Args:
        a2_id: `correspondenceId` of the call (> 0).
        party_id: `partyId` (> 0).
        event_type: one of `EVENT_TYPES` (lower case).
        ts: `eventTimestamp`, timezone-aware.

    Returns:
        True when the event is new, False when the same event was received before (A3 retried
        it; its `deliveries` count goes up and it is not applied again).
    """
    row = conn.execute(
        sa.text(ACCEPT), {"a2_id": a2_id, "party_id": party_id, "event_type": event_type, "ts": ts}
    ).one()
    return bool(row.inserted)


def due(conn: sa.Connection, limit: int) -> list[InboxEvent]:
    """Up to `limit` pending events whose (next) attempt is due and that no earlier pending
    event of the same element waits before, oldest event time first."""
    return [
        InboxEvent(
            int(r.event_id),
            int(r.a2_correspondence_id),
            int(r.party_id),
            str(r.event_type),
            r.event_timestamp,
            int(r.attempts),
        )
        for r in conn.execute(sa.text(DUE), {"limit": limit})
    ]


def in_a2(conn: sa.Connection, event: InboxEvent) -> bool:
    """Whether the last build already shows the event in A2 (same element, kind, second in
    UTC and party): then applying it again would write it twice."""
    params = {
        "a2_id": event.a2_correspondence_id,
        "status": A3_STATUS_OF[event.event_type],
        "party_id": event.party_id,
        "ts": event.event_timestamp,
    }
    return bool(conn.execute(sa.text(IN_A2), params).scalar())


DONE_OUTCOMES = ("applied", "echo", "superseded")
"""Final outcomes of an event that needs nothing more: A2 took it, A2 had it already, or A2
had since deleted the element permanently (its bridge answered 410 Gone)."""


def mark_applied(conn: sa.Connection, event_id: int, *, outcome: str = "applied") -> None:
    """Record that the event needs nothing more (`outcome` one of `DONE_OUTCOMES`).

    Raises:
        ValueError: another outcome.
    """
    if outcome not in DONE_OUTCOMES:
        raise ValueError(f"not a final outcome: {outcome}")
    conn.execute(sa.text(MARK_DONE), {"id": event_id, "outcome": outcome})


def mark_failed(
    conn: sa.Connection, event_id: int, code: str, detail: str, retry_at: datetime | None
) -> int:
    """Record an attempt that did not go through: tried again from `retry_at`, or, with
    `retry_at` None, `failed` until someone looks. Returns the attempts so far."""
    row = conn.execute(
        sa.text(MARK_FAILED),
        {"id": event_id, "code": code, "detail": detail[:500], "retry_at": retry_at},
    ).one()
    return int(row.attempts)


def echo_keys(conn: sa.Connection, a2_ids: Sequence[int]) -> dict[int, set[tuple[int, int, int]]]:
    """Per element, the events that came from A3 and reached A2 (applied or found there), as
    `(A3 status code, Unix second, party id)`: step 2.2 does not send these back to A3."""
    keys: dict[int, set[tuple[int, int, int]]] = {}
    for r in conn.execute(sa.text(ECHO_KEYS), {"ids": list(a2_ids)}):
        key = (A3_STATUS_OF[str(r.event_type)], int(r.second), int(r.party_id))
        keys.setdefault(int(r.a2_correspondence_id), set()).add(key)
    return keys


def missing_in_a2(conn: sa.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Applied events that a load begun more than a minute after them did not bring back from
    A2 (the A2 bridge answered 2xx but A2 lacks the event): `event_id`,
    `a2_correspondence_id`, `event_type`, `event_timestamp`, at most `limit`, oldest first.
    Empty before the marts exist."""
    if not conn.execute(
        sa.text("select to_regclass('a3.correspondence_delete_events') is not null")
    ).scalar():
        return []
    return [dict(r._mapping) for r in conn.execute(sa.text(MISSING_IN_A2), {"limit": limit})]


def last_received_at(conn: sa.Connection) -> datetime | None:
    """When the newest event was received (UTC), or None before the first."""
    found: datetime | None = conn.execute(
        sa.text("select max(received_at) from flytt.bridge_inbox")
    ).scalar()
    return found


def retry_failed(conn: sa.Connection) -> int:
    """Put every event the A2 bridge refused back in line; returns how many."""
    return int(conn.execute(sa.text(RETRY_FAILED)).rowcount)


def failed_by_error(conn: sa.Connection) -> list[tuple[str | None, int]]:
    """Events the A2 bridge refused, per error code, most first."""
    return [(r[0], int(r[1])) for r in conn.execute(sa.text(FAILED_BY_ERROR))]


def pending_by_error(conn: sa.Connection) -> list[tuple[str, int]]:
    """Pending events per last error code (`not_tried_yet` before the first attempt): why
    they wait."""
    return [(str(r[0]), int(r[1])) for r in conn.execute(sa.text(PENDING_BY_ERROR))]


def summary(conn: sa.Connection) -> dict[str, Any]:
    """Step 2.2 A3 → A2 in numbers (`flytt report --json` `sync.a3_to_a2`, `flytt status`):
    `received` distinct events (`deliveries` counts A3's retries too), `applied`,
    `already_in_a2` (echoes: A2 had them, nothing was sent), `superseded` (A2 had deleted the
    element since), `pending` (of which `retrying` after a failed attempt),
    `pending_by_error`, `failed` (the A2 bridge refused them) and `oldest_pending_age_s`
    (seconds since the oldest pending event was received, or None)."""
    row = conn.execute(sa.text(TOTALS)).one()
    age = None
    if row.oldest_pending is not None:
        now: datetime = conn.execute(sa.text("select now()")).scalar_one()
        age = round(max(0.0, (now - row.oldest_pending).total_seconds()), 1)
    return {
        "received": int(row.received),
        "deliveries": int(row.deliveries),
        "applied": int(row.applied),
        "already_in_a2": int(row.echoes),
        "superseded": int(row.superseded),
        "pending": int(row.pending),
        "retrying": int(row.retrying),
        "pending_by_error": dict(pending_by_error(conn)) if row.pending else {},
        "failed": int(row.failed),
        "oldest_pending_age_s": age,
    }
