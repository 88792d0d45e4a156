"""TaskRunner lanes: each kind bounded on its own, refused at once when full, never queued behind another."""

from __future__ import annotations

import asyncio

from bot.runtime.tasks import HOUSEKEEPING, REPLY, Lane, TaskRunner


async def test_a_full_lane_refuses_and_other_lanes_still_run() -> None:
    refused: list[str] = []
    runner = TaskRunner({REPLY: Lane(1, 2), HOUSEKEEPING: Lane(1, 2)}, on_refused=refused.append)
    gate = asyncio.Event()
    ran: list[str] = []

    async def job(name: str) -> None:
        await gate.wait()
        ran.append(name)

    assert runner.spawn(job("h1"), name="h", kind=HOUSEKEEPING)
    assert runner.spawn(job("h2"), name="h", kind=HOUSEKEEPING)
    extra = job("h3")
    assert not runner.spawn(extra, name="h", kind=HOUSEKEEPING)
    assert extra.cr_frame is None  # closed, so never "was never awaited"
    assert refused == [HOUSEKEEPING]

    async def reply() -> None:
        ran.append("reply")

    assert runner.spawn(reply(), name="r")  # its own lane: not behind the housekeeping queue
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert ran == ["reply"]
    gate.set()
    await runner.drain()
    assert sorted(ran) == ["h1", "h2", "reply"]
    assert runner.spawn(job("h4"), name="h", kind=HOUSEKEEPING)  # room again
    await runner.drain()


async def test_cancelled_tasks_give_their_place_back() -> None:
    runner = TaskRunner({REPLY: Lane(1, 1)})
    assert runner.spawn(asyncio.Event().wait(), name="hang")  # type: ignore[arg-type]
    await runner.drain(timeout=0.01)  # cancels it
    assert runner.spawn(asyncio.sleep(0), name="next")
    await runner.drain()


async def test_work_cancelled_while_waiting_its_turn_is_closed_not_left_unawaited() -> None:
    runner = TaskRunner({REPLY: Lane(1, 2)})
    gate = asyncio.Event()

    async def job() -> None:
        await gate.wait()

    waiting = job()
    assert runner.spawn(job(), name="first")
    assert runner.spawn(waiting, name="second")  # queued behind the first: its coroutine has not started
    await asyncio.sleep(0)
    await runner.drain(timeout=0.01)  # cancels both
    assert waiting.cr_frame is None  # closed: no "coroutine ... was never awaited" when it is collected
