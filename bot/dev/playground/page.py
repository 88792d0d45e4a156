"""The playground: a local page that plays Slack for the app, through the app's real signed endpoint.

The page reports what a person did (typed a slash command, clicked a button, pasted a link). These
routes turn it into the exact request Slack would send (a form-encoded slash command, a
``block_actions`` payload, an ``event_callback`` with a ``link_shared`` or ``entity_details_requested``
event), sign it with the
process's signing secret and send it through the app's own ``/slack/events``, so the signature
check, Bolt's routing and the listeners all run as in production. The ack comes back to the page at
once; whatever the app sends Slack later (``respond()`` posts, ``chat.unfurl``) lands in the fake
Slack, and the page polls ``GET /playground/messages`` for it.

Its size: one handler per thing a person does in Slack (command, click, link, Work Object), each
building Slack's payload; development tooling, not the runtime.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.compose import Instance
from bot.dev import slack_requests
from bot.dev.playground.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlackState
from bot.dev.playground.skips import UnfurlSkips
from bot.dev.sandbox import seed
from bot.slack.app import COMMAND

STATIC = Path(__file__).parent / "static"

USER_ID = "U0PLAYER01"  # the English-speaking viewer; one more per language below
USER_NAME = "you"
CHANNEL_ID = "C0PLAYGRND"
CHANNEL_NAME = "playground"
TEAM_DOMAIN = "playground"
API_APP_ID = "A0CLUEBOT1"

MAX_BODY_BYTES = 64 * 1024
MAX_COMMAND_TEXT = 4000
MAX_LINKS = 10
MAX_URL = 3000  # Slack's URL limit for buttons; longer links are not worth simulating
MAX_CALLS_PER_POLL = 200
_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # becomes a path segment of the response_url
_TS = re.compile(r"\d{1,12}\.\d{1,8}")
_CONTAINERS = ("ephemeral", "message", "unfurl", "view")
_SELECTS = ("external_select", "static_select")  # what /playground/pick picks in
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_ANY_ADDRESS = ("0.0.0.0", "::", "")  # noqa: S104 - compared with, not bound to
# No inline script or style, nothing from elsewhere: CRM text can only ever be text on this page.
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

Handler = Callable[[Request, "PlaygroundContext"], Awaitable[Response]]


@dataclass(frozen=True)
class Viewer:
    """Who the page plays: one Slack user per language, since the app learns a person's language from
    ``users.info`` and remembers it per user (switching language in Slack is switching users here)."""

    user_id: str
    slack_locale: str  # what users.info answers for them, and entity_details_requested's user_locale


VIEWERS = {"en": Viewer(USER_ID, "en-US"), "zh": Viewer("U0PLAYERZH", "zh-CN"), "zh-TW": Viewer("U0PLAYERTW", "zh-TW")}


@dataclass(frozen=True)
class PlaygroundContext:
    """What the page needs of the running development setup, known once it has started."""

    fake: FakeSlackState  # what the app sent "Slack"
    fake_url: str  # the fake Slack's origin: response_urls live there
    signing_secret: str  # the app's; the page signs requests with it
    bind_host: str  # HOST: other host names are refused
    clue_url_template: str
    sandbox_origin: str | None  # the embedded sandbox CRM's, where its fault knobs live (None: a real CRM)
    sandbox_http: httpx.AsyncClient | None  # one client to the sandbox, for the fault knobs
    skips: UnfurlSkips  # why pasted links got no preview, from the app's log


class BadInput(Exception):
    """The page (or whoever called) sent something Slack never would: answered with 400."""


def playground_routes(context: Callable[[], PlaygroundContext]) -> list[BaseRoute]:
    """The page, its static files and the ``/playground/...`` endpoints behind it; ``context()`` is
    called per request (the context exists once the app has started)."""

    def checked(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Refuse other hosts' names (DNS rebinding could otherwise read CRM data); bad input gets 400."""

        async def wrapped(request: Request) -> Response:
            ctx = context()
            if not _host_allowed(request, ctx.bind_host):
                return JSONResponse({"error": "open the playground as localhost or 127.0.0.1, or set HOST to "
                                              "the address you use"}, status_code=403)
            try:
                return await handler(request, ctx)
            except BadInput as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)

        return wrapped

    return [
        Route("/", index, methods=["GET"]),
        Route("/playground/config", checked(config), methods=["GET"]),
        Route("/playground/command", checked(command), methods=["POST"]),
        Route("/playground/action", checked(action), methods=["POST"]),
        Route("/playground/suggest", checked(suggest), methods=["POST"]),
        Route("/playground/pick", checked(pick), methods=["POST"]),
        Route("/playground/link", checked(link), methods=["POST"]),
        Route("/playground/entity", checked(entity_details), methods=["POST"]),
        Route("/playground/messages", checked(messages), methods=["GET"]),
        Route("/playground/faults", checked(faults), methods=["POST", "DELETE"]),
        Route("/playground/leads", checked(leads), methods=["POST"]),
        Route("/playground/stage", checked(stage), methods=["POST"]),
        Route("/playground/home", checked(home), methods=["POST"]),
        Route("/playground/morning", checked(morning), methods=["POST"]),
        Route("/playground/push", checked(crm_push), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def _host_allowed(request: Request, bind: str) -> bool:
    if bind in _ANY_ADDRESS:  # whoever binds every interface has chosen to be reachable by any name
        return True
    return request.url.hostname in (*_LOOPBACK_NAMES, bind)


async def index(request: Request) -> Response:
    """The page itself, locked down by a content security policy."""
    return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": _CSP,
                                                        "Cache-Control": "no-cache"})


