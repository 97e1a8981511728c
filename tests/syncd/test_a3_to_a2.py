"""Step 2.2, A3 → A2, end to end on the sandbox: a recipient acts in the A3 replica, A3 calls
the SBL-bridge endpoint the daemon serves, the `bridge` job applies the event to the sandbox
A2 database through the A2 SBL-bridge replica, and when the change is loaded back it is not
sent to A3 again (`echoes_suppressed`).

The oracles are the replicas' own tables: the A3 replica's `CorrespondenceStatuses` and the
status rows the A2 bridge replica wrote into the sandbox A2 database.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from flytt.control import bridge_inbox, upgrade
from flytt.daemon.bridge_endpoint import SblBridgeEndpoint
from flytt.daemon.http import serving
from flytt.pipeline import run_bridge_apply, run_build, run_expose, run_load, run_migrate, run_sync
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from loaders.source import resolve_a2_url
from sandbox.a2.generate import generate_a2
from sandbox.a3.recipient import BASE, READ, RECIPIENT_SCOPE, recipient_claims
from sandbox.a3.recipients_sim import act_randomly, available_correspondences
from sandbox.a3.storage_sync import jobs, pending_jobs
from sandbox.faults import FaultPlan
from sandbox.serve import free_port
from sandbox.services import Replicas, start_replicas
from tests.cli import FLYTT, run_flytt
from tests.conftest import cli_env, settings_for
from tests.daemon.test_daemon import _env
from tests.test_demo_live import ROUTE_TYPES


@dataclass
class World:
    replicas: Replicas
    warehouse: Warehouse
    port: int  # where A3 sends its SBL-bridge calls

    @property
    def settings(self) -> Settings:
        return self.replicas.settings

    def token(self, recipient: str) -> str:
        """A bearer token acting for `recipient` with A3's recipient scope."""
        mp = self.replicas.maskinporten
        assert mp is not None
        try:
            claims = recipient_claims(recipient)
        except ValueError:  # a self-identified user: a token for nobody, which A3 refuses
            claims = {}
        return str(
            mp.issue_token(
                "recipient",
                [RECIPIENT_SCOPE],
                f"{self.replicas.urls['maskinporten']}/",
                extra_claims=claims,
            )["access_token"]
        )

    def act(self, action: str) -> dict[str, Any]:
        """A recipient of an available migrated correspondence (a person or an organisation)
        fetches it, then does `action` (`markasread`, `confirm`, `purge`); returns it."""
        engine = self.replicas.apps["a3"].state.engine
        item = next(
            i
            for i in available_correspondences(engine)
            if ":legacy-selfidentified:" not in i["recipient"]
            and (action != "markasread" or READ not in i["statuses"])
            and (action != "confirm" or i["needs_confirm"])
            and (action != "purge" or not i["needs_confirm"])
        )
        url = f"{self.replicas.urls['a3']}{BASE}/{item['id']}"
        headers = {"Authorization": f"Bearer {self.token(item['recipient'])}"}
        assert httpx.get(url, headers=headers, timeout=30).status_code == 200
        answer = (
            httpx.delete(f"{url}/purge", headers=headers, timeout=30)
            if action == "purge"
            else httpx.post(f"{url}/{action}", headers=headers, timeout=30)
        )
        assert answer.status_code == 200, answer.text
        return item

    def a2_written(self) -> list[tuple[str, int]]:
        """(route, A2 id) of every status row the A2 bridge replica wrote."""
        engine = sa.create_engine(resolve_a2_url(self.settings))
        try:
            if not sa.inspect(engine).has_table("sandbox_a2_bridge_event"):
                return []  # the bridge replica has not been called yet
            with engine.connect() as conn:
                return [
                    (str(r[0]), int(r[1]))
                    for r in conn.execute(
                        sa.text(
                            "select route, se_reportee_element_id from sandbox_a2_bridge_event "
                            "order by status_event_id"
                        )
                    )
                ]
        finally:
            engine.dispose()

    def a3_statuses(self, corr_id: Any, status: int) -> int:
        with self.replicas.apps["a3"].state.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        'select count(*) from correspondence."CorrespondenceStatuses" '
                        'where "CorrespondenceId" = :id and "Status" = :s'
                    ),
                    {"id": corr_id, "s": status},
                ).scalar_one()
            )

    def a2_id(self, corr_id: Any) -> int:
        with self.replicas.apps["a3"].state.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        'select "Altinn2CorrespondenceId" from correspondence."Correspondences" '
                        'where "Id" = :id'
                    ),
                    {"id": corr_id},
                ).scalar_one()
            )

    def inbox(self) -> list[tuple[int, str, str]]:
        with self.warehouse.engine.connect() as conn:
            return [
                (int(r[0]), str(r[1]), str(r[2]))
                for r in conn.execute(
                    sa.text(
                        "select a2_correspondence_id, event_type, outcome "
                        "from flytt.bridge_inbox order by event_id"
                    )
                )
            ]


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture()
def world(fresh_warehouse: Warehouse, tmp_path: Path) -> Iterator[World]:
    """A sandbox migrated and made available, the A3 replica calling `port` for the bridge."""
    upgrade(fresh_warehouse)
    port = free_port()
    settings = settings_for(fresh_warehouse, tmp_path, ready_services=["*"])
    with start_replicas(settings, storage_url=f"http://127.0.0.1:{port}") as replicas:
        s = replicas.settings
        generate_a2(s, size=80, seed=29)
        run_load(s, fresh_warehouse)
        assert not run_build(fresh_warehouse, quiet=True, data_tests=False).get("errors")
        assert run_migrate(s, fresh_warehouse, show_progress=False)["delivered"] > 10
        assert run_expose(s, fresh_warehouse)["made_available"] > 10
        yield World(replicas, fresh_warehouse, port)


