"""`sync_state`: step 2.2, A2 → A3, per migrated element: which of its A2 events A3 has.

`synced_load_id` is the newest dlt load (`_dlt_load_id` of the `a3` event marts) whose events
of this element A3 holds: delivery writes the newest load among the rows it sent in the
migration payload, each sync pass the load it read up to. Later events (greater load ids) are
what the next pass sends (`flytt.control.sync_state`). Attempts, the next attempt time, the
last error and `failed_at` (a 400 or 404 answer) follow a sync that did not go through;
`events_sent` and `events_skipped` count what sync sent and what A3 would ignore by rule.

Existing data: no rows; the first sync pass treats an element without a row as having only
what its migration payload carried, so it sends its events once more (A3 drops duplicates to
the second, reference a3-correspondence §1.7).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = "flytt"


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "sync_state",
        sa.Column("a2_correspondence_id", sa.Integer, primary_key=True),
        sa.Column(
            "synced_load_id",
            sa.Text,
            nullable=False,
            server_default="",
            comment="A3 holds this element's events of every load up to this _dlt_load_id.",
        ),
        sa.Column("delivered_at", ts, comment="When delivery last recorded the element (UTC)."),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", ts, comment="A transient failure: sync it again then."),
        sa.Column("last_error_code", sa.Text),
        sa.Column("last_error_detail", sa.Text, comment="Without personal data."),
        sa.Column("failed_at", ts, comment="A3 refused the sync (400, 404): needs a look."),
        sa.Column("events_sent", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("events_skipped", sa.BigInteger, nullable=False, server_default="0"),
        schema=S,
        comment="Step 2.2 A2 -> A3 per migrated element (flytt.control.sync_state).",
    )
    op.create_index("sync_state_delivered_at", "sync_state", ["delivered_at"], schema=S)
    op.create_index(
        "sync_state_retry",
        "sync_state",
        ["next_attempt_at"],
        schema=S,
        postgresql_where=sa.text("next_attempt_at is not null and failed_at is null"),
    )


def downgrade() -> None:
    op.drop_table("sync_state", schema=S)
