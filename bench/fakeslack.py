"""The fake Slack Web API of ``bot.dev.playground`` as a process of its own: ``python -m bench.fakeslack --port N``.

Answers clue bot's ``auth.test``, ``chat.unfurl`` and ``response_url`` posts on loopback. A separate
process keeps its work off the harness's event loop while the harness measures.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn

from bench.requests import CHANNEL
from bot.dev.playground.fake_slack import FakeSlackState, create_fake_slack, public_channel


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fakeslack")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # The bot is in the bench's channel, as in a workspace where it was added (conversations.info answers).
    state = FakeSlackState(conversations={CHANNEL: public_channel("bench")})
    uvicorn.run(create_fake_slack(state), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
