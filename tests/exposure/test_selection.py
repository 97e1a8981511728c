"""Which elements `flytt expose` claims, in which order, and how failures count (issue #5)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from exposure.expose import run_expose
from flytt.control import elements, upgrade
from flytt.control.states import ElementState
from flytt.warehouse import Warehouse
from tests.conftest import settings_for

READY = "ttd-migratedcorrespondence-1-1"
ROWS = {
    # a2 id: (created UTC, resource, state)
    1: (datetime(2025, 3, 1, tzinfo=UTC), READY, "migrated"),
    2: (datetime(2025, 11, 1, tzinfo=UTC), READY, "migrated"),
    3: (datetime(2024, 12, 31, 23, 30, tzinfo=UTC), READY, "migrated"),  # 2025 in Oslo
    4: (datetime(2025, 12, 31, 23, 30, tzinfo=UTC), READY, "migrated"),  # 2026 in Oslo
    5: (datetime(2024, 6, 1, tzinfo=UTC), READY, "migrated"),
    6: (datetime(2023, 6, 1, tzinfo=UTC), READY, "migrated"),
    7: (datetime(2024, 7, 1, tzinfo=UTC), "other-service", "migrated"),
    8: (datetime(2025, 5, 1, tzinfo=UTC), READY, "available"),
    9: (datetime(2025, 5, 2, tzinfo=UTC), READY, "eligible"),
}


@pytest.fixture()
def seeded(fresh_warehouse: Warehouse) -> Warehouse:
    upgrade(fresh_warehouse)
    with fresh_warehouse.engine.begin() as conn:
        for a2, (created, resource, state) in ROWS.items():
            conn.execute(
                sa.text(
                    "insert into flytt.element_state (a2_correspondence_id, resource_id, "
                    "a2_created_at, state, a3_correspondence_id) "
                    "values (:id, :res, :created, :state, :a3)"
                ),
                {
                    "id": a2,
                    "res": resource,
                    "created": created,
                    "state": state,
                    "a3": uuid.uuid4() if state != "eligible" else None,
                },
            )
    return fresh_warehouse


def _claim(w: Warehouse, owner: str, services: list[str], limit: int = 100) -> list[int]:
    with w.engine.begin() as conn:
        got = elements.claim_for_exposure(
            conn,
            owner=owner,
            services=services,
            cutover_year=2025,
            limit=limit,
            lease_seconds=60,
        )
    return [c.a2_correspondence_id for c in got]


def test_order_cutover_year_in_norwegian_time_then_earlier_then_later(seeded: Warehouse) -> None:
    assert _claim(seeded, "a", [READY]) == [2, 1, 3, 5, 6, 4]


def test_only_ready_services_and_star_means_all(seeded: Warehouse) -> None:
    assert _claim(seeded, "a", []) == []
    assert 7 not in _claim(seeded, "a", [READY])
    with seeded.engine.begin() as conn:
        elements.release(conn, "a")
    assert 7 in _claim(seeded, "b", ["*"])


def test_leases_keep_two_workers_apart(seeded: Warehouse) -> None:
    first = _claim(seeded, "a", [READY], limit=3)
    second = _claim(seeded, "b", [READY])
    assert first == [2, 1, 3]
    assert second == [5, 6, 4]
    with seeded.engine.begin() as conn:
        assert elements.release(conn, "a") == 3
    assert _claim(seeded, "c", [READY]) == [2, 1, 3]


def test_failed_attempts_wait_then_fail_after_max_attempts(seeded: Warehouse) -> None:
    for attempt in (1, 2, 3):
        _claim(seeded, "a", [READY])
        with seeded.engine.begin() as conn:
            gave_up = (
                elements.fail_attempt(
                    conn,
                    elements.Stage.EXPOSURE,
                    "a",
                    2,
                    error_code="a3_empty_dialog_id",
                    detail="detail",
                    retry_in_seconds=0,
                    max_attempts=3,
                )
                is ElementState.FAILED
            )
            elements.release(conn, "a")
        assert gave_up == (attempt == 3)
    with seeded.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "select state, exposure_attempts, delivery_attempts, attempts, last_error_code "
                "from flytt.element_state where a2_correspondence_id = 2"
            )
        ).one()
    # exposure counts its own attempts; `attempts` shows the current stage's
    assert tuple(row) == ("failed", 3, 0, 3, "a3_empty_dialog_id")
    assert 2 not in _claim(seeded, "a", [READY])


def test_expose_without_work_needs_no_token_or_network(seeded: Warehouse, tmp_path: Path) -> None:
    with seeded.engine.begin() as conn:  # nothing left to verify either
        conn.execute(
            sa.text("update flytt.element_state set state = 'eligible' where state = 'available'")
        )
    settings = settings_for(seeded, tmp_path, ready_services=["no-such-service"])
    assert settings.maskinporten_key_file is None and settings.maskinporten_key is None
    counts = run_expose(settings, seeded)
    assert counts["selected"] == counts["made_available"] == counts["verified"] == 0
    assert counts["not_ready"] == 7  # the migrated elements of services not marked ready


def test_elements_that_failed_in_this_run_are_not_claimed_again(seeded: Warehouse) -> None:
    with seeded.engine.begin() as conn:
        got = elements.claim_for_exposure(
            conn,
            owner="a",
            services=[READY],
            cutover_year=2025,
            limit=10,
            lease_seconds=60,
            exclude=[2, 1],
        )
    assert [c.a2_correspondence_id for c in got] == [3, 5, 6, 4]
