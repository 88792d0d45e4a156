"""Clue ids from what people type: ``/clue`` text and links to clues in the CRM.

The id grammar is strict (1–19 digits, positive, at most 2**63-1) so junk never reaches the CRM.
Links match ``CLUE_URL_TEMPLATE`` (``{id}`` marks the id) or any extra ``CLUE_URL_PATTERNS`` regex
with a named group ``id``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.crm.models import MAX_CLUE_ID
from bot.errors import InvalidClueId

MAX_COMMAND_TEXT = 1000
_ID = re.compile(r"#?(\d{1,19})")
# Slack wraps links as <url> or <url|label> when the command escapes them.
_SLACK_LINK = re.compile(r"<([^<>|\s]+)(?:\|[^<>]*)?>")


def parse_clue_id(text: str) -> int:
    """One clue id from text like ``8`` or ``#410983932389440``; InvalidClueId otherwise."""
    match = _ID.fullmatch(text.strip())
    if match is None:
        reason = "too_long" if text.strip().isdigit() else "not_a_number"
        raise InvalidClueId(text, reason)
    value = int(match.group(1))
    if value == 0:
        raise InvalidClueId(text, "zero")
    if value > MAX_CLUE_ID:
        raise InvalidClueId(text, "too_long")
    return value


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
                try:
                    return parse_clue_id(found.group("id"))
                except InvalidClueId:
                    return None
        return None


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """What ``/clue`` was asked: help, or a list of ids (``invalid`` holds tokens that were not ids)."""

    help: bool
    ids: tuple[int, ...] = ()
    invalid: tuple[InvalidClueId, ...] = ()
    too_many: bool = False


def parse_command(text: str, matcher: LinkMatcher, max_ids: int) -> CommandRequest:
    """Parse ``/clue`` text: ``help``, ids, CRM links, separated by spaces or commas."""
    text = text.strip()
    if not text or text.lower() in ("help", "-h", "--help", "?", "帮助"):
        return CommandRequest(help=True)
    if len(text) > MAX_COMMAND_TEXT:
        return CommandRequest(help=False, invalid=(InvalidClueId(text, "text_too_long"),))
    ids: list[int] = []
    invalid: list[InvalidClueId] = []
    for token in re.split(r"[\s,，]+", text):
        if not token:
            continue
        linked = _SLACK_LINK.fullmatch(token)
        url = linked.group(1) if linked else token
        clue_id = matcher.match(url) if "/" in url else None
        if clue_id is None:
            try:
                clue_id = parse_clue_id(url)
            except InvalidClueId as exc:
                invalid.append(InvalidClueId(token, "not_a_clue_link" if "/" in url else exc.reason))
                continue
        if clue_id not in ids:
            ids.append(clue_id)
    too_many = len(ids) > max_ids
    return CommandRequest(help=False, ids=tuple(ids[:max_ids]), invalid=tuple(invalid), too_many=too_many)


def _template_regex(template: str) -> re.Pattern[str]:
    before, after = template.split("{id}", 1)
    scheme_free = re.sub(r"^https?://", "", before, flags=re.IGNORECASE)
    return re.compile(
        r"https?://" + re.escape(scheme_free) + r"(?P<id>\d{1,19})" + re.escape(after) + r"/?(?:[?#].*)?",
        re.IGNORECASE,
    )
