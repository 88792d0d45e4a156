"""Pure Block Kit rendering: clue cards, clue unfurls, clue lists and notices, as plain dicts.

No I/O, logging or clock reads: the time is an argument. Every CRM string passes through
``bot.domain.text`` (``mrkdwn_value`` for mrkdwn, ``plain_value`` for plain_text), so CRM data cannot
mention anyone, forge links or break the layout, and every value has a length budget: a card stays
within Slack's limits by construction, whatever the CRM sends.

Its size: every card, list and notice shares the same budgets and helpers; the modals
(``bot.slack.modals``) and Work Objects (``bot.slack.entities``) have modules of their own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeAlias

from bot.config import DEFAULT_DUE_FIELD, DEFAULT_SUMMARY_FIELDS, MAX_SUMMARY_FIELDS
from bot.domain.clue import PHONE, Clue, CrmTime, FieldView, TagView
from bot.domain.follow_ups import FollowUp, FollowUpPage
from bot.domain.locales import DEFAULT_LOCALE
from bot.domain.owner import Owner
from bot.domain.text import mask_phone, mrkdwn_value, safe_url
from bot.slack.blocks import (
    ROW_TAG_WIDTH,
    TAG_LINE_WIDTH,
    Json,
    ago,
    bold,
    button,
    clue_title,
    duration,
    labelled,
    local_time,
    mrkdwn,
    obj,
    option_text,
    plain,
    ref,
    row_text,
    stale_line,
    tags_line,
    token_text,
)
from bot.slack.i18n import known, t

AUDIENCE_PRIVATE = "private"  # ephemeral: only the person who asked sees it
AUDIENCE_CHANNEL = "channel"  # shared or unfurled: others see it, so phones are masked

ACTION_OPEN = "clue_open"
ACTION_REFRESH = "clue_refresh"
ACTION_SHARE = "clue_share"
ACTION_REVEAL = "clue_reveal_phone"
ACTION_DETAILS = "clue_details"
ACTION_FOLLOW_UPS = "clue_follow_ups"
ACTION_WATCH = "clue_watch"  # a shared card's overflow, an alert's button: change replies in its thread
# The card's overflow menu (Refresh, Share, Reveal, Watch): each option's value is "<action id>=<button value>",
# the action id one of the four above and the button value what that button's own value would be.
ACTION_MORE = "clue_more"
OVERFLOW_ACTIONS = (ACTION_REFRESH, ACTION_SHARE, ACTION_REVEAL, ACTION_WATCH)

BLOCK_STALE = "clue_stale"
BLOCK_HEADER = "clue_header"
BLOCK_META = "clue_meta"
BLOCK_FIELDS = "clue_fields"
BLOCK_TAGS = "clue_tags"
BLOCK_DESCRIPTION = "clue_description"
BLOCK_CUSTOM = "clue_custom"
BLOCK_ACTIVITY = "clue_activity"
BLOCK_TIMES = "clue_times"
BLOCK_FOOTER = "clue_footer"
BLOCK_ACTIONS = "clue_actions"
BLOCK_ROW = "clue_row_{id}"
BLOCK_MORE = "clue_more"
BLOCK_NOTICE = "clue_notice"

# Slack's limits (slack-platform.md section 6).
MAX_BLOCKS = 50
HEADER_LIMIT = 150
SECTION_TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
BUTTON_TEXT_LIMIT = 75
MAX_LIST_ROWS = 20  # /clue 1 2 3 …: rows past this are counted, not shown
# msg_blocks_too_long has been seen near 13,200 characters with every per-block limit met, and
# Slack does not say how it counts CJK or emoji: every card stays under this many str characters.
TEXT_BUDGET = 11_000

# Our budgets per value, chosen so the worst case of every card adds up to well under TEXT_BUDGET.
_VALUE = 200
_ADDRESS = 300
_PHONE = 40
_PHONES_SHOWN = 5
_LABEL = 50
_CUSTOM_VALUE = 150
_TAG = 40
_FALLBACK_PART = 100
_ROW_VALUE = 60
_NOTICE_ARG = 200
_NOTE_LINE = 150  # the first line of the latest follow-up's note on the card
_OPERATOR = 60

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
_SHARED_BY_SEP = ":"  # in a Refresh button's value: "<clue id>:<user id of who shared the card>"
_OVERFLOW_SEP = "="  # in an overflow option's value: "<action id>=<button value>"

ListItem: TypeAlias = Clue | tuple[int, str]
"""A resolved clue, or ``(clue_id, error_key)`` for a clue that could not be shown."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CardOptions:
    """How to render: for whom, in which language, and how fresh the data is."""

    now: datetime  # aware; only used to say how old stale data is
    fetched_at: datetime  # aware; when the CRM answered, shown as "Data as of"
    locale: str = DEFAULT_LOCALE
    audience: str = AUDIENCE_PRIVATE
    stale: bool = False  # the CRM is unreachable and this is the last good answer
    clue_url: str | None = None  # "Open in CRM"; dropped unless it is a safe http(s) URL
    shareable: bool = True  # offer "Share to channel" (private cards only)
    reveal_phone: bool = False  # show full phones (private cards only, after a Reveal click)
    shared_by: str | None = None  # Slack user id of who shared the card
    watchable: bool = False  # offer Watch (cards in a channel, where its replies can thread)
    follow_ups: FollowUpPage | None = None  # the newest follow-ups; None: not loaded (see follow_ups_missing)
    follow_ups_missing: bool = False  # the lookup was tried and did not answer in time: the card says so
    follow_ups_stale: bool = False
    owner: Owner | None = None  # whose lead it is, when its read came in time or was cached (None: not known)
    summary_fields: tuple[str, ...] = DEFAULT_SUMMARY_FIELDS  # custom field keys or names, in order
    due_field: str | None = DEFAULT_DUE_FIELD  # the custom datetime marked overdue once past

    def __post_init__(self) -> None:
        if self.audience not in (AUDIENCE_PRIVATE, AUDIENCE_CHANNEL):
            raise ValueError(f"unknown audience {self.audience!r}")
        if self.now.tzinfo is None or self.fetched_at.tzinfo is None:
            raise ValueError("now and fetched_at must be timezone-aware")
        if self.shared_by is not None and not _USER_ID.fullmatch(self.shared_by):
            raise ValueError(f"shared_by is not a Slack user id: {self.shared_by[:40]!r}")

    @property
    def private(self) -> bool:
        return self.audience == AUDIENCE_PRIVATE

    @property
    def full_phones(self) -> bool:
        return self.private and self.reveal_phone


