"""Slack Connect through the real app: clicks and commands do not say whether a channel is shared with
another organisation (Slack's block_actions reference), so the app asks conversations.info and fails
closed when it cannot know."""

from __future__ import annotations

import json

import pytest

from bot.dev.sandbox import SandboxServer
from tests.slack.harness import CHANNEL, SlackDriver

UNFURL_CONTAINER = {"type": "message_attachment", "message_ts": "1700000000.000100", "channel_id": CHANNEL,
                    "is_ephemeral": False, "is_app_unfurl": True, "app_unfurl_url": "https://crm.example.com/clues/8"}


def buttons(message: dict[str, object]) -> set[str]:
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    elements = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    # The overflow menu's choices count as the buttons they stand for (value "<action id>=<button value>").
    menu = {o["value"].split("=")[0] for e in elements for o in e.get("options", ())}
    return {e["action_id"] for e in elements} | menu


async def test_share_in_a_slack_connect_channel_is_refused(slack: SlackDriver, sandbox: SandboxServer) -> None:
    slack.fake.conversations[CHANNEL] = {"is_ext_shared": True}
    card = (await slack.command("8"))[0].json()
    assert "clue_share" not in buttons(card)
    _, key = await slack.action("clue_share", "8")  # a Slack-shaped click: no is_ext_shared_channel
    await slack.drain()
    [notice] = slack.fake.responses(key)
    assert notice["response_type"] == "ephemeral"
    assert "this channel is shared with another organisation" in notice["text"]
    assert "打马赛克就" not in json.dumps(notice, ensure_ascii=False)
    assert len(slack.fake.api_calls("conversations.info")) == 1  # cached per channel


@pytest.mark.parametrize("answer", ["error", "no_field"])
async def test_share_fails_closed_when_slack_will_not_say(slack: SlackDriver, answer: str) -> None:
    if answer == "error":
        slack.fake.errors["conversations.info"] = "missing_scope"
    else:
        slack.fake.conversations[CHANNEL] = {"is_ext_shared": None}
    card = (await slack.command("8"))[0].json()
    assert "clue_share" not in buttons(card)
    _, key = await slack.action("clue_share", "8")
    await slack.drain()
    assert [r for r in slack.fake.responses(key) if r.get("response_type") == "in_channel"] == []
    assert "shared with another organisation" in slack.fake.responses(key)[0]["text"]


async def test_share_in_a_plain_channel_is_offered_and_works(slack: SlackDriver) -> None:
    card = (await slack.command("8"))[0].json()
    assert "clue_share" in buttons(card)
    _, key = await slack.action("clue_share", "8")
    await slack.drain()
    assert slack.fake.responses(key)[0]["response_type"] == "in_channel"
    assert len(slack.fake.api_calls("conversations.info")) == 1


async def test_refresh_of_an_unfurl_in_a_slack_connect_channel_is_refused(slack: SlackDriver,
                                                                         sandbox: SandboxServer) -> None:
    slack.fake.conversations[CHANNEL] = {"is_ext_shared": True}
    _, key = await slack.action("clue_refresh", "8", container=UNFURL_CONTAINER)
    await slack.drain()
    assert slack.fake.api_calls("chat.unfurl") == []
    assert "shared with another organisation" in slack.fake.responses(key)[0]["text"]
    assert sandbox.state.stats().calls == {}
