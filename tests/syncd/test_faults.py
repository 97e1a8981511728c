"""With 10 % 5xx, 5 % 429 (Retry-After), slow answers beyond the client timeout and dropped
connections injected into the A3 replica, `flytt migrate` ends in the same state as a clean
run (test_delivery: A3 == marts) and A3 holds no duplicates; an element that keeps failing
and a service the Resource Registry refuses end failed and reported. Each test seeds the
marts it needs on a clean slate (tests/syncd/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from flytt.warehouse import Warehouse
from sandbox.faults import FaultPlan
from syncd import synthetic as seed
from syncd.a3_client import A3MigrationClient, http_timeout
from syncd.delivery import Clients, run_migrate
from syncd.maskinporten import MaskinportenClient
from syncd.resource_registry import ResourceRegistryClient
from tests.syncd.checks import a3_fingerprint, duplicates, mart_fingerprint
from tests.syncd.conftest import Replicas

N = 240


def test_faults_give_the_clean_end_state_without_duplicates(
    warehouse: Warehouse, tmp_path: Path, replicas: Replicas
) -> None:
    seed.seed_marts(warehouse.engine, N, services=4)
    settings = replicas.settings(warehouse, tmp_path, concurrency=8)
    replicas.a3_faults.configure(
        FaultPlan(
            rate_500=0.04,
            rate_502=0.03,
            rate_503=0.03,
            rate_429=0.05,
            retry_after_s=1,
            rate_drop=0.02,
            rate_drop_after=0.02,
            rate_slow=0.04,
            slow_s=1.5,
            seed=11,
        )
    )
    tokens = MaskinportenClient.from_settings(settings)
    clients = Clients(
        # a 0.5 s read timeout makes every slow answer a client timeout whose request still
        # takes effect in A3 later: the retry must not create a second record
        a3=A3MigrationClient(
            settings.a3_base_url, tokens, concurrency=8, timeout=http_timeout(0.5), tries=3
        ),
        registry=ResourceRegistryClient(settings.resource_registry_base_url, tokens),
    )
    try:
        counts = run_migrate(
            settings,
            warehouse,
            clients=clients,
            attachment_bytes=seed.attachment_bytes,
            show_progress=False,
        )
    finally:
        stats = dict(replicas.a3_faults.stats)
        replicas.a3_faults.off()
    # the faults did happen
    for kind in ("500", "502", "503", "429", "drop", "drop_after", "slow"):
        assert stats.get(kind, 0) > 0, (kind, stats)
    assert counts["failed"] == 0
    assert counts["retry_later"] == 0
    assert counts["delivered"] + counts["already_there"] == N
    assert counts["quarantined"] == len(seed.CRASH_IDS)
    with warehouse.engine.connect() as conn:
        assert duplicates(conn) == {"correspondences": 0, "attachments": 0, "statuses": 0}
        a3 = a3_fingerprint(conn)
        assert len(a3) == N
        assert a3 == mart_fingerprint(conn)
        assert (
            conn.execute(
                sa.text(
                    "select count(*) from flytt.element_state where state = 'migrated' "
                    "and a3_correspondence_id is not null"
                )
            ).scalar_one()
            == N
        )


def test_an_element_that_keeps_failing_ends_failed_and_is_reported(
    warehouse: Warehouse, tmp_path: Path, replicas: Replicas
) -> None:
    from flytt.report import collect_report

    seed.seed_marts(warehouse.engine, 1, services=1, crash=False)  # element 1 alone
    settings = replicas.settings(warehouse, tmp_path, max_attempts=2)
    replicas.a3_faults.configure(FaultPlan(rate_503=1.0, retry_after_s=0, seed=3))
    try:
        tokens = MaskinportenClient.from_settings(settings)
        clients = Clients(
            a3=A3MigrationClient(settings.a3_base_url, tokens, tries=2, initial_wait=0.01),
            registry=ResourceRegistryClient(settings.resource_registry_base_url, tokens),
        )
        counts = run_migrate(
            settings,
            warehouse,
            clients=clients,
            attachment_bytes=seed.attachment_bytes,
            show_progress=False,
        )
    finally:
        replicas.a3_faults.off()
    assert counts["failed"] == 1
    assert counts["delivered"] == 0
    report = collect_report(warehouse)
    assert report["failed"] == [
        {"a2_correspondence_id": 1, "error_code": "http_503", "attempts": 2}
    ]
    assert {"error_code": "http_503", "elements": 1} in report["failed_by_error"]


def test_a_refused_service_holds_back_its_elements_and_is_reported(
    warehouse: Warehouse, tmp_path: Path, replicas: Replicas
) -> None:
    from flytt.report import collect_report

    seed.seed_marts(warehouse.engine, 3, services=1, crash=False)  # 1..3 in service 0
    svc = "ttd-migratedcorrespondence-9-1"
    with warehouse.engine.begin() as conn:
        # a service whose policy has no rule: the Resource Registry refuses it (400)
        conn.execute(
            sa.text(
                "insert into a3.resources select :svc, resource_type, title_nb, title_nn, "
                "title_en, has_competent_authority_orgcode, "
                "has_competent_authority_organization, has_competent_authority_name, "
                "resource_references, '9', 1, 2, true, true, 0 from a3.resources "
                "where resource_id = 'ttd-migratedcorrespondence-0-1'"
            ),
            {"svc": svc},
        )
        conn.execute(
            sa.text(
                "insert into a3.correspondence_eligibility values "
                "(950000, :svc, '2020-02-01', true, null, null, '2020-02-01')"
            ),
            {"svc": svc},
        )
        conn.execute(
            sa.text(
                "insert into a3.correspondences select 950000, :svc, recipient, sender, "
                "'ref-950000', message_sender, requested_publish_time, due_date_time, "
                "property_list, ignore_reservation, created, is_confirmation_needed, "
                "is_confidential, party_id from a3.correspondences "
                "where altinn2_correspondence_id = 1"
            ),
            {"svc": svc},
        )
        conn.execute(
            sa.text(
                "insert into a3.correspondence_contents select 950000, language, message_title, "
                "message_summary, message_body from a3.correspondence_contents "
                "where altinn2_correspondence_id = 1"
            )
        )
    settings = replicas.settings(warehouse, tmp_path)
    counts = run_migrate(
        settings, warehouse, attachment_bytes=seed.attachment_bytes, show_progress=False
    )
    assert counts["services_failed"] == 1
    assert counts["delivered"] == 3  # the other service's elements go through
    with warehouse.engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("select state from flytt.element_state where a2_correspondence_id = 950000")
            ).scalar_one()
            == "eligible"
        )
    report = collect_report(warehouse)
    assert report["failed_services"] == [
        {"resource_id": svc, "error_code": "http_400", "attempts": 1}
    ]