@dataclass(frozen=True, slots=True)
class Layout:
    """Budgets of the long values: the More details modal shows them in full, within Slack's limits."""

    description: int
    description_lines: int
    tags: int


DETAILS = Layout(description=2900, description_lines=60, tags=2900)
# The summary's fields, in order; everything else is in the More details modal.
_SUMMARY = ("field.owner", "field.company", "field.stage", "field.purchase_intention", "field.phone")


def clue_message(clue: Clue, opts: CardOptions) -> dict[str, Any]:
    """The card, lead summary first: ``{"text": fallback, "blocks": [...]}``."""
    return {"text": _fallback(clue, opts.locale), "blocks": _card(clue, opts)}


def clue_unfurl(clue: Clue, opts: CardOptions) -> dict[str, Any]:
    """The compact card for ``chat.unfurl``: ``{"blocks": [...]}``, no rich_text, no top-level text.

    Unfurls are public to the conversation, so phones are always masked and only Open and Refresh
    are offered, whatever ``opts`` says.
    """
    public = replace(opts, audience=AUDIENCE_CHANNEL, reveal_phone=False, shareable=False, watchable=False)
    return {"blocks": _card(clue, public)}


def clue_list_message(items: Sequence[ListItem], opts: CardOptions, *, urls: Mapping[int, str] | None = None,
                      activity: Mapping[int, FollowUp] | None = None) -> dict[str, Any]:
    """One compact row per clue (``/clue 8 12 40``), an error line for each clue that failed.

    Repeated ids are shown once; past ``MAX_LIST_ROWS`` rows a "+N more" line ends the list. ``urls``
    gives each clue its Open in CRM button, ``activity`` its latest follow-up (else its last update).
    """
    unique: dict[int, ListItem] = {}
    for item in items:
        unique.setdefault(item.id if isinstance(item, Clue) else item[0], item)
    rows = list(unique.values())
    locale = opts.locale
    blocks: list[Json] = []
    if opts.stale:
        blocks.append(obj("context", block_id=BLOCK_STALE, elements=[stale_line(locale, opts.fetched_at)]))
    titles: list[str] = []  # unescaped; escaped once, joined
    for item in rows[:MAX_LIST_ROWS]:
        if isinstance(item, Clue):
            latest = (activity or {}).get(item.id)
            blocks.append(_list_row(item, locale, (urls or {}).get(item.id), latest))
            titles.append(clue_title(item, locale, _FALLBACK_PART))
        else:
            blocks.append(_error_row(*item, locale))
            titles.append(t(locale, "clue.title", id=item[0]))
    if len(rows) > MAX_LIST_ROWS:
        more = t(locale, "value.more", count=len(rows) - MAX_LIST_ROWS)
        blocks.append(obj("context", block_id=BLOCK_MORE, elements=[mrkdwn(more)]))
    if footer := _footer(opts):
        blocks.append(footer)
    text = f"{t(locale, 'list.summary', count=len(rows))}: {mrkdwn_value(', '.join(titles), 300)}"
    return {"text": text, "blocks": blocks}


