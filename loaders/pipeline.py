"""The dlt pipeline from the A2 source to the warehouse schema `a2_raw` (`flytt load`, issue #3).

One dlt `sql_table` resource per contract table (`loaders/contract.py`), read through the table
map (`loaders/table_map.py`):

* The physical table is reflected, then replaced by a sub-select that renames physical columns to
  contract names, coerces them to the contract types (so `a2_raw` has the same column types from
  SQLite, MariaDB, PostgreSQL or SQL Server), and swaps binary columns for `<col>_md5` and
  `<col>_length` computed in the source (attachment bytes never reach the warehouse;
  elt-practice §3 P4, §6.6).
* Incremental on the table's cursor (`row_version` or the growing id) with dlt's default closed
  range, and a default `lag` window (`loaders/contract.py`: A2 assigns rowversion and identity
  values at write, not commit, so rows commit late below the high-water mark; elt-practice §3
  P6, dlt-hub/dlt#2269): every load re-reads the window, merges on the primary key, and skips
  rows `a2_raw` already holds with the same key and cursor, so late rows are neither lost nor
  doubled and unchanged rows are not rewritten (P7, §6.5); NULL cursors are included and
  merged (P8).
* Write disposition `merge` on the primary key, so every re-read is idempotent.
* Every contract table exists in `a2_raw` after a load, empty or not: a table the destination
  lacks gets a schema-only resource (`schema_resource`) with the contract's column hints.
* The staging dataset `a2_raw_staging` that merges go through is truncated after every load,
  so no second copy of A2 rows (phones, e-mail addresses) stays in the warehouse.
* dlt's working directory lives in `<data_dir>/dlt/<warehouse>`; pending packages left by a
  crash (kill -9) are loaded first, or aborted (which rolls the local state back) if they cannot
  be loaded, so a re-run ends with `a2_raw` equal to the source.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal

import dlt
import pyarrow as pa
import sqlalchemy as sa
from dlt.common.pipeline import LoadInfo
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.items_transform import MapItem
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.sources.sql_database import TableBackend, sql_table
from dlt.sources.sql_database.schema_types import table_to_columns
from sqlalchemy.dialects import mssql
from sqlalchemy.engine import Engine

from flytt.console import err, progress
from flytt.errors import UserError
from flytt.redact import redact
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from loaders.contract import LOAD_CONTRACTS, LoadContract, contract_table
from loaders.source import a2_engine, blob_length, blob_md5, oslo_wall_clock
from loaders.table_map import TableMap, TableMapping, load_table_map

RAW_SCHEMA = "a2_raw"
PIPELINE_NAME = "flytt_a2"
BACKEND: TableBackend = "pyarrow"
"""dlt `sql_database` backend: SQLAlchemy fetches, Arrow carries the chunks (≈3x the
`sqlalchemy` backend here; elt-practice §2.2)."""
LOADER_FILE_FORMAT: Literal["insert_values"] = "insert_values"
"""Not CSV/COPY: dlt's COPY uses FORCE_NULL, which turns A2's empty strings (empty summaries)
into NULL, and CSV cannot carry binary (elt-practice §3 P4)."""


def pipelines_dir(settings: Settings, warehouse: Warehouse) -> str:
    """dlt's working folder for `warehouse`: `<data_dir>/dlt/<hash of host, port, database>`.

    Kept under the data folder (not `~/.dlt`), one per warehouse, so state never leaks between
    warehouses that share a data folder.
    """
    key = f"{warehouse.host}|{warehouse.port}|{warehouse.database}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return str((settings.data_dir / "dlt" / digest).expanduser().resolve())


def make_pipeline(settings: Settings, warehouse: Warehouse) -> dlt.Pipeline:
    """The dlt pipeline `flytt_a2` writing to dataset `a2_raw` of `warehouse`."""
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    os.environ.setdefault("NORMALIZE__WORKERS", "1")
    # Arrow items skip dlt's row normaliser, which would add these; dbt staging reads them.
    os.environ["NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID"] = "true"
    os.environ["NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID"] = "true"
    # Loaded job files hold A2 rows (national identity numbers, e-mail addresses): once a
    # package is in a2_raw they are deleted, so no personal data stays on local disk.
    os.environ.setdefault("LOAD__DELETE_COMPLETED_JOBS", "true")
    # A merge goes through `a2_raw_staging` (dlt's delete-insert strategy); dlt keeps the last
    # batch there until the next load unless told to truncate it once the package is loaded
    # (dlt docs: general-usage/merge-loading, `truncate_staging_dataset`). Same reason as above.
    os.environ["LOAD__TRUNCATE_STAGING_DATASET"] = "true"
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=pipelines_dir(settings, warehouse),
        destination=dlt.destinations.postgres(credentials=warehouse.dlt_credentials()),
        dataset_name=RAW_SCHEMA,
    )


def contract_view(physical: sa.Table, contract: LoadContract, mapping: TableMapping) -> sa.Subquery:
    """The sub-select dlt reads instead of `physical`: contract column names and types, binary
    columns replaced by their MD5 and length.

    Raises:
        UserError: a mapped column is missing in the physical table (names FLYTT_A2_TABLE_MAP).
    """
    items: list[Any] = []
    for column in contract_table(contract.table).columns:
        name = mapping.physical_column(column.name)
        if name not in physical.c:
            raise UserError(
                f"The A2 source table {physical.fullname} has no column '{name}' (contract "
                f"{contract.table}.{column.name}); map it in FLYTT_A2_TABLE_MAP."
            )
        source = physical.c[name]
        if column.name in contract.binary_columns:
            items.append(blob_md5(source).label(f"{column.name}_md5"))
            items.append(blob_length(source).label(f"{column.name}_length"))
        elif isinstance(column.type, sa.Integer) and isinstance(source.type, sa.types._Binary):
            # SQL Server rowversion/timestamp (binary(8)) as the contract's bigint cursor
            items.append(sa.cast(source, sa.BigInteger()).label(column.name))
        elif isinstance(column.type, sa.DateTime) and isinstance(source.type, mssql.DATETIMEOFFSET):
            items.append(oslo_wall_clock(source).label(column.name))
        elif isinstance(column.type, sa.Uuid):
            # dlt loads UUIDs as text; strings keep every backend (pyarrow too) happy
            items.append(sa.type_coerce(source, sa.Uuid(as_uuid=False)).label(column.name))
        else:
            items.append(sa.type_coerce(source, column.type).label(column.name))
    return sa.select(*items).subquery(contract.table)


def effective_lag(contract: LoadContract, mapping: TableMapping) -> int:
    """The late-commit window of one table, in cursor units: the table map's `lag`, else the
    load contract's default (`loaders.contract.MUTABLE_LAG` / `APPEND_ONLY_LAG`)."""
    return mapping.lag if mapping.lag is not None else contract.lag


