"""In-memory dialog store of the Dialogporten replica.

Holds each dialog in the output shape of `GET /dialogs/{id}` (schema `Dialog`), an index from
service-owner label to dialog id (for `dialoglookup`), the idempotent keys per org, and the set
of dialogs with a write in flight (a second concurrent write gets 409, dialogporten.md §1.6).
All methods are safe to call from several threads.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Conflict(Exception):
    """Another write on the same dialog is in flight (answered with 409)."""


class DialogStore:
    """Dialogs by id, with label and idempotent-key indexes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dialogs: dict[str, dict[str, Any]] = {}
        self._labels: dict[str, str] = {}
        self._idempotent: dict[tuple[str, str], str] = {}
        self._busy: set[str] = set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._dialogs)

    @contextmanager
    def writing(self, dialog_id: str) -> Iterator[None]:
        """Mark `dialog_id` as being written for the block.

        Raises:
            Conflict: a write on the same dialog is already in flight.
        """
        key = dialog_id.lower()
        with self._lock:
            if key in self._busy:
                raise Conflict(dialog_id)
            self._busy.add(key)
        try:
            yield
        finally:
            with self._lock:
                self._busy.discard(key)

    def get(self, dialog_id: str) -> dict[str, Any] | None:
        """The stored dialog (the live object: copy before handing it out), or None."""
        with self._lock:
            return self._dialogs.get(dialog_id.lower())

    def by_label(self, label: str) -> dict[str, Any] | None:
        """The dialog carrying service-owner label `label` (case-insensitive), or None."""
        with self._lock:
            dialog_id = self._labels.get(label.lower())
            return self._dialogs.get(dialog_id) if dialog_id else None

    def by_idempotent_key(self, org: str, key: str) -> str | None:
        """Id of the dialog created by `org` with `idempotentKey` = `key`, or None."""
        with self._lock:
            return self._idempotent.get((org, key))

    def insert(self, dialog: dict[str, Any], org: str) -> bool:
        """Store a new dialog; False when its id already exists (nothing changes then)."""
        key = dialog["id"].lower()
        with self._lock:
            if key in self._dialogs:
                return False
            self._dialogs[key] = dialog
            for label in dialog["serviceOwnerContext"]["serviceOwnerLabels"]:
                self._labels.setdefault(label["value"].lower(), key)
            if dialog.get("idempotentKey"):
                self._idempotent[(org, dialog["idempotentKey"])] = key
            return True

    def touch(self, dialog: dict[str, Any]) -> str:
        """Give `dialog` a new revision (after a write) and return it."""
        with self._lock:
            dialog["revision"] = str(uuid.uuid4())
            return str(dialog["revision"])

    def all(self) -> list[dict[str, Any]]:
        """Every stored dialog (live objects)."""
        with self._lock:
            return list(self._dialogs.values())
