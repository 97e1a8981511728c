"""Read the `a3` marts for a batch of elements (one query per mart, `= any(:ids)`).

Cost is proportional to the batch, not to the warehouse (DESIGN §5): every mart is filtered on
`altinn2_correspondence_id`, which the dbt models index. Column names are the marts' own
(`dbt_project/models/marts/`); rows are returned as plain dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from syncd.payloads import ElementRows, attachment_id

SCHEMA = "a3"
KEY = "altinn2_correspondence_id"
"""The A2 id column of every correspondence mart."""
_CHILD_MARTS = {
    "status_events": "correspondence_status_events",
    "delete_events": "correspondence_delete_events",
    "notifications": "correspondence_notifications",
    "forwarding_events": "correspondence_forwarding_events",
    "reply_options": "correspondence_reply_options",
    "external_references": "correspondence_external_references",
}


def relation_exists(conn: sa.Connection, name: str) -> bool:
    """True when `a3.<name>` (table or view) exists."""
    return bool(
        conn.execute(
            sa.text("select to_regclass(:n) is not null"), {"n": f"{SCHEMA}.{name}"}
        ).scalar_one()
    )


def _rows(conn: sa.Connection, sql: str, ids: Sequence[int]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sa.text(sql), {"ids": list(ids)})]


def fetch_elements(conn: sa.Connection, ids: Sequence[int]) -> dict[int, ElementRows]:
    """All mart rows of the elements `ids`, keyed by A2 id (every id gets an entry; a missing
    correspondence row leaves `correspondence` None, which `guard` reports).

    Attachments linked in `a3.correspondence_attachments` but missing from `a3.attachments`
    are listed in `unknown_attachment_ids`.
    """
    out = {i: ElementRows(a2_correspondence_id=i) for i in ids}
    if not ids:
        return out
    for row in _rows(conn, f"select * from {SCHEMA}.correspondences where {KEY} = any(:ids)", ids):
        out[int(row[KEY])].correspondence = row
    for row in _rows(
        conn, f"select * from {SCHEMA}.correspondence_contents where {KEY} = any(:ids)", ids
    ):
        out[int(row[KEY])].content = row
    links = _rows(
        conn,
        f"select l.{KEY} as link_correspondence_id, "
        f"l.altinn2_attachment_id as link_attachment_id, a.* "
        f"from {SCHEMA}.correspondence_attachments l "
        f"left join {SCHEMA}.attachments a on a.altinn2_attachment_id = l.altinn2_attachment_id "
        f"where l.{KEY} = any(:ids) "
        f"order by l.{KEY}, l.altinn2_attachment_id",
        ids,
    )
    for row in links:
        element = out[int(row.pop("link_correspondence_id"))]
        linked = str(row.pop("link_attachment_id"))
        if row.get("altinn2_attachment_id") is None:
            element.unknown_attachment_ids.append(linked)
        elif attachment_id(row) not in {attachment_id(a) for a in element.attachments}:
            element.attachments.append(row)
    for attr, mart in _CHILD_MARTS.items():
        if not relation_exists(conn, mart):
            continue
        for row in _rows(conn, f"select * from {SCHEMA}.{mart} where {KEY} = any(:ids)", ids):
            getattr(out[int(row[KEY])], attr).append(row)
    return out
