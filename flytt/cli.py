"""The `flytt` command line (typer + rich).

Every command: reads the settings, opens (or starts) the warehouse, brings schema `flytt` up to
date, records a run in `flytt.run`, does its work with progress on stderr, and ends with what it
did in numbers. User mistakes end with one sentence on stderr and a non-zero exit code
(`flytt.errors.UserError`); "not available yet" exits with 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from flytt import __version__
from flytt.console import err, out, print_summary
from flytt.errors import UserError
from flytt.settings import Settings, load_settings
from flytt.warehouse import Warehouse, resolve_warehouse

app = typer.Typer(
    name="flytt",
    help="Move Altinn 2 correspondences to Altinn 3 and keep both sides in step.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


class Language(StrEnum):
    """Languages of `flytt status --markdown`."""

    en = "en"
    nb = "nb"


def _open() -> tuple[Settings, Warehouse]:
    from flytt.control import upgrade
    from flytt.control.runs import close_dead_runs

    settings = load_settings()
    warehouse = resolve_warehouse(settings)
    upgrade(warehouse)
    with warehouse.engine.begin() as conn:
        close_dead_runs(conn)
    return settings, warehouse


def _recorded(
    command: str, arguments: dict[str, Any], work: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    from flytt.control.runs import recorded_run

    settings, warehouse = _open()
    with recorded_run(warehouse, command, arguments) as run:
        counts = work(settings, warehouse)
        run.counts.update(counts)
    return counts


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(f"flytt {__version__}")
        raise typer.Exit(0)


@app.command()
def load() -> None:
    """Load the A2 source tables into the warehouse schema a2_raw (dlt, incremental)."""
    from loaders.pipeline import run_load

    counts = _recorded("load", {}, run_load)
    print_summary(f"Loaded {sum(int(v) for v in counts.values())} rows into a2_raw", counts)


@app.command()
def build(
    select: Annotated[
        str | None, typer.Option(help="dbt selector, e.g. 'staging' or 'marts+'.")
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch.")
    ] = False,
) -> None:
    """Build the A2 → A3 mapping with dbt (models and tests)."""
    from flytt.build import run_build

    counts = _recorded(
        "build",
        {"select": select, "full_refresh": full_refresh},
        lambda s, w: run_build(w, select=select, full_refresh=full_refresh),
    )
    print_summary("dbt build", counts)
    if counts.get("errors", 0) or counts.get("test_failures", 0):
        raise UserError(
            "dbt build finished with failures (see above); fix the models or data and run "
            "`flytt build` again.",
            exit_code=1,
        )


@app.command()
def migrate(
    service: Annotated[
        list[str] | None, typer.Option(help="Only this service (A3 resource id); repeatable.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent, send nothing.")
    ] = False,
    newest_first: Annotated[
        bool, typer.Option("--newest-first", help="Newest elements first (default: oldest).")
    ] = False,
    limit: Annotated[
        int | None, typer.Option(help="At most this many elements per service.", min=1)
    ] = None,
    reset: Annotated[
        int | None, typer.Option(help="Reset one element (A2 id) so it is migrated again.")
    ] = None,
) -> None:
    """Deliver services, attachments and correspondences to the A3 migration API."""
    from syncd.delivery import DeliveryOptions, run_migrate

    options = DeliveryOptions(
        services=service or [],
        dry_run=dry_run,
        newest_first=newest_first,
        limit=limit,
        reset=reset,
    )
    opts = {
        "services": service or [],
        "dry_run": dry_run,
        "newest_first": newest_first,
        "limit": limit,
        "reset": reset,
    }
    counts = _recorded("migrate", opts, lambda s, w: run_migrate(s, w, options))
    print_summary("Migration to Altinn 3", counts)


@app.command()
def sync(
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="First put the elements and events that A3 or the A2 bridge refused "
            "(flytt report) back in line.",
        ),
    ] = False,
) -> None:
    """Step 2.2 once, both ways (`flytt daemon` runs it continuously): new A2 status events,
    notifications and forwardings of migrated correspondences to A3's sync endpoints, then the
    reads, confirmations and deletions A3 sent to the daemon's SBL-bridge endpoint to A2."""
    from syncd.bridge_apply import run_bridge_apply
    from syncd.status_sync import run_sync

    counts = _recorded(
        "sync",
        {"retry_failed": retry_failed},
        lambda s, w: run_sync(s, w, retry_failed=retry_failed),
    )
    if counts.get("busy"):
        out.print("Another sync pass is running (on this or another host); it does the work.")
    else:
        print_summary("Sync A2 → A3 (step 2.2)", counts)
    if counts.get("failed"):
        err.print(
            f"{counts['failed']} elements failed their sync (A3 refused them: `flytt report` "
            "says why); fix the cause and run `flytt sync --retry-failed`.",
            markup=False,
        )
    back = _recorded(
        "bridge",
        {"retry_failed": retry_failed},
        lambda s, w: run_bridge_apply(s, w, retry_failed=retry_failed),
    )
    if back.get("busy"):
        out.print("Another pass applying A3's events to A2 is running; it does the work.")
        return
    print_summary("Sync A3 → A2 (step 2.2)", back)
    if back.get("failed"):
        err.print(
            f"{back['failed']} events from A3 were refused by the A2 bridge (`flytt report` "
            "says why); fix the cause and run `flytt sync --retry-failed`.",
            markup=False,
        )


