"""Pure Block Kit for alerts: one new clue as a compact card, a burst as one digest message, and the
"what changed" reply of a watched clue.

Every CRM string goes through ``bot.domain.text`` like the clue cards, and URLs go in buttons only (never
a mrkdwn link); alerts are posted where everyone in the channel reads them, so no phone is ever shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.domain.changes import Change, Snapshot, changed
from bot.domain.clue import Clue
from bot.domain.text import mrkdwn_value, plain_value, safe_url
from bot.slack.cards import ACTION_DETAILS, ACTION_FOLLOW_UPS, ACTION_OPEN, ACTION_WATCH
from bot.slack.i18n import t

Json = dict[str, Any]
UrlFor = Callable[[int], str]

METADATA_EVENT = "clue_alert"  # message metadata: which deliveries a message carries (crash recovery)
CHANGE_EVENT = "clue_watch_change"  # message metadata: which watch change a reply carries (crash recovery)
DIGEST_ROWS = 40  # rows listed in one digest (a block each, within Slack's 50); the rest are counted
_NAME = 80
_VALUE = 60
_TAGS = 8


def alert_message(clue: Clue, locale: str, url_for: UrlFor, heading: str = "alert.new") -> Json:
    """The compact card of one new clue: name, stage, source, company, tags, created; Open,
    Follow-ups, More details and Watch (its replies then come in this message's thread). ``heading``: the i18n
    key it starts with ("New clue", "Assigned to you")."""
    url = safe_url(url_for(clue.id))
    fields = [_field(locale, key, value) for key, value in (
        ("field.stage", clue.stage.text if clue.stage else None),
        ("field.source", clue.source.text if clue.source else None),
        ("field.company", clue.company),
    ) if value]
    section: Json = {"type": "section", "block_id": "alert_clue",
                     "text": _mrkdwn(f"*{t(locale, heading)}:* {_title(clue, locale)}")}
    if fields:
        section["fields"] = fields
    blocks: list[Json] = [section]
    context = []
    tags = [mrkdwn_value(tag.name, _VALUE) for tag in clue.tags[:_TAGS] if tag.name]
    if tags:
        context.append(f"{t(locale, 'field.tags')}: " + " · ".join(tags))
    if clue.created is not None:
        context.append(f"{t(locale, 'time.created')}: {_when(clue)}")
    if context:
        blocks.append({"type": "context", "block_id": "alert_context",
                       "elements": [_mrkdwn(part) for part in context]})
    buttons: list[Json] = []
    if url:
        buttons.append(_button(locale, "button.open", ACTION_OPEN, clue.id, url=url))
    buttons.append(_button(locale, "button.follow_ups", ACTION_FOLLOW_UPS, clue.id))
    buttons.append(_button(locale, "button.details", ACTION_DETAILS, clue.id))
    buttons.append(_button(locale, "button.watch", ACTION_WATCH, clue.id))
    blocks.append({"type": "actions", "block_id": "alert_actions", "elements": buttons})
    return {"text": f"{t(locale, heading)}: {mrkdwn_value(clue.name or '', _NAME) or clue.id}", "blocks": blocks}


def digest_message(clues: Sequence[Clue], locale: str, url_for: UrlFor) -> Json:
    """A burst as one message: a row per clue with its Open button (up to ``DIGEST_ROWS``), the rest counted."""
    heading = t(locale, "alert.digest", count=len(clues))
    blocks: list[Json] = [{"type": "section", "block_id": "digest_heading",
                           "text": _mrkdwn(f"*{heading}*")}]
    blocks += [_row(clue, locale, url_for) for clue in clues[:DIGEST_ROWS]]
    if len(clues) > DIGEST_ROWS:
        blocks.append({"type": "context", "block_id": "digest_more", "elements": [
            _mrkdwn(t(locale, "alert.digest_more", count=len(clues) - DIGEST_ROWS))]})
    return {"text": heading, "blocks": blocks}


def delivery_metadata(first: int, last: int) -> Json:
    """Message metadata naming the deliveries a message carries (ids ``first``..``last`` of its channel)."""
    return {"event_type": METADATA_EVENT, "event_payload": {"first_delivery": first, "last_delivery": last}}


def covered_deliveries(message: Any) -> tuple[int, int] | None:
    """The ``(first, last)`` delivery ids a message posted by us carries, from its metadata; None otherwise."""
    metadata = message.get("metadata") if isinstance(message, dict) else None
    if not isinstance(metadata, dict) or metadata.get("event_type") != METADATA_EVENT:
        return None
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict):
        return None
    first, last = payload.get("first_delivery"), payload.get("last_delivery")
    if isinstance(first, int) and isinstance(last, int) and first <= last:
        return first, last
    return None


def change_message(clue_id: int, before: Snapshot, after: Snapshot, locale: str, url_for: UrlFor) -> Json:
    """A watched clue's reply: what changed, old → new per field (a new latest follow-up, as it reads)."""
    title = mrkdwn_value(after.name or "", _NAME) or t(locale, "clue.title", id=clue_id)
    heading = t(locale, "watch.changed", title=title)
    section: Json = {"type": "section", "block_id": "watch_change",
                     "text": _mrkdwn("\n".join([f"*{heading}*", *_change_lines(changed(before, after), locale)]))}
    if url := safe_url(url_for(clue_id)):
        section["accessory"] = _button(locale, "button.open", ACTION_OPEN, clue_id, url=url)
    return {"text": heading, "blocks": [section]}


def change_metadata(change_id: int) -> Json:
    """Message metadata naming the watch change a reply carries."""
    return {"event_type": CHANGE_EVENT, "event_payload": {"change": change_id}}


def covered_change(message: Any) -> int | None:
    """The watch change a reply posted by us carries, from its metadata; None otherwise."""
    metadata = message.get("metadata") if isinstance(message, dict) else None
    if not isinstance(metadata, dict) or metadata.get("event_type") != CHANGE_EVENT:
        return None
    payload = metadata.get("event_payload")
    change = payload.get("change") if isinstance(payload, dict) else None
    return change if isinstance(change, int) else None


def _change_lines(change: Change, locale: str) -> list[str]:
    lines = []
    if change.stage is not None:
        lines.append(_was_now(locale, "field.stage", *change.stage))
    if change.owner is not None:
        lines.append(_was_now(locale, "field.owner", *(_owner(locale, o) for o in change.owner)))
    if change.tags_added or change.tags_removed:
        tags = [f"+{mrkdwn_value(tag, _VALUE)}" for tag in change.tags_added[:_TAGS]]
        tags += [f"−{mrkdwn_value(tag, _VALUE)}" for tag in change.tags_removed[:_TAGS]]
        lines.append(f"*{t(locale, 'field.tags')}:* " + " · ".join(tags))
    if (seen := change.follow_up) is not None:
        parts = [mrkdwn_value(part, _VALUE) for part in (seen.at, seen.operator) if part]
        note = mrkdwn_value(seen.note, 150)
        text = " · ".join(parts) + (f": {note}" if parts and note else note)
        lines.append(f"*{t(locale, 'watch.follow_up')}:* {text}")
    if not lines:  # what was stored before could not be read back: say what it is now
        lines.append(t(locale, "watch.changed_unknown"))
    return lines


def _owner(locale: str, owner: str | None) -> str | None:
    return t(locale, "owner.unassigned") if owner == "" else owner


def _was_now(locale: str, key: str, before: str | None, after: str | None) -> str:
    none = t(locale, "watch.none")
    return (f"*{t(locale, key)}:* {mrkdwn_value(before or '', _VALUE) or none} → "
            f"{mrkdwn_value(after or '', _VALUE) or none}")


def _row(clue: Clue, locale: str, url_for: UrlFor) -> Json:
    parts = [f"*{_title(clue, locale)}*"]
    parts += [mrkdwn_value(view.text, _VALUE) for view in (clue.stage, clue.source) if view and view.text]
    row: Json = {"type": "section", "block_id": f"digest_row_{clue.id}",
                 "text": _mrkdwn(" · ".join(p for p in parts if p))}
    if url := safe_url(url_for(clue.id)):
        row["accessory"] = _button(locale, "button.open", ACTION_OPEN, clue.id, url=url)
    return row


def _title(clue: Clue, locale: str) -> str:
    """The clue's name, escaped, or "Clue 8" when it has none."""
    return mrkdwn_value(clue.name or "", _NAME) or t(locale, "clue.title", id=clue.id)


def _field(locale: str, key: str, value: str) -> Json:
    return _mrkdwn(f"*{t(locale, key)}*\n{mrkdwn_value(value, _VALUE)}")


def _mrkdwn(text: str) -> Json:
    # verbatim: Slack does not turn URL-looking CRM text into links or #names into channel mentions
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _when(clue: Clue) -> str:
    created = clue.created
    assert created is not None  # noqa: S101 - checked by the caller
    fallback = mrkdwn_value(created.raw, 40)
    epoch = created.epoch
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>" if epoch is not None else fallback


def _button(locale: str, key: str, action_id: str, clue_id: int, *, url: str | None = None) -> Json:
    button: Json = {"type": "button", "text": {"type": "plain_text", "text": plain_value(t(locale, key), 75)},
                    "action_id": action_id, "value": str(clue_id)}
    if url:
        button["url"] = url
    return button
