"""`flytt migrate` in-process against the A3, Resource Registry and Maskinporten replicas, on
synthetic marts (syncd/synthetic.py): dry-run, selection (service, limit, newest first), end to
end with services first, crash cases quarantined, a second run sends nothing, reset, A3 or
Maskinporten refusing the run.

Each test starts from a clean slate (tests/syncd/conftest.py) with freshly seeded marts and
delivers what it needs before it looks: none relies on what another test delivered."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flytt.errors import UserError
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from syncd import synthetic as seed
from syncd.delivery import run_migrate
from tests.syncd.checks import a3_fingerprint, duplicates, mart_fingerprint
from tests.syncd.conftest import Replicas

N = 60  # eligible elements, in 3 services of 20


@pytest.fixture()
def env(warehouse: Warehouse, tmp_path: Path, replicas: Replicas) -> Settings:
    """Settings for this test, on marts seeded for it alone (nothing delivered yet)."""
    seed.seed_marts(warehouse.engine, N, services=3)
    return replicas.settings(warehouse, tmp_path)


def _migrate(settings: Settings, warehouse: Warehouse, **options: Any) -> dict[str, Any]:
    return run_migrate(
        settings,
        warehouse,
        attachment_bytes=seed.attachment_bytes,
        show_progress=False,
        **options,
    )


def _scalar(warehouse: Warehouse, sql: str, **params: Any) -> Any:
    with warehouse.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def _a3_requests(replicas: Replicas) -> int:
    return int(replicas.a3_faults.stats["requests"])


def test_dry_run_counts_per_service_and_sends_nothing(
    env: Settings, warehouse: Warehouse, replicas: Replicas
) -> None:
    before = _a3_requests(replicas)
    counts = _migrate(env, warehouse, dry_run=True, limit=15)
    assert counts["would_send"] == 3 * 15
    assert counts["would_send ttd-migratedcorrespondence-0-1"] == 15
    assert counts["services"] == 3
    assert _a3_requests(replicas) == before
    # nothing written: discovery ran in a rolled-back transaction
    assert _scalar(warehouse, "select count(*) from flytt.element_state") == 0


def test_selection_by_service_limit_and_newest_first(env: Settings, warehouse: Warehouse) -> None:
    counts = _migrate(
        env, warehouse, services=["ttd-migratedcorrespondence-1-1"], limit=2, newest_first=True
    )
    assert counts["delivered"] == 2, _scalar(
        warehouse, "select string_agg(last_error_code, ',') from flytt.service_state"
    )
    assert counts["services_delivered"] == 1
    with warehouse.engine.connect() as conn:
        migrated = (
            conn.execute(
                sa.text(
                    "select a2_correspondence_id from flytt.element_state where state = 'migrated' "
                    "order by 1"
                )
            )
            .scalars()
            .all()
        )
        # elements of service 1 are 1, 4, 7, ..., 58: the newest two are 55 and 58
        assert migrated == [55, 58]
        # the crash cases of service 1 (900001, 900004) are newer in id but older in time
        assert (
            conn.execute(
                sa.text("select state from flytt.service_state where resource_id = :r"),
                {"r": "ttd-migratedcorrespondence-1-1"},
            ).scalar_one()
            == "delivered"
        )


def _untouched(warehouse: Warehouse) -> dict[str, Any]:
    """Elements of the seeded services no run has touched: eligible, no attempt, no lease."""
    with warehouse.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "select count(*) filter (where state = 'eligible' and delivery_attempts = 0 "
                "and lease_owner is null), count(*) filter (where state = 'migrated') "
                "from flytt.element_state where a2_correspondence_id <= :n"
            ),
            {"n": N},
        ).one()
    return {"untouched": row[0], "migrated": row[1]}


def test_migrate_end_to_end(env: Settings, warehouse: Warehouse, replicas: Replicas) -> None:
    counts = _migrate(env, warehouse)
    assert counts["delivered"] == N
    assert counts["quarantined"] == len(seed.CRASH_IDS)
    assert counts["failed"] == 0
    assert counts["services_delivered"] == 3
    with warehouse.engine.connect() as conn:
        assert duplicates(conn) == {"correspondences": 0, "attachments": 0, "statuses": 0}
        a3 = a3_fingerprint(conn)
        assert len(a3) == N
        assert a3 == mart_fingerprint(conn)
        # the A3 id flytt stored is the one A3 holds for that A2 id
        assert (
            conn.execute(
                sa.text(
                    "select count(*) from flytt.element_state e "
                    'join correspondence."Correspondences" c on c."Id" = e.a3_correspondence_id '
                    'and c."Altinn2CorrespondenceId" = e.a2_correspondence_id '
                    "where e.state = 'migrated' and e.migrated_at is not null"
                )
            ).scalar_one()
            == N
        )
        # attachments arrived with the bytes and checksum of the A2 source
        rows = conn.execute(
            sa.text(
                'select a."Altinn2AttachmentId", a."Checksum", a."AttachmentSize" '
                'from correspondence."Attachments" a order by 1'
            )
        ).all()
        assert len(rows) == N // 4
        for a2_id, checksum, size in rows:
            data = seed.attachment_data(a2_id)
            assert checksum == hashlib.md5(data).hexdigest()
            assert size == len(data)
        # crash cases: quarantined with their reason code, never sent to A3
        quarantined = dict(
            conn.execute(
                sa.text(
                    "select a2_correspondence_id, reason_code from flytt.quarantine "
                    "where entity = 'correspondence'"
                )
            ).all()
        )
        assert quarantined == seed.CRASH_IDS
        assert (
            conn.execute(
                sa.text(
                    'select count(*) from correspondence."Correspondences" '
                    '"where" "Altinn2CorrespondenceId" >= 900000'.replace('"where"', "where")
                )
            ).scalar_one()
            == 0
        )
        states = dict(
            conn.execute(
                sa.text("select state, count(*) from flytt.element_state group by 1")
            ).all()
        )
        assert states == {"migrated": N, "quarantined": len(seed.CRASH_IDS)}
        assert (
            conn.execute(
                sa.text("select count(*) from flytt.service_state where state = 'delivered'")
            ).scalar_one()
            == 3
        )


def test_resources_and_policies_reached_the_registry(env: Settings, warehouse: Warehouse) -> None:
    # services go first: a run that sends one element per service delivers all three
    assert _migrate(env, warehouse, limit=1)["services_delivered"] == 3
    with warehouse.engine.connect() as conn:
        resources = dict(
            conn.execute(
                sa.text(
                    "select identifier, serviceresourcejson from resourceregistry.resources "
                    "order by 1"
                )
            ).all()
        )
        policies = dict(
            conn.execute(
                sa.text("select identifier, policy_xml from resourceregistry.policies order by 1")
            ).all()
        )
    assert sorted(resources) == [f"ttd-migratedcorrespondence-{s}-1" for s in range(3)]
    one = resources["ttd-migratedcorrespondence-0-1"]
    assert one["resourceType"] == "CorrespondenceService"
    assert one["title"]["nb"].endswith(" - migrated from Altinn 2")
    assert {"referenceSource": "Altinn2", "referenceType": "ServiceCode", "reference": "0"} in (
        one["resourceReferences"]
    )
    assert sorted(policies) == sorted(resources)
    assert "urn:altinn:rolecode" in policies["ttd-migratedcorrespondence-0-1"]


def test_second_migrate_sends_nothing_new(
    env: Settings, warehouse: Warehouse, replicas: Replicas
) -> None:
    assert _migrate(env, warehouse)["delivered"] == N
    before = _a3_requests(replicas)
    counts = _migrate(env, warehouse)
    assert counts["delivered"] == 0
    assert counts["quarantined"] == 0
    assert counts["discovered"] == 0
    assert _a3_requests(replicas) == before


def test_reset_one_element_then_it_is_migrated_again(
    env: Settings, warehouse: Warehouse, replicas: Replicas
) -> None:
    assert _migrate(env, warehouse)["delivered"] == N
    assert _migrate(env, warehouse, reset=8) == {"reset": 1}
    assert (
        _scalar(warehouse, "select state from flytt.element_state where a2_correspondence_id = 8")
        == "eligible"
    )
    counts = _migrate(env, warehouse)
    assert counts["already_there"] == 1
    assert counts["delivered"] == 0
    with warehouse.engine.connect() as conn:
        assert duplicates(conn)["correspondences"] == 0
        assert a3_fingerprint(conn) == mart_fingerprint(conn)
    with pytest.raises(UserError, match="not known"):
        _migrate(env, warehouse, reset=123456789)


def test_unknown_service_is_a_user_error(env: Settings, warehouse: Warehouse) -> None:
    with pytest.raises(UserError, match="--service"):
        _migrate(env, warehouse, services=["nope-migratedcorrespondence-1-1"])


def test_unreachable_a3_stops_the_run_without_counting_attempts(
    env: Settings, warehouse: Warehouse
) -> None:
    from sandbox.serve import free_port

    down = env.model_copy(update={"a3_base_url": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(UserError, match="FLYTT_A3_BASE_URL"):
        _migrate(down, warehouse)
    assert _untouched(warehouse) == {"untouched": N, "migrated": 0}
    again = _migrate(env, warehouse)
    assert again["delivered"] == N, str(again)


def test_refused_maskinporten_client_is_one_clear_error(
    env: Settings, warehouse: Warehouse
) -> None:
    stranger = env.model_copy(update={"maskinporten_client_id": "not-registered"})
    with pytest.raises(UserError, match="FLYTT_MASKINPORTEN_CLIENT_ID"):
        _migrate(stranger, warehouse)
    assert _untouched(warehouse) == {"untouched": N, "migrated": 0}
    again = _migrate(env, warehouse)
    assert again["delivered"] == N, str(again)
