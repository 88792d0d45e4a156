"""The baselines: bare Bolt ``AsyncApp``s on clue bot's server stack, the floors clue bot is read against.

``fast`` (``process_before_response=True``, as clue bot) is the fastest a Bolt app on Starlette + uvicorn
can answer: its ``/clue`` acks a static block. ``defaults`` (``process_before_response=False``) shows
Bolt's ack polling for context. ``crm`` is the least a CRM-backed Bolt app does on a cache miss: one
signed clue/get on one keep-alive ``aiohttp.ClientSession`` (the cheapest client per call), ``json.loads``
of the answer and an ack naming the clue; no cache, no retry, no guard. Every mode has a ``link_shared``
listener that does nothing, so Bolt's own cost of hearing an event is measured too.
All read the same environment as clue bot (``SLACK_SIGNING_SECRET``, ``SLACK_BOT_TOKEN``,
``SLACK_API_URL``; ``crm`` also ``CRM_BASE_URL``, signing with the sandbox's app id and key) and run
under the same uvicorn settings as ``python -m bot serve``, with the same ``--loop`` and ``--http`` choices.

``python -m bench.baseline {crm,defaults,fast} --port N [--loop auto|uvloop|asyncio] [--http auto|httptools|h11]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.requests import crm_headers
from bot.crm.client import CLUE_GET, encode_body

MODES = {"fast": True, "defaults": False, "crm": True}  # mode -> process_before_response
STATIC_ANSWER: dict[str, Any] = {
    "response_type": "ephemeral",
    "text": "Clue 8",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Clue 8*"}}],
}


def create_baseline(*, process_before_response: bool, signing_secret: str, token: str,
                    slack_api_url: str, crm_base_url: str | None = None) -> Starlette:
    """The bare app behind ``AsyncSlackRequestHandler``: a ``/clue`` listener (static, or one CRM read when
    ``crm_base_url`` is given) and a ``link_shared`` listener that does nothing."""
    app = AsyncApp(client=AsyncWebClient(token=token, base_url=slack_api_url), signing_secret=signing_secret,
                   process_before_response=process_before_response)
    # aiohttp, one keep-alive session: the least CPU per request of the well-kept async clients (httpx's
    # own pool costs ~3x more per call), so no CRM-backed Bolt app does less.
    crm_url = f"{crm_base_url.rstrip('/')}{CLUE_GET}" if crm_base_url else None
    sessions: list[aiohttp.ClientSession] = []  # opened inside the running loop, on first use

    async def static_clue(ack: Callable[..., Awaitable[Any]]) -> None:
        await ack(**STATIC_ANSWER)

    async def crm_clue(ack: Callable[..., Awaitable[Any]], command: dict[str, Any]) -> None:
        assert crm_url is not None
        if not sessions:
            sessions.append(aiohttp.ClientSession(trust_env=False))
        body = encode_body({"customerId": int(command["text"])})
        async with sessions[0].post(crm_url, data=body, headers=crm_headers(body)) as response:
            fields = json.loads(await response.read())["data"]["fields"]
        name = next(f["valueAsText"] for f in fields if f["field"] == "name") or f"Clue {command['text']}"
        await ack(response_type="ephemeral", text=name,
                  blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": f"*{name}*"}}])

    async def link_shared() -> None:
        """Heard, nothing more: Bolt acks the event once this returns."""

    app.command("/clue")(crm_clue if crm_url else static_clue)
    app.event("link_shared")(link_shared)
    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        for session in sessions:
            await session.close()

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"])], lifespan=lifespan)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    parser.add_argument("--http", choices=("auto", "httptools", "h11"), default="auto")
    args = parser.parse_args(argv)
    level = os.environ.get("LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level)
    app = create_baseline(process_before_response=MODES[args.mode],
                          signing_secret=os.environ["SLACK_SIGNING_SECRET"],
                          token=os.environ["SLACK_BOT_TOKEN"], slack_api_url=os.environ["SLACK_API_URL"],
                          crm_base_url=os.environ["CRM_BASE_URL"] if args.mode == "crm" else None)
    # The same uvicorn settings as bot/__main__.py _serve: one worker, same loop and HTTP parser, same log
    # level, no access log.
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop=args.loop, http=args.http, log_level="warning",
                access_log=False, proxy_headers=True, timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
