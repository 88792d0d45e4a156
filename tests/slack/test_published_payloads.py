"""Slack's published interaction payloads (tests/fixtures/slack/), replayed through the real ASGI app.

Each fixture is sent as published, only its ids swapped for ours (workspace, person, conversation, our
action and callback ids and values): what it lacks (``api_app_id`` in a shortcut, ``channel`` and
``response_url`` in a modal, a plain user without ``team_id`` in a message shortcut) reaches the app lacking it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer, seed
from bot.slack import cards, modals, search_cards
from tests.slack.harness import CHANNEL, TEAM, USER, SlackDriver, running_app, slack_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"
ZHANG_SAN = seed.ZHANG_SEARCH_IDS[0]
CLUE_8 = "https://crm.example.com/clues/8"


def published(name: str, swaps: dict[str, Any]) -> Any:
    """The fixture ``name`` with every string equal to a key of ``swaps`` replaced by its value."""
    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return swaps.get(value, value) if isinstance(value, str) else value
    return swap(json.loads((FIXTURES / name).read_text()))


def ours(**more: Any) -> dict[str, Any]:
    """The published examples' workspaces, people and conversations, as ours."""
    ids = {team: TEAM for team in ("T111", "T123", "T0MJRM1A7")}
    ids.update({user: USER for user in ("U111", "U123", "W111", "U0D15K92L")})
    ids.update({"C111": CHANNEL, "A111": "A0CLUE0001", "A123": "A0CLUE0001"})
    return {**ids, **more}


def no_errors(caplog: pytest.LogCaptureFixture) -> bool:
    return not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_published_click_on_an_ephemeral_message(slack: SlackDriver) -> None:
    key, url = slack.response_url()
    payload = published("block-actions.message.json", ours(
        save=search_cards.ACTION_SHOW, **{"1": str(ZHANG_SAN), "https://hooks.slack.com/actions/T111/111/xxx": url}))
    response = await slack.interact(payload)
    await slack.drain()
    assert response.status_code == 200
    [card] = slack.fake.responses(key)
    assert card["response_type"] == "ephemeral" and "张三" in card["blocks"][0]["text"]["text"]


async def test_a_published_click_on_an_app_unfurl(slack: SlackDriver) -> None:
    urls = {"https://example.com/foo": CLUE_8, "https://hooks.slack.com/actions/T111/111/222": slack.response_url()[1]}
    payload = published("block-actions.app-unfurl.json", ours(a=cards.ACTION_REFRESH, clicked="8", **urls))
    await slack.interact(payload)
    await slack.drain()
    [call] = slack.fake.api_calls("chat.unfurl")
    assert list(call["unfurls"]) == [CLUE_8]


async def test_a_published_click_inside_a_view(slack: SlackDriver) -> None:
    """Load more in the follow-ups modal, sent as Slack sends a click in a view (its whole view, no channel)."""
    clue_id = seed.LONG_ID_CLUE_ID
    await slack.action(cards.ACTION_FOLLOW_UPS, str(clue_id))
    await slack.drain()
    held = slack.last_view()
    payload = published("block-actions.view.json", ours(home_button_1=modals.ACTION_LOAD_MORE,
                                                       create_task=f"{clue_id}:2"))
    payload["view"] = held
    payload["container"]["view_id"] = held["id"]
    await slack.interact(payload)
    await slack.drain()
    update = slack.fake.api_calls("views.update")[-1]
    assert update["view_id"] == held["id"] and update["hash"] == held["hash"]
    assert json.loads(update["view"]["private_metadata"])["channel"] == CHANNEL  # from our private_metadata


async def test_a_published_type_ahead(slack: SlackDriver) -> None:
    await slack.shortcut(search_cards.SHORTCUT_FIND)
    await slack.drain()
    payload = published("block-suggestion.json", ours(a=search_cards.ACTION_PICK, b=search_cards.BLOCK_PICK,
                                                      **{"This is a test": "张三"}))
    payload["view"] = slack.last_view()
    options = (await slack.interact(payload)).json()["options"]
    assert [o["value"] for o in options] == [str(ZHANG_SAN), str(seed.ZHANG_SEARCH_IDS[1])]


async def test_a_published_global_shortcut_from_a_grid_workspace_without_an_app_id(
        slack: SlackDriver, caplog: pytest.LogCaptureFixture) -> None:
    payload = published("shortcut.global.json", ours(**{"test-shortcut": search_cards.SHORTCUT_FIND}))
    assert "api_app_id" not in payload and payload["team"]["enterprise_id"] == "E111"
    response = await slack.interact(payload)
    await slack.drain()
    assert response.status_code == 200 and no_errors(caplog)
    [opened] = slack.fake.api_calls("views.open")
    assert opened["trigger_id"] == "111.111.xxxxxx" and opened["view"]["callback_id"] == search_cards.CALLBACK_FIND


async def test_a_grid_org_allowed_by_its_enterprise_id_may_use_the_published_shortcut(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    """Slack's published global shortcut names the org only in ``team.enterprise_id``."""
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, SLACK_ALLOWED_TEAM_IDS="E111")
    async with running_app(settings, state, url) as slack:
        await slack.interact(published("shortcut.global.json",
                                       ours(**{"test-shortcut": search_cards.SHORTCUT_FIND})))
        await slack.drain()
    [opened] = state.api_calls("views.open")
    assert "not allowed" not in json.dumps(opened["view"])
    assert opened["view"]["blocks"][0]["block_id"] == search_cards.BLOCK_PICK


@pytest.mark.parametrize("fixture", ["message-action.json", "view-submission.json"])
async def test_published_interactions_the_app_does_not_offer_are_answered_quietly(
        slack: SlackDriver, caplog: pytest.LogCaptureFixture, fixture: str) -> None:
    """A message shortcut or a modal submission (the app registers neither): never a 500, no traceback,
    nothing said to anyone."""
    response = await slack.interact(published(fixture, ours()))
    await slack.drain()
    assert response.status_code < 500 and no_errors(caplog)
    assert slack.fake.calls == []
