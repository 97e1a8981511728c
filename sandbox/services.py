"""Start every sandbox replica in-process and point a copy of the settings at them.

`running_replicas(settings)` is what `flytt demo`, `flytt sandbox serve` and the tests use:

* Maskinporten (token endpoint, `sandbox.maskinporten`), with the sandbox client
  `settings.maskinporten_client_id` registered; its private key is generated once into
  `<data_dir>/sandbox/maskinporten-client.pem` (never committed);
* Resource Registry (`sandbox.resource_registry`);
* Dialogporten (`sandbox.dialogporten`, issue #5), told which resources exist by the Resource
  Registry replica;
* the A3 Correspondence migration API (`sandbox.a3`), creating dialogs in that Dialogporten.

Each app is wrapped in `sandbox.faults.FaultMiddleware`; faults are off unless `faults` says
otherwise, and can be changed at run time over HTTP (`PUT <base>/sandbox/fault-plan`) or via
`Replicas.faults`. The A3 and Resource Registry replicas keep their tables in a database of
their own on the warehouse server, `<warehouse database>_sandbox` (created when missing; the
warehouse database itself when the login may not create databases).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from flytt.settings import Settings
from flytt.warehouse import Warehouse, ensure_database, resolve_warehouse
from sandbox.a3.app import create_app as create_a3
from sandbox.a3.register import SandboxRegister
from sandbox.faults import FaultMiddleware, FaultPlan, Faults
from sandbox.maskinporten.app import DEFAULT_SCOPES, MaskinportenReplica
from sandbox.maskinporten.app import create_app as create_maskinporten
from sandbox.maskinporten.keys import write_client_key
from sandbox.maskinporten.tokens import TokenVerifier
from sandbox.resource_registry.app import create_app as create_registry
from sandbox.resource_registry.app import resource_exists
from sandbox.serve import free_port, serve_in_thread

NAMES = ("maskinporten", "resource_registry", "dialogporten", "a3")
A3_PLATFORM_CLIENT = "altinn-correspondence-sandbox"
DIALOGPORTEN_SCOPES = [
    "digdir:dialogporten.serviceprovider",
    "digdir:dialogporten.serviceprovider.admin",
    "digdir:dialogporten.correspondence",
]


@dataclass
class Replicas:
    """The running replicas.

    Attributes:
        settings: a copy of the input settings whose URLs, client id and key file point at
            the replicas.
        urls: base URL per replica name (`NAMES`).
        faults: the fault control of each replica's middleware.
        apps: the FastAPI apps (`apps["a3"].state.engine` is the A3 replica's engine).
        sandbox_database_url: SQLAlchemy URL of the replicas' database (for
            `sandbox.a3.inspect`).
        maskinporten: the Maskinporten replica's state (register more clients, mint tokens).
    """

    settings: Settings
    urls: dict[str, str] = field(default_factory=dict)
    faults: dict[str, Faults] = field(default_factory=dict)
    apps: dict[str, FastAPI] = field(default_factory=dict)
    sandbox_database_url: sa.URL | None = None
    maskinporten: MaskinportenReplica | None = None


def sandbox_database(warehouse: Warehouse) -> Warehouse:
    """The replicas' own database `<warehouse database>_sandbox` on the warehouse server.

    Falls back to the warehouse database itself (separate schemas) when the login may not
    create databases.
    """
    name = f"{warehouse.database}_sandbox"[:63]
    try:
        ensure_database(warehouse, name)
    except DBAPIError:
        return warehouse
    return Warehouse(
        warehouse.host,
        warehouse.port,
        warehouse.user,
        warehouse.password,
        name,
        warehouse.embedded,
    )


class _TokenCache:
    """Tokens the A3 replica uses towards Dialogporten, minted by the Maskinporten replica."""

    def __init__(self, replica: MaskinportenReplica, issuer: str) -> None:
        self.replica, self.issuer = replica, issuer
        self._token, self._until = "", 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if time.monotonic() >= self._until:
                body = self.replica.issue_token(
                    A3_PLATFORM_CLIENT, DIALOGPORTEN_SCOPES, self.issuer
                )
                self._token = str(body["access_token"])
                self._until = time.monotonic() + int(body["expires_in"]) - 30
            return self._token


class _RegistryView:
    """`resource_id in view` asks the Resource Registry replica (for Dialogporten's check)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def __contains__(self, resource_id: object) -> bool:
        rid = str(resource_id).removeprefix("urn:altinn:resource:")
        return resource_exists(self.engine, rid)


def _dialogporten(verifier: TokenVerifier, registry_engine: sa.Engine) -> FastAPI | None:
    try:
        from sandbox.dialogporten.app import DialogportenReplica
    except ImportError:
        return None
    replica = DialogportenReplica(
        verifier=verifier,
        known_resources=cast(Any, _RegistryView(registry_engine)),
    )
    return replica.app()


@contextmanager
def start_replicas(
    settings: Settings,
    *,
    faults: dict[str, FaultPlan] | None = None,
    fixed_ports: bool = False,
    host: str = "127.0.0.1",
) -> Iterator[Replicas]:
    """Serve all replicas until the block exits; yield `Replicas`.

    Args:
        settings: the flytt settings (warehouse, data_dir, client id, configured URLs).
        faults: an initial fault plan per replica name (`NAMES`); default none.
        fixed_ports: serve on the ports of the configured URLs (`flytt sandbox serve`)
            instead of free ones.
        host: interface to listen on.

    Raises:
        UserError: the warehouse cannot be reached.
        RuntimeError: a replica did not start (e.g. its port is taken).
    """
    warehouse = resolve_warehouse(settings)
    database = sandbox_database(warehouse)
    db_url = database.sqlalchemy_url()
    key_file = settings.maskinporten_key_file or (
        settings.data_dir / "sandbox" / "maskinporten-client.pem"
    )
    public_key = write_client_key(key_file)

    configured = {
        "a3": settings.a3_base_url,
        "dialogporten": settings.dialogporten_base_url,
        "resource_registry": settings.resource_registry_base_url,
        "maskinporten": settings.maskinporten_token_url.rsplit("/", 1)[0],
    }
    ports = {
        name: (urlsplit(configured[name]).port or 80) if fixed_ports else free_port(host)
        for name in NAMES
    }
    urls = {name: f"http://{host}:{ports[name]}" for name in NAMES}

    issuer = f"{urls['maskinporten']}/"
    mp = MaskinportenReplica(issuer=issuer)
    mp.register_client(settings.maskinporten_client_id, public_key, DEFAULT_SCOPES)
    verifier = TokenVerifier(mp.public_key_pem, issuer)
    apps: dict[str, FastAPI | None] = {"maskinporten": create_maskinporten(mp)}
    registry = create_registry(db_url, verifier)
    apps["resource_registry"] = registry
    apps["dialogporten"] = _dialogporten(verifier, registry.state.engine)
    dialogporten_url = urls["dialogporten"] if apps["dialogporten"] is not None else None
    apps["a3"] = create_a3(
        db_url,
        verifier,
        dialogporten_base_url=dialogporten_url,
        dialogporten_token=_TokenCache(mp, issuer),
        register=SandboxRegister(A2PartyLookup(settings)),
    )

    out = Replicas(settings=settings, sandbox_database_url=db_url, maskinporten=mp)
    with ExitStack() as stack:
        for name in NAMES:
            app = apps[name]
            if app is None:
                continue
            control = Faults((faults or {}).get(name))
            out.faults[name] = control
            out.apps[name] = app
            out.urls[name] = stack.enter_context(
                serve_in_thread(FaultMiddleware(app, control), host=host, port=ports[name])
            )
        update: dict[str, Any] = {
            "a3_base_url": out.urls["a3"],
            "resource_registry_base_url": out.urls["resource_registry"],
            "maskinporten_token_url": f"{out.urls['maskinporten']}/token",
            "maskinporten_key_file": key_file,
            "maskinporten_key": None,
        }
        if "dialogporten" in out.urls:
            update["dialogporten_base_url"] = out.urls["dialogporten"]
        out.settings = settings.model_copy(update=update)
        yield out


@contextmanager
def running_replicas(settings: Settings, **options: Any) -> Iterator[Settings]:
    """Start all replicas in-process on free localhost ports; yield settings pointing at them.

    The yielded copy of `settings` has `a3_base_url`, `dialogporten_base_url` (when the
    Dialogporten replica exists), `resource_registry_base_url`, `maskinporten_token_url` and
    `maskinporten_key_file` set; `maskinporten_client_id` is registered with the replica.
    `options` go to `start_replicas` (e.g. `faults={"a3": FaultPlan(rate_503=0.1)}`).
    """
    with start_replicas(settings, **options) as replicas:
        yield replicas.settings


def serve_until_interrupted(settings: Settings) -> None:
    """`flytt sandbox serve`: serve every replica on the configured ports until Ctrl-C.

    Prints each base URL, the client id and key file that flytt should use, and where the
    fault plans are controlled.

    Raises:
        UserError: the warehouse cannot be reached, or a port is taken.
    """
    from flytt.console import out
    from flytt.errors import UserError

    try:
        with start_replicas(settings, fixed_ports=True) as replicas:
            for name, url in replicas.urls.items():
                out.print(f"{name:18} {url}")
            out.print(f"{'client id':18} {replicas.settings.maskinporten_client_id}")
            out.print(f"{'client key file':18} {replicas.settings.maskinporten_key_file}")
            out.print("Faults: PUT <url>/sandbox/fault-plan with a JSON plan. Ctrl-C stops.")
            out.print(
                "To run the steps by hand against these replicas, in another terminal:\n"
                f"  export FLYTT_MASKINPORTEN_KEY_FILE={replicas.settings.maskinporten_key_file}\n"
                "  flytt migrate\n"
                "  FLYTT_READY_SERVICES='[\"*\"]' flytt expose",
                soft_wrap=True,
                markup=False,
            )
            stop = threading.Event()
            try:
                while not stop.wait(1.0):
                    pass
            except KeyboardInterrupt:
                out.print("Stopped the sandbox replicas.")
    except RuntimeError as exc:
        raise UserError(
            f"A sandbox replica could not start ({exc}); free its port or change "
            "the FLYTT_*_BASE_URL settings."
        ) from None


class A2PartyLookup:
    """Register stand-in for the A3 replica: party UUID → URN from the A2 source's `a2_party`.

    Reads lazily (the sandbox A2 database may be generated after the replicas start) and
    answers None when the source or the party is not there. Persons become
    `urn:altinn:person:identifier-no:<ssn>`, organisations
    `urn:altinn:organization:identifier-no:<orgno>`, self-identified users
    `urn:altinn:person:legacy-selfidentified:<username>` (a3-correspondence.md §1.5.1, §4.6).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: sa.Engine | None = None

    def __call__(self, party_uuid: Any) -> str | None:
        try:
            if self._engine is None:
                from loaders.source import resolve_a2_url

                self._engine = sa.create_engine(resolve_a2_url(self.settings))
            forms = [str(party_uuid), str(party_uuid).upper(), party_uuid.hex]
            with self._engine.connect() as conn:
                row = conn.execute(
                    sa.text(
                        "select ssn, org_number, username from a2_party "
                        "where party_uuid in (:a, :b, :c)"
                    ),
                    dict(zip("abc", forms, strict=True)),
                ).first()
        except Exception:  # no source yet, no table: Register "does not know" the party
            return None
        if row is None:
            return None
        ssn, org, username = (str(v).strip() if v is not None else "" for v in row)
        if ssn:
            return f"urn:altinn:person:identifier-no:{ssn}"
        if org:
            return f"urn:altinn:organization:identifier-no:{org}"
        if username:
            return f"urn:altinn:person:legacy-selfidentified:{username}"
        return None
