"""The watches store on SQLite and PostgreSQL: watching, what is due, the change-and-fingerprint transaction,
posting marks and threads, stopping a channel."""

from __future__ import annotations

import asyncio

from bot.domain.clue import Clue
from bot.store.alerts import AlertStore, NewClue
from bot.store.database import Database
from bot.store.watches import WatchStore
from tests.store.test_store import Clock, everything


async def test_a_first_read_only_stores_and_a_new_fingerprint_writes_one_change(database: Database) -> None:
    store = WatchStore(database, Clock())
    watch = await store.watch("T1", "C1", 8, "U1")
    assert await store.record(8, "first", "f1") == []
    assert await store.pending() == []
    assert await store.record(8, "first", "f1") == []  # the same again: nothing
    assert await store.record(8, "second", "f2") == ["first"]
    [change] = await store.pending()
    assert (change.watch_id, change.clue_id, change.before, change.after, change.thread_ts) == (
        watch.id, 8, "first", "second", None)
    [now] = await store.watches("C1")
    assert (now.fingerprint, now.snapshot) == ("f2", "second")


async def test_two_checks_racing_write_one_change(database: Database) -> None:
    store = WatchStore(database, Clock())
    await store.watch("T1", "C1", 8, "U1")
    await store.record(8, "first", "f1")
    written = await asyncio.gather(store.record(8, "second", "f2"), store.record(8, "second", "f2"))
    assert sorted(len(w) for w in written) == [0, 1] and len(await store.pending()) == 1


async def test_each_channel_watching_a_clue_gets_its_change(database: Database) -> None:
    store = WatchStore(database, Clock())
    await store.watch("T1", "C1", 8, "U1")
    await store.watch("T1", "C2", 8, "U1")
    await store.record(8, "first", "f1")
    assert await store.record(8, "second", "f2") == ["first", "first"]
    assert sorted(c.channel_id for c in await store.pending()) == ["C1", "C2"]


async def test_due_is_oldest_checked_first_one_entry_per_clue_and_bounded(database: Database) -> None:
    clock = Clock()
    store = WatchStore(database, clock)
    for channel, clue_id in (("C1", 1), ("C2", 1), ("C1", 2), ("C1", 3)):
        await store.watch("T1", channel, clue_id, "U1")
    assert await store.due(clock.now, 10) == [1, 2, 3]  # never checked: all, each clue once
    await store.record(2, "s", "f")
    clock.now += 10
    await store.record(3, "s", "f")
    clock.now += 10
    assert await store.due(clock.now, 10) == [1, 2, 3]  # never checked first, then the longest unchecked
    assert await store.due(clock.now, 2) == [1, 2]
    assert await store.due(clock.now - 15, 10) == [1, 2]  # 3 was checked since
    assert await store.due(clock.now - 25, 10) == [1]  # and 2 too


async def test_posted_keeps_the_first_message_as_the_thread(database: Database) -> None:
    store = WatchStore(database, Clock())
    await store.watch("T1", "C1", 8, "U1")
    await store.record(8, "a", "fa")
    await store.record(8, "b", "fb")
    [change] = await store.pending()
    await store.attempting(change.id)
    assert (await store.pending())[0].attempts == 1
    await store.posted(change, "1700000000.000200")
    await store.record(8, "c", "fc")
    [second] = await store.pending()
    assert second.thread_ts == "1700000000.000200"
    await store.posted(second, "1700000000.000300")
    assert (await store.watches("C1"))[0].thread_ts == "1700000000.000200"  # unchanged by later replies
    status = await store.status()
    assert (status.watches, status.pending, status.posted) == (1, 0, 2)


async def test_a_watch_threads_under_the_clicked_message_else_the_clues_last_alert(database: Database) -> None:
    alerts = AlertStore(database, Clock())
    subscription = await alerts.subscribe("T1", "C1", {}, "U1")
    await alerts.take_in([NewClue(Clue(id=8), None)], None, everything)
    await alerts.posted([d.id for d in await alerts.pending()], "1700000000.000100")
    store = WatchStore(database, Clock())
    assert (await store.watch("T1", "C1", 8, "U1")).thread_ts == "1700000000.000100"  # the alert's
    assert (await store.watch("T1", "C2", 8, "U1")).thread_ts is None  # no alert there
    clicked = await store.watch("T1", "C1", 8, "U2", "1700000000.000900")
    assert clicked.thread_ts == "1700000000.000900" and len(await store.watches("C1")) == 1
    assert subscription.id == (await alerts.subscriptions("C1"))[0].id


async def test_a_refused_channel_stops_its_watches_and_drops_their_changes_until_watched_again(
        database: Database) -> None:
    store = WatchStore(database, Clock())
    await store.watch("T1", "C1", 8, "U1")
    await store.watch("T1", "C2", 8, "U1")
    await store.record(8, "a", "fa")
    await store.record(8, "b", "fb")
    stopped = await store.disable("C1", "is_archived")
    assert [w.channel_id for w in stopped] == ["C1"]
    assert [c.channel_id for c in await store.pending()] == ["C2"]
    assert await store.due(Clock().now + 1, 10) == [8]  # C2's watch is still due
    assert await store.record(8, "c", "fc") == ["b"]  # only C2's
    again = await store.watch("T1", "C1", 8, "U1")
    assert again.active and (await store.status()).disabled == 0


async def test_unwatch_takes_its_waiting_changes(database: Database) -> None:
    store = WatchStore(database, Clock())
    await store.watch("T1", "C1", 8, "U1")
    await store.record(8, "a", "fa")
    await store.record(8, "b", "fb")
    gone = await store.unwatch("C1", 8)
    assert gone is not None and gone.clue_id == 8
    assert await store.unwatch("C1", 8) is None
    assert await store.pending() == [] and (await store.status()).watches == 0