def notice_message(locale: str, key: str, **kwargs: object) -> dict[str, Any]:
    """A one-section message for help, errors and placeholders: ``notice.<key>`` filled with ``kwargs``.

    Arguments are escaped here; a ``reason`` or ``rule`` code with a translation is translated.
    """
    args = {name: _notice_arg(locale, name, value) for name, value in kwargs.items()}
    text = t(locale, f"notice.{key}", **args)
    block = obj("section", block_id=BLOCK_NOTICE, text=mrkdwn(text))
    return {"text": text, "blocks": [block]}


# ------------------------------------------------------------------------------------------ card


def _card(clue: Clue, opts: CardOptions) -> list[dict[str, Any]]:
    locale = opts.locale
    blocks: list[Json] = [obj("header", block_id=BLOCK_HEADER, text=plain(clue_title(clue, locale, HEADER_LIMIT)))]
    if opts.stale:
        # Under the name, where it cannot be missed: everything below is the last good answer.
        blocks.append(obj("context", block_id=BLOCK_STALE, elements=[stale_line(locale, opts.fetched_at)]))
    blocks.append(obj("context", block_id=BLOCK_META, elements=[mrkdwn(_meta(clue, locale))]))
    summary, _ = _split_custom(clue.other_fields, opts)
    # Whose lead it is comes first: from customer/search (clue/get carries no owner), when it came in time.
    rows = dict(_main_rows(clue, opts))
    rows["field.owner"] = mrkdwn_value(owner_text(clue, opts.owner, locale) or "", _VALUE)
    fields = [mrkdwn(labelled(t(locale, key), value)) for key in _SUMMARY if (value := rows[key])]
    fields += _custom_fields(summary, opts)
    if fields:
        blocks.append(obj("section", block_id=BLOCK_FIELDS, fields=fields))
    if tags := _tags_line(clue, locale, TAG_LINE_WIDTH):
        blocks.append(obj("context", block_id=BLOCK_TAGS,
                          elements=[mrkdwn(f"{bold(t(locale, 'field.tags'))} {tags}")]))
    if times := _times(clue, locale, updated=False):  # updated is in the footer, next to when we checked
        blocks.append(obj("context", block_id=BLOCK_TIMES, elements=times))
    if activity := _activity(opts):
        blocks.append(obj("section", block_id=BLOCK_ACTIVITY, text=mrkdwn(activity)))
    if footer := _footer(opts, clue.updated):
        blocks.append(footer)
    blocks.append(obj("actions", block_id=BLOCK_ACTIONS, elements=_buttons(clue, opts)))
    return blocks


