"""Replica of the Altinn 2 SBL bridge's three correspondence sync routes (A3 → Storage → A2).

When a user reads, confirms or permanently deletes a *migrated* correspondence in Altinn 3, A3
asks Altinn Storage to tell Altinn 2; Storage POSTs, **with no body**, to
`{BridgeApiCorrespondenceEndpoint}syncmarkasread | syncconfirm | syncdelete` with the query
`seReporteeElementId=<A2 id>&partyId=<acting party>&eventOccurredUtc=<UTC, .NET "O">` and treats
any non-2xx answer as a failure. This app answers those calls and applies each one to a sandbox
A2 database (`flytt sandbox a2`) the way A2 does when a user acts: it appends a status event and
updates the correspondence (new `row_version`, so `flytt load` picks the change up).

The bridge is closed source. Each rule is marked with its source: **[public]** Altinn Storage
`src/Storage/Clients/CorrespondenceClient.cs` and `appsettings.json` (Altinn/altinn-storage @
d9364e40), ASP.NET behaviour; **[notes]** `../shared/reference/a2-model.md` (§1.5, §1.6, §5) and
`sync-and-delegations.md` §1.1; **[inferred]** from A2's data model, decided here.

Routes and request
  R1 [public] `POST /serviceengine/api/syncmarkasread | syncconfirm | syncdelete` (base from
     Storage's `BridgeApiCorrespondenceEndpoint`, local default `…/sblbridge/serviceengine/api/`;
     serve this app under the part before `serviceengine`). Paths and query names are
     case-insensitive, as IIS and ASP.NET routing/model binding are. A body is ignored.
  R2 [public] the three routes record internal status 2 Read, 6 Confirmed, 103 PurgedByRecipient
     (a2-model §1.5; delete = "permanent deletion", the only delete synced A3 → A2, sync §1.1).

Refusals (status code, short plain-text body; parsing happens before the database is touched)
  R3 [inferred] `seReporteeElementId` / `partyId` missing, not an integer, outside .NET int, or
     ≤ 0 → 400 (Storage itself refuses ≤ 0 with 400 [public]).
  R4 [inferred] `eventOccurredUtc` missing or not ISO 8601 (`yyyy-MM-ddTHH:mm:ss[.f…f][Z|±hh:mm]`,
     up to 7 fraction digits as .NET "O" writes) → 400. No offset means UTC (the name says UTC).
  R5 [inferred] unknown `seReporteeElementId` → 404.
  R6 [inferred] read or confirm of a permanently deleted element (`trash_state` 2) → 410 Gone: the
     element is gone for the user in A2 (a2-model §1.6), nothing can be recorded on it.
  R7 [inferred] confirm of an element with `is_confirmation_needed` false → 409 Conflict: A2
     confirms only messages that require it (REST confirm "only for messages that require it",
     a2-model §1.6 [notes]).

Answers 200 without writing
  R8 [inferred] the same call again: a status event with the same element, status and party in
     the same second already exists → 200 (A3 keys its own A2 → A3 sync events "to the second" on
     (status, time, party) [notes sync §1.1]; Storage/Hangfire retries must not double-write).
     Checked before R6/R7, so a retried call gets the answer the first one got.
  R9 [inferred] delete of an element already purged (`trash_state` 2) → 200.
  R10 [inferred] confirm of an element already confirmed (`confirmation_datetime` set) → 200: A2
     keeps one confirmation per message (`ConfirmationStatusType`, a2-model §1.5).

What is written (one transaction)
  W1 [inferred] a row in `a2_correspondence_status_event`: the next `status_event_id` from the
     sandbox counter (`sandbox_meta` `seq.status_event_id`), `actor_party_id` = partyId,
     `actor_user_id` = the `a2_user` whose own party it is (lowest id; null for organisations or
     unknown parties — the bridge trusts Storage and checks neither the party nor its rights),
     `status_datetime` = eventOccurredUtc as naive local time (A2 stores Norwegian wall clock,
     a2-model §8.9; microseconds kept, the 7th fraction digit dropped), `src_db` 1 when the
     element is archived, else 0 (as `live.py`).
  W2 [inferred] the `a2_correspondence` row changed by `correspondences.apply_status` and given the
     next `row_version` (`seq.row_version`).
  W3 sandbox only: a row in `sandbox_a2_bridge_event` marks the event as having come through the
     bridge (A2 itself keeps no such mark; the contract tables get no extra column).
  W4 the counters are read and written back under a lock on the `sandbox_meta` row `complete`
     (row lock on PostgreSQL/MariaDB, database write lock on SQLite), so concurrent calls get
     distinct ids (`writer.lock_counters`; `flytt sandbox a2 --live` takes the same lock, so
     both may write to one sandbox at once).

Not modelled: authentication (Storage sends none [public]), the element's visibility or
reservation, who may delete organisations' messages (a2-model §1.6), archive and trash (A2 → A3
only, sync §1.1). In the repeated autumn hour two UTC instants an hour apart have one local time;
A2 stores no offset, so R8 counts them as the same second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.engine import Connection, Engine

from loaders.contract import metadata
from sandbox.a2.config import DEFAULT_CONFIG
from sandbox.a2.correspondences import Context, apply_status
from sandbox.a2.world import Sequences, World
from sandbox.a2.writer import lock_counters, sandbox_meta, write_meta

BASE = "/serviceengine/api/"
ROUTES: dict[str, tuple[str, int]] = {
    "syncmarkasread": ("read", 2),
    "syncconfirm": ("confirm", 6),
    "syncdelete": ("delete", 103),
}
"""Route name → (event type as A3/Storage name it, A2 internal status written)."""

_COUNTERS = ("status_event_id", "row_version", "archive_id")
"""The sandbox counters a bridge call may advance."""
_INT_MAX = 2**31 - 1
_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
_O_FORMAT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?(Z|[+-]\d{2}:\d{2})?",
    re.IGNORECASE | re.ASCII,
)
_T = metadata.tables

bridge_metadata = sa.MetaData()
bridge_event = sa.Table(
    "sandbox_a2_bridge_event",
    bridge_metadata,
    sa.Column("status_event_id", sa.BigInteger, primary_key=True),
    sa.Column("route", sa.String(30), nullable=False),
    sa.Column("se_reportee_element_id", sa.Integer, nullable=False),
    sa.Column("party_id", sa.Integer, nullable=False),
    sa.Column("event_occurred_utc", sa.DateTime, nullable=False, comment="naive UTC"),
    sa.Column("received_at", sa.DateTime, nullable=False, comment="naive UTC"),
    comment="Status events the SBL bridge replica wrote (sandbox only, not in the A2 contract).",
)


class Refused(Exception):
    """A call the bridge answers with `status` and the short text `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class SyncCall:
    """One parsed bridge call: A2 element id, acting party, when (aware UTC), route name."""

    route: str
    se_reportee_element_id: int
    party_id: int
    occurred_utc: datetime


def create_app(a2_url: str | sa.URL, *, timezone: str = "Europe/Oslo") -> FastAPI:
    """Build the SBL bridge replica on the sandbox A2 database at `a2_url`.

    Args:
        a2_url: SQLAlchemy URL of a database generated by `flytt sandbox a2` (SQLite,
            MariaDB/MySQL or PostgreSQL). The table `sandbox_a2_bridge_event` is created there if
            missing.
        timezone: the zone A2 writes its naive times in (the generator's `config.timezone`).

    Returns:
        The app serving `POST /serviceengine/api/{syncmarkasread,syncconfirm,syncdelete}`
        (case-insensitive). Every answer is `text/plain`: 200 (written or nothing to write), 400,
        404, 409, 410 as in the module docstring. `app.state.engine` is the database engine.

    Raises:
        ValueError: `a2_url` holds no completed sandbox A2 database (no `sandbox_meta` with
            `complete` = 1).
    """
    engine = _engine(a2_url)
    with engine.begin() as conn:
        if (
            not sa.inspect(conn).has_table("sandbox_meta")
            or conn.execute(
                sa.select(sandbox_meta.c.value).where(sandbox_meta.c.key == "complete")
            ).scalar_one_or_none()
            != "1"
        ):
            engine.dispose()
            raise ValueError("no generated sandbox A2 database there; run `flytt sandbox a2`")
    bridge_metadata.create_all(engine, checkfirst=True)
    zone = ZoneInfo(timezone)
    app = FastAPI(title="Altinn 2 SBL bridge (sandbox replica)", docs_url=None, redoc_url=None)
    app.state.engine = engine
    app.add_middleware(_LowerCasePaths)
    app.router.add_event_handler("shutdown", engine.dispose)

    def handle(route: str, request: Request) -> PlainTextResponse:
        try:
            call = parse_call(route, {k.lower(): v for k, v in request.query_params.items()})
            with engine.begin() as conn:
                text = apply_call(conn, call, zone)
        except Refused as exc:
            return PlainTextResponse(exc.message, status_code=exc.status)
        return PlainTextResponse(text)

    def endpoint_for(route: str) -> Any:
        # No parameter besides `request`: FastAPI would turn it into a query parameter.
        def endpoint(request: Request) -> PlainTextResponse:
            return handle(route, request)

        return endpoint

    for name in ROUTES:
        app.add_api_route(BASE + name, endpoint_for(name), methods=["POST"], name=name)
    return app


def parse_call(route: str, query: dict[str, str]) -> SyncCall:
    """Validate the query of one call (rules R3, R4).

    Args:
        route: one of `ROUTES`.
        query: query parameters with lower-cased names (`sereporteeelementid`, `partyid`,
            `eventoccurredutc`).

    Returns:
        The call, `occurred_utc` as an aware UTC datetime (microseconds; a 7th digit dropped).

    Raises:
        Refused: 400 naming the bad parameter (its value is not echoed).
    """
    ids = [_positive_int(query, name) for name in ("seReporteeElementId", "partyId")]
    raw = query.get("eventoccurredutc", "").strip()
    match = _O_FORMAT.fullmatch(raw)
    try:
        if match is None:
            raise ValueError(raw)
        y, mo, d, h, mi, s, frac, offset = match.groups()
        micro = int((frac or "0").ljust(6, "0")[:6])
        when = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=UTC)
        if offset and offset.upper() != "Z":
            sign = 1 if offset[0] == "+" else -1
            when -= sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
        if not _EARLIEST <= when <= _LATEST:  # its local wall clock must be a datetime too
            raise ValueError(raw)
    except (ValueError, OverflowError):
        raise Refused(
            400, "eventOccurredUtc must be an ISO 8601 UTC time like 2026-12-04T22:13:25.1234567Z"
        ) from None
    return SyncCall(route, ids[0], ids[1], when)


def apply_call(conn: Connection, call: SyncCall, zone: ZoneInfo) -> str:
    """Apply `call` to the sandbox A2 database in the open transaction `conn` (rules R5-R10, W1-W4).

    Args:
        conn: a connection inside a transaction (committed by the caller).
        call: the parsed call.
        zone: A2's local time zone; `status_datetime` is written as naive local time.

    Returns:
        A short text for the 200 answer ("recorded …" or why nothing was written).

    Raises:
        Refused: 404 unknown element, 410 read/confirm of a purged one, 409 confirm of one that
            needs no confirmation. Nothing is written then.
    """
    corr, events = _T["a2_correspondence"], _T["a2_correspondence_status_event"]
    _, status = ROUTES[call.route]
    # W4: serialise every writer of the counters (row lock / SQLite write lock) before reading.
    counters = lock_counters(conn)
    row = (
        conn.execute(
            sa.select(corr).where(corr.c.se_reportee_element_id == call.se_reportee_element_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise Refused(404, "Unknown seReporteeElementId.")
    local = call.occurred_utc.astimezone(zone).replace(tzinfo=None)
    second = local.replace(microsecond=0)
    duplicate = conn.execute(
        sa.select(events.c.status_event_id)
        .where(
            events.c.se_reportee_element_id == call.se_reportee_element_id,
            events.c.status_type == status,
            events.c.actor_party_id == call.party_id,
            events.c.status_datetime >= second,
            events.c.status_datetime < second + timedelta(seconds=1),
        )
        .limit(1)
    ).first()
    if duplicate is not None:
        return "already recorded"
    if row["trash_state"] == 2:
        if status == 103:
            return "already deleted permanently"
        raise Refused(410, "The correspondence has been deleted permanently.")
    if status == 6 and not row["is_confirmation_needed"]:
        raise Refused(409, "The correspondence does not require confirmation.")
    if status == 6 and row["confirmation_datetime"] is not None:
        return "already confirmed"
    users = _T["a2_user"]
    user = conn.execute(
        sa.select(sa.func.min(users.c.user_id)).where(users.c.party_id == call.party_id)
    ).scalar_one_or_none()
    seq = Sequences({k: v for k, v in counters.items() if k in _COUNTERS})
    current = dict(row)
    event = {
        "status_event_id": seq.next("status_event_id"),
        "se_reportee_element_id": call.se_reportee_element_id,
        "status_type": status,
        "status_datetime": local,
        "actor_party_id": call.party_id,
        "actor_user_id": user,
        "src_db": 1 if current["is_archived"] else 0,
    }
    apply_status(_context(seq, zone), current, status, local, user)
    current["row_version"] = seq.rv()
    changed = {k: v for k, v in current.items() if k != "se_reportee_element_id"}
    conn.execute(
        corr.update()
        .where(corr.c.se_reportee_element_id == call.se_reportee_element_id)
        .values(**changed)
    )
    conn.execute(events.insert(), [event])
    conn.execute(
        bridge_event.insert(),
        [
            {
                "status_event_id": event["status_event_id"],
                "route": call.route,
                "se_reportee_element_id": call.se_reportee_element_id,
                "party_id": call.party_id,
                "event_occurred_utc": call.occurred_utc.replace(tzinfo=None),
                "received_at": datetime.now(UTC).replace(tzinfo=None),
            }
        ],
    )
    write_meta(conn, {f"seq.{k}": v for k, v in seq.values.items()})
    return f"recorded status event {event['status_event_id']}"


def _positive_int(query: dict[str, str], name: str) -> int:
    raw = query.get(name.lower(), "").strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,10}", raw) or not 0 < int(raw) <= _INT_MAX:
        raise Refused(400, f"{name} must be a positive integer.")
    return int(raw)


def _context(seq: Sequences, zone: ZoneInfo) -> Context:
    """A generator context for `apply_status` (statuses 2, 6, 103 use neither world nor config)."""
    world = World([], [], [], [], [], [], [], {}, set(), 0)
    return Context(config=DEFAULT_CONFIG, world=world, seq=seq, zone=zone, end_ts=0.0)


def _engine(url: str | sa.URL) -> Engine:
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_busy_timeout)
    return engine


def _sqlite_busy_timeout(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("pragma busy_timeout = 30000")


class _LowerCasePaths:
    """ASGI middleware: route on the lower-cased path (IIS and ASP.NET match paths without case)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "path": scope["path"].lower()}
        await self.app(scope, receive, send)
