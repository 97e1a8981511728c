"""Step 2.2, A3 → A2 (`syncd.bridge_apply`): events in `flytt.bridge_inbox` reach the sandbox
A2 database through the A2 SBL-bridge replica (`sandbox.a2.bridge`) once, in time order, and
no A2-bridge failure loses one.

The oracle is the sandbox A2 database itself: the status rows the bridge replica wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from flytt.control import bridge_inbox, upgrade
from flytt.errors import UserError
from flytt.pipeline import run_bridge_apply
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from loaders.source import resolve_a2_url
from sandbox.a2.bridge import create_app as create_a2_bridge
from sandbox.a2.generate import generate_a2
from sandbox.faults import FaultMiddleware, FaultPlan, Faults
from sandbox.serve import free_port, serve_in_thread
from tests.conftest import settings_for

READ, CONFIRMED, PURGED = 2, 6, 103  # A2 internal status codes (a2-model §1.5)


@dataclass
class World:
    settings: Settings
    warehouse: Warehouse
    a2: sa.Engine
    faults: Faults
    element: int  # an A2 correspondence that needs confirmation and is not deleted
    party: int  # its recipient party

    def receive(self, event_type: str, at: datetime, element: int | None = None) -> None:
        with self.warehouse.engine.begin() as conn:
            bridge_inbox.accept(conn, element or self.element, self.party, event_type, at)

    def a2_events(self, element: int | None = None) -> list[tuple[int, int]]:
        """(status, acting party) of the element's status rows that the bridge wrote."""
        with self.a2.connect() as conn:
            return [
                (int(r[0]), int(r[1]))
                for r in conn.execute(
                    sa.text(
                        "select e.status_type, e.actor_party_id "
                        "from a2_correspondence_status_event e join sandbox_a2_bridge_event b "
                        "on b.status_event_id = e.status_event_id "
                        "where e.se_reportee_element_id = :id order by e.status_event_id"
                    ),
                    {"id": element or self.element},
                )
            ]

    def inbox(self) -> list[tuple[str, str, int, str | None]]:
        with self.warehouse.engine.connect() as conn:
            return [
                (r[0], r[1], int(r[2]), r[3])
                for r in conn.execute(
                    sa.text(
                        "select event_type, outcome, attempts, last_error_code "
                        "from flytt.bridge_inbox order by event_id"
                    )
                )
            ]


@pytest.fixture()
def world(fresh_warehouse: Warehouse, tmp_path: Path) -> Iterator[World]:
    upgrade(fresh_warehouse)
    base = settings_for(fresh_warehouse, tmp_path)
    generate_a2(base, size=40, seed=11)
    app = create_a2_bridge(resolve_a2_url(base))
    faults = Faults()
    with ExitStack() as stack:
        url = stack.enter_context(serve_in_thread(FaultMiddleware(app, faults)))
        settings = base.model_copy(
            update={"a2_bridge_base_url": f"{url}/serviceengine/api/", "max_attempts": 3}
        )
        engine: sa.Engine = app.state.engine
        with engine.begin() as conn:
            element, party = conn.execute(
                sa.text(
                    "select se_reportee_element_id, reportee_party_id from a2_correspondence "
                    "where trash_state <> 2 order by se_reportee_element_id limit 1"
                )
            ).one()
            # few sandbox services require confirmation (3 %): make this one do so
            conn.execute(
                sa.text(
                    "update a2_correspondence set is_confirmation_needed = 1 "
                    "where se_reportee_element_id = :id"
                ),
                {"id": element},
            )
        yield World(settings, fresh_warehouse, engine, faults, int(element), int(party))


def _due_now(warehouse: Warehouse) -> None:
    """Let the events that wait for their next attempt be due (instead of sleeping)."""
    with warehouse.engine.begin() as conn:
        conn.execute(sa.text("update flytt.bridge_inbox set next_attempt_at = now()"))


