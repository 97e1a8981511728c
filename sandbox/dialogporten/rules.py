"""Dialogporten's domain rules that the OpenAPI document cannot express.

The OpenAPI document (validated by openapi-core in `spec.py`) checks shapes, enums and formats.
The real service additionally runs FluentValidation rules; the ones a migration client can hit
are replicated here, each with the `dialogporten.md` section that states it:

* ids are big-endian UUIDv7 with a timestamp at most 15 s ahead (§1.2, §2.4);
* `party` and `actorId` are one of the party URN forms, with mod-11 checked numbers (§1.2);
* `serviceResource` starts with `urn:altinn:resource:` (§1.2);
* times: `createdAt`/`updatedAt` ≤ now + 15 s, `updatedAt` ≥ `createdAt` and needs it;
  `dueAt`/`expiresAt`/`visibleFrom` in the future unless silent or admin (§1.2, §2.1);
* content: title required (unless `isApiOnly`), allowed media types, length limits (§1.3);
* system label on create only Default/Bin/Archive (§1.2);
* labels 3-255 chars, at most 20; search tags 3-63, unique (§1.2);
* activities: description only and always for Information, actor rules (§1.5).

Each check returns a list of `(property path, message)` pairs; empty means valid.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

CLOCK_TOLERANCE = timedelta(seconds=15)
TEXT_LIMIT = 255
TEXT_LIMIT_CORRESPONDENCE = 512
DESCRIPTION_LIMIT = 255
DESCRIPTION_LIMIT_CORRESPONDENCE = 4095
PLAIN = "text/plain"
FRONT_CHANNEL_EMBEDS = frozenset(
    {
        "application/vnd.dialogporten.frontchannelembed-url;type=text/markdown",
        "application/vnd.dialogporten.frontchannelembed+json;type=markdown",
    }
)
LEGACY_HTML_EMBEDS = frozenset(
    {
        "application/vnd.dialogporten.frontchannelembed-url;type=text/html",
        "application/vnd.dialogporten.frontchannelembed+json;type=html",
    }
)
CREATE_SYSTEM_LABELS = frozenset({"Default", "Bin", "Archive"})
CORRESPONDENCE_ACTIVITIES = frozenset({"CorrespondenceOpened", "CorrespondenceConfirmed"})
_ORG = re.compile(r"^urn:altinn:organization:identifier-no:(\d{9})$")
_PERSON = re.compile(r"^urn:altinn:person:identifier-no:(\d{11})$")
_SELF_IDENTIFIED = re.compile(r"^urn:altinn:person:legacy-selfidentified:[^:]+$")
_EMAIL = re.compile(r"^urn:altinn:person:idporten-email:[^@\s]+@[^@\s]+$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")

Errors = list[tuple[str, str]]


def parse_time(value: str | None) -> datetime | None:
    """Parse an ISO-8601 date-time (with offset) into an aware UTC datetime; None passes."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _mod11(digits: str, weights: tuple[int, ...]) -> int | None:
    rest = sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11
    check = 0 if rest == 0 else 11 - rest
    return None if check == 10 else check


def valid_org_number(number: str) -> bool:
    """Norwegian organisation number: 9 digits, mod-11 check digit (weights 3,2,7,6,5,4,3,2)."""
    return len(number) == 9 and _mod11(number, (3, 2, 7, 6, 5, 4, 3, 2)) == int(number[8])


def valid_person_number(number: str) -> bool:
    """Norwegian national identity / D-number: 11 digits, two mod-11 check digits."""
    if len(number) != 11:
        return False
    k1 = _mod11(number, (3, 7, 6, 1, 8, 9, 4, 5, 2))
    k2 = _mod11(number, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2))
    return k1 == int(number[9]) and k2 == int(number[10])


def party_errors(path: str, urn: str | None, *, checksums: bool = True) -> Errors:
    """Errors for a party URN (dialog `party` or an actor's `actorId`)."""
    if not urn:
        return [(path, "must not be empty")]
    if len(urn) > 255:
        return [(path, "must be at most 255 characters")]
    value = urn.lower()
    if org := _ORG.match(value):
        ok = not checksums or valid_org_number(org.group(1))
        return [] if ok else [(path, "is not a valid organization number")]
    if person := _PERSON.match(value):
        ok = not checksums or valid_person_number(person.group(1))
        return [] if ok else [(path, "is not a valid national identity number")]
    if _SELF_IDENTIFIED.match(value) or _EMAIL.match(value):
        return []
    return [(path, "is not a valid party URN")]


