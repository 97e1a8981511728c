"""`flytt expose` end to end against the A3, Dialogporten and Maskinporten replicas (issue #5).

Every world delivers its elements to the A3 replica first (the migration API, payloads built by
delivery from the marts), so make-available goes the real path: A3 replica → the one mapping →
Dialogporten replica (OpenAPI-validated) → verification by lookup.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from exposure.expose import run_expose
from flytt.report import collect_report
from flytt.status import collect_status
from flytt.warehouse import Warehouse
from sandbox.faults import FaultPlan
from tests.cli import run_flytt
from tests.conftest import cli_env
from tests.exposure.world import YEARS, World, created_at, world

N = 24
OPENED_ACTOR = "activities.CorrespondenceOpened.performedBy.actorId"


@pytest.fixture(scope="module")
def clean(warehouse: Warehouse, module_data_dir: Path) -> Iterator[tuple[World, dict[str, int]]]:
    """A world exposed once, one element per request and one request at a time."""
    with world(warehouse, module_data_dir, N) as w:
        serial = w.settings.model_copy(update={"concurrency": 1, "expose_batch_size": 1})
        counts = run_expose(serial, w.warehouse)
        yield w, counts


def _states(w: World) -> dict[int, tuple[str, Any]]:
    with w.warehouse.engine.connect() as conn:
        rows = conn.execute(
            sa.text("select a2_correspondence_id, state, dialog_id from flytt.element_state")
        )
        return {r[0]: (r[1], r[2]) for r in rows}


def _label_to_a2(w: World) -> dict[str, int]:
    with w.warehouse.engine.connect() as conn:
        rows = conn.execute(
            sa.text("select a3_correspondence_id, a2_correspondence_id from flytt.element_state")
        )
        return {f"urn:altinn:correspondence-id:{a3}": a2 for a3, a2 in rows}


def _dialogs_by_a2(w: World) -> dict[int, dict[str, Any]]:
    labels = _label_to_a2(w)
    out = {}
    for dialog in w.dialogporten.store.all():
        label = dialog["serviceOwnerContext"]["serviceOwnerLabels"][0]["value"]
        out[labels[label]] = dialog
    return out


def test_every_ready_element_becomes_available_with_a_valid_dialog(
    clean: tuple[World, dict[str, int]],
) -> None:
    w, counts = clean
    ready = w.ready_ids()
    assert counts["selected"] == counts["made_available"] == len(ready)
    assert counts["failed"] == counts["retry_later"] == 0
    assert counts["not_ready"] == N - len(ready)
    states = _states(w)
    assert {i for i, (state, _) in states.items() if state == "available"} == set(ready)
    assert {states[i][0] for i in w.ids if i not in ready} == {"migrated"}
    stats = w.dialogporten.stats
    assert stats["created"] == len(ready) == len(w.dialogporten.store)
    assert stats["create_spec_invalid"] == 0  # each create body valid against the document
    dialogs = _dialogs_by_a2(w)
    for i in ready:
        assert str(states[i][1]) == dialogs[i]["id"]


def test_order_is_cutover_year_newest_first_then_earlier_years(
    clean: tuple[World, dict[str, int]],
) -> None:
    w, _ = clean
    labels = _label_to_a2(w)
    created_order = [
        labels[d["serviceOwnerContext"]["serviceOwnerLabels"][0]["value"]]
        for d in w.dialogporten.store.all()  # insertion order = order of the create calls
    ]
    cutover = w.settings.cutover_year
    assert cutover == 2025

    def key(i: int) -> tuple[int, float]:
        year = created_at(i).year
        group = 0 if year == cutover else 1 if year < cutover else 2
        return group, -created_at(i).timestamp()

    assert created_order == sorted(w.ready_ids(), key=key)
    years = [created_at(i).year for i in created_order]
    assert years[0] == 2025 and years[-1] == 2026
    first_earlier = years.index(2024)
    assert set(years[:first_earlier]) == {2025}
    assert years[first_earlier:].index(2023) > 0  # 2024 before 2023
    by_year = collect_status(w.warehouse)["steps"]["5"]["by_year"]
    assert set(by_year) == {str(y) for y in YEARS}
    assert sum(v["available"] for v in by_year.values()) == len(w.ready_ids())
    assert sum(v["waiting"] for v in by_year.values()) == N - len(w.ready_ids())


def test_clean_run_has_an_empty_mismatch_report(clean: tuple[World, dict[str, int]]) -> None:
    w, counts = clean
    assert counts["verified"] == len(w.ready_ids())
    assert counts["mismatches"] == counts["dialogs_with_mismatches"] == 0
    assert collect_report(w.warehouse)["dialog_mismatches_by_field"] == []


def test_second_expose_creates_no_dialog(clean: tuple[World, dict[str, int]]) -> None:
    w, _ = clean
    before = dict(w.dialogporten.stats)
    again = run_expose(w.settings, w.warehouse)
    assert again["selected"] == again["made_available"] == again["verified"] == 0
    assert w.dialogporten.stats["created"] == before["created"]
    assert w.dialogporten.stats["create_requests"] == before["create_requests"]
    recheck = run_expose(w.settings, w.warehouse, recheck=True)
    assert recheck["verified"] == len(w.ready_ids())
    assert recheck["mismatches"] == 0
    assert w.dialogporten.stats["created"] == before["created"]


def _canonical(w: World) -> dict[int, Any]:
    """End state without the ids a run draws at random (A3 ids, revisions)."""
    states = _states(w)
    out: dict[int, Any] = {}
    for a2, dialog in _dialogs_by_a2(w).items():
        out[a2] = (
            states[a2][0],
            dialog["party"],
            dialog["serviceResource"],
            dialog["status"],
            dialog["systemLabel"],
            dialog["createdAt"],
            dialog["updatedAt"],
            dialog["dueAt"],
            dialog["content"]["title"],
            dialog["content"].get("summary"),
            sorted(
                (a["type"], a["createdAt"], a["performedBy"]["actorId"])
                for a in dialog["activities"]
            ),
        )
    for a2, (state, _) in states.items():
        out.setdefault(a2, (state,))
    return out


def test_with_injected_faults_the_end_state_equals_a_clean_run(
    clean: tuple[World, dict[str, int]], fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    reference, _ = clean
    with world(fresh_warehouse, tmp_path, N) as w:
        w.dialogporten_faults.configure(rate_503=0.15, rate_429=0.1, retry_after_s=0, seed=3)
        w.a3_faults.configure(
            rate_503=0.15, rate_429=0.1, rate_500=0.05, rate_drop_after=0.1, retry_after_s=0, seed=5
        )
        settings = w.settings.model_copy(update={"max_attempts": 6})
        counts = run_expose(settings, w.warehouse)
        w.a3_faults.off()
        w.dialogporten_faults.off()
        assert w.a3_faults.stats["ok"] < w.a3_faults.stats["requests"]  # faults were served
        assert w.dialogporten_faults.stats["503"] + w.dialogporten_faults.stats["429"] > 0
        # anything put off by the faults is finished by the next run
        run_expose(settings.model_copy(update={"max_attempts": 6}), w.warehouse)
        _finish_retries(w)
        assert counts["failed"] == 0
        assert _canonical(w) == _canonical(reference)
        assert len(w.dialogporten.store) == len(w.ready_ids())  # no duplicates
        assert collect_report(w.warehouse)["dialog_mismatches_by_field"] == []


def _finish_retries(w: World) -> None:
    """Let elements waiting for a retry go now, and run once more (as a later run would)."""
    with w.warehouse.engine.begin() as conn:
        conn.execute(sa.text("update flytt.element_state set next_attempt_at = null"))
    run_expose(w.settings, w.warehouse)


def test_corrupted_opened_actor_is_reported_by_field_with_count(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    with world(fresh_warehouse, tmp_path, N, corrupt={"opened_actor"}) as w:
        counts = run_expose(w.settings, w.warehouse)
        assert counts["made_available"] == len(w.ready_ids())
        report = collect_report(w.warehouse)
        assert report["dialog_mismatches_by_field"] == [
            {"field": OPENED_ACTOR, "dialogs": len(w.reads())}
        ]
        assert counts["dialogs_with_mismatches"] == len(w.reads())
        with w.warehouse.engine.connect() as conn:
            sample = conn.execute(
                sa.text("select expected, actual from flytt.dialog_mismatch limit 1")
            ).one()
        assert "*****" in sample.expected  # national identity numbers are masked
        assert sample.actual.startswith("PartyRepresentative:urn:altinn:organization")


def test_lookup_finds_each_dialog_by_correspondence_label(
    clean: tuple[World, dict[str, int]],
) -> None:
    w, _ = clean
    token = w.dialogporten_token()
    for label, a2 in list(_label_to_a2(w).items())[:5]:
        answer = httpx.get(
            f"{w.dialogporten_url}/api/v1/serviceowner/dialoglookup",
            params={"instanceRef": label},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == (404 if a2 % 10 == 0 else 200)


def test_command_line_expose_then_report_and_status(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    with world(fresh_warehouse, tmp_path, 12, corrupt={"opened_actor"}) as w:
        s = w.settings
        env = {
            **cli_env(w.warehouse, tmp_path),
            "FLYTT_A3_BASE_URL": s.a3_base_url,
            "FLYTT_DIALOGPORTEN_BASE_URL": s.dialogporten_base_url,
            "FLYTT_MASKINPORTEN_TOKEN_URL": s.maskinporten_token_url,
            "FLYTT_MASKINPORTEN_CLIENT_ID": s.maskinporten_client_id,
            "FLYTT_MASKINPORTEN_KEY_FILE": str(s.maskinporten_key_file),
            "FLYTT_READY_SERVICES": json.dumps(s.ready_services),
        }
        done = run_flytt("expose", "--limit", "3", env=env)
        assert done.returncode == 0, done.stderr
        assert len(w.dialogporten.store) == 3
        done = run_flytt("expose", env=env)
        assert done.returncode == 0, done.stderr
        assert len(w.dialogporten.store) == len(w.ready_ids())
        report = run_flytt("report", "--json", env=env)
        doc = json.loads(report.stdout)
        assert doc["dialog_mismatches_by_field"] == [
            {"field": OPENED_ACTOR, "dialogs": len(w.reads())}
        ]
        text = run_flytt("report", env=env).stdout
        assert "Dialog mismatches by field" in text
        assert OPENED_ACTOR in text
        status = json.loads(run_flytt("status", "--json", env=env).stdout)
        assert status["steps"]["5"]["available"] == len(w.ready_ids())
        assert "Step 5 by year" in run_flytt("status", env=env).stdout


def test_empty_dialog_id_is_a_failure_retried_then_failed(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    with world(fresh_warehouse, tmp_path, 6, bad_org={3}) as w:
        settings = w.settings.model_copy(update={"max_attempts": 2})
        first = run_expose(settings, w.warehouse)
        assert first["made_available"] == len(w.ready_ids()) - 1
        assert first["retry_later"] == 1 and first["failed"] == 0
        # A3 sent the create twice in this run (in-run retry), Dialogporten refused it (400)
        assert w.dialogporten.stats["create_requests"] == len(w.ready_ids()) + 1
        state = _states(w)[3]
        assert state == ("migrated", None)
        _finish_retries_with(w, settings)
        with w.warehouse.engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "select state, attempts, last_error_code from flytt.element_state "
                    "where a2_correspondence_id = 3"
                )
            ).one()
        assert tuple(row) == ("failed", 2, "a3_empty_dialog_id")
        report = collect_report(w.warehouse)
        assert report["failed_by_error"] == [{"error_code": "a3_empty_dialog_id", "elements": 1}]


def _finish_retries_with(w: World, settings: Any) -> dict[str, int]:
    with w.warehouse.engine.begin() as conn:
        conn.execute(sa.text("update flytt.element_state set next_attempt_at = null"))
    return run_expose(settings, w.warehouse)


def test_a_stop_request_ends_exposure_after_the_batch_in_flight(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    with world(fresh_warehouse, tmp_path, 6) as w:
        one_batch = w.settings.model_copy(update={"batch_size": 2, "expose_batch_size": 2})
        asked: list[int] = []

        def stop_after_one_batch() -> bool:  # what flytt daemon's SIGTERM does
            asked.append(1)
            return len(asked) > 1

        counts = run_expose(one_batch, w.warehouse, should_stop=stop_after_one_batch)
        assert counts["selected"] == counts["made_available"] == 2
        assert sorted(s for s, _ in _states(w).values()).count("migrated") == len(w.ready_ids()) - 2
        with w.warehouse.engine.connect() as conn:
            leased = conn.execute(
                sa.text("select count(*) from flytt.element_state where lease_owner is not null")
            ).scalar_one()
        assert leased == 0
        rest = run_expose(w.settings, w.warehouse)
        assert rest["made_available"] == len(w.ready_ids()) - 2


def test_a_batch_slower_than_its_lease_keeps_its_leases(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    # A3 takes longer than a lease: the batch's heartbeat keeps the leases, so no other
    # process can claim and make the same elements available again meanwhile
    with world(fresh_warehouse, tmp_path, 4) as w:
        slow = w.settings.model_copy(update={"lease_seconds": 10, "expose_batch_size": 10})
        w.a3_faults.configure(FaultPlan(rate_slow=1.0, slow_s=14))
        done: dict[str, int] = {}
        exposing = threading.Thread(target=lambda: done.update(run_expose(slow, w.warehouse)))
        exposing.start()
        time.sleep(12)  # past the 10 s the leases were taken for
        with w.warehouse.engine.connect() as conn:
            claimable = conn.execute(
                sa.text(
                    "select count(*) from flytt.element_state where state = 'migrated' "
                    "and (lease_owner is null or lease_expires_at < now())"
                )
            ).scalar_one()
        exposing.join(timeout=120)
        w.a3_faults.off()
        assert claimable == 0
        assert done["made_available"] == len(w.ready_ids())
