"""CrmClient: the signed HTTP client of the Tanmarket open API.

Sends ``httpx.Request``s through one pooled httpx transport (``AiohttpTransport``, unless a test
gives another; README: Performance says why not httpx's own). Each body is serialized once and those
exact bytes are signed (by ``CrmSigner``) and sent. Every outcome maps onto ``bot.errors`` once, where
it happens: HTTP 200 with ``code != 0`` is a business error, 5xx / timeouts / connection faults are
``CrmUnavailable``, anything unreadable is ``CrmProtocolError``; whether one more attempt is worth it
is read from that error and the httpx error it was made from. Responses are decoded here
(gzip or deflate) under a cap on the decoded size, checked as the bytes arrive; each request has a
total deadline.

Its size: one method per endpoint plus the one transport (retry, bounded decoding) they share.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

from bot.crm.guard import CrmGuard
from bot.crm.models import (
    NO_ROW_FIELDS,
    CluePage,
    FieldDef,
    FollowUpPage,
    RawClue,
    RowFields,
    SearchPage,
    Tag,
    owner_of,
    parse_clue,
    parse_clue_page,
    parse_field_defs,
    parse_follow_ups,
    parse_search,
    parse_tag_tree,
)
from bot.crm.push import PUSH_REGISTER
from bot.crm.signing import CrmSigner
from bot.crm.transport import AiohttpTransport
from bot.domain.owner import Owner
from bot.errors import ClueNotFound, CrmAuthError, CrmError, CrmProtocolError, CrmUnavailable
from bot.runtime.metrics import Metrics
from bot.runtime.secret import Secret

log = logging.getLogger(__name__)

CLUE_GET = "/api/v3/clue/get"
LIST_FIELDS = "/api/v2/customer/list-fields"
TAG_TREE = "/api/v3/tags/list-tree"
FOLLOW_UPS = "/api/v3/clue/list-follow-up"
SEARCH = "/api/v3/customer/search"
ECHO = "/api/v3/echo"
CLUES_BY_CREATE_TIME = "/api/v3/clue/list-by-create-time-asc"
OWNER_ROWS = 20  # rows of one customer's search: one per sales relationship

CODE_BAD_SIGNATURE = 1002
CODE_CLOCK_SKEW = 1003
_RETRYABLE_STATUS = {502, 503, 504}
# Accept-Encoding: only the codings _BoundedDecoder bounds.
_HEADERS = (("Content-Type", "application/json"), ("Accept-Encoding", "gzip, deflate"), ("User-Agent", "clue-bot"))
_NOT_FOUND_MESSAGE = re.compile(r"不存在|未找到|找不到|无此|not\s*(?:be\s*)?found|not\s*exist|no\s*such", re.IGNORECASE)


def _worth_retrying(error: CrmError) -> bool:
    """What one more attempt may fix: a connection that failed, a gateway's 502/503/504, our timestamp (1003)."""
    if isinstance(error, CrmAuthError):
        return error.clock_skew
    cause = error.__cause__
    if isinstance(cause, httpx.HTTPStatusError):
        return cause.response.status_code in _RETRYABLE_STATUS
    return isinstance(cause, httpx.TransportError) and not isinstance(cause, httpx.TimeoutException)


