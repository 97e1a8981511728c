"""The A3 replica's OpenAPI document: the committed file equals what the app serves."""

from __future__ import annotations

import json

from sandbox.a3.app import OPENAPI_FILE
from sandbox.a3.openapi import document_app, render


def test_committed_document_equals_the_served_one(a3) -> None:
    committed = OPENAPI_FILE.read_text(encoding="utf-8")
    assert committed == render(document_app()), "run: python -m sandbox.a3.openapi"
    served = a3.client.get(f"{a3.url}/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(committed)
    paths = json.loads(committed)["paths"]
    base = "/correspondence/api/v1/migration"
    assert set(paths) == {
        f"{base}/attachment",
        f"{base}/correspondence",
        f"{base}/makemigratedcorrespondenceavailable",
        f"{base}/correspondence/syncStatusEvent",
        f"{base}/correspondence/syncForwardingEvent",
        f"{base}/correspondence/syncNotificationEvent",
    }
