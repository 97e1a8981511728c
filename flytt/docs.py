"""`flytt docs`: generate dbt docs for the mapping review and serve them on localhost."""

from __future__ import annotations

import functools
import http.server
from pathlib import Path

from flytt.console import out
from flytt.dbt import PROJECT_DIR, run_dbt
from flytt.errors import UserError
from flytt.warehouse import Warehouse


def generate_docs(warehouse: Warehouse) -> Path:
    """Run `dbt docs generate`; return the site folder (index.html, manifest.json, catalog.json).

    Raises:
        UserError: dbt could not generate the site (message says why).
    """
    result = run_dbt(warehouse, ["docs", "generate"])
    site = PROJECT_DIR / "target"
    if not result.success or not (site / "index.html").exists():
        raise UserError("dbt docs generate failed; run `flytt build` first and check its output.")
    return site


def serve_docs(site: Path, port: int) -> None:
    """Serve `site` on http://127.0.0.1:`port` until Ctrl-C.

    Raises:
        UserError: the port is taken (names `--port`).
    """
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError:
        raise UserError(f"Port {port} is in use; choose another with --port.") from None
    out.print(f"Serving dbt docs on http://127.0.0.1:{port} (Ctrl-C stops)")
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            out.print("stopped")
