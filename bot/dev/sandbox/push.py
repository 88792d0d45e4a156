"""The sandbox CRM's webhook pushes, made as crm-api.md §8 says the CRM makes them: headers signed with
``appId + version + timestamp + appKey``, the message AES/CTR-encrypted and Base64-encoded.

``push-register`` stores the address and sends the ``register`` confirmation to it; ``POST /_sandbox/push``
(unsigned control) sends one push there or to a given URL, ``"times": 2`` sending the very same request
twice (a replay), and answers with what the receiver said.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from collections.abc import Callable
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.crm.push import PushCipher, push_headers, push_message

SEND_TIMEOUT_SECONDS = 5.0
MAX_TIMES = 5


def new_noise() -> int:
    """A random noise above 2**53, as the vendor's (4970601478527096155): a float would lose its digits."""
    return (1 << 62) | secrets.randbits(62)


class SandboxPusher:
    """Pushes of one sandbox CRM. Runs on the sandbox's event loop."""

    def __init__(self, app_id: str, app_key: str, corp_id: str, now_ms: Callable[[], int], *,
                 edit: Callable[[int], str | None]) -> None:
        """``edit(clue_id)``: change the clue in the sandbox's data (its new name; None: no such clue)."""
        self._edit = edit
        self._app_id = app_id
        self._app_key = app_key
        self._cipher = PushCipher(app_key, corp_id)
        self._now_ms = now_ms
        self._msg_ids = itertools.count(1)
        self._confirmations: set[asyncio.Task[Any]] = set()
        self.address: str | None = None
        self.subscription: tuple[str, ...] = ()

    def register(self, address: str, subscription: str) -> None:
        """``push-register``: remember where to push, and confirm with a ``register`` push (in the background,
        after the register call has been answered, as the CRM says it does)."""
        self.address = address
        self.subscription = tuple(kind for kind in subscription.split(",") if kind)
        task = asyncio.ensure_future(self.send(address, "register", "hello"))
        self._confirmations.add(task)
        task.add_done_callback(self._confirmations.discard)

    async def send(self, url: str, kind: str, content: Any, times: int = 1) -> list[dict[str, Any]]:
        """One push to ``url``, sent ``times`` times unchanged; what the receiver answered to each."""
        noise = new_noise()
        body = self._cipher.encrypt(push_message(kind, noise, next(self._msg_ids), content))
        headers = push_headers(self._app_id, self._app_key, self._now_ms())
        answers = []
        async with httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS) as client:
            for _ in range(times):
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    answers.append({"error": type(exc).__name__, "noise": noise})
                    continue
                answers.append({"status": response.status_code, "body": response.text[:200], "noise": noise})
        return answers

    async def control(self, request: Request) -> Response:
        """``POST /_sandbox/push`` ``{"type": "edit_qw_customer", "customerId": 8, "url": …, "times": 1}``: a push
        (``content`` replaces the default ``{"customerId": …}``); the receiver's answers. ``"edit": true``
        first changes that clue's name (stamped with the time), so the push has something to announce."""
        try:
            args = json.loads(await request.body() or b"{}")
        except ValueError:
            args = None
        if not isinstance(args, dict) or set(args) - {"url", "type", "customerId", "content", "times", "edit"}:
            return JSONResponse({"error": "body must be a JSON object: {\"type\", \"customerId\", \"content\", "
                                          "\"url\", \"times\", \"edit\"}"}, status_code=400)
        url = args.get("url") or self.address
        times = args.get("times", 1)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return JSONResponse({"error": "no push address: push-register one, or give \"url\""}, status_code=400)
        if type(times) is not int or not 1 <= times <= MAX_TIMES:
            return JSONResponse({"error": f"times must be 1 to {MAX_TIMES}"}, status_code=400)
        clue_id = args.get("customerId")
        if args.get("edit") is True and (type(clue_id) is not int or self._edit(clue_id) is None):
            return JSONResponse({"error": "edit needs the customerId of a sandbox clue"}, status_code=400)
        content = args.get("content", {"customerId": clue_id})
        return JSONResponse({"answers": await self.send(url, str(args.get("type", "edit_qw_customer")), content,
                                                        times)})
