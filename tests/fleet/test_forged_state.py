"""Whoever can write to Redis cannot speak for the app (issue #13 item 6): every finding reproduced through
the real app on a real redis-server. A forged value is deleted, counted in ``cluebot_redis_invalid`` and
the clue fetched from the CRM, or, where it fits the schema, shown inert."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis

from bot.dev.sandbox import SandboxServer
from bot.domain.clue import Clue
from bot.fleet.guard import key
from tests.redis_server import RedisServer
from tests.slack.harness import SlackDriver, running_app, slack_settings

REAL_NAME = "打马赛克就"  # clue 8's name in the sandbox


@pytest.fixture
async def fleet_app(sandbox: SandboxServer, fake_slack: tuple[str, Any], redis_server: RedisServer,
                    admin: redis.Redis) -> AsyncIterator[SlackDriver]:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, REDIS_URL=redis_server.url)
    async with running_app(settings, state, url) as driver:
        yield driver


def invalid(slack: SlackDriver, kind: str) -> float:
    return slack.instance.metrics.registry.get_sample_value("cluebot_redis_invalid_total", {"key": kind}) or 0.0


def forged(**changes: Any) -> str:
    """Clue 8 as ``to_json`` writes it, with ``changes`` applied to the JSON object."""
    d = json.loads(Clue(id=8, name="Forged").to_json())
    d.update(changes)
    return json.dumps(d, ensure_ascii=False)


def stored(at: object, clue: str) -> str:
    """A clue value as the store writes it: the time, a newline, the JSON."""
    return f"{at}\n{clue}"


HOSTILE_LINK = "<https://evil.example/login|Click to re-authenticate>"
FORGERIES = {
    "id_is_a_mention": lambda now: stored(repr(now), forged(id="<!channel>")),
    "another_clues_id": lambda now: stored(repr(now), forged(id=555)),
    "number_where_a_string_belongs": lambda now: stored(repr(now), forged(name=5)),
    "unknown_key": lambda now: stored(repr(now), forged(script="x")),
    "naive_time": lambda now: stored(repr(now), forged(
        created={"raw": "2024-01-01", "at": "2024-01-01T00:00:00", "zone": "Asia/Shanghai"})),
    "at_1e18": lambda now: stored("1e18", forged()),
    "at_in_the_future": lambda now: stored(repr(now + 3600), forged()),
    "at_nan": lambda now: stored("nan", forged()),
    "no_time": lambda now: forged(),
    "not_json": lambda now: stored(repr(now), "{" * 10_000),
    # Well-formed but bigger than any clue the app writes (CRM_MAX_RESPONSE_BYTES): never read whole.
    "oversized": lambda now: stored(repr(now), forged(description="x" * 2_100_000)),
}


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_forged_clue_is_deleted_counted_and_refetched(fleet_app: SlackDriver, admin: redis.Redis,
                                                              sandbox: SandboxServer, forgery: str) -> None:
    admin.set(key("clue", 8), FORGERIES[forgery](time.time()))
    card = (await fleet_app.command("8"))[0].json()
    await fleet_app.drain()
    assert REAL_NAME in card["text"]
    rendered = json.dumps(card, ensure_ascii=False)
    assert "Forged" not in rendered and "<!channel>" not in rendered
    assert sandbox.state.stats().clue_gets == {8: 1}
    assert invalid(fleet_app, "clue") == 1
    assert REAL_NAME in (admin.get(key("clue", 8)) or b"").decode()  # replaced by the CRM's answer


async def test_a_future_at_does_not_survive_refresh(fleet_app: SlackDriver, admin: redis.Redis,
                                                    sandbox: SandboxServer) -> None:
    await fleet_app.command("8")
    admin.set(key("clue", 8), stored(repr(time.time() + 86400), forged()))
    _, response = await fleet_app.action("clue_refresh", "8", ephemeral=True)
    await fleet_app.drain()
    [posted] = fleet_app.fake.responses(response)
    assert REAL_NAME in posted["text"] and "Forged" not in json.dumps(posted)
    assert sandbox.state.stats().clue_gets == {8: 2}


async def test_well_formed_hostile_text_is_shown_inert(fleet_app: SlackDriver, admin: redis.Redis,
                                                       sandbox: SandboxServer) -> None:
    admin.set(key("clue", 8), stored(repr(time.time()), forged(
        name="<!channel> " + HOSTILE_LINK, company="<!here> `code` " + HOSTILE_LINK,
        description="<@U0BOSS0001> please " + HOSTILE_LINK)))
    card = (await fleet_app.command("8"))[0].json()
    assert "/api/v3/clue/get" not in sandbox.state.stats().calls  # it fits the schema: served (as text), no refetch
    assert "&lt;!channel&gt;" in card["text"]
    for text in _mrkdwn_texts(card["blocks"]):
        assert not re.search(r"<!(?!date\^)|<https://evil|<@U0BOSS", text), text  # our own date token only
    assert "<!channel>" not in card["text"] and "<https://evil" not in card["text"]


def _mrkdwn_texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node["text"]
        for value in node.values():
            yield from _mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _mrkdwn_texts(value)


@pytest.mark.parametrize("state", [
    {"tokens": "-1e12", "at": "0"},
    {"tokens": "1e12"},
    {"tokens": "nan", "at": "nan"},
    {"tokens": "0", "at": "1e18"},  # a time in the future would never refill
])
async def test_a_forged_crm_bucket_is_reset(fleet_app: SlackDriver, admin: redis.Redis, sandbox: SandboxServer,
                                            state: dict[str, str]) -> None:
    admin.hset(key("rate", "crm"), mapping=state)
    card = (await fleet_app.command("8"))[0].json()
    assert REAL_NAME in card["text"]
    assert sandbox.state.stats().clue_gets == {8: 1}
    assert invalid(fleet_app, "rate") == 1
    assert 0 <= float(admin.hget(key("rate", "crm"), "tokens") or -1) <= 20


async def test_a_crm_bucket_of_another_type_is_reset(fleet_app: SlackDriver, admin: redis.Redis) -> None:
    admin.set(key("rate", "crm"), "junk")
    assert REAL_NAME in (await fleet_app.command("8"))[0].json()["text"]
    assert invalid(fleet_app, "rate") == 1
    assert admin.type(key("rate", "crm")) == b"hash"


@pytest.mark.parametrize("value", ["1e18", "junk", "0", "1700000000.0" + " " * 1_000_000])
async def test_a_forged_not_found_is_ignored(fleet_app: SlackDriver, admin: redis.Redis, sandbox: SandboxServer,
                                             value: str) -> None:
    admin.set(key("nf", 8), value)  # no expiry: it would say "not found" forever
    assert REAL_NAME in (await fleet_app.command("8"))[0].json()["text"]
    assert invalid(fleet_app, "nf") == 1
    assert sandbox.state.stats().clue_gets == {8: 1}


async def test_a_lock_without_expiry_is_not_waited_for(fleet_app: SlackDriver, admin: redis.Redis,
                                                       sandbox: SandboxServer) -> None:
    admin.set(key("lock", 8), "forged")  # no expiry: every lookup would wait out the fetch deadline
    assert REAL_NAME in (await fleet_app.command("8"))[0].json()["text"]
    assert invalid(fleet_app, "lock") == 1
    assert admin.exists(key("lock", 8)) == 0


async def test_readyz_and_metrics_report_redis(fleet_app: SlackDriver) -> None:
    ready = await fleet_app.http.get("/readyz")
    assert {k: ready.json()[k] for k in ("ready", "crm_circuit", "redis")} == {
        "ready": True, "crm_circuit": "closed", "redis": "ok"}
    assert "cluebot_redis_up 1.0" in (await fleet_app.http.get("/metrics")).text