@pytest.mark.slow
def test_a_read_in_a3_reaches_a2_and_is_not_sent_back(world: World) -> None:
    with ExitStack() as stack:
        stack.enter_context(
            serving(
                "127.0.0.1",
                world.port,
                CollectorRegistry(),
                lambda: None,
                [SblBridgeEndpoint(world.settings, world.warehouse)],
            )
        )
        item = world.act("markasread")
        a2_id = world.a2_id(item["id"])
        _wait_for(lambda: world.inbox() == [(a2_id, "read", "pending")], "the event from A3")
    assert world.a3_statuses(item["id"], READ) == 1

    applied = run_bridge_apply(world.settings, world.warehouse)
    assert applied["applied"] == 1 and applied["failed"] == 0
    assert world.a2_written() == [("syncmarkasread", a2_id)]

    run_sync(world.settings, world.warehouse)  # what A2 had before the read
    run_load(world.settings, world.warehouse)
    assert not run_build(world.warehouse, quiet=True, data_tests=False).get("errors")
    back = run_sync(world.settings, world.warehouse)
    assert back["echoes_suppressed"] >= 1 and back["failed"] == 0
    assert world.a3_statuses(item["id"], READ) == 1  # not sent to A3 a second time
    again = run_bridge_apply(world.settings, world.warehouse)
    assert again["events"] == 0 and world.a2_written() == [("syncmarkasread", a2_id)]

    env = cli_env(world.warehouse, world.settings.data_dir)
    report = json.loads(run_flytt("report", "--json", env=env).stdout)["sync"]
    assert report["a3_to_a2"]["applied"] == 1 and report["a3_to_a2"]["pending"] == 0
    assert report["echoes_suppressed"] >= 1 and report["mismatches"] == 0