def owner_text(clue: Clue, owner: Owner | None, locale: str) -> str | None:
    """Whose lead it is, unescaped: the owners' names and departments ("张三, 李四 · 销售一部"), or
    "Unassigned" for a clue awaiting assignment (search rows without mainFollows; or, when no owner is
    known, clue/get's ``isClue: false`` on a clue never converted); None when nobody knows."""
    if owner is not None and owner.assigned:
        return " · ".join(part for part in (", ".join(owner.names), ", ".join(owner.departments)) if part)
    if owner is not None or (clue.is_clue is False and not clue.converted_to_customer):
        return t(locale, "owner.unassigned")
    return None


def _tags_line(clue: Clue, locale: str, width: int) -> str | None:
    return tags_line([tag.name for tag in clue.tags if tag.name is not None], clue.unknown_tag_count, locale, width)


def details_blocks(clue: Clue, opts: CardOptions) -> list[Json]:
    """Everything the summary leaves out, for the More details modal (phones masked unless revealed)."""
    locale = opts.locale
    blocks: list[Json] = []
    if opts.stale:
        blocks.append(obj("context", block_id=BLOCK_STALE, elements=[stale_line(locale, opts.fetched_at)]))
    blocks.append(obj("context", block_id=BLOCK_META, elements=[mrkdwn(_meta(clue, locale, ids=True))]))
    # A summary value with an option id the catalog did not know is repeated here, with the id.
    unknown = {key for key, view in (("field.stage", clue.stage), ("field.purchase_intention", clue.purchase_intention))
               if view is not None and view.unresolved}
    rows = [row for row in _main_rows(clue, opts, ids=True) if row[0] not in _SUMMARY or row[0] in unknown]
    if fields := [mrkdwn(labelled(t(locale, key), value)) for key, value in rows if value]:
        blocks.append(obj("section", block_id=BLOCK_FIELDS, fields=fields))
    if tags := _tags(clue.tags, locale, DETAILS.tags):
        blocks.append(obj("section", block_id=BLOCK_TAGS, text=mrkdwn(labelled(t(locale, "field.tags"), tags))))
    if clue.description and (description := _description(clue.description, DETAILS)):
        label = t(locale, "field.description")
        blocks.append(obj("section", block_id=BLOCK_DESCRIPTION, text=mrkdwn(labelled(label, description))))
    _, rest = _split_custom(clue.other_fields, opts)
    rest = [view for view in clue.other_fields if view in rest or view.unresolved]
    if custom := _custom_fields(rest, opts, ids=True):
        blocks.append(obj("section", block_id=BLOCK_CUSTOM, fields=custom))
    if times := _times(clue, locale, updated=True):
        blocks.append(obj("context", block_id=BLOCK_TIMES, elements=times))
    return blocks


def _split_custom(fields: Sequence[FieldView], opts: CardOptions) -> tuple[list[FieldView], list[FieldView]]:
    """The configured summary fields (in configured order, at most ``MAX_SUMMARY_FIELDS``), and the rest."""
    summary: list[FieldView] = []
    for wanted in opts.summary_fields:
        for view in fields:
            if wanted in (view.key, view.label) and view not in summary:
                summary.append(view)
                break
    summary = summary[:MAX_SUMMARY_FIELDS]
    return summary, [view for view in fields if view not in summary]


