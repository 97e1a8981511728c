"""Shared fixtures: a real PostgreSQL (embedded pgserver), a fresh database per test module,
settings pointing at it, and in-process sandbox services.

Set `FLYTT_TEST_DSN` (an admin DSN of another PostgreSQL, e.g. postgresql://postgres@localhost/postgres)
to run the suite against that server instead of the embedded one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flytt.settings import Settings, load_settings
from flytt.warehouse import Warehouse, ensure_database, parse_dsn, start_embedded


@pytest.fixture(scope="session")
def pg_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """An admin connection to the test server (embedded pgserver in a temp folder)."""
    dsn = os.environ.get("FLYTT_TEST_DSN")
    if dsn:
        yield parse_dsn(dsn)
        return
    import pgserver

    # Outside pytest's numbered temp folders, whose clean-up by a concurrent pytest session
    # must never remove the data folder of a running server.
    pgdata = Path(tempfile.mkdtemp(prefix="flytt-test-pg-")) / "data"
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    admin = start_embedded(pgdata, database="postgres")
    yield admin
    admin.engine.dispose()
    server.cleanup()
    shutil.rmtree(pgdata.parent, ignore_errors=True)


def _fresh_database(admin: Warehouse, label: str) -> Warehouse:
    name = f"t_{label}_{uuid.uuid4().hex[:8]}".lower()[:60]
    ensure_database(admin, name)
    return Warehouse(admin.host, admin.port, admin.user, admin.password, name, admin.embedded)


def _drop_database(admin: Warehouse, db: Warehouse) -> None:
    db.engine.dispose()
    engine = sa.create_engine(admin.sqlalchemy_url("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        # and the replicas' database beside it (`sandbox.services.sandbox_database`)
        for name in (db.database, f"{db.database}_sandbox"[:63]):
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    engine.dispose()


@pytest.fixture(scope="module")
def warehouse(pg_admin: Warehouse, request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """A fresh, empty warehouse database for this test module (dropped afterwards)."""
    label = Path(str(request.module.__file__)).stem.removeprefix("test_")
    db = _fresh_database(pg_admin, label)
    yield db
    _drop_database(pg_admin, db)


@pytest.fixture()
def fresh_warehouse(pg_admin: Warehouse, request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """A fresh, empty warehouse database for one test."""
    db = _fresh_database(pg_admin, request.node.name[:20])
    yield db
    _drop_database(pg_admin, db)


def settings_for(warehouse: Warehouse, data_dir: Path, **overrides: object) -> Settings:
    """Settings that point at `warehouse` and keep local state in `data_dir`."""
    url = warehouse.sqlalchemy_url().render_as_string(hide_password=False)
    return load_settings(warehouse_dsn=url, data_dir=data_dir, **overrides)


def cli_env(warehouse: Warehouse, data_dir: Path) -> dict[str, str]:
    """Environment for running the `flytt` command line against `warehouse`."""
    return {
        "FLYTT_WAREHOUSE_DSN": warehouse.sqlalchemy_url().render_as_string(hide_password=False),
        "FLYTT_DATA_DIR": str(data_dir),
        "FLYTT_CONFIG": str(data_dir / "absent.toml"),
        "NO_COLOR": "1",
        "COLUMNS": "120",
    }


@pytest.fixture(scope="module")
def module_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A per-module folder for local state (sandbox files, dlt working dir)."""
    return tmp_path_factory.mktemp("flytt")


@pytest.fixture(scope="module")
def settings(warehouse: Warehouse, module_data_dir: Path) -> Settings:
    """Settings for the module's warehouse, with local state in a temp folder."""
    return settings_for(warehouse, module_data_dir)
