"""The clues each person looked up lately, for their Home tab: what they asked for themselves (``/clue``, its
buttons, the Find-a-clue pick, the details pane), never a link someone else posted.

Kept in this instance's memory only: bounded (the people seen last, a few clues each), forgotten on restart,
and in a fleet each instance remembers what it served. A clue's name is the one its card showed.
"""

from __future__ import annotations

from collections import OrderedDict

from bot.domain.clue import Clue

PER_PERSON = 5
PEOPLE = 10_000


class RecentLookups:
    def __init__(self, per_person: int = PER_PERSON, people: int = PEOPLE) -> None:
        self._per_person = per_person
        self._people = people
        self._seen: OrderedDict[str, dict[int, str | None]] = OrderedDict()

    def note(self, user_id: str, clue: Clue) -> None:
        """``user_id`` was shown ``clue``'s card (the newest first; one entry per clue)."""
        mine = self._seen.get(user_id)
        if mine is None:
            mine = self._seen[user_id] = {}
            if len(self._seen) > self._people:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(user_id)
            mine.pop(clue.id, None)
        mine[clue.id] = clue.name
        if len(mine) > self._per_person:
            del mine[next(iter(mine))]

    def of(self, user_id: str) -> list[tuple[int, str | None]]:
        """``(clue id, name)`` of the person's recent lookups, newest first."""
        return list(reversed((self._seen.get(user_id) or {}).items()))
