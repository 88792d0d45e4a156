"""The one exception tree of clue bot.

    BotError
    ├── ConfigError          invalid or incomplete configuration (lists every problem)
    ├── InvalidClueId        junk id from a user, rejected before any CRM call
    ├── CrmError             anything the CRM did wrong (keeps code and message when it has them)
    │   ├── ClueNotFound     the clue does not exist (or the CRM answered with empty data)
    │   ├── CrmUnavailable   timeout, connection error, HTTP 5xx, open circuit, rate limit
    │   ├── CrmAuthError     signature rejected (1002) or clock skew (1003): misconfiguration
    │   └── CrmProtocolError non-JSON, missing code, wrong shape, oversized body
    ├── StoreError           the alerts database failed: alerts pause, lookups go on
    └── PushRefused          a CRM push we will not process (bad signature, stale, undecryptable): 401 / 400
    SlackCallFailed          a call to Slack failed (error code, HTTP status); logged and counted
                             once where it was raised (bot.slack.webapi): catchers log nothing more

Listeners translate each BotError into a helpful message; anything else is a bug and reaches
the app's error handler.
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error clue bot raises on purpose."""


class SlackCallFailed(Exception):
    """Slack refused or never answered a call: ``error`` is Slack's code (``http_502`` for an answer without
    one, the exception's name when nothing came back), ``status`` the HTTP status when there was an answer.

    Not a ``BotError``: it says nothing about the CRM, and the listeners' CRM error notices must not catch it.
    """

    def __init__(self, method: str, error: str, status: int | None = None) -> None:
        self.method = method
        self.error = error
        self.status = status
        super().__init__(f"{method} failed: {error} (HTTP {status})")


class ConfigError(BotError):
    """The configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems))


class InvalidClueId(BotError):
    """A clue id given by a person is not a plausible CRM id."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"invalid clue id {text[:40]!r}: {reason}")


class CrmError(BotError):
    """The CRM failed; ``code`` and ``crm_message`` are the envelope's when there was one."""

    def __init__(self, message: str, *, code: int | None = None, crm_message: str | None = None) -> None:
        self.code = code
        self.crm_message = crm_message
        super().__init__(message)


class ClueNotFound(CrmError):
    """The CRM has no clue with this id."""

    def __init__(self, clue_id: int) -> None:
        self.clue_id = clue_id
        super().__init__(f"clue {clue_id} not found")


class CrmUnavailable(CrmError):
    """The CRM could not be reached in time, failed with 5xx, or we refused to call it."""


class CrmAuthError(CrmError):
    """The CRM rejected our signature (1002) or our clock (1003): an operator must fix configuration."""

    @property
    def clock_skew(self) -> bool:
        return self.code == 1003


class CrmProtocolError(CrmError):
    """The CRM answered something that is not the documented envelope."""


class StoreError(BotError):
    """The alerts database failed (unreachable, locked, full, or a migration failed): alerts pause, lookups
    go on."""


class PushRefused(BotError):
    """A CRM push refused before anything of it is processed: ``status`` (401 for its headers, 400 for its body)
    and ``reason``, a short code for the one log line (never the body, never a key)."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"push refused ({status}): {reason}")
