"""Generate the sandbox A2 database (issue #3)."""

from __future__ import annotations

from flytt.errors import NotAvailableYet
from flytt.settings import Settings


def generate_a2(settings: Settings, size: int, seed: int, url: str | None = None) -> dict[str, int]:
    """Write `size` sandbox correspondences to `url`; return row counts per table."""
    raise NotAvailableYet("flytt sandbox a2", 3)
