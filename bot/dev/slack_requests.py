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


def button_click(*, team: str, user: str, action_id: str, value: str | None, trigger_id: str, api_app_id: str,
                 channel: str | None = None, response_url: str | None = None,
                 container: Mapping[str, Any] | None = None, view: Mapping[str, Any] | None = None,
                 team_domain: str = "acme", user_name: str = "alice", channel_name: str = "sales",
                 verification: str = "legacy", block_id: str | None = "clue_actions",
                 action_ts: str = "1700000001.000200", chosen: str | None = None) -> dict[str, Any]:
    """A ``block_actions`` payload for one button click, laid out as Slack's interactivity reference shows it;
    the one builder of the playground, the tests and the bench. On a message: ``channel``, the message's
    ``container`` and a ``response_url``; inside a modal (``view``): neither channel nor response_url, the view.
    ``chosen``: the value of the option picked in an overflow menu (Slack sends ``selected_option``, no value)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user_name, "name": user_name, "team_id": team},
        "api_app_id": api_app_id,
        "token": verification,  # the deprecated verification token: Slack still sends one
        "container": dict(container) if container is not None else {"type": "view", "view_id": (view or {}).get("id")},
        "trigger_id": trigger_id,
        "team": {"id": team, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [{"action_id": action_id, "block_id": block_id, **_element(value, chosen), "action_ts": action_ts}],
    }
    if view is not None:
        payload["view"] = dict(view)
    else:
        payload.update(channel={"id": channel, "name": channel_name}, response_url=response_url,
                       state={"values": {}})
    return payload


def _element(value: str | None, chosen: str | None) -> dict[str, Any]:
    """The clicked element as Slack describes it: a button's value, or an overflow menu's chosen option."""
    if chosen:
        return {"type": "overflow", "selected_option": {"text": {"type": "plain_text", "text": chosen},
                                                        "value": chosen}}
    return {"type": "button", "value": value}
