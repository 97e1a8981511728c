"""Which migrated elements step 5 exposes next, in which order, and their state changes.

Order (issue #5, DESIGN §1 step 5): the cut-over year first, newest first inside it; then each
earlier year, newest first; elements from years after the cut-over year (steady-state traffic,
step 6) come last, newest first. Years are calendar years in Norwegian time (Europe/Oslo),
since the cut-over year is a Norwegian business date; `a2_created_at` itself is UTC.

Candidates: `state = 'migrated'` with an A3 id, in a service marked ready
(`settings.ready_services`, `*` = every service), not leased by another worker, and not
waiting for a retry (`next_attempt_at`). Work is claimed with row leases
(`FOR UPDATE SKIP LOCKED`), so several `flytt expose` processes never ask for the same element
at once (DESIGN §5).

Attempts: exposure counts its own failures in `flytt.element_state.exposure_attempts`
(control schema revision 0005); the attempts delivery needed (`delivery_attempts`) never use
up exposure's `max_attempts`.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from syncd.leases import READABLE_CREATED_AT

ALL_SERVICES = "*"
YEAR_SQL = "extract(year from e.a2_created_at at time zone 'Europe/Oslo')::int"
YEAR_GROUP_SQL = (
    f"case when {YEAR_SQL} = :cutover then 0 when {YEAR_SQL} < :cutover then 1 else 2 end"
)
ORDER_SQL = f"{YEAR_GROUP_SQL}, e.a2_created_at desc nulls last, e.a2_correspondence_id desc"


def new_lease_owner() -> str:
    """A lease owner name unique to this process: `expose:<host>:<pid>:<random>`."""
    return f"expose:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Candidate:
    """One claimed element: A2 id, A3 correspondence id, A2 creation time (UTC; None when unset
    or outside the years Python can hold) and its failed exposure attempts so far."""

    a2_correspondence_id: int
    a3_correspondence_id: uuid.UUID
    a2_created_at: datetime | None
    attempts: int


def _service_filter(services: Sequence[str]) -> tuple[str, dict[str, Any]]:
    if ALL_SERVICES in services:
        return "", {}
    return " and e.resource_id = any(:services)", {"services": list(services)}


def claim(
    conn: sa.Connection,
    *,
    owner: str,
    services: Sequence[str],
    cutover_year: int,
    limit: int,
    lease_seconds: int,
    exclude: Sequence[int] = (),
) -> list[Candidate]:
    """Lease up to `limit` candidates for `owner`, returned in exposure order.

    Args:
        conn: a connection inside a transaction (the caller commits).
        services: ready resource ids (`*` = all); empty → nothing is claimed.
        cutover_year: `settings.cutover_year`.
        lease_seconds: how long the lease holds if this process dies.
        exclude: A2 ids not to claim (those that already failed in this run).
    """
    if not services:
        return []
    where, params = _service_filter(services)
    if exclude:
        where += " and e.a2_correspondence_id <> all(:exclude)"
        params["exclude"] = list(exclude)
    rows = list(
        conn.execute(
            sa.text(
                f"""
            with picked as (
                select e.a2_correspondence_id from flytt.element_state e
                where e.state = 'migrated' and e.a3_correspondence_id is not null
                  and (e.lease_expires_at is null or e.lease_expires_at < now())
                  and (e.next_attempt_at is null or e.next_attempt_at <= now()){where}
                order by {ORDER_SQL}
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
            ),
            {
                **params,
                "owner": owner,
                "limit": limit,
                "lease": lease_seconds,
                "cutover": cutover_year,
            },
        )
    )
    rows.sort(key=lambda r: (r.year_group, -_ts(r.a2_created_at), -r.a2_correspondence_id))
    return [
        Candidate(r.a2_correspondence_id, r.a3_correspondence_id, r.a2_created_at, r.attempts)
        for r in rows
    ]


