"""The `flytt daemon` process: one full cycle (`--once`), or the service until SIGTERM.

As a service it creates the queue schema if needed, serves `/healthz`, `/readyz` and
`/metrics` on `settings.daemon_port`, and runs a procrastinate worker with
`settings.daemon_concurrency` jobs at once. SIGTERM or SIGINT stops it gracefully: no new job
starts, delivery stops claiming after its current batch (elements already claimed are
delivered, the rest of its leases are released), running jobs get
`settings.daemon_shutdown_seconds` to end, the worker unregisters, and the process exits 0.
A daemon that dies without that loses nothing either: procrastinate sees its heartbeat stop
and the element leases it held expire (`settings.lease_seconds`), so another daemon goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from flytt.console import quiet_consoles
from flytt.control import runs
from flytt.control.migrate import current_revision, head_revision
from flytt.daemon.bridge_endpoint import PATH as BRIDGE_PATH
from flytt.daemon.bridge_endpoint import SblBridgeEndpoint
from flytt.daemon.http import serving
from flytt.daemon.jobs import CYCLE, JobOutcome, run_job
from flytt.daemon.logs import configure_json_logging
from flytt.daemon.metrics import DaemonMetrics
from flytt.daemon.page import StatusPage
from flytt.daemon.queue import HISTORY_JOB, ensure_schema, make_app, schedule
from flytt.errors import UserError
from flytt.history import record_sample
from flytt.redact import redact
from flytt.settings import Settings
from flytt.warehouse import Warehouse

log = logging.getLogger("flytt.daemon")

STALE_AFTER_PERIODS = 4
"""`/readyz` fails when no delivery job succeeded (on any host) for this many periods."""


def _log_outcome(result: JobOutcome) -> None:
    level = logging.WARNING if result.outcome == "failed" else logging.INFO
    log.log(
        level,
        f"job {result.name} {result.outcome} in {result.seconds:.1f} s",
        extra={
            "job": result.name,
            "outcome": result.outcome,
            "seconds": result.seconds,
            "counts": result.counts,
        },
    )


def run_once(settings: Settings, warehouse: Warehouse) -> list[JobOutcome]:
    """Run every job of the cycle once, in order, in this process (cron, tests, debugging),
    then write a sample of the status counts (`flytt.status_history`).

    Returns:
        One outcome per job of `CYCLE`; a failed job does not stop the ones after it.
    """
    results = []
    with quiet_consoles():  # the JSON log lines say what each job did
        for name in CYCLE:
            result = run_job(name, settings, warehouse)
            _log_outcome(result)
            results.append(result)
        _record_history(settings, warehouse)
    return results


def _record_history(settings: Settings, warehouse: Warehouse) -> None:
    """The `history` job: one sample; a failure is a warning, never the daemon's end."""
    try:
        record_sample(settings, warehouse)
    except Exception as exc:
        log.warning(
            redact(f"history sample failed: {type(exc).__name__}: {exc}").splitlines()[0][:500],
            extra={"job": HISTORY_JOB, "outcome": "failed"},
        )


