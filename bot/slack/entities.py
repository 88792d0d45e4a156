"""Clues as Slack Work Objects: the entity metadata of an unfurl and of the flexpane, as plain dicts.

Pure, like ``cards``: no I/O, logging or clock reads. Built with ``slack_sdk.models.metadata``. A sales
lead is none of Slack's task, file, incident or content item, so a clue is Slack's general-purpose
``item`` entity, whose properties all live in typed ``custom_fields`` (times as
``slack#/types/timestamp``, never as text). The unfurl is public to the conversation, like its Block
Kit fallback: the summary only, never a phone. The flexpane is for one viewer: the whole clue, phones
masked unless that viewer may see them (``EntityOptions.reveal_phone``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.metadata import (
    EntityActionButton,
    EntityActions,
    EntityArrayItemField,
    EntityAttributes,
    EntityCustomField,
    EntityMetadata,
    EntityPayload,
    EntityTitle,
    ExternalRef,
)

from bot.config import DEFAULT_DUE_FIELD
from bot.domain.clue import PHONE, Clue, CrmTime, FieldView
from bot.domain.follow_ups import FollowUp
from bot.domain.locales import DEFAULT_LOCALE
from bot.domain.owner import Owner
from bot.domain.text import mask_phone, plain_value, safe_url
from bot.slack.blocks import duration, option_text
from bot.slack.cards import ACTION_OPEN, ACTION_REFRESH, follow_up_kind, owner_text
from bot.slack.i18n import t

ENTITY_TYPE = "slack#/entities/item"
EXTERNAL_TYPE = "clue"  # external_ref.type: what the id counts (Slack sends it back in the event)

# entity.presentDetails error statuses (Slack's entity.presentDetails reference, "error object").
ERROR_RESTRICTED = "restricted"
ERROR_NOT_FOUND = "not_found"
ERROR_INTERNAL = "internal_error"
ERROR_TIMEOUT = "timeout"
ERROR_CUSTOM = "custom"

STRING, INTEGER, ARRAY = "string", "integer", "array"
TIMESTAMP, DATE = "slack#/types/timestamp", "slack#/types/date"

_TITLE = 150
_VALUE = 200
_LONG = 2000
_ARRAY_ITEMS = 20
_FOLLOW_UPS = 10  # newest follow-ups in the pane; the CRM has the rest
_BUTTON = 75
_MAX_CUSTOM = 30
_KEY_JUNK = re.compile(r"[^A-Za-z0-9_]")  # the tenant's own fields in the flexpane; the rest are counted


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityOptions:
    """How to build: language, the clue's CRM URL, freshness, and what this viewer may see."""

    clue_url: str
    fetched_at: datetime  # aware; shown when the data is stale
    locale: str = DEFAULT_LOCALE
    stale: bool = False
    reveal_phone: bool = False  # flexpane only: full phones for this viewer
    due_field: str | None = DEFAULT_DUE_FIELD  # CLUE_DUE_FIELD: the custom datetime shown as the next follow-up
    now: datetime | None = None  # aware; to say by how much the next follow-up is overdue (None: not said)
    owner: Owner | None = None  # whose lead it is, when known (customer/search; clue/get names no owner)

    def __post_init__(self) -> None:
        if self.fetched_at.tzinfo is None or (self.now is not None and self.now.tzinfo is None):
            raise ValueError("fetched_at and now must be timezone-aware")


def clue_entity_unfurl(clue: Clue, opts: EntityOptions, *, unfurl_url: str) -> dict[str, Any]:
    """One entry of ``chat.unfurl``'s ``metadata.entities``: the summary, seen by the whole conversation.

    ``unfurl_url`` is the link exactly as Slack sent it in ``link_shared``.
    """
    fields = _summary(clue, opts)
    if opts.stale:
        fields.append(_stale(opts))
    actions = [*_open(clue, opts), _action(opts.locale, "button.refresh", ACTION_REFRESH, clue)]
    return _entity(clue, opts, fields, actions, unfurl_url=unfurl_url)


def clue_entity_details(clue: Clue, opts: EntityOptions, *,
                        follow_ups: Sequence[FollowUp] | None = None) -> dict[str, Any]:
    """``entity.presentDetails``'s ``metadata``: the whole clue for one viewer.

    ``follow_ups`` (newest first) adds the follow-up timeline; None leaves it out (not looked up).
    """
    locale = opts.locale
    full = opts.reveal_phone
    fields = _summary(clue, opts)
    fields += [f for f in (
        _string("source", t(locale, "field.source"), _view(clue.source, locale, full)),
        _array("phones", t(locale, "field.phone"), [p if full else mask_phone(p) for p in clue.phones]),
        _string("gender", t(locale, "field.gender"), _view(clue.gender, locale, full)),
        _custom("birthday", t(locale, "field.birthday"), DATE, clue.birthday.isoformat())
        if clue.birthday else None,
        _string("address", t(locale, "field.address"), clue.address),
        _string("description", t(locale, "field.description"), clue.description, long=True),
    ) if f is not None]
    fields += _other_fields(clue, opts)
    if follow_ups is not None:
        fields += _follow_ups(follow_ups, locale)
    if opts.stale:
        fields.append(_stale(opts))
    return _entity(clue, opts, fields, _open(clue, opts))


