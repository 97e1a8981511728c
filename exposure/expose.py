"""Step 5: make migrated correspondences available in Dialogporten (issue #5)."""

from __future__ import annotations

from typing import Any

from flytt.errors import NotAvailableYet
from flytt.settings import Settings
from flytt.warehouse import Warehouse


def run_expose(settings: Settings, warehouse: Warehouse, **options: Any) -> dict[str, int]:
    """Make migrated elements available and verify their dialogs; return counts."""
    raise NotAvailableYet("flytt expose", 5)
