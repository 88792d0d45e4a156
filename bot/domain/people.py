"""Who a Slack person is in the CRM, and their own clues in the order a salesperson works them: pure, no I/O.

Matching (``match``) compares the Slack profile's e-mail, then its phone, with the CRM's employees. The CRM
documents only ``salesId`` and a name for employees (crm-api.md section 7a); e-mail and mobile may be absent,
and then nothing matches and the person is told how to be linked. Nothing is guessed: two employees with the
same e-mail or phone is an ambiguous match, never a pick.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.clue import CrmTime
from bot.domain.search import SearchHit

MIN_PHONE_DIGITS = 7  # shorter "phones" (an extension) never identify anyone
_NOT_DIGITS = re.compile(r"\D")

# match outcomes
MATCHED, AMBIGUOUS, UNMATCHED, NO_CONTACT = "matched", "ambiguous", "unmatched", "no_contact"


@dataclass(frozen=True, slots=True)
class Employee:
    """A CRM user (get-users): ``sales_id`` and a name are documented; the rest only when the CRM sends it."""

    sales_id: str
    name: str
    email: str | None = None
    mobile: str | None = None
    qw_user_id: str | None = None


@dataclass(frozen=True, slots=True)
class SlackProfile:
    """What ``users.info`` says of a person: any of it may be absent (no scope, an empty profile field)."""

    user_id: str
    email: str | None = None
    phone: str | None = None
    tz: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    outcome: str  # MATCHED, AMBIGUOUS, UNMATCHED, NO_CONTACT
    employee: Employee | None = None
    by: str | None = None  # "email" or "phone": what matched (or matched several)


def phone_digits(text: str | None) -> str | None:
    """A phone as comparable digits: full-width folded, separators dropped, a +86 / 0086 prefix removed."""
    if not text:
        return None
    digits = _NOT_DIGITS.sub("", unicodedata.normalize("NFKC", text))
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


def _email(text: str | None) -> str | None:
    text = (text or "").strip().casefold()
    return text if "@" in text else None


def match(profile: SlackProfile, employees: Sequence[Employee]) -> Match:
    """The one employee whose e-mail (else phone) is the profile's; AMBIGUOUS when several are."""
    email, phone = _email(profile.email), phone_digits(profile.phone)
    if email is None and phone is None:
        return Match(NO_CONTACT)
    for by, mine in (("email", email), ("phone", phone)):
        if mine is None:
            continue
        found = {e.sales_id: e for e in employees
                 if (_email(e.email) if by == "email" else phone_digits(e.mobile)) == mine}
        if len(found) == 1:
            return Match(MATCHED, next(iter(found.values())), by)
        if len(found) > 1:
            return Match(AMBIGUOUS, by=by)
    return Match(UNMATCHED)


def owners_sales_ids(names: Sequence[str], employees: Sequence[Employee]) -> tuple[set[str], list[str]]:
    """The salesIds of a clue's owners, as search rows name them (``salesName``, else ``qwSalesId``): an employee
    of that name or WeCom id, when exactly one is; and the names that several employees share (never picked)."""
    found: set[str] = set()
    ambiguous: list[str] = []
    for name in names:
        ids = {e.sales_id for e in employees if name in (e.name, e.qw_user_id)}
        if len(ids) == 1:
            found |= ids
        elif ids:
            ambiguous.append(name)
    return found, ambiguous


# ---------------------------------------------------------------- my clues


@dataclass(frozen=True, slots=True)
class OwnedClue:
    """One of a person's clues: its search row and when it is next due (the CLUE_DUE_FIELD value)."""

    hit: SearchHit
    due: CrmTime | None = None


@dataclass(frozen=True, slots=True)
class OwnedClues:
    """Everything read of a person's clues: ``complete`` False when more were owned than one read takes."""

    clues: tuple[OwnedClue, ...]
    complete: bool = True


@dataclass(frozen=True, slots=True)
class Agenda:
    """A person's clues in working order: overdue (longest overdue first), then due (soonest first), then
    those with no due time (newest first); with the counts Home and the nudge show."""

    clues: tuple[OwnedClue, ...]
    overdue: int
    due_today: int
    complete: bool


def agenda(owned: OwnedClues, now: datetime, tz: ZoneInfo) -> Agenda:
    """``owned`` sorted for work; "today" is the person's own day in ``tz`` (their Slack time zone)."""
    start = now.timestamp()
    end_of_day = (datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tz) + timedelta(days=1)).timestamp()

    def order(clue: OwnedClue) -> tuple[int, float]:
        at = clue.due.at if clue.due is not None else None
        if at is None:
            created = clue.hit.created.at if clue.hit.created is not None else None
            return 2, -(created.timestamp() if created is not None else 0.0)
        return (0 if at.timestamp() < start else 1), at.timestamp()

    ordered = tuple(sorted(owned.clues, key=order))
    dues = [c.due.at.timestamp() for c in ordered if c.due is not None and c.due.at is not None]
    return Agenda(ordered, overdue=sum(1 for d in dues if d < start),
                  due_today=sum(1 for d in dues if start <= d < end_of_day), complete=owned.complete)
