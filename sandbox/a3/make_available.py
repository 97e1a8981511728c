"""`POST /migration/makemigratedcorrespondenceavailable` of the A3 replica.

Reference `a3-correspondence.md` §1.6 and `dialogporten.md` §3.3. Per correspondence:
not found → error; an ExternalReference of type 3 already there → that id (idempotent, ok);
purged → error; else the dialog is built by the replica's own `sandbox.a3.dialog_mapper` (from
A3's CreateDialogRequestMapper.cs) and POSTed to Dialogporten with `?isSilentUpdate=true`
unless `createEvents`
(batch mode only). A Dialogporten 400/422 gives `ok: true, dialogId: ""` and leaves the record
migrating (the quirk a feeder must treat as failure); another non-2xx is an error. On success
one transaction stores ExternalReference type 3, sets IsMigrating = false and keeps the ids of
the opened/confirmed activities in IdempotencyKeys (§2.4).

Batch mode: candidates `Altinn2CorrespondenceId IS NOT NULL AND IsMigrating AND NOT purged`,
Created in [createdFrom, createdTo), newest first (Created DESC, Id ASC); `createdTo` missing →
500. `asyncProcessing` answers `{"statuses": []}` at once and works in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from sandbox.a3 import dialog_mapper
from sandbox.a3 import tables as t
from sandbox.a3.migration import Crash, uuid7
from sandbox.a3.models import (
    MakeAvailableRequestExt,
    MakeAvailableStatusExt,
    ReferenceTypeExt,
)
from sandbox.a3.register import SandboxRegister

log = logging.getLogger(__name__)
DIALOG_ID = int(ReferenceTypeExt.DialogportenDialogId)
PURGED = (dialog_mapper.PURGED_BY_RECIPIENT, dialog_mapper.PURGED_BY_ALTINN)


@dataclass
class MakeAvailable:
    """Creates dialogs in Dialogporten for migrated correspondences.

    Args:
        engine: the replica's database.
        dialogporten_base_url: base of the Dialogporten service-owner API (the create path
            `/api/v1/serviceowner/dialogs` is appended), or None when no Dialogporten runs (then
            every item fails with an error naming that).
        token: returns a bearer token with the Dialogporten service-provider scopes.
        a3_base_url: this replica's public base URL (goes into the dialog's content URLs).
        register: party look-ups (§4.6).
    """

    engine: sa.Engine
    dialogporten_base_url: str | None
    token: Callable[[], str]
    a3_base_url: str = "https://platform.altinn.no"
    register: SandboxRegister = field(default_factory=SandboxRegister)

    def one(self, corr_id: UUID, create_events: bool = False) -> MakeAvailableStatusExt:
        """Make one correspondence available; never raises (errors go into the status)."""
        try:
            dialog_id = self._one(corr_id, create_events)
        except Exception as exc:  # the real endpoint reports the full exception text
            return MakeAvailableStatusExt(correspondenceId=corr_id, error=str(exc), ok=False)
        return MakeAvailableStatusExt(correspondenceId=corr_id, dialogId=dialog_id, ok=True)

    def _one(self, corr_id: UUID, create_events: bool) -> str:
        with self.engine.connect() as conn:
            existing = conn.execute(
                sa.select(t.external_references.c.ReferenceValue)
                .where(t.external_references.c.CorrespondenceId == corr_id)
                .where(t.external_references.c.ReferenceType == DIALOG_ID)
            ).scalar()
            if existing is not None:
                return str(existing)
            if self.dialogporten_base_url is None:
                exists = conn.execute(
                    sa.select(t.correspondences.c.Id).where(t.correspondences.c.Id == corr_id)
                ).first()
                if exists is None:
                    raise LookupError(f"Correspondence {corr_id} not found")
                raise RuntimeError("Dialogporten is not configured in this sandbox")
            # Built by the replica's own mapper (dialog_mapper, from CreateDialogRequestMapper.cs).
            request = dialog_mapper.build_dialog(
                conn,
                corr_id,
                self.register.resolve,
                now=datetime.now(UTC),
                base_url=self.a3_base_url,
                silent=not create_events,
                display_name=self.register.display_name,
            )
        if request is None:
            raise LookupError(f"Correspondence {corr_id} not found")
        # DialogportenService.CreateCorrespondenceDialogForMigratedCorrespondence stores the
        # activity idempotency keys (CreateIdempotencyKeysForCorrespondence) before it calls
        # Dialogporten, so they stay even when Dialogporten refuses the dialog and a retry
        # reuses the same activity ids (src/Altinn.Correspondence.Integrations/Dialogporten/
        # DialogportenService.cs at 9f4c2ef8^).
        if request.idempotency_keys:
            with self.engine.begin() as conn:
                conn.execute(
                    pg_insert(t.idempotency_keys)
                    .values(request.idempotency_keys)
                    .on_conflict_do_nothing()
                )
        response = httpx.post(
            self.dialogporten_base_url.rstrip("/") + request.path,
            params=request.params,
            json=request.body,
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=30,
        )
        if response.status_code in (400, 422):
            # DialogportenService.CreateCorrespondenceDialogForMigratedCorrespondence: logged,
            # reported ok with an empty id, nothing stored (the quirk of §1.6).
            log.error(
                "Response from Dialogporten was not successful: %s: %s",
                response.status_code,
                response.text[:2000],
            )
            return ""
        response.raise_for_status()
        dialog_id = str(response.json())
        with self.engine.begin() as conn:
            conn.execute(
                t.external_references.insert().values(
                    Id=uuid7(),
                    CorrespondenceId=corr_id,
                    ReferenceType=DIALOG_ID,
                    ReferenceValue=dialog_id,
                )
            )
            conn.execute(
                t.correspondences.update()
                .where(t.correspondences.c.Id == corr_id)
                .values(IsMigrating=False)
            )
            # BuildForwardingActivity persists the activity id on the forwarding event.
            for event_id, activity_id in request.forwarding_activity_ids.items():
                conn.execute(
                    t.forwarding_events.update()
                    .where(t.forwarding_events.c.Id == event_id)
                    .values(DialogActivityId=activity_id)
                )
        return dialog_id

    def candidates(self, req: MakeAvailableRequestExt) -> list[UUID]:
        """Batch-mode candidates, newest first (Created DESC, Id ASC), at most `batchSize`.

        Raises:
            Crash: `createdTo` is missing (InvalidOperationException in the real service).
        """
        if req.createdTo is None:
            raise Crash("createdTo is required in batch mode")
        c = t.correspondences
        purged = (
            sa.select(t.statuses.c.CorrespondenceId)
            .where(t.statuses.c.CorrespondenceId == c.c.Id)
            .where(t.statuses.c.Status.in_(PURGED))
        )
        query = (
            sa.select(c.c.Id)
            .where(c.c.Altinn2CorrespondenceId.is_not(None))
            .where(c.c.IsMigrating.is_(True))
            .where(~sa.exists(purged))
            .where(c.c.Created < req.createdTo)
            .order_by(c.c.Created.desc(), c.c.Id.asc())
            .limit(req.batchSize)
        )
        if req.createdFrom is not None:
            query = query.where(c.c.Created >= req.createdFrom)
        with self.engine.connect() as conn:
            found: list[Any] = list(conn.execute(query).scalars())
            return [UUID(str(i)) for i in found]

    def run(self, req: MakeAvailableRequestExt) -> tuple[list[MakeAvailableStatusExt], list[Any]]:
        """Resolve the mode; return (statuses, background work) for the app to answer/run.

        Single mode wins over list mode; batch mode when `batchSize` > 0. Single and list
        modes always create silently; batch mode honours `createEvents`.
        """
        if req.correspondenceId is not None:
            return [self.one(req.correspondenceId)], []
        if req.correspondenceIds:
            return [self.one(i) for i in req.correspondenceIds], []
        if req.batchSize and req.batchSize > 0:
            ids = self.candidates(req)
            if req.asyncProcessing:
                return [], [(i, req.createEvents) for i in ids]
            return [self.one(i, req.createEvents) for i in ids], []
        return [], []
