"""The composition root: every part of one instance, built from ``Settings``.

The only module that knows how the parts fit together. Builders only build: every resource they
open (HTTP clients, the Redis pool, background work) is closed by the ``AsyncExitStack`` handed in,
in reverse order. Nothing here starts a server: the embedded sandbox CRM and the playground's fake
Slack are started by the development entry point (``bot.dev``), which passes their URLs in through
``Settings``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from slack_bolt.async_app import AsyncApp

from bot.alerts.nudges import NudgeService, build_nudges
from bot.alerts.service import AlertService, build_alerts
from bot.alerts.watches import WatchReads
from bot.cache.clues import (
    ClueCache,
    FollowUpCache,
    OwnerCache,
    SearchCache,
    clue_cache,
    follow_up_cache,
    owner_cache,
    search_cache,
)
from bot.cache.people import people_caches
from bot.cache.push import PushHandler, Recheck, no_recheck
from bot.cache.timed import Policy, SharedStore
from bot.config import Settings
from bot.crm.client import CrmClient
from bot.crm.guard import CircuitBreaker, CrmGuard, FairShare, RateLimiter
from bot.crm.people import PeopleReader
from bot.crm.reference import ClueFetcher, ReferenceData
from bot.domain.clue import Clue
from bot.domain.search import fingerprint_key
from bot.errors import ConfigError, SlackCallFailed
from bot.runtime.dedupe import TtlDeduper
from bot.runtime.metrics import Metrics
from bot.runtime.ratelimit import KeyedTokenBuckets, TokenBucket
from bot.runtime.tasks import HOUSEKEEPING, TaskRunner
from bot.slack.access import AccessPolicy
from bot.slack.app import create_app
from bot.slack.conversations import ConversationInfo
from bot.slack.features import AlertDeps, FeatureDeps, FeatureOptions
from bot.slack.gate import Gate, PersonLimits
from bot.slack.inbound import MAX_REPLAY_KEYS, REPLAY_WINDOW_SECONDS, Door, response_origins
from bot.slack.links import LinkMatcher
from bot.slack.locales import UserLocales
from bot.slack.people import People
from bot.slack.render import CardRenderer
from bot.slack.webapi import SlackCalls, SlackWebClient, web_client
from bot.store.people import PeopleStore

if TYPE_CHECKING:
    from bot.fleet.redis import FleetRedis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clocks:
    """Wall clock (epoch seconds, for display) and monotonic clock (for ages); never mixed up."""

    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class Instance:
    """What one running instance holds, for the HTTP layer and tests; closed by its exit stack."""

    settings: Settings
    metrics: Metrics
    crm: CrmClient
    cache: ClueCache
    runner: TaskRunner
    bolt: AsyncApp
    fleet: FleetRedis | None  # with REDIS_URL: the cache, rate limit and dedupe shared by instances
    locales: UserLocales  # each person's language (the playground looks its viewers up as it opens)
    alerts: AlertService | None = None  # new-clue alerts (None with DATABASE_URL=off)
    push: PushHandler | None = None  # the CRM's webhook push (None unless CRM_PUSH_ENABLED)
    people: People | None = None  # links to CRM users, /clue mine, App Home (None with DATABASE_URL=off)
    nudges: NudgeService | None = None  # the morning nudge's loop (None with DATABASE_URL=off)


@dataclass(frozen=True)
class CrmParts:
    client: CrmClient
    fetcher: ClueFetcher
    reference: ReferenceData


def lookup_deadline(settings: Settings) -> float:
    """One bound for a clue lookup: the cache's deadline, and how long another instance's fetch is awaited."""
    return settings.crm_timeout_seconds * 2 + 1


async def build_crm(settings: Settings, stack: AsyncExitStack, metrics: Metrics, clocks: Clocks, *,
                    transport: httpx.AsyncBaseTransport | None = None,
                    limiter: RateLimiter | None = None) -> CrmParts:
    """The CRM client (closed by ``stack``) and the clue fetcher that resolves names with reference data."""
    if settings.crm_base_url is None:
        raise ConfigError(["CRM_BASE_URL is not set (the development entry point starts a sandbox CRM for it)"])
    rate = settings.crm_rate_per_second
    guard = CrmGuard(
        max_concurrency=settings.crm_max_concurrency,
        limiter=limiter or TokenBucket(rate, max(1.0, rate), clocks.monotonic),
        fair=FairShare(rate, max(1.0, rate), clocks.monotonic),
        breaker=CircuitBreaker(settings.crm_breaker_failures, settings.crm_breaker_cooldown_seconds,
                               clocks.monotonic, metrics),
        metrics=metrics,
    )
    crm = CrmClient(base_url=settings.crm_base_url, app_id=settings.crm_app_id,
                    app_key=settings.crm_app_key, guard=guard, metrics=metrics,
                    timeout=settings.crm_timeout_seconds, max_response_bytes=settings.crm_max_response_bytes,
                    max_connections=settings.crm_max_concurrency * 2,
                    follow_up_type=settings.crm_follow_up_type, transport=transport)
    stack.push_async_callback(crm.aclose)
    reference = ReferenceData(crm, ttl=settings.crm_reference_ttl_seconds, clock=clocks.monotonic,
                              aliases=settings.crm_field_aliases,
                              min_refresh_interval=settings.crm_reference_min_refresh_seconds)
    return CrmParts(crm, ClueFetcher(crm, reference, settings.tz), reference)


SEARCH_STALE_SECONDS = 600.0  # a repeated search is answered from this old a page while the CRM fails


@dataclass(frozen=True)
class Caches:
    """The caches of one instance, one ``Cache`` each with its policy."""

    clues: ClueCache
    follow_ups: FollowUpCache
    owners: OwnerCache
    search: SearchCache


def build_caches(settings: Settings, fetcher: ClueFetcher, metrics: Metrics, clocks: Clocks,
                 shared: SharedStore[int, Clue] | None = None) -> Caches:
    """Clues (negative cache, revalidation, ``shared``: Redis), follow-ups and owners (failures remembered)
    and searches (a short TTL per query and page), all reading through ``fetcher``."""
    deadline, stale = lookup_deadline(settings), settings.clue_stale_seconds
    clock, wall = clocks.monotonic, clocks.wall
    return Caches(
        clues=clue_cache(fetcher.fetch, Policy(
            ttl=settings.clue_cache_ttl_seconds, maxsize=settings.clue_cache_maxsize, deadline=deadline,
            stale_ttl=stale, negative_ttl=settings.clue_negative_ttl_seconds,
            revalidate=settings.clue_revalidate_seconds), clock=clock, wall=wall, metrics=metrics, shared=shared),
        follow_ups=follow_up_cache(fetcher.follow_ups, Policy(
            ttl=settings.clue_follow_up_ttl_seconds, maxsize=settings.clue_cache_maxsize, deadline=deadline,
            stale_ttl=stale, failure_ttl=settings.clue_negative_ttl_seconds), clock=clock, wall=wall, metrics=metrics),
        # An owner changes about as often as the follow-ups do: the same policy.
        owners=owner_cache(fetcher.owner, Policy(
            ttl=settings.clue_follow_up_ttl_seconds, maxsize=settings.clue_cache_maxsize, deadline=deadline,
            stale_ttl=stale, failure_ttl=settings.clue_negative_ttl_seconds), clock=clock, wall=wall, metrics=metrics),
        search=search_cache(fetcher.search, Policy(
            ttl=settings.clue_search_cache_ttl_seconds, maxsize=2048, deadline=deadline,
            stale_ttl=SEARCH_STALE_SECONDS), clock=clock, wall=wall, metrics=metrics))


PEOPLE_DIRECTORY_TTL_SECONDS = 600.0  # the CRM's employees change rarely: one read per ten minutes
PEOPLE_OWNED_TTL_SECONDS = 60.0  # a person's own clues: at most one CRM read a minute however often Home opens


def build_people(settings: Settings, crm: CrmParts, alerts: AlertService | None, client: SlackWebClient,
                 metrics: Metrics, clocks: Clocks) -> People | None:
    """The personal side (issue 23), on the alerts database (None without one)."""
    if alerts is None:
        return None
    reader = PeopleReader(crm.client, crm.reference, settings.tz, settings.clue_due_field)
    deadline, stale = lookup_deadline(settings) * 4, settings.clue_stale_seconds
    directory, owned = people_caches(
        reader.employees, reader.owned, clock=clocks.monotonic, wall=clocks.wall, metrics=metrics,
        directory_policy=Policy(ttl=PEOPLE_DIRECTORY_TTL_SECONDS, maxsize=1, deadline=deadline, stale_ttl=stale,
                                failure_ttl=settings.clue_negative_ttl_seconds),
        owned_policy=Policy(ttl=PEOPLE_OWNED_TTL_SECONDS, maxsize=settings.clue_cache_maxsize, deadline=deadline,
                            stale_ttl=stale, failure_ttl=settings.clue_negative_ttl_seconds))
    return People(PeopleStore(alerts.db, clocks.wall), client, directory, owned,
                  admin_ids=settings.clue_admin_user_ids, crm_tz=settings.tz, clock=clocks.monotonic,
                  wall=clocks.wall, subscriptions=alerts.store.subscriptions)


def person_limits(settings: Settings, fleet: FleetRedis | None, runner: TaskRunner,
                  monotonic: Callable[[], float]) -> dict[str, PersonLimits]:
    """Each person's lookup and search budgets. With Redis, shared by every instance (each limit is the
    fleet's); without, each of ``WEB_CONCURRENCY`` workers enforces its share, and says so at start-up."""
    limits = {"lookup": settings.clue_user_rate_per_minute, "search": settings.clue_search_rate_per_minute}
    if fleet is not None:
        def spawn(charge: Coroutine[Any, Any, None]) -> bool:
            return runner.spawn(charge, name="ratelimit.charge", kind=HOUSEKEEPING)

        log.info("ratelimit.people.shared", extra={f"{name}_per_minute": n for name, n in limits.items()})
        return {name: fleet.person_buckets(name, n / 60.0, n, monotonic, spawn) for name, n in limits.items()}
    workers = settings.web_concurrency
    # At least one a minute: a person is never locked out by the division.
    shares = {name: max(1.0, n / workers) for name, n in limits.items()}
    if workers > 1:
        log.info("ratelimit.people.per_worker", extra={
            "workers": workers, **{f"{name}_per_minute": round(share, 2) for name, share in shares.items()},
            "hint": "without REDIS_URL each worker enforces its share of each person's limits"})
    return {name: KeyedTokenBuckets(share / 60.0, share, monotonic) for name, share in shares.items()}


