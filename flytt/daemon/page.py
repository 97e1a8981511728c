"""The status page on the daemon's HTTP port: `/` (HTML), `/status.json`, `/static/…`.

Read-only and without personal data: it shows counts, step states and reason codes only.
`/status.json` is the document `flytt status --json` prints (`flytt.status.collect_status`),
so another environment's `flytt status --merge URL` or `status_peers` can read it. `/` is
rendered on the server from that document, the quarantine and failure counts (`flytt report`)
and the samples in `flytt.status_history` (`?range=6h|24h|7d|30d`, default 24h), with the
step × environment table (this environment, then each of `settings.status_peers`), progress
per step and per A2 creation year, and four plots drawn by uPlot 1.6.32 (MIT, vendored under
`static/uplot/`, so the page works offline): throughput, backlog, failures and quarantine,
and latency. Each plot's last point is the document's own figure at `generated_at`, so the
plots end on the numbers in the table and in `flytt status --json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import jinja2
import sqlalchemy as sa

from flytt.control import bridge_inbox, elements, history, locks, sync_state
from flytt.control.history import Sample
from flytt.errors import UserError
from flytt.history import sample_of
from flytt.report import quarantine_by_reason
from flytt.settings import Settings
from flytt.status import MIGRATED_STATES, STEP_TITLES, collect_status, exposure_frontier
from flytt.status_views import read_document
from flytt.warehouse import Warehouse

RANGES = {"6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
RANGES["30d"] = timedelta(days=30)
DEFAULT_RANGE = "24h"
OSLO = ZoneInfo("Europe/Oslo")
PEER_TIMEOUT_SECONDS = 3.0
MARTS_WAIT_SECONDS = 20.0
"""How long the page waits for a running build to finish swapping the marts."""

_STATIC = files("flytt.daemon") / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain"}
_STATIC_FILES = {
    "uplot/uPlot.iife.min.js",
    "uplot/uPlot.min.css",
    "uplot/LICENSE",
    "status-page.js",
    "status-page.css",
}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Chart:
    """One plot: `x` in Unix seconds (UTC), one list of `y` per label (None is a gap), the
    unit of the y axis, and `now`: each series' figure in the status document."""

    title: str
    unit: str
    labels: list[str]
    x: list[int]
    y: list[list[float | None]]

    @property
    def now(self) -> dict[str, float | None]:
        return {
            label: (ys[-1] if ys else None) for label, ys in zip(self.labels, self.y, strict=True)
        }


def _migrated(counts: dict[str, int]) -> int:
    return sum(int(counts.get(state, 0)) for state in MIGRATED_STATES)


def _available(counts: dict[str, int]) -> int:
    return int(counts.get("available", 0)) + int(counts.get("a2_blocked", 0))


def _per_minute(
    points: list[Sample], total: Callable[[dict[str, int]], int], window_s: float
) -> list[float | None]:
    """Elements per minute at each point, over the span back to the newest earlier point at
    least `window_s` seconds older (None while there is none: a rate over a few seconds says
    little); a total that fell, e.g. after `flytt reset`, counts as 0."""
    rates: list[float | None] = []
    start = -1  # the newest point at least window_s before the current one
    for i, point in enumerate(points):
        while (
            start + 1 < i
            and (point.sampled_at - points[start + 1].sampled_at).total_seconds() >= window_s
        ):
            start += 1
        if start < 0:
            rates.append(None)
            continue
        before = points[start]
        minutes = (point.sampled_at - before.sampled_at).total_seconds() / 60
        grown = max(0, total(point.counts) - total(before.counts))
        rates.append(round(grown / minutes, 2))
    return rates


def charts(samples: list[Sample], now: Sample, window_s: float = 60.0) -> dict[str, Chart]:
    """The four plots from the stored samples (oldest first) and the sample of the status
    document being shown (`now`), which is always their last point; throughput is a rate over
    at least `window_s` seconds (the history period)."""
    points = [s for s in samples if s.sampled_at < now.sampled_at] + [now]
    x = [int(s.sampled_at.timestamp()) for s in points]

    def mapping_quarantine(s: Sample) -> int:
        return sum(n for key, n in s.quarantine.items() if key.startswith("mapping:"))

    return {
        "throughput": Chart(
            "Throughput",
            "elements per minute",
            ["delivered to A3 (steps 1.1, 2.1)", "made available (steps 5, 6)"],
            x,
            [
                _per_minute(points, _migrated, window_s),
                _per_minute(points, _available, window_s),
            ],
        ),
        "backlog": Chart(
            "Backlog",
            "elements",
            ["eligible, not delivered (step 2.1)", "delivered, not available (step 5)"],
            x,
            [
                [float(s.counts.get("eligible", 0)) for s in points],
                [float(s.counts.get("migrated", 0)) for s in points],
            ],
        ),
        "failures": Chart(
            "Failures and quarantine",
            "elements / rows",
            ["failed elements", "quarantined elements", "quarantined A2 rows (mapping)"],
            x,
            [
                [float(s.counts.get("failed", 0)) for s in points],
                [float(s.counts.get("quarantined", 0)) for s in points],
                [float(mapping_quarantine(s)) for s in points],
            ],
        ),
        "latency": Chart(
            "Latency",
            "seconds",
            [
                "oldest eligible, not delivered",
                "oldest delivered, not available",
                "steady-state p95, eligible to available (step 6)",
            ],
            x,
            [
                [s.oldest_eligible_age_s for s in points],
                [s.oldest_migrated_age_s for s in points],
                [s.latency_p95_s for s in points],
            ],
        ),
    }