def _activity(opts: CardOptions) -> str | None:
    """The latest follow-up (time, who, first line of the note), or why it is not shown."""
    locale = opts.locale
    if opts.follow_ups is None:
        return t(locale, "activity.unavailable") if opts.follow_ups_missing else None
    latest = opts.follow_ups.latest
    label = bold(t(locale, "activity.latest"))
    if latest is None:
        return f"{label}\n{t(locale, 'activity.none')}"
    text = f"{label}\n{follow_up_meta(latest, locale)}"
    note = latest.note.strip().split("\n", 1)[0]
    if line := mrkdwn_value(note, _NOTE_LINE):
        text += f"\n{line}"
    if opts.follow_ups_stale:
        text += f"\n{t(locale, 'activity.stale')}"
    return text


def follow_up_meta(item: FollowUp, locale: str) -> str:
    """"<time> · <operator> · <type>" of one follow-up; every part escaped."""
    when = local_time(item.at) if item.at else ""
    who = mrkdwn_value(item.operator or "", _OPERATOR) or t(locale, "follow_up.no_operator")
    return " · ".join(part for part in (when, who, follow_up_kind(item, locale)) if part)


def follow_up_kind(item: FollowUp, locale: str) -> str:
    """The follow-up's type in words ("Note", "System"); a code the docs do not list is "Other"."""
    key = f"follow_up.kind.{item.kind}"
    return t(locale, key) if known(key) else t(locale, "follow_up.kind.other")


def _fallback(clue: Clue, locale: str) -> str:
    """Notification and screen-reader text: id, name and stage; never a phone."""
    parts = [t(locale, "clue.title", id=ref(clue.id))]
    if clue.name and (name := mrkdwn_value(clue.name, _FALLBACK_PART)):
        parts.append(name)
    if clue.stage and (stage := _view_value(clue.stage, locale, _FALLBACK_PART, full_phones=False)):
        parts.append(stage)
    return " · ".join(parts)


def _meta(clue: Clue, locale: str, *, ids: bool = False) -> str:
    """ "ID `8` · Individual", and under the name of a converted clue that it is a customer now; a type code
    the app does not know is "Other type" (its code in More details)."""
    parts = [t(locale, "clue.id", id=ref(clue.id))]
    if clue.kind is not None:
        key = f"kind.{clue.kind}"
        if known(key):
            parts.append(t(locale, key))
        else:
            parts.append(t(locale, "kind.other_code", kind=ref(clue.kind)) if ids else t(locale, "kind.other"))
    if clue.converted_to_customer:
        parts.append(t(locale, "clue.converted"))
    return " · ".join(parts)


def _main_rows(clue: Clue, opts: CardOptions, *, ids: bool = False) -> list[tuple[str, str | None]]:
    """Every built-in field as (label key, escaped value or None); ``ids``: unknown option ids shown."""
    locale = opts.locale
    converted = t(locale, "value.yes" if clue.converted_to_customer else "value.no")
    if clue.is_clue is not None:
        converted += " · " + t(locale, "value.lead" if clue.is_clue else "value.awaiting_assignment")
    full = opts.full_phones
    rows: list[tuple[str, str | None]] = [
        ("field.stage", _view_value(clue.stage, locale, _VALUE, full_phones=full, ids=ids)),
        ("field.source", _view_value(clue.source, locale, _VALUE, full_phones=full, ids=ids)),
        ("field.company", mrkdwn_value(clue.company or "", _VALUE)),
        ("field.purchase_intention", _view_value(clue.purchase_intention, locale, _VALUE, full_phones=full, ids=ids)),
        ("field.phone", _phones(clue.phones, locale, full=full)),
        ("field.converted", converted),
        ("field.gender", _view_value(clue.gender, locale, _VALUE, full_phones=full, ids=ids)),
        ("field.birthday", clue.birthday.isoformat() if clue.birthday else None),
        ("field.address", mrkdwn_value(clue.address or "", _ADDRESS)),
    ]
    return rows


