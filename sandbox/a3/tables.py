"""The A3 Correspondence tables that the migration API writes, in the real layout.

Reference `a3-correspondence.md` §2: schema `correspondence`, PascalCase identifiers (SQLAlchemy
quotes them, e.g. `"Correspondences"."Altinn2CorrespondenceId"`), `timestamptz` in UTC, the unique
indexes of #1002 and #1755 that drive de-duplication.

Deviations, all invisible to an API client:
* `PropertyList` is `jsonb` instead of `hstore` (the embedded PostgreSQL ships no `hstore`).
* Blob storage is the table `sandbox_storage."Blobs"` (A3 uses Azure Blob Storage).
* Tables the migration never writes (NotificationTemplates, ConfidentialReminders,
  StorageProviders) and Hangfire's schema are left out. `CorrespondenceFetches` is there for the
  recipient endpoints (`recipient.py`), and the Hangfire jobs that call Altinn Storage's SBL
  bridge are modelled by `sandbox_hangfire.sbl_bridge_jobs` (`storage_sync.py`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "correspondence"
metadata = sa.MetaData(schema=SCHEMA)

_uuid = UUID(as_uuid=True)
_ts = sa.DateTime(timezone=True)


def _fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{SCHEMA}.{table}.Id", ondelete="CASCADE")


service_owners = sa.Table(
    "ServiceOwners",
    metadata,
    sa.Column("Id", sa.Text, primary_key=True, comment="org number without prefix"),
    sa.Column("Name", sa.Text, nullable=False, comment="org code, e.g. skd"),
)

correspondences = sa.Table(
    "Correspondences",
    metadata,
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("ResourceId", sa.String(255), nullable=False, index=True),
    sa.Column("Recipient", sa.Text, nullable=False, index=True),
    sa.Column("RecipientType", sa.Text),
    sa.Column("Sender", sa.Text, nullable=False, index=True),
    sa.Column("SendersReference", sa.String(4096), nullable=False),
    sa.Column("MessageSender", sa.String(256)),
    sa.Column("RequestedPublishTime", _ts, nullable=False),
    sa.Column("DueDateTime", _ts),
    sa.Column("PropertyList", JSONB, nullable=False),
    sa.Column("IgnoreReservation", sa.Boolean),
    sa.Column("OriginalRequest", JSONB),
    sa.Column("Created", _ts, nullable=False, index=True),
    sa.Column("Altinn2CorrespondenceId", sa.Integer),
    sa.Column("Published", _ts),
    sa.Column("IsConfirmationNeeded", sa.Boolean, nullable=False),
    sa.Column("IsMigrating", sa.Boolean, nullable=False, server_default=sa.false(), index=True),
    sa.Column("IsConfidential", sa.Boolean, nullable=False),
    sa.Column("PartyId", sa.Integer, nullable=False, server_default="0", index=True),
    sa.Column("ServiceOwnerId", sa.Text, index=True),
    sa.Column("ServiceOwnerMigrationStatus", sa.Integer, nullable=False, server_default="0"),
    sa.Index("IX_Correspondences_Altinn2CorrespondenceId", "Altinn2CorrespondenceId", unique=True),
)

contents = sa.Table(
    "CorrespondenceContents",
    metadata,
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("CorrespondenceId", _uuid, _fk("Correspondences"), nullable=False, unique=True),
    sa.Column("Language", sa.Text, nullable=False),
    sa.Column("MessageTitle", sa.Text, nullable=False),
    sa.Column("MessageSummary", sa.Text, nullable=False),
    sa.Column("MessageBody", sa.Text, nullable=False),
)

attachments = sa.Table(
    "Attachments",
    metadata,
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("ResourceId", sa.String(255), nullable=False, index=True),
    sa.Column("FileName", sa.String(255)),
    sa.Column("DisplayName", sa.String(255)),
    sa.Column("IsEncrypted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("Checksum", sa.Text),
    sa.Column("SendersReference", sa.String(4096), nullable=False),
    sa.Column("Sender", sa.Text, nullable=False),
    sa.Column("DataLocationUrl", sa.Text, index=True),
    sa.Column("DataLocationType", sa.Integer, nullable=False, server_default="0"),
    sa.Column("Created", _ts, nullable=False),
    sa.Column("AttachmentSize", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("ExpirationInDays", sa.Integer),
    sa.Column("StorageProviderId", sa.BigInteger),
    sa.Column("Altinn2AttachmentId", sa.Text),
    sa.Column("ServiceOwnerId", sa.Text, index=True),
    sa.Column("ServiceOwnerMigrationStatus", sa.Integer, nullable=False, server_default="0"),
    sa.Index("IX_Attachments_Altinn2AttachmentId", "Altinn2AttachmentId", unique=True),
)

attachment_statuses = sa.Table(
    "AttachmentStatuses",
    metadata,
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("AttachmentId", _uuid, _fk("Attachments"), nullable=False, index=True),
    sa.Column("Status", sa.Integer, nullable=False),
    sa.Column("StatusChanged", _ts, nullable=False),
    sa.Column("StatusText", sa.Text, nullable=False),
    sa.Column("PartyUuid", _uuid, nullable=False),
)

correspondence_attachments = sa.Table(
    "CorrespondenceAttachments",
    metadata,
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("AttachmentId", _uuid, _fk("Attachments"), nullable=False, index=True),
    sa.Column(
        "CorrespondenceContentId", _uuid, _fk("CorrespondenceContents"), nullable=False, index=True
    ),
    sa.Column("Created", _ts, nullable=False),
    sa.Column("ExpirationTime", _ts),
)

statuses = sa.Table(
    "CorrespondenceStatuses",
    metadata,
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("CorrespondenceId", _uuid, _fk("Correspondences"), nullable=False),
    sa.Column("Status", sa.Integer, nullable=False, index=True),
    sa.Column("StatusText", sa.Text, nullable=False),
    sa.Column("StatusChanged", _ts, nullable=False),
    sa.Column("PartyUuid", _uuid, nullable=False),
    sa.Column("SyncedFromAltinn2", _ts),
    sa.Index(
        "IX_CorrespondenceStatuses_Unique",
        "CorrespondenceId",
        "Status",
        "StatusChanged",
        "PartyUuid",
        unique=True,
    ),
)

delete_events = sa.Table(
    "CorrespondenceDeleteEvents",
    metadata,
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("EventType", sa.Integer, nullable=False, index=True),
    sa.Column("EventOccurred", _ts, nullable=False),
    sa.Column("CorrespondenceId", _uuid, _fk("Correspondences"), nullable=False, index=True),
    sa.Column("PartyUuid", _uuid, nullable=False),
    sa.Column("SyncedFromAltinn2", _ts),
    sa.Index(
        "IX_CorrespondenceDeleteEvents_Unique",
        "CorrespondenceId",
        "EventType",
        "EventOccurred",
        "PartyUuid",
        unique=True,
    ),
)

notifications = sa.Table(
    "CorrespondenceNotifications",
    metadata,
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("NotificationOrderId", _uuid),
    sa.Column("ShipmentId", _uuid),
    sa.Column("NotificationTemplate", sa.Integer, nullable=False),
    sa.Column("NotificationChannel", sa.Integer, nullable=False),
    sa.Column("RequestedSendTime", _ts, nullable=False),
    sa.Column("CorrespondenceId", _uuid, _fk("Correspondences"), nullable=False, index=True),
    sa.Column("Created", _ts, nullable=False),
    sa.Column("IsReminder", sa.Boolean, nullable=False),
    sa.Column("NotificationSent", _ts),
    sa.Column("NotificationAddress", sa.Text),
    sa.Column("Altinn2NotificationId", sa.Integer),
    sa.Column("OrderRequest", sa.Text),
    sa.Column("SyncedFromAltinn2", _ts),
    sa.Column("NotificationOrderStatus", sa.Text),
    sa.Index(
        "IX_CorrespondenceNotifications_Synced",
        "CorrespondenceId",
        "Altinn2NotificationId",
        "NotificationAddress",
        "NotificationChannel",
        "NotificationSent",
        unique=True,
        postgresql_where=sa.text('"Altinn2NotificationId" IS NOT NULL'),
    ),
)

forwarding_events = sa.Table(
    "CorrespondenceForwardingEvents",
    metadata,
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("ForwardedOnDate", _ts, nullable=False),
    sa.Column("ForwardedByPartyUuid", _uuid, nullable=False),
    sa.Column("ForwardedByUserId", sa.Integer, nullable=False),
    sa.Column("ForwardedByUserUuid", _uuid, nullable=False),
    sa.Column("ForwardedToUserId", sa.Integer),
    sa.Column("ForwardedToUserUuid", _uuid),
    sa.Column("ForwardingText", sa.String(4000)),
    sa.Column("ForwardedToEmailAddress", sa.String(1000)),
    sa.Column("MailboxSupplier", sa.Text),
    sa.Column("CorrespondenceId", _uuid, _fk("Correspondences"), nullable=False, index=True),
    sa.Column("SyncedFromAltinn2", _ts),
    sa.Column("DialogActivityId", _uuid),
    sa.Index(
        "IX_CorrespondenceForwardingEvents_Unique",
        "CorrespondenceId",
        "ForwardedOnDate",
        "ForwardedByPartyUuid",
        unique=True,
    ),
)

reply_options = sa.Table(
    "CorrespondenceReplyOptions",
    metadata,
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("CorrespondenceId", _uuid, _fk("Correspondences"), nullable=False, index=True),
    sa.Column("LinkURL", sa.Text, nullable=False),
    sa.Column("LinkText", sa.Text),
)

external_references = sa.Table(
    "ExternalReferences",
    metadata,
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("CorrespondenceId", _uuid, _fk("Correspondences"), nullable=False, index=True),
    sa.Column("ReferenceType", sa.Integer, nullable=False),
    sa.Column("ReferenceValue", sa.Text, nullable=False),
)

idempotency_keys = sa.Table(
    "IdempotencyKeys",
    metadata,
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("CorrespondenceId", _uuid, _fk("Correspondences")),
    sa.Column("AttachmentId", _uuid, _fk("Attachments")),
    sa.Column("PartyUrn", sa.Text),
    sa.Column("StatusAction", sa.Integer),
    sa.Column("IdempotencyType", sa.Integer, nullable=False),
)

fetches = sa.Table(
    "CorrespondenceFetches",
    metadata,
    # CorrespondenceStatusFetchedEntity (src/Altinn.Correspondence.Core/Models/Entities/
    # CorrespondenceStatusFetchedEntity.cs): the Fetched (3) rows of the recipient API.
    sa.Column("Id", _uuid, primary_key=True),
    sa.Column("Status", sa.Integer, nullable=False),
    sa.Column("StatusText", sa.Text, nullable=False),
    sa.Column("StatusChanged", _ts, nullable=False),
    sa.Column("CorrespondenceId", _uuid, _fk("Correspondences"), nullable=False, index=True),
    sa.Column("PartyUuid", _uuid, nullable=False),
    sa.Column("SyncedFromAltinn2", _ts),
)

HANGFIRE_SCHEMA = "sandbox_hangfire"
hangfire_metadata = sa.MetaData(schema=HANGFIRE_SCHEMA)
sbl_bridge_jobs = sa.Table(
    "sbl_bridge_jobs",
    hangfire_metadata,
    # The durable Hangfire jobs `IAltinnStorageService.SyncCorrespondenceEventToSblBridge`
    # (A3 keeps Hangfire's tables in its own PostgreSQL database, so the enqueue commits with
    # the status row). Drained by `storage_sync.SblBridgeWorker`.
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("correspondence_id", _uuid, nullable=False, index=True),
    sa.Column("payload", JSONB, nullable=False, comment="the JSON body sent to Storage"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", _ts, nullable=False),
    sa.Column(
        "state",
        sa.Text,
        nullable=False,
        server_default="enqueued",
        comment="enqueued | succeeded | failed (Hangfire's states)",
    ),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", _ts, nullable=False, server_default=sa.func.now()),
    sa.Column("finished_at", _ts),
    sa.Index("ix_sbl_bridge_jobs_due", "state", "next_attempt_at"),
)

storage_metadata = sa.MetaData(schema="sandbox_storage")
blobs = sa.Table(
    "Blobs",
    storage_metadata,
    sa.Column("DataLocationUrl", sa.Text, primary_key=True),
    sa.Column("Content", sa.LargeBinary, nullable=False),
    sa.Column("Md5", sa.Text, nullable=False),
    sa.Column("Size", sa.BigInteger, nullable=False),
)


def create_tables(engine: sa.Engine) -> None:
    """Create schemas `correspondence`, `sandbox_storage` and `sandbox_hangfire` and their tables
    (idempotent).

    Existing rows are kept, so a restarted replica still knows what it received.
    """
    with engine.begin() as conn:
        conn.execute(sa.text(f"create schema if not exists {SCHEMA}"))
        conn.execute(sa.text("create schema if not exists sandbox_storage"))
        conn.execute(sa.text(f"create schema if not exists {HANGFIRE_SCHEMA}"))
        metadata.create_all(conn, checkfirst=True)
        storage_metadata.create_all(conn, checkfirst=True)
        hangfire_metadata.create_all(conn, checkfirst=True)
