"""Element discovery: bring `flytt.element_state` in line with `a3.correspondence_eligibility`.

The view's columns used: `a2_correspondence_id`, `resource_id`, `a2_created_at`,
`is_eligible`, `exclusion_reason` (purged_in_a2, service_not_whitelisted,
within_migration_wait_time; the wait time is evaluated when the view is read) and
`quarantine_reason_code` (mapping-time reason, the first of several).

One set-based statement (`INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE`):

* a new A2 correspondence is inserted as `eligible`, `excluded` (with the view's exclusion
  reason) or `quarantined` (with the view's quarantine reason code);
* an element not yet delivered (`discovered`, `eligible`, `excluded`, or `quarantined` by the
  mapping) follows the view when its verdict changed, e.g. an element that was excluded while
  younger than its service's wait time, or whose A2 row was fixed;
* an element that was migrated or further, failed, leased, or quarantined at delivery time
  (a row in `flytt.quarantine`) is never touched: nothing moves backwards (DESIGN §1 rules).

Rows whose verdict did not change are skipped by the `WHERE` of the upsert, so a second run
writes nothing.
"""

from __future__ import annotations

import sqlalchemy as sa

from syncd.marts import SCHEMA, relation_exists

ELIGIBILITY = "correspondence_eligibility"

_DISCOVER = f"""
with verdict as (
    select v.a2_correspondence_id,
           v.resource_id,
           v.a2_created_at,
           case when v.quarantine_reason_code is not null then 'quarantined'
                when v.is_eligible then 'eligible'
                else 'excluded' end as state,
           case when v.quarantine_reason_code is not null then v.quarantine_reason_code
                when v.is_eligible then null
                else v.exclusion_reason end as state_reason
    from {SCHEMA}.{ELIGIBILITY} v
),
upserted as (
    insert into flytt.element_state as e
        (a2_correspondence_id, resource_id, a2_created_at, state, state_reason, eligible_at)
    select a2_correspondence_id, resource_id, a2_created_at, state, state_reason,
           case when state = 'eligible' then now() end
    from verdict
    on conflict (a2_correspondence_id) do update
       set state = excluded.state,
           state_reason = excluded.state_reason,
           resource_id = excluded.resource_id,
           a2_created_at = excluded.a2_created_at,
           eligible_at = coalesce(e.eligible_at, excluded.eligible_at),
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


def discover(conn: sa.Connection) -> dict[str, int]:
    """Sync `flytt.element_state` from the eligibility view (see the module docstring).

    Returns:
        Counts: `discovered` (new rows) and `reclassified` (changed verdicts), plus
        `new_<state>` per state of the new rows.

    Raises:
        LookupError: the view `a3.correspondence_eligibility` does not exist (dbt not built).
    """
    if not relation_exists(conn, ELIGIBILITY):
        raise LookupError(f"{SCHEMA}.{ELIGIBILITY}")
    counts: dict[str, int] = {"discovered": 0, "reclassified": 0}
    for inserted, state, n in conn.execute(sa.text(_DISCOVER)).tuples():
        n = int(n)
        if inserted:
            counts["discovered"] += n
            counts[f"new_{state}"] = counts.get(f"new_{state}", 0) + n
        else:
            counts["reclassified"] += n
    return counts
