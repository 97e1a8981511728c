"""Read the `a3` marts for a batch of elements (one query per mart, `= any(:ids)`).

Cost is proportional to the batch, not to the warehouse (DESIGN §5): every mart is filtered on
`altinn2_correspondence_id`, which the dbt models index. Every mart read here exists and has
the columns its enforced dbt contract declares (`dbt_project/models/marts/`,
`syncd.mart_schema`); rows are returned as plain dicts keyed by those column names.

`fetch_readable` is what delivery uses: one element whose rows cannot be read (a value Python
cannot hold, a database error its row triggers) is set aside with a detail instead of failing
the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from flytt.control import locks
from flytt.redact import redact
from syncd.payloads import ElementRows, attachment_id

UNREADABLE = "unreadable_row"
"""Reason code of an element whose mart rows cannot be read into Python (e.g. a timestamp
before year 1, which psycopg2 refuses with "year -1 is out of range": Python's `datetime`
covers years 1-9999 only, https://docs.python.org/3/library/datetime.html#datetime.MINYEAR)."""
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
    """True when `a3.<name>` (table or view) exists, i.e. `flytt build` has built it: for the
    "run `flytt build` first" check, not to guess which marts or columns there are (every mart
    of the dbt contract exists once the project is built; `syncd.mart_schema` lists them)."""
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

    Args:
        conn: an open connection to the warehouse (the `a3` marts must be built).
        ids: A2 correspondence ids.

    Returns:
        One `ElementRows` per id, its rows as dicts keyed by the contract column names.

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
        for row in _rows(conn, f"select * from {SCHEMA}.{mart} where {KEY} = any(:ids)", ids):
            getattr(out[int(row[KEY])], attr).append(row)
    return out


_EVENT_MARTS = {
    attr: _CHILD_MARTS[attr]
    for attr in ("status_events", "delete_events", "notifications", "forwarding_events")
}
"""The child marts step 2.2 carries (`flytt.control.sync_state.EVENT_MARTS`)."""


def fetch_events_after(
    conn: sa.Connection, floors: dict[int, str], upto: str
) -> dict[int, ElementRows]:
    """The event rows of each element in `floors` from loads after its floor and up to `upto`
    (`_dlt_load_id`), for step 2.2: what A3 does not have yet.

    Args:
        floors: A2 id → the load its A3 copy is complete up to (`sync_state.floors`).
        upto: the newest load this pass reads.

    Returns:
        One `ElementRows` per id with `status_events`, `delete_events`, `notifications` and
        `forwarding_events` filled (the other fields stay empty).
    """
    out = {i: ElementRows(a2_correspondence_id=i) for i in floors}
    if not floors:
        return out
    ids, lows = list(floors), [floors[i] for i in floors]
    for attr, mart in _EVENT_MARTS.items():
        rows = conn.execute(
            sa.text(
                f"select m.* from {SCHEMA}.{mart} m "
                "join unnest(cast(:ids as integer[]), cast(:lows as text[])) as f(id, low) "
                f"on m.{KEY} = f.id "
                "where m._dlt_load_id > f.low and m._dlt_load_id <= :upto"
            ),
            {"ids": ids, "lows": lows, "upto": upto},
        )
        for row in rows:
            getattr(out[int(row._mapping[KEY])], attr).append(dict(row._mapping))
    return out


def is_connection_error(exc: BaseException) -> bool:
    """True when `exc` says the database connection itself failed (not one element's data):
    SQLAlchemy's OperationalError / InterfaceError or an invalidated connection."""
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and bool(exc.connection_invalidated)


def describe_error(exc: BaseException) -> str:
    """`<exception type>: <message>` with personal data masked (`flytt.redact.redact`), at most
    500 characters: the detail stored with an element's error code."""
    return redact(f"{type(exc).__name__}: {exc}")[:500]


def fetch_readable(
    conn: sa.Connection, ids: Sequence[int]
) -> tuple[dict[int, ElementRows], dict[int, str]]:
    """`fetch_elements` for a batch, isolating elements whose rows cannot be read.

    The batch is read in one go inside a savepoint. When that raises (a value psycopg2 cannot
    convert, such as a BC timestamp, or a database error one row triggers), the savepoint is
    rolled back and every element is read on its own, each in its own savepoint, so one bad
    element never keeps the others from being read.

    The read holds the marts lock shared (`flytt.control.locks.share_marts`) until the
    caller's transaction ends, so it waits for a running `flytt build` instead of finding the
    marts half rebuilt.

    Args:
        conn: an open connection (a transaction is begun if none is).
        ids: A2 correspondence ids.

    Returns:
        `(rows, unreadable)`: `rows` as `fetch_elements` for every readable id; `unreadable`
        maps each id that could not be read to a detail (`describe_error`, no personal data).
        Every id is in exactly one of the two.

    Raises:
        sqlalchemy.exc.OperationalError / InterfaceError: the connection itself failed (no
            element is to blame, so none is marked unreadable).
    """
    locks.share_marts(conn)  # held to the end of the caller's transaction
    try:
        with conn.begin_nested():
            return fetch_elements(conn, ids), {}
    except Exception as exc:
        if is_connection_error(exc):
            raise
        if len(ids) <= 1:
            return {}, {i: describe_error(exc) for i in ids}
    rows: dict[int, ElementRows] = {}
    unreadable: dict[int, str] = {}
    for i in ids:
        try:
            with conn.begin_nested():
                rows.update(fetch_elements(conn, [i]))
        except Exception as exc:
            if is_connection_error(exc):
                raise
            unreadable[i] = describe_error(exc)
    return rows, unreadable
