"""The people scenarios: the real ASGI app on an SQLite file, the sandbox CRM and the fake Slack."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.compose import Clocks
from bot.dev import slack_requests
from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from bot.slack.people import People
from tests.slack.harness import SENDER, SlackDriver, running_app, slack_settings

ADMIN = "U0BOSS0001"
BOB = "U0BOB00001"
# get-users as a tenant that sends e-mail and mobile might (the vendor publishes only salesId and name)
EMPLOYEES = [
    {"salesId": "1001", "name": "张三", "email": "zhang.san@acme.cn", "mobile": "13800138000"},
    {"salesId": "1002", "name": "李四", "email": "li.si@acme.cn", "mobile": "13900139000"},
    {"salesId": "1003", "name": "王五", "mobile": "13900139000"},  # the same phone as 李四
]


class Monotonic:
    """The app's monotonic clock, moved on by the test (cache ages)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


def people_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'people.db'}", "CLUE_ALERT_POLL_SECONDS": "3600",
            "CLUE_ADMIN_USER_IDS": ADMIN, **extra}


@pytest.fixture
async def app(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], tmp_path: Path,
              monotonic: Monotonic) -> AsyncIterator[SlackDriver]:
    url, state = fake_slack
    sandbox.state.set_employees(EMPLOYEES)
    async with running_app(slack_settings(sandbox.url, url, **people_env(tmp_path)), state, url,
                           clocks=Clocks(monotonic=monotonic)) as driver:
        yield driver


def people(app: SlackDriver) -> People:
    found = app.instance.people
    assert found is not None
    return found


def profile(app: SlackDriver, user: str, **fields: Any) -> None:
    """What the fake Slack's users.info says of ``user``: ``tz`` and profile fields (email, phone)."""
    tz = fields.pop("tz", "UTC")
    app.fake.people[user] = {"tz": tz, "profile": fields}


def text_of(message: dict[str, Any]) -> str:
    """The text of every section and context of a message or view."""
    texts = [str(b.get("text", {}).get("text", "")) for b in message.get("blocks", ())]
    texts += [str(e.get("text", "")) for b in message.get("blocks", ()) if b["type"] == "context"
              for e in b["elements"]]
    return " ".join(texts)


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["action_id"], e["value"]) for b in message.get("blocks", ()) if b["type"] == "actions"
            for e in b["elements"]]


def select_in(view: dict[str, Any], action_id: str) -> tuple[str, dict[str, Any]]:
    """The block id and the static_select ``action_id`` of a view (Home's settings)."""
    for block in view["blocks"]:
        accessory = block.get("accessory") or {}
        if accessory.get("action_id") == action_id:
            return block["block_id"], accessory
    raise AssertionError(f"no select {action_id} in the view")


async def pick_in_home(app: SlackDriver, action_id: str, value: str) -> None:
    """The option ``value`` picked in the static_select ``action_id`` of the Home tab as the fake Slack holds it
    (block-actions.view.json: the whole view, no channel), then the app's tasks run (Home republished)."""
    view = app.last_view()
    block_id, select = select_in(view, action_id)
    offered = next((o for o in select["options"] if o["value"] == value), {"text": {"type": "plain_text",
                                                                                    "text": value}, "value": value})
    element = slack_requests.select_element(action_id, offered, block_id=block_id, kind="static_select")
    response = await app.interact(slack_requests.view_actions(SENDER, element, trigger_id="123.456.home", view=view))
    assert response.status_code == 200
    await app.drain()
