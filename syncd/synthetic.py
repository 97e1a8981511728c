"""Synthetic `a3` marts for the delivery tests and the benchmark (never for production).

`seed_marts` drops and re-creates schema `a3` in the given database with every mart of the dbt
contract, with its columns and types (`DDL`, derived by `syncd.mart_schema`; the inserts name
only the columns they fill, the rest stay null), so delivery can be exercised at sizes and with
crash cases the sandbox generator does not produce on demand. `write_a2_attachments` writes the
matching attachment bytes into a SQLite A2 source (contract table
`a2_correspondence_attachment`) that `loaders.attachments.iter_attachment_bytes` reads;
`attachment_bytes` yields the same bytes without a source.

Element i (1..n) belongs to service `ttd-migratedcorrespondence-<i % services>-1`, was created
on 2020-01-01 + i minutes, and has: events Initialized + Published (+ Read when i is even),
a notification when i % 3 == 0, a forwarding event when i % 5 == 0, a soft-delete when
i % 7 == 0, one attachment when i % 4 == 0. `crash` extra elements (ids 900001…) carry the
crash cases of a3-correspondence §1.5.3 and must be quarantined.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from syncd.mart_schema import columns, create_tables_sql

ORG = "urn:altinn:organization:identifier-no:991825827"
CRASH_IDS = {
    900001: "missing_sender",
    900002: "missing_language",
    900003: "missing_recipient",
    900004: "unknown_attachment",
    900005: "notification_reminder_conflict",
}

_FILLED = {
    "correspondence_eligibility": (
        "a2_correspondence_id, resource_id, a2_created_at, is_eligible, exclusion_reason, "
        "quarantine_reason_code, eligible_from"
    ),
    "correspondences": (
        "altinn2_correspondence_id, resource_id, recipient, sender, senders_reference, "
        "message_sender, requested_publish_time, due_date_time, property_list, "
        "ignore_reservation, created, is_confirmation_needed, is_confidential, party_id"
    ),
    "correspondence_contents": (
        "altinn2_correspondence_id, language, message_title, message_summary, message_body"
    ),
    "correspondence_status_events": (
        "altinn2_correspondence_id, status, status_text, status_changed, party_uuid, "
        "event_user_uuid"
    ),
    "correspondence_delete_events": (
        "altinn2_correspondence_id, event_type, migration_status, event_occurred, party_uuid"
    ),
    "correspondence_notifications": (
        "altinn2_correspondence_id, altinn2_notification_id, notification_channel, "
        "notification_address, notification_sent, is_reminder"
    ),
    "correspondence_forwarding_events": (
        "altinn2_correspondence_id, forwarded_on_date, forwarded_by_party_uuid, "
        "forwarded_by_user_id, forwarded_by_user_uuid, forwarded_to_user_id, "
        "forwarded_to_user_uuid, forwarding_text, forwarded_to_email_address, mailbox_supplier"
    ),
    "correspondence_reply_options": "altinn2_correspondence_id, link_url, link_text",
    "correspondence_external_references": (
        "altinn2_correspondence_id, reference_type, reference_value"
    ),
    "attachments": (
        "altinn2_attachment_id, altinn2_correspondence_id, resource_id, sender, file_name, "
        "display_name, is_encrypted, checksum, senders_reference, attachment_size, created"
    ),
    "correspondence_attachments": "altinn2_correspondence_id, altinn2_attachment_id, created",
    "resources": (
        "resource_id, resource_type, title_nb, title_nn, title_en, "
        "has_competent_authority_orgcode, has_competent_authority_organization, "
        "has_competent_authority_name, resource_references, altinn2_service_code, "
        "altinn2_service_edition_code, minimum_authentication_level, is_delegable, "
        "is_whitelisted, migration_wait_time_minutes"
    ),
    "resource_policy_rules": "resource_id, subject_attribute, subject_value, action",
}
FILLED = {mart: tuple(c.strip() for c in cols.split(",")) for mart, cols in _FILLED.items()}
"""The columns the synthetic data fills, per mart, in the order the inserts give them. They come
first in the synthetic tables (`create_tables_sql(leading=...)`), so a test may still insert
positionally; every other contract column follows and stays null."""

DDL = f"""
drop schema if exists a3 cascade;
create schema a3;
{create_tables_sql(leading=FILLED)}"""
"""Schema `a3` with every mart of the dbt contract (`syncd.mart_schema`), empty."""

_FILL = """
insert into a3.correspondence_eligibility ({correspondence_eligibility})
select i, 'ttd-migratedcorrespondence-' || (i % :services) || '-1',
       timestamptz '2020-01-01' + make_interval(mins => i), true, null, null,
       timestamptz '2020-01-01' + make_interval(mins => i)