def _view_value(view: FieldView | None, locale: str, limit: int, *, full_phones: bool,
                ids: bool = False) -> str | None:
    """A field for display; a field the CRM types as a phone is masked unless ``full_phones``."""
    if view is None:
        return None
    return mrkdwn_value(option_text(view, locale, mask=view.kind == PHONE and not full_phones, ids=ids), limit)


def _phones(phones: Sequence[str], locale: str, *, full: bool) -> str | None:
    shown = [v for p in phones[:_PHONES_SHOWN] if (v := mrkdwn_value(p if full else mask_phone(p), _PHONE))]
    if len(phones) > _PHONES_SHOWN:
        shown.append(t(locale, "value.more", count=len(phones) - _PHONES_SHOWN))
    return ", ".join(shown) or None


def _tags(tags: Sequence[TagView], locale: str, budget: int) -> str | None:
    """Tag names grouped by tag group ("*行业*: 制造业, 医疗 · *客户等级*: A"), then counts of the rest.

    Tags are added while they fit in ``budget``; those left out and unknown ids are counted, never
    silently dropped.
    """
    groups: dict[str, list[str]] = {}
    for tag in tags:
        if tag.name is not None and (name := mrkdwn_value(tag.name, _TAG)):
            group = mrkdwn_value(tag.group or "", _TAG)
            groups.setdefault(group, []).append(name)
    # Room for the counts at the end ("+60 more · +12 unknown tags").
    room = budget - 60
    segments: list[str] = []
    used = omitted = 0
    for group, names in groups.items():
        head = f"{bold(group)}: " if group else ""
        fitted: list[str] = []
        for name in names:
            cost = len(name) + (2 if fitted else len(head) + (3 if segments else 0))
            if used + cost > room:
                omitted += 1
                continue
            used += cost
            fitted.append(name)
        if fitted:
            segments.append(head + ", ".join(fitted))
    if omitted:
        segments.append(t(locale, "value.more", count=omitted))
    unknown = sum(1 for tag in tags if tag.name is None)
    if unknown:
        key = "tags.unknown.one" if unknown == 1 else "tags.unknown.other"
        segments.append(t(locale, key, count=unknown))
    return " · ".join(segments) or None


def _description(description: str, layout: Layout) -> str:
    text = mrkdwn_value(description, layout.description, multiline=True)
    lines = text.split("\n")
    if len(lines) <= layout.description_lines:
        return text
    kept = "\n".join(lines[: layout.description_lines]).rstrip()
    return kept if kept.endswith("…") else kept + "…"


def _custom_fields(fields: Sequence[FieldView], opts: CardOptions, *, ids: bool = False) -> list[Json]:
    """The tenant's own fields, compactly; phone fields masked like the main phone. The due field is the
    app's own "Next follow-up" wherever it shows (summary or More details), relative too, and says by how
    much once overdue."""
    rendered: list[str] = []
    for view in fields:
        mask = view.kind == PHONE and not opts.full_phones
        label = mrkdwn_value(view.label or view.key, _LABEL)
        if view.time is not None and opts.due_field in (view.key, view.label):
            value, label = _due(view.time, opts), t(opts.locale, "field.next_follow_up")
        elif view.time is not None:
            value = local_time(view.time)  # a datetime field: in the viewer's zone, like created and updated
        else:
            value = mrkdwn_value(option_text(view, opts.locale, mask=mask, ids=ids), _CUSTOM_VALUE)
        if value:
            rendered.append(labelled(label, value))
    if len(rendered) > MAX_FIELDS:
        more = t(opts.locale, "value.more", count=len(rendered) - MAX_FIELDS + 1)
        rendered = [*rendered[: MAX_FIELDS - 1], more]
    return [mrkdwn(text) for text in rendered]


