"""The HTTP face of one instance: ``/slack/events``, ``/healthz``, ``/readyz``, ``/metrics`` (and the CRM's
push, ``bot.web.push``, when enabled).

``create_web_app(settings)`` returns the Starlette app. Its lifespan builds the instance
(``bot.compose.build``) on an ``AsyncExitStack`` that closes everything on shutdown, and connects
Socket Mode when ``SLACK_APP_TOKEN`` is set. Nothing is built at import time.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from bot.compose import Clocks, Instance, build
from bot.config import Settings
from bot.crm.push import PushCipher, PushVerifier
from bot.web.guard import (
    MAX_SLACK_BODY_BYTES,
    BodyLimits,
    BodySlots,
    HeaderCheck,
    Network,
    SlackRequestGuard,
    client_address,
    parse_networks,
    within,
)
from bot.web.push import PushRoute

log = logging.getLogger(__name__)

Prepare = Callable[[Settings, AsyncExitStack], Awaitable[Settings]]
"""Runs first in the lifespan: starts what the settings should point at (the development entry point
starts the sandbox CRM and the fake Slack there, closing them on ``stack``) and returns the settings
to build with."""


def create_web_app(settings: Settings, *, clocks: Clocks | None = None,
                   crm_transport: httpx.AsyncBaseTransport | None = None,
                   freeze_gc_after_start: bool = False, prepare: Prepare | None = None,
                   extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The ASGI app; ``extra_routes`` are mounted after ours (the playground's page)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            ready = await prepare(settings, stack) if prepare else settings
            instance = await build(ready, stack, clocks=clocks, crm_transport=crm_transport)
            app.state.instance = instance
            if ready.socket_mode and ready.slack_app_token:
                from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

                socket = AsyncSocketModeHandler(instance.bolt, ready.slack_app_token.reveal())
                await socket.connect_async()  # type: ignore[no-untyped-call]
                stack.push_async_callback(socket.close_async)
                log.info("slack.socket_mode.connected")
            if freeze_gc_after_start:
                # What exists now (imports, clients, the Bolt app) lives as long as the process: keep it out
                # of every future collection (full collections of that heap were 25-65 ms pauses in bench/).
                gc.freeze()
            yield

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", _metrics(parse_networks(settings.metrics_allowed_networks),
                                   parse_networks(settings.trusted_proxies)), methods=["GET"]),
        *extra_routes,
    ]
    # Socket Mode without a signing secret has nothing to verify HTTP requests with: no HTTP endpoint.
    secret = settings.slack_signing_secret
    if secret is not None:
        routes.insert(0, Route("/slack/events", slack_events, methods=["POST"]))
    checked: dict[str, HeaderCheck] = {}
    if settings.crm_push_enabled:
        push = PushRoute(PushVerifier(settings.crm_app_id, settings.crm_app_key.reveal(),
                                      settings.crm_push_window_seconds, (clocks or Clocks()).wall),
                         PushCipher(settings.crm_app_key.reveal(), settings.corp_id))
        routes.insert(0, Route(settings.crm_push_path, push.endpoint, methods=["POST"]))
        checked[settings.crm_push_path] = push.header_check()
    slots = BodySlots(BodyLimits(MAX_SLACK_BODY_BYTES, settings.slack_body_timeout_seconds,
                                 settings.slack_max_pending_bodies, settings.slack_max_pending_bodies_per_client,
                                 settings.slack_min_body_bytes_per_second))

    def serves(scope: Scope) -> bool:
        return any(route.matches(scope)[0] is not Match.NONE for route in routes)

    # Size, rate, deadline, body-read slots and the signature, before anything parses a body; a path we do
    # not serve answers 404 without reading one.
    middleware = [Middleware(
        SlackRequestGuard, path="/slack/events", signing_secret=secret.reveal() if secret else None, slots=slots,
        serves=serves, trusted_proxies=parse_networks(settings.trusted_proxies), on_refused=_count_refusal,
        checked=checked)]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.body_slots = slots
    return app


def _count_refusal(scope: Any, kind: str) -> None:
    instance: Instance | None = getattr(scope["app"].state, "instance", None)
    if instance is not None:
        instance.metrics.slack_refused.inc(kind)


def instance_of(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


async def slack_events(request: Request) -> Response:
    """Slack's requests. ``SlackRequestGuard`` has bounded the body and checked its signature already."""
    started = time.perf_counter()
    body = await request.body()
    instance = instance_of(request)
    try:  # this body is Slack's, but may still not parse
        bolt_request = to_async_bolt_request(request, body)
    except Exception as exc:  # any parse failure: non-UTF-8, bad JSON, too deeply nested, not an object...
        log.info("slack.request.malformed", extra={"error": type(exc).__name__, "bytes": len(body)})
        return Response("malformed payload", status_code=400)
    if (misshapen := misshapen_field(bolt_request.body)) is not None:
        log.info("slack.request.malformed", extra={"error": "shape", "field": misshapen, "bytes": len(body)})
        return Response("malformed payload", status_code=400)
    response = to_starlette_response(await instance.bolt.async_dispatch(bolt_request))
    instance.metrics.observe_ack(_request_kind(body), time.perf_counter() - started)
    return response


