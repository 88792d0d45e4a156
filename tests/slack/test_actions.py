"""Card buttons through the real app: Refresh, Share, Reveal, Open, and untrusted values."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from bot.slack import app as slack_app
from tests.slack.harness import CHANNEL, USER, SlackDriver, running_app, slack_settings


async def test_refresh_refetches_and_replaces_the_card(slack: SlackDriver, sandbox: SandboxServer) -> None:
    await slack.command("8")
    sandbox.state.update_clue(8, name="新名字")
    response, key = await slack.action("clue_refresh", "8")
    assert response.status_code == 200
    await slack.drain()
    [posted] = slack.fake.responses(key)
    assert posted["replace_original"] is True
    assert "新名字" in posted["text"]
    assert sandbox.state.stats().clue_gets == {8: 2}  # the cache was bypassed
    # ... and updated: the next /clue shows the new name without another CRM call.
    assert "新名字" in (await slack.command("8"))[0].json()["text"]
    assert sandbox.state.stats().clue_gets == {8: 2}


async def test_share_posts_in_channel_masked_and_deletes_the_ephemeral(slack: SlackDriver) -> None:
    response, key = await slack.action("clue_share", "8")
    assert response.status_code == 200
    await slack.drain()
    shared, deleted = slack.fake.responses(key)
    assert shared["response_type"] == "in_channel"
    assert shared["replace_original"] is False
    rendered = json.dumps(shared, ensure_ascii=False)
    assert f"<@{USER}>" in rendered  # attributed to the sharer
    assert "145678388" not in rendered  # others see a masked phone
    assert "clue_share" not in rendered and "clue_reveal_phone" not in rendered
    assert deleted["delete_original"] is True


async def test_reveal_shows_the_phone_to_the_clicker_and_audits(slack: SlackDriver,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    first = (await slack.command("8"))[0].json()
    assert "145678388" not in json.dumps(first)
    caplog.set_level(logging.INFO)
    _, key = await slack.action("clue_reveal_phone", "8")
    await slack.drain()
    [posted] = slack.fake.responses(key)
    assert posted["replace_original"] is True and posted["response_type"] == "ephemeral"
    assert "145678388" in json.dumps(posted)
    [audit] = [r for r in caplog.records if r.getMessage() == "audit.phone.revealed"]
    assert (audit.user, audit.clue_id, audit.channel) == (USER, 8, CHANNEL)  # type: ignore[attr-defined]
    assert "145678388" not in caplog.text


async def test_reveal_is_refused_on_a_shared_card(slack: SlackDriver) -> None:
    _, key = await slack.action("clue_reveal_phone", "8", ephemeral=False)
    await slack.drain()
    assert slack.fake.responses(key) == []


async def test_refresh_of_an_unfurl_updates_it_with_chat_unfurl(slack: SlackDriver, sandbox: SandboxServer) -> None:
    url = "https://crm.example.com/clues/8"
    container = {"type": "message_attachment", "message_ts": "1700000000.000100", "channel_id": CHANNEL,
                 "is_ephemeral": False, "is_app_unfurl": True, "app_unfurl_url": url}
    sandbox.state.update_clue(8, name="Renamed")
    response, key = await slack.action("clue_refresh", "8", container=container)
    assert response.status_code == 200
    await slack.drain()
    [call] = slack.fake.api_calls("chat.unfurl")
    assert (call["channel"], call["ts"]) == (CHANNEL, "1700000000.000100")
    assert list(call["unfurls"]) == [url]
    assert "Renamed" in json.dumps(call["unfurls"][url])
    assert slack.fake.responses(key) == []


@pytest.mark.parametrize("value", ["", "abc", "-1", "8 OR 1=1", "9" * 30, "<!channel>"])
async def test_untrusted_button_values_do_nothing(slack: SlackDriver, sandbox: SandboxServer, value: str) -> None:
    response, key = await slack.action("clue_refresh", value)
    assert response.status_code == 200
    await slack.drain()
    assert slack.fake.responses(key) == []
    assert sandbox.state.stats().calls == {}


async def test_open_and_unknown_actions_are_acked_quietly(slack: SlackDriver) -> None:
    opened, _ = await slack.action("clue_open", "8")
    unknown, _ = await slack.action("something_else", "8")
    assert (opened.status_code, unknown.status_code) == (200, 200)
    assert unknown.text == ""


async def test_every_button_a_card_renders_is_bound_by_its_feature(slack: SlackDriver,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Each feature binds its own listeners (``register(app)``): no button reaches Bolt's unhandled path."""
    caplog.set_level(logging.INFO)
    for action_id in slack_app.ACTIONS:
        response, _ = await slack.action(action_id, "8")
        assert response.status_code == 200, action_id
    await slack.drain()
    assert [r for r in caplog.records if r.getMessage() == "slack.request.unhandled"] == []
    await slack.action("something_else", "8")
    assert [r.getMessage() for r in caplog.records].count("slack.request.unhandled") == 1  # the check can fail


UNFURL_CONTAINER = {"type": "message_attachment", "message_ts": "1700000000.000100", "channel_id": CHANNEL,
                    "is_ephemeral": False, "is_app_unfurl": True, "app_unfurl_url": "https://crm.example.com/clues/8"}


async def test_refresh_of_an_unfurl_tells_the_clicker_when_the_crm_fails(slack: SlackDriver,
                                                                        sandbox: SandboxServer) -> None:
    sandbox.state.set_fault(8, status=503)
    _, key = await slack.action("clue_refresh", "8", container=UNFURL_CONTAINER)
    await slack.drain()
    [notice] = slack.fake.responses(key)  # the click's response_url (Slack's unfurling guide)
    assert notice["response_type"] == "ephemeral" and notice["replace_original"] is False
    assert "not responding" in notice["text"].lower()
    assert slack.fake.api_calls("chat.unfurl") == []


