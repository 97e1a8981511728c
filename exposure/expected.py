"""The expected dialog of an exposed element, computed from the warehouse (issue #5).

Choice of source (documented in the README): the expected dialog is computed from the `a3`
marts, not read back from Altinn 3. The marts are our own record of what each correspondence
is, so the check covers the whole chain (marts → A3 → Dialogporten) and catches A3-side
mapping errors such as the wrong reader on opened activities (correspondence#1952), which a
comparison with A3's own data could never see. Steps:

1. the element's mart rows (`syncd.marts.fetch_readable`, the same reader delivery uses; an
   element whose rows cannot be read is `unreadable_row`, the others go on);
2. the `MigrateCorrespondenceExt` body delivery sent (`syncd.payloads.build_correspondence`);
3. that body as an `A3Correspondence` with the A3 id from `flytt.element_state`
   (`exposure.model.from_migration_request`), acting parties resolved by `WarehouseParties`;
4. `exposure.dialog.create_dialog_request`, with `now` = the element's `available_at`.

Party URNs ("Register" in A3, a3-correspondence §4.6) come from the dbt model
`intermediate.int_recipients_mapped_to_urn` and, for self-identified users' user names,
`staging.stg_a2__parties`: persons and organisations by their URN, a self-identified user as
`urn:altinn:person:legacy-selfidentified:{username}`.

`preflight` uses the same computation before make-available, to stop elements that real A3
would fail on (an unresolvable party: make-available reports an error; a text over
Dialogporten's limits: Dialogporten answers 400 and A3 reports `ok: true` with an empty dialog
id) instead of sending them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from exposure.dialog import (
    DESCRIPTION_LIMIT,
    SELF_IDENTIFIED_PARTY_PREFIX,
    TEXT_LIMIT,
    DialogRequest,
    MappingError,
    create_dialog_request,
)
from exposure.model import SELF_IDENTIFIED_RECIPIENT_PREFIX, from_migration_request
from syncd.marts import describe_error, fetch_readable
from syncd.payloads import build_correspondence, utf16_length

PARTY_MAP = "intermediate.int_recipients_mapped_to_urn"
PARTIES = "staging.stg_a2__parties"


class ExpectedUnavailable(Exception):
    """The expected dialog cannot be computed (mart rows or a party are missing).

    `code` is a short reason stored as the mismatch field `expected`: `not_in_marts`,
    `unreadable_row` (the mart rows cannot be read, e.g. a BC timestamp), `payload_error`,
    `party_not_resolvable`, `purged` (the `MappingError` codes) or `mapping_error` (any other
    value the mapping refuses); the message holds no personal data.
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
    `known` is False when the warehouse has no party model (`PARTY_MAP`) at all: then an
    unresolved party says nothing about Register.
    """

    urns: dict[UUID, str] = field(default_factory=dict)
    usernames: dict[UUID, str] = field(default_factory=dict)
    known: bool = True

    def load(self, conn: sa.Connection, uuids: Iterable[UUID]) -> None:
        """Fetch the parties `uuids` (those not loaded yet) in one query."""
        wanted = sorted({u for u in uuids if u.int and u not in self.urns}, key=str)
        if not wanted:
            return
        if not _exists(conn, PARTY_MAP):
            self.known = False
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


def _expected(
    conn: sa.Connection,
    elements: Sequence[tuple[int, UUID, datetime]],
    correspondence_base_url: str,
) -> tuple[dict[int, DialogRequest | ExpectedUnavailable], WarehouseParties]:
    rows, unreadable = fetch_readable(conn, [a2 for a2, _, _ in elements])
    bodies: dict[int, dict[str, Any]] = {}
    out: dict[int, DialogRequest | ExpectedUnavailable] = {
        a2: ExpectedUnavailable("unreadable_row", detail) for a2, detail in unreadable.items()
    }
    for a2, _, _ in elements:
        element = rows.get(a2)
        if element is None:
            continue
        if element.correspondence is None or element.content is None:
            out[a2] = ExpectedUnavailable("not_in_marts", f"element {a2} is not in the a3 marts")
            continue
        try:
            bodies[a2] = build_correspondence(element, [])
        except Exception as exc:  # one element's data never stops the others
            out[a2] = ExpectedUnavailable("payload_error", describe_error(exc))
    parties = WarehouseParties()
    parties.load(conn, (p for body in bodies.values() for p in _event_parties(body)))
    for a2, a3_id, available_at in elements:
        body = bodies.get(a2)
        if body is None:
            continue
        try:
            recipient = str(body["correspondenceData"]["recipients"][0]).lower()
            username = None
            if recipient.startswith(SELF_IDENTIFIED_RECIPIENT_PREFIX):
                username = parties.usernames.get(
                    UUID(recipient.removeprefix(SELF_IDENTIFIED_RECIPIENT_PREFIX))
                )
            correspondence = from_migration_request(
                body,
                correspondence_id=a3_id,
                resolve_party=parties.resolve,
                recipient_username=username,
            )
            out[a2] = create_dialog_request(
                correspondence, now=available_at, correspondence_base_url=correspondence_base_url
            )
        except MappingError as exc:
            out[a2] = ExpectedUnavailable(exc.code, str(exc)[:300])
        except Exception as exc:  # a value the mapping refuses: this element only
            out[a2] = ExpectedUnavailable("mapping_error", describe_error(exc))
    return out, parties


def expected_dialogs(
    conn: sa.Connection,
    elements: Sequence[tuple[int, UUID, datetime]],
    *,
    correspondence_base_url: str,
) -> dict[int, DialogRequest | ExpectedUnavailable]:
    """The expected dialog request for each element `(a2 id, A3 id, available_at)`.

    Returns a map A2 id → `DialogRequest`, or → `ExpectedUnavailable` when it cannot be built.
    Every element is in the map; one element's bad data never keeps the others from theirs.

    Raises:
        sqlalchemy.exc.OperationalError / InterfaceError: the warehouse connection failed.
    """
    return _expected(conn, elements, correspondence_base_url)[0]


@dataclass(frozen=True)
class Blocker:
    """Why real A3 would not make an element available: `code` (a reason code shown by
    `flytt report`) and `detail` (no personal data)."""

    code: str
    detail: str


def _texts(field_value: dict[str, Any] | None) -> list[str]:
    return [str(v.get("value", "")) for v in (field_value or {}).get("value") or []]


def text_over_limits(body: dict[str, Any]) -> Blocker | None:
    """The first text of a `CreateDialog` body over Dialogporten's limits with the correspondence
    scope, or None.

    Limits (dialogporten.md §1.5, §5 item 8): title, summary and senderName 512 per
    localization (`dialog_title_too_long` for the title, `dialog_text_too_long` for the
    others), an activity description 4095 (`dialog_text_too_long`); lengths in UTF-16 units,
    as .NET's `MaximumLength` counts them. A3 cuts none of them (CreateDialogRequestMapper), so
    a longer text makes Dialogporten answer 400.
    """
    content = body.get("content") or {}
    for name in ("title", "summary", "senderName"):
        for text in _texts(content.get(name)):
            if utf16_length(text) > TEXT_LIMIT:
                code = "dialog_title_too_long" if name == "title" else "dialog_text_too_long"
                return Blocker(
                    code, f"dialog {name} has {utf16_length(text)} UTF-16 units (max {TEXT_LIMIT})"
                )
    for activity in body.get("activities") or []:
        for item in activity.get("description") or []:
            length = utf16_length(str(item.get("value", "")))
            if length > DESCRIPTION_LIMIT:
                return Blocker(
                    "dialog_text_too_long",
                    f"{activity.get('type')} activity description has {length} UTF-16 units "
                    f"(max {DESCRIPTION_LIMIT})",
                )
    return None


def preflight(
    conn: sa.Connection,
    elements: Sequence[tuple[int, UUID]],
    *,
    now: datetime,
    correspondence_base_url: str,
) -> dict[int, Blocker]:
    """The elements `(a2 id, A3 id)` that real A3 would not make available, with the reason.

    Computed like the expected dialog (`expected_dialogs` with `now` as the availability time),
    only for what A3 itself would refuse: `party_not_resolvable` (recipient or first
    reader/confirmer unknown to the warehouse's copy of Register; only when the warehouse has
    the party model), `purged`, and the text limits of `text_over_limits`. An element whose
    expected dialog cannot be computed at all (`not_in_marts`, `unreadable_row`, ...) is not
    blocked: A3 holds its own copy, and verification reports the gap as the field `expected`.
    Elements not in the result can be sent.

    Raises:
        sqlalchemy.exc.OperationalError / InterfaceError: the warehouse connection failed.
    """
    expected, parties = _expected(
        conn, [(a2, a3, now) for a2, a3 in elements], correspondence_base_url
    )
    blocked: dict[int, Blocker] = {}
    for a2, result in expected.items():
        if isinstance(result, ExpectedUnavailable):
            if result.code == "purged" or (result.code == "party_not_resolvable" and parties.known):
                blocked[a2] = Blocker(result.code, str(result))
        else:
            over = text_over_limits(result.body)
            if over is not None:
                blocked[a2] = over
    return blocked
