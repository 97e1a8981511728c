"""What `flytt load` leaves in the warehouse besides the loaded rows: no copy of the merged batch
in dlt's staging dataset (personal data), every contract table present in `a2_raw` even when
the source table is empty, and late-committed rows (issue #3 loader behaviour)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from flytt.warehouse import Warehouse
from loaders.pipeline import RAW_SCHEMA, run_load
from sandbox.a2.generate import generate_a2
from tests.conftest import settings_for

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
