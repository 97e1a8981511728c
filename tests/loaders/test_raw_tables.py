"""What `flytt load` leaves in the warehouse besides the loaded rows: no copy of the merged batch
in dlt's staging dataset (personal data), every contract table present in `a2_raw` even when
the source table is empty, and late-committed rows (issue #3 loader behaviour)."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa

from flytt.dbt import run_dbt
from flytt.warehouse import Warehouse
from loaders.contract import LOAD_CONTRACTS, contract_table, loaded_columns
from loaders.pipeline import PIPELINE_NAME, RAW_SCHEMA, pipelines_dir, run_load
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


def _unused_below(conn: sa.Connection, table: sa.Table, column: str, top: int) -> int:
    """The highest value below `top` that no row of `table` has in `column`."""
    used = set(conn.execute(sa.select(table.c[column])).scalars())
    return next(v for v in range(top - 1, 0, -1) if v not in used)


def test_rows_committed_late_below_the_high_water_mark_are_loaded_once(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    settings = settings_for(fresh_warehouse, tmp_path)
    generate_a2(settings, size=60, seed=23)
    events = contract_table("a2_correspondence_status_event")
    correspondences = contract_table("a2_correspondence")
    engine = a2_engine(settings)
    with engine.begin() as conn:
        # an event whose insert is still uncommitted at the first load: its id is below the max
        ids = sorted(conn.execute(sa.select(events.c.status_event_id)).scalars())
        held_back = dict(
            conn.execute(sa.select(events).where(events.c.status_event_id == ids[-3]))
            .mappings()
            .one()
        )
        conn.execute(events.delete().where(events.c.status_event_id == ids[-3]))
    first = run_load(settings, fresh_warehouse)
    assert first["a2_correspondence"] == 60

    with engine.begin() as conn:
        conn.execute(events.insert(), [held_back])  # the event's transaction commits now
        top = conn.execute(sa.select(sa.func.max(correspondences.c.row_version))).scalar_one()
        late_version = _unused_below(conn, correspondences, "row_version", top)
        target: int = conn.execute(
            sa.select(correspondences.c.se_reportee_element_id)
            .order_by(correspondences.c.row_version)
            .limit(1)
        ).scalar_one()
        # an update written (row version assigned) before the first load, committed after it
        conn.execute(
            correspondences.update()
            .where(correspondences.c.se_reportee_element_id == target)
            .values(message_title="Committed late", row_version=late_version)
        )
    second = run_load(settings, fresh_warehouse)
    assert second == {
        **dict.fromkeys(LOAD_CONTRACTS, 0),
        "a2_correspondence": 1,
        "a2_correspondence_status_event": 1,
    }
    assert_raw_equals_source(engine, fresh_warehouse)  # same keys, none doubled
    with fresh_warehouse.engine.connect() as conn:
        title = conn.execute(
            sa.text(
                "select message_title, row_version from a2_raw.a2_correspondence "
                "where se_reportee_element_id = :id"
            ),
            {"id": target},
        ).one()
        copies: int = conn.execute(
            sa.text(
                "select count(*) from a2_raw.a2_correspondence_status_event "
                "where status_event_id = :id"
            ),
            {"id": held_back["status_event_id"]},
        ).scalar_one()
    assert tuple(title) == ("Committed late", late_version)
    assert copies == 1
    assert run_load(settings, fresh_warehouse) == dict.fromkeys(LOAD_CONTRACTS, 0)
    engine.dispose()


def test_after_a_lost_load_state_the_cursor_returns_to_the_top(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    """A killed load can leave `a2_raw` holding rows whose load state was never committed; the
    next load then re-reads the table from the start. The rows of the lag window it already
    holds are skipped *after* dlt's incremental step has seen them, so the cursor returns to
    the top and the load after that reads only the window (all known: 0 rows). Skipped before
    it, the cursor would stay at the highest row let through, and every load would re-read the
    table again."""
    table_map = tmp_path / "map.yml"
    table_map.write_text("a2_correspondence_status_event:\n  lag: 5\n")
    settings = settings_for(fresh_warehouse, tmp_path).model_copy(
        update={"a2_table_map": table_map}
    )
    generate_a2(settings, size=60, seed=29)
    run_load(settings, fresh_warehouse)
    # the load state is lost (as when a killed load's package is aborted), the rows stay
    shutil.rmtree(Path(pipelines_dir(settings, fresh_warehouse)) / PIPELINE_NAME)
    with fresh_warehouse.engine.begin() as conn:
        conn.execute(sa.text(f"delete from {RAW_SCHEMA}._dlt_pipeline_state"))
    recovered = run_load(settings, fresh_warehouse)
    assert recovered["a2_correspondence_status_event"] > 0  # re-read below the window
    assert run_load(settings, fresh_warehouse) == dict.fromkeys(LOAD_CONTRACTS, 0)
    engine = a2_engine(settings)
    assert_raw_equals_source(engine, fresh_warehouse)
    engine.dispose()
