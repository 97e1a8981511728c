"""The dlt pipeline from the A2 source to `a2_raw` (issue #3)."""

from __future__ import annotations

from flytt.errors import NotAvailableYet
from flytt.settings import Settings
from flytt.warehouse import Warehouse


def run_load(settings: Settings, warehouse: Warehouse) -> dict[str, int]:
    """Load the mapped A2 tables into `a2_raw`; return rows loaded per table."""
    raise NotAvailableYet("flytt load", 3)
