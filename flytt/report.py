"""`flytt report` and the human form of `flytt status`.

The report document (JSON with `--json`):

    {"counts_by_state": {...},
     "failed_by_error": [{"error_code": str, "elements": n}],
     "failed": [{"a2_correspondence_id": n, "error_code": str, "attempts": n}],   # first 100
     "excluded_by_reason": [{"reason": str, "elements": n}],
     "quarantine_by_reason": [{"source": "mapping"|"delivery", "reason_code": str, "rows": n}],
                                  # one row per reason: an element can have several
     "recent_runs": [{"run_id", "command", "status", "started_at", "finished_at", "counts"}],
     "dialog_mismatches_by_field": [{"field": str, "dialogs": n}],   # step 5 verification
     "failed_services": [{"resource_id": str, "error_code": str, "attempts": n}],  # step 1.2
     "steady_state": {"count": n, "p50_s": x, "p95_s": y, "max_s": z},   # steps 2.1 and 6:
                                  # eligible (A2 creation + wait) → available, seconds
     "sync": {"a2_to_a3": {"sent": n, "skipped_by_rule": n, "pending": n,   # step 2.2
                           "oldest_pending_load": str|None, "oldest_pending_age_s": x|None,
                           "failed": n, "retrying": n, "last_pass_at": str|None,
                           "echoes_suppressed": n},
              "a3_to_a2": {"received": n, "applied": n, "pending": n, "failed": n,
                           "already_in_a2": n, "superseded": n, "retrying": n,
                           "deliveries": n,
                           "pending_by_error": {code: n}, "oldest_pending_age_s": x|None},
              "echoes_suppressed": n,      # both ways: not sent back where it came from
              "mismatches": n,             # events A3 sent, applied, yet absent from A2
              "mismatched_events": [{"event_id", "a2_correspondence_id", "event_type",
                                     "event_timestamp"}],                  # first 100
              "sync_failed_by_error": [{"error_code": str, "elements": n}],
              "bridge_failed_by_error": [{"error_code": str, "events": n}]}}

`mismatches` compares what A3 sent with what A2 shows: an event the A2 bridge answered 2xx for
must come back with the next load (`bridge_inbox.missing_in_a2`); the A2 → A3 side of the
comparison is `a2_to_a3.pending` (events in the marts that A3 has not acknowledged).

Later issues add sections (e.g. dialog mismatches by field); keys are never removed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rich.table import Table

from flytt.console import out
from flytt.control import bridge_inbox, dialog_checks, elements, runs, sync_state
from flytt.control import services as services_state
from flytt.status import collect_status
from flytt.warehouse import Warehouse


def _table_exists(conn: sa.Connection, qualified: str) -> bool:
    return bool(
        conn.execute(sa.text("select to_regclass(:t) is not null"), {"t": qualified}).scalar()
    )


def quarantine_by_reason(conn: sa.Connection) -> list[dict[str, Any]]:
    """Quarantined rows per reason: `[{"source": "delivery"|"mapping", "reason_code": str,
    "rows": n}]`, the delivery quarantine (`flytt.quarantine`) first, then the dbt mart
    `a3.quarantine` when it has been built; most rows first within each source."""
    quarantine = [
        {"source": "delivery", "reason_code": code, "rows": n}
        for code, n in elements.quarantine_by_reason(conn)
    ]
    if _table_exists(conn, "a3.quarantine"):
        quarantine += [
            {"source": "mapping", "reason_code": code, "rows": n}
            for code, n in conn.execute(
                sa.text(
                    "select reason_code, count(*) from a3.quarantine group by 1 order by 2 desc, 1"
                )
            )
        ]
    return quarantine


def collect_report(warehouse: Warehouse, environment: str = "local") -> dict[str, Any]:
    """Gather the report document described in the module docstring from schema `flytt` (and
    the dbt mart `a3.quarantine` when it has been built)."""
    status = collect_status(warehouse, environment)
    with warehouse.engine.connect() as conn:
        failed_by_error = [
            {"error_code": code or "unknown", "elements": n}
            for code, n in elements.failed_by_error(conn)
        ]
        failed = [
            {"a2_correspondence_id": i, "error_code": code, "attempts": a}
            for i, code, a in elements.failed_elements(conn, limit=100)
        ]
        quarantine = quarantine_by_reason(conn)
        dialog_mismatches = dialog_checks.mismatches_by_field(conn)
        failed_services = [
            {"resource_id": r, "error_code": code or "unknown", "attempts": n}
            for r, code, n in services_state.failed(conn, limit=100)
        ]
        recent_runs = runs.recent(conn, limit=10)
        sync_a2_to_a3 = sync_state.summary(conn)
        sync_failed = [
            {"error_code": code or "unknown", "elements": n}
            for code, n in sync_state.failed_by_error(conn)
        ]
        excluded = [
            {"reason": reason or "unknown", "elements": n}
            for reason, n in elements.excluded_by_reason(conn)
        ]
        sync_a3_to_a2 = bridge_inbox.summary(conn)
        missing = bridge_inbox.missing_in_a2(conn, limit=100)
        bridge_failed = [
            {"error_code": code or "unknown", "events": n}
            for code, n in bridge_inbox.failed_by_error(conn)
        ]
    for event in missing:
        event["event_timestamp"] = event["event_timestamp"].isoformat()
    sync = {
        "a2_to_a3": sync_a2_to_a3,
        "a3_to_a2": sync_a3_to_a2,
        "echoes_suppressed": (sync_a2_to_a3["echoes_suppressed"] + sync_a3_to_a2["already_in_a2"]),
        "mismatches": len(missing),
        "mismatched_events": missing,
        "sync_failed_by_error": sync_failed,
        "bridge_failed_by_error": bridge_failed,
    }
    return {
        "environment": environment,
        "counts_by_state": status["counts_by_state"],
        "excluded_by_reason": excluded,
        "failed_by_error": failed_by_error,
        "failed": failed,
        "quarantine_by_reason": quarantine,
        "recent_runs": recent_runs,
        "dialog_mismatches_by_field": dialog_mismatches,
        "failed_services": failed_services,
        "steady_state": status["steps"]["6"]["latency"],
        "sync": sync,
    }


def _short_counts(counts: dict[str, Any], most: int = 4) -> str:
    """One line per run: scalars as `key value`; a step's nested counts (the demo) as
    `step: key value, …` with its first non-zero entries and how many more there are."""
    parts = []
    for key, value in counts.items():
        if isinstance(value, dict):
            shown = [f"{k} {v}" for k, v in value.items() if v not in (0, None, "")]
            more = f", +{len(shown) - most} more" if len(shown) > most else ""
            parts.append(f"{key}: {', '.join(shown[:most])}{more}")
        else:
            parts.append(f"{key} {value}")
    return "; ".join(parts)


def _print_latency(latency: dict[str, Any]) -> None:
    if latency.get("count"):
        out.print(
            f"Steady-state latency (eligible in A2 → available in Dialogporten), "
            f"{latency['count']} elements: p50 {latency['p50_s']} s, p95 {latency['p95_s']} s, "
            f"max {latency['max_s']} s"
        )


def print_status(doc: dict[str, Any]) -> None:
    """Print a status document (see `flytt.status`) as two tables."""
    out.print(f"Environment: {doc.get('environment', 'local')}")
    if doc["nothing_migrated"]:
        out.print("Nothing has been migrated yet.")
    states = Table(title="Elements by state", title_justify="left")
    states.add_column("state")
    states.add_column("elements", justify="right")
    for state, n in doc["counts_by_state"].items():
        states.add_row(state, str(n))
    out.print(states)
    steps = Table(title="Transition steps", title_justify="left")
    steps.add_column("step")
    steps.add_column("what")
    steps.add_column("state")
    steps.add_column("evidence")
    for key, step in doc["steps"].items():
        steps.add_row(key, step["title"], step["state"], step.get("evidence", ""))
    out.print(steps)
    _print_latency(doc["steps"].get("6", {}).get("latency") or {})
    by_year = doc["steps"].get("5", {}).get("by_year") or {}
    if by_year:
        years = Table(title="Step 5 by year (A2 creation, Norwegian time)", title_justify="left")
        for col in ("year", "available", "waiting"):
            years.add_column(col, justify="right")
        for year, n in by_year.items():
            years.add_row(year, str(n["available"]), str(n["waiting"]))
        out.print(years)


def print_report(doc: dict[str, Any]) -> None:
    """Print a report document as tables; empty sections say so in one line."""
    total = sum(doc["counts_by_state"].values())
    out.print(f"Environment: {doc.get('environment', 'local')}. Elements tracked: {total}")
    _print_latency(doc.get("steady_state") or {})
    sync = (doc.get("sync") or {}).get("a2_to_a3") or {}
    if sync.get("sent") or sync.get("pending") or sync.get("failed"):
        out.print(
            f"Sync A2 → A3 (step 2.2): {sync['sent']} events sent, {sync['skipped_by_rule']} "
            f"skipped by rule, {sync['pending']} pending, {sync['failed']} elements failed, "
            f"{sync['retrying']} retrying"
        )
    for row in (doc.get("sync") or {}).get("sync_failed_by_error") or []:
        out.print(
            f"  elements whose sync A3 refused: {row['error_code']} ({row['elements']}); fix "
            "the cause and run `flytt sync --retry-failed`"
        )
    back = (doc.get("sync") or {}).get("a3_to_a2") or {}
    if back.get("received"):
        out.print(
            f"Sync A3 → A2 (step 2.2): {back['received']} events received, {back['applied']} "
            f"applied, {back['already_in_a2']} already in A2, {back['superseded']} superseded "
            f"by a deletion in A2, {back['pending']} pending ({back['retrying']} retrying), "
            f"{back['failed']} failed"
        )
        for code, n in (back.get("pending_by_error") or {}).items():
            out.print(f"  pending events, last error {code}: {n}")
    for row in (doc.get("sync") or {}).get("bridge_failed_by_error") or []:
        out.print(
            f"  events the A2 bridge refused: {row['error_code']} ({row['events']}); fix the "
            "cause and run `flytt sync --retry-failed`"
        )
    sync_doc = doc.get("sync") or {}
    if sync.get("sent") or back.get("received"):
        out.print(
            f"  echoes suppressed (not sent back where they came from): "
            f"{sync_doc.get('echoes_suppressed', 0)}; mismatches: {sync_doc.get('mismatches', 0)}"
        )
    if sync_doc.get("mismatches"):
        out.print(
            f"  {doc['sync']['mismatches']} events the A2 bridge took are not in A2 after a "
            "later load (`flytt report --json` lists them under sync.mismatched_events)"
        )
    if doc["failed_by_error"]:
        t = Table(title="Failed elements by last error code", title_justify="left")
        t.add_column("error code")
        t.add_column("elements", justify="right")
        for row in doc["failed_by_error"]:
            t.add_row(row["error_code"], str(row["elements"]))
        out.print(t)
    else:
        out.print("No element failed delivery.")
    if doc.get("failed_services"):
        t = Table(title="Services the Resource Registry refused", title_justify="left")
        t.add_column("resource id")
        t.add_column("error code")
        t.add_column("attempts", justify="right")
        for row in doc["failed_services"]:
            t.add_row(row["resource_id"], row["error_code"], str(row["attempts"]))
        out.print(t)
    if doc.get("excluded_by_reason"):
        t = Table(title="Excluded elements by reason", title_justify="left")
        t.add_column("reason")
        t.add_column("elements", justify="right")
        for row in doc["excluded_by_reason"]:
            t.add_row(row["reason"], str(row["elements"]))
        out.print(t)
    if doc["quarantine_by_reason"]:
        t = Table(
            title="Quarantine by reason (an element can have more than one)",
            title_justify="left",
        )
        t.add_column("found at")
        t.add_column("reason code")
        t.add_column("rows", justify="right")
        for row in doc["quarantine_by_reason"]:
            t.add_row(row["source"], row["reason_code"], str(row["rows"]))
        out.print(t)
    else:
        out.print("Nothing in quarantine.")
    mismatches = doc.get("dialog_mismatches_by_field") or []
    if mismatches:
        t = Table(title="Dialog mismatches by field (step 5)", title_justify="left")
        t.add_column("field")
        t.add_column("dialogs", justify="right")
        for row in mismatches:
            t.add_row(row["field"], str(row["dialogs"]))
        out.print(t)
    else:
        out.print("No dialog mismatches.")
    if doc["recent_runs"]:
        t = Table(title="Recent runs", title_justify="left")
        for col in ("run", "command", "status", "started (UTC)", "counts"):
            t.add_column(col)
        for r in doc["recent_runs"]:
            counts = _short_counts(r["counts"] or {})
            t.add_row(
                str(r["run_id"]),
                r["command"],
                r["status"],
                r["started_at"].strftime("%Y-%m-%d %H:%M:%S"),
                counts,
            )
        out.print(t)