@pytest.mark.slow
def test_a_daemon_killed_between_accepting_and_applying_loses_nothing(
    world: World, tmp_path: Path
) -> None:
    # the A2 bridge is down, so the daemon accepts A3's events but cannot apply them yet
    world.replicas.faults["a2_bridge"].configure(FaultPlan(rate_503=1.0))
    env = _env(world.replicas, world.warehouse, tmp_path / "daemon", world.port)
    env["FLYTT_A2_BRIDGE_BASE_URL"] = world.settings.a2_bridge_base_url
    log = tmp_path / "daemon.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([FLYTT, "daemon"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _listening(world.port), "the daemon to listen")
        items = [world.act("markasread"), world.act("purge")]
        ids = {world.a2_id(i["id"]) for i in items}
        _wait_for(lambda: {e[0] for e in world.inbox()} == ids, "both events in the inbox")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert world.a2_written() == []
    assert {e[2] for e in world.inbox()} == {"pending"}

    world.replicas.faults["a2_bridge"].off()

    def applied() -> bool:  # the events wait out the backoff of their failed attempts
        run_bridge_apply(world.settings, world.warehouse)
        return {e[2] for e in world.inbox()} == {"applied"}

    _wait_for(applied, "the events to be applied after the restart")
    assert sorted(world.a2_written()) == sorted(
        [
            ("syncmarkasread", world.a2_id(items[0]["id"])),
            ("syncdelete", world.a2_id(items[1]["id"])),
        ]
    )
    assert run_bridge_apply(world.settings, world.warehouse)["events"] == 0


def _listening(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_a_live_run_with_a2_bridge_and_a3_faults_ends_as_a_clean_run(
    world: World, tmp_path: Path
) -> None:
    """Recipients act in A3 for a while, with the A2 bridge answering 503 / 429, slowly, or
    dropping the connection after it wrote, and A3 itself failing some calls. At the end each
    event A3 sent is in A2 exactly once, as a run without faults would leave it."""
    world.replicas.faults["a2_bridge"].configure(
        FaultPlan(
            rate_503=0.2, rate_429=0.1, rate_drop_after=0.1, rate_slow=0.2, slow_s=0.5, seed=3
        )
    )
    world.replicas.faults["a3"].configure(FaultPlan(rate_503=0.1, rate_drop_after=0.05, seed=4))
    env = _env(world.replicas, world.warehouse, tmp_path / "daemon", world.port)
    env["FLYTT_A2_BRIDGE_BASE_URL"] = world.settings.a2_bridge_base_url
    env["FLYTT_DAEMON_BRIDGE_EVERY_SECONDS"] = "2"
    log = tmp_path / "daemon.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([FLYTT, "daemon"], env=env, stdout=out, stderr=subprocess.STDOUT)
    a3_engine = world.replicas.apps["a3"].state.engine
    try:
        _wait_for(lambda: _listening(world.port), "the daemon to listen")
        rng = random.Random(7)
        done: Counter[str] = Counter()
        for _ in range(30):
            done.update(act_randomly(world.replicas.urls["a3"], a3_engine, world.token, rng, 1))
        assert done["markasread"] + done["content"] + done["confirm"] + done["purge"] > 5, done
        world.replicas.faults["a3"].off()
        world.replicas.faults["a2_bridge"].off()

        def drained() -> bool:
            with world.warehouse.engine.connect() as conn:
                pending = bridge_inbox.summary(conn)["pending"]
            return pending_jobs(a3_engine) == 0 and pending == 0

        _wait_for(drained, "A3's calls and the inbox to drain", timeout=240)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]

    sent = {
        (j["payload"]["correspondenceId"], j["payload"]["eventType"], j["payload"]["partyId"])
        for j in jobs(a3_engine)
        if j["state"] == "succeeded" and isinstance(j["payload"], dict)
    }
    outcomes = {(a2_id, kind): outcome for a2_id, kind, outcome in world.inbox()}
    assert sent and {(a, k) for a, k, _ in sent} == set(outcomes)
    assert set(outcomes.values()) <= {"applied", "superseded"}, outcomes
    written = Counter(world.a2_written())
    assert all(n == 1 for n in written.values()), written  # nothing twice in A2
    applied = {(a, k) for (a, k), o in outcomes.items() if o == "applied"}
    assert {(a2_id, ROUTE_TYPES[route]) for route, a2_id in written} == applied
