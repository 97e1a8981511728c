"""`flytt status`: the control plane's view of the six transition steps (DESIGN §1).

Shape (stable; later issues add keys, never remove or rename them):

    {"environment": "tt02",                       # settings.environment (FLYTT_ENVIRONMENT)
     "generated_at": "2026-12-03T09:00:00+00:00", # UTC
     "counts_by_state": {state: n, ...},          # every ElementState, zeros included
     "steps": {"1.1": {"state": ..., ...}, "1.2": ..., "2.1": ..., "2.2": ...,
               "3": ..., "4": ..., "5": ..., "6": ...},
     "nothing_migrated": bool}

Each step has `state` in not_started / running / done, `evidence` (the figure that decides
it, one English sentence), `since` (when it entered that state, UTC, from the samples the
daemon keeps in `flytt.status_history`; None before the first sample shows it) and the numbers
counted so far. The rules:

* 1.1, 1.2 and 5 are `done` when something was done and nothing waits, `running` while a run
  of their command is recorded as running or something waits after something was done,
  `not_started` otherwise. Step 5's evidence is its frontier by A2 creation year
  (`exposure_frontier`): "done for elements created from 2025, running for 2024".
* 2.1 and 6 are continuous until A2 is switched off, so never `done` (below).
* 2.2 is continuous too: `running` once a sync pass finished (`flytt sync`, the demo or the
  daemon's `sync` job). `a2_to_a3` holds events `sent`, `skipped_by_rule` (codes A3 ignores),
  `pending` (in the marts, not in A3 yet, including those of retrying and failed elements)
  with `oldest_pending_age_s` (since its load), `failed` and `retrying` elements; `a3_to_a2`
  holds the events A3 sent to the SBL-bridge endpoint (`flytt.control.bridge_inbox.summary`:
  `received`, `applied`, `already_in_a2`, `superseded`, `pending`, `retrying`, `failed`,
  `oldest_pending_age_s` since it was received).
* 3 and 4 are `not_started` until their jobs exist.

Steps 2.1 and 6 (continuous; never `done` while A2 runs) count the elements that became
eligible (A2 creation + the service's wait time) at or after `transition_started_at`, when
the first element was delivered. 2.1 is `running` once a `flytt daemon` delivery job
succeeded; it shows the `backlog` (eligible, not delivered), `oldest_eligible_age_s` and when
its last job ended (`last_cycle_at`, UTC). 6 is `running` once such a new element is
available through a daemon; `latency` is the steady-state latency from eligible to available
(`count`, `p50_s`, `p95_s`, `max_s`), as `flytt report --json` prints under `steady_state`.
Steps 1.1 and 5 have `retrying`: elements that failed at least one attempt of that step and
wait for the next one; each step counts its own attempts (`delivery_attempts`,
`exposure_attempts`, control schema revision 0005).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from flytt.control import bridge_inbox, dialog_checks, elements, history, runs, sync_state
from flytt.control import services as services_state
from flytt.control.states import ElementState
from flytt.warehouse import Warehouse

STEP_TITLES: dict[str, str] = {
    "1.1": "Migrate historical correspondences and attachments",
    "1.2": "Migrate service configuration (resources and policies)",
    "2.1": "Continuously migrate new correspondences",
    "2.2": "Sync status changes on migrated correspondences",
    "3": "Migrate delegations",
    "4": "Sync delegation grants and revocations",
    "5": "Make migrated correspondences available (Dialogporten)",
    "6": "Steady state",
}
MIGRATED_STATES = (ElementState.MIGRATED, ElementState.AVAILABLE, ElementState.A2_BLOCKED)
PENDING_STATES = (ElementState.DISCOVERED, ElementState.ELIGIBLE)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def _progress_state(done: int, pending: int, running: bool) -> str:
    if running or (done and pending):
        return "running"
    if done and not pending:
        return "done"
    return "not_started"


def _exposure_by_year(conn: sa.Connection) -> dict[str, dict[str, int]]:
    """Step 5 per A2 creation year (Europe/Oslo): `{"2025": {"available": n, "waiting": n}}`,
    newest year first."""
    return {
        str(year) if year is not None else "unknown": {"available": available, "waiting": waiting}
        for year, available, waiting in elements.exposure_by_year(conn)
    }


def collect_status(warehouse: Warehouse, environment: str = "local") -> dict[str, Any]:
    """Read schema `flytt` and return the status document described in the module docstring.

    Input: an upgraded warehouse and the name of the environment it serves
    (`settings.environment`). Output: plain JSON-serialisable dict. Raises nothing for an
    empty warehouse: every count is then 0 and every step `not_started`.
    """
    with warehouse.engine.connect() as conn:
        counts = elements.count_by_state(conn)
        services = services_state.summary(conn)
        exposure_by_year = _exposure_by_year(conn)
        retrying = elements.retrying_by_stage(conn)
        migrate_running = runs.is_running(conn, "migrate")
        expose_running = runs.is_running(conn, "expose")
        start = elements.transition_start(conn)
        live = elements.steady_state(conn, start) if start is not None else None
        daemon_migrates = runs.daemon_has_run(conn, "migrate")
        daemon_exposes = runs.daemon_has_run(conn, "expose")
        oldest_eligible_s, oldest_migrated_s = elements.oldest_waiting(conn)
        last_migrate = runs.last_succeeded_at(conn, "migrate")
        last_expose = runs.last_succeeded_at(conn, "expose")
        mismatching = dialog_checks.mismatching_dialogs(conn)
        synced = sync_state.summary(conn)
        inbox = bridge_inbox.summary(conn)
        last_bridge = runs.last_succeeded_at(conn, "bridge")

    migrated = sum(counts[s] for s in MIGRATED_STATES)
    pending = sum(counts[s] for s in PENDING_STATES)
    available = counts[ElementState.AVAILABLE] + counts[ElementState.A2_BLOCKED]
    steps: dict[str, dict[str, Any]] = {
        "1.1": {
            "state": _progress_state(migrated, pending, migrate_running),
            "elements": sum(counts.values()),
            "migrated": migrated,
            "pending": pending,
            "failed": counts[ElementState.FAILED],
            "quarantined": counts[ElementState.QUARANTINED],
            "excluded": counts[ElementState.EXCLUDED],
            "retrying": retrying[elements.Stage.DELIVERY],
        },
        "1.2": {
            "state": _progress_state(
                int(services[1]), int(services[0]) - int(services[1]), migrate_running
            ),
            "services": int(services[0]),
            "delivered": int(services[1]),
        },
        "2.1": {
            "state": "running" if daemon_migrates else "not_started",
            "transition_started_at": _iso(start),
            "new_delivered": live.delivered if live else 0,
            "backlog": counts[ElementState.ELIGIBLE],
            "oldest_eligible_age_s": _round(oldest_eligible_s),
            "last_cycle_at": _iso(last_migrate),
        },
        "2.2": {
            "state": "running"
            if synced["last_pass_at"] or inbox["received"] or last_bridge
            else "not_started",
            "a2_to_a3": {
                k: v for k, v in synced.items() if k not in ("oldest_pending_load", "last_pass_at")
            },
            "a3_to_a2": {k: v for k, v in inbox.items() if k != "pending_by_error"},
            "last_cycle_at": synced["last_pass_at"],
        },
        "3": {"state": "not_started", "services_synced": int(services[2])},
        "4": {"state": "not_started"},
        "5": {
            "state": _progress_state(available, counts[ElementState.MIGRATED], expose_running),
            "available": available,
            "waiting": counts[ElementState.MIGRATED],
            "retrying": retrying[elements.Stage.EXPOSURE],
            "dialogs_with_mismatches": mismatching,
            "by_year": exposure_by_year,
        },
        "6": {
            "state": "running" if daemon_exposes and live and live.count else "not_started",
            "new_available": live.count if live else 0,
            "waiting": counts[ElementState.MIGRATED],
            "oldest_migrated_age_s": _round(oldest_migrated_s),
            "latency": (live or elements.SteadyState(0, 0, None, None, None)).latency(),
            "last_cycle_at": _iso(last_expose),
        },
    }
    for key, step in steps.items():
        step["title"] = STEP_TITLES[key]
        step["evidence"] = _evidence(key, step)
    with warehouse.engine.connect() as conn:
        since = history.state_since(
            conn, environment, {key: step["state"] for key, step in steps.items()}
        )
    for key, step in steps.items():
        step["since"] = _iso(since.get(key))
    return {
        "environment": environment,
        "generated_at": datetime.now(UTC).isoformat(),
        "counts_by_state": counts,
        "steps": steps,
        "nothing_migrated": migrated == 0,
    }


def exposure_frontier(by_year: dict[str, dict[str, int]]) -> tuple[str | None, str | None]:
    """Step 5's frontier from its per-year counts: `(done_from, running_for)`, the oldest year
    from which every newer year has nothing waiting, and the newest year that still waits
    (None when there is none). Years are A2 creation years in Norwegian time."""
    done_from: str | None = None
    for year in sorted((y for y in by_year if y != "unknown"), reverse=True):
        if by_year[year]["waiting"]:
            return done_from, year
        if by_year[year]["available"]:
            done_from = year
    return done_from, None


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _evidence(key: str, step: dict[str, Any]) -> str:
    """The figure that decides the step's state, as one short English sentence."""
    if key == "1.1":
        return (
            f"{step['migrated']} of {step['elements']} elements delivered, {step['pending']} "
            f"pending, {step['excluded']} excluded, {step['failed']} failed, "
            f"{step['quarantined']} quarantined"
        )
    if key == "1.2":
        return f"{step['delivered']} of {step['services']} services delivered"
    if key == "2.1":
        if step["state"] == "not_started":
            return "no daemon delivery job has run"
        if not step["backlog"]:
            return "caught up: nothing eligible waits"
        return (
            f"backlog {step['backlog']}, oldest eligible element "
            f"{_age(step['oldest_eligible_age_s'])} old"
        )
    if key == "2.2":
        if step["state"] == "not_started":
            return "no sync pass has run (flytt sync, or the daemon's sync job)"
        a2 = step["a2_to_a3"]
        waiting = (
            f", oldest {_age(a2['oldest_pending_age_s'])} old" if a2["oldest_pending_age_s"] else ""
        )
        a3 = step["a3_to_a2"]
        back = (
            f", oldest {_age(a3['oldest_pending_age_s'])} old" if a3["oldest_pending_age_s"] else ""
        )
        return (
            f"A2 → A3: {a2['sent']} events sent, {a2['pending']} pending{waiting}, "
            f"{a2['retrying']} elements retrying, {a2['failed']} failed; A3 → A2: "
            f"{a3['received']} events received, {a3['applied']} applied, "
            f"{a3['pending']} pending{back}, {a3['failed']} failed"
        )
    if key == "5":
        done_from, running_for = exposure_frontier(step["by_year"])
        differ = step.get("dialogs_with_mismatches") or 0
        note = f"; {differ} dialogs differ from the expected one (flytt report)" if differ else ""
        if done_from and running_for:
            return f"done for elements created from {done_from}, running for {running_for}{note}"
        if done_from:
            return f"done for elements created from {done_from}; nothing waits{note}"
        return f"{step['available']} available, {step['waiting']} waiting{note}"
    if key == "6":
        latency = step["latency"]
        if not latency["count"]:
            return "no new element available through the daemon yet"
        return (
            f"{latency['count']} new elements available, p95 {latency['p95_s']} s from "
            "eligible to available"
        )
    return "not built yet"
