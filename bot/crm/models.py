"""Frozen data of the CRM, and tolerant parsers from the JSON the CRM sends.

``dict[str, Any]`` stops here: parsers take the envelope's ``data`` and return dataclasses, raising
``CrmProtocolError`` only when the shape cannot be read at all (a missing field is not an error).

Its size: one tolerant parser per endpoint's answer, kept together so every CRM shape is read alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.ids import MAX_CLUE_ID
from bot.domain.owner import Owner
from bot.errors import CrmProtocolError


@dataclass(frozen=True, slots=True)
class RawField:
    key: str
    type: int | None
    value: str | None  # valueAsText; None means unset


@dataclass(frozen=True, slots=True)
class RawClue:
    """A clue exactly as clue/get describes it, ids unresolved."""

    customer_id: int
    is_clue: bool | None
    type: int | None
    fields: tuple[RawField, ...]
    tag_ids: tuple[str, ...]
    create_time: str | None
    last_update_time: str | None
    convert_customer_time: str | None
    company_name: str | None


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field definition from customer/list-fields; ``options`` maps option id to name."""

    id: str
    key: str | None  # outerField: an alias a tenant may set, e.g. "customer_stage"; null in the vendor's example
    name: str  # display name: 客户阶段, 性别, 电话…
    type: int | None
    options: Mapping[str, str]
    system: bool = False  # ``stable``: a field the CRM defines, not the tenant


@dataclass(frozen=True, slots=True)
class Tag:
    id: str
    qw_tag_id: str | None
    name: str
    group: str | None


@dataclass(frozen=True, slots=True)
class Operator:
    qw_user_id: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class FollowUp:
    id: str
    type: int | None
    content: str
    create_time: str | None
    operator: Operator | None


