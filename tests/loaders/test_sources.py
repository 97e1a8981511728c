"""`flytt load` from SQLite, MariaDB and PostgreSQL sources into `a2_raw`, boundary cursor rows,
late rows in the default lag window, the table map, attachment streaming, and source errors
(issue #3)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from flytt.errors import UserError
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from loaders.attachments import AttachmentNotFoundError, attachment_md5, iter_attachment_bytes
from loaders.contract import contract_table
from loaders.pipeline import run_load
from loaders.source import a2_engine
from sandbox.a2.generate import generate_a2
from tests.conftest import settings_for
from tests.loaders.compare import assert_raw_equals_source, raw_counts

MARIADB_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/test"


def _load_and_compare(settings: Settings, warehouse: Warehouse) -> dict[str, int]:
    loaded = run_load(settings, warehouse)
    engine = a2_engine(settings)
    try:
        counts = assert_raw_equals_source(engine, warehouse)
    finally:
        engine.dispose()
    assert loaded == counts
    assert run_load(settings, warehouse) == dict.fromkeys(counts, 0)
    return counts


def test_sqlite_source_boundary_rows_and_late_rows(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    settings = settings_for(fresh_warehouse, tmp_path)
    generate_a2(settings, size=400, seed=3)
    counts = _load_and_compare(settings, fresh_warehouse)
    assert counts["a2_correspondence"] == 400

    party = contract_table("a2_party")
    engine = a2_engine(settings)
    with engine.begin() as conn:
        boundary = conn.execute(sa.select(sa.func.max(party.c.row_version))).scalar_one()
        template = dict(conn.execute(sa.select(party).limit(1)).mappings().one())
        # a new row that shares the last loaded cursor value (the boundary)
        tied = {
            **template,
            "party_id": 99_000_001,
            "party_uuid": uuid.uuid4(),
            "row_version": boundary,
        }
        conn.execute(party.insert(), [tied])
    loaded = run_load(settings, fresh_warehouse)
    assert loaded["a2_party"] == 1  # the tied row, and not the boundary row again
    assert sum(loaded.values()) == 1
    assert_raw_equals_source(engine, fresh_warehouse)

    # a late commit: a row with an older cursor value than the last one loaded (P6)
    with engine.begin() as conn:
        late = {
            **template,
            "party_id": 99_000_002,
            "party_uuid": uuid.uuid4(),
            "row_version": boundary - 5,
        }
        conn.execute(party.insert(), [late])
    loaded = run_load(settings, fresh_warehouse)  # the default lag window catches it
    assert loaded["a2_party"] == 1 and sum(loaded.values()) == 1
    assert_raw_equals_source(engine, fresh_warehouse)
    engine.dispose()


def test_attachment_bytes_stream_from_the_source_and_match_the_loaded_md5(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    settings = settings_for(fresh_warehouse, tmp_path)
    generate_a2(settings, size=60, seed=11)
    run_load(settings, fresh_warehouse)
    with fresh_warehouse.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select attachment_id, data_md5, data_length, file_size "
                "from a2_raw.a2_correspondence_attachment order by attachment_id limit 5"
            )
        ).all()
        columns = {
            c["name"]
            for c in sa.inspect(conn).get_columns("a2_correspondence_attachment", schema="a2_raw")
        }
    assert "data" not in columns  # the bytes never reach the warehouse
    assert {"data_md5", "data_length", "_dlt_load_id", "_dlt_id"} <= columns
    assert rows
    for attachment_id, md5, length, file_size in rows:
        chunks = list(iter_attachment_bytes(settings, attachment_id, chunk_size=100))
        assert all(0 < len(c) <= 100 for c in chunks)
        assert sum(len(c) for c in chunks) == length == file_size
        assert attachment_md5(settings, attachment_id) == md5
    with pytest.raises(AttachmentNotFoundError):
        list(iter_attachment_bytes(settings, 1))


def test_table_map_reads_physical_names(fresh_warehouse: Warehouse, tmp_path: Path) -> None:
    settings = settings_for(fresh_warehouse, tmp_path)
    generate_a2(settings, size=50, seed=4)
    engine = a2_engine(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql("alter table a2_party rename to PartyExport")
        conn.exec_driver_sql("alter table PartyExport rename column name to PartyName")
        conn.exec_driver_sql("alter table PartyExport rename column party_id to PartyID")
    table_map = tmp_path / "map.yml"
    table_map.write_text(
        "a2_party:\n  table: PartyExport\n  columns:\n    name: PartyName\n    party_id: PartyID\n"
        "a2_party_flags:\n  enabled: false\n"
    )
    mapped = settings.model_copy(update={"a2_table_map": table_map})
    loaded = run_load(mapped, fresh_warehouse)
    assert loaded["a2_party_flags"] == 0
    with engine.connect() as src, fresh_warehouse.engine.connect() as raw:
        expected = sorted(src.exec_driver_sql("select PartyID, PartyName from PartyExport").all())
        got = sorted(raw.execute(sa.text("select party_id, name from a2_raw.a2_party")).all())
    assert got == expected and len(got) == loaded["a2_party"] > 0
    engine.dispose()
    table_map.write_text(
        "a2_party:\n  table: PartyExport\n  columns:\n"
        "    name: NoSuchColumn\n    party_id: PartyID\n"
    )
    with pytest.raises(UserError, match="NoSuchColumn"):
        run_load(mapped, fresh_warehouse)
    table_map.write_text("a2_party:\n  table: NoSuchTable\n")
    with pytest.raises(UserError, match=r"NoSuchTable.*FLYTT_A2_TABLE_MAP"):
        run_load(mapped, fresh_warehouse)


def test_unreachable_or_bad_source_names_the_setting(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    settings = settings_for(fresh_warehouse, tmp_path, a2_source_url="mysql://root@127.0.0.1:1/a2")
    with pytest.raises(UserError, match="FLYTT_A2_SOURCE_URL") as caught:
        run_load(settings, fresh_warehouse)
    assert "Traceback" not in caught.value.message
    with pytest.raises(UserError, match="FLYTT_A2_SOURCE_URL"):
        settings_for(fresh_warehouse, tmp_path, a2_source_url="not a url")


@pytest.fixture()
def mariadb_url() -> Iterator[str]:
    """A fresh utf8mb4 database on the MariaDB at 127.0.0.1:3306 (dropped afterwards)."""
    admin = sa.create_engine(MARIADB_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"MariaDB is not reachable at 127.0.0.1:3306 (root, no password): {exc.orig}. "
            "Start it (CI does) to run the MariaDB source test."
        )
    name = f"flytt_a2_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(
            sa.text(f"create database {name} character set utf8mb4 collate utf8mb4_unicode_ci")
        )
    try:
        yield f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"drop database if exists {name}"))
        admin.dispose()


def test_mariadb_source(fresh_warehouse: Warehouse, tmp_path: Path, mariadb_url: str) -> None:
    settings = settings_for(fresh_warehouse, tmp_path, a2_source_url=mariadb_url)
    generated = generate_a2(settings, size=500, seed=8)
    counts = _load_and_compare(settings, fresh_warehouse)
    assert counts == generated
    with fresh_warehouse.engine.connect() as conn:
        sami = conn.execute(
            sa.text(
                "select count(*) from a2_raw.a2_party "
                "where name like '%Áila%' or name like '%Bæivi%'"
            )
        ).scalar_one()
        micro = conn.execute(
            sa.text(
                "select count(*) from a2_raw.a2_correspondence_status_event "
                "where extract(microseconds from status_datetime)::int % 1000000 <> 0"
            )
        ).scalar_one()
    assert sami > 0  # non-ASCII names survive MariaDB
    assert micro > 0  # microsecond timestamps survive (datetime(6))


def test_postgresql_source(fresh_warehouse: Warehouse, pg_admin: Warehouse, tmp_path: Path) -> None:
    from flytt.warehouse import ensure_database

    name = f"a2src_{uuid.uuid4().hex[:8]}"
    ensure_database(pg_admin, name)
    source = Warehouse(
        pg_admin.host, pg_admin.port, pg_admin.user, pg_admin.password, name, pg_admin.embedded
    )
    url = source.sqlalchemy_url().render_as_string(hide_password=False)
    settings = settings_for(fresh_warehouse, tmp_path, a2_source_url=url)
    generated = generate_a2(settings, size=300, seed=9)
    assert _load_and_compare(settings, fresh_warehouse) == generated
    with fresh_warehouse.engine.connect() as conn:
        first = conn.execute(
            sa.text("select min(created_datetime) from a2_raw.a2_correspondence")
        ).scalar_one()
    assert isinstance(first, datetime) and first.tzinfo is None  # naive Oslo local time
    source.engine.dispose()
    engine = sa.create_engine(pg_admin.sqlalchemy_url("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    engine.dispose()


def test_raw_counts_helper_is_zero_before_any_load(fresh_warehouse: Warehouse) -> None:
    assert set(raw_counts(fresh_warehouse).values()) == {0}


def test_unloadable_leftover_package_is_aborted_and_the_rerun_equals_the_source(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    from loaders.pipeline import make_pipeline, source_resources
    from loaders.table_map import load_table_map

    settings = settings_for(fresh_warehouse, tmp_path)
    generate_a2(settings, size=150, seed=12)
    engine = a2_engine(settings)
    pipeline = make_pipeline(settings, fresh_warehouse)
    pipeline.extract(source_resources(engine, load_table_map(None)))  # then "crash"
    jobs = list(Path(pipeline.working_dir).glob("normalize/extracted/*/new_jobs/a2_party.*"))
    assert jobs and pipeline.has_pending_data
    jobs[0].write_bytes(b"not a parquet file")  # a package that can never be loaded
    loaded = run_load(settings, fresh_warehouse)
    counts = assert_raw_equals_source(engine, fresh_warehouse)
    assert loaded == counts  # the aborted package's state was rolled back and re-read
    engine.dispose()