async def test_refresh_of_an_unfurl_tells_the_clicker_when_refused(sandbox: SandboxServer,
                                                                  fake_slack: tuple[str, FakeSlackState]) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CLUE_UNFURL_CHANNEL_IDS="C0OTHER001")
    async with running_app(settings, state, url) as slack:
        _, key = await slack.action("clue_refresh", "8", container=UNFURL_CONTAINER)
        await slack.drain()
        [notice] = slack.fake.responses(key)
        assert notice["response_type"] == "ephemeral" and notice["replace_original"] is False
        assert "link previews are off in this channel" in notice["text"]
        assert slack.fake.api_calls("chat.unfurl") == [] and sandbox.state.stats().calls == {}


async def test_refresh_of_a_shared_card_keeps_who_shared_it(slack: SlackDriver, sandbox: SandboxServer) -> None:
    _, share_key = await slack.action("clue_share", "8")
    await slack.drain()
    shared = slack.fake.responses(share_key)[0]
    sandbox.state.update_clue(8, name="Renamed")
    _, key = await slack.action("clue_more", _menu(shared)["clue_refresh"], ephemeral=False, user="U0BOB00001",
                                overflow=True)
    await slack.drain()
    [posted] = slack.fake.responses(key)
    assert "Renamed" in posted["text"]
    assert f"Shared by <@{USER}>" in json.dumps(posted, ensure_ascii=False)  # the sharer, not the clicker
    assert "U0BOB00001" not in json.dumps(posted)


async def test_a_shared_card_speaks_its_sharers_language_even_after_anothers_refresh(slack: SlackDriver) -> None:
    """A Chinese-speaking sharer posts a Chinese card (not the workspace default, English), and a Refresh
    by someone whose Slack speaks English keeps it Chinese: one language per card."""
    slack.fake.locales[USER] = "zh-CN"
    slack.instance.locales.get(USER)  # the sharer's locale, looked up as their first request would
    await slack.drain()
    _, share_key = await slack.action("clue_share", "8")
    await slack.drain()
    shared = slack.fake.responses(share_key)[0]
    assert shared["response_type"] == "in_channel"
    assert "阶段" in json.dumps(shared, ensure_ascii=False) and "Stage" not in json.dumps(shared)
    _, key = await slack.action("clue_more", _menu(shared)["clue_refresh"], ephemeral=False, user="U0BOB00001",
                                overflow=True)
    await slack.drain()
    [posted] = slack.fake.responses(key)
    assert "阶段" in json.dumps(posted, ensure_ascii=False) and "Stage" not in json.dumps(posted)


@pytest.mark.parametrize("value", ["8:", "8:<!channel>", "8:U0ALICE001:x", "8:u0alice001", ":U0ALICE001"])
async def test_a_forged_sharer_in_a_refresh_value_does_nothing(slack: SlackDriver, sandbox: SandboxServer,
                                                               value: str) -> None:
    _, key = await slack.action("clue_refresh", value, ephemeral=False)
    await slack.drain()
    assert slack.fake.responses(key) == []
    assert sandbox.state.stats().calls == {}


def _menu(card: dict[str, Any]) -> dict[str, str]:
    """The card's overflow menu as {action id: option value}."""
    [actions] = [b for b in card["blocks"] if b["type"] == "actions"]
    [overflow] = [e for e in actions["elements"] if e["type"] == "overflow"]
    assert overflow["action_id"] == "clue_more"
    return {o["value"].split("=")[0]: o["value"] for o in overflow["options"]}


async def test_the_cards_overflow_menu_refreshes_shares_and_reveals(slack: SlackDriver, sandbox: SandboxServer,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """#21.6: Refresh, Share and Reveal live in the card's overflow menu; each option's value is dispatched
    to the same listener as the button it replaces."""
    menu = _menu((await slack.command("8"))[0].json())
    assert list(menu) == ["clue_refresh", "clue_share", "clue_reveal_phone"]
    sandbox.state.update_clue(8, name="新名字")
    _, key = await slack.action("clue_more", menu["clue_refresh"], overflow=True)
    await slack.drain()
    [refreshed] = slack.fake.responses(key)
    assert refreshed["replace_original"] is True and "新名字" in refreshed["text"]
    assert sandbox.state.stats().clue_gets == {8: 2}
    caplog.set_level(logging.INFO)
    _, key = await slack.action("clue_more", menu["clue_reveal_phone"], overflow=True)
    await slack.drain()
    [revealed] = slack.fake.responses(key)
    assert "145678388" in json.dumps(revealed)
    assert [r.getMessage() for r in caplog.records].count("audit.phone.revealed") == 1
    _, key = await slack.action("clue_more", menu["clue_share"], overflow=True)
    await slack.drain()
    shared, deleted = slack.fake.responses(key)
    assert shared["response_type"] == "in_channel" and deleted["delete_original"] is True
    assert "145678388" not in json.dumps(shared)
    assert list(_menu(shared)) == ["clue_refresh"]  # a shared card: Refresh only, keeping who shared it
    assert _menu(shared)["clue_refresh"] == f"clue_refresh=8:{USER}"


@pytest.mark.parametrize("value", ["clue_open=8", "clue_refresh", "8", "clue_refresh=<!here>", "clue_share=8:U0X<",
                                   "=8", "clue_more=8"])
async def test_a_forged_overflow_choice_does_nothing(slack: SlackDriver, sandbox: SandboxServer, value: str) -> None:
    response, key = await slack.action("clue_more", value, overflow=True)
    assert response.status_code == 200
    await slack.drain()
    assert slack.fake.responses(key) == []
    assert sandbox.state.stats().clue_gets == {}

