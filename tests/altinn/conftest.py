"""Fixtures for the Altinn client wing: the Maskinporten replica on a free local port and a
Maskinporten client with its own registered key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flytt.altinn.maskinporten import MaskinportenClient
from sandbox.maskinporten.app import MaskinportenReplica, create_app
from sandbox.maskinporten.keys import new_private_key, private_pem, public_pem
from sandbox.serve import serve_in_thread


@pytest.fixture(scope="module")
def replica() -> Iterator[tuple[MaskinportenReplica, str]]:
    """The Maskinporten replica on a free local port, and its token URL."""
    mp = MaskinportenReplica()
    with serve_in_thread(create_app(mp)) as url:
        mp.issuer = f"{url}/"
        yield mp, f"{url}/token"


@pytest.fixture()
def tokens(replica: tuple[MaskinportenReplica, str]) -> MaskinportenClient:
    """A Maskinporten client with its own key and an empty token cache."""
    mp, token_url = replica
    key = new_private_key()
    client_id = f"flytt-{id(key)}"
    mp.register_client(client_id, public_pem(key))
    return MaskinportenClient(token_url, client_id, private_pem(key).decode())