def _progress(status: dict[str, Any]) -> list[dict[str, Any]]:
    steps = status["steps"]
    one = steps["1.1"]
    five = steps["5"]
    rows = [
        ("1.1", one["migrated"], one["elements"] - one["excluded"]),
        ("1.2", steps["1.2"]["delivered"], steps["1.2"]["services"]),
        ("5", five["available"], five["available"] + five["waiting"]),
    ]
    notes = {"1.1": f"{one['excluded']} excluded elements are not counted"}
    return [
        {"step": key, "title": STEP_TITLES[key], "done": done, "of": of, "note": notes.get(key)}
        for key, done, of in rows
    ]


def _oslo(iso: str | None) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(OSLO).strftime("%Y-%m-%d %H:%M")


class StatusPage:
    """The WSGI app of the page's paths for one deployment (`settings.environment`).

    `__call__` answers `/`, `/status.json` and `/static/<file>`, and 404 otherwise; a
    warehouse that cannot be reached is a 503 with one line saying so.
    """

    paths = ("/", "/status.json", "/favicon.ico")

    def __init__(self, settings: Settings, warehouse: Warehouse) -> None:
        self.settings = settings
        self.warehouse = warehouse
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("flytt.daemon", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.templates.filters["oslo"] = _oslo

    def handles(self, path: str) -> bool:
        """True for the paths this app answers."""
        return path in self.paths or path.startswith("/static/")

    def peers(self) -> list[dict[str, Any]]:
        """The status documents of `settings.status_peers`; one that cannot be read is a
        column of its own whose `error` says why (the page never fails for a peer)."""
        docs = []
        for url in self.settings.status_peers:
            try:
                docs.append(read_document(url, timeout=PEER_TIMEOUT_SECONDS))
            except UserError as exc:
                docs.append({"environment": url, "steps": {}, "error": exc.message})
        return docs

    def render(self, range_key: str = DEFAULT_RANGE) -> str:
        """The HTML page for the samples of the last `range_key` (a key of `RANGES`).

        Raises:
            KeyError: `range_key` is not a key of `RANGES`.
            sqlalchemy.exc.SQLAlchemyError: the warehouse cannot be reached.
        """
        span = RANGES[range_key]
        status = collect_status(self.warehouse, self.settings.environment)
        with self.warehouse.engine.begin() as conn:
            locks.share_marts(conn, timeout_s=MARTS_WAIT_SECONDS)  # a build swaps a3.quarantine
            quarantine = quarantine_by_reason(conn)
            failed = [("delivery", code, n) for code, n in elements.failed_by_error(conn)]
            failed += [("sync A2 → A3", code, n) for code, n in sync_state.failed_by_error(conn)]
            failed += [("sync A3 → A2", code, n) for code, n in bridge_inbox.failed_by_error(conn)]
            samples = history.series(conn, self.settings.environment, datetime.now(UTC) - span)
        plots = charts(
            samples, sample_of(status, quarantine), self.settings.daemon_history_every_seconds
        )
        done_from, running_for = exposure_frontier(status["steps"]["5"]["by_year"])
        return self.templates.get_template("status.html").render(
            status=status,
            environments=[status, *self.peers()],
            step_titles=STEP_TITLES,
            progress=_progress(status),
            by_year=status["steps"]["5"]["by_year"],
            done_from=done_from,
            running_for=running_for,
            quarantine=quarantine,
            failed=[
                {"stage": stage, "error_code": code or "unknown", "elements": n}
                for stage, code, n in failed
            ],
            charts=plots,
            chart_data={
                key: {"title": c.title, "unit": c.unit, "labels": c.labels, "x": c.x, "y": c.y}
                for key, c in plots.items()
            },
            samples=len(samples),
            ranges=list(RANGES),
            range_key=range_key,
        )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/favicon.ico":  # browsers ask for it; the page has none
            start_response("204 No Content", [])
            return [b""]
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"), start_response)
        try:
            if path == "/status.json":
                doc = collect_status(self.warehouse, self.settings.environment)
                body = json.dumps(doc, indent=2, default=str).encode()
                start_response("200 OK", [("Content-Type", "application/json")])
                return [body]
            query = parse_qs(environ.get("QUERY_STRING", ""))
            range_key = query.get("range", [DEFAULT_RANGE])[0]
            if range_key not in RANGES:
                start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
                return [f"range must be one of {', '.join(RANGES)}\n".encode()]
            page = self.render(range_key).encode()
        except locks.LockTimeoutError:
            start_response(
                "503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")]
            )
            return [b"a build is swapping the marts; reload in a moment\n"]
        except sa.exc.SQLAlchemyError:
            start_response(
                "503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")]
            )
            return [b"the warehouse cannot be reached\n"]
        start_response(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
        )
        return [page]

    def _static(self, name: str, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if name not in _STATIC_FILES:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found\n"]
        suffix = name[name.rfind(".") :] if "." in name else ".txt"
        body = (_STATIC / name).read_bytes()
        start_response(
            "200 OK",
            [
                ("Content-Type", f"{_TYPES.get(suffix, 'text/plain')}; charset=utf-8"),
                ("Cache-Control", "max-age=3600"),
            ],
        )
        return [body]
