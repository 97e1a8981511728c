"""JSON log lines for the daemon: one object per line on stderr (python-json-logger).

Each line has `time` (UTC, ISO 8601), `level`, `logger`, `message` and the record's extra
fields (procrastinate adds `action`, `job`, …). flytt logs counts, job names and error codes,
never a national identity number, e-mail address, phone number or token; messages pass
through `flytt.redact` as a second guard.
"""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from flytt.redact import redact


class _RedactingFormatter(JsonFormatter):
    def process_log_record(self, log_record: dict[str, Any]) -> dict[str, Any]:
        if isinstance(log_record.get("message"), str):
            log_record["message"] = redact(log_record["message"])
        return log_record


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send every log record of the process to stderr as one JSON object per line."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        _RedactingFormatter(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # UTC, ISO 8601
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO (A3's query strings carry party identifiers), and
    # procrastinate logs every deferral and job start at INFO (flytt logs each job's end)
    for chatty in ("httpx", "httpcore", "procrastinate"):
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))
