"""The control schema `flytt`: per-element state machine, services, runs and quarantine.

It is the only mutable state outside A2 and A3 (DESIGN §2). It is created and upgraded by
Alembic migrations in `flytt/control/alembic/versions/`; `upgrade(warehouse)` brings any
warehouse to the newest revision and is safe to call before every command.

Each table has one module that owns its SQL (named queries; callers hold none):
`elements` (the per-element state machine `flytt.element_state`, every stage, and the
delivery quarantine `flytt.quarantine`), `services` (`flytt.service_state`, step 1.2),
`attachments` (`flytt.attachment_state`), `dialog_checks` (`flytt.dialog_check`,
`flytt.dialog_mismatch`, step 5 verification), `cursors` (`flytt.cursor`) and `runs`
(`flytt.run`). `tests/control/test_control_sql_owners.py` keeps it so.
"""

from flytt.control.migrate import current_revision, head_revision, upgrade
from flytt.control.states import ELEMENT_STATES, ElementState

__all__ = ["ELEMENT_STATES", "ElementState", "current_revision", "head_revision", "upgrade"]
