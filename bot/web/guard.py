"""The edge of the app, in front of Bolt: what an unsigned request may cost.

``SlackRequestGuard`` is an ASGI middleware. For ``POST /slack/events`` it

1. refuses (401, connection closed, body unread) a request whose signature headers are missing,
   repeated or malformed, or whose timestamp is not an ASCII integer within five minutes;
2. refuses (413) a declared ``Content-Length`` over the limit, unread;
3. lends the request one of a fixed number of body-read slots (``BodySlots``): at most
   ``per_client`` to one client address (503 beyond), and when all are lent, the oldest loan is
   recalled (that request gets 503) so a newcomer is never turned away by slow senders;
4. reads the body as it streams, refusing (413) at the first chunk that takes it over the limit
   (chunked bodies included) and (408) when the body falls behind the minimum receive rate (counted
   from the first byte, after a short grace) or has not arrived whole within the deadline; a client
   that goes away mid-body is a debug line;
5. checks the v0 signature: HMAC-SHA256 over the exact bytes, constant-time, before anything parses
   the body (401 otherwise);

and only then hands the buffered body to the app. A path with a ``HeaderCheck`` (the CRM's push, whose
signature covers its headers alone) is admitted by its headers first (401, body unread) and then read
the same way up to its own limit. Any other path the app serves gets the same slots, rate and deadline
for a body, with a smaller limit; a path the app does not serve answers 404 without reading a declared
body. Early refusals carry ``Connection: close``, so the rest of a refused body is never read.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MAX_SLACK_BODY_BYTES = 512 * 1024  # Slack's own payloads are far smaller; a card action is ~10 KB
MAX_OTHER_BODY_BYTES = 64 * 1024  # the playground's JSON requests; health and metrics take no body
MAX_TIMESTAMP_SKEW = 300  # seconds; slack_sdk accepts 300 and refuses 301
RATE_GRACE_SECONDS = 1.0  # the first bytes may take a round trip or two before the rate counts
SATURATION_WINDOW = 5.0  # seconds /readyz reports the slots saturated after the last recall
_TIMESTAMP = re.compile(rb"[0-9]{1,12}")
_SIGNATURE = re.compile(rb"v0=[0-9a-f]{64}")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
    per_client: int = 16  # of those, at most this many from one client address
    min_bytes_per_second: float = 4096.0  # a body falling behind this rate (after the grace) is dropped


@dataclass(frozen=True)
class HeaderCheck:
    """A ``POST`` path whose headers alone say whether its body is worth reading. ``admits(scope)`` False:
    refused with 401, the body unread (the check logs and counts its own refusals)."""

    admits: Callable[[Scope], bool]
    max_bytes: int


class Refused(Exception):
    """A request the guard answers itself, with this status."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind  # headers, size, busy, timeout or signature: the metric's label
        self.reason = reason


_TEXT = {401: b"invalid signature", 404: b"not found", 408: b"request body timeout", 413: b"payload too large",
         503: b"busy, retry later"}


@dataclass(eq=False)
class _Loan:
    client: str
    task: asyncio.Task[object] | None
    recalled: bool = False


