"""The per-key token buckets (each person's lookup budget), on a fake clock."""

from __future__ import annotations

from bot.runtime.ratelimit import KeyedTokenBuckets
from tests.support import FakeClock


def test_burst_then_refill_per_user() -> None:
    clock = FakeClock()
    limiter = KeyedTokenBuckets(3 / 60, 3, clock)
    assert [limiter.take("U1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("U1") == 20.0  # one token every 20 s
    assert limiter.take("U2") == 0.0  # buckets are per user
    clock.advance(20)
    assert limiter.take("U1") == 0.0
    assert limiter.take("U1", count=3) == 60.0


def test_idle_users_are_forgotten_without_changing_answers() -> None:
    clock = FakeClock()
    limiter = KeyedTokenBuckets(2 / 60, 2, clock, max_keys=2)
    limiter.take("U1")
    clock.advance(61)
    limiter.take("U2")
    limiter.take("U3")  # over max_keys: U1 refilled long ago and is dropped
    assert set(limiter._buckets) == {"U2", "U3"}
    assert limiter.take("U1", count=2) == 0.0  # a forgotten user starts full, as they would be
