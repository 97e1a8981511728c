"""Live traffic does not starve behind a backlog: delivery and exposure claims keep a share of
every batch for elements that became eligible recently (`flytt.control.elements.Lanes`), give
unused capacity to the other lane, and serve the live lane first in, first out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from flytt.control import elements, upgrade
from flytt.control.elements import Lanes, ServiceQuota
from flytt.warehouse import Warehouse

SERVICE = "svc-lanes"
LANES = Lanes(live_share=0.7, window_minutes=60)
NOW = datetime.now(UTC)


def _seed(w: Warehouse, *, live: int, history: int, state: str) -> None:
    """`live` elements eligible 1..live minutes ago (ids 1001…), `history` ones eligible a
    month ago and created in 2024 (ids 1…)."""
    rows = [
        {
            "id": i,
            "created": NOW - timedelta(minutes=i - 1000),
            "from": NOW - timedelta(minutes=i - 1000),
        }
        for i in range(1001, 1001 + live)
    ] + [
        {
            "id": i,
            "created": datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=i),
            "from": NOW - timedelta(days=30),
        }
        for i in range(1, 1 + history)
    ]
    with w.engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into flytt.element_state (a2_correspondence_id, resource_id, "
                "a2_created_at, eligible_from, state, a3_correspondence_id) "
                "values (:id, :svc, :created, :from, :state, :a3)"
            ),
            [
                {
                    **r,
                    "svc": SERVICE,
                    "state": state,
                    "a3": uuid.uuid4() if state == "migrated" else None,
                }
                for r in rows
            ],
        )


@pytest.fixture()
def w(fresh_warehouse: Warehouse) -> Warehouse:
    upgrade(fresh_warehouse)
    return fresh_warehouse


def _deliver(w: Warehouse, n: int, lanes: Lanes = LANES) -> list[int]:
    with w.engine.begin() as conn:
        got = elements.claim_for_delivery(
            conn, "d", [ServiceQuota(SERVICE, 1000)], batch=n, lease_seconds=60, lanes=lanes
        )
    return [c.a2_correspondence_id for c in got]


def _expose(w: Warehouse, n: int) -> list[int]:
    with w.engine.begin() as conn:
        got = elements.claim_for_exposure(
            conn,
            owner="e",
            services=["*"],
            cutover_year=2025,
            limit=n,
            lease_seconds=60,
            lanes=LANES,
        )
    return [c.a2_correspondence_id for c in got]


@pytest.mark.parametrize(("claim", "state"), [(_deliver, "eligible"), (_expose, "migrated")])
def test_a_batch_keeps_the_live_share_and_serves_live_first_in_first_out(
    w: Warehouse,
    claim,
    state: str,  # type: ignore[no-untyped-def]
) -> None:
    _seed(w, live=20, history=50, state=state)
    got = claim(w, 10)
    live, history = [i for i in got if i > 1000], [i for i in got if i <= 1000]
    assert len(live) == 7 and len(history) == 3
    assert got[:7] == live == [1020, 1019, 1018, 1017, 1016, 1015, 1014]  # oldest eligible first


@pytest.mark.parametrize(("claim", "state"), [(_deliver, "eligible"), (_expose, "migrated")])
def test_capacity_one_lane_cannot_use_goes_to_the_other(
    w: Warehouse,
    claim,
    state: str,  # type: ignore[no-untyped-def]
) -> None:
    _seed(w, live=2, history=50, state=state)
    got = claim(w, 10)
    assert len(got) == 10 and sorted(i for i in got if i > 1000) == [1001, 1002]
    got = claim(w, 10)  # live lane empty now: all history
    assert len(got) == 10 and all(i <= 1000 for i in got)


def test_with_no_backlog_live_takes_the_whole_batch(w: Warehouse) -> None:
    _seed(w, live=15, history=0, state="eligible")
    assert len(_deliver(w, 10)) == 10


def test_a_live_element_waits_at_most_one_batch_behind_any_backlog(w: Warehouse) -> None:
    _seed(w, live=0, history=500, state="eligible")
    assert _deliver(w, 10)  # the backlog is being worked on
    _seed(w, live=1, history=0, state="eligible")
    assert 1001 in _deliver(w, 10)  # the next batch already carries the new element


def test_without_lanes_the_history_order_is_unchanged(w: Warehouse) -> None:
    _seed(w, live=0, history=5, state="eligible")
    assert _deliver(w, 3, elements.NO_LANES) == [1, 2, 3]
