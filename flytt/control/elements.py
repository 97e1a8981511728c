"""The one owner of `flytt.element_state`: every SQL statement on the state machine, all stages.

Delivery (step 1.1, `syncd`), exposure (step 5, `exposure`), discovery, `flytt status` and
`flytt report` call the functions here and hold no SQL on `flytt.element_state` (or the
delivery quarantine `flytt.quarantine`) of their own; `tests/control/test_control_sql_owners.py`
keeps it that way.

Exposure order (DESIGN §1 step 5, `ORDER_SQL`): the cut-over year first, newest first inside
it; then each earlier year, newest first; elements from years after the cut-over year
(steady-state traffic, step 6) come last, newest first. Years are calendar years in Norwegian
time (Europe/Oslo), since the cut-over year is a Norwegian business date; `a2_created_at`
itself is UTC. Exposure candidates: state `migrated` with an A3 id, in a service marked ready
(`settings.ready_services`, `*` = every service), not leased, not waiting for a retry.

Named queries: every statement is a module-level constant (`CLAIM_FOR_DELIVERY`,
`MARK_MIGRATED`, ...), not a `-- name:` block in a `.sql` file as procrastinate's
`manager.py` + `sql/queries.sql` do. Several statements are put together from parts (the sort
direction of a claim, the incremental sources of discovery, the state names from
`ElementState`), which Python does with plain f-strings checked at import (a misspelt state is
a `NameError`, not a query that matches nothing); ruff and mypy read the constants, `grep`
finds them, and nothing needs a loader or a package-data entry.

Leases (reference elt-practice §5.2): claim in a short transaction with
`SELECT … FOR UPDATE SKIP LOCKED`, stamp `lease_owner` / `lease_expires_at`, commit, work
outside the transaction, finish in another short transaction that only touches rows still
leased to us. A lease that expired (its process died) is claimable again, so two processes
never hold the same element at the same time (DESIGN §5 "Scale-out").

Attempts: one counter per stage (control schema revision 0005), named by `Stage`:
`delivery_attempts` for delivery, `exposure_attempts` for exposure, so the attempts one stage
needed never use up the next stage's `max_attempts`. `attempts` is a read-only generated column
(the current stage's counter) for readers.

Every function takes a `sqlalchemy.Connection` inside a transaction; the caller commits. All
times are the database's `now()` (UTC).
"""

from __future__ import annotations

import json
import math
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import sqlalchemy as sa

from flytt.control.states import ElementState

T = TypeVar("T")

DISCOVERED = ElementState.DISCOVERED
ELIGIBLE = ElementState.ELIGIBLE
MIGRATED = ElementState.MIGRATED
AVAILABLE = ElementState.AVAILABLE
A2_BLOCKED = ElementState.A2_BLOCKED
EXCLUDED = ElementState.EXCLUDED
QUARANTINED = ElementState.QUARANTINED
FAILED = ElementState.FAILED

ALL_SERVICES = "*"
"""In a list of ready services: every service."""


class Stage(Enum):
    """A stage that claims elements and counts its own failed attempts."""

    DELIVERY = "delivery_attempts"
    EXPOSURE = "exposure_attempts"

    @property
    def attempts_column(self) -> str:
        """The stage's attempt counter in `flytt.element_state`."""
        return self.value


def new_lease_owner(stage: Stage = Stage.DELIVERY) -> str:
    """A lease owner id unique to this process and run.

    Delivery: `<host>:<pid>:<random>` (the form `reap_dead_leases` recognises);
    exposure: `expose:<host>:<pid>:<random>`.
    """
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return owner if stage is Stage.DELIVERY else f"expose:{owner}"


READABLE_CREATED_AT = (
    "case when e.a2_created_at >= timestamptz '0001-01-02 00:00:00+00' "
    "and e.a2_created_at < timestamptz '9999-12-31 00:00:00+00' then e.a2_created_at end"
)
"""`e.a2_created_at` when Python's `datetime` can hold it (years 1-9999,
https://docs.python.org/3/library/datetime.html#datetime.MINYEAR), else NULL: a BC time would
make psycopg2 raise "year -1 is out of range" while claiming, for every element of the batch."""


# --- delivery (step 1.1) -------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceQuota:
    """How many elements of one service may still be claimed in this run.

    Attributes:
        resource_id: the A3 resource id.
        remaining: elements still allowed (per-service limit minus what this run claimed).
        wait_minutes: the service's migration wait time; younger elements are not claimed.
    """

    resource_id: str
    remaining: int
    wait_minutes: int = 0


@dataclass(frozen=True)
class Claimed:
    """An element leased to delivery: its A2 id, service, A2 creation time (UTC; None when
    unset or outside the years Python can hold) and its failed delivery attempts so far."""

    a2_correspondence_id: int
    resource_id: str
    a2_created_at: datetime | None
    attempts: int


