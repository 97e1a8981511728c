"""Named cursors of incremental jobs (e.g. delivery's discovery high-water mark).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "flytt"


def upgrade() -> None:
    op.create_table(
        "cursor",
        sa.Column("name", sa.Text, primary_key=True, comment="Job and cursor, e.g. discovery."),
        sa.Column("value", sa.Text, nullable=False, comment="The position, as text."),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=S,
        comment="Positions of incremental jobs, so a run costs the change, not the history.",
    )


def downgrade() -> None:
    op.drop_table("cursor", schema=S)
