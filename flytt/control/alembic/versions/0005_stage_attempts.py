"""One attempt counter per stage: `delivery_attempts` (step 1.1) and `exposure_attempts` (step 5).

Until now one `attempts` column counted failed delivery attempts and, after delivery, went on
counting failed exposure attempts, so an element that needed several delivery attempts had
fewer exposure attempts left before `max_attempts` made it `failed`. Each stage now counts its
own failures; delivery writes `delivery_attempts`, exposure writes
`exposure_attempts`.

Existing data: the old counter cannot be split after the fact. It becomes `delivery_attempts`.
Where the last error was written after delivery (an A3 id and a `last_error_code`: delivery's
`mark_migrated` stores the A3 id and clears the error code, so a later one comes from
exposure), it is also taken as `exposure_attempts`, so no element gets more exposure tries
than it had before.

`attempts` stays as a read-only generated column: the attempts of the element's current stage
(delivery until the element has an A3 id, exposure after), for readers of the single counter.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "flytt"
CURRENT_STAGE = (
    "case when a3_correspondence_id is null then delivery_attempts else exposure_attempts end"
)


def upgrade() -> None:
    op.alter_column("element_state", "attempts", new_column_name="delivery_attempts", schema=S)
    op.alter_column(
        "element_state",
        "delivery_attempts",
        comment="Failed delivery attempts (POST /migration/attachment and /correspondence).",
        schema=S,
    )
    op.add_column(
        "element_state",
        sa.Column(
            "exposure_attempts",
            sa.Integer,
            nullable=False,
            server_default="0",
            comment="Failed make-available attempts (step 5).",
        ),
        schema=S,
    )
    op.create_check_constraint(
        "element_exposure_attempts_not_negative",
        "element_state",
        "exposure_attempts >= 0",
        schema=S,
    )
    op.execute(
        f"update {S}.element_state set exposure_attempts = delivery_attempts "
        "where a3_correspondence_id is not null and last_error_code is not null"
    )
    op.add_column(
        "element_state",
        sa.Column(
            "attempts",
            sa.Integer,
            sa.Computed(CURRENT_STAGE, persisted=True),
            comment="Read-only: failed attempts of the current stage (delivery until the "
            "element has an A3 id, then exposure).",
        ),
        schema=S,
    )


def downgrade() -> None:
    op.drop_column("element_state", "attempts", schema=S)
    op.execute(
        f"update {S}.element_state set delivery_attempts = case when a3_correspondence_id is null "
        "then delivery_attempts else greatest(delivery_attempts, exposure_attempts) end"
    )
    op.drop_constraint("element_exposure_attempts_not_negative", "element_state", schema=S)
    op.drop_column("element_state", "exposure_attempts", schema=S)
    op.alter_column("element_state", "delivery_attempts", new_column_name="attempts", schema=S)
