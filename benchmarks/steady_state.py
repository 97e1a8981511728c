"""Benchmark: the steady-state latency of `flytt daemon` (steps 2.1 and 6) at fixed feed rates,
and the highest rate it sustains with p95 ≤ 60 s on this machine.

    python -m benchmarks.steady_state --rates 1,2,4,8 --seconds 60

For each rate, in ascending order, on the warehouse of the current settings (the embedded one
by default, data folder `FLYTT_DATA_DIR`): `flytt demo --live SECONDS --rate RATE` (the one-off
demo, which resumes after the first rate, then the daemon in-process while the sandbox A2
changes RATE times a second, half of them new correspondences, and a drain), then the latency
from eligible (A2 creation + the service's wait) to available of the elements that became
eligible during that rate's window (`flytt.control.elements.steady_state`). A rate is
sustained when everything fed was carried (nothing of the window still waits) and p95 ≤ 60 s;
the benchmark stops at the first rate that is not.

Prints one line per rate and, last, `highest sustained rate: R changes/s`. Wall-clock on this
machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from flytt.control import elements, upgrade
from flytt.settings import load_settings
from flytt.warehouse import resolve_warehouse
from sandbox.demo import run_demo

TARGET_P95_S = 60.0


def measure(rate: float, seconds: float, size: int, seed: int) -> tuple[elements.SteadyState, int]:
    """Run the live demo at `rate` for `seconds`; return the window's steady state and how many
    of its elements still wait."""
    window = datetime.now(UTC)
    run_demo(size=size, seed=seed, live_seconds=seconds, rate=rate)
    warehouse = resolve_warehouse(load_settings())
    upgrade(warehouse)
    with warehouse.engine.connect() as conn:
        return elements.steady_state(conn, window), elements.waiting_since(conn, window)


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", default="1,2,4,8", help="changes per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=60, help="feed time per rate")
    parser.add_argument("--size", type=int, default=300, help="sandbox correspondences")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    rates = sorted(float(r) for r in args.rates.split(","))
    lines, best = [], None
    for rate in rates:
        state, waiting = measure(rate, args.seconds, args.size, args.seed)
        latency = state.latency()
        ok = waiting == 0 and latency["p95_s"] is not None and latency["p95_s"] <= TARGET_P95_S
        lines.append(
            f"rate {rate:g}/s: {latency['count']} new available, {waiting} still waiting, "
            f"p50 {latency['p50_s']} s, p95 {latency['p95_s']} s, max {latency['max_s']} s"
            f" -> {'sustained' if ok else 'not sustained'}"
        )
        print(lines[-1], flush=True)
        if not ok:
            break
        best = rate
    print("\n".join(["", "Steady state (eligible -> available), per feed rate:", *lines]))
    print(f"highest sustained rate: {best:g} changes/s" if best else "highest sustained rate: none")


if __name__ == "__main__":
    main()
