"""The daemon's HTTP port: `/healthz` (live), `/readyz` (ready), `/metrics` (Prometheus), and
the status page's paths (`/`, `/status.json`, `/static/…`, `flytt.daemon.page`) and the
SBL-bridge endpoint A3 calls (`flytt.daemon.bridge_endpoint`).

Served by the standard library's WSGI server in threads of its own, with no personal data:
`/healthz` answers 200 while the process runs its loop, `/readyz` 200 or 503
with the reason as text, `/metrics` the registry in the Prometheus text format
(prometheus-client's `make_wsgi_app`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

ReadyCheck = Callable[[], str | None]
"""Returns None when ready, else one line saying why not."""


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not log events
        pass


class Pages(Protocol):
    """A WSGI app for the paths it `handles` (the status page, the SBL-bridge endpoint)."""

    def handles(self, path: str) -> bool: ...

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]: ...


def _app(
    registry: CollectorRegistry, ready: ReadyCheck, pages: Sequence[Pages]
) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        if path == "/readyz":
            reason = ready()
            status = "200 OK" if reason is None else "503 Service Unavailable"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [f"{reason or 'ready'}\n".encode()]
        if path == "/metrics":
            return metrics(environ, start_response)
        for app_ in pages:
            if app_.handles(path):
                return app_(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found: try /, /status.json, /healthz, /readyz or /metrics\n"]

    return app


@contextmanager
def serving(
    host: str,
    port: int,
    registry: CollectorRegistry,
    ready: ReadyCheck,
    pages: Sequence[Pages] = (),
) -> Iterator[int]:
    """Serve the three paths, and those of each of `pages` (the first that handles a path
    answers it), on `host:port` until the block exits;
    yield the bound port (`port` 0 picks a free one).

    Raises:
        OSError: the port is taken or the interface does not exist.
    """
    server = make_server(
        host, port, _app(registry, ready, pages), _Server, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="flytt-http", daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
