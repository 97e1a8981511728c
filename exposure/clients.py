"""HTTP clients of step 5: A3 make-available and the Dialogporten service-owner API.

* A3: `POST {a3}/correspondence/api/v1/migration/makemigratedcorrespondenceavailable` in list
  mode, `{"correspondenceIds": [...], "createEvents": false}` → `{"statuses": [{correspondenceId,
  dialogId, ok, error}]}` (a3-correspondence.md §1.6), raw Maskinporten token with scope
  `altinn:correspondence.migrate`.
* Dialogporten: `GET /api/v1/serviceowner/dialoglookup?instanceRef=urn:altinn:correspondence-id:
  {id}` and `GET /api/v1/serviceowner/dialogs/{id}` (dialogporten.md §1.1), token with
  `digdir:dialogporten.serviceprovider`.

Both use the one Altinn client base `flytt.altinn.client.AltinnClient`: Maskinporten token,
401 → one refresh, bounded pool; 429/5xx/timeouts are retried (tenacity), waiting the server's
`Retry-After` (seconds or HTTP date) or exponential backoff with jitter.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from flytt.altinn.client import AltinnClient
from flytt.altinn.maskinporten import MIGRATE_SCOPE, MaskinportenClient

MAKE_AVAILABLE_PATH = "/correspondence/api/v1/migration/makemigratedcorrespondenceavailable"
LOOKUP_PATH = "/api/v1/serviceowner/dialoglookup"
DIALOG_PATH = "/api/v1/serviceowner/dialogs/{id}"
DIALOGPORTEN_SCOPES = ("digdir:dialogporten.serviceprovider",)


@dataclass(frozen=True)
class AvailabilityStatus:
    """A3's answer for one correspondence: `ok` with a non-empty `dialog_id` is success."""

    correspondence_id: uuid.UUID
    dialog_id: str | None
    ok: bool
    error: str | None

    @property
    def succeeded(self) -> bool:
        """True only for `ok: true` with a dialog id: an empty id is A3's 400/422 quirk (§1.6)."""
        return self.ok and bool(self.dialog_id)


class _Client(AltinnClient):
    """The client base with step 5's defaults: a 60 s read/write timeout, 5 s to connect."""

    def __init__(
        self,
        base_url: str,
        tokens: MaskinportenClient,
        scopes: tuple[str, ...],
        *,
        concurrency: int,
        tries: int,
        initial_wait: float,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            tokens,
            scopes,
            concurrency=concurrency,
            tries=tries,
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
            initial_wait=initial_wait,
        )

    async def _call(self, method: str, path: str, ok: tuple[int, ...], **kwargs: Any) -> Any:
        return await self.request(method, path, ok=ok, **kwargs)


class MakeAvailableClient(_Client):
    """A3's make-available in list mode (a3-correspondence.md §1.6)."""

    def __init__(self, base_url: str, tokens: MaskinportenClient, **kwargs: Any) -> None:
        super().__init__(base_url, tokens, (MIGRATE_SCOPE,), **kwargs)

    async def make_available(self, ids: list[uuid.UUID]) -> list[AvailabilityStatus]:
        """Ask A3 to create the dialogs of `ids` (processed in order inside the request).

        Returns one status per id A3 answered for (an id missing from the answer counts as a
        failure for the caller).

        Raises:
            A3CallError: permanent HTTP error, or transient ones beyond the tries.
        """
        response = await self._call(
            "POST",
            MAKE_AVAILABLE_PATH,
            (200,),
            json={"correspondenceIds": [str(i) for i in ids], "createEvents": False},
        )
        return [
            AvailabilityStatus(
                correspondence_id=uuid.UUID(str(s["correspondenceId"])),
                dialog_id=s.get("dialogId") or None,
                ok=bool(s.get("ok")),
                error=s.get("error"),
            )
            for s in response.json().get("statuses") or []
        ]


class DialogportenClient(_Client):
    """Read dialogs from the Dialogporten service-owner API."""

    def __init__(self, base_url: str, tokens: MaskinportenClient, **kwargs: Any) -> None:
        super().__init__(base_url, tokens, DIALOGPORTEN_SCOPES, **kwargs)

    async def lookup(self, instance_ref: str) -> str | None:
        """The dialog id for `instance_ref` (e.g. `urn:altinn:correspondence-id:{id}`), or None
        when Dialogporten knows no such dialog (404)."""
        response = await self._call(
            "GET", LOOKUP_PATH, (200, 404), params={"instanceRef": instance_ref}
        )
        if response.status_code == 404:
            return None
        return str(response.json()["dialogId"])

    async def get(self, dialog_id: str) -> dict[str, Any] | None:
        """The full dialog (`GET /dialogs/{id}`), or None on 404."""
        response = await self._call("GET", DIALOG_PATH.format(id=dialog_id), (200, 404))
        if response.status_code == 404:
            return None
        document: dict[str, Any] = response.json()
        return document
