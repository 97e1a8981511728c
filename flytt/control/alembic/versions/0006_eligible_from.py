"""`eligible_from`: when A2 allowed an element's migration (its creation + the service's wait).

Delivery and exposure split their capacity between a live lane (elements that became eligible
recently) and a history lane (the backlog), and the steady-state latency of step 6 is measured
from this moment to the dialog being available (`flytt.control.elements`). Discovery writes it
from `a3.correspondence_eligibility.eligible_from`.

Existing data: NULL until the next discovery of the element rewrites its verdict; an element
already delivered keeps NULL and counts as history (readers take `a2_created_at` instead).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "flytt"


def upgrade() -> None:
    op.add_column(
        "element_state",
        sa.Column(
            "eligible_from",
            sa.DateTime(timezone=True),
            comment="When A2 allowed migration: A2 creation + the service's wait time (UTC).",
        ),
        schema=S,
    )


def downgrade() -> None:
    op.drop_column("element_state", "eligible_from", schema=S)