_CLAIM_FOR_DELIVERY = f"""
with quota as (
    select * from unnest(cast(:rids as text[]), cast(:remaining as int[]),
                         cast(:waits as int[])) as q(resource_id, remaining, wait_minutes)
),
picked as (
    select pick.a2_correspondence_id
    from quota
    cross join lateral (
        select e.a2_correspondence_id
        from flytt.element_state e
        where e.resource_id = quota.resource_id
          and e.state = '{ELIGIBLE}'
          and (e.lease_expires_at is null or e.lease_expires_at < now())
          and (e.next_attempt_at is null or e.next_attempt_at <= now())
          and (e.a2_created_at is null
               or e.a2_created_at <= now() - make_interval(mins => quota.wait_minutes))
          and {{lane}}
        order by {{order}}
        limit least(quota.remaining, :batch)
        for update of e skip locked
    ) pick
    limit :batch
)
update flytt.element_state e
   set lease_owner = :owner,
       lease_expires_at = now() + make_interval(secs => :lease_seconds),
       updated_at = now()
  from picked
 where e.a2_correspondence_id = picked.a2_correspondence_id
returning e.a2_correspondence_id, e.resource_id, {READABLE_CREATED_AT}, e.delivery_attempts
"""
LIVE_SINCE = "coalesce(e.eligible_from, e.a2_created_at)"
"""When an element became eligible (A2 creation + wait; creation for rows from before 0006)."""
IN_LIVE_LANE = f"{LIVE_SINCE} >= now() - make_interval(mins => :live_window)"
IN_HISTORY_LANE = f"not ({IN_LIVE_LANE}) or {LIVE_SINCE} is null"
_FIFO = f"{LIVE_SINCE} asc nulls last, e.a2_correspondence_id asc"

CLAIM_FOR_DELIVERY_LIVE = _CLAIM_FOR_DELIVERY.format(lane=f"({IN_LIVE_LANE})", order=_FIFO)
CLAIM_FOR_DELIVERY_OLDEST_FIRST = _CLAIM_FOR_DELIVERY.format(
    lane=f"({IN_HISTORY_LANE})", order="e.a2_created_at asc, e.a2_correspondence_id asc"
)
CLAIM_FOR_DELIVERY_NEWEST_FIRST = _CLAIM_FOR_DELIVERY.format(
    lane=f"({IN_HISTORY_LANE})", order="e.a2_created_at desc, e.a2_correspondence_id desc"
)


@dataclass(frozen=True)
class Lanes:
    """How claims share capacity between live traffic and the backlog (DESIGN step 6).

    An element is in the live lane when it became eligible (`LIVE_SINCE`: A2 creation + the
    service's wait time) within the last `window_minutes`; all others are history. Each claim
    of `n` elements takes up to `ceil(n * live_share)` from the live lane, oldest eligible
    first (first in, first out: that keeps latency low), fills the rest from the history lane
    in that stage's own order, and gives capacity one lane cannot use to the other, so no
    worker idles while either lane has work. The Dialogporten adapter shares its workers 70 %
    live / 30 % history the same way (reference sync-and-delegations §3).
    """

    live_share: float = 0.7
    window_minutes: int = 1440

    def live_quota(self, n: int) -> int:
        """Live-lane elements a claim of `n` takes first."""
        return math.ceil(n * self.live_share) if self.live_share > 0 else 0

    def split(
        self, n: int, take_live: Callable[[int], list[T]], take_history: Callable[[int], list[T]]
    ) -> tuple[list[T], list[T]]:
        """Claim up to `n` with the two lanes' claim functions (each takes "at most this
        many" and returns what it leased): the live share first, history for the rest, then
        live again for what history left unused. Returns `(live, history)`."""
        quota = self.live_quota(n)
        live = take_live(quota) if quota > 0 else []
        history = take_history(n - len(live)) if n > len(live) else []
        more = n - len(live) - len(history)
        if len(live) == quota and more > 0:  # the live lane may have more than its share
            live += take_live(more)
        return live, history


NO_LANES = Lanes(live_share=0.0, window_minutes=0)
"""History order only: every element counts as history (a window of 0 minutes is empty)."""

MARK_MIGRATED = f"""
update flytt.element_state
   set state = '{MIGRATED}', a3_correspondence_id = :a3, migrated_at = now(),
       exposure_attempts = 0, last_error_code = null, last_error_detail = null,
       next_attempt_at = null, lease_owner = null, lease_expires_at = null, updated_at = now()
 where a2_correspondence_id = :id and lease_owner = :owner
"""

MARK_QUARANTINED = f"""
update flytt.element_state
   set state = '{QUARANTINED}', state_reason = :reason,
       lease_owner = null, lease_expires_at = null, updated_at = now()
 where a2_correspondence_id = :id and lease_owner = :owner
"""

ADD_QUARANTINE_REASON = """
insert into flytt.quarantine
    (entity, entity_id, a2_correspondence_id, reason_code, detail, run_id)
values ('correspondence', :eid, :id, :code, :detail, :run)
on conflict on constraint quarantine_once do nothing
"""

RENEW = """
update flytt.element_state
   set lease_expires_at = now() + make_interval(secs => :lease_seconds)
 where a2_correspondence_id = any(:ids) and lease_owner = :owner
"""

RELEASE_IDS = """
update flytt.element_state
   set lease_owner = null, lease_expires_at = null, updated_at = now()
 where a2_correspondence_id = any(:ids) and lease_owner = :owner
"""

RELEASE_OWNER = """
update flytt.element_state set lease_owner = null, lease_expires_at = null
 where lease_owner = :owner
"""

RESET = f"""
update flytt.element_state
   set state = '{ELIGIBLE}', state_reason = null, a3_correspondence_id = null, dialog_id = null,
       delivery_attempts = 0, exposure_attempts = 0, last_error_code = null,
       last_error_detail = null, next_attempt_at = null, lease_owner = null,
       lease_expires_at = null, eligible_at = now(), migrated_at = null, available_at = null,
       a2_blocked_at = null, failed_at = null, updated_at = now()
 where a2_correspondence_id = :id
"""

DROP_QUARANTINE_REASONS = """
delete from flytt.quarantine where entity = 'correspondence' and a2_correspondence_id = :id
"""

