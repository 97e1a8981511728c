"""A3 → A2 reverse sync: the durable job queue that tells Altinn Storage's SBL bridge about
end-user actions on migrated correspondences (`a3-correspondence.md` §3.3,
`sync-and-delegations.md` §1.1).

Real A3 (Altinn/altinn-correspondence at 0c94adb5) enqueues the Hangfire job
`IAltinnStorageService.SyncCorrespondenceEventToSblBridge(altinn2Id, partyId, timestamp, type)`
inside the transaction that stores the user's Read / Confirmed / PurgedByRecipient status, and
only when `Altinn2CorrespondenceId > 0` (`GetCorrespondenceOverviewHandler.cs`,
`MarkCorrespondenceAsReadHandler.cs`, `VerifyCorrespondenceConfirmationHandler.cs`,
`PurgeCorrespondenceHelper.cs`). Events that arrive through the migration sync endpoints never
enqueue it. The job (`src/Altinn.Correspondence.Integrations/Altinn/Storage/
AltinnStorageService.cs`):

* `GeneralSettings.DisableCallsToAltinn2` → logs, returns true (the job succeeds, no call);
  here: `storage_base_url` is None;
* `partyId <= 0`, `altinn2Id <= 0` or `timestamp == DateTimeOffset.MinValue` → warning, returns
  false (the job succeeds, no call, no retry);
* else `POST {platform}/storage/api/v1/sblbridge/synccorrespondenceevent` with JSON
  `{"correspondenceId": int, "partyId": int, "eventTimestamp": DateTimeOffset,
  "eventType": "read"|"confirm"|"delete"}` (`SyncCorrespondenceEvent.cs`, `SyncEventType.cs`
  lower-cased), a Maskinporten-client bearer token (the client's scopes include
  `altinn:correspondence.sblbridge`, `src/Altinn.Correspondence.API/appsettings.json`), through
  the standard Polly policy: 3 retries after 100, 200, 400 ms on 408/429/500/502/503/504 or a
  transport error (`src/Altinn.Correspondence.Common/Helpers/HttpClientBuilderExtensions.cs`,
  `2^n * 50` ms); a final non-2xx throws, so Hangfire retries the job.

Hangfire's default `AutomaticRetryAttribute` (HangfireIO/Hangfire,
`src/Hangfire.Core/AutomaticRetryAttribute.cs`; A3 sets no other filter for this job) retries a
failed job 10 times, the n-th retry after `round((n-1)^4 + 15 + random(0..29) * n)` seconds,
then moves it to Failed. The replica keeps the jobs in `sandbox_hangfire.sbl_bridge_jobs`
(`tables.sbl_bridge_jobs`), written in the same transaction as the status row, and drains them
with one `SblBridgeWorker` thread; `retry_scale` multiplies the Hangfire delays (1.0 = real
seconds; a sandbox may pass e.g. 0.01). The Polly delays are not scaled. Deviation: the
`Ocp-Apim-Subscription-Key` header of the platform gateway is not sent.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import sqlalchemy as sa

from sandbox.a3.tables import sbl_bridge_jobs

log = logging.getLogger(__name__)

SYNC_PATH = "/storage/api/v1/sblbridge/synccorrespondenceevent"
SBLBRIDGE_SCOPE = "altinn:correspondence.sblbridge"
EVENT_TYPES = ("read", "confirm", "delete")
"""`SyncEventType` (Read, Confirm, Delete) as `ToString().ToLowerInvariant()` sends them."""
HANGFIRE_RETRY_ATTEMPTS = 10
"""`AutomaticRetryAttribute.DefaultRetryAttempts` in Hangfire.Core."""
POLLY_RETRIES = 3
TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})
"""`HttpClientBuilderExtensions.IsTransientFailure` in A3."""
ENQUEUED, SUCCEEDED, FAILED = "enqueued", "succeeded", "failed"


def hangfire_retry_delay(retry: int, rng: random.Random | None = None) -> float:
    """Seconds before Hangfire's `retry`-th retry (1-based): `(retry-1)^4 + 15 + rand(30)*retry`.

    Source: `AutomaticRetryAttribute.SecondsToDelay` in HangfireIO/Hangfire (default filter).
    """
    r = (rng or random).randrange(30)
    return float(round((retry - 1) ** 4 + 15 + r * retry))


def event_timestamp(at: datetime) -> str:
    """`at` as System.Text.Json writes a UTC DateTimeOffset: ISO 8601 with `+00:00`.

    Raises:
        ValueError: `at` is naive (no time zone).
    """
    if at.tzinfo is None:
        raise ValueError("event timestamp must be time-zone aware")
    return at.astimezone(UTC).isoformat()


def enqueue(
    conn: sa.Connection,
    corr_id: UUID,
    altinn2_id: int,
    party_id: int,
    at: datetime,
    event_type: str,
) -> int:
    """Insert one SBL-bridge job in the caller's transaction (Hangfire's `Enqueue`).

    Args:
        conn: a connection inside the transaction that stores the user's status row.
        corr_id: the A3 correspondence id (for look-ups only; not sent).
        altinn2_id: `Altinn2CorrespondenceId`, sent as `correspondenceId`.
        party_id: the acting party's A2 party id from Register, sent as `partyId`.
        at: the operation timestamp (aware; sent in UTC as `eventTimestamp`).
        event_type: `read`, `confirm` or `delete`.

    Returns:
        The job id.

    Raises:
        ValueError: an unknown `event_type` or a naive `at`.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown SBL bridge event type {event_type!r}")
    payload = {
        "correspondenceId": int(altinn2_id),
        "partyId": int(party_id),
        "eventTimestamp": event_timestamp(at),
        "eventType": event_type,
    }
    job_id: int = conn.execute(
        sbl_bridge_jobs.insert()
        .values(
            correspondence_id=corr_id,
            payload=payload,
            next_attempt_at=datetime.now(UTC),
            state=ENQUEUED,
        )
        .returning(sbl_bridge_jobs.c.id)
    ).scalar_one()
    return int(job_id)


