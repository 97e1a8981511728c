from pathlib import Path

import pytest
import sqlalchemy as sa

from flytt.control import current_revision, head_revision, upgrade
from flytt.errors import UserError
from flytt.warehouse import Warehouse, parse_dsn

from .cli import run_flytt


def test_parse_dsn_socket_and_tcp() -> None:
    w = parse_dsn("postgresql://u:p@/flytt?host=/tmp/sock")
    assert (w.host, w.database, w.is_socket) == ("/tmp/sock", "flytt", True)
    assert w.dlt_credentials() == "postgresql://u:p@%2Ftmp%2Fsock/flytt"
    assert w.sqlalchemy_url().render_as_string(hide_password=False) == (
        "postgresql+psycopg2://u:p@/flytt?host=%2Ftmp%2Fsock"
    )
    t = parse_dsn("postgres://u@db.example:6543/wh", password="x")
    assert (t.host, t.port, t.password) == ("db.example", 6543, "x")
    assert t.libpq_env()["PGPORT"] == "6543"


def test_parse_dsn_rejects_other_databases() -> None:
    with pytest.raises(UserError, match="FLYTT_WAREHOUSE_DSN"):
        parse_dsn("mysql://u@h/db")
    with pytest.raises(UserError, match="names no database"):
        parse_dsn("postgresql://u@h")


def test_all_three_client_spellings_reach_the_same_server(warehouse: Warehouse) -> None:
    import psycopg2

    with warehouse.engine.connect() as conn:
        via_sqlalchemy = conn.execute(sa.text("select current_database()")).scalar()
    env = warehouse.libpq_env()
    libpq = psycopg2.connect(host=env["PGHOST"], dbname=env["PGDATABASE"], user=env["PGUSER"])
    dlt_form = psycopg2.connect(warehouse.dlt_credentials())
    found = []
    for connection in (libpq, dlt_form):
        with connection, connection.cursor() as cur:
            cur.execute("select current_database()")
            found.append(cur.fetchone()[0])
        connection.close()
    via_libpq, via_dlt_form = found
    assert via_sqlalchemy == via_libpq == via_dlt_form == warehouse.database


def test_control_schema_migrations_are_idempotent(warehouse: Warehouse) -> None:
    upgrade(warehouse)
    upgrade(warehouse)
    assert current_revision(warehouse) == head_revision()
    with warehouse.engine.connect() as conn:
        tables = set(
            conn.execute(
                sa.text(
                    "select table_name from information_schema.tables where table_schema='flytt'"
                )
            ).scalars()
        )
    assert {"element_state", "run", "quarantine", "service_state", "alembic_version"} <= tables


def test_element_state_rejects_unknown_state(warehouse: Warehouse) -> None:
    upgrade(warehouse)
    with pytest.raises(sa.exc.IntegrityError), warehouse.engine.begin() as conn:
        conn.execute(
            sa.text("insert into flytt.element_state (a2_correspondence_id, state) values (1, 'x')")
        )


def test_wrong_dsn_gives_one_line_naming_the_setting(tmp_path: Path) -> None:
    res = run_flytt(
        "status",
        env={
            "FLYTT_WAREHOUSE_DSN": "postgresql://nobody@127.0.0.1:1/nowhere",
            "FLYTT_DATA_DIR": str(tmp_path),
            "FLYTT_CONFIG": str(tmp_path / "none.toml"),
        },
    )
    assert res.returncode == 1
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert "FLYTT_WAREHOUSE_DSN" in lines[0]
    assert "Traceback" not in res.stderr
