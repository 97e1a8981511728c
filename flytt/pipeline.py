"""The product's steps as one public interface, for applications built on flytt.

The command line (`flytt.cli`) and applications outside the product, such as the sandbox's
`flytt demo` (`sandbox/demo.py`) or a scheduler, run the transition through these functions
and nothing deeper, so the modules behind them can change without breaking their callers and
no sandbox module reaches into delivery or exposure (DESIGN §1; procrastinate's `App` plays the
same part for its workers).

Each function takes `Settings` and/or a `Warehouse` and returns a dict of counts (the keys are
documented where the function is defined):

* `run_load(settings, warehouse)`: step 1.1 load, A2 → `a2_raw` (`loaders.pipeline`);
* `run_build(warehouse)`: the dbt build of the A3 mapping (`flytt.build`);
* `run_migrate(settings, warehouse, options=DeliveryOptions(...), **fields)`: steps 1.2 and
  2.1, delivery to A3 (`syncd.delivery`);
* `run_sync(settings, warehouse, **options)`: step 2.2 A2 → A3, new A2 events of migrated
  correspondences to A3's sync endpoints (`syncd.status_sync`);
* `run_bridge_apply(settings, warehouse, **options)`: step 2.2 A3 → A2, the events A3 sent to
  the daemon's SBL-bridge endpoint applied to A2 through the A2 bridge (`syncd.bridge_apply`);
* `run_expose(settings, warehouse, **options)`: step 5, make available and verify
  (`exposure.expose`);
* `collect_report(warehouse)`: the JSON report `flytt report --json` prints (`flytt.report`).
"""

from __future__ import annotations

from exposure.expose import run_expose
from flytt.build import run_build
from flytt.report import collect_report
from loaders.pipeline import run_load
from syncd.bridge_apply import run_bridge_apply
from syncd.delivery import DeliveryOptions, run_migrate
from syncd.status_sync import run_sync

__all__ = [
    "DeliveryOptions",
    "collect_report",
    "run_bridge_apply",
    "run_build",
    "run_expose",
    "run_load",
    "run_migrate",
    "run_sync",
]
