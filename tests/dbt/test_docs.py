"""The generated dbt docs site carries the mapping review.

Builds the project on a small sandbox and runs `generate_docs` (what `flytt docs` runs). The
content checks read the files the site is made of, dbt's `manifest.json` (descriptions, docs
blocks, lineage) and `catalog.json` (the columns the warehouse really has): the overview page
holds the A2 → A3 mapping, status-code and rights tables; the `correspondences` mart holds its
columns with their A2 sources and the models it depends on; every column a mart really has is
documented. Markdown is rendered to text as the site shows it.

One smoke test (marker `browser`) opens the served site in headless
Chromium and sees the `correspondences` model page: the site itself loads and renders.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from flytt.dbt import run_dbt
from flytt.docs import generate_docs
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from loaders.pipeline import run_load
from sandbox.a2.generate import generate_a2
from tests.dbt.chromium import rendered_text, require_chromium

# raw HTML is shown as text, as the docs site shows `<uuid>` in a column description
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def _text(markdown: str) -> str:
    """Markdown as the docs site shows it: rendered, tags dropped, whitespace collapsed."""
    rendered = re.sub(r"<[^>]+>", " ", _MARKDOWN.render(markdown))
    return re.sub(r"\s+", " ", html.unescape(rendered)).strip()


@pytest.fixture(scope="module")
def site(
    settings: Settings, warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The generated docs site folder (index.html, manifest.json, catalog.json)."""
    generate_a2(settings, size=150, seed=5)
    run_load(settings, warehouse)
    assert run_dbt(warehouse, ["seed"]).success
    assert run_dbt(warehouse, ["run"]).success
    return generate_docs(warehouse, tmp_path_factory.mktemp("dbt_docs"))


@pytest.fixture(scope="module")
def manifest(site: Path) -> dict[str, Any]:
    return dict(json.loads((site / "manifest.json").read_text()))


@pytest.fixture(scope="module")
def catalog(site: Path) -> dict[str, Any]:
    return dict(json.loads((site / "catalog.json").read_text()))


def test_overview_page_shows_the_mapping_tables(manifest: dict[str, Any]) -> None:
    text = _text(manifest["docs"]["doc.flytt.__overview__"]["block_contents"])
    assert "flytt: Altinn 2 → Altinn 3 correspondence mapping" in text
    # the mapping table, the status-code table and the rights table
    assert "A3 (mart.column) A2 source (a2_raw table.column) Rule" in text
    assert (
        "correspondences.altinn2_correspondence_id a2_correspondence.se_reportee_element_id" in text
    )
    assert "1 Created 0 + 2 Initialized + Published" in text
    assert "102 restore 14 RestoredByRecipient delete event type 4" in text
    assert "ArchiveDelete read policy rules, delegations" in text
    assert "first occurrence" in text  # the DST rule


def test_mart_page_shows_column_sources_and_lineage(manifest: dict[str, Any]) -> None:
    node = manifest["nodes"]["model.flytt.correspondences"]
    assert "A3 Correspondences (a3-correspondence §2.1)" in _text(node["description"])
    columns = {name: _text(col["description"]) for name, col in node["columns"].items()}
    assert "A2: a2_correspondence.se_reportee_element_id" in columns["altinn2_correspondence_id"]
    assert "urn:altinn:party:uuid:<uuid> (self-identified)" in columns["recipient"]
    # lineage: the models this mart is built from
    parents = set(node["depends_on"]["nodes"])
    for parent in (
        "stg_a2__correspondences",
        "int_recipients_mapped_to_urn",
        "int_senders_mapped_to_urn",
    ):
        assert f"model.flytt.{parent}" in parents


def test_every_mart_column_is_documented(manifest: dict[str, Any], catalog: dict[str, Any]) -> None:
    """Each column that a mart in schema a3 really has (dbt's catalog) carries a description in
    the manifest (its A2 source and rule), and no documented column is missing from the table."""
    marts = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["schema"] == "a3"
    }
    assert len(marts) == 15
    for uid, node in marts.items():
        built = set(catalog["nodes"][uid]["columns"])
        documented = {name for name, col in node["columns"].items() if col["description"].strip()}
        assert built == documented, (uid, built ^ documented)


@pytest.fixture(scope="module")
def chromium() -> Path:
    return require_chromium()


@pytest.fixture(scope="module")
def site_url(chromium: Path, site: Path) -> Iterator[str]:
    """Base URL of the generated docs site, served on a free localhost port."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
def test_docs_site_renders_a_model_page_in_a_browser(site_url: str) -> None:
    text = rendered_text(f"{site_url}#!/model/model.flytt.correspondences")
    assert "A3 Correspondences (a3-correspondence §2.1)" in text
    assert "altinn2_correspondence_id" in text
    assert "int_recipients_mapped_to_urn" in text  # the lineage the site draws
