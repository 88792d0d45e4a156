"""The HTTP edge: signatures, url_verification, junk, sizes, health and metrics."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.config import Settings
from bot.dev import slack_requests
from bot.dev.sandbox import SandboxServer
from bot.web.app import create_web_app
from tests.slack.harness import SlackDriver, running_app, slack_settings


async def test_url_verification(slack: SlackDriver) -> None:
    body = json.dumps({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"})
    response = await slack.post(body, "application/json")
    assert response.status_code == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in response.text


def command_body() -> str:
    return urlencode({"command": "/clue", "text": "8", "user_id": "U0ALICE001", "team_id": "T0TEST0001",
                      "channel_id": "C0SALES001", "response_url": "http://127.0.0.1:9/response/x"})


async def test_forged_signature_is_rejected_without_work(slack: SlackDriver, sandbox: SandboxServer) -> None:
    body = command_body()
    headers = slack_requests.signed(slack.secret, body.encode(), slack_requests.FORM).headers
    headers["x-slack-signature"] = "v0=" + "0" * 64
    response = await slack.http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    assert sandbox.state.stats().calls == {}


@pytest.mark.parametrize("age", [301, -301, 3600])
async def test_stale_signature_is_rejected(slack: SlackDriver, sandbox: SandboxServer, age: int) -> None:
    response = await slack.post(command_body(), "application/x-www-form-urlencoded",
                                timestamp=int(time.time()) - age)
    assert response.status_code == 401
    assert sandbox.state.stats().calls == {}


async def test_missing_signature_headers(slack: SlackDriver) -> None:
    response = await slack.http.post("/slack/events", content=command_body(),
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 401


async def test_oversized_body_is_refused(slack: SlackDriver) -> None:
    response = await slack.post("text=" + "x" * 600_000, "application/x-www-form-urlencoded")
    assert response.status_code == 413


@pytest.mark.parametrize(("body", "content_type"), [
    ("payload=not-json", "application/x-www-form-urlencoded"),
    ('payload={"type":"mystery"}', "application/x-www-form-urlencoded"),
    ("{not json", "application/json"),
    ('{"type":"event_callback","event":{"type":"app_mention"}}', "application/json"),
    ("command=%2Funknown&text=8", "application/x-www-form-urlencoded"),
    ("", "application/x-www-form-urlencoded"),
])
async def test_junk_payloads_never_500(slack: SlackDriver, body: str, content_type: str) -> None:
    response = await slack.post(body, content_type)
    assert response.status_code in (200, 400, 404)
    assert "Traceback" not in response.text


async def test_health_ready_and_metrics(slack: SlackDriver) -> None:
    await slack.command("8")
    await slack.command("8")  # the fast path counts too
    assert (await slack.http.get("/healthz")).json() == {"status": "ok"}
    ready = await slack.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["crm_circuit"] == "closed"
    metrics = (await slack.http.get("/metrics")).text
    assert 'cluebot_slack_ack_seconds_count{kind="command"} 2.0' in metrics
    assert 'cluebot_cache_total{result="miss"} 1.0' in metrics
    assert 'cluebot_cache_total{result="hit"} 1.0' in metrics
    assert 'cluebot_lookups_total{outcome="ok"} 2.0' in metrics


@pytest.mark.parametrize(("client", "env", "status"), [
    ("203.0.113.7", {}, 404),  # anyone, once the app binds 0.0.0.0: the metrics are not there
    ("10.1.2.3", {"METRICS_ALLOWED_NETWORKS": "127.0.0.0/8,10.0.0.0/8"}, 200),  # the Prometheus network
    ("127.0.0.1", {"TRUSTED_PROXIES": "127.0.0.1"}, 404),  # through a proxy on this host: the real client
])
async def test_metrics_are_only_for_the_allowed_networks(sandbox: SandboxServer,
                                                         fake_slack: tuple[str, Any], client: str,
                                                         env: dict[str, str], status: int) -> None:
    app = create_web_app(slack_settings(sandbox.url, fake_slack[0], **env))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://cluebot.test") as http:
            response = await http.get("/metrics", headers={"x-forwarded-for": "198.51.100.9"})
    assert response.status_code == status
    assert ("cluebot_" in response.text) is (status == 200)


async def test_a_cached_card_is_acked_as_json_like_a_fresh_one(slack: SlackDriver) -> None:
    fresh, _ = await slack.command("8")
    cached, _ = await slack.command("8")  # the fast path: a prebuilt body returned as the ack
    for response in (fresh, cached):
        assert response.headers["content-type"] == "application/json;charset=utf-8"
        assert response.json()["response_type"] == "ephemeral"
    assert cached.json() == fresh.json()


async def test_no_web_api_call_before_the_first_ack(slack: SlackDriver) -> None:
    # No auth.test round trip on the request path: a slow or unreachable Web API cannot block acks.
    response, _ = await slack.command("8")
    assert response.status_code == 200 and "打马赛克就" in response.json()["text"]
    assert slack.fake.api_calls("auth.test") == []


async def test_socket_mode_without_a_signing_secret_serves_no_http_events() -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_APP_TOKEN": "xapp-1-2-3"})
    app = create_web_app(settings)  # lifespan not started: nothing connects to Slack
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cluebot.test") as http:
        response = await http.post("/slack/events", content=command_body(),
                                   headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 404


async def test_ready_while_the_crm_breaker_is_open(sandbox: SandboxServer, fake_slack: tuple[str, Any]) -> None:
    # Issue #13 item 9: the instance still answers Slack (stale cards, clear notices), so it stays ready.
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CRM_BREAKER_FAILURES="1", CRM_BREAKER_COOLDOWN_SECONDS="600")
    async with running_app(settings, state, url) as slack:
        sandbox.state.set_fault(8, status=503)
        answer = (await slack.command("8"))[0].json()
        assert "not responding" in answer["text"].lower() or "unavailable" in answer["text"].lower()
        assert slack.instance.crm.breaker_state == "open"
        ready = await slack.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "crm_circuit": "open",
                                "body_slots": {"lent": 0, "of": 64, "saturated": False}}
        assert "cluebot_crm_circuit_open 1.0" in (await slack.http.get("/metrics")).text
        assert (await slack.command("9"))[0].status_code == 200  # and it answers Slack


async def test_not_ready_before_the_instance_is_built() -> None:
    app = create_web_app(Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_SIGNING_SECRET": "s" * 32}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cluebot.test") as http:
        response = await http.get("/readyz")  # lifespan not started
    assert (response.status_code, response.json()) == (503, {"ready": False})
