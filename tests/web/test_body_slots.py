"""BodySlots' bookkeeping: loans per address, the oldest recalled when all are lent, nothing leaked."""

from __future__ import annotations

import asyncio

import pytest

from bot.web.guard import BodyLimits, BodySlots, Refused


async def test_recalling_a_clients_own_oldest_loan_counts_it_once() -> None:
    slots = BodySlots(BodyLimits(max_pending=2, per_client=2))
    blocked = asyncio.Event()

    async def hold(client: str) -> object:
        loan = slots.lend(client)
        try:
            await blocked.wait()
        finally:
            slots.give_back(loan)
        return loan

    first = asyncio.ensure_future(hold("10.0.0.1"))
    second = asyncio.ensure_future(hold("10.0.0.2"))
    await asyncio.sleep(0)
    third = asyncio.ensure_future(hold("10.0.0.1"))  # full: the oldest (10.0.0.1's own) is recalled
    await asyncio.sleep(0)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert slots.lent == 2 and slots.saturated()
    mine = slots.lend("10.0.0.1")  # its second of two: the oldest left, 10.0.0.2's, is recalled
    await asyncio.sleep(0)
    with pytest.raises(asyncio.CancelledError):
        await second
    with pytest.raises(Refused) as refused:
        slots.lend("10.0.0.1")
    assert refused.value.kind == "busy_client"
    slots.give_back(mine)
    slots.give_back(mine)  # twice: no effect
    blocked.set()
    await third
    assert slots.lent == 0
    again = [slots.lend("10.0.0.1"), slots.lend("10.0.0.1")]  # nothing leaked: its whole share again
    for loan in again:
        slots.give_back(loan)
    assert slots.lent == 0