async def config(request: Request, ctx: PlaygroundContext) -> Response:
    """Who the page plays (its viewers, channel), example links, the sandbox origin, where polling starts.

    The app looks each viewer's language up (``users.info``) now, as it would on their first request, so
    the language switch holds from the first card on.
    """
    instance: Instance = request.app.state.instance
    for viewer in VIEWERS.values():
        instance.locales.get(viewer.user_id)
    calls = ctx.fake.since(0)
    return JSONResponse({
        "user": {"id": USER_ID, "name": USER_NAME},
        "viewers": {name: {"id": v.user_id, "name": USER_NAME, "slack_locale": v.slack_locale}
                    for name, v in VIEWERS.items()},
        "user_locale": instance.settings.clue_user_locale,
        "default_locale": instance.settings.default_locale,
        "channel": {"id": CHANNEL_ID, "name": CHANNEL_NAME},
        "team_id": TEAM_ID,
        "bot_user_id": BOT_USER_ID,
        "command": COMMAND,
        "clue_url_template": ctx.clue_url_template,
        "example_link": ctx.clue_url_template.replace("{id}", str(seed.RICH_CLUE_ID)),
        "sandbox_origin": ctx.sandbox_origin,
        "last_seq": calls[-1].seq if calls else 0,
        "last_note": ctx.skips.last,
    })


async def command(request: Request, ctx: PlaygroundContext) -> Response:
    """``{text, response_key?, viewer?}``: ``/clue <text>`` as Slack's form-encoded slash command."""
    body = await _json_object(request)
    text = _string(body, "text", MAX_COMMAND_TEXT, empty_ok=True)  # a bare /clue is fine: it shows usage
    key = _response_key(body)
    viewer = _viewer(body)
    form = {
        "token": "playground", "team_id": TEAM_ID, "team_domain": TEAM_DOMAIN, "channel_id": CHANNEL_ID,
        "channel_name": CHANNEL_NAME, "user_id": viewer.user_id, "user_name": USER_NAME, "command": COMMAND,
        "text": text, "api_app_id": API_APP_ID, "is_enterprise_install": "false",
        "response_url": _response_url(ctx, key), "trigger_id": _trigger_id(),
    }
    result = await _deliver(request, ctx, slack_requests.slash_command(ctx.signing_secret, form))
    return JSONResponse({**result, "response_key": key})


