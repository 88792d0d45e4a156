"""RecentLookups: a few clues per person, newest first, one entry per clue, the people seen last kept."""

from __future__ import annotations

from bot.domain.clue import Clue
from bot.slack.recent import RecentLookups


def test_a_person_keeps_their_last_few_clues_newest_first_once_each() -> None:
    recent = RecentLookups(per_person=3, people=10)
    for clue_id in (1, 2, 3, 2, 4):
        recent.note("U1", Clue(id=clue_id, name=f"线索 {clue_id}"))
    assert recent.of("U1") == [(4, "线索 4"), (2, "线索 2"), (3, "线索 3")]
    assert recent.of("U2") == []


def test_only_the_people_seen_last_are_remembered() -> None:
    recent = RecentLookups(per_person=2, people=2)
    for user in ("U1", "U2", "U1", "U3"):  # U2 is now the least recent
        recent.note(user, Clue(id=8))
    assert recent.of("U2") == [] and recent.of("U1") == [(8, None)] and recent.of("U3") == [(8, None)]
