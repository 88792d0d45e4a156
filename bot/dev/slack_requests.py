"""Signed Slack requests, built as Slack builds them: one builder for the playground, tests and bench.

Slack signs ``v0:{timestamp}:{body}`` with HMAC-SHA256 keyed by the app's signing secret and sends
the exact body bytes it signed; apps refuse timestamps more than five minutes off, so build requests
right before sending them.

Every interaction payload here has the keys of a payload Slack published (its SDKs' test fixtures, copied
under ``tests/fixtures/slack/`` with their sources; ``tests/dev/test_slack_requests.py`` checks the key sets
match), and no key Slack's example lacks: a payload that lacks something the app reads (no ``api_app_id``
in a shortcut, no ``channel`` nor ``response_url`` in a modal) reaches the app without it, as from Slack.
The fixtures are not shipped with the package, so the shapes live here as code.
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
BOT_ID = "B0CLUEBOT"  # the bot user's id in the views Slack hands back
ACTION_TS = "1700000001.000200"


@dataclass(frozen=True)
class SignedRequest:
    """The exact body bytes and the headers Slack would send with them."""

    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Sender:
    """Who interacts, in which workspace, with which app (``verification``: the deprecated token Slack
    still sends; ``enterprise``: (id, name) of an Enterprise Grid org, which Slack puts in ``team``)."""

    team: str
    user: str
    api_app_id: str
    team_domain: str = "acme"
    user_name: str = "alice"
    verification: str = "legacy"
    enterprise: tuple[str, str] | None = None

    def team_object(self) -> dict[str, Any]:
        team: dict[str, Any] = {"id": self.team, "domain": self.team_domain}
        if self.enterprise is not None:
            team.update(enterprise_id=self.enterprise[0], enterprise_name=self.enterprise[1])
        return team

    def user_object(self) -> dict[str, Any]:
        return {"id": self.user, "username": self.user_name, "name": self.user_name, "team_id": self.team}


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


# ------------------------------------------------------------------ views, as Slack hands them back


def slack_view(view: Mapping[str, Any], *, view_id: str, team: str, api_app_id: str, view_hash: str,
               values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``view`` (what the app sent to views.open / views.update) as Slack carries it in views.open's answer and
    in every payload from inside it (block-actions.view.json, block-suggestion.json): ids, hash, state, and
    empty defaults for what the app left out."""
    return {
        "id": view_id, "team_id": team, "type": view.get("type", "modal"), "blocks": list(view.get("blocks", ())),
        "private_metadata": view.get("private_metadata", ""), "callback_id": view.get("callback_id", ""),
        "state": {"values": dict(values or {})}, "hash": view_hash, "title": view.get("title"),
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "close": view.get("close"), "submit": view.get("submit"), "previous_view_id": None,
        "root_view_id": view_id, "app_id": api_app_id, "external_id": view.get("external_id", ""),
        "app_installed_team_id": team, "bot_id": BOT_ID,
    }


# ------------------------------------------------------------------ block_actions


def button_element(action_id: str, value: str | None, *, block_id: str | None = "clue_actions",
                   label: str | None = None, action_ts: str = ACTION_TS) -> dict[str, Any]:
    """A clicked button as ``actions[]`` carries it (block-actions.message.json)."""
    return {"action_id": action_id, "block_id": block_id,
            "text": {"type": "plain_text", "text": label or action_id, "emoji": True},
            "value": value, "type": "button", "action_ts": action_ts}


def overflow_element(action_id: str, chosen: str, *, block_id: str | None = "clue_actions",
                     action_ts: str = ACTION_TS) -> dict[str, Any]:
    """An overflow menu's choice: Slack sends the ``selected_option``, no ``value`` (block_actions reference)."""
    return {"action_id": action_id, "block_id": block_id, "type": "overflow",
            "selected_option": {"text": {"type": "plain_text", "text": chosen}, "value": chosen},
            "action_ts": action_ts}


def select_element(action_id: str, option: Mapping[str, Any], *, block_id: str | None,
                   action_ts: str = ACTION_TS, kind: str = "external_select") -> dict[str, Any]:
    """A select's pick (``kind``: external_select, static_select): the option as the app offered it
    (block-actions.message.json's ``state``)."""
    return {"action_id": action_id, "block_id": block_id, "type": kind,
            "selected_option": dict(option), "action_ts": action_ts}


