"""uvicorn against hostile clients: what ``python -m bot serve`` adds to the server itself.

- ``head_deadline_protocol``: uvicorn's HTTP protocol (httptools, or h11 as the pure-Python fallback)
  with a deadline on each request head (``bot.web.head_deadline``; the body deadline is ``bot.web.guard``'s).
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

from bot.errors import BotError, ConfigError
from bot.web.head_deadline import HEAD_TIMEOUT_SECONDS, HeadDeadline, HeadDeadlineH11Protocol

log = logging.getLogger(__name__)


def head_deadline_protocol(http: str, seconds: float = HEAD_TIMEOUT_SECONDS) -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.Config(http=...)``: ``http`` is "httptools" or "h11".

    With the default deadline it is a module-level class, so a uvicorn config holding it pickles into
    the worker processes ``WEB_CONCURRENCY`` spawns (by reference: a class made here would not)."""
    base: type[HeadDeadline]
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
