"""The alerts store on SQLite and PostgreSQL: migrations, subscriptions, the take-in transaction, deliveries,
the lease."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.domain.clue import Clue, FieldView, TagView
from bot.errors import StoreError
from bot.store.alerts import AlertStore, NewClue, Subscription
from bot.store.database import MIGRATIONS, Database, connect
from bot.store.filters import FilterError, describe, matches, parse_filters
from bot.store.lease import Lease
from tests.store.conftest import fresh_database


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def clue(clue_id: int, *, stage: str = "初步接触", tags: tuple[str, ...] = ()) -> Clue:
    return Clue(id=clue_id, name=f"线索 {clue_id}", stage=FieldView("customer_stage", "客户阶段", stage),
                tags=tuple(TagView(str(i), name) for i, name in enumerate(tags)))


# The migration files, newest last when sorted: each is "<NNNN>_<topic>.py" or "0001_alerts.py".
REVISIONS = sorted(p.stem for p in (MIGRATIONS / "versions").glob("0*.py"))


def newest_revision() -> str:
    """The newest revision's id: "0001" is the first file's, the others are named as their file."""
    newest = REVISIONS[-1]
    return "0001" if newest == "0001_alerts" else newest


def everything(_: Subscription, __: Clue) -> bool:
    return True


async def test_migrating_twice_applies_nothing_the_second_time(database: Database) -> None:
    assert await database.migrate() == []
    current, newest = await database.revision()
    assert current == newest == newest_revision()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_instances_migrating_at_once_all_succeed(kind: str, tmp_path: Path) -> None:
    first = await fresh_database(kind, tmp_path)
    others = [connect(first.engine.url.render_as_string(hide_password=False)) for _ in range(3)]
    try:
        applied = await asyncio.gather(*(db.migrate() for db in [first, *others]))
        # exactly one of them created the schema, every revision of it
        assert sorted(len(a) for a in applied) == [0, 0, 0, len(REVISIONS)]
    finally:
        for db in [first, *others]:
            await db.aclose()


async def test_subscriptions_are_listed_per_channel_and_removed_by_number(database: Database) -> None:
    store = AlertStore(database, Clock())
    await store.subscribe("T1", "C1", {}, "U1")
    vip = await store.subscribe("T1", "C1", parse_filters("tag:VIP"), "U2")
    await store.subscribe("T1", "C2", {}, "U1")
    assert [s.filters for s in await store.subscriptions("C1")] == [{}, {"tag": ("VIP",)}]
    assert await store.unsubscribe("C1", 3) is None
    gone = await store.unsubscribe("C1", 2)
    assert gone is not None and gone.id == vip.id
    assert len(await store.subscriptions("C1")) == 1
    assert len(await store.subscriptions()) == 2


async def test_the_same_filters_again_reenable_instead_of_duplicating(database: Database) -> None:
    store = AlertStore(database, Clock())
    first = await store.subscribe("T1", "C1", {}, "U1")
    await store.disable(first.id, "not_in_channel")
    again = await store.subscribe("T1", "C1", {}, "U1")
    assert again.id == first.id and again.active
    assert [s.active for s in await store.subscriptions("C1")] == [True]


async def test_take_in_writes_each_delivery_once_and_advances_the_mark(database: Database) -> None:
    store = AlertStore(database, Clock())
    everyone = await store.subscribe("T1", "C1", {}, "U1")
    vip = await store.subscribe("T1", "C2", parse_filters("tag:VIP"), "U1")
    found = [NewClue(clue(1), "2024-05-01 09:00:00"), NewClue(clue(2, tags=("VIP",)), "2024-05-01 09:00:01")]

    def wanted(s: Subscription, c: Clue) -> bool:
        return matches(s.filters, c)

    assert await store.take_in(found, "2024-05-01 09:00:05", wanted) == 3
    # The same page again (since is inclusive, and polls look back): nothing new.
    assert await store.take_in(found, "2024-05-01 09:00:04", wanted) == 0
    assert await store.high_water() == "2024-05-01 09:00:05"  # never moves back
    pending = await store.pending()
    assert sorted((d.subscription_id, d.clue.id) for d in pending) == [(everyone.id, 1), (everyone.id, 2),
                                                                       (vip.id, 2)]
    assert pending[0].clue.name == "线索 1"  # what the alert renders from survives in the database


async def test_posted_deliveries_leave_the_queue_and_disabled_subscriptions_drop_theirs(database: Database) -> None:
    store = AlertStore(database, Clock())
    kept = await store.subscribe("T1", "C1", {}, "U1")
    removed = await store.subscribe("T1", "C2", {}, "U1")
    await store.take_in([NewClue(clue(1), None), NewClue(clue(2), None)], None, everything)
    first = [d.id for d in await store.pending() if d.subscription_id == kept.id and d.clue.id == 1]
    await store.attempting(first)
    assert [d.attempts for d in await store.pending() if d.id in first] == [1]
    await store.posted(first, "1700000000.000100")
    await store.disable(removed.id, "is_archived")
    assert [(d.subscription_id, d.clue.id) for d in await store.pending()] == [(kept.id, 2)]
    assert await store.delivered(kept.id) == [(1, "1700000000.000100")]
    status = await store.status()
    assert (status.subscriptions, status.disabled, status.pending, status.posted, status.seen) == (2, 1, 1, 1, 2)


async def test_a_lease_has_one_holder_until_it_expires(database: Database) -> None:
    clock = Clock()
    first = Lease(database, "poller", "a", ttl=30, wall=clock)
    second = Lease(database, "poller", "b", ttl=30, wall=clock)
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.acquire()  # renewing
    clock.now += 31  # a lapses
    assert await second.acquire()
    assert not await first.acquire()
    current = await second.current()
    assert current is not None and current.holder == "b"
    await second.release()
    assert await first.acquire()


async def test_two_instances_racing_for_a_new_lease_get_one_holder(database: Database) -> None:
    clock = Clock()
    leases = [Lease(database, "poller", f"i{n}", ttl=30, wall=clock) for n in range(4)]
    taken = await asyncio.gather(*(lease.acquire() for lease in leases))
    assert sum(taken) == 1


async def test_an_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    db = connect("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    try:
        with pytest.raises(StoreError):
            await db.ping()
        with pytest.raises(StoreError):
            await AlertStore(db, Clock()).subscriptions("C1")
    finally:
        await db.aclose()


def test_filters_parse_match_and_describe() -> None:
    filters = parse_filters("stage:意向明确 tag：VIP tag:A级 来源:展会")
    assert filters == {"source": ("展会",), "stage": ("意向明确",), "tag": ("VIP", "A级")}
    assert describe(filters) == "source:展会 stage:意向明确 tag:VIP tag:A级"
    wanted = Clue(id=1, stage=FieldView("customer_stage", None, "意向明确"),
                  source=FieldView("customer_source", None, "展会"), tags=(TagView("1", "a级"),))
    assert matches(filters, wanted)
    assert not matches(filters, Clue(id=2, stage=wanted.stage, source=wanted.source))  # no tag
    assert matches({}, Clue(id=3))
    for bad in ("stage", "colour:red", "tag:"):
        with pytest.raises(FilterError):
            parse_filters(bad)
