"""`flytt expose` goes on for every other element when one element's data fails its own step.

Four causes in one world (against the A3, Dialogporten and Maskinporten replicas):

* the first reader of element 4 is unknown to Register: real A3 fails make-available for it
  (PartyUrnHelper throws), so flytt fails it before the call (`party_not_resolvable`);
* element 101 has a 255-character title and a 4000-character forwarding note, which A3 accepts
  but whose forwarding activity is over Dialogporten's 4095 limit: Dialogporten would answer 400
  and A3 `ok: true` with an empty dialog id, so flytt fails it before the call
  (`dialog_text_too_long`);
* the recipient of element 3 has an organisation number with a wrong check digit: Dialogporten
  refuses the dialog, A3 answers an empty dialog id, and flytt fails it after `max_attempts`;
* a notification of element 8 has a BC time in the marts (psycopg2 cannot read it): the element
  is made available (A3 holds its own copy), and verification reports the field `expected`
  with `unreadable_row` instead of stopping.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import sqlalchemy as sa

from exposure.expose import run_expose
from flytt.report import collect_report
from flytt.warehouse import Warehouse
from sandbox.a3 import tables as a3_tables
from tests.exposure.world import World, _migrate, party_uuid, world

MART_TABLES = (
    "correspondences",
    "correspondence_contents",
    "correspondence_status_events",
    "correspondence_forwarding_events",
)


def _copy_element(conn: sa.Connection, source: int, target: int) -> None:
    """Copy every mart row of element `source` as element `target` (any mart columns)."""
    for table in MART_TABLES:
        conn.execute(
            sa.text(
                f"create temp table t_copy on commit drop as select * from a3.{table} "
                "where altinn2_correspondence_id = :s"
            ),
            {"s": source},
        )
        conn.execute(sa.text("update t_copy set altinn2_correspondence_id = :t"), {"t": target})
        conn.execute(sa.text(f"insert into a3.{table} select * from t_copy"))
        conn.execute(sa.text("drop table t_copy"))


def _add_long_texts_element(w: World, element: int) -> None:
    with w.warehouse.engine.begin() as conn:
        _copy_element(conn, 5, element)
        conn.execute(
            sa.text(
                "update a3.correspondence_contents set message_title = :title "
                "where altinn2_correspondence_id = :id"
            ),
            {"title": "T" * 255, "id": element},
        )
        conn.execute(
            sa.text(
                "update a3.correspondence_forwarding_events set forwarding_text = :note "
                "where altinn2_correspondence_id = :id"
            ),
            {"note": "n" * 4000, "id": element},
        )
    token = str(
        w.maskinporten.issue_token(
            "delivery", ["altinn:correspondence.migrate"], w.maskinporten.issuer or ""
        )["access_token"]
    )
    _migrate(w.warehouse, w.settings.a3_base_url, token, [element])


def _state(w: World, element: int) -> tuple[str, str | None, int]:
    with w.warehouse.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "select state, last_error_code, exposure_attempts from flytt.element_state "
                "where a2_correspondence_id = :id"
            ),
            {"id": element},
        ).one()
    return row.state, row.last_error_code, row.exposure_attempts


def _dialog_exists(w: World, element: int) -> bool:
    with w.warehouse.engine.connect() as conn:
        a3_id = conn.execute(
            sa.text(
                "select a3_correspondence_id from flytt.element_state "
                "where a2_correspondence_id = :id"
            ),
            {"id": element},
        ).scalar_one()
    answer = httpx.get(
        f"{w.dialogporten_url}/api/v1/serviceowner/dialoglookup",
        params={"instanceRef": f"urn:altinn:correspondence-id:{a3_id}"},
        headers={"Authorization": f"Bearer {w.dialogporten_token()}"},
    )
    return answer.status_code == 200


def test_expose_completes_every_other_element_whatever_one_element_fails_on(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    with world(fresh_warehouse, tmp_path, 12, bad_org={3}) as w:
        _add_long_texts_element(w, 101)
        reader = party_uuid("reader", 4)
        w.register.forget(reader)
        with w.warehouse.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "delete from intermediate.int_recipients_mapped_to_urn where party_uuid = :p"
                ),
                {"p": reader},
            )
            conn.execute(
                sa.text(
                    "update a3.correspondence_notifications "
                    "set notification_sent = '0002-01-01 00:00:00+00 BC' "
                    "where altinn2_correspondence_id = 8"
                )
            )
        settings = w.settings.model_copy(update={"max_attempts": 1})
        counts = run_expose(settings, w.warehouse)

        troubled = {3, 4, 8, 101}
        ready = [*w.ready_ids(), 101]
        assert counts["selected"] == len(ready)
        assert counts["blocked"] == 2
        assert counts["failed"] == 3
        assert counts["made_available"] == len(ready) - 3
        for element in ready:
            if element not in troubled:
                assert _state(w, element)[0] == "available", element
        assert _state(w, 4) == ("failed", "party_not_resolvable", 0)
        assert _state(w, 101) == ("failed", "dialog_text_too_long", 0)
        assert _state(w, 3) == ("failed", "a3_empty_dialog_id", 1)
        assert _state(w, 8)[0] == "available"
        assert not _dialog_exists(w, 4) and not _dialog_exists(w, 101)
        # no make-available request was made for the two blocked elements: Dialogporten saw
        # one create per other ready element (element 3's was refused)
        assert w.dialogporten.stats["create_requests"] == len(ready) - 2

        report = collect_report(w.warehouse)
        assert report["failed_by_error"] == [
            {"error_code": code, "elements": 1}
            for code in sorted(
                ["a3_empty_dialog_id", "dialog_text_too_long", "party_not_resolvable"]
            )
        ]
        with w.warehouse.engine.connect() as conn:
            expected = conn.execute(
                sa.text(
                    "select expected from flytt.dialog_mismatch "
                    "where a2_correspondence_id = 8 and field = 'expected'"
                )
            ).scalar_one()
        assert expected == "unreadable_row"
        assert counts["verified"] == len(ready) - 3


def _ask_a3(w: World, element: int) -> dict[str, object]:
    """The A3 replica's make-available status for one element (list mode, one id)."""
    with w.warehouse.engine.connect() as conn:
        a3_id = conn.execute(
            sa.text(
                "select a3_correspondence_id from flytt.element_state "
                "where a2_correspondence_id = :id"
            ),
            {"id": element},
        ).scalar_one()
    token = str(
        w.maskinporten.issue_token(
            "exposer", ["altinn:correspondence.migrate"], w.maskinporten.issuer or ""
        )["access_token"]
    )
    answer = httpx.post(
        f"{w.settings.a3_base_url}/correspondence/api/v1/migration/makemigratedcorrespondenceavailable",
        json={"correspondenceIds": [str(a3_id)], "createEvents": False},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    (status,) = answer.json()["statuses"]
    return dict(status)


def test_the_replica_refuses_what_the_preflight_blocks(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    """flytt's preflight is a prediction: the A3 replica, with its own mapping and the
    Dialogporten replica behind it, refuses the same elements when asked (so the prediction is
    not flytt agreeing with itself)."""
    with world(fresh_warehouse, tmp_path, 6) as w:
        _add_long_texts_element(w, 101)
        w.register.forget(party_uuid("reader", 4))
        unresolvable = _ask_a3(w, 4)
        assert unresolvable["ok"] is False
        assert "Failed to find party URN" in str(unresolvable["error"])
        too_long = _ask_a3(w, 101)
        assert too_long["ok"] is True and not too_long["dialogId"]
        assert len(w.dialogporten.store) == 0
        # like real A3, the replica stored the activity idempotency keys before it called
        # Dialogporten, so they outlive the refusal (a retry reuses the same activity ids)
        with w.warehouse.engine.connect() as conn:
            keys = conn.execute(
                sa.select(sa.func.count())
                .select_from(a3_tables.idempotency_keys)
                .where(
                    a3_tables.idempotency_keys.c.CorrespondenceId == too_long["correspondenceId"]
                )
            ).scalar_one()
        assert keys == 1  # the Opened key; no Confirmed key without IsConfirmationNeeded


def test_report_shows_where_a3s_own_mapping_differs_from_the_expected_dialog(
    fresh_warehouse: Warehouse, tmp_path: Path
) -> None:
    """The warehouse moved on after migration (a read in A2 and a corrected title, not yet
    synced to A3): the A3 replica builds the dialog from its own copy with its own mapping, flytt
    expects the warehouse's version, and `flytt report` counts each differing field."""
    with world(fresh_warehouse, tmp_path, 6) as w:
        with w.warehouse.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "insert into a3.correspondence_status_events (altinn2_correspondence_id, "
                    "status, status_text, status_changed, party_uuid) "
                    "values (1, 4, '', now() - interval '1 hour', :reader)"
                ),
                {"reader": party_uuid("reader", 1)},
            )
            conn.execute(
                sa.text(
                    "update a3.correspondence_contents set message_title = 'Rettet tittel' "
                    "where altinn2_correspondence_id = 3"
                )
            )
        counts = run_expose(w.settings, w.warehouse)
        assert counts["made_available"] == len(w.ready_ids())
        assert counts["dialogs_with_mismatches"] == 2
        report = collect_report(w.warehouse)
        assert report["dialog_mismatches_by_field"] == [
            {"field": "activities.CorrespondenceOpened.count", "dialogs": 1},
            {"field": "content.title", "dialogs": 1},
        ]
        with w.warehouse.engine.connect() as conn:
            title = conn.execute(
                sa.text(
                    "select expected, actual from flytt.dialog_mismatch "
                    "where a2_correspondence_id = 3 and field = 'content.title'"
                )
            ).one()
        assert tuple(title) == ("nb:Rettet tittel", "nb:Melding 3")