LIVE_LOCAL_OWNERS = """
select distinct lease_owner from flytt.element_state
 where (lease_owner like :prefix or lease_owner like 'expose:' || :prefix)
   and lease_expires_at > now()
"""

RELEASE_OWNERS = """
update flytt.element_state set lease_owner = null, lease_expires_at = null
 where lease_owner = any(:dead)
"""

_OLD_ENOUGH = (
    "(e.a2_created_at is null or e.a2_created_at <= now() - make_interval(mins => "
    "coalesce((cast(:waits as jsonb) ->> e.resource_id)::int, 0)))"
)
_IN_SCOPE = "(cardinality(cast(:services as text[])) = 0 or {col} = any(cast(:services as text[])))"

PENDING_BY_SERVICE_CAPPED = f"""
select r.resource_id, n.pending from {{resources}} r
cross join lateral (
    select count(*) as pending from (
        select 1 from flytt.element_state e
         where e.resource_id = r.resource_id and e.state = '{ELIGIBLE}' and {_OLD_ENOUGH}
         limit :cap) capped) n
where n.pending > 0 and {_IN_SCOPE.format(col="r.resource_id")}
order by 1
"""

PENDING_BY_SERVICE = f"""
select e.resource_id, count(*) from flytt.element_state e
 where e.state = '{ELIGIBLE}' and e.resource_id is not null
   and {_IN_SCOPE.format(col="e.resource_id")} and {_OLD_ENOUGH}
 group by 1 order by 1
"""

COUNT_IN_SERVICES = "select count(*) from flytt.element_state where resource_id = any(:r)"

DELIVERY_RETRY_IN = f"""
select extract(epoch from min(next_attempt_at) - now()) from flytt.element_state
 where state = '{ELIGIBLE}' and delivery_attempts > 0 and resource_id = any(:r)
   and next_attempt_at > now()
"""

WAITING_FOR_DELIVERY_RETRY = f"""
select count(*) from flytt.element_state
 where state = '{ELIGIBLE}' and delivery_attempts > 0 and resource_id = any(:r)
"""


def claim_for_delivery(
    conn: sa.Connection,
    owner: str,
    quotas: Sequence[ServiceQuota],
    *,
    batch: int,
    lease_seconds: int,
    newest_first: bool = False,
    lanes: Lanes = NO_LANES,
) -> list[Claimed]:
    """Lease up to `batch` eligible elements for delivery, at most `quota.remaining` per
    service, skipping rows another process holds or claims.

    Only elements older than their service's wait time, whose retry time has come and whose
    lease is free or expired are taken. With `lanes`, live elements come first, oldest
    eligible first, up to the live share, then history oldest (or newest) first (`Lanes`).
    Commit `conn`'s transaction right after.

    Returns:
        The claimed elements, live lane first (may be fewer than `batch`; empty when nothing
        is claimable).
    """
    history = CLAIM_FOR_DELIVERY_NEWEST_FIRST if newest_first else CLAIM_FOR_DELIVERY_OLDEST_FIRST
    remaining = {q.resource_id: q for q in quotas if q.remaining > 0}

    def take(sql: str, n: int) -> list[Claimed]:
        open_quotas = [q for q in remaining.values() if q.remaining > 0]
        if not open_quotas:
            return []
        rows = conn.execute(
            sa.text(sql),
            {
                "rids": [q.resource_id for q in open_quotas],
                "remaining": [q.remaining for q in open_quotas],
                "waits": [q.wait_minutes for q in open_quotas],
                "batch": n,
                "owner": owner,
                "lease_seconds": lease_seconds,
                "live_window": lanes.window_minutes,
            },
        ).all()
        got = [Claimed(r[0], r[1], r[2], r[3]) for r in rows]
        for c in got:
            q = remaining[c.resource_id]
            remaining[c.resource_id] = ServiceQuota(q.resource_id, q.remaining - 1, q.wait_minutes)
        return got

    live, rest = lanes.split(
        batch, lambda n: take(CLAIM_FOR_DELIVERY_LIVE, n), lambda n: take(history, n)
    )
    return live + rest


def mark_migrated(conn: sa.Connection, owner: str, a2_id: int, a3_id: uuid.UUID) -> bool:
    """Record a delivered element: state `migrated`, its A3 id, `migrated_at`, lease released.

    `delivery_attempts` is kept as a record of what delivery needed; exposure counts from its
    own `exposure_attempts` (0 here), so it gets its full `max_attempts`. Only a row still
    leased to `owner` is changed.

    Returns:
        False when the lease was lost (nothing written).
    """
    result = conn.execute(sa.text(MARK_MIGRATED), {"a3": a3_id, "id": a2_id, "owner": owner})
    return result.rowcount == 1


def mark_quarantined(
    conn: sa.Connection,
    owner: str,
    a2_id: int,
    reasons: Sequence[tuple[str, str]],
    run_id: int | None,
) -> bool:
    """Quarantine an element at delivery time: one `flytt.quarantine` row per (reason code,
    detail) and state `quarantined` with the first reason in `state_reason`. Lease released.

    Returns:
        False when the lease was lost (nothing written).
    """
    result = conn.execute(
        sa.text(MARK_QUARANTINED), {"reason": reasons[0][0], "id": a2_id, "owner": owner}
    )
    if result.rowcount != 1:
        return False
    for code, detail in reasons:
        conn.execute(
            sa.text(ADD_QUARANTINE_REASON),
            {"eid": str(a2_id), "id": a2_id, "code": code, "detail": detail[:500], "run": run_id},
        )
    return True


