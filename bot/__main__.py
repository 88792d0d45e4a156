"""Command line: ``python -m bot serve | check | migrate | alerts status | push-register <url> | sandbox | clue <id>
| card <id> | …``.

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
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from bot.config import Settings, without_slack_credentials
from bot.domain.locales import LOCALES
from bot.errors import BotError, ConfigError


def main(argv: Sequence[str] | None = None, *, env: Mapping[str, str] | None = None,
         playground: bool = False) -> int:
    """Run one command; ``env`` defaults to ``os.environ``. ``playground``: ``serve`` fakes Slack whatever
    credentials ``env`` holds (``python -m bot.dev``, ``make run``)."""
    env = os.environ if env is None else env
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
    serve.add_argument("--workers", type=int, help="worker processes (default: WEB_CONCURRENCY or 1)")
    check = commands.add_parser("check", help="try the configuration serve would run with: CRM, Slack, Redis")
    check.add_argument("--clue", metavar="ID", help="also fetch and resolve this clue")
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
    card.add_argument("--work-object", action="store_true",
                      help="the Work Object entity metadata chat.unfurl sends with the unfurl")
    followups = commands.add_parser("followups", help="print a clue's follow-ups, newest first")
    followups.add_argument("id")
    followups.add_argument("--json", action="store_true", help="print JSON instead of text")
    commands.add_parser("migrate", help="bring the alerts database's schema up to date (serve does it too)")
    alerts = commands.add_parser("alerts", help="new-clue alerts")
    alerts.add_argument("action", choices=("status",), help="status: subscriptions, high-water mark, lease, backlog")
    types_help = "comma-separated push types (default: register and the types that name a customer)"
    register = commands.add_parser("push-register", help="ask the CRM to push changes to <https-url> "
                                   "(CRM_PUSH_PATH on this app's public host)")
    register.add_argument("url", help="this app's public push URL, e.g. https://bot.example.com/crm/push")
    register.add_argument("--types", help=types_help)
    push = commands.add_parser("push", help="the CRM's webhook push: push register <https-url>")
    push.add_argument("action", choices=("register",))
    push.add_argument("url")
    push.add_argument("--types", help=types_help)
    args = parser.parse_args(argv)

    if args.command == "check":
        return _check(args.clue, env)
    try:
        if playground:
            env, ignored = without_slack_credentials(env)
            if ignored:
                print(f"clue bot playground: ignoring {', '.join(ignored)} (it fakes Slack; python -m bot serve "
                      "uses them)", file=sys.stderr, flush=True)
        # serve: refused here, before anything listens (in the app's lifespan: a traceback and exit 3).
        settings = Settings.from_env(env, serve=args.command == "serve")
        if args.command == "serve":
            return _serve(settings, args.host, args.port, args.loop, args.http, args.workers)
        if args.command == "sandbox":
            from bot.dev.sandbox.server import run  # development tooling, on this path only

            run(args.host, args.port, args.prefix)
            return 0
        if args.command in ("migrate", "alerts"):
            from bot.alerts.status import migrate, status

            return asyncio.run(migrate(settings) if args.command == "migrate" else status(settings))
        if args.command in ("push-register", "push"):
            return asyncio.run(_push_register(settings, args.url, args.types))
        if args.command == "search":
            return asyncio.run(_search(settings, " ".join(args.text), args.page, as_json=args.json))
        if args.command == "followups":
            return asyncio.run(_follow_ups(settings, args.id, as_json=args.json))
        if args.command == "clue":
            return asyncio.run(_with_clue(settings, args.id, lambda c, _: _print_clue(c, as_json=args.json)))
        return asyncio.run(_with_clue(settings, args.id,
                                      lambda c, at: _print_card(c, at, settings, args.unfurl, args.locale,
                                                                args.work_object)))
    except ConfigError as exc:
        one = f"invalid configuration: {exc.problems[0]}" if len(exc.problems) == 1 else str(exc)
        print(f"clue bot: {one}", file=sys.stderr)
        return 2
    except BotError as exc:
        print(f"clue bot: {exc}", file=sys.stderr)
        return 1


def _serve(settings: Settings, host: str | None, port: int | None, loop: str = "auto", http: str = "auto",
           workers: int | None = None) -> int:
    import uvicorn

    from bot.runtime.logs import configure_logging
    from bot.web.server import bind_socket, head_deadline_protocol, raise_open_file_limit, server_stack

    configure_logging(settings.log_level, settings.secrets())
    raise_open_file_limit()  # slow or refused connections meet the body-read cap before EMFILE
    log = logging.getLogger("bot.serve")
    host = host or settings.host
    workers = workers if workers is not None else settings.web_concurrency
    if workers < 1:
        raise ConfigError([f"--workers must be 1 or more, got {workers}"])
    if settings.playground and workers > 1:
        log.info("server.workers.playground", extra={"workers": 1, "asked": workers})
        workers = 1  # its fake Slack and page state live in one process
    # Each worker divides per-person limits by the worker count (without Redis): every worker must know it.
    settings = dataclasses.replace(settings, web_concurrency=workers)
    os.environ["WEB_CONCURRENCY"] = str(workers)  # the spawned workers read their settings from the environment
    loop, http = server_stack(loop, http)
    # Bound before anything says where the app is: a port in use fails here, naming it.
    sock = bind_socket(host, port if port is not None else settings.port)
    port = int(sock.getsockname()[1])
    log.info("server.stack", extra={"loop": loop, "http": http, "workers": workers})
    if workers > 1 and settings.redis_url is None:
        log.warning("server.workers.unshared", extra={
            "workers": workers, "hint": "each worker has its own clue cache, CRM rate limit and event dedupe, "
                                        "and enforces its share of each person's limits; set REDIS_URL to share "
                                        "them"})
    # log_config=None: uvicorn's own lines go through our redacting JSON handler too. The HTTP protocol
    # has a deadline on each request head (uvicorn has none); bodies are timed by bot.web.guard, which also
    # reads X-Forwarded-For from TRUSTED_PROXIES only (uvicorn's proxy headers would trust 127.0.0.1 unasked).
    options: dict[str, Any] = {
        "loop": loop, "http": head_deadline_protocol(http), "log_level": "warning", "access_log": False,
        "log_config": None, "proxy_headers": False, "timeout_graceful_shutdown": 10}
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        # Spawned workers import the app by name and set their process up there (bot.web.app.from_env);
        # this config, protocol class included, is pickled into each.
        # The supervisor restarts a worker that does not answer its health ping within the timeout, and a
        # worker answers only once its imports are done: uvicorn's 5 s kills workers starting on a busy machine.
        Multiprocess(uvicorn.Config("bot.web.app:from_env", factory=True, workers=workers,
                                    timeout_worker_healthcheck=30, **options), sockets=[sock]).run()
        return 0
    if settings.playground:
        from bot.dev.launch import create_playground_app  # development tooling, on this path only

        print(f"clue bot playground: http://{host}:{port}/  (sandbox CRM, fake Slack; Ctrl-C to stop)",
              flush=True)
        app = create_playground_app(settings, freeze_gc_after_start=True)
    else:
        from bot.web.app import create_web_app

        app = create_web_app(settings, freeze_gc_after_start=True)
    server = uvicorn.Server(uvicorn.Config(app, workers=1, **options))  # workers=1: uvicorn reads WEB_CONCURRENCY
    server.run(sockets=[sock])
    return 0 if server.started else 1


def _check(clue: str | None, env: Mapping[str, str]) -> int:
    """Exit 0 when every check passes, 2 when the settings are invalid, else 1."""
    from bot.check import read_settings, report, run_checks
    from bot.runtime.logs import configure_logging

    settings, finding = read_settings(env)
    if settings is None:
        print(report([finding], None), flush=True)
        return 2
    # The report is the output: the clients' own warnings (a failed CRM call...) would repeat it.
    configure_logging("ERROR", settings.secrets())
    findings = [finding, *asyncio.run(run_checks(settings, clue))]
    print(report(findings, settings), flush=True)
    return 0 if all(f.ok for f in findings) else 1


async def _with_clue(settings: Settings, text: str, show: Callable[[Any, float], None]) -> int:
    from bot.domain.ids import parse_clue_id

    clue_id = parse_clue_id(text)
    async with AsyncExitStack() as stack:
        crm = await _crm(settings, stack)
        show(await crm.fetcher.fetch(clue_id), datetime.now(UTC).timestamp())
    return 0


async def _search(settings: Settings, text: str, page_no: int, *, as_json: bool) -> int:
    """One page of a search, phones masked: the same normalisation and cache path as Slack's."""
    from bot.compose import Clocks, build_caches
    from bot.domain.search import PageRequest, QueryRefused, normalise_query
    from bot.runtime.metrics import Metrics

    if page_no < 1:
        print("clue bot: --page counts from 1", file=sys.stderr)
        return 1
    try:
        query = normalise_query(text)
    except QueryRefused as exc:
        from bot.slack.i18n import t

        print(f"clue bot: nothing to search for: {t('en', f'search_reason.{exc.reason}')}", file=sys.stderr)
        return 1
    async with AsyncExitStack() as stack:
        metrics, clocks = Metrics(), Clocks()
        crm = await _crm(settings, stack)
        page = (await build_caches(settings, crm.fetcher, metrics, clocks).search.get(
            PageRequest(query, page_no))).value
    if as_json:
        hits = [{"customer_id": hit.clue_id, "name": hit.name, "stage_name": hit.stage,
                 "create_time": hit.created.raw if hit.created else None, "tags": hit.tags} for hit in page.hits]
        print(json.dumps({"query": {"kind": query.kind, "length": len(query.key)}, "page": page_no,
                          "totalPage": page.total_pages, "hits": hits}, ensure_ascii=False, indent=2))
        return 0
    print(f"page {page_no} of {max(page.total_pages, page_no if page.hits else 0)}: {len(page.hits)} results")
    for hit in page.hits:
        print(f"{hit.clue_id:>19}  {hit.name or '-'}  {hit.stage or '-'}  {hit.created.raw if hit.created else '-'}"
              f"  {', '.join(hit.tags)}")
    return 0


