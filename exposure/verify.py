"""Verify exposed elements' dialogs in Dialogporten and store the differences (step 5).

For each available element not verified yet: look the dialog up by
`urn:altinn:correspondence-id:{A3 id}` (dialogporten.md §1.1 `dialoglookup`), read it, and
compare it with the expected dialog (`exposure.expected`, `exposure.compare`). The result goes
to `flytt.dialog_check` (one row per element, replaced on re-check) and
`flytt.dialog_mismatch` (one row per differing field), values masked with `flytt.redact`.

Extra fields beyond `exposure.compare`: `dialog` (no dialog found by the lookup),
`dialogId` (the lookup finds another dialog than the one A3 reported), `expected` (the expected
dialog could not be computed: the `exposure.expected.ExpectedUnavailable` code, e.g.
`not_in_marts` or `unreadable_row`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from exposure.clients import DialogportenClient
from exposure.compare import Mismatch, compare_dialog
from exposure.dialog import CORRESPONDENCE_LABEL_PREFIX
from exposure.expected import ExpectedUnavailable, expected_dialogs
from flytt.control import dialog_checks, elements
from flytt.redact import redact
from syncd.marts import describe_error, is_connection_error
from syncd.retry import A3CallError

log = logging.getLogger(__name__)


async def _check_one(
    client: DialogportenClient, row: dict[str, Any], expected: Any
) -> tuple[str | None, list[Mismatch]]:
    """(dialog id found by the lookup or None, mismatches) for one element."""
    label = f"{CORRESPONDENCE_LABEL_PREFIX}{row['a3_correspondence_id']}"
    dialog_id = await client.lookup(label)
    if dialog_id is None:
        return None, [("dialog", "present", "missing")]
    out: list[Mismatch] = []
    recorded = row.get("dialog_id")
    if recorded is not None and str(recorded).lower() != dialog_id.lower():
        out.append(("dialogId", str(recorded), dialog_id))
    if isinstance(expected, ExpectedUnavailable):
        return dialog_id, [*out, ("expected", expected.code, None)]
    document = await client.get(dialog_id)
    if document is None:
        return None, [*out, ("dialog", "present", "missing")]
    return dialog_id, out + compare_dialog(expected.body, document)


async def _guarded(
    gate: asyncio.Semaphore, client: DialogportenClient, row: dict[str, Any], expected: Any
) -> tuple[dict[str, Any], tuple[str | None, list[Mismatch]] | None]:
    """`_check_one` under the concurrency gate; None instead of a result when Dialogporten
    kept failing or its answer for this element could not be compared (the element stays
    unverified and counts in `verify_errors`; the others go on)."""
    async with gate:
        try:
            return row, await _check_one(client, row, expected)
        except A3CallError:
            return row, None
        except Exception as exc:  # one dialog's surprise never stops the verification
            if is_connection_error(exc):
                raise
            log.warning(
                "verifying element %s failed: %s", row["a2_correspondence_id"], describe_error(exc)
            )
            return row, None


def _store(
    conn: sa.Connection,
    row: dict[str, Any],
    dialog_id: str | None,
    mismatches: list[Mismatch],
    run_id: int | None,
) -> None:
    """Store one element's check; values are redacted and cut to 1000 characters."""
    dialog_checks.store(
        conn,
        row["a2_correspondence_id"],
        row["a3_correspondence_id"],
        dialog_id,
        [
            (
                field,
                None if want is None else redact(want)[:1000],
                None if got is None else redact(got)[:1000],
            )
            for field, want, got in mismatches
        ],
        run_id,
    )


async def verify_available(
    engine: sa.Engine,
    client: DialogportenClient,
    *,
    correspondence_base_url: str,
    batch_size: int,
    concurrency: int,
    recheck: bool = False,
    run_id: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Counter[str]:
    """Verify every available element without a check (all of them with `recheck`).

    Returns counts: `verified`, `dialogs_with_mismatches`, `mismatches`, `verify_errors`
    (Dialogporten kept failing; those elements stay unverified for the next run).
    """
    counts: Counter[str] = Counter()
    if recheck:
        with engine.begin() as conn:
            dialog_checks.forget_checks(conn)
    skip: set[int] = set()
    gate = asyncio.Semaphore(concurrency)
    while not should_stop():
        with engine.connect() as conn:
            rows = [
                r
                for r in elements.unverified(conn, batch_size + len(skip))
                if r["a2_correspondence_id"] not in skip
            ][:batch_size]
            if not rows:
                break
            expected = expected_dialogs(
                conn,
                [
                    (
                        r["a2_correspondence_id"],
                        UUID(str(r["a3_correspondence_id"])),
                        r["available_at"],
                    )
                    for r in rows
                ],
                correspondence_base_url=correspondence_base_url,
            )

        results = await asyncio.gather(
            *(_guarded(gate, client, r, expected[r["a2_correspondence_id"]]) for r in rows)
        )
        with engine.begin() as conn:
            for row, result in results:
                if result is None:
                    skip.add(row["a2_correspondence_id"])
                    counts["verify_errors"] += 1
                    continue
                dialog_id, found = result
                _store(conn, row, dialog_id, found, run_id)
                counts["verified"] += 1
                if found:
                    counts["dialogs_with_mismatches"] += 1
                    counts["mismatches"] += len(found)
    return counts
