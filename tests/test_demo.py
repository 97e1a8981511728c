"""`flytt demo` on the embedded default survives kill -9 and Ctrl-C, and a re-run completes."""

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa

from sandbox.a3.inspect import counts_by_altinn2_id, dialog_ids

from .cli import FLYTT, run_flytt

SIZE = "300"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("demo") / ".flytt"
    yield d
    pid_file = d / "pg" / "postmaster.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGTERM)


def _env(data_dir: Path) -> dict[str, str]:
    return {
        "FLYTT_DATA_DIR": str(data_dir),
        "FLYTT_CONFIG": str(data_dir / "none.toml"),
        "NO_COLOR": "1",
    }


def _servers_for(pgdata: Path) -> int:
    return sum(
        1
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "postgres"
        and "-D" in (p.info["cmdline"] or [])
        and str(pgdata) in " ".join(p.info["cmdline"] or [])
    )


def _interrupt_after(data_dir: Path, seconds: float, sig: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTT_")}
    env.update(_env(data_dir))
    proc = subprocess.Popen(
        [FLYTT, "demo", "--size", SIZE],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(seconds)
    proc.send_signal(sig)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def test_demo_killed_then_rerun_completes(data_dir: Path) -> None:
    _interrupt_after(data_dir, 8.0, signal.SIGKILL)
    _interrupt_after(data_dir, 8.0, signal.SIGINT)
    res = run_flytt("demo", "--size", SIZE, env=_env(data_dir), timeout=1200)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Report" in res.stdout
    assert _servers_for(data_dir / "pg") == 1

    status = run_flytt("status", "--json", env=_env(data_dir))
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    counts = doc["counts_by_state"]
    # every sandbox correspondence ends in exactly one state; nothing is left half-done
    assert sum(counts.values()) == int(SIZE)
    assert counts["available"] > 0
    assert counts["eligible"] == counts["migrated"] == counts["failed"] == 0
    assert doc["steps"]["5"]["state"] == "done"

    # the A3 replica holds exactly one correspondence per element made available, with its dialog
    engine = sa.create_engine(_replica_url(data_dir))
    try:
        per_element = counts_by_altinn2_id(engine)
        dialogs = dialog_ids(engine)
    finally:
        engine.dispose()
    assert len(per_element) == counts["available"]
    assert all(c.correspondences == 1 for c in per_element.values())
    assert len(dialogs) == counts["available"]


def _replica_url(data_dir: Path) -> str:
    socket_dir = next(
        line
        for line in (data_dir / "pg" / "postmaster.pid").read_text().splitlines()
        if line.startswith("/") and (Path(line) / ".s.PGSQL.5432").exists()
    )
    return f"postgresql+psycopg2://postgres@/flytt_sandbox?host={socket_dir}"
