"""Pure Block Kit for the personal side: "is this you?", ``/clue mine`` and the App Home view.

Same rules as ``cards``: no I/O, every CRM string escaped and bounded, rows worded like search rows
(``search_cards.result_row``). Home stays within Slack's 100 blocks whoever opens it: counts, the first
page of clues (``HOME_ROWS``) and "see all" through ``/clue mine``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.people import Agenda, Employee, OwnedClue
from bot.domain.text import mrkdwn_value
from bot.slack.blocks import Json, button, local_time, mrkdwn, obj, plain, stale_line
from bot.slack.cards import BLOCK_NOTICE, notice_message
from bot.slack.i18n import t
from bot.slack.search_cards import result_row

ACTION_ME_YES = "clue_me_yes"
ACTION_ME_NOT_ME = "clue_me_not_me"
ACTION_MINE_PREVIOUS = "clue_mine_previous"
ACTION_MINE_NEXT = "clue_mine_next"
ACTION_NUDGE_TIME = "clue_nudge_time"  # Home's static_select of the nudge time: picking one turns it on
ACTION_NUDGE_OFF = "clue_nudge_off"
ACTION_LANGUAGE = "clue_language"  # Home's static_select of the language (LANGUAGE_SLACK: Slack's own)

BLOCK_ME_ACTIONS = "clue_me_actions"
BLOCK_MINE_SUMMARY = "clue_mine_summary"
BLOCK_MINE_PAGING = "clue_mine_paging"
BLOCK_MINE_HINT = "clue_mine_hint"
BLOCK_STALE = "clue_mine_stale"
BLOCK_LANGUAGE = "clue_home_language"
BLOCK_NUDGE = "clue_home_nudge"
BLOCK_NUDGE_ACTIONS = "clue_home_nudge_actions"

MINE_PAGE_ROWS = 10
HOME_ROWS = 10
HOME_SUBSCRIPTIONS = 10  # channel alerts listed in Home (the rest counted)
MAX_HOME_BLOCKS = 100  # Slack's limit for a view
# The nudge times Home offers: a working morning, every half hour (the store takes any HH:MM).
NUDGE_TIMES = tuple(f"{minutes // 60:02d}:{minutes % 60:02d}" for minutes in range(7 * 60, 11 * 60 + 1, 30))
_NAME = 60
# Each language named in itself, whatever the Home's language; LANGUAGE_SLACK: follow the Slack setting.
LANGUAGES = {"en": "English", "zh": "简体中文", "zh-TW": "繁體中文"}
LANGUAGE_SLACK = "slack"


def match_prompt(locale: str, employee: Employee, by: str) -> dict[str, Any]:
    """The offer of a match: "You are 张三 in the CRM", Yes (carrying the salesId, checked again) or Not me."""
    message = notice_message(locale, "me_match", name=employee.name[:_NAME], by=t(locale, f"people.by.{by}"))
    actions = [{**button(locale, "button.me_yes", ACTION_ME_YES, employee.sales_id[:64]), "style": "primary"},
               button(locale, "button.me_not_me", ACTION_ME_NOT_ME, "not_me")]
    message["blocks"].append(obj("actions", block_id=BLOCK_ME_ACTIONS, elements=actions))
    return message


def _due(clue: OwnedClue, now: datetime, locale: str) -> str | None:
    if clue.due is None:
        return None
    when = local_time(clue.due)
    overdue = clue.due.at is not None and clue.due.at < now
    return t(locale, "mine.overdue" if overdue else "mine.due", when=when)


def agenda_rows(agenda: Agenda, start: int, count: int, now: datetime, locale: str) -> list[Json]:
    return [result_row(c.hit, locale, due=_due(c, now, locale)) for c in agenda.clues[start:start + count]]


def _summary(agenda: Agenda, locale: str) -> Json:
    return obj("section", block_id=BLOCK_MINE_SUMMARY, text=mrkdwn(t(
        locale, "mine.summary", overdue=agenda.overdue, today=agenda.due_today, total=len(agenda.clues))))


@dataclass(frozen=True, slots=True)
class Freshness:
    fetched_at: datetime
    stale: bool = False


def mine_message(agenda: Agenda, page_no: int, freshness: Freshness, now: datetime, locale: str) -> dict[str, Any]:
    """One page of ``/clue mine``: the counts, ``MINE_PAGE_ROWS`` rows in working order, Previous / Next."""
    if not agenda.clues:
        return notice_message(locale, "mine_none")
    pages = -(-len(agenda.clues) // MINE_PAGE_ROWS)
    page_no = min(max(page_no, 1), pages)
    blocks: list[Json] = [_summary(agenda, locale)]
    if freshness.stale:
        blocks.append(obj("context", block_id=BLOCK_STALE, elements=[stale_line(locale, freshness.fetched_at)]))
    blocks += agenda_rows(agenda, (page_no - 1) * MINE_PAGE_ROWS, MINE_PAGE_ROWS, now, locale)
    hints = [t(locale, "mine.page", page=page_no, pages=pages)] if pages > 1 else []
    if not agenda.complete:
        hints.append(t(locale, "mine.incomplete", count=len(agenda.clues)))
    if hints:
        blocks.append(obj("context", block_id=BLOCK_MINE_HINT, elements=[mrkdwn(" · ".join(hints))]))
    paging = []
    if page_no > 1:
        paging.append(button(locale, "button.previous", ACTION_MINE_PREVIOUS, str(page_no - 1)))
    if page_no < pages:
        paging.append(button(locale, "button.next", ACTION_MINE_NEXT, str(page_no + 1)))
    if paging:
        blocks.append(obj("actions", block_id=BLOCK_MINE_PAGING, elements=paging))
    text = t(locale, "mine.summary", overdue=agenda.overdue, today=agenda.due_today, total=len(agenda.clues))
    return {"text": text.replace("*", ""), "blocks": blocks}


# ------------------------------------------------------------------ App Home


@dataclass(frozen=True, slots=True)
class HomeState:
    """Everything Home shows, gathered by the feature (any part may be missing: the CRM or database failed)."""

    locale: str
    contact: str
    now: datetime
    name: str | None = None  # the linked CRM user's name; None: not linked
    sales_id: str | None = None
    gone: bool = False  # linked, but the CRM no longer lists the user
    agenda: Agenda | None = None  # None while linked: the CRM failed with nothing to show
    freshness: Freshness | None = None
    subscriptions: Sequence[str] = ()  # "<#C…> · every new clue", escaped
    subscription_count: int = 0
    nudge_at: str | None = None
    tz: str | None = None
    chosen_locale: str | None = None  # the language chosen in Home; None: Slack's
    recent: Sequence[str] = ()  # the person's recent lookups, one mrkdwn line each (escaped)


def _section(text: str, **parts: Any) -> Json:
    return obj("section", text=mrkdwn(text), **parts)


def _select(action_id: str, options: Sequence[tuple[str, str]], initial: str | None, placeholder: str) -> Json:
    """A static_select of ``(value, text)`` options; ``initial`` (a value) shown as chosen."""
    made = [{"text": plain(text), "value": value} for value, text in options]
    chosen = next((o for o in made if o["value"] == initial), None)
    return obj("static_select", action_id=action_id, options=made, initial_option=chosen,
               placeholder=plain(placeholder))


def home_view(state: HomeState) -> dict[str, Any]:
    """The Home tab: who you are, what is due (counts and the first page), your channel alerts, settings."""
    locale = state.locale
    blocks: list[Json] = []
    if state.name is None:
        blocks.append(_section(t(locale, "home.unlinked")))
    elif state.gone:
        blocks.append(_section(t(locale, "home.stale_link", name=mrkdwn_value(state.name, _NAME),
                                 sales_id=mrkdwn_value(state.sales_id or "", 64), contact=state.contact)))
    else:
        blocks.append(_section(t(locale, "home.you", name=mrkdwn_value(state.name, _NAME))))
        blocks += _home_agenda(state)
    if state.recent:
        blocks.append(obj("divider"))
        blocks.append(_section(t(locale, "home.recent")))
        blocks.append(obj("context", elements=[mrkdwn("\n".join(state.recent))]))
    blocks.append(obj("divider"))
    blocks.append(_section(t(locale, "home.subscriptions")))
    if state.subscriptions:
        listed = "\n".join(state.subscriptions[:HOME_SUBSCRIPTIONS])
        more = state.subscription_count - len(state.subscriptions[:HOME_SUBSCRIPTIONS])
        if more > 0:
            listed += "\n" + t(locale, "value.more", count=more)
        blocks.append(obj("context", elements=[mrkdwn(listed)]))
    else:
        blocks.append(obj("context", elements=[mrkdwn(t(locale, "home.subscriptions_none"))]))
    blocks.append(obj("divider"))
    blocks += _settings(state)
    assert len(blocks) <= MAX_HOME_BLOCKS  # noqa: S101 - held by HOME_ROWS and the fixed parts
    return {"type": "home", "blocks": blocks}


def _home_agenda(state: HomeState) -> list[Json]:
    locale, agenda = state.locale, state.agenda
    if agenda is None:
        return [obj("context", block_id=BLOCK_NOTICE, elements=[mrkdwn(t(locale, "home.crm_failed"))])]
    blocks: list[Json] = [_summary(agenda, locale)]
    if state.freshness is not None and state.freshness.stale:
        blocks.append(obj("context", block_id=BLOCK_STALE, elements=[stale_line(locale, state.freshness.fetched_at)]))
    blocks += agenda_rows(agenda, 0, HOME_ROWS, state.now, locale)
    if len(agenda.clues) > HOME_ROWS or not agenda.complete:
        blocks.append(obj("context", block_id=BLOCK_MINE_HINT,
                          elements=[mrkdwn(t(locale, "home.see_all", count=min(HOME_ROWS, len(agenda.clues))))]))
    return blocks


def _settings(state: HomeState) -> list[Json]:
    """Language and the morning nudge, each with its select; both are stored on the link (none without one)."""
    locale = state.locale
    language = t(locale, "home.language_chosen" if state.chosen_locale else "home.language",
                 language=LANGUAGES.get(locale, locale))
    blocks: list[Json] = [_section(t(locale, "home.settings"))]
    if state.name is None or state.gone:
        blocks.append(obj("context", elements=[mrkdwn(language)]))
        return blocks
    languages = [(LANGUAGE_SLACK, t(locale, "home.language_slack")), *LANGUAGES.items()]
    blocks.append(_section(language, block_id=BLOCK_LANGUAGE, accessory=_select(
        ACTION_LANGUAGE, languages, state.chosen_locale or LANGUAGE_SLACK, t(locale, "home.language_pick"))))
    nudge = (t(locale, "home.nudge_on", time=state.nudge_at, tz=mrkdwn_value(state.tz or "UTC", 64))
             if state.nudge_at else t(locale, "home.nudge_off"))
    times = sorted({*NUDGE_TIMES, *([state.nudge_at] if state.nudge_at else [])})  # a time set before stays shown
    blocks.append(_section(nudge, block_id=BLOCK_NUDGE, accessory=_select(
        ACTION_NUDGE_TIME, [(at, at) for at in times], state.nudge_at, t(locale, "home.nudge_pick"))))
    if state.nudge_at:
        blocks.append(obj("actions", block_id=BLOCK_NUDGE_ACTIONS,
                          elements=[button(locale, "button.nudge_off", ACTION_NUDGE_OFF, "off")]))
    return blocks


# ------------------------------------------------------------------ the morning nudge

NUDGE_ROWS = 10  # overdue and due-today rows in a nudge; the new ones get as many again


def nudge_due(agenda: Agenda) -> list[OwnedClue]:
    """The clues a nudge names: overdue, or due before the end of the person's day (``agenda`` counts them)."""
    return list(agenda.clues[:agenda.overdue + agenda.due_today])


def nudge_message(agenda: Agenda, new: Sequence[OwnedClue], now: datetime, locale: str) -> dict[str, Any]:
    """The direct message: what is overdue or due today (working order), then what is new to you."""
    title = t(locale, "nudge.title", overdue=agenda.overdue, today=agenda.due_today, new=len(new))
    blocks: list[Json] = [obj("section", block_id=BLOCK_MINE_SUMMARY, text=mrkdwn(f"*{title}*"))]
    due = nudge_due(agenda)
    blocks += [result_row(c.hit, locale, due=_due(c, now, locale)) for c in due[:NUDGE_ROWS]]
    if new:
        blocks.append(_section(t(locale, "nudge.new")))
        blocks += [result_row(c.hit, locale, due=_due(c, now, locale)) for c in new[:NUDGE_ROWS]]
    if len(due) > NUDGE_ROWS or len(new) > NUDGE_ROWS:
        blocks.append(obj("context", block_id=BLOCK_MINE_HINT,
                          elements=[mrkdwn(t(locale, "home.see_all", count=NUDGE_ROWS))]))
    return {"text": title, "blocks": blocks}
