"""Alembic environment for schema `flytt`; the connection comes from `flytt.control.migrate`."""

from alembic import context

from flytt.control.migrate import SCHEMA, VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table_schema=SCHEMA,
    version_table=VERSION_TABLE,
    include_schemas=True,
)
with context.begin_transaction():
    context.run_migrations()
