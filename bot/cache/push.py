"""What a verified CRM push does, after the CRM has had its answer (``bot.web.push`` answers at once).

A push is a freshness hint, never the only path (polling and TTLs always work): a message naming a customer
(clue) id invalidates that clue, its owner and its follow-up pages in the caches, so the next card reads the
CRM, and calls ``recheck(clue_id)`` (watched clues re-read at once, when something watches). ``register``
is the CRM confirming a ``push-register``: logged. Any other type is logged once and ignored.

Replays are processed once: a push is taken under two keys, its signature (which stands for its ``appId``,
``version`` and ``timestamp``) and its ``msgId`` and ``noise`` (the CRM sending one message again with fresh
headers). Either seen within the window: answered, not processed. Signed headers are single-use whatever
body comes with them: the signature does not cover the body, and CTR without a MAC is malleable, so
captured headers with an edited ciphertext must not pass for a new push. The price: two different pushes
the CRM signs in the same millisecond share their headers, and the second is answered but not processed
(its clue's caches then expire on their TTL, as without push). Across a fleet the keys are
taken with Redis ``SET NX`` (``FleetRedis.push_replays``), else in a bounded in-process TTL set.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.cache.clues import ClueCache, FollowUpCache, OwnerCache
from bot.crm.push import CUSTOMER_TYPES, REGISTER, PushHeaders, PushMessage
from bot.runtime.metrics import Metrics
from bot.runtime.tasks import PUSH, TaskRunner

log = logging.getLogger(__name__)

Recheck = Callable[[int], Awaitable[None]]
"""Re-read one clue at once because the CRM said it changed (watched clues provide it)."""

MAX_UNKNOWN_TYPES = 100  # distinct unknown types logged once each; beyond, no more lines


class Replays(Protocol):
    """Keys taken once within a window (``TtlDeduper``, ``RedisEventDeduper``)."""

    async def seen(self, key: str) -> bool:
        """Whether ``key`` was already taken; takes it if not."""


async def no_recheck(clue_id: int) -> None:
    """The recheck while nothing watches clues: invalidating the caches is all a push does."""


class PushHandler:
    """Takes verified pushes: ``accept`` hands one to the task runner's push lane; the work is done there."""

    def __init__(self, *, clues: ClueCache, follow_ups: FollowUpCache, owners: OwnerCache, recheck: Recheck,
                 replays: Replays, runner: TaskRunner, metrics: Metrics) -> None:
        self._clues = clues
        self._follow_ups = follow_ups
        self._owners = owners
        self._recheck = recheck
        self._replays = replays
        self._runner = runner
        self._metrics = metrics
        self._unknown_types: set[str] = set()

    def accept(self, headers: PushHeaders, message: PushMessage) -> bool:
        """Queue the push; False when the push lane is full (nothing taken: the CRM may send it again)."""
        return self._runner.spawn(self.process(headers, message), name="crm.push", kind=PUSH)

    async def process(self, headers: PushHeaders, message: PushMessage) -> None:
        """Apply the push unless it is a replay (see the module docstring)."""
        # Both keys taken either way, so a replay of either kind is caught later too.
        delivery_seen = await self._replays.seen(f"sig:{headers.sign}")
        message_seen = await self._replays.seen(f"msg:{message.msg_id}:{message.noise}")
        if delivery_seen or message_seen:
            self._metrics.crm_pushes.inc("replayed")
            log.info("crm.push.replayed", extra={"type": message.type, "msg_id": message.msg_id,
                                                 "same": "headers" if delivery_seen else "message"})
            return
        await self.apply(message)

    async def apply(self, message: PushMessage) -> None:
        """What the push says, done: caches invalidated and rechecked, or the confirmation logged."""
        if message.type == REGISTER:
            self._metrics.crm_pushes.inc("register")
            log.info("crm.push.registered", extra={"msg_id": message.msg_id})
            return
        if message.customer_ids:
            self._metrics.crm_pushes.inc("applied")
            log.info("crm.push.applied", extra={"type": message.type, "msg_id": message.msg_id,
                                                "clue_ids": list(message.customer_ids)})
            for clue_id in message.customer_ids:
                await self._clues.invalidate(clue_id)
                await self._owners.invalidate(clue_id)
                self._follow_ups.invalidate_where(_pages_of(clue_id))
                await self._recheck(clue_id)
            return
        self._metrics.crm_pushes.inc("ignored")
        if message.type in CUSTOMER_TYPES:
            log.info("crm.push.no_customer", extra={"type": message.type, "msg_id": message.msg_id})
        elif message.type not in self._unknown_types and len(self._unknown_types) < MAX_UNKNOWN_TYPES:
            self._unknown_types.add(message.type)
            log.info("crm.push.unknown_type", extra={"type": message.type, "msg_id": message.msg_id})


def _pages_of(clue_id: int) -> Callable[[tuple[int, str | None]], bool]:
    """Whether a follow-up cache key (clue id, cursor) is one of ``clue_id``'s pages."""
    return lambda key: key[0] == clue_id
