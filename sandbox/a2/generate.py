"""Generate the sandbox A2 database (`flytt sandbox a2 --size N --seed S [--url URL]`, issue #3).

Deterministic: the same size, seed and config give the same rows on every run and machine
(Python's `random.Random` seeded with strings). Re-running with the same arguments is cheap: a
completed database with matching size, seed, config and generator version is detected through
`sandbox_meta` and left as it is; anything else is dropped and generated again.
"""

from __future__ import annotations

import hashlib
import random
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flytt.console import err, progress
from flytt.errors import UserError
from flytt.settings import Settings
from loaders.contract import metadata
from loaders.source import a2_engine, describe_url, resolve_a2_url
from sandbox.a2.config import DEFAULT_CONFIG, SandboxConfig
from sandbox.a2.correspondences import (
    CORRESPONDENCE_TABLES,
    Context,
    add_correspondence,
    creation_times,
)
from sandbox.a2.delegations import add_delegations
from sandbox.a2.world import Rows, Sequences, build_world
from sandbox.a2.writer import insert_rows, read_meta, recreate, table_counts, write_meta

GENERATOR_VERSION = "1"
CHUNK = 10_000


def _fingerprint(size: int, seed: int, config: SandboxConfig) -> str:
    text = f"{GENERATOR_VERSION}|{size}|{seed}|{config.model_dump_json()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def generate_a2(
    settings: Settings,
    size: int,
    seed: int,
    url: str | None = None,
    config: SandboxConfig = DEFAULT_CONFIG,
) -> dict[str, int]:
    """Write `size` sandbox correspondences (and all related rows) to the A2 source.

    Args:
        settings: flytt settings; the target is `url`, else FLYTT_A2_SOURCE_URL, else
            `<data_dir>/a2.sqlite` (`loaders.source.resolve_a2_url`).
        size: number of correspondences (≥ 1).
        seed: generator seed.
        url: explicit SQLAlchemy URL (SQLite, MariaDB/MySQL or PostgreSQL); the database must
            exist.
        config: the assumptions (`sandbox.a2.config.SandboxConfig`).

    Returns:
        Rows per contract table now in the database.

    Raises:
        UserError: the target cannot be reached (names FLYTT_A2_SOURCE_URL), or it holds A2
            contract tables that the sandbox did not write (they are never replaced).
    """
    target = resolve_a2_url(settings, url)
    if target.get_backend_name() == "sqlite" and target.database:
        from pathlib import Path

        Path(target.database).parent.mkdir(parents=True, exist_ok=True)
    engine = a2_engine(settings, url, create=True)
    fingerprint = _fingerprint(size, seed, config)
    try:
        meta = read_meta(engine)
        if meta.get("complete") == "1" and meta.get("fingerprint") == fingerprint:
            err.print(
                f"Sandbox A2 database {describe_url(target)} already generated "
                f"(size {size}, seed {seed}); keeping it."
            )
            return table_counts(engine)
        if not meta:
            _refuse_foreign_tables(engine, describe_url(target))
        recreate(engine)
        counts = _generate(engine, size, seed, config, fingerprint)
    finally:
        engine.dispose()
    return counts


def _refuse_foreign_tables(engine: Engine, where: str) -> None:
    """Raise when the target holds contract tables the sandbox did not write (no
    `sandbox_meta`): regenerating would drop someone's data."""
    existing = set(sa.inspect(engine).get_table_names()) & set(metadata.tables)
    if existing:
        raise UserError(
            f"{where} already holds A2 tables that the sandbox did not create "
            f"({', '.join(sorted(existing)[:3])}, …); refusing to replace them. Point --url at "
            "an empty database or a new file."
        )


def _generate(
    engine: object, size: int, seed: int, config: SandboxConfig, fingerprint: str
) -> dict[str, int]:
    from sqlalchemy.engine import Engine

    assert isinstance(engine, Engine)
    zone = ZoneInfo(config.timezone)
    seq = Sequences()
    counts: dict[str, int] = {}

    def add(part: dict[str, int]) -> None:
        for k, v in part.items():
            counts[k] = counts.get(k, 0) + v

    world_rows, world = build_world(config, size, random.Random(f"{seed}-world"), seq)
    with engine.begin() as conn:
        add(insert_rows(conn, world_rows))
    times = creation_times(config, random.Random(f"{seed}-times"), size, zone)
    ctx = Context(
        config=config,
        world=world,
        seq=seq,
        zone=zone,
        end_ts=config.last_datetime.replace(tzinfo=zone).timestamp(),
    )
    with progress() as bar:
        task = bar.add_task("Generating sandbox A2 correspondences", total=size)
        for chunk_no, start in enumerate(range(0, size, CHUNK)):
            rng = random.Random(f"{seed}-chunk-{chunk_no}")
            rows: Rows = {name: [] for name in CORRESPONDENCE_TABLES}
            for ts in times[start : start + CHUNK]:
                se_id = seq.next(
                    "se_reportee_element_id",
                    start=1_000_001,
                    step=1 + (rng.random() < 0.1) * rng.randint(1, 4),
                )
                add_correspondence(ctx, rng, rows, se_id, ts)
            with engine.begin() as conn:
                add(insert_rows(conn, rows))
            bar.update(task, advance=len(times[start : start + CHUNK]))
    rows = {}
    add_delegations(ctx, random.Random(f"{seed}-delegations"), rows)
    with engine.begin() as conn:
        add(insert_rows(conn, rows))
        write_meta(
            conn,
            {
                **{f"seq.{k}": v for k, v in seq.values.items()},
                "size": size,
                "seed": seed,
                "fingerprint": fingerprint,
                "generator_version": GENERATOR_VERSION,
                "complete": 1,
            },
        )
    return {name: counts.get(name, 0) for name in table_counts_order()}


def table_counts_order() -> list[str]:
    """Contract table names in load order (for stable summaries)."""
    from loaders.contract import LOAD_CONTRACTS

    return list(LOAD_CONTRACTS)