def entity_error(status: str, *, title: str | None = None, message: str | None = None) -> dict[str, Any]:
    """``entity.presentDetails``'s ``error`` object; ``title`` and ``message`` go with ``custom``."""
    error: dict[str, Any] = {"status": status}
    if title:
        error["custom_title"] = plain_value(title, _TITLE)
    if message:
        error["custom_message"] = plain_value(message, _LONG)
    return error


# ------------------------------------------------------------------------------------------ parts


def _entity(clue: Clue, opts: EntityOptions, fields: list[EntityCustomField],
            actions: list[EntityActionButton], *, unfurl_url: str | None = None) -> dict[str, Any]:
    title = plain_value(clue.name or "", _TITLE) or t(opts.locale, "clue.title", id=clue.id)
    updated = clue.updated.epoch if clue.updated else None
    attributes = EntityAttributes(
        title=EntityTitle(text=title),
        display_id=str(clue.id),
        display_type=t(opts.locale, "entity.display_type"),
        metadata_last_modified=updated if updated is not None and updated > 0 else None,
    )
    payload = EntityPayload(
        attributes=attributes,
        custom_fields=[*fields],
        display_order=[f.key for f in fields],
        actions=EntityActions(primary_actions=[*actions[:2]]),
    )
    metadata = EntityMetadata(
        entity_type=ENTITY_TYPE,
        entity_payload=payload,
        external_ref=ExternalRef(id=str(clue.id), type=EXTERNAL_TYPE),
        url=opts.clue_url,
        app_unfurl_url=unfurl_url,
    )
    result: dict[str, Any] = metadata.to_dict()
    return result


def _summary(clue: Clue, opts: EntityOptions) -> list[EntityCustomField]:
    """What a salesperson acts on, as the unfurl shows it: never a phone, even in a masked field."""
    locale = opts.locale
    next_follow_up = _due_view(clue, opts.due_field)
    due = next_follow_up.time if next_follow_up else None
    candidates = (
        _string("owner", t(locale, "field.owner"), owner_text(clue, opts.owner, locale)),
        _string("company", t(locale, "field.company"), clue.company),
        _string("stage", t(locale, "field.stage"), _view(clue.stage, locale, False), tag_color="blue"),
        _string("purchase_intention", t(locale, "field.purchase_intention"),
                _view(clue.purchase_intention, locale, False)),
        _time("next_follow_up", t(locale, "field.next_follow_up"), due),
        _overdue(due, opts),
        _time("date_created", t(locale, "time.created"), clue.created),
        _time("date_updated", t(locale, "time.updated"), clue.updated),
        _time("converted", t(locale, "time.converted"), clue.converted),
        _tags(clue, locale),
    )
    return [f for f in candidates if f is not None]


def _tags(clue: Clue, locale: str) -> EntityCustomField | None:
    """Tag names, then "+N more" for those past the array's length and the ids the tag tree does not know."""
    names = [tag.name for tag in clue.tags if tag.name is not None]
    room = _ARRAY_ITEMS if len(names) <= _ARRAY_ITEMS and not clue.unknown_tag_count else _ARRAY_ITEMS - 1
    rest = len(names[room:]) + clue.unknown_tag_count
    more = [t(locale, "value.more", count=rest)] if rest else []
    return _array("tags", t(locale, "field.tags"), names[:room] + more)


def _overdue(due: CrmTime | None, opts: EntityOptions) -> EntityCustomField | None:
    """"Overdue: 634 days" once the next follow-up is past, as the card says it."""
    epoch = due.epoch if due else None
    if epoch is None or epoch <= 0 or opts.now is None or (late := opts.now.timestamp() - epoch) <= 0:
        return None
    return _custom("overdue", t(opts.locale, "entity.overdue"), STRING, duration(opts.locale, late), tag_color="red")


def _due_view(clue: Clue, due_field: str | None) -> FieldView | None:
    """The custom datetime field ``CLUE_DUE_FIELD`` names (by key or name), if the clue has it."""
    for view in clue.other_fields:
        if view.time is not None and due_field in (view.key, view.label):
            return view
    return None