def loaded_window(warehouse: Warehouse, contract: LoadContract, lag: int) -> set[tuple[str, ...]]:
    """`(primary key..., cursor)` of the rows `a2_raw` already holds inside the lag window.

    The window is the one dlt re-reads (`cursor >= last value - lag`; dlt docs
    general-usage/incremental/lag.md), measured on `a2_raw` itself. Values are compared as text.
    An index on the cursor (created here if missing) keeps the query O(window), not O(history).
    Empty when `lag` is 0 or the table does not exist yet.
    """
    if not lag or contract.table in missing_raw_tables(warehouse):
        return set()
    table = f'{RAW_SCHEMA}."{contract.table}"'
    keys = ", ".join(f'"{c}"' for c in (*contract.primary_key, contract.cursor))
    cursor = f'"{contract.cursor}"'
    with warehouse.engine.begin() as conn:
        conn.execute(
            sa.text(
                f'create index if not exists "{contract.table}__{contract.cursor}__flytt_load_idx" '
                f"on {table} ({cursor})"
            )
        )
        rows = conn.execute(
            sa.text(
                f"select {keys} from {table} "
                f"where {cursor} >= (select max({cursor}) from {table}) - :lag"
            ),
            {"lag": lag},
        ).all()
    return {tuple(str(v) for v in row) for row in rows}


class AfterIncremental(MapItem):
    """A dlt map step placed after the resource's incremental step.

    dlt keeps its incremental transform at the end of a resource's pipe (placement affinity 1)
    and re-appends it when deferred reflection sets it at extract time, so a plain `add_map`
    runs *before* it. A step that drops rows before the incremental hides them from its
    `last_value`: after dropping the re-read top of the lag window, the state would fall back to
    the highest row that passed, and every later load would re-read the whole table. Affinity
    1.05 puts this step right behind the incremental (dlt's own `LimitItem` uses 1.1).
    """

    placement_affinity: ClassVar[float] = 1.05


