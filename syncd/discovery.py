"""Element discovery: bring `flytt.element_state` in line with `a3.correspondence_eligibility`.

The view's columns used: `a2_correspondence_id`, `resource_id`, `a2_created_at`,
`is_eligible`, `exclusion_reason` (purged_in_a2, service_not_whitelisted,
within_migration_wait_time; the wait time is evaluated when the view is read), `eligible_from`
(creation time + the service's wait time) and `quarantine_reason_code` (mapping-time reason).

The statements on `flytt.element_state` live in `flytt.control.elements` (`upsert_verdicts`);
this module gives them the verdicts of the eligibility view and keeps the cursor. One set-based
statement (`INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE`):

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

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from flytt.control import cursors, elements, locks
from flytt.control.states import ElementState
from syncd.marts import SCHEMA, relation_exists

ELIGIBILITY = "correspondence_eligibility"
CURSOR = "delivery.discovery"
OVERLAP_IDS = 100_000
"""New ids are looked for from this far below the high-water mark (late commits)."""
FULL_EVERY = timedelta(hours=24)
"""Longest time between two full discoveries."""
ELIGIBLE, EXCLUDED, QUARANTINED = (
    ElementState.ELIGIBLE,
    ElementState.EXCLUDED,
    ElementState.QUARANTINED,
)

_VERDICT = f"""
    select v.a2_correspondence_id,
           v.resource_id,
           v.a2_created_at,
           case when v.quarantine_reason_code is not null then '{QUARANTINED}'
                when v.is_eligible then '{ELIGIBLE}'
                else '{EXCLUDED}' end as state,
           case when v.quarantine_reason_code is not null then v.quarantine_reason_code
                when v.is_eligible then null
                else v.exclusion_reason end as state_reason,
           case when v.quarantine_reason_code is null and not v.is_eligible
                     and v.exclusion_reason = 'within_migration_wait_time'
                then v.eligible_from
                -- loaded but not in the marts yet: look again at the next discovery
                when v.quarantine_reason_code is null and not v.is_eligible
                     and v.exclusion_reason = 'not_built_yet'
                then now() end as wait_until,
           v.eligible_from
    from {SCHEMA}.{ELIGIBILITY} v
"""


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
    locks.share_marts(conn)  # a build must not swap the view under us (to the caller's commit)
    locks.serialise_discovery(conn)
    if not relation_exists(conn, ELIGIBILITY):
        raise LookupError(f"{SCHEMA}.{ELIGIBILITY}")
    now = datetime.now(UTC)
    cursor = cursors.read(conn, CURSOR)
    if full is None:
        full = cursor is None or now - datetime.fromisoformat(cursor["full_at"]) > FULL_EVERY
    low: int | None = None
    if not full:
        assert cursor is not None
        low = int(cursor["high_water"]) - OVERLAP_IDS
    whitelist = None if full else f"{SCHEMA}.resources"
    counts: dict[str, int] = {"discovered": 0, "reclassified": 0, "full_discovery": int(full)}
    for inserted, state, n in elements.upsert_verdicts(
        conn, _VERDICT, low=low, whitelist_table=whitelist
    ):
        if inserted:
            counts["discovered"] += n
            counts[f"new_{state}"] = counts.get(f"new_{state}", 0) + n
        else:
            counts["reclassified"] += n
    high_water = elements.high_water(conn)
    cursors.write(
        conn,
        CURSOR,
        {
            "high_water": high_water,
            "full_at": now.isoformat() if full else (cursor or {})["full_at"],
        },
    )
    return counts