async def action(request: Request, ctx: PlaygroundContext) -> Response:
    """``{action_id, value, block_id?, response_key?, viewer?, selected_option?, container: {kind, message_ts,
    unfurl_url?}}``.

    ``kind`` is where the button was: ``ephemeral`` (the asker's own card), ``message`` (a card in
    the channel) or ``unfurl`` (a link preview, which Slack marks ``is_app_unfurl``). ``selected_option``
    (an option's value) makes it the choice of an overflow menu, sent as Slack sends one.
    """
    body = await _json_object(request)
    action_id = _string(body, "action_id", 255)
    value = _string(body, "value", 2000, required=False)
    chosen = _string(body, "selected_option", 150, required=False)
    block_id = _string(body, "block_id", 255, required=False)
    key = _response_key(body)
    viewer = _viewer(body)
    where = body.get("container")
    if not isinstance(where, dict):
        raise BadInput("container must be an object with kind and message_ts")
    kind = where.get("kind")
    if kind not in _CONTAINERS:
        raise BadInput(f"container.kind must be one of {', '.join(_CONTAINERS)}")
    if kind == "view":
        return await _view_action(request, ctx, viewer, action_id, value, block_id, where)
    message_ts = _message_ts(where)
    container: dict[str, Any] = {"type": "message", "message_ts": message_ts, "channel_id": CHANNEL_ID,
                                 "is_ephemeral": kind == "ephemeral"}
    if kind == "unfurl":
        container.update(type="message_attachment", attachment_id=1, is_app_unfurl=True,
                         app_unfurl_url=_string(where, "unfurl_url", MAX_URL))
    payload = _click(viewer, action_id, value, block_id, container=container, channel=CHANNEL_ID,
                     response_url=_response_url(ctx, key), chosen=chosen)
    result = await _deliver(request, ctx, slack_requests.interaction(ctx.signing_secret, payload))
    return JSONResponse({**result, "response_key": key})


async def _view_action(request: Request, ctx: PlaygroundContext, viewer: Viewer, action_id: str, value: str | None,
                       block_id: str | None, where: dict[str, Any]) -> Response:
    """A click inside a modal: Slack sends the view as it holds it now (the fake Slack's copy), no channel or
    response_url."""
    payload = _click(viewer, action_id, value, block_id, view=_held_view(ctx, where))
    return JSONResponse(await _deliver(request, ctx, slack_requests.interaction(ctx.signing_secret, payload)))


async def suggest(request: Request, ctx: PlaygroundContext) -> Response:
    """``{view_id, action_id, block_id, value, viewer?}``: a keystroke in a modal's external_select, sent as
    Slack's ``block_suggestion`` (the view as the fake Slack holds it); the answer's ack holds the options."""
    body = await _json_object(request)
    payload = slack_requests.block_suggestion(_sender(_viewer(body)), action_id=_string(body, "action_id", 255),
                                              block_id=_string(body, "block_id", 255), view=_held_view(ctx, body),
                                              value=_string(body, "value", 150, empty_ok=True))
    return JSONResponse(await _deliver(request, ctx, slack_requests.interaction(ctx.signing_secret, payload)))


async def pick(request: Request, ctx: PlaygroundContext) -> Response:
    """``{view_id, action_id, block_id, option: {text, value}, kind?, viewer?}``: an option picked in a view's
    select (``kind``: ``external_select``, a modal's type-ahead, or ``static_select``, Home's settings), sent as
    Slack's ``block_actions`` from inside the view."""
    body = await _json_object(request)
    option = body.get("option")
    if not isinstance(option, dict) or not isinstance(option.get("text"), dict):
        raise BadInput("option must be an option the select offered: {text, value}")
    kind = body.get("kind", "external_select")
    if kind not in _SELECTS:
        raise BadInput(f"kind must be one of {', '.join(_SELECTS)}")
    chosen = {"text": option["text"], "value": _string(option, "value", 150)}
    element = slack_requests.select_element(_string(body, "action_id", 255), chosen, kind=kind,
                                            block_id=_string(body, "block_id", 255), action_ts=f"{time.time():.6f}")
    payload = slack_requests.view_actions(_sender(_viewer(body)), element, trigger_id=_trigger_id(),
                                          view=_held_view(ctx, body))
    return JSONResponse(await _deliver(request, ctx, slack_requests.interaction(ctx.signing_secret, payload)))


def _held_view(ctx: PlaygroundContext, body: Mapping[str, Any]) -> dict[str, Any]:
    view = ctx.fake.views.get(_string(body, "view_id", 64))
    if view is None:
        raise BadInput("view_id names no view the app opened")
    return view


def _sender(viewer: Viewer) -> slack_requests.Sender:
    return slack_requests.Sender(TEAM_ID, viewer.user_id, API_APP_ID, TEAM_DOMAIN, USER_NAME, "playground")


