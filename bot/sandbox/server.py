"""Serve the sandbox CRM with uvicorn: in a background thread (tests, playground) or in the foreground.

``SandboxServer`` runs one uvicorn server on its own event loop in a daemon thread, so synchronous code
and other event loops reach it over real loopback HTTP. Port 0 picks a free port; ``url`` reports it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from types import TracebackType

import uvicorn

from bot.config import SANDBOX_APP_ID, SANDBOX_APP_KEY
from bot.sandbox.app import DEFAULT_SKEW_WINDOW_MS, SandboxApp, SandboxState, wall_clock_ms

# Time for released requests to finish their responses at shutdown; uvicorn cancels what is left.
_GRACEFUL_SHUTDOWN_SECONDS = 5


class _Server(uvicorn.Server):
    """A uvicorn server that calls back once its sockets listen."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[_Server], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started(self)

    @property
    def port(self) -> int:
        """The bound port (the real one when configured with port 0)."""
        bound = self.servers[0].sockets[0].getsockname()
        return int(bound[1])


def _config(app: SandboxApp, host: str, port: int) -> uvicorn.Config:
    # log_config=None leaves the host process's logging alone; uvicorn only sets its own loggers' level.
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off",
                          log_config=None, timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS)


def _origin(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - not a bind: a wildcard bind is reached via loopback
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class SandboxServer:
    """The sandbox CRM on a background thread. ``state`` holds the data, stats and fault knobs.

    ``url`` is the CRM base URL (origin plus prefix, what ``CRM_BASE_URL`` takes); ``origin`` is where
    the unsigned ``/_sandbox/...`` control endpoints live. Use as a context manager or start()/stop().
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, prefix: str = "",
                 app_id: str = SANDBOX_APP_ID, app_key: str = SANDBOX_APP_KEY,
                 skew_window_ms: int = DEFAULT_SKEW_WINDOW_MS,
                 now_ms: Callable[[], int] = wall_clock_ms) -> None:
        self.app = SandboxApp(prefix=prefix, app_id=app_id, app_key=app_key, skew_window_ms=skew_window_ms,
                              now_ms=now_ms)
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SandboxState:
        return self.app.state

    @property
    def origin(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox CRM is not running")
        return _origin(self._host, self._server.port)

    @property
    def url(self) -> str:
        return self.origin + self.app.prefix

    def start(self) -> SandboxServer:
        """Start serving and return self once the socket listens; RuntimeError if it cannot bind."""
        if self._server is not None:
            raise RuntimeError("the sandbox CRM is already running")
        listening = threading.Event()
        failures: list[BaseException] = []
        server = _Server(_config(self.app, self._host, self._port), on_started=lambda _: listening.set())

        def serve() -> None:
            try:
                server.run()
            except BaseException as exc:  # uvicorn raises SystemExit when it cannot bind
                failures.append(exc)
            finally:
                listening.set()

        thread = threading.Thread(target=serve, name="sandbox-crm", daemon=True)
        thread.start()
        listening.wait()
        if not server.started:
            thread.join()
            cause = failures[0] if failures else None
            raise RuntimeError(f"the sandbox CRM could not listen on {self._host}:{self._port}") from cause
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Release held requests, shut down and join the thread. Does nothing when not running."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self.state.release_held()
        server.should_exit = True
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def run(host: str, port: int, prefix: str = "") -> None:
    """Serve the sandbox CRM in the foreground until interrupted (``python -m bot sandbox --port N``)."""
    app = SandboxApp(prefix=prefix)

    def announce(server: _Server) -> None:
        print(_banner(_origin(host, server.port), app.prefix), flush=True)

    _Server(_config(app, host, port), on_started=announce).run()


def _banner(origin: str, prefix: str) -> str:
    url = origin + prefix
    return "\n".join([
        f"Sandbox CRM (Tanmarket 探马 SCRM stand-in) listening on {url}",
        f"  appId   {SANDBOX_APP_ID}",
        f"  appKey  {SANDBOX_APP_KEY}   (sandbox only, not a secret)",
        "API requests must be signed: sign = sha256(appId + timestamp + body + appKey), so plain curl",
        "gets code 1002. Query it with the bot's own client:",
        f"  CRM_BASE_URL={url} CRM_APP_ID={SANDBOX_APP_ID} \\",
        f"  CRM_APP_KEY={SANDBOX_APP_KEY} python -m bot clue 8",
        "Unsigned controls:",
        f"  curl {origin}/_sandbox/stats",
        f"  curl -X POST {origin}/_sandbox/faults -d '{{\"clue_id\": 8, \"status\": 503}}'",
        f"  curl -X DELETE {origin}/_sandbox/faults",
        f"  curl -X POST {origin}/_sandbox/reset",
        "Press Ctrl+C to stop.",
    ])
