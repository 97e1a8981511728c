"""Dialogporten side effects of sync and re-migration on an available correspondence.

Reference `a3-correspondence.md` §1.7 and `dialogporten.md` §3.4: once a migrated
correspondence has a dialog (IsMigrating = false), A3 reports later Altinn 2 events to
Dialogporten: Read → CorrespondenceOpened activity, Confirmed → CorrespondenceConfirmed
activity, notification and forwarding → Information activities, Archived / soft delete /
restore → system labels (actor PartyRepresentative), purge → the dialog is deleted. Records that
are still migrating are skipped.

The replica does this by recomputing the dialog with its own mapper (`sandbox.a3.dialog_mapper`,
written from A3's CreateDialogRequestMapper.cs) and sending what Dialogporten lacks: activities
missing by (type, createdAt) — A3 reuses stored activity ids, so an activity that is already
there is never added twice — and the system label when it differs. Not replayed: the PATCH that
removes the confirm action and sets status NotApplicable (the Dialogporten replica has no PATCH).
Errors are logged and swallowed, as A3's background jobs retried them out of band.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import sqlalchemy as sa

from sandbox.a3 import dialog_mapper
from sandbox.a3 import tables as t
from sandbox.a3.make_available import DIALOG_ID, PURGED, MakeAvailable

log = logging.getLogger(__name__)
DIALOGS = "/api/v1/serviceowner/dialogs"


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def refresh_dialog(maker: MakeAvailable, corr_id: UUID) -> dict[str, int]:
    """Bring the dialog of `corr_id` up to date with the stored history.

    Returns:
        Counts of what was sent: `activities`, `labels` (0/1), `deleted` (0/1); all 0 when the
        correspondence is still migrating or has no dialog.
    """
    done = {"activities": 0, "labels": 0, "deleted": 0}
    if maker.dialogporten_base_url is None:
        return done
    with maker.engine.connect() as conn:
        migrating = conn.execute(
            sa.select(t.correspondences.c.IsMigrating).where(t.correspondences.c.Id == corr_id)
        ).scalar()
        dialog_id = conn.execute(
            sa.select(t.external_references.c.ReferenceValue)
            .where(t.external_references.c.CorrespondenceId == corr_id)
            .where(t.external_references.c.ReferenceType == DIALOG_ID)
        ).scalar()
        exists = conn.execute(
            sa.select(t.correspondences.c.Id).where(t.correspondences.c.Id == corr_id)
        ).first()
        purged = conn.execute(
            sa.select(t.statuses.c.Id)
            .where(t.statuses.c.CorrespondenceId == corr_id)
            .where(t.statuses.c.Status.in_(PURGED))
        ).first()
        expected: dict[str, Any] | None = None
        if not purged and exists is not None:
            try:
                built = dialog_mapper.build_dialog(
                    conn,
                    corr_id,
                    maker.register.resolve,
                    now=datetime.now(UTC),
                    base_url=maker.a3_base_url,
                    display_name=maker.register.display_name,
                )
            except (LookupError, ValueError) as exc:
                log.warning("dialog of %s not updated: %s", corr_id, exc)
                return done
            expected = built.body if built is not None else None
    if migrating is not False or not dialog_id or exists is None:
        return done
    base = maker.dialogporten_base_url.rstrip("/") + DIALOGS
    headers = {"Authorization": f"Bearer {maker.token()}"}
    with httpx.Client(headers=headers, timeout=30) as client:
        if purged:
            response = client.delete(f"{base}/{dialog_id}")
            done["deleted"] = int(response.status_code == 204)
            return done
        if expected is None:
            return done
        current = client.get(f"{base}/{dialog_id}")
        if current.status_code != 200:
            log.warning("dialog %s of %s: GET gave %s", dialog_id, corr_id, current.status_code)
            return done
        dialog: dict[str, Any] = current.json()
        have = {(a.get("type"), _instant(a["createdAt"])) for a in dialog.get("activities") or []}
        for activity in expected.get("activities") or []:
            if (activity["type"], _instant(activity["createdAt"])) in have:
                continue
            sent = client.post(
                f"{base}/{dialog_id}/activities", params={"isSilentUpdate": "true"}, json=activity
            )
            done["activities"] += int(sent.status_code == 201)
        label = expected.get("systemLabel", "Default")
        if dialog.get("systemLabel") != label:
            body: dict[str, Any] = {
                "performedBy": {
                    "actorType": "PartyRepresentative",
                    "actorId": expected["party"],
                }
            }
            if label == "Default":
                body["removeLabels"] = [dialog.get("systemLabel")]
            else:
                body["addLabels"] = [label]
            sent = client.put(f"{base}/{dialog_id}/endusercontext/systemlabels", json=body)
            if sent.status_code >= 300:
                log.warning("labels of dialog %s: %s", dialog_id, sent.status_code)
            done["labels"] = int(sent.status_code == 204)
    return done