def misshapen_field(body: Any) -> str | None:
    """The first field of a parsed payload that Bolt would index blindly and that has the wrong shape:
    ``actions`` (Bolt reads ``actions[0]``) must be a non-empty list, ``event`` and ``view`` objects. A
    signed payload shaped otherwise is not one Slack sends; Bolt would raise on it (a 500)."""
    if not isinstance(body, dict):
        return "payload"
    if "actions" in body and not (isinstance(body["actions"], list) and body["actions"]):
        return "actions"
    for name in ("event", "view"):
        if name in body and not isinstance(body[name], dict):
            return name
    return None


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Whether this instance can answer Slack: once built, and while its body-read slots are not saturated
    (every slot lent and one recalled for a newcomer within the last seconds: slow senders are competing
    with Slack here, and a load balancer should prefer another instance). The CRM and Redis are reported,
    not gating: with the CRM breaker open an instance still serves stale cards and clear notices, and a
    probe failing on a CRM outage would take every instance out at once."""
    instance: Instance | None = getattr(request.app.state, "instance", None)
    if instance is None:  # still starting (or the lifespan failed)
        return JSONResponse({"ready": False}, status_code=503)
    slots: BodySlots = request.app.state.body_slots
    saturated = slots.saturated()
    body: dict[str, Any] = {"ready": not saturated, "crm_circuit": instance.crm.breaker_state,
                            "body_slots": {"lent": slots.lent, "of": slots.limits.max_pending,
                                           "saturated": saturated}}
    if instance.fleet is not None:
        body["redis"] = "ok" if await instance.fleet.ping() else "unavailable"
    return JSONResponse(body, status_code=503 if saturated else 200)


def _metrics(allowed: tuple[Network, ...], trusted_proxies: tuple[Network, ...]) -> Callable[
        [Request], Awaitable[Response]]:
    """``/metrics`` for the ``allowed`` networks only; to anyone else it is not there (404)."""
    async def metrics(request: Request) -> Response:
        if not within(client_address(request.scope, trusted_proxies), allowed):
            return Response(status_code=404)
        return Response(instance_of(request).metrics.render(), media_type="text/plain; version=0.0.4")

    return metrics


def _request_kind(body: bytes) -> str:
    if body.startswith(b"{"):
        return "event"
    return "action" if body.startswith(b"payload=") else "command"


def from_env() -> Starlette:
    """The app of one worker process: what each of ``python -m bot serve``'s ``WEB_CONCURRENCY`` workers
    runs (uvicorn's factory, ``bot.web.app:from_env``). A spawned worker starts from nothing, so the
    process set-up ``serve`` does is done here again: the redacting JSON logs, the open-file limit, and
    the heap frozen after start-up (the server's loop and protocol come in uvicorn's config)."""
    import os

    from bot.runtime.logs import configure_logging
    from bot.web.server import raise_open_file_limit

    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level, settings.secrets())
    raise_open_file_limit()
    log.info("server.worker.started", extra={"pid": os.getpid()})
    return create_web_app(settings, freeze_gc_after_start=True)
