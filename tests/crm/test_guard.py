"""CRM protection: circuit breaker, rate limit, concurrency bound (fake clocks, the real sandbox)."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from bot.crm.client import CrmClient
from bot.crm.guard import CircuitBreaker, CrmGuard, FairShare, charged_to
from bot.crm.reference import ClueFetcher, ReferenceData
from bot.dev.sandbox import SandboxServer
from bot.dev.sandbox.seed import DOC_CLUE_ID, RICH_CLUE_ID
from bot.errors import ClueNotFound, CrmUnavailable
from bot.runtime.metrics import Metrics
from bot.runtime.ratelimit import TokenBucket
from tests.support import FakeClock

Factory = Callable[..., CrmClient]


async def test_breaker_opens_fails_fast_then_closes(sandbox: SandboxServer, crm_factory: Factory) -> None:
    clock, metrics = FakeClock(), Metrics()
    client = crm_factory(sandbox.url, clock=clock, metrics=metrics, breaker_failures=3)
    sandbox.state.set_fault(None, status=500)
    for _ in range(3):
        with pytest.raises(CrmUnavailable, match="HTTP 500"):
            await client.get_clue(8)
    assert client.breaker_state == "open"
    assert "cluebot_crm_circuit_open 1.0" in metrics.render().decode()
    calls_before = sandbox.state.stats().calls["/api/v3/clue/get"]
    with pytest.raises(CrmUnavailable, match="circuit open"):
        await client.get_clue(8)
    assert sandbox.state.stats().calls["/api/v3/clue/get"] == calls_before  # failed fast: no request

    clock.advance(30)
    assert client.breaker_state == "half_open"
    sandbox.state.clear_faults()
    assert (await client.get_clue(8)).customer_id == 8  # the trial call closes it
    assert client.breaker_state == "closed"
    assert "cluebot_crm_circuit_open 0.0" in metrics.render().decode()


async def test_a_failed_trial_reopens(sandbox: SandboxServer, crm_factory: Factory) -> None:
    clock = FakeClock()
    client = crm_factory(sandbox.url, clock=clock, breaker_failures=1)
    sandbox.state.set_fault(None, status=500)
    with pytest.raises(CrmUnavailable):
        await client.get_clue(8)
    clock.advance(30)
    with pytest.raises(CrmUnavailable, match="HTTP 500"):
        await client.get_clue(8)
    assert client.breaker_state == "open"


async def test_not_found_and_auth_errors_do_not_open_the_breaker(sandbox: SandboxServer,
                                                                 crm_factory: Factory) -> None:
    client = crm_factory(sandbox.url, breaker_failures=1)
    for _ in range(3):
        with pytest.raises(ClueNotFound):
            await client.get_clue(404)
    assert client.breaker_state == "closed"


class Sleeper:
    """The guard's injected sleep: records each wait and moves ``clock`` by it."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)


async def ok() -> str:
    return "ok"


async def test_rate_limit_refuses_beyond_the_wait_budget() -> None:
    clock, metrics = FakeClock(), Metrics()
    sleep = Sleeper(clock)
    slept = sleep.slept
    guard = CrmGuard(max_concurrency=4, limiter=TokenBucket(rate=2, burst=2, clock=clock),
                     breaker=CircuitBreaker(1, 30, clock, metrics), metrics=metrics, max_rate_wait=1.0, sleep=sleep)
    assert [await guard.call(ok) for _ in range(4)] == ["ok"] * 4
    assert slept == [0.5, 0.5]  # two tokens of burst, then one every half second
    slow = CrmGuard(max_concurrency=4, limiter=TokenBucket(rate=0.1, burst=1, clock=clock),
                    breaker=CircuitBreaker(1, 30, clock, metrics), metrics=metrics, max_rate_wait=1.0, sleep=sleep)
    await slow.call(ok)
    with pytest.raises(CrmUnavailable, match="rate limit"):
        await slow.call(ok)
    assert slow.breaker.state == "closed"  # our own limit is not a CRM failure
    assert 'cluebot_crm_rejected_total{reason="rate_limited"} 1.0' in metrics.render().decode()


