"""`flytt build`: run `dbt build` for the A2 → A3 mapping and count what happened."""

from __future__ import annotations

import time
from typing import Any

from flytt.dbt import run_dbt
from flytt.errors import UserError
from flytt.warehouse import Warehouse


def run_build(
    warehouse: Warehouse, select: str | None = None, full_refresh: bool = False
) -> dict[str, Any]:
    """Run `dbt build` (models, unit tests, data tests) and return counts.

    Raises:
        UserError: `select` matches nothing, or dbt could not run at all.

    Returns:
        `{"models": n, "tests_passed": n, "test_failures": n, "warnings": n, "errors": n,
        "skipped": n, "seconds": s}`; `models` counts built models, seeds and snapshots.
    """
    args = ["build"]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    started = time.monotonic()
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
