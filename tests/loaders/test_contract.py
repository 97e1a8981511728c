"""The A2 source contract: names as in a2-model §8, the dbt sources file is current, and the
SQL Server side compiles and maps cleanly without a server (issue #3)."""

from __future__ import annotations

from pathlib import Path

import dlt
import pytest
import sqlalchemy as sa
from dlt.sources.sql_database.schema_types import sqla_col_to_column_schema
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateTable

from flytt.errors import UserError
from flytt.settings import load_settings
from loaders.attachments import attachment_queries, blob_slice
from loaders.contract import LOAD_CONTRACTS, contract_table, loaded_columns, metadata
from loaders.dbt_sources import SOURCES_YML, render_sources_yaml
from loaders.pipeline import contract_view
from loaders.source import a2_engine
from loaders.table_map import TableMapping, load_table_map

SECTION_8_TABLES = [
    "a2_service_owner", "a2_service_edition", "a2_role_definition", "a2_role_definition_link",
    "a2_service_right_rule", "a2_party", "a2_user", "a2_correspondence",
    "a2_correspondence_status_event", "a2_correspondence_attachment",
    "a2_correspondence_xml_attachment", "a2_correspondence_reply_option", "a2_notification",
    "a2_notification_endpoint", "a2_notification_text_token", "a2_notification_template",
    "a2_correspondence_forwarding_event", "a2_role_assignment", "a2_authorization_rule",
    "a2_delegation_change_log", "a2_party_flags", "a2_migration_service_config",
]  # fmt: skip
MSSQL = mssql.dialect()


def test_contract_has_every_section_8_table_with_a_load_contract() -> None:
    assert sorted(metadata.tables) == sorted(SECTION_8_TABLES)
    assert sorted(LOAD_CONTRACTS) == sorted(SECTION_8_TABLES)
    correspondence = contract_table("a2_correspondence")
    assert [c.name for c in correspondence.primary_key.columns] == ["se_reportee_element_id"]
    assert {
        "correspondence_id",
        "archive_reportee_element_id",
        "reportee_party_id",
        "created_datetime",
        "src_db",
        "row_version",
    } <= set(correspondence.c.keys())
    assert LOAD_CONTRACTS["a2_correspondence"].cursor == "row_version"
    assert LOAD_CONTRACTS["a2_correspondence_status_event"].cursor == "status_event_id"
    assert not LOAD_CONTRACTS["a2_correspondence_status_event"].mutable
    assert LOAD_CONTRACTS["a2_correspondence_attachment"].binary_columns == ("data",)
    assert "data" not in loaded_columns("a2_correspondence_attachment")
    assert {"data_md5", "data_length"} <= set(loaded_columns("a2_correspondence_attachment"))
    for table in metadata.tables.values():
        for column in table.columns:
            assert column.comment and "(" in column.comment, f"{table.name}.{column.name}"
    assert "[inferred]" in contract_table("a2_party").c.row_version.comment


def test_committed_dbt_sources_file_is_generated_from_the_contract() -> None:
    assert SOURCES_YML.read_text(encoding="utf-8") == render_sources_yaml(), (
        "run `.venv/bin/python -m loaders.dbt_sources` and commit the result"
    )


def test_contract_tables_compile_to_the_sql_server_types() -> None:
    ddl = "\n".join(str(CreateTable(t).compile(dialect=MSSQL)) for t in metadata.tables.values())
    for sql_type in (
        "DATETIME2(7)",
        "VARBINARY(max)",
        "NVARCHAR(max)",
        "UNIQUEIDENTIFIER",
        "BIT",
        "TINYINT",
        "NVARCHAR(4096)",
        "XML",
    ):
        assert sql_type in ddl
    assert "DATETIME " not in ddl and "DATETIME," not in ddl


