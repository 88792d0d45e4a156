"""The redacting JSON formatter: the safety net under every log line, ours and the libraries'."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.runtime.logs import RedactingJsonFormatter, configure_logging
from tests.support import root_logging_restored

SIGNING_SECRET = "l0gs-signing-secret-81c2"
APP_KEY = "l0gs-crm-app-key-3d4e"
REDIS_PASSWORD = "l0gs-redis-pass-x7"
SECRETS = [SIGNING_SECRET, APP_KEY, REDIS_PASSWORD]
SIGN = "0f" * 32  # a CRM sign header value: 64 lowercase hex


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """configure_logging on the root logger into a buffer; everything it changed is put back after."""
    with root_logging_restored() as stream:
        configure_logging("DEBUG", SECRETS, stream=stream)
        yield stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def format_one(formatter: RedactingJsonFormatter, msg: str, *args: Any, exc: BaseException | None = None,
               **extra: Any) -> tuple[str, dict[str, Any]]:
    record = logging.makeLogRecord({"name": "test", "levelno": logging.INFO, "levelname": "INFO", "msg": msg,
                                    "args": args or None, **extra})
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    text = formatter.format(record)
    return text, json.loads(text)


def test_lines_are_json_with_extra_fields(captured: io.StringIO) -> None:
    logging.getLogger("bot.test").info("clue.lookup.failed", extra={
        "clue_id": 8, "error": "CrmUnavailable", "elapsed_ms": 12.5, "links": ["a", "b"], "ok": False})
    [line] = lines(captured)
    assert line["event"] == "clue.lookup.failed"
    assert (line["level"], line["logger"]) == ("info", "bot.test")
    assert isinstance(line["ts"], float)
    assert (line["clue_id"], line["error"], line["elapsed_ms"], line["links"], line["ok"]) == \
        (8, "CrmUnavailable", 12.5, ["a", "b"], False)


def test_configured_secrets_are_replaced_everywhere(captured: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    log.warning("key is %s", APP_KEY, extra={"detail": f"signing with {SIGNING_SECRET}!",
                                             "nested": {"url": f"redis://:{REDIS_PASSWORD}@h:6379/0"}})
    try:
        raise RuntimeError(f"CRM said no to {APP_KEY} and {SIGNING_SECRET}")
    except RuntimeError:
        log.exception("crm.request.failed")
    text = captured.getvalue()
    for secret in SECRETS:
        assert secret not in text
    first, second = lines(captured)
    assert first["event"] == "key is [REDACTED]"
    assert first["detail"] == "signing with [REDACTED]!"
    assert first["nested"] == {"url": "redis://:[REDACTED]@h:6379/0"}
    assert "RuntimeError: CRM said no to [REDACTED] and [REDACTED]" in second["exc"]


def test_chained_exception_messages_are_redacted(captured: io.StringIO) -> None:
    try:
        try:
            raise ValueError(f"inner {REDIS_PASSWORD}")
        except ValueError as inner:
            raise KeyError(f"outer {SIGNING_SECRET}") from inner
    except KeyError:
        logging.getLogger("bot.test").error("boom", exc_info=True, stack_info=True)
    [line] = lines(captured)
    assert "inner [REDACTED]" in line["exc"] and "outer [REDACTED]" in line["exc"]
    assert "stack" in line
    assert REDIS_PASSWORD not in captured.getvalue() and SIGNING_SECRET not in captured.getvalue()


def test_library_log_lines_are_redacted_too(captured: io.StringIO) -> None:
    # Library loggers propagate to the root handler; their WARNING lines pass through the same formatter.
    logging.getLogger("slack_bolt.App").warning("Failed to run listener: token=%s", "xoxb-17-42-AbCdEfGh")
    logging.getLogger("aiohttp.client").warning("POST https://hooks.slack.com/commands/T1/2/abc failed")
    logging.getLogger("httpx").warning("HTTP Request: POST http://crm/api headers={'sign': '%s'}", SIGN)
    text = captured.getvalue()
    assert "xoxb-17-42-AbCdEfGh" not in text and "hooks.slack.com" not in text and SIGN not in text
    assert [line["logger"] for line in lines(captured)] == ["slack_bolt.App", "aiohttp.client", "httpx"]


def test_noisy_libraries_are_held_at_warning(captured: io.StringIO) -> None:
    logging.getLogger("httpx").info("HTTP Request: POST http://crm/api/v3/clue/get")
    logging.getLogger("slack_sdk.web").debug("Sending a request - url: https://hooks.slack.com/x, body: {}")
    logging.getLogger("slack_bolt.App").debug("payload: %s", {"response_url": "https://hooks.slack.com/x"})
    logging.getLogger("bot.test").debug("ours.debug")
    assert [line["event"] for line in lines(captured)] == ["ours.debug"]


def test_configure_logging_is_idempotent(captured: io.StringIO) -> None:
    configure_logging("DEBUG", SECRETS, stream=captured)
    logging.getLogger("bot.test").info("once")
    assert len(lines(captured)) == 1
    assert sum(h.get_name() == "cluebot" for h in logging.getLogger().handlers) == 1


@pytest.mark.parametrize("token", [
    "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
    "xoxp-1-2-3-abc",
    "xoxa-2-abc",
    "xoxe.xoxb-1-MTIzNDU2Nzg5MA",
    "xoxe-1-My0xLTEy",
    "xapp-1-A0123456789-1234567890123-abcdef0123456789",
])
def test_slack_tokens_are_redacted_without_configuration(token: str) -> None:
    text, line = format_one(RedactingJsonFormatter(), "token %s here", token, detail=f"Bearer {token}")
    assert token not in text
    assert "[REDACTED]" in line["event"] and "[REDACTED]" in line["detail"]


@pytest.mark.parametrize(("raw", "masked"), [
    ("13812345678", "138****5678"),
    ("call 13812345678 now", "call 138****5678 now"),
    ("138-1234-5678", "138****5678"),
    ("138 1234 5678", "138****5678"),
    ("+86 13812345678", "+86 138****5678"),
    ("+8613812345678", "+86138****5678"),
    ("8613812345678", "86138****5678"),
    ("a,19912345678;b", "a,199****5678;b"),
    # Not mobiles: left alone.
    ("12812345678", "12812345678"),  # 12x is no mobile prefix
    ("1381234567", "1381234567"),  # 10 digits
    ("138123456789", "138123456789"),  # 12 digits: part of a longer number
    ("410983932389440", "410983932389440"),  # a 15-digit clue id
    ("１３８１２３４５６７８", "１３８****５６７８"),  # full-width digits
    ("电话 一三八一二三四五六七八", "电话 一三八****五六七八"),  # Chinese numerals
    ("幺三九-〇〇〇〇-一一一一", "幺三九****一一一一"),
    ("电话 壹叁捌壹贰叁肆伍陆柒捌", "电话 壹叁捌****伍陆柒捌"),  # financial numerals (#25 item 9)
    ("1700000000.000100", "1700000000.000100"),  # a Slack ts
])
def test_mobile_numbers_are_masked(raw: str, masked: str) -> None:
    _, line = format_one(RedactingJsonFormatter(), raw, detail=raw)
    assert line["event"] == masked and line["detail"] == masked


def test_a_phone_logged_as_a_number_is_masked_and_the_line_stays_json() -> None:
    text, line = format_one(RedactingJsonFormatter(), "x", phone=13812345678, clue_id=8, ratio=0.5)
    assert "13812345678" not in text
    assert (line["phone"], line["clue_id"], line["ratio"]) == ("138****5678", 8, 0.5)


@pytest.mark.parametrize("extra", [
    {"headers": {"appId": "ww1_a", "timestamp": "1700000000000", "sign": SIGN}},
    {"headers": [(b"appid", b"ww1_a"), (b"sign", SIGN.encode())]},
    {"headers": f"Headers({{'appid': 'ww1_a', 'sign': '{SIGN}'}})"},
    {"detail": f'{{"sign": "{SIGN}"}}'},
    {"sign": SIGN},
    {"signature": "v0=" + SIGN},
    {"detail": f"x-slack-signature: v0={SIGN}"},
])
def test_sign_headers_and_signatures_are_redacted(extra: dict[str, Any]) -> None:
    text, _ = format_one(RedactingJsonFormatter(), "request", **extra)
    assert SIGN not in text


@pytest.mark.parametrize("extra", [
    {"response_url": "http://127.0.0.1:9/response/r1"},  # by key, whatever the host
    {"detail": "POST https://hooks.slack.com/commands/T0001/1234/AbCdEf failed"},
    {"detail": "https://hooks.slack.com/actions/T0001/5678/XyZ\""},
    {"payload": {"response_url": "https://hooks.slack-gov.com/commands/T1/2/3"}},
    {"password": "hunter2-longer"},
    {"Authorization": "Bearer abcdefabcdef"},
])
def test_sensitive_values_are_redacted_by_key_or_shape(extra: dict[str, Any]) -> None:
    text, _ = format_one(RedactingJsonFormatter(), "x", **extra)
    for value in ("127.0.0.1:9/response", "AbCdEf", "XyZ", "slack-gov.com/commands", "hunter2", "abcdefabcdef"):
        assert value not in text


@pytest.mark.parametrize("value", [
    "say \"hi\" \\ and a newline\n",
    "https://hooks.slack.com/commands/T/1/x\", \"injected\": \"1",  # redaction must not eat the quote
    float("nan"),
    float("inf"),
    b"bytes\xff",
    object(),
    {"deep": {"er": {"and": {"deeper": {"still": {"more": [1, {"x": 13812345678}]}}}}}},
    (1, "two", None),
    {1: "int key", None: "none key"},
])
def test_any_extra_value_gives_one_json_line(value: object) -> None:
    text, line = format_one(RedactingJsonFormatter(SECRETS), "x", value=value)
    assert "\n" not in text
    assert "value" in line and "injected" not in line
    assert "13812345678" not in text


def test_unprintable_values_do_not_lose_the_line() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    _, line = format_one(RedactingJsonFormatter(), "x", value=Broken())
    assert line["value"].startswith("<unprintable")


def test_short_secrets_are_not_redacted_everywhere() -> None:
    # A 2-character "secret" would blank out half of every line; secrets shorter than 6 are ignored.
    _, line = format_one(RedactingJsonFormatter(["ab", "abcdef"]), "ab abcdef")
    assert line["event"] == "ab [REDACTED]"


def test_longest_secret_wins() -> None:
    _, line = format_one(RedactingJsonFormatter(["secret", "secret-and-more"]), "secret-and-more")
    assert line["event"] == "[REDACTED]"
