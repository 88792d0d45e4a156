"""The edge of ``POST /slack/events``, in front of Bolt: what an unsigned request may cost.

``SlackRequestGuard`` is an ASGI middleware. For the Slack path it

1. refuses (401, connection closed, body unread) a request whose signature headers are missing,
   repeated or malformed, or whose timestamp is not an ASCII integer within five minutes;
2. refuses (413) a declared ``Content-Length`` over the limit, unread;
3. takes one of a fixed number of body-read slots, or refuses (503) when all are taken, so slow
   senders cannot pile up (a slot is held only while the body streams in);
4. reads the body as it streams, refusing (413) at the first chunk that takes it over the limit
   (chunked bodies included) and (408) when the whole body has not arrived within the deadline; a
   client that goes away mid-body is a debug line;
5. checks the v0 signature: HMAC-SHA256 over the exact bytes, constant-time, before anything parses
   the body (401 otherwise);

and only then hands the buffered body to the app. Early refusals carry ``Connection: close``, so the
rest of a refused body is never read. Every other path goes straight through.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MAX_SLACK_BODY_BYTES = 512 * 1024  # Slack's own payloads are far smaller; a card action is ~10 KB
MAX_TIMESTAMP_SKEW = 300  # seconds; slack_sdk accepts 300 and refuses 301
_TIMESTAMP = re.compile(rb"[0-9]{1,12}")
_SIGNATURE = re.compile(rb"v0=[0-9a-f]{64}")


def slack_signature(secret: bytes, timestamp: bytes, body: bytes) -> bytes:
    """Slack's v0 signature of a request: ``v0=`` and the HMAC-SHA256 of ``v0:{timestamp}:{body}``, in hex.
    Over the exact bytes (slack_sdk's verifier decodes the body as UTF-8 first, and raises on junk)."""
    return b"v0=" + hmac.new(secret, b"v0:" + timestamp + b":" + body, hashlib.sha256).hexdigest().encode()


@dataclass(frozen=True)
class BodyLimits:
    """How much of a Slack request body the guard will wait for and hold."""

    max_bytes: int = MAX_SLACK_BODY_BYTES
    timeout_seconds: float = 10.0  # for the whole body, from the moment the headers are in
    max_pending: int = 64  # bodies being read at once; also bounds buffered bodies to max_pending * max_bytes


class Refused(Exception):
    """A request the guard answers itself, with this status."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind  # headers, size, busy, timeout or signature: the metric's label
        self.reason = reason


_TEXT = {401: b"invalid signature", 408: b"request body timeout", 413: b"payload too large",
         503: b"busy, retry later"}


class SlackRequestGuard:
    """ASGI middleware guarding ``POST path`` with the app's signing secret; ``on_refused(scope, kind)``
    counts refusals (kind: headers, size, busy, timeout, signature)."""

    def __init__(self, app: ASGIApp, *, path: str, signing_secret: str,
                 limits: BodyLimits | None = None, clock: Callable[[], float] = time.time,
                 on_refused: Callable[[Scope, str], None] | None = None) -> None:
        self.app = app
        self._path = path
        self._secret = signing_secret.encode()
        self._on_refused = on_refused
        self._limits = limits or BodyLimits()
        self._clock = clock
        self.pending = 0  # bodies being read now (all on the event loop's thread: no lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self._path:
            await self.app(scope, receive, send)
            return
        try:
            timestamp, signature = self._check_headers(scope)
            body = await self._read_body(scope, receive)
            if body is None:  # the client went away
                return
            self._check_signature(scope, timestamp, signature, body)
        except Refused as refusal:
            log.debug("slack.request.refused", extra={"status": refusal.status, "reason": refusal.reason})
            if self._on_refused is not None:
                self._on_refused(scope, refusal.kind)
            await _refuse(send, refusal.status)
            return
        await self.app(scope, _replay(body, receive), send)

    def _check_headers(self, scope: Scope) -> tuple[bytes, bytes]:
        """The timestamp and signature, or Refused; nothing of the body is read yet."""
        timestamps: list[bytes] = []
        signatures: list[bytes] = []
        declared: list[bytes] = []
        for name, value in scope["headers"]:
            if name == b"x-slack-request-timestamp":
                timestamps.append(value)
            elif name == b"x-slack-signature":
                signatures.append(value)
            elif name == b"content-length":
                declared.append(value)
        if len(timestamps) != 1 or len(signatures) != 1:
            raise Refused(401, "headers", "signature headers missing or repeated")
        timestamp, signature = timestamps[0].strip(), signatures[0].strip()
        if not _TIMESTAMP.fullmatch(timestamp):
            raise Refused(401, "headers", "timestamp not an integer")
        if abs(self._clock() - int(timestamp)) > MAX_TIMESTAMP_SKEW:
            raise Refused(401, "headers", "timestamp outside the window")
        if not _SIGNATURE.fullmatch(signature):
            raise Refused(401, "headers", "signature malformed")
        if declared and declared[0].isdigit() and int(declared[0]) > self._limits.max_bytes:
            raise Refused(413, "size", "declared length over the limit")
        return timestamp, signature

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        limits = self._limits
        if self.pending >= limits.max_pending:
            raise Refused(503, "busy", "too many bodies in flight")
        self.pending += 1
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(limits.timeout_seconds):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        log.debug("slack.request.disconnected", extra={"bytes": size})
                        return None
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limits.max_bytes:
                        raise Refused(413, "size", "body over the limit")
                    if chunk:
                        chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            raise Refused(408, "timeout", "body not received in time") from None
        finally:
            self.pending -= 1

    def _check_signature(self, scope: Scope, timestamp: bytes, signature: bytes, body: bytes) -> None:
        if not hmac.compare_digest(slack_signature(self._secret, timestamp, body), signature):
            raise Refused(401, "signature", "signature mismatch")


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the buffered body once, then whatever the connection says (disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _refuse(send: Send, status: int) -> None:
    text = _TEXT[status]
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(text)).encode()),
        (b"connection", b"close"),  # the rest of the body, if any, is not read: this connection is done
    ]})
    await send({"type": "http.response.body", "body": text, "more_body": False})
