"""Run the Alembic migrations of the control schema against a warehouse."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from flytt.warehouse import Warehouse

SCHEMA = "flytt"
VERSION_TABLE = "alembic_version"
_SCRIPTS = Path(__file__).with_name("alembic")


def _config(warehouse: Warehouse) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def upgrade(warehouse: Warehouse, revision: str = "head") -> None:
    """Create or upgrade schema `flytt` to `revision` (default: newest). Idempotent.

    Concurrent callers are serialised with a transaction-level advisory lock, so two commands
    starting at once do not both create the schema.
    """
    cfg = _config(warehouse)
    with warehouse.engine.begin() as conn:
        conn.execute(sa.text("select pg_advisory_xact_lock(hashtext('flytt.control.upgrade'))"))
        conn.execute(sa.text(f"create schema if not exists {SCHEMA}"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def head_revision() -> str:
    """The newest revision among the migration scripts shipped with this version of flytt."""
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(warehouse: Warehouse) -> str | None:
    """The control schema's Alembic revision, or None on a warehouse never upgraded."""
    with warehouse.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"version_table_schema": SCHEMA, "version_table": VERSION_TABLE}
        )
        return ctx.get_current_revision()
