"""Serve an ASGI app with uvicorn in a background thread: the embedded sandbox CRM and fake Slack."""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType
from typing import Any, Literal

import uvicorn


class LoopbackServer:
    """One uvicorn server on its own thread and event loop; ``start()`` returns once it accepts.

    ``lifespan="on"`` runs the app's lifespan on that loop (start-up before ``start()`` returns,
    shut-down in ``stop()``), for serving a whole ``create_web_app`` app.
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0,
                 lifespan: Literal["on", "off"] = "off") -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                lifespan=lifespan, timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"loopback-{type(app).__name__}", daemon=True)
        self._error: BaseException | None = None
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve())
        except BaseException as exc:  # reported by start(); a thread cannot raise into its caller
            self._error = exc

    def start(self, timeout: float = 10.0) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"loopback server failed to start: {self._error!r}")
            time.sleep(0.005)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