from generate_series(1, :n) i;
insert into a3.correspondences ({correspondences})
select i, 'ttd-migratedcorrespondence-' || (i % :services) || '-1',
       'urn:altinn:organization:identifier-no:' || (310000000 + i), :org, 'ref-' || i, 'Digdir',
       timestamptz '2020-01-01' + make_interval(mins => i), null,
       jsonb_build_object('Altinn2ArchiveUnitReference', 'AR' || i), false,
       timestamptz '2020-01-01' + make_interval(mins => i), i % 2 = 0, false, 50000000 + i
from generate_series(1, :n) i;
insert into a3.correspondence_contents ({correspondence_contents})
select i, 'nb', 'Melding ' || i, '', '<p>Hei ' || i || '</p>' from generate_series(1, :n) i;
insert into a3.correspondence_status_events ({correspondence_status_events})
select i, 0, 'Correspondence Created in Altinn 2',
       timestamptz '2020-01-01' + make_interval(mins => i),
       '00000000-0000-0000-0000-000000000000'::uuid, null::uuid from generate_series(1, :n) i
union all
select i, 2, 'Correspondence Published in Altinn 2',
       timestamptz '2020-01-01' + make_interval(mins => i),
       '11111111-0000-4000-8000-000000000001'::uuid, null from generate_series(1, :n) i
union all
select i, 4, 'Read', timestamptz '2020-01-02' + make_interval(mins => i),
       '22222222-0000-4000-8000-000000000002', null
from generate_series(1, :n) i where i % 2 = 0;
insert into a3.correspondence_delete_events ({correspondence_delete_events})
select i, 3, 13, timestamptz '2020-01-03' + make_interval(mins => i),
       '22222222-0000-4000-8000-000000000002'
from generate_series(1, :n) i where i % 7 = 0;
insert into a3.correspondence_notifications ({correspondence_notifications})
select i, i, 0, 'varsel' || i || '@example.no',
       timestamptz '2020-01-01 00:05' + make_interval(mins => i), false
from generate_series(1, :n) i where i % 3 = 0;
insert into a3.correspondence_forwarding_events ({correspondence_forwarding_events})
select i, timestamptz '2020-01-04' + make_interval(mins => i),
       '22222222-0000-4000-8000-000000000002', 7, null, null, null, 'fyi', null, null
from generate_series(1, :n) i where i % 5 = 0;
insert into a3.correspondence_reply_options ({correspondence_reply_options})
select i, 'https://example.no/svar/' || i, 'Svar' from generate_series(1, :n) i where i % 6 = 0;
insert into a3.correspondence_external_references ({correspondence_external_references})
select i, 0, 'case-' || i from generate_series(1, :n) i where i % 8 = 0;
insert into a3.attachments ({attachments})
select i::text, i, 'ttd-migratedcorrespondence-' || (i % :services) || '-1', :org,
       'vedlegg-' || i || '.txt', 'Vedlegg ' || i, false, md5('attachment ' || i), '',
       length('attachment ' || i), timestamptz '2020-01-01' + make_interval(mins => i)
from generate_series(1, :n) i where i % 4 = 0;
insert into a3.correspondence_attachments ({correspondence_attachments})
select altinn2_correspondence_id, altinn2_attachment_id, created from a3.attachments;
insert into a3.resources ({resources})
select 'ttd-migratedcorrespondence-' || s || '-1', 'CorrespondenceService',
       'Tjeneste ' || s || ' - migrated from Altinn 2',
       'Teneste ' || s || ' - migrated from Altinn 2',
       'Service ' || s || ' - migrated from Altinn 2', 'ttd', '991825827', 'Testdepartementet',
       jsonb_build_array(
           jsonb_build_object('referenceSource', 'Altinn2', 'referenceType', 'ServiceCode',
                              'reference', s::text),
           jsonb_build_object('referenceSource', 'Altinn2', 'referenceType',
                              'ServiceEditionCode', 'reference', '1')),
       s::text, 1, 2, true, true, 0
