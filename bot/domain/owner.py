"""Whose lead a clue is (负责人): what ``customer/search`` rows say of the clue, pure data.

clue/get names no owner (crm-api.md section 7a); the owner comes from the search rows of the clue's
``customerId``: one row per sales relationship, each with its ``mainFollows`` (``salesName``,
``qwSalesId``) and department names. A row without ``mainFollows`` is a clue awaiting assignment; no row at
all says nothing (the read answers None: unknown, shown as nothing).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Owner:
    """The owners' names (several relationships, several names; deduplicated, in the CRM's order) and
    their departments. No name: the clue is awaiting assignment."""

    names: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()

    @property
    def assigned(self) -> bool:
        return bool(self.names)
