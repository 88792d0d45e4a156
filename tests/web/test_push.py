"""The CRM's push through the real ASGI app: requests built with the vendor's algorithm (hashlib and AES/CTR
written out here, not the app's helpers), the sandbox CRM behind it, and the fake Slack for cards."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.dev.playground.fake_slack import FakeSlackState
from bot.dev.sandbox import SandboxServer
from tests.slack.harness import SlackDriver, running_app, slack_settings

APP_ID = "wwsandboxcorp0001_ClueBot"
APP_KEY = "sandbox-app-key-not-a-secret"
CORP_ID = "wwsandboxcorp0001"
NOISE = 4970601478527096155  # the vendor's: above 2**53
# Signed headers are single-use (bot.cache.push): each push of a test gets its own millisecond.
_later = itertools.count()


def vendor_headers(timestamp_ms: int | None = None, *, app_id: str = APP_ID, key: str = APP_KEY) -> dict[str, str]:
    """The headers as crm-api.md §8 describes the CRM's: sign = sha256(appId + version + timestamp + appKey)."""
    timestamp = str(timestamp_ms if timestamp_ms is not None else time.time_ns() // 1_000_000 + next(_later))
    sign = hashlib.sha256(f"{app_id}1{timestamp}{key}".encode()).hexdigest()
    return {"appId": app_id, "timestamp": timestamp, "version": "1", "sign": sign,
            "content-type": "text/plain;charset=UTF-8"}


def vendor_body(message: dict[str, Any], *, key: str = APP_KEY, corp_id: str = CORP_ID) -> bytes:
    """Base64 of AES-128/CTR, key sha256(appKey)[:16], IV sha256(corpid)[:16]."""
    aes_key = hashlib.sha256(key.encode()).digest()[:16]
    iv = hashlib.sha256(corp_id.encode()).digest()[:16]
    encryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).encryptor()
    plaintext = json.dumps(message, separators=(",", ":")).encode()
    return base64.b64encode(encryptor.update(plaintext) + encryptor.finalize())


def edit(clue_id: int | str, *, noise: int = NOISE, msg_id: int = 1, kind: str = "edit_qw_customer") -> bytes:
    return vendor_body({"type": kind, "noise": noise, "msgId": msg_id, "content": {"customerId": clue_id}})


