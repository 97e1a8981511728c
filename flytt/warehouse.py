"""The warehouse: one PostgreSQL that holds `a2_raw`, the dbt schemas, `a3` and `flytt`.

With `FLYTT_WAREHOUSE_DSN` unset, an embedded PostgreSQL 16 from the `pgserver` wheel is started
in `<data_dir>/pg` and left running, so the next command reuses it (pgserver guards start-up with
an inter-process lock and ignores a stale `postmaster.pid`). pgserver listens on a Unix socket
only, and each client spells that socket differently (shared notes: elt-practice §3 P1/P9, §6.1):

* SQLAlchemy 2.1: `postgresql+psycopg2://user@/db?host=/socket/dir` (driver spelt explicitly),
* dlt's postgres destination: `postgresql://user:@%2Fsocket%2Fdir/db` (percent-encoded host,
  password field present even if empty),
* dbt-postgres and libpq (`psql`): `PGHOST=/socket/dir`.

`Warehouse` renders all three from one parsed connection.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from flytt.console import err
from flytt.errors import UserError
from flytt.redact import redact
from flytt.settings import Settings

EMBEDDED_DATABASE = "flytt"
_PG_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg2"}


def _application_name() -> str:
    """`flytt@<host>:<pid>` (at most 63 bytes, PostgreSQL's limit): who holds a lock or a
    connection in `pg_stat_activity`."""
    return f"flytt@{socket.gethostname()}:{os.getpid()}"[:63]


@dataclass(frozen=True)
class Warehouse:
    """Connection facts of the warehouse, rendered for every client that needs them.

    Attributes:
        host: a host name, or an absolute Unix socket directory (starts with `/`).
        port: TCP port, or the socket's port suffix (5432 for pgserver).
        user, password, database: as for libpq; `password` may be empty.
        embedded: True when the server is the pgserver one in `<data_dir>/pg`.
    """

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    embedded: bool = False

    @property
    def is_socket(self) -> bool:
        """True when `host` is a Unix socket directory."""
        return self.host.startswith("/")

    def sqlalchemy_url(self, database: str | None = None) -> URL:
        """SQLAlchemy URL with the psycopg2 driver spelt out (2.1 would default to psycopg 3)."""
        query = {"host": self.host} if self.is_socket else {}
        return URL.create(
            "postgresql+psycopg2",
            username=self.user,
            password=self.password or None,
            host=None if self.is_socket else self.host,
            port=None if self.is_socket else self.port,
            database=database or self.database,
            query=query,
        )

    def dlt_credentials(self) -> str:
        """Connection string for dlt's postgres destination (percent-encoded socket host)."""
        host = quote(self.host, safe="") if self.is_socket else self.host
        port = "" if self.is_socket else f":{self.port}"
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{host}{port}/{quote(self.database, safe='')}"
        )

    def libpq_env(self) -> dict[str, str]:
        """`PG*` environment variables read by dbt's `profiles.yml`, psql and libpq."""
        env = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.database,
        }
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def describe(self) -> str:
        """Human-readable location without the password, e.g. `embedded .flytt/pg (flytt)`."""
        where = f"socket {self.host}" if self.is_socket else f"{self.host}:{self.port}"
        kind = "embedded PostgreSQL, " if self.embedded else ""
        return f"{kind}{where}, database {self.database}"

    @cached_property
    def engine(self) -> Engine:
        """A pooled SQLAlchemy engine (5 s connect timeout), created on first use."""
        return sa.create_engine(
            self.sqlalchemy_url(),
            pool_pre_ping=True,
            connect_args={"connect_timeout": 5, "application_name": _application_name()},
        )

    def check(self) -> None:
        """Open one connection and run `select 1`.

        Raises:
            UserError: the server cannot be reached or refuses the login; the message names
                `FLYTT_WAREHOUSE_DSN` (or the embedded data folder) and never the password.
        """
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("select 1"))
        except OperationalError as exc:
            reason = redact(str(exc.orig).strip().splitlines()[0]) if exc.orig else "unknown"
            if self.embedded:
                raise UserError(
                    f"The embedded warehouse ({self.describe()}) does not answer: {reason}. "
                    "Stop other flytt commands, or move the data folder (FLYTT_DATA_DIR) aside."
                ) from None
            raise UserError(
                f"Cannot connect to the warehouse at {self.describe()}: {reason}. "
                "Fix FLYTT_WAREHOUSE_DSN (or FLYTT_WAREHOUSE_PASSWORD), or unset it to use "
                "the embedded warehouse."
            ) from None


