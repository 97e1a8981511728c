"""Incremental builds equal one full refresh (issue #4 acceptance), on the realistic sandbox.

The A2 sandbox generator (issue #3) and the dlt loader feed `a2_raw`; dbt builds three times
incrementally while the source changes like a live A2 (new correspondences, status changes,
delegations), plus the tricky rows the mapping must survive: ServiceEngine/Archive duplicate
events microseconds apart (one that loses, one that wins "first wins"), an event in the repeated
autumn DST hour, and a quarantined correspondence (empty title) that is fixed later. Then one
`--full-refresh` must give exactly the same rows in every mart, and the reconciliation test and
all data tests pass each time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from flytt.dbt import DbtResult, run_dbt
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from loaders.contract import LOAD_CONTRACTS, contract_table
from loaders.pipeline import run_load
from loaders.source import a2_engine
from sandbox.a2.generate import generate_a2
from sandbox.a2.live import run_live
from tests.dbt.marts import MART_TABLES, scalar, snapshot

SIZE = 600


def _failures(result: DbtResult) -> list[str]:
    return [
        f"{n.unique_id}: {n.status} {n.message[:200]}"
        for n in result.nodes
        if n.status not in {"success", "pass"}
    ]


def _build(warehouse: Warehouse, *args: str) -> DbtResult:
    result = run_dbt(warehouse, ["build", *args])
    assert result.success, _failures(result)
    return result


def _add_duplicate_and_dst_events(settings: Settings) -> dict[str, int]:
    """Append to the source: an Archive copy of a Read event 37 µs later (must lose), one 37 µs
    earlier (must win), and a Read in the repeated hour 2024-10-27 02:30 (Oslo)."""
    events = contract_table("a2_correspondence_status_event")
    engine = a2_engine(settings)
    try:
        with engine.begin() as conn:
            reads = (
                conn.execute(
                    sa.select(events)
                    .where(events.c.status_type == 2)
                    .order_by(events.c.status_event_id)
                    .limit(2)
                )
                .mappings()
                .all()
            )
            next_id = (
                conn.execute(sa.select(sa.func.max(events.c.status_event_id))).scalar_one() + 1
            )
            loser, winner = dict(reads[0]), dict(reads[1])
            rows = [
                {
                    **loser,
                    "status_event_id": next_id,
                    "src_db": 1,
                    "status_datetime": loser["status_datetime"] + timedelta(microseconds=37),
                },
                {
                    **winner,
                    "status_event_id": next_id + 1,
                    "src_db": 1,
                    "status_datetime": winner["status_datetime"] - timedelta(microseconds=37),
                },
                {
                    **loser,
                    "status_event_id": next_id + 2,
                    "src_db": 0,
                    "status_datetime": datetime(2024, 10, 27, 2, 30, 5),
                },
            ]
            conn.execute(events.insert(), rows)
    finally:
        engine.dispose()
    return {
        "loser": loser["status_event_id"],
        "loser_copy": next_id,
        "winner": winner["status_event_id"],
        "winner_copy": next_id + 1,
        "dst": next_id + 2,
        "dst_correspondence": loser["se_reportee_element_id"],
    }


def _blank_one_title(settings: Settings) -> None:
    """Before the first load: blank the title of the lowest-id correspondence (quarantined as
    empty_title until `_fix_an_empty_title` repairs it)."""
    table = contract_table("a2_correspondence")
    engine = a2_engine(settings)
    try:
        with engine.begin() as conn:
            first = conn.execute(sa.select(sa.func.min(table.c.se_reportee_element_id))).scalar()
            conn.execute(
                table.update()
                .where(table.c.se_reportee_element_id == first)
                .values(message_title="  ")
            )
    finally:
        engine.dispose()


def _fix_an_empty_title(settings: Settings, warehouse: Warehouse) -> int | None:
    """Give one correspondence quarantined for its empty title a title and a new row_version
    in the source; returns its id (None if the sandbox made none)."""
    with warehouse.engine.connect() as conn:
        target = conn.execute(
            sa.text(
                "select min(a2_correspondence_id) from a3.quarantine "
                "where reason_code = 'empty_title'"
            )
        ).scalar()
    if target is None:
        return None
    _set_title(settings, int(target), "Vedtak om skatt")
    return int(target)


def _set_title(settings: Settings, a2_correspondence_id: int, title: str) -> None:
    """Change one A2 correspondence's title in the source and give it a row_version above every
    mutable table's, so the next load picks it up as a change."""
    table = contract_table("a2_correspondence")
    engine = a2_engine(settings)
    try:
        with engine.begin() as conn:
            top = max(
                conn.execute(sa.select(sa.func.max(contract_table(name).c.row_version))).scalar()
                or 0
                for name, contract in LOAD_CONTRACTS.items()
                if contract.mutable
            )
            conn.execute(
                table.update()
                .where(table.c.se_reportee_element_id == a2_correspondence_id)
                .values(message_title=title, row_version=top + 1)
            )
    finally:
        engine.dispose()


