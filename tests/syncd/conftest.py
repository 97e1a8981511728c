"""Fixtures for delivery tests: the Maskinporten, A3 migration API and Resource Registry
replicas served on free localhost ports in this process, a client key registered with the
Maskinporten replica, and settings/environment that point `flytt migrate` at them.

The A3 replica writes into the test warehouse database (schema `correspondence`), so tests
check A3's tables with SQL in the same database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flytt.settings import Settings
from flytt.warehouse import Warehouse
from sandbox.a3.app import create_app as create_a3
from sandbox.faults import FaultMiddleware, Faults
from sandbox.maskinporten.app import MaskinportenReplica
from sandbox.maskinporten.app import create_app as create_maskinporten
from sandbox.maskinporten.keys import write_client_key
from sandbox.maskinporten.tokens import TokenVerifier
from sandbox.resource_registry.app import create_app as create_registry
from sandbox.serve import serve_in_thread
from tests.conftest import cli_env, settings_for

CLIENT_ID = "flytt-test"


@dataclass
class Replicas:
    """Running replicas: URLs, the A3 fault switch, the client key file."""

    a3_url: str
    registry_url: str
    token_url: str
    key_file: Path
    a3_faults: Faults
    registry_app: Any

    def settings(self, warehouse: Warehouse, data_dir: Path, **overrides: Any) -> Settings:
        """Settings for `warehouse` that point at these replicas."""
        return settings_for(
            warehouse,
            data_dir,
            a3_base_url=self.a3_url,
            resource_registry_base_url=self.registry_url,
            maskinporten_token_url=self.token_url,
            maskinporten_client_id=CLIENT_ID,
            maskinporten_key_file=self.key_file,
            **overrides,
        )

    def env(self, warehouse: Warehouse, data_dir: Path) -> dict[str, str]:
        """Environment for the `flytt` command line pointing at these replicas."""
        return {
            **cli_env(warehouse, data_dir),
            "FLYTT_A3_BASE_URL": self.a3_url,
            "FLYTT_RESOURCE_REGISTRY_BASE_URL": self.registry_url,
            "FLYTT_MASKINPORTEN_TOKEN_URL": self.token_url,
            "FLYTT_MASKINPORTEN_CLIENT_ID": CLIENT_ID,
            "FLYTT_MASKINPORTEN_KEY_FILE": str(self.key_file),
        }


@pytest.fixture(scope="module")
def replicas(warehouse: Warehouse, module_data_dir: Path) -> Iterator[Replicas]:
    """Maskinporten, A3 (with a fault switch) and Resource Registry replicas for the module."""
    with ExitStack() as stack:
        mp = MaskinportenReplica()
        mp_url = stack.enter_context(serve_in_thread(create_maskinporten(mp)))
        mp.issuer = f"{mp_url}/"
        key_file = module_data_dir / "maskinporten-client.pem"
        mp.register_client(CLIENT_ID, write_client_key(key_file))
        verifier = TokenVerifier(mp.public_key_pem, mp.issuer)
        faults = Faults()
        a3_app = create_a3(warehouse.sqlalchemy_url(), verifier)
        a3_url = stack.enter_context(serve_in_thread(FaultMiddleware(a3_app, faults)))
        registry = create_registry(warehouse.sqlalchemy_url(), verifier)
        registry_url = stack.enter_context(serve_in_thread(registry))
        yield Replicas(a3_url, registry_url, f"{mp_url}/token", key_file, faults, registry)
