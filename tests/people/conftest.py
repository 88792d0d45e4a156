"""The people scenarios: the real ASGI app on an SQLite file, the sandbox CRM and the fake Slack."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from bot.slack.people import People
from tests.slack.harness import SlackDriver, running_app, slack_settings

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
async def app(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState],
              tmp_path: Path) -> AsyncIterator[SlackDriver]:
    url, state = fake_slack
    sandbox.state.set_employees(EMPLOYEES)
    async with running_app(slack_settings(sandbox.url, url, **people_env(tmp_path)), state, url) as driver:
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
