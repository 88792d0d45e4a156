"""What a person is told when there is no card: errors and refusals as notices, and one log line each."""

from __future__ import annotations

import logging
from typing import Any

from bot.errors import BotError, ClueNotFound, CrmAuthError, CrmUnavailable
from bot.slack import cards
from bot.slack.access import HIDDEN_RULES
from bot.slack.gate import Refusal

log = logging.getLogger(__name__)

Message = dict[str, Any]


def error_key(exc: BaseException) -> str:
    """The i18n key of the notice that explains an error to a person."""
    if isinstance(exc, ClueNotFound):
        return "not_found"
    if isinstance(exc, CrmAuthError):
        return "crm_clock" if exc.clock_skew else "crm_auth"
    if isinstance(exc, CrmUnavailable):
        return "crm_unavailable"
    return "crm_error"


def log_failure(exc: BotError, clue_id: int, event: str = "clue.lookup.failed") -> None:
    level = logging.INFO if isinstance(exc, ClueNotFound) else logging.WARNING
    log.log(level, event, extra={"clue_id": clue_id, "error": type(exc).__name__, "detail": str(exc)})


def error_notice(exc: BotError, clue_id: int, locale: str) -> Message:
    """The notice for a failed lookup, logged once."""
    log_failure(exc, clue_id)
    return cards.notice_message(locale, error_key(exc), id=clue_id)


def refusal_notice(refusal: Refusal, locale: str) -> Message:
    rule = refusal.args.get("rule")
    if rule in HIDDEN_RULES:  # not a matter of access: the app cannot see the conversation; say what to do
        return cards.notice_message(locale, str(rule))
    return cards.notice_message(locale, refusal.key, **refusal.args)
