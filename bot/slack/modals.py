"""Pure Block Kit modals: More details and the follow-up timeline, as plain ``views.open`` dicts.

Like ``cards``: no I/O, no clock reads, every CRM string escaped and budgeted, so a view stays within
Slack's limits (and our own 50 blocks / ``TEXT_BUDGET`` characters) whatever the CRM sends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.domain.clue import Clue
from bot.domain.follow_ups import FollowUp, FollowUpPage
from bot.domain.text import mrkdwn_value
from bot.slack.blocks import Json, clue_title, mrkdwn, obj, plain, stale_line
from bot.slack.cards import (
    BLOCK_HEADER,
    BLOCK_STALE,
    HEADER_LIMIT,
    TEXT_BUDGET,
    CardOptions,
    details_blocks,
    follow_up_meta,
)
from bot.slack.i18n import t

VIEW_DETAILS = "clue_details_view"
VIEW_FOLLOW_UPS = "clue_follow_ups_view"
ACTION_LOAD_MORE = "clue_follow_ups_more"
BLOCK_TIMELINE = "clue_follow_up_{n}"
BLOCK_TIMELINE_END = "clue_follow_ups_end"
BLOCK_TIMELINE_MORE = "clue_follow_ups_more"
BLOCK_LOADING = "clue_loading"

MAX_PAGES = 4  # Load more stops here, whatever the CRM's cursor says: it may never end
_NOTE = 400  # characters of one note in the timeline
_TITLE_LIMIT = 24  # Slack's limit on a modal title
_TIMELINE_BUDGET = TEXT_BUDGET - 1_500  # room for the header, the end line and the button


def loading_view(locale: str, callback_id: str, clue_id: int, channel: str | None = None) -> dict[str, Any]:
    """What ``views.open`` shows at once, inside the click's 3 s, before the CRM answers."""
    return notice_view(locale, callback_id, clue_id, t(locale, "modal.loading"), channel)


def notice_view(locale: str, callback_id: str, clue_id: int, text: str,
                channel: str | None = None) -> dict[str, Any]:
    """A modal that only says why there is nothing (yet) to show (``text`` is escaped mrkdwn)."""
    title_key = "modal.details.title" if callback_id == VIEW_DETAILS else "modal.follow_ups.title"
    blocks = [obj("section", block_id=BLOCK_LOADING, text=mrkdwn(text))]
    return _view(locale, callback_id, title_key, blocks, clue_id, channel)


def details_view(clue: Clue, opts: CardOptions, channel: str | None = None) -> dict[str, Any]:
    """The More details modal: everything the card's summary leaves out."""
    header = obj("header", block_id=BLOCK_HEADER, text=plain(clue_title(clue, opts.locale, HEADER_LIMIT)))
    blocks: list[Json] = [header]
    blocks += details_blocks(clue, opts)
    return _view(opts.locale, VIEW_DETAILS, "modal.details.title", blocks, clue.id, channel)


def follow_ups_view(clue: Clue, pages: Sequence[FollowUpPage], locale: str, *, failed: bool = False,
                    channel: str | None = None, stale_since: datetime | None = None) -> dict[str, Any]:
    """The timeline modal: the follow-ups of ``pages``, newest first, then Load more while there is more
    (at most ``MAX_PAGES`` pages); ``failed``: the CRM did not answer the next page, said honestly;
    ``stale_since``: pages are served from the cache while the CRM fails, said under the name like on the card."""
    items = [item for page in pages for item in page.items]
    blocks: list[Json] = [obj("header", block_id=BLOCK_HEADER, text=plain(clue_title(clue, locale, HEADER_LIMIT)))]
    if stale_since is not None:
        blocks.append(obj("context", block_id=BLOCK_STALE, elements=[stale_line(locale, stale_since)]))
    shown = timeline_blocks(items, locale)
    blocks += shown
    more = pages[-1].next_cursor is not None if pages else False
    capped = len(shown) < len(items) or (more and len(pages) >= MAX_PAGES)
    if failed:
        end = t(locale, "modal.follow_ups.failed")
    elif capped:
        end = t(locale, "modal.follow_ups.capped", count=len(shown))
    elif not items:
        end = t(locale, "modal.follow_ups.empty")
    elif not more:
        end = t(locale, "modal.follow_ups.end")
    else:
        end = ""
    if end:
        blocks.append(obj("context", block_id=BLOCK_TIMELINE_END, elements=[mrkdwn(end)]))
    if more and not capped:
        button = obj("button", text=plain(t(locale, "button.load_more")), action_id=ACTION_LOAD_MORE,
                               value=f"{clue.id}:{len(pages) + 1}")
        blocks.append(obj("actions", block_id=BLOCK_TIMELINE_MORE, elements=[button]))
    return _view(locale, VIEW_FOLLOW_UPS, "modal.follow_ups.title", blocks, clue.id, channel)


def timeline_blocks(items: Sequence[FollowUp], locale: str, *,
                    budget: int = _TIMELINE_BUDGET) -> list[Json]:
    """One section per follow-up (time · operator · type, then the note), while ``budget`` characters last.

    Pure and surface-neutral: the modal uses it, and so can a flexpane.
    """
    blocks: list[Json] = []
    used = 0
    for n, item in enumerate(items):
        text = follow_up_meta(item, locale)
        if note := mrkdwn_value(item.note.strip(), _NOTE, multiline=True):
            text += "\n" + note
        used += len(text)
        if used > budget:
            break
        blocks.append(obj("section", block_id=BLOCK_TIMELINE.format(n=n), text=mrkdwn(text)))
    return blocks


def _view(locale: str, callback_id: str, title_key: str, blocks: Sequence[Json], clue_id: int,
          channel: str | None) -> dict[str, Any]:
    # The conversation the card was in: a click inside the modal has none of its own, and the
    # channel allow list must still apply to it. Slack hands private_metadata back unchanged.
    metadata = json.dumps({"clue_id": clue_id, "channel": channel})
    return obj("modal", callback_id=callback_id, title=plain(t(locale, title_key)[:_TITLE_LIMIT]),
               close=plain(t(locale, "modal.close")), blocks=list(blocks), private_metadata=metadata)
