"""Delivery: A2 → A3 attachment id map, so an attachment's bytes are uploaded once.

A3 answers a duplicate `altinn2AttachmentId` with the existing id but keeps the second blob as
an orphan (reference a3-correspondence §1.4, §5.1 #24), so flytt remembers what it uploaded.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "flytt"


def upgrade() -> None:
    op.create_table(
        "attachment_state",
        sa.Column(
            "a2_attachment_id",
            sa.Text,
            primary_key=True,
            comment="A2 attachment id as sent in altinn2AttachmentId.",
        ),
        sa.Column(
            "a3_attachment_id",
            pg.UUID(as_uuid=True),
            nullable=False,
            comment="Attachment GUID returned by POST /migration/attachment.",
        ),
        sa.Column("resource_id", sa.Text, comment="A3 resource id the attachment belongs to."),
        sa.Column(
            "uploaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=S,
        comment="Attachments delivered to A3: A2 id → A3 id (step 1.1).",
    )


def downgrade() -> None:
    op.drop_table("attachment_state", schema=S)