async def _push_register(settings: Settings, url: str, types: str | None) -> int:
    """``POST /api/v2/push-register`` for ``url``: HTTPS (plain HTTP only to this machine, for the sandbox)."""
    from urllib.parse import urlsplit

    from bot.crm.push import DEFAULT_SUBSCRIPTION

    parts = urlsplit(url)
    local = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not (parts.scheme == "https" or local) or not parts.hostname:
        print("clue bot: the push URL must be https://<public host><CRM_PUSH_PATH>", file=sys.stderr)
        return 1
    subscription = tuple(kind.strip() for kind in (types.split(",") if types else DEFAULT_SUBSCRIPTION) if kind.strip())
    async with AsyncExitStack() as stack:
        crm = await _crm(settings, stack)
        await crm.client.push_register(url, subscription)
    print(f"registered {url} for {', '.join(subscription)}: the CRM confirms with a register push "
          "(logged as crm.push.registered)")
    if parts.path != settings.crm_push_path:
        print(f"note: this app receives pushes at {settings.crm_push_path} (CRM_PUSH_PATH), not {parts.path or '/'}",
              file=sys.stderr)
    if not settings.crm_push_enabled:
        print("note: CRM_PUSH_ENABLED is off here: set it where the app serves, or the pushes meet a 404",
              file=sys.stderr)
    return 0


