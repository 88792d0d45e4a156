"""The CRM client's HTTP transport: httpx requests sent over an aiohttp connection pool.

httpx stays the client's API (requests, ``MockTransport`` in tests, its errors); only the wire is
aiohttp's (already a dependency: slack_sdk's async Web API client is built on it). httpx's own
transport (httpcore's pool) costs 2 to 5 times the CPU per CRM call: measured in process, 741 µs
against 381 µs with one call in flight and 1,596 µs against 311 µs with 16 (README: Performance), and
with 16 in flight the app's one core is what a cache miss waits for.

aiohttp's errors become httpx's, as an httpx transport's must; the client alone turns those into
``bot.errors``. No timers here (the client bounds every attempt whole), so no aiohttp timeout can
arise. Bodies arrive raw: the client bounds and decodes them itself.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx

KEEPALIVE_SECONDS = 5.0  # httpx's default keep-alive expiry
# The client bounds each attempt as a whole (asyncio.timeout): per-phase timers here would only be
# re-armed on every chunk read, for nothing.
_NO_TIMERS = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=None, sock_read=None)
_CHUNK = 64 * 1024


@contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    """A connection that could not be made is ``ConnectError``; one that failed later, ``ReadError``."""
    try:
        yield
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except aiohttp.ClientError as exc:  # disconnected, cut short, reset: the exchange broke midway
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self._request):
            async for chunk in self._response.content.iter_chunked(_CHUNK):
                yield chunk

    async def aclose(self) -> None:
        self._response.release()  # back to the pool when read to the end, else the connection is closed


class AiohttpTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over one aiohttp session (opened on first use, inside the running loop)."""

    def __init__(self, *, max_connections: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_connections = max_connections
        # httpx's default verification (certifi's CA bundle), so switching transports changes no trust.
        self._ssl = ssl_context or httpx.create_ssl_context()
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=KEEPALIVE_SECONDS,
                                         ssl=self._ssl)
        # No environment proxies or .netrc (trust_env), no cookies kept between calls, no decompression.
        self._session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False,
                                              cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        with _as_httpx_errors(request):
            response = await session.request(
                request.method, str(request.url), headers=request.headers.multi_items(),
                data=request.content or None, allow_redirects=False, compress=None, timeout=_NO_TIMERS)
        reason = (response.reason or "").encode("latin-1", "replace")
        extensions = {"http_version": b"HTTP/1.1", "reason_phrase": reason}
        return httpx.Response(response.status, headers=response.raw_headers, stream=_Body(response, request),
                              request=request, extensions=extensions)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
