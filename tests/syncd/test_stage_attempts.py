"""Delivery and exposure count their failed attempts apart (`delivery_attempts`,
`exposure_attempts`, control schema revision 0005): the attempts delivery needed never use up
exposure's `max_attempts`, and existing counters are carried over by the migration."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from flytt.control import elements, upgrade
from flytt.control.elements import ServiceQuota
from flytt.control.states import ElementState
from flytt.status import collect_status
from flytt.warehouse import Warehouse

SERVICE = "ttd-migratedcorrespondence-1-1"
MAX_ATTEMPTS = 5


def _counters(w: Warehouse, a2_id: int) -> tuple[str, int, int, int]:
    with w.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "select state, delivery_attempts, exposure_attempts, attempts "
                "from flytt.element_state where a2_correspondence_id = :id"
            ),
            {"id": a2_id},
        ).one()
    return str(row[0]), int(row[1]), int(row[2]), int(row[3])


def _claim_for_delivery(w: Warehouse, owner: str) -> list[elements.Claimed]:
    with w.engine.begin() as conn:
        return elements.claim_for_delivery(
            conn, owner, [ServiceQuota(SERVICE, 10)], batch=10, lease_seconds=60
        )


def test_exposure_counts_from_one_after_four_delivery_attempts(fresh_warehouse: Warehouse) -> None:
    w = fresh_warehouse
    upgrade(w)
    with w.engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into flytt.element_state (a2_correspondence_id, resource_id, "
                "a2_created_at, state) values (7, :r, :at, 'eligible')"
            ),
            {"r": SERVICE, "at": datetime(2025, 3, 1, tzinfo=UTC)},
        )
    for attempt in range(1, MAX_ATTEMPTS):  # four failed delivery attempts
        (claimed,) = _claim_for_delivery(w, "d")
        assert claimed.attempts == attempt - 1
        with w.engine.begin() as conn:
            state = elements.fail_attempt(
                conn,
                elements.Stage.DELIVERY,
                "d",
                7,
                error_code="http_503",
                detail="Service Unavailable",
                max_attempts=MAX_ATTEMPTS,
                retry_in_seconds=0,
            )
        assert state == "eligible"
    (claimed,) = _claim_for_delivery(w, "d")  # the fifth delivery attempt succeeds
    with w.engine.begin() as conn:
        assert elements.mark_migrated(conn, "d", 7, uuid.uuid4())
    assert _counters(w, 7) == ("migrated", 4, 0, 0)

    with w.engine.begin() as conn:
        (candidate,) = elements.claim_for_exposure(
            conn, owner="e", services=["*"], cutover_year=2025, limit=10, lease_seconds=60
        )
    assert candidate.attempts == 0
    with w.engine.begin() as conn:
        gave_up = (
            elements.fail_attempt(
                conn,
                elements.Stage.EXPOSURE,
                "e",
                7,
                error_code="a3_empty_dialog_id",
                detail="detail",
                retry_in_seconds=0,
                max_attempts=MAX_ATTEMPTS,
            )
            is ElementState.FAILED
        )
    # one failed exposure attempt of five: it stays migrated and will be tried again
    assert gave_up is False
    assert _counters(w, 7) == ("migrated", 4, 1, 1)
    steps = collect_status(w)["steps"]
    assert (steps["1.1"]["retrying"], steps["5"]["retrying"]) == (0, 1)

    with w.engine.begin() as conn:
        assert elements.reset(conn, 7)
    assert _counters(w, 7) == ("eligible", 0, 0, 0)


def test_revision_0005_carries_the_old_counter_over(fresh_warehouse: Warehouse) -> None:
    w = fresh_warehouse
    upgrade(w, "0004")
    rows = [
        # a2 id, state, has A3 id, attempts, last error code
        (1, "eligible", False, 2, "http_503"),  # still in delivery
        (2, "migrated", True, 3, None),  # delivered after 3 failures, not yet exposed
        (3, "migrated", True, 4, "a3_empty_dialog_id"),  # exposure failed since
        (4, "failed", False, 5, "http_503"),  # delivery gave up
    ]
    with w.engine.begin() as conn:
        for a2, state, has_a3, attempts, code in rows:
            conn.execute(
                sa.text(
                    "insert into flytt.element_state (a2_correspondence_id, resource_id, "
                    "state, a3_correspondence_id, attempts, last_error_code, migrated_at) "
                    "values (:id, :r, :state, :a3, :n, :code, :at)"
                ),
                {
                    "id": a2,
                    "r": SERVICE,
                    "state": state,
                    "a3": uuid.uuid4() if has_a3 else None,
                    "n": attempts,
                    "code": code,
                    "at": datetime(2026, 1, 1, tzinfo=UTC) if has_a3 else None,
                },
            )
    upgrade(w)
    assert _counters(w, 1) == ("eligible", 2, 0, 2)
    assert _counters(w, 2) == ("migrated", 3, 0, 0)
    assert _counters(w, 3) == ("migrated", 4, 4, 4)
    assert _counters(w, 4) == ("failed", 5, 0, 5)
