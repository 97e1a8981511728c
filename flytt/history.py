"""The status history: a sample of `flytt status` and the quarantine counts, written once per
`daemon_history_every_seconds` by the daemon (and once per `flytt daemon --once` cycle), kept
in `flytt.status_history` (`flytt.control.history` owns its SQL) for the status page's plots
and each step's `since`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flytt.control import history, locks
from flytt.control.history import Sample
from flytt.report import quarantine_by_reason
from flytt.settings import Settings
from flytt.status import collect_status
from flytt.warehouse import Warehouse


def sample_of(status: dict[str, Any], quarantine: list[dict[str, Any]]) -> Sample:
    """The history row for a status document (`collect_status`) and the quarantine rows of
    `flytt.report.quarantine_by_reason`, stamped with the document's `generated_at`."""
    steps = status["steps"]
    return Sample(
        sampled_at=datetime.fromisoformat(status["generated_at"]).astimezone(UTC),
        environment=status["environment"],
        counts=dict(status["counts_by_state"]),
        step_states={key: step["state"] for key, step in steps.items()},
        quarantine={f"{q['source']}:{q['reason_code']}": int(q["rows"]) for q in quarantine},
        oldest_eligible_age_s=steps["2.1"]["oldest_eligible_age_s"],
        oldest_migrated_age_s=steps["6"]["oldest_migrated_age_s"],
        latency_p95_s=steps["6"]["latency"]["p95_s"],
    )


def record_sample(settings: Settings, warehouse: Warehouse) -> Sample:
    """Take a sample now, store it and prune the history (`settings.history_days`).

    Returns:
        The stored sample.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the warehouse cannot be reached.
    """
    status = collect_status(warehouse, settings.environment)
    with warehouse.engine.begin() as conn:
        # a build swaps the marts (a3.quarantine among them): wait for it, as delivery does,
        # rather than record a sample without the mapping quarantine
        locks.share_marts(conn)
        sample = sample_of(status, quarantine_by_reason(conn))
        history.record(conn, sample)
        history.prune(conn, settings.history_days)
    return sample