@dataclass(frozen=True, slots=True)
class FollowUpPage:
    items: tuple[FollowUp, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RowFields:
    """The numeric field ids (from list-fields) under which customer/search rows carry the name (姓名), the
    phone (电话, a phone field's JSON array text) and the company (公司名称): crm-api.md section 7."""

    name: tuple[str, ...] = ()
    phone: tuple[str, ...] = ()
    company: tuple[str, ...] = ()


NO_ROW_FIELDS = RowFields()  # without list-fields: rows named by qwRemark / wechatNickname only


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One customer of customer/search, its rows merged (one row per sales relationship). No source shows
    a ``name`` key: ``name`` is the value of a name field (keyed by its numeric field id, the ids the
    caller names), else ``qwRemark``, else ``wechatNickname``; ``phone`` and ``company`` likewise, from
    their fields' ids."""

    customer_id: int
    name: str | None
    stage_name: str | None
    create_time: str | None
    tags: tuple[str, ...] = ()
    owner: Owner = field(default_factory=Owner)  # every row's mainFollows: no name is awaiting assignment
    phone: str | None = None
    company: str | None = None


@dataclass(frozen=True, slots=True)
class SearchPage:
    """``total_pages`` as the CRM says it; it may be 0 while ``hits`` is not empty, so read both."""

    hits: tuple[SearchHit, ...]
    total_pages: int


@dataclass(frozen=True, slots=True)
class CluePage:
    """One page of clue/list-by-create-time-asc: the clues that parsed, and how many entries did not."""

    clues: tuple[RawClue, ...]
    next_cursor: str | None
    unreadable: int = 0  # entries without an integer customerId (or not objects): skipped, counted


# ---------------------------------------------------------------- parsers


def parse_clue(data: Any, requested_id: int | None = None) -> RawClue | None:
    """Parse clue/get ``data``; None when the CRM answered code 0 with no clue (read as not found).

    The vendor's example carries ``customerId``, but nothing says every answer does: when it is absent
    the clue is taken to be ``requested_id``. One that is present must be an id (``get_clue`` also checks
    that it is the id asked for).
    """
    if data is None or data == {} or data == []:
        return None
    obj = as_object(data, "clue")
    answered = obj.get("customerId")
    customer_id = requested_id if answered is None else as_id(answered)
    if customer_id is None:
        raise CrmProtocolError("clue has no integer customerId")
    fields = []
    for item in as_list(obj.get("fields"), "fields"):
        if not isinstance(item, Mapping):
            continue
        key = as_text(item.get("field"))
        if key is None:
            continue
        fields.append(RawField(key=key, type=as_id(item.get("type")), value=as_text(item.get("valueAsText"))))
    tag_ids = tuple(s for s in (as_text(t) for t in as_list(obj.get("tagIds"), "tagIds")) if s)
    is_clue = obj.get("isClue")
    return RawClue(
        customer_id=customer_id,
        is_clue=is_clue if isinstance(is_clue, bool) else None,
        type=as_id(obj.get("type")),
        fields=tuple(fields),
        tag_ids=tag_ids,
        create_time=as_text(obj.get("createTime")),
        last_update_time=as_text(obj.get("lastUpdateTime")),
        convert_customer_time=as_text(obj.get("convertCustomerTime")),
        company_name=_company_name(obj.get("companyInfo")),
    )


def parse_field_defs(data: Any) -> tuple[FieldDef, ...]:
    """Parse customer/list-fields ``data`` (``{"fields": [...]}`` or a bare list)."""
    items = data.get("fields") if isinstance(data, Mapping) else data
    defs = []
    for item in as_list(items, "fields"):
        if not isinstance(item, Mapping):
            continue
        field_id = as_text(item.get("id"))
        # A nameless field is still kept: its type says whether its values are phones to mask.
        name = as_text(item.get("name")) or ""
        if field_id is None:
            continue
        options = {}
        for option in as_list(item.get("items"), "items"):
            if isinstance(option, Mapping):
                option_id, option_name = as_text(option.get("id")), as_text(option.get("name"))
                if option_id is not None and option_name is not None:
                    options[option_id] = option_name
        defs.append(
            FieldDef(id=field_id, key=as_text(item.get("outerField")), name=name, type=as_id(item.get("type")),
                     options=options, system=item.get("stable") is True)
        )
    return tuple(defs)


def parse_tag_tree(data: Any) -> tuple[Tag, ...]:
    """Parse tags/list-tree ``data``: groups, each with ``tags``."""
    tags = []
    for group in as_list(data, "tag groups"):
        if not isinstance(group, Mapping):
            continue
        group_name = as_text(group.get("name"))
        for tag in as_list(group.get("tags"), "tags"):
            if not isinstance(tag, Mapping):
                continue
            tag_id, name = as_text(tag.get("id")), as_text(tag.get("name"))
            if tag_id is None or name is None:
                continue
            tags.append(Tag(id=tag_id, qw_tag_id=as_text(tag.get("qwTagId")), name=name, group=group_name))
    return tuple(tags)


def parse_clue_page(data: Any) -> CluePage:
    """Parse clue/list-by-create-time-asc ``data`` (``{"list": [<clue/get objects>], "nextCursor"}``)."""
    obj = as_object(data, "clue page")
    clues: list[RawClue] = []
    unreadable = 0
    for item in as_list(obj.get("list"), "list"):
        try:
            raw = parse_clue(item) if isinstance(item, Mapping) and item.get("customerId") is not None else None
        except CrmProtocolError:
            raw = None
        if raw is None:
            unreadable += 1
        else:
            clues.append(raw)
    return CluePage(tuple(clues), as_text(obj.get("nextCursor")), unreadable)


def parse_follow_ups(data: Any) -> FollowUpPage:
    obj = as_object(data, "follow-up page")
    items = []
    for item in as_list(obj.get("list"), "list"):
        if not isinstance(item, Mapping):
            continue
        op = item.get("operator")
        operator = (
            Operator(qw_user_id=as_text(op.get("qwUserId")), name=as_text(op.get("name")))
            if isinstance(op, Mapping) else None
        )
        items.append(FollowUp(id=as_text(item.get("id")) or "", type=as_id(item.get("type")),
                              content=as_text(item.get("content")) or "", create_time=as_text(item.get("createTime")),
                              operator=operator))
    return FollowUpPage(items=tuple(items), next_cursor=as_text(obj.get("nextCursor")))


MAX_SEARCH_HITS = 100  # more than any page we ask for: the rest of an oversized answer is dropped
_MAX_HIT_TAGS = 20


def parse_search(data: Any, fields: RowFields = NO_ROW_FIELDS) -> SearchPage:
    """Parse customer/search ``data``: ``null`` is no results; items without a usable ``customerId`` are
    skipped, and the rows of one customer (one per sales relationship) are merged into one hit, owners
    joined. ``fields``: the ids of the name, phone and company fields (from list-fields), whose values rows
    carry under those numeric keys. ``tags`` has no documented shape: strings, or objects with a ``name``."""
    if data is None:
        return SearchPage(hits=(), total_pages=0)
    obj = as_object(data, "search page")
    hits: dict[int, SearchHit] = {}
    for item in as_list(obj.get("data"), "data"):
        if not isinstance(item, Mapping):
            continue
        customer_id = as_id(item.get("customerId"))
        if not customer_id:
            continue
        owner = _row_owner(item)
        seen = hits.get(customer_id)
        if seen is not None:
            hits[customer_id] = replace(seen, owner=Owner(names=_union(seen.owner.names, owner.names),
                                                          departments=_union(seen.owner.departments,
                                                                             owner.departments)))
            continue
        if len(hits) >= MAX_SEARCH_HITS:
            continue  # the rest of an oversized answer is dropped; rows of the customers kept still merge
        names = (*(item.get(key) for key in fields.name), item.get("qwRemark"), item.get("wechatNickname"))
        hits[customer_id] = SearchHit(
            customer_id=customer_id, name=_first(names), stage_name=as_text(item.get("salesStageName")),
            create_time=as_text(item.get("createTime")), tags=_hit_tags(item.get("tags")), owner=owner,
            phone=next((p for key in fields.phone for p in _row_phones(item.get(key))), None),
            company=_first(item.get(key) for key in fields.company))
    return SearchPage(hits=tuple(hits.values()), total_pages=as_id(obj.get("totalPage")) or 0)


def _first(values: Iterable[Any]) -> str | None:
    return next((text for value in values if (text := as_text(value))), None)


def _row_phones(value: Any) -> tuple[str, ...]:
    """A row's phone value: the phone field's JSON array text, as clue/get carries it (section 4), or a
    list of numbers (no source shows which)."""
    if isinstance(value, list):
        return tuple(text for item in value[:_MAX_OWNERS] if (text := as_text(item)))
    return parse_phones(value) if isinstance(value, str) else ()


def owner_of(page: SearchPage, customer_id: int) -> Owner | None:
    """The owner of ``customer_id`` in a search by that id; None when no row is about it (unknown)."""
    return next((hit.owner for hit in page.hits if hit.customer_id == customer_id), None)


_MAX_OWNERS = 20


def _row_owner(item: Mapping[str, Any]) -> Owner:
    """One row's owners: ``mainFollows[].salesName`` (``qwSalesId`` when nameless), and the department
    names on the row or in each main follow (``followDeptNames`` / ``salesDeptNames``)."""
    names: list[str] = []
    departments = [*_names(item.get("followDeptNames")), *_names(item.get("salesDeptNames"))]
    follows = item.get("mainFollows")
    for follow in follows[:_MAX_OWNERS] if isinstance(follows, list) else ():
        if not isinstance(follow, Mapping):
            continue
        if name := as_text(follow.get("salesName")) or as_text(follow.get("qwSalesId")):
            names.append(name)
        departments += [*_names(follow.get("followDeptNames")), *_names(follow.get("salesDeptNames"))]
    return Owner(names=_union(names), departments=_union(departments))


def _names(value: Any) -> list[str]:
    """Department names: a list of strings, or one string of comma-separated names (neither is documented)."""
    items = value[:_MAX_OWNERS] if isinstance(value, list) else str(value).split(",") if isinstance(value, str) else []
    return [text.strip() for text in (as_text(i) for i in items) if text and text.strip()]


def _union(*groups: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for group in groups for name in group))[:_MAX_OWNERS]


