"""Fixtures for the sandbox replica tests: Maskinporten and the A3 migration API, served on
free localhost ports in this process, the A3 replica writing into the module's warehouse
database (its tables live in schema `correspondence`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from flytt.warehouse import Warehouse
from sandbox.a3.app import create_app
from sandbox.maskinporten.app import MaskinportenReplica
from sandbox.maskinporten.app import create_app as create_maskinporten
from sandbox.maskinporten.tokens import TokenVerifier
from sandbox.serve import serve_in_thread


@dataclass
class Maskinporten:
    """A running Maskinporten replica: its state and base URL."""

    replica: MaskinportenReplica
    url: str

    @property
    def issuer(self) -> str:
        return f"{self.url}/"

    def token(self, *scopes: str) -> str:
        """An access token for the sandbox client with `scopes` (minted directly)."""
        body = self.replica.issue_token("test-client", list(scopes), self.issuer)
        return str(body["access_token"])


@pytest.fixture(scope="module")
def maskinporten() -> Iterator[Maskinporten]:
    """A Maskinporten replica on a free port."""
    replica = MaskinportenReplica()
    with serve_in_thread(create_maskinporten(replica)) as url:
        replica.issuer = f"{url}/"
        yield Maskinporten(replica, url)


@dataclass
class A3:
    """A running A3 replica: base URL, its app (state: engine, handler, register) and a client."""

    url: str
    app: object
    client: httpx.Client

    @property
    def engine(self) -> Any:
        """The replica's SQLAlchemy engine."""
        return self.app.state.engine  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def a3_factory(warehouse: Warehouse, maskinporten: Maskinporten) -> Iterator[Callable[..., A3]]:
    """Start A3 replicas (keyword arguments go to `create_app`) writing into `warehouse`."""
    stack = []

    def start(**kwargs: object) -> A3:
        app = create_app(
            warehouse.sqlalchemy_url(),
            TokenVerifier(maskinporten.replica.public_key_pem, maskinporten.issuer),
            **kwargs,  # type: ignore[arg-type]
        )
        ctx = serve_in_thread(app)
        url = ctx.__enter__()
        token = maskinporten.token("altinn:correspondence.migrate")
        client = httpx.Client(
            base_url=f"{url}/correspondence/api/v1/migration",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        stack.append((ctx, client))
        return A3(url, app, client)

    yield start
    for ctx, client in reversed(stack):
        client.close()
        ctx.__exit__(None, None, None)


@pytest.fixture(scope="module")
def a3(a3_factory: Callable[..., A3]) -> A3:
    """One A3 replica for the module (no Dialogporten behind it)."""
    return a3_factory()
