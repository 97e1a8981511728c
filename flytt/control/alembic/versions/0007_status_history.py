"""`status_history`: a compact time series of the status counts, one row per sample.

The daemon writes a row every `daemon_history_every_seconds` (`flytt.control.history`); the
status page plots throughput, backlog, failures and latency from it, and `flytt status` reads
each step's `since` (when it entered its current state) from it, so both survive restarts.
Pruned by the same job: rows older than `history_days` go, and rows older than two days are
thinned to the first of each hour.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "flytt"


def upgrade() -> None:
    op.create_table(
        "status_history",
        sa.Column(
            "environment",
            sa.Text(),
            primary_key=True,
            comment="settings.environment of the writer (each reads its own).",
        ),
        sa.Column(
            "sampled_at",
            sa.DateTime(timezone=True),
            primary_key=True,
            comment="When the sample was taken (UTC).",
        ),
        sa.Column(
            "counts",
            postgresql.JSONB(),
            nullable=False,
            comment="Elements per state (flytt status counts_by_state).",
        ),
        sa.Column(
            "step_states",
            postgresql.JSONB(),
            nullable=False,
            comment='State of each transition step, e.g. {"1.1": "done", "2.1": "running"}.',
        ),
        sa.Column(
            "quarantine",
            postgresql.JSONB(),
            nullable=False,
            comment='Quarantined rows per "source:reason_code" (flytt report).',
        ),
        sa.Column(
            "oldest_eligible_age_s",
            sa.Float(),
            comment="Age of the oldest eligible element not delivered yet (s).",
        ),
        sa.Column(
            "oldest_migrated_age_s",
            sa.Float(),
            comment="Age of the oldest delivered element not available yet (s).",
        ),
        sa.Column(
            "latency_p95_s",
            sa.Float(),
            comment="Steady-state latency p95, eligible to available (s), step 6.",
        ),
        schema=S,
        comment="Time series of the status counts for the status page (flytt.control.history).",
    )


def downgrade() -> None:
    op.drop_table("status_history", schema=S)
