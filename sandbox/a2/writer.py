"""Writing the sandbox A2 database: create the contract tables, bulk-insert rows, keep the
sandbox's own bookkeeping table `sandbox_meta` (not part of the contract; the loader never reads
it). Works on SQLite, MariaDB/MySQL and PostgreSQL through SQLAlchemy Core `executemany`
(SQLite executemany, PyMySQL multi-row INSERT, psycopg2 "insertmanyvalues" batches).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from loaders.contract import LOAD_CONTRACTS, metadata

meta_metadata = sa.MetaData()
sandbox_meta = sa.Table(
    "sandbox_meta",
    meta_metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(4000), nullable=False),
    comment="Bookkeeping of the flytt sandbox generator (not part of the A2 contract).",
)

BATCH = 5_000


def read_meta(engine: Engine) -> dict[str, str]:
    """The `sandbox_meta` key/values, or `{}` when the table does not exist."""
    if not sa.inspect(engine).has_table("sandbox_meta"):
        return {}
    with engine.connect() as conn:
        result = conn.execute(sa.select(sandbox_meta.c.key, sandbox_meta.c.value))
        return {str(k): str(v) for k, v in result}


def write_meta(conn: Connection, values: dict[str, Any]) -> None:
    """Upsert `values` into `sandbox_meta` (delete + insert, portable)."""
    if not values:
        return
    conn.execute(sandbox_meta.delete().where(sandbox_meta.c.key.in_(list(values))))
    conn.execute(sandbox_meta.insert(), [{"key": k, "value": str(v)} for k, v in values.items()])


def lock_counters(conn: Connection) -> dict[str, int]:
    """Serialise every writer of the sandbox's id counters for the rest of the transaction
    `conn` (a no-op update of the `complete` row: a row lock on PostgreSQL and MariaDB, the
    database write lock on SQLite), then read them: `{"status_event_id": n, ...}` without the
    `seq.` prefix. `flytt sandbox a2 --live` and the A2 SBL-bridge replica both write to one
    sandbox; each takes this lock before it hands out ids, so they never hand out one twice."""
    conn.execute(
        sandbox_meta.update()
        .where(sandbox_meta.c.key == "complete")
        .values(value=sandbox_meta.c.value)
    )
    rows = conn.execute(
        sa.select(sandbox_meta.c.key, sandbox_meta.c.value).where(sandbox_meta.c.key.like("seq.%"))
    )
    return {str(k).removeprefix("seq."): int(str(v)) for k, v in rows}


def recreate(engine: Engine) -> None:
    """Drop and create every contract table and `sandbox_meta` (an empty sandbox)."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql("pragma journal_mode = wal")
    meta_metadata.drop_all(engine, checkfirst=True)
    metadata.drop_all(engine, checkfirst=True)
    metadata.create_all(engine)
    meta_metadata.create_all(engine)


def insert_rows(conn: Connection, rows: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Bulk-insert `rows` (table name → row dicts) in contract order; return counts."""
    # SQLite refuses the pragma inside a transaction (e.g. after `lock_counters`)
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        conn.exec_driver_sql("pragma synchronous = off")
    counts: dict[str, int] = {}
    for name in LOAD_CONTRACTS:
        batch = rows.get(name)
        if not batch:
            continue
        table = metadata.tables[name]
        for start in range(0, len(batch), BATCH):
            conn.execute(table.insert(), batch[start : start + BATCH])
        counts[name] = len(batch)
    return counts


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per contract table in the database behind `engine`."""
    with engine.connect() as conn:
        return {
            name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
            for name, table in ((n, metadata.tables[n]) for n in LOAD_CONTRACTS)
        }
