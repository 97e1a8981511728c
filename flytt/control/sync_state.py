"""Owner of every SQL statement on `flytt.sync_state` (Alembic revision 0008): step 2.2,
A2 → A3, which A2 events of each migrated element Altinn 3 already has.

The unit is the dlt load: every row of the `a3` event marts carries the `_dlt_load_id` of the
A2 row it came from (an indexed, increasing text such as "1796301576.0946133"). An element's
`synced_load_id` says A3 holds its events of every load up to it: delivery sets it to the
newest load among the rows of the migration payload, a sync pass to the load it read up to.
The marts hold every load up to the last finished build (builds run one at a time, each
taking every load since the one before), so an event A3 lacks has a greater load id.

A sync pass finds its work without reading the whole history (`candidates`): the events of
loads after the previous pass (`after`, up to this pass's `upto`) on migrated elements, the
elements delivered since the previous pass began (delivery read their payload before it
recorded them, so a pass in between saw their newest events on an element not migrated
yet; once a pass has handled one, its `synced_load_id` is at least the load the next pass
starts after, so it is looked at once), and the elements whose last sync failed and whose
retry is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from flytt.control import cursors
from flytt.control.states import ElementState

EVENT_MARTS = (
    "correspondence_status_events",
    "correspondence_delete_events",
    "correspondence_notifications",
    "correspondence_forwarding_events",
)
"""The `a3` marts whose rows step 2.2 carries: status, delete, notification, forwarding."""
SYNCED_STATES = (ElementState.MIGRATED, ElementState.AVAILABLE, ElementState.A2_BLOCKED)
"""States in which A3 has the element, so its new A2 events go to the sync endpoints (A3
accepts sync while IsMigrating, a3-correspondence §1.7); before that the migration payload
carries them."""
CURSOR = "sync_a2_to_a3"
"""`flytt.cursor` row of the last finished pass: `{"load_id": <read up to>, "started_at":
<ISO UTC>}`."""
DELIVERED_MARGIN_SECONDS = 300
"""How far before the previous pass's start `candidates` looks for delivered elements: more
than any delivery transaction takes to commit."""

_STATES = ", ".join(f"'{s}'" for s in SYNCED_STATES)

_CHANGED_IN = """
select m.altinn2_correspondence_id as id, m._dlt_load_id as load_id
from a3.{mart} m
join flytt.element_state e on e.a2_correspondence_id = m.altinn2_correspondence_id
left join flytt.sync_state s on s.a2_correspondence_id = m.altinn2_correspondence_id
where m._dlt_load_id > :after and m._dlt_load_id <= :upto
  and e.state in ({states})
  and m._dlt_load_id > coalesce(s.synced_load_id, '')
  and s.failed_at is null
"""
_CHANGED = " union all ".join(_CHANGED_IN.format(mart=m, states=_STATES) for m in EVENT_MARTS)

CANDIDATES = f"""
select id from ({_CHANGED}) changed
union
select a2_correspondence_id from flytt.sync_state
 where delivered_at >= cast(:since as timestamptz) and synced_load_id < :after
   and failed_at is null
union
select a2_correspondence_id from flytt.sync_state
 where next_attempt_at <= now() and failed_at is null
order by 1
"""

_WAITING_IN = """
select m._dlt_load_id as load_id
from a3.{mart} m
join flytt.sync_state s on s.a2_correspondence_id = m.altinn2_correspondence_id
where m._dlt_load_id > s.synced_load_id
  and (s.failed_at is not null or (s.next_attempt_at is not null and m._dlt_load_id <= :after))
"""
_WAITING = " union all ".join(_WAITING_IN.format(mart=m) for m in EVENT_MARTS)

# new events since the last pass, and the events of elements whose sync failed or waits for a
# retry (those of loads after the last pass are counted once, in the first part)
PENDING = f"""
select count(*) as events, min(load_id) as oldest
from ({_CHANGED} union all select null, load_id from ({_WAITING}) waiting) pending
"""

UPTO = " union all ".join(f"select max(_dlt_load_id) as load_id from a3.{m}" for m in EVENT_MARTS)
UPTO = f"select coalesce(max(load_id), '') from ({UPTO}) newest"

FLOORS = """
select i.id, coalesce(s.synced_load_id, '') as floor
from unnest(cast(:ids as integer[])) as i(id)
left join flytt.sync_state s on s.a2_correspondence_id = i.id
"""

RECORD_DELIVERED = """
insert into flytt.sync_state (a2_correspondence_id, synced_load_id, delivered_at)
values (:id, :load_id, now())
on conflict (a2_correspondence_id) do update
   set synced_load_id = greatest(flytt.sync_state.synced_load_id, excluded.synced_load_id),
       delivered_at = now()
