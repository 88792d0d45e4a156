"""One module per feature: ``/clue`` (commands), card buttons (actions), modals, search, link previews
(unfurls) and the details pane (entities); every card is read through ``card_request``.

Each feature is a class built from ``FeatureDeps`` whose bound methods are Bolt listeners (parameter
names are Bolt's injection names), bound by its own ``register(app)`` (``bot.slack.app`` calls each). The app runs with
``process_before_response=True``, so every listener returns quickly: answers that are ready go in the
ack itself; anything slower continues in the ``TaskRunner``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.runtime.tasks import TaskRunner
from bot.slack.features.card_request import CardRequests
from bot.slack.gate import Gate
from bot.slack.links import LinkMatcher
from bot.slack.render import CardRenderer
from bot.slack.webapi import Respond as Respond
from bot.slack.webapi import SlackCalls

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack.people import People
    from bot.store.alerts import AlertStore
    from bot.store.watches import WatchStore


Message = dict[str, Any]
Ack = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class FeatureOptions:
    ack_budget: float  # everything before a /clue ack (Slack, the CRM) shares it; then a placeholder
    max_ids: int
    default_locale: str  # cards others see speak the workspace default
    crm_tz: ZoneInfo  # zone of the CRM's zone-less times (search rows)
    follow_up_wait: float = 0.5  # how long a card waits for its latest follow-up before showing without it
    query_key: bytes = b""  # keys the search fingerprints in logs (bot.domain.search.fingerprint_key)


@dataclass(frozen=True, slots=True)
class AlertDeps:
    """What the alerts commands use: the alerts database and the bot's Web API client."""

    store: AlertStore
    client: AsyncWebClient  # with the bot token: conversations.info (is the bot a member?)
    subscriber_ids: frozenset[str] = frozenset()  # CLUE_SUBSCRIBE_USER_IDS; empty: whoever may look up
    watches: WatchStore | None = None  # /clue watch and the Watch button (issue 22 item 3)


@dataclass(frozen=True, slots=True)
class FeatureDeps:
    """What every feature is built from."""

    gate: Gate
    matcher: LinkMatcher
    runner: TaskRunner
    renderer: CardRenderer
    options: FeatureOptions
    calls: SlackCalls
    wall: Callable[[], float]
    alerts: AlertDeps | None = None  # /clue subscribe…: the alerts database (None: DATABASE_URL=off)
    people: People | None = None  # /clue me, mine, App Home: links in the database (None: DATABASE_URL=off)

    @property
    def cards(self) -> CardRequests:
        """The one way every feature reads a card (stateless: each feature holds its own)."""
        return CardRequests(self.gate, self.options.follow_up_wait)