from generate_series(0, :services - 1) s;
insert into a3.resource_policy_rules ({resource_policy_rules})
select r.resource_id, 'urn:altinn:rolecode', 'utinn', a.action
from a3.resources r cross join (values ('read'), ('subscribe')) a(action)
union all
select r.resource_id, 'urn:altinn:org', 'ttd', a.action
from a3.resources r cross join (values ('write'), ('subscribe')) a(action);
"""
FILL = _FILL.format(**{mart: ", ".join(cols) for mart, cols in FILLED.items()})
"""The synthetic rows (bind parameters `n`, `services`, `org`)."""


def attachment_data(a2_attachment_id: str) -> bytes:
    """The bytes of the seeded attachment with A2 id `<i>`: `attachment <i>`."""
    return f"attachment {a2_attachment_id}".encode()


def seed_marts(engine: sa.Engine, n: int, *, services: int = 3, crash: bool = True) -> int:
    """Create and fill the marts with `n` eligible elements (+ the crash cases).

    Returns:
        The number of elements that should reach A3 (n).
    """
    with engine.begin() as conn:
        conn.execute(sa.text(DDL))
        conn.execute(sa.text(FILL), {"n": n, "services": services, "org": ORG})
        if crash:
            _crash_cases(conn)
    return n


def _crash_cases(conn: sa.Connection) -> None:
    base = 900000
    conn.execute(
        sa.text(
            "insert into a3.correspondence_eligibility select a2_correspondence_id + :b, "
            "resource_id, a2_created_at, true, null, null, eligible_from "
            "from a3.correspondence_eligibility "
            "where a2_correspondence_id between 1 and 5"
        ),
        {"b": base},
    )
    for table in ("correspondences", "correspondence_contents", "correspondence_status_events"):
        cols = columns(table)
        names = ", ".join(cols)
        select = ", ".join(
            "altinn2_correspondence_id + :b" if c == "altinn2_correspondence_id" else c
            for c in cols
        )
        conn.execute(
            sa.text(
                f"insert into a3.{table} ({names}) select {select} from a3.{table} "
                "where altinn2_correspondence_id between 1 and 5"
            ),
            {"b": base},
        )
    conn.execute(
        sa.text(
            "update a3.correspondences set sender = null where altinn2_correspondence_id = 900001"
        )
    )
    conn.execute(
        sa.text(
            "update a3.correspondence_contents set language = null "
            "where altinn2_correspondence_id = 900002"
        )
    )
    conn.execute(
        sa.text(
            "update a3.correspondences set recipient = null "
            "where altinn2_correspondence_id = 900003"
        )
    )
    conn.execute(
        sa.text(
            "insert into a3.correspondence_attachments (altinn2_correspondence_id, "
            "altinn2_attachment_id, created) values (900004, '999999999', now())"
        )
    )
    conn.execute(
        sa.text(
            "insert into a3.correspondence_notifications (altinn2_correspondence_id, "
            "altinn2_notification_id, notification_channel, notification_address, "
            "notification_sent, is_reminder) values "
            "(900005, 1, 0, 'a@example.no', timestamptz '2020-01-01 10:00:00.1', false), "
            "(900005, 1, 0, 'a@example.no', timestamptz '2020-01-01 10:00:00.4', true)"
        )
    )


def attachment_bytes(
    settings: Any, a2_attachment_id: Any, chunk_size: int = 1 << 20
) -> Iterator[bytes]:
    """Seeded stand-in for `loaders.attachments.iter_attachment_bytes` (two chunks)."""
    data = attachment_data(str(a2_attachment_id))
    yield data[:4]
    yield data[4:]


def write_a2_attachments(path: Any, n: int) -> str:
    """Write the seeded attachments' bytes into a SQLite A2 source (contract table
    `a2_correspondence_attachment`, loaders/contract.py) and return its SQLAlchemy URL."""
    import sqlite3

    con = sqlite3.connect(path)
    try:
        con.execute("drop table if exists a2_correspondence_attachment")
        con.execute(
            "create table a2_correspondence_attachment (attachment_id integer primary key, "
            "se_reportee_element_id integer not null, attachment_name text, file_name text, "
            "data blob, file_size integer, is_encrypted integer, senders_reference text)"
        )
        con.executemany(
            "insert into a2_correspondence_attachment values (?, ?, ?, ?, ?, ?, 0, '')",
            [
                (
                    i,
                    i,
                    f"Vedlegg {i}",
                    f"vedlegg-{i}.txt",
                    attachment_data(str(i)),
                    len(attachment_data(str(i))),
                )
                for i in range(4, n + 1, 4)
            ],
        )
        con.commit()
    finally:
        con.close()
    return f"sqlite:///{path}"
