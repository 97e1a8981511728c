"""The mart contracts: enforced on every mart, read the same from the YAML as from dbt's
manifest, personal data tagged, and the Python readers declared as exposures.

`syncd.mart_schema` reads the contracts from the model YAML (no database, no `dbt parse`);
`test_the_manifest_agrees_with_the_yaml` runs `dbt parse` into a temporary target folder and
checks dbt reads the same names, types, `pii` tags and enforcement.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flytt.dbt import run_dbt
from flytt.warehouse import Warehouse
from syncd.mart_schema import MARTS_DIR, read_marts

PII_COLUMNS = {
    ("correspondences", "recipient"),
    ("correspondence_contents", "message_title"),
    ("correspondence_contents", "message_summary"),
    ("correspondence_contents", "message_body"),
    ("correspondence_notifications", "notification_address"),
    ("correspondence_forwarding_events", "forwarding_text"),
    ("correspondence_forwarding_events", "forwarded_to_email_address"),
    ("attachments", "file_name"),
    ("attachments", "display_name"),
}
"""Mart columns that hold personal data: national identity numbers (the recipient URN of a
person), e-mail addresses and phone numbers (notification address, forwarding address), and free
text written to or about a person (message texts, forwarding text, attachment names)."""

CORRESPONDENCE_MARTS = {
    "correspondences",
    "correspondence_contents",
    "correspondence_attachments",
    "attachments",
    "correspondence_status_events",
    "correspondence_delete_events",
    "correspondence_notifications",
    "correspondence_forwarding_events",
    "correspondence_reply_options",
    "correspondence_external_references",
}
"""What `syncd.marts.fetch_elements` reads for an element (delivery and exposure)."""
EXPOSURES = {
    "flytt_migrate": CORRESPONDENCE_MARTS
    | {"correspondence_eligibility", "resources", "resource_policy_rules"},
    "flytt_expose": CORRESPONDENCE_MARTS | {"int_recipients_mapped_to_urn", "stg_a2__parties"},
    "flytt_report": {"quarantine"},
    "flytt_sync": {
        "correspondence_status_events",
        "correspondence_delete_events",
        "correspondence_notifications",
        "correspondence_forwarding_events",
    },
    "flytt_status_page": {"quarantine"},
    "flytt_daemon": CORRESPONDENCE_MARTS
    | {"correspondence_eligibility", "resources", "resource_policy_rules"}
    | {"int_recipients_mapped_to_urn", "stg_a2__parties"},
}
"""Each exposure → the models its command reads."""


def test_every_mart_has_an_enforced_typed_contract() -> None:
    marts = read_marts()
    assert set(marts) == {p.stem for p in MARTS_DIR.rglob("*.sql")}
    for mart in marts.values():
        assert mart.enforced, mart.name
        assert mart.columns, mart.name
        assert all(c.data_type for c in mart.columns), mart.name


def test_personal_data_columns_are_tagged_pii() -> None:
    tagged = {(m.name, c.name) for m in read_marts().values() for c in m.columns if c.pii}
    assert tagged == PII_COLUMNS


@pytest.fixture(scope="module")
def manifest(pg_admin: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """dbt's manifest of the project, parsed into a temporary target folder (no database is
    touched by `dbt parse`)."""
    target = Path(tmp_path_factory.mktemp("dbt-target"))
    result = run_dbt(pg_admin, ["parse", "--target-path", str(target), "--no-partial-parse"])
    assert result.success
    loaded: dict[str, Any] = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    return loaded


def test_the_manifest_agrees_with_the_yaml(manifest: dict[str, Any]) -> None:
    for mart in read_marts().values():
        node = manifest["nodes"][f"model.flytt.{mart.name}"]
        assert node["schema"].endswith("a3"), mart.name
        assert node["contract"]["enforced"] is True, mart.name
        declared = [
            (c["name"], c["data_type"], bool(c["config"]["meta"].get("pii")))
            for c in node["columns"].values()
        ]
        assert declared == [(c.name, c.data_type, c.pii) for c in mart.columns], mart.name


def test_the_python_readers_are_exposures(manifest: dict[str, Any]) -> None:
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert set(exposures) == set(EXPOSURES)
    for name, models in EXPOSURES.items():
        exposure = exposures[name]
        assert exposure["type"] == ("dashboard" if name == "flytt_status_page" else "application")
        assert exposure["owner"]["name"]
        assert exposure["description"]
        assert {n.removeprefix("model.flytt.") for n in exposure["depends_on"]["nodes"]} == models
