"""A small, deterministic world for end-to-end exposure tests.

Builds, in one warehouse database: the `a3` marts (every mart of the dbt contract with its
columns and types, from `syncd.mart_schema`; the inserts name the columns they fill) and the
party map `flytt` reads for expected dialogs (`intermediate.int_recipients_mapped_to_urn`,
`staging.stg_a2__parties`); runs the A3 replica
(writing into the same database) with the Dialogporten replica behind it; delivers every element
to A3 through its migration API with the payload delivery builds
(`syncd.payloads.build_correspondence`) and records the A3 ids in `flytt.element_state`.

Element i (1..n): created in year YEARS[i % 4] (days back from 1 Dec, i hours later each);
service `ttd-migratedcorrespondence-1-1`, or `ttd-migratedcorrespondence-9-1` (not ready) when
i % 10 == 0; read by a person when i is even; confirmation needed when i % 3 == 0, confirmed
when i % 6 == 0; a notification when i % 4 == 0; forwarded by e-mail when i % 5 == 0;
soft-deleted when i % 7 == 0; archived when i % 9 == 0.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from flytt.control import upgrade
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from sandbox.a3.app import create_app as create_a3
from sandbox.a3.register import SandboxRegister
from sandbox.dialogporten.app import DialogportenReplica
from sandbox.faults import FaultMiddleware, Faults
from sandbox.maskinporten.app import MaskinportenReplica
from sandbox.maskinporten.app import create_app as create_maskinporten
from sandbox.maskinporten.keys import write_client_key
from sandbox.maskinporten.tokens import TokenVerifier
from sandbox.serve import serve_in_thread
from syncd.mart_schema import create_tables_sql
from syncd.marts import fetch_elements
from syncd.payloads import build_correspondence
from tests.conftest import settings_for

YEARS = (2023, 2024, 2025, 2026)
READY = "ttd-migratedcorrespondence-1-1"
NOT_READY = "ttd-migratedcorrespondence-9-1"
SENDER = "urn:altinn:organization:identifier-no:991825827"
CLIENT_ID = "flytt-expose-test"
ZERO = "00000000-0000-0000-0000-000000000000"

DDL = f"""
drop schema if exists a3 cascade;
create schema a3;
{create_tables_sql()}
create schema if not exists intermediate;
drop table if exists intermediate.int_recipients_mapped_to_urn;
create table intermediate.int_recipients_mapped_to_urn (
    party_id int, party_uuid uuid, party_type text, recipient_urn text, recipient_type text,
    recipient_kind text, invalid_reason text);
create schema if not exists staging;
drop table if exists staging.stg_a2__parties;
create table staging.stg_a2__parties (party_id int, party_uuid uuid, username text);
"""


def _mod11(digits: str, weights: tuple[int, ...]) -> int | None:
    rest = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    check = 0 if rest == 0 else 11 - rest
    return None if check == 10 else check


def org_number(seed: int) -> str:
    """A valid 9-digit organisation number (mod-11) derived from `seed`."""
    base = 31000000 + seed
    while True:
        digits = f"{base:08d}"
        check = _mod11(digits, (3, 2, 7, 6, 5, 4, 3, 2))
        if check is not None:
            return digits + str(check)
        base += 1


def person_number(seed: int) -> str:
    """A valid 11-digit national identity number (both mod-11 digits) derived from `seed`."""
    n = seed
    while True:
        stem = f"{1 + n % 28:02d}{1 + n % 12:02d}{80 + n % 20:02d}{100 + n % 400:03d}"
        k1 = _mod11(stem, (3, 7, 6, 1, 8, 9, 4, 5, 2))
        k2 = _mod11(stem + str(k1), (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)) if k1 is not None else None
        if k1 is not None and k2 is not None:
            return f"{stem}{k1}{k2}"
        n += 1


def party_uuid(kind: str, i: int) -> uuid.UUID:
    """Stable party UUID for element i's recipient (`recipient`) or reader (`reader`)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"flytt-test:{kind}:{i}")


def created_at(i: int) -> datetime:
    """A2 creation time of element i (UTC): spread over YEARS, strictly increasing with i."""
    year = YEARS[i % len(YEARS)]
    return datetime(year, 6, 1, tzinfo=UTC) + timedelta(hours=i)


