"""`flytt demo --live`: after the one-off demo, the daemon carries new sandbox correspondences
to Dialogporten as they arrive (steps 2.1 and 6), on the embedded default.

Correctness only: the latency figures are printed and measured by the steady-state benchmark
(README "Benchmarks"), never asserted against a clock here.
"""

import contextlib
import json
import os
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from .cli import run_flytt
from .test_demo import _replica_url, _servers_for

SIZE = "300"


@pytest.fixture()
def data_dir(tmp_path: Path):  # type: ignore[no-untyped-def]
    d = tmp_path / ".flytt"
    yield d
    pid_file = d / "pg" / "postmaster.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGTERM)


@pytest.mark.slow
def test_demo_live_carries_every_new_message_to_dialogporten(data_dir: Path) -> None:
    env = {
        "FLYTT_DATA_DIR": str(data_dir),
        "FLYTT_CONFIG": str(data_dir / "none.toml"),
        "NO_COLOR": "1",
    }
    res = run_flytt("demo", "--size", SIZE, "--live", "45", "--rate", "4", env=env, timeout=1500)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Daemon job migrate" in res.stdout and "Steady-state latency" in res.stdout
    assert _servers_for(data_dir / "pg") == 1

    report = json.loads(run_flytt("report", "--json", env=env).stdout)
    status = json.loads(run_flytt("status", "--json", env=env).stdout)
    steps = status["steps"]
    assert steps["2.1"]["state"] == "running" and steps["6"]["state"] == "running"
    # step 2.2: the feed's status changes on migrated elements reached A3, none waits
    synced = report["sync"]["a2_to_a3"]
    assert synced["sent"] > 0 and synced["pending"] == 0, synced
    assert synced["failed"] == 0 and synced["retrying"] == 0, synced
    assert steps["2.2"]["state"] == "running"
    latency = report["steady_state"]
    assert latency["count"] == steps["6"]["new_available"] >= 1
    assert 0 < latency["p50_s"] <= latency["p95_s"] <= latency["max_s"]

    # every new correspondence that became eligible during the live run is available, with
    # exactly one A3 correspondence and one dialog; none waits
    started = steps["2.1"]["transition_started_at"]
    url = _replica_url(data_dir)
    warehouse = sa.create_engine(url.replace("/flytt_sandbox?", "/flytt?"))
    replica = sa.create_engine(url)
    try:
        with warehouse.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select a2_correspondence_id, state, dialog_id from flytt.element_state "
                    "where eligible_from >= :s and state not in ('excluded', 'quarantined')"
                ),
                {"s": started},
            ).all()
        with replica.connect() as conn:
            in_a3 = dict(
                conn.execute(
                    sa.text(
                        'select "Altinn2CorrespondenceId", count(*) from '
                        'correspondence."Correspondences" where "Altinn2CorrespondenceId" = '
                        "any(:ids) group by 1"
                    ),
                    {"ids": [r[0] for r in rows]},
                ).all()
            )
    finally:
        warehouse.dispose()
        replica.dispose()
    assert rows and {r[1] for r in rows} == {"available"}
    assert all(r[2] is not None for r in rows)
    assert in_a3 == {r[0]: 1 for r in rows}
