"""Cache policy with a fake clock: TTL, single-flight, negative cache, stale-if-error, deadlines, failure
memory, revalidation; the clue cache's configuration, and the generic ``Cache`` it is."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from bot.cache.clues import ClueCache, clue_cache, follow_up_cache
from bot.cache.timed import Policy
from bot.crm.client import CrmClient
from bot.crm.reference import ClueFetcher, ReferenceData
from bot.dev.sandbox import SandboxServer
from bot.domain.clue import Clue
from bot.domain.follow_ups import FollowUpPage
from bot.errors import ClueNotFound, CrmAuthError, CrmUnavailable
from bot.runtime.metrics import Metrics
from tests.support import FakeClock

Factory = Callable[..., CrmClient]


class CountingFetch:
    """The CRM side of the cache, scripted: returns a clue, or raises what the test says."""

    def __init__(self) -> None:
        self.calls = 0
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self, clue_id: int) -> Clue:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return Clue(id=clue_id, name=f"clue {clue_id} v{self.calls}")


def make_cache(fetch: Callable[[int], object], clock: FakeClock, *, wall: FakeClock | None = None,
               metrics: Metrics | None = None, deadline: float = 5.0) -> ClueCache:
    return clue_cache(fetch, Policy(ttl=60, maxsize=100, negative_ttl=10, stale_ttl=3600, deadline=deadline),  # type: ignore[arg-type]
                      clock=clock, wall=wall or FakeClock(1_700_000_000), metrics=metrics or Metrics())


async def test_hit_within_ttl_and_refetch_after() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    cache = make_cache(fetch, clock)
    first = await cache.get(8)
    clock.advance(59.9)
    assert (await cache.get(8)) == first
    assert fetch.calls == 1
    clock.advance(0.2)
    assert (await cache.get(8)).value.name == "clue 8 v2"
    assert fetch.calls == 2


async def test_refresh_bypasses_a_fresh_entry_and_updates_it() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    cache = make_cache(fetch, clock)
    await cache.get(8)
    refreshed = await cache.get(8, refresh=True)
    assert refreshed.value.name == "clue 8 v2"
    assert (await cache.get(8)).value.name == "clue 8 v2"
    assert fetch.calls == 2


async def test_single_flight_100_concurrent_lookups_one_fetch() -> None:
    fetch, clock, metrics = CountingFetch(), FakeClock(), Metrics()
    fetch.gate = asyncio.Event()
    cache = make_cache(fetch, clock, metrics=metrics)
    waiters = [asyncio.ensure_future(cache.get(8)) for _ in range(100)]
    await asyncio.sleep(0)
    fetch.gate.set()
    results = await asyncio.gather(*waiters)
    assert fetch.calls == 1
    assert {r.value.name for r in results} == {"clue 8 v1"}
    assert "cluebot_singleflight_coalesced_total 99.0" in metrics.render().decode()


async def test_failure_reaches_every_waiter_and_is_not_cached() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    fetch.gate, fetch.error = asyncio.Event(), CrmUnavailable("down")
    cache = make_cache(fetch, clock)
    waiters = [asyncio.ensure_future(cache.get(8)) for _ in range(5)]
    await asyncio.sleep(0)
    fetch.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, CrmUnavailable) for r in results)
    assert fetch.calls == 1
    fetch.error = None
    assert (await cache.get(8)).value.id == 8
    assert fetch.calls == 2


async def test_one_cancelled_waiter_does_not_fail_the_others() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    fetch.gate = asyncio.Event()
    cache = make_cache(fetch, clock)
    first, second = asyncio.ensure_future(cache.get(8)), asyncio.ensure_future(cache.get(8))
    await asyncio.sleep(0)
    first.cancel()
    fetch.gate.set()
    assert (await second).value.id == 8
    assert first.cancelled()


async def test_not_found_is_cached_briefly() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    fetch.error = ClueNotFound(404)
    cache = make_cache(fetch, clock)
    for _ in range(3):
        with pytest.raises(ClueNotFound):
            await cache.get(404)
    assert fetch.calls == 1
    clock.advance(10.1)
    with pytest.raises(ClueNotFound):
        await cache.get(404)
    assert fetch.calls == 2


async def test_stale_if_error_serves_the_old_clue_flagged() -> None:
    fetch, clock, wall = CountingFetch(), FakeClock(), FakeClock(1_700_000_000)
    cache = make_cache(fetch, clock, wall=wall)
    fresh = await cache.get(8)
    clock.advance(240)
    wall.advance(240)
    fetch.error = CrmUnavailable("down")
    stale = await cache.get(8)
    assert stale.stale and stale.value == fresh.value
    assert stale.fetched_at == 1_700_000_000  # the card says "data from 4 min ago"
    fetch.error = None
    assert not (await cache.get(8)).stale


async def test_stale_window_ends() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    cache = make_cache(fetch, clock)
    await cache.get(8)
    clock.advance(60 + 3600 + 1)
    fetch.error = CrmUnavailable("down")
    with pytest.raises(CrmUnavailable):
        await cache.get(8)


async def test_auth_errors_are_not_hidden_by_stale_data() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    cache = make_cache(fetch, clock)
    await cache.get(8)
    clock.advance(61)
    fetch.error = CrmAuthError("bad key", code=1002)
    with pytest.raises(CrmAuthError):
        await cache.get(8)


async def test_a_deleted_clue_drops_the_stale_entry() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    cache = make_cache(fetch, clock)
    await cache.get(8)
    fetch.error = ClueNotFound(8)
    with pytest.raises(ClueNotFound):
        await cache.get(8, refresh=True)
    fetch.error = CrmUnavailable("down")
    clock.advance(11)
    with pytest.raises(CrmUnavailable):
        await cache.get(8)


async def test_deadline_bounds_a_lookup() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    fetch.gate = asyncio.Event()  # never set: the CRM hangs
    cache = make_cache(fetch, clock, deadline=0.05)
    with pytest.raises(CrmUnavailable, match="deadline"):
        await cache.get(8)


async def test_through_the_sandbox_storm_and_stale(sandbox: SandboxServer, crm_factory: Factory) -> None:
    client = crm_factory(sandbox.url)
    fetcher = ClueFetcher(client, ReferenceData(client, ttl=3600, clock=FakeClock()), ZoneInfo("Asia/Shanghai"))
    clock = FakeClock()
    cache = make_cache(fetcher.fetch, clock)
    sandbox.state.set_fault(8, latency_ms=100)
    results = await asyncio.gather(*(cache.get(8) for _ in range(100)))
    assert sandbox.state.stats().clue_gets == {8: 1}
    assert {r.value.name for r in results} == {"打马赛克就"}
    clock.advance(61)
    sandbox.state.set_fault(8, status=503)
    stale = await cache.get(8)
    assert stale.stale and stale.value.name == "打马赛克就"


def revalidating_cache(fetch: CountingFetch, clock: FakeClock, metrics: Metrics | None = None) -> ClueCache:
    return clue_cache(fetch, Policy(ttl=60, maxsize=100, negative_ttl=10, stale_ttl=3600, deadline=5, revalidate=30),
                      clock=clock, wall=FakeClock(1_700_000_000), metrics=metrics or Metrics())


async def test_an_expired_hot_clue_is_served_at_once_and_refreshed_behind() -> None:
    fetch, clock, metrics = CountingFetch(), FakeClock(), Metrics()
    cache = revalidating_cache(fetch, clock, metrics)
    first = await cache.get(8)
    clock.advance(70)  # past the TTL, within the revalidation window
    fetch.gate = asyncio.Event()  # the CRM is slow: nobody may wait for it
    served = [cache.cached(8), await cache.get(8), await cache.get(8)]
    assert all(s is not None and s.value == first.value and not s.stale for s in served)
    await asyncio.sleep(0)  # let the background fetch start
    assert fetch.calls == 2  # one background fetch, however many lookups came meanwhile
    fetch.gate.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert (await cache.get(8)).value.name == "clue 8 v2"
    assert fetch.calls == 2
    assert 'cluebot_cache_total{result="revalidate"} 1.0' in metrics.render().decode()


async def test_past_the_revalidation_window_lookups_wait_for_the_crm() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    cache = revalidating_cache(fetch, clock)
    await cache.get(8)
    clock.advance(91)
    assert cache.cached(8) is None
    assert (await cache.get(8)).value.name == "clue 8 v2"


async def test_a_failed_background_refresh_is_quiet_and_keeps_the_clue() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    cache = revalidating_cache(fetch, clock)
    first = await cache.get(8)
    clock.advance(70)
    fetch.error = CrmUnavailable("down")
    assert cache.cached(8) == first
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert fetch.calls == 2
    fetch.error = ClueNotFound(8)  # deleted in the CRM: the background read learns it
    clock.advance(1)
    cache.cached(8)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    with pytest.raises(ClueNotFound):
        await cache.get(8)


async def test_a_failure_is_remembered_where_the_policy_says_and_refresh_reads_again() -> None:
    """The follow-up cache's policy: a failed read with nothing stale is raised again for ``failure_ttl``
    without a CRM call; ``refresh`` asks the CRM anyway; auth errors are never remembered."""
    clock, metrics = FakeClock(), Metrics()
    calls: list[tuple[int, str | None]] = []
    errors: list[Exception] = [CrmUnavailable("down")]

    async def fetch(key: tuple[int, str | None]) -> FollowUpPage:
        calls.append(key)
        if errors:
            raise errors[0]
        return FollowUpPage((), None)

    cache = follow_up_cache(fetch, Policy(ttl=60, maxsize=100, deadline=5, failure_ttl=10),
                            clock=clock, wall=FakeClock(1_700_000_000), metrics=metrics)
    for _ in range(3):
        with pytest.raises(CrmUnavailable):
            await cache.get((8, None))
    assert len(calls) == 1 and isinstance(cache.failed((8, None)), CrmUnavailable)
    errors.clear()
    assert (await cache.get((8, None), refresh=True)).value == FollowUpPage((), None)
    assert cache.failed((8, None)) is None
    clock.advance(61)
    errors.append(CrmAuthError("bad key", code=1002))
    with pytest.raises(CrmAuthError):
        await cache.get((8, None))
    assert cache.failed((8, None)) is None and len(calls) == 3
    remembered = metrics.registry.get_sample_value("cluebot_follow_up_cache_total", {"result": "failure_remembered"})
    assert remembered == 2


async def test_an_invalidated_clue_is_read_again_and_kept_as_the_stale_fallback() -> None:
    """What a CRM push does to a cached clue: the next read asks the CRM; if it fails, the old clue is
    served flagged stale rather than nothing."""
    fetch, clock = CountingFetch(), FakeClock()
    cache = make_cache(fetch, clock)
    await cache.get(8)
    await cache.invalidate(8)
    assert (await cache.get(8)).value.name == "clue 8 v2"
    await cache.invalidate(8)
    fetch.error = CrmUnavailable("down")
    stale = await cache.get(8)
    assert (stale.value.name, stale.stale) == ("clue 8 v2", True)
    assert fetch.calls == 3


async def test_invalidating_a_clue_forgets_its_not_found_and_only_its_follow_up_pages() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    cache = make_cache(fetch, clock)
    fetch.error = ClueNotFound(8)
    with pytest.raises(ClueNotFound):
        await cache.get(8)
    fetch.error = None
    await cache.invalidate(8)  # a push may announce a clue just created
    assert (await cache.get(8)).value.id == 8

    pages: list[tuple[int, str | None]] = []

    async def page(key: tuple[int, str | None]) -> FollowUpPage:
        pages.append(key)
        return FollowUpPage(items=(), next_cursor=None)

    follow_ups = follow_up_cache(page, Policy(ttl=60, maxsize=100, deadline=5), clock=clock, wall=clock,
                                 metrics=Metrics())
    for key in ((8, None), (8, "c2"), (9, None)):
        await follow_ups.get(key)
    follow_ups.invalidate_where(lambda key: key[0] == 8)
    for key in ((8, None), (8, "c2"), (9, None)):
        await follow_ups.get(key)
    assert pages == [(8, None), (8, "c2"), (9, None), (8, None), (8, "c2")]