MAX_CLI_PAGES = 20  # a cursor that never ends stops here


async def _follow_ups(settings: Settings, text: str, *, as_json: bool) -> int:
    from bot.domain.ids import parse_clue_id

    clue_id = parse_clue_id(text)
    items: list[Any] = []
    async with AsyncExitStack() as stack:
        crm = await _crm(settings, stack)
        cursor: str | None = None
        for _ in range(MAX_CLI_PAGES):
            page = await crm.fetcher.follow_ups((clue_id, cursor))
            items += page.items
            if (cursor := page.next_cursor) is None:
                break
    if as_json:
        print(json.dumps([asdict(item) for item in items], ensure_ascii=False, indent=2, default=str))
        return 0
    for item in items:
        when = item.at.at.isoformat(timespec="minutes") if item.at and item.at.at else (item.at and item.at.raw)
        kind = {1: "note", 2: "system"}.get(item.kind, f"type {item.kind}")
        first_line = item.note.strip().split("\n", 1)[0][:200]
        print(f"{when or '-'}  {item.operator or '-'}  [{kind}]  {first_line}")
    if not items:
        print("no follow-ups")
    return 0


async def _crm(settings: Settings, stack: AsyncExitStack) -> Any:
    """The configured CRM's parts, or the embedded sandbox's without CRM_BASE_URL."""
    from bot.compose import Clocks, build_crm
    from bot.runtime.metrics import Metrics

    if settings.uses_sandbox_crm:
        from bot.dev.sandbox.server import SandboxServer  # development tooling, on this path only

        sandbox = SandboxServer().start()
        stack.callback(sandbox.stop)
        settings = dataclasses.replace(settings, crm_base_url=sandbox.url)
    return await build_crm(settings, stack, Metrics(), Clocks())


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


def _print_card(clue: Any, fetched_at: float, settings: Settings, unfurl: bool, locale: str | None,
                work_object: bool = False) -> None:
    from bot.slack import cards, entities
    from bot.slack.links import LinkMatcher

    now = datetime.fromtimestamp(fetched_at, UTC)
    if work_object:
        url = LinkMatcher(settings.clue_url_template).url_for(clue.id)
        options = entities.EntityOptions(locale=locale or settings.default_locale, clue_url=url, fetched_at=now,
                                         due_field=settings.clue_due_field, now=now)
        print(json.dumps(entities.clue_entity_unfurl(clue, options, unfurl_url=url), ensure_ascii=False, indent=2))
        return
    opts = cards.CardOptions(
        locale=locale or settings.default_locale,
        audience=cards.AUDIENCE_CHANNEL if unfurl else cards.AUDIENCE_PRIVATE,
        now=now, fetched_at=now,
        clue_url=LinkMatcher(settings.clue_url_template).url_for(clue.id),
        summary_fields=settings.clue_summary_fields, due_field=settings.clue_due_field,
    )
    rendered = cards.clue_unfurl(clue, opts) if unfurl else cards.clue_message(clue, opts)
    print(json.dumps(rendered, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    sys.exit(main())
