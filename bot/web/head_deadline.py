"""A deadline on each request head for uvicorn's HTTP protocols (uvicorn has none).

A client that trickles a head one byte at a time would hold its connection forever, before any ASGI
middleware can see it. The head must be complete within ``head_timeout`` seconds of the connection opening,
or of the previous response on a kept-alive connection; otherwise the connection is closed. The mixin and
the h11 protocol live here; the httptools protocol in ``bot.web.server_httptools`` (httptools may be
missing); ``bot.web.server.head_deadline_protocol`` picks one. Module-level classes, so that a uvicorn
config holding one pickles into worker processes.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

HEAD_TIMEOUT_SECONDS = 10.0


class HeadDeadline:
    """A deadline on each request head, for a uvicorn HTTP protocol class: armed when the connection
    opens and after each response on a kept-alive connection, disarmed once a head is complete."""

    head_timeout: float = HEAD_TIMEOUT_SECONDS
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _head_deadline: asyncio.TimerHandle | None = None

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self._awaiting_head() and not self.transport.is_closing():
            log.debug("http.head.timeout")
            self.transport.close()

    def _awaiting_head(self) -> bool:
        return True  # the deadline is disarmed as soon as a head is in


class HeadDeadlineH11Protocol(HeadDeadline, H11Protocol):
    """uvicorn's pure-Python protocol (h11) with the head deadline."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._awaiting_head():  # the head is in (or the connection is done)
            self._disarm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A kept-alive connection waits for the next head: uvicorn's keep-alive timer stops at its
        # first byte, this deadline does not.
        if not self.transport.is_closing() and self._awaiting_head():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _awaiting_head(self) -> bool:
        return self.conn.their_state is h11.IDLE
