"""HTTP clients of step 5: A3 make-available and the Dialogporten service-owner API.

* A3: `POST {a3}/correspondence/api/v1/migration/makemigratedcorrespondenceavailable` in list
  mode, `{"correspondenceIds": [...], "createEvents": false}` → `{"statuses": [{correspondenceId,
  dialogId, ok, error}]}` (a3-correspondence.md §1.6), raw Maskinporten token with scope
  `altinn:correspondence.migrate`.
* Dialogporten: `GET /api/v1/serviceowner/dialoglookup?instanceRef=urn:altinn:correspondence-id:
  {id}` and `GET /api/v1/serviceowner/dialogs/{id}` (dialogporten.md §1.1), token with
  `digdir:dialogporten.serviceprovider`.

Back-pressure: 429/5xx/timeouts are retried by `syncd.retry.call_with_retry` (tenacity),
waiting the server's `Retry-After` (seconds or HTTP date) or exponential backoff with jitter.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from syncd.maskinporten import MIGRATE_SCOPE, MaskinportenClient
from syncd.retry import A3CallError, call_with_retry, error_from_response, error_from_transport

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


class _Client:
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
    ) -> None:
        self.tokens, self.scopes, self.tries, self.initial_wait = (
            tokens,
            scopes,
            tries,
            initial_wait,
        )
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self.requests = 0

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = await self.tokens.atoken(self.scopes)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.requests += 1
        try:
            response = await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from None
        if response.status_code == 401:
            self.tokens.invalidate(self.scopes)
            raise A3CallError("http_401", status=401, transient=True, detail="token refused")
        return response

    async def _call(self, method: str, path: str, ok: tuple[int, ...], **kwargs: Any) -> Any:
        async def once() -> httpx.Response:
            response = await self._send(method, path, **kwargs)
            if response.status_code not in ok:
                raise error_from_response(response)
            return response

        return await call_with_retry(once, tries=self.tries, initial_wait=self.initial_wait)


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
