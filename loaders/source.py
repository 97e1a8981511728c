"""Where the A2 source is and how to talk to it (issue #3).

* `resolve_a2_url(settings, url)`: the effective SQLAlchemy URL of the A2 source:
  `url` (e.g. `flytt sandbox a2 --url`), else `FLYTT_A2_SOURCE_URL`, else the sandbox SQLite file
  `<data_dir>/a2.sqlite`. Drivers are spelt out (SQLAlchemy 2.1 picks psycopg 3 for a bare
  `postgresql://`; elt-practice §3 P1) and `FLYTT_A2_SOURCE_PASSWORD` is put in.
* `a2_engine(...)`: an engine on that URL. On SQLite it registers `md5(blob)` so the same query
  that computes attachment checksums runs on SQLite, MariaDB, PostgreSQL and SQL Server.
* `blob_md5(col)`, `blob_length(col)`: SQL expressions for the lower-case hex MD5 and the byte
  length of a binary column, compiled per dialect (SQL Server: `HASHBYTES`/`DATALENGTH`).
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from flytt.errors import UserError
from flytt.redact import redact
from flytt.settings import Settings

SANDBOX_FILE = "a2.sqlite"

_DRIVERS = {
    "postgresql": "postgresql+psycopg2",
    "postgres": "postgresql+psycopg2",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "mssql": "mssql+pyodbc",
}


def resolve_a2_url(settings: Settings, url: str | None = None) -> URL:
    """The effective A2 source URL, with driver and password filled in.

    Args:
        settings: flytt settings (`a2_source_url`, `a2_source_password`, `data_dir`).
        url: an explicit URL that wins over the settings (the sandbox `--url` option).

    Returns:
        A SQLAlchemy `URL`; the default is `sqlite:///<data_dir>/a2.sqlite` (absolute path).

    Raises:
        UserError: the URL cannot be parsed; names FLYTT_A2_SOURCE_URL.
    """
    raw = url or settings.a2_source_url
    if not raw:
        path = (settings.data_dir / SANDBOX_FILE).expanduser().resolve()
        return URL.create("sqlite", database=str(path))
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise UserError(
            "FLYTT_A2_SOURCE_URL is not a URL; write it as driver://user@host:port/database, "
            "e.g. mssql+pyodbc://flytt@a2db/ServiceEngine?driver=ODBC+Driver+18+for+SQL+Server."
        ) from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver:
        parsed = parsed.set(drivername=driver)
    if settings.a2_source_password is not None and not url:
        parsed = parsed.set(password=settings.a2_source_password.get_secret_value())
    return parsed


def describe_url(url: URL) -> str:
    """The URL without its password, for messages and logs."""
    return redact(url.render_as_string(hide_password=True))


def _sqlite_md5(data: bytes | None) -> str | None:
    return None if data is None else hashlib.md5(data, usedforsecurity=False).hexdigest()


def _on_sqlite_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.create_function("md5", 1, _sqlite_md5, deterministic=True)
    dbapi_conn.execute("pragma busy_timeout = 30000")


def a2_engine(
    settings: Settings,
    url: str | None = None,
    *,
    check: bool = True,
    pool_size: int = 24,
    create: bool = False,
) -> Engine:
    """An engine on the A2 source (`resolve_a2_url`), checked with one `select 1`.

    `pool_size`: connections kept open; the loader reads all 22 tables at once, one connection
    each (SQLAlchemy's default of 5 would time out). `create`: a SQLite file may be created
    (the sandbox generator); otherwise a missing file is an error, not a new empty source.

    Raises:
        UserError: the source is unreachable, refuses the login, or its driver is missing; the
            message names FLYTT_A2_SOURCE_URL and never the password.
    """
    target = resolve_a2_url(settings, url)
    where = describe_url(target)
    if (
        not create
        and target.get_backend_name() == "sqlite"
        and target.database not in (None, "", ":memory:")
        and not Path(str(target.database)).exists()
    ):
        raise UserError(
            f"The A2 source file {target.database} does not exist; run `flytt sandbox a2` to "
            "make the sandbox one, or fix FLYTT_A2_SOURCE_URL."
        )
    try:
        engine = sa.create_engine(
            target, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size
        )
    except (ImportError, ArgumentError) as exc:
        raise UserError(
            f"Cannot use the A2 source {where}: {redact(str(exc))}; fix FLYTT_A2_SOURCE_URL "
            "(driver://user@host:port/database) or install the driver."
        ) from None
    if target.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _on_sqlite_connect)
    if check:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
        except DBAPIError as exc:
            reason = redact(str(exc.orig).strip().splitlines()[0]) if exc.orig else "unknown"
            engine.dispose()
            raise UserError(
                f"Cannot connect to the A2 source {where}: {reason}. Fix FLYTT_A2_SOURCE_URL "
                "(or FLYTT_A2_SOURCE_PASSWORD)."
            ) from None
    return engine


class blob_md5(FunctionElement[str]):
    """`blob_md5(col)`: lower-case hex MD5 of a binary column, NULL for NULL."""

    type = sa.String(32)
    inherit_cache = True
    name = "blob_md5"


class blob_length(FunctionElement[int]):
    """`blob_length(col)`: length of a binary column in bytes, NULL for NULL."""

    type = sa.Integer()
    inherit_cache = True
    name = "blob_length"


@compiles(blob_md5)
def _md5_default(element: blob_md5, compiler: SQLCompiler, **kw: Any) -> str:
    return f"md5({compiler.process(element.clauses, **kw)})"


@compiles(blob_md5, "mssql")
def _md5_mssql(element: blob_md5, compiler: SQLCompiler, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', {arg}), 2))"


@compiles(blob_length)
def _length_default(element: blob_length, compiler: SQLCompiler, **kw: Any) -> str:
    return f"length({compiler.process(element.clauses, **kw)})"


@compiles(blob_length, "postgresql")
def _length_pg(element: blob_length, compiler: SQLCompiler, **kw: Any) -> str:
    return f"octet_length({compiler.process(element.clauses, **kw)})"


@compiles(blob_length, "mssql")
def _length_mssql(element: blob_length, compiler: SQLCompiler, **kw: Any) -> str:
    return f"DATALENGTH({compiler.process(element.clauses, **kw)})"


class oslo_wall_clock(FunctionElement[Any]):
    """`oslo_wall_clock(col)`: a SQL Server `datetimeoffset` as naive Europe/Oslo wall-clock time,
    the contract's convention for every `datetime2` column (elt-practice §3 P2). Other dialects
    have no such type in A2 and get the column unchanged."""

    type = sa.DateTime()
    inherit_cache = True
    name = "oslo_wall_clock"


@compiles(oslo_wall_clock)
def _oslo_default(element: oslo_wall_clock, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(oslo_wall_clock, "mssql")
def _oslo_mssql(element: oslo_wall_clock, compiler: SQLCompiler, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(({arg} AT TIME ZONE 'Central European Standard Time') AS DATETIME2(7))"
