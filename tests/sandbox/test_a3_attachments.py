"""A3 replica, `POST /migration/attachment` (a3-correspondence.md §1.4): bytes stored with their
MD5, checksum mismatch → 502/2002, empty body → 400/2004, duplicate altinn2AttachmentId → the
existing id (the second blob orphaned), query validation, content type."""

from __future__ import annotations

import hashlib
import uuid

import sqlalchemy as sa

from sandbox.a3 import inspect

DATA = b"%PDF-1.4 attachment bytes"


def _params(a2_id: str, **changes) -> dict[str, str]:
    params = {
        "resourceId": "abc-migratedcorrespondence-1234-1",
        "sender": "0192:910000000",
        "senderPartyUuid": str(uuid.uuid4()),
        "altinn2AttachmentId": a2_id,
        "sendersReference": "ref",
        "altinn2sendersReference": "a2-ref",
        "fileName": "vedtak.pdf",
        "displayName": "Vedtak",
        "created": "2024-05-01T10:00:00+02:00",
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def _post(a3, params, content=DATA, content_type="application/octet-stream"):
    return a3.client.post(
        "/attachment", params=params, content=content, headers={"Content-Type": content_type}
    )


def _rows(a3, sql: str, **params):
    with a3.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def test_bytes_metadata_and_published_status_are_stored(a3) -> None:
    md5 = hashlib.md5(DATA).hexdigest()
    response = _post(a3, _params("AT-1", checksum=md5))
    assert response.status_code == 200
    attachment_id = response.json()
    assert inspect.attachment_ids(a3.engine)["AT-1"] == attachment_id
    row = _rows(
        a3,
        'select a."Checksum", a."AttachmentSize", a."SendersReference", a."Created", '
        'a."FileName", b."Content" from correspondence."Attachments" a '
        'join sandbox_storage."Blobs" b on b."DataLocationUrl" = a."DataLocationUrl" '
        'where a."Id" = :i',
        i=attachment_id,
    )[0]
    assert (row.Checksum, row.AttachmentSize, row.SendersReference) == (md5, len(DATA), "a2-ref")
    assert row.Created.isoformat() == "2024-05-01T08:00:00+00:00"
    assert bytes(row.Content) == DATA
    status = _rows(
        a3,
        'select "Status", "StatusText" from correspondence."AttachmentStatuses" '
        'where "AttachmentId" = :i',
        i=attachment_id,
    )
    assert [tuple(s) for s in status] == [(2, "Published")]


def test_a_duplicate_altinn2_attachment_id_returns_the_existing_id(a3) -> None:
    first = _post(a3, _params("AT-2")).json()
    blobs_before = _rows(a3, 'select count(*) from sandbox_storage."Blobs"')[0][0]
    second = _post(a3, _params("AT-2"), content=b"other bytes")
    assert (second.status_code, second.json()) == (200, first)
    assert _rows(a3, 'select count(*) from sandbox_storage."Blobs"')[0][0] == blobs_before + 1
    count = 'select count(*) from correspondence."Attachments" where "Altinn2AttachmentId" = :a'
    assert _rows(a3, count, a="AT-2")[0][0] == 1


def test_upload_errors_match_the_real_service(a3) -> None:
    mismatch = _post(a3, _params("AT-3", checksum="0" * 32))
    assert (mismatch.status_code, mismatch.json()["errorCode"]) == (502, 2002)
    empty = _post(a3, _params("AT-4"), content=b"")
    assert (empty.status_code, empty.json()["errorCode"]) == (400, 2004)
    missing = _post(a3, _params("AT-5", senderPartyUuid=None))
    assert missing.status_code == 400
    assert "SenderPartyUuid" in missing.json()["errors"]
    bad_resource = _post(a3, _params("AT-6", resourceId="a:b:c"))
    assert bad_resource.status_code == 400
    assert _post(a3, _params("AT-7"), content_type="application/pdf").status_code == 415
    assert not {"AT-3", "AT-4", "AT-5", "AT-6", "AT-7"} & set(inspect.attachment_ids(a3.engine))
