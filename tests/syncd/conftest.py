"""Fixtures for delivery tests: the Maskinporten, A3 migration API and Resource Registry
replicas served on free localhost ports in this process, a client key registered with the
Maskinporten replica, and settings/environment that point `flytt migrate` at them.

The A3 replica writes into the test warehouse database (schema `correspondence`), so tests
check A3's tables with SQL in the same database.

The database and the replicas are shared by a module, the data is not: every test that uses
the replicas starts from a clean slate (`clean_slate`): control schema at head and empty, no
marts, an empty A3 replica and Resource Registry, no faults. It seeds the marts and delivers
whatever it needs itself, so it passes alone, in any order, and after a test that failed or
timed out half-way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flytt.control import upgrade
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


# The schemas a delivery test writes to: flytt's control schema, the A3 replica's tables and
# attachment store, the Resource Registry replica's tables.
STATE_SCHEMAS = ("flytt", "correspondence", "sandbox_storage", "resourceregistry")


def clean_slate(warehouse: Warehouse, replicas: Replicas) -> None:
    """Empty every table a delivery run or the replicas write (keeping the control schema's
    version), drop the marts (schema `a3`) and switch the A3 faults off with fresh counters."""
    upgrade(warehouse)
    with warehouse.engine.begin() as conn:
        tables = [
            str(row[0])
            for row in conn.execute(
                sa.text(
                    "select format('%I.%I', table_schema, table_name) "
                    "from information_schema.tables "
                    "where table_schema = any(:schemas) and table_type = 'BASE TABLE' "
                    "and (table_schema, table_name) <> ('flytt', 'alembic_version')"
                ),
                {"schemas": list(STATE_SCHEMAS)},
            )
        ]
        listed = ", ".join(tables)
        if listed:
            conn.execute(sa.text(f"truncate {listed} restart identity cascade"))
        conn.execute(sa.text("drop schema if exists a3 cascade"))
    replicas.a3_faults.off()
    replicas.a3_faults.stats.clear()


@pytest.fixture(autouse=True)
def _clean_slate_for_replica_tests(request: pytest.FixtureRequest) -> None:
    """Run `clean_slate` before each test that uses the module's replicas."""
    if "replicas" in request.fixturenames:
        clean_slate(request.getfixturevalue("warehouse"), request.getfixturevalue("replicas"))
