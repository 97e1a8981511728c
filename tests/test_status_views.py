"""`flytt status` across environments: `FLYTT_ENVIRONMENT` names the deployment, `--merge`
combines the `--json` documents of several into one steps × environments table, and
`--markdown` prints the paragraph operators publish, matching the JSON step states."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from flytt.control import upgrade
from flytt.status import collect_status
from flytt.warehouse import Warehouse
from tests.cli import run_flytt
from tests.conftest import cli_env


def _seed(w: Warehouse, rows: list[tuple[int, str, int]]) -> None:
    """(A2 id, state, creation year) rows in `flytt.element_state`."""
    upgrade(w)
    now = datetime.now(UTC)
    with w.engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into flytt.element_state (a2_correspondence_id, resource_id, "
                "a2_created_at, state, a3_correspondence_id, migrated_at, available_at) "
                "values (:id, 'svc', :created, :state, case when :state in "
                "('migrated', 'available') then gen_random_uuid() end, "
                "case when :state in ('migrated', 'available') then :at end, "
                "case when :state = 'available' then :at end)"
            ),
            [
                {
                    "id": i,
                    "state": state,
                    "created": datetime(year, 6, 1, tzinfo=UTC),
                    "at": now - timedelta(hours=1),
                }
                for i, state, year in rows
            ],
        )


def _status_json(w: Warehouse, tmp: Path, environment: str) -> Path:
    env = {**cli_env(w, tmp / environment), "FLYTT_ENVIRONMENT": environment}
    res = run_flytt("status", "--json", env=env)
    assert res.returncode == 0, res.stderr
    path = tmp / f"{environment}.json"
    path.write_text(res.stdout)
    return path


def test_merge_and_markdown_of_two_environments(
    warehouse: Warehouse, fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    # TT02: everything delivered, 2025 exposed, one element of 2024 still waits for step 5
    _seed(warehouse, [(1, "available", 2025), (2, "available", 2025), (3, "migrated", 2024)])
    # PROD: nothing delivered yet
    _seed(fresh_warehouse, [(1, "eligible", 2025), (2, "eligible", 2024)])
    tt02 = _status_json(warehouse, tmp_path, "tt02")
    prod = _status_json(fresh_warehouse, tmp_path, "prod")
    docs = [json.loads(p.read_text()) for p in (tt02, prod)]
    assert [d["environment"] for d in docs] == ["tt02", "prod"]
    assert docs[0]["steps"]["1.1"]["state"] == "done"
    assert docs[0]["steps"]["5"]["state"] == "running"
    assert (
        docs[0]["steps"]["5"]["evidence"] == "done for elements created from 2025, running for 2024"
    )
    assert docs[1]["steps"]["1.1"]["state"] == "not_started"

    env = {"NO_COLOR": "1", "COLUMNS": "200"}
    table = run_flytt("status", "--merge", str(tt02), "--merge", str(prod), env=env)
    assert table.returncode == 0, table.stderr
    header = next(line for line in table.stdout.splitlines() if "step" in line and "what" in line)
    assert "TT02" in header and "PROD" in header and header.index("TT02") < header.index("PROD")
    row_11 = next(line for line in table.stdout.splitlines() if line.strip("│ ").startswith("1.1"))
    assert "done" in row_11 and "not_started" in row_11

    en = run_flytt("status", "--merge", str(tt02), "--merge", str(prod), "--markdown", env=env)
    when = datetime.fromisoformat(docs[1]["generated_at"])
    expected_en = [
        f"As of {when.day} {when:%B %Y}: in TT02 step 1.1 is done; step 5 is running;",
        "steps 1.2, 2.1, 2.2, 3, 4 and 6 are not started",
        "(step 5 is done for messages from 2025 onwards);",
        "in PROD steps 1.1, 1.2, 2.1, 2.2, 3, 4, 5 and 6 are not started.",
    ]
    assert " ".join(en.stdout.split()) == " ".join(expected_en)
    nb = run_flytt(
        "status",
        "--merge",
        str(tt02),
        "--merge",
        str(prod),
        "--markdown",
        "--language",
        "nb",
        env=env,
    )
    expected_nb = [
        f"Per {when:%d.%m.%Y}: i TT02 steg 1.1 er ferdig; steg 5 pågår;",
        "steg 1.2, 2.1, 2.2, 3, 4 og 6 er ikke startet",
        "(steg 5 er ferdig for meldinger fra 2025 og nyere);",
        "i PROD steg 1.1, 1.2, 2.1, 2.2, 3, 4, 5 og 6 er ikke startet.",
    ]
    assert " ".join(nb.stdout.split()) == " ".join(expected_nb)


def test_bad_merge_input_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "report.json"
    bad.write_text('{"counts_by_state": {}}')
    res = run_flytt("status", "--merge", str(bad), env={"NO_COLOR": "1"})
    assert res.returncode == 1
    assert "is not a `flytt status --json` document" in res.stderr
    assert "Traceback" not in res.stderr
    # usage mistakes are usage errors (exit 2), as for every other option
    missing = run_flytt("status", "--merge", str(tmp_path / "absent.json"), env={"NO_COLOR": "1"})
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    folder = run_flytt("status", "--merge", str(tmp_path), env={"NO_COLOR": "1"})
    assert folder.returncode == 2 and "is a folder, not a file" in folder.stderr
    other = run_flytt("status", "--merge", "ftp://host/status.json", env={"NO_COLOR": "1"})
    assert other.returncode == 2 and "neither a file nor an http(s) URL" in other.stderr
    language = run_flytt("status", "--merge", str(bad), "--markdown", "--language", "de")
    assert language.returncode == 2 and "'en', 'nb'" in language.stderr.replace("\n", " ")


def test_a_bad_environment_name_says_what_is_allowed(tmp_path: Path) -> None:
    res = run_flytt(
        "status", env={"FLYTT_ENVIRONMENT": "Prod Env", "FLYTT_DATA_DIR": str(tmp_path)}
    )
    assert res.returncode == 1
    assert "FLYTT_ENVIRONMENT" in res.stderr and "lower-case letters, digits" in res.stderr


def test_a_running_daemon_job_does_not_turn_a_finished_step_back_to_running(
    fresh_warehouse: Warehouse,
) -> None:
    _seed(fresh_warehouse, [(1, "available", 2025), (2, "available", 2025)])
    with fresh_warehouse.engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into flytt.run (command, arguments, actor, pid, status) values "
                "('migrate', '{\"daemon\": true}', 'flytt@elsewhere', 1, 'running'), "
                "('expose', '{\"daemon\": true}', 'flytt@elsewhere', 1, 'running')"
            )
        )
    steps = collect_status(fresh_warehouse, "tt02")["steps"]
    assert (steps["1.1"]["state"], steps["5"]["state"]) == ("done", "done")
    with fresh_warehouse.engine.begin() as conn:  # a migrate started by hand is progress
        conn.execute(
            sa.text(
                "insert into flytt.run (command, arguments, actor, pid, status) values "
                "('migrate', '{}', 'flytt@elsewhere', 1, 'running')"
            )
        )
    assert collect_status(fresh_warehouse, "tt02")["steps"]["1.1"]["state"] == "running"


def test_two_documents_of_one_environment_are_merged_with_a_warning(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    _seed(fresh_warehouse, [(1, "available", 2025)])
    first = _status_json(fresh_warehouse, tmp_path, "local")
    second = tmp_path / "again.json"
    second.write_text(first.read_text())
    res = run_flytt("status", "--merge", str(first), "--merge", str(second), env={"NO_COLOR": "1"})
    assert res.returncode == 0, res.stderr
    assert "several documents name the environment 'local'" in res.stderr


def test_status_peers_must_be_status_urls(warehouse: Warehouse, tmp_path: Path) -> None:
    env = {**cli_env(warehouse, tmp_path), "FLYTT_STATUS_PEERS": '["prod-flytt"]'}
    res = run_flytt("status", env=env)
    assert res.returncode == 1 and "'prod-flytt' is not an http(s) URL" in res.stderr
    env["FLYTT_STATUS_PEERS"] = "prod-flytt"  # not JSON at all
    res = run_flytt("status", env=env)
    assert res.returncode == 1
    assert "FLYTT_STATUS_PEERS='[\"http://prod-flytt:9480/status.json\"]'" in res.stderr
