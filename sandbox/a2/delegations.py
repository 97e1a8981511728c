"""Role assignments, service-level and single-message delegations with later revocations, and
the DelegationSync change log in time order (issue #3; a2-model §2.3-2.5, §8.19-8.21).
"""

from __future__ import annotations

import random
from typing import Any

from sandbox.a2.correspondences import Context
from sandbox.a2.world import ROLES, Rows

_DAY = 86_400.0
_ROLE_ID = {code: rid for rid, code, *_ in ROLES}


def add_delegations(ctx: Context, rng: random.Random, rows: Rows) -> None:
    """Append role assignments, authorization rules and change-log rows.

    Service delegations: per organisation ~`service_delegations_per_org` grants of Read (and
    often ArchiveRead) on one edition to a person; instance delegations: one Read and one Write
    rule per share in `ctx.shares`. A `revoked_share` of them is revoked later (is_deleted, a
    Revoke row per operation, RevokeLast for the last one).
    """
    cfg, world, seq = ctx.config, ctx.world, ctx.seq
    for name in ("a2_role_assignment", "a2_authorization_rule", "a2_delegation_change_log"):
        rows.setdefault(name, [])
    start = ctx.epoch(cfg.first_datetime)
    changes: list[tuple[float, dict[str, Any]]] = []

    for org in world.org_ids[: max(1, len(world.org_ids) // 2)]:
        person = rng.choice(world.person_ids)
        t = start + rng.random() * (ctx.end_ts - start)
        role_id = seq.next("role_id", start=1)
        deleted = rng.random() < cfg.revoked_share / 2
        t_del = min(ctx.end_ts, t + rng.expovariate(1 / (365 * _DAY)))
        rows["a2_role_assignment"].append(
            {
                "role_id": role_id,
                "role_definition_id": _ROLE_ID[rng.choice(["DAGL", "A0236", "UTINN", "REGNA"])],
                "offered_by_party_id": org,
                "covered_by_party_id": person,
                "covered_by_user_id": world.user_of_party.get(person),
                "delegated_by_user_id": None,
                "delegated_datetime": ctx.local(t),
                "is_deleted": deleted,
                "deleted_datetime": ctx.local(t_del) if deleted else None,
                "row_version": seq.rv(),
            }
        )
        changes.append((t, _change(None, role_id, 1, t, None, org)))
        if deleted:
            changes.append((t_del, _change(None, role_id, 3, t_del, None, org)))

    for org in world.org_ids:
        n = (
            int(rng.expovariate(1 / cfg.service_delegations_per_org))
            if cfg.service_delegations_per_org
            else 0
        )
        for _ in range(min(n, 5)):
            edition = rng.choice(world.editions)
            person = rng.choice(world.person_ids)
            t = start + rng.random() * (ctx.end_ts - start)
            ops = ["Read", "ArchiveRead"] if rng.random() < 0.6 else ["Read"]
            _rules(
                ctx,
                rng,
                rows,
                changes,
                "Service",
                None,
                org,
                person,
                (edition.service_code, edition.edition_code),
                t,
                ops,
            )
    for se_id, owner, person, t in ctx.shares:
        _rules(
            ctx, rng, rows, changes, "Instance", se_id, owner, person, None, t, ["Read", "Write"]
        )
    changes.sort(key=lambda c: c[0])
    for _, change in changes:
        change["change_id"] = seq.next("change_id", start=1)
        change["changed_datetime"] = ctx.local(change["changed_datetime"])
        rows["a2_delegation_change_log"].append(change)


def _change(
    rule_id: int | None,
    role_id: int | None,
    change_type: int,
    t: float,
    user: int | None,
    party: int | None,
) -> dict[str, Any]:
    return {
        "change_id": None,
        "authorization_rule_id": rule_id,
        "role_id": role_id,
        "change_type": change_type,
        "changed_datetime": t,
        "performed_by_user_id": user,
        "performed_by_party_id": party,
        "synced_to_a3_datetime": None,
    }


def _rules(
    ctx: Context,
    rng: random.Random,
    rows: Rows,
    changes: list[tuple[float, dict[str, Any]]],
    kind: str,
    se_id: int | None,
    offered_by: int,
    person: int,
    edition: tuple[str, int] | None,
    t: float,
    operations: list[str],
) -> None:
    cfg, world, seq = ctx.config, ctx.world, ctx.seq
    revoke = rng.random() < cfg.revoked_share
    t_del = min(ctx.end_ts, t + rng.expovariate(1 / (90 * _DAY)))
    by_user = world.user_of_party.get(rng.choice(world.person_ids))
    for k, operation in enumerate(operations):
        rule_id = seq.next("authorization_rule_id", start=100_001)
        rows["a2_authorization_rule"].append(
            {
                "authorization_rule_id": rule_id,
                "rule_kind": kind,
                "offered_by_party_id": offered_by,
                "covered_by_party_id": person,
                "covered_by_user_id": world.user_of_party.get(person),
                "service_code": edition[0] if edition else None,
                "service_edition_code": edition[1] if edition else None,
                "reportee_element_id": se_id,
                "is_archive_element": False,
                "operation": operation,
                "delegated_by_user_id": by_user,
                "delegated_by_party_id": offered_by,
                "created_datetime": ctx.local(t),
                "personal_message": "Kan du se på denne?" if kind == "Instance" else None,
                "is_delegatable": False,
                "is_deleted": revoke,
                "deleted_datetime": ctx.local(t_del) if revoke else None,
                "deleted_by_user_id": by_user if revoke else None,
                "row_version": seq.rv(),
            }
        )
        changes.append((t, _change(rule_id, None, 1, t, by_user, offered_by)))
        if revoke:
            last = k == len(operations) - 1
            changes.append(
                (t_del, _change(rule_id, None, 3 if last else 2, t_del, by_user, offered_by))
            )
