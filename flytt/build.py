"""`flytt build`: run `dbt build` for the A2 → A3 mapping and count what happened."""

from __future__ import annotations

import time
from typing import Any

from flytt.console import err
from flytt.control import locks
from flytt.dbt import run_dbt
from flytt.errors import UserError
from flytt.warehouse import Warehouse


def _say_waiting(holders: list[locks.Holder]) -> None:
    who = "; ".join(str(h) for h in holders) or "another session"
    err.print(
        f"Waiting for the marts lock before the build: held by {who}. The build starts when "
        "they finish (delivery and exposure hold it while they read the marts)."
    )


def run_build(
    warehouse: Warehouse,
    select: str | None = None,
    full_refresh: bool = False,
    *,
    quiet: bool = False,
    data_tests: bool = True,
) -> dict[str, Any]:
    """Run `dbt build` (models, unit tests, data tests) and return counts.

    `quiet` makes dbt print errors only; `data_tests=False` leaves the data tests out (they
    are most of a small build's time; the daemon runs them in a job of their own, `run_tests`).

    The build holds the marts lock exclusively (`flytt.control.locks`): it waits for delivery
    and exposure, on any host, to finish reading the marts, and they wait for it, because a
    table rebuild drops and re-creates the views over it.

    Raises:
        UserError: `select` matches nothing, or dbt could not run at all.

    Returns:
        `{"models": n, "tests_passed": n, "test_failures": n, "warnings": n, "errors": n,
        "skipped": n, "seconds": s}`; `models` counts built models, seeds and snapshots.
    """
    args = ["--quiet", "build"] if quiet else ["build"]  # quiet: dbt prints errors only
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    if not data_tests:
        args += ["--exclude", "resource_type:test"]
    started = time.monotonic()
    with locks.marts_exclusive(warehouse.engine, on_wait=_say_waiting):
        result = run_dbt(warehouse, args)  # dbt prints its own per-node progress
    if select and not result.nodes:
        raise UserError(
            f"--select '{select}' matches no model or test; list them with "
            '`dbt ls` in dbt_project/ (after `eval "$(flytt env)"`).'
        )
    return {
        "models": sum(
            1
            for n in result.nodes
            if n.resource_type in {"model", "seed", "snapshot"} and n.status == "success"
        ),
        "tests_passed": result.count("pass"),
        "test_failures": result.count("fail"),
        "warnings": result.count("warn"),
        "errors": result.count("error"),
        "skipped": result.count("skipped"),
        "seconds": round(time.monotonic() - started, 1),
    }


def run_tests(warehouse: Warehouse, *, quiet: bool = True) -> dict[str, Any]:
    """Run the project's data tests (`dbt test`, no model is rebuilt) and return counts.

    The tests read the marts, so they hold the marts lock shared, like delivery.

    Returns:
        `{"tests_passed": n, "test_failures": n, "warnings": n, "errors": n, "seconds": s}`.

    Raises:
        UserError: dbt could not run at all.
    """
    started = time.monotonic()
    with locks.marts_shared(warehouse.engine):
        result = run_dbt(warehouse, ["--quiet", "test"] if quiet else ["test"])
    return {
        "tests_passed": result.count("pass"),
        "test_failures": result.count("fail"),
        "warnings": result.count("warn"),
        "errors": result.count("error"),
        "seconds": round(time.monotonic() - started, 1),
    }
