"""Delivery of one leased element to A3 (step 1.1), and what each of its errors leads to.

One element's data never stops the run: whatever goes wrong with it ends on it with a reason
code (`syncd.delivery` lists them), written through `DeliveryRun`. Only what is not the
element's fault is raised: Maskinporten refusing our client and the warehouse connection
failing.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from flytt.control.elements import Claimed
from syncd.attachments_upload import (
    AttachmentNotFoundError,
    AttachmentReadError,
    upload_attachments,
)
from syncd.delivery_run import DeliveryRun
from syncd.marts import describe_error, is_connection_error
from syncd.payloads import ElementRows, build_correspondence, guard
from syncd.retry import A3CallError


async def deliver_element(
    run: DeliveryRun,
    claimed: Claimed,
    rows: ElementRows,
    known: dict[str, uuid.UUID],
    executor: Any,
) -> str:
    """Deliver one leased element; returns its outcome: delivered, already_there,
    quarantined, retry, failed, unreachable (A3 or Maskinporten refused the connection; lease
    released, no attempt counted) or lost (lease lost to another process).

    Any error of this element's own ends on it with a code (module docstring); only the errors
    that are not the element's fault are raised: Maskinporten refusing our client
    (`A3CallError` maskinporten_*) and the warehouse connection failing.

    Args:
        rows: the element's mart rows; known: A2 → A3 ids of attachments already uploaded
            (updated); executor: the thread pool that reads attachment bytes.
    """
    a2_id = claimed.a2_correspondence_id
    try:
        reasons = guard(rows)
    except Exception as exc:
        reasons = [("payload_error", describe_error(exc))]
    if reasons:
        ok = await asyncio.to_thread(run.quarantine, a2_id, reasons)
        return "quarantined" if ok else "lost"
    try:
        attachment_ids = await upload_attachments(run, rows, known, executor)
        try:
            payload = build_correspondence(rows, attachment_ids)
        except Exception as exc:
            ok = await asyncio.to_thread(
                run.quarantine, a2_id, [("payload_error", describe_error(exc))]
            )
            return "quarantined" if ok else "lost"
        result = await run.clients.a3.migrate_correspondence(payload)
    except A3CallError as exc:
        if exc.code.startswith("maskinporten_") and not exc.transient:
            raise
        if exc.code.endswith("connect"):
            # the service is down, not the element's fault: no attempt is counted
            await asyncio.to_thread(run.release, [a2_id])
            return "unreachable"
        if exc.status == 400:
            ok = await asyncio.to_thread(
                run.quarantine, a2_id, [(f"a3_rejected_{exc.code}", exc.detail)]
            )
            return "quarantined" if ok else "lost"
        return await asyncio.to_thread(
            run.attempt_failed, a2_id, claimed.attempts, exc.code, exc.detail, exc.transient
        )
    except AttachmentNotFoundError:  # the A2 source has no bytes for an attachment
        ok = await asyncio.to_thread(
            run.quarantine,
            a2_id,
            [("attachment_bytes_missing", "the A2 source has no bytes for an attachment")],
        )
        return "quarantined" if ok else "lost"
    except AttachmentReadError as exc:
        cause = exc.__cause__ or exc
        return await asyncio.to_thread(
            run.attempt_failed,
            a2_id,
            claimed.attempts,
            "attachment_read_error",
            describe_error(cause),
            True,
        )
    except Exception as exc:
        if is_connection_error(exc):  # no element is to blame: the run stops
            raise
        return await asyncio.to_thread(
            run.attempt_failed,
            a2_id,
            claimed.attempts,
            "unexpected_error",
            describe_error(exc),
            True,
        )
    ok = await asyncio.to_thread(
        run.migrated, a2_id, result.correspondence_id, rows.newest_load_id()
    )
    if not ok:
        return "lost"
    return "already_there" if result.remigrated else "delivered"
