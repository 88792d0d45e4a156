"""The sandbox CRM over real loopback HTTP: signing, envelope, endpoints, fault knobs, state and seed."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.config import SANDBOX_APP_ID, SANDBOX_APP_KEY
from bot.crm.models import (
    RowFields,
    parse_clue,
    parse_field_defs,
    parse_follow_ups,
    parse_search,
    parse_tag_tree,
)
from bot.crm.people import GET_USERS
from bot.crm.signing import CrmSigner, sign
from bot.dev.sandbox import SandboxServer, SandboxState, seed
from bot.dev.sandbox.app import CLUE_GET, ECHO, FOLLOW_UPS, LIST_FIELDS, SEARCH, TAG_TREE, wall_clock_ms

SIGNATURE_FAILED = {"code": 1002, "message": "签名校验失败"}
TIMESTAMP_EXPIRED = {"code": 1003, "message": "时间戳过期"}
BAD_PARAMETERS = {"code": 400, "message": "参数错误"}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crm"
WAIT_SECONDS = 10.0  # upper bound for event waits; they return as soon as the condition holds

# crm-api.md section 6, the vendor's clue/get example; the sandbox serves it as clue 8. Copied from the doc
# on purpose, not imported from bot/dev/sandbox/seed.py: the test holds the seed to the doc, not to itself.
DOC_EXAMPLE = {
    "customerId": 8,
    "isClue": False,
    "type": 1,
    "fields": [
        {"field": "customer_source", "type": 2, "valueAsText": None},
        {"field": "description", "type": 1, "valueAsText": "u 诶IE"},
        {"field": "mobile", "type": 8, "valueAsText": "[\"145678388\"]"},
        {"field": "address", "type": 1, "valueAsText": None},
        {"field": "birthday", "type": 3, "valueAsText": None},
        {"field": "corp_name", "type": 1, "valueAsText": None},
        {"field": "name", "type": 1, "valueAsText": "打马赛克就"},
        {"field": "purchase_intention", "type": 2, "valueAsText": None},
        {"field": "gender", "type": 2, "valueAsText": None},
        {"field": "customer_stage", "type": 2, "valueAsText": "396823724189760"},
    ],
    "tagIds": [],
    "createTime": "2021-05-11 15:15:48",
    "lastUpdateTime": "2021-05-11 15:15:48",
}

# The regression vectors of crm-api.md section 2, served by a sandbox with their placeholder credentials.
VECTOR_APP_ID = "wwexamplecorp0001_AbCdEf"
VECTOR_APP_KEY = "example-app-key"
VECTOR_NOW_MS = 1_700_000_000_000


def body_of(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def signed_headers(body: bytes, *, timestamp: str | None = None, app_id: str = SANDBOX_APP_ID,
                   app_key: str = SANDBOX_APP_KEY) -> dict[str, str]:
    ts = timestamp if timestamp is not None else str(wall_clock_ms())
    return {"appId": app_id, "timestamp": ts, "sign": sign(app_id, ts, body, app_key),
            "content-type": "application/json"}


class CrmAuth(httpx.Auth):
    """Signs every request like the bot does: CrmSigner's headers over the exact bytes sent."""

    requires_request_body = True

    def __init__(self, app_id: str, app_key: str, now_ms: Callable[[], int]) -> None:
        self._signer = CrmSigner(app_id, app_key, now_ms)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(dict(self._signer.headers(request.content)))
        yield request


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    auth = CrmAuth(SANDBOX_APP_ID, SANDBOX_APP_KEY, wall_clock_ms)
    async with httpx.AsyncClient(base_url=sandbox.url, auth=auth, timeout=WAIT_SECONDS) as http:
        yield http


@pytest.fixture(scope="module")
def vector_sandbox() -> Iterator[SandboxServer]:
    """A second sandbox under /apiServer, with the doc's vector credentials and a frozen clock."""
    with SandboxServer(prefix="/apiServer", app_id=VECTOR_APP_ID, app_key=VECTOR_APP_KEY,
                       now_ms=lambda: VECTOR_NOW_MS) as server:
        yield server


async def call(client: httpx.AsyncClient, path: str, obj: Any = None) -> Any:
    """POST a signed JSON body and return the envelope."""
    response = await client.post(path, content=b"" if obj is None else body_of(obj),
                                 headers={"content-type": "application/json"})
    assert response.status_code == 200
    return response.json()


async def data_of(client: httpx.AsyncClient, path: str, obj: Any = None) -> Any:
    envelope = await call(client, path, obj)
    assert envelope["code"] == 0, envelope
    assert envelope["message"] == "ok"
    return envelope["data"]


async def wait_until(server: SandboxServer, predicate: Any) -> None:
    assert await asyncio.to_thread(server.state.wait_until, predicate, WAIT_SECONDS)


# ---------------------------------------------------------------- clue/get and the envelope


async def test_clue_get_returns_the_vendor_doc_example(client: httpx.AsyncClient) -> None:
    response = await client.post(CLUE_GET, content=b'{"customerId":8}')
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"code": 0, "message": "ok", "data": DOC_EXAMPLE}


async def test_fifteen_digit_id_round_trips_as_a_json_integer(client: httpx.AsyncClient) -> None:
    response = await client.post(CLUE_GET, content=body_of({"customerId": seed.LONG_ID_CLUE_ID}))
    assert b'"customerId":410983932389440,' in response.content
    assert response.json()["data"]["customerId"] == 410983932389440


