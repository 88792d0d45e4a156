"""The sandbox CRM: a Starlette app speaking Tanmarket's signed open API over seed data, with fault knobs.

Requests are verified with ``bot.crm.signing``, the client's own code, so client and server cannot drift.
Check order: the signature (appId and sign) first, then the timestamp window. A forged or mis-keyed
request always gets 1002 and learns nothing about the server clock, and 1003 then means "credentials
right, clock wrong", the one diagnosis a client can act on. An ``appKey`` header is ignored.

``SandboxState`` is shared by the server's event-loop thread and the test (or control) thread, so every
access takes its lock, and no handler awaits while holding it. Faults apply only to requests that pass
the signature check; unsigned ``/_sandbox/...`` control endpoints sit at the root, outside the prefix.

Its size: a whole fake CRM (every endpoint, the signature check, fault knobs, state under a lock);
development tooling, not the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.config import SANDBOX_APP_ID, SANDBOX_APP_KEY, corp_id_of
from bot.crm.client import CLUE_GET, CLUES_BY_CREATE_TIME, ECHO, FOLLOW_UPS, LIST_FIELDS, SEARCH, TAG_TREE
from bot.crm.people import GET_USERS
from bot.crm.push import PUSH_REGISTER
from bot.crm.signing import signature_matches
from bot.dev.sandbox import page, seed
from bot.dev.sandbox.push import SandboxPusher

Json = dict[str, Any]

API_PATHS = (CLUE_GET, LIST_FIELDS, TAG_TREE, FOLLOW_UPS, SEARCH, ECHO, CLUES_BY_CREATE_TIME, PUSH_REGISTER,
             GET_USERS)
# Endpoints addressed by one customerId: the only ones a per-clue fault applies to.
CLUE_PATHS = frozenset({CLUE_GET, FOLLOW_UPS})

DEFAULT_SKEW_WINDOW_MS = 300_000
HANG_SECONDS = 600.0  # "forever", bounded so a leaked request cannot outlive a long test run
MAX_REQUEST_BYTES = 1_000_000
MAX_PAGE_SIZE = 100
MAX_NEW_LEADS = 10_000  # one /_sandbox/leads call
MAX_STAFF = 10_000  # one /_sandbox/staff call
MAX_CLUES_EACH = 20
_CRM_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
CRM_TIMEZONE = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

SIGNATURE_FAILED = (1002, "签名校验失败")
TIMESTAMP_EXPIRED = (1003, "时间戳过期")
BAD_PARAMETERS = (400, "参数错误")
_FAULT_MESSAGES = dict([SIGNATURE_FAILED, TIMESTAMP_EXPIRED, BAD_PARAMETERS])
_GENERIC_FAULT_MESSAGE = "系统繁忙，请稍后再试"
# What a truncated upstream response looks like: valid start, cut mid-object.
_MALFORMED_BODY = b'{"code":0,"message":"ok","data":{"customerId":'
_TIMESTAMP = re.compile(r"[0-9]{1,16}")
# clue/get keys that update_clue sets directly; any other key names a field.
_CLUE_KEYS = frozenset({"isClue", "type", "convertCustomerTime", "tagIds", "createTime", "lastUpdateTime",
                        "companyInfo"})
_FAULT_ARGS = frozenset({"clue_id", "latency_ms", "hang", "status", "code", "malformed", "oversized_bytes",
                         "endpoint"})


def wall_clock_ms() -> int:
    """Unix time in milliseconds, the unit of the ``timestamp`` header."""
    return time.time_ns() // 1_000_000


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Fault:
    """One misbehaviour. Holds (latency, hang) run first; then status, malformed or code, in that order."""

    latency_ms: int = 0
    hang: bool = False
    status: int | None = None
    code: int | None = None
    malformed: bool = False
    oversized_bytes: int = 0

    def __post_init__(self) -> None:
        # Values arrive from JSON too (POST /_sandbox/faults), so check types at run time.
        if not _is_int(self.latency_ms) or not 0 <= self.latency_ms <= HANG_SECONDS * 1000:
            raise ValueError(f"latency_ms must be an integer from 0 to {HANG_SECONDS * 1000:.0f}")
        if not isinstance(self.hang, bool) or not isinstance(self.malformed, bool):
            raise ValueError("hang and malformed must be booleans")
        if self.status is not None and (not _is_int(self.status) or not 400 <= self.status <= 599):
            raise ValueError("status must be an HTTP error status from 400 to 599")
        if self.code is not None and (not _is_int(self.code) or self.code == 0):
            raise ValueError("code must be a non-zero integer (0 is success)")
        if not _is_int(self.oversized_bytes) or self.oversized_bytes < 0:
            raise ValueError("oversized_bytes must be a non-negative integer")

    @property
    def holds(self) -> bool:
        return self.hang or self.latency_ms > 0


@dataclass(frozen=True, slots=True)
class SandboxStats:
    """A snapshot of the counters. ``held``: requests currently delayed by a latency or hang fault."""

    calls: dict[str, int]  # per API path, without the prefix; every arrival, signed or not
    clue_gets: dict[int, int]  # clue/get arrivals per customerId
    in_flight: int
    max_in_flight: int
    held: int
    faults_applied: dict[str, int]  # latency, hang, status, code, malformed, oversized
    text_searches: int = 0  # customer/search calls with a searchKey (the rest filter by customerId: owner reads)

    def to_json(self) -> Json:
        return {"calls": dict(self.calls), "clue_gets": {str(k): v for k, v in self.clue_gets.items()},
                "in_flight": self.in_flight, "max_in_flight": self.max_in_flight, "held": self.held,
                "faults_applied": dict(self.faults_applied), "text_searches": self.text_searches}


class SandboxState:
    """Data, counters and fault knobs of one sandbox; thread-safe."""

    def __init__(self, now_ms: Callable[[], int] = wall_clock_ms) -> None:
        self._now_ms = now_ms
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._clues: dict[int, Json] = {}
        self._follow_ups: dict[int, list[Json]] = {}
        self._sales: dict[int, list[Json]] = {}  # set_sales overrides of seed.sales_rows
        self._employees: list[Json] = []  # get-users (seed.EMPLOYEES unless set_employees)
        self._fields: list[Json] = []
        self._tag_groups: list[Json] = []
        self._faults: dict[tuple[int | None, str | None], Fault] = {}
        self._holds: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}
        self._calls: Counter[str] = Counter()
        self._clue_gets: Counter[int] = Counter()
        self._faults_applied: Counter[str] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0
        self._text_searches = 0
        self.reset()

    # ------------------------------------------------------------ data

    def clue(self, clue_id: int) -> Json | None:
        """A copy of one clue as clue/get returns it, or None."""
        with self._lock:
            found = self._clues.get(clue_id)
            return copy.deepcopy(found) if found is not None else None

    def put_clue(self, clue: Mapping[str, Any], *, served_as: int | None = None) -> None:
        """Add or replace a whole clue (clue/get ``data`` shape), keyed by its ``customerId``.

        ``served_as`` files it under another id instead, whatever ``customerId`` it carries (or lacks):
        a CRM that answers for another clue than the one asked for, or whose answer has no id.
        """
        customer_id = clue.get("customerId") if served_as is None else served_as
        if not _is_int(customer_id):
            raise ValueError("a clue needs an integer customerId")
        with self._lock:
            self._clues[customer_id] = copy.deepcopy(dict(clue))

    def update_clue(self, clue_id: int, /, **changes: Any) -> Json:
        """Change a clue and return a copy of it.

        Keys in ``isClue, type, convertCustomerTime, tagIds, createTime, lastUpdateTime, companyInfo``
        replace that key; any other key names a field (``name``, ``customer_stage``, or a numeric field id
        via ``**{"91650": ...}``) whose ``valueAsText`` becomes the value (a string or None), added if
        missing. ``lastUpdateTime`` moves to the sandbox clock, always strictly later, unless given.
        """
        with self._lock:
            if clue_id not in self._clues:
                raise KeyError(f"no clue {clue_id}")
            updated = copy.deepcopy(self._clues[clue_id])
            for key, value in changes.items():
                if key in _CLUE_KEYS:
                    updated[key] = copy.deepcopy(value)
                elif key == "customerId":
                    raise ValueError("customerId cannot change; put_clue a new clue instead")
                else:
                    self._set_field(updated, key, value)
            if "lastUpdateTime" not in changes:
                updated["lastUpdateTime"] = self._bumped(updated.get("lastUpdateTime"))
            self._clues[clue_id] = updated
            return copy.deepcopy(updated)

    def stamp_name(self, clue_id: int) -> str | None:
        """Stamp a clue's name with the sandbox clock's time (the playground's pushed edit): the new name, or
        None when there is no such clue."""
        clue = self.clue(clue_id)
        if clue is None:
            return None
        name = _field_value(clue, "name") or ""
        stamp = datetime.fromtimestamp(self._now_ms() / 1000, CRM_TIMEZONE).strftime("%H:%M:%S")
        edited = f"{name.split(' ✎ ')[0]} ✎ {stamp}"
        self.update_clue(clue_id, name=edited)
        return edited

    def delete_clue(self, clue_id: int) -> None:
        """Remove a clue and its follow-ups; clue/get then answers ``data: null``."""
        with self._lock:
            if self._clues.pop(clue_id, None) is None:
                raise KeyError(f"no clue {clue_id}")
            self._follow_ups.pop(clue_id, None)

    def add_leads(self, count: int = 1, *, created: str | None = None) -> list[int]:
        """``count`` new leads created now on the sandbox clock (or at ``created``, a late arrival); their ids."""
        if not _is_int(count) or not 1 <= count <= MAX_NEW_LEADS:
            raise ValueError(f"count must be an integer from 1 to {MAX_NEW_LEADS}")
        if created is not None and not (isinstance(created, str) and _CRM_TIME.fullmatch(created)):
            raise ValueError("created must look like 2024-05-01 09:30:00")
        stamp = created or datetime.fromtimestamp(self._now_ms() / 1000, CRM_TIMEZONE).strftime(TIME_FORMAT)
        with self._lock:
            added = [i + 1 for i in self._clues if seed.NEW_LEAD_FIRST_ID <= i < seed.NEW_LEAD_LAST_ID]
            first = max([seed.NEW_LEAD_FIRST_ID, *added])
            if first + count > seed.NEW_LEAD_LAST_ID:
                raise ValueError("the sandbox holds as many new leads as it can: reset it")
            ids = list(range(first, first + count))
            for customer_id in ids:
                self._clues[customer_id] = seed.new_lead(customer_id, stamp)
        return ids

    def add_staff(self, count: int, clues_each: int = 1, *, created: str | None = None,
                  next_follow_up: str | None = None) -> list[str]:
        """``count`` more employees (get-users), each the owner of ``clues_each`` clues created at ``created`` (30
        days ago on the sandbox clock) and next due at ``next_follow_up`` (a day ago: overdue); their salesIds."""
        now = datetime.fromtimestamp(self._now_ms() / 1000, CRM_TIMEZONE)
        created = created or (now - timedelta(days=30)).strftime(TIME_FORMAT)
        next_follow_up = next_follow_up or (now - timedelta(days=1)).strftime(TIME_FORMAT)
        if not (_is_int(count) and 1 <= count <= MAX_STAFF and _is_int(clues_each)
                and 1 <= clues_each <= MAX_CLUES_EACH):
            raise ValueError(f"count must be an integer from 1 to {MAX_STAFF}, clues_each from 1 to {MAX_CLUES_EACH}")
        if not all(isinstance(t, str) and _CRM_TIME.fullmatch(t) for t in (created, next_follow_up)):
            raise ValueError("created and next_follow_up must look like 2024-05-01 09:30:00")
        with self._lock:
            first = sum(1 for e in self._employees
                        if str(e.get("salesId")).isdigit() and int(e["salesId"]) >= seed.STAFF_FIRST_SALES_ID)
            clue_id = max([seed.STAFF_CLUE_FIRST_ID - 1,
                           *(i for i in self._clues if seed.STAFF_CLUE_FIRST_ID <= i <= seed.STAFF_CLUE_LAST_ID)]) + 1
            if clue_id + count * clues_each - 1 > seed.STAFF_CLUE_LAST_ID:
                raise ValueError("the sandbox holds as many staff clues as it can: reset it")
            added = [seed.staff_member(first + n) for n in range(count)]
            for owner in added:
                for _ in range(clues_each):
                    self._clues[clue_id] = seed.staff_clue(clue_id, owner, created=created,
                                                           next_follow_up=next_follow_up)
                    self._sales[clue_id] = [seed.staff_sales_row(owner)]
                    clue_id += 1
            self._employees += added
        return [owner["salesId"] for owner in added]

    def advance_stage(self, clue_id: int) -> str:
        """"A lead changes stage": ``clue_id`` moves to the next stage of the pipeline (after the last, the
        first again), its ``lastUpdateTime`` to now; the new stage's option id."""
        current = _field_value(self.clue(clue_id) or {}, "customer_stage")
        pipeline = seed.STAGE_PIPELINE
        following = pipeline[(pipeline.index(current) + 1) % len(pipeline)] if current in pipeline else pipeline[0]
        self.update_clue(clue_id, customer_stage=following)
        return following

    def clues_by_create_time(self, since: str, before: str, size: int, cursor: str | None) -> Json:
        """clue/list-by-create-time-asc: ``since`` <= createTime < ``before``, oldest first (then by id);
        ``nextCursor`` is the position after this page (opaque to clients), None at the end."""
        with self._lock:
            listed = sorted((c for c in self._clues.values()
                             if isinstance(c.get("createTime"), str) and since <= c["createTime"] < before),
                            key=lambda c: (c["createTime"], c["customerId"]))
            start = 0
            if cursor is not None:
                if not cursor.isascii() or not cursor.isdigit():
                    raise ValueError("unknown cursor")
                start = int(cursor)
            page = listed[start:start + size]
            more = start + size < len(listed)
            return {"list": copy.deepcopy(page), "nextCursor": str(start + size) if more else None}

    def set_catalog(self, *, fields: list[Json] | None = None, tag_groups: list[Json] | None = None) -> None:
        """Replace the list-fields definitions and/or the tag tree (e.g. to add a once-unknown option)."""
        with self._lock:
            if fields is not None:
                self._fields = copy.deepcopy(fields)
            if tag_groups is not None:
                self._tag_groups = copy.deepcopy(tag_groups)

    def reset(self) -> None:
        """Restore the seed data, clear every fault (releasing held requests) and zero the stats."""
        with self._changed:
            self._clues = {clue["customerId"]: copy.deepcopy(clue) for clue in seed.CLUES}
            self._follow_ups = copy.deepcopy(seed.FOLLOW_UPS)
            self._sales = {}
            self._employees = [dict(e) for e in seed.EMPLOYEES]
            self._fields = copy.deepcopy(seed.FIELDS)
            self._tag_groups = copy.deepcopy(seed.TAG_GROUPS)
            self._faults.clear()
            self._release_holds()
            self._reset_stats()

    # ------------------------------------------------------------ faults

    def set_fault(self, clue_id: int | None = None, *, latency_ms: int = 0, hang: bool = False,
                  status: int | None = None, code: int | None = None, malformed: bool = False,
                  oversized_bytes: int = 0, endpoint: str | None = None) -> None:
        """Make matching requests misbehave until ``clear_faults``.

        ``clue_id=None`` matches every request; a clue id matches only clue/get and list-follow-up for
        that ``customerId``. ``endpoint`` (an API path without prefix, e.g. ``/api/v3/clue/get``) narrows
        either. Setting the same (clue_id, endpoint) again replaces that fault; the most specific fault
        wins. ``latency_ms`` delays, ``hang`` waits up to 600 s; both end early when the client
        disconnects or faults are cleared. ``status`` answers that HTTP status with an HTML page,
        ``malformed`` a truncated JSON body, ``code`` an HTTP 200 envelope with that code;
        ``oversized_bytes`` pads JSON answers with trailing whitespace to that many bytes.
        """
        if clue_id is not None and not _is_int(clue_id):
            raise ValueError("clue_id must be an integer or None")
        if endpoint is not None and endpoint not in API_PATHS:
            raise ValueError(f"endpoint must be one of {', '.join(API_PATHS)}")
        if clue_id is not None and endpoint is not None and endpoint not in CLUE_PATHS:
            raise ValueError(f"a per-clue fault only applies to {', '.join(sorted(CLUE_PATHS))}")
        fault = Fault(latency_ms=latency_ms, hang=hang, status=status, code=code, malformed=malformed,
                      oversized_bytes=oversized_bytes)
        with self._lock:
            self._faults[(clue_id, endpoint)] = fault

    def clear_faults(self) -> None:
        """Remove every fault and release requests currently held by latency or hang."""
        with self._lock:
            self._faults.clear()
            self._release_holds()

    def release_held(self) -> None:
        """Let requests currently held by latency or hang proceed; the faults stay set."""
        with self._lock:
            self._release_holds()

    # ------------------------------------------------------------ stats

    def stats(self) -> SandboxStats:
        with self._lock:
            return self._snapshot()

    def reset_stats(self) -> None:
        """Zero the counters; requests still in flight stay counted in ``in_flight``."""
        with self._changed:
            self._reset_stats()
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[SandboxStats], bool], timeout: float) -> bool:
        """Block until ``predicate(stats)`` holds (checked on every change); False on timeout.

        Blocking: from async code, run it with ``asyncio.to_thread``.
        """
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self._snapshot()), timeout)

    # ------------------------------------------------------------ queries (the app's handlers)

    def field_defs(self) -> list[Json]:
        with self._lock:
            return copy.deepcopy(self._fields)

    def tag_tree(self) -> list[Json]:
        with self._lock:
            return copy.deepcopy(self._tag_groups)

    def follow_up_page(self, clue_id: int, size: int, cursor: str | None, kind: int = 0) -> Json:
        """One page of follow-ups, newest first; ``nextCursor`` is the last id shown, None at the end.

        ``kind`` is the request's ``type`` read as the follow-up's (1 free text, 2 system): 0, as in the
        vendor's example, lists every kind (an assumption: README, What we assume about the real CRM)."""
        with self._lock:
            items = [item for item in self._follow_ups.get(clue_id, []) if kind in (0, item["type"])]
            start = 0
            if cursor is not None:
                ids = [str(item["id"]) for item in items]
                if cursor not in ids:
                    raise ValueError("unknown cursor")
                start = ids.index(cursor) + 1
            page = items[start:start + size]
            more = start + size < len(items)
            return {"list": copy.deepcopy(page), "nextCursor": str(page[-1]["id"]) if more else None}

    def search(self, key: str | None, page_no: int, page_size: int, customer_id: int | None = None,
               owners: frozenset[str] | None = None) -> Json:
        """customer/search: name substring (case-insensitive) or phone substring, and/or one ``customerId``
        (the 高级筛选 filter); by customerId, one row per sales relationship, as the public clients read it:
        no ``name`` key (the name under the 姓名 field's numeric id), ``mainFollows`` per row. ``owners``
        (``role: 1`` with ``salesIdList``): only the rows whose main follow is one of those salesIds."""
        needle = key.strip().casefold() if key is not None else None
        with self._lock:
            sales_ids = {e["name"]: str(e["salesId"]) for e in self._employees if e.get("name")}
            if needle is not None:
                self._text_searches += 1
            stages = {str(item["id"]): item["name"] for definition in self._fields
                      if self._is_field(definition, "customer_stage") for item in definition["items"]}
            row_ids = {key: [str(definition["id"]) for definition in self._fields if self._is_field(definition, key)]
                       for key in _ROW_FIELDS}
            tag_names = {}
            for group in self._tag_groups:
                for tag in group["tags"]:
                    tag_names[str(tag["id"])] = tag_names[tag["qwTagId"]] = tag["name"]
            rows = [{**_search_hit(clue, stages, tag_names, row_ids), **relationship}
                    for clue_key, clue in sorted(self._clues.items())
                    if customer_id in (None, clue_key) and (needle is None or _matches(clue, needle))
                    for relationship in self._sales.get(clue_key, seed.sales_rows(clue))
                    if owners is None or any(sales_ids.get(f.get("salesName")) in owners
                                             for f in relationship.get("mainFollows") or ())]
        start = (page_no - 1) * page_size
        return {"totalPage": math.ceil(len(rows) / page_size), "data": rows[start:start + page_size]}

    def set_employees(self, employees: list[Json]) -> None:
        """Replace get-users' list (each a dict as the CRM would send it: ``salesId``, ``name``, and whatever
        unpublished keys a test gives, e.g. ``mobile``)."""
        with self._lock:
            self._employees = copy.deepcopy(employees)

    def employees_page(self, page_no: int, page_size: int) -> Json:
        """get-users: ``result[]`` of one page (how the real CRM says it is the last is unpublished: the sandbox
        ends with a short page)."""
        with self._lock:
            start = (page_no - 1) * page_size
            return {"result": copy.deepcopy(self._employees[start:start + page_size])}

    def set_sales(self, clue_id: int, rows: list[Json]) -> None:
        """Replace a clue's sales relationships: the extra keys of each of its customer/search rows
        (``mainFollows``, ``followDeptNames``…); ``[]``: no row at all."""
        with self._lock:
            self._sales[clue_id] = copy.deepcopy(rows)

    # ------------------------------------------------------------ used by SandboxApp, on the loop thread

    def _enter(self, path: str) -> None:
        with self._changed:
            self._calls[path] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            self._changed.notify_all()

    def _leave(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    def _count_clue_get(self, clue_id: int) -> None:
        with self._changed:
            self._clue_gets[clue_id] += 1
            self._changed.notify_all()

    def _count_fault(self, kind: str) -> None:
        with self._changed:
            self._faults_applied[kind] += 1
            self._changed.notify_all()

    def _take_fault(self, path: str, clue_id: int | None) -> tuple[Fault, asyncio.Event | None] | None:
        """The fault for a request and, if it holds the request, a registered release event.

        Lookup and registration share one lock with ``clear_faults``, so a request either misses the
        fault or is released by the clear: none can slip in between and hang on a cleared fault.
        """
        keys: list[tuple[int | None, str | None]] = []
        if clue_id is not None and path in CLUE_PATHS:
            keys += [(clue_id, path), (clue_id, None)]
        keys += [(None, path), (None, None)]
        with self._changed:
            fault = next((self._faults[key] for key in keys if key in self._faults), None)
            if fault is None:
                return None
            if not fault.holds:
                return fault, None
            released = asyncio.Event()
            self._holds[released] = asyncio.get_running_loop()
            self._faults_applied["hang" if fault.hang else "latency"] += 1
            self._changed.notify_all()
            return fault, released

    def _unhold(self, released: asyncio.Event) -> None:
        with self._changed:
            self._holds.pop(released, None)
            self._changed.notify_all()

    # ------------------------------------------------------------ helpers (lock held)

    def _snapshot(self) -> SandboxStats:
        return SandboxStats(calls=dict(self._calls), clue_gets=dict(self._clue_gets),
                            in_flight=self._in_flight, max_in_flight=self._max_in_flight,
                            held=len(self._holds), faults_applied=dict(self._faults_applied),
                            text_searches=self._text_searches)

    def _reset_stats(self) -> None:
        self._calls.clear()
        self._clue_gets.clear()
        self._faults_applied.clear()
        self._text_searches = 0
        self._max_in_flight = self._in_flight

    def _release_holds(self) -> None:
        for released, loop in self._holds.items():
            # A closed loop raises RuntimeError; its request is gone already.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(released.set)
        self._holds.clear()
        self._changed.notify_all()

    def _set_field(self, clue: Json, key: str, value: Any) -> None:
        if value is not None and not isinstance(value, str):
            raise TypeError(f"field {key!r} takes valueAsText: a string or None")
        fields: list[Json] = clue.setdefault("fields", [])
        for item in fields:
            if item.get("field") == key:
                item["valueAsText"] = value
                return
        definition = next((d for d in self._fields if self._is_field(d, key)), None)
        fields.append({"field": key, "type": definition["type"] if definition else seed.TEXT,
                       "valueAsText": value})

    @staticmethod
    def _is_field(definition: Mapping[str, Any], key: str) -> bool:
        """Whether a list-fields definition is clue/get's field ``key`` (a system key or a field id)."""
        return (key in (definition.get("outerField"), str(definition.get("id")))
                or definition.get("id") == seed.FIELD_IDS_BY_KEY.get(key))

    def _bumped(self, previous: Any) -> str:
        now = datetime.fromtimestamp(self._now_ms() / 1000, CRM_TIMEZONE).replace(tzinfo=None, microsecond=0)
        try:
            # A change is always later than the last one, even within the same second.
            earliest = datetime.strptime(previous, TIME_FORMAT) + timedelta(seconds=1)
        except (TypeError, ValueError):
            earliest = now
        return max(now, earliest).strftime(TIME_FORMAT)


def _field_value(clue: Mapping[str, Any], key: str) -> str | None:
    for item in clue.get("fields") or ():
        if item.get("field") == key and isinstance(item.get("valueAsText"), str):
            value: str = item["valueAsText"]
            return value
    return None


def _phones(clue: Mapping[str, Any]) -> list[str]:
    value = _field_value(clue, "mobile")
    if value is None:
        return []
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = value
    return [str(phone) for phone in (decoded if isinstance(decoded, list) else [decoded])]


def _compact(text: str) -> str:
    return text.replace(" ", "").replace("-", "")


def _matches(clue: Mapping[str, Any], needle: str) -> bool:
    name = _field_value(clue, "name")
    if name is not None and needle in name.casefold():
        return True
    return any(_compact(needle) in _compact(phone) for phone in _phones(clue))


_ROW_FIELDS = ("name", "mobile", "corp_name")  # system fields a search row carries under their numeric ids


def _search_hit(clue: Mapping[str, Any], stages: Mapping[str, str], tag_names: Mapping[str, str],
                row_ids: Mapping[str, list[str]]) -> Json:
    # The doc lists these keys plus system and custom fields keyed by numeric field id (the name under the
    # 姓名 field's, the phone under 电话's as clue/get's JSON array text, the company under 公司名称's);
    # ``tags`` (names here) is undocumented in shape.
    stage = _field_value(clue, "customer_stage")
    hit: Json = {"customerId": clue["customerId"], "salesStageName": stages.get(stage) if stage else None,
                 "tags": [tag_names[t] for t in clue.get("tagIds") or () if t in tag_names],
                 "createTime": clue.get("createTime")}
    hit.update((field_id, _field_value(clue, key)) for key, ids in row_ids.items() for field_id in ids)
    for item in clue.get("fields") or ():
        if str(item.get("field")).isdigit():
            hit[item["field"]] = item.get("valueAsText")
    return hit


# ---------------------------------------------------------------- HTTP


_Handler = Callable[["_Payload"], Any]


class _BadRequest(Exception):
    """The body does not have the endpoint's shape: answered as the CRM's 参数错误 envelope."""


@dataclass(frozen=True, slots=True)
class _Payload:
    """A request body decoded once: ``value`` is the JSON (None for an empty body) when ``valid``."""

    value: Any
    valid: bool

    @classmethod
    def decode(cls, body: bytes) -> _Payload:
        if not body.strip():
            return cls(None, valid=True)
        try:
            return cls(json.loads(body), valid=True)
        except (ValueError, RecursionError):  # ValueError covers bad JSON and bad UTF-8
            return cls(None, valid=False)

    def object(self) -> Json:
        if not self.valid or not isinstance(self.value, dict):
            raise _BadRequest
        return self.value

    @property
    def customer_id(self) -> int | None:
        value = self.value.get("customerId") if isinstance(self.value, dict) else None
        return value if _is_int(value) else None


def _owners(body: Mapping[str, Any]) -> frozenset[str] | None:
    """``role: 1`` (owner) with ``salesIdList``: the salesIds whose clues to list; None without the filter."""
    if "salesIdList" not in body and "role" not in body:
        return None
    ids = body.get("salesIdList")
    if body.get("role") != 1 or not isinstance(ids, list) or not all(isinstance(i, str | int) for i in ids):
        raise _BadRequest  # only the owner role is served (2, collaborator, has no seed data)
    return frozenset(str(i) for i in ids)


def _int_arg(body: Mapping[str, Any], key: str, *, default: int | None = None, low: int = 0,
             high: int = 2**63 - 1) -> int:
    value = body.get(key)
    if value is None and default is not None:
        return default
    if not _is_int(value) or not low <= value <= high:
        raise _BadRequest
    return value


def _json(payload: Json, pad_to: int = 0, status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    # Trailing whitespace keeps the JSON valid, so only a size limit can catch it.
    body += b" " * max(0, pad_to - len(body))
    return Response(body, status_code=status, media_type="application/json")


def _envelope_error(error: tuple[int, str], pad_to: int = 0) -> Response:
    code, message = error
    return _json({"code": code, "message": message}, pad_to)


def _gateway_page(status: int) -> Response:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    title = f"{status} {phrase}"
    page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    return Response(page, status_code=status, media_type="text/html")


async def _control_args(request: Request, keys: set[str]) -> Json | None:
    """A control call's JSON object (``{}`` for no body) when it names only ``keys``; None otherwise."""
    try:
        args = json.loads(await request.body() or b"{}")
    except ValueError:
        return None
    return args if isinstance(args, dict) and not set(args) - keys else None


async def _read_body(request: Request) -> bytes | None:
    """The raw body, or None when it exceeds ``MAX_REQUEST_BYTES``."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            return None
    return bytes(body)


async def _disconnected(request: Request) -> None:
    # Once the body is read, the server's next receive() message is http.disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _hold(request: Request, seconds: float, released: asyncio.Event) -> None:
    """Wait ``seconds``, or less when the client disconnects or the hold is released."""
    waiters = [asyncio.ensure_future(released.wait()), asyncio.ensure_future(_disconnected(request))]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class SandboxApp:
    """ASGI app of the sandbox CRM; ``state`` holds its data, stats and fault knobs.

    ``prefix`` mounts the API under a path, like ``/apiServer`` on the real host. ``now_ms`` is the
    clock for the timestamp window and for ``lastUpdateTime`` bumps.
    """

    def __init__(self, *, prefix: str = "", app_id: str = SANDBOX_APP_ID, app_key: str = SANDBOX_APP_KEY,
                 skew_window_ms: int = DEFAULT_SKEW_WINDOW_MS,
                 now_ms: Callable[[], int] = wall_clock_ms) -> None:
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.state = SandboxState(now_ms)
        self._app_id = app_id
        self._app_key = app_key
        self._skew_window_ms = skew_window_ms
        self._now_ms = now_ms
        self.pusher = SandboxPusher(app_id, app_key, corp_id_of(app_id), now_ms, edit=self.state.stamp_name)
        handlers: dict[str, _Handler] = {
            CLUE_GET: self._clue_get,
            LIST_FIELDS: lambda _: {"fields": self.state.field_defs()},
            TAG_TREE: lambda _: self.state.tag_tree(),
            FOLLOW_UPS: self._follow_ups,
            SEARCH: self._search,
            GET_USERS: self._get_users,
            ECHO: self._echo,
            CLUES_BY_CREATE_TIME: self._clues_by_create_time,
            PUSH_REGISTER: self._push_register,
        }
        routes = [Route(self.prefix + path, self._endpoint(path, handler), methods=["POST"])
                  for path, handler in handlers.items()]
        routes += [
            Route("/_sandbox/stats", self._control_stats, methods=["GET"]),
            Route("/_sandbox/faults", self._control_set_fault, methods=["POST"]),
            Route("/_sandbox/faults", self._control_clear_faults, methods=["DELETE"]),
            Route("/_sandbox/reset", self._control_reset, methods=["POST"]),
            Route("/_sandbox/leads", self._control_add_leads, methods=["POST"]),
            Route("/_sandbox/staff", self._control_add_staff, methods=["POST"]),
            Route("/_sandbox/stage", self._control_advance_stage, methods=["POST"]),
            Route("/_sandbox/push", self.pusher.control, methods=["POST"]),
            Route("/clues/{clue_id}", self._clue_page, methods=["GET"]),
        ]
        self._app = Starlette(routes=routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    def _endpoint(self, path: str, handler: _Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.state._enter(path)
            try:
                return await self._serve(request, path, handler)
            finally:
                self.state._leave()

        return endpoint

    async def _serve(self, request: Request, path: str, handler: _Handler) -> Response:
        try:
            body = await _read_body(request)
        except ClientDisconnect:  # the client gave up mid-body (its own deadline): nobody reads an answer
            return Response(status_code=400)
        if body is None:
            return Response(status_code=413)
        payload = _Payload.decode(body)
        if path == CLUE_GET and payload.customer_id is not None:
            self.state._count_clue_get(payload.customer_id)
        rejection = self._authenticate(request.headers, body)
        if rejection is not None:
            return _envelope_error(rejection)
        taken = self.state._take_fault(path, payload.customer_id)
        fault = taken[0] if taken else Fault()
        if taken and taken[1] is not None:
            try:
                await _hold(request, HANG_SECONDS if fault.hang else fault.latency_ms / 1000, taken[1])
            finally:
                self.state._unhold(taken[1])
        failure = self._failure(fault)
        if failure is not None:
            return failure
        if fault.oversized_bytes:
            self.state._count_fault("oversized")
        try:
            data = handler(payload)
        except _BadRequest:
            return _envelope_error(BAD_PARAMETERS, fault.oversized_bytes)
        return _json({"code": 0, "message": "ok", "data": data}, fault.oversized_bytes)

    def _authenticate(self, headers: Headers, body: bytes) -> tuple[int, str] | None:
        app_id = headers.get("appId", "")
        timestamp = headers.get("timestamp", "")
        signature = headers.get("sign", "")
        # hmac.compare_digest raises on non-ASCII text, and headers arrive latin-1 decoded.
        if (app_id != self._app_id or not signature.isascii()
                or not signature_matches(app_id, timestamp, body, self._app_key, signature)):
            return SIGNATURE_FAILED
        if not _TIMESTAMP.fullmatch(timestamp) or abs(self._now_ms() - int(timestamp)) > self._skew_window_ms:
            return TIMESTAMP_EXPIRED
        return None

    def _failure(self, fault: Fault) -> Response | None:
        if fault.status is not None:
            self.state._count_fault("status")
            return _gateway_page(fault.status)
        if fault.malformed:
            self.state._count_fault("malformed")
            return Response(_MALFORMED_BODY, media_type="application/json")
        if fault.code is not None:
            self.state._count_fault("code")
            message = _FAULT_MESSAGES.get(fault.code, _GENERIC_FAULT_MESSAGE)
            return _envelope_error((fault.code, message), fault.oversized_bytes)
        return None

    # ------------------------------------------------------------ API handlers

    def _clue_get(self, payload: _Payload) -> Json | None:
        # Unknown ids answer code 0 with null data: the real behaviour is undocumented, and the
        # client reads null data as "not found".
        return self.state.clue(_int_arg(payload.object(), "customerId"))

    def _follow_ups(self, payload: _Payload) -> Json:
        body = payload.object()
        cursor = body.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise _BadRequest
        # ``type`` is documented only as "类型": read here as the follow-up kind to list, 0 for all.
        kind = _int_arg(body, "type", default=0, low=0)
        size = _int_arg(body, "size", default=20, low=1, high=MAX_PAGE_SIZE)
        try:
            return self.state.follow_up_page(_int_arg(body, "customerId"), size, cursor, kind)
        except ValueError as exc:
            raise _BadRequest from exc

    def _search(self, payload: _Payload) -> Json:
        body = payload.object()
        key = body.get("searchKey")
        customer_id = payload.customer_id
        if "customerId" in body and customer_id is None:
            raise _BadRequest
        owners = _owners(body)
        if customer_id is None and owners is None and (not isinstance(key, str) or not key.strip()):
            raise _BadRequest  # neither a search text nor a customer or owner to filter by
        if key is not None and not isinstance(key, str):
            raise _BadRequest
        page_no = _int_arg(body, "pageNo", default=1, low=1)
        page_size = _int_arg(body, "pageSize", default=10, low=1, high=MAX_PAGE_SIZE)
        return self.state.search(key or None, page_no, page_size, customer_id, owners)

    def _get_users(self, payload: _Payload) -> Json:
        body = payload.object()
        if not isinstance(body.get("name", ""), str) or not isinstance(body.get("deleted", False), bool):
            raise _BadRequest
        page_no = _int_arg(body, "pageNo", default=1, low=1)
        page_size = _int_arg(body, "pageSize", default=100, low=1, high=MAX_PAGE_SIZE)
        return self.state.employees_page(page_no, page_size)

    def _clues_by_create_time(self, payload: _Payload) -> Json:
        body = payload.object()
        since, before, cursor = body.get("since"), body.get("before"), body.get("cursor")
        if not (isinstance(since, str) and _CRM_TIME.fullmatch(since) and isinstance(before, str)
                and _CRM_TIME.fullmatch(before)) or (cursor is not None and not isinstance(cursor, str)):
            raise _BadRequest
        if body.get("type") is not None:
            _int_arg(body, "type")
        size = _int_arg(body, "size", default=50, low=1, high=MAX_PAGE_SIZE)
        try:
            return self.state.clues_by_create_time(since, before, size, cursor)
        except ValueError as exc:
            raise _BadRequest from exc

    def _push_register(self, payload: _Payload) -> None:
        body = payload.object()
        address, subscription = body.get("receiveAddress"), body.get("subscription")
        if not (isinstance(address, str) and address.startswith(("http://", "https://"))
                and isinstance(subscription, str)):
            raise _BadRequest
        self.pusher.register(address, subscription)

    def _echo(self, payload: _Payload) -> Any:
        if not payload.valid:
            raise _BadRequest
        return payload.value

    # ------------------------------------------------------------ the CRM's web page of a clue (unsigned)

    async def _clue_page(self, request: Request) -> Response:
        """``/clues/{id}``: where Open in CRM lands in the playground; read-only, escaped, phones masked."""
        text = request.path_params["clue_id"]
        clue = self.state.clue(int(text)) if text.isascii() and text.isdigit() and len(text) <= 19 else None
        headers = {"Content-Security-Policy": page.CSP, "X-Content-Type-Options": "nosniff",
                   "Cache-Control": "no-store"}
        if clue is None:
            return HTMLResponse(page.missing_page(text[:40]), status_code=404, headers=headers)
        follow_ups = self.state.follow_up_page(clue["customerId"], MAX_PAGE_SIZE, None)["list"]
        return HTMLResponse(page.clue_page(clue, self.state.field_defs(), self.state.tag_tree(), follow_ups),
                            headers=headers)

    # ------------------------------------------------------------ control endpoints (unsigned)

    async def _control_stats(self, request: Request) -> Response:
        return JSONResponse(self.state.stats().to_json())

    async def _control_set_fault(self, request: Request) -> Response:
        try:
            args = json.loads(await request.body())
        except ValueError:
            args = None
        if not isinstance(args, dict):
            return JSONResponse({"error": "body must be a JSON object of set_fault arguments"},
                                status_code=400)
        unknown = sorted(set(args) - _FAULT_ARGS)
        if unknown:
            return JSONResponse({"error": f"unknown fault arguments: {', '.join(unknown)}"}, status_code=400)
        try:
            self.state.set_fault(**args)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def _control_clear_faults(self, request: Request) -> Response:
        self.state.clear_faults()
        return JSONResponse({"ok": True})

    async def _control_add_leads(self, request: Request) -> Response:
        """``{"count": 50}`` new leads now (``"created": "2024-05-01 09:30:00"``: late arrivals); their ids."""
        args = await _control_args(request, {"count", "created"})
        if args is None:
            return JSONResponse({"error": "body must be a JSON object: {\"count\": n, \"created\": time}"},
                                status_code=400)
        try:
            ids = self.state.add_leads(args.get("count", 1), created=args.get("created"))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ids": ids})

    async def _control_add_staff(self, request: Request) -> Response:
        """``{"count": 1000, "clues_each": 2}`` more employees, each owning clues created 30 days ago and overdue
        since yesterday (on the sandbox clock); their salesIds."""
        args = await _control_args(request, {"count", "clues_each"})
        if args is None:
            return JSONResponse({"error": "body must be a JSON object: {\"count\": n, \"clues_each\": k}"},
                                status_code=400)
        try:
            sales_ids = self.state.add_staff(args.get("count", 1), args.get("clues_each", 1))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"sales_ids": sales_ids})

    async def _control_advance_stage(self, request: Request) -> Response:
        """``{"clue": 8}``: that lead moves to its next stage (a watched clue's change); its new stage."""
        try:
            args = json.loads(await request.body() or b"{}")
        except ValueError:
            args = None
        clue_id = args.get("clue") if isinstance(args, dict) and set(args) == {"clue"} else None
        if not _is_int(clue_id):
            return JSONResponse({"error": "body must be a JSON object: {\"clue\": id}"}, status_code=400)
        try:
            stage = self.state.advance_stage(clue_id)
        except KeyError:
            return JSONResponse({"error": f"no clue {clue_id}"}, status_code=404)
        names = dict(seed.STAGE_NAMES)
        return JSONResponse({"clue": clue_id, "stage": names.get(stage, stage)})

    async def _control_reset(self, request: Request) -> Response:
        self.state.reset()
        return JSONResponse({"ok": True})
