"""A signed-in person abusing the app, through the real app: every path to the CRM spends one per-person
budget, refusals are the cheapest path and barely log, the audit trail survives any LOG_LEVEL, and a
button's payload cannot choose where a preview goes (issue #13 items 4, 5, 8, 12)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.compose import Clocks
from bot.dev.sandbox import SandboxServer
from bot.runtime.logs import AUDIT_LOGGER, configure_logging
from tests.slack.harness import CHANNEL, SlackDriver, running_app, slack_settings
from tests.slack.test_unfurl import link_event
from tests.support import FakeClock

LIMITED = "U0GREEDY01"


@pytest.fixture
async def limited(sandbox: SandboxServer, fake_slack: tuple[str, Any]) -> AsyncIterator[SlackDriver]:
    """The app with a budget of 10 lookups per person and a clock that never refills it."""
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CLUE_USER_RATE_PER_MINUTE="10")
    async with running_app(settings, state, url, clocks=Clocks(monotonic=FakeClock())) as driver:
        yield driver


def clue_gets(sandbox: SandboxServer) -> int:
    return sum(sandbox.state.stats().clue_gets.values())


def refusals(slack: SlackDriver, reason: str) -> float:
    return slack.instance.metrics.registry.get_sample_value("cluebot_refusals_total", {"reason": reason}) or 0.0


async def test_refresh_over_the_limit_makes_no_crm_call(limited: SlackDriver, sandbox: SandboxServer) -> None:
    for _ in range(10):
        await limited.command("8", user=LIMITED)  # the whole budget (one CRM call, nine cache hits)
    assert clue_gets(sandbox) == 1
    keys = []
    for _ in range(100):
        response, key = await limited.action("clue_refresh", "8", user=LIMITED)
        assert response.status_code == 200
        keys.append(key)
    await limited.drain()
    assert clue_gets(sandbox) == 1  # Refresh bypasses the cache, so each one admitted would be a call
    assert all("too fast" in limited.fake.responses(k)[0]["text"].lower() for k in keys)
    assert refusals(limited, "rate_limited") == 100
    # Someone else still can.
    await limited.action("clue_refresh", "8", user="U0BOB00001")
    await limited.drain()
    assert clue_gets(sandbox) == 2


async def test_link_posts_spend_the_posters_budget(limited: SlackDriver, sandbox: SandboxServer) -> None:
    for post in range(10):
        ids = range(1 + post * 5, 6 + post * 5)  # 50 new ids
        await limited.event(link_event(*(f"https://crm.example.com/clues/{i}" for i in ids), user=LIMITED))
    await limited.drain()
    assert clue_gets(sandbox) == 10  # two posts of five fit the budget of ten; eight were refused
    assert len(limited.fake.api_calls("chat.unfurl")) == 2
    # Share and Reveal spend the same budget: the limited person gets nothing more from the CRM.
    for action in ("clue_share", "clue_reveal_phone"):
        await limited.action(action, "20", user=LIMITED)
    await limited.drain()
    assert clue_gets(sandbox) == 10


async def test_a_thousand_refusals_log_one_line(limited: SlackDriver,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    for _ in range(10):
        await limited.command("8", user=LIMITED)
    caplog.clear()
    for _ in range(1000):  # 10,000 take a minute here; the report measures them (none logged past the first)
        response, _ = await limited.command("8", user=LIMITED)
        assert "too fast" in response.json()["text"].lower()
    assert [r.getMessage() for r in caplog.records] == ["clue.user.rate_limited"]
    assert refusals(limited, "rate_limited") == 1000
    metrics = (await limited.http.get("/metrics")).text
    assert 'cluebot_refusals_total{reason="rate_limited"} 1000.0' in metrics


@pytest.fixture
def json_logs_at_warning() -> Iterator[io.StringIO]:
    """The production logging setup at LOG_LEVEL=WARNING, writing to a buffer; restored afterwards."""
    root, audit = logging.getLogger(), logging.getLogger(AUDIT_LOGGER)
    saved = (list(root.handlers), root.level, audit.level)
    stream = io.StringIO()
    configure_logging("WARNING", stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    audit.setLevel(saved[2])


async def test_reveal_is_audited_at_log_level_warning(slack: SlackDriver, json_logs_at_warning: io.StringIO) -> None:
    await slack.command("8")
    _, key = await slack.action("clue_reveal_phone", "8")
    await slack.drain()
    assert "145678388" in json.dumps(slack.fake.responses(key))
    lines = [json.loads(line) for line in json_logs_at_warning.getvalue().splitlines()]
    [audit] = [line for line in lines if line["event"] == "audit.phone.revealed"]
    assert (audit["user"], audit["clue_id"], audit["channel"]) == ("U0ALICE001", 8, CHANNEL)
    assert all(line["level"] not in ("info", "debug") or line.get("logger") == AUDIT_LOGGER for line in lines)
    assert "145678388" not in json_logs_at_warning.getvalue()


def unfurl_container(url: str) -> dict[str, Any]:
    return {"type": "message_attachment", "message_ts": "1700000000.000100", "channel_id": CHANNEL,
            "is_ephemeral": False, "is_app_unfurl": True, "app_unfurl_url": url}


@pytest.mark.parametrize("url", [
    "https://evil.example/x",
    "https://crm.example.com/clues/9",  # a clue link, but not the button's clue
    "https://crm.example.com/other/8",
    "",
])
async def test_refresh_of_an_unfurl_ignores_a_foreign_url(slack: SlackDriver, sandbox: SandboxServer,
                                                          caplog: pytest.LogCaptureFixture, url: str) -> None:
    caplog.set_level(logging.INFO)
    response, key = await slack.action("clue_refresh", "8", container=unfurl_container(url))
    assert response.status_code == 200
    await slack.drain()
    assert slack.fake.api_calls("chat.unfurl") == []
    assert slack.fake.responses(key) == []
    assert sandbox.state.stats().calls == {}
    assert "action.unfurl_url.invalid" in caplog.text


@pytest.mark.parametrize("phone", ["一三八一二三四五六七八", "１３８１２３４５６７８", "幺三八 一二三四 五六七八"])
async def test_phones_in_any_digits_are_masked_on_shared_cards(slack: SlackDriver, sandbox: SandboxServer,
                                                              phone: str) -> None:
    sandbox.state.update_clue(8, mobile=json.dumps([phone]))
    _, key = await slack.action("clue_share", "8")
    await slack.event(link_event("https://crm.example.com/clues/8"))
    await slack.drain()
    shared = json.dumps(slack.fake.responses(key)[0], ensure_ascii=False)
    [unfurl] = slack.fake.api_calls("chat.unfurl")
    for text in (shared, json.dumps(unfurl, ensure_ascii=False)):
        assert phone not in text and phone[3:7] not in text
        assert "****" in text


async def test_a_reveal_is_not_stuck_behind_locale_lookups(slack: SlackDriver) -> None:
    # Issue #13 item 10: a slow users.info and 110 new people must not delay anybody's reply.
    slack.fake.latency["users.info"] = 3.0
    await slack.command("8")  # Alice (her own locale lookup is one of the slow ones)
    for n in range(110):
        assert (await slack.command("8", user=f"U0NEW{n:05d}"))[0].status_code == 200
    refused = slack.instance.metrics.registry.get_sample_value("cluebot_tasks_refused_total",
                                                              {"kind": "housekeeping"})
    # 100 held (4 running, 96 waiting); the rest (11, unless a slow machine let some finish) got the
    # default locale at once.
    assert refused is not None and 1 <= refused <= 11
    _, key = await slack.action("clue_reveal_phone", "8")
    for _ in range(600):  # bounded: 30 s at most, far longer than the reveal needs
        if slack.fake.responses(key):
            break
        await asyncio.sleep(0.05)
    assert "145678388" in json.dumps(slack.fake.responses(key))
    # Answered while the locale lane was still working through its queue (4 at a time, 3 s each).
    assert len(slack.fake.api_calls("users.info")) < 100
    slack.fake.latency.clear()
