"""Field-option and tag-name resolution: turns a ``RawClue`` into a ``Clue`` a person can read.

A ``Catalog`` is an immutable snapshot of the tenant's reference data (field definitions from
customer/list-fields, tags from tags/list-tree). Unknown ids are kept raw and marked, never fatal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

from bot.crm.models import (
    FieldDef,
    RawClue,
    RawField,
    Tag,
    parse_crm_date,
    parse_crm_time,
    parse_option_ids,
    parse_phones,
)
from bot.domain.clue import DATE, DATETIME, MULTISELECT, PHONE, SELECT, Clue, CrmTime, FieldView, TagView

# Documented gender options (crm-api.md section 4), used when list-fields does not describe gender.
GENDER_OPTIONS = {"0": "其它", "1": "男", "2": "女"}
_SELECT_KEYS = {"customer_stage", "customer_source", "purchase_intention", "gender"}
# Fields the card shows in their own place; everything else lands in ``other_fields``.
_PLACED_KEYS = _SELECT_KEYS | {"name", "mobile", "corp_name", "description", "address", "birthday", "owner"}


class Catalog:
    """Immutable lookup of field definitions and tags, with ``resolve``."""

    def __init__(self, fields: Iterable[FieldDef] = (), tags: Iterable[Tag] = (),
                 aliases: Mapping[str, str] | None = None) -> None:
        self._aliases = dict(aliases or {})
        self._fields: dict[str, FieldDef] = {}
        for definition in fields:
            self._fields.setdefault("#" + definition.id, definition)
            if definition.key:
                self._fields.setdefault(definition.key, definition)
        self._tags: dict[str, Tag] = {}
        for tag in tags:
            self._tags.setdefault(tag.id, tag)
            if tag.qw_tag_id:
                self._tags.setdefault(tag.qw_tag_id, tag)

    @property
    def empty(self) -> bool:
        return not self._fields and not self._tags

    def field(self, key: str) -> FieldDef | None:
        """A field by clue/get key: outerField, then the configured alias, then numeric field id."""
        return (self._fields.get(key) or self._fields.get(self._aliases.get(key, "\0"))
                or self._fields.get("#" + key))

    def has_unknown_ids(self, raw: RawClue) -> bool:
        """True when some tag or option id of this clue is not in the snapshot."""
        if any(t not in self._tags for t in raw.tag_ids):
            return True
        return any(view.unresolved for f in raw.fields if (view := self._view(f)) is not None)

    def resolve(self, raw: RawClue, tz: ZoneInfo) -> Clue:
        """Resolve option ids, tags and times. Pure; unknown ids stay raw and marked."""
        values = {f.key: f for f in raw.fields}
        zone = tz.key

        def view(key: str) -> FieldView | None:
            f = values.get(key)
            return self._view(f) if f is not None else None

        def text(key: str) -> str | None:
            f = values.get(key)
            return f.value if f is not None and f.value is not None and f.value.strip() else None

        def time(value: str | None) -> CrmTime | None:
            return CrmTime(raw=value, at=parse_crm_time(value, tz), zone=zone) if value else None

        birthday = values.get("birthday")
        others = tuple(v for f in raw.fields if f.key not in _PLACED_KEYS and (v := self._view(f)) is not None)
        return Clue(
            id=raw.customer_id,
            is_clue=raw.is_clue,
            kind=raw.type,
            name=text("name"),
            stage=view("customer_stage"),
            source=view("customer_source"),
            purchase_intention=view("purchase_intention"),
            gender=view("gender"),
            company=text("corp_name") or raw.company_name,
            owner=text("owner"),
            phones=parse_phones(text("mobile")),
            description=text("description"),
            address=text("address"),
            birthday=parse_crm_date(birthday.value, tz) if birthday else None,
            tags=tuple(self._tag(t) for t in dict.fromkeys(raw.tag_ids)),
            created=time(raw.create_time),
            updated=time(raw.last_update_time),
            converted=time(raw.convert_customer_time),
            other_fields=others,
        )

    def _tag(self, tag_id: str) -> TagView:
        tag = self._tags.get(tag_id)
        return TagView(id=tag_id, name=tag.name, group=tag.group) if tag else TagView(id=tag_id, name=None)

    def _view(self, f: RawField) -> FieldView | None:
        """One field for display; None when unset."""
        if f.value is None or not f.value.strip():
            return None
        definition = self.field(f.key)
        label = (definition.name or None) if definition else None
        kind = f.type if f.type is not None else (definition.type if definition else None)
        if definition is not None and definition.type == PHONE:
            kind = PHONE  # the tenant defines a phone: masked wherever others look, whatever clue/get says
        if kind in (SELECT, MULTISELECT) or (kind is None and f.key in _SELECT_KEYS):
            options = dict(definition.options) if definition else {}
            if f.key == "gender":
                options = {**GENDER_OPTIONS, **options}
            ids = parse_option_ids(f.value)
            names = [options.get(i) for i in ids]
            unresolved = tuple(i for i, n in zip(ids, names, strict=True) if n is None)
            shown = [n if n is not None else i for i, n in zip(ids, names, strict=True)]
            return FieldView(key=f.key, label=label, text=", ".join(shown), kind=kind, unresolved=unresolved)
        if kind == PHONE:
            return FieldView(key=f.key, label=label, text=", ".join(parse_phones(f.value)), kind=PHONE)
        if kind in (DATE, DATETIME):
            return FieldView(key=f.key, label=label, text=f.value.strip(), kind=kind)
        return FieldView(key=f.key, label=label, text=f.value, kind=kind)
