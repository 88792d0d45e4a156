"""The search cache: TTL per query and page, single-flight, stale-if-error, auth errors surface; the
fetcher resolves customer/search into domain types."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from bot.cache.clues import SearchCache, search_cache
from bot.cache.timed import Policy
from bot.crm.client import CrmClient
from bot.crm.models import parse_search
from bot.crm.reference import ClueFetcher, ReferenceData
from bot.dev.sandbox import SandboxServer, seed
from bot.domain.search import PageRequest, SearchHit, SearchPage, normalise_query
from bot.errors import CrmAuthError, CrmProtocolError, CrmUnavailable
from bot.runtime.metrics import Metrics
from tests.support import FakeClock


def page(request: PageRequest) -> SearchPage:
    return SearchPage(request.query, request.page_no, (SearchHit(101, "张三"),), total_pages=1)


class Crm:
    """A search function that counts calls and can be told to fail or to wait."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self, request: PageRequest) -> SearchPage:
        self.calls.append((request.query.key, request.page_no))
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return page(request)


def cache(crm: Crm, clock: FakeClock, metrics: Metrics | None = None) -> SearchCache:
    return search_cache(crm, Policy(ttl=30, stale_ttl=600, maxsize=100, deadline=5), clock=clock,
                        wall=lambda: 1_700_000_000.0, metrics=metrics or Metrics())


def ask(text: str, page_no: int = 1) -> PageRequest:
    return PageRequest(normalise_query(text), page_no)


async def test_repeats_and_case_variants_share_one_crm_call_until_the_ttl() -> None:
    crm, clock = Crm(), FakeClock()
    searches = cache(crm, clock)
    await searches.get(ask("Jane Doe"))
    assert searches.cached(ask("jane  doe")) is not None
    await searches.get(ask("jane doe", 2))  # another page is another search
    clock.advance(31)
    await searches.get(ask("Jane Doe"))
    assert crm.calls == [("Jane Doe", 1), ("jane doe", 2), ("Jane Doe", 1)]


async def test_concurrent_identical_searches_are_one_crm_call() -> None:
    crm, clock, metrics = Crm(), FakeClock(), Metrics()
    crm.gate = asyncio.Event()
    searches = cache(crm, clock, metrics)
    waiting = [asyncio.ensure_future(searches.get(ask("张三"))) for _ in range(20)]
    await asyncio.sleep(0)
    crm.gate.set()
    results = await asyncio.gather(*waiting)
    assert len(crm.calls) == 1 and {r.value for r in results} == {page(ask("张三"))}
    assert metrics.registry.get_sample_value("cluebot_searches_total", {"result": "coalesced"}) == 19


async def test_stale_if_error_for_a_repeated_search_only() -> None:
    crm, clock, metrics = Crm(), FakeClock(), Metrics()
    searches = cache(crm, clock, metrics)
    await searches.get(ask("张三"))
    clock.advance(60)
    crm.error = CrmUnavailable("down")
    stale = await searches.get(ask("张三"))
    assert stale.stale and stale.value == page(ask("张三"))
    with pytest.raises(CrmUnavailable):
        await searches.get(ask("李四"))
    crm.error = CrmAuthError("bad key")
    with pytest.raises(CrmAuthError):  # a misconfiguration is never hidden behind old results
        await searches.get(ask("张三"))
    assert metrics.registry.get_sample_value("cluebot_searches_total", {"result": "error"}) == 2


async def test_the_fetcher_resolves_search_into_domain_types(sandbox: SandboxServer,
                                                            crm_factory: Callable[..., CrmClient]) -> None:
    client = crm_factory(sandbox.url)
    fetcher = ClueFetcher(client, ReferenceData(client, ttl=3600, clock=FakeClock()), ZoneInfo("Asia/Shanghai"))
    found = await fetcher.search(ask("张三"))
    assert [hit.clue_id for hit in found.hits] == list(seed.ZHANG_SEARCH_IDS[:2])
    assert found.query == normalise_query("张三") and found.page_no == 1
    created = found.hits[0].created
    assert created is not None and created.at is not None and created.zone == "Asia/Shanghai"


@pytest.mark.parametrize(("data", "ids", "pages"), [
    (None, [], 0),
    ({"totalPage": 0, "data": [{"customerId": 8}]}, [8], 0),  # totalPage 0 with data: the data counts
    ({"totalPage": "3", "data": [{"customerId": "8"}, {"customerId": 8}, {"customerId": 0}, "x", {}]}, [8], 3),
    ({"data": None}, [], 0),
    ({"totalPage": 2, "data": [{"customerId": 9, "tags": ["A级", {"name": "北京"}, 5, None]}]}, [9], 2),
])
def test_parse_search_is_tolerant(data: object, ids: list[int], pages: int) -> None:
    page = parse_search(data)
    assert [h.customer_id for h in page.hits] == ids and page.total_pages == pages


@pytest.mark.parametrize("data", [{"data": {"customerId": 8}}, {"data": "8"}, [1, 2]])
def test_parse_search_refuses_what_it_cannot_read(data: object) -> None:
    with pytest.raises(CrmProtocolError):
        parse_search(data)
