"""The generated dbt docs site renders the mapping review in a real browser (issue #4).

Builds the project on a small sandbox, runs `generate_docs` (what `flytt docs` runs), serves the
site over HTTP and opens it in headless Chromium: the overview page must show the A2 → A3
mapping, status-code and rights tables, and the `correspondences` mart page its columns with
their A2 sources and its lineage (the models it depends on). Every column a mart really has
must be documented.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
import urllib.request
from collections.abc import Iterator

import pytest

from flytt.dbt import run_dbt
from flytt.docs import generate_docs
from flytt.settings import Settings
from flytt.warehouse import Warehouse
from loaders.pipeline import run_load
from sandbox.a2.generate import generate_a2
from tests.dbt.chromium import chromium_path, rendered_text


@pytest.fixture(scope="module")
def site_url(
    settings: Settings, warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of the generated docs site, served on a free localhost port."""
    chromium_path()
    generate_a2(settings, size=150, seed=5)
    run_load(settings, warehouse)
    assert run_dbt(warehouse, ["seed"]).success
    assert run_dbt(warehouse, ["run"]).success
    site = generate_docs(warehouse, tmp_path_factory.mktemp("dbt_docs"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def test_overview_page_shows_the_mapping_tables(site_url: str) -> None:
    text = rendered_text(f"{site_url}#!/overview")
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


def test_mart_page_shows_column_sources_and_lineage(site_url: str) -> None:
    text = rendered_text(f"{site_url}#!/model/model.flytt.correspondences")
    assert "A3 Correspondences (a3-correspondence §2.1)" in text
    assert "altinn2_correspondence_id" in text
    assert "A2: a2_correspondence.se_reportee_element_id" in text
    assert "urn:altinn:party:uuid:<uuid> (self-identified)" in text
    # lineage: the models this mart is built from
    for parent in (
        "stg_a2__correspondences",
        "int_recipients_mapped_to_urn",
        "int_senders_mapped_to_urn",
    ):
        assert parent in text


def test_every_mart_column_is_documented(site_url: str) -> None:
    """Each column that a mart in schema a3 really has (dbt's catalog) carries a description in
    the manifest (its A2 source and rule), and no documented column is missing from the table."""
    with urllib.request.urlopen(site_url.replace("index.html", "manifest.json")) as response:
        manifest = json.load(response)
    with urllib.request.urlopen(site_url.replace("index.html", "catalog.json")) as response:
        catalog = json.load(response)
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