@dataclass
class World:
    """A running world: settings for `flytt`, the replicas and the element ids."""

    settings: Settings
    warehouse: Warehouse
    dialogporten: DialogportenReplica
    dialogporten_url: str
    dialogporten_faults: Faults
    a3_faults: Faults
    register: SandboxRegister
    ids: list[int]
    maskinporten: MaskinportenReplica

    def dialogporten_token(self) -> str:
        return str(
            self.maskinporten.issue_token(
                "sandbox-a3",
                ["digdir:dialogporten.serviceprovider", "digdir:dialogporten.correspondence"],
                self.maskinporten.issuer or "",
            )["access_token"]
        )

    def ready_ids(self) -> list[int]:
        return [i for i in self.ids if i % 10 != 0]

    def reads(self) -> list[int]:
        """Ready elements with a read event (hence a CorrespondenceOpened activity)."""
        return [i for i in self.ready_ids() if i % 2 == 0]


def _fill(
    conn: sa.Connection, register: SandboxRegister, ids: list[int], bad_org: set[int]
) -> None:
    conn.execute(sa.text(DDL))
    for i in ids:
        created = created_at(i)
        recipient_uuid, reader_uuid = party_uuid("recipient", i), party_uuid("reader", i)
        org = org_number(i)
        if i in bad_org:  # wrong check digit: Dialogporten refuses the party
            org = org[:8] + str((int(org[8]) + 1) % 10)
        recipient = f"urn:altinn:organization:identifier-no:{org}"
        reader = f"urn:altinn:person:identifier-no:{person_number(i)}"
        register.add(reader_uuid, reader)
        register.add(recipient_uuid, recipient)
        for party, urn, kind in (
            (recipient_uuid, recipient, "organization"),
            (reader_uuid, reader, "person"),
        ):
            conn.execute(
                sa.text(
                    "insert into intermediate.int_recipients_mapped_to_urn values "
                    "(:id, :uuid, :kind, :urn, null, :kind, null)"
                ),
                {"id": i * 10 + len(kind), "uuid": party, "kind": kind, "urn": urn},
            )
        conn.execute(
            sa.text(
                "insert into a3.correspondences (altinn2_correspondence_id, resource_id, "
                "recipient, sender, senders_reference, message_sender, requested_publish_time, "
                "due_date_time, property_list, ignore_reservation, created, "
                "is_confirmation_needed, is_confidential, party_id) values (:id, :res, "
                ":recipient, :sender, :ref, 'Digitaliseringsdirektoratet', :created, :due, "
                ":props, null, :created, :confirm, false, :id)"
            ),
            {
                "id": i,
                "res": NOT_READY if i % 10 == 0 else READY,
                "recipient": recipient,
                "sender": SENDER,
                "ref": f"ref-{i}",
                "created": created,
                "due": created + timedelta(days=30),
                "props": f'{{"Altinn2ArchiveUnitReference": "AR{i}"}}',
                "confirm": i % 3 == 0,
            },
        )
        conn.execute(
            sa.text(
                "insert into a3.correspondence_contents (altinn2_correspondence_id, language, "
                "message_title, message_summary, message_body) values (:id, 'nb', :title, "
                ":summary, '<p>Hei</p>')"
            ),
            {"id": i, "title": f"Melding {i}", "summary": "<p>Kort <b>sammendrag</b></p>"},
        )
        events = [(0, created, ZERO), (2, created + timedelta(minutes=1), ZERO)]
        if i % 2 == 0:
            events.append((4, created + timedelta(days=1), str(reader_uuid)))
        if i % 6 == 0:
            events.append((6, created + timedelta(days=2), str(reader_uuid)))
        if i % 9 == 0:
            events.append((9, created + timedelta(days=3), str(reader_uuid)))
        for status, at, actor in events:
            conn.execute(
                sa.text(
                    "insert into a3.correspondence_status_events (altinn2_correspondence_id, "
                    "status, status_text, status_changed, party_uuid, event_user_uuid) "
                    "values (:id, :status, '', :at, :party, null)"
                ),
                {"id": i, "status": status, "at": at, "party": actor},
            )
        if i % 7 == 0:
            conn.execute(
                sa.text(
                    "insert into a3.correspondence_delete_events (altinn2_correspondence_id, "
                    "event_type, migration_status, event_occurred, party_uuid) "
                    "values (:id, 3, 13, :at, :p)"
                ),
                {"id": i, "at": created + timedelta(days=4), "p": str(reader_uuid)},
            )
        if i % 4 == 0:
            conn.execute(
                sa.text(
                    "insert into a3.correspondence_notifications (altinn2_correspondence_id, "
                    "altinn2_notification_id, notification_channel, notification_address, "
                    "notification_sent, is_reminder) values (:id, :id, 0, :address, :at, false)"
                ),
                {"id": i, "address": f"post{i}@example.no", "at": created + timedelta(hours=1)},
            )
        if i % 5 == 0:
            conn.execute(
                sa.text(
                    "insert into a3.correspondence_forwarding_events (altinn2_correspondence_id, "
                    "forwarded_on_date, forwarded_by_party_uuid, forwarded_by_user_id, "
                    "forwarding_text, forwarded_to_email_address) "
                    "values (:id, :at, :p, 7, 'til info', :to)"
                ),
                {
                    "id": i,
                    "at": created + timedelta(days=5),
                    "p": str(reader_uuid),
                    "to": f"kollega{i}@example.no",
                },
            )


