"""What a verified push does to the caches, with the real caches and task runner (the recheck hook is the
injected one watches will provide: recorded here)."""

from __future__ import annotations

from bot.cache.clues import clue_cache, follow_up_cache, owner_cache
from bot.cache.push import PushHandler
from bot.cache.timed import Policy
from bot.crm.push import PushHeaders, PushMessage
from bot.domain.clue import Clue
from bot.domain.follow_ups import FollowUpPage
from bot.domain.owner import Owner
from bot.runtime.dedupe import TtlDeduper
from bot.runtime.metrics import Metrics
from bot.runtime.tasks import PUSH, Lane, TaskRunner
from tests.support import FakeClock

POLICY = Policy(ttl=60, maxsize=100, deadline=5)


def handler(runner: TaskRunner, rechecked: list[int]) -> tuple[PushHandler, Metrics]:
    clock, metrics = FakeClock(), Metrics()

    async def clue(clue_id: int) -> Clue:
        return Clue(id=clue_id)

    async def page(key: tuple[int, str | None]) -> FollowUpPage:
        return FollowUpPage(items=(), next_cursor=None)

    async def owner(clue_id: int) -> Owner | None:
        return None

    async def recheck(clue_id: int) -> None:
        rechecked.append(clue_id)

    push = PushHandler(clues=clue_cache(clue, POLICY, clock=clock, wall=clock, metrics=metrics),
                       follow_ups=follow_up_cache(page, POLICY, clock=clock, wall=clock, metrics=metrics),
                       owners=owner_cache(owner, POLICY, clock=clock, wall=clock, metrics=metrics),
                       recheck=recheck, replays=TtlDeduper(clock, ttl=600), runner=runner, metrics=metrics)
    return push, metrics


def headers(sign: str) -> PushHeaders:
    return PushHeaders("wwcorp_App", 1596681164807, "1", sign)


async def test_each_named_clue_is_rechecked_once_and_replays_are_not() -> None:
    runner, rechecked = TaskRunner(), []
    push, metrics = handler(runner, rechecked)
    message = PushMessage("tag_info", 2**60, "7", (8, 410983932389440))
    assert push.accept(headers("a" * 64), message)
    assert push.accept(headers("a" * 64), message)  # the same request again
    assert push.accept(headers("b" * 64), message)  # the same message under new headers
    await runner.drain()
    assert rechecked == [8, 410983932389440]
    assert metrics.crm_pushes._counts == {("applied",): 1, ("replayed",): 2}


async def test_a_full_push_lane_refuses_and_takes_nothing() -> None:
    runner, rechecked = TaskRunner({PUSH: Lane(1, 1)}), []
    push, _ = handler(runner, rechecked)
    first, second = (PushMessage("edit_qw_customer", n, str(n), (n,)) for n in (1, 2))
    assert push.accept(headers("a" * 64), first)
    assert not push.accept(headers("b" * 64), second)  # the endpoint answers 503: the CRM may retry
    await runner.drain()
    assert push.accept(headers("b" * 64), second)  # not taken before: processed now
    await runner.drain()
    assert rechecked == [1, 2]
