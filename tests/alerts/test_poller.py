"""The poll against a CRM that misbehaves (a real HTTP server on loopback answering crafted pages), and
two instances sharing one database with one poller."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.alerts.delivery import AlertPoster
from bot.alerts.poller import NewCluePoller
from bot.alerts.service import AlertService
from bot.crm.client import CrmClient
from bot.crm.reference import ClueFetcher, ReferenceData
from bot.dev.loopback import LoopbackServer
from bot.runtime.metrics import Metrics
from bot.slack.webapi import SlackCalls, web_client
from bot.store.alerts import AlertStore
from bot.store.database import Database
from bot.store.lease import Lease
from tests.support import make_client

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = 1_714_525_800.0  # 2024-05-01 09:10:00 in Shanghai
MARK = "2024-05-01 09:00:00"


def raw(clue_id: int | None, created: str) -> dict[str, Any]:
    clue: dict[str, Any] = {"isClue": True, "type": 1, "createTime": created, "lastUpdateTime": created,
                            "tagIds": [], "fields": [{"field": "name", "type": 1, "valueAsText": f"线索 {clue_id}"}]}
    if clue_id is not None:
        clue["customerId"] = clue_id
    return clue


class CraftedCrm:
    """Answers list-by-create-time-asc with the pages given (by cursor), and empty reference data."""

    def __init__(self) -> None:
        self.pages: dict[str | None, dict[str, Any]] = {}
        self.endless = False
        self.asked: list[dict[str, Any]] = []

    def app(self) -> Starlette:
        async def listed(request: Request) -> JSONResponse:
            body = json.loads(await request.body())
            self.asked.append(body)
            cursor = body.get("cursor")
            if self.endless:  # a cursor that never ends: always one more, never the same
                data = {"list": [raw(7, "2024-05-01 09:05:00")], "nextCursor": f"c{len(self.asked)}"}
            else:
                data = self.pages.get(cursor, {"list": [], "nextCursor": None})
            return JSONResponse({"code": 0, "message": "ok", "data": data})

        async def empty(request: Request) -> JSONResponse:
            return JSONResponse({"code": 0, "message": "ok", "data": {"fields": []} if "fields" in request.url.path
                                 else []})

        return Starlette(routes=[Route("/api/v3/clue/list-by-create-time-asc", listed, methods=["POST"]),
                                 Route("/api/v2/customer/list-fields", empty, methods=["POST"]),
                                 Route("/api/v3/tags/list-tree", empty, methods=["POST"])])


@pytest.fixture
def crafted() -> Iterator[tuple[CraftedCrm, str]]:
    crm = CraftedCrm()
    with LoopbackServer(crm.app()) as server:
        yield crm, server.url


@pytest.fixture
async def client(crafted: tuple[CraftedCrm, str]) -> AsyncIterator[CrmClient]:
    made = make_client(crafted[1])
    yield made
    await made.aclose()


def poller(client: CrmClient, store: AlertStore, *, max_pages: int = 10) -> NewCluePoller:
    fetcher = ClueFetcher(client, ReferenceData(client, ttl=3600, clock=lambda: 0.0), SHANGHAI)
    return NewCluePoller(client, fetcher, store, tz=SHANGHAI, wall=lambda: NOW, lookback_seconds=60,
                         max_pages=max_pages)


async def subscribed_store(database: Database) -> AlertStore:
    store = AlertStore(database, lambda: NOW)
    await store.subscribe("T1", "C1", {}, "U1")
    await store.set_high_water(MARK)
    return store


async def test_duplicates_missing_ids_disorder_and_a_repeating_cursor(database: Database, client: CrmClient,
                                                                     crafted: tuple[CraftedCrm, str]) -> None:
    crm, _ = crafted
    crm.pages[None] = {"list": [raw(1, "2024-05-01 09:01:00"), raw(3, "2024-05-01 09:08:00"),
                                raw(None, "2024-05-01 09:02:00"), raw(2, "2024-05-01 09:03:00"), "junk"],
                       "nextCursor": "a"}
    crm.pages["a"] = {"list": [raw(1, "2024-05-01 09:01:00"), raw(4, "2024-05-01 08:58:00")], "nextCursor": "a"}
    store = await subscribed_store(database)
    result = await poller(client, store).poll_once()
    assert (result.pages, result.new, result.deliveries, result.unreadable, result.complete) == (2, 4, 4, 2, True)
    # since = mark - lookback (late arrivals such as clue 4), before = the second after now (a clue created
    # this second is alerted now, not a poll later); the window is read whole, the mark moves to this second
    assert crm.asked[0]["since"] == "2024-05-01 08:59:00" and crm.asked[0]["before"] == "2024-05-01 09:10:01"
    assert await store.high_water() == "2024-05-01 09:10:00"
    assert sorted(d.clue.id for d in await store.pending()) == [1, 2, 3, 4]
    again = await poller(client, store).poll_once()
    assert (again.new, again.deliveries) == (0, 0)


async def test_a_cursor_that_never_ends_is_bounded_and_the_mark_moves_only_as_far_as_read(
        database: Database, client: CrmClient, crafted: tuple[CraftedCrm, str]) -> None:
    crm, _ = crafted
    crm.endless = True
    store = await subscribed_store(database)
    result = await poller(client, store, max_pages=5).poll_once()
    assert (result.pages, result.complete, result.new) == (5, False, 1)
    assert await store.high_water() == "2024-05-01 09:05:00"


async def test_no_subscription_no_crm_call(database: Database, client: CrmClient,
                                           crafted: tuple[CraftedCrm, str]) -> None:
    store = AlertStore(database, lambda: NOW)
    result = await poller(client, store).poll_once()
    assert result.pages == 0 and crafted[0].asked == []
    assert await store.high_water() == "2024-05-01 09:10:00"  # a first subscription starts from now


async def test_two_instances_on_one_database_run_one_poller_and_the_other_takes_over(
        database: Database, client: CrmClient) -> None:
    readings = itertools.count(NOW, 1.0)

    def clock() -> float:  # every reading a second later
        return next(readings)

    store = await subscribed_store(database)

    def instance(name: str) -> AlertService:
        slack = web_client("http://127.0.0.1:9/api/", SlackCalls(Metrics()))
        poster = AlertPoster(store, slack, locale="en", url_for=str, digest_over=5, interval=0,
                             monotonic=lambda: 0.0)
        return AlertService(database, store, poller(client, store), poster,
                            Lease(database, "alert_poller", name, ttl=10, wall=clock), interval=1)

    first, second = instance("first"), instance("second")
    rounds = [await first.run_round(), await second.run_round(), await first.run_round(), await second.run_round()]
    assert [r.leader for r in rounds] == [True, False, True, False]
    # first dies (stops renewing): within the lease's 10 s the second takes over
    taken = [(await second.run_round()).leader for _ in range(12)]
    assert taken[-1] and taken.index(True) <= 10
    assert not (await first.run_round()).leader
