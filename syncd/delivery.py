"""`flytt migrate`: deliver services, attachments and correspondences to A3 (issue #6).

Order (reference a3-correspondence §7, DESIGN "Delivery to A3"):

1. discovery: `flytt.element_state` follows `a3.correspondence_eligibility` (`syncd.discovery`);
2. services in scope: resource + XACML policy to the Resource Registry, recorded in
   `flytt.service_state` (`syncd.resource_registry`);
3. per element, claimed with a row lease (`syncd.leases`): each attachment's bytes streamed
   from the A2 source with its MD5 checksum (`POST /migration/attachment`, once per attachment,
   remembered in `flytt.attachment_state`), then the correspondence with its event,
   notification and forwarding history and `IsMigrating: true`
   (`POST /migration/correspondence`); the A3 id is stored in `flytt.element_state`.

Elements whose payload A3 would crash on (or reject) are quarantined, never sent
(`syncd.payloads.guard`).

One element's data never stops the run ("bad input never stops the line"): whatever goes wrong
with one element ends on that element, with a reason code, and the run goes on:

* its mart rows cannot be read (a batch read that raises is retried element by element,
  `syncd.marts.fetch_readable`) → quarantined `unreadable_row`;
* its payload cannot be built (`guard` or `build_correspondence` raise) → quarantined
  `payload_error`;
* A3 answers 400 → quarantined `a3_rejected_<code>`; another 4xx → `failed` with that code;
* an attachment has no bytes in the A2 source → quarantined `attachment_bytes_missing`;
  reading them fails otherwise → `attachment_read_error`, retried until `max_attempts`;
* any other error while delivering it → `unexpected_error`, retried until `max_attempts`.

Quarantined and failed elements are terminal: they are never claimed again until
`flytt migrate --reset ID`, so no element is claimed on every run (a poison pill). Only what is
not one element's fault stops the run: the warehouse connection failing, Maskinporten refusing
our client, A3 refusing connections `UNREACHABLE_LIMIT` times in a row.

Transient errors are retried with backoff (`syncd.retry`), then the element waits
`element_backoff_seconds` and is tried again in the same run while the wait is short; after
`settings.max_attempts` failed attempts it is `failed` with its last error code.

Re-sending is always safe: A3 de-duplicates on `altinn2CorrespondenceId` and
`altinn2AttachmentId` (§1.4, §1.5.3), which is what makes a run after kill -9 converge.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from flytt.console import progress
from flytt.errors import UserError
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from loaders.attachments import AttachmentNotFoundError, iter_attachment_bytes
from syncd import leases
from syncd.a3_client import A3MigrationClient
from syncd.discovery import ELIGIBILITY, discover
from syncd.leases import Claimed, ServiceQuota
from syncd.marts import (
    SCHEMA,
    UNREADABLE,
    describe_error,
    fetch_readable,
    is_connection_error,
    relation_exists,
)
from syncd.maskinporten import MaskinportenClient
from syncd.payloads import (
    ElementRows,
    attachment_id,
    attachment_params,
    attachment_size,
    build_correspondence,
    guard,
    pick,
)
from syncd.resource_registry import ResourceRegistryClient, build_policy, build_resource
from syncd.retry import A3CallError, element_backoff_seconds

CHUNK_SIZE = 1 << 20
"""Bytes per chunk when streaming an attachment from A2 to A3."""
UNREACHABLE_LIMIT = 10
"""Elements in a row that found A3 or Maskinporten unreachable before the run stops."""
MAX_RETRY_WAIT_S = 60.0
"""Elements waiting for a retry sooner than this keep the run alive; later ones wait for the
next run."""


@dataclass
class Clients:
    """The HTTP clients of one run (injected by tests and the benchmark)."""

    a3: A3MigrationClient
    registry: ResourceRegistryClient

    async def aclose(self) -> None:
        """Close both connection pools."""
        await self.a3.aclose()
        await self.registry.aclose()


def clients_from_settings(settings: Settings, tokens: MaskinportenClient | None = None) -> Clients:
    """Clients for `settings.a3_base_url` and `settings.resource_registry_base_url`."""
    tokens = tokens or MaskinportenClient.from_settings(settings)
    return Clients(
        a3=A3MigrationClient(settings.a3_base_url, tokens, concurrency=settings.concurrency),
        registry=ResourceRegistryClient(settings.resource_registry_base_url, tokens),
    )


@dataclass
class _Run:
    settings: Settings
    warehouse: Warehouse
    clients: Clients
    owner: str
    run_id: int | None
    newest_first: bool
    quotas: dict[str, ServiceQuota]
    byte_source: ByteSource
    counts: Counter[str] = field(default_factory=Counter)
    inflight: int = 0
    unreachable: int = 0


# --- selection -----------------------------------------------------------------------------


def _service_waits(conn: sa.Connection) -> dict[str, int]:
    """Per-service migration wait time in minutes from `a3.resources`, when the mart has it."""
    if not relation_exists(conn, "resources"):
        return {}
    columns: set[str] = set(
        conn.execute(
            sa.text(
                "select column_name from information_schema.columns "
                "where table_schema = :s and table_name = 'resources'"
            ),
            {"s": SCHEMA},
        ).scalars()
    )
    if "migration_wait_time_minutes" not in columns:
        return {}
    return {
        str(row[0]): int(row[1] or 0)
        for row in conn.execute(
            sa.text(f"select resource_id, migration_wait_time_minutes from {SCHEMA}.resources")
        )
    }


def _pending_by_service(
    conn: sa.Connection, services: Sequence[str], waits: dict[str, int], cap: int | None
) -> dict[str, int]:
    """Eligible elements old enough to be sent, per service (all services when empty), each
    count capped at `cap` (the per-service limit of the run).

    With a cap and the `a3.resources` mart present, each service is counted with a bounded
    index scan (resource, state, created), so the cost is services × cap, not the backlog.
    """
    params = {"services": list(services), "waits": _json(waits), "cap": cap}
    old_enough = (
        "(e.a2_created_at is null or e.a2_created_at <= now() - make_interval(mins => "
        "coalesce((cast(:waits as jsonb) ->> e.resource_id)::int, 0)))"
    )
    in_scope = (
        "(cardinality(cast(:services as text[])) = 0 or {col} = any(cast(:services as text[])))"
    )
    if cap is not None and relation_exists(conn, "resources"):
        sql = (
            f"select r.resource_id, n.pending from {SCHEMA}.resources r "
            "cross join lateral (select count(*) as pending from (select 1 "
            "from flytt.element_state e where e.resource_id = r.resource_id "
            f"and e.state = 'eligible' and {old_enough} limit :cap) capped) n "
            f"where n.pending > 0 and {in_scope.format(col='r.resource_id')} order by 1"
        )
    else:
        sql = (
            "select e.resource_id, count(*) from flytt.element_state e "
            "where e.state = 'eligible' and e.resource_id is not null "
            f"and {in_scope.format(col='e.resource_id')} and {old_enough} "
            "group by 1 order by 1"
        )
    counts = {str(row[0]): int(row[1]) for row in conn.execute(sa.text(sql), params)}
    return {rid: min(n, cap) if cap else n for rid, n in counts.items()}


def _json(value: Any) -> str:
    return json.dumps(value)


def _current_run_id(conn: sa.Connection) -> int | None:
    """The `flytt.run` row of this process (recorded by the command line), if any."""
    return conn.execute(
        sa.text(
            "select max(run_id) from flytt.run where pid = :pid and status = 'running' "
            "and command in ('migrate', 'demo', 'daemon')"
        ),
        {"pid": os.getpid()},
    ).scalar()


def _release_dead_local_leases(conn: sa.Connection) -> int:
    """Free leases held by processes of this host that no longer exist (a kill -9), so a re-run
    need not wait for their expiry. Owners are `<host>:<pid>:<random>` (`new_lease_owner`)."""
    host = leases.new_lease_owner().split(":", 1)[0]
    result = conn.execute(
        sa.text(
            "select distinct lease_owner from flytt.element_state "
            "where lease_owner like :prefix and lease_expires_at > now()"
        ),
        {"prefix": f"{host}:%"},
    )
    owners = [str(row[0]) for row in result]
    dead = []
    for owner in owners:
        try:
            pid = int(owner.split(":")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            dead.append(owner)
        except (ValueError, IndexError, PermissionError):
            continue
    if not dead:
        return 0
    freed = conn.execute(
        sa.text(
            "update flytt.element_state set lease_owner = null, lease_expires_at = null "
            "where lease_owner = any(:dead)"
        ),
        {"dead": dead},
    )
    return int(freed.rowcount)


# --- step 1.2: services --------------------------------------------------------------------


async def _deliver_services(run: _Run, services: Sequence[str]) -> list[str]:
    """Send resource + policy of every service in scope not yet delivered. Returns the
    services that are ready (delivered now or before)."""

    def load() -> tuple[set[str], dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        with run.warehouse.engine.connect() as conn:
            done: set[str] = set(
                conn.execute(
                    sa.text(
                        "select resource_id from flytt.service_state "
                        "where state = 'delivered' and resource_id = any(:r)"
                    ),
                    {"r": list(services)},
                ).scalars()
            )
            todo = [s for s in services if s not in done]
            resources: dict[str, dict[str, Any]] = {}
            rules: dict[str, list[dict[str, Any]]] = {s: [] for s in todo}
            if todo and relation_exists(conn, "resources"):
                for row in conn.execute(
                    sa.text(f"select * from {SCHEMA}.resources where resource_id = any(:r)"),
                    {"r": todo},
                ):
                    resources[str(row.resource_id)] = dict(row._mapping)
            if todo and relation_exists(conn, "resource_policy_rules"):
                for row in conn.execute(
                    sa.text(
                        f"select * from {SCHEMA}.resource_policy_rules where resource_id = any(:r)"
                    ),
                    {"r": todo},
                ):
                    rules[str(row.resource_id)].append(dict(row._mapping))
            return done, resources, rules

    done, resources, rules = await asyncio.to_thread(load)
    ready = [s for s in services if s in done]

    async def one(rid: str) -> None:
        row = resources.get(rid)
        code: str | None = None
        if row is None:
            code = "not_in_mapping"
        else:
            try:
                await run.clients.registry.put_resource(build_resource(row))
                level = pick(row, "minimum_authentication_level", "min_auth_level")
                policy = build_policy(
                    rid, rules.get(rid, []), None if level is None else int(level)
                )
                await run.clients.registry.put_policy(rid, policy)
            except A3CallError as exc:
                if exc.code.startswith("maskinporten_") and not exc.transient:
                    raise
                if exc.code.endswith("connect"):
                    raise UserError(
                        f"The Resource Registry at {run.settings.resource_registry_base_url} "
                        "(or Maskinporten) refuses connections; check "
                        "FLYTT_RESOURCE_REGISTRY_BASE_URL, then run flytt migrate again."
                    ) from None
                code = exc.code
        await asyncio.to_thread(_record_service, run.warehouse, rid, code)
        if code is None:
            ready.append(rid)
            run.counts["services_delivered"] += 1
        else:
            run.counts["services_failed"] += 1

    limit = asyncio.Semaphore(run.settings.concurrency)

    async def bounded(rid: str) -> None:
        async with limit:
            await one(rid)

    await asyncio.gather(*(bounded(s) for s in services if s not in done))
    return ready


def _record_service(warehouse: Warehouse, resource_id: str, error_code: str | None) -> None:
    with warehouse.engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into flytt.service_state as s (resource_id, state, attempts, "
                "last_error_code, resource_created_at, policy_uploaded_at) "
                "values (:r, :state, 1, :code, :at, :at) "
                "on conflict (resource_id) do update set state = excluded.state, "
                "attempts = s.attempts + 1, last_error_code = excluded.last_error_code, "
                "resource_created_at = coalesce(excluded.resource_created_at, "
                "                               s.resource_created_at), "
                "policy_uploaded_at = coalesce(excluded.policy_uploaded_at, "
                "                              s.policy_uploaded_at), updated_at = now()"
            ),
            {
                "r": resource_id,
                "state": "failed" if error_code else "delivered",
                "code": error_code,
                "at": None if error_code else datetime.now(UTC),
            },
        )


# --- step 1.1: elements --------------------------------------------------------------------


ByteSource = Callable[..., Iterator[bytes]]
"""`(settings, a2_attachment_id, chunk_size=...) -> Iterator[bytes]`, like
`loaders.attachments.iter_attachment_bytes`."""


def default_byte_source() -> ByteSource:
    """The A2 source reader of the loader (`loaders.attachments.iter_attachment_bytes`)."""
    return iter_attachment_bytes


def _byte_stream(
    run: _Run, a2_attachment_id: Any, executor: concurrent.futures.Executor
) -> Callable[[], AsyncIterator[bytes]]:
    """Factory of an async stream of one attachment's bytes, read from the A2 source in a
    worker thread chunk by chunk (memory stays at one chunk)."""

    def factory() -> AsyncIterator[bytes]:
        async def gen() -> AsyncIterator[bytes]:
            try:
                chunks: Iterator[bytes] = run.byte_source(
                    run.settings, a2_attachment_id, chunk_size=CHUNK_SIZE
                )
            except AttachmentNotFoundError:
                raise
            except Exception as exc:
                raise _AttachmentReadError(str(exc)) from exc
            loop = asyncio.get_running_loop()
            try:
                while True:
                    try:
                        piece = await loop.run_in_executor(executor, next, chunks, None)
                    except AttachmentNotFoundError:
                        raise
                    except Exception as exc:
                        raise _AttachmentReadError(str(exc)) from exc
                    if piece is None:
                        return
                    yield piece
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()

        return gen()

    return factory


async def _upload_attachments(
    run: _Run, rows: ElementRows, known: dict[str, uuid.UUID], executor: Any
) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for att in rows.attachments:
        a2_att = attachment_id(att)
        a3_att = known.get(a2_att)
        if a3_att is None:
            raw_id: Any = a2_att
            if raw_id.isdigit():
                raw_id = int(raw_id)  # A2 attachment ids are ints in the source
            body = _byte_stream(run, raw_id, executor)
            size = attachment_size(att)
            if size is None:
                data = b"".join([c async for c in body()])
                size = len(data)

                async def buffered(data: bytes = data) -> AsyncIterator[bytes]:
                    yield data

                body = buffered
            a3_att = await run.clients.a3.upload_attachment(attachment_params(att), size, body)
            await asyncio.to_thread(_record_attachment, run.warehouse, a2_att, a3_att, att)
            known[a2_att] = a3_att
            run.counts["attachments_uploaded"] += 1
        ids.append(a3_att)
    return ids


@contextlib.contextmanager
def _state_tx(warehouse: Warehouse) -> Iterator[sa.Connection]:
    """A short transaction for state writes, committed without waiting for the WAL flush.

    Safe here: a write lost to a server crash only means an element is delivered again, and
    A3 answers a re-sent element with the same id (a3-correspondence §1.4, §1.5.3).
    """
    with warehouse.engine.begin() as conn:
        conn.execute(sa.text("set local synchronous_commit = off"))
        yield conn


def _record_attachment(warehouse: Warehouse, a2_id: str, a3_id: uuid.UUID, row: Any) -> None:
    with _state_tx(warehouse) as conn:
        conn.execute(
            sa.text(
                "insert into flytt.attachment_state (a2_attachment_id, a3_attachment_id, "
                "resource_id) values (:a2, :a3, :r) on conflict (a2_attachment_id) do nothing"
            ),
            {"a2": a2_id, "a3": a3_id, "r": pick(row, "resource_id")},
        )


def _known_attachments(warehouse: Warehouse, ids: Sequence[str]) -> dict[str, uuid.UUID]:
    if not ids:
        return {}
    with warehouse.engine.connect() as conn:
        return {
            str(a2): uuid.UUID(str(a3))
            for a2, a3 in conn.execute(
                sa.text(
                    "select a2_attachment_id, a3_attachment_id from flytt.attachment_state "
                    "where a2_attachment_id = any(:ids)"
                ),
                {"ids": list(ids)},
            )
        }


class _AttachmentReadError(Exception):
    """Reading an attachment's bytes from the A2 source failed (other than a missing file)."""


