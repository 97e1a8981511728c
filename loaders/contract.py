"""The A2 source contract: the tables and columns flytt reads from Altinn 2, and how each is loaded.

The real A2 database (SQL Server) is closed, so this module *defines* what flytt expects to read,
following the staging-schema proposal in `reference/a2-model.md` §8 (issue #3). It holds:

* `metadata`: SQLAlchemy Core `MetaData` with one `Table` per contract table. Column names are
  exactly those of a2-model §8; types are portable SQLAlchemy types that render as the §8 SQL
  Server types under the `mssql` dialect (`DATETIME2(7)`, `NVARCHAR(n)`/`NVARCHAR(max)`,
  `VARBINARY(max)`, `UNIQUEIDENTIFIER`, `BIT`, `TINYINT`/`SMALLINT`). Every column carries a
  `comment` with its meaning and public evidence; our own deductions are marked `[inferred]`.
* `LOAD_CONTRACTS`: one `LoadContract` per table (primary key, change cursor, mutable or
  append-only, write disposition, lag, NULL-cursor policy, binary handling). `loaders/pipeline.py`
  reads them; `loaders/dbt_sources.py` renders both into dbt's `_a2__sources.yml`.

Time: every `datetime2` column is a *naive* Norwegian local time (Europe/Oslo wall clock, no
offset), as A2 stores it; the raw layer keeps it naive and staging converts it to UTC.

Change cursors: §8 has none, but incremental loading needs one. Every mutable table therefore
gets `row_version bigint` **[inferred]**: a database-wide, monotonically increasing number that
changes on every insert and update (SQL Server `rowversion` cast to `bigint`; the sandbox
maintains it itself). Append-only tables are read on their growing id.

Late commits: both cursors are assigned when a row is *written*, not when its transaction
commits (SQL Server hands out `rowversion` and identity values at write time). A transaction
that stays open while others commit therefore becomes visible with a cursor value *below* the
high-water mark of an earlier load, and a plain incremental read never sees it (dlt-hub/dlt#2269;
elt-practice §3 P6, measured in §6.5). Every table therefore re-reads a lag window below its
high-water mark on each load: `MUTABLE_LAG` row versions on mutable tables, `APPEND_ONLY_LAG`
ids on append-only (event) tables. The loader merges on the primary key and drops re-read rows
that `a2_raw` already holds unchanged, so the window costs a bounded re-read and never doubles
a row or rewrites it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql

CONTRACT_VERSION = "1"
"""Bumped when a table or column is added, renamed or changes type."""

metadata = sa.MetaData()
"""The contract tables (names exactly as in a2-model §8)."""

# --- portable types that render as the §8 SQL Server types ---------------------------------
INT = sa.Integer()
BIGINT = sa.BigInteger()
TINYINT = sa.SmallInteger().with_variant(mssql.TINYINT(), "mssql")
SMALLINT = sa.SmallInteger()
BIT = sa.Boolean()
DATETIME2 = (
    sa.DateTime(timezone=False)
    .with_variant(mssql.DATETIME2(7), "mssql")
    .with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
)
UUID = sa.Uuid()
BINARY = (
    sa.LargeBinary()
    .with_variant(mssql.VARBINARY(), "mssql")
    .with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
)
NTEXT = (
    sa.UnicodeText()
    .with_variant(mssql.NVARCHAR(), "mssql")
    .with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
)
XML = (
    sa.UnicodeText()
    .with_variant(mssql.XML(), "mssql")
    .with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
)


def nvarchar(length: int) -> sa.types.TypeEngine[str]:
    """`nvarchar(length)`: Unicode text with a public length limit."""
    return sa.Unicode(length)


def varchar(length: int) -> sa.types.TypeEngine[str]:
    """`varchar(length)`: ASCII codes (service codes, role codes)."""
    return sa.String(length)


def char(length: int) -> sa.types.TypeEngine[str]:
    """`char(length)`: fixed-width digit strings (org numbers, national identity numbers)."""
    return sa.CHAR(length)


def col(
    name: str,
    type_: sa.types.TypeEngine,
    doc: str,
    *,
    pk: bool = False,
    nullable: bool = True,
    inferred: bool = False,
    unique: bool = False,
) -> sa.Column:
    """A contract column whose `comment` is `doc` (meaning + evidence), `[inferred]` appended."""
    comment = f"{doc} [inferred]" if inferred and "[inferred]" not in doc else doc
    return sa.Column(
        name,
        type_,
        primary_key=pk,
        nullable=False if pk else nullable,
        unique=unique,
        comment=comment,
        autoincrement=False,
    )


def row_version() -> sa.Column:
    """The change cursor of a mutable table (not in §8; needed for incremental loading)."""
    return col(
        "row_version",
        BIGINT,
        "Change cursor: database-wide monotonically increasing number, new on every insert and "
        "update (SQL Server rowversion cast to bigint; the sandbox keeps its own counter). "
        "Added by flytt for incremental loading; a2-model §8 has no change column",
        nullable=False,
        inferred=True,
    )


def src_db() -> sa.Column:
    """`src_db`: which A2 database the row was read from."""
    return col(
        "src_db",
        TINYINT,
        "Source database of the row: 0 = ServiceEngine, 1 = Archive (a2-model §1.1, §8; S7 "
        "Source column)",
        nullable=False,
    )


def _table(name: str, comment: str, *columns: sa.Column) -> sa.Table:
    return sa.Table(name, metadata, *columns, comment=comment, mysql_charset="utf8mb4")


SERVICE_CODE = "A2 ExternalServiceCode (a2-model §1.3, §8.2; S1)"
EDITION_CODE = "A2 ExternalServiceEditionCode (a2-model §1.3, §8.2; S1, S15 ≤6 digits)"

# --- 1. service owners ----------------------------------------------------------------------
a2_service_owner = _table(
    "a2_service_owner",
    "Service owners (agencies that send correspondences). a2-model §8.1",
    col(
        "service_owner_id",
        INT,
        "Service owner id (a2-model §8.1; S4 CorrespondenceBE.ServiceOwnerID)",
        pk=True,
    ),
    col(
        "service_owner_code",
        varchar(10),
        "Service owner code, lower-cased into A3 resource ids "
        "(a2-model §8.1, §3.1; S10 AvailableService.ServiceOwnerCode)",
        nullable=False,
        unique=True,
    ),
    col("name", nvarchar(255), "Service owner name (a2-model §8.1; S10 ServiceOwnerName)"),
    col(
        "org_number",
        char(9),
        "Organisation number of the service owner; becomes the A3 sender (a2-model §8.1, §7; S5)",
    ),
    col("short_name", nvarchar(50), "Short name, used as SMS sender (a2-model §8.1; S16 22-12)"),
    row_version(),
)

# --- 2. service editions --------------------------------------------------------------------
a2_service_edition = _table(
    "a2_service_edition",
    "Service editions (ServiceCode + ServiceEditionCode); each becomes one A3 resource "
    "<org>-migratedcorrespondence-<code>-<edition>. a2-model §8.2, §3.1",
    col("service_code", varchar(20), SERVICE_CODE, pk=True),
    col("service_edition_code", INT, EDITION_CODE, pk=True),
    col(
        "service_edition_version_id",
        INT,
        "Current ServiceEditionVersionId (a2-model §8.2; S10, S16 21-9)",
        nullable=False,
    ),
    col("service_owner_id", INT, "Owning service owner (a2-model §8.2; S10)", nullable=False),
    col("service_name", nvarchar(255), "Service name (a2-model §8.2; S10 ServiceName)"),
    col(
        "edition_name", nvarchar(255), "Edition name (a2-model §8.2; S10 ServiceEditionVersionName)"
    ),
    col("service_type", TINYINT, "ServiceType: 1 = Correspondence (a2-model §1.8, §8.2; S10)"),
    col("valid_from", DATETIME2, "Valid from, Norwegian local time (a2-model §8.2; S10, S15)"),
    col("valid_to", DATETIME2, "Valid to, Norwegian local time (a2-model §8.2; S10, S15)"),
    col("security_level", TINYINT, "Security level 0-4 (a2-model §8.2; S15 Sikkerhetsnivå)"),
    col(
        "requires_confirmation",
        BIT,
        "Recipient must confirm receipt (a2-model §8.2; S15 Bekreftelse for mottatt)",
    ),
    col(
        "message_type",
        varchar(30),
        "Message type Binær/HTML, Skatteoppgjør… (a2-model §8.2; S15 Meldingstype)",
    ),
    col(
        "sender_text",
        nvarchar(255),
        "Sender text that overrides the owner's (a2-model §8.2; S15 Avsender)",
    ),
    col("enterprise_users_disallowed", BIT, "Enterprise users not allowed (a2-model §8.2; S15)"),
    col("send_read_status", BIT, "Send read status to the owner (a2-model §8.2; S15)"),
    col("send_status_after_days", INT, "Send status after N days (a2-model §8.2; S15)"),
    col(
        "service_owner_archive_retention_days",
        INT,
        "Retention in the service owner's archive (a2-model §8.2; S16 roadmap/2020, 19-2)",
    ),
    col("is_expired", BIT, "Edition is 'utgått' (expired) (a2-model §8.2; S16 24-6, S10)"),
    col("delegation_description", NTEXT, "Delegation description (a2-model §8.2; S10)"),
    row_version(),
)

# --- 3./4. role definitions ------------------------------------------------------------------
a2_role_definition = _table(
    "a2_role_definition",
    "A2 role definitions (ER, Altinn and local roles). a2-model §8.3, §2.2",
    col(
        "role_definition_id",
        INT,
        "Role definition id, e.g. 5603 = A0236 Post/arkiv (a2-model §8.3, §2.2; S13)",
        pk=True,
    ),
    col(
        "role_definition_code",
        varchar(20),
        "Role code: DAGL, UTINN, A0236… (a2-model §8.3; S13, S11 RoleConstants)",
        nullable=False,
        unique=True,
    ),
    col("role_type", varchar(10), "External / Altinn / Local (a2-model §8.3, §2.1; S13)"),
    col("role_name", nvarchar(255), "Role name (a2-model §8.3; S13)"),
    col("role_description", NTEXT, "Role description (a2-model §8.3; S13)"),
    col("is_delegable", BIT, "Role can be delegated (a2-model §8.3; S13)"),
    row_version(),
)

a2_role_definition_link = _table(
    "a2_role_definition_link",
    "Role hierarchy: the parent role gives the child role (e.g. DAGL gives A0236). "
    "a2-model §8.4, §2.2",
    col(
        "parent_role_definition_id",
        INT,
        "Role that gives the child (a2-model §8.4; S13 ParentRoleDefinitionIds, S11 IngestRoleMap)",
        pk=True,
    ),
    col(
        "child_role_definition_id",
        INT,
        "Role that is given (a2-model §8.4; S13 ChildRoleDefinitionIds)",
        pk=True,
    ),
    row_version(),
)

# --- 5. service right rules -----------------------------------------------------------------
a2_service_right_rule = _table(
    "a2_service_right_rule",
    "Role → service rights; the input for translating A2 rules to A3 policies. a2-model §8.5, §2.1",
    col("rule_id", INT, "Rule id (a2-model §8.5)", pk=True, inferred=True),
    col("service_code", varchar(20), SERVICE_CODE),
    col(
        "service_edition_code",
        INT,
        "Edition code; NULL means the rule is on the service-owner "
        "level and inherited (a2-model §8.5; S15 inheritance)",
    ),
    col("service_owner_id", INT, "Service owner of the rule (a2-model §8.5; S15)"),
    col(
        "role_definition_id", INT, "Role the rule applies to (a2-model §8.5; S13 rolerequirements)"
    ),
    col(
        "operation",
        varchar(20),
        "Read / Write / Sign / ArchiveRead / ArchiveDelete / "
        "ServiceOwnerArchiveRead (a2-model §8.5, §2.1; S15, S13)",
    ),
    col("effect", char(6), "Permit / Deny (a2-model §8.5; S15 deny/permit overrides)"),
    col(
        "min_security_level",
        TINYINT,
        "Minimum security level (a2-model §8.5; S13 AppliesTo.SecurityLevel)",
    ),
    col(
        "is_edition_override",
        BIT,
        "Rule overrides inherited rights on the edition (a2-model §8.5; S15 Overstyr rettigheter)",
    ),
    row_version(),
)

# --- 6./7. parties and users ----------------------------------------------------------------
a2_party = _table(
    "a2_party",
    "Parties: persons, organisations and self-identified users. a2-model §8.6",
    col("party_id", INT, "A2 party id (a2-model §8.6; S5 partyId, S13 r-id)", pk=True),
    col("party_uuid", UUID, "Party UUID (a2-model §8.6; S5 *PartyUuid)", unique=True),
    col("party_type", varchar(20), "Person / Organization / SelfIdentified (a2-model §8.6; S1)"),
    col(
        "ssn",
        char(11),
        "National identity number of a person (personal data; never log in "
        "full) (a2-model §8.6; S1)",
    ),
    col("org_number", char(9), "Organisation number (a2-model §8.6; S1)"),
    col("username", nvarchar(255), "Username of a self-identified user (a2-model §8.6; S13)"),
    col("name", nvarchar(255), "Name (a2-model §8.6; S13)"),
    col("parent_party_id", INT, "Main unit of a subunit (a2-model §8.6; S13 InheritedAsSubunit)"),
    col("is_deleted", BIT, "Party deleted in the register (a2-model §8.6; S13 reportee Status)"),
    col(
        "is_reserved",
        BIT,
        "Recipient reserved against electronic messages in KRR (a2-model "
        "§1.5 Reserved, §1.6 IsReservable; S1, S2)",
        inferred=True,
    ),
    row_version(),
)

a2_user = _table(
    "a2_user",
    "Users (the people acting for parties). a2-model §8.7",
    col("user_id", INT, "A2 user id (a2-model §8.7; S4 UserID, S5 ForwardedByUserId)", pk=True),
    col("user_uuid", UUID, "User UUID (a2-model §8.7; S5 eventUserUuid)"),
    col("party_id", INT, "The user's own person party (a2-model §8.7; S5)"),
    col("user_type", varchar(20), "person / enterprise / self-identified (a2-model §8.7; S13)"),
    row_version(),
)

# --- 8. correspondences ---------------------------------------------------------------------
a2_correspondence = _table(
    "a2_correspondence",
    "One row per correspondence (message to one recipient), active and archived. "
    "a2-model §8.8, §1.4",
    col(
        "se_reportee_element_id",
        INT,
        "ServiceEngine ReporteeElementId = altinn2CorrespondenceId "
        "(a2-model §8.8, §1.2; S4 SEReporteeElementID, S8, S5)",
        pk=True,
    ),
    col(
        "correspondence_id",
        INT,
        "Correspondence table key (a2-model §8.8; S4 CorrespondenceID)",
        nullable=False,
        unique=True,
    ),
    col(
        "archive_reportee_element_id",
        INT,
        "Id in the reportee archive when archived (b-id) (a2-model §8.8, §1.2; S17, S16 21-2, S13)",
        unique=True,
    ),
    col(
        "reportee_party_id",
        INT,
        "Recipient party (a2-model §8.8; S4 Reportee/SentTo)",
        nullable=False,
    ),
    col("service_code", varchar(20), SERVICE_CODE, nullable=False),
    col("service_edition_code", INT, EDITION_CODE, nullable=False),
    col("service_owner_id", INT, "Sending service owner (a2-model §8.8; S4)"),
    col("system_user_code", varchar(50), "System user code of the sender (a2-model §8.8; S3)"),
    col("external_shipment_reference", nvarchar(4096), "Shipment reference (a2-model §8.8; S1)"),
    col(
        "external_system_reference",
        nvarchar(4096),
        "SendersReference (a2-model §8.8, §1.2; S4, S6)",
    ),
    col(
        "archive_reference",
        varchar(20),
        "AR… reference to a submitted form (a2-model §8.8, §1.2; "
        "S1, S5 Altinn2ArchiveUnitReference)",
    ),
    col("case_id", INT, "Case id (a2-model §8.8; S1, S4)"),
    col(
        "language_id",
        SMALLINT,
        "LanguageID: 1044 nb, 2068 nn, 1033 en, 1083 Sami, 0 default "
        "(a2-model §8.8, §1.4; S4 LanguageType)",
    ),
    col("message_title", NTEXT, "Title (a2-model §8.8; S1, S4 Title/Subject/Header)"),
    col("message_summary", nvarchar(512), "Summary; may be empty (a2-model §8.8, §7; S3)"),
    col("message_body", NTEXT, "Body, plain text or HTML (a2-model §8.8, §7; S1, S17)"),
    col("custom_message_data", NTEXT, "Custom message data (a2-model §8.8; S1, S3)"),
    col("message_sender", nvarchar(256), "Message sender text (a2-model §8.8; S1, S6)"),
    col(
        "on_behalf_of_org_nr",
        char(9),
        "Sent on behalf of this organisation (a2-model §8.8; S2, S3)",
    ),
    col(
        "created_datetime",
        DATETIME2,
        "DateSent, Norwegian local time (a2-model §8.8; S4 CorrespondenceBE.DateSent)",
        nullable=False,
    ),
    col(
        "visible_datetime",
        DATETIME2,
        "Visible from, Norwegian local time (a2-model §8.8; S1 VisibleDateTime)",
    ),
    col("due_datetime", DATETIME2, "Due date, Norwegian local time (a2-model §8.8; S1, S4)"),
    col(
        "allow_system_delete_datetime",
        DATETIME2,
        "When Altinn may delete it, Norwegian local time (a2-model §8.8; S1)",
    ),
    col("allow_forwarding", BIT, "Forwarding allowed (a2-model §8.8; S17)"),
    col("is_reservable", BIT, "Respects KRR reservation (a2-model §8.8; S1)"),
    col("is_confirmation_needed", BIT, "Recipient must confirm (a2-model §8.8; S4, S15)"),
    col("marked_unread", BIT, "Marked unread by the user (a2-model §8.8; S4, S16 20-11)"),
    col("is_snooping_required", BIT, "Snooping required (a2-model §8.8; S4)"),
    col(
        "confirmation_datetime", DATETIME2, "Confirmed at, Norwegian local time (a2-model §8.8; S4)"
    ),
    col("confirmed_by_user_id", INT, "User who confirmed (a2-model §8.8; S4 UserID)"),
    col(
        "current_status",
        TINYINT,
        "Current internal CorrespondenceStatusType 0-11 (a2-model §8.8, §1.5; S4)",
    ),
    col("is_archived", BIT, "Moved to the reportee archive (a2-model §8.8; S13, S17)"),
    col(
        "archived_datetime",
        DATETIME2,
        "Archived at, Norwegian local time (a2-model §8.8; S13, S17)",
    ),
    col(
        "presentation_datetime",
        DATETIME2,
        "Later of created and visible, for archived elements (a2-model §8.8, §1.4; S4)",
    ),
    col(
        "trash_state",
        TINYINT,
        "0 active, 1 in trash, 2 purged (a2-model §8.8, §1.6; S13, S16 18-1, 18-10, 24-12)",
    ),
    col(
        "trash_datetime", DATETIME2, "Trash state changed at, Norwegian local time (a2-model §8.8)"
    ),
    col("sdp_setting", varchar(12), "SDP (digital letter) setting (a2-model §8.8; S1, S2)"),
    col("sdp_backup_altinn", BIT, "SDP backup in Altinn (a2-model §8.8; S1, S2)"),
    src_db(),
    row_version(),
)

# --- 9. status events -----------------------------------------------------------------------
a2_correspondence_status_event = _table(
    "a2_correspondence_status_event",
    "Status history, append-only; ServiceEngine and Archive may both hold the same event "
    "microseconds apart. a2-model §8.9, §1.5",
    col(
        "status_event_id",
        BIGINT,
        "Event id, grows with insertion (a2-model §8.9)",
        pk=True,
        inferred=True,
    ),
    col(
        "se_reportee_element_id", INT, "Correspondence (a2-model §8.9; S2 StatusV2)", nullable=False
    ),
    col(
        "status_type",
        TINYINT,
        "A2 CorrespondenceStatusType 0-11, plus 101 trash, 102 restore, "
        "103 purge by recipient, 104 purge by Altinn (a2-model §8.9, §1.5; S4, S5)",
        nullable=False,
    ),
    col(
        "status_datetime",
        DATETIME2,
        "When, Norwegian local time (a2-model §8.9; S2 StatusDate)",
        nullable=False,
    ),
    col("actor_party_id", INT, "Acting party (a2-model §8.9; S5 eventUserPartyUuid)"),
    col("actor_user_id", INT, "Acting user (a2-model §8.9; S5 eventUserUuid, S4 UserID)"),
    src_db(),
)

# --- 10./11. attachments --------------------------------------------------------------------
a2_correspondence_attachment = _table(
    "a2_correspondence_attachment",
    "Binary attachments; one belongs to one correspondence. The bytes stay in A2: the loader "
    "loads data_md5 and data_length instead. a2-model §8.10, §1.4 AttachmentBE",
    col(
        "attachment_id",
        INT,
        "Attachment id = altinn2AttachmentId (a2-model §8.10; S4, S5)",
        pk=True,
    ),
    col(
        "se_reportee_element_id",
        INT,
        "Owning correspondence (a2-model §8.10; S4 ReporteeElementID)",
        nullable=False,
    ),
    col("attachment_name", nvarchar(255), "Display name (a2-model §8.10; S1, S17, S5 ≤255)"),
    col("file_name", nvarchar(255), "File name (a2-model §8.10; S1, S5 ≤255)"),
    col("data", BINARY, "The bytes (a2-model §8.10; S1). Never loaded into the warehouse"),
    col("file_size", INT, "Declared size in bytes (a2-model §8.10; S4, S13)"),
    col("is_encrypted", BIT, "Encrypted (a2-model §8.10; S1)"),
    col("senders_reference", nvarchar(4096), "Sender's reference (a2-model §8.10; S1, S5)"),
    col(
        "attachment_type_id",
        TINYINT,
        "AttachmentType 0-23: 1 pdf, 2 msword, 10 zip, 11 text, "
        "12 html, 13 xml, 16 octet-stream, 20 jpeg… (a2-model §8.10, §1.4; S4)",
    ),
    col("function_type", TINYINT, "AttachmentFunctionType 0/1/2 (a2-model §8.10; S2, S4)"),
    col("destination_type", TINYINT, "DestinationType 0-3 (a2-model §8.10; S2, S4)"),
    col("created_datetime", DATETIME2, "Created, Norwegian local time (a2-model §8.10; S4, S5)"),
    col("created_by_user_id", INT, "Created by user (a2-model §8.10; S4)"),
    col("is_deleted", BIT, "Deleted (a2-model §8.10; S4)"),
    src_db(),
    row_version(),
)

a2_correspondence_xml_attachment = _table(
    "a2_correspondence_xml_attachment",
    "Form data attached as XML. a2-model §8.11; S2 XmlAttachmentV2",
    col("xml_attachment_id", INT, "XML attachment id (a2-model §8.11)", pk=True, inferred=True),
    col("se_reportee_element_id", INT, "Owning correspondence (a2-model §8.11)", nullable=False),
    col("senders_reference", nvarchar(255), "Sender's reference (a2-model §8.11; S2)"),
    col("data_format_id", varchar(20), "Data format id (a2-model §8.11; S2)"),
    col("data_format_version", INT, "Data format version (a2-model §8.11; S2)"),
    col("logical_form_in_form_set_id", INT, "Logical form in form set (a2-model §8.11; S2)"),
    col("form_data_xml", XML, "Form data XML (a2-model §8.11; S2)"),
)

# --- 12. reply options ----------------------------------------------------------------------
a2_correspondence_reply_option = _table(
    "a2_correspondence_reply_option",
    "Reply options (links) of a correspondence. a2-model §8.12, §1.4 CorrespondenceLinkBE",
    col("reply_option_id", INT, "Reply option id (a2-model §8.12; S4 table ReplyOption)", pk=True),
    col("se_reportee_element_id", INT, "Owning correspondence (a2-model §8.12)", nullable=False),
    col(
        "reply_option_type",
        TINYINT,
        "1 Form, 2 ServiceCode, 3 ServiceURL, 4 ArchiveReference "
        "(a2-model §8.12; S4 ReplyOptionType)",
        nullable=False,
    ),
    col("service_code", varchar(20), "Service code for types 1/2 (a2-model §8.12; S1, S4)"),
    col("service_edition_code", INT, "Edition code for types 1/2 (a2-model §8.12; S1, S4)"),
    col("link_url", nvarchar(2048), "URL for type 3 (a2-model §8.12; S1, S4)"),
    col("link_text", nvarchar(255), "Link text (a2-model §8.12; S1, S4)"),
    col("archive_reference", varchar(20), "Archive reference for type 4 (a2-model §8.12; S1)"),
)

# --- 13.-16. notifications ------------------------------------------------------------------
a2_notification = _table(
    "a2_notification",
    "Notifications (varsel) of a correspondence, reminders included. a2-model §8.13, §1.7",
    col(
        "notification_id",
        INT,
        "Notification id = altinn2NotificationId (a2-model §8.13; S4, S5)",
        pk=True,
    ),
    col(
        "se_reportee_element_id",
        INT,
        "Correspondence (a2-model §8.13; S4 ReporteeElementID)",
        nullable=False,
    ),
    col("notify_type", TINYINT, "NotifyType: 2 = Correspondence (a2-model §8.13, §1.4; S4)"),
    col(
        "notification_type_name",
        varchar(100),
        "Template name, e.g. VarselDPVMedRevarsel (a2-model §8.13, §1.7; S1, S14)",
    ),
    col("from_address", nvarchar(255), "From address (a2-model §8.13; S1)"),
    col("language_code", char(4), "Language code (a2-model §8.13; S1)"),
    col(
        "shipment_datetime",
        DATETIME2,
        "Planned sending time, Norwegian local time (a2-model §8.13; S1)",
    ),
    col("created_datetime", DATETIME2, "Created, Norwegian local time (a2-model §8.13; S4)"),
    col("use_short_name_as_sms_sender", BIT, "Owner short name as SMS sender (a2-model §8.13; S1)"),
    col(
        "is_reminder",
        BIT,
        "This is a reminder (revarsel) (a2-model §8.13, §1.7; S5 isReminder)",
        inferred=True,
    ),
    col(
        "parent_notification_id",
        INT,
        "The first notification a reminder follows (a2-model §8.13)",
        inferred=True,
    ),
)

a2_notification_endpoint = _table(
    "a2_notification_endpoint",
    "Receiver endpoints of a notification (e-mail, SMS…). a2-model §8.14",
    col("receiver_endpoint_id", INT, "Endpoint id (a2-model §8.14; S4)", pk=True),
    col("notification_id", INT, "Notification (a2-model §8.14; S4)", nullable=False),
    col(
        "transport_type",
        TINYINT,
        "TransportType 1 SMS, 2 Email, 3 IM, 4 Both, 5 SMSPreferred, "
        "6 EmailPreferred, 7 PriorityEmailSMSReminder (a2-model §8.14, §1.7; S4, S2)",
    ),
    col(
        "receiver_address",
        nvarchar(255),
        "E-mail address or phone number (personal data) (a2-model §8.14; S1, S4)",
    ),
    col(
        "sent_datetime",
        DATETIME2,
        "Sent at, Norwegian local time; NULL = not sent (a2-model §8.14; S4, S2 SentDate)",
    ),
    col(
        "is_resolved_from_register",
        BIT,
        "Address resolved from KRR/profile (a2-model §8.14; S1, S16 18-7)",
    ),
)

a2_notification_text_token = _table(
    "a2_notification_text_token",
    "Text tokens substituted into a notification template. a2-model §8.15",
    col("text_token_id", INT, "Token id (a2-model §8.15; S4)", pk=True),
    col("notification_id", INT, "Notification (a2-model §8.15)", nullable=False),
    col("token_num", INT, "Token number (a2-model §8.15; S1, S4)"),
    col("token_value", NTEXT, "Token value (a2-model §8.15; S1, S4)"),
)

a2_notification_template = _table(
    "a2_notification_template",
    "Notification templates (reference data). a2-model §8.16; S4 NotificationTemplateBE",
    col("notification_template_id", INT, "Template id (a2-model §8.16; S4)", pk=True),
    col("notification_type_id", INT, "Notification type id (a2-model §8.16; S4)"),
    col("notification_name", varchar(100), "Template name (a2-model §8.16; S4)"),
    col("transport_id", TINYINT, "TransportType (a2-model §8.16; S4)"),
    col("language_type_id", SMALLINT, "Language id (a2-model §8.16; S4)"),
    col("from_address", nvarchar(255), "From address (a2-model §8.16; S4)"),
    col("subject", nvarchar(255), "Subject (a2-model §8.16; S4)"),
    col("notification_text", NTEXT, "Text with $macros$ (a2-model §8.16; S4, S17)"),
    row_version(),
)

# --- 17. forwarding -------------------------------------------------------------------------
a2_correspondence_forwarding_event = _table(
    "a2_correspondence_forwarding_event",
    "Forwarding: by e-mail, 'Del og gi tilgang' share, to a digital mailbox. Append-only. "
    "a2-model §8.17, §1.6",
    col(
        "forwarding_event_id",
        BIGINT,
        "Event id, grows with insertion (a2-model §8.17)",
        pk=True,
        inferred=True,
    ),
    col("se_reportee_element_id", INT, "Correspondence (a2-model §8.17; S5)", nullable=False),
    col(
        "forward_kind",
        TINYINT,
        "1 e-mail, 2 share, 3 digital mailbox (a2-model §8.17; S16 18-1, 18-6, S5)",
    ),
    col("forwarded_datetime", DATETIME2, "When, Norwegian local time (a2-model §8.17; S5)"),
    col("forwarded_by_user_id", INT, "Forwarding user (a2-model §8.17; S5)"),
    col("forwarded_by_party_id", INT, "Forwarding party (a2-model §8.17; S5)"),
    col("forwarded_to_user_id", INT, "Receiving user of a share (a2-model §8.17; S5)"),
    col(
        "forwarded_to_email",
        nvarchar(1000),
        "Receiving e-mail (personal data) (a2-model §8.17; S5)",
    ),
    col("mailbox_supplier_org_no", char(9), "Digital mailbox supplier (a2-model §8.17; S5)"),
    col("forwarding_text", NTEXT, "Text, A2 ≤5000 (a2-model §8.17; S16 18-1, S5)"),
)

# --- 19.-21. delegations --------------------------------------------------------------------
a2_role_assignment = _table(
    "a2_role_assignment",
    "Role assignments (Authz.Role). a2-model §8.19",
    col("role_id", INT, "Role assignment id (a2-model §8.19; S13 RoleId)", pk=True),
    col("role_definition_id", INT, "Role (a2-model §8.19; S13)", nullable=False),
    col("offered_by_party_id", INT, "Party that gives the role (a2-model §8.19; S13)"),
    col("covered_by_party_id", INT, "Receiving party (a2-model §8.19; S13)"),
    col("covered_by_user_id", INT, "Receiving user (a2-model §8.19; S13)"),
    col("delegated_by_user_id", INT, "Delegating user (a2-model §8.19; S13 Delegator)"),
    col(
        "delegated_datetime",
        DATETIME2,
        "Delegated at, Norwegian local time (a2-model §8.19; S13 DelegatedTime)",
    ),
    col("is_deleted", BIT, "Revoked (a2-model §8.19; S13 DELETE)"),
    col("deleted_datetime", DATETIME2, "Revoked at, Norwegian local time (a2-model §8.19)"),
    row_version(),
)

a2_authorization_rule = _table(
    "a2_authorization_rule",
    "Service single rights and single-message (instance) delegations (ServDev.AuthorizationRule), "
    "one row per operation. a2-model §8.20, §2.3, §2.4",
    col(
        "authorization_rule_id",
        INT,
        "Rule id = A3 authorizationruleid (a2-model §8.20; S11, S16 21-4, S13 RightID)",
        pk=True,
    ),
    col("rule_kind", varchar(10), "Service / Instance (a2-model §8.20; S9)"),
    col("offered_by_party_id", INT, "Party that delegates (a2-model §8.20; S13, S11 fromuuid)"),
    col("covered_by_party_id", INT, "Receiving party (a2-model §8.20; S11 touuid)"),
    col("covered_by_user_id", INT, "Receiving user (a2-model §8.20; S13)"),
    col("service_code", varchar(20), SERVICE_CODE),
    col("service_edition_code", INT, EDITION_CODE),
    col(
        "reportee_element_id",
        INT,
        "Correspondence of an instance delegation (a2-model §8.20; S16 21-2)",
    ),
    col("is_archive_element", BIT, "The id is an archive id (a2-model §8.20; S16 21-3)"),
    col(
        "operation",
        varchar(20),
        "Read / Write / ArchiveRead / ArchiveDelete (a2-model §8.20, §4.4; S13)",
    ),
    col("delegated_by_user_id", INT, "Delegating user (a2-model §8.20; S11)"),
    col("delegated_by_party_id", INT, "Delegating party (a2-model §8.20; S11)"),
    col("created_datetime", DATETIME2, "Delegated at, Norwegian local time (a2-model §8.20; S11)"),
    col("personal_message", NTEXT, "Message to the receiver, ≤5000 (a2-model §8.20; S16 18-1)"),
    col("is_delegatable", BIT, "Receiver may delegate further (a2-model §8.20; S13)"),
    col("is_deleted", BIT, "Revoked (a2-model §8.20; S11)"),
    col("deleted_datetime", DATETIME2, "Revoked at, Norwegian local time (a2-model §8.20)"),
    col(
        "deleted_by_user_id",
        INT,
        "Revoking user (a2-model §8.20; S11 RequestToDelete.DeletedByUserId)",
    ),
    row_version(),
)

a2_delegation_change_log = _table(
    "a2_delegation_change_log",
    "DelegationSync feed: every grant and revocation in order. Append-only. a2-model §8.21, §4.5",
    col("change_id", BIGINT, "Change id, identity (a2-model §8.21; S9)", pk=True, inferred=True),
    col("authorization_rule_id", INT, "Changed authorization rule (a2-model §8.21; S11)"),
    col("role_id", INT, "Changed role assignment (a2-model §8.21; S11)"),
    col(
        "change_type",
        TINYINT,
        "1 Grant, 2 Revoke, 3 RevokeLast (a2-model §8.21; S12)",
        nullable=False,
    ),
    col(
        "changed_datetime",
        DATETIME2,
        "When, Norwegian local time (a2-model §8.21; S11)",
        nullable=False,
    ),
    col("performed_by_user_id", INT, "Performing user (a2-model §8.21; S11, S12)"),
    col("performed_by_party_id", INT, "Performing party (a2-model §8.21; S11, S12)"),
    col(
        "synced_to_a3_datetime",
        DATETIME2,
        "Pushed to A3 by A2's own DelegationSync (a2-model §8.21; S16 22-4)",
    ),
)

# --- 22./23. flags and migration config -----------------------------------------------------
a2_party_flags = _table(
    "a2_party_flags",
    "Per-party portal flags (PartyHasAltinn3Messages). a2-model §8.22, §5",
    col("party_id", INT, "Party (a2-model §8.22; S5 LegacyParties, S8)", pk=True),
    col(
        "has_altinn3_messages",
        BIT,
        "PartyHasAltinn3Messages (a2-model §8.22; S9 portal, S16 24-12)",
    ),
    col(
        "has_altinn3_messages_set_datetime",
        DATETIME2,
        "When the flag was set, Norwegian local time (a2-model §8.22)",
    ),
    col("has_altinn3_instances", BIT, "Party has A3 app instances (a2-model §8.22; S8)"),
    row_version(),
)

a2_migration_service_config = _table(
    "a2_migration_service_config",
    "Per-service migration settings: whitelist and migration wait time. a2-model §8.23; DESIGN §1",
    col("service_code", varchar(20), SERVICE_CODE, pk=True),
    col("service_edition_code", INT, EDITION_CODE, pk=True),
    col("is_whitelisted", BIT, "Service may migrate (a2-model §8.23; S9)"),
    col(
        "migration_wait_time_minutes",
        INT,
        "Minimum element age before migration (a2-model §8.23; S9)",
    ),
    col(
        "a3_resource_id",
        varchar(255),
        "A3 resource id <org>-migratedcorrespondence-<code>-"
        "<edition> (a2-model §8.23, §3.1; S9, S6 ≤255)",
    ),
    col(
        "delegations_exported_datetime",
        DATETIME2,
        "Delegations exported at (a2-model §8.23; S10 DateTimeForExport)",
    ),
    row_version(),
)


# --- load contracts -------------------------------------------------------------------------
CursorPolicy = Literal["raise", "include", "exclude"]

MUTABLE_LAG = 100_000
"""Default lag of a mutable table, in `row_version` units. `rowversion` is database-wide: one
value per row written anywhere in the database, so the window must cover every write that can
happen while the longest A2 write transaction is open (100 000 ≈ 100 s at 1 000 row writes
per second). Raise it in the table map for a busier server."""

APPEND_ONLY_LAG = 10_000
"""Default lag of an append-only (event) table, in ids of that table: identity values are
per table, so the window covers the inserts into this table alone while a transaction is open
(10 000 ≈ 100 s at 100 events per second)."""


@dataclass(frozen=True)
class LoadContract:
    """How one contract table is loaded into `a2_raw` (issue #3; elt-practice §3 P6-P8, §6.5-6.6).

    Attributes:
        table: contract table name (= the `a2_raw` table name).
        primary_key: merge key columns.
        cursor: incremental cursor column: `row_version` on mutable tables, the growing id on
            append-only ones.
        mutable: True when A2 updates rows after insert (cursor `row_version`).
        write_disposition: always `merge` on `primary_key`, so re-reads (lag, NULL cursors,
            interrupted runs) never double a row.
        lag: how far back (in cursor units) each run re-reads below the high-water mark, for
            rows that commit late with an older cursor value (elt-practice §3 P6,
            dlt-hub/dlt#2269): `MUTABLE_LAG` on mutable tables, `APPEND_ONLY_LAG` on append-only
            ones (see their docstrings for the reasoning). Re-read rows are merged on the
            primary key and the loader skips those `a2_raw` already holds with the same cursor
            value, so nothing is doubled. 0 turns the window off (late rows are then lost);
            the table map can override it per table.
        null_cursor: dlt `on_cursor_value_missing`: `include` re-reads NULL-cursor rows on every
            run (merge keeps that idempotent) rather than dropping them (P8).
        binary_columns: never loaded; replaced by `<col>_md5` (hex) and `<col>_length` (bytes)
            computed in the source query (P4, issue #3 "attachment bytes do not go into the
            warehouse").
        chunk_size: rows per fetch; small for tables whose rows are large.
        loaded_at_field: dbt freshness field (SQL over the raw table), or None.
    """

    table: str
    primary_key: tuple[str, ...]
    cursor: str
    mutable: bool
    write_disposition: Literal["merge"] = "merge"
    lag: int = APPEND_ONLY_LAG
    null_cursor: CursorPolicy = "include"
    binary_columns: tuple[str, ...] = ()
    chunk_size: int = 50_000
    loaded_at_field: str | None = None

    @property
    def kind(self) -> str:
        """`mutable` or `append-only`, for docs and progress."""
        return "mutable" if self.mutable else "append-only"


LOADED_AT = "to_timestamp(_dlt_load_id::double precision)"
"""dlt's load id is the load's start as a Unix timestamp: the UTC time a row reached a2_raw."""


def _contract(table: sa.Table, **kw: object) -> LoadContract:
    pk = tuple(c.name for c in table.primary_key.columns)
    mutable = "row_version" in table.c
    cursor = "row_version" if mutable else pk[0]
    kw.setdefault("lag", MUTABLE_LAG if mutable else APPEND_ONLY_LAG)
    return LoadContract(table=table.name, primary_key=pk, cursor=cursor, mutable=mutable, **kw)  # type: ignore[arg-type]


LOAD_CONTRACTS: dict[str, LoadContract] = {
    c.table: c
    for c in (
        _contract(a2_service_owner),
        _contract(a2_service_edition),
        _contract(a2_role_definition),
        _contract(a2_role_definition_link),
        _contract(a2_service_right_rule),
        _contract(a2_party),
        _contract(a2_user),
        _contract(a2_correspondence, loaded_at_field=LOADED_AT),
        _contract(a2_correspondence_status_event, loaded_at_field=LOADED_AT),
        _contract(a2_correspondence_attachment, binary_columns=("data",), chunk_size=2_000),
        _contract(a2_correspondence_xml_attachment, chunk_size=10_000),
        _contract(a2_correspondence_reply_option),
        _contract(a2_notification),
        _contract(a2_notification_endpoint),
        _contract(a2_notification_text_token),
        _contract(a2_notification_template),
        _contract(a2_correspondence_forwarding_event),
        _contract(a2_role_assignment),
        _contract(a2_authorization_rule),
        _contract(a2_delegation_change_log, loaded_at_field=LOADED_AT),
        _contract(a2_party_flags),
        _contract(a2_migration_service_config),
    )
}
"""Load contract per contract table, in load order (reference data first)."""


def contract_table(name: str) -> sa.Table:
    """The contract `Table` called `name`.

    Raises:
        KeyError: no such contract table.
    """
    return metadata.tables[name]


def loaded_columns(name: str) -> list[str]:
    """Column names of `name` as they appear in `a2_raw` (binary columns replaced by their
    `_md5`/`_length` pair), without dlt's `_dlt_load_id`/`_dlt_id`."""
    contract = LOAD_CONTRACTS[name]
    names: list[str] = []
    for column in contract_table(name).columns:
        if column.name in contract.binary_columns:
            names += [f"{column.name}_md5", f"{column.name}_length"]
        else:
            names.append(column.name)
    return names
