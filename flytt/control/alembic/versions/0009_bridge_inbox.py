"""`bridge_inbox`: step 2.2, A3 → A2, the events Altinn 3 sent to the SBL-bridge endpoint.

flytt's daemon plays Altinn Storage's part (`storage/api/v1/sblbridge/synccorrespondenceevent`,
reference sync-and-delegations §1.1): each accepted event is a row here before the answer goes
out, and the `bridge` job applies it to Altinn 2 through the A2 SBL bridge. One row per
(A2 correspondence, party, event type, event time): a retried delivery of the same event finds
its row (`deliveries` counts them) and is not applied twice.

`sync_state.events_echoed` counts the A2 events step 2.2 did not send to A3 because they came
from A3 through the bridge in the first place.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

S = "flytt"


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "bridge_inbox",
        sa.Column("event_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "a2_correspondence_id",
            sa.Integer,
            nullable=False,
            comment="correspondenceId of the call: the A2 id (seReporteeElementId).",
        ),
        sa.Column("party_id", sa.Integer, nullable=False, comment="The acting party (A2 id)."),
        sa.Column("event_type", sa.Text, nullable=False, comment="read, confirm or delete."),
        sa.Column("event_timestamp", ts, nullable=False, comment="When it happened in A3 (UTC)."),
        sa.Column("received_at", ts, nullable=False, server_default=sa.text("now()")),
        sa.Column(
            "deliveries",
            sa.Integer,
            nullable=False,
            server_default="1",
            comment="How many times A3 sent this event (its retries).",
        ),
        sa.Column(
            "outcome",
            sa.Text,
            nullable=False,
            server_default="pending",
            comment="pending, applied, echo (A2 already had it), superseded (A2 had "
            "deleted the element since) or failed.",
        ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", ts, comment="A transient A2-bridge failure: again then."),
        sa.Column("last_error_code", sa.Text),
        sa.Column("last_error_detail", sa.Text, comment="Without personal data."),
        sa.Column("applied_at", ts, comment="When A2 took it (or it was found there)."),
        sa.UniqueConstraint(
            "a2_correspondence_id",
            "party_id",
            "event_type",
            "event_timestamp",
            name="bridge_inbox_event",
        ),
        schema=S,
        comment="Step 2.2 A3 -> A2: events received on the SBL-bridge endpoint "
        "(flytt.control.bridge_inbox).",
    )
    op.create_index(
        "bridge_inbox_pending",
        "bridge_inbox",
        ["event_timestamp", "event_id"],
        schema=S,
        postgresql_where=sa.text("outcome = 'pending'"),
    )
    op.add_column(
        "sync_state",
        sa.Column(
            "events_echoed",
            sa.BigInteger,
            nullable=False,
            server_default="0",
            comment="A2 events not sent back to A3: they came from A3 (bridge_inbox).",
        ),
        schema=S,
    )
    op.create_index("bridge_inbox_by_element", "bridge_inbox", ["a2_correspondence_id"], schema=S)


def downgrade() -> None:
    op.drop_column("sync_state", "events_echoed", schema=S)
    op.drop_table("bridge_inbox", schema=S)
