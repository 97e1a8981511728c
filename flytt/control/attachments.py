"""Owner of every SQL statement on `flytt.attachment_state`: which A2 attachment is which A3
attachment, so each is uploaded once (reference a3-correspondence §1.4: A3 has no lookup by
`altinn2AttachmentId`). Schema: Alembic revision 0002.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa

RECORD = """
insert into flytt.attachment_state (a2_attachment_id, a3_attachment_id, resource_id)
values (:a2, :a3, :r)
on conflict (a2_attachment_id) do nothing
"""

KNOWN = """
select a2_attachment_id, a3_attachment_id from flytt.attachment_state
 where a2_attachment_id = any(:ids)
"""


def record(conn: sa.Connection, a2_id: str, a3_id: uuid.UUID, resource_id: str | None) -> None:
    """Remember that A2 attachment `a2_id` (of service `resource_id`) is A3 attachment
    `a3_id`; a second record of the same A2 id keeps the first."""
    conn.execute(sa.text(RECORD), {"a2": a2_id, "a3": a3_id, "r": resource_id})


def known(conn: sa.Connection, ids: Sequence[str]) -> dict[str, uuid.UUID]:
    """The A3 ids of those A2 attachments among `ids` already uploaded (A2 id → A3 id)."""
    if not ids:
        return {}
    return {
        str(a2): uuid.UUID(str(a3)) for a2, a3 in conn.execute(sa.text(KNOWN), {"ids": list(ids)})
    }
