"""Element discovery: bring `flytt.element_state` in line with `a3.correspondence_eligibility`.

The view's columns used: `a2_correspondence_id`, `resource_id`, `a2_created_at`,
`is_eligible`, `exclusion_reason` (purged_in_a2, service_not_whitelisted,
within_migration_wait_time; the wait time is evaluated when the view is read), `eligible_from`
(creation time + the service's wait time) and `quarantine_reason_code` (mapping-time reason).

One set-based statement (`INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE`):

* a new A2 correspondence is inserted as `eligible`, `excluded` (with the view's exclusion
  reason; an element waiting for its service's wait time gets `next_attempt_at =
  eligible_from`) or `quarantined` (with the view's quarantine reason code);
* an element not yet delivered (`discovered`, `eligible`, `excluded`, or `quarantined` by the
  mapping) follows the view when its verdict changed;
* an element that was migrated or further, failed, leased, or quarantined at delivery time
  (a row in `flytt.quarantine`) is never touched: nothing moves backwards (DESIGN §1 rules).

Cost grows with the change (DESIGN §5). An incremental discovery reads the view only for:
new A2 ids (above the high-water mark kept in `flytt.cursor`, minus `OVERLAP_IDS` for ids that
commit out of order); excluded elements whose wait time has passed (`next_attempt_at`, indexed);
elements of services whose whitelist flag changed (`a3.resources.is_whitelisted`). A full
discovery (every row of the view) runs on the first call and then at most every
`FULL_EVERY`, to pick up re-mapped rows (an A2 row fixed or purged after discovery).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from syncd.marts import SCHEMA, relation_exists

ELIGIBILITY = "correspondence_eligibility"
CURSOR = "delivery.discovery"
OVERLAP_IDS = 100_000
"""New ids are looked for from this far below the high-water mark (late commits)."""
FULL_EVERY = timedelta(hours=24)
"""Longest time between two full discoveries."""

_VERDICT = f"""
    select v.a2_correspondence_id,
           v.resource_id,
           v.a2_created_at,
           case when v.quarantine_reason_code is not null then 'quarantined'
                when v.is_eligible then 'eligible'
                else 'excluded' end as state,
           case when v.quarantine_reason_code is not null then v.quarantine_reason_code
                when v.is_eligible then null
                else v.exclusion_reason end as state_reason,
           case when v.quarantine_reason_code is null and not v.is_eligible
                     and v.exclusion_reason = 'within_migration_wait_time'
                then v.eligible_from end as wait_until
    from {SCHEMA}.{ELIGIBILITY} v
