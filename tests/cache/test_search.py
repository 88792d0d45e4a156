"""The search cache: TTL per query and page, single-flight, stale-if-error, auth errors surface."""

from __future__ import annotations

import asyncio

import pytest

from bot.cache.search import SearchCache
from bot.crm.models import SearchHit, SearchPage, parse_search
from bot.domain.search import normalise_query
from bot.errors import CrmAuthError, CrmProtocolError, CrmUnavailable
from bot.runtime.metrics import Metrics
from tests.support import FakeClock

PAGE = SearchPage(hits=(SearchHit(101, "张三", None, None),), total_pages=1)


class Crm:
    """A search function that counts calls and can be told to fail or to wait."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self, key: str, page_no: int, page_size: int) -> SearchPage:
        self.calls.append((key, page_no, page_size))
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return PAGE


def cache(crm: Crm, clock: FakeClock, **kwargs: float) -> SearchCache:
    return SearchCache(crm, page_size=10, ttl=kwargs.get("ttl", 30), stale_ttl=kwargs.get("stale_ttl", 600),
                       maxsize=100, deadline=5, clock=clock, wall=lambda: 1_700_000_000.0, metrics=Metrics())


async def test_repeats_and_case_variants_share_one_crm_call_until_the_ttl() -> None:
    crm, clock = Crm(), FakeClock()
    searches = cache(crm, clock)
    await searches.get(normalise_query("Jane Doe"))
    assert searches.cached(normalise_query("jane  doe")) is not None
    await searches.get(normalise_query("jane doe"), 2)  # another page is another search
    clock.advance(31)
    await searches.get(normalise_query("Jane Doe"))
    assert crm.calls == [("Jane Doe", 1, 10), ("jane doe", 2, 10), ("Jane Doe", 1, 10)]


async def test_concurrent_identical_searches_are_one_crm_call() -> None:
    crm, clock = Crm(), FakeClock()
    crm.gate = asyncio.Event()
    searches = cache(crm, clock)
    waiting = [asyncio.ensure_future(searches.get(normalise_query("张三"))) for _ in range(20)]
    await asyncio.sleep(0)
    crm.gate.set()
    results = await asyncio.gather(*waiting)
    assert len(crm.calls) == 1 and {r.page for r in results} == {PAGE}


async def test_stale_if_error_for_a_repeated_search_only() -> None:
    crm, clock = Crm(), FakeClock()
    searches = cache(crm, clock)
    await searches.get(normalise_query("张三"))
    clock.advance(60)
    crm.error = CrmUnavailable("down")
    stale = await searches.get(normalise_query("张三"))
    assert stale.stale and stale.page == PAGE
    with pytest.raises(CrmUnavailable):
        await searches.get(normalise_query("李四"))
    crm.error = CrmAuthError("bad key")
    with pytest.raises(CrmAuthError):  # a misconfiguration is never hidden behind old results
        await searches.get(normalise_query("张三"))


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
