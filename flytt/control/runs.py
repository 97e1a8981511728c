"""Runs: one row in `flytt.run` per command or job, with who, what, when and counts."""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

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


@contextmanager
def recorded_run(
    warehouse: Warehouse, command: str, arguments: dict[str, Any] | None = None
) -> Iterator[Run]:
    """Record a run of `command` in `flytt.run` around the block.

    The row is inserted with status `running`; it ends as `succeeded`, `failed` (with the
    redacted error text) or `interrupted` (Ctrl-C). A run killed with SIGKILL stays `running`
    with its pid; `flytt status` shows such rows as stale when the pid is gone.
    """
    with warehouse.engine.begin() as conn:
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
