"""The expected dialog of an exposed element, computed from the warehouse (issue #5).

Choice of source (documented in the README): the expected dialog is computed from the `a3`
marts, not read back from Altinn 3. The marts are our own record of what each correspondence
is, so the check covers the whole chain (marts → A3 → Dialogporten) and catches A3-side
mapping errors such as the wrong reader on opened activities (correspondence#1952), which a
comparison with A3's own data could never see. Steps:

1. the element's mart rows (`syncd.marts.fetch_elements`, the same reader delivery uses);
2. the `MigrateCorrespondenceExt` body delivery sent (`syncd.payloads.build_correspondence`);
3. that body as an `A3Correspondence` with the A3 id from `flytt.element_state`
   (`exposure.model.from_migration_request`), acting parties resolved by `WarehouseParties`;
4. `exposure.dialog.create_dialog_request`, with `now` = the element's `available_at`.

Party URNs ("Register" in A3, a3-correspondence §4.6) come from the dbt model
`intermediate.int_recipients_mapped_to_urn` and, for self-identified users' user names,
`staging.stg_a2__parties`: persons and organisations by their URN, a self-identified user as
`urn:altinn:person:legacy-selfidentified:{username}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from exposure.dialog import (
    SELF_IDENTIFIED_PARTY_PREFIX,
    DialogRequest,
    MappingError,
    create_dialog_request,
)
from exposure.model import SELF_IDENTIFIED_RECIPIENT_PREFIX, from_migration_request
from syncd.marts import fetch_elements
from syncd.payloads import build_correspondence

PARTY_MAP = "intermediate.int_recipients_mapped_to_urn"
PARTIES = "staging.stg_a2__parties"


class ExpectedUnavailable(Exception):
    """The expected dialog cannot be computed (mart rows or a party are missing).

    `code` is a short reason (`not_in_marts`, `mapping_error`) stored as the mismatch field
    `expected`; the message holds no personal data.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _exists(conn: sa.Connection, relation: str) -> bool:
    return bool(
        conn.execute(sa.text("select to_regclass(:r) is not null"), {"r": relation}).scalar()
    )


@dataclass
class WarehouseParties:
    """Party UUID → (party URN as Register gives it, user name) from the warehouse.

    `load` fetches a batch; `resolve` answers from what was loaded (None when unknown).
    """

    urns: dict[UUID, str] = field(default_factory=dict)
    usernames: dict[UUID, str] = field(default_factory=dict)

    def load(self, conn: sa.Connection, uuids: Iterable[UUID]) -> None:
        """Fetch the parties `uuids` (those not loaded yet) in one query."""
        wanted = sorted({u for u in uuids if u.int and u not in self.urns}, key=str)
        if not wanted or not _exists(conn, PARTY_MAP):
            return
        join = (
            f"left join {PARTIES} p on p.party_uuid = m.party_uuid"
            if _exists(conn, PARTIES)
            else "left join (select null::uuid as party_uuid, null::text as username) p on false"
        )
        rows = conn.execute(
            sa.text(
                f"select distinct on (m.party_uuid) m.party_uuid, m.recipient_urn, "
                f"m.recipient_kind, p.username from {PARTY_MAP} m {join} "
                f"where m.party_uuid = any(cast(:ids as uuid[])) order by m.party_uuid"
            ),
            {"ids": [str(u) for u in wanted]},
        )
        for row in rows:
            party = UUID(str(row.party_uuid))
            if row.username:
                self.usernames[party] = str(row.username)
            if row.recipient_kind == "self_identified":
                if row.username:
                    self.urns[party] = f"{SELF_IDENTIFIED_PARTY_PREFIX}{row.username}".lower()
            elif row.recipient_urn:
                self.urns[party] = str(row.recipient_urn).lower()

    def resolve(self, party: UUID) -> str | None:
        """The party's URN, or None when the warehouse does not know it."""
        return self.urns.get(party)


def _event_parties(body: dict[str, Any]) -> set[UUID]:
    found: set[UUID] = set()
    for event in body.get("eventHistory") or []:
        if event.get("eventUserPartyUuid"):
            found.add(UUID(str(event["eventUserPartyUuid"])))
    for fwd in body.get("forwardingHistory") or []:
        if fwd.get("forwardedByPartyUuid"):
            found.add(UUID(str(fwd["forwardedByPartyUuid"])))
    recipient = str(body["correspondenceData"]["recipients"][0]).lower()
    if recipient.startswith(SELF_IDENTIFIED_RECIPIENT_PREFIX):
        found.add(UUID(recipient.removeprefix(SELF_IDENTIFIED_RECIPIENT_PREFIX)))
    return found


def expected_dialogs(
    conn: sa.Connection,
    elements: Sequence[tuple[int, UUID, datetime]],
    *,
    correspondence_base_url: str,
) -> dict[int, DialogRequest | ExpectedUnavailable]:
    """The expected dialog request for each element `(a2 id, A3 id, available_at)`.

    Returns a map A2 id → `DialogRequest`, or → `ExpectedUnavailable` when it cannot be built.
    """
    rows = fetch_elements(conn, [a2 for a2, _, _ in elements])
    bodies: dict[int, dict[str, Any]] = {}
    out: dict[int, DialogRequest | ExpectedUnavailable] = {}
    for a2, _, _ in elements:
        element = rows[a2]
        if element.correspondence is None or element.content is None:
            out[a2] = ExpectedUnavailable("not_in_marts", f"element {a2} is not in the a3 marts")
            continue
        bodies[a2] = build_correspondence(element, [])
    parties = WarehouseParties()
    parties.load(conn, (p for body in bodies.values() for p in _event_parties(body)))
    for a2, a3_id, available_at in elements:
        body = bodies.get(a2)
        if body is None:
            continue
        recipient = str(body["correspondenceData"]["recipients"][0]).lower()
        username = None
        if recipient.startswith(SELF_IDENTIFIED_RECIPIENT_PREFIX):
            username = parties.usernames.get(
                UUID(recipient.removeprefix(SELF_IDENTIFIED_RECIPIENT_PREFIX))
            )
        try:
            correspondence = from_migration_request(
                body,
                correspondence_id=a3_id,
                resolve_party=parties.resolve,
                recipient_username=username,
            )
            out[a2] = create_dialog_request(
                correspondence, now=available_at, correspondence_base_url=correspondence_base_url
            )
        except (MappingError, ValueError) as exc:
            out[a2] = ExpectedUnavailable("mapping_error", str(exc)[:300])
    return out
