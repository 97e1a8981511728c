"""The status page in headless Chromium during `flytt demo --live` (marker `browser`).

What an operator would check: the step table and the plots show the numbers `flytt status
--json` prints. The live feed keeps changing them, so the page is read between two runs of
`flytt status --json` and compared only when both agree (the numbers did not move while the
page was read); the page's own ages ("3 min old") move every second and are not compared.
The screenshot is kept as a test artefact (`$FLYTT_TEST_ARTIFACTS`, default
`test-artifacts/`). The page, its JSON and its scripts' data are scanned for national
identity numbers, e-mail addresses and phone numbers, including the demo's own recipients.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.cli import FLYTT
from tests.dbt.chromium import FLAGS, require_chromium
from tests.test_demo import _replica_url

ARTIFACTS = Path(os.environ.get("FLYTT_TEST_ARTIFACTS", "test-artifacts"))

NATIONAL_ID = re.compile(r"(?<!\d)\d{11}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
PHONE = re.compile(r"(?<![\d.])(?:\+47\s?)?[2-9]\d{7}(?![\d.])")


class LiveDemo:
    """`flytt demo --live` in a subprocess; `url` is the status page it prints."""

    def __init__(self, data_dir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTT_")}
        self.env.update(
            {
                "FLYTT_DATA_DIR": str(data_dir),
                "FLYTT_CONFIG": str(data_dir / "none.toml"),
                "FLYTT_ENVIRONMENT": "tt02",
                "NO_COLOR": "1",
            }
        )
        self.data_dir = data_dir
        self.stderr: list[str] = []
        self.found = threading.Event()
        self.url = ""
        self.proc = subprocess.Popen(
            [FLYTT, "demo", "--size", "200", "--live", "900", "--rate", "1"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            match = re.search(r"Status page: (http://\S+)", line)
            if match:
                self.url = match.group(1)
                self.found.set()

    def status(self) -> dict[str, Any]:
        """`flytt status --json` of the demo's warehouse."""
        done = subprocess.run(
            [FLYTT, "status", "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return dict(json.loads(done.stdout))

    def tail(self) -> str:
        return "".join(self.stderr[-40:])


@pytest.fixture()
def demo(tmp_path: Path) -> Iterator[LiveDemo]:
    require_chromium()
    live = LiveDemo(tmp_path / ".flytt")
    try:
        yield live
    finally:
        if live.proc.poll() is None:
            live.proc.send_signal(signal.SIGINT)
            try:
                live.proc.wait(timeout=180)
            except subprocess.TimeoutExpired:
                live.proc.kill()
        pid_file = tmp_path / ".flytt" / "pg" / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGTERM)


def _wait(what: str, check: Any, demo: LiveDemo, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if demo.proc.poll() is not None:
            pytest.fail(f"the demo ended (rc {demo.proc.returncode}) before {what}:\n{demo.tail()}")
        got = check()
        if got:
            return got
        time.sleep(2)
    pytest.fail(f"no {what} within {seconds:.0f} s:\n{demo.tail()}")


def _stable(doc: dict[str, Any]) -> Any:
    """What must not move while the page is read for the comparison to hold."""
    steps = doc["steps"]
    return (
        doc["counts_by_state"],
        {k: s["state"] for k, s in steps.items()},
        steps["5"]["by_year"],
        steps["6"]["latency"],
        steps["1.2"],
    )


READ_PAGE = """() => ({
  cells: Object.fromEntries([...document.querySelectorAll('#steps td.cell[data-env="tt02"]')]
    .map(td => [td.closest('tr').dataset.step,
                {state: td.dataset.state,
                 evidence: td.querySelector('.evidence')?.textContent ?? ''}])),
  progress: Object.fromEntries([...document.querySelectorAll('#progress tr')]
    .map(tr => [tr.dataset.step, [Number(tr.dataset.done), Number(tr.dataset.of)]])),
  years: Object.fromEntries([...document.querySelectorAll('#by-year tr[data-year]')]
    .map(tr => [tr.dataset.year,
                [...tr.querySelectorAll('td.num')].map(td => Number(td.textContent))])),
  last: Object.fromEntries(Object.entries(window.flyttCharts)
    .map(([name, chart]) => [name, chart.data.slice(1).map(ys => ys[ys.length - 1])])),
  points: Object.fromEntries(Object.entries(window.flyttCharts)
    .map(([name, chart]) => [name, chart.data[0].length])),
})"""

# pixels of a series colour (status-page.js palette) on each plot's canvas: lines were drawn
PALETTE = [(31, 111, 235), (212, 134, 11), (198, 40, 40), (46, 125, 50)]
DRAWN = """(palette) => Object.fromEntries(Object.entries(window.flyttCharts).map(([name, c]) => {
  const canvas = c.root.querySelector('canvas');
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < px.length; i += 4)
    if (palette.some(([r, g, b]) => Math.abs(px[i] - r) < 12 && Math.abs(px[i + 1] - g) < 12
                                    && Math.abs(px[i + 2] - b) < 12)) n++;
  return [name, n];
}))"""


def _demo_recipients(demo: LiveDemo) -> set[str]:
    """National identity numbers and addresses the demo's A3 replica holds (its recipients)."""
    engine = sa.create_engine(_replica_url(demo.data_dir).replace("/flytt_sandbox?", "/flytt?"))
    try:
        with engine.connect() as conn:
            recipients = conn.execute(sa.text("select recipient from a3.correspondences")).all()
            addresses = conn.execute(
                sa.text("select notification_address from a3.correspondence_notifications")
            ).all()
    finally:
        engine.dispose()
    found = {m for (r,) in recipients if r for m in NATIONAL_ID.findall(r)}
    return found | {a for (a,) in addresses if a}


@pytest.mark.browser
@pytest.mark.slow
def test_the_page_shows_what_flytt_status_json_says_during_a_live_demo(demo: LiveDemo) -> None:
    from playwright.sync_api import sync_playwright

    assert demo.found.wait(900), f"the demo printed no status page URL:\n{demo.tail()}"
    # until the daemon made a new element available (step 6) and kept a few samples
    _wait(
        "new element available through the daemon",
        lambda: demo.status()["steps"]["6"]["new_available"] >= 1,
        demo,
        600,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(require_chromium()), args=list(FLAGS))
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        offsite: list[str] = []
        page.on(
            "request",
            lambda r: None if r.url.startswith(demo.url.rstrip("/")) else offsite.append(r.url),
        )
        compared = None
        for _ in range(15):
            before = demo.status()
            page.goto(demo.url)
            page.wait_for_function("() => window.flyttCharts && window.flyttCharts.latency")
            shown = page.evaluate(READ_PAGE)
            after = demo.status()
            if _stable(before) == _stable(after) and min(shown["points"].values()) >= 3:
                compared = after
                break
            time.sleep(1)
        assert compared is not None, "the numbers kept moving while the page was read"
        drawn = page.evaluate(DRAWN, PALETTE)
        page.screenshot(path=str(ARTIFACTS / "status-page.png"), full_page=True)
        html = page.content()
        browser.close()
    assert not errors and not offsite, (errors, offsite)

    steps, counts = compared["steps"], compared["counts_by_state"]
    assert {k: c["state"] for k, c in shown["cells"].items()} == {
        k: s["state"] for k, s in steps.items()
    }
    assert steps["2.1"]["state"] == steps["6"]["state"] == "running"
    for key in ("1.1", "1.2", "5", "6"):  # evidence without an age in it
        assert shown["cells"][key]["evidence"] == steps[key]["evidence"]
    assert shown["progress"] == {
        "1.1": [steps["1.1"]["migrated"], steps["1.1"]["elements"] - steps["1.1"]["excluded"]],
        "1.2": [steps["1.2"]["delivered"], steps["1.2"]["services"]],
        "5": [steps["5"]["available"], steps["5"]["available"] + steps["5"]["waiting"]],
    }
    assert shown["years"] == {
        y: [n["available"], n["waiting"]] for y, n in steps["5"]["by_year"].items()
    }
    # three plots end on the figures of `flytt status --json`
    assert shown["last"]["backlog"] == [counts["eligible"], counts["migrated"]]
    assert shown["last"]["failures"][:2] == [counts["failed"], counts["quarantined"]]
    assert shown["last"]["latency"][2] == steps["6"]["latency"]["p95_s"] > 0
    assert all(n > 20 for n in drawn.values()), drawn
    assert (ARTIFACTS / "status-page.png").stat().st_size > 10_000

    served = html + httpx.get(demo.url + "status.json").text
    assert not NATIONAL_ID.findall(served)
    assert not EMAIL.findall(served)
    assert not PHONE.findall(served)
    recipients = _demo_recipients(demo)
    assert recipients, "the demo has recipients to look for"
    assert not [r for r in recipients if r in served]
