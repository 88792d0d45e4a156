"""The CRM's employees (``get-users``) and one person's own clues (``customer/search`` by owner).

``POST /api/v3/get-users`` (crm-api.md section 7a) is documented as ``data.result[]`` with ``salesId`` and a
name, paged by ``pageNo`` / ``pageSize``. How the last page is told is not published: a ``totalPage`` or
``total`` is read when present, else a short page ends the list. An employee's e-mail and mobile are not
published either: ``mobile`` is the key the CRM's own user lookup takes (``/v3/common/user/info {mobile}``),
``email`` the plain word; when a tenant sends neither, nothing matches and people are linked by an admin.

A person's clues are ``customer/search`` with ``role: 1`` (负责人, owner) and ``salesIdList`` (section 7,
高级筛选). The search documents no sort: every page is read (up to ``MAX_OWNED_PAGES``) and sorted here, by
the due field, whose value rows carry under its numeric field id like every custom field.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bot.crm.catalog import crm_time
from bot.crm.client import SEARCH, CrmClient
from bot.crm.guard import about
from bot.crm.models import RowFields, as_id, as_list, as_object, as_text, parse_search
from bot.crm.reference import ReferenceData
from bot.domain.people import Employee, OwnedClue, OwnedClues
from bot.domain.search import SearchHit

log = logging.getLogger(__name__)

GET_USERS = "/api/v3/get-users"
EMPLOYEE_PAGE_SIZE = 100
MAX_EMPLOYEE_PAGES = 100  # 10,000 employees: a cursor that never ends stops here
OWNED_PAGE_SIZE = 100
MAX_OWNED_PAGES = 20  # 2,000 clues read per person per minute at most; Home and mine say when there are more
ROLE_OWNER = 1


def parse_employees(data: Any) -> tuple[tuple[Employee, ...], int | None]:
    """One page of get-users: the employees with a ``salesId``, and the page count when the CRM says it."""
    if data is None:
        return (), 0
    obj = as_object(data, "get-users page")
    employees = []
    for item in as_list(obj.get("result"), "result"):
        if not isinstance(item, Mapping):
            continue
        sales_id = as_text(item.get("salesId"))
        if sales_id is None:
            continue
        employees.append(Employee(sales_id=sales_id.strip(), name=(as_text(item.get("name")) or sales_id).strip(),
                                  email=as_text(item.get("email")), mobile=as_text(item.get("mobile")),
                                  qw_user_id=as_text(item.get("qwUserId"))))
    pages = as_text(obj.get("totalPage"))
    total = as_text(obj.get("total"))
    if pages is not None and pages.isdigit():
        return tuple(employees), int(pages)
    if total is not None and total.isdigit():
        return tuple(employees), math.ceil(int(total) / EMPLOYEE_PAGE_SIZE)
    return tuple(employees), None


def owned_rows(data: Any, fields: RowFields, due_fields: Sequence[str],
               tz: ZoneInfo) -> tuple[tuple[OwnedClue, ...], int]:
    """One page of a person's clues: each merged search row (name, phone and company under ``fields``' ids) with
    its due time, and the CRM's page count."""
    page = parse_search(data, fields)
    due: dict[int, str] = {}
    rows = as_object(data, "search page").get("data") if data is not None else None
    for item in rows if isinstance(rows, list) else ():
        if isinstance(item, Mapping):
            text = next((value for key in due_fields if (value := as_text(item.get(key)))), None)
            customer_id = as_id(item.get("customerId"))
            if text is not None and customer_id:
                due.setdefault(customer_id, text)
    clues = tuple(OwnedClue(SearchHit(clue_id=hit.customer_id, name=hit.name, stage=hit.stage_name,
                                      created=crm_time(hit.create_time, tz), tags=hit.tags, phone=hit.phone,
                                      company=hit.company),
                            crm_time(due.get(hit.customer_id), tz))
                  for hit in page.hits)
    return clues, page.total_pages


class PeopleReader:
    """Reads the employee directory and a person's clues from the CRM."""

    def __init__(self, client: CrmClient, reference: ReferenceData, tz: ZoneInfo, due_field: str | None) -> None:
        self._client = client
        self._reference = reference
        self._tz = tz
        self._due_field = due_field

    async def employees(self) -> tuple[Employee, ...]:
        """Every employee, page by page (``deleted: false``: people who left are not offered)."""
        found: dict[str, Employee] = {}
        with about(("people", "directory")):
            for page_no in range(1, MAX_EMPLOYEE_PAGES + 1):
                data = await self._client.call(GET_USERS, {"name": "", "pageNo": page_no,
                                                           "pageSize": EMPLOYEE_PAGE_SIZE, "deleted": False})
                employees, pages = parse_employees(data)
                for employee in employees:
                    found.setdefault(employee.sales_id, employee)
                last = page_no >= pages if pages is not None else len(employees) < EMPLOYEE_PAGE_SIZE
                if last or not employees:
                    break
        return tuple(found.values())

    async def owned(self, sales_id: str) -> OwnedClues:
        """The clues ``sales_id`` owns, every page up to ``MAX_OWNED_PAGES``."""
        catalog = self._reference.ready() or await self._reference.catalog()
        due_definition = catalog.configured(self._due_field) if self._due_field else None
        due_fields = (due_definition.id,) if due_definition is not None else ()
        clues: dict[int, OwnedClue] = {}
        complete = False
        with about(("owned", sales_id)):
            for page_no in range(1, MAX_OWNED_PAGES + 1):
                data = await self._client.call(SEARCH, {"role": ROLE_OWNER, "salesIdList": [sales_id],
                                                        "pageNo": page_no, "pageSize": OWNED_PAGE_SIZE})
                rows, pages = owned_rows(data, catalog.row_fields, due_fields, self._tz)
                for row in rows:
                    clues.setdefault(row.hit.clue_id, row)
                if not rows or page_no >= pages:
                    complete = True
                    break
        if not complete:
            log.info("people.owned.truncated", extra={"read": len(clues), "pages": MAX_OWNED_PAGES})
        return OwnedClues(tuple(clues.values()), complete)