"""

_NEW_IDS = f"{_VERDICT} where v.a2_correspondence_id > :low"
_WAIT_OVER = """
        select e.a2_correspondence_id from flytt.element_state e
        where e.a2_correspondence_id <= :low
          and e.state = 'excluded' and e.next_attempt_at <= now()"""
_WHITELIST_CHANGED = f"""
        select e.a2_correspondence_id from flytt.element_state e
        join {SCHEMA}.resources r on r.resource_id = e.resource_id
        where e.a2_correspondence_id <= :low
          and ((r.is_whitelisted and e.state = 'excluded'
                and e.state_reason = 'service_not_whitelisted')
               or (not r.is_whitelisted and e.state = 'eligible'))"""


def _incremental_source(with_whitelist: bool) -> str:
    recheck = _WAIT_OVER + ("\n        union" + _WHITELIST_CHANGED if with_whitelist else "")
    return f"{_NEW_IDS}\n    union all\n{_VERDICT} where v.a2_correspondence_id in ({recheck})"


_UPSERT = """
with verdict as ({source}),
upserted as (
    insert into flytt.element_state as e
        (a2_correspondence_id, resource_id, a2_created_at, state, state_reason, eligible_at,
         next_attempt_at)
    select a2_correspondence_id, resource_id, a2_created_at, state, state_reason,
           case when state = 'eligible' then now() end, wait_until
    from verdict
    on conflict (a2_correspondence_id) do update
       set state = excluded.state,
           state_reason = excluded.state_reason,
           resource_id = excluded.resource_id,
           a2_created_at = excluded.a2_created_at,
           eligible_at = coalesce(e.eligible_at, excluded.eligible_at),
           next_attempt_at = excluded.next_attempt_at,
           updated_at = now()
     where e.state in ('discovered', 'eligible', 'excluded', 'quarantined')
       and (e.lease_expires_at is null or e.lease_expires_at < now())
       and (e.state, e.state_reason, e.resource_id, e.a2_created_at)
           is distinct from
           (excluded.state, excluded.state_reason, excluded.resource_id, excluded.a2_created_at)
       and not exists (
           select 1 from flytt.quarantine q
           where q.entity = 'correspondence' and q.a2_correspondence_id = e.a2_correspondence_id)
    returning (xmax = 0) as inserted, e.state
)
select inserted, state, count(*) from upserted group by 1, 2
"""


def _read_cursor(conn: sa.Connection) -> dict[str, Any] | None:
    value = conn.execute(
        sa.text("select value from flytt.cursor where name = :n"), {"n": CURSOR}
    ).scalar()
    return None if value is None else dict(json.loads(value))


def _write_cursor(conn: sa.Connection, cursor: dict[str, Any]) -> None:
    conn.execute(
        sa.text(
            "insert into flytt.cursor (name, value) values (:n, :v) on conflict (name) do "
            "update set value = excluded.value, updated_at = now()"
        ),
        {"n": CURSOR, "v": json.dumps(cursor)},
    )


def _has_whitelist(conn: sa.Connection) -> bool:
    return bool(
        relation_exists(conn, "resources")
        and conn.execute(
            sa.text(
                "select count(*) from information_schema.columns where table_schema = :s "
                "and table_name = 'resources' and column_name = 'is_whitelisted'"
            ),
            {"s": SCHEMA},
        ).scalar_one()
    )


def discover(conn: sa.Connection, *, full: bool | None = None) -> dict[str, int]:
    """Sync `flytt.element_state` from the eligibility view (see the module docstring).

    Args:
        conn: a connection inside a transaction (the caller commits or, for a dry run, rolls
            back).
        full: force a full (True) or incremental (False) discovery; None decides by the
            cursor (full on the first run and after `FULL_EVERY`).

    Returns:
        Counts: `discovered` (new rows) and `reclassified` (changed verdicts), plus
        `new_<state>` per state of the new rows, and `full_discovery` (1 or 0).

    Raises:
        LookupError: the view `a3.correspondence_eligibility` does not exist (dbt not built).
    """
    if not relation_exists(conn, ELIGIBILITY):
        raise LookupError(f"{SCHEMA}.{ELIGIBILITY}")
    now = datetime.now(UTC)
    cursor = _read_cursor(conn)
    if full is None:
        full = cursor is None or now - datetime.fromisoformat(cursor["full_at"]) > FULL_EVERY
    if full:
        source, params = _VERDICT, {}
    else:
        assert cursor is not None
        low = int(cursor["high_water"]) - OVERLAP_IDS
        source = _incremental_source(_has_whitelist(conn))
        params = {"low": low}
    counts: dict[str, int] = {"discovered": 0, "reclassified": 0, "full_discovery": int(full)}
    for row in conn.execute(sa.text(_UPSERT.format(source=source)), params):
        inserted, state, n = bool(row[0]), str(row[1]), int(row[2])
        if inserted:
            counts["discovered"] += n
            counts[f"new_{state}"] = counts.get(f"new_{state}", 0) + n
        else:
            counts["reclassified"] += n
    high_water = int(
        conn.execute(
            sa.text("select coalesce(max(a2_correspondence_id), 0) from flytt.element_state")
        ).scalar_one()
    )
    _write_cursor(
        conn,
        {
            "high_water": high_water,
            "full_at": now.isoformat() if full else (cursor or {})["full_at"],
        },
    )
    return counts
