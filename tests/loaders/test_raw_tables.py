"""What `flytt load` leaves in the warehouse besides the loaded rows: no copy of the merged batch
in dlt's staging dataset (personal data), every contract table present in `a2_raw` even when
the source table is empty, and late-committed rows (issue #3 loader behaviour)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from flytt.dbt import run_dbt
from flytt.warehouse import Warehouse
from loaders.contract import LOAD_CONTRACTS, contract_table, loaded_columns
from loaders.pipeline import RAW_SCHEMA, run_load
from loaders.source import a2_engine
from sandbox.a2.generate import generate_a2
from tests.conftest import settings_for
from tests.loaders.compare import assert_raw_equals_source

STAGING_SCHEMA = f"{RAW_SCHEMA}_staging"


def _staging_row_counts(warehouse: Warehouse) -> dict[str, int]:
    """Rows per data table in dlt's staging dataset `a2_raw_staging` ({} when it does not exist)."""
    with warehouse.engine.connect() as conn:
        tables = [
            t
            for t in sa.inspect(conn).get_table_names(schema=STAGING_SCHEMA)
            if not t.startswith("_dlt")
        ]
        return {
            t: int(
                conn.execute(sa.text(f'select count(*) from {STAGING_SCHEMA}."{t}"')).scalar_one()
            )
            for t in tables
        }


def test_staging_dataset_holds_no_rows_after_a_load(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    settings = settings_for(fresh_warehouse, tmp_path)
    generate_a2(settings, size=60, seed=21)
    loaded = run_load(settings, fresh_warehouse)
    assert loaded["a2_party"] > 0 and loaded["a2_notification_endpoint"] > 0
    with fresh_warehouse.engine.connect() as conn:
        raw_parties = int(
            conn.execute(sa.text("select count(*) from a2_raw.a2_party")).scalar_one()
        )
    assert raw_parties == loaded["a2_party"]  # the merge itself went through staging
    staged = _staging_row_counts(fresh_warehouse)
    assert {name: n for name, n in staged.items() if n} == {}


def test_an_empty_source_table_still_exists_in_a2_raw_and_the_build_passes(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    settings = settings_for(fresh_warehouse, tmp_path)
    generate_a2(settings, size=60, seed=22)
    rules = contract_table("a2_authorization_rule")
    engine = a2_engine(settings)
    with engine.begin() as conn:
        kept = [dict(r) for r in conn.execute(sa.select(rules)).mappings()]
        conn.execute(rules.delete())  # as `flytt sandbox a2 --size 60` without rules
    loaded = run_load(settings, fresh_warehouse)
    assert loaded["a2_authorization_rule"] == 0 and loaded["a2_correspondence"] == 60
    with fresh_warehouse.engine.connect() as conn:
        existing = set(sa.inspect(conn).get_table_names(schema=RAW_SCHEMA))
        assert set(LOAD_CONTRACTS) - existing == set()
        columns = [
            c["name"]
            for c in sa.inspect(conn).get_columns("a2_authorization_rule", schema=RAW_SCHEMA)
        ]
    assert set(columns) == {*loaded_columns("a2_authorization_rule"), "_dlt_load_id", "_dlt_id"}
    result = run_dbt(fresh_warehouse, ["build"])
    assert result.success, [
        f"{n.unique_id}: {n.status} {n.message[:200]}"
        for n in result.nodes
        if n.status not in {"success", "pass", "warn"}
    ]
    staged = [n for n in result.nodes if n.unique_id.endswith(".stg_a2__authorization_rules")]
    assert [n.status for n in staged] == ["success"]

    # rows that arrive later load into the table made empty (same column types)
    assert kept
    with engine.begin() as conn:
        conn.execute(rules.insert(), kept)
    assert run_load(settings, fresh_warehouse)["a2_authorization_rule"] == len(kept)
    assert_raw_equals_source(engine, fresh_warehouse)
    engine.dispose()
