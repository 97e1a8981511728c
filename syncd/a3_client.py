"""Async client of the A3 Correspondence migration API (reference a3-correspondence §1.2–§1.5).

Endpoints used for delivery, under `<a3_base_url>/correspondence/api/v1/migration`:

* `POST /attachment?<metadata>` with the raw bytes (`application/octet-stream`, explicit
  `Content-Length` > 0, otherwise 400/2004) → 200 and the attachment GUID as a JSON string;
  a duplicate `altinn2AttachmentId` returns the existing GUID (§1.4).
* `POST /correspondence` with `MigrateCorrespondenceExt` → 200 `CorrespondenceMigrationStatusExt`
  (`correspondenceId`, `attachmentStatuses`, `dialogId`); a duplicate `altinn2CorrespondenceId`
  is a re-migration that returns the same id and adds only new events (§1.5.3).

Authentication: a raw Maskinporten token with scope `altinn:correspondence.migrate` (§1.1).
No `Accept` header other than `application/json` is sent (406 otherwise, §1.1).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from syncd.maskinporten import MIGRATE_SCOPE, MaskinportenClient
from syncd.retry import A3CallError, call_with_retry, error_from_response, error_from_transport

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
    """Timeouts for A3 calls: 5 s to connect, `read_seconds` to read/write, 5 s for a pool slot
    wait is not limited (the semaphore bounds concurrency)."""
    return httpx.Timeout(connect=5.0, read=read_seconds, write=read_seconds, pool=None)


class A3MigrationClient:
    """Calls the migration API with bounded connections and retries.

    Args:
        base_url: A3 base URL (`settings.a3_base_url`), e.g. `https://platform.altinn.no`.
        tokens: Maskinporten client for the bearer token.
        concurrency: connection pool size (`settings.concurrency`).
        tries: attempts per call for transient errors (429/5xx/timeouts), with backoff.
        timeout: httpx timeout; default `http_timeout()`.
        transport: an httpx async transport (tests: `httpx.ASGITransport`); default network.
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
        self.tokens = tokens
        self.tries = tries
        self.initial_wait = initial_wait
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + MIGRATION_PATH,
            timeout=timeout or http_timeout(),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
        )
        self.requests = 0
        """HTTP requests sent (retries included), for the benchmark and tests."""

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def _headers(self) -> dict[str, str]:
        token = await self.tokens.atoken([MIGRATE_SCOPE])
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    async def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**(await self._headers()), **kwargs.pop("headers", {})}
        self.requests += 1
        try:
            response = await self.http.post(path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from None
        if response.status_code == 401:
            # An expired or revoked token: fetch a new one and let the retry policy try again.
            self.tokens.invalidate([MIGRATE_SCOPE])
            raise A3CallError("http_401", status=401, transient=True, detail="token refused")
        if response.status_code >= 300:
            raise error_from_response(response)
        return response

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

        async def once() -> uuid.UUID:
            response = await self._post(
                "/attachment",
                params=params,
                content=body(),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(size),
                },
            )
            return uuid.UUID(str(response.json()))

        return await call_with_retry(once, tries=self.tries, initial_wait=self.initial_wait)

    async def migrate_correspondence(self, payload: dict[str, Any]) -> MigrationResult:
        """Send one `MigrateCorrespondenceExt` (§1.5) and return the A3 id.

        Raises:
            A3CallError: permanent error (400 validation, 404, ...), or transient errors beyond
                `tries`.
        """

        async def once() -> MigrationResult:
            response = await self._post("/correspondence", json=payload)
            body = response.json()
            return MigrationResult(
                correspondence_id=uuid.UUID(str(body["correspondenceId"])),
                remigrated=body.get("attachmentStatuses") is None,
            )

        return await call_with_retry(once, tries=self.tries, initial_wait=self.initial_wait)
