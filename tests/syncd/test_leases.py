"""Leases on flytt.element_state: claim order, per-service quotas, wait time, SKIP LOCKED,
expiry, attempts → failed, quarantine and reset (SQL against the real warehouse)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from flytt.control import elements, upgrade
from flytt.control.elements import ServiceQuota
from flytt.warehouse import Warehouse


@pytest.fixture()
def wh(fresh_warehouse: Warehouse) -> Iterator[Warehouse]:
    upgrade(fresh_warehouse)
    with fresh_warehouse.engine.begin() as conn:
        # 5 elements of svc-a (ids 1..5, day 1..5 of 2020), 3 of svc-b (ids 11..13), one young.
        conn.execute(
            sa.text(
                "insert into flytt.element_state (a2_correspondence_id, resource_id, "
                "a2_created_at, state) "
                "select i, 'svc-a', timestamptz '2020-01-01' + (i || ' days')::interval, "
                "'eligible' from generate_series(1, 5) i "
                "union all select 10 + i, 'svc-b', timestamptz '2021-01-01' + "
                "(i || ' days')::interval, 'eligible' from generate_series(1, 3) i "
                "union all select 99, 'svc-b', now() - interval '5 minutes', 'eligible'"
            )
        )
    yield fresh_warehouse


def _claim(wh: Warehouse, owner: str, quotas: list[ServiceQuota], **kw: object) -> list[int]:
    with wh.engine.begin() as conn:
        got = elements.claim_for_delivery(
            conn, owner, quotas, batch=kw.pop("batch", 100), lease_seconds=60, **kw
        )  # type: ignore[arg-type]
    return [c.a2_correspondence_id for c in got]


def test_claim_oldest_first_with_quota_and_wait_time(wh: Warehouse) -> None:
    quotas = [ServiceQuota("svc-a", 2), ServiceQuota("svc-b", 10, wait_minutes=60)]
    assert sorted(_claim(wh, "w1", quotas)) == [1, 2, 11, 12, 13]
    # the same elements are leased now: a second claimer gets the rest of svc-a only
    assert sorted(_claim(wh, "w2", [ServiceQuota("svc-a", 10)])) == [3, 4, 5]


def test_claim_newest_first(wh: Warehouse) -> None:
    assert _claim(wh, "w1", [ServiceQuota("svc-a", 2)], newest_first=True) == [5, 4]


def test_expired_lease_is_reclaimable(wh: Warehouse) -> None:
    assert _claim(wh, "dead", [ServiceQuota("svc-a", 1)]) == [1]
    with wh.engine.begin() as conn:
        conn.execute(
            sa.text(
                "update flytt.element_state set lease_expires_at = now() - interval '1 second' "
                "where a2_correspondence_id = 1"
            )
        )
    assert _claim(wh, "alive", [ServiceQuota("svc-a", 1)]) == [1]
    with wh.engine.begin() as conn:
        # the dead owner's late write is refused: the lease is no longer its own
        assert not elements.mark_migrated(conn, "dead", 1, __import__("uuid").uuid4())


def test_concurrent_claimers_never_share_an_element(wh: Warehouse) -> None:
    with wh.engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into flytt.element_state (a2_correspondence_id, resource_id, "
                "a2_created_at, state) select 1000 + i, 'svc-c', timestamptz '2019-01-01' + "
                "(i || ' minutes')::interval, 'eligible' from generate_series(1, 400) i"
            )
        )
    got: dict[str, list[int]] = {}

    def worker(name: str) -> None:
        mine: list[int] = []
        while True:
            batch = _claim(wh, name, [ServiceQuota("svc-c", 1000)], batch=7)
            if not batch:
                break
            mine += batch
        got[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in got.values() for i in ids]
    assert len(every) == 400
    assert set(every) == set(range(1001, 1401))


def test_attempts_then_failed_with_last_error_code(wh: Warehouse) -> None:
    states = []
    for _ in range(3):
        with wh.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "update flytt.element_state set next_attempt_at = null "
                    "where a2_correspondence_id = 1"
                )
            )
        assert _claim(wh, "w", [ServiceQuota("svc-a", 1)]) == [1]
        with wh.engine.begin() as conn:
            states.append(
                elements.fail_attempt(
                    conn,
                    elements.Stage.DELIVERY,
                    "w",
                    1,
                    error_code="http_503",
                    detail="",
                    max_attempts=3,
                    retry_in_seconds=0,
                )
            )
    assert states == ["eligible", "eligible", "failed"]
    with wh.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "select state, attempts, last_error_code, failed_at is not null, lease_owner "
                "from flytt.element_state where a2_correspondence_id = 1"
            )
        ).one()
    assert tuple(row) == ("failed", 3, "http_503", True, None)


def test_quarantine_and_reset(wh: Warehouse) -> None:
    assert _claim(wh, "w", [ServiceQuota("svc-a", 1)]) == [1]
    with wh.engine.begin() as conn:
        assert elements.mark_quarantined(conn, "w", 1, [("missing_sender", "sender is null")], None)
    with wh.engine.connect() as conn:
        assert conn.execute(
            sa.text(
                "select state, state_reason from flytt.element_state where a2_correspondence_id = 1"
            )
        ).one() == ("quarantined", "missing_sender")
        assert (
            conn.execute(
                sa.text("select reason_code from flytt.quarantine where a2_correspondence_id = 1")
            ).scalar_one()
            == "missing_sender"
        )
    with wh.engine.begin() as conn:
        assert elements.reset(conn, 1)
        assert not elements.reset(conn, 424242)
    with wh.engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("select state from flytt.element_state where a2_correspondence_id = 1")
            ).scalar_one()
            == "eligible"
        )
        assert conn.execute(sa.text("select count(*) from flytt.quarantine")).scalar_one() == 0


def test_renew_extends_only_our_leases(wh: Warehouse) -> None:
    assert _claim(wh, "w1", [ServiceQuota("svc-a", 1)]) == [1]
    with wh.engine.begin() as conn:
        assert elements.renew(conn, "w1", [1, 2], 3600) == 1
        assert elements.renew(conn, "someone-else", [1], 3600) == 0
        left = conn.execute(
            sa.text(
                "select extract(epoch from lease_expires_at - now()) from flytt.element_state "
                "where a2_correspondence_id = 1"
            )
        ).scalar_one()
    assert 3500 < left <= 3600
