"""`flytt demo`: the main job end to end on the embedded default.

sandbox A2 data → load → build → migrate → expose → report. The sandbox replicas of A3,
Dialogporten, Resource Registry, Maskinporten and the A2 SBL bridge run in-process on free
localhost ports for the duration of the demo. With `--live`, the daemon then runs while the
sandbox A2 keeps changing and simulated recipients read, confirm and purge in A3, so both
directions of step 2.2 are seen working. A step whose implementation is not there yet is
reported as skipped with its issue number, never faked. Re-running after an interruption
resumes: every step is idempotent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console

from flytt.console import err, out, print_summary
from flytt.errors import NotAvailableYet, UserError
from flytt.settings import Settings, load_settings

if TYPE_CHECKING:
    from sandbox.services import Replicas


@contextlib.contextmanager
def _replicas(settings: Settings, storage_url: str | None) -> Iterator[Replicas]:
    """Start the sandbox replicas in-process (A3's SBL-bridge calls to `storage_url`)."""
    from sandbox.services import start_replicas

    with start_replicas(settings, storage_url=storage_url) as replicas:
        yield replicas


DRAIN_LIMIT_S = 300.0
"""Longest wait, after the live feed stops, for the daemon to carry what was fed."""


def _drained(
    warehouse: Any, fed_until: datetime, transition_start: datetime, a3_engine: Any
) -> bool:
    """True when the daemon has carried what the feed and the recipients did before
    `fed_until`: the A3 replica has sent every SBL-bridge call, and after the last event it
    received (or `fed_until`) a bridge pass started and succeeded, then a load, a build, a
    delivery, a sync pass and an exposure, each after the one before; no element that became
    eligible since the transition began still waits, and no event waits for step 2.2 either
    way."""
    from flytt.control import bridge_inbox, elements, runs, sync_state
    from sandbox.a3.storage_sync import pending_jobs

    if pending_jobs(a3_engine):
        return False
    with warehouse.engine.connect() as conn:
        last = bridge_inbox.last_received_at(conn)
        moment: datetime | None = max(fed_until, last) if last else fed_until
        for command in ("bridge", "load", "build", "migrate", "sync", "expose"):
            assert moment is not None
            moment = runs.finished_after(conn, command, moment)
            if moment is None:
                return False
        synced = sync_state.summary(conn)
        back = bridge_inbox.summary(conn)
        return (
            elements.waiting_since(conn, transition_start) == 0
            and synced["pending"] == 0
            and synced["retrying"] == 0
            and back["pending"] == 0
        )


def _recipients_act(replicas: Replicas, seconds: float, rate: float) -> dict[str, int]:
    """Simulated recipients act in the A3 replica about `rate` times per second for
    `seconds` (`sandbox.a3.recipients_sim`): overview, then content, mark as read, confirm or
    purge. Returns the counts per action."""
    import random
    import time

    import sqlalchemy as sa

    from sandbox.a3.recipient import RECIPIENT_SCOPE, recipient_claims
    from sandbox.a3.recipients_sim import act_randomly

    mp = replicas.maskinporten
    assert mp is not None and replicas.sandbox_database_url is not None

    def mint(urn: str) -> str:
        try:
            claims = recipient_claims(urn)
        except ValueError:  # a self-identified user: a token for nobody, which A3 refuses
            claims = {}
        issuer = f"{replicas.urls['maskinporten']}/"
        body = mp.issue_token("sandbox-recipient", [RECIPIENT_SCOPE], issuer, extra_claims=claims)
        return str(body["access_token"])

    engine = sa.create_engine(replicas.sandbox_database_url)
    totals: dict[str, int] = {}
    rng = random.Random(20261206)
    started = time.monotonic()
    acts = 0
    try:
        while time.monotonic() - started < seconds:
            for key, n in act_randomly(replicas.urls["a3"], engine, mint, rng, 1).items():
                totals[key] = totals.get(key, 0) + n
            acts += 1
            delay = started + acts / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    finally:
        engine.dispose()
    return totals


def _run_live(
    settings: Settings, warehouse: Any, seconds: float, rate: float, replicas: Replicas
) -> None:
    """`flytt demo --live`: feed the sandbox A2 for `seconds` while recipients act in the A3
    replica (half as often) and the daemon runs here on `settings.daemon_port` (where the A3
    replica sends its SBL-bridge calls), then drain, stop the daemon and print what each job
    did and the steady-state latency."""
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
    acted: dict[str, int] = {}
    outcome: dict[str, bool] = {}
    a3_engine = replicas.apps["a3"].state.engine

    def recipients() -> None:
        try:
            acted.update(_recipients_act(replicas, seconds, max(rate / 2, 0.5)))
        except Exception as exc:  # the demo goes on; the summary says what happened
            acted["error"] = 1
            live_err.print(f"Simulated recipients stopped: {type(exc).__name__}: {exc}")

    def feed_then_drain() -> None:
        try:
            actors = threading.Thread(target=recipients, name="sandbox-recipients", daemon=True)
            actors.start()
            fed.update(run_live(settings, rate=rate, max_seconds=seconds))
            actors.join()
            fed_until = datetime.now(UTC)
            live_err.print(f"[bold]▶ Live feed stopped after {seconds:g} s; draining[/]")
            deadline = time.monotonic() + DRAIN_LIMIT_S
            while not stop.is_set() and time.monotonic() < deadline:
                if _drained(warehouse, fed_until, start, a3_engine):
                    outcome["drained"] = True
                    break
                time.sleep(1.0)
        finally:
            stop.set()

    err.print(
        f"[bold]▶ Live for {seconds:g} s: the sandbox A2 changes about {rate:g} times per "
        "second and recipients act in Altinn 3 while flytt daemon runs (Ctrl-C stops)[/]"
    )
    feeder = threading.Thread(target=feed_then_drain, name="sandbox-live", daemon=True)
    feeder.start()
    jobs = serve(
        # a sample every 5 s gives the status page's plots points within a short live run
        settings.model_copy(
            update={"daemon_history_every_seconds": min(5, settings.daemon_history_every_seconds)}
        ),
        warehouse,
        stop=stop,
        log_level=logging.WARNING,
        on_listening=lambda url: live_err.print(f"[bold]▶ Status page: {url}[/]"),
    )
    stop.set()
    print_summary("  Live feed (rows written per A2 table)", fed or {"nothing": 0})
    print_summary("  Recipients acting in Altinn 3 (answered 200 per action)", acted or {"none": 0})
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
    from sandbox.serve import free_port

    storage_url = None
    if live_seconds:
        # the daemon of the live run listens here, a free port so that the demo runs beside
        # another daemon; the A3 replica sends its SBL-bridge calls to it
        settings = settings.model_copy(update={"daemon_port": free_port(settings.daemon_host)})
        storage_url = f"http://{settings.daemon_host}:{settings.daemon_port}"
    with _replicas(settings, storage_url) as replicas:
        live = replicas.settings
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
                    replicas,
                )
                run.counts["live_seconds"] = live_seconds
    out.rule("Report")
    print_report(collect_report(warehouse))
