"""Run dbt (`dbt_project/`) in-process against the warehouse with `dbtRunner`.

The connection reaches dbt's `profiles.yml` through the `PG*` variables (see
`Warehouse.libpq_env`), so what `flytt build` runs is exactly what a data engineer runs by hand
after `eval "$(flytt env)"`. dbt invocations are not safe to run concurrently in one process
(shared notes, elt-practice §4.1), so they are serialised with a lock.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flytt.errors import UserError
from flytt.warehouse import Warehouse

PROJECT_DIR = (Path(__file__).resolve().parent / "dbt_project").resolve()
"""The dbt project. `flytt/dbt_project` is a symlink to the checkout's top-level `dbt_project/`,
and a wheel ships the files themselves there, so an installed flytt finds its project too."""


def _target_dir() -> Path:
    """Where dbt writes its build output (`target/`): inside the project when it is writable (a
    checkout, where data engineers look for it), else under the user's cache directory
    (`$XDG_CACHE_HOME/flytt/dbt-target`, default `~/.cache/...`) for a read-only install."""
    if os.access(PROJECT_DIR, os.W_OK):
        return PROJECT_DIR / "target"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "flytt" / "dbt-target"


TARGET_DIR = _target_dir()
"""dbt's `target/` (manifest, catalog, docs site) for this installation."""
_LOCK = threading.Lock()


@dataclass(frozen=True)
class NodeResult:
    """Outcome of one dbt node: unique id, status (success/error/pass/fail/warn/skipped)."""

    unique_id: str
    resource_type: str
    status: str
    message: str
    seconds: float


@dataclass(frozen=True)
class DbtResult:
    """Outcome of one dbt invocation: overall success and per-node results."""

    success: bool
    nodes: list[NodeResult]

    def count(self, status: str) -> int:
        """Number of nodes that ended with `status`."""
        return sum(1 for n in self.nodes if n.status == status)


def dbt_env(warehouse: Warehouse) -> dict[str, str]:
    """Environment for dbt: `PG*` connection variables and offline hygiene flags."""
    return {
        **warehouse.libpq_env(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "true" if sys.stdout.isatty() else "false",
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_PROJECT_DIR": str(PROJECT_DIR),
        "DBT_TARGET_PATH": str(TARGET_DIR),
        "DBT_LOG_PATH": str(TARGET_DIR.parent / "logs"),
    }


def run_dbt(
    warehouse: Warehouse,
    args: Sequence[str],
    on_event: Callable[[Any], None] | None = None,
) -> DbtResult:
    """Invoke `dbt <args>` for `dbt_project/` against `warehouse`.

    Args:
        warehouse: where dbt builds.
        args: dbt arguments, e.g. `["build", "--select", "staging"]`.
        on_event: optional callback for dbt's structured events (progress display).

    Returns:
        `DbtResult`; `success` is False when a model or test failed.

    Raises:
        UserError: dbt could not run at all (bad project, no connection); message from dbt.
    """
    from dbt.cli.main import dbtRunner

    env = dbt_env(warehouse)
    with _LOCK:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            runner = dbtRunner(callbacks=[on_event] if on_event else [])
            res = runner.invoke(
                [*args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR)]
            )
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    if res.exception is not None:
        first = str(res.exception).strip().splitlines()
        raise UserError(
            f"dbt could not run ({first[0] if first else type(res.exception).__name__}); "
            "check the warehouse settings and dbt_project/."
        )
    nodes: list[NodeResult] = []
    results = getattr(res.result, "results", None) or []
    for r in results:
        node = r.node
        nodes.append(
            NodeResult(
                unique_id=node.unique_id,
                resource_type=str(node.resource_type),
                status=str(r.status),
                message=str(r.message or ""),
                seconds=float(r.execution_time or 0.0),
            )
        )
    return DbtResult(success=bool(res.success), nodes=nodes)
