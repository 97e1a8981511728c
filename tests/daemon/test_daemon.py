"""`flytt daemon`: one cycle in-process (`--once`), and the service as operators run it (a
subprocess with its HTTP port, stopped with SIGTERM), against the sandbox replicas."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import croniter
import httpx
import pytest
import sqlalchemy as sa

from flytt.control import upgrade
from flytt.daemon.queue import cron_every
from flytt.daemon.service import run_once
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from sandbox.a2.generate import generate_a2
from sandbox.a3.inspect import counts_by_altinn2_id
from sandbox.faults import FaultPlan
from sandbox.serve import free_port
from sandbox.services import Replicas, start_replicas
from tests.cli import FLYTT
from tests.conftest import cli_env, settings_for

SIZE = 80


@pytest.mark.parametrize("seconds", [5, 15, 30, 60, 300])
def test_each_schedule_fires_at_its_period(seconds: int) -> None:
    fires = croniter.croniter(cron_every(seconds), 1_800_000_007.0)
    times = [fires.get_next(float) for _ in range(4)]
    assert {b - a for a, b in itertools.pairwise(times)} == {float(seconds)}


@pytest.fixture()
def live(fresh_warehouse: Warehouse, tmp_path: Path) -> Iterator[Replicas]:
    upgrade(fresh_warehouse)
    settings = settings_for(fresh_warehouse, tmp_path, ready_services=["*"])
    with start_replicas(settings) as replicas:
        generate_a2(replicas.settings, size=SIZE, seed=11)
        yield replicas


def _states(warehouse: Warehouse) -> dict[str, int]:
    with warehouse.engine.connect() as conn:
        return dict(
            conn.execute(
                sa.text("select state, count(*) from flytt.element_state group by 1")
            ).all()
        )


def _eligible(warehouse: Warehouse) -> int:
    with warehouse.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("select count(*) from a3.correspondence_eligibility where is_eligible")
            ).scalar_one()
        )


def _a3_correspondences(live: Replicas) -> dict[int, int]:
    """A3 correspondences per A2 id in the A3 replica (1 for each migrated element)."""
    assert live.sandbox_database_url is not None
    return {
        a2: c.correspondences for a2, c in counts_by_altinn2_id(live.sandbox_database_url).items()
    }


@pytest.mark.slow
def test_once_runs_the_whole_cycle_and_a_second_cycle_sends_nothing(
    live: Replicas, fresh_warehouse: Warehouse
) -> None:
    first = {r.name: r for r in run_once(live.settings, fresh_warehouse)}
    assert [(n, r.outcome) for n, r in first.items()] == [
        ("load", "succeeded"),
        ("build", "succeeded"),
        ("test", "succeeded"),
        ("migrate", "succeeded"),
        ("sync", "succeeded"),
        ("bridge", "succeeded"),
        ("expose", "succeeded"),
    ]
    eligible = _eligible(fresh_warehouse)
    assert eligible > 0
    assert first["migrate"].counts["delivered"] == eligible
    assert first["expose"].counts["made_available"] == eligible
    assert _states(fresh_warehouse).get("available") == eligible
    a3 = _a3_correspondences(live)
    assert len(a3) == eligible and set(a3.values()) == {1}

    second = {r.name: r for r in run_once(live.settings, fresh_warehouse)}
    assert second["build"].counts == {"up_to_date": 1}  # nothing new was loaded
    assert first["test"].counts["test_failures"] == 0 and first["test"].counts["tests_passed"] > 0
    assert second["migrate"].counts.get("delivered", 0) == 0
    assert second["expose"].counts["made_available"] == 0
    assert first["sync"].counts["events_sent"] == second["sync"].counts["events_sent"] == 0
    assert _a3_correspondences(live) == a3


def _env(live: Replicas, warehouse: Warehouse, data_dir: Path, port: int) -> dict[str, str]:
    s: Settings = live.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTT_")}
    env.update(cli_env(warehouse, data_dir))
    env.update(
        {
            "FLYTT_A3_BASE_URL": s.a3_base_url,
            "FLYTT_DIALOGPORTEN_BASE_URL": s.dialogporten_base_url,
            "FLYTT_RESOURCE_REGISTRY_BASE_URL": s.resource_registry_base_url,
            "FLYTT_MASKINPORTEN_TOKEN_URL": s.maskinporten_token_url,
            "FLYTT_MASKINPORTEN_CLIENT_ID": s.maskinporten_client_id,
            "FLYTT_MASKINPORTEN_KEY_FILE": str(s.maskinporten_key_file),
            "FLYTT_READY_SERVICES": '["*"]',
            "FLYTT_DAEMON_PORT": str(port),
            "FLYTT_DAEMON_MIGRATE_EVERY_SECONDS": "2",
            "FLYTT_DAEMON_EXPOSE_EVERY_SECONDS": "2",
            "FLYTT_DAEMON_LOAD_EVERY_SECONDS": "5",
            "FLYTT_CONCURRENCY": "2",
            "FLYTT_BATCH_SIZE": "4",
        }
    )
    return env


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
def test_the_service_answers_health_and_metrics_and_stops_cleanly_on_sigterm(
    live: Replicas, fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    live.faults["a3"].configure(
        FaultPlan(rate_slow=1.0, slow_s=0.5)
    )  # delivery in flight at SIGTERM
    port = free_port()
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [FLYTT, "daemon"],
            env=_env(live, fresh_warehouse, tmp_path, port),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        _wait_for(healthy, 60, "/healthz")
        _wait_for(lambda: _states(fresh_warehouse).get("migrated", 0) > 0, 240, "a first delivery")
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        for family in (
            "flytt_job_runs_total",
            "flytt_job_duration_seconds",
            "flytt_info{environment=",
            "flytt_elements{",
            "flytt_oldest_waiting_seconds",
            'flytt_sbl_bridge_events{outcome="pending"} 0.0',
        ):
            assert family in metrics, family
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200

        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = proc.wait(timeout=60)
        assert code == 0, log_path.read_text()[-3000:]
        assert time.monotonic() - started < 30
    finally:
        if proc.poll() is None:
            proc.kill()
    with fresh_warehouse.engine.connect() as conn:
        leased = conn.execute(
            sa.text(
                "select count(*) from flytt.element_state "
                "where lease_owner is not null and lease_expires_at > now()"
            )
        ).scalar_one()
        open_runs = conn.execute(
            sa.text("select count(*) from flytt.run where status = 'running'")
        ).scalar_one()
    assert leased == 0
    assert open_runs == 0
    lines = [line for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert lines and all('"level"' in line for line in lines)
