"""CRM protection: a bound on concurrent requests, a request-rate limit shared fairly, a circuit breaker.

Every CRM request passes through ``CrmGuard.call``. Clocks and sleep are injected, so tests drive
time by hand. The rate limiter is an interface: ``bot.runtime.ratelimit.TokenBucket`` in process, or
``bot.fleet.limits.RedisTokenBucket`` shared by the instances of a fleet.

Two facts about a call travel with it as context, not as arguments (a call is several layers below the
request that caused it, and single-flight runs it in a task that copies the context of its first caller):
``charged_to(person)``, set where a request is admitted, says whose budget it spends (``FairShare``);
``about(subject)``, set by the fetcher, says which record it reads (a clue id), so the breaker can tell
one record the CRM fails on from a CRM that is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, TypeVar

from bot.errors import CrmError, CrmUnavailable
from bot.runtime.metrics import Metrics
from bot.runtime.ratelimit import KeyedTokenBuckets

T = TypeVar("T")
log = logging.getLogger(__name__)

_person: ContextVar[str | None] = ContextVar("crm_person", default=None)
_subject: ContextVar[Hashable | None] = ContextVar("crm_subject", default=None)


@contextmanager
def charged_to(person: str | None) -> Iterator[None]:
    """CRM calls made in this block (and in tasks started in it) spend ``person``'s fair share."""
    token = _person.set(person)
    try:
        yield
    finally:
        _person.reset(token)


@contextmanager
def about(subject: Hashable) -> Iterator[None]:
    """CRM calls made in this block read ``subject`` (e.g. ``("clue", 8)``), for the circuit breaker."""
    token = _subject.set(subject)
    try:
        yield
    finally:
        _subject.reset(token)


class RateLimiter(Protocol):
    async def wait_time(self, floor: float = 0.0) -> float:
        """Take one token if that leaves at least ``floor``; return 0 if granted now, else seconds until it
        would be (nothing taken)."""


class FairShare:
    """Each person's fair share of the CRM's request budget, enforced only under contention.

    The CRM bucket is shared by everyone, so one person's burst (within their own lookup budget) could
    empty it and leave everyone else waiting or refused. The rule: each person has a small bucket of
    their own, ``share`` of the CRM's rate and burst. A call within it may take any token of the CRM
    bucket; a call beyond it may only take tokens above the ``reserve`` (half the CRM's burst), and
    otherwise waits, within the guard's bound, until either refills. While the CRM bucket is fuller than
    the reserve nobody is slowed; once it is lower, a heavy user waits while everyone else still gets
    through on the reserve. Per instance (with Redis the CRM bucket is the fleet's, the shares are not).
    """

    def __init__(self, rate: float, burst: float, clock: Callable[[], float], *, share: float = 0.25) -> None:
        self._shares = KeyedTokenBuckets(rate * share, max(1.0, burst * share), clock)
        self.reserve = max(0.0, min(burst / 2, burst - 1))  # a full bucket can always pay one over the floor

    def claim(self, person: str) -> float:
        """Take one token of ``person``'s share: 0 when within it, else seconds until it would be."""
        return self._shares.take(person)


class CircuitBreaker:
    """Opens once a streak of unavailability failures (timeouts, connection errors, 5xx) with no success
    between them spans ``threshold`` different subjects; one trial call after ``cooldown``.

    Counting subjects, not failures: one clue the CRM fails on, looked up again and again, is one subject,
    and must not cut everyone off from every other clue. A call without a subject counts as one of its own.
    """

    def __init__(self, threshold: int, cooldown: float, clock: Callable[[], float], metrics: Metrics) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._metrics = metrics
        self._failures = 0
        self._failed: set[Hashable] = set()  # the streak's subjects, at most ``threshold``
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

    def record(self, *, unavailable: bool, subject: Hashable | None = None) -> None:
        self._trial_running = False
        if not unavailable:
            if self._opened_at is not None:
                log.info("crm.circuit.closed")
            self._failures = 0
            self._failed.clear()
            self._opened_at = None
            self._metrics.circuit_open.set(0)
            return
        self._failures += 1
        self._failed.add(object() if subject is None else subject)
        if self._opened_at is not None or len(self._failed) >= self._threshold:
            if self._opened_at is None:
                log.warning("crm.circuit.opened", extra={"failures": self._failures, "subjects": len(self._failed),
                                                         "cooldown_s": self._cooldown})
            self._failed.clear()
            self._opened_at = self._clock()
            self._metrics.circuit_open.set(1)


class CrmGuard:
    """Runs CRM calls under the concurrency bound, the rate limit and the circuit breaker."""

    def __init__(self, *, max_concurrency: int, limiter: RateLimiter, breaker: CircuitBreaker,
                 metrics: Metrics, max_rate_wait: float = 2.0, fair: FairShare | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._limiter = limiter
        self._fair = fair
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
            self.breaker.record(unavailable=True, subject=_subject.get())
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
        """One token of the CRM bucket, waiting at most ``max_rate_wait``; a person beyond their fair share
        may not take the reserve (see ``FairShare``), and waits until the bucket or their share refills."""
        fair, person = self._fair, _person.get()
        over_share = fair.claim(person) if fair is not None and person is not None else 0.0
        waited = 0.0
        while (wait := await self._limiter.wait_time(fair.reserve if fair and over_share > 0 else 0.0)) > 0:
            if over_share > 0:
                wait = min(wait, over_share)
            if waited + wait > self._max_rate_wait:
                self._metrics.crm_rejected.labels("rate_limited").inc()
                raise _LocallyRefused
            await self._sleep(wait)
            waited += wait
            if fair is not None and person is not None and over_share > 0:
                over_share = fair.claim(person)


class _LocallyRefused(Exception):
    """Our own rate limit said no: not a CRM failure, so the breaker does not count it."""
