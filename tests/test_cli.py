import json
from pathlib import Path

from flytt.warehouse import Warehouse

from .cli import run_flytt
from .conftest import cli_env

COMMANDS = (
    "demo",
    "sandbox",
    "load",
    "build",
    "migrate",
    "sync",
    "expose",
    "status",
    "report",
    "docs",
)


def test_help_lists_the_commands() -> None:
    res = run_flytt("--help", env={"COLUMNS": "200"})
    assert res.returncode == 0
    for command in COMMANDS:
        assert f" {command} " in res.stdout, command


def test_status_json_on_a_new_warehouse(warehouse: Warehouse, tmp_path: Path) -> None:
    res = run_flytt("status", "--json", env=cli_env(warehouse, tmp_path))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc) >= {"counts_by_state", "steps"}
    assert set(doc["steps"]) == {"1.1", "1.2", "2.1", "2.2", "3", "4", "5", "6"}
    assert all(step["state"] == "not_started" for step in doc["steps"].values())
    assert sum(doc["counts_by_state"].values()) == 0
    assert doc["nothing_migrated"] is True


def test_status_text_says_nothing_migrated(warehouse: Warehouse, tmp_path: Path) -> None:
    res = run_flytt("status", env=cli_env(warehouse, tmp_path))
    assert res.returncode == 0, res.stderr
    assert "Nothing has been migrated yet." in res.stdout


def test_runs_are_recorded(warehouse: Warehouse, tmp_path: Path) -> None:
    res = run_flytt("report", "--json", env=cli_env(warehouse, tmp_path))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["failed"] == [] and doc["quarantine_by_reason"] == []


def test_bad_option_is_one_clear_line(tmp_path: Path) -> None:
    res = run_flytt("migrate", "--limit", "zero", env={"FLYTT_DATA_DIR": str(tmp_path)})
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "--limit" in res.stderr


def test_run_of_a_killed_process_is_marked_interrupted(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    import socket

    import sqlalchemy as sa

    from flytt.control import upgrade

    upgrade(warehouse)
    dead_pid = 2**22 + 12345  # above the default pid_max: no such process
    with warehouse.engine.begin() as conn:
        conn.execute(
            sa.text("insert into flytt.run (command, actor, pid) values ('load', :actor, :pid)"),
            {"actor": f"someone@{socket.gethostname()}", "pid": dead_pid},
        )
        conn.execute(
            sa.text(
                "insert into flytt.run (command, actor, pid) values ('load', 'x@elsewhere', :pid)"
            ),
            {"pid": dead_pid},
        )
    res = run_flytt("report", "--json", env=cli_env(warehouse, tmp_path))
    assert res.returncode == 0, res.stderr
    listed = {r["run_id"]: r["status"] for r in json.loads(res.stdout)["recent_runs"]}
    with warehouse.engine.connect() as conn:
        rows = dict(
            conn.execute(
                sa.text("select actor, status from flytt.run where pid = :pid"), {"pid": dead_pid}
            ).all()
        )
    assert rows == {f"someone@{socket.gethostname()}": "interrupted", "x@elsewhere": "running"}
    assert sorted(listed.values()) == ["interrupted", "running"]
