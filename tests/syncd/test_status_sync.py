"""Step 2.2, A2 → A3 (`flytt sync`, `syncd.status_sync`): new A2 events on migrated
correspondences reach the A3 replica once, through its sync endpoints, on the sandbox A2 as
it changes (`sandbox.a2.live`), with the real load and dbt build in between.

The oracle is the A3 replica's own tables: after a pass, every Read, Confirmed and Archived
event of a migrated element in the marts is a row of `CorrespondenceStatuses` (to the second,
as A3 keys them), and nothing is there twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flytt.control import sync_state, upgrade
from flytt.pipeline import run_build, run_load, run_migrate, run_sync
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from sandbox.a2.generate import generate_a2
from sandbox.a2.live import run_live
from sandbox.faults import FaultPlan
from sandbox.serve import free_port
from sandbox.services import Replicas, start_replicas
from tests.cli import FLYTT, run_flytt
from tests.conftest import cli_env, settings_for

SYNCABLE = (4, 6, 9)  # Read, Confirmed, Archived (a3-correspondence §1.7)


@pytest.fixture()
def world(fresh_warehouse: Warehouse, tmp_path: Path) -> Iterator[Replicas]:
    """A generated sandbox A2, loaded, built and delivered to the A3 replica."""
    upgrade(fresh_warehouse)
    settings = settings_for(fresh_warehouse, tmp_path, ready_services=["*"])
    with start_replicas(settings) as replicas:
        generate_a2(replicas.settings, size=80, seed=23)
        _refresh(replicas.settings, fresh_warehouse)
        delivered = run_migrate(replicas.settings, fresh_warehouse, show_progress=False)
        assert delivered["delivered"] > 10, delivered
        yield replicas


def _refresh(settings: Settings, warehouse: Warehouse) -> None:
    run_load(settings, warehouse)
    built = run_build(warehouse, quiet=True, data_tests=False)
    assert not built.get("errors"), built


def _feed(replicas: Replicas, warehouse: Warehouse, changes: int = 150) -> None:
    """Sync what is there, let the sandbox A2 change, then load and build the change."""
    run_sync(replicas.settings, warehouse)
    fed = run_live(replicas.settings, rate=1000, max_changes=changes)
    assert fed.get("a2_correspondence_status_event", 0) > 0, fed
    _refresh(replicas.settings, warehouse)


def _a_migrated_element_with_a_syncable_event(conn: sa.Connection) -> int:
    return int(
        conn.execute(
            sa.text(
                "select e.a2_correspondence_id from flytt.element_state e "
                "join a3.correspondence_status_events m "
                "on m.altinn2_correspondence_id = e.a2_correspondence_id "
                "where e.state = 'migrated' and m.status = any(:codes) "
                "order by 1 limit 1"
            ),
            {"codes": list(SYNCABLE)},
        ).scalar_one()
    )


def _missing_in_a3(warehouse: Warehouse, replicas: Replicas) -> list[tuple[int, int, str]]:
    """Syncable status events of migrated elements in the marts that the A3 replica lacks:
    `(A2 id, status, time to the second)`."""
    with warehouse.engine.connect() as conn:
        wanted = conn.execute(
            sa.text(
                "select e.a2_correspondence_id, e.a3_correspondence_id, m.status, "
                "to_char(date_trunc('second', m.status_changed at time zone 'UTC'), "
                "'YYYY-MM-DD HH24:MI:SS') "
                "from a3.correspondence_status_events m join flytt.element_state e "
                "on e.a2_correspondence_id = m.altinn2_correspondence_id "
                "where e.state in ('migrated', 'available') and m.status = any(:codes)"
            ),
            {"codes": list(SYNCABLE)},
        ).all()
    engine = sa.create_engine(replicas.sandbox_database_url)  # type: ignore[arg-type]
    try:
        with engine.connect() as conn:
            have = {
                (str(r[0]), int(r[1]), str(r[2]))
                for r in conn.execute(
                    sa.text(
                        'select "CorrespondenceId", "Status", to_char(date_trunc(\'second\', '
                        "\"StatusChanged\" at time zone 'UTC'), 'YYYY-MM-DD HH24:MI:SS') "
                        'from correspondence."CorrespondenceStatuses"'
                    )
                )
            }
    finally:
        engine.dispose()
    return sorted(
        {(int(a2), int(code), str(at)) for a2, a3, code, at in wanted}
        - {(int(a2), int(code), str(at)) for a2, a3, code, at in wanted
           if (str(a3), int(code), str(at)) in have}
    )  # fmt: skip


A3_TABLES = (
    "CorrespondenceStatuses",
    "CorrespondenceNotifications",
    "CorrespondenceForwardingEvents",
    "CorrespondenceDeleteEvents",
)


def _a3_rows(replicas: Replicas) -> dict[str, int]:
    """Rows per A3 replica event table."""
    engine = sa.create_engine(replicas.sandbox_database_url)  # type: ignore[arg-type]
    try:
        with engine.connect() as conn:
            return {
                t: int(conn.execute(sa.text(f'select count(*) from correspondence."{t}"')).one()[0])
                for t in A3_TABLES
            }
    finally:
        engine.dispose()


@pytest.mark.slow
def test_new_a2_events_reach_a3_once_and_a_second_pass_sends_nothing(
    world: Replicas, fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    settings = world.settings
    assert run_sync(settings, fresh_warehouse)["events_sent"] == 0  # nothing new yet
    fed = run_live(settings, rate=1000, max_changes=120)
    assert fed.get("a2_correspondence_status_event", 0) > 0, fed
    _refresh(settings, fresh_warehouse)
    assert _missing_in_a3(fresh_warehouse, world), "the feed changed no migrated element"

    first = run_sync(settings, fresh_warehouse)
    assert first["events_sent"] > 0 and first["failed"] == 0 and first["retry_later"] == 0
    assert _missing_in_a3(fresh_warehouse, world) == []
    rows = _a3_rows(world)

    again = run_sync(settings, fresh_warehouse)
    assert again["events_sent"] == 0 and again["failed"] == 0
    assert _a3_rows(world) == rows  # nothing twice

    env = {**cli_env(fresh_warehouse, tmp_path), **_replica_env(world)}
    by_hand = run_flytt("sync", env=env)  # the command, recorded in flytt.run
    assert by_hand.returncode == 0, by_hand.stderr
    assert "events_sent" in by_hand.stdout and _a3_rows(world) == rows
    report = json.loads(run_flytt("report", "--json", env=env).stdout)["sync"]["a2_to_a3"]
    assert report["sent"] == first["events_sent"]
    assert report["pending"] == 0 and report["failed"] == 0
    step = json.loads(run_flytt("status", "--json", env=env).stdout)["steps"]["2.2"]
    assert step["state"] == "running" and step["a2_to_a3"]["sent"] == first["events_sent"]
    assert step["evidence"].startswith(f"A2 → A3: {first['events_sent']} events sent, 0 pending")


def _replica_env(replicas: Replicas) -> dict[str, str]:
    s = replicas.settings
    return {
        "FLYTT_A3_BASE_URL": s.a3_base_url,
        "FLYTT_MASKINPORTEN_TOKEN_URL": s.maskinporten_token_url,
        "FLYTT_MASKINPORTEN_CLIENT_ID": s.maskinporten_client_id or "",
        "FLYTT_MASKINPORTEN_KEY_FILE": str(s.maskinporten_key_file),
    }


@pytest.mark.slow
def test_an_element_delivered_during_a_pass_still_gets_its_newer_events(
    world: Replicas, fresh_warehouse: Warehouse
) -> None:
    # a pass has read every load; an element that delivery recorded after that pass began,
    # with a payload older than those loads, is looked at again by the next pass
    settings = world.settings
    _feed(world, fresh_warehouse, changes=120)
    run_sync(settings, fresh_warehouse)
    rows = _a3_rows(world)
    with fresh_warehouse.engine.begin() as conn:
        target = _a_migrated_element_with_a_syncable_event(conn)
        conn.execute(
            sa.text(
                "update flytt.sync_state set synced_load_id = '', delivered_at = now() "
                "where a2_correspondence_id = :id"
            ),
            {"id": target},
        )
    resent = run_sync(settings, fresh_warehouse)
    assert resent["events_sent"] > 0  # its events were read again …
    assert _a3_rows(world) == rows  # … and A3 kept each once (de-dup to the second)
    assert _missing_in_a3(fresh_warehouse, world) == []


@pytest.mark.slow
def test_an_unknown_a3_id_fails_the_element_with_its_code_and_faults_are_retried(
    world: Replicas, fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    settings = world.settings
    _feed(world, fresh_warehouse)
    with fresh_warehouse.engine.begin() as conn:
        lost = _a_migrated_element_with_a_syncable_event(conn)
        real_a3 = conn.execute(
            sa.text(
                "select a3_correspondence_id from flytt.element_state "
                "where a2_correspondence_id = :id"
            ),
            {"id": lost},
        ).scalar_one()
        conn.execute(
            sa.text(
                "update flytt.element_state set a3_correspondence_id = :a3 "
                "where a2_correspondence_id = :id"
            ),
            {"a3": uuid.uuid4(), "id": lost},
        )
        conn.execute(
            sa.text(
                "update flytt.sync_state set synced_load_id = '', delivered_at = now() "
                "where a2_correspondence_id = :id"
            ),
            {"id": lost},
        )
    world.faults["a3"].configure(FaultPlan(rate_503=0.3, rate_429=0.1, retry_after_s=0, seed=5))
    outcome = run_sync(settings, fresh_warehouse)
    world.faults["a3"].off()
    assert outcome["failed"] == 1
    with fresh_warehouse.engine.connect() as conn:
        waiting = sync_state.summary(conn)
    # what waits for a retry or failed is pending, not sent
    assert waiting["retrying"] == outcome["retry_later"] and waiting["failed"] == 1
    assert waiting["pending"] >= 1 + outcome["retry_later"]
    while outcome["retry_later"]:  # what the faults outlasted is tried again when due
        with fresh_warehouse.engine.begin() as conn:
            conn.execute(sa.text("update flytt.sync_state set next_attempt_at = now()"
                                 " where next_attempt_at is not null"))  # fmt: skip
        outcome = run_sync(settings, fresh_warehouse)
    env = {**cli_env(fresh_warehouse, tmp_path), **_replica_env(world)}
    report = json.loads(run_flytt("report", "--json", env=env).stdout)["sync"]
    assert report["a2_to_a3"]["failed"] == 1
    assert report["sync_failed_by_error"] == [{"error_code": "a3_not_found", "elements": 1}]
    missing = _missing_in_a3(fresh_warehouse, world)
    assert {m[0] for m in missing} <= {lost}  # only the element A3 does not know

    # the operator repairs the id and puts the refused element back in line
    with fresh_warehouse.engine.begin() as conn:
        conn.execute(
            sa.text(
                "update flytt.element_state set a3_correspondence_id = :a3 "
                "where a2_correspondence_id = :id"
            ),
            {"a3": real_a3, "id": lost},
        )
    again = run_flytt("sync", "--retry-failed", env=env)
    assert again.returncode == 0, again.stderr
    assert (
        json.loads(run_flytt("report", "--json", env=env).stdout)["sync"]["a2_to_a3"]["failed"] == 0
    )
    assert _missing_in_a3(fresh_warehouse, world) == []


@pytest.mark.slow
def test_a_pass_killed_half_way_is_finished_by_the_next_with_nothing_twice(
    world: Replicas, fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    settings = world.settings
    _feed(world, fresh_warehouse)
    assert _missing_in_a3(fresh_warehouse, world)
    env = {**cli_env(fresh_warehouse, tmp_path), **_replica_env(world), "FLYTT_CONCURRENCY": "1"}
    world.faults["a3"].configure(FaultPlan(rate_slow=1.0, slow_s=0.3))
    proc = subprocess.Popen([FLYTT, "sync"], env={**os.environ, **env})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            with fresh_warehouse.engine.connect() as conn:
                sent = conn.execute(
                    sa.text("select coalesce(sum(events_sent), 0) from flytt.sync_state")
                ).scalar_one()
            if sent:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the pass ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    world.faults["a3"].off()
    assert _missing_in_a3(fresh_warehouse, world)  # the kill left work undone
    finished = run_flytt("sync", env=env)
    assert finished.returncode == 0, finished.stderr
    assert _missing_in_a3(fresh_warehouse, world) == []
    rows = _a3_rows(world)
    assert run_sync(settings, fresh_warehouse)["events_sent"] == 0
    assert _a3_rows(world) == rows


@pytest.mark.slow
def test_an_a3_that_refuses_connections_costs_nothing_and_says_what_to_do(
    world: Replicas, fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    _feed(world, fresh_warehouse)
    before = _missing_in_a3(fresh_warehouse, world)
    assert before
    env = {**cli_env(fresh_warehouse, tmp_path), **_replica_env(world)}
    down = run_flytt("sync", env={**env, "FLYTT_A3_BASE_URL": f"http://127.0.0.1:{free_port()}"})
    assert down.returncode == 1 and "Traceback" not in down.stderr
    assert "refused the connection" in down.stderr and "FLYTT_A3_BASE_URL" in down.stderr
    with fresh_warehouse.engine.connect() as conn:
        waiting = sync_state.summary(conn)
    assert waiting["retrying"] == waiting["failed"] == 0  # no attempt was counted
    assert waiting["pending"] >= len(before)
    up = run_flytt("sync", env=env)
    assert up.returncode == 0, up.stderr
    assert _missing_in_a3(fresh_warehouse, world) == []
