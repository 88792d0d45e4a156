"""The composition root: builds every part from ``Settings`` and serves them over HTTP.

``create_web_app(settings)`` returns the Starlette app; its lifespan starts what the settings ask
for (the embedded sandbox CRM, the playground's fake Slack, Socket Mode), opens clients and, on
shutdown, drains background work and closes them. Nothing is built at import time.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot.cache import ClueCache
from bot.config import Settings
from bot.crm.client import CrmClient
from bot.crm.guard import CircuitBreaker, CrmGuard, RateLimiter, TokenBucket
from bot.crm.reference import ClueFetcher, ReferenceData
from bot.httpguard import BodyLimits, SlackRequestGuard
from bot.loopback import LoopbackServer
from bot.metrics import Metrics
from bot.playground.fake_slack import FakeSlackState, create_fake_slack
from bot.shared import SharedRedis, connect_shared
from bot.slack.access import AccessPolicy
from bot.slack.app import create_app
from bot.slack.links import LinkMatcher
from bot.slack.listeners import ClueListeners, ListenerOptions, LocalEventDeduper
from bot.slack.locales import UserLocales
from bot.tasks import TaskRunner
from bot.userlimit import UserRateLimiter

log = logging.getLogger(__name__)

MAX_SLACK_BODY_BYTES = 512 * 1024
PLAYGROUND_BOT_TOKEN = "xoxb-playground-not-a-real-token"  # noqa: S105 - the fake Slack accepts anything


@dataclass(frozen=True)
class Clocks:
    """Wall clock (epoch seconds, for display) and monotonic clock (for ages); never mixed up."""

    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic


@dataclass
class Services:
    """Everything one running instance holds; built and closed by the lifespan."""

    settings: Settings
    metrics: Metrics
    crm: CrmClient
    cache: ClueCache
    runner: TaskRunner
    bolt: AsyncApp
    slack_client: AsyncWebClient
    signing_secret: str | None
    fake_slack: FakeSlackState | None = None
    shared: SharedRedis | None = None  # with REDIS_URL: the cache, rate limit and dedupe shared by instances
    sandbox_url: str | None = None  # the embedded sandbox CRM's origin: the playground drives its fault knobs
    closers: list[Callable[[], Any]] = field(default_factory=list)

    async def aclose(self) -> None:
        await self.runner.drain(timeout=10)
        await self.crm.aclose()
        for close in reversed(self.closers):
            result = close()
            if asyncio.iscoroutine(result):
                await result


@dataclass(frozen=True)
class CrmParts:
    client: CrmClient
    fetcher: ClueFetcher
    sandbox_origin: str | None  # the embedded sandbox's, where its /_sandbox controls live


def build_crm(settings: Settings, metrics: Metrics, clocks: Clocks, closers: list[Callable[[], Any]], *,
              transport: httpx.AsyncBaseTransport | None = None, limiter: RateLimiter | None = None) -> CrmParts:
    """The CRM client and clue fetcher, starting the embedded sandbox (its stop goes to ``closers``)
    when no CRM is configured."""
    crm_base_url, sandbox_origin = settings.crm_base_url, None
    if crm_base_url is None:
        from bot.sandbox.server import SandboxServer  # only needed without a real CRM

        sandbox = SandboxServer().start()
        closers.append(sandbox.stop)
        crm_base_url, sandbox_origin = sandbox.url, sandbox.origin
        log.info("sandbox.started", extra={"url": sandbox.url})
    guard = CrmGuard(
        max_concurrency=settings.crm_max_concurrency,
        limiter=limiter or TokenBucket(settings.crm_rate_per_second, max(1.0, settings.crm_rate_per_second),
                                       clocks.monotonic),
        breaker=CircuitBreaker(settings.crm_breaker_failures, settings.crm_breaker_cooldown_seconds,
                               clocks.monotonic, metrics),
        metrics=metrics,
    )
    crm = CrmClient(base_url=crm_base_url, app_id=settings.crm_app_id, app_key=settings.crm_app_key,
                    guard=guard, metrics=metrics, timeout=settings.crm_timeout_seconds,
                    max_response_bytes=settings.crm_max_response_bytes,
                    max_connections=settings.crm_max_concurrency * 2, transport=transport)
    reference = ReferenceData(crm, ttl=settings.crm_reference_ttl_seconds, clock=clocks.monotonic,
                              aliases=settings.crm_field_aliases)
    return CrmParts(crm, ClueFetcher(crm, reference, settings.tz), sandbox_origin)


async def build_services(settings: Settings, *, clocks: Clocks | None = None,
                         crm_transport: httpx.AsyncBaseTransport | None = None) -> Services:
    """Wire every part from settings. The only place that knows how the parts fit together."""
    clocks = clocks or Clocks()
    metrics = Metrics()
    closers: list[Callable[[], Any]] = []
    # One bound for a clue lookup: the cache's deadline, and how long another instance's fetch is awaited.
    deadline = settings.crm_timeout_seconds * 2 + 1
    shared = await connect_shared(settings, metrics, clocks.wall, lock_ttl=deadline, monotonic=clocks.monotonic)
    if shared is not None:
        closers.append(shared.aclose)  # closed last, after the runner drains
    crm = build_crm(settings, metrics, clocks, closers, transport=crm_transport,
                    limiter=shared.bucket if shared else None)

    signing_secret = settings.slack_signing_secret.reveal() if settings.slack_signing_secret else None
    bot_token = settings.slack_bot_token.reveal() if settings.slack_bot_token else None
    slack_api_url = settings.slack_api_url
    fake_state: FakeSlackState | None = None
    if settings.playground:
        fake_state = FakeSlackState()
        fake = LoopbackServer(create_fake_slack(fake_state)).start()
        closers.append(fake.stop)
        slack_api_url = fake.url + "/api/"
        signing_secret = secrets.token_hex(16)  # per process; only the playground page signs with it
        bot_token = PLAYGROUND_BOT_TOKEN

    cache = ClueCache(
        crm.fetcher.fetch, ttl=settings.clue_cache_ttl_seconds, maxsize=settings.clue_cache_maxsize,
        negative_ttl=settings.clue_negative_ttl_seconds, stale_ttl=settings.clue_stale_seconds,
        deadline=deadline, clock=clocks.monotonic, wall=clocks.wall, metrics=metrics,
        revalidate=settings.clue_revalidate_seconds, shared=shared.store if shared else None,
    )
    runner = TaskRunner()
    slack_client = AsyncWebClient(token=bot_token, base_url=slack_api_url)
    matcher = LinkMatcher(settings.clue_url_template, settings.clue_url_patterns)
    listeners = ClueListeners(
        cache=cache, matcher=matcher, runner=runner, access=AccessPolicy(
            allowed_team_ids=settings.slack_allowed_team_ids,
            allowed_user_ids=settings.clue_allowed_user_ids,
            allowed_channel_ids=settings.clue_allowed_channel_ids,
            unfurl_channel_ids=settings.clue_unfurl_channel_ids,
            allow_shared_channels=settings.clue_allow_shared_channels,
            admin_contact=settings.clue_admin_contact,
        ),
        user_limiter=UserRateLimiter(settings.clue_user_rate_per_minute, clocks.monotonic),
        locales=UserLocales(slack_client, runner, default=settings.default_locale,
                            enabled=settings.clue_user_locale, clock=clocks.monotonic),
        options=ListenerOptions(ack_budget=settings.slack_ack_budget_seconds, max_ids=settings.clue_max_ids,
                                default_locale=settings.default_locale),
        events=shared.deduper if shared else LocalEventDeduper(clocks.monotonic),
        wall=clocks.wall,
    )
    bolt = create_app(listeners, api_url=slack_api_url, token=bot_token, signing_secret=signing_secret)
    return Services(settings=settings, metrics=metrics, crm=crm.client, cache=cache, runner=runner, bolt=bolt,
                    slack_client=slack_client, signing_secret=signing_secret, fake_slack=fake_state,
                    sandbox_url=crm.sandbox_origin, shared=shared, closers=closers)


def create_web_app(settings: Settings, *, clocks: Clocks | None = None,
                   crm_transport: httpx.AsyncBaseTransport | None = None,
                   freeze_gc_after_start: bool = False) -> Starlette:
    """The ASGI app: ``/slack/events``, ``/healthz``, ``/readyz``, ``/metrics`` (+ the playground)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await build_services(settings, clocks=clocks, crm_transport=crm_transport)
        app.state.services = services
        if settings.socket_mode and settings.slack_app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket = AsyncSocketModeHandler(services.bolt, settings.slack_app_token.reveal())
            await socket.connect_async()  # type: ignore[no-untyped-call]
            services.closers.append(socket.close_async)
            log.info("slack.socket_mode.connected")
        if freeze_gc_after_start:
            # What exists now (imports, clients, the Bolt app) lives as long as the process: keep it out
            # of every future collection (full collections of that heap were 25-65 ms pauses in bench/).
            gc.freeze()
        try:
            yield
        finally:
            await services.aclose()

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_SLACK_BODY_BYTES:
            return Response("payload too large", status_code=413)
        body = await request.body()
        if len(body) > MAX_SLACK_BODY_BYTES:
            return Response("payload too large", status_code=413)
        services: Services = request.app.state.services
        try:  # SlackRequestGuard has checked the signature: this body is Slack's, but may still not parse
            bolt_request = to_async_bolt_request(request, body)
        except Exception as exc:  # any parse failure: non-UTF-8, bad JSON, too deeply nested, not an object...
            log.info("slack.request.malformed", extra={"error": type(exc).__name__, "bytes": len(body)})
            return Response("malformed payload", status_code=400)
        response = to_starlette_response(await services.bolt.async_dispatch(bolt_request))
        services.metrics.observe_ack(_request_kind(body), time.perf_counter() - started)
        return response

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        services: Services = request.app.state.services
        state = services.crm.breaker_state
        ready = state != "open"
        body: dict[str, Any] = {"ready": ready, "crm_circuit": state}
        if services.shared is not None:
            # Reported, not gating: an instance still serves (in-process cache) without Redis.
            body["redis"] = "ok" if await services.shared.ping() else "unavailable"
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        services: Services = request.app.state.services
        return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    middleware: list[Middleware] = []
    # Socket Mode without a signing secret has nothing to verify HTTP requests with: no HTTP endpoint.
    if settings.slack_signing_secret is not None or settings.playground:
        routes.insert(0, Route("/slack/events", slack_events, methods=["POST"]))
        # Size, deadline, body-read slots and the signature, before anything parses the body.
        middleware.append(Middleware(
            SlackRequestGuard, path="/slack/events", signing_secret=_signing_secret, on_refused=_count_refusal,
            limits=BodyLimits(MAX_SLACK_BODY_BYTES, settings.slack_body_timeout_seconds,
                              settings.slack_max_pending_bodies)))
    if settings.playground:
        from bot.playground.page import playground_routes

        routes.append(Mount("/", routes=playground_routes()))
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)


def _signing_secret(scope: Any) -> str | None:
    """The running app's signing secret (the playground makes one per process at start-up)."""
    services: Services | None = getattr(scope["app"].state, "services", None)
    return services.signing_secret if services is not None else None


def _count_refusal(scope: Any, kind: str) -> None:
    services: Services | None = getattr(scope["app"].state, "services", None)
    if services is not None:
        services.metrics.slack_refused.inc(kind)


def _request_kind(body: bytes) -> str:
    if body.startswith(b"{"):
        return "event"
    return "action" if body.startswith(b"payload=") else "command"


def from_env() -> Starlette:
    """uvicorn factory: ``uvicorn --factory bot.web:from_env``."""
    import os

    from bot.logs import configure_logging

    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level, settings.secrets())
    return create_web_app(settings)
