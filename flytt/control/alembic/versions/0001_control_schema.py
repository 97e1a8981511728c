"""Control schema: element state machine, service state, runs, quarantine.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "flytt"
ELEMENT_STATES = (
    "discovered",
    "eligible",
    "migrated",
    "available",
    "a2_blocked",
    "excluded",
    "quarantined",
    "failed",
)
RUN_STATUSES = ("running", "succeeded", "failed", "interrupted")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "run",
        sa.Column("run_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("arguments", pg.JSONB, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="running"),
        sa.Column("counts", pg.JSONB, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("error", sa.Text),
        sa.Column("started_at", ts, nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", ts),
        sa.CheckConstraint(_in("status", RUN_STATUSES), name="run_status_valid"),
        schema=S,
        comment="One row per flytt command or daemon job run: who, what, when, counts.",
    )
    op.create_index("run_command_started_idx", "run", ["command", "started_at"], schema=S)

    op.create_table(
        "element_state",
        sa.Column(
            "a2_correspondence_id",
            sa.Integer,
            primary_key=True,
            comment="A2 ServiceEngine ReporteeElementId (altinn2CorrespondenceId).",
        ),
        sa.Column("resource_id", sa.Text, comment="A3 resource id of the element's service."),
        sa.Column("a2_created_at", ts, comment="A2 creation time (UTC); orders selection."),
        sa.Column("state", sa.Text, nullable=False, server_default="discovered"),
        sa.Column(
            "state_reason",
            sa.Text,
            comment="Reason code for excluded/quarantined states (no personal data).",
        ),
        sa.Column("a3_correspondence_id", pg.UUID(as_uuid=True)),
        sa.Column("dialog_id", pg.UUID(as_uuid=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error_code", sa.Text),
        sa.Column("last_error_detail", sa.Text),
        sa.Column("next_attempt_at", ts),
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_expires_at", ts),
        sa.Column("discovered_at", ts, nullable=False, server_default=sa.func.now()),
        sa.Column("eligible_at", ts),
        sa.Column("migrated_at", ts),
        sa.Column("available_at", ts),
        sa.Column("a2_blocked_at", ts),
        sa.Column("failed_at", ts),
        sa.Column("updated_at", ts, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(_in("state", ELEMENT_STATES), name="element_state_valid"),
        sa.CheckConstraint("attempts >= 0", name="element_attempts_not_negative"),
        schema=S,
        comment="Per-correspondence state machine (DESIGN §3 element state), one row per A2 "
        "correspondence, with leases for FOR UPDATE SKIP LOCKED claiming.",
    )
    op.create_index(
        "element_state_state_idx", "element_state", ["state", "next_attempt_at"], schema=S
    )
    op.create_index(
        "element_state_resource_idx",
        "element_state",
        ["resource_id", "state", "a2_created_at"],
        schema=S,
    )
    op.create_index(
        "element_state_a3_id_idx",
        "element_state",
        ["a3_correspondence_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("a3_correspondence_id is not null"),
    )

    op.create_table(
        "service_state",
        sa.Column(
            "resource_id",
            sa.Text,
            primary_key=True,
            comment="A3 resource id <org>-migratedcorrespondence-<code>-<edition>.",
        ),
        sa.Column("state", sa.Text, nullable=False, server_default="discovered"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error_code", sa.Text),
        sa.Column("resource_created_at", ts),
        sa.Column("policy_uploaded_at", ts),
        sa.Column("delegations_synced_at", ts),
        sa.Column("updated_at", ts, nullable=False, server_default=sa.func.now()),
        schema=S,
        comment="Step 1.2 progress per A2 service edition: resource and policy delivered.",
    )

    op.create_table(
        "quarantine",
        sa.Column("quarantine_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "entity",
            sa.Text,
            nullable=False,
            comment="What was refused: correspondence, attachment, service, delegation.",
        ),
        sa.Column("entity_id", sa.Text, nullable=False, comment="Its A2 id."),
        sa.Column("a2_correspondence_id", sa.Integer),
        sa.Column("reason_code", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, comment="Why, without personal data."),
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey(f"{S}.run.run_id")),
        sa.Column("detected_at", ts, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("entity", "entity_id", "reason_code", name="quarantine_once"),
        schema=S,
        comment="Rows refused at delivery time, with a reason code (the dbt mart a3.quarantine "
        "holds the mapping-time reasons).",
    )


def downgrade() -> None:
    op.drop_table("quarantine", schema=S)
    op.drop_table("service_state", schema=S)
    op.drop_table("element_state", schema=S)
    op.drop_table("run", schema=S)
