"""Serve an ASGI app with uvicorn on a background thread: the embedded sandbox CRM, the fake Slack,
and whole apps in browser tests. Port 0 picks a free port; ``url`` reports the bound one.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

import uvicorn


class NotifyingServer(uvicorn.Server):
    """A uvicorn server that calls back once its sockets listen (no polling for ``started``)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[NotifyingServer], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started(self)

    @property
    def port(self) -> int:
        """The bound port (the real one when configured with port 0)."""
        return int(self.servers[0].sockets[0].getsockname()[1])


def quiet_config(app: Any, host: str, port: int, *, lifespan: Literal["on", "off"] = "off",
                 graceful_shutdown: int = 1) -> uvicorn.Config:
    # log_config=None leaves the host process's logging alone; uvicorn only sets its own loggers' level.
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan=lifespan,
                          log_config=None, timeout_graceful_shutdown=graceful_shutdown)


def origin(host: str, port: int) -> str:
    """Where a server bound to ``host:port`` is reached (a wildcard bind via loopback)."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - not a bind: naming how to reach one
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class LoopbackServer:
    """One uvicorn server on its own thread and event loop; ``start()`` returns once it listens.

    ``lifespan="on"`` runs the app's lifespan on that loop (start-up before ``start()`` returns,
    shut-down in ``stop()``), for serving a whole ``create_web_app`` app.
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0,
                 lifespan: Literal["on", "off"] = "off", graceful_shutdown: int = 1) -> None:
        self._config = quiet_config(app, host, port, lifespan=lifespan, graceful_shutdown=graceful_shutdown)
        self._host = host
        self._server: NotifyingServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not running")
        return origin(self._host, self._server.port)

    def start(self) -> LoopbackServer:
        """Serve and return once the socket listens; RuntimeError if it cannot bind or start."""
        if self._server is not None:
            raise RuntimeError("the server is already running")
        listening = threading.Event()
        failures: list[BaseException] = []
        server = NotifyingServer(self._config, on_started=lambda _: listening.set())

        def serve() -> None:
            try:
                server.run()
            except BaseException as exc:  # uvicorn raises SystemExit when it cannot bind
                failures.append(exc)
            finally:
                listening.set()

        thread = threading.Thread(target=serve, name=f"loopback-{type(self._config.app).__name__}", daemon=True)
        thread.start()
        listening.wait()
        if not server.started:
            thread.join()
            cause = failures[0] if failures else None
            raise RuntimeError(f"could not serve on {self._host}:{self._config.port}") from cause
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Shut down and join the thread. Does nothing when not running."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
