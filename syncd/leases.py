"""Row leases on `flytt.element_state`: claim work, finish it, give it back.

Pattern (reference elt-practice §5.2): claim in a short transaction with
`SELECT … FOR UPDATE SKIP LOCKED`, stamp `lease_owner` / `lease_expires_at`, commit, work
outside the transaction, finish in another short transaction that only touches rows still
leased to us. A lease that expired (its process died) is claimable again. Two `flytt migrate`
processes therefore never hold the same element at the same time (DESIGN §5 "Scale-out").

Attempts: delivery counts its own failures in `delivery_attempts`; exposure (step 5) has its
own `exposure_attempts` (`exposure.selection`), so the attempts one stage needed never use up
the next stage's (control schema revision 0005).

All times are the database's `now()` (UTC).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from flytt.control.states import ElementState


def new_lease_owner() -> str:
    """A lease owner id unique to this process and run: `<host>:<pid>:<random>`."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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
    """An element leased to us: its A2 id, service, A2 creation time (UTC; None when unset or
    outside the years Python can hold) and its failed delivery attempts so far."""

    a2_correspondence_id: int
    resource_id: str
    a2_created_at: datetime | None
    attempts: int


_CLAIM = """
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
          and e.state = 'eligible'
          and (e.lease_expires_at is null or e.lease_expires_at < now())
          and (e.next_attempt_at is null or e.next_attempt_at <= now())
          and (e.a2_created_at is null
               or e.a2_created_at <= now() - make_interval(mins => quota.wait_minutes))
        order by e.a2_created_at {direction}, e.a2_correspondence_id {direction}
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
returning e.a2_correspondence_id, e.resource_id, {created}, e.delivery_attempts
"""

READABLE_CREATED_AT = (
    "case when e.a2_created_at >= timestamptz '0001-01-02 00:00:00+00' "
    "and e.a2_created_at < timestamptz '9999-12-31 00:00:00+00' then e.a2_created_at end"
)
"""`e.a2_created_at` when Python's `datetime` can hold it (years 1-9999,
https://docs.python.org/3/library/datetime.html#datetime.MINYEAR), else NULL: a BC time would
make psycopg2 raise "year -1 is out of range" while claiming, for every element of the batch."""


def claim(
    conn: sa.Connection,
    owner: str,
    quotas: Sequence[ServiceQuota],
    *,
    batch: int,
    lease_seconds: int,
    newest_first: bool = False,
) -> list[Claimed]:
    """Lease up to `batch` eligible elements, at most `quota.remaining` per service, oldest
    first (or newest first), skipping rows another process holds or is claiming.

    Only elements older than their service's wait time, whose retry time has come and whose
    lease is free or expired are taken. Commit `conn`'s transaction right after.

    Returns:
        The claimed elements (may be fewer than `batch`; empty when nothing is claimable).
    """
    quotas = [q for q in quotas if q.remaining > 0]
    if not quotas:
        return []
    sql = _CLAIM.format(direction="desc" if newest_first else "asc", created=READABLE_CREATED_AT)
    rows = conn.execute(
        sa.text(sql),
        {
            "rids": [q.resource_id for q in quotas],
            "remaining": [q.remaining for q in quotas],
            "waits": [q.wait_minutes for q in quotas],
            "batch": batch,
            "owner": owner,
            "lease_seconds": lease_seconds,
        },
    ).all()
    return [Claimed(r[0], r[1], r[2], r[3]) for r in rows]


def mark_migrated(conn: sa.Connection, owner: str, a2_id: int, a3_id: uuid.UUID) -> bool:
    """Record a delivered element: state `migrated`, its A3 id, `migrated_at`, lease released.

    `delivery_attempts` is kept as a record of what delivery needed; exposure counts from its
    own `exposure_attempts` (0 here), so it gets its full `max_attempts`. Only a row still
    leased to `owner` is changed. Returns False when the lease was lost.
    """
    result = conn.execute(
        sa.text(
            "update flytt.element_state set state = :state, a3_correspondence_id = :a3, "
            "migrated_at = now(), exposure_attempts = 0, last_error_code = null, "
            "last_error_detail = null, "
            "next_attempt_at = null, lease_owner = null, lease_expires_at = null, "
            "updated_at = now() where a2_correspondence_id = :id and lease_owner = :owner"
        ),
        {"state": ElementState.MIGRATED.value, "a3": a3_id, "id": a2_id, "owner": owner},
    )
    return result.rowcount == 1


