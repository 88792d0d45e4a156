"""The one payload builder has the keys of Slack's published payloads (tests/fixtures/slack/), no more, no fewer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.dev import slack_requests as sr

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"
SENDER = sr.Sender("T0TEST0001", "U0ALICE001", "A0CLUE0001")
GRID = sr.Sender("T0TEST0001", "U0ALICE001", "A0CLUE0001", enterprise=("E0GRID0001", "Acme Org"))
MODAL = sr.slack_view({"type": "modal", "callback_id": "clue_find", "blocks": []}, view_id="V0FIND0001",
                      team="T0TEST0001", api_app_id="A0CLUE0001", view_hash="h1")
MESSAGE = {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0SALES001", "is_ephemeral": True}
UNFURL = {"type": "message_attachment", "message_ts": "1700000000.000100", "attachment_id": 1,
          "channel_id": "C0SALES001", "is_ephemeral": False, "is_app_unfurl": True,
          "app_unfurl_url": "https://crm.example.com/clues/8"}
BUTTON = sr.button_element("clue_refresh", "8")


def shape(value: Any) -> Any:
    """The key structure of a payload: dicts as their keys with their sub-structures, lists by their first
    item; the app's own content (blocks, state values, text objects, which a view may leave null) left out:
    it is not Slack's shape."""
    if isinstance(value, dict) and value.get("type") in ("plain_text", "mrkdwn"):
        return None
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in ("blocks", "values", "style")}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


BUILT = {
    "block-actions.message.json": lambda: sr.message_actions(
        SENDER, BUTTON, trigger_id="1.2.3", channel="C0SALES001", container=MESSAGE, response_url="https://x/r"),
    "block-actions.app-unfurl.json": lambda: sr.message_actions(
        SENDER, BUTTON, trigger_id="1.2.3", channel="C0SALES001", container=UNFURL, response_url="https://x/r"),
    "block-actions.view.json": lambda: sr.view_actions(SENDER, BUTTON, trigger_id="1.2.3", view=MODAL),
    "block-suggestion.json": lambda: sr.block_suggestion(SENDER, action_id="a", block_id="b", value="张三",
                                                         view=MODAL),
    "shortcut.global.json": lambda: sr.global_shortcut(GRID, callback_id="clue_find_shortcut", trigger_id="1.2.3"),
    "message-action.json": lambda: sr.message_shortcut(
        SENDER, callback_id="c", trigger_id="1.2.3", channel="C0SALES001", channel_name="sales",
        message_ts="1700000000.000100", text="hi", author="U0BOB00001", response_url="https://x/r"),
    "view-submission.json": lambda: sr.view_submission(GRID, trigger_id="1.2.3", view=MODAL),
}


@pytest.mark.parametrize("fixture", sorted(BUILT))
def test_the_builder_has_the_published_key_set(fixture: str) -> None:
    published = json.loads((FIXTURES / fixture).read_text())
    assert shape(BUILT[fixture]()) == shape(published)


def test_every_interaction_fixture_has_a_builder() -> None:
    interactions = {p.name for p in FIXTURES.glob("*.json")
                    if json.loads(p.read_text()).get("type") in ("block_actions", "block_suggestion", "shortcut",
                                                                  "message_action", "view_submission")}
    assert interactions == set(BUILT)


def test_a_click_without_a_response_url_has_no_such_key() -> None:
    click = sr.message_actions(SENDER, BUTTON, trigger_id="1.2.3", channel=None, container={}, response_url=None)
    assert "response_url" not in click and "app_unfurl" not in click


def test_a_workspace_outside_a_grid_names_no_enterprise() -> None:
    assert sr.global_shortcut(SENDER, callback_id="c", trigger_id="1.2.3")["team"] == {"id": "T0TEST0001",
                                                                                       "domain": "acme"}
