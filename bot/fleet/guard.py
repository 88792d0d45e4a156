"""The fleet's key layout and the guard every Redis operation runs through (see ``bot.fleet.redis``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError, ResponseError

from bot.runtime.metrics import Metrics

T = TypeVar("T")
log = logging.getLogger(__name__)

PREFIX = "cluebot:v2:"
RETRY_AFTER = 2.0


def key(kind: str, name: object) -> str:
    """A namespaced key, e.g. ``key("clue", 8)`` is ``cluebot:v2:clue:8``."""
    return f"{PREFIX}{kind}:{name}"


class RedisGuard:
    """Runs Redis operations: a failure is counted, logged once per outage, and answered with None."""

    def __init__(self, metrics: Metrics, monotonic: Callable[[], float], *, where: str,
                 retry_after: float = RETRY_AFTER) -> None:
        self._metrics = metrics
        self._monotonic = monotonic
        self._where = where  # the URL without credentials, for logs
        self._retry_after = retry_after
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._refused: set[str] = set()
        metrics.redis_up.set(1)  # until an operation fails (connecting pings at once)

    async def run(self, op: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """``call()``'s result, or None when Redis failed now or recently."""
        now = self._monotonic()
        if self._down_since is not None and now < self._retry_at:
            return None
        try:
            result = await call()
        except ResponseError as exc:
            # Redis is up but refused this command (an ACL, Lua disabled, a server too old): not an
            # outage, so the other operations carry on; warn once per kind of operation.
            self._metrics.redis_errors.inc()
            if op not in self._refused:
                self._refused.add(op)
                log.warning("cache.redis.refused", extra={"redis": self._where, "op": op, "error": str(exc)})
            return None
        except (RedisError, OSError) as exc:  # OSError covers socket errors and TimeoutError
            self._metrics.redis_errors.inc()
            self._retry_at = self._monotonic() + self._retry_after
            if self._down_since is None:
                self._down_since = now
                self._metrics.redis_up.set(0)
                log.warning("cache.redis.unavailable", extra={
                    "redis": self._where, "op": op, "error": f"{type(exc).__name__}: {exc}",
                    "retry_after_s": self._retry_after})
            return None
        if self._down_since is not None:
            log.info("cache.redis.recovered", extra={
                "redis": self._where, "down_s": round(self._monotonic() - self._down_since, 1)})
            self._down_since = None
            self._metrics.redis_up.set(1)
        return result