def renew(conn: sa.Connection, owner: str, ids: Sequence[int], lease_seconds: int) -> int:
    """Extend our leases on `ids` to `now() + lease_seconds` (a heartbeat while A3 is slow).

    Returns:
        How many of the leases are still ours.
    """
    if not ids:
        return 0
    result = conn.execute(
        sa.text(RENEW), {"ids": list(ids), "owner": owner, "lease_seconds": lease_seconds}
    )
    return int(result.rowcount)


def release(conn: sa.Connection, owner: str, ids: Sequence[int] | None = None) -> int:
    """Give back leases `owner` holds without counting an attempt (the run stops early).

    Args:
        ids: only these elements; None → every lease `owner` still holds (exposure after an
            interruption).

    Returns:
        How many leases were released.
    """
    if ids is None:
        return int(conn.execute(sa.text(RELEASE_OWNER), {"owner": owner}).rowcount)
    if not ids:
        return 0
    result = conn.execute(sa.text(RELEASE_IDS), {"ids": list(ids), "owner": owner})
    return int(result.rowcount)


def reset(conn: sa.Connection, a2_id: int) -> bool:
    """Put one element back to `eligible` so the next `flytt migrate` delivers it again.

    Clears the A3/dialog ids, both stages' attempts, errors, lease and stage times, and removes
    its delivery-time quarantine rows. Re-sending is safe: A3 answers a known
    `altinn2CorrespondenceId` with the same id (reference a3-correspondence §1.5.3).

    Returns:
        False when no element has that A2 id.
    """
    if conn.execute(sa.text(RESET), {"id": a2_id}).rowcount != 1:
        return False
    conn.execute(sa.text(DROP_QUARANTINE_REASONS), {"id": a2_id})
    return True


