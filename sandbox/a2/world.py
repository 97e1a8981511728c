"""The slowly changing part of the sandbox A2 database: service owners, editions, roles, rules,
notification templates, migration config, parties and users (issue #3).

`build_world(config, size, rng, seq)` returns the rows of those tables plus a `World` with the
lookups the correspondence generator draws from. Ids and `row_version` values come from `seq`.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sandbox.a2.config import SandboxConfig
from sandbox.a2.identity import fnr, org_number

Rows = dict[str, list[dict[str, Any]]]

# Known A2 service owners and editions seen in public ids (a2-model §3.1); the rest are synthetic.
_KNOWN_OWNERS = [
    ("skd", "Skatteetaten", "974761076"),
    ("nav", "Arbeids- og velferdsetaten", "889640782"),
    ("svv", "Statens vegvesen", "971032081"),
    ("brg", "Brønnøysundregistrene", "974760673"),
    ("asf", "Digitaliseringsdirektoratet (Altinn)", "991825827"),
    ("ttd", "Testdepartementet", "991825827"),
]
_KNOWN_EDITIONS = {
    "skd": [("3476", 130314), ("5229", 1), ("SKDPSA", 2)],
    "nav": [("5516", 1), ("5516", 2), ("5516", 3)],
    "svv": [("5230", 201801)],
    "brg": [("3770", 1)],
    "asf": [("2996", 120202), ("3996", 201503), ("4255", 1), ("4255", 10), ("5504", 1)],
    "ttd": [("4471", 1)],
}

# Role definitions (a2-model §2.2). Known ids are public; ids >= 1000 are ours [inferred].
ROLES: list[tuple[int, str, str, str, bool]] = [
    (3, "LOPER", "Altinn", "Lønn og personalmedarbeider", True),
    (4, "ADMAI", "Altinn", "Tilgangsstyring", True),
    (6, "REGNA", "Altinn", "Regnskapsmedarbeider", True),
    (11, "UTINN", "Altinn", "Utfyller/Innsender", True),
    (15, "KLADM", "Altinn", "Klientadministrator", True),
    (82, "PRIV", "External", "Privatperson", False),
    (89, "ALLEA", "Altinn", "Basisrolle", True),
    (153, "KNUF", "External", "Kontaktperson for NUF", False),
    (5603, "A0236", "Altinn", "Post/arkiv", True),
    (1001, "DAGL", "External", "Daglig leder", False),
    (1002, "LEDE", "External", "Styreleder", False),
    (1003, "INNH", "External", "Innehaver", False),
    (1004, "BEST", "External", "Bestyrende reder", False),
    (1005, "REPR", "External", "Norsk representant", False),
    (1006, "HADM", "Altinn", "Hovedadministrator", False),
    (1007, "SELN", "External", "Selvregistrert", False),
]
# A0236 Post/arkiv is given by these ER roles (a2-model §2.2; S11 IngestRoleMap).
_A0236_PARENTS = ("DAGL", "LEDE", "INNH", "BEST", "REPR", "PRIV")

_FIRST = [
    "Kari",
    "Ola",
    "Ingrid",
    "Per",
    "Sigrid",
    "Nils",
    "Áila",
    "Máret",
    "Ánde",
    "Liv",
    "Jon",
    "Åse",
    "Øystein",
    "Ænes",
    "Marit",
    "Siri",
    "Lars",
    "Berit",
]
_LAST = [
    "Nordmann",
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Sara",
    "Gaup",
    "Eira",
    "Bæivi",
    "Østby",
    "Ødegård",
    "Haugen",
    "Berg",
    "Dahl",
]
_ORG_WORDS = [
    "Fjord",
    "Nord",
    "Vest",
    "Bygg",
    "Regnskap",
    "Fiske",
    "Havbruk",
    "Transport",
    "Data",
    "Eiendom",
    "Elektro",
    "Rørlegger",
    "Sámi",
    "Reinbeite",
    "Bakeri",
]
_ORG_FORMS = ["AS", "ASA", "ENK", "DA", "SA", "NUF"]


class Sequences:
    """Id counters and the database-wide `row_version` counter of the sandbox.

    Persisted in the sandbox table `sandbox_meta`, so `--live` continues where generation ended.
    """

    def __init__(self, values: dict[str, int] | None = None) -> None:
        self.values: dict[str, int] = dict(values or {})

    def next(self, name: str, start: int = 1, step: int = 1) -> int:
        """Return the next value of counter `name` (first value `start`)."""
        value = self.values.get(name, start - step) + step
        self.values[name] = value
        return value

    def rv(self) -> int:
        """The next `row_version` (strictly increasing across all tables)."""
        return self.next("row_version")


@dataclass
class Edition:
    """A service edition the generator sends correspondences in."""

    service_code: str
    edition_code: int
    owner_id: int
    owner_code: str
    owner_name: str
    requires_confirmation: bool


@dataclass
class World:
    """Lookups for the correspondence generator."""

    editions: list[Edition]
    edition_cum: list[float]
    org_ids: list[int]
    org_cum: list[float]
    person_ids: list[int]
    person_cum: list[float]
    self_ids: list[int]
    user_of_party: dict[int, int]
    reserved: set[int]
    max_party_id: int
    contact: dict[int, tuple[str, str]] = field(default_factory=dict)


def zipf_cum(n: int, exponent: float) -> list[float]:
    """Cumulative Zipf weights for `n` items (item k has weight 1/(k+1)^exponent)."""
    return list(itertools.accumulate(1.0 / (k + 1) ** exponent for k in range(n)))


def build_world(
    config: SandboxConfig, size: int, rng: random.Random, seq: Sequences
) -> tuple[Rows, World]:
    """Reference data and parties for a database of `size` correspondences.

    Returns:
        (rows per table, lookups). Deterministic for a given `rng` state.
    """
    rows: Rows = {
        name: []
        for name in (
            "a2_service_owner",
            "a2_service_edition",
            "a2_role_definition",
            "a2_role_definition_link",
            "a2_service_right_rule",
            "a2_notification_template",
            "a2_migration_service_config",
            "a2_party",
            "a2_user",
            "a2_party_flags",
        )
    }
    start = config.first_datetime

    # --- service owners and editions ---------------------------------------------------
    owners: list[tuple[int, str, str]] = []
    for i in range(config.service_owners):
        if i < len(_KNOWN_OWNERS):
            code, name, orgnr = _KNOWN_OWNERS[i]
        else:
            code = f"so{i:02d}"
            name = f"{rng.choice(_ORG_WORDS)} {rng.choice(['direktorat', 'kommune', 'etat'])}"
            orgnr = org_number(rng)
        owner_id = seq.next("service_owner_id", start=1)
        owners.append((owner_id, code, name))
        rows["a2_service_owner"].append(
            {
                "service_owner_id": owner_id,
                "service_owner_code": code.upper(),
                "name": name,
                "org_number": orgnr,
                "short_name": name[:50],
                "row_version": seq.rv(),
            }
        )
    editions: list[Edition] = []
    used: set[tuple[str, int]] = set()
    for owner_id, code, name in owners:
        known = _KNOWN_EDITIONS.get(code, [])
        count = max(len(known), rng.randint(1, config.editions_per_owner_max))
        for j in range(count):
            if j < len(known):
                service_code, edition_code = known[j]
            else:
                service_code = str(rng.randint(1000, 6999))
                edition_code = rng.choice([1, 1, 1, 2, 3, rng.randint(2010, 2026) * 100 + 1])
            if (service_code, edition_code) in used:
                continue
            used.add((service_code, edition_code))
            confirm = rng.random() < config.confirmation_service_share
            editions.append(Edition(service_code, edition_code, owner_id, code, name, confirm))
            valid_from = start + timedelta(days=rng.randint(0, 3000))
            rows["a2_service_edition"].append(
                {
                    "service_code": service_code,
                    "service_edition_code": edition_code,
                    "service_edition_version_id": seq.next("service_edition_version_id", 10_000),
                    "service_owner_id": owner_id,
                    "service_name": f"{name}: melding {service_code}",
                    "edition_name": f"Utgave {edition_code}",
                    "service_type": 1,
                    "valid_from": valid_from,
                    "valid_to": datetime(2099, 12, 31),
                    "security_level": rng.choice([2, 3, 3, 4]),
                    "requires_confirmation": confirm,
                    "message_type": rng.choice(["Binær/HTML", "Binær/HTML", "Skatteoppgjør"]),
                    "sender_text": None if rng.random() < 0.7 else name,
                    "enterprise_users_disallowed": rng.random() < 0.1,
                    "send_read_status": rng.random() < 0.3,
                    "send_status_after_days": 7,
                    "service_owner_archive_retention_days": rng.choice([0, 365, 3650]),
                    "is_expired": rng.random() < 0.05,
                    "delegation_description": "Gir tilgang til meldinger i tjenesten.",
                    "row_version": seq.rv(),
                }
            )
            wait = rng.choice(config.wait_time_minutes)
            rows["a2_migration_service_config"].append(
                {
                    "service_code": service_code,
                    "service_edition_code": edition_code,
                    "is_whitelisted": rng.random() < config.whitelisted_share,
                    "migration_wait_time_minutes": wait,
                    "a3_resource_id": f"{code}-migratedcorrespondence-{service_code}-"
                    f"{edition_code}".lower(),
                    "delegations_exported_datetime": None,
                    "row_version": seq.rv(),
                }
            )
    order = list(range(len(editions)))
    rng.shuffle(order)
    editions = [editions[k] for k in order]

    # --- roles, links, rules, templates -------------------------------------------------
    by_code = {code: rid for rid, code, *_ in ROLES}
    for rid, code, kind, name, delegable in ROLES:
        rows["a2_role_definition"].append(
            {
                "role_definition_id": rid,
                "role_definition_code": code,
                "role_type": kind,
                "role_name": name,
                "role_description": f"{name} ({code})",
                "is_delegable": delegable,
                "row_version": seq.rv(),
            }
        )
    for parent_code in _A0236_PARENTS:
        rows["a2_role_definition_link"].append(
            {
                "parent_role_definition_id": by_code[parent_code],
                "child_role_definition_id": by_code["A0236"],
                "row_version": seq.rv(),
            }
        )
    rows["a2_role_definition_link"].append(
        {
            "parent_role_definition_id": by_code["PRIV"],
            "child_role_definition_id": by_code["UTINN"],
            "row_version": seq.rv(),
        }
    )
    for edition in editions:
        for role, operation, effect in (
            ("A0236", "Read", "Permit"),
            ("A0236", "ArchiveRead", "Permit"),
            ("A0236", "ArchiveDelete", "Permit"),
            ("UTINN", "Read", "Permit"),
            ("DAGL", "Write", "Permit"),
        ) + ((("REGNA", "Read", "Deny"),) if rng.random() < 0.05 else ()):
            rows["a2_service_right_rule"].append(
                {
                    "rule_id": seq.next("rule_id"),
                    "service_code": edition.service_code,
                    "service_edition_code": edition.edition_code,
                    "service_owner_id": edition.owner_id,
                    "role_definition_id": by_code[role],
                    "operation": operation,
                    "effect": effect,
                    "min_security_level": 2,
                    "is_edition_override": effect == "Deny",
                    "row_version": seq.rv(),
                }
            )
    for template_id, (name, transport, language) in enumerate(
        [
            ("TokenTextOnly", 2, 1044),
            ("TokenTextOnly", 1, 1044),
            ("VarselDPVUtenRevarsel", 2, 1044),
            ("VarselDPVMedRevarsel", 2, 1044),
            ("VarselDPVMedRevarsel", 1, 1044),
            ("VarselDPVMedRevarsel", 2, 1033),
        ],
        start=1,
    ):
        rows["a2_notification_template"].append(
            {
                "notification_template_id": template_id,
                "notification_type_id": template_id,
                "notification_name": name,
                "transport_id": transport,
                "language_type_id": language,
                "from_address": "no-reply@altinn.no",
                "subject": "Ny melding i Altinn",
                "notification_text": "Du har mottatt en melding fra $servicename$ til "
                "$reporteeName$.",
                "row_version": seq.rv(),
            }
        )

    # --- parties and users --------------------------------------------------------------
    n_parties = max(60, int(size * config.parties_per_correspondence))
    n_orgs = int(n_parties * config.organisation_share)
    n_self = max(2, int(n_parties * config.mess.self_identified_party))
    n_persons = max(20, n_parties - n_orgs - n_self)
    org_ids: list[int] = []
    person_ids: list[int] = []
    self_ids: list[int] = []
    user_of_party: dict[int, int] = {}
    reserved: set[int] = set()
    contact: dict[int, tuple[str, str]] = {}
    mess = config.mess
    for _ in range(n_persons):
        party_id = seq.next("party_id", start=50_000_001, step=1 + (rng.random() < 0.2))
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        birth = date(1930, 1, 1) + timedelta(days=rng.randint(0, 80 * 365))
        is_reserved = rng.random() < mess.reserved_recipient
        if is_reserved:
            reserved.add(party_id)
        rows["a2_party"].append(
            {
                "party_id": party_id,
                "party_uuid": uuid.UUID(int=rng.getrandbits(128), version=4),
                "party_type": "Person",
                "ssn": fnr(rng, birth),
                "org_number": None,
                "username": None,
                "name": f"{last} {first}",
                "parent_party_id": None,
                "is_deleted": rng.random() < 0.01,
                "is_reserved": is_reserved,
                "row_version": seq.rv(),
            }
        )
        user_id = seq.next("user_id", start=1_000_001)
        user_of_party[party_id] = user_id
        rows["a2_user"].append(
            {
                "user_id": user_id,
                "user_uuid": uuid.UUID(int=rng.getrandbits(128), version=4),
                "party_id": party_id,
                "user_type": "person",
                "row_version": seq.rv(),
            }
        )
        person_ids.append(party_id)
        handle = f"{first}.{last}{party_id % 1000}".lower()
        contact[party_id] = (f"{handle}@example.no", f"+474{rng.randint(0, 9999999):07d}")
    for k in range(n_orgs):
        party_id = seq.next("party_id", start=50_000_001, step=1 + (rng.random() < 0.2))
        name = f"{rng.choice(_ORG_WORDS)} {rng.choice(_ORG_WORDS)} {rng.choice(_ORG_FORMS)}"
        parent: int | None = (
            org_ids[rng.randrange(len(org_ids))] if org_ids and rng.random() < 0.1 else None
        )
        rows["a2_party"].append(
            {
                "party_id": party_id,
                "party_uuid": uuid.UUID(int=rng.getrandbits(128), version=4),
                "party_type": "Organization",
                "ssn": None,
                "org_number": org_number(rng, valid=rng.random() >= mess.invalid_org_number),
                "username": None,
                "name": name.upper() if k % 3 == 0 else name,
                "parent_party_id": parent,
                "is_deleted": rng.random() < 0.02,
                "is_reserved": False,
                "row_version": seq.rv(),
            }
        )
        org_ids.append(party_id)
        contact[party_id] = (
            f"post{party_id % 10000}@firma{k}.example.no",
            f"+479{rng.randint(0, 9999999):07d}",
        )
    for _ in range(n_self):
        party_id = seq.next("party_id", start=50_000_001)
        username = f"selvreg_{rng.getrandbits(32):08x}"
        rows["a2_party"].append(
            {
                "party_id": party_id,
                "party_uuid": uuid.UUID(int=rng.getrandbits(128), version=4),
                "party_type": "SelfIdentified",
                "ssn": None,
                "org_number": None,
                "username": username,
                "name": username,
                "parent_party_id": None,
                "is_deleted": False,
                "is_reserved": False,
                "row_version": seq.rv(),
            }
        )
        user_id = seq.next("user_id", start=1_000_001)
        user_of_party[party_id] = user_id
        rows["a2_user"].append(
            {
                "user_id": user_id,
                "user_uuid": uuid.UUID(int=rng.getrandbits(128), version=4),
                "party_id": party_id,
                "user_type": "self-identified",
                "row_version": seq.rv(),
            }
        )
        self_ids.append(party_id)
        contact[party_id] = (f"{username}@example.com", f"+474{rng.randint(0, 9999999):07d}")
    for _ in range(max(1, n_orgs // 50)):
        user_id = seq.next("user_id", start=1_000_001)
        rows["a2_user"].append(
            {
                "user_id": user_id,
                "user_uuid": uuid.UUID(int=rng.getrandbits(128), version=4),
                "party_id": None,
                "user_type": "enterprise",
                "row_version": seq.rv(),
            }
        )
    flagged = rng.sample(org_ids + person_ids, k=max(1, (n_orgs + n_persons) // 50))
    for party_id in sorted(flagged):
        rows["a2_party_flags"].append(
            {
                "party_id": party_id,
                "has_altinn3_messages": False,
                "has_altinn3_messages_set_datetime": None,
                "has_altinn3_instances": True,
                "row_version": seq.rv(),
            }
        )
    rng.shuffle(org_ids)
    rng.shuffle(person_ids)
    world = World(
        editions=editions,
        edition_cum=zipf_cum(len(editions), config.service_volume_skew),
        org_ids=org_ids,
        org_cum=zipf_cum(len(org_ids), config.recipient_skew),
        person_ids=person_ids,
        person_cum=zipf_cum(len(person_ids), config.recipient_skew),
        self_ids=self_ids,
        user_of_party=user_of_party,
        reserved=reserved,
        max_party_id=seq.values["party_id"],
        contact=contact,
    )
    return rows, world