def _hit_tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = (as_text(tag.get("name") if isinstance(tag, Mapping) else tag) for tag in value[:_MAX_HIT_TAGS])
    return tuple(name for name in names if name)


# ---------------------------------------------------------------- value decoding


def parse_phones(value: str | None) -> tuple[str, ...]:
    """Decode a phone field: a JSON array string (``'["145678388"]'``), tolerating a bare number."""
    if not value:
        return ()
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):  # deeply nested arrays exhaust the decoder's recursion
        decoded = value
    items = decoded if isinstance(decoded, list) else [decoded]
    return tuple(s for s in (as_text(i) for i in items) if s)


def parse_option_ids(value: str | None) -> tuple[str, ...]:
    """Decode select / multi-select values: a JSON array, a comma list or a single id."""
    if not value:
        return ()
    text = value.strip()
    if text.startswith("["):
        try:
            decoded = json.loads(text)
        except (ValueError, RecursionError):
            decoded = None
        if isinstance(decoded, list):
            return tuple(s for s in (as_text(i) for i in decoded) if s)
        text = text.strip("[]")
    return tuple(part.strip().strip('"') for part in text.split(",") if part.strip().strip('"'))


_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")


def parse_crm_time(value: str | None, tz: ZoneInfo) -> datetime | None:
    """Parse a CRM time string (zone-less, read in ``tz``) or epoch milliseconds; None if unreadable."""
    if not value:
        return None
    text = value.strip()
    if _is_ascii_digits(text) and len(text) in (10, 13):
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        return datetime.fromtimestamp(seconds, tz)
    for fmt in _DATETIME_FORMATS + _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=tz)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def parse_crm_date(value: str | None, tz: ZoneInfo) -> date | None:
    parsed = parse_crm_time(value, tz)
    return parsed.date() if parsed else None



# ---------------------------------------------------------------- helpers


def as_object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CrmProtocolError(f"{what} is {type(value).__name__}, expected an object")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CrmProtocolError(f"{what} is {type(value).__name__}, expected a list")
    return value


def as_text(value: Any) -> str | None:
    """A value as text: strings stripped, integers and floats formatted, anything else None."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_CLUE_ID else None
    if isinstance(value, str) and _is_ascii_digits(text := value.strip()) and len(text) <= 19:
        number = int(text)
        return number if number <= MAX_CLUE_ID else None
    return None


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit() is also true for "²" and "①", which int() refuses, and for other scripts' digits.
    return text.isascii() and text.isdigit()


_COMPANY_NAME_KEYS = ("name", "companyName", "corpName", "fullName", "shortName")


def _company_name(info: Any) -> str | None:
    """companyInfo's shape is undocumented: take a name-like string key if there is one."""
    if not isinstance(info, Mapping):
        return None
    for key in _COMPANY_NAME_KEYS:
        name = as_text(info.get(key))
        if name:
            return name
    return None
