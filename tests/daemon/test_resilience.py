"""`flytt daemon` under stress, during a live run: kill -9 at random points, and two daemons
on one warehouse. The end state must be the one an uninterrupted run reaches: exactly one A3
correspondence and one dialog per eligible element, every one `available`, none lost, none
sent twice except what a kill interrupted, and load and build never at the same time.

The sandbox A2 keeps changing in a background thread (`sandbox.a2.live.run_live`), the A3
replica answers half its requests slowly (so kills land while delivery is in flight), and the
A3 replica's handlers are wrapped in the test process to log every migration and
make-available call (the replica de-duplicates by `altinn2CorrespondenceId`, so its tables
alone cannot show a second delivery).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from flytt.control import upgrade
from flytt.daemon.jobs import run_job
from flytt.warehouse import Warehouse
from sandbox.a2.generate import generate_a2
from sandbox.a2.live import run_live
from sandbox.a3.inspect import counts_by_altinn2_id
from sandbox.faults import FaultPlan
from sandbox.serve import free_port
from sandbox.services import Replicas, start_replicas
from tests.cli import FLYTT
from tests.conftest import settings_for
from tests.daemon.test_daemon import _env

SIZE = 80
SEED = 11
KILL_SEED = 20260721
"""Seed of the kill delays: the same ten kill points on every run."""
KILLS = 10
LIVE_RATE = 2.0
SLOW_A3 = FaultPlan(rate_slow=0.5, slow_s=0.3, seed=5)
CONVERGE_TIMEOUT = 150.0
"""Seconds the last daemon gets to load, build, deliver and expose what the live run added."""

HOST = socket.gethostname()


# --- set-up ---------------------------------------------------------------------------------


@pytest.fixture()
def replicas(fresh_warehouse: Warehouse, tmp_path: Path) -> Iterator[Replicas]:
    upgrade(fresh_warehouse)
    settings = settings_for(fresh_warehouse, tmp_path, ready_services=["*"])
    with start_replicas(settings) as started:
        generate_a2(started.settings, size=SIZE, seed=SEED)
        yield started


@dataclass
class A3Log:
    """Every call that reached the A3 replica's migration handler (per A2 id) and its
    make-available step (per A3 id), counted in the test process."""

    migrations: Counter[int] = field(default_factory=Counter)
    made_available: Counter[UUID] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def attach(cls, replicas: Replicas) -> A3Log:
        log = cls()
        handler = replicas.apps["a3"].state.handler
        maker = replicas.apps["a3"].state.make_available
        migrate, one = handler.migrate, maker.one

        def counted_migrate(req: Any) -> Any:
            with log.lock:
                log.migrations[int(req.altinn2CorrespondenceId)] += 1
            return migrate(req)

        def counted_one(corr_id: UUID, create_events: bool = False) -> Any:
            with log.lock:
                log.made_available[corr_id] += 1
            return one(corr_id, create_events)

        # the routes call `handler.migrate(...)` and `maker.one(...)` on these very objects
        handler.migrate = counted_migrate
        maker.one = counted_one
        return log


class LiveA2:
    """`run_live` in a background thread, in short chunks until `stop()`."""

    def __init__(self, replicas: Replicas) -> None:
        self.replicas = replicas
        self.changes: Counter[str] = Counter()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-a2", daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.changes.update(run_live(self.replicas.settings, rate=LIVE_RATE, max_seconds=3))
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def start(self) -> LiveA2:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the live A2 thread did not stop"
        assert self.error is None, f"the live A2 thread failed: {self.error!r}"
        assert self.changes.get("a2_correspondence", 0) > 0, "the live run added nothing"


def _start_daemon(
    replicas: Replicas, warehouse: Warehouse, data_dir: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    env = _env(replicas, warehouse, data_dir, free_port())
    # A killed daemon's exposure leases are only freed by their expiry (delivery leases of a
    # dead local pid are reaped at once): 15 s instead of 300 s keeps the test short.
    env["FLYTT_LEASE_SECONDS"] = "15"
    with log_path.open("ab") as out:
        return subprocess.Popen([FLYTT, "daemon"], env=env, stdout=out, stderr=subprocess.STDOUT)


def _stop_daemon(proc: subprocess.Popen[bytes], log_path: Path) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"daemon {proc.pid} did not stop on SIGTERM") from None
    assert code == 0, f"daemon {proc.pid} exited {code}:\n{_tail(log_path)}"


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def _scalar(warehouse: Warehouse, sql: str, **params: Any) -> Any:
    with warehouse.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def _rows(warehouse: Warehouse, sql: str, **params: Any) -> list[Any]:
    with warehouse.engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def _wait_for(predicate: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what()}")


def _leases_of(warehouse: Warehouse, pid: int, prefix: str = "") -> set[int]:
    """Elements leased by the process `pid` of this host: delivery leases, or with prefix
    `expose:` exposure leases (owners as `flytt.control.elements.new_lease_owner` makes them).
    """
    return {
        int(r[0])
        for r in _rows(
            warehouse,
            "select a2_correspondence_id from flytt.element_state where lease_owner like :o",
            o=f"{prefix}{HOST}:{pid}:%",
        )
    }


def _running_jobs_of(warehouse: Warehouse, pid: int) -> list[str]:
    return [
        str(r[0])
        for r in _rows(
            warehouse,
            "select command from flytt.run where pid = :p and status = 'running' order by run_id",
            p=pid,
        )
    ]


# --- the end state --------------------------------------------------------------------------

_CAUGHT_UP = """
with last_load as (
    select min(finished_at) as at from flytt.run
     where command = 'load' and status = 'succeeded' and started_at > :live_ended),
