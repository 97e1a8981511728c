"""Console output: results to stdout, progress and errors to stderr (so `--json` stays clean)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def progress() -> Progress:
    """A rich progress bar on stderr: description, bar, done/total, elapsed time."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def print_summary(title: str, counts: dict[str, Any]) -> None:
    """Print a command's result on stdout: `title`, then one indented `key value` line per count."""
    table = Table(title=title, show_header=False, title_justify="left", box=None)
    for key, value in counts.items():
        table.add_row(f"  {key}", str(value))
    out.print(table)


@contextmanager
def quiet_consoles() -> Iterator[None]:
    """Silence `out` and `err` (progress bars, notes, tables) until the block exits: the
    daemon's output is its JSON log lines only. Not for nesting across threads."""
    before = out.quiet, err.quiet
    out.quiet = err.quiet = True
    try:
        yield
    finally:
        out.quiet, err.quiet = before
