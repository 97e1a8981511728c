"""The daemon's task queue: procrastinate on the warehouse, in schema `flytt_queue`.

Why procrastinate (reference sync-and-delegations §4): periodic tasks are deferred once per
period by the database however many workers run ("high availability periodic scheduling"),
`lock=` runs the jobs of one key one after the other across every host, `queueing_lock=` keeps
at most one waiting job per key, and workers send heartbeats and shut down gracefully.

Schedule: every job is a periodic task (`cron_every`), deferred once per period fleet-wide.
`load`, `build` and `test` share `lock="flytt:refresh"`, so they never overlap on any host,
and the load of a period runs before its build (procrastinate runs a lock's jobs in id
order, and the load is deferred first). Each job has `queueing_lock=<job>`: a slow job is not
followed by a pile of waiting copies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import procrastinate
import sqlalchemy as sa
from procrastinate.jobs import Status
from procrastinate.schema import SchemaManager
from psycopg.conninfo import make_conninfo

from flytt.control import locks
from flytt.settings import Settings
from flytt.warehouse import Warehouse

QUEUE_SCHEMA = "flytt_queue"
REFRESH_LOCK = "flytt:refresh"
HISTORY_JOB = "history"
"""The periodic sample of the status counts (`flytt.history`); not a step, so not in `CYCLE`."""
RECOVER_EVERY_SECONDS = 15
STALLED_AFTER_SECONDS = 30.0
"""A worker without a heartbeat for this long is dead (it beats every 10 s by default)."""

log = logging.getLogger("flytt.daemon")


def cron_every(seconds: int) -> str:
    """A cron expression (croniter's six fields, seconds last) that fires every `seconds`.

    Raises:
        ValueError: `seconds` neither divides a minute nor is whole minutes dividing an hour
            (`Settings` refuses those already).
    """
    if seconds < 60 and 60 % seconds == 0:
        return f"* * * * * */{seconds}"
    if seconds % 60 == 0 and 3600 % seconds == 0:
        return f"*/{seconds // 60} * * * *"
    raise ValueError(f"{seconds} s is not a period a cron schedule repeats evenly")


def schedule(settings: Settings) -> dict[str, int]:
    """Seconds between runs of each job: the cycle's jobs in cycle order, then `history`
    (the sample of the status counts for `flytt.status_history`)."""
    return {
        "load": settings.daemon_load_every_seconds,
        "build": settings.daemon_load_every_seconds,
        "test": settings.daemon_test_every_seconds,
        "migrate": settings.daemon_migrate_every_seconds,
        "sync": settings.daemon_sync_every_seconds,
        "bridge": settings.daemon_bridge_every_seconds,
        "expose": settings.daemon_expose_every_seconds,
        HISTORY_JOB: settings.daemon_history_every_seconds,
    }


def conninfo(warehouse: Warehouse) -> str:
    """libpq connection string of the warehouse with `search_path` set to the queue schema."""
    return make_conninfo(
        host=warehouse.host,
        port=warehouse.port,
        user=warehouse.user,
        password=warehouse.password or None,
        dbname=warehouse.database,
        connect_timeout=5,
        options=f"-c search_path={QUEUE_SCHEMA}",
    )


def ensure_schema(warehouse: Warehouse) -> bool:
    """Create schema `flytt_queue` with procrastinate's tables if it is not there yet.

    Safe when several daemons start at once (`locks.serialise_queue_setup`).

    Returns:
        True when this call created it.
    """
    with warehouse.engine.begin() as conn:
        locks.serialise_queue_setup(conn)
        conn.execute(sa.text(f"create schema if not exists {QUEUE_SCHEMA}"))
        if conn.execute(
            sa.text("select to_regclass(:t) is not null"),
            {"t": f"{QUEUE_SCHEMA}.procrastinate_jobs"},
        ).scalar():
            return False
        conn.execute(sa.text(f"set local search_path = {QUEUE_SCHEMA}"))
        # psycopg2 formats the statement when given parameters, so `%` is doubled (as
        # procrastinate's own SchemaManager.apply_schema does)
        conn.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"), ())
        return True


def make_app(
    settings: Settings, warehouse: Warehouse, handle: Callable[[str], None]
) -> procrastinate.App:
    """The procrastinate app with one periodic task per job; each calls `handle(job_name)`
    in a worker thread (sync tasks run in threads)."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo(warehouse), min_size=1, max_size=settings.daemon_concurrency + 3
        )
    )
    for name, every in schedule(settings).items():

        def run(timestamp: int, job: str = name) -> None:
            handle(job)

        task = app.task(
            name=f"flytt.{name}",
            queueing_lock=name,
            lock=REFRESH_LOCK if name in ("load", "build", "test") else None,
        )(run)
        app.periodic(cron=cron_every(every), periodic_id=name)(task)

    async def recover(timestamp: int) -> None:
        await recover_stalled_jobs(app)

    recovery = app.task(name="flytt.recover", queueing_lock="recover")(recover)
    app.periodic(cron=cron_every(RECOVER_EVERY_SECONDS), periodic_id="recover")(recovery)
    return app


async def recover_stalled_jobs(app: procrastinate.App) -> int:
    """End the jobs of daemons that died (their worker sent no heartbeat for
    `STALLED_AFTER_SECONDS`) as failed, so their locks are free again.

    A job stays `doing` when its worker is killed, and procrastinate keeps a `doing` job's
    `lock` until the job ends: without this, one kill -9 during a load would stop every
    later load and build on every host. The next period's job does the work again (jobs are
    idempotent), so the stalled one is not retried.

    Returns:
        How many jobs were ended.
    """
    stalled = list(
        await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS)
    )
    for job in stalled:
        await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
        log.warning(
            f"ended job {job.task_name} #{job.id} of a daemon that stopped sending heartbeats",
            extra={"action": "recover_stalled_job", "task": job.task_name, "job_id": job.id},
        )
    return len(stalled)
