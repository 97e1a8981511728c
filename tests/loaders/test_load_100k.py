"""Acceptance of issue #3 at the named size, through the real command line:

`flytt sandbox a2 --size 100000`, then `flytt load` killed with SIGKILL in the middle of its load
step and run again: `a2_raw` equals the source (counts and keys of every table). A further
`flytt load` loads 0 rows; after `--live` changes, the next load brings exactly those rows.
One 100k database and one load are shared by the whole module (test budget).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from flytt.settings import Settings
from flytt.warehouse import Warehouse
from loaders.contract import LOAD_CONTRACTS
from loaders.pipeline import PIPELINE_NAME, pipelines_dir, run_load
from loaders.source import a2_engine
from sandbox.a2.live import run_live
from tests.cli import FLYTT, run_flytt
from tests.conftest import cli_env
from tests.loaders.compare import assert_raw_equals_source, source_counts

pytestmark = pytest.mark.slow
SIZE = 100_000


def _load_in_progress(workdir: Path) -> bool:
    """True once dlt has finished at least one load job of a normalized package (mid-load)."""
    return any((workdir / "load" / "normalized").glob("*/completed_jobs/*"))


@pytest.fixture(scope="module")
def killed_then_rerun(warehouse: Warehouse, module_data_dir: Path, settings: Settings) -> dict:
    env = cli_env(warehouse, module_data_dir)
    generated = run_flytt("sandbox", "a2", "--size", str(SIZE), "--seed", "42", env=env)
    assert generated.returncode == 0, generated.stderr
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTT_")} | env
    workdir = Path(pipelines_dir(settings, warehouse)) / PIPELINE_NAME
    proc = subprocess.Popen(
        [FLYTT, "load"], env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600
    while proc.poll() is None and not _load_in_progress(workdir) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rerun = run_flytt("load", env=env)
    return {"returncode": proc.returncode, "rerun": rerun, "env": env}


def test_kill_9_mid_load_then_rerun_leaves_a2_raw_equal_to_the_source(
    killed_then_rerun: dict, settings: Settings, warehouse: Warehouse
) -> None:
    assert killed_then_rerun["returncode"] == -signal.SIGKILL  # it really was killed mid-load
    rerun = killed_then_rerun["rerun"]
    assert rerun.returncode == 0, rerun.stderr
    engine = a2_engine(settings)
    try:
        counts = assert_raw_equals_source(engine, warehouse)
    finally:
        engine.dispose()
    assert counts["a2_correspondence"] == SIZE
    assert 3.0 * SIZE < counts["a2_correspondence_status_event"] < 3.8 * SIZE
    assert all(counts[name] > 0 for name in LOAD_CONTRACTS)


def test_second_load_loads_nothing(killed_then_rerun: dict) -> None:
    again = run_flytt("load", env=killed_then_rerun["env"])
    assert again.returncode == 0, again.stderr
    assert "Loaded 0 rows into a2_raw" in again.stdout


def test_after_live_changes_the_next_load_brings_exactly_those(
    killed_then_rerun: dict, settings: Settings, warehouse: Warehouse
) -> None:
    changed = run_live(settings, rate=10_000, max_changes=60)
    assert changed["a2_correspondence"] > 0 and changed["a2_correspondence_status_event"] > 0
    assert changed.get("a2_delegation_change_log", 0) > 0
    loaded = run_load(settings, warehouse)
    assert loaded == {name: changed.get(name, 0) for name in LOAD_CONTRACTS}
    engine = a2_engine(settings)
    try:
        assert assert_raw_equals_source(engine, warehouse) == source_counts(engine)
    finally:
        engine.dispose()
