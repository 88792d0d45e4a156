"""CRM protection: a bound on concurrent requests, a request-rate limit and a circuit breaker.

Every CRM request passes through ``CrmGuard.call``. Clocks and sleep are injected, so tests drive
time by hand. The rate limiter is an interface: ``bot.runtime.ratelimit.TokenBucket`` in process, or
``bot.fleet.limits.RedisTokenBucket`` shared by the instances of a fleet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from bot.errors import CrmError, CrmUnavailable
from bot.runtime.metrics import Metrics

T = TypeVar("T")
log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    async def wait_time(self) -> float:
        """Take one token; return 0 if granted now, else seconds until one would be (nothing taken)."""


class CircuitBreaker:
    """Opens after ``threshold`` consecutive unavailability failures; one trial call after ``cooldown``."""

    def __init__(self, threshold: int, cooldown: float, clock: Callable[[], float], metrics: Metrics) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._metrics = metrics
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self._cooldown else "open"

    def retry_after(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._cooldown - (self._clock() - self._opened_at))

    def before_call(self) -> bool:
        """Whether a call may go ahead; in half-open state only one trial at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def release_trial(self) -> None:
        self._trial_running = False

    def record(self, *, unavailable: bool) -> None:
        self._trial_running = False
        if not unavailable:
            if self._opened_at is not None:
                log.info("crm.circuit.closed")
            self._failures = 0
            self._opened_at = None
            self._metrics.circuit_open.set(0)
            return
        self._failures += 1
        if self._opened_at is not None or self._failures >= self._threshold:
            if self._opened_at is None:
                log.warning("crm.circuit.opened", extra={"failures": self._failures, "cooldown_s": self._cooldown})
            self._opened_at = self._clock()
            self._metrics.circuit_open.set(1)


class CrmGuard:
    """Runs CRM calls under the concurrency bound, the rate limit and the circuit breaker."""

    def __init__(self, *, max_concurrency: int, limiter: RateLimiter, breaker: CircuitBreaker,
                 metrics: Metrics, max_rate_wait: float = 2.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._limiter = limiter
        self.breaker = breaker
        self._metrics = metrics
        self._max_rate_wait = max_rate_wait
        self._sleep = sleep

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        if not self.breaker.before_call():
            self._metrics.crm_rejected.labels("circuit_open").inc()
            raise CrmUnavailable(f"CRM circuit open; retrying in {self.breaker.retry_after():.0f}s")
        try:
            await self._take_token()
            async with self._semaphore:
                result = await fn()
        except _LocallyRefused:
            self.breaker.release_trial()
            raise CrmUnavailable("CRM request rate limit reached") from None
        except CrmUnavailable:
            self.breaker.record(unavailable=True)
            raise
        except CrmError:
            self.breaker.record(unavailable=False)  # the CRM answered, so it is up
            raise
        except BaseException:
            self.breaker.release_trial()  # cancelled or a bug: says nothing about the CRM
            raise
        self.breaker.record(unavailable=False)
        return result

    async def _take_token(self) -> None:
        waited = 0.0
        while (wait := await self._limiter.wait_time()) > 0:
            if waited + wait > self._max_rate_wait:
                self._metrics.crm_rejected.labels("rate_limited").inc()
                raise _LocallyRefused
            await self._sleep(wait)
            waited += wait


class _LocallyRefused(Exception):
    """Our own rate limit said no: not a CRM failure, so the breaker does not count it."""
