"""Field-option and tag-name resolution: turns a ``RawClue`` into a ``Clue`` a person can read.

A ``Catalog`` is an immutable snapshot of the tenant's reference data (field definitions from
customer/list-fields, tags from tags/list-tree). Unknown ids are kept raw and marked, never fatal.

clue/get names a field by key (``customer_stage``, or a numeric field id for custom fields), while
list-fields describes it by ``id`` and ``name`` and only sometimes by ``outerField`` (null in the
vendor's own example). A clue/get key finds its definition by the first rule that applies:

1. ``alias``: ``CRM_FIELD_ALIASES`` maps the key to an outerField, a field id or a display name;
2. ``outerField``: a definition whose outerField is the key;
3. ``field_id``: a definition whose id is the key (custom fields);
4. ``option_id`` (select values only): the one select field whose options hold every id of the value.
   Only for large ids (``396823724189760``: tenant-wide numbers); small ones such as gender's 0/1/2
   are per-field enumerations, so one field holding "1" says nothing about another's "1";
5. ``display_name``: the system field named as the CRM names it (客户阶段, 客户来源, 购买意向, 性别…).

Which rule bound which key is logged once per process (``crm.field.bound``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, MutableSet
from zoneinfo import ZoneInfo

from bot.crm.models import (
    FieldDef,
    RawClue,
    RawField,
    RowFields,
    Tag,
    parse_crm_date,
    parse_crm_time,
    parse_option_ids,
    parse_phones,
)
from bot.domain.clue import DATE, DATETIME, MULTISELECT, PHONE, SELECT, Clue, CrmTime, FieldView, TagView

log = logging.getLogger(__name__)

# Documented gender options (crm-api.md section 4), used when list-fields does not describe gender.
GENDER_OPTIONS = {"0": "其它", "1": "男", "2": "女"}
_SELECT_KEYS = {"customer_stage", "customer_source", "purchase_intention", "gender"}
# Fields the card shows in their own place; everything else lands in ``other_fields``.
_PLACED_KEYS = _SELECT_KEYS | {"name", "mobile", "corp_name", "description", "address", "birthday"}
# Display names of clue/get's system fields in list-fields. 电话, 性别, 生日 and 客户阶段 are the vendor's
# example's; the others are the CRM's own labels for those fields.
SYSTEM_FIELD_NAMES: Mapping[str, tuple[str, ...]] = {
    "customer_stage": ("客户阶段",),
    "customer_source": ("客户来源",),
    "purchase_intention": ("购买意向",),
    "gender": ("性别",),
    "mobile": ("电话", "手机", "手机号"),
    "birthday": ("生日",),
    "name": ("姓名",),
    "corp_name": ("公司名称", "公司"),
    "description": ("描述",),
    "address": ("地址",),
}
_CHOICE_TYPES = (SELECT, MULTISELECT)
# An option id this long is read as unique in the tenant (the vendor's are 15 digits); shorter ones may repeat.
_TENANT_WIDE_ID_DIGITS = 6
_Binding = tuple[FieldDef | None, str | None]
_MAX_NOTED = 500


def crm_time(value: str | None, tz: ZoneInfo) -> CrmTime | None:
    """A CRM time string as sent and as read (zone-less strings are in ``tz``, CRM_TIMEZONE); None if unset."""
    return CrmTime(raw=value, at=parse_crm_time(value, tz), zone=tz.key) if value else None


class Catalog:
    """Immutable lookup of field definitions and tags, with ``resolve``.

    ``noted`` remembers which field bindings were logged already; share one set between the snapshots
    of a process so that each is logged once, not once per reload.
    """

    def __init__(self, fields: Iterable[FieldDef] = (), tags: Iterable[Tag] = (),
                 aliases: Mapping[str, str] | None = None, *,
                 noted: MutableSet[tuple[str, str, str]] | None = None) -> None:
        self._aliases = dict(aliases or {})
        self._noted = noted if noted is not None else set()
        self._by_outer: dict[str, FieldDef] = {}
        self._by_id: dict[str, FieldDef] = {}
        self._by_name: dict[str, FieldDef] = {}
        self._option_owners: dict[str, list[FieldDef]] = {}
        definitions = list(fields)
        # System fields first, so a tenant's custom field of the same name never shadows one.
        for definition in sorted(definitions, key=lambda d: not d.system):
            self._by_id.setdefault(definition.id, definition)
            if definition.key:
                self._by_outer.setdefault(definition.key, definition)
            if definition.name:
                self._by_name.setdefault(definition.name, definition)
            if definition.type in _CHOICE_TYPES:
                for option_id in definition.options:
                    self._option_owners.setdefault(option_id, []).append(definition)
        self._tags: dict[str, Tag] = {}
        for tag in tags:
            self._tags.setdefault(tag.id, tag)
            if tag.qw_tag_id:
                self._tags.setdefault(tag.qw_tag_id, tag)

    @property
    def empty(self) -> bool:
        return not self._by_id and not self._tags

    @property
    def row_fields(self) -> RowFields:
        """The field ids of clue/get's ``name`` (姓名), ``mobile`` and ``corp_name``: customer/search rows carry
        the name, phone and company under them."""
        def ids(key: str) -> tuple[str, ...]:
            definition = self.field(key)
            return (definition.id,) if definition is not None else ()
        return RowFields(name=ids("name"), phone=ids("mobile"), company=ids("corp_name"))

    def configured(self, key_or_name: str) -> FieldDef | None:
        """The definition a setting names (``CLUE_DUE_FIELD``): a clue/get key or field id, else a display name."""
        return self.field(key_or_name) or self._by_name.get(key_or_name)

    def field(self, key: str, option_ids: tuple[str, ...] = ()) -> FieldDef | None:
        """The definition of a clue/get field key (rules in the module docstring); ``option_ids``, the
        ids of a select value, allow the option-id rule."""
        definition, rule = self._bind(key, option_ids)
        noted = (key, rule or "", definition.id if definition else "")
        # Keys come from the CRM: past a few hundred bindings, stop remembering (and logging) new ones.
        if definition is not None and noted not in self._noted and len(self._noted) < _MAX_NOTED:
            self._noted.add(noted)
            log.info("crm.field.bound", extra={"key": key[:64], "rule": rule, "field_id": definition.id,
                                               "field_name": definition.name[:64]})
        return definition

    def _bind(self, key: str, option_ids: tuple[str, ...]) -> _Binding:
        alias = self._aliases.get(key)
        if alias is not None:
            definition = self._by_outer.get(alias) or self._by_id.get(alias) or self._by_name.get(alias)
            if definition is not None:
                return definition, "alias"
        if (definition := self._by_outer.get(key)) is not None:
            return definition, "outerField"
        if (definition := self._by_id.get(key)) is not None:
            return definition, "field_id"
        if option_ids and all(len(i) >= _TENANT_WIDE_ID_DIGITS and i.isascii() and i.isdigit() for i in option_ids):
            owners = {d.id: d for d in self._option_owners.get(option_ids[0], ())}
            for option_id in option_ids[1:]:
                owners = {i: d for i, d in owners.items() if option_id in d.options}
            if len(owners) == 1:
                return next(iter(owners.values())), "option_id"
        for name in SYSTEM_FIELD_NAMES.get(key, ()):
            if (definition := self._by_name.get(name)) is not None:
                return definition, "display_name"
        return None, None

    def resolve(self, raw: RawClue, tz: ZoneInfo) -> Clue:
        """Resolve option ids, tags and times. Pure; unknown ids stay raw and marked."""
        values = {f.key: f for f in raw.fields}

        def view(key: str) -> FieldView | None:
            f = values.get(key)
            return self._view(f, tz) if f is not None else None

        def text(key: str) -> str | None:
            f = values.get(key)
            return f.value if f is not None and f.value is not None and f.value.strip() else None

        birthday = values.get("birthday")
        others = tuple(v for f in raw.fields if f.key not in _PLACED_KEYS and (v := self._view(f, tz)) is not None)
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
            phones=parse_phones(text("mobile")),
            description=text("description"),
            address=text("address"),
            birthday=parse_crm_date(birthday.value, tz) if birthday else None,
            tags=tuple(self._tag(t) for t in dict.fromkeys(raw.tag_ids)),
            created=crm_time(raw.create_time, tz),
            updated=crm_time(raw.last_update_time, tz),
            converted=crm_time(raw.convert_customer_time, tz),
            other_fields=others,
        )

    def _tag(self, tag_id: str) -> TagView:
        tag = self._tags.get(tag_id)
        return TagView(id=tag_id, name=tag.name, group=tag.group) if tag else TagView(id=tag_id, name=None)

    def _view(self, f: RawField, tz: ZoneInfo | None = None) -> FieldView | None:
        """One field for display; None when unset. Without ``tz`` times are left unread."""
        if f.value is None or not f.value.strip():
            return None
        choice = f.type in _CHOICE_TYPES or (f.type is None and f.key in _SELECT_KEYS)
        ids = parse_option_ids(f.value) if choice else ()
        definition = self.field(f.key, ids)
        kind = f.type if f.type is not None else (definition.type if definition else None)
        if definition is not None and definition.type == PHONE:
            kind = PHONE  # the tenant defines a phone: masked wherever others look, whatever clue/get says
        label = (definition.name or None) if definition else None
        if kind in _CHOICE_TYPES or (kind is None and f.key in _SELECT_KEYS):
            ids = ids or parse_option_ids(f.value)
            options = dict(definition.options) if definition else {}
            if f.key == "gender":
                options = {**GENDER_OPTIONS, **options}
            names = [options.get(i) for i in ids]
            unresolved = tuple(i for i, n in zip(ids, names, strict=True) if n is None)
            shown = [n if n is not None else i for i, n in zip(ids, names, strict=True)]
            return FieldView(key=f.key, label=label, text=", ".join(shown), kind=kind, unresolved=unresolved)
        if kind == PHONE:
            return FieldView(key=f.key, label=label, text=", ".join(parse_phones(f.value)), kind=PHONE)
        if kind == DATETIME and tz is not None:
            return FieldView(key=f.key, label=label, text=f.value.strip(), kind=kind, time=crm_time(f.value, tz))
        if kind == DATE and tz is not None:
            # A calendar date, like the birthday: the same day for every viewer, so not a <!date> token
            # (midnight in CRM_TIMEZONE is the day before for anyone west of it).
            day = parse_crm_date(f.value, tz)
            return FieldView(key=f.key, label=label, text=day.isoformat() if day else f.value.strip(), kind=kind)
        if kind in (DATE, DATETIME):
            return FieldView(key=f.key, label=label, text=f.value.strip(), kind=kind)
        return FieldView(key=f.key, label=label, text=f.value, kind=kind)
