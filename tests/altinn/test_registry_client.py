"""ResourceRegistryClient on the client base against the Resource Registry replica: a second
create of the same resource or policy becomes an update (409 → PUT), and the registry holds the
latest version."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from flytt.altinn.maskinporten import MaskinportenClient
from flytt.warehouse import Warehouse
from sandbox.maskinporten.app import MaskinportenReplica
from sandbox.maskinporten.tokens import TokenVerifier
from sandbox.resource_registry.app import create_app
from sandbox.serve import serve_in_thread
from syncd.resource_registry import RESOURCE_PATH, ResourceRegistryClient, build_policy

RID = "ttd-migratedcorrespondence-4242-1"


@pytest.fixture(scope="module")
def registry(warehouse: Warehouse, replica: tuple[MaskinportenReplica, str]) -> Iterator[str]:
    """The Resource Registry replica on a free local port, trusting the Maskinporten replica."""
    mp, _ = replica
    app = create_app(warehouse.sqlalchemy_url(), TokenVerifier(mp.public_key_pem, mp.issuer))
    with serve_in_thread(app) as url:
        yield url


def _resource(title: str) -> dict[str, object]:
    text = {"nb": title, "nn": title, "en": title}
    return {
        "identifier": RID,
        "title": text,
        "description": text,
        "rightDescription": text,
        "resourceType": "CorrespondenceService",
        "delegable": True,
        "resourceReferences": [
            {"referenceSource": "Altinn2", "referenceType": "ServiceCode", "reference": "4242"},
            {"referenceSource": "Altinn2", "referenceType": "ServiceEditionCode", "reference": "1"},
        ],
        "hasCompetentAuthority": {"orgcode": "ttd", "organization": "991825827"},
    }


def _rule(role: str) -> dict[str, str]:
    return {"subject_attribute": "urn:altinn:rolecode", "subject_value": role, "action": "read"}


def test_a_second_put_updates_the_resource_and_its_policy(
    registry: str, tokens: MaskinportenClient
) -> None:
    client = ResourceRegistryClient(registry, tokens, initial_wait=0.001)
    first = build_policy(RID, [_rule("utinn")])
    second = build_policy(RID, [_rule("dagl")])

    async def go() -> None:
        try:
            await client.put_resource(_resource("Vedtak - migrated from Altinn 2"))
            await client.put_policy(RID, first)
            await client.put_resource(_resource("Vedtak v2 - migrated from Altinn 2"))
            await client.put_policy(RID, second)
        finally:
            await client.aclose()

    asyncio.run(go())
    stored = httpx.get(f"{registry}{RESOURCE_PATH}/{RID}").json()
    assert stored["title"]["nb"] == "Vedtak v2 - migrated from Altinn 2"
    policy = httpx.get(f"{registry}{RESOURCE_PATH}/{RID}/policy")
    assert policy.status_code == 200
    assert b"dagl" in policy.content and b"utinn" not in policy.content
    assert tokens.grants == 1
