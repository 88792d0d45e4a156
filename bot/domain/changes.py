"""What a watched clue's card shows, as a snapshot: its fingerprint, and what changed between two.

Pure. The fingerprint covers what a watch reports (stage, owner, tags, latest follow-up), not the clue's
name, which the snapshot keeps only to title the reply. Snapshots are stored as JSON (``bot.store``); one
that cannot be read back reads as empty, so a change is still reported, never a crash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from bot.domain.clue import Clue
from bot.domain.follow_ups import FollowUp
from bot.domain.owner import Owner

_NOTE = 150  # the first line of a follow-up's note, as the card shows it


@dataclass(frozen=True, slots=True)
class FollowUpSeen:
    id: str
    at: str | None  # the CRM's time text
    operator: str | None
    note: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    name: str | None = None
    stage: str | None = None
    owner: str | None = None  # names · departments; "" awaiting assignment; None: nobody knows
    tags: tuple[str, ...] = ()  # names, sorted
    follow_up: FollowUpSeen | None = None  # the latest

    @property
    def fingerprint(self) -> str:
        shown = {"stage": self.stage, "owner": self.owner, "tags": list(self.tags),
                 "follow_up": asdict(self.follow_up) if self.follow_up else None}
        return hashlib.sha256(_json(shown).encode()).hexdigest()

    def to_json(self) -> str:
        return _json(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        try:
            raw = json.loads(text)
            seen = raw.get("follow_up")
            return cls(name=_text(raw.get("name")), stage=_text(raw.get("stage")), owner=_text(raw.get("owner")),
                       tags=tuple(str(tag) for tag in raw.get("tags") or ()),
                       follow_up=FollowUpSeen(str(seen["id"]), _text(seen.get("at")), _text(seen.get("operator")),
                                              str(seen.get("note") or "")) if isinstance(seen, dict) else None)
        except (ValueError, TypeError, AttributeError, KeyError):
            return cls()


def snapshot(clue: Clue, owner: Owner | None, latest: FollowUp | None) -> Snapshot:
    """What the card of ``clue`` shows of it, with its owner and latest follow-up as read."""
    owner_text = None
    if owner is not None:
        owner_text = " · ".join(part for part in (", ".join(owner.names), ", ".join(owner.departments)) if part)
    seen = None
    if latest is not None:
        note = latest.note.strip().split("\n", 1)[0][:_NOTE]
        seen = FollowUpSeen(latest.id, latest.at.raw if latest.at else None, latest.operator, note)
    return Snapshot(name=clue.name, stage=clue.stage.text if clue.stage else None, owner=owner_text,
                    tags=tuple(sorted({tag.name for tag in clue.tags if tag.name})), follow_up=seen)


@dataclass(frozen=True, slots=True)
class Change:
    """What changed between two snapshots of one clue (only what differs is set)."""

    stage: tuple[str | None, str | None] | None = None
    owner: tuple[str | None, str | None] | None = None
    tags_added: tuple[str, ...] = ()
    tags_removed: tuple[str, ...] = ()
    follow_up: FollowUpSeen | None = None  # a newer latest follow-up

    @property
    def empty(self) -> bool:
        return self == Change()


def changed(before: Snapshot, after: Snapshot) -> Change:
    return Change(
        stage=(before.stage, after.stage) if before.stage != after.stage else None,
        owner=(before.owner, after.owner) if before.owner != after.owner else None,
        tags_added=tuple(tag for tag in after.tags if tag not in before.tags),
        tags_removed=tuple(tag for tag in before.tags if tag not in after.tags),
        follow_up=after.follow_up if after.follow_up is not None and after.follow_up != before.follow_up else None)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _text(value: object) -> str | None:
    return None if value is None else str(value)
