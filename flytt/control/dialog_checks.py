"""Owner of every SQL statement on `flytt.dialog_check` and `flytt.dialog_mismatch`: the
step 5 verification of each available element's dialog in Dialogporten (one check row per
element, one mismatch row per differing field). Schema: Alembic revision 0003.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

DELETE_MISMATCHES = "delete from flytt.dialog_mismatch where a2_correspondence_id = :id"

INSERT_MISMATCH = """
insert into flytt.dialog_mismatch (a2_correspondence_id, field, expected, actual, run_id)
values (:id, :field, :expected, :actual, :run)
"""

UPSERT_CHECK = """
insert into flytt.dialog_check
       (a2_correspondence_id, a3_correspondence_id, dialog_id, mismatches, checked_at, run_id)
values (:id, :a3, :dialog, :n, now(), :run)
on conflict (a2_correspondence_id) do update
   set a3_correspondence_id = excluded.a3_correspondence_id,
       dialog_id = excluded.dialog_id, mismatches = excluded.mismatches,
       checked_at = excluded.checked_at, run_id = excluded.run_id
"""

FORGET_CHECKS = "delete from flytt.dialog_check"

MISMATCHES_BY_FIELD = """
select field, count(distinct a2_correspondence_id) from flytt.dialog_mismatch
 group by field order by 2 desc, 1
"""


def store(
    conn: sa.Connection,
    a2_id: int,
    a3_id: uuid.UUID | str,
    dialog_id: str | None,
    mismatches: Sequence[tuple[str, str | None, str | None]],
    run_id: int | None,
) -> None:
    """Replace the check of element `a2_id`: its dialog id (None: no dialog found) and its
    mismatches as `(field, expected, actual)`, values already redacted and cut to size."""
    conn.execute(sa.text(DELETE_MISMATCHES), {"id": a2_id})
    if mismatches:
        conn.execute(
            sa.text(INSERT_MISMATCH),
            [
                {"id": a2_id, "field": field, "expected": want, "actual": got, "run": run_id}
                for field, want, got in mismatches
            ],
        )
    conn.execute(
        sa.text(UPSERT_CHECK),
        {"id": a2_id, "a3": a3_id, "dialog": dialog_id, "n": len(mismatches), "run": run_id},
    )


MISMATCHING_DIALOGS = "select count(*) from flytt.dialog_check where mismatches > 0"


def mismatching_dialogs(conn: sa.Connection) -> int:
    """Dialogs whose last check found at least one field different from the expected dialog."""
    return int(conn.execute(sa.text(MISMATCHING_DIALOGS)).scalar_one())


def forget_checks(conn: sa.Connection) -> None:
    """Drop every check, so the next verification re-checks every available element."""
    conn.execute(sa.text(FORGET_CHECKS))


def mismatches_by_field(conn: sa.Connection) -> list[dict[str, Any]]:
    """`[{"field": str, "dialogs": n}]`: how many dialogs differ in each field, most first."""
    return [
        {"field": str(row[0]), "dialogs": int(row[1])}
        for row in conn.execute(sa.text(MISMATCHES_BY_FIELD))
    ]
