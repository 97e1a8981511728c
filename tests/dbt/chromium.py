"""Render a page in headless Chromium (Debian's `chromium` package) and return its DOM text.

The browser tests (marker `browser`: the docs-site smoke test in tests/dbt/test_docs.py and the
status page in tests/daemon/test_status_page_browser.py) need it; `make test` installs Debian's
`chromium` first when it runs as root.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

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


def find_chromium() -> Path | None:
    """/usr/bin/chromium, else a `chromium` on PATH, else None."""
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


def require_chromium() -> Path:
    """The Chromium binary. When it is missing the test is skipped with the command that
    installs it, except in CI (`CI=true`), where a browser test that was selected but cannot
    run is a failure, never a silent pass."""
    found = find_chromium()
    if found is not None:
        return found
    message = "Chromium is not installed: run `sudo apt-get install -y chromium`."
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def rendered_text(url: str, budget_ms: int = 15000) -> str:
    """Load `url` with a fresh profile, let scripts run for `budget_ms` of virtual time, and
    return the visible text of the resulting DOM (scripts removed, whitespace collapsed)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        completed = subprocess.run(
            [
                str(require_chromium()),
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
