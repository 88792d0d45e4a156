"""``SingleFlight.join``: a caller that gives up on a shared CRM read leaves its outcome seen."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest

from bot.cache.flight import SingleFlight
from bot.errors import CrmUnavailable


async def _abandoned_flight(error: Exception) -> list[dict[str, Any]]:
    """One read that fails with ``error`` after its only waiter gave up; what the loop reported of it."""
    reported: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: reported.append(context))
    release = asyncio.Event()

    async def read() -> int:
        await release.wait()
        raise error

    flights: SingleFlight[int, int] = SingleFlight()
    waiter = asyncio.ensure_future(flights.join(flights.start(8, read())))
    await asyncio.sleep(0)
    waiter.cancel()  # e.g. a card that stopped waiting for its follow-ups
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    for _ in range(3):
        await asyncio.sleep(0)
    assert 8 not in flights
    del waiter
    gc.collect()  # an exception never retrieved is reported when its task is collected
    loop.set_exception_handler(None)
    return reported


async def test_a_crm_failure_nobody_waits_for_is_not_reported_as_never_retrieved(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        reported = await _abandoned_flight(CrmUnavailable("CRM timed out"))
    assert reported == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_bug_in_an_abandoned_flight_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        reported = await _abandoned_flight(TypeError("a bug"))
    assert reported == []
    failed = [r for r in caplog.records if r.getMessage() == "cache.flight.failed"]
    assert len(failed) == 1 and failed[0].exc_info is not None and isinstance(failed[0].exc_info[1], TypeError)


async def test_the_waiters_left_still_get_the_failure() -> None:
    release = asyncio.Event()

    async def read() -> int:
        await release.wait()
        raise CrmUnavailable("CRM timed out")

    flights: SingleFlight[int, int] = SingleFlight()
    task = flights.start(8, read())
    leaving, staying = (asyncio.ensure_future(flights.join(task)) for _ in range(2))
    await asyncio.sleep(0)
    leaving.cancel()
    release.set()
    with pytest.raises(CrmUnavailable):
        await staying
    assert leaving.cancelled()