def _click(viewer: Viewer, action_id: str, value: str | None, block_id: str | None, **where: Any) -> dict[str, Any]:
    """A click as Slack sends it (``bot.dev.slack_requests.button_click``), by the playground's viewer."""
    return slack_requests.button_click(team=TEAM_ID, user=viewer.user_id, action_id=action_id, value=value,
                                       trigger_id=_trigger_id(), api_app_id=API_APP_ID, team_domain=TEAM_DOMAIN,
                                       user_name=USER_NAME, channel_name=CHANNEL_NAME, verification="playground",
                                       block_id=block_id, action_ts=f"{time.time():.6f}", **where)


async def link(request: Request, ctx: PlaygroundContext) -> Response:
    """``{url}`` or ``{urls: [...]}`` (and optional ``message_ts``, ``viewer``): a message with links was posted.

    Slack HTML-escapes ``&``, ``<`` and ``>`` in ``links[].url``; so does this, and the answer lists
    the links exactly as sent, the keys ``chat.unfurl`` must use, and the ``event_id`` that the app's
    notes on links it skips (``/playground/messages``, ``notes``) name.
    """
    body = await _json_object(request)
    urls = body.get("urls", [body.get("url")])
    if not isinstance(urls, list) or not 1 <= len(urls) <= MAX_LINKS:
        raise BadInput(f"send url, or urls as a list of 1 to {MAX_LINKS} links")
    links = [_link(url) for url in urls]
    message_ts = _message_ts(body) if "message_ts" in body else _new_ts()
    viewer = _viewer(body)
    event = {
        "type": "link_shared", "channel": CHANNEL_ID, "is_bot_user_member": True, "user": viewer.user_id,
        "message_ts": message_ts, "unfurl_id": f"{CHANNEL_ID}.{message_ts}.{secrets.token_hex(8)}",
        "source": "conversations_history", "links": links, "event_ts": f"{time.time():.6f}",
    }
    event_id = "Ev" + secrets.token_hex(8).upper()
    ctx.skips.expect(event_id, message_ts)
    envelope = {
        "token": "playground", "team_id": TEAM_ID, "api_app_id": API_APP_ID, "event": event,
        "type": "event_callback", "event_id": event_id, "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True,
                            "is_enterprise_install": False}],
    }
    result = await _deliver(request, ctx, slack_requests.event_callback(ctx.signing_secret, envelope))
    return JSONResponse({**result, "channel": CHANNEL_ID, "message_ts": message_ts, "links": links,
                         "event_id": event_id})


async def entity_details(request: Request, ctx: PlaygroundContext) -> Response:
    """``{external_ref: {id, type?}, entity_url, app_unfurl_url, message_ts, viewer?}``: a Work Object unfurl was
    clicked, so Slack opens its flexpane and sends ``entity_details_requested`` (the fields of Slack's
    published example); the app answers with ``entity.presentDetails``, which the page polls for."""
    body = await _json_object(request)
    ref = body.get("external_ref")
    if not isinstance(ref, dict):
        raise BadInput("external_ref must be an object with id (and type)")
    external_ref = {"id": _string(ref, "id", 255)}
    if ref.get("type") is not None:
        external_ref["type"] = _string(ref, "type", 255)
    entity_url = _string(body, "entity_url", MAX_URL)
    entity_link = _link(entity_url)  # an http(s) URL, as Slack would only link one
    unfurl_url = _string(body, "app_unfurl_url", MAX_URL)
    message_ts = _message_ts(body)
    viewer = _viewer(body)
    now = time.time()
    event = {
        "type": "entity_details_requested", "user": viewer.user_id, "external_ref": external_ref,
        "entity_url": entity_url, "link": entity_link,
        "app_unfurl_url": unfurl_url, "event_ts": f"{now:.6f}", "trigger_id": _trigger_id(),
        "user_locale": viewer.slack_locale, "channel": CHANNEL_ID, "message_ts": message_ts,
    }
    envelope = {
        "token": "playground", "team_id": TEAM_ID, "api_app_id": API_APP_ID, "event": event,
        "type": "event_callback", "event_id": "Ev" + secrets.token_hex(8).upper(), "event_time": int(now),
        "authed_users": [viewer.user_id],
    }
    result = await _deliver(request, ctx, slack_requests.event_callback(ctx.signing_secret, envelope))
    return JSONResponse({**result, "trigger_id": event["trigger_id"]})