@app.command()
def expose(
    limit: Annotated[
        int | None, typer.Option(help="Expose at most this many elements in this run.", min=1)
    ] = None,
    recheck: Annotated[
        bool, typer.Option("--recheck", help="Verify every available dialog again.")
    ] = False,
) -> None:
    """Make migrated correspondences available in Dialogporten, newest first, and verify them."""
    from exposure.expose import run_expose

    counts = _recorded(
        "expose",
        {"limit": limit, "recheck": recheck},
        lambda s, w: run_expose(s, w, limit=limit, recheck=recheck),
    )
    print_summary("Exposure in Dialogporten", counts)


@app.command()
def daemon(
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Run one full cycle (load, build, test, migrate, sync, bridge, expose) and exit.",
        ),
    ] = False,
) -> None:
    """Run the transition as a service: every job on its schedule, until SIGTERM or Ctrl-C.

    Jobs: load the A2 increment, build the marts, discover and deliver new elements, make them
    available and verify them. Several daemons on several hosts may share one warehouse.
    Health and metrics on http://FLYTT_DAEMON_HOST:FLYTT_DAEMON_PORT (/healthz, /readyz,
    /metrics); log lines are JSON on stderr.
    """
    from flytt.daemon.service import run_once, serve

    settings, warehouse = _open()
    if not once:
        serve(settings, warehouse)
        return
    results = run_once(settings, warehouse)
    for result in results:
        print_summary(f"{result.name}: {result.outcome} in {result.seconds:.1f} s", result.counts)
    failed = [r.name for r in results if r.outcome == "failed"]
    if failed:
        raise UserError(
            f"flytt daemon --once: job {', '.join(failed)} failed (reason above); fix it and "
            "run it again, every job is safe to repeat."
        )


