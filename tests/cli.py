"""Run the real `flytt` console script in a subprocess (what a user types)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FLYTT = str(Path(sys.executable).with_name("flytt"))


def run_flytt(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `flytt *args` with `env` added to a copy of this process's environment."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTT_")}
    full_env.update(env or {})
    return subprocess.run(
        [FLYTT, *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
