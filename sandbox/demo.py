"""`flytt demo`: the main job end to end on the embedded default.

sandbox A2 data → load → build → migrate → expose → report. The sandbox replicas of A3,
Dialogporten, Resource Registry and Maskinporten run in-process on free localhost ports for the
duration of the demo. A step whose implementation is not there yet is reported as skipped with
its issue number, never faked. Re-running after an interruption resumes: every step is
idempotent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from flytt.console import err, out, print_summary
from flytt.errors import NotAvailableYet, UserError
from flytt.settings import Settings, load_settings


@contextlib.contextmanager
def _replicas(settings: Settings) -> Iterator[Settings]:
    """Start the sandbox replicas in-process; yield settings that point at them."""
    from sandbox.services import running_replicas

    with running_replicas(settings) as replica_settings:
        yield replica_settings


def run_demo(size: int, seed: int) -> None:
    """Run every available step in order and print the report.

    Raises:
        UserError: a step failed in a way the user can fix (message names what to do).
    """
    from flytt.control import upgrade
    from flytt.control.runs import recorded_run
    from flytt.pipeline import collect_report
    from flytt.report import print_report
    from flytt.warehouse import resolve_warehouse

    settings = load_settings()
    warehouse = resolve_warehouse(settings)
    upgrade(warehouse)
    out.print(f"Warehouse: {warehouse.describe()}")

    from flytt.pipeline import run_build, run_expose, run_load, run_migrate
    from sandbox.a2.generate import generate_a2

    with _replicas(settings) as live:
        steps: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
            ("sandbox", "Sandbox A2 database", lambda: generate_a2(live, size=size, seed=seed)),
            ("load", "Load A2 → a2_raw", lambda: run_load(live, warehouse)),
            ("build", "Build the A3 mapping (dbt)", lambda: run_build(warehouse)),
            ("migrate", "Migrate to Altinn 3", lambda: run_migrate(live, warehouse)),
            # The sandbox has no delegation step yet, so the demo marks every service ready
            # unless FLYTT_READY_SERVICES says otherwise (issue #5).
            (
                "expose",
                "Expose in Dialogporten",
                lambda: run_expose(
                    live.model_copy(update={"ready_services": live.ready_services or ["*"]}),
                    warehouse,
                ),
            ),
        ]
        with recorded_run(warehouse, "demo", {"size": size, "seed": seed}) as run:
            for key, title, step in steps:
                err.print(f"[bold]▶ {title}[/]")
                try:
                    counts = step()
                except NotAvailableYet as exc:
                    out.print(f"  skipped: {exc.message}")
                    run.counts[key] = "skipped"
                    continue
                print_summary(f"  {title}", counts)
                run.counts[key] = counts
                if key == "build" and (counts.get("errors") or counts.get("test_failures")):
                    raise UserError("dbt build failed in the demo; see the output above.")
    out.rule("Report")
    print_report(collect_report(warehouse))
