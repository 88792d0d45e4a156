"""The resolved clue: what a person reads, with ids already turned into names.

Cards render these; caches store them (``to_json`` / ``from_json`` carry a schema version so a
fleet of mixed versions never misreads a shared cache entry).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.ids import MAX_CLUE_ID

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

    @property
    def has_unknown_ids(self) -> bool:
        """True when a tag or an option id shown on this clue was not in the catalog it was resolved with."""
        fields = (self.stage, self.source, self.purchase_intention, self.gender, *self.other_fields)
        return any(t.name is None for t in self.tags) or any(f is not None and f.unresolved for f in fields)

    def to_json(self) -> str:
        """Compact, versioned JSON for shared caches and the CLI."""
        payload = asdict(self)
        payload["v"] = SCHEMA_VERSION
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_encode)
        # Only string literals can hold one, so its \u escape is valid JSON and reads back the same.
        return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

    @classmethod
    def from_json(cls, text: str | bytes) -> Clue | None:
        """Read ``to_json`` output; None for another schema version or anything that is not exactly what
        ``to_json`` writes (types, keys, lengths, ranges): a shared cache is input, not trusted state."""
        try:
            d = json.loads(text)
            if not isinstance(d, dict) or d.pop("v", None) != SCHEMA_VERSION:
                return None
            _keys(d, _CLUE_KEYS)
            clue_id = _number(d["id"])
            if clue_id is None:
                raise ValueError("id")
            birthday = _opt(d["birthday"], str)
            return cls(
                id=clue_id, is_clue=_opt(d["is_clue"], bool), kind=_number(d["kind"]), name=_text(d["name"]),
                stage=_field(d["stage"]), source=_field(d["source"]),
                purchase_intention=_field(d["purchase_intention"]), gender=_field(d["gender"]),
                company=_text(d["company"]),
                phones=tuple(_req(p, str, MAX_STORED_TEXT) for p in _items(d["phones"])),
                description=_text(d["description"]), address=_text(d["address"]),
                birthday=date.fromisoformat(birthday) if birthday else None,
                tags=tuple(_tag(t) for t in _items(d["tags"])),
                created=_time(d["created"]), updated=_time(d["updated"]), converted=_time(d["converted"]),
                other_fields=tuple(f for f in (_field(x) for x in _items(d["other_fields"])) if f),
            )
        except (ValueError, KeyError, TypeError, RecursionError, OverflowError):
            return None


def _encode(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


# Bounds for reading stored clues back: what one CRM answer (at most 2 MB decoded) could hold, so a
# forged entry can never be bigger than a real one.
MAX_STORED_TEXT = 2_000_000
MAX_STORED_ITEMS = 100_000
_CLUE_KEYS = frozenset(f.name for f in fields(Clue))
_FIELD_KEYS = frozenset({"key", "label", "text", "kind", "unresolved", "time"})
_TAG_KEYS = frozenset({"id", "name", "group"})
_TIME_KEYS = frozenset({"raw", "at", "zone"})


def _keys(d: Any, allowed: frozenset[str], optional: frozenset[str] = frozenset()) -> None:
    if not isinstance(d, dict) or not allowed - optional <= d.keys() <= allowed:
        raise ValueError("keys")


def _opt(value: Any, kind: type) -> Any:
    if value is not None and type(value) is not kind:
        raise TypeError(kind.__name__)
    return value


def _req(value: Any, kind: type[str | list[Any]], limit: int) -> Any:
    if type(value) is not kind or len(value) > limit:
        raise ValueError(kind.__name__)
    return value


def _text(value: Any) -> str | None:
    return None if value is None else _req(value, str, MAX_STORED_TEXT)


def _number(value: Any) -> int | None:
    """An id or type code as the CRM decoder leaves them: None or an int in [0, MAX_CLUE_ID]."""
    if value is not None and (type(value) is not int or not 0 <= value <= MAX_CLUE_ID):
        raise ValueError("number")
    return value


def _items(value: Any) -> list[Any]:
    return _req(value, list, MAX_STORED_ITEMS)  # type: ignore[no-any-return]


def _tag(d: Any) -> TagView:
    _keys(d, _TAG_KEYS)
    return TagView(id=_req(d["id"], str, MAX_STORED_TEXT), name=_text(d["name"]), group=_text(d["group"]))


def _field(d: Any) -> FieldView | None:
    if d is None:
        return None
    # ``time`` came later within schema 1: entries written before it read as None (shown as text).
    _keys(d, _FIELD_KEYS, optional=frozenset({"time"}))
    return FieldView(key=_req(d["key"], str, MAX_STORED_TEXT), label=_text(d["label"]),
                     text=_req(d["text"], str, MAX_STORED_TEXT), kind=_number(d["kind"]),
                     unresolved=tuple(_req(u, str, MAX_STORED_TEXT) for u in _items(d["unresolved"])),
                     time=_time(d.get("time")))


def _time(d: Any) -> CrmTime | None:
    if d is None:
        return None
    _keys(d, _TIME_KEYS)
    raw, zone, text = _req(d["raw"], str, MAX_STORED_TEXT), _req(d["zone"], str, 100), _text(d["at"])
    at = datetime.fromisoformat(text) if text else None
    if at is not None and at.tzinfo is None:
        raise ValueError("naive time")  # to_json writes aware times only; a naive one would be misread
    return CrmTime(raw=raw, at=_in_zone(at, zone) if at else None, zone=zone)


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
