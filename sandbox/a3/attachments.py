"""`POST /migration/attachment` of the A3 replica (`a3-correspondence.md` §1.4).

The bytes go to (sandbox) blob storage first, MD5 and size computed while streaming; a checksum
mismatch is a storage failure (502, 2002). Then one transaction inserts the Attachments row and
one Published AttachmentStatuses row. A duplicate `altinn2AttachmentId` returns the existing id
(200) and leaves the just-uploaded blob orphaned, as the real service did.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from sandbox.a3 import tables as t
from sandbox.a3.migration import MIN_TIME, Crash, org_number, uuid7
from sandbox.a3.models import ORG_PATTERN, RESOURCE_ID_PATTERN
from sandbox.a3.problems import A3Error

ATTACHMENT_PUBLISHED = 2


@dataclass(frozen=True)
class AttachmentQuery:
    """The query-string metadata of an attachment upload (names case-insensitive)."""

    resource_id: str
    sender: str | None
    sender_party_uuid: UUID
    altinn2_attachment_id: str
    senders_reference: str
    created: datetime | None
    altinn2_senders_reference: str
    file_name: str | None
    display_name: str | None
    is_encrypted: bool
    checksum: str | None


def parse_query(params: dict[str, str]) -> tuple[AttachmentQuery | None, list[tuple[str, str]]]:
    """Validate the query parameters as the DataAnnotations do.

    Args:
        params: query parameters with lower-cased names.

    Returns:
        (query, []) when valid, else (None, [(parameter, message), ...]).
    """
    errors: list[tuple[str, str]] = []

    def required(name: str, label: str) -> str:
        value = params.get(name)
        if value is None or value == "":
            errors.append((label, f"The {label} field is required."))
            return ""
        return value

    resource_id = required("resourceid", "ResourceId")
    if resource_id and (len(resource_id) > 255 or not re.match(RESOURCE_ID_PATTERN, resource_id)):
        errors.append(("ResourceId", "Invalid resource id"))
    sender = params.get("sender") or None
    if sender is not None and not re.match(ORG_PATTERN, sender):
        errors.append(("Sender", "Sender must be an organization number URN"))
    party_raw = required("senderpartyuuid", "SenderPartyUuid")
    party = UUID(int=0)
    if party_raw:
        try:
            party = UUID(party_raw)
        except ValueError:
            errors.append(("SenderPartyUuid", "The value is not a valid GUID."))
    a2_id = required("altinn2attachmentid", "Altinn2AttachmentId")
    senders_ref = required("sendersreference", "SendersReference")
    if len(senders_ref) > 4096:
        errors.append(("SendersReference", "Max length 4096"))
    created = None
    if params.get("created"):
        try:
            created = datetime.fromisoformat(params["created"].replace("Z", "+00:00"))
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
        except ValueError:
            errors.append(("Created", "The value is not a valid date."))
    for name, label in (("filename", "FileName"), ("displayname", "DisplayName")):
        if len(params.get(name) or "") > 255:
            errors.append((label, "Max length 255"))
    checksum = params.get("checksum") or None
    if errors:
        return None, errors
    return (
        AttachmentQuery(
            resource_id=resource_id,
            sender=sender,
            sender_party_uuid=party,
            altinn2_attachment_id=a2_id,
            senders_reference=senders_ref,
            created=created,
            altinn2_senders_reference=params.get("altinn2sendersreference") or "",
            file_name=params.get("filename"),
            display_name=params.get("displayname"),
            is_encrypted=(params.get("isencrypted") or "").lower() == "true",
            checksum=checksum,
        ),
        [],
    )


async def upload(
    engine: sa.Engine, q: AttachmentQuery, content_length: int | None, body: AsyncIterator[bytes]
) -> UUID:
    """Store the blob and the attachment rows; return the (new or existing) attachment id.

    Raises:
        A3Error: 2004 when Content-Length is absent or 0; 2002 on a checksum mismatch.
        Crash: sender missing (the Sender column is NOT NULL).
    """
    if not content_length or content_length <= 0:
        raise A3Error(2004)
    md5 = hashlib.md5(usedforsecurity=False)
    chunks = []
    async for chunk in body:
        md5.update(chunk)
        chunks.append(chunk)
    data = b"".join(chunks)
    digest = md5.hexdigest()
    if q.checksum is not None and q.checksum.lower() != digest:
        raise A3Error(2002)
    org_code = q.resource_id.removeprefix("urn:altinn:resource:").split("-", 1)[0]
    new_id = uuid7()
    url = f"https://sandbox-blob.invalid/{org_code}/{new_id}"
    with engine.begin() as conn:
        conn.execute(
            t.blobs.insert().values(DataLocationUrl=url, Content=data, Md5=digest, Size=len(data))
        )
    try:
        with engine.begin() as conn:
            owner = None
            if q.sender:
                owner = conn.execute(
                    sa.select(t.service_owners.c.Id).where(
                        t.service_owners.c.Id == org_number(q.sender)
                    )
                ).scalar()
            conn.execute(
                t.attachments.insert().values(
                    Id=new_id,
                    ResourceId=q.resource_id,
                    FileName=q.file_name,
                    DisplayName=q.display_name,
                    IsEncrypted=q.is_encrypted,
                    Checksum=digest,
                    SendersReference=q.altinn2_senders_reference,
                    Sender=q.sender,
                    DataLocationUrl=url,
                    DataLocationType=0,
                    Created=(q.created or MIN_TIME).astimezone(UTC),
                    AttachmentSize=len(data),
                    Altinn2AttachmentId=q.altinn2_attachment_id,
                    ServiceOwnerId=owner,
                )
            )
            conn.execute(
                t.attachment_statuses.insert().values(
                    Id=uuid7(),
                    AttachmentId=new_id,
                    Status=ATTACHMENT_PUBLISHED,
                    StatusChanged=datetime.now(UTC),
                    StatusText="Published",
                    PartyUuid=q.sender_party_uuid,
                )
            )
    except IntegrityError as exc:
        if getattr(exc.orig, "pgcode", None) != "23505":
            raise Crash("attachment insert failed") from None
        with engine.connect() as conn:
            existing = conn.execute(
                sa.select(t.attachments.c.Id).where(
                    t.attachments.c.Altinn2AttachmentId == q.altinn2_attachment_id
                )
            ).scalar()
        if existing is None:
            raise Crash("duplicate without a row") from None
        return UUID(str(existing))
    return new_id
