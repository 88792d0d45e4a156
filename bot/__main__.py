"""Command line: ``python -m bot serve | sandbox | clue <id> | card <id>``.

The launcher: with credentials every command runs the production parts only. Without Slack
credentials ``serve`` starts the playground, and without ``CRM_BASE_URL`` the commands use the
embedded sandbox CRM; both live in ``bot.dev`` and are imported only on those paths (this module is
the one outside ``bot.dev`` allowed to import it, which tests/test_layers.py holds it to).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from bot.config import Settings
from bot.domain.locales import LOCALES
from bot.errors import BotError, ConfigError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="clue bot: CRM clues in Slack")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve Slack over HTTP (and Socket Mode if SLACK_APP_TOKEN is set)")
    serve.add_argument("--host", help="bind address (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: PORT or 3000)")
    serve.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto",
                       help="event loop (default auto: uvloop when it imports, else asyncio)")
    serve.add_argument("--http", choices=("auto", "httptools", "h11"), default="auto",
                       help="HTTP parser (default auto: httptools when it imports, else h11); "
                            "--loop asyncio --http h11 serves on pure Python")
    sandbox = commands.add_parser("sandbox", help="run the sandbox CRM in the foreground")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8080)
    sandbox.add_argument("--prefix", default="", help="path prefix, e.g. /apiServer")
    clue = commands.add_parser("clue", help="fetch one clue through the configured CRM and print it")
    clue.add_argument("id")
    clue.add_argument("--json", action="store_true", help="print JSON instead of text")
    card = commands.add_parser("card", help="print the Block Kit JSON of a clue card")
    card.add_argument("id")
    card.add_argument("--unfurl", action="store_true", help="the unfurl variant ({blocks})")
    card.add_argument("--locale", choices=LOCALES)
    search = commands.add_parser("search", help="search clues by name or phone through the configured CRM")
    search.add_argument("text", nargs="+", help="a name or a phone (+86 138-0013-8000 is normalised)")
    search.add_argument("--page", type=int, default=1, help="page of results, from 1")
    search.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env(os.environ)
        if args.command == "serve":
            return _serve(settings, args.host, args.port, args.loop, args.http)
        if args.command == "sandbox":
            from bot.dev.sandbox.server import run  # development tooling, on this path only

            run(args.host, args.port, args.prefix)
            return 0
        if args.command == "search":
            return asyncio.run(_search(settings, " ".join(args.text), args.page, as_json=args.json))
        if args.command == "clue":
            return asyncio.run(_with_clue(settings, args.id, lambda c, _: _print_clue(c, as_json=args.json)))
        return asyncio.run(_with_clue(settings, args.id,
                                      lambda c, at: _print_card(c, at, settings, args.unfurl, args.locale)))
    except ConfigError as exc:
        print(f"clue bot: {exc}", file=sys.stderr)
        return 2
    except BotError as exc:
        print(f"clue bot: {exc}", file=sys.stderr)
        return 1


def _serve(settings: Settings, host: str | None, port: int | None, loop: str = "auto", http: str = "auto") -> int:
    import uvicorn

    from bot.runtime.logs import configure_logging
    from bot.web.server import head_deadline_protocol, raise_open_file_limit, server_stack

    configure_logging(settings.log_level, settings.secrets())
    raise_open_file_limit()  # slow or refused connections meet the body-read cap before EMFILE
    host = host or settings.host
    port = port if port is not None else settings.port
    loop, http = server_stack(loop, http)
    logging.getLogger("bot.serve").info("server.stack", extra={"loop": loop, "http": http})
    if settings.playground:
        from bot.dev.launch import create_playground_app  # development tooling, on this path only

        print(f"clue bot playground: http://{host}:{port}/  (sandbox CRM, fake Slack; Ctrl-C to stop)",
              flush=True)
        app = create_playground_app(settings, freeze_gc_after_start=True)
    else:
        from bot.web.app import create_web_app

        app = create_web_app(settings, freeze_gc_after_start=True)
    # log_config=None: uvicorn's own lines go through our redacting JSON handler too. The HTTP protocol
    # has a deadline on each request head (uvicorn has none); bodies are timed by bot.web.guard.
    uvicorn.run(app, host=host, port=port, loop=loop, http=head_deadline_protocol(http), log_level="warning",
                access_log=False, log_config=None, proxy_headers=True, timeout_graceful_shutdown=10)
    return 0


async def _with_clue(settings: Settings, text: str, show: Callable[[Any, float], None]) -> int:
    from bot.compose import Clocks, build_crm
    from bot.domain.ids import parse_clue_id
    from bot.runtime.metrics import Metrics

    clue_id = parse_clue_id(text)
    async with AsyncExitStack() as stack:
        crm = await build_crm(_with_crm(settings, stack), stack, Metrics(), Clocks())
        show(await crm.fetcher.fetch(clue_id), datetime.now(UTC).timestamp())
    return 0


def _with_crm(settings: Settings, stack: AsyncExitStack) -> Settings:
    """``settings``, pointed at a sandbox CRM (stopped by ``stack``) when no CRM is configured."""
    if settings.crm_base_url is not None:
        return settings
    from bot.dev.sandbox.server import SandboxServer  # development tooling, on this path only

    sandbox = SandboxServer().start()
    stack.callback(sandbox.stop)
    return dataclasses.replace(settings, crm_base_url=sandbox.url)


async def _search(settings: Settings, text: str, page_no: int, *, as_json: bool) -> int:
    """One page of a search, phones masked: the same normalisation and cache path as Slack's."""
    from bot.compose import Clocks, build_crm, build_search
    from bot.domain.search import QueryRefused, normalise_query
    from bot.runtime.metrics import Metrics

    if page_no < 1:
        print("clue bot: --page counts from 1", file=sys.stderr)
        return 1
    try:
        query = normalise_query(text)
    except QueryRefused as exc:
        print(f"clue bot: nothing to search for ({exc.reason})", file=sys.stderr)
        return 1
    async with AsyncExitStack() as stack:
        metrics, clocks = Metrics(), Clocks()
        crm = await build_crm(_with_crm(settings, stack), stack, metrics, clocks)
        result = await build_search(settings, crm.client, metrics, clocks).get(query, page_no)
    page = result.page
    if as_json:
        print(json.dumps({"query": {"kind": query.kind, "length": len(query.key)}, "page": page_no,
                          "totalPage": page.total_pages, "hits": [asdict(hit) for hit in page.hits]},
                         ensure_ascii=False, indent=2))
        return 0
    print(f"page {page_no} of {max(page.total_pages, page_no if page.hits else 0)}: {len(page.hits)} results")
    for hit in page.hits:
        print(f"{hit.customer_id:>19}  {hit.name or '-'}  {hit.stage_name or '-'}  {hit.create_time or '-'}"
              f"  {', '.join(hit.tags)}")
    return 0