async def messages(request: Request, ctx: PlaygroundContext) -> Response:
    """``?since=N&notes_since=M``: every call the fake Slack captured after sequence number ``N``, oldest
    first; and the app's notes on pasted links it did not unfurl (why) after note ``M``."""
    since = _sequence(request, "since")
    notes_since = _sequence(request, "notes_since")
    calls = ctx.fake.since(since)[:MAX_CALLS_PER_POLL]
    notes = ctx.skips.since(notes_since)[:MAX_CALLS_PER_POLL]
    return JSONResponse({
        "last": calls[-1].seq if calls else since,
        "calls": [{"seq": c.seq, "kind": c.kind, "name": c.name, "body": c.body} for c in calls],
        "last_note": notes[-1]["seq"] if notes else notes_since,
        "notes": notes,
    })


async def faults(request: Request, ctx: PlaygroundContext) -> Response:
    """Set (POST, a JSON object of sandbox fault arguments) or clear (DELETE) the sandbox CRM's faults.

    Proxied so the page stays same-origin: the sandbox listens on another port and sends no CORS
    headers. The sandbox validates the arguments; its answer is passed on.
    """
    return await _to_sandbox(request, ctx, "/_sandbox/faults")


async def leads(request: Request, ctx: PlaygroundContext) -> Response:
    """``{"count": n}`` new leads in the sandbox CRM, created now: what a subscribed channel is alerted of
    at the next poll (``/clue subscribe`` first). Proxied like the faults."""
    return await _to_sandbox(request, ctx, "/_sandbox/leads")


async def stage(request: Request, ctx: PlaygroundContext) -> Response:
    """``{"clue": 8}``: that lead changes stage in the sandbox CRM, which pushes ``edit_qw_customer`` for it to
    this app as the real CRM would: a channel watching the clue (``/clue watch 8``) gets its reply at once (the
    push's recheck), not at the next scheduled check. The new stage, and the receiver's answers."""
    moved = await _to_sandbox(request, ctx, "/_sandbox/stage")
    if moved.status_code != 200:
        return moved
    changed = json.loads(bytes(moved.body))
    pushed = await _to_sandbox(request, ctx, "/_sandbox/push", {
        "customerId": changed["clue"], "type": "edit_qw_customer", "url": _push_url(request)})
    return JSONResponse({**changed, **json.loads(bytes(pushed.body))}, status_code=pushed.status_code)


async def home(request: Request, ctx: PlaygroundContext) -> Response:
    """``{viewer?}``: the viewer opens the app's Home tab: ``app_home_opened``, as Slack sends it; the app answers
    with ``views.publish``, which the page shows."""
    viewer = _viewer(await _json_object(request))
    event = {"type": "app_home_opened", "user": viewer.user_id, "channel": f"D{viewer.user_id[1:]}", "tab": "home",
             "event_ts": f"{time.time():.6f}"}
    envelope = {"token": "playground", "team_id": TEAM_ID, "api_app_id": API_APP_ID, "type": "event_callback",
                "event": event, "event_id": f"Ev{secrets.token_hex(5).upper()}", "event_time": int(time.time())}
    return JSONResponse(await _deliver(request, ctx, slack_requests.event_callback(ctx.signing_secret, envelope)))


async def morning(request: Request, ctx: PlaygroundContext) -> Response:
    """``{viewer?}``: the viewer's morning nudge now, as tomorrow morning would send it (a direct message; nothing
    is recorded). ``{"outcome": sent | not_linked | empty | crm_failed | unavailable}``."""
    viewer = _viewer(await _json_object(request))
    instance: Instance = request.app.state.instance
    if instance.nudges is None:
        return JSONResponse({"outcome": "unavailable"})
    return JSONResponse({"outcome": await instance.nudges.send_now(viewer.user_id)})


async def crm_push(request: Request, ctx: PlaygroundContext) -> Response:
    """``{"customerId": 1}``: the sandbox CRM edits that clue and pushes ``edit_qw_customer`` to this app's push
    path over HTTP, as the real CRM would; the app's answers come back. The next card reads the CRM again."""
    payload = await _json_object(request)
    return await _to_sandbox(request, ctx, "/_sandbox/push", {
        "customerId": payload.get("customerId"), "type": "edit_qw_customer", "edit": True, "url": _push_url(request)})


def _push_url(request: Request) -> str:
    """Where this app receives the CRM's pushes (the playground always does, on the sandbox CRM)."""
    instance: Instance = request.app.state.instance
    return str(request.base_url).rstrip("/") + instance.settings.crm_push_path


