"""A stand-in for Altinn Register as A3 Correspondence uses it: party UUID → party URN.

A3 resolves the acting party of Read/Confirmed events and forwarders in Register when it builds
a dialog (reference `a3-correspondence.md` §4.6). The sandbox has no Register; a party resolves,
in this order, to the URN registered with `SandboxRegister.add`, to what the `lookup` function
finds (the sandbox wiring looks the party up in the A2 source's `a2_party` table, the same
parties Register holds), else to nothing: like Altinn Register, an unknown party does not resolve
(PartyUrnHelper.GetPartyUrnByUuid in Altinn/altinn-correspondence returns null), so A3's
make-available fails for a Read/Confirmed party it cannot resolve (since PR #1952, §4.6). The
all-zero UUID never resolves (the A2 feeder sent it for "Created"). `synthetic_person_urn` is kept
for callers that need a well-formed person URN to register with `add`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from uuid import UUID

_W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _check_digit(digits: list[int], weights: tuple[int, ...]) -> int | None:
    rest = 11 - sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
    if rest == 11:
        return 0
    return None if rest == 10 else rest


def synthetic_person_urn(party_uuid: UUID) -> str:
    """A deterministic `urn:altinn:person:identifier-no:<11 digits>` for `party_uuid`.

    The number is a syntactically valid national identity number (date part, individual
    number, both mod-11 check digits) chosen from the UUID's bits; it belongs to nobody real
    only by chance, so never use it outside the sandbox.
    """
    n = party_uuid.int
    while True:
        day, month, year = 1 + n % 28, 1 + (n // 28) % 12, (n // 336) % 100
        individual = (n // 33600) % 500
        digits = [int(c) for c in f"{day:02d}{month:02d}{year:02d}{individual:03d}"]
        k1 = _check_digit(digits, _W1)
        k2 = _check_digit([*digits, k1], _W2) if k1 is not None else None
        if k1 is not None and k2 is not None:
            return "urn:altinn:person:identifier-no:" + "".join(map(str, [*digits, k1, k2]))
        n = n // 7 + 1


class SandboxRegister:
    """Party look-ups for the A3 replica; thread-safe.

    `resolve(uuid)` returns the registered URN, else what `lookup` finds, else None (unknown in
    Register: A3's "party cannot be resolved" error, §4.6); None also for the all-zero UUID and a
    UUID marked unknown with `forget`.
    """

    def __init__(self, lookup: Callable[[UUID], str | None] | None = None) -> None:
        self._known: dict[UUID, str | None] = {}
        self._names: dict[UUID, str] = {}
        self._lock = threading.Lock()
        self._lookup = lookup

    def add(self, party_uuid: UUID, urn: str, name: str | None = None) -> None:
        """Register `party_uuid` as `urn` (e.g. an organization URN), optionally with its
        display name."""
        with self._lock:
            self._known[party_uuid] = urn.lower()
            if name:
                self._names[party_uuid] = name

    def forget(self, party_uuid: UUID) -> None:
        """Make `party_uuid` unresolvable."""
        with self._lock:
            self._known[party_uuid] = None

    def resolve(self, party_uuid: UUID) -> str | None:
        """The party URN of `party_uuid`, or None when Register would not know it."""
        if party_uuid.int == 0:
            return None
        with self._lock:
            if party_uuid in self._known:
                return self._known[party_uuid]
        found = self._lookup(party_uuid) if self._lookup is not None else None
        if found is not None:
            with self._lock:
                self._known[party_uuid] = found.lower()
            return found.lower()
        return None  # PartyUrnHelper.GetPartyUrnByUuid: party not found → null

    def display_name(self, party_uuid: UUID) -> str | None:
        """Register's display name of the party (Party.GetDisplayName, which A3 puts in the text
        of a "shared with" activity): the name given to `add`, else the party URN (the sandbox's
        A2 party table has no names), None when the party does not resolve."""
        with self._lock:
            if party_uuid in self._names:
                return self._names[party_uuid]
        return self.resolve(party_uuid)

    def username(self, party_uuid: UUID) -> str | None:
        """The user name of a self-identified party (`urn:altinn:party:uuid:` recipients)."""
        urn = self.resolve(party_uuid) or ""
        prefix = "urn:altinn:person:legacy-selfidentified:"
        return urn.removeprefix(prefix) if urn.startswith(prefix) else None