"""

MARK_SYNCED = """
insert into flytt.sync_state (a2_correspondence_id, synced_load_id, events_sent, events_skipped,
    events_echoed)
values (:id, :upto, :sent, :skipped, :echoed)
on conflict (a2_correspondence_id) do update
   set synced_load_id = greatest(flytt.sync_state.synced_load_id, excluded.synced_load_id),
       events_sent = flytt.sync_state.events_sent + excluded.events_sent,
       events_skipped = flytt.sync_state.events_skipped + excluded.events_skipped,
       events_echoed = flytt.sync_state.events_echoed + excluded.events_echoed,
       attempts = 0, next_attempt_at = null, last_error_code = null,
       last_error_detail = null, failed_at = null
"""

MARK_FAILED = """
insert into flytt.sync_state (a2_correspondence_id, attempts, next_attempt_at, last_error_code,
    last_error_detail, failed_at)
values (:id, 1, :retry_at, :code, :detail, case when :retry_at is null then now() end)
on conflict (a2_correspondence_id) do update
   set attempts = flytt.sync_state.attempts + 1,
       next_attempt_at = excluded.next_attempt_at,
       last_error_code = excluded.last_error_code,
       last_error_detail = excluded.last_error_detail,
       failed_at = excluded.failed_at
returning attempts
"""

TOTALS = """
select coalesce(sum(events_sent), 0) as sent, coalesce(sum(events_skipped), 0) as skipped,
       coalesce(sum(events_echoed), 0) as echoed,
       count(*) filter (where failed_at is not null) as failed,
       count(*) filter (where next_attempt_at is not null and failed_at is null) as retrying
from flytt.sync_state
"""

ATTEMPTS = """
select attempts from flytt.sync_state where a2_correspondence_id = :id for update
"""

RETRY_FAILED = """
update flytt.sync_state
   set failed_at = null, attempts = 0, next_attempt_at = now()
 where failed_at is not null
