"""Compare a dialog held by Dialogporten with the dialog expected for its correspondence.

Fields compared (issue #5): id, party, service resource, title, summary, sender name, the
label `urn:altinn:correspondence-id:{id}`, status, system label, created/updated/due times, and
the activities: how many of each type, and for each expected activity its time and actor.
Times are compared as instants (any offset, any precision down to the millisecond).

Activities are paired by type and time order, never by id: A3 draws random ids for them
(`Uuid.NewDatabaseFriendly` in CreateDialogRequestMapper / DialogportenService), so no one
can predict them. A dialog expected without `updatedAt` (no Published status: A3 sends none and
Dialogporten sets the time of creation, so an old message sorts as new; Altinn/dialogporten#3849)
is reported as `updatedAt.noPublishedEvent` with the time Dialogporten chose.

Field names in the result are stable (they are what `flytt report` counts), e.g. `party`,
`content.title`, `activities.CorrespondenceOpened.performedBy.actorId`.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from exposure.dialog import CORRESPONDENCE_LABEL_PREFIX

Mismatch = tuple[str, str | None, str | None]
"""(field, expected, actual) with values rendered as text (None = absent)."""


def _time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=parsed.microsecond // 1000 * 1000)


def _text(content: dict[str, Any] | None, field: str) -> str | None:
    value = (content or {}).get(field) or {}
    items = value.get("value") or []
    rendered = sorted(f"{i.get('languageCode')}:{i.get('value')}" for i in items)
    return " | ".join(rendered) if rendered else None


def _actor(activity: dict[str, Any]) -> str:
    actor = activity.get("performedBy") or {}
    actor_id = actor.get("actorId")
    return f"{actor.get('actorType')}:{actor_id.lower() if actor_id else actor.get('actorName')}"


def compare_dialog(expected: dict[str, Any], actual: dict[str, Any]) -> list[Mismatch]:
    """Differences between an expected `CreateDialog` body and a `GET /dialogs/{id}` document.

    Args:
        expected: `DialogRequest.body` from `exposure.dialog.create_dialog_request`.
        actual: the dialog as Dialogporten returns it.

    Returns:
        One `(field, expected, actual)` per differing field; empty when they agree.
    """
    out: list[Mismatch] = []

    def check(field: str, want: Any, got: Any) -> None:
        if want != got:
            out.append(
                (field, None if want is None else str(want), None if got is None else str(got))
            )

    check("id", str(expected.get("id")).lower(), str(actual.get("id")).lower())
    check("party", expected.get("party"), (actual.get("party") or "").lower() or None)
    check("serviceResource", expected.get("serviceResource"), actual.get("serviceResource"))
    for field in ("title", "summary", "senderName"):
        check(
            f"content.{field}",
            _text(expected.get("content"), field),
            _text(actual.get("content"), field),
        )
    label = next(
        (
            item["value"]
            for item in expected["serviceOwnerContext"]["serviceOwnerLabels"]
            if item["value"].startswith(CORRESPONDENCE_LABEL_PREFIX)
        ),
        None,
    )
    labels = {
        str(item.get("value")).lower()
        for item in (actual.get("serviceOwnerContext") or {}).get("serviceOwnerLabels") or []
    }
    if label and label.lower() not in labels:
        check("label", label, ", ".join(sorted(labels)) or None)
    check("status", expected.get("status"), actual.get("status"))
    check("systemLabel", expected.get("systemLabel") or "Default", actual.get("systemLabel"))
    # A visibleFrom in the future at creation forces createdAt and updatedAt to it (reference
    # dialogporten.md, the dialog's `visibleFrom`); flytt sends one only from a
    # RequestedPublishTime still ahead, so a dialog that has one was created that way.
    visible = _time(actual.get("visibleFrom"))
    if "visibleFrom" in expected:
        want_visible = _time(expected["visibleFrom"])
        check(
            "visibleFrom",
            want_visible.isoformat() if want_visible else None,
            visible.isoformat() if visible else None,
        )
    for field in ("createdAt", "updatedAt", "dueAt"):
        want, got = _time(expected.get(field)), _time(actual.get(field))
        if field != "dueAt" and visible is not None and want is not None and visible > want:
            want = visible
        if field == "updatedAt" and "updatedAt" not in expected:
            out.append(
                (
                    "updatedAt.noPublishedEvent",
                    "not sent (no Published status)",
                    got.isoformat() if got else None,
                )
            )
            continue
        check(field, want.isoformat() if want else None, got.isoformat() if got else None)
    out += _compare_activities(expected.get("activities") or [], actual.get("activities") or [])
    return out


def _when(activity: dict[str, Any]) -> datetime:
    """Sort key: the activity's `createdAt` (missing or empty sorts first)."""
    return _time(activity.get("createdAt")) or datetime.min.replace(tzinfo=UTC)


def _compare_activities(
    expected: list[dict[str, Any]], actual: list[dict[str, Any]]
) -> list[Mismatch]:
    out: list[Mismatch] = []
    want_counts = Counter(a["type"] for a in expected)
    got_counts = Counter(a.get("type") for a in actual)
    for kind in sorted(set(want_counts) | {k for k in got_counts if k}):
        if want_counts[kind] != got_counts[kind]:
            out.append((f"activities.{kind}.count", str(want_counts[kind]), str(got_counts[kind])))
    for kind in sorted(want_counts):
        wanted = sorted((a for a in expected if a["type"] == kind), key=_when)
        found = sorted((a for a in actual if a.get("type") == kind), key=_when)
        for want, got in zip(wanted, found, strict=False):
            w_at, g_at = _time(want.get("createdAt")), _time(got.get("createdAt"))
            if w_at != g_at:
                out.append(
                    (
                        f"activities.{kind}.createdAt",
                        w_at.isoformat() if w_at else None,
                        g_at.isoformat() if g_at else None,
                    )
                )
            w_actor, g_actor = _actor(want), _actor(got)
            if w_actor != g_actor:
                part = (
                    "actorId"
                    if w_actor.split(":", 1)[0] == g_actor.split(":", 1)[0]
                    else "actorType"
                )
                out.append((f"activities.{kind}.performedBy.{part}", w_actor, g_actor))
    return out