def _migrate(warehouse: Warehouse, a3_url: str, token: str, ids: list[int]) -> None:
    with warehouse.engine.connect() as conn:
        rows = fetch_elements(conn, ids)
    with httpx.Client(base_url=a3_url, headers={"Authorization": f"Bearer {token}"}) as client:
        a3_ids = {}
        for i in ids:
            answer = client.post(
                "/correspondence/api/v1/migration/correspondence",
                json=build_correspondence(rows[i], []),
                timeout=30,
            )
            answer.raise_for_status()
            a3_ids[i] = answer.json()["correspondenceId"]
    with warehouse.engine.begin() as conn:
        for i in ids:
            conn.execute(
                sa.text(
                    "insert into flytt.element_state (a2_correspondence_id, resource_id, "
                    "a2_created_at, state, a3_correspondence_id, migrated_at) "
                    "values (:id, :res, :created, 'migrated', :a3, now())"
                ),
                {
                    "id": i,
                    "res": NOT_READY if i % 10 == 0 else READY,
                    "created": created_at(i),
                    "a3": a3_ids[i],
                },
            )


@contextmanager
def world(
    warehouse: Warehouse,
    data_dir: Path,
    n: int,
    *,
    bad_org: set[int] | None = None,
    **dialogporten: Any,
) -> Iterator[World]:
    """Build and run a world with elements 1..n (see the module docstring); the recipients of
    the elements in `bad_org` get an organisation number with a wrong check digit."""
    upgrade(warehouse)
    ids = list(range(1, n + 1))
    register = SandboxRegister()
    with warehouse.engine.begin() as conn:
        _fill(conn, register, ids, bad_org or set())
    with ExitStack() as stack:
        mp = MaskinportenReplica()
        mp_url = stack.enter_context(serve_in_thread(create_maskinporten(mp)))
        mp.issuer = f"{mp_url}/"
        key_file = data_dir / f"client-{uuid.uuid4().hex[:6]}.pem"
        mp.register_client(CLIENT_ID, write_client_key(key_file))
        verifier = TokenVerifier(mp.public_key_pem, mp.issuer)
        dp = DialogportenReplica(verifier=verifier, **dialogporten)
        dp_faults = Faults()
        dp_url = stack.enter_context(serve_in_thread(FaultMiddleware(dp.app(), dp_faults)))
        faults = Faults()
        holder: dict[str, World] = {}
        a3_app = create_a3(
            warehouse.sqlalchemy_url(),
            verifier,
            dialogporten_base_url=dp_url,
            dialogporten_token=lambda: holder["world"].dialogporten_token(),
            register=register,
        )
        a3_url = stack.enter_context(serve_in_thread(FaultMiddleware(a3_app, faults)))
        settings = settings_for(
            warehouse,
            data_dir,
            a3_base_url=a3_url,
            dialogporten_base_url=dp_url,
            maskinporten_token_url=f"{mp_url}/token",
            maskinporten_client_id=CLIENT_ID,
            maskinporten_key_file=key_file,
            ready_services=[READY],
            concurrency=4,
            expose_batch_size=5,
            batch_size=50,
        )
        w = World(settings, warehouse, dp, dp_url, dp_faults, faults, register, ids, mp)
        holder["world"] = w
        migrate_token = str(
            mp.issue_token("delivery", ["altinn:correspondence.migrate"], mp.issuer)["access_token"]
        )
        _migrate(warehouse, a3_url, migrate_token, ids)
        yield w
