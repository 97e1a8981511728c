"""Compare `a2_raw` with the A2 source: row counts and primary keys of every contract table."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flytt.warehouse import Warehouse
from loaders.contract import LOAD_CONTRACTS, contract_table


def _keys(conn: sa.Connection, table: str, schema: str | None) -> list[tuple[object, ...]]:
    pk = LOAD_CONTRACTS[table].primary_key
    cols = ", ".join(pk)
    prefix = f"{schema}." if schema else ""
    rows = conn.execute(sa.text(f"select {cols} from {prefix}{table}")).all()
    return sorted(tuple(str(v) for v in row) for row in rows)


def source_counts(source: Engine) -> dict[str, int]:
    """Rows per contract table in the source."""
    with source.connect() as conn:
        return {
            name: int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(contract_table(name))
                ).scalar_one()
            )
            for name in LOAD_CONTRACTS
        }


def raw_counts(warehouse: Warehouse) -> dict[str, int]:
    """Rows per contract table in `a2_raw` (0 for a table dlt has not created)."""
    with warehouse.engine.connect() as conn:
        existing = set(sa.inspect(conn).get_table_names(schema="a2_raw"))
        return {
            name: int(conn.execute(sa.text(f"select count(*) from a2_raw.{name}")).scalar_one())
            if name in existing
            else 0
            for name in LOAD_CONTRACTS
        }


def assert_raw_equals_source(source: Engine, warehouse: Warehouse) -> dict[str, int]:
    """Assert every contract table has the same row count and the same keys (no duplicates) in
    `a2_raw` as in the source; return the counts."""
    counts = source_counts(source)
    assert raw_counts(warehouse) == counts
    with source.connect() as src, warehouse.engine.connect() as raw:
        for name in LOAD_CONTRACTS:
            source_keys = _keys(src, name, None)
            raw_keys = _keys(raw, name, "a2_raw")
            assert raw_keys == source_keys, f"{name}: keys differ"
    return counts
