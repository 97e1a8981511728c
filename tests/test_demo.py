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
    assert set(doc["steps"]) == {"1.1", "1.2", "2.1", "2.2", "3", "4", "5", "6"}