last_build as (
    select min(r.finished_at) as at from flytt.run r, last_load
     where r.command = 'build' and r.status = 'succeeded' and r.started_at >= last_load.at),
last_migrate as (
    select min(r.finished_at) as at from flytt.run r, last_build
     where r.command = 'migrate' and r.status = 'succeeded' and r.started_at >= last_build.at)
select (select at from last_migrate) is not null
   and not exists (select 1 from flytt.element_state
                    where state in ('eligible', 'migrated') or lease_owner is not null)
"""
"""True when a load that began after the live run ended, a build after it and a delivery
after that succeeded, and no element waits for delivery or exposure or is leased."""


def _diagnosis(warehouse: Warehouse) -> str:
    states = dict(
        _rows(warehouse, "select state, count(*) from flytt.element_state group by 1 order by 1")
    )
    runs = _rows(
        warehouse,
        "select command, status, count(*), max(started_at) from flytt.run group by 1, 2 "
        "order by 1, 2",
    )
    jobs = _rows(
        warehouse,
        "select id, task_name, status, lock, worker_id from flytt_queue.procrastinate_jobs "
        "where status in ('todo', 'doing') order by id",
    )
    return (
        f"the daemon to catch up; elements per state {states}; runs {runs}; "
        f"queued/running procrastinate jobs (id, task, status, lock, worker) {jobs}"
    )


def _wait_until_caught_up(warehouse: Warehouse, live_ended: datetime) -> None:
    _wait_for(
        lambda: bool(_scalar(warehouse, _CAUGHT_UP, live_ended=live_ended)),
        CONVERGE_TIMEOUT,
        lambda: _diagnosis(warehouse),
    )


def _drain(replicas: Replicas, warehouse: Warehouse, data_dir: Path) -> dict[str, dict[str, Any]]:
    """`flytt daemon --once` after the daemons stopped; returns the counts of its jobs."""
    before = int(_scalar(warehouse, "select coalesce(max(run_id), 0) from flytt.run"))
    env = _env(replicas, warehouse, data_dir, free_port())
    done = subprocess.run(
        [FLYTT, "daemon", "--once"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    rows = _rows(
        warehouse,
        "select command, counts from flytt.run where run_id > :r order by run_id",
        r=before,
    )
    return {str(command): dict(counts or {}) for command, counts in rows}


def _eligible_ids(warehouse: Warehouse) -> set[int]:
    return {
        int(r[0])
        for r in _rows(
            warehouse,
            "select a2_correspondence_id from a3.correspondence_eligibility where is_eligible",
        )
    }


def _dialog_store_size(replicas: Replicas) -> int | None:
    """Dialogs in the (in-memory) Dialogporten replica, found through its POST /dialogs
    route; None when the replica is not there."""
    app = replicas.apps.get("dialogporten")
    for route in getattr(app, "routes", []):
        if getattr(route, "path", "").endswith("/dialogs") and "POST" in route.methods:
            for cell in route.endpoint.__closure__ or ():
                replica = getattr(cell.cell_contents, "__self__", None)
                if replica is not None and hasattr(replica, "store"):
                    return len(replica.store)
    return None


def _assert_end_state(
    replicas: Replicas, warehouse: Warehouse, drained: dict[str, dict[str, Any]]
) -> set[int]:
    """The end state of an uninterrupted run; returns the eligible A2 ids."""
    # the daemons had done everything: the drain after them found nothing to send or expose
    assert drained["migrate"].get("delivered", 0) == 0, drained
    assert drained["migrate"].get("already_there", 0) == 0, drained
    assert drained["expose"].get("made_available", 0) == 0, drained

    eligible = _eligible_ids(warehouse)
    assert len(eligible) > SIZE // 2  # the initial backlog and live traffic

    assert replicas.sandbox_database_url is not None
    a3 = counts_by_altinn2_id(replicas.sandbox_database_url)
    odd = sorted(set(a3) ^ eligible)
    assert set(a3) == eligible, (
        f"in A3 but not eligible: {sorted(set(a3) - eligible)}; "
        f"eligible but not in A3: {sorted(eligible - set(a3))}; their element_state: "
        + str(
            _rows(
                warehouse,
                "select a2_correspondence_id, state, state_reason, resource_id, a2_created_at, "
                "eligible_from, next_attempt_at, eligible_at, updated_at, lease_owner "
                "from flytt.element_state where a2_correspondence_id = any(:ids)",
                ids=odd,
            )
        )
        + "; their eligibility: "
        + str(
            _rows(
                warehouse,
                "select * from a3.correspondence_eligibility "
                "where a2_correspondence_id = any(:ids)",
                ids=odd,
            )
        )
    )
    assert {c.correspondences for c in a3.values()} == {1}

    states = dict(
        _rows(
            warehouse,
            "select state, count(*) from flytt.element_state "
            "where a2_correspondence_id = any(:ids) group by 1",
            ids=list(eligible),
        )
    )
    assert states == {"available": len(eligible)}, states
    dialogs = _rows(
        warehouse,
        "select count(dialog_id), count(distinct dialog_id) from flytt.element_state "
        "where a2_correspondence_id = any(:ids)",
        ids=list(eligible),
    )[0]
    assert tuple(dialogs) == (len(eligible), len(eligible))
    # one dialog reference per correspondence in A3, one dialog per element in Dialogporten
    per_correspondence = _rows_a3(
        replicas,
        'select count(*) from correspondence."ExternalReferences" '
        'where "ReferenceType" = 3 group by "CorrespondenceId"',
    )
    assert sorted(per_correspondence) == [1] * len(eligible)
    size = _dialog_store_size(replicas)
    if size is not None:
        assert size == len(eligible)

    leftovers = _rows(
        warehouse,
        "select "
        "(select count(*) from flytt.element_state where lease_owner is not null), "
        "(select count(*) from flytt.run where status = 'running')",
    )[0]
    assert tuple(leftovers) == (0, 0), "leases or runs left open"
    return eligible


def _rows_a3(replicas: Replicas, sql: str) -> list[int]:
    assert replicas.sandbox_database_url is not None
    engine = sa.create_engine(replicas.sandbox_database_url)
    try:
        with engine.connect() as conn:
            return [int(r[0]) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _db_now(warehouse: Warehouse) -> datetime:
    now = _scalar(warehouse, "select now()")
    assert isinstance(now, datetime)
    return now


# --- the tests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kill:
    life: int
    pid: int
    seconds_after_start: float
    running: list[str]
    delivering: frozenset[int]
    exposing: frozenset[int]


@pytest.mark.slow
def test_ten_kill9s_during_a_live_run_end_as_an_uninterrupted_run(
    replicas: Replicas, fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    log = A3Log.attach(replicas)
    replicas.faults["a3"].configure(SLOW_A3)
    # The first load and build in this process, so a backlog of eligible elements waits for
    # delivery when the first daemon starts (and kills can land with delivery in flight).
    for job in ("load", "build"):
        outcome = run_job(job, replicas.settings, fresh_warehouse)
        assert outcome.outcome == "succeeded", outcome

    rng = random.Random(KILL_SEED)
    delays = [round(rng.uniform(1.0, 8.0), 2) for _ in range(KILLS)]
    kills: list[Kill] = []
    live = LiveA2(replicas).start()
    try:
        for life, delay in enumerate(delays):
            log_path = tmp_path / f"daemon-{life}.log"
            proc = _start_daemon(replicas, fresh_warehouse, tmp_path, log_path)
            started = time.monotonic()
            try:
                if life % 2 == 1 and _scalar(
                    fresh_warehouse,
                    "select count(*) from flytt.element_state where state = 'eligible'",
                ):
                    # every other kill waits for this daemon's delivery to hold leases, then
                    # strikes within the next second (delay / 8: 0.125 to 1 s)
                    pid = proc.pid
                    deadline = started + 60
                    while time.monotonic() < deadline and proc.poll() is None:
                        if _leases_of(fresh_warehouse, pid):
                            break
                        time.sleep(0.05)
                    time.sleep(delay / 8)
                else:
                    time.sleep(max(0.0, started + delay - time.monotonic()))
                assert proc.poll() is None, f"daemon {life} died by itself:\n{_tail(log_path)}"
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            # what the dead process held: nobody frees it before the next daemon starts
            kills.append(
                Kill(
                    life,
                    proc.pid,
                    round(time.monotonic() - started, 1),
                    _running_jobs_of(fresh_warehouse, proc.pid),
                    frozenset(_leases_of(fresh_warehouse, proc.pid)),
                    frozenset(_leases_of(fresh_warehouse, proc.pid, "expose:")),
                )
            )
    finally:
        live.stop()
    live_ended = _db_now(fresh_warehouse)

    summary = "\n".join(
        f"kill {k.life} (pid {k.pid}) at {k.seconds_after_start} s: running {k.running}, "
        f"{len(k.delivering)} leased for delivery, {len(k.exposing)} for exposure"
        for k in kills
    )
    in_flight = [k for k in kills if "migrate" in k.running and k.delivering]
    assert len(in_flight) >= 3, f"too few kills hit delivery in flight:\n{summary}"
    assert any({"load", "build"} & set(k.running) for k in kills), (
        f"no kill hit a load or build:\n{summary}"
    )

    # a last daemon, never killed, must finish the job on its own
    log_path = tmp_path / "daemon-last.log"
    proc = _start_daemon(replicas, fresh_warehouse, tmp_path, log_path)
    try:
        _wait_until_caught_up(fresh_warehouse, live_ended)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nkills:\n{summary}\nlast daemon:\n{_tail(log_path)}") from None
    finally:
        _stop_daemon(proc, log_path)

    drained = _drain(replicas, fresh_warehouse, tmp_path)
    eligible = _assert_end_state(replicas, fresh_warehouse, drained)

    # every eligible element reached A3; only an element a kill caught under lease was sent
    # (or made available) more than once, and A3 kept one correspondence for it all the same
    assert set(log.migrations) >= eligible
    interrupted = frozenset[int]().union(*(k.delivering for k in kills))
    resent = {a2 for a2, n in log.migrations.items() if n > 1}
    assert resent <= interrupted, f"sent twice without a kill: {sorted(resent - interrupted)}"
    a2_of = {
        UUID(str(a3)): int(a2)
        for a2, a3 in _rows(
            fresh_warehouse,
            "select a2_correspondence_id, a3_correspondence_id from flytt.element_state "
            "where a3_correspondence_id is not null",
        )
    }
    assert {a2_of[a3] for a3 in log.made_available} == eligible
    cut = frozenset[int]().union(*(k.exposing for k in kills))
    reexposed = {a2_of[a3] for a3, n in log.made_available.items() if n > 1}
    assert reexposed <= cut, f"made available twice without a kill: {sorted(reexposed - cut)}"


@pytest.mark.slow
def test_two_daemons_on_one_warehouse_never_deliver_or_expose_twice(
    replicas: Replicas, fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    log = A3Log.attach(replicas)
    replicas.faults["a3"].configure(SLOW_A3)
    live = LiveA2(replicas).start()
    paths = [tmp_path / "daemon-a.log", tmp_path / "daemon-b.log"]
    procs = [_start_daemon(replicas, fresh_warehouse, tmp_path, p) for p in paths]
    try:
        try:
            _wait_for(
                lambda: bool(
                    _scalar(
                        fresh_warehouse,
                        "select count(*) from flytt.element_state where state = 'available'",
                    )
                ),
                150,
                lambda: f"a first exposure; {_diagnosis(fresh_warehouse)}",
            )
            time.sleep(15)  # live traffic while both daemons deliver and expose
        finally:
            live.stop()
        live_ended = _db_now(fresh_warehouse)
        for proc, path in zip(procs, paths, strict=True):
            assert proc.poll() is None, f"daemon {proc.pid} died:\n{_tail(path)}"
        _wait_until_caught_up(fresh_warehouse, live_ended)
    finally:
        for proc, path in zip(procs, paths, strict=True):
            _stop_daemon(proc, path)
    pids = {p.pid for p in procs}
    daemon_runs = _rows(
        fresh_warehouse,
        "select run_id, command, pid, started_at, finished_at, status, counts from flytt.run "
        "where pid = any(:p) order by started_at, run_id",
        p=list(pids),
    )

    drained = _drain(replicas, fresh_warehouse, tmp_path)
    eligible = _assert_end_state(replicas, fresh_warehouse, drained)

    # both daemons worked: each ran delivery jobs
    migrate_pids = {r.pid for r in daemon_runs if r.command == "migrate"}
    assert migrate_pids == pids, f"only {migrate_pids} of {pids} ran delivery"

    # no element delivered twice: one migration call per element reached A3, and the
    # daemons' delivery jobs count each element once
    assert set(log.migrations) == eligible
    twice = {a2: n for a2, n in log.migrations.items() if n != 1}
    assert not twice, f"A3 received these elements more than once: {twice}"
    delivered = sum(
        int(r.counts.get("delivered", 0)) for r in daemon_runs if r.command == "migrate"
    )
    already = sum(
        int(r.counts.get("already_there", 0)) for r in daemon_runs if r.command == "migrate"
    )
    assert (delivered, already) == (len(eligible), 0)

    # no element exposed twice
    exposed_twice = {a3: n for a3, n in log.made_available.items() if n != 1}
    assert not exposed_twice, f"made available more than once: {exposed_twice}"
    assert len(log.made_available) == len(eligible)
    made = sum(int(r.counts.get("made_available", 0)) for r in daemon_runs if r.command == "expose")
    assert made == len(eligible)

    # load and build (and the data tests, under the same lock) never ran at the same time,
    # on either daemon
    refresh = [r for r in daemon_runs if r.command in ("load", "build", "test")]
    assert {r.command for r in refresh} >= {"load", "build"}
    assert all(r.finished_at is not None for r in refresh)
    overlaps = []
    latest = refresh[0]  # the run that finished last among those started so far
    for run in refresh[1:]:
        if run.started_at < latest.finished_at:
            overlaps.append((latest.command, latest.pid, run.command, run.pid, run.started_at))
        if run.finished_at > latest.finished_at:
            latest = run
    assert not overlaps, f"load/build runs overlapped: {overlaps}"
