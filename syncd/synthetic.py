"""Synthetic `a3` marts for the delivery tests and the benchmark (never for production).

`seed_marts` drops and re-creates schema `a3` in the given database with the tables and column
names of `dbt_project/models/marts/`, so delivery can be exercised at sizes and with crash
cases the sandbox generator does not produce on demand. `write_a2_attachments` writes the
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

ORG = "urn:altinn:organization:identifier-no:991825827"
CRASH_IDS = {
    900001: "missing_sender",
    900002: "missing_language",
    900003: "missing_recipient",
    900004: "unknown_attachment",
    900005: "notification_reminder_conflict",
}

DDL = """
drop schema if exists a3 cascade;
create schema a3;
create table a3.correspondence_eligibility (
    a2_correspondence_id int primary key, resource_id text, a2_created_at timestamptz,
    is_eligible boolean, exclusion_reason text, quarantine_reason_code text,
    eligible_from timestamptz);
create table a3.correspondences (
    altinn2_correspondence_id int primary key, resource_id text, recipient text, sender text,
    senders_reference text, message_sender text, requested_publish_time timestamptz,
    due_date_time timestamptz, property_list jsonb, ignore_reservation boolean,
    created timestamptz, is_confirmation_needed boolean, is_confidential boolean, party_id int);
create table a3.correspondence_contents (
    altinn2_correspondence_id int primary key, language text, message_title text,
    message_summary text, message_body text);
create table a3.attachments (
    altinn2_attachment_id text primary key, altinn2_correspondence_id int, resource_id text,
    sender text, file_name text, display_name text, is_encrypted boolean, checksum text,
    senders_reference text, attachment_size bigint, created timestamptz);
create table a3.correspondence_attachments (
    altinn2_correspondence_id int, altinn2_attachment_id text, created timestamptz);
create table a3.correspondence_status_events (
    altinn2_correspondence_id int, status int, status_text text, status_changed timestamptz,
    party_uuid uuid, event_user_uuid uuid);
create table a3.correspondence_delete_events (
    altinn2_correspondence_id int, event_type int, migration_status int,
    event_occurred timestamptz, party_uuid uuid);
create table a3.correspondence_notifications (
    altinn2_correspondence_id int, altinn2_notification_id int, notification_channel int,
    notification_address text, notification_sent timestamptz, is_reminder boolean);
create table a3.correspondence_forwarding_events (
    altinn2_correspondence_id int, forwarded_on_date timestamptz, forwarded_by_party_uuid uuid,
    forwarded_by_user_id int, forwarded_by_user_uuid uuid, forwarded_to_user_id int,
    forwarded_to_user_uuid uuid, forwarding_text text, forwarded_to_email_address text,
    mailbox_supplier text);
create table a3.correspondence_reply_options (
    altinn2_correspondence_id int, link_url text, link_text text);
create table a3.correspondence_external_references (
    altinn2_correspondence_id int, reference_type int, reference_value text);
create table a3.resources (
    resource_id text primary key, resource_type text, title_nb text, title_nn text,
    title_en text, has_competent_authority_orgcode text,
    has_competent_authority_organization text, has_competent_authority_name text,
    resource_references jsonb, altinn2_service_code text, altinn2_service_edition_code int,
    minimum_authentication_level int, is_delegable boolean, is_whitelisted boolean,
    migration_wait_time_minutes int);
create table a3.resource_policy_rules (
    resource_id text, subject_attribute text, subject_value text, action text);
"""

FILL = """
insert into a3.correspondence_eligibility
select i, 'ttd-migratedcorrespondence-' || (i % :services) || '-1',
       timestamptz '2020-01-01' + make_interval(mins => i), true, null, null,
       timestamptz '2020-01-01' + make_interval(mins => i)
from generate_series(1, :n) i;
insert into a3.correspondences
select i, 'ttd-migratedcorrespondence-' || (i % :services) || '-1',
       'urn:altinn:organization:identifier-no:' || (310000000 + i), :org, 'ref-' || i, 'Digdir',
       timestamptz '2020-01-01' + make_interval(mins => i), null,
       jsonb_build_object('Altinn2ArchiveUnitReference', 'AR' || i), false,
       timestamptz '2020-01-01' + make_interval(mins => i), i % 2 = 0, false, 50000000 + i
from generate_series(1, :n) i;
insert into a3.correspondence_contents
select i, 'nb', 'Melding ' || i, '', '<p>Hei ' || i || '</p>' from generate_series(1, :n) i;
insert into a3.correspondence_status_events
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
insert into a3.correspondence_delete_events
select i, 3, 13, timestamptz '2020-01-03' + make_interval(mins => i),
       '22222222-0000-4000-8000-000000000002'
from generate_series(1, :n) i where i % 7 = 0;
insert into a3.correspondence_notifications
select i, i, 0, 'varsel' || i || '@example.no',
       timestamptz '2020-01-01 00:05' + make_interval(mins => i), false
from generate_series(1, :n) i where i % 3 = 0;
insert into a3.correspondence_forwarding_events
select i, timestamptz '2020-01-04' + make_interval(mins => i),
       '22222222-0000-4000-8000-000000000002', 7, null, null, null, 'fyi', null, null
from generate_series(1, :n) i where i % 5 = 0;
insert into a3.correspondence_reply_options
select i, 'https://example.no/svar/' || i, 'Svar' from generate_series(1, :n) i where i % 6 = 0;
insert into a3.correspondence_external_references
select i, 0, 'case-' || i from generate_series(1, :n) i where i % 8 = 0;
insert into a3.attachments
select i::text, i, 'ttd-migratedcorrespondence-' || (i % :services) || '-1', :org,
       'vedlegg-' || i || '.txt', 'Vedlegg ' || i, false, md5('attachment ' || i), '',
       length('attachment ' || i), timestamptz '2020-01-01' + make_interval(mins => i)
from generate_series(1, :n) i where i % 4 = 0;
insert into a3.correspondence_attachments
select altinn2_correspondence_id, altinn2_attachment_id, created from a3.attachments;
insert into a3.resources
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
insert into a3.resource_policy_rules
select r.resource_id, 'urn:altinn:rolecode', 'utinn', a.action
from a3.resources r cross join (values ('read'), ('subscribe')) a(action)
union all
select r.resource_id, 'urn:altinn:org', 'ttd', a.action
from a3.resources r cross join (values ('write'), ('subscribe')) a(action);
"""


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
        cols = [
            r[0]
            for r in conn.execute(
                sa.text(
                    "select column_name from information_schema.columns where table_schema = "
                    "'a3' and table_name = :t order by ordinal_position"
                ),
                {"t": table},
            )
        ]
        select = ", ".join(
            "altinn2_correspondence_id + :b" if c == "altinn2_correspondence_id" else c
            for c in cols
        )
        conn.execute(
            sa.text(
                f"insert into a3.{table} select {select} from a3.{table} "
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
        sa.text("insert into a3.correspondence_attachments values (900004, '999999999', now())")
    )
    conn.execute(
        sa.text(
            "insert into a3.correspondence_notifications values "
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
