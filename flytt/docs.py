"""`flytt docs`: generate dbt docs for the mapping review and serve them on localhost."""

from __future__ import annotations

import errno
import functools
import http.server
from pathlib import Path

from flytt.console import out
from flytt.dbt import TARGET_DIR, run_dbt
from flytt.errors import UserError
from flytt.warehouse import Warehouse


def generate_docs(warehouse: Warehouse, target_dir: Path | None = None) -> Path:
    """Run `dbt docs generate` for the A2 → A3 mapping review (issue #4).

    The site shows the overview page (the whole mapping, status-code and rights tables) and, per
    model, its columns with their A2 source and rule plus the lineage graph.

    Args:
        warehouse: the warehouse dbt reads the catalog from (build first for column types).
        target_dir: where dbt writes the site; default `dbt_project/target`.

    Returns:
        The site folder (index.html, manifest.json, catalog.json).

    Raises:
        UserError: dbt could not generate the site (message says why).
    """
    site = target_dir or TARGET_DIR
    args = ["docs", "generate"]
    if target_dir is not None:
        args += ["--target-path", str(target_dir)]
    result = run_dbt(warehouse, args)
    if not result.success or not (site / "index.html").exists():
        raise UserError("dbt docs generate failed; run `flytt build` first and check its output.")
    return site


def bind_docs_server(site: Path, port: int) -> http.server.ThreadingHTTPServer:
    """Bind an HTTP server for `site` on 127.0.0.1:`port` (before the slow generation step).

    Raises:
        UserError: the port is taken or needs privileges (names `--port`).
    """
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    try:
        return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        if exc.errno == errno.EACCES:
            reason = "needs privileges"
        elif exc.errno == errno.EADDRINUSE:
            reason = "is in use"
        else:
            reason = f"cannot be used ({exc.strerror})"
        raise UserError(f"Port {port} {reason}; choose another with --port.") from None


def serve_docs(server: http.server.ThreadingHTTPServer) -> None:
    """Serve a bound docs server until Ctrl-C."""
    port = server.server_address[1]
    out.print(f"Serving dbt docs on http://127.0.0.1:{port} (Ctrl-C stops)")
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            out.print("stopped")
