"""The marts lock (`flytt.control.locks`) on a real PostgreSQL: a build excludes readers,
readers share, a waiting build is not starved, and a dead holder frees it.

Each test has its own database (advisory locks are per database), and every holder is a
separate session, as separate processes or hosts would be.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from flytt.build import run_build
from flytt.control import locks
from flytt.control.locks import Holder, LockTimeoutError
from flytt.errors import UserError
from flytt.warehouse import Warehouse
from syncd import synthetic
from syncd.marts import fetch_readable


@pytest.fixture()
def engine(fresh_warehouse: Warehouse) -> Iterator[sa.Engine]:
    yield fresh_warehouse.engine
    fresh_warehouse.engine.dispose()


def _reader(engine: sa.Engine) -> sa.Connection:
    """A session that holds the marts lock shared until it is closed."""
    conn = engine.connect()
    locks.share_marts(conn)
    return conn


def test_a_build_waits_for_readers_and_says_who_they_are(engine: sa.Engine) -> None:
    reader = _reader(engine)
    waited: list[list[Holder]] = []
    with (
        pytest.raises(LockTimeoutError) as caught,
        locks.marts_exclusive(engine, timeout_s=0.3, on_wait=waited.append),
    ):
        pass
    assert [h.mode for h in waited[0]] == ["shared"]
    assert caught.value.holders[0].pid == waited[0][0].pid
    reader.close()  # the reader's transaction ends: the build goes ahead
    with locks.marts_exclusive(engine, timeout_s=5, on_wait=waited.append):
        assert len(waited) == 1  # free at once this time: no second wait reported


def test_readers_share_and_a_build_keeps_them_out(engine: sa.Engine) -> None:
    first, second = _reader(engine), _reader(engine)  # two readers at once: both granted
    first.close()
    second.close()
    with locks.marts_exclusive(engine), engine.connect() as late:
        with pytest.raises(LockTimeoutError) as caught:
            locks.share_marts(late, timeout_s=0.3)
        assert [h.mode for h in caught.value.holders] == ["exclusive"]
        # the timeout rolled back only its savepoint: the reader's transaction goes on
        assert late.execute(sa.text("select 1")).scalar() == 1
    with engine.connect() as after:
        locks.share_marts(after, timeout_s=1)
        assert after.execute(sa.text("show lock_timeout")).scalar() == "0"


def test_a_waiting_build_is_not_starved_by_new_readers(engine: sa.Engine) -> None:
    reader = _reader(engine)
    granted = threading.Event()

    def build() -> None:
        with locks.marts_exclusive(engine, timeout_s=30):
            granted.set()
            time.sleep(0.2)

    builder = threading.Thread(target=build)
    builder.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until the build's request is queued
        with engine.connect() as probe:
            waiting = probe.execute(
                sa.text(
                    "select count(*) from pg_locks where locktype = 'advisory' "
                    "and objid = :obj and not granted"
                ),
                {"obj": locks.MARTS},
            ).scalar()
        if waiting:
            break
        time.sleep(0.05)
    with engine.connect() as newcomer, pytest.raises(LockTimeoutError):
        locks.share_marts(newcomer, timeout_s=0.3)  # queued behind the waiting build
    assert not granted.is_set()
    reader.close()
    builder.join(timeout=30)
    assert granted.is_set()


def test_a_dead_holder_frees_the_lock(engine: sa.Engine) -> None:
    reader = _reader(engine)
    pid = reader.execute(sa.text("select pg_backend_pid()")).scalar()
    with engine.connect() as admin:  # the reader's process dies: its session ends
        admin.execute(sa.text("select pg_terminate_backend(:p)"), {"p": pid})
        admin.commit()
    with locks.marts_exclusive(engine, timeout_s=10):
        pass
    reader.invalidate()


def test_delivery_reads_wait_for_a_running_build(fresh_warehouse: Warehouse) -> None:
    """What a user sees: `flytt migrate` reading the marts while `flytt build` rebuilds them
    waits for the build instead of failing on a view that is not there for a moment."""
    engine = fresh_warehouse.engine
    synthetic.seed_marts(engine, 3, services=1, crash=False)
    with engine.connect() as conn:
        ids = [
            int(i)
            for i in conn.execute(
                sa.text("select altinn2_correspondence_id from a3.correspondences")
            ).scalars()
        ]
    read: list[int] = []

    def deliver_batch() -> None:
        with engine.connect() as conn:
            rows, unreadable = fetch_readable(conn, ids)
            assert not unreadable
            read.extend(sorted(rows))

    with locks.marts_exclusive(engine):
        reader = threading.Thread(target=deliver_batch)
        reader.start()
        reader.join(timeout=1.0)
        assert reader.is_alive() and not read  # held up by the build
    reader.join(timeout=30)
    assert read == sorted(ids)


def test_flytt_build_says_what_it_waits_for(
    fresh_warehouse: Warehouse, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = fresh_warehouse.engine
    reader = _reader(engine)
    threading.Timer(1.0, reader.close).start()  # the reader finishes a second later
    with pytest.raises(UserError, match="matches no model"):
        run_build(fresh_warehouse, select="no_such_model")  # dbt runs only after the wait
    message = " ".join(capsys.readouterr().err.split())
    assert "Waiting for the marts lock before the build: held by flytt@" in message
    assert "shared" in message
