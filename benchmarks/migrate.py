"""Benchmark: correspondences/s that `flytt migrate` delivers to the A3 replica at a given
concurrency, next to the replica's own ceiling measured by a trivial client in the same run.

    python -m benchmarks.migrate --elements 3000 --concurrency 8

What it does, on the warehouse server of the current settings (embedded by default):

1. a scratch database `<warehouse database>_bench` gets synthetic marts (`syncd.synthetic`:
   events, notifications, forwarding, one attachment per four correspondences, bytes in a SQLite
   A2 source) and a fresh schema `flytt`; the replicas' database `<..._bench>_sandbox` is
   emptied;
2. the replicas (`sandbox.services.start_replicas`) run in a child process, so client and
   server do not share one interpreter;
3. ceiling: a trivial client (one token, async httpx, the same concurrency) posts minimal valid
   `MigrateCorrespondenceExt` bodies, no attachments, no warehouse work;
4. flytt: `run_migrate` delivers the synthetic elements (claims, marts, attachments streamed from
   the A2 source, state writes).

Prints both rates and their ratio. Timings are wall-clock on this machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from flytt.control import upgrade
from flytt.settings import Settings, load_settings
from flytt.warehouse import Warehouse, ensure_database, resolve_warehouse
from syncd import synthetic
from syncd.a3_client import MIGRATION_PATH
from syncd.delivery import run_migrate
from syncd.maskinporten import MIGRATE_SCOPE, MaskinportenClient

CEILING_BASE_ID = 1_500_000_000
"""A2 ids used by the trivial client, far from the synthetic elements (1..n)."""


@dataclass(frozen=True)
class Result:
    """One measurement: what was sent, how long it took, the rate per second."""

    label: str
    correspondences: int
    seconds: float

    @property
    def rate(self) -> float:
        """Correspondences per second."""
        return self.correspondences / self.seconds if self.seconds > 0 else 0.0


def bench_warehouse(warehouse: Warehouse) -> Warehouse:
    """The scratch database `<warehouse database>_bench` on the same server (created)."""
    name = f"{warehouse.database}_bench"[:63]
    ensure_database(warehouse, name)
    return Warehouse(
        warehouse.host,
        warehouse.port,
        warehouse.user,
        warehouse.password,
        name,
        warehouse.embedded,
    )


def _reset(bench: Warehouse, elements: int, data_dir: Path) -> str:
    """Fresh marts and control state in the bench database; empty replica tables. Returns the
    A2 source URL holding the attachment bytes."""
    with bench.engine.begin() as conn:
        conn.execute(sa.text("drop schema if exists flytt cascade"))
    upgrade(bench)
    synthetic.seed_marts(bench.engine, elements, services=5, crash=False)
    from sandbox.services import sandbox_database

    replica_db = sandbox_database(bench)
    engine = sa.create_engine(replica_db.sqlalchemy_url())
    with engine.begin() as conn:
        for schema in ("correspondence", "sandbox_storage", "resourceregistry"):
            conn.execute(sa.text(f"drop schema if exists {schema} cascade"))
    engine.dispose()
    data_dir.mkdir(parents=True, exist_ok=True)
    return synthetic.write_a2_attachments(data_dir / "bench-a2.sqlite", elements)


def _serve(settings_json: str, pipe: Any) -> None:
    """Child process: run every replica until the parent closes the pipe."""
    from sandbox.services import start_replicas

    settings = Settings.model_validate_json(settings_json)
    with start_replicas(settings) as replicas:
        pipe.send(replicas.settings.model_dump_json())
        with contextlib.suppress(EOFError):
            pipe.recv()


def _minimal_body(a2_id: int, resource_id: str) -> dict[str, Any]:
    created = (datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=a2_id % 100_000)).isoformat()
    return {
        "altinn2CorrespondenceId": a2_id,
        "IsMigrating": True,
        "created": created,
        "correspondenceData": {
            "recipients": ["urn:altinn:organization:identifier-no:310000001"],
            "correspondence": {
                "resourceId": resource_id,
                "sender": synthetic.ORG,
                "sendersReference": f"bench-{a2_id}",
                "requestedPublishTime": created,
                "content": {
                    "language": "nb",
                    "messageTitle": "Benchmark",
                    "messageSummary": "",
                    "messageBody": "<p>Hei</p>",
                },
            },
        },
        "eventHistory": [
            {
                "status": 0,
                "statusText": "Correspondence Created in Altinn 2",
                "statusChanged": created,
                "eventUserPartyUuid": "00000000-0000-0000-0000-000000000000",
            },
            {
                "status": 2,
                "statusText": "Correspondence Published in Altinn 2",
                "statusChanged": created,
                "eventUserPartyUuid": "11111111-0000-4000-8000-000000000001",
            },
        ],
    }


async def _ceiling(settings: Settings, count: int, concurrency: int) -> Result:
    """The trivial client: `count` minimal migrate calls, `concurrency` at a time."""
    tokens = MaskinportenClient.from_settings(settings)
    token = tokens.token([MIGRATE_SCOPE])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    url = settings.a3_base_url.rstrip("/") + MIGRATION_PATH + "/correspondence"
    next_id = iter(range(CEILING_BASE_ID, CEILING_BASE_ID + count))
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:

        async def worker() -> None:
            for a2_id in next_id:
                response = await http.post(
                    url,
                    json=_minimal_body(a2_id, "ttd-migratedcorrespondence-0-1"),
                    headers={"Authorization": f"Bearer {token}"},
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Result("replica ceiling (trivial client)", count, time.perf_counter() - started)


def run_benchmark(
    elements: int, concurrency: int, settings: Settings | None = None
) -> list[Result]:
    """Run both measurements (see the module docstring) and return them, ceiling first."""
    settings = settings or load_settings()
    bench = bench_warehouse(resolve_warehouse(settings))
    bench_dir = settings.data_dir / "bench"
    a2_url = _reset(bench, elements, bench_dir)
    bench_settings = settings.model_copy(
        update={
            "warehouse_dsn": bench.sqlalchemy_url().render_as_string(hide_password=False),
            "data_dir": bench_dir,
            "a2_source_url": a2_url,
            "concurrency": concurrency,
            "maskinporten_key_file": None,
        }
    )
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(bench_settings.model_dump_json(), child))
    server.start()
    try:
        if not parent.poll(120):
            raise RuntimeError("the sandbox replicas did not start within 120 s")
        live = Settings.model_validate_json(parent.recv())
        live = live.model_copy(update={"concurrency": concurrency})
        # the resources must exist before any correspondence: let flytt deliver them first
        run_migrate(live, bench, limit=1, show_progress=False)
        ceiling = asyncio.run(_ceiling(live, elements, concurrency))
        started = time.perf_counter()
        counts = run_migrate(live, bench, show_progress=False)
        delivered = int(counts["delivered"])
        flytt = Result(
            f"flytt migrate ({delivered} elements, attachments streamed from A2)",
            delivered,
            time.perf_counter() - started,
        )
    finally:
        parent.send("stop")
        server.join(30)
        if server.is_alive():
            server.terminate()
    return [ceiling, flytt]


def main(argv: list[str] | None = None) -> None:
    """Command line: `python -m benchmarks.migrate [--elements N] [--concurrency C]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--elements", type=int, default=3000, help="synthetic correspondences")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel requests")
    args = parser.parse_args(argv)
    results = run_benchmark(args.elements, args.concurrency)
    print(f"concurrency {args.concurrency}, {args.elements} correspondences")
    for r in results:
        print(f"  {r.label:60} {r.rate:8.1f} correspondences/s ({r.seconds:.1f} s)")
    ceiling, flytt = results
    if ceiling.rate:
        print(f"  flytt / ceiling: {flytt.rate / ceiling.rate:.2f}")


if __name__ == "__main__":
    main()