def _times(clue: Clue, locale: str, *, updated: bool) -> list[Json]:
    """Created, (with ``updated``) updated and converted, viewer-local; the card's footer says updated."""
    # The CRM sets lastUpdateTime to createTime until a field changes: saying it twice is noise.
    changed = clue.updated if updated else None
    if changed and clue.created and changed.raw == clue.created.raw:
        changed = None
    times = (("time.created", clue.created), ("time.updated", changed), ("time.converted", clue.converted))
    return [mrkdwn(f"*{t(locale, key)}* {local_time(value)}") for key, value in times if value is not None]


def _due(time: CrmTime, opts: CardOptions) -> str:
    """A due time in the viewer's zone and relative ("in 2 days"); once past, "overdue by 634 days"."""
    epoch = time.epoch
    if epoch is None or epoch < 0:
        return token_text(time.raw)
    fallback = f"{token_text(time.raw)} ({token_text(time.zone)})"
    late = opts.now.timestamp() - epoch
    if late <= 0:
        return f"<!date^{epoch}^{{date_short_pretty}} {{time}} · {{ago}}|{fallback}>"
    overdue = t(opts.locale, "overdue.by", duration=duration(opts.locale, late))
    return f"⚠️ {bold(overdue)} · <!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"


def _footer(opts: CardOptions, updated: CrmTime | None = None) -> Json | None:
    """When we checked the CRM (Slack keeps ``{ago}`` current) and, apart, when the record last changed:
    "Checked just now · updated Mar 5, 2025". A stale card says when it was checked under its name."""
    locale = opts.locale
    changed = local_time(updated) if updated is not None else None
    elements: list[Json] = []
    if opts.stale:
        if changed:
            elements.append(mrkdwn(t(locale, "freshness.stale", updated=changed)))
    elif changed:
        elements.append(mrkdwn(t(locale, "freshness.updated", checked=ago(opts.fetched_at), updated=changed)))
    else:
        elements.append(mrkdwn(t(locale, "freshness", checked=ago(opts.fetched_at))))
    if opts.shared_by:
        elements.append(mrkdwn(t(locale, "shared_by", user=f"<@{opts.shared_by}>")))
    return obj("context", block_id=BLOCK_FOOTER, elements=elements) if elements else None


def _buttons(clue: Clue, opts: CardOptions) -> list[Json]:
    """Open in CRM, Follow-ups and More details in sight; Refresh, Share, Reveal and (a card in a channel)
    Watch in an overflow menu, so the row never wraps."""
    locale, value = opts.locale, str(clue.id)
    elements: list[Json] = []
    if url := safe_url(opts.clue_url):
        elements.append(button(locale, "button.open", ACTION_OPEN, value, url=url))
    elements.append(button(locale, "button.follow_ups", ACTION_FOLLOW_UPS, value))
    elements.append(button(locale, "button.details", ACTION_DETAILS, value))
    more = [_overflow_option(locale, "button.refresh", ACTION_REFRESH, refresh_value(clue.id, opts.shared_by))]
    if opts.private and opts.shareable:
        more.append(_overflow_option(locale, "button.share", ACTION_SHARE, value))
    has_phone = bool(clue.phones) or any(f.kind == PHONE for f in clue.other_fields)
    if opts.private and has_phone and not opts.reveal_phone:
        more.append(_overflow_option(locale, "button.reveal", ACTION_REVEAL, value))
    if opts.watchable and not opts.private:
        more.append(_overflow_option(locale, "button.watch", ACTION_WATCH, value))
    elements.append(obj("overflow", action_id=ACTION_MORE, options=more))
    return elements


def _overflow_option(locale: str, key: str, action_id: str, value: str) -> Json:
    return {"text": plain(t(locale, key)), "value": f"{action_id}{_OVERFLOW_SEP}{value}"}


