"""Step 2.2, A3 → A2, the receiving end: what Altinn Storage's
`POST storage/api/v1/sblbridge/synccorrespondenceevent` did with an event A3 sent, with one
difference the transition needs: flytt stores the event (`flytt.bridge_inbox`) and answers,
and the `bridge` job applies it to A2 later (`syncd.bridge_apply`), where Storage forwarded it
to the A2 bridge during the call. An accepted event is therefore never lost to an A2 outage.

Rules, from Altinn/altinn-storage `src/Storage/Controllers/SblBridgeController.cs` and
`src/Storage/Models/CorrespondenceEventSync.cs` (reference sync-and-delegations §1.1):

* body `{"correspondenceId": int, "partyId": int, "eventTimestamp": DateTimeOffset,
  "eventType": string}` (Newtonsoft names; missing numbers are 0, a missing time is
  `DateTimeOffset.MinValue`);
* 410 "This endpoint is disabled because Altinn 2 is no longer supported." once Altinn 2 is off
  (`DisableA2Endpoints`; here `settings.a2_endpoints_disabled`);
* 400 "CorrespondenceId must be larger than zero", "PartyId must be larger than zero",
  "EventTimeStamp must have a valid value.", "Invalid event type: <t> submitted. Valid values:
  read,confirm,delete." (type trimmed, any case; flytt shows `<t>` only when it is a short
  word), in that order;
* a body that is not such JSON, an id outside Int32, a time whose UTC instant is outside
  the years 1-9999: 400 (ASP.NET's model binding; here one line saying what is wrong);
* 200 when the event is stored (a repeat of a stored event too: it is not stored twice).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flytt.control import bridge_inbox
from flytt.warehouse import Warehouse

_WORD = re.compile(r"[A-Za-z]{1,20}", re.ASCII)
GONE = "This endpoint is disabled because Altinn 2 is no longer supported."


@dataclass(frozen=True)
class Answer:
    """The HTTP answer: `status` and a plain-text `message`; `new` is True when the event was
    stored for the first time."""

    status: int
    message: str
    new: bool = False


_INTEGER_TEXT = re.compile(r"\s*[+-]?[0-9]{1,20}\s*", re.ASCII)


def _integer(value: Any) -> int | None:
    # Newtonsoft reads JSON numbers and numeric strings into an int; anything else, or a value
    # outside Int32, fails binding
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        value = int(value)
    if isinstance(value, int):
        return value if -(2**31) <= value < 2**31 else None
    return None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # .NET "O" has seven fractional digits; Python reads at most six
    if "." in text:
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        rest = rest[: min(digits, 6)] + rest[digits:]
        text = f"{head}.{rest}"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:  # without an offset: taken as UTC, the server's zone
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or its UTC instant is outside year 1-9999
        return None


def parse(body: bytes) -> tuple[int, int, datetime | None, str] | str:
    """Read the body into `(correspondenceId, partyId, eventTimestamp or None, eventType)`
    with Storage's defaults for missing members, or return why it cannot be read (a 400)."""
    try:
        document = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return (
            "The request body is not JSON; send "
            "{correspondenceId, partyId, eventTimestamp, eventType}."
        )
    if not isinstance(document, dict):
        return (
            "The request body must be a JSON object with correspondenceId, partyId, "
            "eventTimestamp and eventType."
        )
    fields = {k.lower(): v for k, v in document.items()}
    values: dict[str, int] = {}
    for name in ("correspondenceId", "partyId"):
        raw = fields.get(name.lower(), 0)
        number = 0 if raw is None else _integer(raw)
        if number is None:
            return f"{name} must be a 32-bit integer."
        values[name] = number
    raw_ts = fields.get("eventtimestamp")
    ts = None if raw_ts is None else _timestamp(raw_ts)
    if raw_ts is not None and ts is None:
        return "eventTimestamp must be an ISO 8601 date and time, e.g. 2026-12-04T10:15:00Z."
    event_type = fields.get("eventtype")
    if event_type is not None and not isinstance(event_type, str):
        return "eventType must be a string: read, confirm or delete."
    return values["correspondenceId"], values["partyId"], ts, (event_type or "")


def receive(warehouse: Warehouse, body: bytes, *, a2_disabled: bool = False) -> Answer:
    """Validate one call's body as Storage did and store the event (module docstring).

    Args:
        warehouse: the warehouse with schema `flytt` (Alembic 0009).
        body: the raw request body.
        a2_disabled: Altinn 2 is switched off (410).

    Returns:
        The `Answer` to send. The event is committed before a 200 is returned.

    Raises:
        sqlalchemy.exc.OperationalError: the warehouse is unreachable (the caller answers 503,
            and A3 retries).
    """
    if a2_disabled:
        return Answer(410, GONE)
    parsed = parse(body)
    if isinstance(parsed, str):
        return Answer(400, parsed)
    a2_id, party_id, ts, raw_type = parsed
    if a2_id <= 0:
        return Answer(400, "CorrespondenceId must be larger than zero")
    if party_id <= 0:
        return Answer(400, "PartyId must be larger than zero")
    if ts is None or ts.year < 2:
        return Answer(400, "EventTimeStamp must have a valid value.")
    event_type = raw_type.strip().lower()
    if event_type not in bridge_inbox.EVENT_TYPES:
        # Storage echoes the type; flytt only when it is a short word (no personal data)
        shown = raw_type.strip() if _WORD.fullmatch(raw_type.strip()) else "(not shown)"
        return Answer(
            400, f"Invalid event type: {shown} submitted. Valid values: read,confirm,delete."
        )
    with warehouse.engine.begin() as conn:
        new = bridge_inbox.accept(conn, a2_id, party_id, event_type, ts)
    return Answer(200, "", new=new)
