"""Block Kit building blocks shared by every surface: cards, modals, search rows and Work Objects.

Pure: Block Kit objects as plain dicts, the viewer-local ``<!date>`` tokens, and the display text every
surface words alike (a clue's title, an option value with unknown ids marked). Callers escape CRM text
with ``bot.domain.text`` before it reaches a mrkdwn object; these helpers never add unescaped CRM text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias

from bot.domain.clue import Clue, CrmTime, FieldView
from bot.domain.text import display_width, mask_phone, mrkdwn_value, plain_value
from bot.slack.i18n import t

Json: TypeAlias = dict[str, Any]

REF_LIMIT = 40  # an id or type code: 19 digits at most, when it is what the CRM decoder lets through
TAG_LINE_WIDTH = 64  # columns of the card's one line of tags (a CJK character takes two)
ROW_TAG_WIDTH = 30  # columns of tags in a list or search row
_TIME_TEXT = 40
_TAG = 40

_SIZED = (str, list, tuple, dict)  # left out when empty


def obj(kind: str, **parts: Any) -> Json:
    """A Block Kit object of type ``kind``, as slack_sdk's models write it (keys sorted; None and empty
    values left out), built directly: those models validated and walked every object of a card on
    every render, half of a cache miss's rendering CPU. Validity is held by the length budgets of the
    callers and by the tests (tests/blockkit.py, the goldens)."""
    parts["type"] = kind
    return {key: list(value) if isinstance(value, tuple) else value for key, value in sorted(parts.items())
            if value is not None and (value or not isinstance(value, _SIZED))}


def mrkdwn(text: str) -> Json:
    """A mrkdwn text object of already escaped text."""
    # verbatim: Slack must not auto-link URLs or parse mentions in CRM text; our own <!date> and
    # <@U…> tokens are manual parsing strings, which verbatim text still renders.
    return obj("mrkdwn", text=text, verbatim=True)


def plain(text: str) -> Json:
    return obj("plain_text", text=text, emoji=True)


def button(locale: str, key: str, action_id: str, value: str, *, url: str | None = None) -> Json:
    """A button labelled with the string ``key``; ``url`` makes it a link button (still acked)."""
    return obj("button", text=plain(t(locale, key)), action_id=action_id, value=value, url=url)


def bold(crm_text: str) -> str:
    # An asterisk inside would end the bold early; the look-alike operator does not.
    return f"*{crm_text.replace('*', '∗')}*"


def labelled(label: str, value: str) -> str:
    """A field as "*label*" over its value (the value alone without a label)."""
    return f"{bold(label)}\n{value}" if label else value


def ref(value: object) -> str:
    """An id or type code for mrkdwn. Escaped like any CRM text, whatever its type says: a forged cache
    entry or a future code path must not turn an "id" into a mention or a link."""
    return mrkdwn_value(str(value), REF_LIMIT)


def local_time(time: CrmTime) -> str:
    """``<!date>`` in the viewer's zone, falling back to the CRM's own text and zone; raw text if unread."""
    raw = token_text(time.raw)
    epoch = time.epoch
    if epoch is None or epoch < 0:
        return raw
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{raw} ({token_text(time.zone)})>"


def token_text(s: str) -> str:
    """CRM text for a ``<!date>`` fallback: escaped, short, and without the token's own separator."""
    return mrkdwn_value(s, _TIME_TEXT).replace("|", "¦")


def checked_time(fetched_at: datetime) -> str:
    """When the CRM last answered, as a short viewer-local time ("today 21:04", "Mar 5 21:04")."""
    fetched = fetched_at.astimezone(UTC)
    return f"<!date^{int(fetched.timestamp())}^{{date_short_pretty}} {{time}}|{fetched:%Y-%m-%d %H:%M} UTC>"


def stale_line(locale: str, fetched_at: datetime) -> Json:
    """The one visible warning that what follows is the last good answer of an unreachable CRM."""
    return mrkdwn(t(locale, "stale", when=checked_time(fetched_at)))


def duration(locale: str, seconds: float) -> str:
    """A span as people say it: whole days, else hours, else minutes (at least one)."""
    for unit, size in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        count = int(seconds // size)
        if count >= 1 or unit == "minutes":
            count = max(count, 1)
            return t(locale, f"duration.{unit}.{'one' if count == 1 else 'other'}", count=count)
    raise AssertionError("unreachable")


def tags_line(names: Sequence[str], unknown: int, locale: str, width: int) -> str | None:
    """Tag names, escaped, as many as fit in ``width`` columns, then "+N more" for the rest (tags the
    tag tree does not know, ``unknown``, included): one line, never a silent cut."""
    separator = t(locale, "list.separator")  # "，" inside Chinese text
    shown: list[str] = []
    used = 0
    for name in names:
        text = mrkdwn_value(name, _TAG)
        cost = display_width(text) + (display_width(separator) if shown else 0)
        if not text or used + cost > width:
            break
        shown.append(text)
        used += cost
    rest = len(names) - len(shown) + unknown
    if rest:
        shown.append(t(locale, "value.more", count=rest))
    return separator.join(shown) or None


def row_text(locale: str, clue_id: int, name: str | None, details: Sequence[str | None]) -> str:
    """A list or search row: "*name* · ID `8`" (or "*Clue 8*"), then its details on one line."""
    shown = mrkdwn_value(name or "", 60)
    text = f"{bold(shown)} · {t(locale, 'clue.id', id=ref(clue_id))}" if shown \
        else bold(t(locale, "clue.title", id=ref(clue_id)))
    if line := " · ".join(d for d in details if d):
        text += "\n" + line
    return text


def ago(fetched_at: datetime) -> str:
    """A time as Slack shows it relative to the reader's now (kept current by Slack)."""
    fetched = fetched_at.astimezone(UTC)
    return f"<!date^{int(fetched.timestamp())}^{{ago}}|{fetched:%Y-%m-%d %H:%M} UTC>"


def clue_title(clue: Clue, locale: str, limit: int) -> str:
    """The clue's name as plain text, or "Clue 8" when it has none (or only invisible characters)."""
    return plain_value(clue.name or "", limit) or t(locale, "clue.title", id=plain_value(str(clue.id), REF_LIMIT))


def option_text(view: FieldView, locale: str, *, mask: bool = False, ids: bool = False) -> str:
    """The view's text, an option id the catalog did not know said as "unknown option" (with the id
    only when ``ids``: More details), and phones masked if asked."""
    if not view.unresolved and not mask:
        return view.text
    unknown = set(view.unresolved)
    parts = [mask_phone(p) if mask else p for p in view.text.split(", ")]
    # The marker templates are plain text: the whole value is escaped afterwards.
    return ", ".join(_unknown_option(locale, p, ids) if p in unknown else p for p in parts)


def _unknown_option(locale: str, option_id: str, ids: bool) -> str:
    return t(locale, "value.unknown_option_id", value=option_id) if ids else t(locale, "value.unknown_option")