def message_actions(sender: Sender, element: Mapping[str, Any], *, trigger_id: str, channel: str | None,
                    container: Mapping[str, Any], channel_name: str = "sales",
                    response_url: str | None) -> dict[str, Any]:
    """A click on a message (block-actions.message.json); on an app unfurl (``container.is_app_unfurl``), with
    the unfurl Slack adds (block-actions.app-unfurl.json). ``response_url`` None: a click Slack sends without
    one (a Work Object's button), the key left out as Slack leaves it."""
    payload: dict[str, Any] = {
        "type": "block_actions", "user": sender.user_object(), "api_app_id": sender.api_app_id,
        "token": sender.verification, "container": dict(container), "trigger_id": trigger_id,
        "team": sender.team_object(), "channel": {"id": channel, "name": channel_name}, "state": {"values": {}},
        "actions": [dict(element)],
    }
    if response_url is not None:
        payload["response_url"] = response_url
    if container.get("is_app_unfurl"):
        payload["is_enterprise_install"] = sender.enterprise is not None
        payload["app_unfurl"] = {"id": container.get("attachment_id", 1), "blocks": [],
                                 "fallback": "[no preview available]", "bot_id": BOT_ID,
                                 "app_unfurl_url": container.get("app_unfurl_url"), "is_app_unfurl": True,
                                 "app_id": sender.api_app_id}
    return payload


def view_actions(sender: Sender, element: Mapping[str, Any], *, trigger_id: str,
                 view: Mapping[str, Any]) -> dict[str, Any]:
    """A click inside a view (block-actions.view.json): the whole view, no channel, no response_url.
    ``view``: as Slack carries it (``slack_view``)."""
    return {"type": "block_actions", "team": sender.team_object(), "user": sender.user_object(),
            "api_app_id": sender.api_app_id, "token": sender.verification,
            "container": {"type": "view", "view_id": view.get("id")}, "trigger_id": trigger_id,
            "view": dict(view), "actions": [dict(element)]}


def button_click(*, team: str, user: str, action_id: str, value: str | None, trigger_id: str, api_app_id: str,
                 channel: str | None = None, response_url: str | None = None,
                 container: Mapping[str, Any] | None = None, view: Mapping[str, Any] | None = None,
                 team_domain: str = "acme", user_name: str = "alice", channel_name: str = "sales",
                 verification: str = "legacy", block_id: str | None = "clue_actions",
                 action_ts: str = ACTION_TS, chosen: str | None = None) -> dict[str, Any]:
    """One button click (``chosen``: the value of the option picked in an overflow menu instead): inside
    ``view`` (as Slack carries it) or on a message (``container``; an ephemeral one in ``channel`` by default)."""
    sender = Sender(team, user, api_app_id, team_domain, user_name, verification)
    element = (overflow_element(action_id, chosen, block_id=block_id, action_ts=action_ts) if chosen
               else button_element(action_id, value, block_id=block_id, action_ts=action_ts))
    if view is not None:
        return view_actions(sender, element, trigger_id=trigger_id, view=view)
    if container is None:
        container = {"type": "message", "message_ts": "1700000000.000100", "channel_id": channel,
                     "is_ephemeral": True}
    return message_actions(sender, element, trigger_id=trigger_id, channel=channel, container=container,
                           channel_name=channel_name, response_url=response_url)


# ------------------------------------------------------------------ type-ahead, shortcuts, submissions


def block_suggestion(sender: Sender, *, action_id: str, block_id: str, value: str,
                     view: Mapping[str, Any]) -> dict[str, Any]:
    """An external_select's type-ahead (block-suggestion.json): the view, no channel, no trigger_id."""
    return {"type": "block_suggestion", "user": sender.user_object(),
            "container": {"type": "view", "view_id": view.get("id")}, "api_app_id": sender.api_app_id,
            "token": sender.verification, "action_id": action_id, "block_id": block_id, "value": value,
            "team": sender.team_object(), "view": dict(view)}


def global_shortcut(sender: Sender, *, callback_id: str, trigger_id: str,
                    action_ts: str = ACTION_TS) -> dict[str, Any]:
    """A global shortcut (shortcut.global.json): no conversation, no response_url, and no ``api_app_id``."""
    return {"type": "shortcut", "token": sender.verification, "action_ts": action_ts, "team": sender.team_object(),
            "user": {"id": sender.user, "username": sender.user_name, "team_id": sender.team},
            "callback_id": callback_id, "trigger_id": trigger_id}


def message_shortcut(sender: Sender, *, callback_id: str, trigger_id: str, channel: str, channel_name: str,
                     message_ts: str, text: str, author: str, response_url: str) -> dict[str, Any]:
    """A message shortcut (message-action.json): the conversation and the message; no ``api_app_id``."""
    return {"token": sender.verification, "callback_id": callback_id, "type": "message_action",
            "trigger_id": trigger_id, "response_url": response_url, "team": sender.team_object(),
            "channel": {"id": channel, "name": channel_name}, "user": {"id": sender.user, "name": sender.user_name},
            "message": {"type": "message", "user": author, "ts": message_ts, "text": text}}


def view_submission(sender: Sender, *, trigger_id: str, view: Mapping[str, Any]) -> dict[str, Any]:
    """A modal submitted (view-submission.json): the view with its ``state``; ``response_urls`` empty unless
    the modal asked for them."""
    return {"type": "view_submission", "team": sender.team_object(), "user": sender.user_object(),
            "api_app_id": sender.api_app_id, "token": sender.verification, "trigger_id": trigger_id,
            "view": dict(view), "response_urls": []}
