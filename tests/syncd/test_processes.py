"""Two `flytt migrate` processes at once on one warehouse deliver each element exactly once
(row leases with SKIP LOCKED), through the real command line; after a run, a dry run and a
second run send nothing. Each test seeds its own marts on a clean slate (conftest.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import sqlalchemy as sa

from flytt.warehouse import Warehouse
from sandbox.faults import FaultPlan
from syncd import synthetic as seed
from syncd.delivery import run_migrate
from tests.cli import FLYTT, run_flytt
from tests.syncd.checks import a3_fingerprint, duplicates, mart_fingerprint
from tests.syncd.conftest import Replicas

N = 600


def _env(replicas: Replicas, warehouse: Warehouse, data_dir: Path, n: int) -> dict[str, str]:
    return {
        **replicas.env(warehouse, data_dir),
        "FLYTT_A2_SOURCE_URL": seed.write_a2_attachments(data_dir / "a2.sqlite", n),
        "FLYTT_CONCURRENCY": "4",
        "FLYTT_BATCH_SIZE": "8",
    }


def test_two_concurrent_migrates_deliver_each_element_once(
    warehouse: Warehouse, tmp_path: Path, replicas: Replicas
) -> None:
    seed.seed_marts(warehouse.engine, N, services=3, crash=False)
    env = _env(replicas, warehouse, tmp_path, N)
    # every answer takes 20 ms, so neither process can finish alone before the other starts
    replicas.a3_faults.configure(FaultPlan(rate_slow=1.0, slow_s=0.02))
    before = replicas.a3_faults.stats["requests"]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTT_")} | env
    procs = [
        subprocess.Popen(
            [FLYTT, "migrate"],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    replicas.a3_faults.off()
    assert [p.returncode for p in procs] == [0, 0], outputs
    with warehouse.engine.connect() as conn:
        runs = (
            conn.execute(
                sa.text("select counts from flytt.run where command = 'migrate' order by run_id")
            )
            .scalars()
            .all()
        )
        assert len(runs) == 2
        delivered = [int(r["delivered"]) for r in runs]
        assert sum(delivered) == N
        assert all(d > 0 for d in delivered), delivered  # both processes did work
        assert sum(int(r["already_there"]) for r in runs) == 0
        assert duplicates(conn) == {"correspondences": 0, "attachments": 0, "statuses": 0}
        assert a3_fingerprint(conn) == mart_fingerprint(conn)
    # one request per correspondence and one per attachment: nothing was sent twice
    assert replicas.a3_faults.stats["requests"] - before == N + N // 4


def test_cli_dry_run_and_a_second_run_send_nothing(
    warehouse: Warehouse, tmp_path: Path, replicas: Replicas
) -> None:
    n = 12
    seed.seed_marts(warehouse.engine, n, services=3, crash=False)
    env = _env(replicas, warehouse, tmp_path, n)
    first = run_migrate(
        replicas.settings(warehouse, tmp_path),
        warehouse,
        attachment_bytes=seed.attachment_bytes,
        show_progress=False,
    )
    assert first["delivered"] == n
    before = replicas.a3_faults.stats["requests"]
    dry = run_flytt("migrate", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "would_send" in dry.stdout
    again = run_flytt("migrate", env=env)
    assert again.returncode == 0, again.stderr
    assert replicas.a3_faults.stats["requests"] == before
    with warehouse.engine.connect() as conn:
        last = (
            conn.execute(
                sa.text(
                    "select counts from flytt.run where command = 'migrate' order by run_id desc"
                )
            )
            .scalars()
            .first()
        )
    assert last is not None and last["delivered"] == 0
