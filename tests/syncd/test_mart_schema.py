"""The synthetic marts and the payload builder follow the dbt contract (syncd.mart_schema).

`syncd.synthetic` (delivery tests, benchmark) and `tests/exposure/world.py` (exposure tests)
create their `a3` tables from the contract; these tests fail when a mart contract gains,
loses or retypes a column the synthetic marts do not have, and when the payload builder reads a
column name that no mart contract declares.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import sqlalchemy as sa

from flytt.warehouse import Warehouse
from syncd import synthetic
from syncd.mart_schema import SCHEMA, read_marts
from syncd.marts import _CHILD_MARTS, fetch_elements
from syncd.payloads import (
    ElementRows,
    attachment_params,
    attachment_size,
    build_correspondence,
    guard,
)
from tests.exposure import world


def _contract() -> dict[str, dict[str, str]]:
    """Every mart's columns → declared type, read afresh from the YAML (not the cache)."""
    return {m.name: {c.name: c.data_type for c in m.columns} for m in read_marts().values()}


def _created(conn: sa.Connection) -> dict[str, dict[str, str]]:
    """Tables of schema `a3` → column → type as PostgreSQL spells it."""
    out: dict[str, dict[str, str]] = {}
    for table, column, type_ in conn.execute(
        sa.text(
            "select c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
            "from pg_attribute a join pg_class c on c.oid = a.attrelid "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = :s and c.relkind in ('r', 'v', 'm') and a.attnum > 0 "
            "and not a.attisdropped"
        ),
        {"s": SCHEMA},
    ):
        out.setdefault(str(table), {})[str(column)] = str(type_)
    return out


def _spelled(conn: sa.Connection, contract: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The contract with each type as PostgreSQL spells it (`timestamptz` → `timestamp with
    time zone`)."""
    names = {t for columns in contract.values() for t in columns.values()}
    spelling: dict[str, str] = {
        t: str(conn.execute(sa.text("select to_regtype(:t)::text"), {"t": t}).scalar_one())
        for t in names
    }
    return {m: {c: spelling[t] for c, t in cols.items()} for m, cols in contract.items()}


def test_synthetic_ddl_names_every_contract_column_with_its_type() -> None:
    for ddl in (synthetic.DDL, world.DDL):
        for mart, columns in _contract().items():
            assert f'create table {SCHEMA}."{mart}" (' in ddl
            for column, data_type in columns.items():
                assert f'"{column}" {data_type}' in ddl, (mart, column)


@pytest.fixture(scope="module")
def seeded(warehouse: Warehouse) -> Iterator[Warehouse]:
    """The module warehouse with the synthetic marts (60 elements and the crash cases)."""
    synthetic.seed_marts(warehouse.engine, 60, services=3, crash=True)
    yield warehouse


def test_synthetic_marts_are_the_contract(seeded: Warehouse) -> None:
    with seeded.engine.connect() as conn:
        assert _created(conn) == _spelled(conn, _contract())


def test_world_marts_are_the_contract(fresh_warehouse: Warehouse) -> None:
    with fresh_warehouse.engine.begin() as conn:
        conn.execute(sa.text(world.DDL))
        assert _created(conn) == _spelled(conn, _contract())


class _Recording(Mapping[str, Any]):
    """A mart row that records every column name it is asked for (`row[k]`, `row.get(k)`,
    `k in row`)."""

    def __init__(self, mart: str, row: Mapping[str, Any], asked: set[tuple[str, str]]) -> None:
        self._mart, self._row, self._asked = mart, dict(row), asked

    def __getitem__(self, key: str) -> Any:
        self._asked.add((self._mart, key))
        return self._row[key]

    def __contains__(self, key: object) -> bool:
        self._asked.add((self._mart, str(key)))
        return key in self._row

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)


def _recording(rows: ElementRows, asked: set[tuple[str, str]]) -> ElementRows:
    def wrap(mart: str, row: Mapping[str, Any] | None) -> Any:
        return None if row is None else _Recording(mart, row, asked)

    out = ElementRows(
        a2_correspondence_id=rows.a2_correspondence_id,
        correspondence=wrap("correspondences", rows.correspondence),
        content=wrap("correspondence_contents", rows.content),
        attachments=[wrap("attachments", a) for a in rows.attachments],
        unknown_attachment_ids=list(rows.unknown_attachment_ids),
    )
    for attr, mart in _CHILD_MARTS.items():
        setattr(out, attr, [wrap(mart, r) for r in getattr(rows, attr)])
    return out


def test_payloads_read_only_contract_columns(seeded: Warehouse) -> None:
    ids = [*range(1, 61), *synthetic.CRASH_IDS]
    with seeded.engine.connect() as conn:
        elements = fetch_elements(conn, ids)
    asked: set[tuple[str, str]] = set()
    built = 0
    for rows in elements.values():
        recorded = _recording(rows, asked)
        for attachment in recorded.attachments:
            attachment_params(attachment)
            attachment_size(attachment)
        if not guard(recorded):
            build_correspondence(recorded, [uuid.uuid4() for _ in recorded.attachments])
            built += 1
    assert built == 60
    contract = _contract()
    unknown = sorted((mart, column) for mart, column in asked if column not in contract[mart])
    assert unknown == []
    # every kind of row was read (the recording saw each mart the payload uses)
    assert {mart for mart, _ in asked} == {
        "correspondences",
        "correspondence_contents",
        "attachments",
        *_CHILD_MARTS.values(),
    }