async def _deliver_element(
    run: _Run, claimed: Claimed, rows: ElementRows, known: dict[str, uuid.UUID], executor: Any
) -> str:
    """Deliver one leased element; returns its outcome: delivered, already_there,
    quarantined, retry, failed, unreachable (A3 or Maskinporten refused the connection; lease
    released, no attempt counted) or lost (lease lost to another process).

    Any error of this element's own ends on it with a code (module docstring); only the errors
    that are not the element's fault are raised: Maskinporten refusing our client
    (`A3CallError` maskinporten_*) and the warehouse connection failing.
    """
    a2_id = claimed.a2_correspondence_id
    try:
        reasons = guard(rows)
    except Exception as exc:
        reasons = [("payload_error", describe_error(exc))]
    if reasons:
        ok = await asyncio.to_thread(_quarantine, run, a2_id, reasons)
        return "quarantined" if ok else "lost"
    try:
        attachment_ids = await _upload_attachments(run, rows, known, executor)
        try:
            payload = build_correspondence(rows, attachment_ids)
        except Exception as exc:
            ok = await asyncio.to_thread(
                _quarantine, run, a2_id, [("payload_error", describe_error(exc))]
            )
            return "quarantined" if ok else "lost"
        result = await run.clients.a3.migrate_correspondence(payload)
    except A3CallError as exc:
        if exc.code.startswith("maskinporten_") and not exc.transient:
            raise
        if exc.code.endswith("connect"):
            # the service is down, not the element's fault: no attempt is counted
            await asyncio.to_thread(_release, run, [a2_id])
            return "unreachable"
        if exc.status == 400:
            ok = await asyncio.to_thread(
                _quarantine, run, a2_id, [(f"a3_rejected_{exc.code}", exc.detail)]
            )
            return "quarantined" if ok else "lost"
        return await asyncio.to_thread(
            _attempt_failed, run, a2_id, claimed.attempts, exc.code, exc.detail, exc.transient
        )
    except AttachmentNotFoundError:  # the A2 source has no bytes for an attachment
        ok = await asyncio.to_thread(
            _quarantine,
            run,
            a2_id,
            [("attachment_bytes_missing", "the A2 source has no bytes for an attachment")],
        )
        return "quarantined" if ok else "lost"
    except _AttachmentReadError as exc:
        cause = exc.__cause__ or exc
        return await asyncio.to_thread(
            _attempt_failed,
            run,
            a2_id,
            claimed.attempts,
            "attachment_read_error",
            describe_error(cause),
            True,
        )
    except Exception as exc:
        if is_connection_error(exc):  # no element is to blame: the run stops
            raise
        return await asyncio.to_thread(
            _attempt_failed,
            run,
            a2_id,
            claimed.attempts,
            "unexpected_error",
            describe_error(exc),
            True,
        )
    ok = await asyncio.to_thread(_migrated, run, a2_id, result.correspondence_id)
    if not ok:
        return "lost"
    return "already_there" if result.remigrated else "delivered"


