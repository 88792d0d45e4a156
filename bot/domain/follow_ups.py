"""Follow-ups (跟进记录) of a clue, as read from the CRM: newest first, one page at a time."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.clue import CrmTime

FREE_TEXT = 1  # written by a salesperson
SYSTEM_TEXT = 2  # written by the CRM (assignment, stage change, …)


@dataclass(frozen=True, slots=True)
class FollowUp:
    id: str
    kind: int | None  # FREE_TEXT, SYSTEM_TEXT, or a code the docs do not list
    note: str
    at: CrmTime | None
    operator: str | None  # the operator's name; None when the CRM sent none


@dataclass(frozen=True, slots=True)
class FollowUpPage:
    """One page of follow-ups; ``next_cursor`` fetches the next (older) page, None at the end."""

    items: tuple[FollowUp, ...]
    next_cursor: str | None

    @property
    def latest(self) -> FollowUp | None:
        return self.items[0] if self.items else None
