"""The marts lock: a dbt build never swaps the `a3` marts under a reader, on any host.

A dbt table rebuild drops dependent views with `cascade` and re-creates them, so for a moment
`a3.correspondence_eligibility` and the marts do not exist. `flytt build` therefore holds the
marts lock exclusively while dbt runs; delivery (`flytt migrate`) and exposure (`flytt
expose`) hold it shared while they read the marts. Any number of readers run together; a
build waits for them to finish, and readers that come while a build waits queue behind it
(PostgreSQL grants a heavyweight lock in request order, so a stream of readers does not starve
the build).

It is a PostgreSQL session-level advisory lock (`pg_advisory_lock(classid, objid)`,
https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS), held on one
dedicated connection for the block. Every flytt process on every host sees it through the
warehouse, and a process that dies (kill -9, power loss) loses its connection and with it the
lock, so nothing needs cleaning up: never a pid file or a process-local lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

NAMESPACE = 0x666C7974  # "flyt": the classid of flytt's advisory locks
MARTS = 1
"""objid of the marts lock within `NAMESPACE`."""
QUEUE_SETUP = 2
"""objid of the lock that serialises creating the daemon's queue schema."""
DISCOVERY = 3
"""objid of the lock that serialises discovery (one upsert of the verdicts at a time)."""
SYNC = 4
"""objid of the lock held by the one A2 → A3 sync pass that runs at a time (step 2.2)."""
BRIDGE = 5
"""objid of the lock held by the one pass that applies A3's events to A2 (step 2.2)."""


class LockTimeoutError(Exception):
    """The lock was not granted within the timeout; `holders` says who holds it."""

    def __init__(self, holders: list[Holder]) -> None:
        super().__init__(", ".join(str(h) for h in holders) or "no holder seen")
        self.holders = holders


@dataclass(frozen=True)
class Holder:
    """A session holding the marts lock: its backend pid, the application name its client
    set, the client address (None for a local socket) and `exclusive` or `shared`."""

    pid: int
    application: str
    client: str | None
    mode: str

    def __str__(self) -> str:
        where = f" from {self.client}" if self.client else ""
        return f"{self.application or 'a client'} (backend {self.pid}{where}, {self.mode})"


HOLDERS = """
select a.pid, coalesce(a.application_name, ''), host(a.client_addr),
       case l.mode when 'ExclusiveLock' then 'exclusive' else 'shared' end
  from pg_locks l join pg_stat_activity a on a.pid = l.pid
 where l.locktype = 'advisory' and l.classid = :ns and l.objid = :obj and l.objsubid = 2
   and l.granted and l.pid <> pg_backend_pid()
 order by a.pid
"""


def holders(conn: sa.Connection) -> list[Holder]:
    """The other sessions that hold the marts lock now (empty when it is free)."""
    return [
        Holder(int(row[0]), str(row[1]), row[2], str(row[3]))
        for row in conn.execute(sa.text(HOLDERS), {"ns": NAMESPACE, "obj": MARTS})
    ]


_FUNCTIONS = {
    "exclusive": ("pg_advisory_lock", "pg_try_advisory_lock", "pg_advisory_unlock"),
    "shared": (
        "pg_advisory_lock_shared",
        "pg_try_advisory_lock_shared",
        "pg_advisory_unlock_shared",
    ),
}

OnWait = Callable[[list[Holder]], None]
"""Called once, with the current holders, when the lock is not free at once."""


@contextmanager
def _held(
    engine: sa.Engine, mode: str, timeout_s: float | None, on_wait: OnWait | None
) -> Iterator[None]:
    lock, try_lock, unlock = _FUNCTIONS[mode]
    args = {"ns": NAMESPACE, "obj": MARTS}
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        if not conn.execute(sa.text(f"select {try_lock}(:ns, :obj)"), args).scalar():
            if on_wait is not None:
                on_wait(holders(conn))
            # lock_timeout bounds the wait for any heavyweight lock, advisory ones included
            conn.execute(sa.text(f"set lock_timeout = {int((timeout_s or 0) * 1000)}"))
            try:
                conn.execute(sa.text(f"select {lock}(:ns, :obj)"), args)
            except sa.exc.OperationalError as exc:
                if getattr(exc.orig, "pgcode", None) != "55P03":  # lock_not_available
                    raise
                raise LockTimeoutError(holders(conn)) from None
            finally:
                conn.execute(sa.text("set lock_timeout = 0"))
        yield
    finally:
        try:
            conn.execute(sa.text(f"select {unlock}(:ns, :obj)"), args)
        except sa.exc.DBAPIError:
            conn.invalidate()  # the session (and with it the lock) is gone or will be
        conn.close()