def _quarantine(run: _Run, a2_id: int, reasons: Sequence[tuple[str, str]]) -> bool:
    with _state_tx(run.warehouse) as conn:
        return leases.mark_quarantined(conn, run.owner, a2_id, reasons, run.run_id)


def _migrated(run: _Run, a2_id: int, a3_id: uuid.UUID) -> bool:
    with _state_tx(run.warehouse) as conn:
        return leases.mark_migrated(conn, run.owner, a2_id, a3_id)


def _attempt_failed(
    run: _Run, a2_id: int, attempts: int, code: str, detail: str, transient: bool
) -> str:
    with _state_tx(run.warehouse) as conn:
        state = leases.mark_attempt_failed(
            conn,
            run.owner,
            a2_id,
            error_code=code,
            detail=detail,
            max_attempts=run.settings.max_attempts,
            retry_in_seconds=element_backoff_seconds(attempts + 1),
            permanent=not transient,
        )
    return {"failed": "failed", "eligible": "retry"}.get(state, "lost")


def _next_retry_in(run: _Run) -> float | None:
    """Seconds until the earliest element of this run's services may be retried; None if none."""
    with run.warehouse.engine.connect() as conn:
        wait = conn.execute(
            sa.text(
                "select extract(epoch from min(next_attempt_at) - now()) "
                "from flytt.element_state where state = 'eligible' and delivery_attempts > 0 "
                "and resource_id = any(:r) and next_attempt_at > now()"
            ),
            {"r": list(run.quotas)},
        ).scalar()
    return None if wait is None else max(0.0, float(wait))


