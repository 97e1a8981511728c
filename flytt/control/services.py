"""Owner of every SQL statement on `flytt.service_state`: step 1.2 per A3 resource.

One row per A3 resource id: `delivered` once its resource and XACML policy reached the
Resource Registry (`resource_created_at`, `policy_uploaded_at`, UTC), or `failed` with the
last error code; `attempts` counts every try. Schema: Alembic revision 0001.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

DELIVERED_AMONG = """
select resource_id from flytt.service_state
 where state = 'delivered' and resource_id = any(:r)
"""

RECORD = """
insert into flytt.service_state as s
       (resource_id, state, attempts, last_error_code, resource_created_at, policy_uploaded_at)
values (:r, :state, 1, :code, :at, :at)
on conflict (resource_id) do update
   set state = excluded.state,
       attempts = s.attempts + 1,
       last_error_code = excluded.last_error_code,
       resource_created_at = coalesce(excluded.resource_created_at, s.resource_created_at),
       policy_uploaded_at = coalesce(excluded.policy_uploaded_at, s.policy_uploaded_at),
       updated_at = now()
"""

SUMMARY = """
select count(*), count(policy_uploaded_at), count(delegations_synced_at)
  from flytt.service_state
"""

FAILED = """
select resource_id, last_error_code, attempts from flytt.service_state
 where state = 'failed' order by resource_id limit :limit
"""


def delivered_among(conn: sa.Connection, resource_ids: Sequence[str]) -> set[str]:
    """Those of `resource_ids` whose resource and policy are already delivered."""
    rows = conn.execute(sa.text(DELIVERED_AMONG), {"r": list(resource_ids)})
    return {str(row[0]) for row in rows}


def record(conn: sa.Connection, resource_id: str, error_code: str | None) -> None:
    """Record one delivery attempt of `resource_id`: `delivered` when `error_code` is None
    (resource and policy times set to now, UTC), else `failed` with that code."""
    conn.execute(
        sa.text(RECORD),
        {
            "r": resource_id,
            "state": "failed" if error_code else "delivered",
            "code": error_code,
            "at": None if error_code else datetime.now(UTC),
        },
    )


def summary(conn: sa.Connection) -> tuple[int, int, int]:
    """`(services known, with their policy uploaded, with delegations synced)`."""
    row = conn.execute(sa.text(SUMMARY)).one()
    return int(row[0]), int(row[1]), int(row[2])


def failed(conn: sa.Connection, limit: int = 100) -> list[tuple[str, str | None, int]]:
    """Failed services, by resource id: `(resource_id, last_error_code, attempts)`."""
    return [
        (str(row[0]), row[1], int(row[2]))
        for row in conn.execute(sa.text(FAILED), {"limit": limit})
    ]