def action_choice(action: Mapping[str, Any]) -> tuple[str, str] | None:
    """(action id, value) of one entry of a block_actions payload's ``actions``: a button's own, or for the
    card's overflow menu the chosen option's. Untrusted: None when an overflow value names no known action;
    the value is still to be parsed by the caller (``split_button_value``)."""
    action_id = str(action.get("action_id") or "")
    if action_id != ACTION_MORE:
        return action_id, str(action.get("value") or "")
    selected = action.get("selected_option")
    raw = str(selected.get("value") or "") if isinstance(selected, Mapping) else ""
    chosen, sep, value = raw.partition(_OVERFLOW_SEP)
    return (chosen, value) if sep and chosen in OVERFLOW_ACTIONS else None


def refresh_value(clue_id: int, shared_by: str | None) -> str:
    """The Refresh button's value: the clue id, and on a shared card who shared it (so Refresh keeps
    "Shared by"; the message itself is not sent with every click, e.g. not for ephemeral ones)."""
    return f"{clue_id}{_SHARED_BY_SEP}{shared_by}" if shared_by else str(clue_id)


def split_button_value(value: str) -> tuple[str, str | None] | None:
    """A button value as (clue id text, shared-by user id or None); None when the sharer part is not a
    Slack user id. The value is untrusted: the clue id is still to be parsed by the caller."""
    clue, sep, shared_by = value.partition(_SHARED_BY_SEP)
    if not sep:
        return clue, None
    return (clue, shared_by) if _USER_ID.fullmatch(shared_by) else None


# ------------------------------------------------------------------------------------------ list


def _list_row(clue: Clue, locale: str, url: str | None, latest: FollowUp | None) -> Json:
    details = [
        _view_value(clue.stage, locale, _ROW_VALUE, full_phones=False),
        _tags_line(clue, locale, ROW_TAG_WIDTH),
        mrkdwn_value(clue.company or "", _ROW_VALUE),
        _phones(clue.phones[:1], locale, full=False),
        _latest_activity(clue, locale, latest),
    ]
    text = row_text(locale, clue.id, clue.name, details)
    accessory = None
    if safe := safe_url(url):
        accessory = button(locale, "button.open", ACTION_OPEN, str(clue.id), url=safe)
    return obj("section", block_id=BLOCK_ROW.format(id=clue.id), text=mrkdwn(text), accessory=accessory)


def _latest_activity(clue: Clue, locale: str, latest: FollowUp | None) -> str | None:
    """What last happened, saying what it was: the latest follow-up, else the last change, else creation."""
    if latest is not None and latest.at is not None:
        return t(locale, "row.latest_follow_up", when=local_time(latest.at))
    if clue.updated is not None and (clue.created is None or clue.updated.raw != clue.created.raw):
        return t(locale, "row.updated", when=local_time(clue.updated))
    return t(locale, "row.created", when=local_time(clue.created)) if clue.created is not None else None


def _error_row(clue_id: int, key: str, locale: str) -> Json:
    reason = t(locale, f"reason.{key}" if known(f"reason.{key}") else "reason.unknown")  # never the code
    text = f"⚠️ {bold(t(locale, 'clue.title', id=ref(clue_id)))}: {reason}"
    return obj("section", block_id=BLOCK_ROW.format(id=clue_id), text=mrkdwn(text))


# ------------------------------------------------------------------------------------------ helpers

_CODED_ARGS = {"reason": "invalid_reason", "rule": "rule", "why": "search_reason"}
# An admin contact configured as a user or user-group mention stays one; anything else is text.
_MENTION = re.compile(r"<@[UW][A-Z0-9]{2,30}>|<!subteam\^S[A-Z0-9]{2,30}>")


def _notice_arg(locale: str, name: str, value: object) -> str:
    text = str(value)
    prefix = _CODED_ARGS.get(name)
    if prefix:  # a code is translated, and an unknown one is not shown to people as it is
        return t(locale, key if known(key := f"{prefix}.{text}") else "reason.unknown")
    if name == "contact" and _MENTION.fullmatch(text):
        return text
    return mrkdwn_value(text, _NOTICE_ARG)