def _blank_a_mapped_title(settings: Settings, warehouse: Warehouse) -> int:
    """Blank the title of one mapped correspondence (new row_version): it must leave every
    mart and land in quarantine. Returns its id."""
    with warehouse.engine.connect() as conn:
        target = conn.execute(
            sa.text("select max(altinn2_correspondence_id) from a3.correspondence_status_events")
        ).scalar_one()
    _set_title(settings, int(target), "")
    return int(target)


@pytest.fixture(scope="module")
def three_increments(
    settings: Settings, warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Build once, then twice more after live changes; return what the tests check."""
    generate_a2(settings, size=SIZE, seed=11)
    _blank_one_title(settings)
    run_load(settings, warehouse)
    _build(warehouse)
    first_count = scalar(warehouse, "select count(*) from a3.correspondences")

    run_live(settings, rate=1000, max_changes=120)
    run_load(settings, warehouse)
    _build(warehouse)

    # hand-made rows last: the live generator keeps its own id and row_version counters
    run_live(settings, rate=1000, max_changes=120)
    tricky = _add_duplicate_and_dst_events(settings)
    fixed = _fix_an_empty_title(settings, warehouse)
    broken = _blank_a_mapped_title(settings, warehouse)
    run_load(settings, warehouse)
    _build(warehouse)
    incremental = snapshot(warehouse)

    _build(warehouse, "--full-refresh")
    full = snapshot(warehouse)
    return {
        "first_count": first_count,
        "tricky": tricky,
        "fixed": fixed,
        "broken": broken,
        "incremental": incremental,
        "full": full,
    }


@pytest.mark.parametrize("table", MART_TABLES)
def test_incremental_build_equals_full_refresh(
    three_increments: dict[str, Any], table: str
) -> None:
    assert three_increments["incremental"][table] == three_increments["full"][table]


def test_increments_added_correspondences(
    three_increments: dict[str, Any], warehouse: Warehouse
) -> None:
    raw = scalar(warehouse, "select count(*) from a2_raw.a2_correspondence")
    assert raw > SIZE  # live mode added correspondences
    mapped = scalar(warehouse, "select count(*) from a3.correspondences")
    assert mapped > three_increments["first_count"]
    excluded_or_quarantined = scalar(
        warehouse, "select count(*) from a3.correspondence_eligibility where not is_eligible"
    )
    eligible = scalar(
        warehouse, "select count(*) from a3.correspondence_eligibility where is_eligible"
    )
    assert eligible + excluded_or_quarantined == raw


def _staged_event_ids(warehouse: Warehouse, *ids: int) -> set[int]:
    with warehouse.engine.connect() as conn:
        return set(
            conn.execute(
                sa.text(
                    "select a2_status_event_id from staging.stg_a2__correspondence_status_events "
                    "where a2_status_event_id = any(:ids)"
                ),
                {"ids": list(ids)},
            ).scalars()
        )


def test_duplicate_events_first_wins(
    three_increments: dict[str, Any], warehouse: Warehouse
) -> None:
    t = three_increments["tricky"]
    # the Archive copy 37 µs after the original is dropped; the one 37 µs before replaces it
    assert _staged_event_ids(warehouse, t["loser"], t["loser_copy"]) == {t["loser"]}
    assert _staged_event_ids(warehouse, t["winner"], t["winner_copy"]) == {t["winner_copy"]}


def test_repeated_dst_hour_is_read_as_summer_time(
    three_increments: dict[str, Any], warehouse: Warehouse
) -> None:
    at = scalar(
        warehouse,
        "select to_char(status_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
        "from staging.stg_a2__correspondence_status_events where a2_status_event_id = :i",
        i=three_increments["tricky"]["dst"],
    )
    assert at == "2024-10-27 00:30:05"


def test_fixed_correspondence_leaves_quarantine_with_its_history(
    three_increments: dict[str, Any], warehouse: Warehouse
) -> None:
    fixed = three_increments["fixed"]
    assert fixed is not None
    state = scalar(
        warehouse,
        "select coalesce(quarantine_reason_code, exclusion_reason, 'eligible') "
        "from a3.correspondence_eligibility where a2_correspondence_id = :i",
        i=fixed,
    )
    assert state in {"eligible", "purged_in_a2", "service_not_whitelisted"}
    if state == "eligible":
        assert (
            scalar(
                warehouse,
                "select count(*) from a3.correspondence_status_events "
                "where altinn2_correspondence_id = :i",
                i=fixed,
            )
            >= 2
        )  # Initialized + Published at least


def test_correspondence_quarantined_after_mapping_leaves_the_marts(
    three_increments: dict[str, Any], warehouse: Warehouse
) -> None:
    broken = three_increments["broken"]
    incremental = three_increments["incremental"]
    assert not any(row[0] == str(broken) for row in incremental["correspondences"])
    assert (
        scalar(
            warehouse,
            "select quarantine_reason_code from a3.correspondence_eligibility "
            "where a2_correspondence_id = :i",
            i=broken,
        )
        == "empty_title"
    )
