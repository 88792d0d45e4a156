"""uvicorn against hostile clients: what ``python -m bot serve`` adds to the server itself.

- ``head_deadline_protocol``: uvicorn's HTTP protocol (httptools, or h11 as the pure-Python fallback)
  with a deadline on each request head (request line and headers). uvicorn has none: a client that
  trickles a head one byte at a time holds its connection forever, before any ASGI middleware can see
  it (the body deadline is ``bot.web.guard``'s). The head must be complete within ``head_timeout``
  seconds of the connection opening, or of the previous response on a kept-alive connection;
  otherwise the connection is closed.
- ``server_stack``: uvloop and httptools when installed (they are dependencies), else asyncio and h11.
- ``bind_socket``: the listening address, taken before anything announces it; a port in use is a
  ``BotError`` that names it and how to choose another.
- ``raise_open_file_limit``: the soft limit on open files up to the hard one, so that a burst of
  connections meets the body-read cap (503 and close) before it meets ``EMFILE`` (which stops the
  listener accepting anything, health checks included, for a second at a time).
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import logging
import resource
import socket

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.errors import BotError, ConfigError

log = logging.getLogger(__name__)

HEAD_TIMEOUT_SECONDS = 10.0


class _HeadDeadline:
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


class HeadDeadlineH11Protocol(_HeadDeadline, H11Protocol):
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


def head_deadline_protocol(http: str, seconds: float = HEAD_TIMEOUT_SECONDS) -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.Config(http=...)``: ``http`` is "httptools" or "h11".

    With the default deadline it is a module-level class, so a uvicorn config holding it pickles into
    the worker processes ``WEB_CONCURRENCY`` spawns (by reference: a class made here would not)."""
    base: type[_HeadDeadline]
    if http == "httptools":
        from bot.web.server_httptools import HeadDeadlineHttpToolsProtocol  # needs httptools: on demand

        base = HeadDeadlineHttpToolsProtocol
    else:
        base = HeadDeadlineH11Protocol
    if seconds == HEAD_TIMEOUT_SECONDS:
        return base
    return type(base.__name__, (base,), {"head_timeout": seconds})


def server_stack(loop: str = "auto", http: str = "auto") -> tuple[str, str]:
    """uvicorn's event loop and HTTP parser, ``auto`` made explicit: uvloop and httptools (dependencies)
    when they import, asyncio and h11 (pure Python, always there) when they do not."""
    problems = [f"--{flag} {name}: {name} is not installed" for flag, name in (("loop", loop), ("http", http))
                if name in ("uvloop", "httptools") and not _imports(name)]
    if problems:
        raise ConfigError(problems)
    if loop == "auto":
        loop = "uvloop" if _imports("uvloop") else "asyncio"
    if http == "auto":
        http = "httptools" if _imports("httptools") else "h11"
    return loop, http


def _imports(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


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


def bind_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound (``port`` 0: a free one), for uvicorn to listen on and its workers to share.

    Bound before anything prints where the app is: a port someone else serves on fails here, naming it."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # what uvicorn sets: restarts reuse TIME_WAIT
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            other = port + 1 if 0 < port < 65_535 else 3001
            raise BotError(f"port {port} on {host} is already in use (another server listens there): choose "
                           f"another with PORT={other} or --port {other}") from None
        raise BotError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (set HOST / --host, "
                       "PORT / --port)") from None
    sock.set_inheritable(True)  # uvicorn's workers receive it
    return sock