def mark_attempt_failed(
    conn: sa.Connection,
    owner: str,
    a2_id: int,
    *,
    error_code: str,
    detail: str,
    max_attempts: int,
    retry_in_seconds: float,
    permanent: bool = False,
) -> str:
    """Count one failed delivery attempt (`delivery_attempts`). The element goes to `failed`
    (with `failed_at`) when its delivery attempts reach `max_attempts` or the error is
    permanent; otherwise it stays `eligible` with `next_attempt_at = now() + retry_in_seconds`.
    The lease is released either way.

    Returns:
        The new state (`failed` or `eligible`), or "" when the lease was lost.
    """
    row = conn.execute(
        sa.text(
            "update flytt.element_state set delivery_attempts = delivery_attempts + 1, "
            "last_error_code = :code, last_error_detail = :detail, "
            "state = case when :permanent or delivery_attempts + 1 >= :max then 'failed' "
            "             else state end, "
            "failed_at = case when :permanent or delivery_attempts + 1 >= :max then now() "
            "                 else failed_at end, "
            "next_attempt_at = now() + make_interval(secs => :delay), "
            "lease_owner = null, lease_expires_at = null, updated_at = now() "
            "where a2_correspondence_id = :id and lease_owner = :owner returning state"
        ),
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
    return str(row[0]) if row else ""


def mark_quarantined(
    conn: sa.Connection,
    owner: str,
    a2_id: int,
    reasons: Sequence[tuple[str, str]],
    run_id: int | None,
) -> bool:
    """Quarantine an element at delivery time: one `flytt.quarantine` row per (reason code,
    detail) and state `quarantined` with the first reason in `state_reason`. Lease released.

    Returns False when the lease was lost (nothing written).
    """
    result = conn.execute(
        sa.text(
            "update flytt.element_state set state = 'quarantined', state_reason = :reason, "
            "lease_owner = null, lease_expires_at = null, updated_at = now() "
            "where a2_correspondence_id = :id and lease_owner = :owner"
        ),
        {"reason": reasons[0][0], "id": a2_id, "owner": owner},
    )
    if result.rowcount != 1:
        return False
    for code, detail in reasons:
        conn.execute(
            sa.text(
                "insert into flytt.quarantine "
                "(entity, entity_id, a2_correspondence_id, reason_code, detail, run_id) "
                "values ('correspondence', :eid, :id, :code, :detail, :run) "
                "on conflict on constraint quarantine_once do nothing"
            ),
            {"eid": str(a2_id), "id": a2_id, "code": code, "detail": detail[:500], "run": run_id},
        )
    return True


def renew(conn: sa.Connection, owner: str, ids: Sequence[int], lease_seconds: int) -> int:
    """Extend our leases on `ids` to `now() + lease_seconds` (a heartbeat while A3 is slow).
    Returns how many leases are still ours."""
    if not ids:
        return 0
    result = conn.execute(
        sa.text(
            "update flytt.element_state set lease_expires_at = now() + "
            "make_interval(secs => :lease_seconds) "
            "where a2_correspondence_id = any(:ids) and lease_owner = :owner"
        ),
        {"ids": list(ids), "owner": owner, "lease_seconds": lease_seconds},
    )
    return int(result.rowcount)


def release(conn: sa.Connection, owner: str, ids: Sequence[int]) -> int:
    """Give back leases we hold without counting an attempt (e.g. the run stops early)."""
    if not ids:
        return 0
    result = conn.execute(
        sa.text(
            "update flytt.element_state set lease_owner = null, lease_expires_at = null, "
            "updated_at = now() where a2_correspondence_id = any(:ids) and lease_owner = :owner"
        ),
        {"ids": list(ids), "owner": owner},
    )
    return int(result.rowcount)


def reset_element(conn: sa.Connection, a2_id: int) -> bool:
    """Put one element back to `eligible` so the next `flytt migrate` delivers it again.

    Clears the A3/dialog ids, both stages' attempts, errors, lease and stage times, and removes its
    delivery-time quarantine rows. Re-sending is safe: A3 answers a known
    `altinn2CorrespondenceId` with the same id (reference a3-correspondence §1.5.3).

    Returns:
        False when no element has that A2 id.
    """
    result = conn.execute(
        sa.text(
            "update flytt.element_state set state = 'eligible', state_reason = null, "
            "a3_correspondence_id = null, dialog_id = null, delivery_attempts = 0, "
            "exposure_attempts = 0, "
            "last_error_code = null, last_error_detail = null, next_attempt_at = null, "
            "lease_owner = null, lease_expires_at = null, eligible_at = now(), "
            "migrated_at = null, available_at = null, a2_blocked_at = null, failed_at = null, "
            "updated_at = now() where a2_correspondence_id = :id"
        ),
        {"id": a2_id},
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        sa.text(
            "delete from flytt.quarantine where entity = 'correspondence' and "
            "a2_correspondence_id = :id"
        ),
        {"id": a2_id},
    )
    return True
