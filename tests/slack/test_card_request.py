"""One card request for every surface (#24 item 1, #21 item 14), through the real app.

The sandbox CRM answers clue/get and list-follow-up after 300 ms and the fake Slack answers
conversations.info after 200 ms; both servers record when each request arrived and was answered
(``Timeline``). A surface whose reads start together has them all in flight at one moment: that is what
the tests assert (the wall-clock figures are the bench's ``card_latency`` scenario).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from bot.crm.client import CLUE_GET, FOLLOW_UPS, SEARCH
from bot.dev.loopback import LoopbackServer
from bot.dev.playground.fake_slack import FakeSlackState, create_fake_slack, public_channel
from bot.dev.sandbox import seed
from bot.dev.sandbox.app import SandboxApp, SandboxState
from bot.dev.timeline import Span, Timeline, overlapped
from bot.slack import cards, search_cards
from tests.slack.harness import SlackDriver, running_app, slack_settings

CRM_LATENCY_MS = 300
SLACK_LATENCY = 0.2
# Every read reaches the CRM: the clue and its follow-ups are read on every view, as on a cache miss.
NO_CACHE = {"CLUE_CACHE_TTL_SECONDS": "0", "CLUE_REVALIDATE_SECONDS": "0", "CLUE_NEGATIVE_TTL_SECONDS": "0",
            "CLUE_FOLLOW_UP_TTL_SECONDS": "0"}
READS = (CLUE_GET, FOLLOW_UPS, "/conversations.info")
_channels = itertools.count(1)


@dataclass
class Servers:
    crm: SandboxState
    crm_url: str
    crm_timeline: Timeline
    slack: FakeSlackState
    slack_url: str
    slack_timeline: Timeline

    def spans(self, *suffixes: str) -> list[Span]:
        return [*self.crm_timeline.spans(*suffixes), *self.slack_timeline.spans(*suffixes)]

    def reads(self) -> list[Span]:
        return self.spans(*READS)

    def clear(self) -> None:
        self.crm_timeline.clear()
        self.slack_timeline.clear()


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    crm = SandboxApp()
    slack = FakeSlackState()
    crm_timeline, slack_timeline = Timeline(crm), Timeline(create_fake_slack(slack))
    with LoopbackServer(crm_timeline) as crm_server, LoopbackServer(slack_timeline) as slack_server:
        yield Servers(crm.state, crm_server.url + crm.prefix, crm_timeline, slack, slack_server.url, slack_timeline)
        crm.state.release_held()


@pytest.fixture
async def timed(servers: Servers) -> AsyncIterator[tuple[SlackDriver, Servers]]:
    servers.crm.reset()
    servers.slack.reset()
    settings = slack_settings(servers.crm_url, servers.slack_url, **NO_CACHE)
    async with running_app(settings, servers.slack, servers.slack_url) as slack:
        await slack.command("12")  # the CRM's catalog is loaded once per app: not what these tests look at
        await slack.drain()
        for endpoint in (CLUE_GET, FOLLOW_UPS):
            servers.crm.set_fault(endpoint=endpoint, latency_ms=CRM_LATENCY_MS)
        servers.slack.latency["conversations.info"] = SLACK_LATENCY
        servers.clear()
        yield slack, servers


def _new_channel(slack: SlackDriver) -> str:
    """A public channel the bot was added to, not yet asked about (Slack answers conversations.info for it)."""
    channel = f"C0NEW{next(_channels):05d}"
    slack.fake.conversations[channel] = public_channel(channel.lower())
    return channel


def _shareable(message: dict[str, object]) -> bool:
    return cards.ACTION_SHARE in json.dumps(message)


async def test_the_first_clue_in_a_channel_reads_the_crm_and_asks_slack_at_once(
        timed: tuple[SlackDriver, Servers]) -> None:
    slack, servers = timed
    response, _ = await slack.command("8", channel=_new_channel(slack))
    card = response.json()
    assert "打马赛克就" in card["text"]  # the card itself, in the ack
    reads = servers.reads()
    assert sorted(s.path for s in reads) == sorted([CLUE_GET, FOLLOW_UPS, "/api/conversations.info"])
    assert overlapped(reads)
    assert _shareable(card)  # Slack answered in time: the conversation is known not to be shared


async def test_the_owner_is_read_beside_the_clue(timed: tuple[SlackDriver, Servers]) -> None:
    """#21 item 2: whose lead it is (customer/search by customerId) is one more read started with the others,
    not after them: with the search as slow as the clue, the card still takes one round trip."""
    slack, servers = timed
    servers.crm.set_fault(endpoint=SEARCH, latency_ms=CRM_LATENCY_MS)
    response, _ = await slack.command(str(seed.RICH_CLUE_ID), channel=_new_channel(slack))
    assert "*Owner*\\n张三, 李四" in json.dumps(response.json(), ensure_ascii=False)  # it came in time
    spans = servers.spans(*READS, SEARCH)
    assert sorted(s.path for s in spans) == sorted([CLUE_GET, FOLLOW_UPS, SEARCH, "/api/conversations.info"])
    assert overlapped(spans)


@pytest.mark.parametrize("action_id", [cards.ACTION_REFRESH, cards.ACTION_REVEAL, search_cards.ACTION_SHOW])
async def test_a_click_reads_the_clue_its_follow_ups_and_the_conversation_at_once(
        timed: tuple[SlackDriver, Servers], action_id: str) -> None:
    slack, servers = timed
    _, key = await slack.action(action_id, "8", channel=_new_channel(slack))
    await slack.drain()
    [posted] = slack.fake.responses(key)
    assert "打马赛克就" in posted["text"]
    assert "follow-up" in json.dumps(posted, ensure_ascii=False).lower()  # the latest follow-up came in time
    reads = servers.reads()
    assert len(reads) == 3 and overlapped(reads)


async def test_share_reads_the_clue_and_its_follow_ups_at_once(timed: tuple[SlackDriver, Servers]) -> None:
    slack, servers = timed
    channel = _new_channel(slack)
    await slack.command("8", channel=channel)  # the card that offers Share: the conversation is known from here
    servers.clear()
    _, key = await slack.action(cards.ACTION_SHARE, "8", channel=channel)
    await slack.drain()
    shared, deleted = slack.fake.responses(key)
    assert shared["response_type"] == "in_channel" and deleted["delete_original"] is True
    reads = servers.reads()
    assert [s.path for s in reads if s.path.endswith("conversations.info")] == []
    assert len(reads) == 2 and overlapped(reads)


@pytest.mark.parametrize(("action_id", "reads"), [
    (cards.ACTION_FOLLOW_UPS, (CLUE_GET, FOLLOW_UPS, "/api/views.open")),
    (cards.ACTION_DETAILS, (CLUE_GET, "/api/views.open")),  # the details need no timeline
])
async def test_a_modal_is_read_from_the_crm_while_slack_opens_it(timed: tuple[SlackDriver, Servers],
                                                                 action_id: str, reads: tuple[str, ...]) -> None:
    slack, servers = timed
    servers.slack.latency["views.open"] = SLACK_LATENCY
    await slack.action(action_id, "8")
    await slack.drain()
    [update] = slack.fake.api_calls("views.update")
    assert "打马赛克就" in json.dumps(update, ensure_ascii=False)
    spans = servers.spans(CLUE_GET, FOLLOW_UPS, "/views.open")
    assert sorted(s.path for s in spans) == sorted(reads)
    assert overlapped(spans)  # the loading view opened while the CRM was read


async def test_help_and_usage_errors_do_no_io(timed: tuple[SlackDriver, Servers]) -> None:
    slack, servers = timed
    for text in ("help", "", "0", "8 abc", " ".join(str(i) for i in range(1, 13))):
        response, _ = await slack.command(text, channel=_new_channel(slack))
        assert response.status_code == 200 and response.json()["response_type"] == "ephemeral"
    await slack.drain()
    assert servers.reads() == []  # neither the CRM nor conversations.info (placing comes after parsing)


async def test_the_first_clue_in_a_channel_acks_within_one_budget(servers: Servers) -> None:
    """#21 item 14: Slack's conversations.info and the CRM share one ack budget (2 s by default), enforced
    as a whole. With Slack answering after 2.6 s and the CRM never answering, the placeholder goes out after
    2 s, before Slack's answer: waiting for Slack (half the budget) and then for the CRM (the whole of it)
    acked after 3 s, past Slack's deadline and after Slack's answer."""
    servers.crm.reset()
    servers.slack.reset()
    settings = slack_settings(servers.crm_url, servers.slack_url)
    budget = settings.slack_ack_budget_seconds
    async with running_app(settings, servers.slack, servers.slack_url) as slack:
        await slack.command("12")  # the catalog, loaded once per app
        await slack.drain()
        servers.crm.set_fault(endpoint=CLUE_GET, hang=True)
        servers.slack.latency["conversations.info"] = budget * 1.3  # between one budget and one and a half
        servers.clear()
        try:
            response, _ = await slack.command("8", channel=_new_channel(slack))
            acked_at = time.monotonic()
            assert response.status_code == 200 and "slow to answer" in response.json()["text"]
            assert servers.crm.stats().held == 1  # the CRM was asked, and is still holding the read
            [asked] = await _answered(servers.slack_timeline, "/conversations.info")
            assert asked.end > acked_at  # the ack went out while Slack was still answering
        finally:
            servers.crm.release_held()
            await slack.drain()


async def _answered(timeline: Timeline, path: str) -> list[Span]:
    """The spans of ``path`` once one is recorded (bounded: 10 s)."""
    for _ in range(200):
        if spans := timeline.spans(path):
            return spans
        await asyncio.sleep(0.05)
    raise AssertionError(f"no answer to {path}")
