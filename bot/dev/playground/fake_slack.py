"""A fake Slack Web API and response_url receiver, served on loopback.

It answers what clue bot calls (``auth.test``, ``chat.unfurl``, ``users.info`` (in the shape of Slack's
published user object), ``conversations.info``, ``entity.presentDetails``, ``views.open``, ``views.update``,
``views.push``, ``views.publish`` (App Home), ``chat.postEphemeral``, and for alerts and direct messages
``chat.postMessage``, ``conversations.history`` and ``conversations.replies``) and records every call and every
response_url post, so the playground can show them and tests can assert the exact payloads Slack
would have received. Like Slack, it knows only the conversations the bot was added to (``chat.postEphemeral``
elsewhere is ``channel_not_found``), and only the views it opened: ``views.update`` of another is
``not_found``, with a hash that is no longer the view's ``hash_conflict``; a view is answered and held as
Slack hands it back (``bot.dev.slack_requests.slack_view``), to be clicked in. Failures can be
injected per Web API method (an error code, HTTP 429 with ``Retry-After`` a number of times, an HTML error
page as a proxy answers, or latency) and per response_url.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.dev.slack_requests import slack_view
from bot.slack.app import BOT_SCOPES

TEAM_ID = "T0PLAYGRND"
APP_ID = "A0CLUE0001"
BOT_USER_ID = "U0CLUEBOT"


@dataclass
class Recorded:
    """One call Slack would have received: ``kind`` is "api" or "response_url"."""

    seq: int
    kind: str
    name: str  # Web API method, or the response_url key
    body: dict[str, Any]


@dataclass
class FakeSlackState:
    calls: list[Recorded] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # method -> Slack error code to answer
    locales: dict[str, str] = field(default_factory=dict)  # user id -> Slack locale for users.info
    # user id -> what users.info says of them beyond the defaults: "tz", and "profile" fields ("email", "phone")
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    # auth.test's x-oauth-scopes header, as Slack sends it (comma separated); None: no header
    scopes: str | None = ",".join(BOT_SCOPES)
    latency: dict[str, float] = field(default_factory=dict)  # method -> seconds before answering (a slow Slack)
    rate_limited: dict[str, int] = field(default_factory=dict)  # method -> how many more calls get HTTP 429
    response_errors: dict[str, str] = field(default_factory=dict)  # response_url key -> error (HTTP 404)
    html_errors: dict[str, int] = field(default_factory=dict)  # method -> HTTP status answered with an HTML page
    # channel id -> conversations.info "channel" fields (is_ext_shared…) of the conversations the bot was added
    # to; any other answers channel_not_found, as Slack answers a bot token for DMs, group DMs and private
    # channels the app is not in. ``reset`` returns to ``joined``, what the fake was built with.
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # channel id -> chat.postMessage error for that channel only (not_in_channel, is_archived…)
    channel_errors: dict[str, str] = field(default_factory=dict)
    # channel id -> messages accepted by chat.postMessage (ts, text, blocks, metadata), oldest first
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # view id -> the view as Slack holds it (its current hash), for views opened, pushed or updated
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    joined: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.joined = {channel: dict(fields) for channel, fields in self.conversations.items()}

    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Accept a chat.postMessage: the message as Slack stores it, with a fresh ts."""
        channel = str(body.get("channel"))
        metadata = body.get("metadata")
        if isinstance(metadata, str):  # form-encoded calls send it as JSON text
            metadata = json.loads(metadata)
        with self.lock:
            posted = self.messages.setdefault(channel, [])
            # Slack's ts is the post time, unique per channel: strictly after the previous one.
            previous = float(posted[-1]["ts"]) if posted else 0.0
            ts = f"{max(time.time(), previous + 0.000001):.6f}"
            message = {"type": "message", "ts": ts,
                       "text": body.get("text"), "blocks": body.get("blocks"), "metadata": metadata}
            if body.get("thread_ts"):  # a reply in a thread
                message["thread_ts"] = str(body["thread_ts"])
            posted.append(message)
            return message

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages.get(channel, []))

    def record(self, kind: str, name: str, body: dict[str, Any]) -> int:
        """Record a call; its sequence number (views.open names the new view after it: ``V<seq>``)."""
        with self.lock:
            seq = len(self.calls) + 1
            self.calls.append(Recorded(seq, kind, name, body))
            return seq

    def api_calls(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c.body for c in self.calls if c.kind == "api" and c.name == method]

    def responses(self, key: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [c.body for c in self.calls if c.kind == "response_url" and (key is None or c.name == key)]

    def since(self, seq: int) -> list[Recorded]:
        with self.lock:
            return [c for c in self.calls if c.seq > seq]

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.errors.clear()
            self.locales.clear()
            self.people.clear()
            self.scopes = ",".join(BOT_SCOPES)
            self.latency.clear()
            self.rate_limited.clear()
            self.response_errors.clear()
            self.html_errors.clear()
            self.conversations.clear()
            self.conversations.update({channel: dict(fields) for channel, fields in self.joined.items()})
            self.channel_errors.clear()
            self.messages.clear()
            self.views.clear()


def public_channel(name: str, **fields: Any) -> dict[str, Any]:
    """``conversations.info``'s channel fields for a public channel of one workspace that the bot is in."""
    return {"name": name, "is_channel": True, "is_group": False, "is_im": False, "is_mpim": False,
            "is_private": False, "is_archived": False, "is_member": True, "is_shared": False,
            "is_ext_shared": False, "is_org_shared": False, "is_pending_ext_shared": False, **fields}


def slack_user(user_id: str, locale: str, *, tz: str = "UTC", profile: dict[str, Any] | None = None) -> dict[str, Any]:
    """``users.info``'s ``user``, keyed as Slack's published user object (api.slack.com/types/user): ``tz``,
    ``tz_label``, ``tz_offset``, ``locale`` (asked with ``include_locale``) and a ``profile`` whose ``email``
    (only with ``users:read.email``) and ``phone`` are there when given."""
    offset = datetime.now(ZoneInfo(tz)).utcoffset()
    name = user_id.lower()
    return {"id": user_id, "team_id": TEAM_ID, "name": name, "deleted": False, "color": "9f69e7", "real_name": name,
            "tz": tz, "tz_label": tz, "tz_offset": int(offset.total_seconds()) if offset else 0, "locale": locale,
            "profile": {"title": "", "phone": "", "skype": "", "real_name": name, "real_name_normalized": name,
                        "display_name": name, "display_name_normalized": name, "team": TEAM_ID, **(profile or {})},
            "is_admin": False, "is_owner": False, "is_bot": False, "updated": 1700000000}


def create_fake_slack(state: FakeSlackState) -> Starlette:
    async def api(request: Request) -> Response:
        method = request.path_params["method"]
        body = await _read_body(request)
        seq = state.record("api", method, body)
        delay = state.latency.get(method)
        if delay and method != "chat.postMessage":
            await asyncio.sleep(delay)
        if state.rate_limited.get(method, 0) > 0:
            state.rate_limited[method] -= 1
            return JSONResponse({"ok": False, "error": "ratelimited"}, status_code=429,
                                headers={"Retry-After": "0"})
        if method in state.html_errors:
            return Response("<html><body>Bad Gateway</body></html>", status_code=state.html_errors[method],
                            media_type="text/html")
        if method in state.errors:
            return JSONResponse({"ok": False, "error": state.errors[method]})
        if method == "auth.test":
            return JSONResponse({"ok": True, "url": "https://playground.slack.com/", "team": "Playground",
                                 "user": "clue", "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                 "bot_id": "B0CLUEBOT", "is_enterprise_install": False},
                                headers={} if state.scopes is None else {"x-oauth-scopes": state.scopes})
        if method == "users.info":
            user = str(body.get("user"))
            return JSONResponse({"ok": True, "user": slack_user(user, state.locales.get(user, "en-US"),
                                                                **state.people.get(user, {}))})
        if method == "entity.presentDetails" and not body.get("trigger_id"):
            return JSONResponse({"ok": False, "error": "invalid_trigger_id"})
        if method in ("views.open", "views.push", "views.update", "views.publish"):
            return JSONResponse(_view_answer(state, method, seq, body))
        if method == "chat.postMessage":
            channel = str(body.get("channel"))
            if channel in state.channel_errors:
                return JSONResponse({"ok": False, "error": state.channel_errors[channel]})
            message = state.post(body)
            if delay:  # accepted first: a client that gives up (or dies) meanwhile lost only the answer
                await asyncio.sleep(delay)
            return JSONResponse({"ok": True, "channel": channel, "ts": message["ts"], "message": message})
        if method in ("conversations.history", "conversations.replies"):
            channel = str(body.get("channel"))
            oldest = float(body.get("oldest") or 0)
            found = [m for m in state.channel_messages(channel) if float(m["ts"]) >= oldest]
            if method == "conversations.replies":  # the thread, its parent first (if it is in the channel)
                thread = str(body.get("ts"))
                return JSONResponse({"ok": True, "has_more": False, "messages": [
                    m for m in found if thread in (m["ts"], m.get("thread_ts"))]})
            # Like Slack, the channel's history holds no thread replies.
            return JSONResponse({"ok": True, "has_more": False, "messages": [
                m for m in reversed(found) if m.get("thread_ts") in (None, m["ts"])]})
        if method == "chat.postEphemeral":
            return JSONResponse(_ephemeral_answer(state, body))
        if method == "conversations.info":
            channel = str(body.get("channel"))
            if channel not in state.conversations:
                return JSONResponse({"ok": False, "error": "channel_not_found"})
            return JSONResponse({"ok": True, "channel": {"id": channel, **state.conversations[channel]}})
        return JSONResponse({"ok": True})

    async def response_url(request: Request) -> Response:
        key = request.path_params["key"]
        state.record("response_url", key, await _read_body(request))
        if key in state.response_errors:
            return Response(state.response_errors[key], status_code=404)
        return Response("ok")

    return Starlette(routes=[
        Route("/api/{method}", api, methods=["POST", "GET"]),
        Route("/response/{key}", response_url, methods=["POST"]),
    ])


def _view_answer(state: FakeSlackState, method: str, seq: int, body: dict[str, Any]) -> dict[str, Any]:
    """views.open / views.push / views.update / views.publish as Slack answers them (the errors of their
    references): the view as Slack holds it, with its id and a fresh hash. A published view is a person's Home
    tab: ``type: home`` (no title) for a ``user_id``, needing no trigger."""
    view = body.get("view")
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
    home = method == "views.publish"
    if not isinstance(view, dict) or not isinstance(view.get("blocks"), list) or \
            not (view.get("type") == "home" if home else view.get("title")):
        return {"ok": False, "error": "invalid_arguments"}
    if home and not body.get("user_id"):
        return {"ok": False, "error": "user_not_found"}
    if method == "views.update":
        view_id = str(body.get("view_id") or "")
        with state.lock:
            held = state.views.get(view_id)
        if held is None:
            return {"ok": False, "error": "not_found"}
        if body.get("hash") and body["hash"] != held["hash"]:
            return {"ok": False, "error": "hash_conflict"}
    elif not home and not body.get("trigger_id"):
        return {"ok": False, "error": "invalid_trigger_id"}
    else:
        view_id = f"V{seq:08d}"
    answer = slack_view(view, view_id=view_id, team=TEAM_ID, api_app_id=APP_ID, view_hash=f"h{seq}")
    with state.lock:
        state.views[view_id] = answer
    return {"ok": True, "view": answer}


def _ephemeral_answer(state: FakeSlackState, body: dict[str, Any]) -> dict[str, Any]:
    """chat.postEphemeral: ``channel_not_found`` for a conversation the bot is not in, as a bot token hears;
    ``user_not_found`` without a user; the ephemeral message's ts otherwise."""
    with state.lock:
        known = str(body.get("channel")) in state.conversations
    if not known:
        return {"ok": False, "error": "channel_not_found"}
    if not body.get("user"):
        return {"ok": False, "error": "user_not_found"}
    return {"ok": True, "message_ts": "1700000000.000900"}


async def _read_body(request: Request) -> dict[str, Any]:
    """The call's arguments: JSON or form body, plus query parameters (slack_sdk GETs some methods)."""
    return {**dict(request.query_params), **await _decode_body(request)}


async def _decode_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            decoded = json.loads(raw or b"{}")
        except ValueError:
            return {"_invalid_json": raw.decode(errors="replace")}
        return decoded if isinstance(decoded, dict) else {"_json": decoded}
    return dict(parse_qsl(raw.decode(errors="replace")))