def encode_body(payload: Mapping[str, Any] | None) -> bytes:
    """The exact bytes to sign and send: compact JSON, UTF-8, non-ASCII kept (empty for no body)."""
    if payload is None:
        return b""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class CrmClient:
    """Typed access to the CRM endpoints clue bot uses."""

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        app_key: Secret,
        guard: CrmGuard,
        metrics: Metrics,
        timeout: float = 5.0,
        max_response_bytes: int = 2_000_000,
        max_connections: int = 20,
        follow_up_type: int = 0,
        transport: httpx.AsyncBaseTransport | None = None,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        self._guard = guard
        self._metrics = metrics
        self._sleep = sleep
        self._jitter = jitter
        self._signer = CrmSigner(app_id, app_key.reveal(), now_ms)
        self._base_url = base_url.rstrip("/")  # a path prefix (…/apiServer) is kept
        self._urls: dict[str, httpx.URL] = {}
        # Straight to an httpx transport: httpx.AsyncClient's cookie, redirect and auth machinery add
        # ~150 µs of CPU per call (on ~215-325 µs for the call itself), and this client needs none of it.
        self._transport = transport or AiohttpTransport(max_connections=max_connections)
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._follow_up_type = follow_up_type  # CRM_FOLLOW_UP_TYPE: README, What we assume about the real CRM
        self._closed = False

    @property
    def breaker_state(self) -> str:
        return self._guard.breaker.state

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        """Close the connection pool; closing again does nothing."""
        if not self._closed:
            self._closed = True
            await self._transport.aclose()

    # ------------------------------------------------------------ endpoints

    async def get_clue(self, clue_id: int) -> RawClue:
        try:
            data = await self.call(CLUE_GET, {"customerId": clue_id})
        except CrmError as exc:
            # No "not found" code is documented; a business error that says so is read as one.
            if type(exc) is CrmError and _NOT_FOUND_MESSAGE.search(exc.crm_message or ""):
                raise ClueNotFound(clue_id) from exc
            raise
        raw = parse_clue(data, clue_id)
        if raw is None:
            raise ClueNotFound(clue_id)
        if raw.customer_id != clue_id:
            # A card of another clue under this id would be worse than no card: never show or cache it.
            log.warning("crm.clue.mismatch", extra={"endpoint": CLUE_GET, "requested": clue_id,
                                                    "answered": raw.customer_id})
            raise CrmProtocolError(f"CRM answered clue {raw.customer_id} when asked for clue {clue_id}")
        return raw

    async def list_fields(self) -> tuple[FieldDef, ...]:
        return parse_field_defs(await self.call(LIST_FIELDS, {}))

    async def list_tag_tree(self) -> tuple[Tag, ...]:
        return parse_tag_tree(await self.call(TAG_TREE, None))

    async def list_follow_ups(self, clue_id: int, *, size: int = 20, cursor: str | None = None) -> FollowUpPage:
        return parse_follow_ups(
            await self.call(FOLLOW_UPS, {"customerId": clue_id, "size": size, "type": self._follow_up_type,
                                     "cursor": cursor})
        )

    async def search_customers(self, key: str, *, page_no: int = 1, page_size: int = 10,
                               fields: RowFields = NO_ROW_FIELDS) -> SearchPage:
        """One page of customers matching ``key`` (phone or name); ``fields``: the ids of the fields rows carry
        the name, phone and company under."""
        return parse_search(await self.call(SEARCH, {"searchKey": key, "pageNo": page_no, "pageSize": page_size}),
                            fields)

    async def owner(self, customer_id: int) -> Owner | None:
        """Whose clue ``customer_id`` is: customer/search filtered by ``customerId`` (api-55653168's
        高级筛选), its rows' ``mainFollows``; None when the search has no row for it."""
        data = await self.call(SEARCH, {"customerId": customer_id, "pageNo": 1, "pageSize": OWNER_ROWS})
        return owner_of(parse_search(data), customer_id)

    async def list_clues_by_create_time(self, since: str, before: str, *, size: int = 100,
                                        cursor: str | None = None) -> CluePage:
        """Clues created in [since, before) (CRM time text, ``YYYY-MM-DD HH:MM:SS``), oldest first."""
        return parse_clue_page(await self.call(CLUES_BY_CREATE_TIME, {"since": since, "before": before, "size": size,
                                                                      "type": 1, "cursor": cursor}))

    async def push_register(self, receive_address: str, subscription: Sequence[str]) -> None:
        """Ask the CRM to push ``subscription`` (types) to ``receive_address``; a ``register`` push follows
        (crm-api.md §8). Idempotent, so the one retry is as safe as for reads."""
        await self.call(PUSH_REGISTER, {"receiveAddress": receive_address, "subscription": ",".join(subscription)})

    async def echo(self) -> None:
        await self.call(ECHO, {"hello": "clue-bot"})

    # ------------------------------------------------------------ transport

    async def call(self, path: str, payload: Mapping[str, Any] | None) -> Any:
        """POST one signed request under the guard; return the envelope's ``data``."""
        body = encode_body(payload)
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await self._guard.call(lambda: self._with_retry(path, body))
        except CrmError as exc:
            outcome = _outcome(exc)
            log.warning("crm.request.failed", extra={
                "endpoint": path, "outcome": outcome, "code": exc.code, "error": str(exc),
                "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
            })
            raise
        finally:
            self._metrics.crm_latency.labels(path, outcome).observe(time.perf_counter() - started)

    async def _with_retry(self, path: str, body: bytes) -> Any:
        # All endpoints used here are reads, so one transparent retry is safe. A fresh attempt also
        # gets a fresh timestamp and signature (1003 may be a request that waited too long).
        try:
            return await self._once(path, body)
        except CrmError as first:
            if not _worth_retrying(first):
                raise
            if isinstance(first, CrmAuthError):
                log.warning("crm.clock_skew", extra={"local_time_ms": time.time_ns() // 1_000_000})
        await self._sleep(0.05 + 0.1 * self._jitter())
        return await self._once(path, body)

    async def _once(self, path: str, body: bytes) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                raw = await self._post(path, body)
        except TimeoutError as exc:
            raise CrmUnavailable(f"CRM did not answer within {self._timeout:g}s") from exc
        except httpx.TimeoutException as exc:
            raise CrmUnavailable(f"CRM timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise CrmUnavailable(f"CRM connection failed ({type(exc).__name__})") from exc
        return self._unwrap(raw)

    async def _post(self, path: str, body: bytes) -> bytes:
        if self._closed:
            raise CrmUnavailable("the CRM client is closed")
        url = self._urls.get(path) or self._urls.setdefault(path, httpx.URL(self._base_url + path))
        request = httpx.Request("POST", url, headers=[*_HEADERS, *self._signer.headers(body)], content=body,
                                extensions=self._extensions)
        response = await self._transport.handle_async_request(request)
        try:
            status = response.status_code
            if status >= 500:
                raise CrmUnavailable(f"CRM answered HTTP {status}") from httpx.HTTPStatusError(
                    f"HTTP {status}", request=request, response=response)
            if status != 200:
                hint = " (check CRM_BASE_URL)" if status == 404 else ""
                raise CrmProtocolError(f"CRM answered HTTP {status}{hint}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise CrmProtocolError(f"CRM response is {declared} bytes, over the {self._max_bytes} limit")
            # Raw bytes, decoded here: httpx's own decoder inflates each network chunk whole, so 64 KB of
            # gzip could become 64 MB in memory before any size check saw it.
            if response.is_stream_consumed:
                # An answer built in memory (a test's httpx.MockTransport) arrives read and decoded.
                decoder = _BoundedDecoder("", self._max_bytes)
                decoder.feed(response.content)
                return decoder.finish()
            decoder = _BoundedDecoder(response.headers.get("content-encoding", ""), self._max_bytes)
            async for chunk in response.aiter_raw():
                decoder.feed(chunk)
            return decoder.finish()
        finally:
            await response.aclose()

    @staticmethod
    def _unwrap(raw: bytes) -> Any:
        try:
            envelope = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
            raise CrmProtocolError("CRM answered with something that is not JSON") from exc
        if not isinstance(envelope, dict) or not isinstance(envelope.get("code"), int) \
                or isinstance(envelope.get("code"), bool):
            raise CrmProtocolError("CRM answer has no integer 'code'")
        code: int = envelope["code"]
        message = str(envelope.get("message") or "")[:200]
        if code == 0:
            return envelope.get("data")
        if code == CODE_BAD_SIGNATURE:
            raise CrmAuthError("CRM rejected the request signature (check CRM_APP_ID / CRM_APP_KEY)",
                               code=code, crm_message=message)
        if code == CODE_CLOCK_SKEW:
            raise CrmAuthError("CRM rejected our timestamp (check this server's clock)", code=code,
                               crm_message=message)
        raise CrmError(f"CRM answered code {code}: {message}", code=code, crm_message=message)


class _BoundedDecoder:
    """Decodes a response body (identity, gzip or deflate) and stops at the first byte over ``limit``.

    zlib is asked for at most the room left plus one byte per call, so however small the compressed
    input, no more than ``limit + 1`` decoded bytes are ever held.
    """

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = [c for c in (p.strip().lower() for p in content_encoding.split(",")) if c not in ("", "identity")]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise CrmProtocolError(f"CRM answered with unsupported content-encoding {content_encoding[:40]!r}")
        self._coding = codings[0] if codings else None
        self._limit = limit
        self._out = bytearray()
        self._head = b""  # deflate: the first bytes, until there are two to tell zlib from raw
        self._inflate: Any = None  # zlib.decompressobj, made on the first chunk
        if self._coding in ("gzip", "x-gzip"):
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)

    def feed(self, data: bytes) -> None:
        if self._coding is None:
            self._append(data)
            return
        if self._inflate is None:  # deflate, first bytes
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return
            # "deflate" is meant to be zlib-wrapped, but some servers send a raw stream (httpx reads both too).
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS if _zlib_header(data) else -zlib.MAX_WBITS)
        try:
            while data and not self._inflate.eof:
                self._append(self._inflate.decompress(data, self._limit - len(self._out) + 1))
                data = self._inflate.unconsumed_tail
        except zlib.error as exc:
            raise CrmProtocolError(f"CRM answered with a corrupt {self._coding} body") from exc

    def finish(self) -> bytes:
        if self._head and self._inflate is None:
            raise CrmProtocolError(f"CRM answered with a corrupt {self._coding} body")
        if self._inflate is not None:
            try:
                self._append(self._inflate.flush())
            except zlib.error as exc:
                raise CrmProtocolError(f"CRM answered with a corrupt {self._coding} body") from exc
        return bytes(self._out)

    def _append(self, data: bytes) -> None:
        self._out += data
        if len(self._out) > self._limit:
            raise CrmProtocolError(f"CRM response exceeds the {self._limit} byte limit")


def _zlib_header(data: bytes) -> bool:
    """RFC 1950: compression method 8, and the two header bytes a multiple of 31."""
    return data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _outcome(exc: CrmError) -> str:
    if isinstance(exc, CrmUnavailable):
        return "unavailable"
    if isinstance(exc, CrmAuthError):
        return "auth"
    if isinstance(exc, CrmProtocolError):
        return "protocol"
    return "error"