@contextmanager
def marts_exclusive(
    engine: sa.Engine, timeout_s: float | None = None, on_wait: OnWait | None = None
) -> Iterator[None]:
    """Hold the marts lock exclusively for the block (a dbt build), on a connection of its own.

    Args:
        engine: the warehouse engine; one of its connections is held for the block.
        timeout_s: give up after this many seconds of waiting; None or 0 waits without end.
        on_wait: called with the holders when the lock is not free at once (to say why we wait).

    Raises:
        LockTimeoutError: readers or another build still held it after `timeout_s`.
    """
    with _held(engine, "exclusive", timeout_s, on_wait):
        yield


@contextmanager
def marts_shared(
    engine: sa.Engine, timeout_s: float | None = None, on_wait: OnWait | None = None
) -> Iterator[None]:
    """Hold the marts lock shared for the block, on a connection of its own (a reader whose
    mart reads span several transactions; within one transaction use `share_marts`).

    Args: as `marts_exclusive`.

    Raises:
        LockTimeoutError: a build still held it (or waited for it) after `timeout_s`.
    """
    with _held(engine, "shared", timeout_s, on_wait):
        yield


def share_marts(conn: sa.Connection, timeout_s: float | None = None) -> None:
    """Take the marts lock shared until the end of `conn`'s current transaction (begun if
    none is): for a reader whose mart reads all happen in that one transaction. Taking it
    again in the same transaction is harmless.

    Args:
        conn: a connection; its transaction holds the lock until commit or rollback.
        timeout_s: give up after this many seconds of waiting for a build; None waits.

    Raises:
        LockTimeoutError: a build still held it (or waited for it) after `timeout_s`.
    """
    args = {"ns": NAMESPACE, "obj": MARTS}
    if conn.execute(sa.text("select pg_try_advisory_xact_lock_shared(:ns, :obj)"), args).scalar():
        return
    before: str = conn.execute(sa.text("select current_setting('lock_timeout')")).scalar_one()
    savepoint = conn.begin_nested()  # a timeout must not abort the caller's transaction
    try:
        conn.execute(sa.text(f"set local lock_timeout = {int((timeout_s or 0) * 1000)}"))
        conn.execute(sa.text("select pg_advisory_xact_lock_shared(:ns, :obj)"), args)
    except sa.exc.OperationalError as exc:
        savepoint.rollback()
        if getattr(exc.orig, "pgcode", None) != "55P03":  # lock_not_available
            raise
        raise LockTimeoutError(holders(conn)) from None
    conn.execute(sa.text("select set_config('lock_timeout', :v, true)"), {"v": before})
    savepoint.commit()


def serialise_queue_setup(conn: sa.Connection) -> None:
    """Wait until no other daemon is creating the queue schema; held to the end of `conn`'s
    transaction, so two daemons starting at once do not both create it."""
    conn.execute(
        sa.text("select pg_advisory_xact_lock(:ns, :obj)"), {"ns": NAMESPACE, "obj": QUEUE_SETUP}
    )


def serialise_discovery(conn: sa.Connection) -> None:
    """Wait until no other process is discovering; held to the end of `conn`'s transaction.

    Two discoveries at once upsert overlapping rows of `flytt.element_state` in different
    orders and can deadlock; one at a time costs little (an incremental one reads only the
    change) and delivery itself still runs in parallel."""
    conn.execute(
        sa.text("select pg_advisory_xact_lock(:ns, :obj)"), {"ns": NAMESPACE, "obj": DISCOVERY}
    )


@contextmanager
def sync_pass(conn: sa.Connection, objid: int = SYNC) -> Iterator[bool]:
    """Try to become the one A2 → A3 sync pass (step 2.2; `objid` `BRIDGE`: the one pass
    applying A3's events to A2) for as long as the block runs; yields False at once when
    another process holds it (that pass does the work).

    A session-level lock on `conn` (keep the connection open for the whole pass, outside its
    transactions): a process that dies loses its session and with it the lock.
    """
    args = {"ns": NAMESPACE, "obj": objid}
    got = bool(conn.execute(sa.text("select pg_try_advisory_lock(:ns, :obj)"), args).scalar())
    conn.commit()
    try:
        yield got
    finally:
        if got:
            conn.execute(sa.text("select pg_advisory_unlock(:ns, :obj)"), args)
            conn.commit()
