"""`flytt migrate`: deliver services, attachments and correspondences to A3 (issue #6).

Order (reference a3-correspondence §7, DESIGN "Delivery to A3"):

1. discovery: `flytt.element_state` follows `a3.correspondence_eligibility` (`syncd.discovery`);
2. services in scope: resource + XACML policy to the Resource Registry, recorded in
   `flytt.service_state` (`syncd.resources_step`);
3. per element, claimed with a row lease (`flytt.control.elements`): each attachment's bytes
   streamed from the A2 source with its MD5 checksum (`POST /migration/attachment`, once per
   attachment, remembered in `flytt.attachment_state`), then the correspondence with its
   event, notification and forwarding history and `IsMigrating: true`
   (`POST /migration/correspondence`); the A3 id is stored in `flytt.element_state`
   (`syncd.attachments_upload`, `syncd.element_delivery`, the loop in `syncd.worker`).

Parts: `syncd.scope` (what the run will deliver), `syncd.resources_step` (step 1.2),
`syncd.attachments_upload`, `syncd.element_delivery` (one element and its outcomes),
`syncd.worker` (the claim/deliver loop), `syncd.delivery_run` (the run's shared state and its
state writes). This module is the entry point, `run_migrate`, with its `DeliveryOptions`.

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
import contextlib
import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from typing_extensions import Unpack

from flytt.console import progress
from flytt.control import elements, locks
from flytt.control.elements import ServiceQuota
from flytt.errors import MartsNotBuilt, UserError
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from syncd.attachments_upload import CHUNK_SIZE, default_byte_source
from syncd.delivery_run import ByteSource, Clients, DeliveryRun, clients_from_settings
from syncd.discovery import ELIGIBILITY, discover
from syncd.marts import SCHEMA, relation_exists
from syncd.resources_step import deliver_services
from syncd.retry import A3CallError
from syncd.scope import current_run_id, pending_by_service, service_waits
from syncd.worker import MAX_RETRY_WAIT_S, UNREACHABLE_LIMIT, deliver_elements

__all__ = [
    "CHUNK_SIZE",
    "MAX_RETRY_WAIT_S",
    "UNREACHABLE_LIMIT",
    "ByteSource",
    "Clients",
    "DeliveryOptions",
    "clients_from_settings",
    "default_byte_source",
    "run_migrate",
]


@dataclass(frozen=True)
class DeliveryOptions:
    """The options of one `flytt migrate` run; every field is optional.

    Attributes:
        services: only these A3 resource ids (empty: every whitelisted service).
        dry_run: count what would be sent per service; send and write nothing.
        newest_first: newest elements first (default oldest first).
        limit: at most this many elements per service (default `settings.max_per_service`).
        reset: reset this one element (A2 id) to `eligible` and do nothing else.
        clients: HTTP clients to use (tests, benchmark); default from the settings.
        attachment_bytes: reader of attachment bytes from the A2 source (`ByteSource`);
            default `loaders.attachments.iter_attachment_bytes`.
        show_progress: draw the progress bar on stderr.
        should_stop: polled before each batch; True ends the run once the elements already
            claimed are settled (`flytt daemon` on SIGTERM). Default: run to the end.
    """

    services: Sequence[str] = ()
    dry_run: bool = False
    newest_first: bool = False
    limit: int | None = None
    reset: int | None = None
    clients: Clients | None = None
    attachment_bytes: ByteSource | None = None
    show_progress: bool = True
    should_stop: Callable[[], bool] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "services", tuple(self.services or ()))


class DeliveryOptionFields(TypedDict, total=False):
    """`DeliveryOptions` fields given as keywords to `run_migrate` (same names and types)."""

    services: Sequence[str]
    dry_run: bool
    newest_first: bool
    limit: int | None
    reset: int | None
    clients: Clients | None
    attachment_bytes: ByteSource | None
    show_progress: bool
    should_stop: Callable[[], bool] | None


def run_migrate(
    settings: Settings,
    warehouse: Warehouse,
    options: DeliveryOptions | None = None,
    **fields: Unpack[DeliveryOptionFields],
) -> dict[str, Any]:
    """Deliver eligible elements to the A3 migration API; return what was done in numbers.

    Args:
        settings: the run's settings (A3/Resource Registry/Maskinporten URLs, key, limits).
        warehouse: the warehouse holding the `a3` marts and schema `flytt`.
        options: the `flytt migrate` options (`DeliveryOptions`; default: all defaults).
        fields: single options as keywords, applied over `options`: `run_migrate(s, w,
            dry_run=True)` is `run_migrate(s, w, DeliveryOptions(dry_run=True))`.

    Returns:
        Counts: `discovered`, `services_delivered`, `services_failed`, `delivered`,
        `already_there`, `quarantined`, `failed`, `retry_later`, `attachments_uploaded`;
        in dry-run `would_send` and one `would_send <resource id>` per service;
        with `reset` only `reset`.

    Raises:
        UserError: the marts are not built, the element to reset is unknown, `--service` names
            no known service, or Maskinporten refuses our client (fix id, key or scopes).
    """
    opts = dataclasses.replace(options or DeliveryOptions(), **fields)
    services = opts.services
    if opts.reset is not None:
        with warehouse.engine.begin() as conn:
            if not elements.reset(conn, opts.reset):
                raise UserError(
                    f"Element {opts.reset} is not known to flytt; check the A2 correspondence id "
                    "(flytt status lists what is tracked)."
                )
        return {"reset": 1}
    per_service = opts.limit or settings.max_per_service
    with warehouse.engine.connect() as conn:
        tx = conn.begin()
        locks.share_marts(conn)  # wait for a running build rather than miss its views
        if not relation_exists(conn, ELIGIBILITY):
            raise MartsNotBuilt(f"{SCHEMA}.{ELIGIBILITY}")
        found = discover(conn)
        waits = service_waits(conn)
        pending = pending_by_service(conn, services, waits, per_service)
        if opts.dry_run:
            tx.rollback()  # a dry run writes nothing, not even the discovery
        else:
            elements.reap_dead_leases(conn)
            tx.commit()
    if services and not pending:
        with warehouse.engine.connect() as conn:
            known = elements.count_in_services(conn, services)
        if not known:
            raise UserError(
                f"No element belongs to service {', '.join(services)}; check the A3 resource "
                "id given to --service."
            )
    wanted = {rid: min(n, per_service) if per_service else n for rid, n in pending.items()}
    if opts.dry_run:
        counts: dict[str, Any] = {"discovered": found["discovered"]}
        counts["would_send"] = sum(wanted.values())
        counts["services"] = len(wanted)
        counts.update({f"would_send {rid}": n for rid, n in wanted.items()})
        return counts
    return asyncio.run(_migrate(settings, warehouse, opts, wanted, waits, found))


async def _migrate(
    settings: Settings,
    warehouse: Warehouse,
    opts: DeliveryOptions,
    wanted: dict[str, int],
    waits: dict[str, int],
    found: dict[str, int],
) -> dict[str, Any]:
    own_clients = opts.clients is None
    with warehouse.engine.connect() as conn:
        run_id = current_run_id(conn)
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
    active = opts.clients or clients_from_settings(settings)
    run = DeliveryRun(
        settings=settings,
        warehouse=warehouse,
        clients=active,
        owner=elements.new_lease_owner(),
        run_id=run_id,
        newest_first=opts.newest_first,
        quotas={},
        byte_source=opts.attachment_bytes or default_byte_source(),
        counts=counts,
        should_stop=opts.should_stop or (lambda: False),
    )
    try:
        ready = await deliver_services(run, sorted(wanted))
        run.quotas = {
            rid: ServiceQuota(rid, wanted[rid], waits.get(rid, 0)) for rid in sorted(ready)
        }
        total = sum(wanted[rid] for rid in ready)
        bar = progress() if opts.show_progress else None
        with bar if bar is not None else contextlib.nullcontext():
            task = bar.add_task("Migrating to Altinn 3", total=total) if bar else None

            def on_done(outcome: str) -> None:
                if bar is not None and task is not None:
                    bar.advance(task)

            await deliver_elements(run, on_done)
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
    counts["retry_later"] = await asyncio.to_thread(run.waiting_for_retry)
    return dict(counts)
