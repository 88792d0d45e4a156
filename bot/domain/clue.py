"""The resolved clue: what a person reads, with ids already turned into names.

Cards render these; caches store them (``to_json`` / ``from_json`` carry a schema version so a
fleet of mixed versions never misreads a shared cache entry).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SCHEMA_VERSION = 1
# CRM JSON may carry lone surrogates ("\ud800"); written raw they make the text unencodable as UTF-8.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Field types of customer/list-fields and clue/get (crm-api.md section 4).
TEXT, SELECT, DATE, NUMBER, MULTILINE, MULTISELECT, DATETIME, PHONE = 1, 2, 3, 4, 5, 6, 7, 8


@dataclass(frozen=True, slots=True)
class CrmTime:
    """A CRM timestamp: the raw text as sent, and the aware datetime when it could be read."""

    raw: str
    at: datetime | None
    zone: str

    @property
    def epoch(self) -> int | None:
        return int(self.at.timestamp()) if self.at else None


@dataclass(frozen=True, slots=True)
class FieldView:
    """A field resolved for display: ``text`` is option names joined, or the raw value."""

    key: str
    label: str | None  # the CRM's own field name, e.g. "客户阶段"
    text: str
    kind: int | None = None  # CRM field type code; 8 is a phone and must be masked where others see it
    unresolved: tuple[str, ...] = ()  # option ids the catalog did not know
    time: CrmTime | None = None  # a datetime field (type 7) as read, for showing in the viewer's zone

    @property
    def known(self) -> bool:
        return not self.unresolved


@dataclass(frozen=True, slots=True)
class TagView:
    id: str
    name: str | None  # None: the tag tree does not know this id
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Clue:
    """One clue, resolved. Every field but ``id`` may be missing in real CRM data."""

    id: int
    is_clue: bool | None = None
    kind: int | None = None
    name: str | None = None
    stage: FieldView | None = None
    source: FieldView | None = None
    purchase_intention: FieldView | None = None
    gender: FieldView | None = None
    company: str | None = None
    owner: str | None = None
    phones: tuple[str, ...] = ()
    description: str | None = None
    address: str | None = None
    birthday: date | None = None
    tags: tuple[TagView, ...] = ()
    created: CrmTime | None = None
    updated: CrmTime | None = None
    converted: CrmTime | None = None
    other_fields: tuple[FieldView, ...] = field(default=())

    @property
    def converted_to_customer(self) -> bool:
        return self.converted is not None

    @property
    def unknown_tag_count(self) -> int:
        return sum(1 for t in self.tags if t.name is None)

    def to_json(self) -> str:
        """Compact, versioned JSON for shared caches and the CLI."""
        payload = asdict(self)
        payload["v"] = SCHEMA_VERSION
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_encode)
        # Only string literals can hold one, so its \u escape is valid JSON and reads back the same.
        return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

    @classmethod
    def from_json(cls, text: str | bytes) -> Clue | None:
        """Read ``to_json`` output; None for another schema version or anything unreadable."""
        try:
            d = json.loads(text)
            if not isinstance(d, dict) or d.pop("v", None) != SCHEMA_VERSION:
                return None
            return cls(
                id=d["id"], is_clue=d["is_clue"], kind=d["kind"], name=d["name"],
                stage=_field(d["stage"]), source=_field(d["source"]),
                purchase_intention=_field(d["purchase_intention"]), gender=_field(d["gender"]),
                company=d["company"], owner=d["owner"], phones=tuple(d["phones"]),
                description=d["description"], address=d["address"],
                birthday=date.fromisoformat(d["birthday"]) if d["birthday"] else None,
                tags=tuple(TagView(**t) for t in d["tags"]),
                created=_time(d["created"]), updated=_time(d["updated"]), converted=_time(d["converted"]),
                other_fields=tuple(f for f in (_field(x) for x in d["other_fields"]) if f),
            )
        except (ValueError, KeyError, TypeError, RecursionError):
            return None


def _encode(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _field(d: Any) -> FieldView | None:
    if d is None:
        return None
    # ``time`` came later within schema 1: entries written before it read as None (shown as text).
    return FieldView(key=d["key"], label=d["label"], text=d["text"], kind=d["kind"],
                     unresolved=tuple(d["unresolved"]), time=_time(d.get("time")))


def _time(d: Any) -> CrmTime | None:
    if d is None:
        return None
    at = _in_zone(datetime.fromisoformat(d["at"]), d["zone"]) if d["at"] else None
    return CrmTime(raw=d["raw"], at=at, zone=d["zone"])


def _in_zone(at: datetime, zone: str) -> datetime:
    """``at`` (read back with a fixed UTC offset) in its named zone again, same wall time and offset.

    Without this, a time in a DST fold or gap (Asia/Shanghai kept DST 1986-1991) would compare unequal
    to the value that was written, although it is the same instant.
    """
    try:
        tz = ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        return at
    naive = at.replace(tzinfo=None)
    for fold in (0, 1):
        candidate = naive.replace(tzinfo=tz, fold=fold)
        if candidate.utcoffset() == at.utcoffset():
            return candidate
    return at