@pytest.fixture
async def app(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> AsyncIterator[SlackDriver]:
    url, state = fake_slack
    async with running_app(slack_settings(sandbox.url, url, CRM_PUSH_ENABLED="true"), state, url) as driver:
        yield driver


async def push(app: SlackDriver, body: bytes, headers: dict[str, str] | None = None,
               path: str = "/crm/push") -> httpx.Response:
    return await app.http.post(path, content=body, headers=headers or vendor_headers())


def pushes(app: SlackDriver) -> dict[str, int]:
    return {values[0]: count for values, count in app.instance.metrics.crm_pushes._counts.items()}


async def test_a_push_is_answered_with_its_noise_exactly(app: SlackDriver) -> None:
    response = await push(app, vendor_body({"type": "register", "noise": NOISE, "msgId": 999, "content": "hello"}))
    assert response.status_code == 200
    assert response.text == "4970601478527096155"
    await app.drain()
    assert pushes(app) == {"register": 1}


async def test_disabled_the_push_path_is_404_like_any_unknown_path(sandbox: SandboxServer,
                                                                    fake_slack: tuple[str, FakeSlackState]) -> None:
    url, state = fake_slack
    async with running_app(slack_settings(sandbox.url, url), state, url) as driver:
        response = await push(driver, edit(8))
    assert response.status_code == 404


async def test_another_path_when_configured(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CRM_PUSH_ENABLED="true", CRM_PUSH_PATH="/hooks/tanmarket")
    async with running_app(settings, state, url) as driver:
        assert (await push(driver, edit(8), path="/hooks/tanmarket")).text == str(NOISE)
        assert (await push(driver, edit(8))).status_code == 404


@pytest.mark.parametrize("headers", [
    vendor_headers(key="not-our-key"),
    vendor_headers(app_id="wwothercorp_App"),
    {**vendor_headers(), "sign": "0" * 64},
    {k: v for k, v in vendor_headers().items() if k != "sign"},
], ids=["wrong-key", "other-app", "junk-sign", "no-sign"])
async def test_a_bad_signature_is_401_and_the_body_is_never_decrypted(app: SlackDriver, headers: dict[str, str],
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    # Not even Base64: a 400 would mean it was looked at.
    response = await push(app, b"%%% not base64 %%%", headers)
    assert response.status_code == 401
    refused = [r for r in caplog.records if r.getMessage() == "crm.push.refused"]
    assert len(refused) == 1 and refused[0].status == 401  # type: ignore[attr-defined]
    logged = " ".join(str(vars(r)) for r in caplog.records)
    assert "not base64" not in logged and APP_KEY not in logged
    await app.drain()
    assert pushes(app) == {"refused": 1}


async def test_a_stale_or_future_timestamp_is_refused(app: SlackDriver) -> None:
    now = time.time_ns() // 1_000_000
    for timestamp in (now - 301_000, now + 301_000):
        assert (await push(app, edit(8), vendor_headers(timestamp))).status_code == 401
    assert (await push(app, edit(8), vendor_headers(now - 290_000))).status_code == 200


@pytest.mark.parametrize(("body", "what"), [
    (b"%%%", "not base64"),
    (base64.b64encode(b"\x00\x01junk"), "ciphertext of nothing"),
    (vendor_body({"type": "edit_qw_customer", "msgId": 1}), "no noise"),
    (vendor_body({"type": "edit_qw_customer", "noise": 1}, corp_id="another corp"), "another IV"),
    (vendor_body({"type": "register", "noise": 1}, key="another key"), "another key"),
], ids=lambda value: value if isinstance(value, str) else "")
async def test_a_signed_but_undecryptable_or_malformed_body_is_400_and_nothing_is_processed(
        app: SlackDriver, sandbox: SandboxServer, body: bytes, what: str) -> None:
    response = await push(app, body)
    assert response.status_code == 400, what
    await app.drain()
    assert pushes(app) == {"refused": 1}
    assert sandbox.state.stats().calls.get("/api/v3/clue/get", 0) == 0


async def test_an_oversized_declared_body_is_413_unread(app: SlackDriver) -> None:
    response = await app.http.post("/crm/push", content=b"A" * (256 * 1024 + 4), headers=vendor_headers())
    assert response.status_code == 413


async def test_a_replay_is_answered_but_processed_once(app: SlackDriver, sandbox: SandboxServer) -> None:
    await app.command("8")
    body, headers = edit(8), vendor_headers()
    answers = [await push(app, body, headers) for _ in range(3)]
    # The same message again under fresh headers (the CRM resending it): still the same message.
    answers.append(await push(app, body, vendor_headers(int(headers["timestamp"]) + 1)))
    assert [a.text for a in answers] == [str(NOISE)] * 4
    await app.drain()
    assert pushes(app) == {"applied": 1, "replayed": 3}


async def test_a_new_message_under_replayed_headers_is_not_processed(app: SlackDriver) -> None:
    headers = vendor_headers()
    await push(app, edit(8, noise=1, msg_id=1), headers)
    await app.drain()
    await push(app, edit(9, noise=2, msg_id=2), headers)  # captured headers, another body: a replay
    await app.drain()
    assert pushes(app) == {"applied": 1, "replayed": 1}


async def test_a_push_makes_the_next_card_read_the_crm_again(app: SlackDriver, sandbox: SandboxServer) -> None:
    await app.command("8")
    await app.drain()
    await app.command("8")  # cached: no CRM call
    assert sandbox.state.stats().clue_gets.get(8) == 1
    sandbox.state.update_clue(8, name="改过的名字")
    response = await push(app, edit("8"))  # the id as a string, as pushes may send it
    assert response.text == str(NOISE)
    await app.drain()
    answer, key = await app.command("8")
    await app.drain()
    assert sandbox.state.stats().clue_gets.get(8) == 2
    card = json.dumps([answer.json(), app.fake.responses(key)], ensure_ascii=False)  # in the ack, or after it
    assert "改过的名字" in card


async def test_unknown_types_are_logged_once_and_ignored(app: SlackDriver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    for noise in (1, 2):
        body = vendor_body({"type": "opportunity_changed", "noise": noise, "msgId": noise, "content": {}})
        assert (await push(app, body)).text == str(noise)
    await app.drain()
    assert [r.getMessage() for r in caplog.records].count("crm.push.unknown_type") == 1
    assert pushes(app) == {"ignored": 2}