def test_loader_query_compiles_for_mssql_pyodbc_with_incremental_filter(tmp_path: Path) -> None:
    physical = contract_table("a2_correspondence_attachment")
    view = contract_view(physical, LOAD_CONTRACTS["a2_correspondence_attachment"], TableMapping())
    query = view.select().where(view.c.row_version >= 42).order_by(view.c.row_version)
    sql = str(query.compile(dialect=MSSQL, compile_kwargs={"literal_binds": True}))
    assert (
        "LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', a2_correspondence_attachment.data), 2))" in sql
    )
    assert "DATALENGTH(a2_correspondence_attachment.data)" in sql
    assert "row_version >= 42" in sql
    assert ".data AS" not in sql  # the bytes themselves are never selected
    table, id_col, data_col = attachment_queries(load_settings(data_dir=tmp_path))
    chunk = sa.select(blob_slice(data_col, 1, 1024)).select_from(table).where(id_col == 7)
    assert "SUBSTRING(a2_correspondence_attachment.data, 1, 1024)" in str(
        chunk.compile(dialect=MSSQL, compile_kwargs={"literal_binds": True})
    )


def test_sql_server_rowversion_and_datetimeoffset_map_to_the_contract() -> None:
    physical = sa.Table(
        "Correspondence",
        sa.MetaData(),
        *[
            sa.Column(c.name, c.type)
            for c in contract_table("a2_correspondence").columns
            if c.name not in ("row_version", "created_datetime")
        ],
        sa.Column("row_version", mssql.TIMESTAMP()),
        sa.Column("created_datetime", mssql.DATETIMEOFFSET()),
        schema="dbo",
    )
    view = contract_view(physical, LOAD_CONTRACTS["a2_correspondence"], TableMapping())
    sql = str(
        view.select()
        .where(view.c.row_version > 5)
        .compile(dialect=MSSQL, compile_kwargs={"literal_binds": True})
    )
    assert "CAST(dbo.[Correspondence].row_version AS BIGINT) AS row_version" in sql
    assert (
        "CAST((dbo.[Correspondence].created_datetime AT TIME ZONE 'Central European "
        "Standard Time') AS DATETIME2(7)) AS created_datetime"
    ) in sql
    assert "row_version > 5" in sql


@pytest.mark.parametrize(
    ("sql_type", "expected"),
    [
        (mssql.DATETIME2(7), {"data_type": "timestamp", "timezone": False}),
        (mssql.DATETIMEOFFSET(), {"data_type": "timestamp", "timezone": True}),
        (mssql.UNIQUEIDENTIFIER(), {"data_type": "text"}),
        (mssql.VARBINARY(), {"data_type": "binary"}),
        (mssql.NVARCHAR(), {"data_type": "text"}),
        (mssql.BIT(), {"data_type": "bool"}),
        (mssql.TINYINT(), {"data_type": "bigint"}),
    ],
)
def test_sql_server_types_map_cleanly_to_dlt(sql_type: sa.types.TypeEngine, expected: dict) -> None:
    schema = sqla_col_to_column_schema(sa.Column("x", sql_type), "full")
    assert schema is not None
    assert {k: schema.get(k) for k in expected} == expected


def test_mssql_source_url_gets_a_user_error_not_a_crash(tmp_path: Path) -> None:
    # pyodbc cannot load here (no libodbc), so no engine is made: the error must name the setting

    settings = load_settings(
        a2_source_url="mssql+pyodbc://flytt@a2db/ServiceEngine", data_dir=tmp_path
    )
    with pytest.raises(UserError, match="FLYTT_A2_SOURCE_URL"):
        a2_engine(settings)


def test_table_map_example_and_errors(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "loaders" / "table_map.example.yml"
    mapping = load_table_map(example)
    assert mapping["a2_correspondence"].table == "v_correspondence"
    assert mapping["a2_correspondence"].db_schema == "flytt_export"
    assert mapping["a2_correspondence"].physical_column("created_datetime") == "DateSent"
    assert mapping["a2_correspondence"].physical_column("message_title") == "message_title"
    assert mapping["a2_correspondence_status_event"].lag == 10000
    assert not mapping["a2_party_flags"].enabled
    assert mapping["a2_party"] == TableMapping()
    bad = tmp_path / "bad.yml"
    bad.write_text("a2_nonsense: {}\n")
    with pytest.raises(UserError, match="FLYTT_A2_TABLE_MAP"):
        load_table_map(bad)
    bad.write_text("a2_party:\n  columns: {no_such_column: X}\n")
    with pytest.raises(UserError, match="no_such_column"):
        load_table_map(bad)


def test_dlt_is_the_pinned_version() -> None:
    assert dlt.__version__ == "1.31.0"
