"""The Redis-shared cache, rate limit and event dedupe, against a real redis-server.

Each "instance" is what one app process holds: its own ``FleetRedis`` (own connection pool) and its own
``ClueCache``; two of them on one server stand for two app instances.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from bot.cache.clues import ClueCache, clue_cache
from bot.cache.timed import Policy, Timed
from bot.crm.client import CrmClient
from bot.crm.reference import ClueFetcher, ReferenceData
from bot.dev.sandbox import SandboxServer
from bot.dev.sandbox.seed import DOC_CLUE_ID
from bot.domain.clue import Clue, CrmTime, FieldView, TagView
from bot.errors import ClueNotFound, CrmUnavailable
from bot.fleet.guard import key
from bot.fleet.redis import FleetRedis, connect_fleet
from bot.runtime.metrics import Metrics
from tests.redis_server import RedisServer, free_port, start_redis
from tests.support import FakeClock

WALL_START = 1_700_000_000.0
TTL, NEGATIVE_TTL, STALE = 60.0, 10.0, 3600.0
SHANGHAI = ZoneInfo("Asia/Shanghai")

RICH_ZH = Clue(
    id=20240501, is_clue=True, kind=1, name="张伟",
    stage=FieldView("customer_stage", "客户阶段", "方案评估·第二轮", kind=2),
    company="上海某某科技有限公司", phones=("13812345678",),
    description="客户对 R2 机械臂感兴趣，预算待确认。\n下周二回访。", birthday=date(1990, 4, 1),
    tags=(TagView("11", "制造业", "行业"), TagView("qw7", None)),
    created=CrmTime("2024-04-01 09:30:00", datetime(2024, 4, 1, 9, 30, tzinfo=SHANGHAI), "Asia/Shanghai"),
    updated=CrmTime("2024-04-30 16:00:00", datetime(2024, 4, 30, 8, 0, tzinfo=UTC), "Asia/Shanghai"),
    converted=CrmTime("not a time", None, "Asia/Shanghai"),
    other_fields=(FieldView("budget", "预算", "¥200,000", kind=4, unresolved=("o9",)),),
)
CLUE_2 = replace(RICH_ZH, id=2)  # a stored clue is read back only under its own id


# ------------------------------------------------------------------------------------------ fixtures

class CountingFetch:
    """The CRM side, scripted: counts calls, can hold them on a gate, raise, or answer."""

    def __init__(self, *, gate: asyncio.Event | None = None) -> None:
        self.calls = 0
        self.entered = asyncio.Event()
        self.gate = gate
        self.errors: list[Exception] = []  # raised by the first calls, in order

    async def __call__(self, clue_id: int) -> Clue:
        self.calls += 1
        call = self.calls
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if call <= len(self.errors):
            raise self.errors[call - 1]
        return replace(RICH_ZH, id=clue_id, name=f"张伟 v{call}")


@dataclass
class Instance:
    """One app instance: its shared parts and a ClueCache using them."""

    shared: FleetRedis
    cache: ClueCache
    metrics: Metrics
    monotonic: FakeClock

    def errors(self) -> float:
        return self.metrics.registry.get_sample_value("cluebot_redis_errors_total") or 0.0

    def count(self, result: str) -> float:
        return self.metrics.registry.get_sample_value("cluebot_cache_total", {"result": result}) or 0.0

    def coalesced(self) -> float:
        return self.metrics.registry.get_sample_value("cluebot_singleflight_coalesced_total") or 0.0


MakeInstance = Callable[..., Awaitable[Instance]]


@pytest.fixture
async def instance() -> AsyncIterator[MakeInstance]:
    made: list[FleetRedis] = []

    async def make(url: str, fetch: Callable[[int], Awaitable[Clue]] | None = None, *,
                   wall: FakeClock | None = None, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                   lock_ttl: float = 5.0, monotonic: FakeClock | None = None, max_value_bytes: int = 2_000_000,
                   **settings: Any) -> Instance:
        config: dict[str, Any] = {"clue_cache_ttl_seconds": TTL, "clue_negative_ttl_seconds": NEGATIVE_TTL,
                                  "clue_stale_seconds": STALE, **settings}
        metrics, monotonic, wall = Metrics(), monotonic or FakeClock(), wall or FakeClock(WALL_START)
        shared = await connect_fleet(url, metrics, ttl=config["clue_cache_ttl_seconds"],
                                     negative_ttl=config["clue_negative_ttl_seconds"],
                                     stale_ttl=config["clue_stale_seconds"], lock_ttl=lock_ttl,
                                     crm_rate=config.get("crm_rate_per_second", 20.0), wall=wall,
                                     monotonic=monotonic, sleep=sleep, max_value_bytes=max_value_bytes)
        assert shared is not None
        made.append(shared)
        policy = Policy(ttl=config["clue_cache_ttl_seconds"], maxsize=100, deadline=5.0,
                        negative_ttl=config["clue_negative_ttl_seconds"], stale_ttl=config["clue_stale_seconds"])
        cache = clue_cache(fetch or CountingFetch(), policy, clock=monotonic, wall=wall, metrics=metrics,
                           shared=shared.store)
        return Instance(shared, cache, metrics, monotonic)

    yield make
    for shared in made:
        await shared.aclose()


@dataclass
class Waiting:
    """An injected sleep that tells the test a lookup is waiting on another instance's fetch."""

    polling: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, seconds: float) -> None:
        self.polling.set()
        await asyncio.sleep(seconds)


