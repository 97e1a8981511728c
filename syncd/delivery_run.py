"""One `flytt migrate` run: its clients, limits, counters, and its element-state writes.

`DeliveryRun` is what the parts of delivery share (`syncd.resources_step`,
`syncd.attachments_upload`, `syncd.element_delivery`, `syncd.worker`). Its methods are the
run's only way to change `flytt.element_state`: each opens a short transaction and calls
`flytt.control.elements`, which owns the statements.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from flytt.control import elements, sync_state
from flytt.control.elements import Claimed, ServiceQuota, Stage
from flytt.control.states import ElementState
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from syncd.a3_client import A3MigrationClient
from syncd.maskinporten import MaskinportenClient
from syncd.resource_registry import ResourceRegistryClient
from syncd.retry import element_backoff_seconds

ByteSource = Callable[..., Iterator[bytes]]
"""`(settings, a2_attachment_id, chunk_size=...) -> Iterator[bytes]`, like
`loaders.attachments.iter_attachment_bytes`."""


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
    """Clients for `settings.a3_base_url` and `settings.resource_registry_base_url`, with tokens
    from `tokens` (default: Maskinporten from `settings`)."""
    tokens = tokens or MaskinportenClient.from_settings(settings)
    return Clients(
        a3=A3MigrationClient(settings.a3_base_url, tokens, concurrency=settings.concurrency),
        registry=ResourceRegistryClient(settings.resource_registry_base_url, tokens),
    )


@contextlib.contextmanager
def state_tx(warehouse: Warehouse) -> Iterator[sa.Connection]:
    """A short transaction for state writes, committed without waiting for the WAL flush.

    Safe here: a write lost to a server crash only means an element is delivered again, and
    A3 answers a re-sent element with the same id (a3-correspondence §1.4, §1.5.3).
    """
    with warehouse.engine.begin() as conn:
        conn.execute(sa.text("set local synchronous_commit = off"))
        yield conn


_OUTCOME_OF_STATE = {ElementState.FAILED: "failed", ElementState.ELIGIBLE: "retry"}


@dataclass
class DeliveryRun:
    """The shared state of one delivery run.

    Attributes:
        owner: the lease owner id of this run (`elements.new_lease_owner`).
        run_id: this process's `flytt.run` row, if the command line recorded one.
        quotas: per service, how many elements may still be claimed.
        byte_source: reader of attachment bytes from the A2 source.
        counts: the run's numbers; `inflight` and `unreachable` drive the worker loop.
        should_stop: polled before each batch is claimed; True ends the run after the
            elements already claimed (the daemon's graceful shutdown).
    """

    settings: Settings
    warehouse: Warehouse
    clients: Clients
    owner: str
    run_id: int | None
    newest_first: bool
    quotas: dict[str, ServiceQuota]
    byte_source: ByteSource
    counts: Counter[str] = field(default_factory=Counter)
    should_stop: Callable[[], bool] = lambda: False
    inflight: int = 0
    unreachable: int = 0

    def claim(self, batch: int) -> list[Claimed]:
        """Lease up to `batch` elements within the run's quotas (committed at once)."""
        with self.warehouse.engine.begin() as conn:
            return elements.claim_for_delivery(
                conn,
                self.owner,
                list(self.quotas.values()),
                batch=batch,
                lease_seconds=self.settings.lease_seconds,
                newest_first=self.newest_first,
                lanes=elements.Lanes(self.settings.live_share, self.settings.live_window_minutes),
            )

    def renew(self, ids: Sequence[int]) -> None:
        """Extend the run's leases on `ids` by `settings.lease_seconds`."""
        with self.warehouse.engine.begin() as conn:
            elements.renew(conn, self.owner, ids, self.settings.lease_seconds)

    def release(self, ids: Sequence[int]) -> None:
        """Give back the run's leases on `ids` without counting an attempt."""
        with self.warehouse.engine.begin() as conn:
            elements.release(conn, self.owner, ids)

    def quarantine(self, a2_id: int, reasons: Sequence[tuple[str, str]]) -> bool:
        """Quarantine a leased element with `(reason code, detail)` pairs; False if the lease
        was lost."""
        with state_tx(self.warehouse) as conn:
            return elements.mark_quarantined(conn, self.owner, a2_id, reasons, self.run_id)

    def migrated(self, a2_id: int, a3_id: uuid.UUID, load_id: str = "") -> bool:
        """Record a delivered element with its A3 id and the newest load its payload carried
        (`ElementRows.newest_load_id`, for step 2.2), in one transaction; False if the lease
        was lost (nothing written)."""
        with state_tx(self.warehouse) as conn:
            if not elements.mark_migrated(conn, self.owner, a2_id, a3_id):
                return False
            sync_state.record_delivered(conn, a2_id, load_id)
            return True

    def attempt_failed(
        self, a2_id: int, attempts: int, code: str, detail: str, transient: bool
    ) -> str:
        """Count a failed delivery attempt (after `attempts` earlier ones); a non-transient
        error fails the element at once.

        Returns:
            The outcome: `failed`, `retry` (eligible again after a backoff) or `lost`.
        """
        with state_tx(self.warehouse) as conn:
            state = elements.fail_attempt(
                conn,
                Stage.DELIVERY,
                self.owner,
                a2_id,
                error_code=code,
                detail=detail,
                max_attempts=self.settings.max_attempts,
                retry_in_seconds=element_backoff_seconds(attempts + 1),
                permanent=not transient,
            )
        return _OUTCOME_OF_STATE.get(state, "lost") if state is not None else "lost"

    def next_retry_in(self) -> float | None:
        """Seconds until the earliest element of this run's services may be retried; None if
        none waits."""
        with self.warehouse.engine.connect() as conn:
            return elements.delivery_retry_in(conn, list(self.quotas))

    def waiting_for_retry(self) -> int:
        """Elements of this run's services that failed an attempt and wait for the next."""
        with self.warehouse.engine.connect() as conn:
            return elements.waiting_for_delivery_retry(conn, list(self.quotas))
