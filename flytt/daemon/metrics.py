"""The daemon's Prometheus metric families (prometheus-client), on `/metrics`.

Job metrics are counted as jobs end in this process; the element figures are read from the
warehouse on each scrape (one short query each), so every daemon on every host reports the
same fleet-wide numbers for them. Names follow the Prometheus naming guide
(https://prometheus.io/docs/practices/naming/): a `flytt_` prefix, base units (seconds),
`_total` for counters. No label carries personal data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from flytt import __version__
from flytt.control import bridge_inbox, elements
from flytt.daemon.jobs import JobOutcome
from flytt.warehouse import Warehouse

OUTCOME_KEYS = (
    "delivered",
    "already_there",
    "quarantined",
    "failed",
    "retry_later",
    "made_available",
    "blocked",
    "verified",
    "mismatches",
    "events_sent",
    "applied",
    "superseded",
    "echoes_suppressed",
)
"""The step counts that become `flytt_element_outcomes_total{job, outcome}` (elements, or
events for step 2.2's `sync` and `bridge` jobs)."""


class _WarehouseCollector(Collector):
    """Elements per state, the age of the oldest waiting element, and the events A3 sent to
    the SBL-bridge endpoint per outcome, read at scrape time."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_state = GaugeMetricFamily(
            "flytt_elements", "Elements by state of the migration state machine.", labels=["state"]
        )
        oldest = GaugeMetricFamily(
            "flytt_oldest_waiting_seconds",
            "Age of the oldest element waiting for a step: delivery (step 2.1, since its A2 "
            "creation) or exposure (steps 5/6, since its delivery), or of the oldest event from "
            "A3 waiting to be applied to A2 (step 2.2, since it was received); 0 when none waits.",
            labels=["step"],
        )
        inbox = GaugeMetricFamily(
            "flytt_sbl_bridge_events",
            "Events A3 sent to the SBL-bridge endpoint (step 2.2 A3 -> A2), by outcome "
            "(pending, applied, echo, superseded, failed).",
            labels=["outcome"],
        )
        try:
            with self.warehouse.engine.connect() as conn:
                counts = elements.count_by_state(conn)
                delivery, exposure = elements.oldest_waiting(conn)
                back = bridge_inbox.summary(conn)
        except Exception:  # an unreachable warehouse shows in /readyz, not as a scrape error
            return
        for state, n in sorted(counts.items()):
            by_state.add_metric([str(state)], n)
        oldest.add_metric(["2.1"], delivery or 0.0)
        oldest.add_metric(["5"], exposure or 0.0)
        oldest.add_metric(["2.2"], back["oldest_pending_age_s"] or 0.0)
        for outcome, key in (
            ("pending", "pending"),
            ("applied", "applied"),
            ("echo", "already_in_a2"),
            ("superseded", "superseded"),
            ("failed", "failed"),
        ):
            inbox.add_metric([outcome], back[key])
        yield by_state
        yield oldest
        yield inbox


class DaemonMetrics:
    """The metric families of one daemon process, in a registry of their own.

    Attributes:
        registry: what `/metrics` serves.
    """

    def __init__(self, warehouse: Warehouse, environment: str = "local") -> None:
        self.registry = CollectorRegistry()
        info = Gauge(
            "flytt_info",
            "Always 1; labels say which environment (settings.environment) and flytt version "
            "this daemon serves, to join with the other families.",
            ["environment", "version"],
            registry=self.registry,
        )
        info.labels(environment, __version__).set(1)
        self.job_runs = Counter(
            "flytt_job_runs",
            "Daemon jobs that ended, by job and outcome (succeeded, failed, skipped).",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "flytt_job_duration_seconds",
            "Duration of daemon jobs.",
            ["job"],
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
            registry=self.registry,
        )
        self.last_success = Gauge(
            "flytt_job_last_success_timestamp_seconds",
            "When each job last succeeded in this process (Unix time).",
            ["job"],
            registry=self.registry,
        )
        self.element_outcomes = Counter(
            "flytt_element_outcomes",
            "What daemon jobs did to elements, by job and outcome.",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "flytt_job_errors",
            "Failed daemon jobs, by job and error type.",
            ["job", "error"],
            registry=self.registry,
        )
        self.registry.register(_WarehouseCollector(warehouse))

    def observe(self, result: JobOutcome) -> None:
        """Count one ended job."""
        self.job_runs.labels(result.name, result.outcome).inc()
        self.job_seconds.labels(result.name).observe(result.seconds)
        if result.outcome == "succeeded":
            self.last_success.labels(result.name).set(time.time())
        if result.outcome == "failed":
            error = str(result.counts.get("error", "unknown")).split(":", 1)[0]
            self.errors.labels(result.name, error).inc()
        for key in OUTCOME_KEYS:
            value = result.counts.get(key)
            if isinstance(value, int) and value > 0:
                self.element_outcomes.labels(result.name, key).inc(value)
