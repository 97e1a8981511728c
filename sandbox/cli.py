"""The sandbox's commands, plugged into `flytt` through the `flytt.cli` entry point group.

`register(app)` adds `flytt sandbox a2`, `flytt sandbox serve` and `flytt demo` to the product's
typer app (see sandbox/pyproject.toml); the product never imports this package itself.
"""

from __future__ import annotations

from typing import Annotated

import typer

from flytt.console import err, print_summary
from flytt.settings import load_settings

sandbox_app = typer.Typer(
    help="Local stand-ins: sandbox A2 data and A3/Dialogporten replicas.", no_args_is_help=True
)


def demo(
    size: Annotated[int, typer.Option(help="Sandbox correspondences to generate.", min=1)] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the sandbox generator.")] = 42,
    live: Annotated[
        float | None,
        typer.Option(
            "--live",
            metavar="SECONDS",
            help="Then run flytt daemon for SECONDS while the sandbox A2 keeps changing, "
            "drain, and print the steady-state latency (steps 2.1 and 6).",
            min=1,
        ),
    ] = None,
    rate: Annotated[
        float,
        typer.Option(
            help="With --live: sandbox A2 changes per second (half are new messages).", min=0.01
        ),
    ] = 2.0,
) -> None:
    """Run the main job end to end: sandbox A2 data, load, build, migrate, expose, report.

    Uses the embedded warehouse unless FLYTT_WAREHOUSE_DSN is set. With --live, the daemon
    then carries new sandbox correspondences to Dialogporten as they arrive.
    """
    from sandbox.demo import run_demo

    run_demo(size=size, seed=seed, live_seconds=live, rate=rate)


@sandbox_app.command("a2")
def sandbox_a2(
    size: Annotated[int, typer.Option(help="Number of correspondences.", min=1)] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same database.")] = 42,
    url: Annotated[
        str | None,
        typer.Option(help="Target SQLAlchemy URL (default: SQLite file in the data folder)."),
    ] = None,
    live: Annotated[
        float | None,
        typer.Option(
            "--live",
            metavar="RATE",
            help="Then keep adding correspondences, status and delegation changes at RATE per "
            "second until Ctrl-C.",
            min=0.001,
        ),
    ] = None,
) -> None:
    """Generate a realistic sandbox Altinn 2 database."""
    from sandbox.a2.generate import generate_a2

    settings = load_settings()
    counts = generate_a2(settings, size=size, seed=seed, url=url)
    print_summary(f"Sandbox A2 database: {sum(counts.values())} rows", counts)
    if live:
        from sandbox.a2.live import run_live

        err.print(f"Live: about {live:g} changes per second; Ctrl-C stops.")
        changed = run_live(settings, rate=live, url=url)
        print_summary(f"Live changes: {sum(changed.values())} rows inserted or updated", changed)


@sandbox_app.command("serve")
def sandbox_serve() -> None:
    """Serve the A3, Dialogporten, Resource Registry and Maskinporten replicas on localhost."""
    from sandbox.services import serve_until_interrupted

    serve_until_interrupted(load_settings())


def register(app: typer.Typer) -> None:
    """Add the sandbox's commands to the `flytt` app (entry point `flytt.cli: sandbox`).

    In: the product's root typer app. Out: none; `app` gains `demo` and the `sandbox` group.
    """
    app.command("demo")(demo)
    app.add_typer(sandbox_app, name="sandbox")