def test_events_reach_a2_once_in_time_order(world: World) -> None:
    t = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    world.receive("confirm", t + timedelta(minutes=1))
    world.receive("read", t)
    first = run_bridge_apply(world.settings, world.warehouse)
    assert first["applied"] == 2 and first["failed"] == 0
    assert world.a2_events() == [(READ, world.party), (CONFIRMED, world.party)]
    world.receive("read", t)  # A3 sent it again
    again = run_bridge_apply(world.settings, world.warehouse)
    assert again["events"] == 0
    assert world.a2_events() == [(READ, world.party), (CONFIRMED, world.party)]
    assert [(e[0], e[1]) for e in world.inbox()] == [("confirm", "applied"), ("read", "applied")]


def test_a2_bridge_faults_are_retried_and_nothing_is_written_twice(world: World) -> None:
    world.receive("read", datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    world.faults.configure(FaultPlan(rate_503=1.0))
    down = run_bridge_apply(world.settings, world.warehouse)
    assert down["retry_later"] == 1 and down["applied"] == 0
    assert world.inbox() == [("read", "pending", 1, "a2_bridge_http_503")]
    assert world.a2_events() == []
    # answered after it wrote: the call is sent again and the bridge does not write it twice
    world.faults.configure(FaultPlan(rate_drop_after=1.0))
    _due_now(world.warehouse)
    run_bridge_apply(world.settings, world.warehouse)
    assert world.a2_events() == [(READ, world.party)]
    world.faults.off()
    _due_now(world.warehouse)
    run_bridge_apply(world.settings, world.warehouse)
    assert world.inbox()[0][:2] == ("read", "applied")
    assert world.a2_events() == [(READ, world.party)]


def test_an_event_waits_while_an_earlier_one_of_its_element_waits_for_a_retry(
    world: World,
) -> None:
    t = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    world.receive("read", t)
    world.receive("confirm", t + timedelta(seconds=30))
    world.faults.configure(FaultPlan(rate_503=1.0))
    counts = run_bridge_apply(world.settings, world.warehouse)
    assert (counts["events"], counts["retry_later"]) == (1, 1)
    assert world.inbox() == [
        ("read", "pending", 1, "a2_bridge_http_503"),
        ("confirm", "pending", 0, None),  # not sent before the read
    ]
    world.faults.off()
    _due_now(world.warehouse)
    assert run_bridge_apply(world.settings, world.warehouse)["applied"] == 2
    assert world.a2_events() == [(READ, world.party), (CONFIRMED, world.party)]


def test_an_unreachable_a2_bridge_costs_no_attempt(world: World) -> None:
    world.receive("read", datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    closed = world.settings.model_copy(
        update={
            "a2_bridge_base_url": f"http://127.0.0.1:{free_port('127.0.0.1')}/serviceengine/api/"
        }
    )
    with pytest.raises(UserError, match="cannot be reached"):
        run_bridge_apply(closed, world.warehouse)
    assert world.inbox() == [("read", "pending", 0, None)]
    assert run_bridge_apply(world.settings, world.warehouse)["applied"] == 1


def test_a_refused_event_fails_with_its_code_until_retried(world: World) -> None:
    world.receive("read", datetime(2026, 12, 4, 9, 0, tzinfo=UTC), element=2_000_000_000)
    counts = run_bridge_apply(world.settings, world.warehouse)
    assert counts["failed"] == 1
    assert world.inbox() == [("read", "failed", 1, "a2_bridge_rejected_404")]
    with world.warehouse.engine.connect() as conn:
        assert bridge_inbox.summary(conn)["failed"] == 1
    again = run_bridge_apply(world.settings, world.warehouse, retry_failed=True)
    assert again["retried"] == 1 and again["failed"] == 1


def test_a_read_after_a_deletion_in_a2_is_superseded(world: World) -> None:
    t = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    world.receive("delete", t)
    world.receive("read", t + timedelta(seconds=5))
    counts = run_bridge_apply(world.settings, world.warehouse)
    assert (counts["applied"], counts["superseded"], counts["failed"]) == (1, 1, 0)
    assert world.a2_events() == [(PURGED, world.party)]
    assert [e[1] for e in world.inbox()] == ["applied", "superseded"]
