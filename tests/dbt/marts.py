"""Read the dbt marts in schema `a3` for comparisons in the dbt tests (issue #4)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from flytt.warehouse import Warehouse
from syncd.mart_schema import columns

MART_TABLES = (
    "correspondences",
    "correspondence_contents",
    "correspondence_status_events",
    "correspondence_delete_events",
    "correspondence_notifications",
    "correspondence_forwarding_events",
    "correspondence_reply_options",
    "correspondence_external_references",
    "attachments",
    "correspondence_attachments",
    "resources",
    "resource_policy_rules",
    "delegations",
    "quarantine",
)
"""The `a3` relations whose rows must not depend on how they were built."""


def mart_rows(warehouse: Warehouse, table: str) -> list[tuple[Any, ...]]:
    """All rows of `a3.<table>` as sorted tuples of text (so jsonb, uuid and times compare), one
    value per column of the mart's dbt contract (`syncd.mart_schema`), in declaration order."""
    select = ", ".join(f'"{c}"::text' for c in columns(table))
    with warehouse.engine.connect() as conn:
        rows = conn.execute(sa.text(f'select {select} from a3."{table}"')).all()
    return sorted((tuple(r) for r in rows), key=lambda r: tuple("" if v is None else v for v in r))


def snapshot(warehouse: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of every mart in `MART_TABLES`."""
    return {table: mart_rows(warehouse, table) for table in MART_TABLES}


def scalar(warehouse: Warehouse, sql: str, **params: Any) -> Any:
    """The single value of `sql`."""
    with warehouse.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()
