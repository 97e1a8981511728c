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
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from flytt.console import err, out, print_summary
from flytt.errors import NotAvailableYet, UserError
from flytt.settings import Settings, load_settings


@contextlib.contextmanager
def _replicas(settings: Settings) -> Iterator[Settings]:
    """Start the sandbox replicas in-process; yield settings that point at them."""
    from sandbox.services import running_replicas

    with running_replicas(settings) as replica_settings:
        yield replica_settings


DRAIN_LIMIT_S = 300.0
"""Longest wait, after the live feed stops, for the daemon to carry what was fed."""


def _drained(warehouse: Any, fed_until: datetime, transition_start: datetime) -> bool:
    """True when the daemon has loaded, built, delivered, synced and exposed what the feed
    wrote before `fed_until`: a load started after it, a build after that load, a delivery
    after that build, a sync pass after that delivery and an exposure after that pass
    succeeded, no element that became eligible since the transition began still waits, and
    no new A2 event waits for step 2.2."""
    from flytt.control import elements, runs, sync_state

    with warehouse.engine.connect() as conn:
        moment: datetime | None = fed_until
        for command in ("load", "build", "migrate", "sync", "expose"):
            assert moment is not None
            moment = runs.finished_after(conn, command, moment)
            if moment is None:
                return False
        synced = sync_state.summary(conn)
        return (
            elements.waiting_since(conn, transition_start) == 0
            and synced["pending"] == 0
            and synced["retrying"] == 0
        )


def _run_live(settings: Settings, warehouse: Any, seconds: float, rate: float) -> None:
    """`flytt demo --live`: feed the sandbox A2 for `seconds` while the daemon runs here, then
    drain, stop the daemon and print what each job did and the steady-state latency."""
    import logging
    import threading
    import time

    from flytt.control import elements
    from flytt.daemon.service import serve
    from sandbox.a2.live import run_live

    with warehouse.engine.connect() as conn:
        start = elements.transition_start(conn)
    if start is None:
        raise UserError("The demo delivered nothing to Altinn 3, so there is no live run to show.")
    # the daemon silences flytt's consoles while it runs (its log is JSON); the demo's own
    # lines during the live run go through a console of its own
    live_err = Console(stderr=True, highlight=False)
    stop = threading.Event()
    fed: dict[str, int] = {}
    outcome: dict[str, bool] = {}

    def feed_then_drain() -> None:
        try:
            fed.update(run_live(settings, rate=rate, max_seconds=seconds))
            fed_until = datetime.now(UTC)
            live_err.print(f"[bold]▶ Live feed stopped after {seconds:g} s; draining[/]")
            deadline = time.monotonic() + DRAIN_LIMIT_S
            while not stop.is_set() and time.monotonic() < deadline:
                if _drained(warehouse, fed_until, start):
                    outcome["drained"] = True
                    break
                time.sleep(1.0)
        finally:
            stop.set()

    err.print(
        f"[bold]▶ Live for {seconds:g} s: the sandbox A2 changes about {rate:g} times per "
        "second while flytt daemon runs (Ctrl-C stops)[/]"
    )
    feeder = threading.Thread(target=feed_then_drain, name="sandbox-live", daemon=True)
    feeder.start()
    jobs = serve(
        # a free port, so the demo runs beside a daemon; a sample every 5 s gives the status
        # page's plots points within a short live run
        settings.model_copy(
            update={
                "daemon_port": 0,
                "daemon_history_every_seconds": min(5, settings.daemon_history_every_seconds),
            }
        ),
        warehouse,
        stop=stop,
        log_level=logging.WARNING,
        on_listening=lambda url: live_err.print(f"[bold]▶ Status page: {url}[/]"),
    )
    stop.set()
    print_summary("  Live feed (rows written per A2 table)", fed or {"nothing": 0})
    for name, counts in jobs.items():
        runs_of = counts.get("runs", 0)
        print_summary(f"  Daemon job {name} ({runs_of} runs; counts are totals over them)", counts)
    with warehouse.engine.connect() as conn:
        new = elements.created_since(conn, start)
    print_summary(
        "  New correspondences since the transition began, by state (and reason)",
        new or {"none": 0},
    )
    if outcome.get("drained"):
        out.print("  Drained: the daemon carried everything the feed made eligible.")
    else:
        out.print(
            "  Not drained: the daemon had not carried everything the feed wrote when the demo "
            "stopped; `flytt status` shows what still waits."
        )


def run_demo(size: int, seed: int, live_seconds: float | None = None, rate: float = 2.0) -> None:
    """Run every available step in order and print the report; with `live_seconds`, then
    run the daemon while the sandbox A2 keeps changing (`_run_live`).

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

    from flytt.pipeline import run_build, run_expose, run_load, run_migrate, run_sync
    from sandbox.a2.generate import generate_a2

    with _replicas(settings) as live:
        steps: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
            ("sandbox", "Sandbox A2 database", lambda: generate_a2(live, size=size, seed=seed)),
            ("load", "Load A2 → a2_raw", lambda: run_load(live, warehouse)),
            ("build", "Build the A3 mapping (dbt)", lambda: run_build(warehouse)),
            ("migrate", "Migrate to Altinn 3", lambda: run_migrate(live, warehouse)),
            (
                "sync",
                "Sync new A2 events to Altinn 3 (step 2.2)",
                lambda: run_sync(live, warehouse),
            ),
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
            if live_seconds:
                _run_live(
                    live.model_copy(update={"ready_services": live.ready_services or ["*"]}),
                    warehouse,
                    live_seconds,
                    rate,
                )
                run.counts["live_seconds"] = live_seconds
    out.rule("Report")
    print_report(collect_report(warehouse))
