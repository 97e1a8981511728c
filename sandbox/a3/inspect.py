"""Read helpers over the A3 replica's tables, for tests and benchmarks of other parts.

All functions take the replica's database as a SQLAlchemy `Engine` (e.g. `app.state.engine`) or
URL (string or `sqlalchemy.URL`; `Warehouse.sqlalchemy_url(database)` gives one) and run plain
SQL against schema `correspondence` (quoted PascalCase names, reference `a3-correspondence.md`
§2). Times come back as aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

Target = sa.Engine | sa.URL | str


def _engine(target: Target) -> tuple[sa.Engine, bool]:
    if isinstance(target, sa.Engine):
        return target, False
    return sa.create_engine(target), True


def _query(target: Target, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    engine, own = _engine(target)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params or {}))
    finally:
        if own:
            engine.dispose()


@dataclass(frozen=True)
class Counts:
    """Rows the replica holds for one `altinn2CorrespondenceId`.

    `correspondences` should be exactly 1 for a migrated element (the unique index makes more
    impossible); `attachments` counts linked attachments (CorrespondenceAttachments);
    `statuses`, `delete_events`, `notifications`, `forwarding_events` count history rows.
    """

    correspondences: int
    attachments: int
    statuses: int
    delete_events: int
    notifications: int
    forwarding_events: int


_COUNTS_SQL = """
select c."Altinn2CorrespondenceId" as a2_id,
       count(*) over (partition by c."Altinn2CorrespondenceId") as correspondences,
       (select count(*) from correspondence."CorrespondenceAttachments" ca
          join correspondence."CorrespondenceContents" cc on cc."Id" = ca."CorrespondenceContentId"
         where cc."CorrespondenceId" = c."Id") as attachments,
       (select count(*) from correspondence."CorrespondenceStatuses" s
         where s."CorrespondenceId" = c."Id") as statuses,
       (select count(*) from correspondence."CorrespondenceDeleteEvents" d
         where d."CorrespondenceId" = c."Id") as delete_events,
       (select count(*) from correspondence."CorrespondenceNotifications" n
         where n."CorrespondenceId" = c."Id") as notifications,
       (select count(*) from correspondence."CorrespondenceForwardingEvents" f
         where f."CorrespondenceId" = c."Id") as forwarding_events
  from correspondence."Correspondences" c
 where c."Altinn2CorrespondenceId" is not null
   {filter}
"""


def counts_by_altinn2_id(target: Target, ids: Iterable[int] | None = None) -> dict[int, Counts]:
    """`Counts` per `altinn2CorrespondenceId` present in the replica.

    Args:
        target: the replica's database.
        ids: only these A2 ids (absent ids are simply missing from the result); None: all.
    """
    params: dict[str, Any] = {}
    where = ""
    if ids is not None:
        params["ids"] = list(ids)
        where = 'and c."Altinn2CorrespondenceId" = any(:ids)'
    rows = _query(target, _COUNTS_SQL.format(filter=where), params)
    return {int(r.a2_id): Counts(*(int(v) for v in r[1:])) for r in rows}


def table_counts(target: Target) -> dict[str, int]:
    """Row count of every table in schema `correspondence`, keyed by the table's real name."""
    names = [
        r[0]
        for r in _query(
            target,
            "select table_name from information_schema.tables "
            "where table_schema = 'correspondence' order by 1",
        )
    ]
    return {
        name: int(_query(target, f'select count(*) from correspondence."{name}"')[0][0])
        for name in names
    }


def correspondence_id(target: Target, altinn2_correspondence_id: int) -> str | None:
    """The A3 id (UUID string) of an A2 correspondence, or None if it was never migrated."""
    rows = _query(
        target,
        'select "Id" from correspondence."Correspondences" where "Altinn2CorrespondenceId" = :i',
        {"i": altinn2_correspondence_id},
    )
    return str(rows[0][0]) if rows else None


def attachment_ids(target: Target) -> dict[str, str]:
    """`Altinn2AttachmentId` → A3 attachment id (UUID string) for every stored attachment."""
    rows = _query(
        target,
        'select "Altinn2AttachmentId", "Id" from correspondence."Attachments" '
        'where "Altinn2AttachmentId" is not null',
    )
    return {str(r[0]): str(r[1]) for r in rows}


def statuses(target: Target, altinn2_correspondence_id: int) -> list[dict[str, Any]]:
    """The CorrespondenceStatuses rows of one A2 correspondence, ordered by StatusChanged.

    Each row: `Status` (int), `StatusText`, `StatusChanged` (UTC), `PartyUuid`,
    `SyncedFromAltinn2` (None for rows of the first migration).
    """
    rows = _query(
        target,
        'select s."Status", s."StatusText", s."StatusChanged", s."PartyUuid", '
        's."SyncedFromAltinn2" from correspondence."CorrespondenceStatuses" s '
        'join correspondence."Correspondences" c on c."Id" = s."CorrespondenceId" '
        'where c."Altinn2CorrespondenceId" = :i order by s."StatusChanged", s."Status"',
        {"i": altinn2_correspondence_id},
    )
    return [dict(r._mapping) for r in rows]


def dialog_ids(target: Target) -> dict[int, str]:
    """`altinn2CorrespondenceId` → Dialogporten dialog id (ExternalReferences type 3)."""
    rows = _query(
        target,
        'select c."Altinn2CorrespondenceId", e."ReferenceValue" '
        'from correspondence."ExternalReferences" e '
        'join correspondence."Correspondences" c on c."Id" = e."CorrespondenceId" '
        'where e."ReferenceType" = 3 and c."Altinn2CorrespondenceId" is not null',
    )
    return {int(r[0]): str(r[1]) for r in rows}
