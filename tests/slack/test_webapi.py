"""Calls to Slack through the real app: rate limits waited out, failures logged and counted, a quiet start."""

from __future__ import annotations

import logging

import pytest
from slack_sdk.errors import SlackRequestError

from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from bot.errors import SlackCallFailed
from bot.runtime.metrics import Metrics
from bot.slack import search_cards
from bot.slack.webapi import SlackCalls, web_client
from tests.slack.harness import SlackDriver, running_app, slack_settings
from tests.slack.test_unfurl import link_event

CLUE_8 = "https://crm.example.com/clues/8"


async def test_a_429_on_chat_unfurl_waits_retry_after_and_retries(slack: SlackDriver) -> None:
    slack.fake.rate_limited["chat.unfurl"] = 1  # HTTP 429, Retry-After: 0, once
    await slack.event(link_event(CLUE_8))
    await slack.drain()
    first, second = slack.fake.api_calls("chat.unfurl")
    assert first == second  # the same unfurl, sent again after the wait
    assert slack.fake.rate_limited["chat.unfurl"] == 0


async def test_a_429_on_a_listener_client_is_retried_too(slack: SlackDriver) -> None:
    # Refresh of an unfurl calls chat.unfurl through Bolt's per-request client, not ours.
    slack.fake.rate_limited["chat.unfurl"] = 1
    container = {"type": "message_attachment", "message_ts": "1700000000.000100", "channel_id": "C0SALES001",
                 "is_ephemeral": False, "is_app_unfurl": True, "app_unfurl_url": CLUE_8}
    await slack.action("clue_refresh", "8", container=container)
    await slack.drain()
    assert len(slack.fake.api_calls("chat.unfurl")) == 2


async def test_a_web_api_error_is_logged_with_its_code_and_counted(slack: SlackDriver,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    slack.fake.errors["chat.unfurl"] = "cannot_unfurl_url"
    await slack.event(link_event(CLUE_8))
    await slack.drain()
    [line] = [r for r in caplog.records if r.getMessage() == "slack.call.failed"]
    assert (line.method, line.error) == ("chat.unfurl", "cannot_unfurl_url")  # type: ignore[attr-defined]
    metrics = (await slack.http.get("/metrics")).text
    assert 'cluebot_slack_call_failures_total{method="chat.unfurl"} 1.0' in metrics


async def test_a_refused_response_url_post_is_logged_without_the_url_and_counted(
        slack: SlackDriver, caplog: pytest.LogCaptureFixture) -> None:
    key, _ = slack.response_url()  # the key the next request will get
    next_key = f"r{int(key[1:]) + 1}"
    slack.fake.response_errors[next_key] = "expired_url"
    _, used = await slack.action("clue_refresh", "8")
    assert used == next_key
    await slack.drain()
    [line] = [r for r in caplog.records if r.getMessage() == "slack.call.failed"]
    assert (line.method, line.error) == ("response_url", "expired_url")  # type: ignore[attr-defined]
    assert "/response/" not in caplog.text
    metrics = (await slack.http.get("/metrics")).text
    assert 'cluebot_slack_call_failures_total{method="response_url"} 1.0' in metrics


async def test_start_up_does_not_warn_that_the_token_is_unused(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token-0123456789")  # as in production: Bolt reads it too
    caplog.set_level(logging.DEBUG)
    url, state = fake_slack
    async with running_app(slack_settings(sandbox.url, url), state, url) as driver:
        assert (await driver.command("8"))[0].status_code == 200
    assert "will be unused" not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("slack_bolt") and r.levelno >= logging.WARNING]


def failures(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, int | None]]:
    return [(r.method, r.error, r.status) for r in caplog.records  # type: ignore[attr-defined]
            if r.getMessage() == "slack.call.failed"]


