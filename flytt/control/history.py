"""Owner of every SQL statement on `flytt.status_history`: the time series of the status
counts (Alembic revision 0007), one row per sample, written by the daemon's history job and
read by the status page and `flytt status` (each step's `since`).

Times are UTC. Retention: `prune` deletes rows older than `keep_days` and thins rows older than
`dense_hours` to the first sample of each hour, so the table stays at a few thousand rows
(two days of one sample a minute, then one an hour) whatever the run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

INSERT = """
insert into flytt.status_history (sampled_at, environment, counts, step_states, quarantine,
    oldest_eligible_age_s, oldest_migrated_age_s, latency_p95_s)
values (:sampled_at, :environment, cast(:counts as jsonb), cast(:step_states as jsonb),
    cast(:quarantine as jsonb), :oldest_eligible_age_s, :oldest_migrated_age_s, :latency_p95_s)
on conflict (environment, sampled_at) do nothing
"""

DELETE_EXPIRED = """
delete from flytt.status_history where sampled_at < now() - make_interval(days => :days)
"""

THIN_OLD = """
delete from flytt.status_history h
where h.sampled_at < now() - make_interval(hours => :hours)
  and exists (
    select 1 from flytt.status_history e
    where e.environment = h.environment
      and date_trunc('hour', e.sampled_at) = date_trunc('hour', h.sampled_at)
      and e.sampled_at < h.sampled_at
  )
"""

SERIES = """
select sampled_at, environment, counts, step_states, quarantine, oldest_eligible_age_s,
    oldest_migrated_age_s, latency_p95_s
from flytt.status_history where environment = :env and sampled_at >= :since
order by sampled_at
"""

# per step: the first sample after the last one that showed another state
SINCE = """
select k.key, (
    select min(h.sampled_at) from flytt.status_history h
    where h.environment = :env and h.sampled_at > coalesce((
        select max(d.sampled_at) from flytt.status_history d
        where d.environment = :env and d.step_states ->> k.key is distinct from k.state
    ), '-infinity')
) as since
from jsonb_each_text(cast(:current as jsonb)) as k(key, state)
"""


@dataclass(frozen=True)
class Sample:
    """One row: `sampled_at` (UTC), the writer's `environment`, elements per state
    (`counts`), each step's state (`step_states`, keys "1.1" … "6"), quarantined rows per
    `"source:reason_code"` (`quarantine`), and three ages in seconds (None when nothing
    waits or nothing was measured yet)."""

    sampled_at: datetime
    environment: str
    counts: dict[str, int]
    step_states: dict[str, str]
    quarantine: dict[str, int]
    oldest_eligible_age_s: float | None
    oldest_migrated_age_s: float | None
    latency_p95_s: float | None


def record(conn: sa.Connection, sample: Sample) -> bool:
    """Store `sample`; False when its environment has a sample with the same `sampled_at`."""
    params: dict[str, Any] = {
        **sample.__dict__,
        "counts": json.dumps(sample.counts),
        "step_states": json.dumps(sample.step_states),
        "quarantine": json.dumps(sample.quarantine),
    }
    return conn.execute(sa.text(INSERT), params).rowcount == 1


def prune(conn: sa.Connection, keep_days: int, dense_hours: int = 48) -> int:
    """Delete samples older than `keep_days`, and all but the first sample of each hour
    among those older than `dense_hours`. Returns how many rows went."""
    expired = conn.execute(sa.text(DELETE_EXPIRED), {"days": keep_days}).rowcount
    return expired + conn.execute(sa.text(THIN_OLD), {"hours": dense_hours}).rowcount


def series(conn: sa.Connection, environment: str, since: datetime) -> list[Sample]:
    """The samples of `environment` taken at or after `since` (aware datetime), oldest
    first."""
    rows = conn.execute(sa.text(SERIES), {"env": environment, "since": since})
    return [Sample(**row._mapping) for row in rows]


def state_since(
    conn: sa.Connection, environment: str, current: dict[str, str]
) -> dict[str, datetime | None]:
    """For each step in `current` (step → its state now), among the samples of `environment`
    the time of the first sample of
    the unbroken run of samples, up to the newest, that show that state; None when the
    history has no such run (no sample yet, or the state changed after the newest sample).
    Older than two days the answer is to the hour (`prune` thins those rows)."""
    rows = conn.execute(sa.text(SINCE), {"env": environment, "current": json.dumps(current)})
    return {str(row.key): row.since for row in rows}
