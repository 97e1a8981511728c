"""Attachment bytes, streamed from the A2 source at delivery time (issue #3, DESIGN §2 Delivery).

The warehouse holds only each attachment's MD5 and length (`a2_raw.a2_correspondence_attachment.
data_md5`, `data_length`); the bytes are read here, in chunks, from the physical attachment table
named by the table map, so memory stays bounded whatever the attachment's size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from flytt.errors import UserError
from flytt.settings import Settings
from loaders.source import a2_engine, blob_length, resolve_a2_url
from loaders.table_map import load_table_map

TABLE = "a2_correspondence_attachment"
DEFAULT_CHUNK = 1 << 20


class AttachmentNotFoundError(UserError):
    """The attachment id is not in the A2 source (or its bytes are NULL)."""


class blob_slice(FunctionElement[bytes]):
    """`blob_slice(col, start, length)`: `length` bytes of a binary column from 1-based `start`."""

    type = sa.LargeBinary()
    inherit_cache = True
    name = "blob_slice"


@compiles(blob_slice)
def _slice_default(element: blob_slice, compiler: SQLCompiler, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)})"


@compiles(blob_slice, "postgresql")
@compiles(blob_slice, "mssql")
def _slice_substring(element: blob_slice, compiler: SQLCompiler, **kw: Any) -> str:
    return f"SUBSTRING({compiler.process(element.clauses, **kw)})"


_ENGINES: dict[str, Engine] = {}


def _engine(settings: Settings) -> Engine:
    """One pooled engine per A2 source URL for the life of the process."""
    key = resolve_a2_url(settings).render_as_string(hide_password=False)
    if key not in _ENGINES:
        _ENGINES[key] = a2_engine(settings, check=False)
    return _ENGINES[key]


def attachment_queries(settings: Settings) -> tuple[sa.Table, sa.ColumnElement[Any], Any]:
    """(physical table, id column, data column) of the attachment table per the table map."""
    mapping = load_table_map(settings.a2_table_map)[TABLE]
    table = sa.table(
        mapping.table or TABLE,
        sa.column(mapping.physical_column("attachment_id")),
        sa.column(mapping.physical_column("data"), sa.LargeBinary()),
        schema=mapping.db_schema,
    )
    id_col = table.c[mapping.physical_column("attachment_id")]
    data_col = table.c[mapping.physical_column("data")]
    return table, id_col, data_col  # type: ignore[return-value]


def iter_attachment_bytes(
    settings: Settings, attachment_id: int, chunk_size: int = DEFAULT_CHUNK
) -> Iterator[bytes]:
    """Yield the bytes of A2 attachment `attachment_id` in chunks of at most `chunk_size`.

    Args:
        settings: flytt settings (A2 source URL/password, table map).
        attachment_id: the A2 AttachmentID (`altinn2AttachmentId`).
        chunk_size: bytes per chunk (each chunk is one query, so memory stays bounded).

    Yields:
        Non-empty byte strings whose concatenation is the attachment (nothing for 0 bytes).

    Raises:
        AttachmentNotFoundError: no such attachment, or its data is NULL.
        UserError: the source is unreachable (names FLYTT_A2_SOURCE_URL).
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    table, id_col, data_col = attachment_queries(settings)
    engine = _engine(settings)
    with engine.connect() as conn:
        length = conn.execute(
            sa.select(blob_length(data_col)).select_from(table).where(id_col == attachment_id)
        ).first()
        if length is None or length[0] is None:
            raise AttachmentNotFoundError(
                f"A2 attachment {attachment_id} is not in the A2 source (or has no data)."
            )
        total = int(length[0])
        for start in range(0, total, chunk_size):
            chunk = conn.execute(
                sa.select(blob_slice(data_col, start + 1, chunk_size))
                .select_from(table)
                .where(id_col == attachment_id)
            ).scalar_one()
            yield bytes(chunk)


def attachment_md5(settings: Settings, attachment_id: int) -> str:
    """Lower-case hex MD5 of the attachment's bytes, streamed (compare with `data_md5`)."""
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in iter_attachment_bytes(settings, attachment_id):
        digest.update(chunk)
    return digest.hexdigest()