def reap_dead_leases(conn: sa.Connection) -> int:
    """Free delivery and exposure leases held by processes of this host that no longer exist
    (a kill -9), so a re-run need not wait for their expiry. Owners are `<host>:<pid>:<random>`
    or `expose:<host>:<pid>:<random>` (`new_lease_owner`); owners whose pid cannot be read or
    checked are left alone, and other hosts' leases expire on their own.

    Returns:
        How many leases were freed.
    """
    host = socket.gethostname()
    owners = [
        str(row[0]) for row in conn.execute(sa.text(LIVE_LOCAL_OWNERS), {"prefix": f"{host}:%"})
    ]
    dead = []
    for owner in owners:
        try:
            pid = int(owner.removeprefix("expose:").split(":")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            dead.append(owner)
        except (ValueError, IndexError, PermissionError):
            continue
    if not dead:
        return 0
    return int(conn.execute(sa.text(RELEASE_OWNERS), {"dead": dead}).rowcount)


def pending_by_service(
    conn: sa.Connection,
    services: Sequence[str],
    waits: dict[str, int],
    cap: int | None,
    *,
    resources_table: str | None = None,
) -> dict[str, int]:
    """Eligible elements old enough to be sent, per service (all services when `services` is
    empty), each count capped at `cap` (the per-service limit of the run).

    Args:
        waits: migration wait time in minutes per resource id (missing: 0).
        resources_table: the qualified name of the `resources` mart when it exists; with a cap
            each of its services is then counted with a bounded index scan (resource, state,
            created), so the cost is services × cap, not the backlog.

    Returns:
        `{resource_id: pending}` for services with at least one pending element.
    """
    params = {"services": list(services), "waits": json.dumps(waits), "cap": cap}
    if cap is not None and resources_table is not None:
        sql = PENDING_BY_SERVICE_CAPPED.format(resources=resources_table)
    else:
        sql = PENDING_BY_SERVICE
    counts = {str(row[0]): int(row[1]) for row in conn.execute(sa.text(sql), params)}
    return {rid: min(n, cap) if cap else n for rid, n in counts.items()}


def count_in_services(conn: sa.Connection, services: Sequence[str]) -> int:
    """How many elements (in any state) belong to `services`."""
    return int(conn.execute(sa.text(COUNT_IN_SERVICES), {"r": list(services)}).scalar_one())


def delivery_retry_in(conn: sa.Connection, services: Sequence[str]) -> float | None:
    """Seconds until the earliest eligible element of `services` that failed a delivery attempt
    may be retried; None when none waits."""
    wait = conn.execute(sa.text(DELIVERY_RETRY_IN), {"r": list(services)}).scalar()
    return None if wait is None else max(0.0, float(wait))


def waiting_for_delivery_retry(conn: sa.Connection, services: Sequence[str]) -> int:
    """How many eligible elements of `services` failed a delivery attempt and wait for the next."""
    return int(
        conn.execute(sa.text(WAITING_FOR_DELIVERY_RETRY), {"r": list(services)}).scalar_one()
    )


# --- attempts, for every stage -------------------------------------------------------------

_FAIL_ATTEMPT = f"""
update flytt.element_state
   set {{n}} = {{n}} + 1, last_error_code = :code, last_error_detail = :detail,
       state = case when :permanent or {{n}} + 1 >= :max then '{FAILED}' else state end,
       failed_at = case when :permanent or {{n}} + 1 >= :max then now() else failed_at end,
       next_attempt_at = now() + make_interval(secs => :delay),
       lease_owner = null, lease_expires_at = null, updated_at = now()
 where a2_correspondence_id = :id and lease_owner = :owner
returning state
"""
FAIL_ATTEMPT = {stage: _FAIL_ATTEMPT.format(n=stage.attempts_column) for stage in Stage}
"""One statement per stage; each counts only its own attempts."""


def fail_attempt(
    conn: sa.Connection,
    stage: Stage,
    owner: str,
    a2_id: int,
    *,
    error_code: str,
    detail: str,
    max_attempts: int,
    retry_in_seconds: float,
    permanent: bool = False,
) -> ElementState | None:
    """Count one failed attempt of `stage` in its own counter (`Stage.attempts_column`).

    The element goes to `failed` (with `failed_at` and the error code, shown by `flytt report`)
    when that stage's attempts reach `max_attempts` or the error is `permanent`; otherwise it
    keeps its state (`eligible` for delivery, `migrated` for exposure) and waits until
    `now() + retry_in_seconds`. The lease is released either way; `detail` is cut to 500
    characters.

    Returns:
        The new state, or None when the lease was lost (nothing written).
    """
    row = conn.execute(
        sa.text(FAIL_ATTEMPT[stage]),
        {
            "code": error_code,
            "detail": detail[:500],
            "permanent": permanent,
            "max": max_attempts,
            "delay": retry_in_seconds,
            "id": a2_id,
            "owner": owner,
        },
    ).first()
    return ElementState(row[0]) if row else None


# --- exposure (step 5) ---------------------------------------------------------------------

YEAR_SQL = "extract(year from e.a2_created_at at time zone 'Europe/Oslo')::int"
"""The element's A2 creation year in Norwegian time (the cut-over year is a Norwegian date)."""
YEAR_GROUP_SQL = (
    f"case when {YEAR_SQL} = :cutover then 0 when {YEAR_SQL} < :cutover then 1 else 2 end"
)
ORDER_SQL = f"{YEAR_GROUP_SQL}, e.a2_created_at desc nulls last, e.a2_correspondence_id desc"
"""Exposure order: the cut-over year, then each earlier year, then later years; newest first."""


@dataclass(frozen=True)
class Candidate:
    """One element leased to exposure: A2 id, A3 correspondence id, A2 creation time (UTC; None
    when unset or outside the years Python can hold) and its failed exposure attempts so far."""

    a2_correspondence_id: int
    a3_correspondence_id: uuid.UUID
    a2_created_at: datetime | None
    attempts: int


_CLAIM_FOR_EXPOSURE = f"""
with picked as (
    select e.a2_correspondence_id from flytt.element_state e
     where e.state = '{MIGRATED}' and e.a3_correspondence_id is not null
       and (e.lease_expires_at is null or e.lease_expires_at < now())
       and (e.next_attempt_at is null or e.next_attempt_at <= now())
       and (:all_services or e.resource_id = any(cast(:services as text[])))
       and e.a2_correspondence_id <> all(cast(:exclude as int[]))
       and {{lane}}
     order by {{order}}
     limit :limit
     for update skip locked
)
update flytt.element_state e
   set lease_owner = :owner,
       lease_expires_at = now() + make_interval(secs => :lease),
       updated_at = now()
  from picked
 where e.a2_correspondence_id = picked.a2_correspondence_id
returning e.a2_correspondence_id, e.a3_correspondence_id,
          {READABLE_CREATED_AT} as a2_created_at,
          e.exposure_attempts as attempts, ({YEAR_GROUP_SQL}) as year_group
"""

CLAIM_FOR_EXPOSURE_LIVE = _CLAIM_FOR_EXPOSURE.format(lane=f"({IN_LIVE_LANE})", order=_FIFO)
CLAIM_FOR_EXPOSURE_HISTORY = _CLAIM_FOR_EXPOSURE.format(
    lane=f"({IN_HISTORY_LANE})", order=ORDER_SQL
)

MARK_AVAILABLE = f"""
update flytt.element_state
   set state = '{AVAILABLE}', dialog_id = :dialog, available_at = :at,
       lease_owner = null, lease_expires_at = null, next_attempt_at = null,
       last_error_code = null, last_error_detail = null, updated_at = now()
 where a2_correspondence_id = :id and state = '{MIGRATED}' and lease_owner = :owner
"""

MARK_BLOCKED = f"""
update flytt.element_state
   set state = '{FAILED}', failed_at = now(), last_error_code = :code,
       last_error_detail = :detail, next_attempt_at = null,
       lease_owner = null, lease_expires_at = null, updated_at = now()
 where a2_correspondence_id = :id and state = '{MIGRATED}' and lease_owner = :owner
"""

_NOT_CHECKED = (
    "not exists (select 1 from flytt.dialog_check c "
    "where c.a2_correspondence_id = e.a2_correspondence_id)"
)

UNVERIFIED = f"""
select e.a2_correspondence_id, e.a3_correspondence_id, e.dialog_id, e.available_at
  from flytt.element_state e
 where e.state in ('{AVAILABLE}', '{A2_BLOCKED}') and e.a3_correspondence_id is not null
   and (:recheck or {_NOT_CHECKED})
 order by e.a2_created_at desc nulls last, e.a2_correspondence_id desc
 limit :limit
"""

NOT_READY = f"""
select count(*) from flytt.element_state
 where state = '{MIGRATED}' and not (coalesce(resource_id, '') = any(:s))
"""

HAS_EXPOSURE_WORK = f"""
select exists (
    select 1 from flytt.element_state e
     where (e.state = '{MIGRATED}' and e.a3_correspondence_id is not null
            and (:all_services or e.resource_id = any(cast(:s as text[]))))
        or (e.state in ('{AVAILABLE}', '{A2_BLOCKED}') and (:recheck or {_NOT_CHECKED})))
"""


def _ts(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else float("-inf")


def claim_for_exposure(
    conn: sa.Connection,
    *,
    owner: str,
    services: Sequence[str],
    cutover_year: int,
    limit: int,
    lease_seconds: int,
    exclude: Sequence[int] = (),
    lanes: Lanes = NO_LANES,
) -> list[Candidate]:
    """Lease up to `limit` migrated elements with an A3 id for exposure, skipping leased rows
    and rows waiting for a retry: with `lanes`, live elements first (oldest eligible first, up
    to the live share), then history in exposure order (`ORDER_SQL`).

    Args:
        services: ready resource ids (`*` = all); empty → nothing is claimed.
        cutover_year: `settings.cutover_year`.
        lease_seconds: how long the lease holds if this process dies.
        exclude: A2 ids not to claim (those that already failed in this run).
        lanes: the live/history split (`Lanes`); default history order only.

    Returns:
        The claimed candidates: the live lane's first, then history in exposure order.
    """
    if not services:
        return []
    params = {
        "all_services": ALL_SERVICES in services,
        "services": list(services),
        "exclude": list(exclude),
        "owner": owner,
        "lease": lease_seconds,
        "cutover": cutover_year,
        "live_window": lanes.window_minutes,
    }

    def take(sql: str, n: int) -> list[Any]:
        return list(conn.execute(sa.text(sql), {**params, "limit": n}))

    live, history = lanes.split(
        limit,
        lambda n: take(CLAIM_FOR_EXPOSURE_LIVE, n),
        lambda n: take(CLAIM_FOR_EXPOSURE_HISTORY, n),
    )
    history.sort(key=lambda r: (r.year_group, -_ts(r.a2_created_at), -r.a2_correspondence_id))
    return [
        Candidate(r.a2_correspondence_id, r.a3_correspondence_id, r.a2_created_at, r.attempts)
        for r in live + history
    ]


def mark_available(
    conn: sa.Connection, owner: str, a2_id: int, dialog_id: uuid.UUID, at: datetime
) -> bool:
    """Record the dialog id and time of a migrated element leased to `owner`; state
    `available`, lease and error cleared.

    Returns:
        False when the lease was lost or the element is no longer `migrated`.
    """
    result = conn.execute(
        sa.text(MARK_AVAILABLE), {"dialog": dialog_id, "at": at, "id": a2_id, "owner": owner}
    )
    return result.rowcount == 1


def mark_blocked(conn: sa.Connection, owner: str, a2_id: int, code: str, detail: str) -> bool:
    """Fail a migrated element at once, without asking A3: real A3 would not make it available
    and sending it again would not change that. State `failed` with `code`; no attempt is
    counted, since no request was made. `detail` is cut to 500 characters.

    Returns:
        False when the lease was lost or the element is no longer `migrated`.
    """
    result = conn.execute(
        sa.text(MARK_BLOCKED),
        {"code": code, "detail": detail[:500], "id": a2_id, "owner": owner},
    )
    return result.rowcount == 1


def unverified(conn: sa.Connection, limit: int, *, recheck: bool = False) -> list[dict[str, Any]]:
    """Available elements whose dialog has not been verified yet (all of them with `recheck`).

    Returns:
        Up to `limit` dicts with `a2_correspondence_id`, `a3_correspondence_id`, `dialog_id`,
        `available_at`, newest first.
    """
    rows = conn.execute(sa.text(UNVERIFIED), {"limit": limit, "recheck": recheck})
    return [dict(r._mapping) for r in rows]


def not_ready(conn: sa.Connection, services: Sequence[str]) -> int:
    """Migrated elements whose service is not among the ready `services` (`*` → 0)."""
    if ALL_SERVICES in services:
        return 0
    return int(conn.execute(sa.text(NOT_READY), {"s": list(services)}).scalar_one())


def has_exposure_work(conn: sa.Connection, services: Sequence[str], recheck: bool) -> bool:
    """True when an element of a ready service waits for exposure, or an available element
    waits for verification (any available element with `recheck`)."""
    params = {"all_services": ALL_SERVICES in services, "s": list(services), "recheck": recheck}
    return bool(conn.execute(sa.text(HAS_EXPOSURE_WORK), params).scalar())


# --- discovery -----------------------------------------------------------------------------

WAIT_OVER = f"""
select e.a2_correspondence_id from flytt.element_state e
 where e.a2_correspondence_id <= :low
   and e.state = '{EXCLUDED}' and e.next_attempt_at <= now()
"""

WHITELIST_CHANGED = f"""
select e.a2_correspondence_id from flytt.element_state e
  join {{resources}} r on r.resource_id = e.resource_id
 where e.a2_correspondence_id <= :low
   and ((r.is_whitelisted and e.state = '{EXCLUDED}'
         and e.state_reason = 'service_not_whitelisted')
        or (not r.is_whitelisted and e.state = '{ELIGIBLE}'))
"""

UPSERT_VERDICTS = f"""
with verdict as ({{source}}),
upserted as (
    insert into flytt.element_state as e
        (a2_correspondence_id, resource_id, a2_created_at, state, state_reason, eligible_at,
         next_attempt_at, eligible_from)
    select a2_correspondence_id, resource_id, a2_created_at, state, state_reason,
           case when state = '{ELIGIBLE}' then now() end, wait_until, eligible_from
    from verdict
    on conflict (a2_correspondence_id) do update
       set state = excluded.state,
           state_reason = excluded.state_reason,
           resource_id = excluded.resource_id,
           a2_created_at = excluded.a2_created_at,
           eligible_at = coalesce(e.eligible_at, excluded.eligible_at),
           next_attempt_at = excluded.next_attempt_at,
           eligible_from = excluded.eligible_from,
           updated_at = now()
     where e.state in ('{DISCOVERED}', '{ELIGIBLE}', '{EXCLUDED}', '{QUARANTINED}')
       and (e.lease_expires_at is null or e.lease_expires_at < now())
       and (e.state, e.state_reason, e.resource_id, e.a2_created_at, e.eligible_from)
           is distinct from
           (excluded.state, excluded.state_reason, excluded.resource_id, excluded.a2_created_at,
            excluded.eligible_from)
       and not exists (
           select 1 from flytt.quarantine q
           where q.entity = 'correspondence' and q.a2_correspondence_id = e.a2_correspondence_id)
    returning (xmax = 0) as inserted, e.state
)
select inserted, state, count(*) from upserted group by 1, 2
"""

HIGH_WATER = "select coalesce(max(a2_correspondence_id), 0) from flytt.element_state"


def upsert_verdicts(
    conn: sa.Connection,
    verdict: str,
    *,
    low: int | None = None,
    whitelist_table: str | None = None,
) -> list[tuple[bool, ElementState, int]]:
    """Bring `flytt.element_state` in line with the mapping's verdicts (one set-based statement).

    New elements are inserted with the verdict's state; an element not yet delivered follows
    its verdict when it changed; an element migrated or further, failed, leased, or quarantined
    at delivery time (a row in `flytt.quarantine`) is never touched.

    Args:
        verdict: a `select` over the eligibility view aliased `v`, without a `where`, giving
            `a2_correspondence_id, resource_id, a2_created_at, state, state_reason,
            wait_until` (`syncd.discovery`).
        low: None → every verdict (a full discovery); else an incremental one: verdicts of ids
            above `low`, of excluded elements whose wait time has passed, and (with
            `whitelist_table`) of elements whose service's whitelist flag changed.
        whitelist_table: qualified name of the resources mart with `is_whitelisted`, if any.

    Returns:
        `(inserted, state, count)` per group of changed rows.
    """
    if low is None:
        source, params = verdict, {}
    else:
        recheck = WAIT_OVER
        if whitelist_table is not None:
            recheck += "union\n" + WHITELIST_CHANGED.format(resources=whitelist_table)
        source = (
            f"{verdict} where v.a2_correspondence_id > :low\n    union all\n"
            f"{verdict} where v.a2_correspondence_id in ({recheck})"
        )
        params = {"low": low}
    rows = conn.execute(sa.text(UPSERT_VERDICTS.format(source=source)), params)
    return [(bool(r[0]), ElementState(r[1]), int(r[2])) for r in rows]


def high_water(conn: sa.Connection) -> int:
    """The highest A2 id in `flytt.element_state` (0 when empty)."""
    return int(conn.execute(sa.text(HIGH_WATER)).scalar_one())


# --- reading: status and report ------------------------------------------------------------

COUNT_BY_STATE = "select state, count(*) from flytt.element_state group by state"

OLDEST_WAITING = f"""
select extract(epoch from now() - min(a2_created_at) filter (where state = '{ELIGIBLE}')),
       extract(epoch from now() - min(migrated_at) filter (where state = '{MIGRATED}'))
  from flytt.element_state
 where state in ('{ELIGIBLE}', '{MIGRATED}')
"""

RETRYING_BY_STAGE = f"""
select count(*) filter (where state = '{ELIGIBLE}' and delivery_attempts > 0),
       count(*) filter (where state = '{MIGRATED}' and exposure_attempts > 0)
  from flytt.element_state where state in ('{ELIGIBLE}', '{MIGRATED}')
"""

EXPOSURE_BY_YEAR = f"""
select extract(year from a2_created_at at time zone 'Europe/Oslo')::int as year,
       count(*) filter (where state in ('{AVAILABLE}', '{A2_BLOCKED}')),
       count(*) filter (where state = '{MIGRATED}')
  from flytt.element_state where state in ('{MIGRATED}', '{AVAILABLE}', '{A2_BLOCKED}')
 group by 1 order by 1 desc nulls last
"""

FAILED_BY_ERROR = f"""
select last_error_code, count(*) from flytt.element_state
 where state = '{FAILED}' group by 1 order by 2 desc, 1
"""

FAILED_ELEMENTS = f"""
select a2_correspondence_id, last_error_code, attempts from flytt.element_state
 where state = '{FAILED}' order by a2_correspondence_id limit :limit
"""

EXCLUDED_BY_REASON = f"""
select state_reason, count(*) from flytt.element_state
 where state = '{EXCLUDED}' group by 1 order by 2 desc, 1
"""


QUARANTINE_BY_REASON = """
select reason_code, count(*) from flytt.quarantine group by 1 order by 2 desc, 1
"""


def quarantine_by_reason(conn: sa.Connection) -> list[tuple[str, int]]:
    """Delivery-time quarantine reasons (`flytt.quarantine`), most rows first: `(code, rows)`;
    an element can have several reasons."""
    return [(str(row[0]), int(row[1])) for row in conn.execute(sa.text(QUARANTINE_BY_REASON))]


def oldest_waiting(conn: sa.Connection) -> tuple[float | None, float | None]:
    """Seconds since the oldest eligible element was created in A2, and since the oldest
    migrated element (not yet available) was delivered; None when none waits. The first is
    the step 2.1 backlog age, the second the step 5/6 one."""
    row = conn.execute(sa.text(OLDEST_WAITING)).one()
    return (
        None if row[0] is None else float(row[0]),
        None if row[1] is None else float(row[1]),
    )


STEADY_STATE = f"""
with new as (
    select state, extract(epoch from available_at - {LIVE_SINCE.replace("e.", "")}) as latency_s
      from flytt.element_state
     where {LIVE_SINCE.replace("e.", "")} >= :since
)
select count(*) filter (where state in ('{MIGRATED}', '{AVAILABLE}', '{A2_BLOCKED}')),
       count(*) filter (where latency_s is not null),
       percentile_cont(0.5) within group (order by latency_s),
       percentile_cont(0.95) within group (order by latency_s),
       max(latency_s)
  from new
"""


@dataclass(frozen=True)
class SteadyState:
    """Elements that became eligible at or after a moment (the transition's start):
    `delivered` (migrated or available) and the latency from eligible (A2 creation + the
    service's wait) to available in seconds: `count`, `p50_s`, `p95_s`, `max_s` (None when
    none is available yet)."""

    delivered: int
    count: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None

    def latency(self) -> dict[str, Any]:
        """`{"count": n, "p50_s": x, "p95_s": y, "max_s": z}`, seconds rounded to 0.1."""
        return {
            "count": self.count,
            "p50_s": _seconds(self.p50_s),
            "p95_s": _seconds(self.p95_s),
            "max_s": _seconds(self.max_s),
        }


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


TRANSITION_START = "select min(migrated_at) from flytt.element_state"

CREATED_SINCE = """
select state || coalesce(' (' || coalesce(state_reason, last_error_code) || ')', ''), count(*)
  from flytt.element_state where a2_created_at >= :since group by 1 order by 2 desc, 1
"""


def created_since(conn: sa.Connection, since: datetime) -> dict[str, int]:
    """Elements created in A2 at or after `since` (UTC) by `state (reason)`, most first: what
    became of new correspondences (e.g. `excluded (within_migration_wait_time)`)."""
    return {
        str(row[0]): int(row[1]) for row in conn.execute(sa.text(CREATED_SINCE), {"since": since})
    }


def transition_start(conn: sa.Connection) -> datetime | None:
    """When the first element was delivered to A3 (UTC): the start of the transition, from
    which steps 2.1 and 6 count new elements; None before any delivery."""
    value: datetime | None = conn.execute(sa.text(TRANSITION_START)).scalar()
    return value


WAITING_SINCE = f"""
select count(*) from flytt.element_state e
 where e.state in ('{DISCOVERED}', '{ELIGIBLE}', '{MIGRATED}') and {LIVE_SINCE} >= :since
"""


def waiting_since(conn: sa.Connection, since: datetime) -> int:
    """Elements that became eligible at or after `since` (UTC) and are not available yet."""
    return int(conn.execute(sa.text(WAITING_SINCE), {"since": since}).scalar_one())


def steady_state(conn: sa.Connection, since: datetime) -> SteadyState:
    """Steps 2.1 and 6 for elements that became eligible at or after `since` (UTC)."""
    row = conn.execute(sa.text(STEADY_STATE), {"since": since}).one()
    return SteadyState(int(row[0]), int(row[1]), row[2], row[3], row[4])


def count_by_state(conn: sa.Connection) -> dict[str, int]:
    """Elements per state; every `ElementState` is a key, zeros included."""
    counts = {state.value: 0 for state in ElementState}
    counts.update({str(r[0]): int(r[1]) for r in conn.execute(sa.text(COUNT_BY_STATE))})
    return counts


def retrying_by_stage(conn: sa.Connection) -> dict[Stage, int]:
    """Elements that failed at least one attempt of a stage and wait for the next, per stage."""
    row = conn.execute(sa.text(RETRYING_BY_STAGE)).one()
    return {Stage.DELIVERY: int(row[0]), Stage.EXPOSURE: int(row[1])}


def exposure_by_year(conn: sa.Connection) -> list[tuple[int | None, int, int]]:
    """Step 5 per A2 creation year (Europe/Oslo), newest year first.

    Returns:
        `(year or None, available, waiting)` per year.
    """
    rows = conn.execute(sa.text(EXPOSURE_BY_YEAR))
    return [(None if r[0] is None else int(r[0]), int(r[1]), int(r[2])) for r in rows]


def failed_by_error(conn: sa.Connection) -> list[tuple[str | None, int]]:
    """`(last error code, elements)` of failed elements, most frequent first."""
    return [(r[0], int(r[1])) for r in conn.execute(sa.text(FAILED_BY_ERROR))]


def failed_elements(conn: sa.Connection, limit: int = 100) -> list[tuple[int, str | None, int]]:
    """`(A2 id, last error code, attempts of its current stage)` of the first `limit` failed
    elements by A2 id."""
    rows = conn.execute(sa.text(FAILED_ELEMENTS), {"limit": limit})
    return [(int(r[0]), r[1], int(r[2])) for r in rows]


def excluded_by_reason(conn: sa.Connection) -> list[tuple[str | None, int]]:
    """`(exclusion reason, elements)` of excluded elements, most frequent first."""
    return [(r[0], int(r[1])) for r in conn.execute(sa.text(EXCLUDED_BY_REASON))]


A3_IDS = """
select a2_correspondence_id, a3_correspondence_id from flytt.element_state
 where a2_correspondence_id = any(:ids) and a3_correspondence_id is not null
   and state in ('migrated', 'available', 'a2_blocked')
"""


def a3_ids(conn: sa.Connection, ids: Sequence[int]) -> dict[int, uuid.UUID]:
    """A2 id → A3 correspondence id of those of `ids` that A3 has (migrated, available or
    A2-blocked); the others are left out."""
    rows = conn.execute(sa.text(A3_IDS), {"ids": list(ids)})
    return {int(r[0]): uuid.UUID(str(r[1])) for r in rows}
