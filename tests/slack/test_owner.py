"""Whose lead it is (#21 item 2) and search rows as the sources show them (#21 item 10), through the real
app on the sandbox CRM: the owner comes from customer/search by ``customerId`` (clue/get names none), is
read beside the clue, never holds the card past its short wait, and is cached like the follow-ups."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bot.compose import Clocks
from bot.crm.client import SEARCH
from bot.dev.sandbox import SandboxServer, seed
from tests.slack.harness import SlackDriver, running_app, slack_settings
from tests.slack.test_flexpane import custom_fields, details_event, present
from tests.support import FakeClock

RICH_OWNER = "*Owner*\\n张三, 李四 · 华东销售部, 华北销售部"


def fields(message: dict[str, Any]) -> list[str]:
    block = next((b for b in message["blocks"] if b["block_id"] == "clue_fields"), {"fields": []})
    return [f["text"] for f in block["fields"]]


def owner_row(message: dict[str, Any]) -> str | None:
    first = next(iter(fields(message)), "")
    return first if first.startswith(("*Owner*", "*负责人*", "*負責人*")) else None


async def test_the_owner_leads_the_card(slack: SlackDriver, sandbox: SandboxServer) -> None:
    card = (await slack.command(str(seed.RICH_CLUE_ID)))[0].json()
    # Two sales relationships come back as two search rows: both owners, each department, once.
    assert owner_row(card) == RICH_OWNER.replace("\\n", "\n")
    stats = sandbox.state.stats()
    assert stats.calls[SEARCH] == 1 and stats.text_searches == 0  # customer/search by customerId only
    again = (await slack.command(str(seed.RICH_CLUE_ID)))[0].json()
    assert owner_row(again) == owner_row(card)
    assert sandbox.state.stats().calls[SEARCH] == 1  # cached, like the follow-ups


async def test_unassigned_is_said_plainly(slack: SlackDriver, sandbox: SandboxServer) -> None:
    # The seed's clue awaiting assignment: its search row has no mainFollows.
    awaiting = (await slack.command(str(seed.AWAITING_ASSIGNMENT_CLUE_ID)))[0].json()
    assert owner_row(awaiting) == "*Owner*\nUnassigned"
    # A lead (isClue true) whose rows name nobody is awaiting assignment too; in the reader's language.
    sandbox.state.set_sales(2, [{"mainFollows": []}, {"mainFollows": [], "followDeptNames": []}])
    slack.fake.locales["U0CHINA01"] = "zh-CN"
    slack.fake.locales["U0TAIWAN1"] = "zh-TW"
    for user in ("U0CHINA01", "U0TAIWAN1"):
        await slack.command("8", user=user)  # each one's language is known from the next request on
    await slack.drain()
    assert owner_row((await slack.command("2", user="U0CHINA01"))[0].json()) == "*负责人*\n未分配"
    assert owner_row((await slack.command("2", user="U0TAIWAN1"))[0].json()) == "*負責人*\n未分配"


async def test_a_converted_clue_says_so_under_its_name(slack: SlackDriver) -> None:
    card = (await slack.command(str(seed.CONVERTED_CLUE_IDS[0])))[0].json()
    meta = next(b for b in card["blocks"] if b["block_id"] == "clue_meta")
    assert meta["elements"][0]["text"].endswith("✅ Converted to customer")
    assert [b["block_id"] for b in card["blocks"]][:2] == ["clue_header", "clue_meta"]


async def test_no_search_row_claims_nothing(slack: SlackDriver, sandbox: SandboxServer) -> None:
    sandbox.state.set_sales(2, [])  # the search has no row for the clue: unknown, not "Unassigned"
    first = (await slack.command("2"))[0].json()
    assert "李娜" in first["text"] and owner_row(first) is None
    second = (await slack.command("2"))[0].json()
    assert owner_row(second) is None
    assert sandbox.state.stats().calls[SEARCH] == 1  # "no row" is remembered as well


async def test_a_hung_owner_read_never_holds_the_card(slack: SlackDriver, sandbox: SandboxServer) -> None:
    sandbox.state.set_fault(endpoint=SEARCH, hang=True)
    response, key = await slack.command(str(seed.RICH_CLUE_ID))
    card = response.json()
    assert "张伟" in card["text"] and "latest follow-up" in json.dumps(card).lower()  # the card, in the ack
    assert owner_row(card) is None
    assert sandbox.state.stats().held == 1  # the owner read is still in flight, for the next view
    sandbox.state.clear_faults()  # the CRM answers the held read now
    for _ in range(200):
        shown = owner_row((await slack.command(str(seed.RICH_CLUE_ID)))[0].json())
        if shown is not None:
            break
        await asyncio.sleep(0.02)
    assert shown == RICH_OWNER.replace("\\n", "\n")
    await slack.drain()
    assert slack.fake.responses(key) == []
    assert sandbox.state.stats().calls[SEARCH] == 1  # the late read filled the cache: no second one


async def test_the_last_owner_is_served_while_the_search_fails(sandbox: SandboxServer,
                                                               fake_slack: tuple[str, Any]) -> None:
    url, state = fake_slack
    wall, monotonic = FakeClock(1_700_000_000), FakeClock()
    async with running_app(slack_settings(sandbox.url, url), state, url,
                           clocks=Clocks(wall=wall, monotonic=monotonic)) as slack:
        fresh = (await slack.command(str(seed.RICH_CLUE_ID)))[0].json()
        assert owner_row(fresh) == RICH_OWNER.replace("\\n", "\n")
        sandbox.state.set_fault(endpoint=SEARCH, status=503)
        for clock in (wall, monotonic):
            clock.advance(240)  # past every TTL, within CLUE_STALE_SECONDS
        later = (await slack.command(str(seed.RICH_CLUE_ID)))[0].json()
        assert owner_row(later) == owner_row(fresh)  # stale-if-error, as the follow-ups
        assert sandbox.state.stats().calls[SEARCH] == 1 + 2  # a 503 is worth one retry


async def test_the_details_pane_reads_the_owner_within_its_budget(slack: SlackDriver) -> None:
    call = await present(slack, details_event(str(seed.RICH_CLUE_ID), user_locale="zh-CN"))
    owner = custom_fields(call["metadata"])["owner"]
    assert (owner["label"], owner["value"]) == ("负责人", "张三, 李四 · 华东销售部, 华北销售部")
    assert next(iter(custom_fields(call["metadata"]))) == "owner"  # first, as on the card


async def test_a_preview_shows_the_owner_from_the_cache(slack: SlackDriver) -> None:
    await slack.command(str(seed.RICH_CLUE_ID))  # the owner in cache: a preview shows it, never waits for it
    url = f"https://crm.example.com/clues/{seed.RICH_CLUE_ID}"
    await slack.event({"type": "link_shared", "channel": "C0SALES001", "user": "U0ALICE001",
                       "message_ts": "1700000000.000100", "links": [{"domain": "crm.example.com", "url": url}],
                       "unfurl_id": "U0ABC", "source": "conversations_history"})
    await slack.drain()
    [unfurl] = slack.fake.api_calls("chat.unfurl")
    assert RICH_OWNER in json.dumps(unfurl["unfurls"], ensure_ascii=False)
    [entity] = unfurl["metadata"]["entities"]
    owner = entity["entity_payload"]["custom_fields"][0]
    assert (owner["key"], owner["value"]) == ("owner", "张三, 李四 · 华东销售部, 华北销售部")


# ---------------------------------------------------------------- search rows (#21 item 10)


def search_rows(message: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b.get("block_id", "").startswith("clue_search_row_")]


async def test_search_rows_are_named_from_the_name_field(slack: SlackDriver, sandbox: SandboxServer) -> None:
    # The sandbox answers as the sources show: no ``name`` key, the name under the 姓名 field's id, and the
    # rich clue twice (two sales relationships): one row, named, nothing cached to lean on.
    [row] = search_rows((await slack.command("张伟"))[0].json())
    assert "张伟" in row
    assert sandbox.state.stats().clue_gets == {}


async def test_a_nameless_customer_is_found_by_its_wechat_nickname(slack: SlackDriver) -> None:
    [row] = search_rows((await slack.command("find 13900000099"))[0].json())
    assert seed.SPARSE_CLUE_NICKNAME in row