"""

FAILED_BY_ERROR = """
select last_error_code, count(*) from flytt.sync_state where failed_at is not null
group by 1 order by 2 desc, 1
"""


@dataclass(frozen=True)
class SyncTotals:
    """Step 2.2 A2 → A3 so far: events sent, skipped by rule (A3 ignores them) and not sent
    because they came from A3 (`echoed`), elements whose sync A3 refused (`failed`) and
    elements waiting for a retry."""

    sent: int
    skipped: int
    echoed: int
    failed: int
    retrying: int


def newest_load(conn: sa.Connection) -> str:
    """The newest `_dlt_load_id` in the event marts ('' when they are empty): a pass reads up
    to it, so events loaded while it runs wait for the next pass."""
    return str(conn.execute(sa.text(UPTO)).scalar_one())


def candidates(conn: sa.Connection, after: str, upto: str, since: datetime | None) -> list[int]:
    """A2 ids of the elements a pass must look at (module docstring), ascending.

    Args:
        after: the load the previous pass read up to ('' before the first pass: everything).
        upto: the load this pass reads up to (`newest_load`).
        since: when the previous pass began (None before the first); elements delivered from
            `DELIVERED_MARGIN_SECONDS` before it on are included.
    """
    floor = None if since is None else since - timedelta(seconds=DELIVERED_MARGIN_SECONDS)
    rows = conn.execute(sa.text(CANDIDATES), {"after": after, "upto": upto, "since": floor})
    return [int(r[0]) for r in rows]


def floors(conn: sa.Connection, ids: Sequence[int]) -> dict[int, str]:
    """Per element, the load its A3 copy is complete up to ('' when unknown: everything is
    sent once more, and A3 drops what it has)."""
    return {int(r.id): str(r.floor) for r in conn.execute(sa.text(FLOORS), {"ids": list(ids)})}


def pending(conn: sa.Connection, after: str) -> tuple[int, str | None]:
    """Events in the marts that A3 does not have yet on migrated elements: those of loads
    after `after` (the load the last pass read up to) and those of elements whose sync failed
    or waits for a retry: `(count, oldest load id or None)`."""
    row = conn.execute(sa.text(PENDING), {"after": after, "upto": newest_load(conn)}).one()
    return int(row.events), (str(row.oldest) if row.oldest is not None else None)


def record_delivered(conn: sa.Connection, a2_id: int, load_id: str) -> None:
    """Delivery sent the element with its events of loads up to `load_id`."""
    conn.execute(sa.text(RECORD_DELIVERED), {"id": a2_id, "load_id": load_id})


def mark_synced(
    conn: sa.Connection, a2_id: int, upto: str, sent: int, skipped: int, echoed: int = 0
) -> None:
    """A3 has the element's events up to load `upto`; add `sent`, `skipped` and `echoed` to
    its counts and clear any earlier failure."""
    conn.execute(
        sa.text(MARK_SYNCED),
        {"id": a2_id, "upto": upto, "sent": sent, "skipped": skipped, "echoed": echoed},
    )


def mark_failed(
    conn: sa.Connection, a2_id: int, code: str, detail: str, retry_at: datetime | None
) -> int:
    """Record a sync that did not go through: retried from `retry_at` (a transient error), or,
    with `retry_at` None, failed until someone looks (`failed_at`). Returns the attempts so
    far."""
    row = conn.execute(
        sa.text(MARK_FAILED),
        {"id": a2_id, "code": code, "detail": detail[:500], "retry_at": retry_at},
    ).one()
    return int(row.attempts)


def totals(conn: sa.Connection) -> SyncTotals:
    """The sums over every element (`SyncTotals`)."""
    row = conn.execute(sa.text(TOTALS)).one()
    return SyncTotals(
        int(row.sent), int(row.skipped), int(row.echoed), int(row.failed), int(row.retrying)
    )


def failed_by_error(conn: sa.Connection) -> list[tuple[str | None, int]]:
    """Elements whose sync A3 refused, per error code, most first."""
    return [(r[0], int(r[1])) for r in conn.execute(sa.text(FAILED_BY_ERROR))]


def attempts(conn: sa.Connection, a2_id: int) -> int:
    """Failed sync attempts of the element so far (0 without a row); locks its row until the
    transaction ends."""
    return int(conn.execute(sa.text(ATTEMPTS), {"id": a2_id}).scalar() or 0)


def read_cursor(conn: sa.Connection) -> tuple[str, datetime | None]:
    """`(load read up to, when that pass began)` of the last finished pass; `("", None)`
    before the first."""
    value = cursors.read(conn, CURSOR) or {}
    started = value.get("started_at")
    return str(value.get("load_id") or ""), datetime.fromisoformat(started) if started else None


def write_cursor(conn: sa.Connection, upto: str, started: datetime) -> None:
    """A pass that began at `started` read every load up to `upto` and ended."""
    cursors.write(conn, CURSOR, {"load_id": upto, "started_at": started.isoformat()})


def load_age_seconds(load_id: str | None, now: datetime) -> float | None:
    """Seconds from a dlt load to `now` (a load id is the Unix time the load began, e.g.
    "1796301576.09"); None for no load or an id that is not such a time."""
    if not load_id:
        return None
    try:
        return round(max(0.0, now.timestamp() - float(load_id)), 1)
    except ValueError:
        return None


def summary(conn: sa.Connection) -> dict[str, Any]:
    """Step 2.2 A2 → A3 in numbers (`flytt report --json` `sync.a2_to_a3`, `flytt status`):
    `sent` and `skipped_by_rule` events so far, `echoes_suppressed` (not sent because they came
    from A3 through the SBL bridge), `pending` events A3 does not have yet (`pending`)
    with `oldest_pending_load` (a dlt load id, or None) and `oldest_pending_age_s` (seconds since
    that load), `failed` elements (A3 refused their sync), `retrying` elements (waiting for the
    next attempt) and `last_pass_at` (when the last finished pass began, UTC, or None). Before
    the marts are built nothing is pending."""
    total = totals(conn)
    built = conn.execute(
        sa.text("select to_regclass('a3.correspondence_forwarding_events') is not null")
    ).scalar()
    after, last_pass = read_cursor(conn)
    waiting, oldest = pending(conn, after) if built else (0, None)
    return {
        "sent": total.sent,
        "skipped_by_rule": total.skipped,
        "echoes_suppressed": total.echoed,
        "pending": waiting,
        "oldest_pending_load": oldest,
        "oldest_pending_age_s": load_age_seconds(oldest, datetime.now().astimezone()),
        "failed": total.failed,
        "retrying": total.retrying,
        "last_pass_at": last_pass.isoformat() if last_pass else None,
    }


def retry_failed(conn: sa.Connection) -> int:
    """Put every element whose sync A3 refused back in line for the next pass (after the
    cause was fixed); returns how many."""
    return int(conn.execute(sa.text(RETRY_FAILED)).rowcount)
