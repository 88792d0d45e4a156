"""CRM protection: circuit breaker, rate limit, concurrency bound (fake clocks, the real sandbox)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.crm.client import CrmClient
from bot.crm.guard import CircuitBreaker, CrmGuard
from bot.dev.sandbox import SandboxServer
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


async def test_rate_limit_refuses_beyond_the_wait_budget() -> None:
    clock, metrics = FakeClock(), Metrics()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    guard = CrmGuard(max_concurrency=4, limiter=TokenBucket(rate=2, burst=2, clock=clock),
                     breaker=CircuitBreaker(1, 30, clock, metrics), metrics=metrics, max_rate_wait=1.0, sleep=sleep)

    async def ok() -> str:
        return "ok"

    assert [await guard.call(ok) for _ in range(4)] == ["ok"] * 4
    assert slept == [0.5, 0.5]  # two tokens of burst, then one every half second
    slow = CrmGuard(max_concurrency=4, limiter=TokenBucket(rate=0.1, burst=1, clock=clock),
                    breaker=CircuitBreaker(1, 30, clock, metrics), metrics=metrics, max_rate_wait=1.0, sleep=sleep)
    await slow.call(ok)
    with pytest.raises(CrmUnavailable, match="rate limit"):
        await slow.call(ok)
    assert slow.breaker.state == "closed"  # our own limit is not a CRM failure
    assert 'cluebot_crm_rejected_total{reason="rate_limited"} 1.0' in metrics.render().decode()
