"""`flytt sandbox serve`: serves the replicas on the configured ports, prints their URLs, and
stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx

from sandbox.serve import free_port
from tests.cli import FLYTT
from tests.conftest import cli_env


def test_serve_prints_urls_answers_and_stops_on_ctrl_c(warehouse, tmp_path) -> None:
    ports = {name: free_port() for name in ("a3", "dp", "rr", "mp")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTT_")}
    env.update(cli_env(warehouse, tmp_path))
    env.update(
        {
            "FLYTT_A3_BASE_URL": f"http://127.0.0.1:{ports['a3']}",
            "FLYTT_DIALOGPORTEN_BASE_URL": f"http://127.0.0.1:{ports['dp']}",
            "FLYTT_RESOURCE_REGISTRY_BASE_URL": f"http://127.0.0.1:{ports['rr']}",
            "FLYTT_MASKINPORTEN_TOKEN_URL": f"http://127.0.0.1:{ports['mp']}/token",
        }
    )
    proc = subprocess.Popen(
        [FLYTT, "sandbox", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Faults:"):
                break
        printed = "".join(lines)
        assert f"http://127.0.0.1:{ports['a3']}" in printed
        assert "maskinporten-client.pem" in printed
        meta = httpx.get(f"http://127.0.0.1:{ports['mp']}/.well-known/oauth-authorization-server")
        assert meta.json()["issuer"] == f"http://127.0.0.1:{ports['mp']}/"
        answer = httpx.post(
            f"http://127.0.0.1:{ports['a3']}/correspondence/api/v1/migration/correspondence"
        )
        assert answer.status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Stopped the sandbox replicas." in out
