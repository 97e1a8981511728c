"""User mistakes end with one sentence and a non-zero exit code, never a stack trace."""

import sqlite3
from pathlib import Path

from flytt.warehouse import Warehouse

from .cli import run_flytt
from .conftest import cli_env


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_sandbox_refuses_to_replace_tables_it_did_not_write(tmp_path: Path) -> None:
    target = tmp_path / "real.sqlite"
    with sqlite3.connect(target) as conn:
        conn.execute("create table a2_correspondence (x int)")
        conn.execute("insert into a2_correspondence values (42)")
    res = run_flytt(
        "sandbox",
        "a2",
        "--size",
        "10",
        "--url",
        f"sqlite:///{target}",
        env={"FLYTT_DATA_DIR": str(tmp_path), "FLYTT_CONFIG": str(tmp_path / "none.toml")},
    )
    assert res.returncode == 1
    assert "refusing to replace" in _one_error_line(res.stderr)
    with sqlite3.connect(target) as conn:
        assert conn.execute("select x from a2_correspondence").fetchall() == [(42,)]


def test_load_from_a_missing_sqlite_file_says_so(warehouse: Warehouse, tmp_path: Path) -> None:
    missing = tmp_path / "gone.sqlite"
    env = {**cli_env(warehouse, tmp_path), "FLYTT_A2_SOURCE_URL": f"sqlite:///{missing}"}
    res = run_flytt("load", env=env)
    assert res.returncode == 1
    line = _one_error_line(res.stderr)
    assert "does not exist" in line and "FLYTT_A2_SOURCE_URL" in line
    assert not missing.exists()


def test_build_select_matching_nothing_fails(warehouse: Warehouse, tmp_path: Path) -> None:
    res = run_flytt("build", "--select", "does_not_exist", env=cli_env(warehouse, tmp_path))
    assert res.returncode == 1
    assert "--select 'does_not_exist' matches no model" in _one_error_line(res.stderr)