async def test_an_html_answer_is_logged_once_with_its_http_status_and_counted(
        slack: SlackDriver, caplog: pytest.LogCaptureFixture) -> None:
    # A proxy's error page in place of Slack's JSON: slack_sdk's error carries no code ("None" before).
    slack.fake.html_errors["views.open"] = 502
    await slack.action(search_cards.ACTION_FIND, "find")  # the listener's own client opens the modal
    await slack.drain()
    assert failures(caplog) == [("views.open", "http_502", 502)]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # the task ended quietly
    metrics = (await slack.http.get("/metrics")).text
    assert 'cluebot_slack_call_failures_total{method="views.open"} 1.0' in metrics


@pytest.mark.parametrize(("method", "click"), [("views.open", "clue_details"), ("views.update", "clue_follow_ups")])
async def test_every_methods_failure_is_counted_once(slack: SlackDriver, caplog: pytest.LogCaptureFixture,
                                                     method: str, click: str) -> None:
    slack.fake.errors[method] = "expired_trigger_id" if method == "views.open" else "hash_conflict"
    await slack.action(click, "8")
    await slack.drain()
    assert failures(caplog) == [(method, slack.fake.errors[method], 200)]
    metrics = (await slack.http.get("/metrics")).text
    assert f'cluebot_slack_call_failures_total{{method="{method}"}} 1.0' in metrics


async def test_a_programming_error_is_not_reported_as_a_slack_failure(fake_slack: tuple[str, FakeSlackState]) -> None:
    url, state = fake_slack
    metrics = Metrics()
    client = web_client(url + "/api/", SlackCalls(metrics), "xoxb-test")
    with pytest.raises(SlackRequestError):  # JSON in a GET: slack_sdk refuses it before sending
        await client.api_call("views.open", http_verb="GET", json={"trigger_id": "1"})
    assert b"cluebot_slack_call_failures_total{" not in metrics.render()
    assert state.api_calls("views.open") == []


async def test_an_unreachable_slack_is_a_failure_named_by_the_transport(
        fake_slack: tuple[str, FakeSlackState], caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    client = web_client("http://127.0.0.1:9/api/", SlackCalls(metrics), "xoxb-test")  # nothing listens there
    client.retry_handlers = []
    with pytest.raises(SlackCallFailed) as failed:
        await client.users_info(user="U1")
    assert (failed.value.method, failed.value.status) == ("users.info", None)
    assert failures(caplog) == [("users.info", failed.value.error, None)]
    assert 'cluebot_slack_call_failures_total{method="users.info"} 1.0' in metrics.render().decode()


# Work Object buttons (in a preview or the flexpane): Slack publishes no full payload, and a click may come
# without a response_url and without container.is_app_unfurl.
WORK_OBJECT_CONTAINERS = [
    {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0SALES001", "is_ephemeral": False},
    {"type": "message_attachment", "message_ts": "1700000000.000100", "channel_id": "C0SALES001"},
    {},
]


@pytest.mark.parametrize("container", WORK_OBJECT_CONTAINERS)
async def test_a_work_object_refresh_without_a_response_url_re_presents_the_pane(
        slack: SlackDriver, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture,
        container: dict[str, object]) -> None:
    await slack.command("8")  # cached: Refresh must read again
    response, _ = await slack.action("clue_refresh", "8", container=container, response_url=None)
    await slack.drain()
    assert response.status_code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert sandbox.state.stats().clue_gets == {8: 2}
    [pane] = slack.fake.api_calls("entity.presentDetails")
    assert pane["trigger_id"] == "123.456.def"  # the click's own
    assert pane["metadata"]["external_ref"]["id"] == "8"
    assert slack.fake.responses() == []


@pytest.mark.parametrize("container", WORK_OBJECT_CONTAINERS)
async def test_a_click_without_a_response_url_ends_without_a_traceback(
        slack: SlackDriver, caplog: pytest.LogCaptureFixture, container: dict[str, object]) -> None:
    caplog.set_level(logging.INFO)
    response, _ = await slack.action("clue_share", "8", container=container, response_url=None)
    await slack.drain()
    assert response.status_code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r for r in caplog.records if r.getMessage() == "slack.respond.unavailable"]
    assert slack.fake.responses() == []
