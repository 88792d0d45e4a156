"""``POST CRM_PUSH_PATH`` (default ``/crm/push``): the CRM's webhook push, only with ``CRM_PUSH_ENABLED``.

The guard (``bot.web.guard``) asks ``PushRoute.admits`` before it reads a byte of the body: headers that
are missing, malformed, not ours, unsigned or outside the window cost one SHA-256 and a 401. The body then
arrives under the guard's slots, rate and deadline, up to ``MAX_PUSH_BODY_BYTES``. Here it is decrypted
and parsed (400 for anything else), handed to the push lane (``bot.cache.push``) and answered at once with
its ``noise``: the vendor's deadline is met whatever the work after costs. Every refusal is one
``crm.push.refused`` line (status and reason; never the body, never a key).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from bot.cache.push import PushHandler
from bot.crm.push import MAX_PUSH_BODY_BYTES, PushCipher, PushVerifier, parse_push, push_reply
from bot.errors import PushRefused
from bot.runtime.metrics import Metrics
from bot.web.guard import HeaderCheck

log = logging.getLogger(__name__)


class PushRoute:
    """The push endpoint and its header check; the handler is the built instance's (``Instance.push``)."""

    def __init__(self, verifier: PushVerifier, cipher: PushCipher) -> None:
        self._verifier = verifier
        self._cipher = cipher

    def header_check(self) -> HeaderCheck:
        return HeaderCheck(self.admits, MAX_PUSH_BODY_BYTES)

    def admits(self, scope: Scope) -> bool:
        """Whether the headers are a valid push's (the guard reads the body only then)."""
        try:
            self._verifier.check(_headers(scope))
        except PushRefused as refusal:
            _refused(scope, refusal)
            return False
        return True

    async def endpoint(self, request: Request) -> Response:
        try:
            headers = self._verifier.check(_headers(request.scope))  # again: the window may have passed
            body = await request.body()  # buffered by the guard already
            message = parse_push(self._cipher.decrypt(body))
        except PushRefused as refusal:
            _refused(request.scope, refusal)
            return Response(str(refusal.reason), status_code=refusal.status, media_type="text/plain")
        handler: PushHandler = request.app.state.instance.push
        if not handler.accept(headers, message):
            request.app.state.instance.metrics.crm_pushes.inc("busy")
            log.warning("crm.push.busy", extra={"type": message.type, "msg_id": message.msg_id})
            return Response("busy, retry later", status_code=503, media_type="text/plain")
        content, media_type = push_reply(message.noise)
        return Response(content, media_type=media_type)


def _headers(scope: Scope) -> dict[str, list[str]]:
    """Every value of each header, by lower-case name; ASGI's bytes read as latin-1, as HTTP has them."""
    headers: dict[str, list[str]] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
    return headers


def _metrics(scope: Scope) -> Metrics | None:
    """The instance's metrics; None while it is not built (a refusal is still logged)."""
    instance = getattr(scope["app"].state, "instance", None)
    return instance.metrics if instance is not None else None


def _refused(scope: Scope, refusal: PushRefused) -> None:
    if (metrics := _metrics(scope)) is not None:
        metrics.crm_pushes.inc("refused")
    peer = scope.get("client")
    log.info("crm.push.refused", extra={"status": refusal.status, "reason": refusal.reason,
                                        "client": peer[0] if peer else None})
