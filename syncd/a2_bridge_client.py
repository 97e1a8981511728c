"""The HTTP client for the Altinn 2 SBL bridge's correspondence sync calls (step 2.2, A3 → A2).

Altinn Storage forwarded each event A3 sent it to A2 like this (Altinn/altinn-storage
`src/Storage/Clients/CorrespondenceClient.cs`, reference sync-and-delegations §1.1):
`POST {BridgeApiCorrespondenceEndpoint}syncmarkasread | syncconfirm | syncdelete` with **no
body** and the query `seReporteeElementId=<A2 id>&partyId=<acting party>&eventOccurredUtc=<the
event time in UTC, .NET round-trip format "O">`, no authentication, and any non-2xx answer is a
failure. flytt sends the same request; retries follow `flytt.altinn.retry` (429, 5xx, timeouts
and dropped connections are transient, the server's Retry-After first).
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from flytt.altinn.client import default_timeout
from flytt.altinn.retry import call_with_retry, error_from_response, error_from_transport

ROUTE_OF = {"read": "syncmarkasread", "confirm": "syncconfirm", "delete": "syncdelete"}
"""Inbox event type → the A2 bridge route Storage called for it (`CorrespondenceClient.cs`)."""


def dotnet_round_trip(when: datetime) -> str:
    """`when` (aware) in UTC as .NET's `ToString("O")` writes a UTC DateTime:
    `2026-12-04T10:15:00.1234560Z` (seven fraction digits; Python keeps six).

    Raises:
        ValueError: `when` is naive (its zone would be a guess).
    """
    if when.tzinfo is None:
        raise ValueError("a naive time has no defined UTC instant")
    utc = when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}0Z"


class A2BridgeClient:
    """Sends inbox events to the A2 SBL bridge.

    Args:
        base_url: `BridgeApiCorrespondenceEndpoint`, e.g.
            `https://<a2 host>/sblbridge/serviceengine/api/` (the route is appended to it).
        tries: sends per event for transient errors.
        transport: an httpx async transport (tests); default the network.
        initial_wait, max_wait: backoff in seconds between those sends.

    Attributes:
        requests: HTTP requests sent (retries included).
    """

    def __init__(
        self,
        base_url: str,
        *,
        tries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        initial_wait: float = 0.2,
        max_wait: float = 5.0,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.tries, self.initial_wait, self.max_wait = tries, initial_wait, max_wait
        self.http = httpx.AsyncClient(timeout=default_timeout(30.0), transport=transport)
        self.requests = 0

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def send(
        self, event_type: str, a2_correspondence_id: int, party_id: int, occurred: datetime
    ) -> None:
        """Apply one event in A2.

        Args:
            event_type: `read`, `confirm` or `delete` (`ROUTE_OF`).
            a2_correspondence_id: `seReporteeElementId`.
            party_id: the acting party's A2 id.
            occurred: when it happened (aware; sent in UTC).

        Raises:
            KeyError: an unknown `event_type`.
            flytt.altinn.retry.A3CallError: the bridge did not answer 2xx after the tries
                (`http_<status>`, transient for 408/429/5xx) or could not be reached
                (`connect`, `timeout`, `connection`).
        """
        url = self.base_url + ROUTE_OF[event_type]
        params = {
            "seReporteeElementId": str(a2_correspondence_id),
            "partyId": str(party_id),
            "eventOccurredUtc": dotnet_round_trip(occurred),
        }

        async def once() -> None:
            self.requests += 1
            try:
                response = await self.http.post(
                    url, params=params, headers={"Accept": "application/json"}
                )
            except httpx.TransportError as exc:
                raise error_from_transport(exc) from None
            if not response.is_success:
                raise error_from_response(response)

        await call_with_retry(
            once, tries=self.tries, initial_wait=self.initial_wait, max_wait=self.max_wait
        )
