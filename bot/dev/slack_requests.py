"""Signed Slack requests, built as Slack builds them: one builder for the playground, tests and bench.

Slack signs ``v0:{timestamp}:{body}`` with HMAC-SHA256 keyed by the app's signing secret and sends
the exact body bytes it signed; apps refuse timestamps more than five minutes off, so build requests
right before sending them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bot.web.guard import slack_signature

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class SignedRequest:
    """The exact body bytes and the headers Slack would send with them."""

    body: bytes
    headers: dict[str, str]


def signed(secret: str, body: bytes, content_type: str, *, timestamp: int | None = None) -> SignedRequest:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = slack_signature(secret.encode(), ts.encode(), body).decode()
    return SignedRequest(body, {"content-type": content_type, "x-slack-request-timestamp": ts,
                                "x-slack-signature": signature})


def slash_command(secret: str, form: Mapping[str, str], *, timestamp: int | None = None) -> SignedRequest:
    """A slash command: Slack posts its fields form-encoded."""
    return signed(secret, urlencode(form).encode(), FORM, timestamp=timestamp)


def interaction(secret: str, payload: Mapping[str, Any], *, timestamp: int | None = None) -> SignedRequest:
    """An interaction (``block_actions``, ``view_submission``…): JSON in the ``payload`` form field."""
    body = urlencode({"payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":"))})
    return signed(secret, body.encode(), FORM, timestamp=timestamp)


def event_callback(secret: str, envelope: Mapping[str, Any], *, timestamp: int | None = None) -> SignedRequest:
    """An Events API callback: the envelope as a JSON body."""
    return signed(secret, json.dumps(envelope, ensure_ascii=False).encode(), JSON, timestamp=timestamp)
