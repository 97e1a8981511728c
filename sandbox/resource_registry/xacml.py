"""Checks on an uploaded XACML 3.0 policy, as the sandbox Resource Registry applies them.

Sources:
* ResourceController.WritePolicy (Altinn/altinn-resource-registry): a policy that is not
  well-formed XML (XmlException) or is refused by the service (ArgumentException) gives 400 with
  the message; its doc comment: "The XACML policy must define at least a subject and resource".
* Reference `a2-model.md` §3.2 (the shape of a correspondence resource's policy): combining
  algorithm deny-overrides; each rule matches a subject `urn:altinn:rolecode` or `urn:altinn:org`
  (access-subject category), the resource `urn:altinn:resource` = the resource id, and actions
  among read, write, subscribe.
The parser is defusedxml (no entity expansion, no external entities).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

NS = "urn:oasis:names:tc:xacml:3.0:core:schema:wd-17"
DENY_OVERRIDES = "urn:oasis:names:tc:xacml:3.0:rule-combining-algorithm:deny-overrides"
CAT_SUBJECT = "urn:oasis:names:tc:xacml:1.0:subject-category:access-subject"
CAT_RESOURCE = "urn:oasis:names:tc:xacml:3.0:attribute-category:resource"
CAT_ACTION = "urn:oasis:names:tc:xacml:3.0:attribute-category:action"
ACTION_ID = "urn:oasis:names:tc:xacml:1.0:action:action-id"
SUBJECT_ATTRIBUTES = frozenset({"urn:altinn:rolecode", "urn:altinn:org"})
RESOURCE_ATTRIBUTES = frozenset({"urn:altinn:resource", "urn:altinn:resource:instance-id"})
ACTIONS = frozenset({"read", "write", "subscribe"})


class PolicyRejected(ValueError):
    """The policy is not accepted; the message says why (it becomes the 400 body)."""


@dataclass(frozen=True)
class PolicyRule:
    """One rule as the registry lists it: effect, subjects, resource ids and actions."""

    rule_id: str
    effect: str
    subjects: tuple[tuple[str, str], ...]
    resources: tuple[str, ...]
    actions: tuple[str, ...]


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _matches(rule: Element) -> list[tuple[str, str, str]]:
    """(category, attribute id, value) of every Match in the rule's target."""
    out = []
    for match in rule.iter(_q("Match")):
        value = match.find(_q("AttributeValue"))
        designator = match.find(_q("AttributeDesignator"))
        if value is None or designator is None:
            raise PolicyRejected("Match without AttributeValue and AttributeDesignator")
        out.append(
            (
                designator.get("Category", ""),
                designator.get("AttributeId", ""),
                (value.text or "").strip(),
            )
        )
    return out


def parse_policy(xml: bytes, resource_id: str) -> list[PolicyRule]:
    """Parse and check a policy for resource `resource_id`; return its rules.

    Raises:
        PolicyRejected: not well-formed XML, not a XACML 3.0 Policy, not deny-overrides, no
            rules, or a rule without a known subject, without this resource, or with an action
            outside read/write/subscribe.
    """
    try:
        root = SafeET.fromstring(xml)
    except SafeET.ParseError as exc:
        raise PolicyRejected(f"The policy is not well-formed XML: {exc}") from None
    except Exception as exc:  # defusedxml refuses entities and DTDs
        raise PolicyRejected(f"The policy was refused: {type(exc).__name__}") from None
    if root.tag != _q("Policy"):
        raise PolicyRejected("The root element must be a XACML 3.0 Policy")
    if root.get("RuleCombiningAlgId") != DENY_OVERRIDES:
        raise PolicyRejected("RuleCombiningAlgId must be deny-overrides")
    rules = []
    for rule in root.findall(_q("Rule")):
        rule_id = rule.get("RuleId", "")
        effect = rule.get("Effect", "")
        if effect not in ("Permit", "Deny"):
            raise PolicyRejected(f"Rule {rule_id}: Effect must be Permit or Deny")
        matches = _matches(rule)
        subjects = tuple((a, v.lower()) for c, a, v in matches if c == CAT_SUBJECT)
        resources = tuple(
            v for c, a, v in matches if c == CAT_RESOURCE and a in RESOURCE_ATTRIBUTES
        )
        actions = tuple(v.lower() for c, a, v in matches if c == CAT_ACTION and a == ACTION_ID)
        if not subjects or any(a not in SUBJECT_ATTRIBUTES for a, _ in subjects):
            raise PolicyRejected(
                f"Rule {rule_id}: subjects must be urn:altinn:rolecode or urn:altinn:org"
            )
        own = [r for r in resources if r == resource_id]
        if not own:
            raise PolicyRejected(f"Rule {rule_id}: must match urn:altinn:resource {resource_id}")
        if not actions or any(a not in ACTIONS for a in actions):
            raise PolicyRejected(f"Rule {rule_id}: actions must be among read, write, subscribe")
        rules.append(PolicyRule(rule_id, effect, subjects, tuple(own), actions))
    if not rules:
        raise PolicyRejected("The policy must define at least one rule")
    return rules
