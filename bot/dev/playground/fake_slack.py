"""A fake Slack Web API and response_url receiver, served on loopback.

It answers what clue bot calls (``auth.test``, ``chat.unfurl``, ``users.info``, ``views.open``,
``views.update``, ``chat.postEphemeral``) and records every call
and every response_url post, so the playground can show them and tests can assert the exact payloads
Slack would have received. Failures can be injected per Web API method.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TEAM_ID = "T0PLAYGRND"
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
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, name: str, body: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append(Recorded(len(self.calls) + 1, kind, name, body))

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


def create_fake_slack(state: FakeSlackState) -> Starlette:
    async def api(request: Request) -> Response:
        method = request.path_params["method"]
        body = await _read_body(request)
        state.record("api", method, body)
        if method in state.errors:
            return JSONResponse({"ok": False, "error": state.errors[method]})
        if method == "auth.test":
            return JSONResponse({"ok": True, "url": "https://playground.slack.com/", "team": "Playground",
                                 "user": "clue", "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                 "bot_id": "B0CLUEBOT", "is_enterprise_install": False})
        if method == "users.info":
            user = str(body.get("user"))
            return JSONResponse({"ok": True, "user": {"id": user, "locale": state.locales.get(user, "en-US"),
                                                      "tz": "UTC"}})
        if method in ("views.open", "views.update"):
            # The view as Slack returns it: the one sent, with the id and hash later updates quote.
            view = body.get("view")
            if isinstance(view, str):
                view = json.loads(view)
            view_id = str(body.get("view_id") or f"V0FAKE{len(state.api_calls('views.open')):04d}")
            return JSONResponse({"ok": True, "view": {**(view if isinstance(view, dict) else {}), "id": view_id,
                                                      "hash": f"hash-{len(state.calls)}"}})
        if method == "chat.postEphemeral":
            return JSONResponse({"ok": True, "message_ts": "1700000000.000900"})
        return JSONResponse({"ok": True})

    async def response_url(request: Request) -> Response:
        state.record("response_url", request.path_params["key"], await _read_body(request))
        return Response("ok")

    return Starlette(routes=[
        Route("/api/{method}", api, methods=["POST", "GET"]),
        Route("/response/{key}", response_url, methods=["POST"]),
    ])


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