async def test_unknown_clue_answers_code_0_with_null_data(client: httpx.AsyncClient) -> None:
    assert await call(client, CLUE_GET, {"customerId": seed.MISSING_CLUE_ID}) == {
        "code": 0, "message": "ok", "data": None}


@pytest.mark.parametrize("body", [
    b"not json", b"", b"{}", b"[8]", b'{"customerId":"8"}', b'{"customerId":true}', b'{"customerId":-1}',
    b'{"customerId":8.5}', b"\xff\xfe{}", b"[" * 100_000,
])
async def test_wrong_body_shape_is_a_business_error(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(CLUE_GET, content=body)
    assert response.status_code == 200
    assert response.json() == BAD_PARAMETERS


async def test_unknown_path_is_http_404_and_wrong_method_405(sandbox: SandboxServer,
                                                              client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v3/clue/nope", content=b"{}")).status_code == 404
    assert (await client.get(CLUE_GET)).status_code == 405
    assert sandbox.state.stats().calls == {}


async def test_oversized_request_body_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(ECHO, content=b" " * 1_000_001)
    assert response.status_code == 413


# ---------------------------------------------------------------- signature and timestamp


def _wrong_sign(body: bytes) -> dict[str, str]:
    return {**signed_headers(body), "sign": "0" * 64}


def _tampered(body: bytes) -> dict[str, str]:
    return signed_headers(b'{"customerId":9}')


def _wrong_key(body: bytes) -> dict[str, str]:
    return signed_headers(body, app_key="not-the-key")


def _wrong_app_id(body: bytes) -> dict[str, str]:
    return signed_headers(body, app_id="wwothercorp0002_Other")  # consistently signed, unknown app


def _without(header: str) -> Any:
    def headers(body: bytes) -> dict[str, str]:
        return {k: v for k, v in signed_headers(body).items() if k != header}
    return headers


def _non_ascii_sign(body: bytes) -> dict[str, Any]:
    return {**signed_headers(body), "sign": b"\xe9" * 64}


@pytest.mark.parametrize("make_headers", [_wrong_sign, _tampered, _wrong_key, _wrong_app_id,
                                          _without("appId"), _without("sign"), _non_ascii_sign])
async def test_bad_signature_is_1002(client: httpx.AsyncClient, make_headers: Any) -> None:
    body = b'{"customerId":8}'
    response = await client.post(CLUE_GET, content=body, headers=make_headers(body), auth=None)
    assert response.status_code == 200
    assert response.json() == SIGNATURE_FAILED


async def test_upper_case_sign_is_accepted(client: httpx.AsyncClient) -> None:
    body = b'{"customerId":8}'
    headers = signed_headers(body)
    headers["sign"] = headers["sign"].upper()
    response = await client.post(CLUE_GET, content=body, headers=headers, auth=None)
    assert response.json()["code"] == 0


async def test_app_key_header_is_ignored(client: httpx.AsyncClient) -> None:
    body = b'{"customerId":8}'
    with_junk_key = {**signed_headers(body), "appKey": "wrong"}
    response = await client.post(CLUE_GET, content=body, headers=with_junk_key, auth=None)
    assert response.json()["code"] == 0
    key_instead_of_sign = {**_without("sign")(body), "appKey": SANDBOX_APP_KEY}
    response = await client.post(CLUE_GET, content=body, headers=key_instead_of_sign, auth=None)
    assert response.json() == SIGNATURE_FAILED


@pytest.mark.parametrize(("offset_ms", "expected_code"), [
    (-301_000, 1003), (-300_001, 1003), (-300_000, 0), (-299_000, 0), (0, 0), (299_000, 0), (301_000, 1003),
])
def test_timestamp_window(vector_sandbox: SandboxServer, offset_ms: int, expected_code: int) -> None:
    body = b'{"customerId":8}'
    headers = signed_headers(body, timestamp=str(VECTOR_NOW_MS + offset_ms), app_id=VECTOR_APP_ID,
                             app_key=VECTOR_APP_KEY)
    response = httpx.post(vector_sandbox.url + CLUE_GET, content=body, headers=headers)
    assert response.json()["code"] == expected_code
    if expected_code:
        assert response.json() == TIMESTAMP_EXPIRED


@pytest.mark.parametrize("timestamp", ["", "abc", "1700000000000.0", "+1700000000000", "1_700_000_000_000",
                                       "1700000000"])
def test_timestamp_that_is_not_unix_ms_now_is_1003(vector_sandbox: SandboxServer, timestamp: str) -> None:
    body = b'{"customerId":8}'
    headers = signed_headers(body, timestamp=timestamp, app_id=VECTOR_APP_ID, app_key=VECTOR_APP_KEY)
    response = httpx.post(vector_sandbox.url + CLUE_GET, content=body, headers=headers)
    assert response.json() == TIMESTAMP_EXPIRED


def test_signature_is_checked_before_the_timestamp(vector_sandbox: SandboxServer) -> None:
    body = b'{"customerId":8}'
    headers = signed_headers(body, timestamp=str(VECTOR_NOW_MS - 3_600_000), app_id=VECTOR_APP_ID,
                             app_key="not-the-key")
    response = httpx.post(vector_sandbox.url + CLUE_GET, content=body, headers=headers)
    assert response.json() == SIGNATURE_FAILED


@pytest.mark.parametrize(("path", "body", "signature"), [
    (CLUE_GET, b'{"customerId":8}', "e1a2b66e6ff42c78f1037886144863e838140d08c033e3db70dd3033c26453bf"),
    (SEARCH, '{"searchKey":"张三","pageNo":1,"pageSize":10}'.encode(),
     "eabc25b0b3d3122f5c0c8ed00fa47ba393bc76dd9a38dd836ccd11865f348ef8"),
    (TAG_TREE, b"", "afb90bf9853b7de6d7742ed02bdbdc080ca09d8f9f1e25c741397c3f4ae6259c"),
])
def test_documented_vectors_are_accepted_verbatim(vector_sandbox: SandboxServer, path: str, body: bytes,
                                                  signature: str) -> None:
    headers = {"appId": VECTOR_APP_ID, "timestamp": str(VECTOR_NOW_MS), "sign": signature}
    response = httpx.post(vector_sandbox.url + path, content=body, headers=headers)
    assert response.json()["code"] == 0


def test_prefix_mounts_the_api_and_leaves_controls_at_the_root(vector_sandbox: SandboxServer) -> None:
    assert vector_sandbox.url == vector_sandbox.origin + "/apiServer"
    body = b'{"customerId":8}'
    headers = signed_headers(body, timestamp=str(VECTOR_NOW_MS), app_id=VECTOR_APP_ID, app_key=VECTOR_APP_KEY)
    response = httpx.post(vector_sandbox.url + CLUE_GET, content=body, headers=headers)
    assert response.json()["data"] == DOC_EXAMPLE
    assert httpx.post(vector_sandbox.origin + CLUE_GET, content=body, headers=headers).status_code == 404
    assert httpx.get(vector_sandbox.origin + "/_sandbox/stats").status_code == 200
    assert httpx.get(vector_sandbox.url + "/_sandbox/stats").status_code == 404


# ---------------------------------------------------------------- other endpoints


async def test_list_fields_shape(client: httpx.AsyncClient) -> None:
    data = await data_of(client, LIST_FIELDS, {})
    fields = data["fields"]
    vendor = json.loads((FIXTURES / "list-fields.json").read_text(encoding="utf-8"))["data"]["fields"]
    assert all(set(f) == set(vendor[0]) and isinstance(f["id"], int) for f in fields)
    # As in the vendor's example, outerField is null: nothing says which clue/get key a field is.
    assert {f["outerField"] for f in fields} == {None}
    by_name = {f["name"]: f for f in fields}
    assert by_name["性别"] == vendor[0]  # the documented gender definition, field for field
    stages = {item["id"]: item["name"] for item in by_name["客户阶段"]["items"]}
    assert stages[396823724189760] == "初步接触"
    assert {"意向明确", "报价中", "赢单", "输单"} <= set(stages.values())
    assert {"客户来源", "购买意向", "电话", "生日", "描述"} <= set(by_name)
    custom = next(f for f in fields if f["id"] == seed.PRODUCTS_FIELD_ID)
    assert (custom["type"], custom["stable"]) == (6, False)
    assert len(parse_field_defs(data)) == len(fields)


async def test_tag_tree_shape(client: httpx.AsyncClient) -> None:
    groups = await data_of(client, TAG_TREE)
    assert [g["name"] for g in groups] == ["企业类型", "行业", "客户等级", "渠道", "城市"]
    assert groups[0]["qwTagId"] == "etCBS_DwAA9lTDZhlMpv-jK8Ph9udv0A"
    tags = [t for g in groups for t in g["tags"]]
    assert all(set(g) == {"name", "id", "qwTagId", "tags"} and isinstance(g["id"], int) for g in groups)
    assert all(set(t) == {"id", "name", "qwTagId"} and isinstance(t["id"], int) for t in tags)
    assert all(t["qwTagId"].startswith("et") and len(t["qwTagId"]) == 32 for t in tags)
    assert len({t["id"] for t in tags}) == len({t["qwTagId"] for t in tags}) == len(tags) == 60
    assert len(parse_tag_tree(groups)) == 60


async def test_follow_ups_page_with_a_cursor(client: httpx.AsyncClient) -> None:
    seen: list[dict[str, Any]] = []
    cursor = None
    sizes = []
    while True:
        page = await data_of(client, FOLLOW_UPS, {"customerId": seed.LONG_ID_CLUE_ID, "size": 10, "type": 0,
                                                   "cursor": cursor})
        assert set(page) == {"list", "nextCursor"}
        sizes.append(len(page["list"]))
        seen += page["list"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
    assert sizes == [10, 10, 5]
    assert len({item["id"] for item in seen}) == 25
    times = [item["createTime"] for item in seen]
    assert times == sorted(times, reverse=True)
    assert {item["type"] for item in seen} == {1, 2}
    assert all(set(item) == {"id", "type", "content", "createTime", "operator"} for item in seen)
    assert all(set(item["operator"]) == {"qwUserId", "name"} for item in seen)
    assert parse_follow_ups(page).next_cursor is None


@pytest.mark.parametrize(("kind", "kinds"), [(0, [2, 1]), (1, [1]), (2, [2])])
async def test_follow_ups_of_one_kind(client: httpx.AsyncClient, kind: int, kinds: list[int]) -> None:
    """The request's ``type`` read as the follow-up kind (0: all, as the vendor's example sends)."""
    page = await data_of(client, FOLLOW_UPS, {"customerId": 3, "size": 20, "type": kind, "cursor": None})
    assert [item["type"] for item in page["list"]] == kinds


async def test_follow_ups_of_a_clue_without_any(client: httpx.AsyncClient) -> None:
    page = await data_of(client, FOLLOW_UPS, {"customerId": 2, "size": 20})
    assert page == {"list": [], "nextCursor": None}


@pytest.mark.parametrize("body", [
    {"customerId": 1, "size": 20, "cursor": "430000000999999"},
    {"customerId": 1, "size": 0},
    {"customerId": 1, "size": 20, "cursor": 430000000000101},
    {"size": 20},
])
async def test_follow_ups_reject_bad_arguments(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    assert await call(client, FOLLOW_UPS, body) == BAD_PARAMETERS


async def test_search_rows_come_as_the_sources_show_them(client: httpx.AsyncClient) -> None:
    # crm-api.md section 7: no ``name`` key; the name under the 姓名 field's numeric id; one row per sales
    # relationship (the rich clue has two), each with its mainFollows and department names.
    data = await data_of(client, SEARCH, {"searchKey": "张伟", "pageNo": 1, "pageSize": 10})
    assert data["totalPage"] == 1
    rows = data["data"]
    assert [row["customerId"] for row in rows] == [1, 1]
    name_id = str(seed.FIELD_IDS_BY_KEY["name"])
    for row in rows:
        assert "name" not in row
        assert row[name_id] == "张伟"
        assert row["salesStageName"] == "初步接触"
        assert row["tags"] == ["互联网", "A级", "官网", "上海"]
        assert row["createTime"] == "2025-03-03 10:12:45"
        assert row[str(seed.PRODUCTS_FIELD_ID)] == json.dumps([seed.PRODUCT_SCRM, seed.PRODUCT_AUTOMATION],
                                                              separators=(",", ":"))
    assert [row["mainFollows"][0]["salesName"] for row in rows] == list(seed.RICH_CLUE_OWNERS)
    assert all(row["mainFollows"][0]["qwSalesId"] and row["followDeptNames"] for row in rows)
    [hit] = parse_search(data, RowFields(name=(name_id,))).hits  # one customer, owners merged
    assert (hit.customer_id, hit.name, hit.owner.names) == (1, "张伟", seed.RICH_CLUE_OWNERS)
    english = await data_of(client, SEARCH, {"searchKey": "acme", "pageNo": 1, "pageSize": 10})
    assert [h["customerId"] for h in english["data"]] == [6]


async def test_search_filters_by_customer_id(client: httpx.AsyncClient) -> None:
    # api-55653168's 高级筛选: customerId alone, no searchKey; the owner read of a card.
    rich = await data_of(client, SEARCH, {"customerId": 1, "pageNo": 1, "pageSize": 20})
    assert [row["customerId"] for row in rich["data"]] == [1, 1]
    awaiting = await data_of(client, SEARCH, {"customerId": seed.AWAITING_ASSIGNMENT_CLUE_ID, "pageNo": 1,
                                              "pageSize": 20})
    [row] = awaiting["data"]
    assert row["mainFollows"] == []
    sparse = await data_of(client, SEARCH, {"customerId": seed.SPARSE_CLUE_ID, "pageNo": 1, "pageSize": 20})
    [hit] = parse_search(sparse, RowFields(name=(str(seed.FIELD_IDS_BY_KEY["name"]),))).hits
    assert hit.name == seed.SPARSE_CLUE_NICKNAME  # no 姓名 value: the WeChat nickname
    both = await data_of(client, SEARCH, {"searchKey": "张", "customerId": 101, "pageNo": 1, "pageSize": 20})
    assert {row["customerId"] for row in both["data"]} == {101}
    unknown = await data_of(client, SEARCH, {"customerId": seed.MISSING_CLUE_ID, "pageNo": 1, "pageSize": 20})
    assert unknown == {"totalPage": 0, "data": []}


@pytest.mark.parametrize(("key", "customer_id"), [("13812345678", 1), ("145678388", 8), ("4155550132", 6)])
async def test_search_by_phone(client: httpx.AsyncClient, key: str, customer_id: int) -> None:
    data = await data_of(client, SEARCH, {"searchKey": key, "pageNo": 1, "pageSize": 10})
    assert {hit["customerId"] for hit in data["data"]} == {customer_id}
    assert [hit.customer_id for hit in parse_search(data).hits] == [customer_id]


async def test_search_pages(client: httpx.AsyncClient) -> None:
    first = await data_of(client, SEARCH, {"searchKey": "13", "pageNo": 1, "pageSize": 5})
    matching = [c for c in seed.CLUES if any("13" in p for p in json.loads(_value(c, "mobile") or "[]"))]
    rows = sum(len(seed.sales_rows(c)) for c in matching)  # pages count rows: one per sales relationship
    assert first["totalPage"] == math.ceil(rows / 5) > 1
    second = await data_of(client, SEARCH, {"searchKey": "13", "pageNo": 2, "pageSize": 5})
    ids = [h["customerId"] for h in first["data"] + second["data"]]
    assert len(ids) == 10 and len(set(ids)) == 9  # the rich clue's two rows
    beyond = await data_of(client, SEARCH, {"searchKey": "13", "pageNo": 99, "pageSize": 5})
    assert beyond["data"] == []
    nothing = await data_of(client, SEARCH, {"searchKey": "没有这个人", "pageNo": 1, "pageSize": 5})
    assert nothing == {"totalPage": 0, "data": []}


@pytest.mark.parametrize("body", [{"searchKey": ""}, {"searchKey": 138}, {"searchKey": "a", "pageNo": 0},
                                  {"searchKey": "a", "pageSize": 1000}, {"customerId": "1"},
                                  {"customerId": 1, "searchKey": 5}, {"pageNo": 1}])
async def test_search_rejects_bad_arguments(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    assert await call(client, SEARCH, body) == BAD_PARAMETERS


async def test_echo(client: httpx.AsyncClient) -> None:
    assert await call(client, ECHO, {"hello": "clue-bot"}) == {"code": 0, "message": "ok",
                                                              "data": {"hello": "clue-bot"}}
    assert (await client.post(ECHO, content=b"{oops")).json() == BAD_PARAMETERS


# ---------------------------------------------------------------- fault knobs


async def test_global_status_fault_hits_every_endpoint(sandbox: SandboxServer,
                                                       client: httpx.AsyncClient) -> None:
    sandbox.state.set_fault(status=503)
    for path in (CLUE_GET, LIST_FIELDS):
        response = await client.post(path, content=b'{"customerId":1}')
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("text/html")
        assert "503 Service Unavailable" in response.text
    assert sandbox.state.stats().faults_applied == {"status": 2}


async def test_clue_fault_hits_only_that_clue(sandbox: SandboxServer, client: httpx.AsyncClient) -> None:
    sandbox.state.set_fault(8, status=502)
    assert (await client.post(CLUE_GET, content=b'{"customerId":8}')).status_code == 502
    assert (await client.post(FOLLOW_UPS, content=b'{"customerId":8,"size":5}')).status_code == 502
    assert (await data_of(client, CLUE_GET, {"customerId": 1}))["customerId"] == 1
    assert "fields" in await data_of(client, LIST_FIELDS, {})
    # Only clue/get and list-follow-up address a clue, whatever another body carries.
    assert await data_of(client, ECHO, {"customerId": 8}) == {"customerId": 8}


async def test_most_specific_fault_wins(sandbox: SandboxServer, client: httpx.AsyncClient) -> None:
    sandbox.state.set_fault(status=503)
    sandbox.state.set_fault(8, code=1003)
    assert await call(client, CLUE_GET, {"customerId": 8}) == TIMESTAMP_EXPIRED
    assert (await client.post(CLUE_GET, content=b'{"customerId":1}')).status_code == 503


async def test_endpoint_fault(sandbox: SandboxServer, client: httpx.AsyncClient) -> None:
    sandbox.state.set_fault(code=500, endpoint=LIST_FIELDS)
    assert await call(client, LIST_FIELDS, {}) == {"code": 500, "message": "系统繁忙，请稍后再试"}
    assert (await data_of(client, CLUE_GET, {"customerId": 8}))["customerId"] == 8


@pytest.mark.parametrize(("code", "expected"), [(1002, SIGNATURE_FAILED), (1003, TIMESTAMP_EXPIRED),
                                                (40417, {"code": 40417, "message": "系统繁忙，请稍后再试"})])
async def test_code_fault(sandbox: SandboxServer, client: httpx.AsyncClient, code: int,
                          expected: dict[str, Any]) -> None:
    sandbox.state.set_fault(8, code=code)
    assert await call(client, CLUE_GET, {"customerId": 8}) == expected


async def test_malformed_fault(sandbox: SandboxServer, client: httpx.AsyncClient) -> None:
    sandbox.state.set_fault(8, malformed=True)
    response = await client.post(CLUE_GET, content=b'{"customerId":8}')
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_oversized_fault_pads_a_valid_response(sandbox: SandboxServer,
                                                     client: httpx.AsyncClient) -> None:
    sandbox.state.set_fault(8, oversized_bytes=50_000)
    response = await client.post(CLUE_GET, content=b'{"customerId":8}')
    assert len(response.content) == 50_000
    assert response.json() == {"code": 0, "message": "ok", "data": DOC_EXAMPLE}
    assert sandbox.state.stats().faults_applied == {"oversized": 1}


async def test_faults_apply_only_after_the_signature_check(sandbox: SandboxServer,
                                                           client: httpx.AsyncClient) -> None:
    sandbox.state.set_fault(status=503)
    body = b'{"customerId":8}'
    response = await client.post(CLUE_GET, content=body, headers=_wrong_sign(body), auth=None)
    assert response.json() == SIGNATURE_FAILED


async def test_latency_fault_is_applied_to_its_clue_only(sandbox: SandboxServer,
                                                         client: httpx.AsyncClient) -> None:
    sandbox.state.set_fault(8, latency_ms=5)
    assert (await data_of(client, CLUE_GET, {"customerId": 8}))["customerId"] == 8
    assert (await data_of(client, CLUE_GET, {"customerId": 1}))["customerId"] == 1
    stats = sandbox.state.stats()
    assert stats.faults_applied == {"latency": 1}
    assert stats.held == 0


async def test_in_flight_counts_concurrent_held_requests(sandbox: SandboxServer,
                                                         client: httpx.AsyncClient) -> None:
    sandbox.state.set_fault(8, hang=True)
    held = [asyncio.create_task(call(client, CLUE_GET, {"customerId": 8})) for _ in range(3)]
    await wait_until(sandbox, lambda s: s.held == 3)
    stats = sandbox.state.stats()
    assert (stats.in_flight, stats.max_in_flight) == (3, 3)
    # Hung requests do not block the server: another clue answers meanwhile.
    assert (await data_of(client, CLUE_GET, {"customerId": 1}))["customerId"] == 1
    assert sandbox.state.stats().max_in_flight == 4
    sandbox.state.clear_faults()
    assert [envelope["code"] for envelope in await asyncio.gather(*held)] == [0, 0, 0]
    stats = sandbox.state.stats()
    assert (stats.in_flight, stats.held, stats.faults_applied) == (0, 0, {"hang": 3})
    sandbox.state.reset_stats()
    assert sandbox.state.stats().max_in_flight == 0


async def test_hang_ends_when_the_client_gives_up(sandbox: SandboxServer) -> None:
    sandbox.state.set_fault(hang=True)
    auth = CrmAuth(SANDBOX_APP_ID, SANDBOX_APP_KEY, wall_clock_ms)
    async with httpx.AsyncClient(base_url=sandbox.url, auth=auth, timeout=0.2) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post(CLUE_GET, content=b'{"customerId":8}')
    await wait_until(sandbox, lambda s: s.in_flight == 0 and s.held == 0)
    assert sandbox.state.stats().faults_applied == {"hang": 1}


async def test_a_client_leaving_mid_body_is_no_server_error(sandbox: SandboxServer, client: httpx.AsyncClient,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    host, port = sandbox.origin.removeprefix("http://").split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"POST {CLUE_GET} HTTP/1.1\r\nHost: crm\r\nContent-Type: application/json\r\n"
                 "Content-Length: 100\r\n\r\n{\"customer".encode())
    await writer.drain()
    writer.close()  # 10 of 100 bytes sent, then gone (a client's own deadline)
    await writer.wait_closed()
    await asyncio.sleep(0.2)
    assert (await call(client, CLUE_GET, {"customerId": 8}))["data"] == DOC_EXAMPLE
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_reset_releases_held_requests(sandbox: SandboxServer, client: httpx.AsyncClient) -> None:
    sandbox.state.set_fault(8, latency_ms=600_000)
    pending = asyncio.create_task(call(client, CLUE_GET, {"customerId": 8}))
    await wait_until(sandbox, lambda s: s.held == 1)
    sandbox.state.reset()
    assert (await pending)["data"] == DOC_EXAMPLE


async def test_stop_releases_held_requests() -> None:
    server = SandboxServer()
    server.start()
    server.state.set_fault(hang=True)
    auth = CrmAuth(SANDBOX_APP_ID, SANDBOX_APP_KEY, wall_clock_ms)
    async with httpx.AsyncClient(base_url=server.url, auth=auth, timeout=WAIT_SECONDS) as http:
        pending = asyncio.create_task(call(http, ECHO, {"still": "here"}))
        await wait_until(server, lambda s: s.held == 1)
        await asyncio.to_thread(server.stop)
        assert (await pending)["data"] == {"still": "here"}
    with pytest.raises(RuntimeError):
        _ = server.url


@pytest.mark.parametrize("kwargs", [
    {"latency_ms": -1}, {"latency_ms": 1.5}, {"hang": "yes"}, {"status": 200}, {"code": 0},
    {"code": "500"}, {"oversized_bytes": -1}, {"endpoint": "/api/v3/nope"},
    {"clue_id": 8, "endpoint": SEARCH}, {"clue_id": "8"},
])
def test_set_fault_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SandboxState().set_fault(**kwargs)


# ---------------------------------------------------------------- state and control endpoints


async def test_update_clue_is_visible_on_the_next_get(sandbox: SandboxServer,
                                                      client: httpx.AsyncClient) -> None:
    before = await data_of(client, CLUE_GET, {"customerId": 1})
    sandbox.state.update_clue(1, name="张伟（已更新）", customer_stage=seed.STAGE_WON,
                              tagIds=["412008700030005"])
    after = await data_of(client, CLUE_GET, {"customerId": 1})
    assert _value(after, "name") == "张伟（已更新）"
    assert _value(after, "customer_stage") == seed.STAGE_WON
    assert after["tagIds"] == ["412008700030005"]
    assert after["lastUpdateTime"] > before["lastUpdateTime"]
    assert sandbox.state.stats().clue_gets == {1: 2}


def test_update_clue_bumps_last_update_time_strictly_and_adds_missing_fields() -> None:
    state = SandboxState(now_ms=lambda: 1_620_717_348_000)  # 2021-05-11 15:15:48 in Shanghai
    first = state.update_clue(seed.DOC_CLUE_ID, description="changed")
    second = state.update_clue(seed.DOC_CLUE_ID, description="changed again")
    assert first["lastUpdateTime"] == "2021-05-11 15:15:49"
    assert second["lastUpdateTime"] == "2021-05-11 15:15:50"
    sparse = state.update_clue(seed.SPARSE_CLUE_ID, customer_stage=seed.STAGE_WON,
                               **{str(seed.BUDGET_FIELD_ID): "12"})
    assert sparse["fields"][-2:] == [
        {"field": "customer_stage", "type": 2, "valueAsText": seed.STAGE_WON},
        {"field": str(seed.BUDGET_FIELD_ID), "type": 4, "valueAsText": "12"},
    ]
    explicit = state.update_clue(1, lastUpdateTime="2030-01-01 00:00:00")
    assert explicit["lastUpdateTime"] == "2030-01-01 00:00:00"


@pytest.mark.parametrize(("clue_id", "changes", "error"), [
    (seed.MISSING_CLUE_ID, {"name": "x"}, KeyError),
    (1, {"customerId": 2}, ValueError),
    (1, {"name": 5}, TypeError),
])
def test_update_clue_rejects_mistakes(clue_id: int, changes: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        SandboxState().update_clue(clue_id, **changes)


async def test_put_delete_and_reset(sandbox: SandboxServer, client: httpx.AsyncClient) -> None:
    state = sandbox.state
    state.put_clue({**DOC_EXAMPLE, "customerId": 123})
    assert (await data_of(client, CLUE_GET, {"customerId": 123}))["fields"] == DOC_EXAMPLE["fields"]
    state.delete_clue(1)
    assert await data_of(client, CLUE_GET, {"customerId": 1}) is None
    assert await data_of(client, FOLLOW_UPS, {"customerId": 1, "size": 5}) == {"list": [], "nextCursor": None}
    with pytest.raises(KeyError):
        state.delete_clue(1)
    with pytest.raises(ValueError):
        state.put_clue({"customerId": "124"})
    state.reset()
    assert _value(await data_of(client, CLUE_GET, {"customerId": 1}), "name") == "张伟"
    assert await data_of(client, CLUE_GET, {"customerId": 123}) is None
    assert state.stats().calls == {CLUE_GET: 2}


async def test_set_catalog_replaces_reference_data(sandbox: SandboxServer, client: httpx.AsyncClient) -> None:
    fields = json.loads(json.dumps(seed.FIELDS))
    stage = next(f for f in fields if f["name"] == "客户阶段")
    stage["items"].append({"id": int(seed.UNKNOWN_STAGE_OPTION_ID), "name": "新阶段"})
    sandbox.state.set_catalog(fields=fields, tag_groups=[])
    served = (await data_of(client, LIST_FIELDS, {}))["fields"]
    assert {"id": int(seed.UNKNOWN_STAGE_OPTION_ID), "name": "新阶段"} in next(
        f for f in served if f["name"] == "客户阶段")["items"]
    assert await data_of(client, TAG_TREE) == []


async def test_stats_count_calls_per_path_and_clue(sandbox: SandboxServer, client: httpx.AsyncClient) -> None:
    await call(client, CLUE_GET, {"customerId": 8})
    await call(client, CLUE_GET, {"customerId": 8})
    await call(client, CLUE_GET, {"customerId": seed.MISSING_CLUE_ID})
    await call(client, TAG_TREE)
    body = b'{"customerId":8}'
    await client.post(CLUE_GET, content=body, headers=_wrong_sign(body), auth=None)  # rejected, still counted
    stats = sandbox.state.stats()
    assert stats.calls == {CLUE_GET: 4, TAG_TREE: 1}
    assert stats.clue_gets == {8: 3, seed.MISSING_CLUE_ID: 1}
    assert (stats.in_flight, stats.max_in_flight) == (0, 1)


async def test_control_endpoints(sandbox: SandboxServer, client: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(base_url=sandbox.origin) as control:
        response = await control.post("/_sandbox/faults", json={"clue_id": 8, "status": 503})
        assert response.json() == {"ok": True}
        assert (await client.post(CLUE_GET, content=b'{"customerId":8}')).status_code == 503
        stats = (await control.get("/_sandbox/stats")).json()
        assert stats["calls"] == {CLUE_GET: 1}
        assert stats["clue_gets"] == {"8": 1}
        assert stats["faults_applied"] == {"status": 1}
        assert (await control.delete("/_sandbox/faults")).json() == {"ok": True}
        assert (await call(client, CLUE_GET, {"customerId": 8}))["code"] == 0
        for bad in ({"status": 200}, {"clue_id": 8, "colour": "red"}, [8]):
            response = await control.post("/_sandbox/faults", json=bad)
            assert response.status_code == 400
            assert response.json()["error"]
        assert (await control.post("/_sandbox/faults", content=b"{oops")).status_code == 400
        sandbox.state.update_clue(8, name="changed")
        assert (await control.post("/_sandbox/reset")).json() == {"ok": True}
    assert _value(await data_of(client, CLUE_GET, {"customerId": 8}), "name") == "打马赛克就"
    assert sandbox.state.stats().calls == {CLUE_GET: 1}


async def test_the_clue_page_is_read_only_escaped_and_masks_phones(sandbox: SandboxServer) -> None:
    """``/clues/{id}``: where Open in CRM lands in the playground."""
    async with httpx.AsyncClient(base_url=sandbox.origin) as web:
        rich = await web.get(f"/clues/{seed.RICH_CLUE_ID}")
        assert rich.status_code == 200
        assert rich.headers["content-type"].startswith("text/html")
        assert rich.headers["content-security-policy"].startswith("default-src 'none'")
        for shown in ("<h1>张伟</h1>", "上海云杉信息科技有限公司", "初步接触", "SCRM、营销自动化",
                      "互联网、A级、官网、上海", "138****5678", "已加企微，约了周三下午线上演示。"):
            assert shown in rich.text
        assert "13812345678" not in rich.text
        hostile = (await web.get(f"/clues/{seed.HOSTILE_CLUE_ID}")).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Sons" in hostile
        assert "<script" not in hostile and "<a " not in hostile
        for missing in (str(seed.MISSING_CLUE_ID), "banana", "9" * 40, "%3Cb%3E"):
            response = await web.get(f"/clues/{missing}")
            assert response.status_code == 404
            assert "<b>" not in response.text
        assert (await web.post(f"/clues/{seed.RICH_CLUE_ID}")).status_code == 405  # read-only
    assert sandbox.state.stats().calls == {}  # a web page, not the API: no stats, no faults


def test_server_reports_a_bound_port_and_refuses_a_taken_one(sandbox_server: SandboxServer) -> None:
    port = int(sandbox_server.origin.rsplit(":", 1)[1])
    assert port > 0
    with pytest.raises(RuntimeError):
        SandboxServer(port=port).start()


# ---------------------------------------------------------------- seed data


def _value(clue: dict[str, Any], key: str) -> str | None:
    return next((f["valueAsText"] for f in clue["fields"] if f["field"] == key), None)


def test_seed_special_clues() -> None:
    clues = {c["customerId"]: c for c in seed.CLUES}
    assert len(clues) == len(seed.CLUES) >= 30
    assert clues[seed.DOC_CLUE_ID] == DOC_EXAMPLE
    assert len(clues[seed.MANY_TAGS_CLUE_ID]["tagIds"]) == 60
    assert len(_value(clues[seed.LONG_DESCRIPTION_CLUE_ID], "description") or "") == 5000
    assert len(_value(clues[seed.LONG_TEXT_CLUE_ID], "description") or "") == 600
    hostile = clues[seed.HOSTILE_CLUE_ID]
    assert _value(hostile, "name") == "<!channel> *bold* <https://evil.example|click>"
    assert all(s in (_value(hostile, "description") or "") for s in ("&", "\u200b", "`", "<@U0123ABC>"))
    converted = [clues[i] for i in seed.CONVERTED_CLUE_IDS]
    assert all("convertCustomerTime" in c and c["isClue"] is False for c in converted)
    assert [f["valueAsText"] for f in clues[seed.SPARSE_CLUE_ID]["fields"]] == [None, "[\"13900000099\"]"]
    assert seed.MISSING_CLUE_ID not in clues
    assert {c["type"] for c in clues.values()} == {1, 2}
    assert {c["isClue"] for c in clues.values()} == {True, False}
    assert any("\n" in (_value(c, "description") or "") for c in clues.values())
    assert any(str(seed.PRODUCTS_FIELD_ID) == f["field"] for c in clues.values() for f in c["fields"])


def test_seed_ids_resolve_except_the_planted_unknowns() -> None:
    tags = parse_tag_tree(seed.TAG_GROUPS)
    known_tags = {t.id for t in tags} | {t.qw_tag_id for t in tags}
    unknown_tags = {(c["customerId"], t) for c in seed.CLUES for t in c["tagIds"] if t not in known_tags}
    assert unknown_tags == {(seed.UNKNOWN_TAG_CLUE_ID, seed.UNKNOWN_TAG_ID)}
    assert any(t.startswith("et") for i in seed.WECOM_TAG_CLUE_IDS for t in _clue(i)["tagIds"])

    definitions = parse_field_defs({"fields": seed.FIELDS})
    keys = {str(field_id): key for key, field_id in seed.FIELD_IDS_BY_KEY.items()}
    options = {keys.get(d.id, d.id): d.options for d in definitions if d.options}
    unknown_options = set()
    for clue in seed.CLUES:
        for f in clue["fields"]:
            if f["field"] in options and f["valueAsText"]:
                text = f["valueAsText"]
                ids = json.loads(text) if text.startswith("[") else text.split(",")
                unknown_options |= {(clue["customerId"], i) for i in ids if i not in options[f["field"]]}
    assert unknown_options == {(seed.UNKNOWN_OPTION_CLUE_ID, seed.UNKNOWN_STAGE_OPTION_ID)}


def test_every_seed_clue_is_readable_by_the_client_parser() -> None:
    for clue in seed.CLUES:
        raw = parse_clue(clue)
        assert raw is not None
        assert raw.customer_id == clue["customerId"]
        assert len(raw.fields) == len(clue["fields"])


def _clue(customer_id: int) -> dict[str, Any]:
    return next(c for c in seed.CLUES if c["customerId"] == customer_id)


# ---------------------------------------------------------------- a sales floor (/_sandbox/staff)


async def test_staff_are_employees_owning_overdue_clues_until_reset(sandbox: SandboxServer,
                                                                    client: httpx.AsyncClient) -> None:
    control = await client.post("/_sandbox/staff", json={"count": 3, "clues_each": 2})
    assert control.status_code == 200
    sales_ids = control.json()["sales_ids"]
    assert len(sales_ids) == 3
    listed = (await data_of(client, GET_USERS, {"name": "", "pageNo": 1, "pageSize": 100}))["result"]
    assert [e["salesId"] for e in listed] == [e["salesId"] for e in seed.EMPLOYEES] + sales_ids
    assert set(listed[-1]) == {"salesId", "name"}  # only what the vendor publishes
    owned = await data_of(client, SEARCH, {"role": 1, "salesIdList": [sales_ids[1]], "pageNo": 1, "pageSize": 10})
    assert len(owned["data"]) == 2
    assert {row["mainFollows"][0]["salesName"] for row in owned["data"]} == {listed[-2]["name"]}
    due = owned["data"][0][str(seed.NEXT_FOLLOW_UP_FIELD_ID)]
    assert due < datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")  # overdue
    more = (await client.post("/_sandbox/staff", json={"count": 1})).json()["sales_ids"]
    assert more == [str(int(sales_ids[-1]) + 1)]  # counts on from the last one
    sandbox.state.reset()
    assert [e["salesId"] for e in (await data_of(client, GET_USERS, {"pageNo": 1}))["result"]] == \
        [e["salesId"] for e in seed.EMPLOYEES]


@pytest.mark.parametrize("body", [{"count": 0}, {"count": 1, "clues_each": 21}, {"count": "2"}, {"people": 2}])
def test_staff_rejects_bad_sizes(sandbox: SandboxServer, body: dict[str, Any]) -> None:
    answer = httpx.post(f"{sandbox.url}/_sandbox/staff", json=body, timeout=WAIT_SECONDS)
    assert answer.status_code == 400 and "error" in answer.json()
    assert len(sandbox.state.employees_page(1, 100)["result"]) == len(seed.EMPLOYEES)
