"""Serve the sandbox CRM with uvicorn: on a background thread (tests, playground) or in the foreground.

``SandboxServer`` runs it with ``bot.dev.loopback.LoopbackServer``, so synchronous code and other event loops
reach it over real loopback HTTP. Port 0 picks a free port; ``url`` reports it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from bot.config import SANDBOX_APP_ID, SANDBOX_APP_KEY
from bot.dev.loopback import LoopbackServer, NotifyingServer, origin, quiet_config
from bot.dev.sandbox.app import DEFAULT_SKEW_WINDOW_MS, SandboxApp, SandboxState, wall_clock_ms

# Time for released requests to finish their responses at shutdown; uvicorn cancels what is left.
_GRACEFUL_SHUTDOWN_SECONDS = 5


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
        self._server = LoopbackServer(self.app, host=host, port=port, graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS)

    @property
    def state(self) -> SandboxState:
        return self.app.state

    @property
    def origin(self) -> str:
        return self._server.url

    @property
    def url(self) -> str:
        return self.origin + self.app.prefix

    def start(self) -> SandboxServer:
        """Start serving and return self once the socket listens; RuntimeError if it cannot bind."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Release held requests, shut down and join the thread. Does nothing when not running."""
        self.state.release_held()
        self._server.stop()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def run(host: str, port: int, prefix: str = "") -> None:
    """Serve the sandbox CRM in the foreground until interrupted (``python -m bot sandbox --port N``)."""
    app = SandboxApp(prefix=prefix)

    def announce(server: NotifyingServer) -> None:
        print(_banner(origin(host, server.port), app.prefix), flush=True)

    config = quiet_config(app, host, port, graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS)
    NotifyingServer(config, on_started=announce).run()


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
        f"  curl -X POST {origin}/_sandbox/push -d '{{\"type\": \"tag_info\", \"customerId\": 8, \"url\": "
        "\"http://127.0.0.1:3000/crm/push\"}'",
        "Press Ctrl+C to stop.",
    ])
