"""The status page's server side (`flytt.daemon.page`): what each path answers, the plots'
arithmetic, and other environments' columns from their status URLs (`status_peers`,
`flytt status --merge URL`). The page in a browser during a live demo: test_status_page_browser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from flytt.control import upgrade
from flytt.control.history import Sample
from flytt.daemon.http import serving
from flytt.daemon.page import StatusPage, charts
from flytt.status import STEP_TITLES, collect_status
from flytt.warehouse import Warehouse
from sandbox.serve import free_port
from tests.cli import run_flytt
from tests.conftest import cli_env, settings_for


def _serve(stack: ExitStack, warehouse: Warehouse, data_dir: Path, **settings: object) -> str:
    page = StatusPage(settings_for(warehouse, data_dir, **settings), warehouse)
    port = stack.enter_context(serving("127.0.0.1", 0, CollectorRegistry(), lambda: None, [page]))
    return f"http://127.0.0.1:{port}"


@pytest.fixture()
def site(warehouse: Warehouse, tmp_path: Path) -> Iterator[str]:
    upgrade(warehouse)
    with ExitStack() as stack:
        yield _serve(stack, warehouse, tmp_path, environment="tt02")


def test_each_path_answers_what_it_says(site: str, warehouse: Warehouse) -> None:
    page = httpx.get(f"{site}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    rows = re.findall(r'<tr data-step="([0-9.]+)">', page.text)
    assert rows == list(STEP_TITLES)
    assert re.findall(r'data-env="tt02" data-state="([a-z_]+)"', page.text) == [
        "not_started"
    ] * len(STEP_TITLES)
    # the page loads nothing from elsewhere: every script and stylesheet is its own
    assert set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)) == {
        "/static/uplot/uPlot.min.css",
        "/static/status-page.css",
        "/static/uplot/uPlot.iife.min.js",
        "/static/status-page.js",
    }
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text)
    script = httpx.get(f"{site}/static/uplot/uPlot.iife.min.js")
    assert script.status_code == 200 and "uPlot" in script.text[:200]
    assert httpx.get(f"{site}/static/uplot/LICENSE").text.startswith("The MIT License")

    doc = httpx.get(f"{site}/status.json").json()
    expected = collect_status(warehouse, "tt02")
    assert doc["environment"] == "tt02"
    assert {k: v["state"] for k, v in doc["steps"].items()} == {
        k: v["state"] for k, v in expected["steps"].items()
    }
    assert doc["counts_by_state"] == expected["counts_by_state"]

    assert httpx.get(f"{site}/?range=1y").status_code == 400
    assert httpx.get(f"{site}/?range=7d").status_code == 200
    assert httpx.get(f"{site}/static/../settings.py").status_code == 404
    assert httpx.get(f"{site}/static/status-page.py").status_code == 404
    assert httpx.get(f"{site}/nothing").status_code == 404
    assert httpx.get(f"{site}/favicon.ico").status_code == 204


def _at(minute: int, available: int, eligible: int) -> Sample:
    return Sample(
        sampled_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC) + timedelta(minutes=minute),
        environment="tt02",
        counts={"available": available, "migrated": 1, "eligible": eligible, "failed": 0},
        step_states={},
        quarantine={"mapping:empty_title": 4, "delivery:bad_party": 1},
        oldest_eligible_age_s=30.0,
        oldest_migrated_age_s=None,
        latency_p95_s=12.0,
    )


def test_plots_end_on_the_shown_figures_and_rates_are_per_minute() -> None:
    history = [_at(0, 10, 5), _at(2, 30, 5), _at(3, 25, 0)]  # `flytt reset` took 5 back
    plots = charts(history, _at(5, 45, 2))
    throughput = plots["throughput"]
    assert throughput.x[-1] - throughput.x[0] == 5 * 60
    # migrated = available + migrated(1): grows 20 in 2 min, falls, then 20 in 2 min
    assert throughput.y[0] == [None, 10.0, 0.0, 10.0]
    assert plots["backlog"].now == {
        "eligible, not delivered (step 2.1)": 2.0,
        "delivered, not available (step 5)": 1.0,
    }
    assert plots["failures"].y[2] == [4.0, 4.0, 4.0, 4.0]  # mapping rows only
    # a rate needs a span of at least the window: samples 5 s apart give none at first
    quick = charts([_at(0, 10, 0), _at(0, 10, 0)], _at(2, 30, 0), window_s=60)
    assert quick["throughput"].y[1] == [None, None, 10.0]
    # a stored sample newer than the shown document is not drawn after it
    assert charts([*history, _at(9, 99, 9)], _at(5, 45, 2))["backlog"].x == throughput.x


def test_other_environments_are_columns_and_merge_reads_their_urls(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    upgrade(warehouse)
    dead = f"http://127.0.0.1:{free_port()}/status.json"
    with ExitStack() as stack:
        prod = _serve(stack, warehouse, tmp_path / "p", environment="prod")
        tt02 = _serve(
            stack,
            warehouse,
            tmp_path / "t",
            environment="tt02",
            status_peers=[f"{prod}/status.json", dead],
        )
        page = httpx.get(f"{tt02}/").text
        assert re.findall(r'<th data-env="([^"]+)">', page) == ["tt02", "prod", dead]
        assert "Cannot reach" in page  # the dead peer's column says why, the page still works

        saved = tmp_path / "tt02.json"
        saved.write_text(httpx.get(f"{tt02}/status.json").text)
        env = cli_env(warehouse, tmp_path)
        merged = run_flytt(
            "status", "--merge", str(saved), "--merge", f"{prod}/status.json", "--json", env=env
        )
        assert merged.returncode == 0, merged.stderr
        assert [d["environment"] for d in json.loads(merged.stdout)] == ["tt02", "prod"]
    unreachable = run_flytt("status", "--merge", dead, env=env)
    assert unreachable.returncode == 1
    assert "Cannot reach" in unreachable.stderr and "Traceback" not in unreachable.stderr