def _ts(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else float("-inf")


def mark_available(
    conn: sa.Connection, owner: str, a2_id: int, dialog_id: uuid.UUID, at: datetime
) -> bool:
    """Record the dialog id and time; state `available`. False if the lease was lost."""
    result = conn.execute(
        sa.text(
            """
            update flytt.element_state
               set state = 'available', dialog_id = :dialog, available_at = :at,
                   lease_owner = null, lease_expires_at = null, next_attempt_at = null,
                   last_error_code = null, last_error_detail = null, updated_at = now()
             where a2_correspondence_id = :id and state = 'migrated'
               and lease_owner = :owner
            """
        ),
        {"dialog": dialog_id, "at": at, "id": a2_id, "owner": owner},
    )
    return result.rowcount == 1


def mark_failed_attempt(
    conn: sa.Connection,
    owner: str,
    a2_id: int,
    code: str,
    detail: str,
    retry_in_s: float,
    *,
    max_attempts: int,
) -> bool:
    """Count a failed make-available attempt in `exposure_attempts` (delivery's attempts do not
    count here).

    The element stays `migrated` and is retried after `retry_in_s` seconds, unless this was
    exposure attempt number `max_attempts`: then it becomes `failed` with the error code (shown by
    `flytt report`; `flytt migrate --reset ID` starts it over). Returns True when it failed.
    """
    row = conn.execute(
        sa.text(
            """
            update flytt.element_state
               set exposure_attempts = exposure_attempts + 1, last_error_code = :code,
                   last_error_detail = :detail,
                   state = case when exposure_attempts + 1 >= :max then 'failed' else state end,
                   failed_at = case when exposure_attempts + 1 >= :max then now()
                                    else failed_at end,
                   next_attempt_at = now() + make_interval(secs => :wait),
                   lease_owner = null, lease_expires_at = null, updated_at = now()
             where a2_correspondence_id = :id and lease_owner = :owner
            returning state
            """
        ),
        {
            "code": code,
            "detail": detail[:500],
            "wait": retry_in_s,
            "id": a2_id,
            "owner": owner,
            "max": max_attempts,
        },
    ).first()
    return row is not None and row.state == "failed"


def mark_blocked(conn: sa.Connection, owner: str, a2_id: int, code: str, detail: str) -> bool:
    """Fail an element at once, without asking A3: its data is such that real A3 would not make
    it available (`exposure.expected.preflight`), and sending it again would not change that.

    State `failed` with `code` (shown by `flytt report`); `exposure_attempts` is not counted,
    since no request was made. `flytt migrate --reset ID` starts it over once the A2 data is
    fixed. Returns False if the lease was lost.
    """
    result = conn.execute(
        sa.text(
            """
            update flytt.element_state
               set state = 'failed', failed_at = now(), last_error_code = :code,
                   last_error_detail = :detail, next_attempt_at = null,
                   lease_owner = null, lease_expires_at = null, updated_at = now()
             where a2_correspondence_id = :id and state = 'migrated' and lease_owner = :owner
            """
        ),
        {"code": code, "detail": detail[:500], "id": a2_id, "owner": owner},
    )
    return result.rowcount == 1


def release(conn: sa.Connection, owner: str) -> int:
    """Drop every lease `owner` still holds (after an interruption); returns how many."""
    result = conn.execute(
        sa.text(
            "update flytt.element_state set lease_owner = null, lease_expires_at = null "
            "where lease_owner = :owner"
        ),
        {"owner": owner},
    )
    return int(result.rowcount)


_NOT_CHECKED = (
    "and not exists (select 1 from flytt.dialog_check c "
    "where c.a2_correspondence_id = e.a2_correspondence_id)"
)


def unverified(conn: sa.Connection, limit: int, *, recheck: bool = False) -> list[dict[str, Any]]:
    """Available elements whose dialog has not been verified yet (all of them with `recheck`).

    Returns dicts with `a2_correspondence_id`, `a3_correspondence_id`, `dialog_id`,
    `available_at`, newest first.
    """
    check = "" if recheck else _NOT_CHECKED
    rows = conn.execute(
        sa.text(
            f"""
            select e.a2_correspondence_id, e.a3_correspondence_id, e.dialog_id, e.available_at
              from flytt.element_state e
             where e.state in ('available', 'a2_blocked') and e.a3_correspondence_id is not null
               {check}
             order by e.a2_created_at desc nulls last, e.a2_correspondence_id desc
             limit :limit
            """
        ),
        {"limit": limit},
    )
    return [dict(r._mapping) for r in rows]
