"""The embedded default: started once, reused, and robust to kill -9 and stale pid files."""

import contextlib
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from .cli import run_flytt


def _postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("embedded") / ".flytt"
    yield d
    pgdata = d / "pg"
    if (pgdata / "postmaster.pid").exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(_postmaster_pid(pgdata), signal.SIGTERM)


def _env(data_dir: Path) -> dict[str, str]:
    return {"FLYTT_DATA_DIR": str(data_dir), "FLYTT_CONFIG": str(data_dir / "none.toml")}


def test_embedded_server_is_started_then_reused(data_dir: Path) -> None:
    first = run_flytt("status", "--json", env=_env(data_dir))
    assert first.returncode == 0, first.stderr
    pid = _postmaster_pid(data_dir / "pg")
    second = run_flytt("status", "--json", env=_env(data_dir))
    assert second.returncode == 0, second.stderr
    assert _postmaster_pid(data_dir / "pg") == pid
    postgres_main = [
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "postgres"
        and "-D" in (p.info["cmdline"] or [])
        and str(data_dir / "pg") in " ".join(p.info["cmdline"] or [])
    ]
    assert len(postgres_main) == 1


def test_killed_server_with_stale_pid_file_is_restarted(data_dir: Path) -> None:
    run_flytt("status", env=_env(data_dir))
    pgdata = data_dir / "pg"
    old = _postmaster_pid(pgdata)
    os.kill(old, signal.SIGKILL)
    psutil.Process(old).wait(10) if psutil.pid_exists(old) else None
    time.sleep(0.5)
    assert (pgdata / "postmaster.pid").exists()  # stale pid file left behind
    res = run_flytt("status", "--json", env=_env(data_dir))
    assert res.returncode == 0, res.stderr
    assert _postmaster_pid(pgdata) != old


def test_killed_command_leaves_nothing_that_blocks(data_dir: Path) -> None:
    import subprocess

    from .cli import FLYTT

    env = {**os.environ, **_env(data_dir)}
    proc = subprocess.Popen(
        [FLYTT, "report"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(1.0)
    proc.kill()
    proc.wait(10)
    res = run_flytt("status", "--json", env=_env(data_dir))
    assert res.returncode == 0, res.stderr