def _print_clue(clue: Any, *, as_json: bool) -> None:
    from bot.domain.text import mask_phone

    if as_json:
        print(json.dumps(asdict(clue), ensure_ascii=False, indent=2, default=str))
        return
    rows = [("id", clue.id), ("name", clue.name), ("stage", clue.stage and clue.stage.text),
            ("source", clue.source and clue.source.text), ("company", clue.company),
            ("phones", ", ".join(mask_phone(p) for p in clue.phones)),
            ("tags", ", ".join(t.name or f"{t.id} (unknown)" for t in clue.tags)),
            ("created", clue.created and clue.created.raw), ("updated", clue.updated and clue.updated.raw),
            ("converted", clue.converted and clue.converted.raw)]
    for label, value in rows:
        print(f"{label:>9}: {value if value not in (None, '') else '-'}")


def _print_card(clue: Any, fetched_at: float, settings: Settings, unfurl: bool, locale: str | None) -> None:
    from bot.slack import cards
    from bot.slack.links import LinkMatcher

    now = datetime.fromtimestamp(fetched_at, UTC)
    opts = cards.CardOptions(
        locale=locale or settings.default_locale,
        audience=cards.AUDIENCE_CHANNEL if unfurl else cards.AUDIENCE_PRIVATE,
        now=now, fetched_at=now,
        clue_url=LinkMatcher(settings.clue_url_template).url_for(clue.id),
    )
    rendered = cards.clue_unfurl(clue, opts) if unfurl else cards.clue_message(clue, opts)
    print(json.dumps(rendered, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    sys.exit(main())
