"""The baselines: bare Bolt ``AsyncApp``s on clue bot's server stack whose ``/clue`` acks a static block.

``fast`` (``process_before_response=True``, as clue bot) is the fastest a Bolt app on Starlette + uvicorn
can answer; ``defaults`` (``process_before_response=False``) shows Bolt's ack polling for context.
Both read the same environment as clue bot (``SLACK_SIGNING_SECRET``, ``SLACK_BOT_TOKEN``,
``SLACK_API_URL``) and run under the same uvicorn settings as ``python -m bot serve``, with the same
``--loop`` and ``--http`` choices.

``python -m bench.baseline {fast,defaults} --port N [--loop auto|uvloop|asyncio] [--http auto|httptools|h11]``
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MODES = {"fast": True, "defaults": False}  # mode -> process_before_response
STATIC_ANSWER: dict[str, Any] = {
    "response_type": "ephemeral",
    "text": "Clue 8",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Clue 8*"}}],
}


def create_baseline(*, process_before_response: bool, signing_secret: str, token: str,
                    slack_api_url: str) -> Starlette:
    """The bare app: one ``/clue`` listener, nothing else, behind ``AsyncSlackRequestHandler``."""
    app = AsyncApp(client=AsyncWebClient(token=token, base_url=slack_api_url), signing_secret=signing_secret,
                   process_before_response=process_before_response)

    async def clue(ack: Callable[..., Awaitable[Any]]) -> None:
        await ack(**STATIC_ANSWER)

    app.command("/clue")(clue)
    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"])])


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
                          token=os.environ["SLACK_BOT_TOKEN"], slack_api_url=os.environ["SLACK_API_URL"])
    # The same uvicorn settings as bot/__main__.py _serve: one worker, same loop and HTTP parser, same log
    # level, no access log.
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop=args.loop, http=args.http, log_level="warning",
                access_log=False, proxy_headers=True, timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
