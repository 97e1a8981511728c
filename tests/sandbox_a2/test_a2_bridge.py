"""The SBL bridge replica (`sandbox/a2/bridge.py`) through real HTTP, on a small generated
sandbox A2 database on PostgreSQL and SQLite: what a call writes (W1-W4) and how it answers
(R1-R10), checked in SQL the way a user of the sandbox would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from flytt.settings import load_settings
from flytt.warehouse import Warehouse
from loaders.contract import metadata
from sandbox.a2.bridge import bridge_event, create_app
from sandbox.a2.generate import generate_a2
from sandbox.a2.writer import read_meta, sandbox_meta
from sandbox.serve import serve_in_thread

CORR = metadata.tables["a2_correspondence"]
EVENTS = metadata.tables["a2_correspondence_status_event"]
USERS = metadata.tables["a2_user"]
PARTIES = metadata.tables["a2_party"]
API = "/serviceengine/api/"
WINTER = ("2026-01-15T10:00:00.1234567Z", datetime(2026, 1, 15, 11, 0, 0, 123456))
Params = dict[str, str | int]
SUMMER = ("2026-07-15T22:30:05Z", datetime(2026, 7, 16, 0, 30, 5))  # +2 h, next local day


@dataclass
class Bridge:
    """A served bridge replica, an HTTP client on it and an engine for checking in SQL."""

    http: httpx.Client
    engine: sa.Engine

    def call(self, route: str, se_id: int, party: int, when: str) -> httpx.Response:
        params: Params = {"seReporteeElementId": se_id, "partyId": party, "eventOccurredUtc": when}
        return self.http.post(API + route, params=params)

    def events(self, se_id: int) -> list[sa.RowMapping]:
        with self.engine.connect() as conn:
            query = sa.select(EVENTS).where(EVENTS.c.se_reportee_element_id == se_id)
            return list(conn.execute(query.order_by(EVENTS.c.status_event_id)).mappings())

    def row(self, se_id: int) -> sa.RowMapping:
        with self.engine.connect() as conn:
            query = sa.select(CORR).where(CORR.c.se_reportee_element_id == se_id)
            return conn.execute(query).mappings().one()

    def set(self, se_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                CORR.update().where(CORR.c.se_reportee_element_id == se_id).values(**values)
            )

    def elements(self, count: int) -> list[int]:
        """`count` correspondences neither trashed nor archived, made to need no confirmation."""
        with self.engine.begin() as conn:
            ids: list[int] = list(
                conn.execute(
                    sa.select(CORR.c.se_reportee_element_id)
                    .where(CORR.c.trash_state == 0, CORR.c.is_archived.is_(False))
                    .order_by(CORR.c.se_reportee_element_id)
                    .limit(count)
                ).scalars()
            )
            conn.execute(
                CORR.update()
                .where(CORR.c.se_reportee_element_id.in_(ids))
                .values(is_confirmation_needed=False, confirmation_datetime=None)
            )
        assert len(ids) == count
        return ids

    def person(self) -> tuple[int, int]:
        """A person party that has users, and its lowest user id."""
        with self.engine.connect() as conn:
            party, user = conn.execute(
                sa.select(USERS.c.party_id, sa.func.min(USERS.c.user_id))
                .join(PARTIES, PARTIES.c.party_id == USERS.c.party_id)
                .where(PARTIES.c.party_type == "Person")
                .group_by(USERS.c.party_id)
                .order_by(USERS.c.party_id)
                .limit(1)
            ).one()
        return int(str(party)), int(str(user))

    def organisation(self) -> int:
        """An organisation party that is no user's own party."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(PARTIES.c.party_id)
                    .where(
                        PARTIES.c.party_type == "Organization",
                        PARTIES.c.party_id.not_in(
                            sa.select(USERS.c.party_id).where(USERS.c.party_id.is_not(None))
                        ),
                    )
                    .order_by(PARTIES.c.party_id)
                    .limit(1)
                ).scalar_one()
            )

    def meta(self) -> dict[str, str]:
        return read_meta(self.engine)

    def bridge_rows(self) -> list[sa.RowMapping]:
        with self.engine.connect() as conn:
            query = sa.select(bridge_event).order_by(bridge_event.c.status_event_id)
            return list(conn.execute(query).mappings())

    def total_events(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(EVENTS)).scalar_one())


