"""Resource Registry replica: create/update a resource, upload its XACML policy, and the
validation and authorization rules of ResourceController / ServiceResourceHelper."""

from __future__ import annotations

import httpx
import pytest

from sandbox.maskinporten.tokens import TokenVerifier
from sandbox.resource_registry.app import create_app, resource_exists
from sandbox.serve import serve_in_thread

BASE = "/resourceregistry/api/v1/resource"
RID = "abc-migratedcorrespondence-1234-1"
NS = "urn:oasis:names:tc:xacml:3.0:core:schema:wd-17"


def _resource(identifier: str = RID, **changes) -> dict:
    text = {"nb": "Vedtak - migrated from Altinn 2", "nn": "Vedtak", "en": "Decision"}
    body = {
        "identifier": identifier,
        "title": text,
        "description": text,
        "rightDescription": text,
        "resourceType": "CorrespondenceService",
        "delegable": True,
        "resourceReferences": [
            {"referenceSource": "Altinn2", "referenceType": "ServiceCode", "reference": "1234"},
            {"referenceSource": "Altinn2", "referenceType": "ServiceEditionCode", "reference": "1"},
        ],
        "hasCompetentAuthority": {"orgcode": "abc", "organization": "910000000"},
    }
    body.update(changes)
    return body


def _match(value: str, category: str, attribute: str) -> str:
    return (
        f'<xacml:AnyOf><xacml:AllOf><xacml:Match MatchId="urn:oasis:names:tc:xacml:1.0:function:'
        f'string-equal"><xacml:AttributeValue DataType="http://www.w3.org/2001/XMLSchema#string">'
        f'{value}</xacml:AttributeValue><xacml:AttributeDesignator AttributeId="{attribute}" '
        f'Category="{category}" DataType="http://www.w3.org/2001/XMLSchema#string" '
        f'MustBePresent="false"/></xacml:Match></xacml:AllOf></xacml:AnyOf>'
    )


def _policy(
    resource_id: str = RID, action: str = "read", subject_attr="urn:altinn:rolecode"
) -> bytes:
    subject = _match(
        "UTINN", "urn:oasis:names:tc:xacml:1.0:subject-category:access-subject", subject_attr
    )
    resource = _match(
        resource_id,
        "urn:oasis:names:tc:xacml:3.0:attribute-category:resource",
        "urn:altinn:resource",
    )
    act = _match(
        action,
        "urn:oasis:names:tc:xacml:3.0:attribute-category:action",
        "urn:oasis:names:tc:xacml:1.0:action:action-id",
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><xacml:Policy xmlns:xacml="{NS}" '
        'PolicyId="urn:altinn:policyid:1" Version="1.0" '
        'RuleCombiningAlgId="urn:oasis:names:tc:xacml:3.0:rule-combining-algorithm:deny-overrides">'
        f'<xacml:Target/><xacml:Rule RuleId="r1" Effect="Permit"><xacml:Target>{subject}{resource}'
        f"{act}</xacml:Target></xacml:Rule></xacml:Policy>"
    ).encode()


@pytest.fixture(scope="module")
def registry(warehouse, maskinporten):
    app = create_app(
        warehouse.sqlalchemy_url(),
        TokenVerifier(maskinporten.replica.public_key_pem, maskinporten.issuer),
    )
    with serve_in_thread(app) as url:
        token = maskinporten.token("altinn:resourceregistry/resource.admin")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            yield client, app


def test_create_update_and_policy_upload(registry) -> None:
    client, app = registry
    created = client.post(BASE, json=_resource())
    assert created.status_code == 201
    assert created.headers["location"] == f"{BASE}/{RID}"
    assert client.post(BASE, json=_resource()).status_code == 409
    changed = _resource(title={"nb": "Ny", "nn": "Ny", "en": "New"})
    assert client.put(f"{BASE}/{RID}", json=changed).status_code == 200
    assert client.get(f"{BASE}/{RID}").json()["title"]["en"] == "New"
    assert resource_exists(app.state.engine, RID)

    files = {"policyFile": ("policy.xml", _policy(), "application/xml")}
    assert client.post(f"{BASE}/{RID}/policy", files=files).status_code == 201
    assert client.put(f"{BASE}/{RID}/policy", files=files).status_code == 201  # overwrite
    stored = client.get(f"{BASE}/{RID}/policy")
    assert stored.headers["content-type"].startswith("text/xml")
    assert b"UTINN" in stored.content


def test_resource_validation_follows_validate_resource(registry) -> None:
    client, _ = registry
    bad = [
        _resource("Abc-Upper"),
        _resource("se_1_1", resourceReferences=[]),
        _resource("abc-x-1", title={"nb": "Bare bokmål"}),
        _resource("abc-x-2", resourceType="Default"),
    ]
    for body in bad:
        response = client.post(BASE, json=body)
        assert response.status_code == 400, body["identifier"]
        assert response.json()["errors"]
    assert client.put(f"{BASE}/unknown-id", json=_resource("unknown-id")).status_code == 404
    client.post(BASE, json=_resource("abc-x-3"))
    mismatch = client.put(f"{BASE}/abc-x-3", json=_resource("abc-x-4"))
    assert (mismatch.status_code, mismatch.text) == (
        400,
        "Id in path does not match ID in resource",
    )


def test_policies_are_checked_against_the_correspondence_shape(registry) -> None:
    client, _ = registry
    client.post(BASE, json=_resource("abc-x-5"))
    cases = {
        "not xml": b"<xacml:Policy",
        "other resource": _policy("someone-else"),
        "unknown action": _policy("abc-x-5", action="delete"),
        "unknown subject": _policy("abc-x-5", subject_attr="urn:altinn:userid"),
    }
    for name, xml in cases.items():
        response = client.post(
            f"{BASE}/abc-x-5/policy", files={"policyFile": ("p.xml", xml, "application/xml")}
        )
        assert response.status_code == 400, name
    assert client.post(f"{BASE}/abc-x-5/policy").status_code == 400  # no file
    unknown = client.post(
        f"{BASE}/nope/policy", files={"policyFile": ("p.xml", _policy("nope"), "application/xml")}
    )
    assert (unknown.status_code, unknown.text) == (400, "Unknown resource")


def test_writes_need_the_scope_and_the_owning_organisation(registry, maskinporten) -> None:
    client, _ = registry
    write_only = maskinporten.token("altinn:resourceregistry/resource.write")  # org 991825827
    headers = {"Authorization": f"Bearer {write_only}"}
    assert client.post(BASE, json=_resource("abc-x-6"), headers=headers).status_code == 403
    own = _resource(
        "abc-x-7", hasCompetentAuthority={"orgcode": "digdir", "organization": "991825827"}
    )
    assert client.post(BASE, json=own, headers=headers).status_code == 201
    other = maskinporten.token("altinn:correspondence.migrate")
    assert (
        client.post(
            BASE, json=_resource("abc-x-8"), headers={"Authorization": f"Bearer {other}"}
        ).status_code
        == 403
    )
    assert (
        client.post(BASE, json=_resource("abc-x-8"), headers={"Authorization": ""}).status_code
        == 401
    )