def _claim(run: _Run, batch: int) -> list[Claimed]:
    with run.warehouse.engine.begin() as conn:
        return leases.claim(
            conn,
            run.owner,
            list(run.quotas.values()),
            batch=batch,
            lease_seconds=run.settings.lease_seconds,
            newest_first=run.newest_first,
        )


async def _deliver_elements(run: _Run, on_done: Callable[[str], None]) -> None:
    """Producer/worker loop: claim batches while workers deliver, until nothing is claimable
    and no short retry is pending."""
    s = run.settings
    workers = s.concurrency
    batch_size = max(1, min(s.batch_size, workers * 4))
    queue: asyncio.Queue[tuple[Claimed, ElementRows, dict[str, uuid.UUID]] | None] = asyncio.Queue()
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=workers + 2)
    # state writes run in threads (asyncio.to_thread); the default pool has only cpu+4 threads
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(max_workers=workers + 4)
    )
    held: set[int] = set()

    async def worker() -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            claimed, rows, known = item
            try:
                outcome = await _deliver_element(run, claimed, rows, known, executor)
            finally:
                run.inflight -= 1
            # the element's lease is settled; on an exception it stays in `held` and is
            # released when the loop ends
            held.discard(claimed.a2_correspondence_id)
            run.counts[outcome] += 1
            run.unreachable = run.unreachable + 1 if outcome == "unreachable" else 0
            if run.unreachable >= UNREACHABLE_LIMIT:
                raise UserError(
                    f"Altinn 3 at {run.settings.a3_base_url} (or Maskinporten at "
                    f"{run.settings.maskinporten_token_url}) refuses connections; check "
                    "FLYTT_A3_BASE_URL and FLYTT_MASKINPORTEN_TOKEN_URL, then run flytt migrate "
                    "again."
                )
            if outcome in ("retry", "unreachable"):
                # it will be claimed again in this run: give its place in the quota back
                q = run.quotas[claimed.resource_id]
                run.quotas[q.resource_id] = ServiceQuota(
                    q.resource_id, q.remaining + 1, q.wait_minutes
                )
            else:
                on_done(outcome)

    def fetch(
        batch: list[Claimed],
    ) -> tuple[dict[int, ElementRows], dict[int, str], dict[str, uuid.UUID]]:
        with run.warehouse.engine.connect() as conn:
            rows, unreadable = fetch_readable(conn, [c.a2_correspondence_id for c in batch])
        att_ids = [attachment_id(a) for r in rows.values() for a in r.attachments]
        return rows, unreadable, _known_attachments(run.warehouse, att_ids)

    async def settle_unreadable(claimed: Claimed, detail: str) -> None:
        # its rows cannot be read: quarantined, so it is never claimed again (no poison pill)
        ok = await asyncio.to_thread(
            _quarantine, run, claimed.a2_correspondence_id, [(UNREADABLE, detail)]
        )
        held.discard(claimed.a2_correspondence_id)
        outcome = "quarantined" if ok else "lost"
        run.counts[outcome] += 1
        on_done(outcome)

    async def renew() -> None:
        # keep the leases of queued and in-flight elements alive while A3 is slow
        while True:
            await asyncio.sleep(s.lease_seconds / 3)
            if held:
                await asyncio.to_thread(_renew, run, list(held))

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    renewer = asyncio.create_task(renew())
    try:
        while True:
            if any(t.done() for t in tasks):
                break  # a worker raised; gather below re-raises it
            if queue.qsize() >= workers * 2:
                await asyncio.sleep(0.01)
                continue
            batch = await asyncio.to_thread(_claim, run, batch_size)
            if batch:
                for c in batch:
                    quota = run.quotas[c.resource_id]
                    run.quotas[c.resource_id] = ServiceQuota(
                        quota.resource_id, quota.remaining - 1, quota.wait_minutes
                    )
                    held.add(c.a2_correspondence_id)
                rows, unreadable, known = await asyncio.to_thread(fetch, batch)
                for c in batch:
                    if c.a2_correspondence_id in unreadable:
                        await settle_unreadable(c, unreadable[c.a2_correspondence_id])
                        continue
                    run.inflight += 1
                    queue.put_nowait((c, rows[c.a2_correspondence_id], known))
                continue
            if run.inflight > 0:
                await asyncio.sleep(0.05)
                continue
            wait = await asyncio.to_thread(_next_retry_in, run)
            if wait is None or wait > MAX_RETRY_WAIT_S:
                break
            await asyncio.sleep(wait + 0.05)
    finally:
        if any(t.done() for t in tasks):  # stopping on an error: hand back what is queued
            while not queue.empty():
                item = queue.get_nowait()
                if item is not None:
                    run.inflight -= 1
        for _ in tasks:
            queue.put_nowait(None)
        try:
            await asyncio.gather(*tasks)
            renewer.cancel()
        finally:
            renewer.cancel()
            executor.shutdown(wait=False, cancel_futures=True)
            if held:
                await asyncio.to_thread(_release, run, list(held))


