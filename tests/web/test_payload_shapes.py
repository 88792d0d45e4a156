"""Signed but mis-shaped payloads through the real ASGI app: 400 and one log line, never a 500.

A signature proves the sender knows the secret, not that the payload is one Slack would send: a leaked
secret, a test harness or a future Slack field must not reach Bolt's code that indexes blindly."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import pytest

from bot.dev import slack_requests
from tests.slack.harness import APP_ID, CHANNEL, TEAM, USER, SlackDriver

FORM = "application/x-www-form-urlencoded"
# A click as Slack publishes it, then mis-shaped key by key.
CLICK = slack_requests.button_click(team=TEAM, user=USER, action_id="clue_refresh", value="8", trigger_id="1.2.3",
                                    api_app_id=APP_ID, channel=CHANNEL, response_url=None)
EVENT = {"type": "event_callback", "team_id": TEAM, "api_app_id": "A0CLUE0001", "event_id": "Ev0SHAPE01"}


def click(**changes: object) -> str:
    return "payload=" + quote(json.dumps({**CLICK, **changes}))


def event(value: object) -> str:
    return json.dumps({**EVENT, "event": value})


MISSHAPEN = {
    "actions_object": (click(actions={}), FORM),  # Bolt reads actions[0]: KeyError, a 500 before
    "actions_empty": (click(actions=[]), FORM),  # IndexError, a 500 before
    "actions_string": (click(actions="clue_refresh"), FORM),
    "event_number": (event(5), "application/json"),  # "type" in 5: TypeError, a 500 before
    "event_string": (event("link_shared"), "application/json"),
    "event_list": (event([{"type": "link_shared"}]), "application/json"),
    "view_string": (click(type="view_submission", view="x"), FORM),
    "payload_list": ("payload=" + quote("[1, 2]"), FORM),
    "json_list": ("[]", "application/json"),
}


@pytest.mark.parametrize("name", list(MISSHAPEN))
async def test_misshapen_signed_payload_is_400_with_one_log_line(
        name: str, slack: SlackDriver, caplog: pytest.LogCaptureFixture) -> None:
    body, content_type = MISSHAPEN[name]
    with caplog.at_level(logging.INFO):
        response = await slack.post(body, content_type)
        await slack.drain()
    assert response.status_code == 400
    lines = [r for r in caplog.records if r.getMessage() == "slack.request.malformed"]
    assert len(lines) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(("body", "content_type"), [
    (click(actions=[{"action_id": "clue_refresh", "value": 5}]), FORM),
    (click(actions=[{"action_id": "clue_share"}]), FORM),
    (click(user="U0ALICE001"), FORM),
    (event({"type": "link_shared", "links": "x"}), "application/json"),
    (event({"type": "link_shared", "links": [{"url": 5}]}), "application/json"),
    (event({"type": "message", "text": 5}), "application/json"),
    (event({"type": "entity_details_requested", "trigger_id": "1.2.3", "link": "x", "external_ref": {"id": 5}}),
     "application/json"),
    (json.dumps({"type": "url_verification", "challenge": 5}), "application/json"),
    ("team_id=T0TEST0001&command=%2Fclue&text=a&text=b", FORM),
])
async def test_odd_but_well_shaped_payloads_never_500(slack: SlackDriver, body: str, content_type: str) -> None:
    response = await slack.post(body, content_type)
    await slack.drain()
    assert response.status_code < 500
