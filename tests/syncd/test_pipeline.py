"""The real chain on a small sandbox: sandbox A2 → flytt load → dbt build → flytt migrate
against the replicas (`sandbox.services.start_replicas`); what reaches A3 is exactly what the
marts hold for the eligible elements, and a second migrate sends nothing new. One test, so it
never depends on what another test delivered to the module's replicas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from flytt.build import run_build
from flytt.control import upgrade
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from loaders.pipeline import run_load
from sandbox.a2.generate import generate_a2
from sandbox.services import Replicas, start_replicas
from syncd.delivery import run_migrate
from tests.conftest import settings_for

SIZE = 150


@pytest.fixture(scope="module")
def live(warehouse: Warehouse, module_data_dir: Path) -> Iterator[Replicas]:
    upgrade(warehouse)
    settings = settings_for(warehouse, module_data_dir)
    with start_replicas(settings) as replicas:
        yield replicas


@pytest.fixture(scope="module")
def built(live: Replicas, warehouse: Warehouse) -> Settings:
    generate_a2(live.settings, size=SIZE, seed=7)
    run_load(live.settings, warehouse)
    counts = run_build(warehouse)
    assert counts["errors"] == 0 and counts["test_failures"] == 0, counts
    return live.settings


def _a3_engine(live: Replicas) -> sa.Engine:
    assert live.sandbox_database_url is not None
    return sa.create_engine(live.sandbox_database_url)


@pytest.mark.slow
def test_migrate_the_sandbox_end_to_end(
    built: Settings, warehouse: Warehouse, live: Replicas
) -> None:
    counts = run_migrate(built, warehouse, show_progress=False)
    with warehouse.engine.connect() as conn:
        eligible = conn.execute(
            sa.text("select count(*) from a3.correspondence_eligibility where is_eligible")
        ).scalar_one()
        states = dict(
            conn.execute(
                sa.text("select state, count(*) from flytt.element_state group by 1")
            ).all()
        )
        mapped = dict(
            conn.execute(
                sa.text(
                    "select e.a2_correspondence_id, e.a3_correspondence_id "
                    "from flytt.element_state e where e.state = 'migrated'"
                )
            ).all()
        )
        expected_events = dict(
            conn.execute(
                sa.text(
                    "select altinn2_correspondence_id, count(*) "
                    "from a3.correspondence_status_events group by 1"
                )
            ).all()
        )
        expected_attachments = conn.execute(
            sa.text(
                "select count(*) from a3.correspondence_attachments a join flytt.element_state e "
                "on e.a2_correspondence_id = a.altinn2_correspondence_id "
                "where e.state = 'migrated'"
            )
        ).scalar_one()
    assert eligible > 0
    assert counts["failed"] == 0
    assert counts["delivered"] + counts["quarantined"] == eligible
    assert states.get("migrated", 0) == counts["delivered"]
    engine = _a3_engine(live)
    with engine.connect() as a3:
        rows = dict(
            a3.execute(
                sa.text(
                    'select "Altinn2CorrespondenceId", "Id" from correspondence."Correspondences"'
                )
            ).all()
        )
        statuses = dict(
            a3.execute(
                sa.text(
                    'select c."Altinn2CorrespondenceId", count(*) '
                    'from correspondence."Correspondences" c '
                    'join correspondence."CorrespondenceStatuses" s '
                    'on s."CorrespondenceId" = c."Id" group by 1'
                )
            ).all()
        )
        attachments = a3.execute(
            sa.text('select count(*) from correspondence."CorrespondenceAttachments"')
        ).scalar_one()
        migrating = a3.execute(
            sa.text('select bool_and("IsMigrating") from correspondence."Correspondences"')
        ).scalar_one()
    engine.dispose()
    assert rows == mapped  # one A3 record per migrated element, with the id flytt stored
    assert statuses == {k: v for k, v in expected_events.items() if k in mapped}
    assert attachments == expected_attachments
    assert migrating is True

    # a second migrate sends nothing new
    before = live.faults["a3"].stats["requests"]
    again = run_migrate(built, warehouse, show_progress=False)
    assert again["delivered"] == 0 and again["already_there"] == 0
    assert live.faults["a3"].stats["requests"] == before