def _drop_unchanged(contract: LoadContract, known: set[tuple[str, ...]]) -> Callable[[Any], Any]:
    """A dlt map step that drops re-read rows whose `(primary key, cursor)` is in `known`, so the
    lag window neither re-merges unchanged rows (a new `_dlt_load_id` would make every dbt
    incremental mart rebuild them) nor counts them as loaded. A late-committed row or an update
    has a key/cursor pair `a2_raw` does not hold and passes; NULL cursors always pass."""
    columns = (*contract.primary_key, contract.cursor)

    def drop(item: Any) -> Any:
        if not known or not hasattr(item, "num_rows") or item.num_rows == 0:
            return item
        values = [item.column(c).to_pylist() for c in columns]
        keep = [tuple(str(v) for v in row) not in known for row in zip(*values, strict=True)]
        if all(keep):
            return item
        kept = item.filter(pa.array(keep))
        return kept if kept.num_rows else None

    return drop


def _resource(
    engine: Engine,
    contract: LoadContract,
    mapping: TableMapping,
    counter: Callable[[str, int], None],
    known: set[tuple[str, ...]],
) -> Any:
    lag = effective_lag(contract, mapping)
    incremental: dlt.sources.incremental[Any] = dlt.sources.incremental(
        contract.cursor,
        lag=lag or None,
        on_cursor_value_missing=contract.null_cursor,
    )
    resource = sql_table(
        credentials=engine,
        table=mapping.table or contract.table,
        schema=mapping.db_schema,
        metadata=sa.MetaData(schema=mapping.db_schema),
        incremental=incremental,
        chunk_size=contract.chunk_size,
        backend=BACKEND,
        reflection_level="full",
        defer_table_reflect=True,
        table_adapter_callback=lambda table: contract_view(table, contract, mapping),  # type: ignore[arg-type, return-value]
        write_disposition=contract.write_disposition,
        primary_key=list(contract.primary_key),
    ).with_name(contract.table)

    def count(item: Any) -> Any:
        rows = (
            item.num_rows
            if hasattr(item, "num_rows")
            else len(item)
            if isinstance(item, list)
            else 1
        )
        counter(contract.table, rows)
        return item

    return resource.add_step(AfterIncremental(_drop_unchanged(contract, known))).add_step(
        AfterIncremental(count)
    )


def source_resources(
    engine: Engine,
    table_map: TableMap,
    counter: Callable[[str, int], None] | None = None,
    warehouse: Warehouse | None = None,
) -> list[Any]:
    """One dlt resource per enabled contract table of `table_map`, reading through `engine`.

    `counter(table, rows)` is called for every extracted chunk (progress). With `warehouse`,
    rows of the lag window that its `a2_raw` already holds unchanged are skipped
    (`loaded_window`); without it they are re-merged (still never doubled).
    """
    resources = []
    for name, mapping in table_map.items():
        if not mapping.enabled:
            continue
        contract = LOAD_CONTRACTS[name]
        known = (
            loaded_window(warehouse, contract, effective_lag(contract, mapping))
            if warehouse is not None
            else set()
        )
        resources.append(
            _resource(engine, contract, mapping, counter or (lambda _t, _n: None), known)
        )
    return resources


DLT_COLUMNS: dict[str, TColumnSchema] = {
    "_dlt_load_id": {"name": "_dlt_load_id", "data_type": "text", "nullable": False},
    "_dlt_id": {"name": "_dlt_id", "data_type": "text", "nullable": False, "unique": True},
}
"""dlt's bookkeeping columns, as its normaliser adds them to every data table (dbt staging reads
`_dlt_load_id`)."""


def contract_columns(contract: LoadContract) -> dict[str, TColumnSchema]:
    """The dlt column schema of `contract`'s table in `a2_raw`, derived from the contract alone.

    It is what `sql_table` reflects from `contract_view` over a physical table (the view coerces
    every column to its contract type, so the physical table does not change the result),
    computed here with dlt's own reflection (`table_to_columns`, reflection level `full`) over
    the contract table, plus dlt's `_dlt_load_id`/`_dlt_id`.
    """
    view = contract_view(contract_table(contract.table), contract, TableMapping.model_validate({}))
    columns = table_to_columns(view, "full")  # type: ignore[arg-type]
    return {**columns, **DLT_COLUMNS}