def _existing_sources(sources: list[str] | None) -> list[str] | None:
    from flytt.status_views import is_url

    hint = "give a file of `flytt status --json` or a status URL http://HOST:9480/status.json"
    for source in sources or []:
        if is_url(source):
            continue
        if "://" in source:
            raise typer.BadParameter(f"'{source}' is neither a file nor an http(s) URL ({hint}).")
        if Path(source).is_dir():
            raise typer.BadParameter(f"'{source}' is a folder, not a file ({hint}).")
        if not Path(source).is_file():
            raise typer.BadParameter(f"File '{source}' does not exist ({hint}).")
    return sources


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    merge: Annotated[
        list[str] | None,
        typer.Option(
            "--merge",
            callback=_existing_sources,
            help="Combine the status of several environments (repeatable): files written by "
            "`flytt status --json > FILE` or daemons' status URLs "
            "(http://HOST:9480/status.json), into one steps x environments view; reads no "
            "warehouse.",
        ),
    ] = None,
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Print the status paragraph operators publish."),
    ] = False,
    language: Annotated[
        Language, typer.Option(help="Language of --markdown: en or nb (Norwegian).")
    ] = Language.en,
) -> None:
    """Show where the transition stands: elements per state and the steps with their evidence."""
    from flytt.report import print_status
    from flytt.status import collect_status
    from flytt.status_views import merged_table, paragraph, read_documents, repeated_environments

    if merge:
        docs = read_documents(merge)
        for name in repeated_environments(docs):
            err.print(
                f"warning: several documents name the environment '{name}'; set "
                "FLYTT_ENVIRONMENT in each deployment so their columns can be told apart.",
                markup=False,
            )
        if markdown:
            out.print(paragraph(docs, language.value), soft_wrap=True, markup=False)
        elif as_json:
            sys.stdout.write(json.dumps(docs, indent=2, default=str) + "\n")
        else:
            out.print(merged_table(docs))
        return
    settings, warehouse = _open()
    doc = collect_status(warehouse, settings.environment)
    if markdown:
        out.print(paragraph([doc], language.value), soft_wrap=True, markup=False)
    elif as_json:
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    else:
        print_status(doc)


@app.command()
def report(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Report failures, quarantine reasons and mismatches, with counts."""
    from flytt.report import collect_report, print_report

    settings, warehouse = _open()
    doc = collect_report(warehouse, settings.environment)
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return
    print_report(doc)


@app.command()
def docs(
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the site after generating it.")
    ] = True,
    port: Annotated[
        int, typer.Option(help="Port for the docs server (localhost).", min=1, max=65535)
    ] = 8080,
) -> None:
    """Generate dbt docs (the A2 → A3 mapping review) and serve them on localhost."""
    from flytt.dbt import TARGET_DIR
    from flytt.docs import bind_docs_server, generate_docs, serve_docs

    server = bind_docs_server(TARGET_DIR, port) if serve else None
    _, warehouse = _open()
    site = generate_docs(warehouse)
    out.print(f"dbt docs generated in {site}")
    if server:
        serve_docs(server)


@app.command()
def env() -> None:
    """Print export lines for the warehouse: eval "$(flytt env)" before dbt or psql."""
    import shlex

    settings = load_settings()
    warehouse = resolve_warehouse(settings)
    for key, value in warehouse.libpq_env().items():
        sys.stdout.write(f"export {key}={shlex.quote(value)}\n")


def _add_plugins(root: typer.Typer) -> None:
    """Let installed plugins add commands: each `flytt.cli` entry point is `register(app)`.

    The sandbox distribution (sandbox/pyproject.toml) adds `flytt demo` and `flytt sandbox …`
    this way, so the product never imports it. A plugin that fails to load is named on stderr and
    left out; the product's own commands still work.
    """
    for entry in entry_points(group="flytt.cli"):
        try:
            entry.load()(root)
        except Exception as exc:  # a broken plugin must not take the product's commands down
            err.print(f"warning: plugin {entry.name!r} not loaded ({type(exc).__name__}: {exc})")


_add_plugins(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `flytt` console script; turns user mistakes into one clear line."""
    try:
        code = app(args=argv, standalone_mode=False)
    except UserError as exc:
        err.print(f"[bold red]error:[/] {escape(exc.message)}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # usage errors (typer vendors its own click)
        show = getattr(exc, "show", None)
        if show:
            show()
        sys.exit(getattr(exc, "exit_code", 2))
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted; run the same command again to resume.")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main"]
