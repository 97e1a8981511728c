"""The A3 replica's Register stand-in: parties from the A2 source's `a2_party`; an unknown
party does not resolve (PartyUrnHelper.GetPartyUrnByUuid returns null), nor does the all-zero
UUID."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from sandbox.a3.register import SandboxRegister, synthetic_person_urn
from sandbox.services import A2PartyLookup


def test_parties_resolve_from_the_a2_source(settings, tmp_path) -> None:
    path = tmp_path / "a2.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    person, org, selfid, unknown = (uuid.uuid4() for _ in range(4))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "create table a2_party (party_uuid text, ssn text, org_number text, username text)"
            )
        )
        conn.execute(
            sa.text("insert into a2_party values (:u, :s, :o, :n)"),
            [
                {"u": str(person), "s": "01017012345", "o": None, "n": None},
                {"u": str(org), "s": None, "o": "310000000", "n": None},
                {"u": str(selfid), "s": None, "o": None, "n": "Kari.SI"},
            ],
        )
    engine.dispose()
    register = SandboxRegister(
        A2PartyLookup(settings.model_copy(update={"a2_source_url": f"sqlite:///{path}"}))
    )
    assert register.resolve(person) == "urn:altinn:person:identifier-no:01017012345"
    assert register.resolve(org) == "urn:altinn:organization:identifier-no:310000000"
    assert register.resolve(selfid) == "urn:altinn:person:legacy-selfidentified:kari.si"
    assert register.username(selfid) == "kari.si"
    assert register.resolve(unknown) is None  # no synthetic person any more
    assert register.display_name(unknown) is None
    register.add(unknown, synthetic_person_urn(unknown), name="Kari Nordmann")
    assert register.resolve(unknown) == synthetic_person_urn(unknown)
    assert register.display_name(unknown) == "Kari Nordmann"
    assert register.resolve(uuid.UUID(int=0)) is None
    register.forget(person)
    assert register.resolve(person) is None


def test_synthetic_numbers_pass_the_mod_11_checks() -> None:
    w1, w2 = (3, 7, 6, 1, 8, 9, 4, 5, 2), (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    for _ in range(200):
        digits = [int(c) for c in synthetic_person_urn(uuid.uuid4()).rsplit(":", 1)[1]]
        assert len(digits) == 11
        for weights, position in ((w1, 9), (w2, 10)):
            rest = sum(d * w for d, w in zip(digits, weights, strict=False)) % 11
            assert (11 - rest) % 11 == digits[position]
