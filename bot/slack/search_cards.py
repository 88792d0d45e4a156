"""Pure Block Kit for search: the pick list, its paging, the help with its Find button, the modal.

Same rules as ``cards``: no I/O, every CRM string and the query itself escaped and bounded (the query
is echoed only through ``mrkdwn_value`` / ``plain_value``), phones always masked in rows.
Buttons carry what their listener needs, validated again there: Show the clue id, Next / Previous
a small JSON ``{"q": query, "p": page}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.search import SearchHit
from bot.domain.text import mask_phone, mrkdwn_value, plain_value
from bot.slack.blocks import (
    ROW_TAG_WIDTH,
    Json,
    bold,
    button,
    local_time,
    mrkdwn,
    obj,
    plain,
    row_text,
    stale_line,
    tags_line,
)
from bot.slack.cards import ACTION_OPEN, BLOCK_ACTIONS, BLOCK_NOTICE, notice_message
from bot.slack.i18n import t

ACTION_SHOW = "clue_search_show"
ACTION_PREVIOUS = "clue_search_previous"
ACTION_NEXT = "clue_search_next"
ACTION_FIND = "clue_find_open"  # the help's button: opens the Find a clue modal
ACTION_PICK = "clue_find_pick"  # the modal's external_select
ACTION_SHOW_IN_CHAT = "clue_find_show_in_chat"  # the picked card's button: the full card, ephemeral, in the chat
CALLBACK_FIND = "clue_find"  # the modal's callback_id
SHORTCUT_FIND = "clue_find_shortcut"  # the global shortcut's callback_id

BLOCK_SUMMARY = "clue_search_summary"
BLOCK_ROW = "clue_search_row_{id}"
BLOCK_PAGING = "clue_search_paging"
BLOCK_HINT = "clue_search_hint"
BLOCK_PICK = "clue_find_input"
BLOCK_HELP_ACTIONS = "clue_help_actions"
HELP_PARTS = ("lookup", "search", "alerts", "you")  # /clue help's sections, i18n keys help.<part>
BLOCK_CHAT_NOTE = "clue_find_chat_note"  # under the picked card: why it cannot be shown in chat, or where it was

MAX_SEARCH_ROWS = 10
MANY_PAGES = 5  # from this many pages on, results say "refine your search"
MAX_OPTIONS = 10
OPTION_UNAVAILABLE = "crm_unavailable"  # the value of the type-ahead's "the CRM is slow or down" option
OPTION_TEXT_LIMIT = 75  # Slack's limit for an option's text
_QUERY = 64
_ROW_VALUE = 40


@dataclass(frozen=True, slots=True)
class ResultsPage:
    """A page of results to render: the query as normalised, where we are, and how fresh it is."""

    query: str
    page_no: int
    total_pages: int  # as the CRM said; 0 with rows means "unknown", read as this page being the last
    rows: tuple[SearchHit, ...]
    fetched_at: datetime
    stale: bool = False
    phone: bool = False  # the query is a phone: echoed masked, like every phone we show


def shown_query(query: str, *, phone: bool) -> str:
    """The query as echoed back: a phone masked like every phone we show."""
    return mask_phone(query) if phone else query


def page_value(query: str, page_no: int) -> str:
    return json.dumps({"q": query, "p": page_no}, ensure_ascii=False, separators=(",", ":"))


def pick_list_message(results: ResultsPage, locale: str) -> dict[str, Any]:
    """Up to ``MAX_SEARCH_ROWS`` rows, each with Show; Previous / Next when there are other pages."""
    if not results.rows:
        return notice_message(locale, "search_none", query=shown_query(results.query, phone=results.phone))
    pages = max(results.total_pages, results.page_no)
    query = mrkdwn_value(shown_query(results.query, phone=results.phone), _QUERY)
    summary = (t(locale, "search.summary", query=query, page=results.page_no, pages=pages) if pages > 1
               else t(locale, "search.summary_one_page", query=query))
    blocks: list[Json] = [obj("section", block_id=BLOCK_SUMMARY, text=mrkdwn(bold(summary)))]
    if results.stale:
        blocks.append(obj("context", block_id=BLOCK_HINT + "_stale", elements=[stale_line(locale, results.fetched_at)]))
    for row in results.rows[:MAX_SEARCH_ROWS]:
        blocks.append(result_row(row, locale))
    if pages >= MANY_PAGES:
        blocks.append(obj("context", block_id=BLOCK_HINT, elements=[mrkdwn(t(locale, "search.too_many"))]))
    paging: list[Json] = []
    if results.page_no > 1:
        paging.append(button(locale, "button.previous", ACTION_PREVIOUS,
                              page_value(results.query, results.page_no - 1)))
    if results.page_no < results.total_pages:
        paging.append(button(locale, "button.next", ACTION_NEXT, page_value(results.query, results.page_no + 1)))
    if paging:
        blocks.append(obj("actions", block_id=BLOCK_PAGING, elements=paging))
    return {"text": summary, "blocks": blocks}


def result_row(row: SearchHit, locale: str, due: str | None = None) -> Json:
    """Worded like a row of ``/clue 8 12 40``: stage, tags, company, phone, and what last happened; ``due``
    (mrkdwn, escaped) leads the details where a list is sorted by it (``/clue mine``)."""
    details = [due or "", mrkdwn_value(row.stage or "", _ROW_VALUE),
               tags_line(row.tags, 0, locale, ROW_TAG_WIDTH),
               mrkdwn_value(row.company or "", _ROW_VALUE),
               mrkdwn_value(mask_phone(row.phone), _ROW_VALUE) if row.phone else "",
               t(locale, "row.created", when=local_time(row.created)) if row.created else ""]
    text = row_text(locale, row.clue_id, row.name, details)
    show = button(locale, "button.show", ACTION_SHOW, str(row.clue_id))
    return obj("section", block_id=BLOCK_ROW.format(id=row.clue_id), text=mrkdwn(text), accessory=show)


def help_message(locale: str, max_ids: int) -> dict[str, Any]:
    """``/clue help``: every command, a section per group (each far below Slack's 3000 characters), and a
    button that opens the Find a clue modal."""
    texts = [t(locale, f"help.{part}", max_ids=max_ids) for part in HELP_PARTS]
    blocks = [obj("section", block_id=f"clue_help_{part}", text=mrkdwn(text)) for part, text in zip(
        HELP_PARTS, texts, strict=True)]
    blocks.append(obj("actions", block_id=BLOCK_HELP_ACTIONS, elements=[button(locale, "button.find", ACTION_FIND,
                                                                                "find")]))
    return {"text": "\n".join(texts), "blocks": blocks}


def find_modal(locale: str, blocks: Sequence[dict[str, Any]] = (), *, channel: str | None = None,
               picked: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Find a clue modal: an external_select fed by ``block_suggestion``; a picked card below it.
    ``channel``: the conversation it was opened from (Show in chat posts there), kept in ``private_metadata``,
    which Slack hands back with every click inside the modal. ``picked``: the option the card is of, kept
    in the select (a section's select is not an input block: views.update would otherwise clear it)."""
    select: dict[str, Any] = {
        "type": "external_select", "action_id": ACTION_PICK, "min_query_length": 1,
        "placeholder": {"type": "plain_text", "text": t(locale, "modal.placeholder")},
    }
    if picked is not None:
        select["initial_option"] = {"text": plain(plain_value(str(_text_of(picked)), OPTION_TEXT_LIMIT)),
                                    "value": str(picked.get("value"))}
    head = [
        {"type": "section", "block_id": BLOCK_PICK, "text": mrkdwn(t(locale, "modal.label")),
         "accessory": select},
        {"type": "context", "block_id": BLOCK_HINT, "elements": [mrkdwn(t(locale, "modal.hint"))]},
    ]
    modal = {"type": "modal", "callback_id": CALLBACK_FIND, "title": plain(t(locale, "modal.title")),
             "close": plain(t(locale, "modal.close")), "blocks": [*head, *blocks]}
    if channel:
        modal["private_metadata"] = json.dumps({"channel": channel})
    return modal


def _text_of(option: Mapping[str, Any]) -> str:
    text = option.get("text")
    return str(text.get("text")) if isinstance(text, Mapping) else ""


def modal_channel(view: Mapping[str, Any]) -> str | None:
    """The conversation a Find a clue modal was opened from (``find_modal``), from the view Slack sends."""
    try:
        metadata = json.loads(str(view.get("private_metadata") or "null"))
    except ValueError:
        return None
    channel = metadata.get("channel") if isinstance(metadata, dict) else None
    return channel if isinstance(channel, str) and channel else None


def picked_card(card: Sequence[Json], locale: str, clue_id: int, *, channel: str | None) -> list[Json]:
    """The picked card's blocks for the modal: its buttons the ones a modal can offer (Open in CRM, a link that
    needs no message to answer into; Show in chat when the modal knows a conversation, else a line saying why)."""
    blocks: list[Json] = []
    for block in card:
        if block.get("block_id") == BLOCK_ACTIONS:
            elements = [e for e in block.get("elements", ()) if e.get("action_id") == ACTION_OPEN]
            if channel:
                elements.append(button(locale, "button.show_in_chat", ACTION_SHOW_IN_CHAT, str(clue_id)))
            block = {**block, "elements": elements}
            if not elements:
                continue
        blocks.append(block)
    if not channel:
        blocks.append(_chat_note(t(locale, "modal.no_chat", id=clue_id)))
    return blocks


def with_chat_note(view: Mapping[str, Any], text: str) -> dict[str, Any]:
    """The Find a clue modal as Slack holds it (``view``), its card kept, with ``text`` (mrkdwn) under it."""
    blocks = [b for b in view.get("blocks", ()) if b.get("block_id") != BLOCK_CHAT_NOTE]
    return {"type": "modal", "callback_id": CALLBACK_FIND, "title": view.get("title"), "close": view.get("close"),
            "private_metadata": view.get("private_metadata", ""), "blocks": [*blocks, _chat_note(text)]}


def _chat_note(text: str) -> Json:
    return obj("context", block_id=BLOCK_CHAT_NOTE, elements=[mrkdwn(text)])


def option(row: SearchHit, locale: str) -> dict[str, Any]:
    """One type-ahead option: plain text (Slack shows it as is), the clue id as its value. The id and the
    company are in the text too: two people called 张三 are told apart before one is picked."""
    parts = [f"{row.name} · ID {row.clue_id}" if row.name else t(locale, "clue.title", id=row.clue_id),
             row.company or "", row.stage or "", mask_phone(row.phone) if row.phone else ""]
    text = plain_value(" · ".join(p for p in parts if p), OPTION_TEXT_LIMIT)
    return {"text": {"type": "plain_text", "text": text or str(row.clue_id)}, "value": str(row.clue_id)}


def options(rows: Sequence[SearchHit], locale: str) -> dict[str, Any]:
    return {"options": [option(row, locale) for row in rows[:MAX_OPTIONS]]}


def unavailable_options(locale: str) -> dict[str, Any]:
    """The type-ahead's answer while the CRM is slow or down: one option that says so, never "no results"
    (its value, ``OPTION_UNAVAILABLE``, picks nothing)."""
    text = plain_value(t(locale, "search.option_unavailable"), OPTION_TEXT_LIMIT)
    return {"options": [{"text": {"type": "plain_text", "text": text}, "value": OPTION_UNAVAILABLE}]}


def is_notice(message: dict[str, Any]) -> bool:
    return any(block.get("block_id") == BLOCK_NOTICE for block in message.get("blocks", ()))
