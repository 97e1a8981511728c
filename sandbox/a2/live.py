"""`flytt sandbox a2 --live RATE`: keep the sandbox A2 database changing like a live A2 (issue #3).

About `rate` times per second one change happens, drawn as:

* 50 %: a new correspondence (created now, Norwegian local time) with its Created event,
  attachments and notifications;
* 35 %: a status change on an existing correspondence (Read, Confirmed, Archived or trash), which
  appends a status event and updates the correspondence (new `row_version`);
* 15 %: a delegation change: a new service-level grant, or the revocation of an existing rule
  (rule updated, change-log row appended).

It runs until Ctrl-C, `max_seconds` or `max_changes` (tests). Returns the distinct rows inserted
or updated per table, i.e. exactly what the next `flytt load` must bring.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flytt.console import err
from flytt.errors import UserError
from flytt.settings import Settings
from loaders.contract import metadata
from loaders.source import a2_engine
from sandbox.a2.config import DEFAULT_CONFIG, SandboxConfig
from sandbox.a2.correspondences import (
    CORRESPONDENCE_TABLES,
    Context,
    add_correspondence,
    apply_status,
)
from sandbox.a2.world import Rows, Sequences, build_world
from sandbox.a2.writer import insert_rows, lock_counters, read_meta, write_meta

_T = metadata.tables


def run_live(
    settings: Settings,
    rate: float,
    url: str | None = None,
    *,
    max_seconds: float | None = None,
    max_changes: int | None = None,
    config: SandboxConfig = DEFAULT_CONFIG,
) -> dict[str, int]:
    """Apply about `rate` changes per second to a generated sandbox until stopped.

    Args:
        settings: flytt settings (target as for `generate_a2`).
        rate: changes per second (> 0).
        url: explicit target URL.
        max_seconds, max_changes: stop after this long / this many changes (None: never).
        config: the generator config the sandbox was made with.

    Returns:
        Distinct rows inserted or updated per contract table.

    Raises:
        UserError: no completed sandbox at the target (run `flytt sandbox a2` first), or
            `rate` is not positive.
    """
    if rate <= 0:
        raise UserError("--live RATE must be a positive number of changes per second.")
    engine = a2_engine(settings, url)
    meta = read_meta(engine)
    if meta.get("complete") != "1":
        engine.dispose()
        raise UserError(
            "There is no generated sandbox A2 database there; run `flytt sandbox a2` first."
        )
    size, seed = int(meta["size"]), int(meta["seed"])
    _, world = build_world(config, size, random.Random(f"{seed}-world"), Sequences())
    seq = Sequences(
        {k.removeprefix("seq."): int(v) for k, v in meta.items() if k.startswith("seq.")}
    )
    run_no = seq.next("live_run")
    rng = random.Random(f"{seed}-live-{run_no}")
    zone = ZoneInfo(config.timezone)
    touched: dict[str, set[Any]] = defaultdict(set)
    changes, started = 0, time.monotonic()
    try:
        while (max_changes is None or changes < max_changes) and (
            max_seconds is None or time.monotonic() - started < max_seconds
        ):
            now = time.time()
            ctx = Context(config=config, world=world, seq=seq, zone=zone, end_ts=now)
            step: dict[str, set[Any]] = defaultdict(set)
            with engine.begin() as conn:
                # another writer (the SBL-bridge replica) may have handed out ids since
                for name, value in lock_counters(conn).items():
                    seq.values[name] = max(seq.values.get(name, value), value)
                x = rng.random()
                if x < 0.5:
                    _new_correspondence(ctx, rng, conn, step, now)
                elif x < 0.85:
                    _status_change(ctx, rng, conn, step)
                else:
                    _delegation_change(ctx, rng, conn, step, now)
                write_meta(conn, {f"seq.{k}": v for k, v in seq.values.items()})
            for name, keys in step.items():  # counted only once committed
                touched[name] |= keys
            changes += 1
            delay = started + changes / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    except KeyboardInterrupt:
        err.print("live sandbox stopped.")
    finally:
        engine.dispose()
    return {name: len(keys) for name, keys in sorted(touched.items())}


def _record(touched: dict[str, set[Any]], rows: Rows) -> None:
    for name, batch in rows.items():
        pk = [c.name for c in _T[name].primary_key.columns]
        for row in batch:
            touched[name].add(tuple(row[c] for c in pk))


def _new_correspondence(
    ctx: Context, rng: random.Random, conn: Connection, touched: dict[str, set[Any]], now: float
) -> None:
    rows: Rows = {name: [] for name in CORRESPONDENCE_TABLES}
    se_id = ctx.seq.next("se_reportee_element_id", start=1_000_001)
    add_correspondence(ctx, rng, rows, se_id, now)
    insert_rows(conn, rows)
    _record(touched, rows)


def _status_change(
    ctx: Context, rng: random.Random, conn: Connection, touched: dict[str, set[Any]]
) -> None:
    table = _T["a2_correspondence"]
    top = ctx.seq.values["se_reportee_element_id"]
    pick = rng.randint(1_000_001, top)
    row = (
        conn.execute(
            sa.select(table)
            .where(table.c.se_reportee_element_id >= pick, table.c.trash_state != 2)
            .order_by(table.c.se_reportee_element_id)
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        return
    current = dict(row)
    if current["trash_state"] == 1:
        status = 102
    elif current["is_confirmation_needed"] and current["confirmation_datetime"] is None:
        status = 6
    else:
        status = rng.choice([2, 2, 2, 9, 101]) if not current["is_archived"] else 2
    world = ctx.world
    actor = rng.choice(world.person_ids)
    user = world.user_of_party.get(actor)
    when = datetime.now(ctx.zone).replace(tzinfo=None)
    event = {
        "status_event_id": ctx.seq.next("status_event_id"),
        "se_reportee_element_id": current["se_reportee_element_id"],
        "status_type": status,
        "status_datetime": when,
        "actor_party_id": actor,
        "actor_user_id": user,
        "src_db": 1 if current["is_archived"] else 0,
    }
    apply_status(ctx, current, status, when, user)
    current["row_version"] = ctx.seq.rv()
    key = current["se_reportee_element_id"]
    changed = {k: v for k, v in current.items() if k != "se_reportee_element_id"}
    conn.execute(table.update().where(table.c.se_reportee_element_id == key).values(**changed))
    conn.execute(_T["a2_correspondence_status_event"].insert(), [event])
    touched["a2_correspondence"].add((key,))
    touched["a2_correspondence_status_event"].add((event["status_event_id"],))


def _delegation_change(
    ctx: Context, rng: random.Random, conn: Connection, touched: dict[str, set[Any]], now: float
) -> None:
    rules, log = _T["a2_authorization_rule"], _T["a2_delegation_change_log"]
    world = ctx.world
    when = datetime.fromtimestamp(now, ctx.zone).replace(tzinfo=None)
    by_party = rng.choice(world.person_ids)
    by_user = world.user_of_party.get(by_party)
    existing = None
    if rng.random() < 0.4:
        existing = conn.execute(
            sa.select(rules.c.authorization_rule_id, rules.c.offered_by_party_id)
            .where(rules.c.is_deleted.is_(False))
            .order_by(rules.c.authorization_rule_id.desc())
            .limit(1)
            .offset(rng.randint(0, 20))
        ).first()
    if existing is not None:
        rule_id, offered_by = existing
        conn.execute(
            rules.update()
            .where(rules.c.authorization_rule_id == rule_id)
            .values(
                is_deleted=True,
                deleted_datetime=when,
                deleted_by_user_id=by_user,
                row_version=ctx.seq.rv(),
            )
        )
        change_type = 3
    else:
        offered_by = rng.choice(world.org_ids)
        edition = rng.choice(world.editions)
        person = rng.choice(world.person_ids)
        rule_id = ctx.seq.next("authorization_rule_id", start=100_001)
        conn.execute(
            rules.insert(),
            [
                {
                    "authorization_rule_id": rule_id,
                    "rule_kind": "Service",
                    "offered_by_party_id": offered_by,
                    "covered_by_party_id": person,
                    "covered_by_user_id": world.user_of_party.get(person),
                    "service_code": edition.service_code,
                    "service_edition_code": edition.edition_code,
                    "reportee_element_id": None,
                    "is_archive_element": False,
                    "operation": "Read",
                    "delegated_by_user_id": by_user,
                    "delegated_by_party_id": offered_by,
                    "created_datetime": when,
                    "personal_message": None,
                    "is_delegatable": False,
                    "is_deleted": False,
                    "deleted_datetime": None,
                    "deleted_by_user_id": None,
                    "row_version": ctx.seq.rv(),
                }
            ],
        )
        change_type = 1
    change_id = ctx.seq.next("change_id")
    conn.execute(
        log.insert(),
        [
            {
                "change_id": change_id,
                "authorization_rule_id": rule_id,
                "role_id": None,
                "change_type": change_type,
                "changed_datetime": when,
                "performed_by_user_id": by_user,
                "performed_by_party_id": offered_by,
                "synced_to_a3_datetime": None,
            }
        ],
    )
    touched["a2_authorization_rule"].add((rule_id,))
    touched["a2_delegation_change_log"].add((change_id,))
