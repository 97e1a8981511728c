"""Async client of the A3 Correspondence migration API (reference a3-correspondence §1.2–§1.5).

Endpoints used for delivery, under `<a3_base_url>/correspondence/api/v1/migration`:

* `POST /attachment?<metadata>` with the raw bytes (`application/octet-stream`, explicit
  `Content-Length` > 0, otherwise 400/2004) → 200 and the attachment GUID as a JSON string;
  a duplicate `altinn2AttachmentId` returns the existing GUID (§1.4).
* `POST /correspondence` with `MigrateCorrespondenceExt` → 200 `CorrespondenceMigrationStatusExt`
  (`correspondenceId`, `attachmentStatuses`, `dialogId`); a duplicate `altinn2CorrespondenceId`
  is a re-migration that returns the same id and adds only new events (§1.5.3).
* `POST /correspondence/syncStatusEvent`, `/syncNotificationEvent`, `/syncForwardingEvent`
  (step 2.2, §1.7) → 200 and the correspondence GUID as a JSON string.

Authentication: a raw Maskinporten token with scope `altinn:correspondence.migrate` (§1.1).
No `Accept` header other than `application/json` is sent (406 otherwise, §1.1).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from flytt.altinn.client import AltinnClient, default_timeout
from flytt.altinn.maskinporten import MIGRATE_SCOPE, MaskinportenClient

MIGRATION_PATH = "/correspondence/api/v1/migration"


@dataclass(frozen=True)
class MigrationResult:
    """What A3 answered to one migrate call.

    Attributes:
        correspondence_id: the A3 GUID (store it with the A2 id).
        remigrated: True when A3 already had the element (re-migration answers with
            `attachmentStatuses` null, §1.5.2), so nothing new was created.
    """

    correspondence_id: uuid.UUID
    remigrated: bool


def http_timeout(read_seconds: float = 30.0) -> httpx.Timeout:
    """Timeouts for A3 calls in seconds: 5 to connect, `read_seconds` to read/write, no limit on
    the wait for a pool slot (the pool size bounds concurrency); `default_timeout` of the
    client base."""
    return default_timeout(read_seconds)


class A3MigrationClient(AltinnClient):
    """Calls the migration API with bounded connections and retries (the client base
    `flytt.altinn.client.AltinnClient`: token with scope `altinn:correspondence.migrate`,
    401 → one refresh, Retry-After honoured).

    Args:
        base_url: A3 base URL (`settings.a3_base_url`), e.g. `https://platform.altinn.no`.
        tokens: Maskinporten client for the bearer token.
        concurrency: connection pool size (`settings.concurrency`).
        tries: attempts per call for transient errors (429/5xx/timeouts), with backoff.
        timeout: httpx timeout; default `http_timeout()`.
        transport: an httpx async transport (tests: `httpx.ASGITransport`); default network.
        initial_wait: first backoff ceiling in seconds when A3 sends no Retry-After.

    Attributes:
        requests: HTTP requests sent (retries included), for the benchmark and tests.
    """

    def __init__(
        self,
        base_url: str,
        tokens: MaskinportenClient,
        *,
        concurrency: int = 8,
        tries: int = 4,
        timeout: httpx.Timeout | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        initial_wait: float = 0.2,
    ) -> None:
        super().__init__(
            base_url.rstrip("/") + MIGRATION_PATH,
            tokens,
            (MIGRATE_SCOPE,),
            concurrency=concurrency,
            tries=tries,
            timeout=timeout or http_timeout(),
            transport=transport,
            initial_wait=initial_wait,
        )

    async def upload_attachment(
        self, params: dict[str, str], size: int, body: Callable[[], AsyncIterator[bytes]]
    ) -> uuid.UUID:
        """Stream one attachment's bytes with its metadata in the query string (§1.4).

        Args:
            params: query parameters (`resourceId`, `sender`, `senderPartyUuid`,
                `altinn2AttachmentId`, `created`, `sendersReference`, `checksum`, ...).
            size: byte count, sent as `Content-Length` (must be > 0).
            body: factory of a fresh async byte stream, called once per try.

        Returns:
            The A3 attachment GUID (the existing one for a duplicate `altinn2AttachmentId`).

        Raises:
            A3CallError: permanent error, or transient errors beyond `tries`.
        """
        response = await self.request(
            "POST",
            "/attachment",
            params=params,
            fresh=lambda: {"content": body()},
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
        return uuid.UUID(str(response.json()))

    async def migrate_correspondence(self, payload: dict[str, Any]) -> MigrationResult:
        """Send one `MigrateCorrespondenceExt` (§1.5) and return the A3 id.

        Raises:
            A3CallError: permanent error (400 validation, 404, ...), or transient errors beyond
                `tries`.
        """
        response = await self.request("POST", "/correspondence", json=payload)
        body = response.json()
        return MigrationResult(
            correspondence_id=uuid.UUID(str(body["correspondenceId"])),
            remigrated=body.get("attachmentStatuses") is None,
        )

    async def sync(self, endpoint: str, body: dict[str, Any]) -> uuid.UUID:
        """Send one sync request of step 2.2 (a3-correspondence §1.7): `endpoint` is
        `syncStatusEvent`, `syncNotificationEvent` or `syncForwardingEvent`, `body` its JSON
        (`syncd.payloads.SyncRequests`). A3 answers 200 with the correspondence id also when
        it kept none of the events (duplicates, ignored codes); each event is its own
        transaction there, so a retried request is safe.

        Raises:
            A3CallError: 404/1001 (A3 does not know the id), 400 (validation), or transient
                errors beyond `tries`.
        """
        response = await self.request("POST", f"/correspondence/{endpoint}", json=body)
        return uuid.UUID(str(response.json()))
