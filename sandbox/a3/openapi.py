"""Write the A3 replica's OpenAPI document to `sandbox/openapi/a3-migration.json`.

Run `python -m sandbox.a3.openapi` after changing an endpoint or a model; a test checks that the
committed file equals what the app serves at `/openapi.json`. The real migration controller was
hidden from A3's public document (a3-correspondence.md §6), so this file is the replica's own.
"""

from __future__ import annotations

import json

from fastapi import FastAPI

from sandbox.a3.app import OPENAPI_FILE, create_app
from sandbox.maskinporten.tokens import TokenVerifier


def document_app() -> FastAPI:
    """An A3 replica app used only to render its OpenAPI document (never started)."""
    return create_app("postgresql+psycopg2://unused@localhost/unused", TokenVerifier(b""))


def render(app: FastAPI) -> str:
    """The app's OpenAPI document as committed: sorted keys, 2-space indent, final newline."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    """Rewrite the committed document from the current code."""
    OPENAPI_FILE.write_text(render(document_app()), encoding="utf-8")
    print(f"wrote {OPENAPI_FILE.name}")


if __name__ == "__main__":
    main()