class _Readiness:
    """`/readyz`: warehouse reachable, control schema at head, delivery not stale."""

    def __init__(self, settings: Settings, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.started = datetime.now(UTC)
        self.stale = timedelta(
            seconds=max(settings.daemon_migrate_every_seconds * STALE_AFTER_PERIODS, 120)
        )
        self.head = head_revision()

    def __call__(self) -> str | None:
        try:
            if current_revision(self.warehouse) != self.head:
                return "the control schema is not at the newest revision (run any flytt command)"
            with self.warehouse.engine.connect() as conn:
                last = runs.last_succeeded_at(conn, "migrate")
        except sa.exc.SQLAlchemyError:
            return "the warehouse cannot be reached"
        now = datetime.now(UTC)
        if now - self.started < self.stale:
            return None  # still starting: the first cycles have not had their time yet
        if last is None or now - last > self.stale:
            return f"no delivery job succeeded in the last {int(self.stale.total_seconds())} s"
        return None


def serve(
    settings: Settings,
    warehouse: Warehouse,
    *,
    stop: threading.Event | None = None,
    log_level: int = logging.INFO,
    on_listening: Callable[[str], None] | None = None,
) -> dict[str, dict[str, int]]:
    """Run the daemon until SIGTERM or SIGINT, or until `stop` is set (module docstring).

    Args:
        settings: the daemon's settings (schedule, port, concurrency, shutdown time).
        warehouse: the warehouse holding the queue, the marts and schema `flytt`.
        stop: set it to stop the daemon as SIGTERM would (in-process use, `flytt demo --live`).
        log_level: the lowest level of the JSON log lines on stderr.
        on_listening: called with the status page's URL (`http://host:port/`) once the HTTP
            port is bound (the demo prints it).

    Returns:
        What each job did in this process: per job name, `runs`, one count per outcome and
        the sum of each of the step's numeric counts over its runs.

    Raises:
        UserError: the HTTP port is taken, or the queue schema cannot be created.
    """
    configure_json_logging(log_level)
    if ensure_schema(warehouse):
        log.info("created the queue schema flytt_queue", extra={"action": "queue_schema"})
    metrics = DaemonMetrics(warehouse, settings.environment)
    stopping = threading.Event()
    summary: dict[str, Counter[str]] = defaultdict(Counter)
    summary_lock = threading.Lock()

    def handle(name: str) -> None:
        if name == HISTORY_JOB:
            _record_history(settings, warehouse)
            return
        result = run_job(name, settings, warehouse, stopping.is_set)
        metrics.observe(result)
        _log_outcome(result)
        with summary_lock:
            done = summary[name]
            done["runs"] += 1
            done[result.outcome] += 1
            done.update({k: v for k, v in result.counts.items() if type(v) is int})

    with contextlib.ExitStack() as stack:
        try:
            port = stack.enter_context(
                serving(
                    settings.daemon_host,
                    settings.daemon_port,
                    metrics.registry,
                    _Readiness(settings, warehouse),
                    (
                        StatusPage(settings, warehouse),
                        SblBridgeEndpoint(settings, warehouse, metrics.registry),
                    ),
                )
            )
        except OSError as exc:
            raise UserError(
                f"flytt daemon cannot listen on {settings.daemon_host}:{settings.daemon_port} "
                f"({exc.strerror}); set FLYTT_DAEMON_PORT to a free port (0 picks one)."
            ) from None
        log.info(
            f"flytt daemon listening on http://{settings.daemon_host}:{port} "
            f"(/ status page, /status.json, /healthz, /readyz, /metrics, {BRIDGE_PATH})",
            extra={
                "action": "start",
                "port": port,
                "environment": settings.environment,
                "schedule": schedule(settings),
            },
        )
        if on_listening is not None:
            on_listening(f"http://{settings.daemon_host}:{port}/")
        # the jobs' progress bars and notes would interleave with the JSON log lines
        stack.enter_context(quiet_consoles())
        asyncio.run(_work(settings, warehouse, handle, stopping, stop))
    log.info("flytt daemon stopped", extra={"action": "stop"})
    return {name: dict(counts) for name, counts in summary.items()}


async def _work(
    settings: Settings,
    warehouse: Warehouse,
    handle: Any,
    stopping: threading.Event,
    stop: threading.Event | None,
) -> None:
    app = make_app(settings, warehouse, handle)
    async with app.open_async():
        worker = asyncio.create_task(
            app.run_worker_async(
                name=f"flytt@{socket.gethostname()}:{os.getpid()}",
                concurrency=settings.daemon_concurrency,
                shutdown_graceful_timeout=settings.daemon_shutdown_seconds,
                install_signal_handlers=False,
                delete_jobs="successful",
            )
        )
        loop = asyncio.get_running_loop()

        def on_signal(signum: int) -> None:
            if not stopping.is_set():
                log.info(
                    f"received {signal.Signals(signum).name}: stopping after running jobs",
                    extra={"action": "stopping"},
                )
            stopping.set()
            worker.cancel()  # procrastinate stops taking jobs and waits for running ones

        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, on_signal, signum)
        if stop is not None:

            async def watch() -> None:
                while not stop.is_set() and not worker.done():
                    await asyncio.sleep(0.2)
                if stop.is_set():
                    stopping.set()
                    worker.cancel()

            watcher = asyncio.create_task(watch())
        started = time.monotonic()
        try:
            await worker
        except asyncio.CancelledError:
            if not stopping.is_set():
                raise
        finally:
            if stop is not None:
                watcher.cancel()
        log.debug("worker ended", extra={"seconds": round(time.monotonic() - started, 1)})
