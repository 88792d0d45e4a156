"""Slack Connect through the real app: clicks and commands do not say whether a channel is shared with
another organisation (Slack's block_actions reference), so the app asks conversations.info and fails
closed when it cannot know."""

from __future__ import annotations

import json
import logging

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


@pytest.mark.parametrize(("channel", "name", "says"), [
    ("G0PRIVATE1", "privategroup", "the app is not in it"),
    ("D0DIRECT01", "directmessage", "can't see it"),
])
async def test_share_where_the_app_is_not_in_the_conversation_says_so(
        slack: SlackDriver, channel: str, name: str, says: str) -> None:
    # A bot token sees only conversations the app was added to: Slack (and the fake) answer channel_not_found.
    container = {"type": "message", "message_ts": "1700000000.000100", "channel_id": channel, "is_ephemeral": True}
    request, key = slack.click("clue_share", "8", container=container, channel=channel, channel_name=name)
    await slack.send(request)
    await slack.drain()
    [notice] = slack.fake.responses(key)  # still refused: nothing in the channel
    assert notice["response_type"] == "ephemeral"
    assert says in notice["text"]
    assert "share from a channel the app is in" in notice["text"].lower()
    assert "shared with another organisation" not in notice["text"]
    assert "Ask " not in notice["text"]  # not a matter of access


async def test_an_app_not_in_the_conversation_is_counted_but_no_warning(
        slack: SlackDriver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    slack.fake.errors["conversations.info"] = "channel_not_found"
    await slack.action("clue_share", "8")
    await slack.drain()
    [line] = [r for r in caplog.records if r.getMessage() == "slack.call.failed"]
    assert (line.levelno, line.error) == (logging.INFO, "channel_not_found")  # type: ignore[attr-defined]
    assert 'cluebot_slack_call_failures_total{method="conversations.info"} 1.0' in \
        (await slack.http.get("/metrics")).text


async def test_the_notice_speaks_the_clickers_language(slack: SlackDriver) -> None:
    slack.fake.errors["conversations.info"] = "channel_not_found"
    slack.fake.locales["U0ALICE001"] = "zh-CN"
    slack.instance.locales.get("U0ALICE001")
    await slack.drain()
    _, key = await slack.action("clue_share", "8")
    await slack.drain()
    assert "应用未加入此对话" in slack.fake.responses(key)[0]["text"]


async def test_a_refresh_of_a_preview_where_the_app_is_not_in_the_conversation_says_so(slack: SlackDriver) -> None:
    slack.fake.errors["conversations.info"] = "channel_not_found"
    _, key = await slack.action("clue_refresh", "8", container=UNFURL_CONTAINER)
    await slack.drain()
    assert slack.fake.api_calls("chat.unfurl") == []
    assert "the app is not in it" in slack.fake.responses(key)[0]["text"]
