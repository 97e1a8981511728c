"""The control schema `flytt`: per-element state machine, services, runs and quarantine.

It is the only mutable state outside A2 and A3 (DESIGN §2). It is created and upgraded by
Alembic migrations in `flytt/control/alembic/versions/`; `upgrade(warehouse)` brings any
warehouse to the newest revision and is safe to call before every command.
"""

from flytt.control.migrate import current_revision, head_revision, upgrade
from flytt.control.states import ELEMENT_STATES, ElementState

__all__ = ["ELEMENT_STATES", "ElementState", "current_revision", "head_revision", "upgrade"]
