"""Step 1.2: one A3 resource and its XACML access policy per A2 service edition, delivered to
the Resource Registry before the service's elements (reference a3-correspondence §7).

Each service's outcome is recorded in `flytt.service_state`; a delivered service is not sent
again. A service the mapping does not know fails with `not_in_mapping`; a registry error fails
that service (its elements wait), except Maskinporten refusing our client or the registry
refusing connections, which stop the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from flytt.control import locks
from flytt.control import services as services_state
from flytt.errors import UserError
from flytt.warehouse import Warehouse
from syncd.delivery_run import DeliveryRun
from syncd.marts import SCHEMA
from syncd.resource_registry import build_policy, build_resource
from syncd.retry import A3CallError


async def deliver_services(run: DeliveryRun, services: Sequence[str]) -> list[str]:
    """Send resource + policy of every service in `services` not yet delivered, at most
    `settings.concurrency` at once; counts `services_delivered` / `services_failed` in `run`.

    Returns:
        The services that are ready (delivered now or before).

    Raises:
        UserError: the Resource Registry (or Maskinporten) refuses connections.
        A3CallError: Maskinporten refuses our client (a `maskinporten_*` code, not transient).
    """

    def load() -> tuple[set[str], dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        with run.warehouse.engine.connect() as conn:
            locks.share_marts(conn)
            done = services_state.delivered_among(conn, services)
            todo = [s for s in services if s not in done]
            resources: dict[str, dict[str, Any]] = {}
            rules: dict[str, list[dict[str, Any]]] = {s: [] for s in todo}
            if todo:
                for row in conn.execute(
                    sa.text(f"select * from {SCHEMA}.resources where resource_id = any(:r)"),
                    {"r": todo},
                ):
                    resources[str(row.resource_id)] = dict(row._mapping)
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
                level = row["minimum_authentication_level"]
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
        await asyncio.to_thread(record_service, run.warehouse, rid, code)
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


def record_service(warehouse: Warehouse, resource_id: str, error_code: str | None) -> None:
    """Record one service's delivery in `flytt.service_state` (`flytt.control.services`):
    `delivered` (error_code None) or `failed` with the code; counts the attempt."""
    with warehouse.engine.begin() as conn:
        services_state.record(conn, resource_id, error_code)
