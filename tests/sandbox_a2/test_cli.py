"""`flytt sandbox a2` through the real command line, `--live` stopped with Ctrl-C (issue #3)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.cli import FLYTT, run_flytt


def _env(data_dir: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLYTT_")}
    return base | {
        "FLYTT_DATA_DIR": str(data_dir),
        "FLYTT_CONFIG": str(data_dir / "absent.toml"),
        "NO_COLOR": "1",
        "COLUMNS": "120",
    }


def test_sandbox_a2_then_live_until_ctrl_c(tmp_path: Path) -> None:
    env = _env(tmp_path)
    made = run_flytt("sandbox", "a2", "--size", "80", "--seed", "1", env=env)
    assert made.returncode == 0, made.stderr
    assert "a2_correspondence" in made.stdout and "80" in made.stdout
    proc = subprocess.Popen(
        [FLYTT, "sandbox", "a2", "--size", "80", "--seed", "1", "--live", "50"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        meta = tmp_path / "a2.sqlite"
        if meta.exists() and "seq.live_run" in _meta_keys(meta):
            break
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "already generated" in stderr  # same size and seed: kept, not regenerated
    assert "Live changes:" in stdout


def _meta_keys(path: Path) -> set[str]:
    import sqlite3

    try:
        with sqlite3.connect(path) as conn:
            return {k for (k,) in conn.execute("select key from sandbox_meta")}
    except sqlite3.Error:
        return set()
