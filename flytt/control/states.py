"""Element states of the per-correspondence state machine (DESIGN §3 "element state").

Happy path: discovered → eligible → migrated → available → a2_blocked.
Side states: excluded (not in scope, with a reason), quarantined (would break A3, with a
reason code), failed (gave up after `max_attempts`, with the last error code).
A reset (`flytt migrate --reset ID`) puts an element back to `eligible`.
"""

from __future__ import annotations

from enum import StrEnum


class ElementState(StrEnum):
    """State of one A2 correspondence in `flytt.element_state.state`."""

    DISCOVERED = "discovered"
    ELIGIBLE = "eligible"
    MIGRATED = "migrated"
    AVAILABLE = "available"
    A2_BLOCKED = "a2_blocked"
    EXCLUDED = "excluded"
    QUARANTINED = "quarantined"
    FAILED = "failed"


ELEMENT_STATES: tuple[str, ...] = tuple(s.value for s in ElementState)
