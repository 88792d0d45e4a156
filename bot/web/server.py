"""uvicorn against hostile clients: what ``python -m bot serve`` adds to the server itself.

- ``HeadDeadlineH11Protocol``: uvicorn's h11 protocol with a deadline on each request head (request
  line and headers). uvicorn has none: a client that trickles a head one byte at a time holds its
  connection forever, before any ASGI middleware can see it (the body deadline is
  ``bot.web.guard``'s). The head must be complete within ``head_timeout`` seconds of the connection
  opening, or of the previous response on a kept-alive connection; otherwise the connection is closed.
- ``raise_open_file_limit``: the soft limit on open files up to the hard one, so that a burst of
  connections meets the body-read cap (503 and close) before it meets ``EMFILE`` (which stops the
  listener accepting anything, health checks included, for a second at a time).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

HEAD_TIMEOUT_SECONDS = 10.0


class HeadDeadlineH11Protocol(H11Protocol):
    """``H11Protocol`` that closes a connection whose request head does not arrive in time."""

    head_timeout: float = HEAD_TIMEOUT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in (or the connection is done)
            self._disarm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A kept-alive connection waits for the next head: uvicorn's keep-alive timer stops at its
        # first byte, this deadline does not.
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.debug("http.head.timeout")
            self.transport.close()


def head_deadline_protocol(seconds: float) -> type[HeadDeadlineH11Protocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with this head deadline."""
    return type("HeadDeadlineH11Protocol", (HeadDeadlineH11Protocol,), {"head_timeout": seconds})


def raise_open_file_limit(most: int = 65_536) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE towards the hard limit (at most ``most``); (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = most if hard == resource.RLIM_INFINITY else min(hard, most)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # a limit the platform will not take: keep what we have
        return soft, soft
    log.info("process.open_files.raised", extra={"before": soft, "after": target})
    return soft, target