def _a2_url(request: pytest.FixtureRequest, tmp_path: Path, engine: str) -> str:
    if engine == "postgresql":
        db: Warehouse = request.getfixturevalue("fresh_warehouse")
        return db.sqlalchemy_url().render_as_string(hide_password=False)
    return f"sqlite:///{tmp_path / 'a2.sqlite'}"


@pytest.fixture(params=["postgresql", "sqlite"])
def bridge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bridge]:
    """A freshly generated small sandbox A2 database with the bridge served on it."""
    url = _a2_url(request, tmp_path, request.param)
    generate_a2(load_settings(data_dir=tmp_path), size=30, seed=7, url=url)
    engine = sa.create_engine(url)
    app = create_app(url)
    try:
        with (
            serve_in_thread(app, timeout=120) as base,
            httpx.Client(base_url=base, timeout=120) as http,
        ):
            yield Bridge(http, engine)
    finally:
        app.state.engine.dispose()
        engine.dispose()


def _naive_utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def test_read_appends_one_status_2_event_in_oslo_wall_clock(bridge: Bridge) -> None:
    person, user = bridge.person()
    organisation = bridge.organisation()
    winter_id, summer_id, archived_id = bridge.elements(3)
    bridge.set(archived_id, is_archived=True, src_db=1, marked_unread=True)
    before_meta = bridge.meta()
    before_rows = {se_id: bridge.row(se_id) for se_id in (winter_id, summer_id, archived_id)}
    before_events = {se_id: bridge.events(se_id) for se_id in (winter_id, summer_id, archived_id)}
    cases = [
        (winter_id, person, user, *WINTER, 0),
        (summer_id, organisation, None, *SUMMER, 0),
        (archived_id, person, user, *WINTER, 1),
    ]
    first_id = int(before_meta["seq.status_event_id"]) + 1
    received_from = _naive_utc_now() - timedelta(seconds=5)
    for n, (se_id, party, actor_user, utc, local, src_db) in enumerate(cases):
        answer = bridge.call("syncmarkasread", se_id, party, utc)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain")
        assert answer.text == f"recorded status event {first_id + n}"
    received_to = _naive_utc_now() + timedelta(seconds=5)

    meta = bridge.meta()
    assert int(meta["seq.status_event_id"]) == first_id + 2
    assert int(meta["seq.row_version"]) == int(before_meta["seq.row_version"]) + 3
    with bridge.engine.connect() as conn:
        others_max: int = conn.execute(
            sa.select(sa.func.max(CORR.c.row_version)).where(
                CORR.c.se_reportee_element_id.not_in([winter_id, summer_id, archived_id])
            )
        ).scalar_one()
    marks = {r["status_event_id"]: r for r in bridge.bridge_rows()}
    assert len(marks) == 3
    for n, (se_id, party, actor_user, utc, local, src_db) in enumerate(cases):
        events = bridge.events(se_id)
        assert events[:-1] == before_events[se_id]  # exactly one new row, nothing else touched
        new = dict(events[-1])
        assert new == {
            "status_event_id": first_id + n,
            "se_reportee_element_id": se_id,
            "status_type": 2,
            "status_datetime": local,
            "actor_party_id": party,
            "actor_user_id": actor_user,
            "src_db": src_db,
        }
        row = bridge.row(se_id)
        assert row["row_version"] > before_rows[se_id]["row_version"]
        assert row["row_version"] > others_max  # the database-wide change cursor moved on
        assert row["current_status"] == 2 and row["marked_unread"] is False
        assert row["trash_state"] == 0 and row["confirmation_datetime"] is None
        mark = marks[first_id + n]
        assert mark["route"] == "syncmarkasread"
        assert (mark["se_reportee_element_id"], mark["party_id"]) == (se_id, party)
        expected_utc = datetime.fromisoformat(utc[:26].rstrip("Z"))
        assert mark["event_occurred_utc"] == expected_utc
        assert received_from <= mark["received_at"] <= received_to
    assert len({bridge.row(i)["row_version"] for i in (winter_id, summer_id, archived_id)}) == 3


def test_offsets_and_case_of_the_timestamp_are_read_as_iso_8601(bridge: Bridge) -> None:
    person, _ = bridge.person()
    a, b, c = bridge.elements(3)
    for se_id, when in [
        (a, "2026-07-15T12:30:05.5+02:00"),  # = 10:30:05.5Z
        (b, "2026-07-15t10:30:05.500000z"),
        (c, "2026-07-15T10:30:05.5"),  # no offset: UTC
    ]:
        assert bridge.call("syncmarkasread", se_id, person, when).status_code == 200
        assert bridge.events(se_id)[-1]["status_datetime"] == datetime(
            2026, 7, 15, 12, 30, 5, 500000
        )


