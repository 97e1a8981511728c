"""Start every sandbox replica in-process and point a copy of the settings at them.

`running_replicas(settings)` is what `flytt demo`, `flytt sandbox serve` and the tests use:

* Maskinporten (token endpoint, `sandbox.maskinporten`), with the sandbox client
  `settings.maskinporten_client_id` registered; its private key is generated once into
  `<data_dir>/sandbox/maskinporten-client.pem` (never committed);
* Resource Registry (`sandbox.resource_registry`);
* Dialogporten (`sandbox.dialogporten`, issue #5), told which resources exist by the Resource
  Registry replica;
* the A3 Correspondence API (`sandbox.a3`): the migration API, creating dialogs in that
  Dialogporten, and the recipients' endpoints, which send their reads, confirmations and
  purges of migrated correspondences to an SBL-bridge URL (`storage_url`: the flytt daemon);
* the A2 SBL bridge (`sandbox.a2.bridge`) on the sandbox A2 database, which the daemon's
  `bridge` job calls (`LazyA2Bridge`: the database may be generated after the start).

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
from uuid import UUID

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

NAMES = ("maskinporten", "resource_registry", "dialogporten", "a3", "a2_bridge")
A3_PLATFORM_CLIENT = "altinn-correspondence-sandbox"
SBL_BRIDGE_SCOPES = ["altinn:correspondence.sblbridge"]
"""What A3 asked Maskinporten for to call Storage's SBL bridge."""
STORAGE_RETRY_SCALE = 0.05
"""The sandbox A3's Hangfire retry delays of its SBL-bridge calls, as a share of the real ones
(15 s and more), so a demo sees a failed call retried within seconds."""
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
    """Tokens the A3 replica uses towards Dialogporten (or, with `scopes`, towards Storage's
    SBL bridge), minted by the Maskinporten replica."""

    def __init__(
        self, replica: MaskinportenReplica, issuer: str, scopes: list[str] | None = None
    ) -> None:
        self.replica, self.issuer = replica, issuer
        self.scopes = scopes or DIALOGPORTEN_SCOPES
        self._token, self._until = "", 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if time.monotonic() >= self._until:
                body = self.replica.issue_token(A3_PLATFORM_CLIENT, self.scopes, self.issuer)
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
    storage_url: str | None = None,
) -> Iterator[Replicas]:
    """Serve all replicas until the block exits; yield `Replicas`.

    Args:
        settings: the flytt settings (warehouse, data_dir, client id, configured URLs).
        faults: an initial fault plan per replica name (`NAMES`); default none.
        fixed_ports: serve on the ports of the configured URLs (`flytt sandbox serve`)
            instead of free ones.
        host: interface to listen on.
        storage_url: where the A3 replica sends its SBL-bridge calls (the base of
            `/storage/api/v1/sblbridge/synccorrespondenceevent`: a flytt daemon, e.g.
            `http://127.0.0.1:9480`); None: no calls (A3's `DisableCallsToAltinn2`).

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
        "maskinporten": settings.maskinporten_base(),
        "a2_bridge": settings.a2_bridge_base_url,
    }
    ports = {
        name: (urlsplit(configured[name]).port or 80) if fixed_ports else free_port(host)
        for name in NAMES
    }
    urls = {name: f"http://{host}:{ports[name]}" for name in NAMES}

    issuer = f"{urls['maskinporten']}/"
    mp = MaskinportenReplica(issuer=issuer)
    # the flytt client may also take the SBL-bridge scope, so that an operator can call the
    # daemon's SBL-bridge endpoint by hand as A3 would (README, "Status sync")
    mp.register_client(
        settings.maskinporten_client_id, public_key, DEFAULT_SCOPES | set(SBL_BRIDGE_SCOPES)
    )
    verifier = TokenVerifier(mp.public_key_pem, issuer)
    apps: dict[str, FastAPI | None] = {"maskinporten": create_maskinporten(mp)}
    registry = create_registry(db_url, verifier)
    apps["resource_registry"] = registry
    apps["dialogporten"] = _dialogporten(verifier, registry.state.engine)
    dialogporten_url = urls["dialogporten"] if apps["dialogporten"] is not None else None
    parties = A2PartyLookup(settings)
    apps["a3"] = create_a3(
        db_url,
        verifier,
        dialogporten_base_url=dialogporten_url,
        dialogporten_token=_TokenCache(mp, issuer),
        register=SandboxRegister(parties),
        party_id_of=parties.party_id,
        party_uuid_of=parties.party_uuid,
        storage_base_url=storage_url,
        storage_token=_TokenCache(mp, issuer, SBL_BRIDGE_SCOPES),
        storage_retry_scale=STORAGE_RETRY_SCALE,
    )
    apps["a2_bridge"] = cast(FastAPI, LazyA2Bridge(settings))

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
            "a2_bridge_base_url": f"{out.urls['a2_bridge']}/serviceengine/api/",
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
        # A3's SBL-bridge calls go to where `flytt daemon` listens with these settings
        storage = f"http://{settings.daemon_host}:{settings.daemon_port}"
        with start_replicas(settings, fixed_ports=True, storage_url=storage) as replicas:
            for name, url in replicas.urls.items():
                out.print(f"{name:18} {url}")
            out.print(f"{'client id':18} {replicas.settings.maskinporten_client_id}")
            out.print(f"{'client key file':18} {replicas.settings.maskinporten_key_file}")
            out.print(f"{'A3 → SBL bridge':18} {storage} (run `flytt daemon` to receive)")
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


class LazyA2Bridge:
    """ASGI app: the A2 SBL-bridge replica (`sandbox.a2.bridge`) on the sandbox A2 database of
    `settings`, created at its first call, since the database may be generated after the
    replicas start. Until a generated database is there, every call is answered 503 with one
    line saying to run `flytt sandbox a2` (the daemon's `bridge` job keeps its events pending
    and tries again)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: FastAPI | None = None
        self._lock = threading.Lock()

    def _bridge(self) -> FastAPI | None:
        with self._lock:
            if self.app is None:
                from loaders.source import resolve_a2_url
                from sandbox.a2.bridge import create_app as create_a2_bridge

                try:
                    self.app = create_a2_bridge(resolve_a2_url(self.settings))
                except ValueError:
                    return None
            return self.app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.app is not None:
                        self.app.state.engine.dispose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        from fastapi.concurrency import run_in_threadpool
        from fastapi.responses import PlainTextResponse

        app = await run_in_threadpool(self._bridge)
        if app is None:
            answer = PlainTextResponse(
                "No generated sandbox A2 database yet; run `flytt sandbox a2`.", status_code=503
            )
            await answer(scope, receive, send)
            return
        await app(scope, receive, send)


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

    def _first(self, sql: str, params: dict[str, Any]) -> sa.Row[Any] | None:
        """The first row of `sql` on the A2 source (its engine made at the first call), or
        None when there is none, no source yet or no such table: Register "does not know" the
        party."""
        try:
            if self._engine is None:
                from loaders.source import resolve_a2_url

                self._engine = sa.create_engine(resolve_a2_url(self.settings))
            with self._engine.connect() as conn:
                return conn.execute(sa.text(sql), params).first()
        except Exception:
            return None

    def __call__(self, party_uuid: Any) -> str | None:
        forms = [str(party_uuid), str(party_uuid).upper(), party_uuid.hex]
        row = self._first(
            "select ssn, org_number, username from a2_party where party_uuid in (:a, :b, :c)",
            dict(zip("abc", forms, strict=True)),
        )
        if row is None:
            return None
        for (prefix, _), value in zip(_URN_COLUMNS.items(), row, strict=True):
            if value is not None and str(value).strip():
                return f"{prefix}{str(value).strip()}"
        return None

    def party_uuid(self, urn: str) -> UUID | None:
        """The party UUID (`a2_party.party_uuid`) of a recipient URN, as `party_id` finds the
        party; None when it is not there."""
        found = self._find(urn, "party_uuid")
        return None if found is None else UUID(str(found))

    def party_id(self, urn: str) -> int | None:
        """The A2 party id of a recipient URN (`urn:altinn:person:identifier-no:<ssn>`,
        `urn:altinn:organization:identifier-no:<orgno>`,
        `urn:altinn:person:legacy-selfidentified:<username>`), or None when the A2 source or
        the party is not there (as Register answers for a party it does not know)."""
        found = self._find(urn, "party_id")
        return None if found is None else int(found)

    def _find(self, urn: str, column: str) -> Any:
        """`column` of the party with the lowest id that `urn` names, or None."""
        prefix = next((p for p in _URN_COLUMNS if urn.lower().startswith(p)), None)
        if prefix is None:
            return None
        row = self._first(
            f"select {column} from a2_party where {_URN_COLUMNS[prefix]} = :value "
            "order by party_id limit 1",
            {"value": urn[len(prefix) :]},
        )
        return None if row is None else row[0]


_URN_COLUMNS = {
    "urn:altinn:person:identifier-no:": "ssn",
    "urn:altinn:organization:identifier-no:": "org_number",
    "urn:altinn:person:legacy-selfidentified:": "username",
}
"""A party URN's prefix → the `a2_party` column after it, in the order a URN is chosen for a
party (person number, then organisation number, then user name)."""
