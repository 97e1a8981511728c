"""`flytt daemon`: the transition as a service (steps 2.1 and 6, and later 2.2, 3/4).

One foreground process per host runs the recurring jobs on a PostgreSQL-backed task queue
(procrastinate, in schema `flytt_queue` of the warehouse), so any number of daemons on any
number of hosts share one warehouse:

* `jobs`: what each job does (load increment, dbt build, discover + deliver, expose + verify),
  each re-reading its state, so a duplicate or late job is harmless;
* `queue`: the procrastinate app, its schema, and the schedule (periodic tasks deferred once
  per period fleet-wide, `lock` so load and build never overlap, `queueing_lock` so work
  does not pile up);
* `metrics`: the Prometheus metric families; `http`: `/healthz`, `/readyz`, `/metrics`;
* `logs`: one JSON object per log line;
* `service`: the process: start, `--once`, graceful stop on SIGTERM/SIGINT.

"Never twice" stays where it was: the element leases of `flytt.control.elements` and A3's
idempotency (reference sync-and-delegations §4, "Recommendation").
"""
