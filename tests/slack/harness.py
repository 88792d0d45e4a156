"""Drive the real ASGI app with correctly signed Slack requests (no verification is patched out)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette

from bot.compose import Clocks, Instance
from bot.config import Settings
from bot.dev import slack_requests
from bot.dev.playground.fake_slack import FakeSlackState, public_channel
from bot.web.app import create_web_app

SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-test-token-0123456789"
TEAM = "T0TEST0001"
USER = "U0ALICE001"
CHANNEL = "C0SALES001"
CLUE_URL = "https://crm.example.com/clues/{id}"
APP_ID = "A0CLUE0001"
SENDER = slack_requests.Sender(TEAM, USER, APP_ID)

_ids = itertools.count(1)


@dataclass
class SlackDriver:
    """Sends signed requests through the app; reads what the fake Slack received."""

    app: Starlette
    http: httpx.AsyncClient
    fake: FakeSlackState
    fake_url: str
    secret: str = SIGNING_SECRET

    @property
    def instance(self) -> Instance:
        instance: Instance = self.app.state.instance
        return instance

    async def drain(self) -> None:
        await self.instance.runner.drain(timeout=30)

    async def post(self, body: str, content_type: str, *, headers: Mapping[str, str] | None = None,
                   timestamp: int | None = None) -> httpx.Response:
        return await self.send(slack_requests.signed(self.secret, body.encode(), content_type, timestamp=timestamp),
                               headers=headers)

    async def send(self, request: slack_requests.SignedRequest, *,
                   headers: Mapping[str, str] | None = None) -> httpx.Response:
        return await self.http.post("/slack/events", content=request.body, headers={**request.headers,
                                                                                    **(headers or {})})

    def response_url(self) -> tuple[str, str]:
        key = f"r{next(_ids)}"
        return key, f"{self.fake_url}/response/{key}"

    async def command(self, text: str, *, user: str = USER, channel: str = CHANNEL, team: str = TEAM,
                      extra: Mapping[str, str] | None = None) -> tuple[httpx.Response, str]:
        key, url = self.response_url()
        form = {"token": "legacy", "team_id": team, "team_domain": "acme", "channel_id": channel,
                "channel_name": "sales", "user_id": user, "user_name": "alice", "command": "/clue",
                "text": text, "api_app_id": APP_ID, "response_url": url,
                "trigger_id": "123.456.abc", **(extra or {})}
        return await self.send(slack_requests.slash_command(self.secret, form)), key

    async def action(self, action_id: str, value: str, **options: Any) -> tuple[httpx.Response, str]:
        """A button click (``click`` names the options)."""
        request, key = self.click(action_id, value, **options)
        return await self.send(request), key

    def click(self, action_id: str, value: str, *, ephemeral: bool = True, user: str = USER,
              channel: str = CHANNEL, channel_name: str = "sales", container: Mapping[str, Any] | None = None,
              view: Mapping[str, Any] | None = None, response_url: str | None = "", overflow: bool = False,
              ) -> tuple[slack_requests.SignedRequest, str]:
        """A signed button click; with ``view`` (as the fake Slack holds it: ``held_view``), a click inside that
        modal (no channel, no response_url). ``response_url``: "" the fake Slack's, None none (a Work Object
        click), else that URL. With ``overflow``, the choice of the overflow menu ``action_id`` whose option has
        ``value``."""
        key, url = self.response_url()
        url = url if response_url == "" else response_url
        if view is None and container is None:
            container = {"type": "message", "message_ts": "1700000000.000100", "channel_id": channel,
                         "is_ephemeral": ephemeral}
        payload = slack_requests.button_click(
            team=TEAM, user=user, action_id=action_id, value=None if overflow else value, trigger_id="123.456.def",
            api_app_id=APP_ID, channel=channel, channel_name=channel_name, response_url=url,
            container=container, view=view, chosen=value if overflow else None)
        return slack_requests.interaction(self.secret, payload), key

    def held_view(self, view_id: str) -> dict[str, Any]:
        """A view the app opened or updated, as the fake Slack holds it (and sends it in clicks inside it)."""
        return self.fake.views[view_id]

    def last_view(self) -> dict[str, Any]:
        """The view the app opened, pushed or updated last, as the fake Slack holds it."""
        return list(self.fake.views.values())[-1]

    async def interact(self, payload: Mapping[str, Any]) -> httpx.Response:
        return await self.send(slack_requests.interaction(self.secret, payload))

    async def shortcut(self, callback_id: str, *, trigger_id: str = "123.456.cut") -> httpx.Response:
        """The global shortcut ``callback_id``, from the search bar: no conversation."""
        return await self.interact(slack_requests.global_shortcut(SENDER, callback_id=callback_id,
                                                                  trigger_id=trigger_id))

    async def suggest(self, view: Mapping[str, Any], action_id: str, block_id: str, value: str) -> httpx.Response:
        """A keystroke in the external_select ``action_id`` of ``view`` (as the fake Slack holds it)."""
        return await self.interact(slack_requests.block_suggestion(SENDER, action_id=action_id, block_id=block_id,
                                                                   value=value, view=view))

    async def pick(self, view: Mapping[str, Any], action_id: str, block_id: str,
                   option: Mapping[str, Any]) -> httpx.Response:
        """``option`` picked in the external_select ``action_id`` of ``view``."""
        element = slack_requests.select_element(action_id, option, block_id=block_id)
        return await self.interact(slack_requests.view_actions(SENDER, element, trigger_id="123.456.pick",
                                                               view=view))

    async def event(self, event: Mapping[str, Any], *, event_id: str | None = None, team: str = TEAM,
                    headers: Mapping[str, str] | None = None, **envelope: Any) -> httpx.Response:
        body = {"token": "legacy", "team_id": team, "api_app_id": APP_ID, "type": "event_callback",
                "event": dict(event), "event_id": event_id or f"Ev{next(_ids):08d}", "event_time": 1700000000,
                **envelope}
        return await self.send(slack_requests.event_callback(self.secret, body), headers=headers)


def fake_slack_state() -> FakeSlackState:
    """A fake Slack whose bot is in #sales (``CHANNEL``) and in no other conversation, as a bot token sees."""
    return FakeSlackState(conversations={CHANNEL: public_channel("sales")})


def slack_settings(sandbox_url: str, fake_url: str, **env: str) -> Settings:
    base = {
        "CRM_BASE_URL": sandbox_url, "CRM_APP_ID": "wwsandboxcorp0001_ClueBot",
        "CRM_APP_KEY": "sandbox-app-key-not-a-secret", "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake_url + "/api/",
        "CLUE_URL_TEMPLATE": CLUE_URL,
        "DATABASE_URL": "off",  # no alerts database unless a test asks for one (tests/alerts)
    }
    return Settings.from_env({**base, **env})


@asynccontextmanager
async def running_app(settings: Settings, fake: FakeSlackState, fake_url: str, *,
                      clocks: Clocks | None = None) -> Any:
    app = create_web_app(settings, clocks=clocks)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cluebot.test") as http:
            yield SlackDriver(app=app, http=http, fake=fake, fake_url=fake_url)