def _renew(run: _Run, ids: list[int]) -> None:
    with run.warehouse.engine.begin() as conn:
        leases.renew(conn, run.owner, ids, run.settings.lease_seconds)


def _release(run: _Run, ids: list[int]) -> None:
    with run.warehouse.engine.begin() as conn:
        leases.release(conn, run.owner, ids)


# --- entry point ---------------------------------------------------------------------------


def run_migrate(settings: Settings, warehouse: Warehouse, **options: Any) -> dict[str, Any]:
    """Deliver eligible elements to the A3 migration API; return what was done in numbers.

    Args:
        settings: the run's settings (A3/Resource Registry/Maskinporten URLs, key, limits).
        warehouse: the warehouse holding the `a3` marts and schema `flytt`.
        options: the `flytt migrate` options, all optional:
        services: only these A3 resource ids (empty: every whitelisted service).
        dry_run: count what would be sent per service; send and write nothing.
        newest_first: newest elements first (default oldest first).
        limit: at most this many elements per service (default `settings.max_per_service`).
        reset: reset this one element (A2 id) to `eligible` and do nothing else.
        clients: HTTP clients to use (tests, benchmark); default from `settings`.
        attachment_bytes: reader of attachment bytes from the A2 source (`ByteSource`);
            default `loaders.attachments.iter_attachment_bytes`.
        show_progress: draw the progress bar on stderr.

    Returns:
        Counts: `discovered`, `services_delivered`, `services_failed`, `delivered`,
        `already_there`, `quarantined`, `failed`, `retry_later`, `attachments_uploaded`;
        in dry-run `would_send` and one `would_send <resource id>` per service;
        with `reset` only `reset`.

    Raises:
        UserError: the marts are not built, the element to reset is unknown, `--service` names
            no known service, or Maskinporten refuses our client (fix id, key or scopes).
    """
    services: Sequence[str] = options.get("services") or ()
    dry_run = bool(options.get("dry_run", False))
    newest_first = bool(options.get("newest_first", False))
    limit: int | None = options.get("limit")
    reset: int | None = options.get("reset")
    clients: Clients | None = options.get("clients")
    show_progress = bool(options.get("show_progress", True))
    byte_source: ByteSource | None = options.get("attachment_bytes")
    if reset is not None:
        with warehouse.engine.begin() as conn:
            if not leases.reset_element(conn, reset):
                raise UserError(
                    f"Element {reset} is not known to flytt; check the A2 correspondence id "
                    "(flytt status lists what is tracked)."
                )
        return {"reset": 1}
    per_service = limit or settings.max_per_service
    with warehouse.engine.connect() as conn:
        tx = conn.begin()
        if not relation_exists(conn, ELIGIBILITY):
            raise UserError(
                f"The view {SCHEMA}.{ELIGIBILITY} does not exist; run `flytt build` first."
            )
        found = discover(conn)
        waits = _service_waits(conn)
        pending = _pending_by_service(conn, services, waits, per_service)
        if dry_run:
            tx.rollback()  # a dry run writes nothing, not even the discovery
        else:
            _release_dead_local_leases(conn)
            tx.commit()
    if services and not pending:
        with warehouse.engine.connect() as conn:
            known: int = conn.execute(
                sa.text("select count(*) from flytt.element_state where resource_id = any(:r)"),
                {"r": list(services)},
            ).scalar_one()
        if not known:
            raise UserError(
                f"No element belongs to service {', '.join(services)}; check the A3 resource "
                "id given to --service."
            )
    wanted = {rid: min(n, per_service) if per_service else n for rid, n in pending.items()}
    if dry_run:
        counts: dict[str, Any] = {"discovered": found["discovered"]}
        counts["would_send"] = sum(wanted.values())
        counts["services"] = len(wanted)
        counts.update({f"would_send {rid}": n for rid, n in wanted.items()})
        return counts
    return asyncio.run(
        _migrate(
            settings,
            warehouse,
            wanted,
            waits,
            newest_first,
            clients,
            show_progress,
            found,
            byte_source,
        )
    )


