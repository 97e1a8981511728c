"""Attachments of one element: each one's bytes streamed from the A2 source to A3
(`POST /migration/attachment`) with its size, once per attachment.

What was uploaded is remembered in `flytt.attachment_state` (A2 id → A3 id), so an attachment
shared by several elements, or of an element sent again, is not uploaded twice. Bytes are read
in a worker thread chunk by chunk (`CHUNK_SIZE`), so memory stays at one chunk; an attachment
whose size the mart does not give is read once to learn it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from flytt.control import attachments
from flytt.warehouse import Warehouse
from loaders.attachments import AttachmentNotFoundError, iter_attachment_bytes
from syncd.delivery_run import ByteSource, DeliveryRun, state_tx
from syncd.payloads import ElementRows, attachment_id, attachment_params, attachment_size

__all__ = [
    "CHUNK_SIZE",
    "AttachmentNotFoundError",
    "AttachmentReadError",
    "ByteSource",
    "byte_stream",
    "default_byte_source",
    "known_attachments",
    "record_attachment",
    "upload_attachments",
]

CHUNK_SIZE = 1 << 20
"""Bytes per chunk when streaming an attachment from A2 to A3."""


class AttachmentReadError(Exception):
    """Reading an attachment's bytes from the A2 source failed (other than a missing file)."""


def default_byte_source() -> ByteSource:
    """The A2 source reader of the loader (`loaders.attachments.iter_attachment_bytes`)."""
    return iter_attachment_bytes


def byte_stream(
    run: DeliveryRun, a2_attachment_id: Any, executor: concurrent.futures.Executor
) -> Callable[[], AsyncIterator[bytes]]:
    """Factory of an async stream of one attachment's bytes, read from the A2 source with
    `run.byte_source` in `executor` chunk by chunk (memory stays at one chunk).

    The stream raises `AttachmentNotFoundError` when the source has no bytes for the
    attachment, and `AttachmentReadError` (the cause chained) for any other read error.
    """

    def factory() -> AsyncIterator[bytes]:
        async def gen() -> AsyncIterator[bytes]:
            try:
                chunks: Iterator[bytes] = run.byte_source(
                    run.settings, a2_attachment_id, chunk_size=CHUNK_SIZE
                )
            except AttachmentNotFoundError:
                raise
            except Exception as exc:
                raise AttachmentReadError(str(exc)) from exc
            loop = asyncio.get_running_loop()
            try:
                while True:
                    try:
                        piece = await loop.run_in_executor(executor, next, chunks, None)
                    except AttachmentNotFoundError:
                        raise
                    except Exception as exc:
                        raise AttachmentReadError(str(exc)) from exc
                    if piece is None:
                        return
                    yield piece
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()

        return gen()

    return factory


async def upload_attachments(
    run: DeliveryRun, rows: ElementRows, known: dict[str, uuid.UUID], executor: Any
) -> list[uuid.UUID]:
    """Upload the element's attachments that `known` (A2 id → A3 id) does not hold yet, record
    them in `flytt.attachment_state` and in `known`, count `attachments_uploaded`.

    Returns:
        The A3 attachment ids, in the order of `rows.attachments`.

    Raises:
        AttachmentNotFoundError, AttachmentReadError: reading the bytes failed.
        A3CallError: A3 refused or failed an upload.
    """
    ids: list[uuid.UUID] = []
    for att in rows.attachments:
        a2_att = attachment_id(att)
        a3_att = known.get(a2_att)
        if a3_att is None:
            raw_id: Any = a2_att
            if raw_id.isdigit():
                raw_id = int(raw_id)  # A2 attachment ids are ints in the source
            body = byte_stream(run, raw_id, executor)
            size = attachment_size(att)
            if size is None:
                data = b"".join([c async for c in body()])
                size = len(data)

                async def buffered(data: bytes = data) -> AsyncIterator[bytes]:
                    yield data

                body = buffered
            a3_att = await run.clients.a3.upload_attachment(attachment_params(att), size, body)
            await asyncio.to_thread(record_attachment, run.warehouse, a2_att, a3_att, att)
            known[a2_att] = a3_att
            run.counts["attachments_uploaded"] += 1
        ids.append(a3_att)
    return ids


def record_attachment(warehouse: Warehouse, a2_id: str, a3_id: uuid.UUID, row: Any) -> None:
    """Remember that A2 attachment `a2_id` (mart row `row` of `a3.correspondence_attachments`
    joined with `a3.attachments`) is A3 attachment `a3_id` (`flytt.control.attachments`)."""
    with state_tx(warehouse) as conn:
        attachments.record(conn, a2_id, a3_id, row.get("resource_id"))


def known_attachments(warehouse: Warehouse, ids: Sequence[str]) -> dict[str, uuid.UUID]:
    """The A3 ids of those A2 attachments among `ids` already uploaded (A2 id → A3 id)."""
    if not ids:
        return {}
    with warehouse.engine.connect() as conn:
        return attachments.known(conn, ids)
