"""/clue through the real ASGI app with signed requests, the sandbox CRM and a fake Slack."""

from __future__ import annotations

import json

from bot.sandbox import SandboxServer
from tests.slack.harness import SlackDriver


async def test_clue_answers_with_the_card_in_the_ack(slack: SlackDriver, sandbox: SandboxServer) -> None:
    response, key = await slack.command("8")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "打马赛克就" in body["text"]
    assert body["blocks"][0]["type"] in ("header", "context")
    text = json.dumps(body, ensure_ascii=False)
    assert "145678388" not in text or "145**" in text
    await slack.drain()
    assert slack.fake.responses(key) == []
