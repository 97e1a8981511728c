"""The daemon's jobs: one transition step each, run once, with what it did in numbers.

Every job re-reads the state it needs from the warehouse (the queue carries no payload), so a
job that runs twice, late, or on another host does no harm: delivery and exposure claim
elements with leases, load and build are incremental. Each job is recorded in `flytt.run` under
its step's command name (`load`, `build`, `migrate`, `sync`, `bridge`, `expose`) with
`{"daemon": true}`.

Order of one cycle (`CYCLE`): load the A2 increment → build the marts (models and unit tests)
→ the data tests → discover and deliver (steps 1.2, 2.1) → new A2 events of migrated
elements to A3 (step 2.2) → the events A3 sent to the daemon's SBL-bridge endpoint to A2
(step 2.2, A3 → A2) → make available and verify (steps 5, 6). The data tests are a
job of their own because they are most of a small build's time: the build stays short,
which keeps new messages' latency low, and the tests run every
`daemon_test_every_seconds` (a failure is a failed job in the log, `/metrics` and `flytt.run`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flytt.build import run_tests
from flytt.control import runs
from flytt.control.runs import recorded_run
from flytt.errors import MartsNotBuilt, NotAvailableYet
from flytt.pipeline import (
    DeliveryOptions,
    run_bridge_apply,
    run_build,
    run_expose,
    run_load,
    run_migrate,
    run_sync,
)
from flytt.redact import redact
from flytt.settings import Settings
from flytt.warehouse import Warehouse

CYCLE = ("load", "build", "test", "migrate", "sync", "bridge", "expose")
"""The jobs in the order one cycle runs them."""

StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class JobOutcome:
    """What one job did: `name`, `outcome` (`succeeded`, `failed`, `skipped`), its counts (the
    step's own numbers; `error` holds a one-line reason when it failed) and its duration in
    seconds (monotonic clock)."""

    name: str
    outcome: str
    counts: dict[str, Any]
    seconds: float


def _load(settings: Settings, warehouse: Warehouse, should_stop: StopCheck) -> dict[str, Any]:
    return run_load(settings, warehouse)


def _build(settings: Settings, warehouse: Warehouse, should_stop: StopCheck) -> dict[str, Any]:
    with warehouse.engine.connect() as conn:
        built = runs.last_succeeded_at(conn, "build", started=True)
        loaded = runs.rows_loaded_since(conn, built)
    if built is not None and not loaded:
        return {"up_to_date": 1}  # no load since the last build began brought a row (any host)
    counts = run_build(warehouse, quiet=True, data_tests=False)
    if counts.get("errors") or counts.get("test_failures"):
        raise BuildFailedError(counts)
    return counts


def _test(settings: Settings, warehouse: Warehouse, should_stop: StopCheck) -> dict[str, Any]:
    counts = run_tests(warehouse)
    if counts.get("errors") or counts.get("test_failures"):
        raise BuildFailedError(counts)
    return counts


def _migrate(settings: Settings, warehouse: Warehouse, should_stop: StopCheck) -> dict[str, Any]:
    return run_migrate(
        settings,
        warehouse,
        DeliveryOptions(
            limit=settings.daemon_elements_per_job, show_progress=False, should_stop=should_stop
        ),
    )


def _sync(settings: Settings, warehouse: Warehouse, should_stop: StopCheck) -> dict[str, Any]:
    return run_sync(settings, warehouse, should_stop=should_stop)


def _bridge(settings: Settings, warehouse: Warehouse, should_stop: StopCheck) -> dict[str, Any]:
    return run_bridge_apply(settings, warehouse, should_stop=should_stop)


def _expose(settings: Settings, warehouse: Warehouse, should_stop: StopCheck) -> dict[str, Any]:
    return run_expose(
        settings, warehouse, limit=settings.daemon_elements_per_job, should_stop=should_stop
    )


STEPS: dict[str, Callable[[Settings, Warehouse, StopCheck], dict[str, Any]]] = {
    "load": _load,
    "build": _build,
    "test": _test,
    "migrate": _migrate,
    "sync": _sync,
    "bridge": _bridge,
    "expose": _expose,
}


class BuildFailedError(Exception):
    """dbt built with errors, or data tests failed: the job fails (and says how many)."""

    def __init__(self, counts: dict[str, Any]) -> None:
        super().__init__(
            f"dbt build had {counts.get('errors', 0)} errors and "
            f"{counts.get('test_failures', 0)} failing tests"
        )
        self.counts = counts


def run_job(
    name: str,
    settings: Settings,
    warehouse: Warehouse,
    should_stop: StopCheck = lambda: False,
) -> JobOutcome:
    """Run the job `name` (one of `CYCLE`) once and record it in `flytt.run`.

    Args:
        name: a job of `CYCLE` (`load`, `build`, `test`, `migrate`, `sync`, `bridge`,
            `expose`).
        settings: the daemon's settings.
        warehouse: the warehouse.
        should_stop: polled by delivery between batches; True ends the job early.

    Returns:
        The outcome. A step that is not available yet, or that needs marts not built yet, is
        `skipped` with the `reason`; an error is `failed` with
        a one-line, redacted `error` in the counts (the daemon goes on with the next job).

    Raises:
        KeyError: `name` is not a job.
        sqlalchemy.exc.OperationalError: the warehouse is unreachable even to record the run.
    """
    step = STEPS[name]
    started = time.monotonic()
    counts: dict[str, Any]
    outcome = "succeeded"
    try:
        with recorded_run(warehouse, name, {"daemon": True}) as run:
            counts = step(settings, warehouse, should_stop)
            run.counts.update(counts)
    except (NotAvailableYet, MartsNotBuilt) as exc:  # e.g. delivery before the first build
        outcome, counts = "skipped", {"reason": exc.message}
    except Exception as exc:  # one job's failure never stops the daemon
        outcome = "failed"
        counts = {"error": redact(f"{type(exc).__name__}: {exc}").splitlines()[0][:500]}
    return JobOutcome(name, outcome, counts, round(time.monotonic() - started, 3))
