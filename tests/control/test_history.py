"""`flytt.status_history` (flytt.control.history): samples in, series and each step's `since`
out, pruned to `history_days` and thinned to an hour after two days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from flytt.control import history, upgrade
from flytt.control.history import Sample
from flytt.status import collect_status
from flytt.warehouse import Warehouse


@pytest.fixture()
def clean(warehouse: Warehouse) -> Iterator[Warehouse]:
    upgrade(warehouse)
    with warehouse.engine.begin() as conn:
        conn.execute(sa.text("delete from flytt.status_history"))
    yield warehouse


def _sample(at: datetime, states: dict[str, str] | None = None, eligible: int = 0) -> Sample:
    return Sample(
        sampled_at=at,
        environment="tt02",
        counts={"eligible": eligible, "migrated": 0},
        step_states=states or {"1.1": "running"},
        quarantine={"mapping:A2_BAD_ROW": 2},
        oldest_eligible_age_s=12.5,
        oldest_migrated_age_s=None,
        latency_p95_s=None,
    )


def test_a_sample_comes_back_as_written_and_twice_is_once(clean: Warehouse) -> None:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    with clean.engine.begin() as conn:
        assert history.record(conn, _sample(at, eligible=7)) is True
        assert history.record(conn, _sample(at, eligible=8)) is False
    with clean.engine.connect() as conn:
        (got,) = history.series(conn, "tt02", at - timedelta(seconds=1))
    assert got == _sample(at, eligible=7)


def test_prune_drops_expired_rows_and_thins_old_ones_to_one_an_hour(clean: Warehouse) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old_hour = (now - timedelta(days=3)).replace(minute=0, second=0)
    expired = [now - timedelta(days=91), now - timedelta(days=95)]
    thinned = [old_hour + timedelta(minutes=m) for m in (0, 10, 20, 59)]
    recent = [now - timedelta(minutes=m) for m in (1, 2, 3)]
    with clean.engine.begin() as conn:
        for at in expired + thinned + recent:
            history.record(conn, _sample(at))
        assert history.prune(conn, keep_days=90) == 2 + 3
    with clean.engine.connect() as conn:
        kept = [s.sampled_at for s in history.series(conn, "tt02", now - timedelta(days=400))]
    assert kept == [old_hour, *sorted(recent)]


def test_since_is_the_start_of_the_last_unbroken_run_of_the_state(clean: Warehouse) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    timeline = [
        {"1.1": "running", "5": "not_started"},
        {"1.1": "done", "5": "running"},
        {"1.1": "running", "5": "running"},  # new elements arrived
        {"1.1": "done", "5": "running"},
        {"1.1": "done", "5": "done"},
    ]
    with clean.engine.begin() as conn:
        for i, states in enumerate(timeline):
            history.record(conn, _sample(t0 + timedelta(minutes=i), states))
    with clean.engine.connect() as conn:
        since = history.state_since(conn, "tt02", {"1.1": "done", "5": "done", "6": "not_started"})
        changed = history.state_since(conn, "tt02", {"1.1": "running"})
        other = history.state_since(conn, "prod", {"1.1": "done"})
    assert since == {"1.1": t0 + timedelta(minutes=3), "5": t0 + timedelta(minutes=4), "6": None}
    assert changed == {"1.1": None}  # it changed after the newest sample: not known yet
    assert other == {"1.1": None}  # another environment's samples are not this one's


def test_status_reads_since_from_the_history(clean: Warehouse) -> None:
    empty = collect_status(clean, "tt02")
    assert {step["since"] for step in empty["steps"].values()} == {None}
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    states = {key: step["state"] for key, step in empty["steps"].items()}
    with clean.engine.begin() as conn:
        history.record(conn, _sample(at, states))
    status = collect_status(clean, "tt02")
    assert {step["since"] for step in status["steps"].values()} == {at.isoformat()}
