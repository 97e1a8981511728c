"""The sandbox A2 generator: deterministic per seed, calibrated to the public figures in
a2-model §6, and carrying every kind of mess issue #3 lists (no warehouse needed)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from flytt.errors import UserError
from flytt.settings import Settings, load_settings
from loaders.contract import LOAD_CONTRACTS, contract_table
from sandbox.a2.config import DEFAULT_CONFIG, MessRates, SandboxConfig
from sandbox.a2.correspondences import dst_days
from sandbox.a2.generate import generate_a2
from sandbox.a2.identity import is_valid_org_number
from sandbox.a2.live import run_live
from sandbox.a2.writer import read_meta


def _settings(path: Path) -> Settings:
    return load_settings(data_dir=path)


def _engine(path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{path / 'a2.sqlite'}")


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    engine = _engine(path)
    with engine.connect() as conn:
        dump = {
            name: sorted(
                tuple(map(repr, row)) for row in conn.execute(sa.select(contract_table(name)))
            )
            for name in LOAD_CONTRACTS
        }
    engine.dispose()
    return dump


def _scalar(conn: sa.Connection, sql: str) -> object:
    return conn.execute(sa.text(sql)).scalar_one()


def test_same_seed_gives_the_same_database_and_another_seed_does_not(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    counts_a = generate_a2(_settings(a), size=300, seed=5)
    counts_b = generate_a2(_settings(b), size=300, seed=5)
    generate_a2(_settings(c), size=300, seed=6)
    assert counts_a == counts_b
    assert counts_a["a2_correspondence"] == 300
    assert _dump(a) == _dump(b)
    assert _dump(a)["a2_correspondence"] != _dump(c)["a2_correspondence"]


def test_rerun_with_same_arguments_keeps_the_database(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = generate_a2(settings, size=200, seed=1)
    engine = _engine(tmp_path)
    meta = read_meta(engine)
    assert meta["complete"] == "1" and meta["size"] == "200"
    mtime = (tmp_path / "a2.sqlite").stat().st_mtime_ns
    assert generate_a2(settings, size=200, seed=1) == first
    assert (tmp_path / "a2.sqlite").stat().st_mtime_ns == mtime  # not rewritten
    bigger = generate_a2(settings, size=250, seed=1)
    assert bigger["a2_correspondence"] == 250  # different arguments: regenerated
    engine.dispose()


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> sa.Engine:
    path = tmp_path_factory.mktemp("calibrated")
    generate_a2(_settings(path), size=6000, seed=42)
    return _engine(path)


def test_shape_matches_the_public_figures(calibrated: sa.Engine) -> None:
    with calibrated.connect() as conn:
        n = _scalar(conn, "select count(*) from a2_correspondence")
        before_2023 = _scalar(
            conn, "select count(*) from a2_correspondence where created_datetime < '2023-01-01'"
        )
        oldest = _scalar(conn, "select min(created_datetime) from a2_correspondence")
        events = _scalar(conn, "select count(*) from a2_correspondence_status_event")
        endpoints = _scalar(conn, "select count(*) from a2_notification_endpoint")
        confirmed = _scalar(
            conn, "select count(*) from a2_correspondence_status_event where status_type = 6"
        )
        reads = _scalar(
            conn, "select count(*) from a2_correspondence_status_event where status_type = 2"
        )
        within_14_days = _scalar(
            conn,
            "select count(*) from a2_correspondence_status_event e join a2_correspondence c "
            "using (se_reportee_element_id) where e.status_type = 2 and "
            "julianday(e.status_datetime) - julianday(c.created_datetime) <= 14",
        )
    assert n == 6000
    assert 0.73 < before_2023 / n < 0.81  # a2-model §6: 77 % before 2023
    assert str(oldest) >= "2006-06-17"
    assert 3.0 < events / n < 3.8  # ≈3.4 status rows per correspondence
    assert 1.3 < endpoints / n < 1.9  # ≈1.6 notification rows per correspondence
    assert 0 < confirmed < 0.05 * reads  # confirmations are rare
    assert within_14_days / reads > 0.6  # most activity in the first 14 days


def test_services_parties_and_identifiers_look_real(calibrated: sa.Engine) -> None:
    with calibrated.connect() as conn:
        resources = [
            r
            for (r,) in conn.execute(
                sa.text("select a3_resource_id from a2_migration_service_config")
            )
        ]
        whitelisted = _scalar(conn, "select avg(is_whitelisted) from a2_migration_service_config")
        ssns = [
            s
            for (s,) in conn.execute(
                sa.text("select ssn from a2_party where party_type = 'Person'")
            )
        ]
        orgs = [
            o
            for (o,) in conn.execute(
                sa.text("select org_number from a2_party where party_type = 'Organization'")
            )
        ]
        per_edition = [
            c
            for (c,) in conn.execute(
                sa.text(
                    "select count(*) from a2_correspondence "
                    "group by service_code, service_edition_code order by 1 desc"
                )
            )
        ]
    assert "skd-migratedcorrespondence-3476-130314" in resources
    assert all(r == r.lower() and "-migratedcorrespondence-" in r for r in resources)
    assert float(whitelisted) > 0.75
    assert all(len(s) == 11 and s.isdigit() for s in ssns)
    for ssn in ssns[:200]:
        day, month = int(ssn[:2]), int(ssn[2:4])
        assert 1 <= day <= 31 and 1 <= month <= 12
    valid = sum(is_valid_org_number(o) for o in orgs)
    assert 0.95 * len(orgs) < valid < len(orgs)  # a few invalid ones on purpose
    assert per_edition[0] > 10 * per_edition[len(per_edition) // 2]  # skewed volumes


def test_every_kind_of_mess_is_present(tmp_path: Path) -> None:
    rates = {name: 0.05 for name in MessRates.model_fields}
    messy = SandboxConfig.model_validate(
        {**DEFAULT_CONFIG.model_dump(), "mess": rates, "reply_option_share": 0.5}
    )
    generate_a2(_settings(tmp_path), size=800, seed=2, config=messy)
    engine = _engine(tmp_path)
    q = {
        "repeated hour": "select created_datetime from a2_correspondence",
        "empty summary": "select count(*) from a2_correspondence where message_summary = ''",
        "html": "select count(*) from a2_correspondence where message_body like '<html>%'",
        "long title": "select count(*) from a2_correspondence where length(message_title) > 300",
        "sami": "select count(*) from a2_correspondence where language_id = 1083",
        "default language": "select count(*) from a2_correspondence where language_id = 0",
        "self identified": "select count(*) from a2_correspondence c join a2_party p on "
        "p.party_id = c.reportee_party_id where p.party_type = 'SelfIdentified'",
        "reserved": "select count(*) from a2_correspondence_status_event where status_type = 10",
        "missing reader": "select count(*) from a2_correspondence_status_event e where "
        "e.actor_party_id is not null and not exists (select 1 from a2_party p where "
        "p.party_id = e.actor_party_id)",
        "orphan attachment": "select count(*) from a2_correspondence_attachment a where not "
        "exists (select 1 from a2_correspondence c using (se_reportee_element_id))",
        "null title": "select count(*) from a2_correspondence where message_title is null",
        "null visible": "select count(*) from a2_correspondence where visible_datetime is null",
        "reply types": "select count(distinct reply_option_type) from "
        "a2_correspondence_reply_option",
        "duplicate events": "select count(*) from a2_correspondence_status_event a join "
        "a2_correspondence_status_event b on a.se_reportee_element_id = b.se_reportee_element_id "
        "and a.status_type = b.status_type and a.src_db <> b.src_db and a.status_event_id < "
        "b.status_event_id and abs(julianday(a.status_datetime) - julianday(b.status_datetime)) "
        "* 86400 < 0.001",
        "out of order": "select count(*) from a2_correspondence_status_event e join "
        "a2_correspondence c using (se_reportee_element_id) where e.status_datetime < "
        "c.created_datetime",
        "reminder twins": "select count(*) from a2_notification a join a2_notification b on "
        "a.se_reportee_element_id = b.se_reportee_element_id and a.shipment_datetime = "
        "b.shipment_datetime and a.is_reminder = 0 and b.is_reminder = 1",
    }
    with engine.connect() as conn:
        orphan_sql = q.pop("orphan attachment").replace(
            "c using (se_reportee_element_id)",
            "c where c.se_reportee_element_id = a.se_reportee_element_id",
        )
        found = {k: _scalar(conn, v) for k, v in q.items() if k != "repeated hour"}
        found["orphan attachment"] = _scalar(conn, orphan_sql)
        created = [
            datetime.fromisoformat(str(v)) for (v,) in conn.execute(sa.text(q["repeated hour"]))
        ]
        invalid_orgs = [
            o
            for (o,) in conn.execute(
                sa.text("select org_number from a2_party where party_type = 'Organization'")
            )
            if not is_valid_org_number(o)
        ]
    engine.dispose()
    assert found.pop("reply types") == 4  # Form, ServiceCode, ServiceURL, ArchiveReference
    assert all(v > 0 for v in found.values()), found
    assert invalid_orgs
    repeated = missing = 0
    for moment in created:
        start, end = dst_days(moment.year)
        if moment.hour == 2 and moment.date() == end:
            repeated += 1
        if moment.hour == 2 and moment.date() == start:
            missing += 1  # this local time does not exist
    assert repeated > 0 and missing > 0


def test_dst_days_are_the_last_sundays_of_march_and_october() -> None:
    assert dst_days(2024) == (date(2024, 3, 31), date(2024, 10, 27))
    assert dst_days(2026) == (date(2026, 3, 29), date(2026, 10, 25))
    assert dst_days(2026)[0] - timedelta(days=7) < dst_days(2026)[0]


def test_live_changes_are_bounded_and_counted(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with pytest.raises(UserError, match="sandbox a2"):
        run_live(settings, rate=100, max_changes=1)
    before = generate_a2(settings, size=100, seed=3)
    changed = run_live(settings, rate=5_000, max_changes=40)
    engine = _engine(tmp_path)
    with engine.connect() as conn:
        corr = _scalar(conn, "select count(*) from a2_correspondence")
        newest = _scalar(conn, "select max(created_datetime) from a2_correspondence")
    engine.dispose()
    assert 0 < changed["a2_correspondence"] <= 40
    assert corr > before["a2_correspondence"]
    assert datetime.fromisoformat(str(newest)) > DEFAULT_CONFIG.last_datetime  # created now
    with pytest.raises(UserError, match="positive"):
        run_live(settings, rate=0)
