"""Views of several environments' status documents (`flytt status --json` of each deployment):
one table of steps × environments (`--merge`) and the status paragraph operators publish
(`--markdown`), in Norwegian and English. Reads documents only; no warehouse.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from flytt.errors import UserError
from flytt.status import STEP_TITLES

STATE_WORDS = {
    "en": {
        "done": "done",
        "running": "running",
        "not_started": "not started",
        "blocked": "blocked",
    },
    "nb": {
        "done": "ferdig",
        "running": "pågår",
        "not_started": "ikke startet",
        "blocked": "blokkert",
    },
}


def is_url(source: str) -> bool:
    """True for an http(s) URL (a daemon's `/status.json`), False for a file path."""
    return source.startswith(("http://", "https://"))


def _fetch(url: str, timeout: float) -> Any:
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
        return response.json()
    except httpx.HTTPStatusError as exc:
        raise UserError(
            f"{url} answered {exc.response.status_code}; give a daemon's status URL "
            "(http://HOST:9480/status.json)."
        ) from None
    except httpx.TimeoutException:
        raise UserError(
            f"{url} did not answer within {timeout:g} s; the daemon may be busy or the network "
            "slow: try again, or save its `flytt status --json` to a file and merge that."
        ) from None
    except httpx.HTTPError as exc:
        raise UserError(
            f"Cannot reach {url} ({type(exc).__name__}); is that daemon running and its port "
            "open to this host?"
        ) from None
    except ValueError:
        raise UserError(f"{url} did not answer JSON; give a daemon's /status.json URL.") from None


def read_document(source: str, timeout: float = 5.0) -> dict[str, Any]:
    """One status document: `source` is a file written by `flytt status --json > FILE` or a
    daemon's status URL (`http://HOST:9480/status.json`, fetched within `timeout` seconds).

    Raises:
        UserError: the file cannot be read, the URL cannot be reached or answers an error, or
            what came back is not a `flytt status --json` document.
    """
    if is_url(source):
        doc = _fetch(source, timeout)
    else:
        path = Path(source)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UserError(
                f"Cannot read {path} ({exc.strerror}); give files written by "
                "`flytt status --json > FILE`."
            ) from None
        except json.JSONDecodeError:
            raise UserError(
                f"{path} is not JSON; give files written by `flytt status --json > FILE`."
            ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), dict):
        raise UserError(f"{source} is not a `flytt status --json` document (no steps).")
    return doc


def read_documents(sources: list[str]) -> list[dict[str, Any]]:
    """The status documents of `sources` (files or status URLs, `read_document`), in order.

    Raises:
        UserError: as `read_document`, for the first source that fails.
    """
    return [read_document(source) for source in sources]


def _name(doc: dict[str, Any]) -> str:
    return str(doc.get("environment") or "local")


def repeated_environments(docs: list[dict[str, Any]]) -> list[str]:
    """Environment names that more than one document carries (e.g. two deployments left at
    the default `local`): their columns cannot be told apart."""
    names = [_name(d) for d in docs]
    return sorted({n for n in names if names.count(n) > 1})


def merged_table(docs: list[dict[str, Any]]) -> Table:
    """Steps (rows) × environments (columns); each cell the state and its evidence."""
    table = Table(title="Transition steps by environment", title_justify="left")
    table.add_column("step")
    table.add_column("what")
    for doc in docs:
        table.add_column(_name(doc).upper())
    for key, title in STEP_TITLES.items():
        cells = []
        for doc in docs:
            step = doc["steps"].get(key, {"state": "not_started"})
            evidence = step.get("evidence")
            cells.append(f"{step['state']}" + (f"\n{evidence}" if evidence else ""))
        table.add_row(key, title, *cells)
    return table


def _join(items: list[str], word: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def paragraph(docs: list[dict[str, Any]], language: str = "en") -> str:
    """The status paragraph, e.g. "As of 3 December 2026: in TT02 steps 1.1, 1.2 and 5 are
    done; …" ("Per 03.12.2026: i TT02 steg … er ferdige; …" in Norwegian), one clause per
    environment, in `language` (`en` or `nb`).

    Raises:
        UserError: `language` is neither.
    """
    if language not in STATE_WORDS:
        raise UserError(f"--language {language} is not supported; use en or nb.")
    words = STATE_WORDS[language]
    stamps = [str(d["generated_at"]) for d in docs if d.get("generated_at")]
    when = datetime.fromisoformat(max(stamps)) if stamps else None
    if language == "nb":
        opener = f"Per {when:%d.%m.%Y}" if when else "Per ?"
    else:
        opener = f"As of {when.day} {when:%B %Y}" if when else "As of ?"
    sentences = []
    for doc in docs:
        groups: dict[str, list[str]] = {}
        for key in STEP_TITLES:
            state = doc["steps"].get(key, {}).get("state", "not_started")
            groups.setdefault(state, []).append(key)
        parts = []
        for state in ("done", "running", "blocked", "not_started"):
            keys = groups.get(state)
            if not keys:
                continue
            if language == "nb":
                word = words[state]
                if len(keys) > 1 and state in ("done", "blocked"):
                    word += "e"  # plural: ferdige, blokkerte
                verb = "" if state == "running" else "er "
                parts.append(f"steg {_join(keys, 'og')} {verb}{word}")
            else:
                verb = "is" if len(keys) == 1 else "are"
                label = "step" if len(keys) == 1 else "steps"
                parts.append(f"{label} {_join(keys, 'and')} {verb} {words[state]}")
        env = _name(doc).upper()
        frontier = doc["steps"].get("5", {}).get("evidence", "")
        lead = f"i {env}" if language == "nb" else f"in {env}"
        sentence = f"{lead} " + "; ".join(parts)
        if frontier.startswith("done for elements created from"):
            year = frontier.split("from ", 1)[1].split(",")[0].split(";")[0]
            sentence += (
                f" (steg 5 er ferdig for meldinger fra {year} og nyere)"
                if language == "nb"
                else f" (step 5 is done for messages from {year} onwards)"
            )
        sentences.append(sentence)
    return f"{opener}: " + "; ".join(sentences) + "."