async def instant(_: float) -> None:
    """A poll sleep that takes no time: the waiter runs through its whole bounded wait at once."""
    await asyncio.sleep(0)


def warnings_named(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.fleet.guard" and r.getMessage() == event]


# ------------------------------------------------------------------------------------------ the store

async def test_no_redis_url_means_no_shared_parts() -> None:
    assert await connect_fleet(None, Metrics(), ttl=1, negative_ttl=1, stale_ttl=1, lock_ttl=1.0, crm_rate=1,
                               wall=FakeClock()) is None


async def test_a_clue_round_trips_between_instances(admin: redis.Redis, redis_server: RedisServer,
                                                    instance: MakeInstance) -> None:
    a, b = await instance(redis_server.url), await instance(redis_server.url)
    await a.shared.store.put(RICH_ZH.id, RICH_ZH, WALL_START + 0.25)

    assert await b.shared.store.get(RICH_ZH.id) == (RICH_ZH, WALL_START + 0.25)
    raw = admin.get(key("clue", RICH_ZH.id))
    assert isinstance(raw, bytes) and raw.startswith(f"{WALL_START + 0.25!r}\n".encode())
    assert "上海某某科技有限公司" in raw.decode()  # UTF-8, not \u escapes
    # Kept through TTL + stale grace; freshness is the cache's call.
    assert (TTL + STALE) * 1000 - 1000 < admin.pttl(key("clue", RICH_ZH.id)) <= (TTL + STALE) * 1000
    assert await b.shared.store.get(404) is None

    odd = replace(RICH_ZH, id=2, name="broken \ud800 text")  # CRM JSON can carry a lone surrogate
    await a.shared.store.put(2, odd, WALL_START)
    assert await b.shared.store.get(2) == (odd, WALL_START)
    assert a.errors() + b.errors() == 0


async def test_another_schema_version_or_junk_reads_as_a_miss(admin: redis.Redis, redis_server: RedisServer,
                                                               instance: MakeInstance) -> None:
    fetch = CountingFetch()
    b = await instance(redis_server.url, fetch)
    newer = RICH_ZH.to_json().replace('"v":1', '"v":2')
    assert newer != RICH_ZH.to_json()
    admin.set(key("clue", 7), f"{WALL_START!r}\n{newer}")
    admin.set(key("clue", 9), f"yesterday\n{RICH_ZH.to_json()}")

    assert await b.shared.store.get(7) is None
    assert await b.shared.store.get(9) is None
    assert (await b.cache.get(7)).value.name == "张伟 v1"
    assert fetch.calls == 1
    assert b.count("redis_hit") == 0


async def test_a_fresh_shared_value_is_a_hit_and_an_old_one_is_refetched(redis_server: RedisServer, admin: redis.Redis,
                                                                       instance: MakeInstance) -> None:
    wall = FakeClock(WALL_START)
    fetch_a, fetch_b = CountingFetch(), CountingFetch()
    a = await instance(redis_server.url, fetch_a, wall=wall)
    b = await instance(redis_server.url, fetch_b, wall=wall)
    first = await a.cache.get(8)

    wall.advance(TTL - 1)
    assert await b.cache.get(8) == Timed(first.value, first.fetched_at)
    assert (fetch_b.calls, b.count("redis_hit")) == (0, 1)

    wall.advance(2)  # older than the TTL in Redis too: B asks the CRM and shares the new value
    b.monotonic.advance(TTL + 1)
    refreshed = await b.cache.get(8)
    assert (fetch_b.calls, refreshed.fetched_at) == (1, WALL_START + TTL + 1)
    assert await a.shared.store.get(8) == (refreshed.value, WALL_START + TTL + 1)


async def test_not_found_is_shared_for_the_negative_ttl(admin: redis.Redis, redis_server: RedisServer,
                                                        instance: MakeInstance) -> None:
    fetch_a, fetch_b = CountingFetch(), CountingFetch()
    fetch_a.errors = [ClueNotFound(404)]
    a = await instance(redis_server.url, fetch_a)
    b = await instance(redis_server.url, fetch_b)

    with pytest.raises(ClueNotFound):
        await a.cache.get(404)
    with pytest.raises(ClueNotFound):
        await b.cache.get(404)
    assert (fetch_a.calls, fetch_b.calls) == (1, 0)
    assert NEGATIVE_TTL * 1000 - 1000 < admin.pttl(key("nf", 404)) <= NEGATIVE_TTL * 1000

    await a.shared.store.put(404, RICH_ZH, WALL_START)  # created in the CRM meanwhile, seen by a refresh
    assert not await b.shared.store.get_not_found(404)


async def test_not_found_drops_the_shared_value_and_zero_ttls_store_nothing(
        admin: redis.Redis, redis_server: RedisServer, instance: MakeInstance) -> None:
    a = await instance(redis_server.url)
    await a.shared.store.put(5, RICH_ZH, WALL_START)
    await a.shared.store.put_not_found(5)
    assert admin.exists(key("clue", 5)) == 0

    uncached = await instance(redis_server.url, clue_cache_ttl_seconds=0.0, clue_stale_seconds=0.0,
                              clue_negative_ttl_seconds=0.0)
    await uncached.shared.store.put(6, RICH_ZH, WALL_START)
    await uncached.shared.store.put_not_found(7)
    assert admin.keys(key("*", "*")) == [key("nf", 5).encode()]
    assert uncached.errors() == 0


async def test_values_are_bounded_on_write_and_on_read(admin: redis.Redis, redis_server: RedisServer,
                                                       instance: MakeInstance,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.fleet")
    a = await instance(redis_server.url, max_value_bytes=4096)
    big = replace(RICH_ZH, id=3, description="长" * 2000)  # 6,000 bytes of UTF-8
    await a.shared.store.put(3, big, WALL_START)
    assert admin.exists(key("clue", 3)) == 0  # never written: nothing this big is ever a real entry
    [too_big] = [r for r in caplog.records if r.getMessage() == "cache.redis.too_big"]
    assert vars(too_big)["bytes"] > 4096

    admin.set(key("clue", 4), f"{WALL_START!r}\n{replace(RICH_ZH, id=4).to_json()}" + " " * 5_000_000)
    assert await a.shared.store.get(4) is None  # at most 4,097 bytes read, then a miss
    assert admin.exists(key("clue", 4)) == 0
    [invalid] = [r for r in caplog.records if r.getMessage() == "cache.redis.invalid"]
    assert (vars(invalid)["key"], vars(invalid)["reason"]) == ("clue", "too_big")
    assert a.metrics.registry.get_sample_value("cluebot_redis_invalid_total", {"key": "clue"}) == 1
    assert (await a.cache.get(4)).value.id == 4  # from the CRM


async def test_a_lock_that_looks_valid_delays_a_lookup_at_most_its_own_bound(
        admin: redis.Redis, redis_server: RedisServer, instance: MakeInstance) -> None:
    """Someone holds (or keeps re-taking) a lock with a proper expiry, and Redis answers slowly: each poll
    takes a second on the clock. The lookup gives up after the lock's bound of 5 s, not 200 polls later."""
    clock, polls = FakeClock(), []

    async def slow_poll(seconds: float) -> None:
        polls.append(seconds)
        clock.advance(1.0)
        await asyncio.sleep(0)

    fetch = CountingFetch()
    a = await instance(redis_server.url, fetch, lock_ttl=5.0, monotonic=clock, sleep=slow_poll)
    admin.set(key("lock", 8), "someone else", px=5000)
    assert (await a.cache.get(8)).value.id == 8
    assert fetch.calls == 1 and 4 <= len(polls) <= 6


# ------------------------------------------------------------------------------------------ single-flight

async def test_stale_if_error_reaches_another_instances_value(admin: redis.Redis, redis_server: RedisServer,
                                                              instance: MakeInstance) -> None:
    wall = FakeClock(WALL_START)
    a = await instance(redis_server.url, CountingFetch(), wall=wall)
    fresh = await a.cache.get(5)
    down = CountingFetch()
    down.errors = [CrmUnavailable("CRM down")]
    b = await instance(redis_server.url, down, wall=wall)  # a new instance: nothing in its own cache
    wall.advance(TTL + 240)
    stale = await b.cache.get(5)
    assert stale == Timed(fresh.value, WALL_START, stale=True)
    assert down.calls == 1 and b.count("stale_served") == 1
    wall.advance(STALE)  # past the grace period: the error shows
    down.errors = [CrmUnavailable("still down")] * 2
    with pytest.raises(CrmUnavailable):
        await b.cache.get(5)


async def race_two_instances(url: str, instance: MakeInstance, fetch: CountingFetch,
                             clue_id: int) -> tuple[Instance, Instance, list[Any]]:
    """Two instances look one id up at once: one holds the lock and is in the CRM call (held on the fetch's
    gate), the other waits for its result; then the gate opens. Results (or errors) in instance order."""
    waiting = Waiting()
    a = await instance(url, fetch, sleep=waiting)
    b = await instance(url, fetch, sleep=waiting)
    lookups = [asyncio.ensure_future(i.cache.get(clue_id)) for i in (a, b)]
    async with asyncio.timeout(5):
        await fetch.entered.wait()
        await waiting.polling.wait()
    assert fetch.gate is not None
    fetch.gate.set()
    return a, b, list(await asyncio.gather(*lookups, return_exceptions=True))


async def test_two_instances_concurrently_missing_make_one_fetch(admin: redis.Redis, redis_server: RedisServer,
                                                                 instance: MakeInstance) -> None:
    fetch = CountingFetch(gate=asyncio.Event())
    a, b, (found_a, found_b) = await race_two_instances(redis_server.url, instance, fetch, 8)

    assert fetch.calls == 1
    assert found_a == found_b
    assert found_a.value.name == "张伟 v1"
    assert a.coalesced() + b.coalesced() == 1
    assert admin.exists(key("lock", 8)) == 0


async def test_a_failed_holder_lets_the_waiter_fetch(admin: redis.Redis, redis_server: RedisServer,
                                                     instance: MakeInstance) -> None:
    fetch = CountingFetch(gate=asyncio.Event())
    fetch.errors = [CrmUnavailable("CRM answered 503")]
    _, _, results = await race_two_instances(redis_server.url, instance, fetch, 8)

    assert fetch.calls == 2
    assert sorted(type(r).__name__ for r in results) == ["CrmUnavailable", "Timed"]
    assert next(r for r in results if isinstance(r, Timed)).value.name == "张伟 v2"
    assert admin.exists(key("lock", 8)) == 0


async def test_a_waiter_gives_up_on_a_stuck_holder_after_the_lock_ttl(redis_server: RedisServer, admin: redis.Redis,
                                                                      instance: MakeInstance) -> None:
    gate = asyncio.Event()
    stuck = CountingFetch(gate=gate)
    a = await instance(redis_server.url, stuck, lock_ttl=0.2)
    holder = asyncio.ensure_future(a.cache.get(8))
    async with asyncio.timeout(5):
        await stuck.entered.wait()
    assert admin.exists(key("lock", 8)) == 1

    fetch_b = CountingFetch()
    b = await instance(redis_server.url, fetch_b, lock_ttl=0.2, sleep=instant)
    async with asyncio.timeout(5):
        found = await b.cache.get(8)
    assert (fetch_b.calls, found.value.name, holder.done()) == (1, "张伟 v1", False)

    gate.set()
    await holder


async def test_a_waiter_learns_not_found_from_the_holder(redis_server: RedisServer, admin: redis.Redis,
                                                         instance: MakeInstance) -> None:
    fetch = CountingFetch(gate=asyncio.Event())
    fetch.errors = [ClueNotFound(404)]
    _, _, results = await race_two_instances(redis_server.url, instance, fetch, 404)

    assert fetch.calls == 1
    assert all(isinstance(r, ClueNotFound) for r in results)


async def test_two_app_instances_sharing_one_redis_make_one_crm_call_for_one_id(
        sandbox: SandboxServer, crm_factory: Callable[..., CrmClient], admin: redis.Redis,
        redis_server: RedisServer, instance: MakeInstance) -> None:
    apps = []
    for _ in range(2):
        client = crm_factory(sandbox.url)
        fetcher = ClueFetcher(client, ReferenceData(client, ttl=3600, clock=FakeClock()), SHANGHAI)
        apps.append(await instance(redis_server.url, fetcher.fetch, wall=FakeClock(WALL_START)))
    sandbox.state.set_fault(DOC_CLUE_ID, latency_ms=100)  # both instances are surely in flight at once

    results = await asyncio.gather(*(app.cache.get(DOC_CLUE_ID) for app in apps for _ in range(50)))

    assert sandbox.state.stats().clue_gets[DOC_CLUE_ID] == 1
    assert {r.value.name for r in results} == {"打马赛克就"}
    assert len({r.fetched_at for r in results}) == 1


# ------------------------------------------------------------------------------------------ rate limit, dedupe

async def test_the_token_bucket_limits_across_instances(admin: redis.Redis, redis_server: RedisServer,
                                                        instance: MakeInstance) -> None:
    a = await instance(redis_server.url, crm_rate_per_second=2.0)  # burst 2
    b = await instance(redis_server.url, crm_rate_per_second=2.0)

    assert [await a.shared.bucket.wait_time(), await b.shared.bucket.wait_time()] == [0.0, 0.0]
    assert 0.45 < await a.shared.bucket.wait_time() <= 0.5
    assert 0.45 < await b.shared.bucket.wait_time() <= 0.5
    assert 0 < admin.pttl(key("rate", "crm")) <= 2000

    bucket = key("rate", "crm")  # half a second passes, on Redis's clock: one token for either instance
    admin.hset(bucket, "at", float(admin.hget(bucket, "at") or 0) - 0.5)
    assert await b.shared.bucket.wait_time() == 0.0
    assert await a.shared.bucket.wait_time() > 0.45
    assert a.errors() + b.errors() == 0


async def test_the_shared_bucket_keeps_a_reserve_for_those_within_their_share(
        admin: redis.Redis, redis_server: RedisServer, instance: MakeInstance) -> None:
    a = await instance(redis_server.url, crm_rate_per_second=4.0)  # burst 4
    b = await instance(redis_server.url, crm_rate_per_second=4.0)

    assert [await a.shared.bucket.wait_time(floor=2.0) for _ in range(2)] == [0.0, 0.0]
    assert 0.2 < await b.shared.bucket.wait_time(floor=2.0) <= 0.25  # down to the reserve: beyond a share, wait
    assert [await b.shared.bucket.wait_time(), await a.shared.bucket.wait_time()] == [0.0, 0.0]  # within: go
    assert await a.shared.bucket.wait_time() > 0.2
    assert a.errors() + b.errors() == 0


async def test_event_dedupe_across_instances(admin: redis.Redis, redis_server: RedisServer,
                                             instance: MakeInstance) -> None:
    a, b = await instance(redis_server.url), await instance(redis_server.url)

    assert await a.shared.deduper.seen("Ev01") is False
    assert await b.shared.deduper.seen("Ev01") is True  # Slack's retry reached the other instance
    assert await a.shared.deduper.seen("Ev01") is True
    assert await b.shared.deduper.seen("Ev02") is False
    assert 3599_000 < admin.pttl(key("event", "Ev01")) <= 3600_000


# ------------------------------------------------------------------------------------------ Redis unavailable

async def test_a_down_redis_degrades_to_no_cache_with_one_warning(caplog: pytest.LogCaptureFixture,
                                                                  instance: MakeInstance) -> None:
    caplog.set_level(logging.INFO, logger="bot.fleet")
    fetch = CountingFetch()
    down = await instance(f"redis://:pw-s3cret-0123@127.0.0.1:{free_port()}/0", fetch)  # nothing listens

    assert [(await down.cache.get(i)).value.id for i in (1, 2, 3)] == [1, 2, 3]
    assert fetch.calls == 3
    assert await down.shared.bucket.wait_time() == 0.0  # the in-process bucket
    assert [await down.shared.deduper.seen("Ev01"), await down.shared.deduper.seen("Ev01")] == [False, True]
    assert await down.shared.ping() is False
    assert down.errors() == 1  # start-up; then Redis is left alone for a while

    down.monotonic.advance(2.5)  # past the back-off: tried (and failed) once more, still no second warning
    assert (await down.cache.get(4)).value.id == 4
    assert down.errors() == 2

    [warning] = warnings_named(caplog, "cache.redis.unavailable")
    assert warning.levelno == logging.WARNING
    assert vars(warning)["redis"].startswith("redis://127.0.0.1:")
    assert "pw-s3cret-0123" not in caplog.text + repr([vars(r) for r in caplog.records])


async def test_a_hung_redis_times_out_instead_of_holding_lookups(instance: MakeInstance) -> None:
    with socket.socket() as hung:  # accepts connections (the kernel's backlog) but never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        async with asyncio.timeout(5):
            stalled = await instance(f"redis://127.0.0.1:{hung.getsockname()[1]}/0")
            stalled.monotonic.advance(10)  # past the back-off: the lookup tries Redis again
            assert (await stalled.cache.get(8)).value.id == 8
        assert stalled.errors() == 2


async def test_recovery_after_an_outage_is_logged_and_used(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                           instance: MakeInstance) -> None:
    caplog.set_level(logging.INFO, logger="bot.fleet")
    server = start_redis(tmp_path / "redis")
    try:
        fetch = CountingFetch()
        a = await instance(server.url, fetch)
        await a.cache.get(1)
        server.stop()
        a.monotonic.advance(TTL + 1)
        assert (await a.cache.get(1)).value.id == 1  # the CRM, as Redis is gone
        assert await a.shared.ping() is False

        server = start_redis(tmp_path / "redis", port=server.port)
        assert await a.shared.ping() is False  # still backing off
        a.monotonic.advance(2.5)
        assert await a.shared.ping() is True
        await a.shared.store.put(2, CLUE_2, WALL_START)
        assert await a.shared.store.get(2) == (CLUE_2, WALL_START)
    finally:
        server.stop()
    assert len(warnings_named(caplog, "cache.redis.unavailable")) == 1
    assert len(warnings_named(caplog, "cache.redis.recovered")) == 1


async def test_a_refused_command_degrades_only_that_operation(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                              instance: MakeInstance) -> None:
    caplog.set_level(logging.INFO, logger="bot.fleet")
    # Lua disabled, as some managed or ACL-restricted servers have it: the shared bucket cannot work.
    server = start_redis(tmp_path / "redis", None, "--rename-command", "EVALSHA", "", "--rename-command", "EVAL", "")
    try:
        a = await instance(server.url, crm_rate_per_second=1.0)
        # The in-process bucket (burst 1, on the instance's clock) holds the rate instead.
        assert [await a.shared.bucket.wait_time() for _ in range(3)] == [0.0, 1.0, 1.0]
        await a.shared.store.put(2, CLUE_2, WALL_START)  # everything else still goes through Redis
        assert await a.shared.store.get(2) == (CLUE_2, WALL_START)
        assert a.errors() == 3
    finally:
        server.stop()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == ["cache.redis.refused"]