def uuid7_errors(path: str, raw: str | None, now: datetime) -> Errors:
    """Errors for a client-supplied id: must be a UUIDv7 with timestamp ≤ now + 15 s."""
    if raw is None:
        return []
    try:
        value = UUID(raw)
    except ValueError:
        return [(path, "is not a valid UUID")]
    if value.version != 7 or (value.int >> 62) & 0b11 != 0b10:
        return [(path, "must be a big-endian UUIDv7")]
    stamp = datetime.fromtimestamp((value.int >> 80) / 1000, UTC)
    if stamp > now + CLOCK_TOLERANCE:
        return [(path, "must have a timestamp in the past")]
    return []


def _localizations(path: str, value: Any, limit: int) -> Errors:
    errors: Errors = []
    seen: set[str] = set()
    for i, loc in enumerate(value or []):
        code = str(loc.get("languageCode") or "").lower()
        if not _LANGUAGE.match(code) or code == "no":
            errors.append((f"{path}[{i}].languageCode", "must be an ISO 639-1 code (not 'no')"))
        if code in seen:
            errors.append((f"{path}[{i}].languageCode", "must be unique"))
        seen.add(code)
        if len(loc.get("value") or "") > limit:
            errors.append((f"{path}[{i}].value", f"must be at most {limit} characters"))
    return errors


def content_errors(
    content: dict[str, Any] | None, *, is_api_only: bool, correspondence: bool, legacy_html: bool
) -> Errors:
    """Errors for `content` of a create request (dialogporten.md §1.3)."""
    if not content:
        return [] if is_api_only else [("Content", "must not be empty")]
    errors: Errors = []
    text_limit = TEXT_LIMIT_CORRESPONDENCE if correspondence else TEXT_LIMIT
    if not content.get("title") and not is_api_only:
        errors.append(("Content.Title", "must not be empty"))
    for field in ("title", "summary", "senderName", "nonSensitiveTitle", "nonSensitiveSummary"):
        value = content.get(field)
        if value is None:
            continue
        if value.get("mediaType") != PLAIN:
            errors.append((f"Content.{field}.MediaType", "must be text/plain"))
        errors += _localizations(f"Content.{field}.Value", value.get("value"), text_limit)
    extended = content.get("extendedStatus")
    if extended is not None:
        errors += _localizations("Content.ExtendedStatus.Value", extended.get("value"), 25)
    info = content.get("additionalInfo")
    if info is not None:
        kinds = {PLAIN, "text/markdown"} | ({"text/html"} if legacy_html else set())
        if info.get("mediaType") not in kinds:
            errors.append(("Content.AdditionalInfo.MediaType", "media type not allowed"))
        errors += _localizations("Content.AdditionalInfo.Value", info.get("value"), 1023)
    main = content.get("mainContentReference")
    if main is not None:
        allowed = FRONT_CHANNEL_EMBEDS | (LEGACY_HTML_EMBEDS if legacy_html else frozenset())
        if main.get("mediaType") not in allowed:
            errors.append(("Content.MainContentReference.MediaType", "media type not allowed"))
        errors += _localizations("Content.MainContentReference.Value", main.get("value"), 1023)
        for i, loc in enumerate(main.get("value") or []):
            if not str(loc.get("value") or "").startswith("https://"):
                errors.append(
                    (f"Content.MainContentReference.Value[{i}].value", "must be an HTTPS URL")
                )
    return errors


def actor_errors(path: str, actor: dict[str, Any] | None, *, checksums: bool) -> Errors:
    """Errors for an `Actor` (dialogporten.md §1.5)."""
    if not actor:
        return [(path, "must not be empty")]
    actor_id, name = actor.get("actorId"), actor.get("actorName")
    if actor.get("actorType") == "ServiceOwner":
        if actor_id or name:
            return [(path, "a ServiceOwner actor must have neither actorId nor actorName")]
        return []
    if bool(actor_id) == bool(name):
        return [(path, "a PartyRepresentative needs exactly one of actorId and actorName")]
    if actor_id:
        return party_errors(f"{path}.ActorId", actor_id, checksums=checksums)
    return []


def activity_errors(
    path: str,
    activity: dict[str, Any],
    now: datetime,
    *,
    correspondence: bool,
    checksums: bool,
    transmission_ids: set[str],
) -> Errors:
    """Errors for one activity, on create or on `POST …/activities` (dialogporten.md §1.5)."""
    errors = uuid7_errors(f"{path}.Id", activity.get("id"), now)
    created = parse_time(activity.get("createdAt"))
    if created is not None and created > now + CLOCK_TOLERANCE:
        errors.append((f"{path}.CreatedAt", "must be in the past"))
    kind = activity.get("type")
    description = activity.get("description")
    if kind == "Information":
        if not description:
            errors.append((f"{path}.Description", "is required for Information activities"))
        limit = DESCRIPTION_LIMIT_CORRESPONDENCE if correspondence else DESCRIPTION_LIMIT
        errors += _localizations(f"{path}.Description", description, limit)
    elif description:
        errors.append((f"{path}.Description", "is only allowed for Information activities"))
    transmission = activity.get("transmissionId")
    if kind == "TransmissionOpened":
        if not transmission or transmission not in transmission_ids:
            errors.append((f"{path}.TransmissionId", "must refer to a transmission of the dialog"))
    elif transmission:
        errors.append((f"{path}.TransmissionId", "is only allowed for TransmissionOpened"))
    errors += actor_errors(f"{path}.PerformedBy", activity.get("performedBy"), checksums=checksums)
    return errors


