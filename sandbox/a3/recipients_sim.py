"""A recipient simulator for the live demo: end users acting on migrated correspondences in A3.

It only picks correspondences real A3 would show its recipient: migrated
(`Altinn2CorrespondenceId` set), made available (`IsMigrating = false`, as
`CorrespondenceRepository.GetCorrespondenceById` filters), not purged, and with a highest status
(`GetHighestStatus`) that `IsAvailableForRecipient` accepts (`recipient.py`). Each act is done
over HTTP as an end user would: the overview (`GET /{id}`, which stores Fetched), then one of
content (`GET /{id}/content`, the first read), `markasread`, `confirm` (only when confirmation
is needed and not given) or `purge` (not before a needed confirmation, A3's error 1026).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

import httpx
import sqlalchemy as sa

from sandbox.a3 import tables as t
from sandbox.a3.recipient import AVAILABLE_FOR_RECIPIENT, BASE, CONFIRMED, FETCHED, PURGED, READ

DEFAULT_MIX: dict[str, float] = {"content": 0.4, "markasread": 0.2, "confirm": 0.2, "purge": 0.2}
"""Relative weights of the action after the overview fetch."""
ACTIONS = ("overview", "content", "markasread", "confirm", "purge", "refused")


def available_correspondences(engine: sa.Engine, limit: int = 5000) -> list[dict[str, Any]]:
    """Up to `limit` randomly chosen correspondences a recipient may act on now.

    Returns:
        Dicts with `id` (UUID), `recipient` (URN), `needs_confirm`, `statuses` (set of codes).
    """
    c, s = t.correspondences, t.statuses
    query = (
        sa.select(
            c.c.Id,
            c.c.Recipient,
            c.c.IsConfirmationNeeded,
            sa.func.array_agg(s.c.Status).label("codes"),
        )
        .join(s, s.c.CorrespondenceId == c.c.Id)
        .where(c.c.Altinn2CorrespondenceId.is_not(None))
        .where(c.c.IsMigrating.is_(False))
        .group_by(c.c.Id, c.c.Recipient, c.c.IsConfirmationNeeded)
        .order_by(sa.func.random())
        .limit(limit)
    )
    out = []
    with engine.connect() as conn:
        for row in conn.execute(query):
            codes = set(row.codes or [])
            shown = [x for x in codes if x != FETCHED]
            if not shown or codes & PURGED or max(shown) not in AVAILABLE_FOR_RECIPIENT:
                continue
            out.append(
                {
                    "id": row.Id,
                    "recipient": row.Recipient,
                    "needs_confirm": bool(row.IsConfirmationNeeded),
                    "statuses": codes,
                }
            )
    return out


def _choose(
    item: Mapping[str, Any],
    overview: Mapping[str, Any],
    mix: Mapping[str, float],
    rng: random.Random,
) -> str:
    confirmed = CONFIRMED in item["statuses"]
    allowed = {"content": mix.get("content", 0.0)}
    if overview.get("read") is None and READ not in item["statuses"]:
        allowed["markasread"] = mix.get("markasread", 0.0)
    if item["needs_confirm"] and not confirmed:
        allowed["confirm"] = mix.get("confirm", 0.0)
    if not item["needs_confirm"] or confirmed:
        allowed["purge"] = mix.get("purge", 0.0)
    names = [k for k, w in allowed.items() if w > 0]
    if not names:
        return "content"
    return rng.choices(names, weights=[allowed[k] for k in names])[0]


def act_randomly(
    a3_base_url: str,
    engine: sa.Engine,
    mint_token: Callable[[str], str],
    rng: random.Random,
    n: int,
    mix: Mapping[str, float] | None = None,
    timeout: float = 30.0,
) -> dict[str, int]:
    """Let `n` random recipients act once each on an available migrated correspondence.

    Args:
        a3_base_url: the A3 replica's base URL (e.g. `http://127.0.0.1:8731`).
        engine: the A3 replica's database (to find available correspondences).
        mint_token: recipient URN → bearer token acting for it with scope
            `altinn:correspondence.read` (e.g. `MaskinportenReplica.issue_token(...,
            extra_claims=recipient.recipient_claims(urn))["access_token"]`).
        rng: the random source (seed it for a repeatable run).
        n: number of acts (fewer when fewer correspondences are available).
        mix: weights of `content`, `markasread`, `confirm`, `purge` (default `DEFAULT_MIX`);
            an action is only chosen when A3 would accept it.

    Returns:
        Counts per action: `overview`, `content`, `markasread`, `confirm`, `purge` (answered
        200) and `refused` (any other answer, e.g. 400 when the party is unknown in Register).
    """
    counts = dict.fromkeys(ACTIONS, 0)
    items = available_correspondences(engine, limit=max(n * 3, n + 10))
    rng.shuffle(items)
    weights = dict(mix or DEFAULT_MIX)
    base = a3_base_url.rstrip("/") + BASE
    with httpx.Client(timeout=timeout) as client:
        for item in items[:n]:
            headers = {"Authorization": f"Bearer {mint_token(item['recipient'])}"}
            corr: UUID = item["id"]
            got = client.get(f"{base}/{corr}", headers=headers)
            if got.status_code != 200:
                counts["refused"] += 1
                continue
            counts["overview"] += 1
            action = _choose(item, got.json(), weights, rng)
            if action == "content":
                answer = client.get(f"{base}/{corr}/content", headers=headers)
            elif action == "purge":
                answer = client.delete(f"{base}/{corr}/purge", headers=headers)
            else:
                answer = client.post(f"{base}/{corr}/{action}", headers=headers)
            counts[action if answer.status_code == 200 else "refused"] += 1
    return counts
