"""Owner of every SQL statement on `flytt.cursor`: named JSON cursors of incremental jobs
(e.g. discovery's high-water mark). Schema: Alembic revision 0004.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

READ = "select value from flytt.cursor where name = :n"

WRITE = """
insert into flytt.cursor (name, value) values (:n, :v)
on conflict (name) do update set value = excluded.value, updated_at = now()
"""


def read(conn: sa.Connection, name: str) -> dict[str, Any] | None:
    """The cursor `name` as a dict, or None when it was never written."""
    value = conn.execute(sa.text(READ), {"n": name}).scalar()
    return None if value is None else dict(json.loads(value))


def write(conn: sa.Connection, name: str, value: dict[str, Any]) -> None:
    """Store `value` (JSON-serialisable) as the cursor `name`, replacing any earlier one."""
    conn.execute(sa.text(WRITE), {"n": name, "v": json.dumps(value)})
