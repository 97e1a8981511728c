"""One element's bad data never stops `flytt migrate`: each bad element ends quarantined or
failed with its own reason code, every other element is delivered, and a second run claims
none of the bad ones again (no poison pill).

Causes, one per element, all in the same run:

* a BC timestamp written into the mart after the build (`due_date_time` 0001-01-01 00:00
  Norwegian time is 31 Dec 1 BC in UTC; psycopg2: "year -1 is out of range") → `unreadable_row`;
* a delete event of a type the mapping does not know (`build_correspondence` raises) →
  `payload_error`;
* an attachment file name longer than 255 characters (the A3 replica answers 400 to
  `POST /migration/attachment`, `FileName` max length 255) → `a3_rejected_http_400_…`;
* an attachment whose bytes are missing in the A2 source → `attachment_bytes_missing`;
* an attachment whose bytes cannot be read (an I/O error) → `attachment_read_error`, tried
  `max_attempts` times, then `failed`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from flytt.control import elements, upgrade
from flytt.warehouse import Warehouse
from loaders.attachments import AttachmentNotFoundError
from syncd import synthetic as seed
from syncd.delivery import run_migrate
from syncd.marts import fetch_readable
from tests.syncd.conftest import Replicas

N = 24
BC_TIME = 3  # unreadable_row
UNKNOWN_DELETE_TYPE = 5  # payload_error
LONG_FILE_NAME = 16  # A3 answers 400 to the upload of attachment "16"
MISSING_BYTES = 8  # attachment "8" has no bytes in the A2 source
BROKEN_BYTES = 12  # reading attachment "12" fails
BAD = {BC_TIME, UNKNOWN_DELETE_TYPE, LONG_FILE_NAME, MISSING_BYTES, BROKEN_BYTES}


def _byte_source(
    settings: Any, a2_attachment_id: Any, chunk_size: int = 1 << 20
) -> Iterator[bytes]:
    if str(a2_attachment_id) == str(MISSING_BYTES):
        raise AttachmentNotFoundError(f"attachment {a2_attachment_id} is not in the A2 source")
    if str(a2_attachment_id) == str(BROKEN_BYTES):
        raise OSError(5, "Input/output error")
    return seed.attachment_bytes(settings, a2_attachment_id, chunk_size=chunk_size)


def _break_elements(warehouse: Warehouse) -> None:
    with warehouse.engine.begin() as conn:
        conn.execute(
            sa.text(
                "update a3.correspondences set due_date_time = "
                "timestamp '0001-01-01 00:00:00' at time zone 'Europe/Oslo' "
                "where altinn2_correspondence_id = :id"
            ),
            {"id": BC_TIME},
        )
        conn.execute(
            sa.text(
                "insert into a3.correspondence_delete_events values "
                "(:id, 99, null, timestamptz '2020-01-05', "
                "'22222222-0000-4000-8000-000000000002')"
            ),
            {"id": UNKNOWN_DELETE_TYPE},
        )
        conn.execute(
            sa.text(
                "update a3.attachments set file_name = repeat('x', 252) || '.txt' "
                "where altinn2_attachment_id = :id"
            ),
            {"id": str(LONG_FILE_NAME)},
        )


def _states(warehouse: Warehouse) -> dict[int, tuple[str, str | None, int]]:
    """A2 id → (state, reason or last error code, delivery attempts)."""
    with warehouse.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select a2_correspondence_id, state, coalesce(state_reason, last_error_code), "
                "delivery_attempts from flytt.element_state"
            )
        ).all()
    return {int(r[0]): (str(r[1]), r[2], int(r[3])) for r in rows}


def test_bad_elements_end_with_their_own_code_and_the_rest_is_delivered(
    warehouse: Warehouse, module_data_dir: Path, replicas: Replicas
) -> None:
    upgrade(warehouse)
    seed.seed_marts(warehouse.engine, N, services=2, crash=False)
    _break_elements(warehouse)
    settings = replicas.settings(warehouse, module_data_dir, max_attempts=2)

    counts = run_migrate(settings, warehouse, attachment_bytes=_byte_source, show_progress=False)

    assert counts["delivered"] == N - len(BAD)
    assert counts["quarantined"] == 4
    assert counts["failed"] == 1
    assert counts["retry_later"] == 0
    states = _states(warehouse)
    assert states[BC_TIME] == ("quarantined", "unreadable_row", 0)
    assert states[UNKNOWN_DELETE_TYPE] == ("quarantined", "payload_error", 0)
    assert states[LONG_FILE_NAME] == ("quarantined", "a3_rejected_http_400_STD-00000", 0)
    assert states[MISSING_BYTES] == ("quarantined", "attachment_bytes_missing", 0)
    assert states[BROKEN_BYTES] == ("failed", "attachment_read_error", 2)
    assert {i for i, s in states.items() if s[0] == "migrated"} == set(range(1, N + 1)) - BAD
    with warehouse.engine.connect() as conn:
        in_a3: set[int] = set(
            conn.execute(
                sa.text('select "Altinn2CorrespondenceId" from correspondence."Correspondences"')
            ).scalars()
        )
        reasons = {
            int(r[0]): str(r[1])
            for r in conn.execute(
                sa.text(
                    "select a2_correspondence_id, detail from flytt.quarantine "
                    "where reason_code = 'unreadable_row'"
                )
            )
        }
    assert in_a3 == set(range(1, N + 1)) - BAD
    assert reasons == {BC_TIME: "ValueError: year -1 is out of range"}

    # a second run claims none of them again: nothing is sent, nothing changes
    again = run_migrate(settings, warehouse, attachment_bytes=_byte_source, show_progress=False)
    assert again["delivered"] == again["quarantined"] == again["failed"] == 0
    assert _states(warehouse) == states


def test_a_batch_read_that_raises_isolates_the_unreadable_element(
    fresh_warehouse: Warehouse,
) -> None:
    seed.seed_marts(fresh_warehouse.engine, 6, crash=False)
    with fresh_warehouse.engine.begin() as conn:
        conn.execute(
            sa.text(
                "update a3.correspondence_status_events set status_changed = "
                "timestamptz '0044-03-15 12:00:00+00 BC' "
                "where altinn2_correspondence_id = 4 and status = 4"
            )
        )
    with fresh_warehouse.engine.connect() as conn:
        rows, unreadable = fetch_readable(conn, [1, 2, 3, 4, 5, 6])
    assert sorted(rows) == [1, 2, 3, 5, 6]
    assert unreadable == {4: "ValueError: year -44 is out of range"}
    assert rows[2].correspondence is not None and len(rows[2].status_events) == 3


def test_a_bc_creation_time_does_not_break_claiming(fresh_warehouse: Warehouse) -> None:
    upgrade(fresh_warehouse)
    service = "ttd-migratedcorrespondence-1-1"
    with fresh_warehouse.engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into flytt.element_state (a2_correspondence_id, resource_id, "
                "a2_created_at, state, a3_correspondence_id) values "
                "(1, :r, timestamp '0001-01-01 00:00:00' at time zone 'Europe/Oslo', "
                "'eligible', null), "
                "(2, :r, timestamp '0001-01-01 00:00:00' at time zone 'Europe/Oslo', "
                "'migrated', gen_random_uuid())"
            ),
            {"r": service},
        )
    with fresh_warehouse.engine.begin() as conn:
        claimed = elements.claim_for_delivery(
            conn, "d", [elements.ServiceQuota(service, 10)], batch=10, lease_seconds=60
        )
        candidates = elements.claim_for_exposure(
            conn, owner="e", services=["*"], cutover_year=2025, limit=10, lease_seconds=60
        )
    assert [(c.a2_correspondence_id, c.a2_created_at) for c in claimed] == [(1, None)]
    assert [(c.a2_correspondence_id, c.a2_created_at) for c in candidates] == [(2, None)]
