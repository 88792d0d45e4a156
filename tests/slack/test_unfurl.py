"""link_shared through the real app: what chat.unfurl receives, and what it must not."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any, cast

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from bot.runtime.metrics import Metrics
from bot.slack.features.unfurls import UnfurlTarget, chat_unfurl
from bot.slack.webapi import SlackCalls
from tests.slack.harness import CHANNEL, SlackDriver, running_app, slack_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"  # Slack's published examples


def link_event(*urls: str, user: str = "U0ALICE001", **extra: Any) -> dict[str, Any]:
    return {"type": "link_shared", "channel": CHANNEL, "is_bot_user_member": True, "user": user,
            "message_ts": "1700000000.000100", "source": "conversations_history",
            "links": [{"domain": "crm.example.com", "url": u} for u in urls], **extra}


async def test_links_unfurl_keyed_by_the_exact_urls(slack: SlackDriver, sandbox: SandboxServer) -> None:
    urls = ["https://crm.example.com/clues/8", "https://crm.example.com/clues/12?tab=info&amp;x=1",
            "https://crm.example.com/other/3", "https://crm.example.com/clues/8"]
    response = await slack.event(link_event(*urls))
    assert response.status_code == 200
    await slack.drain()
    [call] = slack.fake.api_calls("chat.unfurl")
    assert (call["channel"], call["ts"]) == (CHANNEL, "1700000000.000100")
    assert set(call["unfurls"]) == {urls[0], urls[1]}  # exact strings, &amp; kept; no match for /other/
    unfurl = call["unfurls"][urls[0]]
    assert set(unfurl) == {"blocks"}
    assert all(b["type"] != "rich_text" for b in unfurl["blocks"])
    assert "145678388" not in json.dumps(unfurl)
    assert sandbox.state.stats().clue_gets == {8: 1, 12: 1}  # the duplicate link was fetched once


async def test_composer_preview_targets_unfurl_id(slack: SlackDriver) -> None:
    event = json.loads((FIXTURES / "link-shared.composer.event.json").read_text())["event"]
    event["links"] = [{"domain": "crm.example.com", "url": "https://crm.example.com/clues/8"}]
    await slack.event(event, is_ext_shared_channel=False)
    await slack.drain()
    [call] = slack.fake.api_calls("chat.unfurl")
    assert call["unfurl_id"] == event["unfurl_id"] and call["source"] == "composer"
    assert "channel" not in call and "ts" not in call


async def test_a_composer_preview_where_nobody_says_who_will_see_it_is_not_made(slack: SlackDriver,
                                                                              sandbox: SandboxServer) -> None:
    # Slack's published composer callback names no conversation ("COMPOSER") and carries no
    # is_ext_shared_channel: the preview could land in a Slack Connect channel, so none is made.
    body = json.loads((FIXTURES / "link-shared.composer.event.json").read_text())
    body["event"]["links"] = [{"domain": "crm.example.com", "url": "https://crm.example.com/clues/8"}]
    await slack.event(body["event"], event_id=body["event_id"])
    await slack.drain()
    assert slack.fake.api_calls("chat.unfurl") == [] and slack.fake.api_calls("conversations.info") == []
    assert sandbox.state.stats().calls == {}


async def test_composer_previews_are_made_where_the_operator_says_there_is_no_slack_connect(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    """CLUE_COMPOSER_PREVIEWS=true: the workspace has no Slack Connect channels, so Slack's published composer
    callback (no conversation, no shared flag) gets its preview, with phones masked like any preview."""
    url, state = fake_slack
    body = json.loads((FIXTURES / "link-shared.composer.event.json").read_text())
    body["event"]["links"] = [{"domain": "crm.example.com", "url": "https://crm.example.com/clues/8"}]
    async with running_app(slack_settings(sandbox.url, url, CLUE_COMPOSER_PREVIEWS="true"), state, url) as slack:
        await slack.event(body["event"], event_id=body["event_id"])
        await slack.drain()
        [call] = slack.fake.api_calls("chat.unfurl")
    assert call["unfurl_id"] == body["event"]["unfurl_id"] and call["source"] == "composer"
    assert "145678388" not in json.dumps(call) and state.api_calls("conversations.info") == []


async def test_an_event_without_the_shared_flag_asks_conversations_info(slack: SlackDriver) -> None:
    slack.fake.conversations[CHANNEL] = {"is_ext_shared": True}
    await slack.event(link_event("https://crm.example.com/clues/8"))  # no is_ext_shared_channel
    await slack.drain()
    await slack.event(link_event("https://crm.example.com/clues/12"))
    await slack.drain()
    assert slack.fake.api_calls("chat.unfurl") == []
    [asked] = slack.fake.api_calls("conversations.info")  # once: the answer is cached per channel
    assert asked["channel"] == CHANNEL


async def test_slack_published_event_with_no_clue_links_makes_no_call(slack: SlackDriver,
                                                                      sandbox: SandboxServer) -> None:
    body = json.loads((FIXTURES / "link-shared.event.json").read_text())
    response = await slack.event(body["event"], event_id=body["event_id"])
    assert response.status_code == 200
    await slack.drain()
    assert slack.fake.api_calls("chat.unfurl") == []
    assert sandbox.state.stats().calls == {}


async def test_why_a_link_got_no_preview_is_a_debug_line_keyed_by_the_event(
        slack: SlackDriver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    await slack.event(link_event("https://crm.example.com/other/3"), event_id="EvQUIET")
    await slack.drain()
    assert "unfurl.skipped" not in caplog.text  # at LOG_LEVEL INFO nothing per skipped link
    caplog.set_level(logging.DEBUG, logger="bot.slack.features.unfurls")  # what the playground does
    await slack.event(link_event("https://crm.example.com/other/3", "https://crm.example.com/clues/404"),
                      event_id="EvLOUD")
    await slack.drain()
    skipped = [(r.event_id, r.reason) for r in caplog.records if r.getMessage() == "unfurl.skipped"]
    assert skipped == [("EvLOUD", "not_a_clue_link"), ("EvLOUD", "not_found")]


async def test_retries_do_not_unfurl_twice(slack: SlackDriver, sandbox: SandboxServer) -> None:
    event = link_event("https://crm.example.com/clues/8")
    await slack.event(event, event_id="Ev0RETRY01")
    retry = await slack.event(event, event_id="Ev0RETRY01",
                              headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"})
    assert retry.status_code == 200
    await slack.drain()
    assert len(slack.fake.api_calls("chat.unfurl")) == 1
    assert sandbox.state.stats().clue_gets == {8: 1}


async def test_one_failing_link_does_not_sink_the_others(slack: SlackDriver, sandbox: SandboxServer) -> None:
    sandbox.state.set_fault(12, status=503)
    await slack.event(link_event("https://crm.example.com/clues/8", "https://crm.example.com/clues/12",
                                 "https://crm.example.com/clues/404"))
    await slack.drain()
    [call] = slack.fake.api_calls("chat.unfurl")
    assert list(call["unfurls"]) == ["https://crm.example.com/clues/8"]


async def test_the_ack_never_waits_for_the_crm(slack: SlackDriver, sandbox: SandboxServer) -> None:
    sandbox.state.set_fault(8, hang=True)
    response = await slack.event(link_event("https://crm.example.com/clues/8"))
    assert response.status_code == 200
    assert len(slack.instance.runner) == 1  # the lookup is still running, after the ack
    sandbox.state.clear_faults()
    await slack.drain()
    assert len(slack.fake.api_calls("chat.unfurl")) == 1


async def test_shared_channels_are_not_unfurled_by_default(slack: SlackDriver, sandbox: SandboxServer) -> None:
    await slack.event(link_event("https://crm.example.com/clues/8"), is_ext_shared_channel=True)
    await slack.drain()
    assert slack.fake.api_calls("chat.unfurl") == []
    assert sandbox.state.stats().calls == {}


async def test_chat_unfurl_errors_are_logged_not_raised(slack: SlackDriver) -> None:
    slack.fake.errors["chat.unfurl"] = "cannot_unfurl_url"
    response = await slack.event(link_event("https://crm.example.com/clues/8"))
    assert response.status_code == 200
    await slack.drain()
    assert len(slack.fake.api_calls("chat.unfurl")) == 1


async def test_unfurls_follow_the_lookup_allow_lists(sandbox: SandboxServer, fake_slack: tuple[str, Any]) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CLUE_ALLOWED_USER_IDS="U0ALICE001")
    async with running_app(settings, state, url) as slack:
        await slack.event(link_event("https://crm.example.com/clues/8", user="U0MALLORY1"))
        await slack.drain()
        assert slack.fake.api_calls("chat.unfurl") == []
        assert sandbox.state.stats().calls == {}
        await slack.event(link_event("https://crm.example.com/clues/8"))  # Alice may
        await slack.drain()
        assert len(slack.fake.api_calls("chat.unfurl")) == 1


async def test_unfurl_calls_in_flight_are_bounded() -> None:
    """One CRM answer wakes every message waiting on that clue: their chat.unfurl calls go a few at a time."""
    in_flight = peak = 0
    release = asyncio.Event()

    class SlowSlack:  # stands in for Slack's Web API client: holds each call until released
        async def chat_unfurl(self, **_: Any) -> dict[str, Any]:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await release.wait()
            in_flight -= 1
            return {"ok": True}

    calls = SlackCalls(Metrics(), max_unfurls=3)
    client = cast(AsyncWebClient, SlowSlack())
    sends = [asyncio.ensure_future(chat_unfurl(client, UnfurlTarget(channel=CHANNEL, ts=f"1.{i}"), {"u": {}}, calls))
             for i in range(10)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert peak == 3
    release.set()
    await asyncio.gather(*sends)
    assert peak == 3 and in_flight == 0


async def test_a_link_flood_on_a_slow_slack_holds_up_no_answer_people_wait_for(slack: SlackDriver) -> None:
    """Previews have a lane of their own (#25 item 2): 110 link posts, each by another person within their
    own limit, while Slack sits on every chat.unfurl; a Refresh click is answered while no preview has gone
    out yet. Before, previews shared the answers' lane (100 at a time): the click waited behind them."""
    slack.fake.latency["chat.unfurl"] = 10.0  # no preview completes while the click is answered
    await slack.command("8")  # the clue (and the conversation) cached: the previews need no CRM call
    for n in range(110):
        await slack.event(link_event("https://crm.example.com/clues/8", user=f"U0POST{n:04d}",
                                     message_ts=f"1700000000.{n:06d}"))
    _, key = await slack.action("clue_refresh", "8")
    async with asyncio.timeout(8):  # a bound, not a measure: before, the click waited 10 s for a preview
        while not slack.fake.responses(key):  # noqa: ASYNC110 - the fake Slack (a thread) has no event to await
            await asyncio.sleep(0.02)
    assert "打马赛克就" in slack.fake.responses(key)[0]["text"]
    started = len(slack.fake.api_calls("chat.unfurl"))
    assert 0 < started <= 8  # previews are on their way, 8 at a time, and none has come back
    await slack.instance.runner.drain(timeout=0.1)  # the rest are cancelled, not waited for
