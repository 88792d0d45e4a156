"""Clue ids from what people type: ``/clue`` text and links to clues in the CRM.

The id grammar is strict (1–19 ASCII digits, positive, at most 2**63-1) so junk never reaches the
CRM; ``/clue`` text also accepts full-width digits typed with a Chinese IME. Links match
``CLUE_URL_TEMPLATE`` (``{id}`` marks the id) or any extra ``CLUE_URL_PATTERNS`` regex with a named
group ``id``.

Search (issue 15): ``find <text>`` (also ``search``, ``搜索``, ``查找``) always searches; a phone written
with separators or a country code (``+86 138-0013-8000``, ``138 0013 8000``) searches; text in which no
token is an id or a link searches (``/clue 张三``). Digits alone are always ids, whatever their length:
``/clue 13800138000`` looks up clue 13800138000, ``/clue find 13800138000`` searches the phone.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.ids import parse_clue_id
from bot.domain.search import written_phone
from bot.errors import InvalidClueId

MAX_COMMAND_TEXT = 1000
# Slack wraps links as <url> or <url|label> when the command escapes them; a label may hold spaces.
_SLACK_LINK = re.compile(r"<([^<>|\s]+)(?:\|[^<>]*)?>")
# What a Chinese IME types in full-width mode: ０-９ and ＃.
_FULL_WIDTH = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "＃": "#"})
SEARCH_WORDS = frozenset({"find", "search", "搜索", "查找"})
# Alerts (bot.slack.features.alerts): the word typed -> the command
ALERT_WORDS = {"subscribe": "subscribe", "订阅": "subscribe", "訂閱": "subscribe",
               "subscriptions": "subscriptions", "unsubscribe": "unsubscribe", "取消订阅": "unsubscribe",
               "取消訂閱": "unsubscribe",
               "watch": "watch", "关注": "watch", "關注": "watch", "unwatch": "unwatch", "取消关注": "unwatch",
               "取消關注": "unwatch", "watches": "watches", "关注列表": "watches", "關注列表": "watches"}
# People (bot.slack.features.people): the word typed -> the command
PEOPLE_WORDS = {"me": "me", "我": "me", "link": "link", "unlink": "unlink", "mine": "mine", "我的": "mine"}
HELP_WORDS = frozenset({"help", "-h", "--help", "?", "帮助", "幫助"})
# A near miss of these (`/clue subscrib`) is answered with the command it resembles, not searched as a name.
# Words typed shorter than NEAR_MISS_CHARS letters are names far more often (`/clue Lin`, `/clue mina`).
COMMAND_WORDS = tuple(sorted(w for w in (*ALERT_WORDS, *PEOPLE_WORDS, *SEARCH_WORDS, "help") if w.isascii()))
NEAR_MISS_CHARS = 5


class LinkMatcher:
    """Recognises links to clues in the CRM and extracts the clue id."""

    def __init__(self, template: str, patterns: Iterable[str] = ()) -> None:
        self._template = template
        self._patterns = [_template_regex(template), *(re.compile(p) for p in patterns)]

    def url_for(self, clue_id: int) -> str:
        return self._template.replace("{id}", str(clue_id))

    def match(self, url: str) -> int | None:
        """The clue id of a link, or None. Slack HTML-escapes ``&`` in links: unescape to parse."""
        text = html.unescape(url.strip())
        for pattern in self._patterns:
            found = pattern.fullmatch(text)
            if found is not None:
                # An extra pattern's id group may not take part in a match, e.g. (?:a|b(?P<id>\d+)).
                value = found.groupdict().get("id")
                try:
                    return parse_clue_id(value) if isinstance(value, str) else None
                except InvalidClueId:
                    return None
        return None


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """What ``/clue`` was asked: help, a list of ids (``invalid`` holds tokens that were not ids), or a
    search (``search`` is the raw text to search, normalised by ``bot.domain.search``)."""

    help: bool
    ids: tuple[int, ...] = ()
    invalid: tuple[InvalidClueId, ...] = ()
    too_many: bool = False
    search: str | None = None
    alerts: tuple[str, str] | None = None  # (command, the rest of the text): /clue subscribe stage:新线索
    people: tuple[str, str] | None = None  # (command, the rest of the text): /clue link U012AB3CD 1001
    near_miss: tuple[str, str] | None = None  # (the word typed, the command it resembles): /clue subscrib


def parse_command(text: str, matcher: LinkMatcher, max_ids: int) -> CommandRequest:
    """Parse ``/clue`` text: ``help``, ids, CRM links, separated by spaces or commas, or a search."""
    text = text.strip()
    if text.isdigit() and text.isascii():  # the common `/clue 8`, without the tokenizer
        try:
            return CommandRequest(help=False, ids=(parse_clue_id(text),))
        except InvalidClueId as exc:
            return CommandRequest(help=False, invalid=(exc,))
    if not text or text.lower() in HELP_WORDS:
        return CommandRequest(help=True)
    if len(text) > MAX_COMMAND_TEXT:
        return CommandRequest(help=False, invalid=(InvalidClueId(text, "text_too_long"),))
    first, _, rest = text.partition(" ")
    if first.lower() in ALERT_WORDS:
        return CommandRequest(help=False, alerts=(ALERT_WORDS[first.lower()], rest.strip()))
    if first.lower() in PEOPLE_WORDS:
        return CommandRequest(help=False, people=(PEOPLE_WORDS[first.lower()], rest.strip()))
    if first.lower() in SEARCH_WORDS:
        return CommandRequest(help=False, search=rest.strip())
    command = near_miss(first)
    if command is not None:
        return CommandRequest(help=False, near_miss=(first, command))
    if written_phone(text) is not None:
        return CommandRequest(help=False, search=text)
    ids: list[int] = []
    invalid: list[InvalidClueId] = []
    # Only the URL of <url|label> counts (the label is display text, and may contain spaces).
    unwrapped = _SLACK_LINK.sub(lambda m: f" {m.group(1)} ", text)
    for token in re.split(r"[\s,，]+", unwrapped):
        if not token:
            continue
        clue_id = matcher.match(token) if "/" in token else None
        if clue_id is None:
            try:
                clue_id = parse_clue_id(token.translate(_FULL_WIDTH))
            except InvalidClueId as exc:
                invalid.append(InvalidClueId(token, "not_a_clue_link" if "/" in token else exc.reason))
                continue
        if clue_id not in ids:
            ids.append(clue_id)
    if not ids and not invalid:  # only separators, e.g. "/clue ,"
        return CommandRequest(help=True)
    if not ids and not any("/" in bad.text for bad in invalid):  # no id, no link: words to search
        return CommandRequest(help=False, search=text)
    too_many = len(ids) > max_ids
    return CommandRequest(help=False, ids=tuple(ids[:max_ids]), invalid=tuple(invalid), too_many=too_many)


def near_miss(word: str) -> str | None:
    """The command word ``word`` is a typo of (``subscrib`` → ``subscribe``), or None."""
    if len(word) < NEAR_MISS_CHARS or not (word.isascii() and word.isalpha()):
        return None
    close = difflib.get_close_matches(word.lower(), COMMAND_WORDS, n=1, cutoff=0.85)
    return close[0] if close else None


def _template_regex(template: str) -> re.Pattern[str]:
    before, after = template.split("{id}", 1)
    scheme_free = re.sub(r"^https?://", "", before, flags=re.IGNORECASE)
    # After the id: a trailing slash, a query or a fragment; when the id is itself a query parameter
    # (``/clue?id={id}``), further parameters follow with ``&``.
    rest = r"(?:[&#].*)?" if "?" in before else r"/?(?:[?#].*)?"
    return re.compile(
        r"https?://" + re.escape(scheme_free) + r"(?P<id>[0-9]{1,19})" + re.escape(after) + rest,
        re.IGNORECASE,
    )
