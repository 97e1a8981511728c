"""Delivery of services, attachments and correspondences to A3 (issue #6)."""

from __future__ import annotations

from typing import Any

from flytt.errors import NotAvailableYet
from flytt.settings import Settings
from flytt.warehouse import Warehouse


def run_migrate(settings: Settings, warehouse: Warehouse, **options: Any) -> dict[str, int]:
    """Deliver eligible elements to the A3 migration API; return counts."""
    raise NotAvailableYet("flytt migrate", 6)