def test_confirm_writes_status_6_and_sets_the_confirmation_once(bridge: Bridge) -> None:
    person, user = bridge.person()
    (se_id,) = bridge.elements(1)
    bridge.set(se_id, is_confirmation_needed=True)
    before = bridge.row(se_id)
    count = len(bridge.events(se_id))

    answer = bridge.call("syncconfirm", se_id, person, SUMMER[0])
    assert answer.status_code == 200, answer.text
    events = bridge.events(se_id)
    assert len(events) == count + 1
    assert events[-1]["status_type"] == 6
    assert events[-1]["status_datetime"] == SUMMER[1]
    assert (events[-1]["actor_party_id"], events[-1]["actor_user_id"]) == (person, user)
    row = bridge.row(se_id)
    assert row["confirmation_datetime"] == SUMMER[1]
    assert row["confirmed_by_user_id"] == user
    assert row["current_status"] == 6
    assert row["row_version"] > before["row_version"]
    assert bridge.bridge_rows()[-1]["route"] == "syncconfirm"

    # R10: a later confirm of the confirmed message answers 200 and writes nothing
    meta = bridge.meta()
    again = bridge.call("syncconfirm", se_id, person, "2026-08-01T08:00:00Z")
    assert again.status_code == 200 and "already confirmed" in again.text
    assert len(bridge.events(se_id)) == count + 1
    assert bridge.row(se_id) == row
    assert bridge.meta() == meta


def test_confirm_of_a_message_that_needs_none_is_409(bridge: Bridge) -> None:
    person, _ = bridge.person()
    (se_id,) = bridge.elements(1)
    before, meta, total = bridge.row(se_id), bridge.meta(), bridge.total_events()
    answer = bridge.call("syncconfirm", se_id, person, WINTER[0])
    assert answer.status_code == 409
    assert "confirmation" in answer.text
    assert (bridge.row(se_id), bridge.meta(), bridge.total_events()) == (before, meta, total)
    assert bridge.bridge_rows() == []


def test_delete_purges_and_later_calls_see_it_gone(bridge: Bridge) -> None:
    person, user = bridge.person()
    (se_id,) = bridge.elements(1)
    bridge.set(se_id, is_confirmation_needed=True)
    assert bridge.call("syncmarkasread", se_id, person, WINTER[0]).status_code == 200

    answer = bridge.call("syncdelete", se_id, person, SUMMER[0])
    assert answer.status_code == 200, answer.text
    events = bridge.events(se_id)
    assert [e["status_type"] for e in events[-2:]] == [2, 103]
    assert events[-1]["status_datetime"] == SUMMER[1]
    assert (events[-1]["actor_party_id"], events[-1]["actor_user_id"]) == (person, user)
    row = bridge.row(se_id)
    assert row["trash_state"] == 2 and row["trash_datetime"] == SUMMER[1]
    assert [r["route"] for r in bridge.bridge_rows()] == ["syncmarkasread", "syncdelete"]
    meta, total = bridge.meta(), bridge.total_events()

    later = "2026-09-01T12:00:00Z"
    gone_read = bridge.call("syncmarkasread", se_id, person, later)
    gone_confirm = bridge.call("syncconfirm", se_id, person, later)
    assert (gone_read.status_code, gone_confirm.status_code) == (410, 410)  # R6
    assert "deleted" in gone_read.text
    deleted_again = bridge.call("syncdelete", se_id, person, later)
    assert deleted_again.status_code == 200 and "already" in deleted_again.text  # R9
    # R8 before R6: the retried read gets the answer the first one got
    assert bridge.call("syncmarkasread", se_id, person, WINTER[0]).status_code == 200
    assert bridge.call("syncdelete", se_id, person, SUMMER[0]).status_code == 200
    assert (bridge.row(se_id), bridge.meta(), bridge.total_events()) == (row, meta, total)


