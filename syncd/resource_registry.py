"""Step 1.2: one A3 resource + XACML policy per A2 service edition, sent to the Resource Registry.

API (public Resource Registry, `Altinn/altinn-resource-registry`, as its Bruno collection and
the Dialogporten service-resource example show):

* `POST {base}/resourceregistry/api/v1/resource` with a ServiceResource JSON → 201;
  409 when the identifier exists, then `PUT {base}/resourceregistry/api/v1/resource/{id}`.
* `POST {base}/resourceregistry/api/v1/resource/{id}/policy`, multipart form field
  `policyFile` holding the XACML 3.0 policy → 201 (`PUT` replaces an existing one on 409).

Token: Maskinporten scopes `altinn:resourceregistry/resource.write` and
`altinn:resourceregistry/resource.admin` (the registry lets a writer change only resources of
its own organisation unless it holds the admin scope; flytt writes for every service owner).

The resource shape follows reference a2-model §3.1 (identifier, title/description with the
" - migrated from Altinn 2" postfix, `resourceType` CorrespondenceService, resource references
Altinn2/ServiceCode and Altinn2/ServiceEditionCode); the policy follows §3.2 (deny-overrides;
recipient rules per role with actions read + subscribe; a sender rule for the service-owner org
with write + subscribe; minimum authentication level obligation).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from flytt.altinn.client import AltinnClient
from flytt.altinn.maskinporten import (
    RESOURCE_ADMIN_SCOPE,
    RESOURCE_WRITE_SCOPE,
    MaskinportenClient,
)

RESOURCE_PATH = "/resourceregistry/api/v1/resource"
XACML_NS = "urn:oasis:names:tc:xacml:3.0:core:schema:wd-17"
DENY_OVERRIDES = "urn:oasis:names:tc:xacml:3.0:rule-combining-algorithm:deny-overrides"
STRING_EQUAL = "urn:oasis:names:tc:xacml:1.0:function:string-equal"
STRING_EQUAL_IC = "urn:oasis:names:tc:xacml:3.0:function:string-equal-ignore-case"
XS_STRING = "http://www.w3.org/2001/XMLSchema#string"
CAT_SUBJECT = "urn:oasis:names:tc:xacml:1.0:subject-category:access-subject"
CAT_RESOURCE = "urn:oasis:names:tc:xacml:3.0:attribute-category:resource"
CAT_ACTION = "urn:oasis:names:tc:xacml:3.0:attribute-category:action"
ACTION_ID = "urn:oasis:names:tc:xacml:1.0:action:action-id"
POSTFIX = " - migrated from Altinn 2"


def _three(value: Any) -> dict[str, str]:
    """The same text for `nb`, `nn` and `en` (A2 has one text per service edition)."""
    return {lang: str(value) for lang in ("nb", "nn", "en")} if value else {}


def build_resource(row: Mapping[str, Any]) -> dict[str, Any]:
    """ServiceResource JSON for one `a3.resources` row (a2-model §3.1).

    Mart columns used (the dbt contract of `resources`): `resource_id`, `resource_type`,
    `title_nb/nn/en`, `right_description`, `has_competent_authority_orgcode/organization/name`,
    `resource_references` (JSON list), `is_delegable`. The description is the title (A2 has
    no other text for a service edition); the right description falls back to it.

    Raises:
        KeyError: `row` lacks a contract column.
    """
    rid = str(row["resource_id"])
    title = {
        lang: str(row[f"title_{lang}"]) for lang in ("nb", "nn", "en") if row[f"title_{lang}"]
    } or {"nb": rid + POSTFIX}
    authority: dict[str, Any] = {
        "orgcode": row["has_competent_authority_orgcode"],
        "organization": row["has_competent_authority_organization"],
    }
    name = row["has_competent_authority_name"]
    if name:
        authority["name"] = _three(name)
    return {
        "identifier": rid,
        "title": title,
        "description": title,
        "rightDescription": _three(row["right_description"]) or title,
        "resourceType": str(row["resource_type"]),
        "status": "Completed",
        "delegable": bool(row["is_delegable"]),
        "visible": True,
        "selfIdentifiedUserEnabled": False,
        "enterpriseUserEnabled": False,
        "accessListMode": "Disabled",
        "resourceReferences": list(row["resource_references"] or []),
        "hasCompetentAuthority": {k: v for k, v in authority.items() if v is not None},
    }


def _match(parent: ET.Element, function: str, value: str, category: str, attribute: str) -> None:
    match = ET.SubElement(parent, "xacml:Match", MatchId=function)
    val = ET.SubElement(match, "xacml:AttributeValue", DataType=XS_STRING)
    val.text = value
    ET.SubElement(
        match,
        "xacml:AttributeDesignator",
        AttributeId=attribute,
        Category=category,
        DataType=XS_STRING,
        MustBePresent="false",
    )


def _any_of(target: ET.Element, matches: Sequence[tuple[str, str, str, str]]) -> None:
    any_of = ET.SubElement(target, "xacml:AnyOf")
    for function, value, category, attribute in matches:
        all_of = ET.SubElement(any_of, "xacml:AllOf")
        _match(all_of, function, value, category, attribute)


def build_policy(
    resource_id: str, rules: Sequence[Mapping[str, Any]], min_auth_level: int | None = None
) -> bytes:
    """XACML 3.0 policy for one resource from its `a3.resource_policy_rules` rows (§3.2).

    Each row gives one subject and one action: `subject_attribute` (e.g.
    `urn:altinn:rolecode`, `urn:altinn:org`), `subject_value` (e.g. `utinn`, `ttd`) and
    `action` (`read`, `subscribe`, `write`). Rows with the same subject become one Permit rule
    whose actions are the union.
    """
    grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in rules:
        grouped[(str(r["subject_attribute"]), str(r["subject_value"]))].add(str(r["action"]))
    ET.register_namespace("xacml", XACML_NS)
    policy = ET.Element(
        "xacml:Policy",
        {
            "xmlns:xacml": XACML_NS,
            "PolicyId": f"urn:altinn:policyid:{resource_id}",
            "Version": "1.0",
            "RuleCombiningAlgId": DENY_OVERRIDES,
        },
    )
    ET.SubElement(policy, "xacml:Target")
    for n, ((attribute, value), actions) in enumerate(sorted(grouped.items()), start=1):
        rule = ET.SubElement(
            policy,
            "xacml:Rule",
            RuleId=f"urn:altinn:resource:{resource_id}:ruleid:{n}",
            Effect="Permit",
        )
        desc = ET.SubElement(rule, "xacml:Description")
        desc.text = f"{value}: {', '.join(sorted(actions))}"
        target = ET.SubElement(rule, "xacml:Target")
        _any_of(target, [(STRING_EQUAL_IC, value, CAT_SUBJECT, attribute)])
        _any_of(target, [(STRING_EQUAL, resource_id, CAT_RESOURCE, "urn:altinn:resource")])
        _any_of(target, [(STRING_EQUAL, a, CAT_ACTION, ACTION_ID) for a in sorted(actions)])
    if min_auth_level is not None:
        advice = ET.SubElement(policy, "xacml:ObligationExpressions")
        obligation = ET.SubElement(
            advice,
            "xacml:ObligationExpression",
            FulfillOn="Permit",
            ObligationId="urn:altinn:obligation:authenticationLevel1",
        )
        assignment = ET.SubElement(
            obligation,
            "xacml:AttributeAssignmentExpression",
            AttributeId="urn:altinn:obligation-assignment:1",
            Category="urn:altinn:minimum-authenticationlevel",
        )
        level = ET.SubElement(
            assignment,
            "xacml:AttributeValue",
            DataType="http://www.w3.org/2001/XMLSchema#integer",
        )
        level.text = str(min_auth_level)
    return ET.tostring(policy, encoding="utf-8", xml_declaration=True)


CREATED_OR_EXISTS = frozenset(range(200, 300)) | {409}
"""Answers to a create: done (2xx) or the identifier exists (409, then the PUT follows)."""


class ResourceRegistryClient(AltinnClient):
    """Creates/updates resources and uploads their policies, with retries on 429/5xx (the
    client base `flytt.altinn.client.AltinnClient`: token with scopes
    `altinn:resourceregistry/resource.write` + `.admin`, 401 → one refresh, Retry-After
    honoured, bounded pool).

    Args:
        base_url: `settings.resource_registry_base_url`, e.g. `https://platform.altinn.no`.
        tokens: Maskinporten client (scope `altinn:resourceregistry/resource.write`).
        tries: attempts per call for transient errors.
        transport: an httpx async transport for tests; default network.
        initial_wait: first backoff ceiling in seconds when the registry sends no Retry-After.
        concurrency: connection pool size.
    """

    def __init__(
        self,
        base_url: str,
        tokens: MaskinportenClient,
        *,
        tries: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
        initial_wait: float = 0.2,
        concurrency: int = 8,
    ) -> None:
        super().__init__(
            base_url,
            tokens,
            (RESOURCE_WRITE_SCOPE, RESOURCE_ADMIN_SCOPE),
            concurrency=concurrency,
            tries=tries,
            timeout=httpx.Timeout(30.0, connect=5.0),
            transport=transport,
            initial_wait=initial_wait,
            accept=None,
        )

    async def _create_or_update(
        self, path: str, update_path: str, fresh: Callable[[], dict[str, Any]]
    ) -> None:
        async def once() -> None:
            response = await self.send(
                "POST", RESOURCE_PATH + path, ok=CREATED_OR_EXISTS, fresh=fresh
            )
            if response.status_code == 409:
                await self.send(
                    "PUT", RESOURCE_PATH + update_path, ok=CREATED_OR_EXISTS, fresh=fresh
                )

        await self.retrying(once)

    async def put_resource(self, resource: dict[str, Any]) -> None:
        """Create the resource, or update it when it exists (409 → PUT).

        Raises:
            A3CallError: permanent error, or transient errors beyond `tries`.
        """
        rid = resource["identifier"]
        await self._create_or_update("", f"/{rid}", lambda: {"json": resource})

    async def put_policy(self, resource_id: str, policy: bytes) -> None:
        """Upload the resource's XACML policy (multipart field `policyFile`); 409 → PUT.

        Raises:
            A3CallError: permanent error, or transient errors beyond `tries`.
        """

        def files() -> dict[str, Any]:
            return {"files": {"policyFile": (f"{resource_id}.xml", policy, "application/xml")}}

        path = f"/{resource_id}/policy"
        await self._create_or_update(path, path, files)