class BodySlots:
    """The body-read slots of one process, lent per request: at most ``per_client`` to one address; when
    all are lent, the oldest loan is recalled (its request is refused) for the newcomer. A slow sender
    therefore holds a slot only until someone else needs it, and one address never holds more than its
    share. All on the event loop's thread: no lock."""

    def __init__(self, limits: BodyLimits, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._loans: dict[_Loan, None] = {}  # in lending order: the first is the oldest
        self._by_client: dict[str, int] = {}
        self._recalled_at: float | None = None

    @property
    def lent(self) -> int:
        return len(self._loans)

    def saturated(self) -> bool:
        """Whether every slot was lent, and one recalled for a newcomer, within the last few seconds."""
        return self._recalled_at is not None and self._monotonic() - self._recalled_at < SATURATION_WINDOW

    def lend(self, client: str) -> _Loan:
        """A slot for a request from ``client``, or Refused (503) when that address holds its share."""
        if self._by_client.get(client, 0) >= self.limits.per_client:
            raise Refused(503, "busy_client", "this address holds its share of the slots")
        if len(self._loans) >= self.limits.max_pending:
            self._recall(next(iter(self._loans)))  # may be this client's own oldest: counted after
        loan = _Loan(client, asyncio.current_task())
        self._loans[loan] = None
        self._by_client[client] = self._by_client.get(client, 0) + 1
        return loan

    def give_back(self, loan: _Loan) -> None:
        if self._loans.pop(loan, False) is None:
            left = self._by_client[loan.client] - 1
            if left:
                self._by_client[loan.client] = left
            else:
                del self._by_client[loan.client]

    def _recall(self, loan: _Loan) -> None:
        self.give_back(loan)
        loan.recalled = True
        self._recalled_at = self._monotonic()
        if loan.task is not None:
            loan.task.cancel()  # interrupts its receive(); _read_body turns it into a 503


def client_address(scope: Scope, trusted_proxies: tuple[Network, ...]) -> str:
    """The address a request comes from: the peer, or, when the peer is a trusted proxy, the nearest
    address in ``X-Forwarded-For`` that is not one (a client can prepend anything; only the proxies'
    own additions count)."""
    peer = scope.get("client")
    address = str(peer[0]) if peer else "?"
    if not trusted_proxies or not within(address, trusted_proxies):
        return address
    hops = [str(hop).strip() for name, value in scope["headers"] if name == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")]
    for hop in reversed(hops):
        if hop and not within(hop, trusted_proxies):
            return hop
    return address


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """IP addresses or CIDR networks (``10.0.0.0/8``); ValueError names the first that is neither."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def within(address: str, networks: tuple[Network, ...]) -> bool:
    """Whether ``address`` (an IP address; anything else is not) lies in one of ``networks``."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


class SlackRequestGuard:
    """ASGI middleware guarding ``POST path`` with the app's signing secret, and every other path's body;
    ``on_refused(scope, kind)`` counts refusals (kind: headers, size, busy, busy_client, recalled, timeout,
    signature, not_found). ``serves(scope)`` says whether the app has a route for the request."""

    def __init__(self, app: ASGIApp, *, path: str, signing_secret: str | None, slots: BodySlots,
                 serves: Callable[[Scope], bool], trusted_proxies: tuple[Network, ...] = (),
                 clock: Callable[[], float] = time.time,
                 on_refused: Callable[[Scope, str], None] | None = None,
                 checked: Mapping[str, HeaderCheck] | None = None) -> None:
        self.app = app
        self._checked = dict(checked or {})
        self._path = path
        self._secret = signing_secret.encode() if signing_secret is not None else None
        self._on_refused = on_refused
        self._slots = slots
        self._serves = serves
        self._trusted = trusted_proxies
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        post = scope["method"] == "POST"
        secret = self._secret if post and scope["path"] == self._path else None
        checked = self._checked.get(scope["path"]) if post else None
        if secret is None and checked is None and not _declares_body(scope):
            await self.app(scope, receive, send)
            return
        try:
            if secret is not None:
                timestamp, signature = self._check_headers(scope)
                body = await self._read_body(scope, receive, MAX_SLACK_BODY_BYTES)
                if body is not None:
                    _check_signature(secret, timestamp, signature, body)
            elif checked is not None:
                if not checked.admits(scope):
                    await _refuse(send, 401)
                    return
                body = await self._read_body(scope, receive, checked.max_bytes)
            elif not self._serves(scope):
                raise Refused(404, "not_found", "no such path: the body is not read")
            else:
                body = await self._read_body(scope, receive, MAX_OTHER_BODY_BYTES)
        except Refused as refusal:
            log.debug("http.request.refused", extra={"status": refusal.status, "reason": refusal.reason})
            if self._on_refused is not None:
                self._on_refused(scope, refusal.kind)
            await _refuse(send, refusal.status)
            return
        if body is not None:  # None: the client went away
            await self.app(scope, _replay(body, receive), send)

    def _check_headers(self, scope: Scope) -> tuple[bytes, bytes]:
        """The timestamp and signature, or Refused; nothing of the body is read yet."""
        timestamps: list[bytes] = []
        signatures: list[bytes] = []
        for name, value in scope["headers"]:
            if name == b"x-slack-request-timestamp":
                timestamps.append(value)
            elif name == b"x-slack-signature":
                signatures.append(value)
        if len(timestamps) != 1 or len(signatures) != 1:
            raise Refused(401, "headers", "signature headers missing or repeated")
        timestamp, signature = timestamps[0].strip(), signatures[0].strip()
        if not _TIMESTAMP.fullmatch(timestamp):
            raise Refused(401, "headers", "timestamp not an integer")
        if abs(self._clock() - int(timestamp)) > MAX_TIMESTAMP_SKEW:
            raise Refused(401, "headers", "timestamp outside the window")
        if not _SIGNATURE.fullmatch(signature):
            raise Refused(401, "headers", "signature malformed")
        return timestamp, signature

    async def _read_body(self, scope: Scope, receive: Receive, most: int) -> bytes | None:
        """The whole body, or None when the client went away; Refused when over ``most`` bytes (declared or
        sent), behind the minimum rate, past the deadline, or when no slot can be lent."""
        limits = self._slots.limits
        most = min(most, limits.max_bytes)
        declared = _declared_length(scope)
        if declared is not None and declared > most:
            raise Refused(413, "size", "declared length over the limit")
        loan = self._slots.lend(client_address(scope, self._trusted))
        chunks: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        last = started + limits.timeout_seconds
        try:
            # One timer, moved on with each chunk: the body must keep up with the minimum rate from its first
            # byte (a slot is a loan, not a lease), and be whole by the deadline.
            async with asyncio.timeout_at(min(last, started + RATE_GRACE_SECONDS)) as deadline:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        log.debug("http.request.disconnected", extra={"bytes": size})
                        return None
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > most:
                        raise Refused(413, "size", "body over the limit")
                    if chunk:
                        chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
                    deadline.reschedule(min(last, started + RATE_GRACE_SECONDS + size / limits.min_bytes_per_second))
        except TimeoutError:
            raise Refused(408, "timeout", "body behind the minimum rate or past the deadline") from None
        except asyncio.CancelledError:
            if not loan.recalled:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            raise Refused(503, "recalled", "slot recalled for a newer request") from None
        finally:
            self._slots.give_back(loan)


def _check_signature(secret: bytes, timestamp: bytes, signature: bytes, body: bytes) -> None:
    if not hmac.compare_digest(slack_signature(secret, timestamp, body), signature):
        raise Refused(401, "signature", "signature mismatch")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _declares_body(scope: Scope) -> bool:
    """Whether the request says a body follows: a non-zero ``Content-Length`` or any ``Transfer-Encoding``."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"0", b"")):
            return True
    return False


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