def test_the_same_call_twice_writes_once(bridge: Bridge) -> None:
    person, _ = bridge.person()
    organisation = bridge.organisation()
    (se_id,) = bridge.elements(1)
    count = len(bridge.events(se_id))
    first = bridge.call("syncmarkasread", se_id, person, "2026-03-02T09:15:30.25Z")
    assert first.status_code == 200 and first.text.startswith("recorded")
    row, meta = bridge.row(se_id), bridge.meta()
    for retry in ("2026-03-02T09:15:30.25Z", "2026-03-02T09:15:30.9999999Z"):  # same second
        answer = bridge.call("syncmarkasread", se_id, person, retry)
        assert (answer.status_code, answer.text) == (200, "already recorded")
    assert len(bridge.events(se_id)) == count + 1
    assert (bridge.row(se_id), bridge.meta()) == (row, meta)
    assert len(bridge.bridge_rows()) == 1
    # another second, or another party in the same second, is another event
    assert bridge.call("syncmarkasread", se_id, person, "2026-03-02T09:15:31Z").text.startswith(
        "recorded"
    )
    assert bridge.call(
        "syncmarkasread", se_id, organisation, "2026-03-02T09:15:30.25Z"
    ).text.startswith("recorded")
    assert len(bridge.events(se_id)) == count + 3


BAD_QUERIES: list[tuple[str, dict[str, str | None]]] = [
    ("seReporteeElementId", {"seReporteeElementId": None}),
    ("seReporteeElementId", {"seReporteeElementId": ""}),
    ("seReporteeElementId", {"seReporteeElementId": "0"}),
    ("seReporteeElementId", {"seReporteeElementId": "-1000001"}),
    ("seReporteeElementId", {"seReporteeElementId": "10000x1"}),
    ("seReporteeElementId", {"seReporteeElementId": "1000001.0"}),
    ("seReporteeElementId", {"seReporteeElementId": "2147483648"}),  # > .NET int
    ("seReporteeElementId", {"seReporteeElementId": "١٠٠٠٠٠١"}),  # not ASCII digits
    ("partyId", {"partyId": None}),
    ("partyId", {"partyId": "0"}),
    ("partyId", {"partyId": "-50000001"}),
    ("partyId", {"partyId": "party-7"}),
    ("partyId", {"partyId": "5e7"}),
    ("eventOccurredUtc", {"eventOccurredUtc": None}),
    ("eventOccurredUtc", {"eventOccurredUtc": ""}),
    ("eventOccurredUtc", {"eventOccurredUtc": "yesterday-noon"}),
    ("eventOccurredUtc", {"eventOccurredUtc": "2026-13-01T00:00:00Z"}),
    ("eventOccurredUtc", {"eventOccurredUtc": "2026-02-30T00:00:00Z"}),
    ("eventOccurredUtc", {"eventOccurredUtc": "2026-01-15"}),
    ("eventOccurredUtc", {"eventOccurredUtc": "2026-01-15 10:00:00Z"}),
    ("eventOccurredUtc", {"eventOccurredUtc": "2026-01-15T10:00:00.12345678Z"}),
    ("eventOccurredUtc", {"eventOccurredUtc": "2026-01-15T25:00:00Z"}),
    ("eventOccurredUtc", {"eventOccurredUtc": "9999-12-31T23:59:59Z"}),  # no local time
    ("eventOccurredUtc", {"eventOccurredUtc": "1636252800"}),
]


def test_bad_parameters_are_400_naming_the_parameter_not_its_value(bridge: Bridge) -> None:
    person, _ = bridge.person()
    (se_id,) = bridge.elements(1)
    good = {
        "seReporteeElementId": str(se_id),
        "partyId": str(person),
        "eventOccurredUtc": WINTER[0],
    }
    meta, total = bridge.meta(), bridge.total_events()
    for route in ("syncmarkasread", "syncconfirm", "syncdelete"):
        for name, change in BAD_QUERIES:
            params = {k: v for k, v in (good | change).items() if v is not None}
            answer = bridge.http.post(API + route, params=params)
            bad = change[name]
            assert answer.status_code == 400, (route, change, answer.text)
            assert name in answer.text, (route, change, answer.text)
            if bad and len(bad) > 2:
                assert bad not in answer.text, (route, change, answer.text)
    assert (bridge.meta(), bridge.total_events()) == (meta, total)
    assert bridge.bridge_rows() == []


def test_unknown_element_is_404(bridge: Bridge) -> None:
    person, _ = bridge.person()
    meta, total = bridge.meta(), bridge.total_events()
    for route in ("syncmarkasread", "syncconfirm", "syncdelete"):
        answer = bridge.call(route, 2_000_000_001, person, WINTER[0])
        assert answer.status_code == 404 and "seReporteeElementId" in answer.text
    assert (bridge.meta(), bridge.total_events()) == (meta, total)


