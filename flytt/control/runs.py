"""Runs: one row in `flytt.run` per command or job, with who, what, when and counts."""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psutil
import sqlalchemy as sa

from flytt.redact import redact
from flytt.warehouse import Warehouse


@dataclass
class Run:
    """A run in progress. Add numbers to `counts`; they are stored when the run ends."""

    run_id: int
    command: str
    counts: dict[str, Any] = field(default_factory=dict)


def _actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def close_dead_runs(conn: sa.Connection) -> int:
    """Mark `running` rows of this host whose process is gone (kill -9, power loss) as
    `interrupted`; returns how many. Runs of other hosts are left alone: their pids mean
    nothing here."""
    host = socket.gethostname()
    rows = conn.execute(
        sa.text("select run_id, pid, actor from flytt.run where status = 'running'")
    ).all()
    dead = [r.run_id for r in rows if r.actor.endswith(f"@{host}") and not psutil.pid_exists(r.pid)]
    if dead:
        conn.execute(
            sa.text(
                "update flytt.run set status = 'interrupted', finished_at = now(), "
                "error = 'the process ended without closing its run' "
                "where run_id = any(:ids)"
            ),
            {"ids": dead},
        )
    return len(dead)


@contextmanager
def recorded_run(
    warehouse: Warehouse, command: str, arguments: dict[str, Any] | None = None
) -> Iterator[Run]:
    """Record a run of `command` in `flytt.run` around the block.

    The row is inserted with status `running`; it ends as `succeeded`, `failed` (with the
    redacted error text) or `interrupted` (Ctrl-C). A run killed with SIGKILL is marked
    `interrupted` by the next run on the same host (`close_dead_runs`).
    """
    with warehouse.engine.begin() as conn:
        close_dead_runs(conn)
        run_id: int = conn.execute(
            sa.text(
                "insert into flytt.run (command, arguments, actor, pid) "
                "values (:c, cast(:a as jsonb), :actor, :pid) returning run_id"
            ),
            {
                "c": command,
                "a": json.dumps(arguments or {}, default=str),
                "actor": _actor(),
                "pid": os.getpid(),
            },
        ).scalar_one()
    run = Run(run_id=run_id, command=command)
    status, error = "succeeded", None
    try:
        yield run
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted by the user"
        raise
    except BaseException as exc:
        status, error = "failed", redact(f"{type(exc).__name__}: {exc}")[:2000]
        raise
    finally:
        with warehouse.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "update flytt.run set status = :s, error = :e, counts = cast(:n as jsonb), "
                    "finished_at = now() where run_id = :r"
                ),
                {"s": status, "e": error, "n": json.dumps(run.counts, default=str), "r": run_id},
            )


def is_running(conn: sa.Connection, command: str) -> bool:
    """True when a run of `command` started by hand (any host; not a `flytt daemon` job, which
    runs every few seconds for as long as the transition lasts) is recorded as `running`."""
    return bool(
        conn.execute(
            sa.text(
                "select 1 from flytt.run where command = :c and status = 'running' "
                "and coalesce(arguments ->> 'daemon', 'false') <> 'true' limit 1"
            ),
            {"c": command},
        ).scalar()
    )


def recent(conn: sa.Connection, limit: int = 10) -> list[dict[str, Any]]:
    """The newest `limit` runs, newest first: `run_id, command, status, started_at,
    finished_at` (UTC) and `counts`."""
    return [
        dict(row._mapping)
        for row in conn.execute(
            sa.text(
                "select run_id, command, status, started_at, finished_at, counts "
                "from flytt.run order by run_id desc limit :limit"
            ),
            {"limit": limit},
        )
    ]


def current_run_id(conn: sa.Connection, commands: tuple[str, ...]) -> int | None:
    """The newest `running` run of this process among `commands`, if one is recorded."""
    return conn.execute(
        sa.text(
            "select max(run_id) from flytt.run where pid = :pid and actor = :actor "
            "and status = 'running' and command = any(:c)"
        ),
        {"pid": os.getpid(), "actor": _actor(), "c": list(commands)},
    ).scalar()


def last_succeeded_at(
    conn: sa.Connection, command: str, *, started: bool = False
) -> datetime | None:
    """When the newest succeeded run of `command` (any host) finished, or with `started` when
    it started (UTC); None when none succeeded."""
    column = "started_at" if started else "finished_at"
    return conn.execute(
        sa.text(f"select max({column}) from flytt.run where command = :c and status = 'succeeded'"),
        {"c": command},
    ).scalar()


def rows_loaded_since(conn: sa.Connection, since: datetime | None) -> int | None:
    """Rows that succeeded `load` runs (any host) brought since `since` (UTC; None: ever), the
    sum of their per-table counts; None when no load run succeeded in that time."""
    rows: Any = conn.execute(
        sa.text(
            "select counts from flytt.run where command = 'load' and status = 'succeeded' "
            "and (cast(:since as timestamptz) is null or started_at >= :since)"
        ),
        {"since": since},
    ).scalars()
    total: int | None = None
    for counts in rows:
        values = counts.values() if isinstance(counts, dict) else []
        total = (total or 0) + sum(v for v in values if isinstance(v, int))
    return total


def daemon_has_run(conn: sa.Connection, command: str) -> bool:
    """True when a `flytt daemon` job of `command` succeeded at least once (any host)."""
    return bool(
        conn.execute(
            sa.text(
                "select 1 from flytt.run where command = :c and status = 'succeeded' "
                "and arguments ->> 'daemon' = 'true' limit 1"
            ),
            {"c": command},
        ).scalar()
    )


def finished_after(conn: sa.Connection, command: str, after: datetime) -> datetime | None:
    """When the first succeeded run of `command` that started at or after `after` finished
    (UTC), or None when there is none yet."""
    return conn.execute(
        sa.text(
            "select finished_at from flytt.run where command = :c and status = 'succeeded' "
            "and started_at >= :after order by started_at limit 1"
        ),
        {"c": command, "after": after},
    ).scalar()
