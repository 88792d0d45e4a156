"""The CRM push's pure parts against the vendor's published examples (crm-api.md §8)."""

from __future__ import annotations

import json

import pytest

from bot.config import Settings, corp_id_of
from bot.crm.push import (
    PushCipher,
    PushVerifier,
    parse_push,
    push_headers,
    push_message,
    push_reply,
    push_sign,
)
from bot.errors import PushRefused

# The vendor's worked example (doc-501862): appId, appKey and corpid all "zc_test".
VENDOR_CIPHERTEXT = (b"5TMVT8H4yTSSoING+afhRlGcCZAIxTs8Z7o3vGpid6tF2aF7C73uZ44qMopuNPCFmwOLOJ8xViCTHUfe/"
                     b"xYZSb71/VRSEDeIqqwN4eg=")
VENDOR_PLAINTEXT = b'{"type":"register","noise":4970601478527096155,"msgId":999,"content":"hello"}'
VENDOR_SIGN = "317672b4685d9b8bafe1794390e31209aed5cef912683292fed94a69085919d3"
NOW_MS = 1596681164807


def test_the_vendors_sign_example() -> None:
    assert push_sign("zc_test", "1", str(NOW_MS), "zc_test") == VENDOR_SIGN


def test_the_vendors_ciphertext_decrypts_to_its_plaintext_byte_for_byte() -> None:
    cipher = PushCipher("zc_test", "zc_test")
    assert cipher.decrypt(VENDOR_CIPHERTEXT) == VENDOR_PLAINTEXT
    assert cipher.encrypt(VENDOR_PLAINTEXT) == VENDOR_CIPHERTEXT  # 77 bytes in and out: CTR, no padding


def test_noise_beyond_2_53_stays_exact_and_is_echoed_exactly() -> None:
    message = parse_push(VENDOR_PLAINTEXT)
    assert (message.type, message.noise, message.msg_id) == ("register", 4970601478527096155, "999")
    assert message.noise > 2**53 and float(message.noise) != message.noise  # a float would have lost it
    assert push_reply(message.noise)[0] == b"4970601478527096155"


def verifier(window: float = 300, now_ms: int = NOW_MS) -> PushVerifier:
    return PushVerifier("zc_test", "zc_test", window, lambda: now_ms / 1000)


def headers_of(**values: str) -> dict[str, list[str]]:
    base = {"appid": "zc_test", "timestamp": str(NOW_MS), "version": "1", "sign": VENDOR_SIGN}
    return {name: [value] for name, value in {**base, **values}.items()}


def test_the_vendors_headers_pass_and_upper_case_hex_too() -> None:
    assert verifier().check(headers_of()).sign == VENDOR_SIGN
    assert verifier().check(headers_of(sign=VENDOR_SIGN.upper())).timestamp_ms == NOW_MS


@pytest.mark.parametrize(("headers", "reason"), [
    ({"sign": "0" * 64}, "signature"),
    ({"appid": "zc_other"}, "signature"),  # another app's push, even correctly signed by it
    ({"sign": VENDOR_SIGN[:-1]}, "headers_malformed"),
    ({"timestamp": "1596681164"}, "headers_malformed"),  # seconds, not milliseconds
    ({"version": "2"}, "version"),
])
def test_headers_that_are_not_ours_are_refused_401(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(PushRefused) as refused:
        verifier().check(headers_of(**headers))
    assert (refused.value.status, refused.value.reason) == (401, reason)


def test_missing_or_repeated_headers_are_refused() -> None:
    missing = headers_of()
    del missing["sign"]
    repeated = {**headers_of(), "timestamp": [str(NOW_MS), str(NOW_MS)]}
    for headers, reason in ((missing, "headers_missing"), (repeated, "headers_repeated")):
        with pytest.raises(PushRefused, match=reason):
            verifier().check(headers)


def test_a_timestamp_outside_the_window_is_refused_whichever_side() -> None:
    assert verifier(window=300, now_ms=NOW_MS + 300_000).check(headers_of())
    for now_ms in (NOW_MS + 300_001, NOW_MS - 300_001):
        with pytest.raises(PushRefused, match="timestamp_window"):
            verifier(window=300, now_ms=now_ms).check(headers_of())


@pytest.mark.parametrize(("body", "reason"), [
    (b"not base64!", "not_base64"),
    (b"", "empty"),
])
def test_a_body_that_is_not_base64_is_refused_400(body: bytes, reason: str) -> None:
    with pytest.raises(PushRefused) as refused:
        PushCipher("zc_test", "zc_test").decrypt(body)
    assert (refused.value.status, refused.value.reason) == (400, reason)


def test_a_body_under_another_key_is_junk_and_refused_400() -> None:
    plaintext = PushCipher("another key", "zc_test").decrypt(VENDOR_CIPHERTEXT)
    with pytest.raises(PushRefused) as refused:
        parse_push(plaintext)
    assert refused.value.status == 400


@pytest.mark.parametrize("message", [
    {"type": "register", "msgId": 1},  # no noise: nothing to echo
    {"type": "register", "noise": True},
    {"type": "register", "noise": 4.970601478527096e18},
    {"type": "register", "noise": "4970601478527096155"},
    {"noise": 1},
    {"type": "<script>", "noise": 1},
    {"type": "x", "noise": 1, "msgId": {"a": 1}},
    [1, 2],
])
def test_messages_not_shaped_like_the_vendors_are_refused(message: object) -> None:
    with pytest.raises(PushRefused):
        parse_push(json.dumps(message).encode())


def test_deeply_nested_junk_is_refused_not_a_crash() -> None:
    with pytest.raises(PushRefused):
        parse_push(b"[" * 100_000)


@pytest.mark.parametrize(("content", "top", "ids"), [
    ({"customerId": 8, "tagId": 1, "changeType": 1}, {}, (8,)),
    ('{"customerId":"410983932389440"}', {}, (410983932389440,)),  # content as JSON text, id as a string
    ("hello", {"customerId": "8"}, (8,)),
    ({"customerIds": [8, "12", 8, -1, "x", True]}, {}, (8, 12)),
    ({"customerId": 2**63}, {}, ()),  # past any clue id
    (None, {}, ()),
])
def test_customer_ids_are_read_wherever_the_message_puts_them(content: object, top: dict[str, object],
                                                              ids: tuple[int, ...]) -> None:
    message = json.dumps({"type": "tag_info", "noise": 5, "msgId": 1, "content": content, **top}).encode()
    assert parse_push(message).customer_ids == ids


def test_what_the_sandbox_sends_is_what_the_vendor_would() -> None:
    headers = push_headers("zc_test", "zc_test", NOW_MS)
    assert (headers["version"], headers["sign"]) == ("1", VENDOR_SIGN)
    assert push_message("register", 4970601478527096155, 999, "hello") == VENDOR_PLAINTEXT


def test_the_corpid_is_the_app_id_up_to_its_last_underscore_unless_set() -> None:
    assert corp_id_of("ww51046ddc4f4df510_NjaEnW") == "ww51046ddc4f4df510"
    assert corp_id_of("a_b_c") == "a_b"
    assert corp_id_of("zc") == "zc"
    assert corp_id_of("_x") == "_x"
    assert Settings().corp_id == "wwsandboxcorp0001"
    assert Settings.from_env({"CRM_CORP_ID": "zc_test"}).corp_id == "zc_test"
