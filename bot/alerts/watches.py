"""Watched clues: re-read on a schedule by the lease holder, and a "what changed" reply in their thread.

Each round reads the clues whose watches are due (not checked for ``interval`` seconds), the longest
unchecked first, at most ``reads_per_round`` CRM reads (a clue is three: itself, its owner, its newest
follow-ups), through the caches cards read through: a clue someone just looked at costs nothing, and
lookups keep the rest of the CRM budget. A read that fails or is served stale changes nothing. What the
card shows is fingerprinted (``bot.domain.changes``); a different fingerprint is recorded as a change with
the new fingerprint in one transaction, then posted like an alert: marked attempted before
``chat.postMessage``, posted with its ts after, and after a crash looked for in the thread (message
metadata names the change) before it is posted again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.cards import UrlFor, change_message, change_metadata, covered_change
from bot.alerts.posting import CHANNEL_GONE, ChannelPacer, recent_messages
from bot.cache.clues import ClueCache, FollowUpCache, OwnerCache
from bot.domain.changes import Snapshot, snapshot
from bot.domain.clue import Clue
from bot.domain.owner import Owner
from bot.errors import ClueNotFound, CrmAuthError, CrmError, CrmUnavailable, SlackCallFailed
from bot.store.watches import PendingChange, WatchStore

log = logging.getLogger(__name__)

READS_PER_CLUE = 3  # the clue, its owner, its newest follow-ups


@dataclass
class WatchResult:
    checked: int = 0  # clues read
    changes: int = 0  # changes recorded
    failed: int = 0  # clues that could not be read (not found, a bad answer); they wait their turn again
    replies: int = 0  # replies Slack accepted
    recovered: int = 0  # found already posted after a crash
    disabled: list[str] = field(default_factory=list)  # channels whose watches were stopped


class WatchReads:
    """What a card shows of a clue, read through the caches cards use."""

    def __init__(self, clues: ClueCache, follow_ups: FollowUpCache, owners: OwnerCache) -> None:
        self._clues = clues
        self._follow_ups = follow_ups
        self._owners = owners

    async def read(self, clue_id: int, *, refresh: bool) -> WatchedRead:
        """The clue, its owner and latest follow-up (``refresh``: from the CRM even when cached). Raises the
        first ``CrmError``; an answer served stale (the CRM failing) is ``CrmUnavailable``."""
        clue, owner, follow_ups = await asyncio.gather(
            self._clues.get(clue_id, refresh=refresh), self._owners.get(clue_id, refresh=refresh),
            self._follow_ups.get((clue_id, None), refresh=refresh), return_exceptions=True)
        for read in (clue, owner, follow_ups):
            if isinstance(read, BaseException):
                raise read
        assert not isinstance(clue, BaseException) and not isinstance(owner, BaseException)  # noqa: S101 - for mypy
        assert not isinstance(follow_ups, BaseException)  # noqa: S101 - for mypy
        if clue.stale or owner.stale or follow_ups.stale:
            raise CrmUnavailable(f"clue {clue_id}: the CRM failed, the last good answer was served")
        return WatchedRead(clue.value, owner.value, snapshot(clue.value, owner.value, follow_ups.value.latest))


@dataclass(frozen=True, slots=True)
class WatchedRead:
    clue: Clue
    owner: Owner | None
    seen: Snapshot  # what the card shows, fingerprinted


OwnerChanged = Callable[[Clue, Owner], Awaitable[None]]


class ClueWatcher:
    def __init__(self, store: WatchStore, reads: WatchReads, client: AsyncWebClient, pacer: ChannelPacer, *,
                 locale: str, url_for: UrlFor, interval: float, reads_per_round: int,
                 wall: Callable[[], float]) -> None:
        self.store = store
        self._reads = reads
        self._client = client
        self._pacer = pacer
        self._locale = locale
        self._url_for = url_for
        self._interval = interval
        self._clues_per_round = max(1, reads_per_round // READS_PER_CLUE)
        self._wall = wall
        self._owner_changed: OwnerChanged | None = None

    def tell_new_owners(self, owner_changed: OwnerChanged) -> None:
        """Call ``owner_changed`` when a check finds a watched clue has a new owner ("assigned to you")."""
        self._owner_changed = owner_changed

    async def round(self) -> WatchResult:
        """Check the due clues, then post every change waiting."""
        result = WatchResult()
        await self._check_due(result)
        await self.post(result)
        return result

    async def check(self, clue_id: int, *, refresh: bool) -> int:
        """Read ``clue_id`` and record it on its watches; the changes written. Raises ``CrmError``."""
        read = await self._reads.read(clue_id, refresh=refresh)
        replaced = await self.store.record(clue_id, read.seen.to_json(), read.seen.fingerprint)
        new_owner = any(Snapshot.from_json(before).owner != read.seen.owner for before in replaced)
        if new_owner and read.owner is not None and read.owner.assigned and self._owner_changed is not None:
            await self._owner_changed(read.clue, read.owner)
        return len(replaced)

    async def _check_due(self, result: WatchResult) -> None:
        for clue_id in await self.store.due(self._wall() - self._interval, self._clues_per_round):
            try:
                result.changes += await self.check(clue_id, refresh=False)
            except (CrmUnavailable, CrmAuthError) as exc:
                # The CRM is down (or its breaker open), or refuses us: the rest stays due, first in line next round.
                log.warning("watches.check.paused", extra={"clue_id": clue_id, "error": str(exc)[:120]})
                return
            except CrmError as exc:
                result.failed += 1
                level = logging.INFO if isinstance(exc, ClueNotFound) else logging.WARNING
                log.log(level, "watches.check.failed", extra={"clue_id": clue_id, "error": type(exc).__name__})
                await self.store.checked(clue_id)
                continue
            result.checked += 1
        if result.changes:
            log.info("watches.changes", extra={"clues": result.checked, "changes": result.changes})

    async def post(self, result: WatchResult) -> None:
        """Post every change waiting, per channel, oldest first."""
        if self._pacer.paused:
            return
        by_channel: dict[str, list[PendingChange]] = {}
        for change in await self.store.pending():
            by_channel.setdefault(change.channel_id, []).append(change)
        await asyncio.gather(*(self._channel(channel, items, result) for channel, items in by_channel.items()))

    async def _channel(self, channel: str, items: list[PendingChange], result: WatchResult) -> None:
        if any(change.attempts for change in items):
            items = await self._recover(channel, items, result)
        threads: dict[int, str | None] = {}  # a watch's thread, as this round's posts set it
        for change in items:
            if self._pacer.paused:
                return
            thread = threads.get(change.watch_id, change.thread_ts)
            ts = await self._post(channel, change, thread, result)
            if ts is None:
                return  # the channel refused, or Slack failed: the rest waits for the next round
            threads[change.watch_id] = thread or ts or None

    async def _post(self, channel: str, change: PendingChange, thread: str | None,
                    result: WatchResult) -> str | None:
        message = change_message(change.clue_id, Snapshot.from_json(change.before), Snapshot.from_json(change.after),
                                 self._locale, self._url_for)
        await self._pacer.wait(channel)
        await self.store.attempting(change.id)
        try:
            answer = await self._client.chat_postMessage(
                channel=channel, thread_ts=thread, text=message["text"], blocks=message["blocks"],
                unfurl_links=False, unfurl_media=False, metadata=change_metadata(change.id))
        except SlackCallFailed as exc:
            if exc.error in CHANNEL_GONE:
                await self.store.disable(channel, exc.error)
                result.disabled.append(channel)
                log.warning("watches.disabled", extra={"channel": channel, "reason": exc.error})
            else:
                self._pacer.refused(exc.error)
            return None
        self._pacer.posted(channel)
        ts = answer.get("ts")
        ts = ts if isinstance(ts, str) else None
        await self.store.posted(change, ts)
        result.replies += 1
        return ts or ""

    async def _recover(self, channel: str, items: list[PendingChange], result: WatchResult) -> list[PendingChange]:
        """Changes a crash may have left posted but unmarked: found in their thread (or the channel), marked,
        dropped from ``items``; the rest returned. Unverifiable (no history scope, Slack failing): all returned."""
        done: set[int] = set()
        tried = [change for change in items if change.attempts]
        for thread in {change.thread_ts for change in tried}:
            here = [change for change in tried if change.thread_ts == thread]
            try:
                messages = await recent_messages(self._client, channel, min(c.created_at for c in here), thread)
            except SlackCallFailed as exc:
                log.warning("watches.recovery.unverified", extra={"channel": channel, "pending": len(here),
                                                                  "error": exc.error[:64]})
                continue
            posted = {change_id: str(message.get("ts")) for message in messages
                      if (change_id := covered_change(message)) is not None}
            for change in here:
                if change.id in posted:
                    await self.store.posted(change, posted[change.id])
                    done.add(change.id)
        if done:
            result.recovered += len(done)
            log.info("watches.recovery.found", extra={"channel": channel, "changes": len(done)})
        return [change for change in items if change.id not in done]

