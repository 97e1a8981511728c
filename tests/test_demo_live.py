"""`flytt demo --live`: after the one-off demo, the daemon carries new sandbox correspondences
to Dialogporten as they arrive (steps 2.1 and 6), and status changes both ways (step 2.2: the
live A2 feed's to A3, the simulated recipients' reads, confirmations and purges in A3 to A2),
on the embedded default.

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
ROUTE_TYPES = {"syncmarkasread": "read", "syncconfirm": "confirm", "syncdelete": "delete"}
"""A2 bridge route → the event type A3 sent (Altinn Storage `CorrespondenceClient.cs`)."""


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
    # and the recipients' actions in A3 reached A2, none waits or failed, none came back
    back = report["sync"]["a3_to_a2"]
    assert back["applied"] > 0 and back["pending"] == 0 and back["failed"] == 0, back
    assert report["sync"]["echoes_suppressed"] > 0, report["sync"]
    assert report["sync"]["mismatches"] == 0, report["sync"]["mismatched_events"]
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
        with warehouse.connect() as conn:
            applied = conn.execute(
                sa.text(
                    "select a2_correspondence_id, event_type, party_id, event_timestamp "
                    "from flytt.bridge_inbox where outcome = 'applied'"
                )
            ).all()
        with replica.connect() as conn:
            # no A3 status twice (A3 keys its statuses to the second: a3-correspondence §1.7)
            doubled = conn.execute(
                sa.text(
                    'select "CorrespondenceId", "Status", count(*) '
                    'from correspondence."CorrespondenceStatuses" '
                    'group by 1, 2, date_trunc(\'second\', "StatusChanged"), "PartyUuid" '
                    "having count(*) > 1"
                )
            ).all()
            # every call A3 made to the daemon's SBL-bridge endpoint went through in the end
            unsent = conn.execute(
                sa.text(
                    "select state, count(*) from sandbox_hangfire.sbl_bridge_jobs "
                    "where state <> 'succeeded' group by 1"
                )
            ).all()
            migrated_twice = conn.execute(
                sa.text(
                    'select "Altinn2CorrespondenceId" from correspondence."Correspondences" '
                    'where "Altinn2CorrespondenceId" is not null group by 1 having count(*) > 1'
                )
            ).all()
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
    assert doubled == [] and migrated_twice == [] and unsent == []
    # each event the A2 bridge took is a status row it wrote into the sandbox A2 database
    a2 = sa.create_engine(f"sqlite:///{data_dir / 'a2.sqlite'}")
    try:
        with a2.connect() as conn:
            written = {
                (int(r[0]), ROUTE_TYPES[r[1]], int(r[2]))
                for r in conn.execute(
                    sa.text(
                        "select se_reportee_element_id, route, party_id "
                        "from sandbox_a2_bridge_event"
                    )
                )
            }
    finally:
        a2.dispose()
    assert {(int(r[0]), r[1], int(r[2])) for r in applied} <= written
    assert rows and {r[1] for r in rows} == {"available"}
    assert all(r[2] is not None for r in rows)
    assert in_a3 == {r[0]: 1 for r in rows}
