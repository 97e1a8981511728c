"""Exposure (step 5): the result of verifying each element's dialog in Dialogporten.

`dialog_check` holds the last verification per element; `dialog_mismatch` one row per field
that differed from the expected dialog (issue #5). `flytt report` counts mismatches by field.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "flytt"


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "dialog_check",
        sa.Column(
            "a2_correspondence_id",
            sa.Integer,
            primary_key=True,
            comment="A2 id of the element whose dialog was verified.",
        ),
        sa.Column("a3_correspondence_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "dialog_id",
            pg.UUID(as_uuid=True),
            comment="Dialog found by urn:altinn:correspondence-id lookup (null: none).",
        ),
        sa.Column("mismatches", sa.Integer, nullable=False, server_default="0"),
        sa.Column("checked_at", ts, nullable=False, server_default=sa.func.now()),
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey(f"{S}.run.run_id")),
        schema=S,
        comment="Last verification of each exposed element's dialog (issue #5).",
    )
    op.create_table(
        "dialog_mismatch",
        sa.Column("mismatch_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("a2_correspondence_id", sa.Integer, nullable=False),
        sa.Column(
            "field",
            sa.Text,
            nullable=False,
            comment="Dialog field that differs, e.g. activities.CorrespondenceOpened"
            ".performedBy.actorId.",
        ),
        sa.Column("expected", sa.Text, comment="Expected value, personal data masked."),
        sa.Column("actual", sa.Text, comment="Value in Dialogporten, personal data masked."),
        sa.Column("detected_at", ts, nullable=False, server_default=sa.func.now()),
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey(f"{S}.run.run_id")),
        schema=S,
        comment="Fields where a dialog differs from the dialog expected for its correspondence.",
    )
    op.create_index(
        "dialog_mismatch_element_idx", "dialog_mismatch", ["a2_correspondence_id"], schema=S
    )
    op.create_index("dialog_mismatch_field_idx", "dialog_mismatch", ["field"], schema=S)


def downgrade() -> None:
    op.drop_table("dialog_mismatch", schema=S)
    op.drop_table("dialog_check", schema=S)
