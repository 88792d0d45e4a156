"""The door every Slack request passes after Bolt's signature check, through the real app: a response_url only
on Slack's hosts, a replayed click handled once, every interaction counted by kind and outcome."""

from __future__ import annotations

import logging

import pytest

from bot.dev import slack_requests
from bot.dev.sandbox import SandboxServer
from bot.slack.inbound import response_origins
from tests.slack.harness import TEAM, USER, SlackDriver


def metric(text: str, kind: str, outcome: str) -> str | None:
    prefix = f'cluebot_interactions_total{{kind="{kind}",outcome="{outcome}"}} '
    return next((line.removeprefix(prefix) for line in text.splitlines() if line.startswith(prefix)), None)


async def test_a_click_with_a_response_url_off_slacks_hosts_is_not_handled(
        slack: SlackDriver, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    response, _ = await slack.action("clue_share", "8", ephemeral=True,
                                     response_url="https://attacker.example/hooks/T0/1/x")
    await slack.drain()
    assert (response.status_code, response.text) == (200, "")
    assert slack.fake.calls == []  # no conversations.info, and nothing posted anywhere
    assert sandbox.state.stats().calls == {}
    metrics = (await slack.http.get("/metrics")).text
    assert metric(metrics, "action", "foreign_response_url") == "1.0"
    [line] = [r for r in caplog.records if r.getMessage() == "slack.interaction.halted"]  # one line
    assert (line.kind, line.outcome) == ("action", "foreign_response_url")  # type: ignore[attr-defined]
    assert "attacker" not in caplog.text  # the URL is a credential: never logged


@pytest.mark.parametrize("url", ["http://hooks.slack.com/commands/T0/1/x",  # not https
                                 "https://hooks.slack.com.attacker.example/commands/T0/1/x",
                                 "https://hooks.slack.com:8443/commands/T0/1/x", "hooks.slack.com/commands/1",
                                 "https://hooks.slack.com@attacker.example/commands/T0/1/x"])
async def test_a_command_with_a_lookalike_response_url_gets_no_card(slack: SlackDriver, url: str) -> None:
    response, _ = await slack.command("8", extra={"response_url": url})
    assert (response.status_code, response.text) == (200, "")


async def test_slacks_own_hooks_host_is_accepted(slack: SlackDriver) -> None:
    response, _ = await slack.command("8", extra={"response_url": "https://hooks.slack.com/commands/T0/1/x"})
    assert "Clue" in response.text or "线索" in response.text
    assert response.json()["blocks"]


def test_the_web_api_host_is_trusted_only_when_it_is_not_slacks() -> None:
    assert response_origins("https://slack.com/api/") == {("https", "hooks.slack.com", 443)}
    assert response_origins("http://127.0.0.1:8080/api/") == {("https", "hooks.slack.com", 443),
                                                             ("http", "127.0.0.1", 8080)}


async def test_a_replayed_share_click_posts_once(slack: SlackDriver, sandbox: SandboxServer) -> None:
    request, key = slack.click("clue_share", "8")
    first = await slack.send(request)
    await slack.drain()
    again = await slack.send(request)  # the same signed bytes, within Slack's five minutes
    await slack.drain()
    assert (first.status_code, again.status_code, again.text) == (200, 200, "")
    assert [r["response_type"] for r in slack.fake.responses(key) if "response_type" in r] == ["in_channel"]
    metrics = (await slack.http.get("/metrics")).text
    assert (metric(metrics, "action", "accepted"), metric(metrics, "action", "replayed")) == ("1.0", "1.0")


async def test_the_same_click_signed_again_is_a_new_request(slack: SlackDriver) -> None:
    # Slack signs each delivery afresh: the same body at another second is not a replay of the first.
    payload_request, key = slack.click("clue_refresh", "8")
    body = payload_request.body.decode()
    await slack.post(body, slack_requests.FORM, timestamp=int(payload_request.headers["x-slack-request-timestamp"]))
    await slack.post(body, slack_requests.FORM,
                     timestamp=int(payload_request.headers["x-slack-request-timestamp"]) - 1)
    await slack.drain()
    assert len(slack.fake.responses(key)) == 2


async def test_commands_and_events_are_counted_as_accepted(slack: SlackDriver) -> None:
    await slack.command("8")
    await slack.event({"type": "link_shared", "channel": "C0SALES001", "user": USER, "message_ts": "1.2",
                       "links": []}, team=TEAM)
    metrics = (await slack.http.get("/metrics")).text
    assert (metric(metrics, "command", "accepted"), metric(metrics, "event", "accepted")) == ("1.0", "1.0")
