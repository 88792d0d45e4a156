"""Signing: the rule from crm-api.md, pinned with vectors computed by hand."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from bot.crm.client import encode_body
from bot.crm.signing import CrmSigner, sign, signature_matches

APP_ID = "wwexamplecorp0001_AbCdEf"
APP_KEY = "example-app-key"
TS = "1700000000000"


@pytest.mark.parametrize(("payload", "expected"), [
    ({"customerId": 8}, "e1a2b66e6ff42c78f1037886144863e838140d08c033e3db70dd3033c26453bf"),
    ({"searchKey": "张三", "pageNo": 1, "pageSize": 10},
     "eabc25b0b3d3122f5c0c8ed00fa47ba393bc76dd9a38dd836ccd11865f348ef8"),
    (None, "afb90bf9853b7de6d7742ed02bdbdc080ca09d8f9f1e25c741397c3f4ae6259c"),
])
def test_published_regression_vectors(payload: dict[str, object] | None, expected: str) -> None:
    assert sign(APP_ID, TS, encode_body(payload), APP_KEY) == expected


def test_vector_recomputed_by_hand() -> None:
    body = b'{"customerId":8}'
    by_hand = hashlib.sha256((APP_ID + TS + body.decode() + APP_KEY).encode("utf-8")).hexdigest()
    assert sign(APP_ID, TS, body, APP_KEY) == by_hand


def test_body_is_compact_utf8_json() -> None:
    # Default json.dumps would send {"customerId": 8} and \u5f20\u4e09, and the CRM would answer 1002.
    assert encode_body({"searchKey": "张三", "pageNo": 1}) == '{"searchKey":"张三","pageNo":1}'.encode()
    assert encode_body(None) == b""


def test_signature_matches_is_case_insensitive_and_strict() -> None:
    good = sign(APP_ID, TS, b"{}", APP_KEY)
    assert signature_matches(APP_ID, TS, b"{}", APP_KEY, good.upper())
    assert not signature_matches(APP_ID, TS, b"{} ", APP_KEY, good)
    assert not signature_matches(APP_ID, "1700000000001", b"{}", APP_KEY, good)


def test_signer_stamps_headers_over_the_exact_bytes_and_never_sends_the_key() -> None:
    signer = CrmSigner(APP_ID, APP_KEY, now_ms=lambda: 1700000000000)
    signed = httpx.Request("POST", "https://crm.test/api/v3/clue/get", content=b'{"customerId":8}',
                           headers=signer.headers(b'{"customerId":8}'))
    assert signed.headers["appId"] == APP_ID
    assert signed.headers["timestamp"] == TS
    assert signed.headers["sign"] == "e1a2b66e6ff42c78f1037886144863e838140d08c033e3db70dd3033c26453bf"
    assert APP_KEY not in str(signed.headers)
    assert "appKey" not in signed.headers
    assert APP_KEY not in repr(signer)
