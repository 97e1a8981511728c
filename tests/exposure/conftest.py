"""Fixtures for step 5: Maskinporten and Dialogporten replicas on free localhost ports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from sandbox.dialogporten.app import DialogportenReplica
from sandbox.faults import FaultMiddleware, Faults
from sandbox.maskinporten.app import MaskinportenReplica
from sandbox.maskinporten.app import create_app as create_maskinporten
from sandbox.maskinporten.tokens import TokenVerifier
from sandbox.serve import serve_in_thread

SERVICEPROVIDER = "digdir:dialogporten.serviceprovider"
CORRESPONDENCE = "digdir:dialogporten.correspondence"


@dataclass
class Maskinporten:
    """A running Maskinporten replica: its state and base URL."""

    replica: MaskinportenReplica
    url: str

    @property
    def issuer(self) -> str:
        return f"{self.url}/"

    def token(self, *scopes: str) -> str:
        """An access token with `scopes`, minted by the replica."""
        return str(
            self.replica.issue_token("test-client", list(scopes), self.issuer)["access_token"]
        )

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(self.replica.public_key_pem, self.issuer)


@pytest.fixture(scope="module")
def maskinporten() -> Iterator[Maskinporten]:
    """A Maskinporten replica for the module."""
    replica = MaskinportenReplica()
    with serve_in_thread(create_maskinporten(replica)) as url:
        replica.issuer = f"{url}/"
        yield Maskinporten(replica, url)


@dataclass
class Dialogporten:
    """A running Dialogporten replica, with a client holding a full service-owner token."""

    replica: DialogportenReplica
    url: str
    client: httpx.Client
    faults: Faults


@pytest.fixture()
def dialogporten(maskinporten: Maskinporten) -> Iterator[Dialogporten]:
    """A fresh Dialogporten replica (per test) checking tokens of the Maskinporten replica."""
    replica = DialogportenReplica(verifier=maskinporten.verifier())
    faults = Faults()
    with serve_in_thread(FaultMiddleware(replica.app(), faults)) as url:
        token = maskinporten.token(SERVICEPROVIDER, CORRESPONDENCE)
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            yield Dialogporten(replica, url, client, faults)