async def _migrate(
    settings: Settings,
    warehouse: Warehouse,
    wanted: dict[str, int],
    waits: dict[str, int],
    newest_first: bool,
    clients: Clients | None,
    show_progress: bool,
    found: dict[str, int],
    byte_source: ByteSource | None,
) -> dict[str, Any]:
    own_clients = clients is None
    with warehouse.engine.connect() as conn:
        run_id = _current_run_id(conn)
    counts: Counter[str] = Counter(
        {
            "discovered": found["discovered"],
            "services_delivered": 0,
            "services_failed": 0,
            "delivered": 0,
            "already_there": 0,
            "quarantined": 0,
            "failed": 0,
            "retry_later": 0,
            "attachments_uploaded": 0,
        }
    )
    if not wanted:
        return dict(counts)
    active = clients or clients_from_settings(settings)
    run = _Run(
        settings=settings,
        warehouse=warehouse,
        clients=active,
        owner=leases.new_lease_owner(),
        run_id=run_id,
        newest_first=newest_first,
        quotas={},
        byte_source=byte_source or default_byte_source(),
        counts=counts,
    )
    try:
        ready = await _deliver_services(run, sorted(wanted))
        run.quotas = {
            rid: ServiceQuota(rid, wanted[rid], waits.get(rid, 0)) for rid in sorted(ready)
        }
        total = sum(wanted[rid] for rid in ready)
        bar = progress() if show_progress else None
        with bar if bar is not None else contextlib.nullcontext():
            task = bar.add_task("Migrating to Altinn 3", total=total) if bar else None

            def on_done(outcome: str) -> None:
                if bar is not None and task is not None:
                    bar.advance(task)

            await _deliver_elements(run, on_done)
    except A3CallError as exc:  # only Maskinporten refusing our client gets this far
        raise UserError(
            f"Maskinporten refused the client ({exc.code}); check "
            "FLYTT_MASKINPORTEN_CLIENT_ID, FLYTT_MASKINPORTEN_KEY_FILE and the scopes "
            "granted to the client."
        ) from None
    finally:
        if own_clients:
            await active.aclose()
    for internal in ("retry", "lost", "unreachable"):
        counts.pop(internal, None)
    counts["retry_later"] = await asyncio.to_thread(_waiting_for_retry, run)
    return dict(counts)


def _waiting_for_retry(run: _Run) -> int:
    with run.warehouse.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "select count(*) from flytt.element_state where state = 'eligible' "
                    "and delivery_attempts > 0 and resource_id = any(:r)"
                ),
                {"r": list(run.quotas)},
            ).scalar_one()
        )
