"""When each request reached a loopback server and when its answer left: an ASGI app in front of the sandbox
CRM or the fake Slack. Tests tell calls made together from calls made one after another by their spans (no
timing asserted); the bench reads the same spans for its numbers."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass(frozen=True)
class Span:
    """One request a server answered: its path, when it arrived and when its answer was sent (monotonic)."""

    path: str
    start: float
    end: float


class Timeline:
    """An ASGI app in front of a fake server (the sandbox CRM, the fake Slack) that records each request's span,
    so a test can tell calls made together from calls made one after another without timing anything."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._spans: list[Span] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        start = time.monotonic()
        try:
            await self._app(scope, receive, send)
        finally:
            with self._lock:
                self._spans.append(Span(scope["path"], start, time.monotonic()))

    def spans(self, *suffixes: str) -> list[Span]:
        """The recorded spans whose path ends with one of ``suffixes``, in order of arrival."""
        with self._lock:
            return sorted((s for s in self._spans if s.path.endswith(suffixes)), key=lambda s: s.start)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()


def overlapped(spans: list[Span]) -> bool:
    """Whether every span started before any of them ended: all were in flight at one moment."""
    return bool(spans) and max(s.start for s in spans) < min(s.end for s in spans)
