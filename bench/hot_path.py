"""CPU per request of a cache hit and a cache miss, in process: clue bot's ASGI app against the bare Bolt app.

```sh
.venv/bin/python -m bench.hot_path                      # 5 alternating rounds of 1,500 hits and 300 misses
.venv/bin/python -m bench.hot_path --profile miss       # and where a miss spends it (cProfile, cumulative)
```

Both apps are called directly with the same signed ``/clue`` request (no sockets, no load generator, no
server), so this is the apps' own CPU (``time.process_time``), steady however busy the machine is; the
minimum over rounds is reported. A hit is ``/clue 8`` from a warm cache; a miss is ``/clue <id>`` over the
seed ids on an instance without a clue cache (follow-ups cached, as in ``make bench``'s cache_miss),
against the sandbox CRM (no added latency, its own process): the CRM request's client side included.
The loop is uvloop when installed, as when serving. ``make bench`` gives the served numbers;
this says where they come from.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bench import requests as rq
from bench import scenarios as sc
from bench.baseline import create_baseline
from bench.procs import Procs
from bot.config import SANDBOX_APP_KEY, Settings
from bot.dev import slack_requests
from bot.web.app import create_web_app

App = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]],
                Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]
NO_CLUE_CACHE = {"CLUE_CACHE_TTL_SECONDS": "0", "CLUE_REVALIDATE_SECONDS": "0", "CLUE_NEGATIVE_TTL_SECONDS": "0"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hot_path", description=__doc__.split("\n")[0])
    parser.add_argument("--hits", type=int, default=1500, help="hits per round (default 1500)")
    parser.add_argument("--misses", type=int, default=300, help="misses per round (default 300)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", choices=("hit", "miss"), help="print clue bot's cProfile of one more round")
    parser.add_argument("--sort", choices=("cumulative", "tottime"), default="cumulative",
                        help="order of the profile (default cumulative)")
    args = parser.parse_args(argv)
    plan = sc.Plan.build(quick=True, driver="python", duration=None, crm_latency_ms=0)
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as logs, Procs(Path(logs), pin=False) as procs:
        bench = sc.Bench(plan, procs)
        try:
            bench.start_helpers()
            print(_run(_measure(bench, args.hits, args.misses, args.rounds, args.profile, args.sort)))
        finally:
            bench.close()
    return 0


def _run(work: Coroutine[Any, Any, str]) -> str:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    return uvloop.run(work)


async def _measure(bench: sc.Bench, hits: int, misses: int, rounds: int, profile: str | None,
                   sort: str = "cumulative") -> str:
    env = {**bench.slack_env(), **bench.bot_settings(), "CRM_APP_KEY": SANDBOX_APP_KEY}
    baseline = create_baseline(process_before_response=True, signing_secret=bench.secret, token=bench.bot_token,
                               slack_api_url=env["SLACK_API_URL"])
    hit_app = create_web_app(Settings.from_env(env))
    miss_app = create_web_app(Settings.from_env({**env, **NO_CLUE_CACHE}))
    ids = itertools.cycle(str(i) for i in sc.SEED_IDS)
    async with _running(hit_app), _running(miss_app):
        def hit() -> slack_requests.SignedRequest:
            return _command(bench, str(sc.HIT_ID))

        def miss() -> slack_requests.SignedRequest:
            return _command(bench, next(ids))

        for app, make in ((baseline, hit), (hit_app, hit), (miss_app, miss)):  # warm: imports, caches, pools
            await _cpu_per_request(app, [make() for _ in range(50)])
        best = {"baseline": float("inf"), "hit": float("inf"), "miss": float("inf")}
        for _ in range(rounds):
            best["baseline"] = min(best["baseline"], await _cpu_per_request(baseline, [hit() for _ in range(hits)]))
            best["hit"] = min(best["hit"], await _cpu_per_request(hit_app, [hit() for _ in range(hits)]))
            best["miss"] = min(best["miss"], await _cpu_per_request(miss_app, [miss() for _ in range(misses)]))
        lines = [f"CPU per request, min of {rounds} round(s): bare Bolt app {best['baseline']:.0f} µs; "
                 f"clue bot cache hit {best['hit']:.0f} µs ({best['hit'] / best['baseline']:.2f}×); "
                 f"cache miss {best['miss']:.0f} µs (CRM request included, CRM itself not)"]
        if profile:
            app, make, count = (hit_app, hit, hits) if profile == "hit" else (miss_app, miss, misses)
            requests = [make() for _ in range(count)]
            profiler = cProfile.Profile()
            profiler.enable()
            await _cpu_per_request(app, requests)
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stdout).sort_stats(sort).print_stats(40)
    return "\n".join(lines)


def _command(bench: sc.Bench, text: str) -> slack_requests.SignedRequest:
    form = {"token": "legacy-bench-token", "team_id": rq.TEAM, "team_domain": "bench", "channel_id": rq.CHANNEL,
            "channel_name": "bench", "user_id": rq.USER, "user_name": "bench", "command": "/clue", "text": text,
            "api_app_id": rq.APP_ID, "is_enterprise_install": "false", "response_url": bench.response_url,
            "trigger_id": "1000.2000.bench"}
    return slack_requests.slash_command(bench.secret, form)


async def _cpu_per_request(app: App, requests: Sequence[slack_requests.SignedRequest]) -> float:
    """Microseconds of this process's CPU per request; every answer must be HTTP 200."""
    started = time.process_time()
    for request in requests:
        status = await _call(app, request)
        if status != 200:
            raise RuntimeError(f"the app answered HTTP {status}")
    return (time.process_time() - started) / len(requests) * 1e6


async def _call(app: App, request: slack_requests.SignedRequest) -> int:
    headers = [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    headers.append((b"content-length", str(len(request.body)).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": rq.SLACK_PATH, "raw_path": rq.SLACK_PATH.encode(), "query_string": b"",
             "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    messages = iter([{"type": "http.request", "body": request.body, "more_body": False}])
    status = 0

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


class _running:
    """The app's lifespan, started and later shut down as a server would."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.ensure_future(self._app(scope, self._inbox.get, self._outbox.put))
        await self._inbox.put({"type": "lifespan.startup"})
        answer = await self._outbox.get()
        if answer["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the app did not start: {answer}")

    async def __aexit__(self, *_: object) -> None:
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._outbox.get()
        assert self._task is not None
        await self._task


if __name__ == "__main__":
    sys.exit(main())