def _other_fields(clue: Clue, opts: EntityOptions) -> list[EntityCustomField]:
    """The tenant's own fields: datetimes typed as timestamps, phone fields masked like the phone."""
    rendered: list[EntityCustomField] = []
    due = _due_view(clue, opts.due_field)
    shown = [v for v in clue.other_fields if v is not due]
    keys: set[str] = set()
    for i, view in enumerate(shown[:_MAX_CUSTOM]):
        key = "crm_" + _KEY_JUNK.sub("_", view.key[:60])
        if key in keys or key == "crm_":  # keys must be unique; CRM keys are not ours to trust
            key = f"crm_{i}_"
        keys.add(key)
        label = plain_value(view.label or "", 50) or plain_value(view.key, 50) or key
        field = (_time(key, label, view.time) if view.time is not None
                 else _string(key, label, _view(view, opts.locale, opts.reveal_phone)))
        if field is not None:
            rendered.append(field)
    if len(shown) > _MAX_CUSTOM:
        more = t(opts.locale, "value.more", count=len(shown) - _MAX_CUSTOM)
        rendered.append(_custom("crm_more", "…", STRING, more))
    return rendered


def _follow_ups(items: Sequence[FollowUp], locale: str) -> list[EntityCustomField]:
    """The newest follow-ups, one timestamp field each (Slack shows it in the viewer's zone), labelled with
    type, operator and the note's first line; the rest counted. A follow-up without a readable time is
    a string field with the CRM's text, never an unzoned time passed off as local."""
    if not items:
        return [_custom("follow_ups", t(locale, "entity.follow_ups"), STRING, t(locale, "entity.no_follow_ups"))]
    fields = []
    for n, item in enumerate(items[:_FOLLOW_UPS]):
        who = plain_value(item.operator or "", 60) or t(locale, "follow_up.no_operator")
        note = plain_value(item.note.split("\n", 1)[0], _VALUE)
        label = plain_value(" · ".join(p for p in (follow_up_kind(item, locale), who, note) if p), _VALUE)
        epoch = item.at.epoch if item.at else None
        if epoch is not None and epoch > 0:
            fields.append(_custom(f"follow_up_{n}", label, TIMESTAMP, epoch))
        else:
            raw = plain_value(item.at.raw if item.at else "", 40) or "?"
            fields.append(_custom(f"follow_up_{n}", label, STRING, raw))
    if len(items) > _FOLLOW_UPS:
        more = t(locale, "value.more", count=len(items) - _FOLLOW_UPS)
        fields.append(_custom("follow_ups_more", t(locale, "entity.follow_ups"), STRING, more))
    return fields


def _stale(opts: EntityOptions) -> EntityCustomField:
    return _custom("data_as_of", t(opts.locale, "entity.data_as_of"), TIMESTAMP, int(opts.fetched_at.timestamp()))


def _view(view: FieldView | None, locale: str, full_phones: bool) -> str | None:
    if view is None:
        return None
    return option_text(view, locale, mask=view.kind == PHONE and not full_phones)


def _string(key: str, label: str, value: str | None, *, long: bool = False,
            tag_color: str | None = None) -> EntityCustomField | None:
    text = plain_value(value or "", _LONG if long else _VALUE, multiline=long)
    if not text:
        return None
    return _custom(key, label, STRING, text, long=True if long else None, tag_color=tag_color)


def _time(key: str, label: str, time: CrmTime | None) -> EntityCustomField | None:
    epoch = time.epoch if time else None
    return _custom(key, label, TIMESTAMP, epoch) if epoch is not None and epoch > 0 else None


def _array(key: str, label: str, values: Sequence[str]) -> EntityCustomField | None:
    items = [EntityArrayItemField(value=v) for v in (plain_value(x, _VALUE) for x in values[:_ARRAY_ITEMS]) if v]
    return _custom(key, label, ARRAY, items, item_type=STRING) if items else None


def _custom(key: str, label: str, type_: str, value: Any, **extra: Any) -> EntityCustomField:
    return EntityCustomField(label=label, key=key, type=type_, value=value,
                             **{k: v for k, v in extra.items() if v is not None})


def _open(clue: Clue, opts: EntityOptions) -> list[EntityActionButton]:
    url = safe_url(opts.clue_url)
    return [_action(opts.locale, "button.open", ACTION_OPEN, clue, url=url)] if url else []


def _action(locale: str, key: str, action_id: str, clue: Clue, *, url: str | None = None) -> EntityActionButton:
    return EntityActionButton(text=plain_value(t(locale, key), _BUTTON), action_id=action_id,
                              value=str(clue.id), url=url)