async def build(settings: Settings, stack: AsyncExitStack, *, clocks: Clocks | None = None,
                crm_transport: httpx.AsyncBaseTransport | None = None) -> Instance:
    """Every part of one instance; ``stack`` closes them (background work drains before clients close)."""
    clocks = clocks or Clocks()
    metrics = Metrics()
    deadline = lookup_deadline(settings)
    fleet: FleetRedis | None = None
    if settings.redis_url is not None:
        from bot.fleet.redis import connect_fleet  # redis-py adds ~150 ms to start-up: only with REDIS_URL

        fleet = await connect_fleet(settings.redis_url.reveal(), metrics, ttl=settings.clue_cache_ttl_seconds,
                                    negative_ttl=settings.clue_negative_ttl_seconds,
                                    stale_ttl=settings.clue_stale_seconds, lock_ttl=deadline,
                                    crm_rate=settings.crm_rate_per_second, wall=clocks.wall,
                                    monotonic=clocks.monotonic, max_value_bytes=settings.crm_max_response_bytes)
    if fleet is not None:
        stack.push_async_callback(fleet.aclose)  # closed last, after the runner drains
    crm = await build_crm(settings, stack, metrics, clocks, transport=crm_transport,
                          limiter=fleet.bucket if fleet else None)
    caches = build_caches(settings, crm.fetcher, metrics, clocks, shared=fleet.store if fleet else None)
    runner = TaskRunner(on_refused=metrics.tasks_refused.inc, logged=(SlackCallFailed,))
    stack.push_async_callback(runner.drain, 10)

    signing_secret = settings.slack_signing_secret.reveal() if settings.slack_signing_secret else None
    bot_token = settings.slack_bot_token.reveal() if settings.slack_bot_token else None
    calls = SlackCalls(metrics)
    slack_client = web_client(settings.slack_api_url, calls, bot_token)
    matcher = LinkMatcher(settings.clue_url_template, settings.clue_url_patterns)
    access = AccessPolicy(
        allowed_team_ids=settings.slack_allowed_team_ids,
        allowed_user_ids=settings.clue_allowed_user_ids,
        allowed_channel_ids=settings.clue_allowed_channel_ids,
        unfurl_channel_ids=settings.clue_unfurl_channel_ids,
        allow_shared_channels=settings.clue_allow_shared_channels,
        admin_contact=settings.clue_admin_contact,
    )
    alerts = await build_alerts(settings, stack, crm=crm.client, fetcher=crm.fetcher,
                                reads=WatchReads(caches.clues, caches.follow_ups, caches.owners),
                                client=slack_client, wall=clocks.wall,
                                monotonic=clocks.monotonic, url_for=matcher.url_for)
    if alerts is not None:
        alerts.db.count_commits(metrics.store_commits.inc)
    people = build_people(settings, crm, alerts, slack_client, metrics, clocks)
    locales = UserLocales(slack_client, runner, default=settings.default_locale, enabled=settings.clue_user_locale,
                          clock=clocks.monotonic, chosen=people.store.locale_of if people else None)
    nudges = build_nudges(people, slack_client, stack, lease_ttl=settings.clue_alert_lease_seconds,
                          window_minutes=settings.clue_nudge_window_minutes,
                          poll_seconds=settings.clue_alert_poll_seconds, locale_of=locales.known,
                          wall=clocks.wall, owner_of=crm.fetcher.owner, url_for=matcher.url_for) if people else None
    if alerts is not None and alerts.watcher is not None and nudges is not None and nudges.assigned is not None:
        alerts.watcher.tell_new_owners(nudges.assigned.owner_changed)  # a watched clue handed to a linked person
    people_limits = person_limits(settings, fleet, runner, clocks.monotonic)
    gate = Gate(
        access=access,
        cache=caches.clues,
        follow_ups=caches.follow_ups,
        owners=caches.owners,
        people=people_limits["lookup"],
        events=fleet.deduper if fleet else TtlDeduper(clocks.monotonic),
        locales=locales,
        conversations=ConversationInfo(slack_client, clock=clocks.monotonic,
                                       composer_unshared=settings.clue_composer_previews),
        metrics=metrics,
        monotonic=clocks.monotonic,
        search=caches.search,
        searchers=people_limits["search"],
    )
    deps = FeatureDeps(
        gate=gate, matcher=matcher, runner=runner,
        renderer=CardRenderer(matcher, access, clocks.wall, summary_fields=settings.clue_summary_fields,
                              due_field=settings.clue_due_field, watches=alerts is not None),
        options=FeatureOptions(ack_budget=settings.slack_ack_budget_seconds, max_ids=settings.clue_max_ids,
                               default_locale=settings.default_locale, crm_tz=settings.tz,
                               follow_up_wait=settings.clue_follow_up_wait_seconds,
                               query_key=fingerprint_key(signing_secret or bot_token or "")),
        calls=calls,
        wall=clocks.wall,
        alerts=AlertDeps(alerts.store, slack_client, settings.clue_subscribe_user_ids,
                         alerts.watcher.store if alerts.watcher else None) if alerts else None,
        people=people,
    )
    replays = fleet.deduper if fleet else TtlDeduper(clocks.monotonic, ttl=REPLAY_WINDOW_SECONDS,
                                                      maxsize=MAX_REPLAY_KEYS)
    door = Door(slack_client, response_origins=response_origins(settings.slack_api_url), seen=replays.seen,
                metrics=metrics, monotonic=clocks.monotonic)
    bolt = create_app(deps, door, api_url=settings.slack_api_url, token=bot_token, signing_secret=signing_secret)
    return Instance(settings=settings, metrics=metrics, crm=crm.client, cache=caches.clues, runner=runner, bolt=bolt,
                    fleet=fleet, locales=locales, alerts=alerts, people=people, nudges=nudges,
                    push=build_push(settings, caches, fleet, runner, metrics, clocks,
                                    recheck=alerts.recheck if alerts else no_recheck)
                    if settings.crm_push_enabled else None)


def build_push(settings: Settings, caches: Caches, fleet: FleetRedis | None, runner: TaskRunner, metrics: Metrics,
               clocks: Clocks, recheck: Recheck = no_recheck) -> PushHandler:
    """What a CRM push does: the caches invalidated, ``recheck`` called (watched clues re-read at once:
    ``AlertService.recheck``; nothing without the alerts database);
    replays kept for twice the timestamp window, in Redis with ``REDIS_URL``."""
    keep = round(2 * settings.crm_push_window_seconds)
    replays = fleet.push_replays(keep, clocks.monotonic) if fleet else TtlDeduper(clocks.monotonic, ttl=keep)
    return PushHandler(clues=caches.clues, follow_ups=caches.follow_ups, owners=caches.owners, recheck=recheck,
                       replays=replays, runner=runner, metrics=metrics)
