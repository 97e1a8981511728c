"""The `a3` mart schema as the dbt contract declares it: the one place Python learns mart
column names and types.

Source: the model YAML under `dbt_project/models/marts/` (every `*.yml` there, subfolders
included), read with PyYAML. Each mart declares `config: contract: enforced: true` and a
`data_type` per column, and dbt refuses to build a mart whose SQL gives other names or types
(https://docs.getdbt.com/reference/resource-configs/contract), so these files are exactly what
`flytt build` creates. Reading the YAML rather than `target/manifest.json` needs neither a
database nor a prior `dbt parse` (the manifest can be missing or stale in a checkout, and
other dbt runs rewrite it); `tests/dbt/test_mart_schema.py` checks that the two agree.

Used by the synthetic marts (`syncd.synthetic`, `tests/exposure/world.py`), which create their
tables with `create_tables_sql`, and by the tests that check every reader uses contract names.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flytt.dbt import PROJECT_DIR

MARTS_DIR = PROJECT_DIR / "models" / "marts"
"""Where the mart models and their YAML live."""
SCHEMA = "a3"
"""The schema dbt builds the marts in (`dbt_project.yml`, `marts: +schema: a3`)."""
INDEXED_COLUMNS = (
    "altinn2_correspondence_id",
    "a2_correspondence_id",
    "altinn2_attachment_id",
    "resource_id",
)
"""Columns the synthetic marts index (each one a mart has): what readers filter and join on."""


@dataclass(frozen=True)
class MartColumn:
    """One contract column.

    Attributes:
        name: the column name.
        data_type: its PostgreSQL type as the contract declares it (e.g. `bigint`, `timestamptz`).
        pii: True when the column is tagged `meta: {pii: true}` (personal data).
    """

    name: str
    data_type: str
    pii: bool = False


@dataclass(frozen=True)
class Mart:
    """One mart and its contract.

    Attributes:
        name: the model (and table) name in schema `a3`.
        columns: the contract columns, in declaration order.
        enforced: True when the model declares `contract: enforced: true`.
    """

    name: str
    columns: tuple[MartColumn, ...]
    enforced: bool

    @property
    def column_names(self) -> tuple[str, ...]:
        """The column names, in declaration order."""
        return tuple(c.name for c in self.columns)

    @property
    def indexed(self) -> tuple[str, ...]:
        """The `INDEXED_COLUMNS` this mart has."""
        return tuple(c for c in INDEXED_COLUMNS if c in self.column_names)


def _enforced(model: dict[str, Any]) -> bool:
    config = model.get("config") or {}
    contract = config.get("contract") or {}
    return bool(contract.get("enforced"))


def _column(model: str, entry: dict[str, Any]) -> MartColumn:
    name = str(entry["name"])
    data_type = entry.get("data_type")
    if not data_type:
        raise ValueError(f"mart {model}: column {name} declares no data_type")
    meta = entry.get("meta") or (entry.get("config") or {}).get("meta") or {}
    return MartColumn(name, str(data_type), bool(meta.get("pii")))


def read_marts(marts_dir: Path = MARTS_DIR) -> dict[str, Mart]:
    """Read the mart contracts from the model YAML in `marts_dir`.

    Args:
        marts_dir: the folder of the mart models (default: the project's `models/marts`).

    Returns:
        Every model that has a `.sql` file in `marts_dir` (subfolders included), by name.

    Raises:
        ValueError: a mart has no YAML entry, or a column declares no `data_type`.
    """
    sql_models = {p.stem for p in marts_dir.rglob("*.sql")}
    found: dict[str, Mart] = {}
    for path in sorted(marts_dir.rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in document.get("models") or []:
            name = str(model["name"])
            if name not in sql_models:
                continue
            columns = tuple(_column(name, c) for c in model.get("columns") or [])
            found[name] = Mart(name, columns, _enforced(model))
    missing = sorted(sql_models - set(found))
    if missing:
        raise ValueError(f"marts without a YAML contract: {', '.join(missing)}")
    return found


@functools.cache
def marts() -> dict[str, Mart]:
    """The project's mart contracts (`read_marts()` of `MARTS_DIR`, read once per process)."""
    return read_marts()


def columns(mart: str) -> tuple[str, ...]:
    """The contract column names of mart `mart`, in declaration order.

    Raises:
        KeyError: `mart` is not a mart of the dbt project.
    """
    return marts()[mart].column_names


def create_tables_sql(
    names: Iterable[str] | None = None,
    *,
    schema: str = SCHEMA,
    leading: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """DDL that creates empty mart tables with the contract's columns and types.

    For synthetic marts in tests and benchmarks: no constraints (the synthetic data
    deliberately holds rows the dbt tests would refuse), one index per column in
    `Mart.indexed`.

    Args:
        names: the marts to create (default: every mart).
        schema: the schema to create them in; it must exist.
        leading: per mart, contract columns to put first, in this order (the columns the
            synthetic data fills, so positional inserts line up); the other contract columns
            follow in declaration order.

    Returns:
        `create table` and `create index` statements separated by `;`.

    Raises:
        KeyError: a name in `names` or `leading` is not a mart.
        ValueError: a `leading` column is not in that mart's contract.
    """
    contracts = marts()
    leading = leading or {}
    for name, first in leading.items():
        unknown = sorted(set(first) - set(contracts[name].column_names))
        if unknown:
            raise ValueError(f"mart {name} has no contract column {', '.join(unknown)}")
    statements: list[str] = []
    for name in sorted(contracts) if names is None else names:
        mart = contracts[name]
        first = list(leading.get(name, ()))
        types = {c.name: c.data_type for c in mart.columns}
        order = first + [c for c in mart.column_names if c not in first]
        body = ",\n    ".join(f'"{c}" {types[c]}' for c in order)
        statements.append(f'create table {schema}."{name}" (\n    {body}\n)')
        statements.extend(f'create index on {schema}."{name}" ("{c}")' for c in mart.indexed)
    return ";\n".join(statements) + ";\n"