def schema_resource(contract: LoadContract) -> Any:
    """A dlt resource that makes `contract`'s table exist in `a2_raw` with no rows.

    dlt creates a destination table only once a resource yields rows for it (dlt-hub/dlt#1116),
    so an empty A2 table (a sandbox without authorization rules, a table switched off in the
    table map) would be missing and every dbt model reading it would fail. The documented way
    is to yield `dlt.mark.materialize_table_schema()` with full column hints (dlt docs
    general-usage/resource.md, "Materialize schema without loading data"; dlt-hub/dlt#1122).
    The resource writes to the contract table under its own resource name, with the same
    write disposition and primary key as the table's `sql_table` resource, and no rows.
    """

    def materialize() -> Iterator[Any]:
        yield dlt.mark.materialize_table_schema()

    return dlt.resource(
        materialize,
        name=f"{contract.table}__schema",
        table_name=contract.table,
        write_disposition=contract.write_disposition,
        primary_key=list(contract.primary_key),
        columns=contract_columns(contract),
    )


def missing_raw_tables(warehouse: Warehouse) -> list[str]:
    """Contract tables that do not exist (yet) in the warehouse's `a2_raw`, in load order."""
    with warehouse.engine.connect() as conn:
        existing = set(sa.inspect(conn).get_table_names(schema=RAW_SCHEMA))
    return [name for name in LOAD_CONTRACTS if name not in existing]


def _row_counts(info: LoadInfo | None, pipeline: dlt.Pipeline) -> dict[str, int]:
    trace = pipeline.last_trace
    normalize = trace.last_normalize_info if trace else None
    counts = dict(normalize.row_counts) if normalize else {}
    return {name: int(counts.get(name, 0)) for name in LOAD_CONTRACTS}


def _finish_pending(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Load packages a killed run left behind; abort them if they cannot be loaded."""
    if not pipeline.has_pending_data:
        return {}
    err.print("Finishing the load that an earlier `flytt load` left unfinished…")
    try:
        pipeline.run()
    except PipelineStepFailed as exc:
        err.print(
            f"  could not finish it ({redact(str(exc))[:200]}); aborting it and "
            "re-reading from the last loaded state."
        )
        pipeline.abort_packages()
        return {}
    return _row_counts(None, pipeline)


def _raise_user_error_from(exc: BaseException) -> None:
    """Re-raise a `UserError` (or a missing physical table) buried in dlt's exception chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, UserError):
            raise UserError(current.message) from None
        if isinstance(current, sa.exc.NoSuchTableError):
            raise UserError(
                f"The A2 source has no table or view '{current}'; create it or map the contract "
                "table to the physical one in FLYTT_A2_TABLE_MAP."
            ) from None
        current = current.__cause__ or current.__context__


def run_load(settings: Settings, warehouse: Warehouse) -> dict[str, int]:
    """Load every enabled contract table from the A2 source into `a2_raw`.

    Args:
        settings: flytt settings (A2 source URL/password, table map, data folder).
        warehouse: the warehouse (dlt writes to its dataset `a2_raw`).

    Returns:
        Rows extracted and merged per contract table in this run (0 when nothing changed).

    Raises:
        UserError: the source is unreachable or the table map is wrong (names the
            FLYTT_A2_* setting), or the load failed (names the table when dlt says it).
    """
    table_map = load_table_map(settings.a2_table_map)
    engine = a2_engine(settings, pool_size=len(LOAD_CONTRACTS) + 2)
    pipeline = make_pipeline(settings, warehouse)
    totals: dict[str, int] = {name: 0 for name in LOAD_CONTRACTS}
    try:
        for name, value in _finish_pending(pipeline).items():
            totals[name] += value
        with progress() as bar:
            tasks: dict[str, Any] = {}

            def counter(table: str, rows: int) -> None:
                if table not in tasks:
                    tasks[table] = bar.add_task(f"extract {table}", total=None)
                bar.update(tasks[table], advance=rows)

            resources = source_resources(engine, table_map, counter, warehouse)
            # every contract table exists in a2_raw after a load, with rows or without
            resources += [
                schema_resource(LOAD_CONTRACTS[name]) for name in missing_raw_tables(warehouse)
            ]
            try:
                info = pipeline.run(resources, loader_file_format=LOADER_FILE_FORMAT)
            except PipelineStepFailed as exc:
                _raise_user_error_from(exc)
                raise UserError(
                    f"Loading A2 into a2_raw failed in dlt's {exc.step} step: "
                    f"{redact(str(exc.exception))[:300]}. Fix the cause and run `flytt load` "
                    "again; it resumes."
                ) from None
        for name, value in _row_counts(info, pipeline).items():
            totals[name] += value
    finally:
        engine.dispose()
    return totals