def create_errors(
    body: dict[str, Any],
    now: datetime,
    *,
    silent: bool,
    scopes: frozenset[str],
    checksums: bool = True,
) -> Errors:
    """All domain errors of a `CreateDialog` body (dialogporten.md §1.2-§1.5, §2.1)."""
    correspondence = "digdir:dialogporten.correspondence" in scopes
    admin = "digdir:dialogporten.serviceprovider.admin" in scopes
    legacy_html = "digdir:dialogporten.serviceprovider.legacyhtml" in scopes
    errors = uuid7_errors("Id", body.get("id"), now)
    key = body.get("idempotentKey")
    if key is not None and not 3 <= len(key) <= 36:
        errors.append(("IdempotentKey", "must be 3-36 characters"))
    resource = body.get("serviceResource") or ""
    if not resource.startswith("urn:altinn:resource:") or len(resource) > 1023:
        errors.append(("ServiceResource", "must be a urn:altinn:resource: URN"))
    errors += party_errors("Party", body.get("party"), checksums=checksums)
    progress = body.get("progress")
    if progress is not None and not 0 <= progress <= 100:
        errors.append(("Progress", "must be between 0 and 100"))
    for field in ("extendedStatus", "externalReference"):
        if len(body.get(field) or "") > 255:
            errors.append((field, "must be at most 255 characters"))
    if body.get("precedingProcess") and not body.get("process"):
        errors.append(("PrecedingProcess", "requires Process"))
    errors += _time_errors(body, now, relaxed=silent or admin)
    label = body.get("systemLabel")
    if label is not None and label not in CREATE_SYSTEM_LABELS:
        errors.append(("SystemLabel", "must be Default, Bin or Archive on create"))
    labels = (body.get("serviceOwnerContext") or {}).get("serviceOwnerLabels") or []
    if len(labels) > 20:
        errors.append(("ServiceOwnerContext.ServiceOwnerLabels", "at most 20 labels"))
    for i, item in enumerate(labels):
        if not 3 <= len(item.get("value") or "") <= 255:
            errors.append((f"ServiceOwnerContext.ServiceOwnerLabels[{i}]", "3-255 characters"))
    tags = [str(t.get("value") or "") for t in body.get("searchTags") or []]
    for i, tag in enumerate(tags):
        if not 3 <= len(tag) <= 63:
            errors.append((f"SearchTags[{i}]", "must be 3-63 characters"))
    if len({t.lower() for t in tags}) != len(tags):
        errors.append(("SearchTags", "must be unique"))
    errors += content_errors(
        body.get("content"),
        is_api_only=bool(body.get("isApiOnly")),
        correspondence=correspondence,
        legacy_html=legacy_html,
    )
    transmissions = {str(t.get("id")) for t in body.get("transmissions") or [] if t.get("id")}
    for i, activity in enumerate(body.get("activities") or []):
        errors += activity_errors(
            f"Activities[{i}]",
            activity,
            now,
            correspondence=correspondence,
            checksums=checksums,
            transmission_ids=transmissions,
        )
    return errors


def _time_errors(body: dict[str, Any], now: datetime, *, relaxed: bool) -> Errors:
    errors: Errors = []
    created = parse_time(body.get("createdAt"))
    updated = parse_time(body.get("updatedAt"))
    limit = now + CLOCK_TOLERANCE
    if created is not None and created > limit:
        errors.append(("CreatedAt", "must be in the past"))
    if updated is not None:
        if created is None:
            errors.append(("UpdatedAt", "requires CreatedAt"))
        elif updated < created:
            errors.append(("UpdatedAt", "must be greater than or equal to CreatedAt"))
        if updated > limit:
            errors.append(("UpdatedAt", "must be in the past"))
    due = parse_time(body.get("dueAt"))
    expires = parse_time(body.get("expiresAt"))
    visible = parse_time(body.get("visibleFrom"))
    if not relaxed:
        for name, value in (("DueAt", due), ("ExpiresAt", expires), ("VisibleFrom", visible)):
            if value is not None and value <= now:
                errors.append((name, "must be in the future"))
        if due and visible and due < visible:
            errors.append(("DueAt", "must be greater than or equal to VisibleFrom"))
    if expires and due and expires < due:
        errors.append(("ExpiresAt", "must be greater than or equal to DueAt"))
    if expires and visible and expires < visible:
        errors.append(("ExpiresAt", "must be greater than or equal to VisibleFrom"))
    return errors
