"""Render a page in headless Chromium (Debian's `chromium` package) and return its DOM text."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_path() -> Path:
    """The Chromium binary; raises AssertionError naming `make chromium` when it is missing."""
    found = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    assert found, "Chromium is not installed: run `make chromium` (apt-get install chromium)."
    return Path(found)


def rendered_text(url: str, budget_ms: int = 15000) -> str:
    """Load `url` with a fresh profile, let scripts run for `budget_ms` of virtual time, and
    return the visible text of the resulting DOM (scripts removed, whitespace collapsed)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        completed = subprocess.run(
            [
                str(chromium_path()),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", completed.stdout, flags=re.S | re.I)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))
