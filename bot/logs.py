"""Logging: one JSON line per event, with secrets and phone numbers redacted on the way out.

Redaction happens in the formatter, on the final text, so it also covers what libraries log
(Bolt, slack_sdk, httpx, uvicorn) and values buried in exception messages.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_PATTERNS = (
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]+"), "xox?-[REDACTED]"),
    (re.compile(r"xapp-[A-Za-z0-9-]+"), "xapp-[REDACTED]"),
    (re.compile(r"https://hooks\.slack\.com/\S+"), "[response_url]"),
    (re.compile(r"(?i)\bsign[\"']?\s*[:=]\s*[\"']?[0-9a-f]{64}"), "sign=[REDACTED]"),
    # Mainland mobile numbers (11 digits starting 13-19), not part of a longer number.
    (re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)"), r"\1****\2"),
)


class RedactingJsonFormatter(logging.Formatter):
    """Formats records as JSON lines and removes secret values and phone numbers."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret containing another is removed whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(payload, ensure_ascii=False, default=str))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


def configure_logging(level: str, secrets: Iterable[str] = (), stream: Any = None) -> None:
    """Install the redacting JSON handler on the root logger (idempotent)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingJsonFormatter(secrets))
    handler.set_name("cluebot")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "cluebot":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs full request URLs at INFO; the Bolt/slack_sdk debug logs carry payloads.
    for noisy in ("httpx", "httpcore", "slack_bolt", "slack_sdk", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
