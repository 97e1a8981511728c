"""Run an ASGI app (a sandbox replica) with uvicorn in a background thread.

Used by the test fixtures (in-process services) and by `flytt demo`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: Any, host: str = "127.0.0.1", port: int | None = None, timeout: float = 10.0
) -> Iterator[str]:
    """Serve `app` on `host:port` (a free port when None) until the block exits.

    Yields:
        The base URL, e.g. `http://127.0.0.1:54321`.

    Raises:
        RuntimeError: the server did not start within `timeout` seconds.
    """
    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"sandbox-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"sandbox service on {host}:{port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