async def _to_sandbox(request: Request, ctx: PlaygroundContext, path: str,
                      payload: dict[str, Any] | None = None) -> Response:
    if ctx.sandbox_http is None:
        return JSONResponse({"error": "no embedded sandbox CRM: CRM_BASE_URL points at a real CRM"},
                            status_code=404)
    if payload is None and request.method == "POST":
        payload = await _json_object(request)
    try:
        answer = await ctx.sandbox_http.request(request.method, path, json=payload)
    except httpx.HTTPError as exc:
        return JSONResponse({"error": f"sandbox CRM unreachable: {type(exc).__name__}"}, status_code=502)
    try:
        content = answer.json()
    except ValueError:
        content = {"error": answer.text[:200]}
    return JSONResponse(content, status_code=answer.status_code)


# ------------------------------------------------------------------------------------------ Slack side


async def _deliver(request: Request, ctx: PlaygroundContext, signed: slack_requests.SignedRequest) -> dict[str, Any]:
    """Sign ``body`` as Slack would and send it through the app's own ``/slack/events``; return the ack.

    The answer is ``{status, ack, ack_text, seq}``: the app's HTTP status, its body (parsed when
    JSON, else as text), and the last captured fake-Slack call before sending (poll from there).
    """
    calls = ctx.fake.since(0)
    seq = calls[-1].seq if calls else 0
    # In-process, but through the whole ASGI stack: the same route, body limit and signature check.
    transport = httpx.ASGITransport(app=request.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://playground.invalid") as client:
        answer = await client.post("/slack/events", content=signed.body, headers=signed.headers)
    ack: Any = None
    ack_text: str | None = None
    if answer.headers.get("content-type", "").startswith("application/json"):
        ack = answer.json()
    elif answer.text:
        ack_text = answer.text
    return {"status": answer.status_code, "ack": ack, "ack_text": ack_text, "seq": seq}


def _response_url(ctx: PlaygroundContext, key: str) -> str:
    return f"{ctx.fake_url}/response/{key}"


def _trigger_id() -> str:
    return f"{secrets.randbelow(10**12)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def _new_ts() -> str:
    return f"{int(time.time())}.{secrets.randbelow(10**6):06d}"


def _link(url: object) -> dict[str, str]:
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise BadInput(f"each link must be a URL of at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        valid = False
    if not valid:
        raise BadInput("each link must be an http(s) URL")
    return {"domain": parts.hostname or "", "url": html.escape(url, quote=False)}


# ------------------------------------------------------------------------------------------ input


async def _json_object(request: Request) -> dict[str, Any]:
    # Requiring JSON also keeps other web pages out: a cross-origin JSON POST needs a CORS preflight,
    # which this server never grants.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise BadInput("send a JSON object with content-type application/json")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise BadInput(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise BadInput("body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise BadInput("body must be a JSON object")
    return body


def _string(body: Mapping[str, Any], name: str, limit: int, *, required: bool = True,
            empty_ok: bool = False) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > limit or not (empty_ok or not required or value.strip()):
        raise BadInput(f"{name} must be a string of at most {limit} characters"
                       + ("" if empty_ok or not required else ", not blank"))
    return value


def _sequence(request: Request, name: str) -> int:
    value = request.query_params.get(name, "0")
    if not value.isdecimal() or len(value) > 12:
        raise BadInput(f"{name} must be a sequence number (a non-negative integer)")
    return int(value)


def _viewer(body: Mapping[str, Any]) -> Viewer:
    """Whose request this is: ``viewer`` names a language (en when absent)."""
    name = body.get("viewer", "en")
    if not isinstance(name, str) or name not in VIEWERS:
        raise BadInput(f"viewer must be one of {', '.join(VIEWERS)}")
    return VIEWERS[name]


def _response_key(body: Mapping[str, Any]) -> str:
    """The page names each interaction's response_url, so it knows which message a post is for."""
    key = body.get("response_key")
    if key is None:
        return "k" + secrets.token_hex(6)
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise BadInput("response_key must be 1 to 64 letters, digits, '_', '.' or '-'")
    return key


def _message_ts(body: Mapping[str, Any]) -> str:
    ts = body.get("message_ts")
    if not isinstance(ts, str) or not _TS.fullmatch(ts):
        raise BadInput("message_ts must look like a Slack timestamp, e.g. 1700000000.000100")
    return ts
