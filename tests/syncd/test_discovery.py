"""Discovery: element_state follows a3.correspondence_eligibility, set-based, nothing moves
backwards, and an incremental run reads only new ids, elements whose wait time has passed and
elements of services whose whitelist flag changed (SQL against the real warehouse)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from flytt.control import upgrade
from flytt.warehouse import Warehouse
from syncd.discovery import discover

DDL = """
create schema a3;
create table a3.correspondence_eligibility (
    a2_correspondence_id int primary key, resource_id text, a2_created_at timestamptz,
    is_eligible boolean, exclusion_reason text, quarantine_reason_code text,
    eligible_from timestamptz);
create table a3.resources (resource_id text primary key, is_whitelisted boolean);
insert into a3.resources values ('svc-a', true), ('svc-b', false);
insert into a3.correspondence_eligibility values
    (1, 'svc-a', '2020-01-01', true, null, null, '2020-01-01'),
    (2, 'svc-a', '2020-01-02', false, 'purged_in_a2', null, '2020-01-02'),
    (3, 'svc-a', '2020-01-03', false, null, 'missing_sender', '2020-01-03'),
    (4, 'svc-b', '2020-01-04', false, 'service_not_whitelisted', null, '2020-01-04'),
    (5, 'svc-a', now(), false, 'within_migration_wait_time', null, now() + interval '1 day');
"""


@pytest.fixture()
def wh(fresh_warehouse: Warehouse) -> Iterator[Warehouse]:
    upgrade(fresh_warehouse)
    with fresh_warehouse.engine.begin() as conn:
        conn.execute(sa.text(DDL))
    yield fresh_warehouse


def _discover(wh: Warehouse, **kw: Any) -> dict[str, int]:
    with wh.engine.begin() as conn:
        return discover(conn, **kw)


def _states(wh: Warehouse) -> dict[int, tuple[str, str | None]]:
    with wh.engine.connect() as conn:
        return {
            i: (s, r)
            for i, s, r in conn.execute(
                sa.text("select a2_correspondence_id, state, state_reason from flytt.element_state")
            ).all()
        }


def _sql(wh: Warehouse, sql: str) -> None:
    with wh.engine.begin() as conn:
        conn.execute(sa.text(sql))


def test_first_discovery_classifies_every_element(wh: Warehouse) -> None:
    counts = _discover(wh)
    assert counts["full_discovery"] == 1
    assert counts["discovered"] == 5
    assert counts["new_eligible"] == 1 and counts["new_excluded"] == 3
    assert _states(wh) == {
        1: ("eligible", None),
        2: ("excluded", "purged_in_a2"),
        3: ("quarantined", "missing_sender"),
        4: ("excluded", "service_not_whitelisted"),
        5: ("excluded", "within_migration_wait_time"),
    }
    with wh.engine.connect() as conn:
        # the wait-time element remembers when to look again
        assert conn.execute(
            sa.text(
                "select next_attempt_at > now() from flytt.element_state "
                "where a2_correspondence_id = 5"
            )
        ).scalar_one()
    again = _discover(wh)
    assert again["full_discovery"] == 0
    assert (again["discovered"], again["reclassified"]) == (0, 0)


def test_incremental_discovery_finds_new_ids_wait_time_and_whitelist_changes(
    wh: Warehouse,
) -> None:
    _discover(wh)
    _sql(
        wh,
        "insert into a3.correspondence_eligibility values "
        "(300000, 'svc-a', '2020-01-06', true, null, null, '2020-01-06');"
        # element 5's wait is over; service b gets whitelisted
        "update a3.correspondence_eligibility set is_eligible = true, exclusion_reason = null "
        "where a2_correspondence_id in (4, 5);"
        "update a3.resources set is_whitelisted = true where resource_id = 'svc-b';"
        "update flytt.element_state set next_attempt_at = now() - interval '1 second' "
        "where a2_correspondence_id = 5;"
        # element 2 changes in A2 too, but no incremental signal says so
        "update a3.correspondence_eligibility set is_eligible = true, exclusion_reason = null "
        "where a2_correspondence_id = 2;",
    )
    with wh.engine.begin() as conn:
        # pretend many ids came since the last discovery, so 1..5 lie below the overlap window
        conn.execute(
            sa.text(
                "update flytt.cursor set value = jsonb_set(value::jsonb, '{high_water}', "
                "'200000')::text where name = 'delivery.discovery'"
            )
        )
    counts = _discover(wh)
    assert counts["full_discovery"] == 0
    assert counts["discovered"] == 1  # 300000
    assert counts["reclassified"] == 2  # 4 and 5
    states = _states(wh)
    assert states[300000] == ("eligible", None)
    assert states[4] == ("eligible", None) and states[5] == ("eligible", None)
    assert states[2] == ("excluded", "purged_in_a2")
    # the periodic full discovery catches the rest
    assert _discover(wh, full=True)["reclassified"] == 1
    assert _states(wh)[2] == ("eligible", None)


def test_nothing_moves_backwards(wh: Warehouse) -> None:
    _discover(wh)
    _sql(
        wh,
        "update flytt.element_state set state = 'migrated' where a2_correspondence_id = 1;"
        "insert into flytt.quarantine (entity, entity_id, a2_correspondence_id, reason_code) "
        "values ('correspondence', '4', 4, 'notification_reminder_conflict');"
        "update flytt.element_state set state = 'quarantined', "
        "state_reason = 'notification_reminder_conflict' where a2_correspondence_id = 4;"
        "update a3.correspondence_eligibility set is_eligible = false, "
        "exclusion_reason = 'purged_in_a2' where a2_correspondence_id = 1;"
        "update a3.correspondence_eligibility set is_eligible = true, exclusion_reason = null "
        "where a2_correspondence_id = 4;",
    )
    assert _discover(wh, full=True)["reclassified"] == 0
    states = _states(wh)
    assert states[1] == ("migrated", None)
    assert states[4] == ("quarantined", "notification_reminder_conflict")


def test_dry_run_discovery_rolls_back_with_its_cursor(wh: Warehouse) -> None:
    with wh.engine.connect() as conn:
        tx = conn.begin()
        assert discover(conn)["discovered"] == 5
        tx.rollback()
    assert _states(wh) == {}
    with wh.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from flytt.cursor")).scalar_one() == 0
