"""Render the dbt source file `_a2__sources.yml` from the A2 source contract (issue #3).

The contract in `loaders/contract.py` is the single place where tables, columns, meanings and
evidence live; dbt's `sources.yml` is generated from it so the two never drift
(`tests/loaders/test_contract.py` checks the committed file is current).

Run: `.venv/bin/python -m loaders.dbt_sources` (rewrites
`dbt_project/models/staging/a2/_a2__sources.yml`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.dialects import mssql

from loaders.contract import CONTRACT_VERSION, LOAD_CONTRACTS, contract_table

SOURCES_YML = (
    Path(__file__).resolve().parent.parent
    / "dbt_project"
    / "models"
    / "staging"
    / "a2"
    / "_a2__sources.yml"
)

_SOURCE_DESCRIPTION = (
    "Altinn 2 correspondence data as loaded by `flytt load` (dlt, loaders/pipeline.py) from the "
    "A2 source contract (loaders/contract.py; reference a2-model §8). One table per contract "
    "table, column names as in the contract. Times in `datetime2` columns are naive Norwegian "
    "local time (Europe/Oslo wall clock, as A2 stores them); convert in staging. Attachment bytes "
    "are not loaded: `data_md5` and `data_length` replace `data`. dlt adds two columns to every "
    "table: `_dlt_load_id` (the load that last wrote the row; a Unix timestamp as text) and "
    "`_dlt_id` (a unique row id). Columns marked [inferred] are flytt's deductions, not public "
    f"A2 facts. Contract version {CONTRACT_VERSION}."
)


def _sql_type(column: sa.Column) -> str:
    return str(column.type.compile(dialect=mssql.dialect()))


def _column_entries(table: sa.Table) -> list[dict[str, Any]]:
    contract = LOAD_CONTRACTS[table.name]
    entries: list[dict[str, Any]] = []
    single_pk = len(contract.primary_key) == 1
    for column in table.columns:
        if column.name in contract.binary_columns:
            entries.append(
                {
                    "name": f"{column.name}_md5",
                    "description": f"Lower-case hex MD5 of `{column.name}`, computed by the "
                    f"loader in the source query; the bytes stay in A2 ({column.comment}). "
                    "[inferred] (issue #3; A3 migration attachment checksum, a2-model §7)",
                },
            )
            entries.append(
                {
                    "name": f"{column.name}_length",
                    "description": f"Length of `{column.name}` in bytes, computed by the loader "
                    "in the source query. [inferred] (issue #3)",
                },
            )
            continue
        entry: dict[str, Any] = {
            "name": str(column.name),
            "description": f"{column.comment} — source type {_sql_type(column)}"
            + ("" if column.nullable else ", not null"),
        }
        tests: list[Any] = []
        if column.primary_key and single_pk:
            tests = ["unique", "not_null"]
        if tests:
            entry["data_tests"] = tests
        entries.append(entry)
    return entries


def _table_entry(name: str) -> dict[str, Any]:
    table = contract_table(name)
    contract = LOAD_CONTRACTS[name]
    description = (
        f"{table.comment}. Load contract: {contract.kind}; primary key "
        f"({', '.join(contract.primary_key)}); cursor `{contract.cursor}`; write disposition "
        f"{contract.write_disposition}; lag {contract.lag}; NULL cursor: {contract.null_cursor}."
    )
    entry: dict[str, Any] = {"name": str(name), "description": description}
    if contract.loaded_at_field:
        entry["config"] = {
            "loaded_at_field": contract.loaded_at_field,
            "freshness": {
                "warn_after": {"count": 1, "period": "day"},
            },
        }
    entry["columns"] = _column_entries(table)
    if len(contract.primary_key) > 1:
        key = " || '|' || ".join(f"cast({c} as varchar)" for c in contract.primary_key)
        entry["data_tests"] = [{"unique": {"arguments": {"column_name": f"({key})"}}}]
    return entry


def render_sources_yaml() -> str:
    """The text of `_a2__sources.yml`: dbt source `a2` with every contract table and column.

    Returns:
        YAML text (dbt 1.11 properties format), deterministic for a given contract.
    """
    doc = {
        "version": 2,
        "sources": [
            {
                "name": "a2",
                "description": _SOURCE_DESCRIPTION,
                "schema": "{{ var('a2_raw_schema') }}",
                "tables": [_table_entry(name) for name in LOAD_CONTRACTS],
            }
        ],
    }
    header = (
        "# Generated from loaders/contract.py by `python -m loaders.dbt_sources`; do not edit by\n"
        "# hand (tests/loaders/test_contract.py fails when this file is stale).\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def write_sources_yaml(path: Path = SOURCES_YML) -> Path:
    """Write `render_sources_yaml()` to `path` (default: the dbt project's file); return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_sources_yaml(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_sources_yaml())
