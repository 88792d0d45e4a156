"""One module per feature: ``/clue`` (commands), card buttons (actions), link previews (unfurls).

Each feature is a class built from ``FeatureDeps`` whose bound methods are Bolt listeners (parameter
names are Bolt's injection names), registered in ``bot.slack.app``. The app runs with
``process_before_response=True``, so every listener returns quickly: answers that are ready go in the
ack itself; anything slower continues in the ``TaskRunner``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.runtime.tasks import TaskRunner
from bot.slack.gate import Gate
from bot.slack.links import LinkMatcher
from bot.slack.render import CardRenderer

Message = dict[str, Any]
Respond = Callable[..., Awaitable[Any]]
Ack = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class FeatureOptions:
    ack_budget: float  # how long /clue waits for the CRM before acking a placeholder
    max_ids: int
    default_locale: str  # cards others see speak the workspace default
    crm_tz: ZoneInfo  # zone of the CRM's zone-less times (search rows)


@dataclass(frozen=True, slots=True)
class FeatureDeps:
    """What every feature is built from."""

    gate: Gate
    matcher: LinkMatcher
    runner: TaskRunner
    renderer: CardRenderer
    options: FeatureOptions
    wall: Callable[[], float]