def parse_dsn(dsn: str, password: str | None = None) -> Warehouse:
    """Parse a PostgreSQL DSN (`postgresql://`, `postgres://` or `postgresql+psycopg2://`).

    A `?host=/dir` query parameter selects a Unix socket. `password`, when given, wins over
    one inside the DSN.

    Raises:
        UserError: not a PostgreSQL URL; names `FLYTT_WAREHOUSE_DSN`.
    """
    try:
        url = make_url(dsn)
    except ArgumentError:
        raise UserError(
            "FLYTT_WAREHOUSE_DSN is not a URL; write it as postgresql://user@host:5432/database."
        ) from None
    if url.drivername not in _PG_SCHEMES:
        raise UserError(
            f"FLYTT_WAREHOUSE_DSN uses '{url.drivername}://', but the warehouse must be "
            "PostgreSQL; write it as postgresql://user@host:5432/database."
        )
    socket_dir = url.query.get("host")
    host = socket_dir if isinstance(socket_dir, str) else (url.host or "localhost")
    if not url.database:
        raise UserError(
            "FLYTT_WAREHOUSE_DSN names no database; add one, e.g. postgresql://user@host/flytt."
        )
    return Warehouse(
        host=host,
        port=url.port or 5432,
        user=url.username or os.environ.get("USER", "postgres"),
        password=password if password is not None else (url.password or ""),
        database=url.database,
        embedded=False,
    )


def start_embedded(pgdata: Path, database: str = EMBEDDED_DATABASE) -> Warehouse:
    """Start (or reuse) the pgserver PostgreSQL in `pgdata` and make sure `database` exists.

    Works as root (pgserver then runs the server as the system user `pgserver`) and as a normal
    user. The server keeps running after this process exits, so later commands reuse it.

    Raises:
        UserError: the server could not start; the message points at its log file.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root, CI); its /tmp fallback is fine.
        warnings.simplefilter("ignore")
        import pgserver  # imported late: it is only needed for the embedded default

    pgdata = pgdata.expanduser().resolve()
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"Cannot use {pgdata.parent} as the data folder ({exc.strerror}); "
            "set FLYTT_DATA_DIR to a folder you can write."
        ) from None
    if not (pgdata / "PG_VERSION").exists():
        err.print(
            f"Creating a new embedded warehouse in {pgdata} (FLYTT_DATA_DIR selects another).",
            soft_wrap=True,
        )
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    def attempt() -> Warehouse:
        try:
            server = pgserver.get_server(pgdata, cleanup_mode=None)
        except Exception as exc:  # pgserver raises CalledProcessError, AssertionError, OSError
            raise UserError(
                f"The embedded warehouse in {pgdata} did not start ({type(exc).__name__}); "
                f"see {pgdata / 'log'}, or set FLYTT_WAREHOUSE_DSN to use another PostgreSQL."
            ) from None
        url = make_url(server.get_uri())
        socket_dir = str(url.query["host"])
        admin = Warehouse(socket_dir, 5432, url.username or "postgres", "", "postgres", True)
        try:
            ensure_database(admin, database)
        except OperationalError:
            # A server killed a moment ago can still look alive in its pid file; forget this
            # process's handle so the next attempt reads the pid file again and restarts it.
            pgserver.PostgresServer._instances.pop(pgdata, None)
            raise
        return Warehouse(socket_dir, 5432, admin.user, "", database, embedded=True)

    try:
        for tried in Retrying(
            stop=stop_after_attempt(5),
            wait=wait_exponential(multiplier=0.5, max=4),
            retry=retry_if_exception_type(OperationalError),
            reraise=True,
        ):
            with tried:
                return attempt()
    except OperationalError:
        pass
    raise UserError(
        f"The embedded warehouse in {pgdata} does not accept connections; see "
        f"{pgdata / 'log'}, or move the folder aside to start afresh (FLYTT_DATA_DIR)."
    )


def ensure_database(admin: Warehouse, database: str) -> None:
    """Create `database` on the server of `admin` unless it exists (idempotent)."""
    engine = sa.create_engine(admin.sqlalchemy_url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                sa.text("select 1 from pg_database where datname = :d"), {"d": database}
            ).scalar()
            if not exists:
                conn.execute(sa.text(f'create database "{database}"'))
    finally:
        engine.dispose()


def resolve_warehouse(settings: Settings, *, check: bool = True) -> Warehouse:
    """Return the configured warehouse, starting the embedded one when no DSN is set.

    Args:
        settings: the flytt settings.
        check: open one connection before returning (turns bad DSNs into `UserError`).

    Raises:
        UserError: bad DSN, unreachable server, or the embedded server did not start.
    """
    if settings.warehouse_dsn:
        password = (
            settings.warehouse_password.get_secret_value() if settings.warehouse_password else None
        )
        warehouse = parse_dsn(settings.warehouse_dsn, password)
    else:
        warehouse = start_embedded(settings.data_dir / "pg")
    if check:
        warehouse.check()
    return warehouse