def test_paths_and_query_names_are_case_insensitive_and_extras_ignored(bridge: Bridge) -> None:
    person, _ = bridge.person()
    a, b = bridge.elements(2)
    query: Params = {"SEREPORTEEELEMENTID": a, "PartyID": person, "eventoccurredUTC": WINTER[0]}
    answer = bridge.http.post("/ServiceEngine/API/SyncMarkAsRead", params=query)
    assert answer.status_code == 200, answer.text
    assert [e["status_type"] for e in bridge.events(a)][-1] == 2
    # a body and unknown query parameters change nothing (`_route` once picked the route)
    extra: Params = {"seReporteeElementId": b, "partyId": person, "eventOccurredUtc": WINTER[0]}
    answer = bridge.http.post(
        API + "SYNCMARKASREAD",
        params=extra | {"_route": "syncdelete", "status": "103"},
        json={"status": 103},
    )
    assert answer.status_code == 200, answer.text
    assert bridge.events(b)[-1]["status_type"] == 2
    assert bridge.row(b)["trash_state"] == 0
    assert bridge.http.post(API + "syncarchive", params=extra).status_code == 404
    assert bridge.http.get(API + "syncmarkasread", params=extra).status_code == 405


def _in_threads(calls: list[tuple[Bridge, str, int, int, str]]) -> list[httpx.Response]:
    """Send every call from its own thread and client, all released at once."""
    start = threading.Barrier(len(calls))
    answers: list[httpx.Response | BaseException | None] = [None] * len(calls)
    base = calls[0][0].http.base_url

    def send(n: int, route: str, se_id: int, party: int, when: str) -> None:
        try:
            with httpx.Client(base_url=base, timeout=120) as http:
                start.wait(timeout=120)
                params: Params = {
                    "seReporteeElementId": se_id,
                    "partyId": party,
                    "eventOccurredUtc": when,
                }
                answers[n] = http.post(API + route, params=params)
        except BaseException as exc:
            answers[n] = exc

    threads = [threading.Thread(target=send, args=(n, *call[1:])) for n, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [a for a in answers if isinstance(a, httpx.Response)]
    assert len(done) == len(calls), answers
    return done


def test_concurrent_calls_get_distinct_status_event_ids(bridge: Bridge) -> None:
    person, _ = bridge.person()
    ids = bridge.elements(8)
    first = int(bridge.meta()["seq.status_event_id"]) + 1
    rv = int(bridge.meta()["seq.row_version"])
    answers = _in_threads([(bridge, "syncmarkasread", i, person, WINTER[0]) for i in ids])
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    new = [bridge.events(i)[-1] for i in ids]
    assert all(e["status_type"] == 2 for e in new)
    assert sorted(e["status_event_id"] for e in new) == list(range(first, first + 8))
    assert sorted(a.text for a in answers) == sorted(
        f"recorded status event {e['status_event_id']}" for e in new
    )
    assert sorted(bridge.row(i)["row_version"] for i in ids) == list(range(rv + 1, rv + 9))
    assert sorted(r["status_event_id"] for r in bridge.bridge_rows()) == list(
        range(first, first + 8)
    )
    assert int(bridge.meta()["seq.status_event_id"]) == first + 7


def test_concurrent_retries_of_one_call_write_once(bridge: Bridge) -> None:
    person, _ = bridge.person()
    (se_id,) = bridge.elements(1)
    count = len(bridge.events(se_id))
    answers = _in_threads([(bridge, "syncdelete", se_id, person, SUMMER[0])] * 8)
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert sum(a.text.startswith("recorded") for a in answers) == 1
    assert len(bridge.events(se_id)) == count + 1
    assert len(bridge.bridge_rows()) == 1


@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_create_app_refuses_a_database_that_is_no_completed_sandbox(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> None:
    url = _a2_url(request, tmp_path, engine)
    check = sa.create_engine(url)
    with check.begin() as conn:  # an empty database (an empty file on SQLite)
        conn.execute(sa.text("select 1"))
    with pytest.raises(ValueError, match="sandbox a2"):
        create_app(url)
    generate_a2(load_settings(data_dir=tmp_path), size=5, seed=1, url=url)
    with check.begin() as conn:  # as if generation had stopped half-way
        conn.execute(
            sandbox_meta.update().where(sandbox_meta.c.key == "complete").values(value="0")
        )
    with pytest.raises(ValueError, match="sandbox a2"):
        create_app(url)
    tables = set(sa.inspect(check).get_table_names())
    check.dispose()
    assert "sandbox_a2_bridge_event" not in tables
