"""What a `flytt migrate` run will deliver: services in scope, their wait times, the pending
elements per service, and the run this process records.

Reads the `a3.resources` mart and, through `flytt.control.elements`, the state machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from flytt.control import elements, runs
from syncd.marts import SCHEMA


def service_waits(conn: sa.Connection) -> dict[str, int]:
    """Per-service migration wait time in minutes (`a3.resources.migration_wait_time_minutes`).

    Returns:
        `{resource_id: minutes}` for every resource of the mart (0 when A2 had no wait).
    """
    return {
        str(row[0]): int(row[1] or 0)
        for row in conn.execute(
            sa.text(f"select resource_id, migration_wait_time_minutes from {SCHEMA}.resources")
        )
    }


def pending_by_service(
    conn: sa.Connection, services: Sequence[str], waits: dict[str, int], cap: int | None
) -> dict[str, int]:
    """Eligible elements old enough to be sent, per service (all services when empty), each
    count capped at `cap` (the per-service limit of the run); see
    `flytt.control.elements.pending_by_service`."""
    return elements.pending_by_service(
        conn, services, waits, cap, resources_table=f"{SCHEMA}.resources"
    )


def current_run_id(conn: sa.Connection) -> int | None:
    """The `flytt.run` row of this process (recorded by the command line), if any."""
    return runs.current_run_id(conn, ("migrate", "demo", "daemon"))