def pending_jobs(engine: sa.Engine) -> int:
    """Number of SBL-bridge jobs not yet finished (state `enqueued`, including those waiting for
    a retry). 0 means the queue has drained (succeeded or finally failed)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(sbl_bridge_jobs)
                .where(sbl_bridge_jobs.c.state == ENQUEUED)
            ).scalar_one()
        )


def jobs(engine: sa.Engine, corr_id: UUID | None = None) -> list[dict[str, Any]]:
    """All SBL-bridge job rows (optionally of one correspondence), oldest first, as dicts with
    keys id, correspondence_id, payload, attempts, next_attempt_at (UTC), state, last_error,
    created_at, finished_at."""
    query = sa.select(sbl_bridge_jobs).order_by(sbl_bridge_jobs.c.id)
    if corr_id is not None:
        query = query.where(sbl_bridge_jobs.c.correspondence_id == corr_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


class SblBridgeWorker:
    """Drains `sbl_bridge_jobs` in a background thread, as Hangfire's server runs the jobs.

    Args:
        engine: the replica's database (tables created).
        storage_base_url: the Altinn platform / Storage base URL; None = A3's
            `DisableCallsToAltinn2`: every job succeeds without a call.
        token: returns the bearer token (scope `altinn:correspondence.sblbridge`); None sends
            no Authorization header.
        retry_scale: factor on Hangfire's retry delays (1.0 = seconds as Hangfire).
        poll_interval: seconds between looks for due jobs when not woken (`wake`).
        timeout: seconds per HTTP request (HttpClient's default is 100).
    """

    def __init__(
        self,
        engine: sa.Engine,
        storage_base_url: str | None,
        token: Callable[[], str] | None = None,
        *,
        retry_scale: float = 1.0,
        poll_interval: float = 0.5,
        timeout: float = 100.0,
    ) -> None:
        self.engine = engine
        self.storage_base_url = storage_base_url.rstrip("/") if storage_base_url else None
        self.token = token
        self.retry_scale = retry_scale
        self.poll_interval = poll_interval
        self.timeout = timeout
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = random.Random()

    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="a3-sblbridge", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread after its current job; unfinished jobs stay in the table."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Look for due jobs now (called after an enqueue commits)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # database down: keep the thread, try again later
                log.exception("SBL bridge worker")
                worked = False
            if not worked:
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    def run_once(self) -> bool:
        """Run at most one due job (claimed with `FOR UPDATE SKIP LOCKED`; the HTTP call runs
        inside that transaction, so a crash leaves the job enqueued, at-least-once as Hangfire).

        Returns:
            True when a job was run.
        """
        j = sbl_bridge_jobs
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    sa.select(j)
                    .where(j.c.state == ENQUEUED)
                    .where(j.c.next_attempt_at <= sa.func.now())
                    .order_by(j.c.next_attempt_at, j.c.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                .mappings()
                .first()
            )
            if row is None:
                return False
            attempts = int(row["attempts"]) + 1
            now = datetime.now(UTC)
            try:
                note = self._send(dict(row["payload"]))
            except Exception as exc:
                retry = attempts  # Hangfire's RetryCount after this failure
                if retry > HANGFIRE_RETRY_ATTEMPTS:
                    values: dict[str, Any] = {"state": FAILED, "finished_at": now}
                else:
                    delay = hangfire_retry_delay(retry, self._rng) * self.retry_scale
                    values = {"next_attempt_at": now + timedelta(seconds=delay)}
                conn.execute(
                    j.update()
                    .where(j.c.id == row["id"])
                    .values(attempts=attempts, last_error=str(exc)[:4000], **values)
                )
                log.warning("SBL bridge job %s failed (attempt %s): %s", row["id"], attempts, exc)
                return True
            done: dict[str, Any] = {"attempts": attempts, "state": SUCCEEDED, "finished_at": now}
            if note:  # a skipped call; after a real success the last failure stays readable
                done["last_error"] = note
            conn.execute(j.update().where(j.c.id == row["id"]).values(**done))
        return True

    def _send(self, payload: dict[str, Any]) -> str | None:
        """One Hangfire execution of `SyncCorrespondenceEventToSblBridge`.

        Returns:
            None after a 2xx, or a note when the call was skipped (the job still succeeds).

        Raises:
            RuntimeError: the last answer was not 2xx (after the Polly retries).
            httpx.TransportError: the last try failed without an answer.
        """
        if self.storage_base_url is None:
            return "skipped: DisableCallsToAltinn2"
        if payload["partyId"] <= 0 or payload["correspondenceId"] <= 0:
            log.warning("Skipping SBL sync due to invalid input: %s", payload)
            return "skipped: invalid input (returned false)"
        headers = {"Authorization": f"Bearer {self.token()}"} if self.token else {}
        url = self.storage_base_url + SYNC_PATH
        with httpx.Client(timeout=self.timeout) as client:
            for attempt in range(POLLY_RETRIES + 1):
                last = attempt == POLLY_RETRIES
                try:
                    response = client.post(url, json=payload, headers=headers)
                except httpx.TransportError:
                    if last:
                        raise
                else:
                    if response.is_success:
                        return None
                    if last or response.status_code not in TRANSIENT:
                        raise RuntimeError(
                            f"Error when syncing Correspondence Event {payload['eventType']} for "
                            f"Altinn2 CorrespondenceId {payload['correspondenceId']} to SBL Bridge "
                            f"through Storage. Activating party: {payload['partyId']}. Event UTC "
                            f"timestamp: {payload['eventTimestamp']}. Status code: "
                            f"{response.status_code}, error: {response.text[:1000]}"
                        )
                time.sleep((2 ** (attempt + 1)) * 0.05)
        raise AssertionError("unreachable")
