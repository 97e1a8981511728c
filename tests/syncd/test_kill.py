"""kill -9 in the middle of migrating 10 000 elements, then a re-run: the A3 replica's tables
hold exactly one correspondence per eligible element, with all its attachments and events
(checked in SQL against the replica's tables). The one slow test of the delivery suite."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from flytt.warehouse import Warehouse
from syncd import synthetic as seed
from tests.cli import FLYTT, run_flytt
from tests.syncd.checks import a3_fingerprint, duplicates, mart_fingerprint
from tests.syncd.conftest import Replicas

N = 10_000


def _migrated(warehouse: Warehouse) -> int:
    with warehouse.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("select count(*) from flytt.element_state where state = 'migrated'")
            ).scalar_one()
        )


@pytest.mark.slow
def test_kill_9_mid_migration_then_rerun_gives_exactly_one_of_each(
    warehouse: Warehouse, tmp_path: Path, replicas: Replicas
) -> None:
    seed.seed_marts(warehouse.engine, N, services=5)
    env = {
        **replicas.env(warehouse, tmp_path),
        "FLYTT_A2_SOURCE_URL": seed.write_a2_attachments(tmp_path / "a2.sqlite", N),
    }
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTT_")} | env
    proc = subprocess.Popen(
        [FLYTT, "migrate"], env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 600
        while _migrated(warehouse) < N // 4:
            assert proc.poll() is None, "flytt migrate ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    killed_at = _migrated(warehouse)
    assert killed_at < N
    with warehouse.engine.connect() as conn:
        # the killed run left leases behind and its run row says 'running'
        assert (
            conn.execute(
                sa.text("select count(*) from flytt.element_state where lease_owner is not null")
            ).scalar_one()
            > 0
        )

    rerun = run_flytt("migrate", env=env, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    with warehouse.engine.connect() as conn:
        assert duplicates(conn) == {"correspondences": 0, "attachments": 0, "statuses": 0}
        a3 = a3_fingerprint(conn)
        assert len(a3) == N  # exactly one correspondence per eligible element
        assert a3 == mart_fingerprint(conn)  # with all its attachments and events
        assert (
            conn.execute(sa.text('select count(*) from correspondence."Attachments"')).scalar_one()
            == N // 4
        )
        states = dict(
            conn.execute(
                sa.text("select state, count(*) from flytt.element_state group by 1")
            ).all()
        )
        assert states == {"migrated": N, "quarantined": len(seed.CRASH_IDS)}
        assert (
            conn.execute(
                sa.text("select count(*) from flytt.element_state where lease_owner is not null")
            ).scalar_one()
            == 0
        )