async def test_one_failing_clue_does_not_open_the_breaker_for_everyone(sandbox: SandboxServer,
                                                                       crm_factory: Factory) -> None:
    client = crm_factory(sandbox.url, breaker_failures=5)
    fetcher = ClueFetcher(client, ReferenceData(client, ttl=3600, clock=FakeClock()), ZoneInfo("Asia/Shanghai"))
    sandbox.state.set_fault(DOC_CLUE_ID, status=500)  # the CRM fails on this one clue only
    for _ in range(5):
        with pytest.raises(CrmUnavailable, match="HTTP 500"):
            await fetcher.fetch(DOC_CLUE_ID)
    assert client.breaker_state == "closed"
    assert (await fetcher.fetch(RICH_CLUE_ID)).id == RICH_CLUE_ID  # everyone else's lookups go on

    sandbox.state.set_fault(None, status=500)  # the CRM is down: failures across clues open it
    for clue_id in (RICH_CLUE_ID, DOC_CLUE_ID, 3, 5, 9):
        with pytest.raises(CrmUnavailable, match="HTTP 500"):
            await fetcher.fetch(clue_id)
    assert client.breaker_state == "open"


def test_a_streak_must_span_threshold_subjects_and_a_success_ends_it() -> None:
    clock, metrics = FakeClock(), Metrics()
    breaker = CircuitBreaker(3, 30, clock, metrics)
    for subject in ("a", "a", "a", "b", "b"):
        breaker.record(unavailable=True, subject=subject)
    assert breaker.state == "closed"
    breaker.record(unavailable=False)
    for subject in ("c", "d"):
        breaker.record(unavailable=True, subject=subject)
    assert breaker.state == "closed"  # "a" and "b" were forgotten with the success
    breaker.record(unavailable=True)  # no subject: a subject of its own
    assert breaker.state == "open"


async def test_one_persons_burst_leaves_the_others_their_share() -> None:
    """At one instant (the clock stands still, so nothing refills): one person asks for 30 CRM calls, then
    ten others ask for one each. The heavy user gets their share plus what lies above the reserve; every
    other person still gets through."""
    clock, metrics = FakeClock(), Metrics()

    async def sleep(_: float) -> None:
        """Time does not pass: whoever must wait ends up refused after the guard's bound."""

    guard = CrmGuard(max_concurrency=64, limiter=TokenBucket(rate=20, burst=20, clock=clock),
                     breaker=CircuitBreaker(5, 30, clock, metrics), metrics=metrics,
                     fair=FairShare(20, 20, clock), sleep=sleep)

    async def outcome(person: str) -> str:
        with charged_to(person):
            try:
                return await guard.call(ok)
            except CrmUnavailable:
                return "refused"

    hog = [await outcome("U0HOG") for _ in range(30)]
    others = [await outcome(f"U0OTHER{i}") for i in range(10)]
    assert hog.count("ok") == 10  # a share of 5, and 5 more while the bucket was above the reserve of 10
    assert others == ["ok"] * 10
    assert guard.breaker.state == "closed"


async def test_without_contention_a_person_is_not_held_to_the_share() -> None:
    clock, metrics = FakeClock(), Metrics()
    sleep = Sleeper(clock)
    slept = sleep.slept
    guard = CrmGuard(max_concurrency=4, limiter=TokenBucket(rate=20, burst=20, clock=clock),
                     breaker=CircuitBreaker(5, 30, clock, metrics), metrics=metrics,
                     fair=FairShare(20, 20, clock), sleep=sleep)
    with charged_to("U0ONE"):
        assert [await guard.call(ok) for _ in range(10)] == ["ok"] * 10  # twice the share, nobody waits
        assert slept == []
        await guard.call(ok)  # now at the reserve: beyond the share, one waits for the refill
    assert slept == [0.05]
