"""The development entry point's app: clue bot with the playground, a fake Slack and the sandbox CRM.

Starting the sandbox CRM (when ``CRM_BASE_URL`` is unset) and the fake Slack Web API is an explicit
step here, in the app's lifespan before the instance is built; both stop when the app does. The
instance itself is built exactly as in production, from settings that point at them: with the sandbox,
a ``CLUE_URL_TEMPLATE`` left at its default becomes the sandbox's own clue page, so Open in CRM works
and links to it unfurl.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from contextlib import AsyncExitStack

import httpx
from starlette.applications import Starlette

from bot.compose import Clocks
from bot.config import Settings
from bot.dev.loopback import LoopbackServer
from bot.dev.playground.fake_slack import FakeSlackState, create_fake_slack, public_channel
from bot.dev.playground.page import CHANNEL_ID, CHANNEL_NAME, VIEWERS, PlaygroundContext, playground_routes
from bot.dev.playground.skips import UnfurlSkips
from bot.runtime.secret import Secret
from bot.web.app import create_web_app

log = logging.getLogger(__name__)

CLUE_PAGE = "/clues/{id}"  # the sandbox CRM's web page of a clue (bot.dev.sandbox.page)
PLAYGROUND_EMAIL = "you@playground.test"  # every viewer's Slack e-mail, and 张三's in the sandbox's get-users
PLAYGROUND_BOT_TOKEN = "xoxb-playground-not-a-real-token"  # noqa: S105 - the fake Slack accepts anything


def create_playground_app(settings: Settings, *, clocks: Clocks | None = None,
                          freeze_gc_after_start: bool = False) -> Starlette:
    """The app with the playground page; Slack is the fake one, the CRM the sandbox unless configured."""
    signing_secret = secrets.token_hex(16)  # per process; only the playground page signs with it
    settings = dataclasses.replace(settings, slack_bot_token=Secret(PLAYGROUND_BOT_TOKEN),
                                   slack_signing_secret=Secret(signing_secret), slack_app_token=None,
                                   # The sandbox CRM pushes edits to the page's app ("CRM pushes an edit").
                                   crm_push_enabled=settings.crm_push_enabled or settings.uses_sandbox_crm)
    holder: list[PlaygroundContext] = []

    async def prepare(settings: Settings, stack: AsyncExitStack) -> Settings:
        sandbox_origin = None
        if settings.crm_base_url is None:
            from bot.dev.sandbox import seed
            from bot.dev.sandbox.server import SandboxServer

            sandbox = SandboxServer().start()
            stack.callback(sandbox.stop)
            sandbox_origin = sandbox.origin
            settings = dataclasses.replace(settings, crm_base_url=sandbox.url)
            # A tenant whose get-users sends e-mails (unpublished: see README): every viewer is 张三, so
            # /clue me finds them, and /clue mine, Home and the nudge show 张三's clues.
            sandbox.state.set_employees([{**e, "email": PLAYGROUND_EMAIL} if e["salesId"] == "1001" else e
                                         for e in seed.EMPLOYEES])
            if settings.clue_url_template == Settings.clue_url_template:
                # Open in CRM lands on the sandbox's page of the clue, and links to it unfurl; a template the
                # visitor set is kept.
                settings = dataclasses.replace(settings, clue_url_template=sandbox.origin + CLUE_PAGE)
            log.info("sandbox.started", extra={"url": sandbox.url})
        # One Slack user per language the app speaks: users.info answers each one's locale.
        fake_state = FakeSlackState(locales={viewer.user_id: viewer.slack_locale for viewer in VIEWERS.values()},
                                    conversations={CHANNEL_ID: public_channel(CHANNEL_NAME)},
                                    people={viewer.user_id: {"tz": "Asia/Shanghai",
                                                             "profile": {"email": PLAYGROUND_EMAIL}}
                                            for viewer in VIEWERS.values()})
        fake = LoopbackServer(create_fake_slack(fake_state)).start()
        stack.callback(fake.stop)
        sandbox_http = None
        if sandbox_origin is not None:
            sandbox_http = httpx.AsyncClient(base_url=sandbox_origin, timeout=5, trust_env=False)
            stack.push_async_callback(sandbox_http.aclose)
        skips = stack.enter_context(UnfurlSkips())
        holder[:] = [PlaygroundContext(fake=fake_state, fake_url=fake.url, signing_secret=signing_secret,
                                       bind_host=settings.host, clue_url_template=settings.clue_url_template,
                                       sandbox_origin=sandbox_origin, sandbox_http=sandbox_http, skips=skips)]
        return dataclasses.replace(settings, slack_api_url=fake.url + "/api/")

    return create_web_app(settings, clocks=clocks, prepare=prepare, freeze_gc_after_start=freeze_gc_after_start,
                          extra_routes=playground_routes(lambda: holder[0]))
