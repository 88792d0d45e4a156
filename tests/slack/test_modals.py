"""More details and Follow-ups through the real ASGI app: views.open within the click, then views.update."""

from __future__ import annotations

import json
from typing import Any

from bot.compose import Clocks
from bot.crm.client import FOLLOW_UPS
from bot.dev.sandbox import SandboxServer, seed
from bot.slack import cards, modals
from tests.blockkit import assert_no_injection, assert_valid_blocks
from tests.slack.harness import CHANNEL, SlackDriver, running_app, slack_settings
from tests.support import FakeClock

FOLLOW_UPS_CALL = FOLLOW_UPS


def _entries(view: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["block_id"].startswith("clue_follow_up_")]


def _valid(view: dict[str, Any]) -> dict[str, Any]:
    assert_valid_blocks(view["blocks"])
    assert_no_injection(view)
    return view


async def test_more_details_opens_a_loading_modal_then_fills_it(slack: SlackDriver) -> None:
    response, _ = await slack.action(cards.ACTION_DETAILS, "1")
    assert response.status_code == 200
    await slack.drain()
    opened = slack.fake.api_calls("views.open")
    assert len(opened) == 1 and opened[0]["trigger_id"] == "123.456.def"
    assert _valid(opened[0]["view"])["blocks"][0]["block_id"] == modals.BLOCK_LOADING
    updated = slack.fake.api_calls("views.update")
    assert len(updated) == 1 and updated[0]["view_id"]
    view = _valid(updated[0]["view"])
    assert view["callback_id"] == modals.VIEW_DETAILS
    assert json.loads(view["private_metadata"]) == {"clue_id": 1, "channel": CHANNEL}
    ids = [b["block_id"] for b in view["blocks"]]
    assert ids[:3] == ["clue_header", "clue_meta", "clue_fields"] and "clue_custom" in ids
    text = json.dumps(view, ensure_ascii=False)
    assert "意向产品" in text  # a custom field the summary leaves out


async def test_follow_ups_open_and_load_a_second_page(slack: SlackDriver, sandbox: SandboxServer) -> None:
    clue_id = seed.LONG_ID_CLUE_ID  # 25 follow-ups: three pages of ten
    await slack.action(cards.ACTION_FOLLOW_UPS, str(clue_id))
    await slack.drain()
    assert slack.fake.api_calls("views.open")[0]["view"]["blocks"][0]["block_id"] == modals.BLOCK_LOADING
    first = _valid(slack.fake.api_calls("views.update")[-1]["view"])
    assert first["callback_id"] == modals.VIEW_FOLLOW_UPS
    assert len(_entries(first)) == 10
    assert "<!date^" in _entries(first)[0] and "张三" in _entries(first)[0]  # newest first: time, operator
    more = next(b for b in first["blocks"] if b["block_id"] == modals.BLOCK_TIMELINE_MORE)["elements"][0]
    assert more["value"] == f"{clue_id}:2"
    # Load more, clicked inside the modal: Slack sends the view (id, hash, our private_metadata), no channel.
    view = slack.held_view(slack.fake.api_calls("views.update")[-1]["view_id"])
    await slack.action(modals.ACTION_LOAD_MORE, more["value"], view=view)
    await slack.drain()
    second_call = slack.fake.api_calls("views.update")[-1]
    assert second_call["view_id"] == view["id"] and second_call["hash"] == view["hash"]
    second = _valid(second_call["view"])
    assert len(_entries(second)) == 20
    assert _entries(second)[:10] == _entries(first)
    assert sandbox.state.stats().calls[FOLLOW_UPS_CALL] == 2  # page one came from the cache


async def test_follow_ups_when_the_crm_fails_on_them_but_not_on_the_clue(slack: SlackDriver,
                                                                         sandbox: SandboxServer) -> None:
    sandbox.state.set_fault(None, status=503, endpoint=FOLLOW_UPS)
    response, _ = await slack.command("3")
    card = json.dumps(response.json(), ensure_ascii=False)
    assert "Latest follow-up not shown" in card and "clue_header" in card
    await slack.action(cards.ACTION_FOLLOW_UPS, "3")
    await slack.drain()
    view = _valid(slack.fake.api_calls("views.update")[-1]["view"])
    assert "The CRM did not return the follow-ups" in json.dumps(view)


async def test_refused_person_gets_the_refusal_in_the_modal(sandbox: SandboxServer,
                                                            fake_slack: tuple[str, Any]) -> None:
    url, state = fake_slack
    async with running_app(slack_settings(sandbox.url, url, CLUE_ALLOWED_USER_IDS="U0SOMEONE1"), state, url) as slack:
        await slack.action(cards.ACTION_FOLLOW_UPS, "1")
        await slack.drain()
        opened = slack.fake.api_calls("views.open")
        assert len(opened) == 1 and not slack.fake.api_calls("views.update")
        assert "not allowed" in json.dumps(opened[0]["view"]).lower() or "allow" in json.dumps(opened[0]["view"])
    assert FOLLOW_UPS_CALL not in sandbox.state.stats().calls


async def test_a_failed_follow_up_lookup_is_remembered_and_refresh_reads_again(slack: SlackDriver,
                                                                               sandbox: SandboxServer) -> None:
    sandbox.state.set_fault(None, status=503, endpoint=FOLLOW_UPS)
    response, _ = await slack.command("3")
    assert "Latest follow-up not shown" in json.dumps(response.json(), ensure_ascii=False)
    tried = sandbox.state.stats().calls[FOLLOW_UPS_CALL]
    assert tried == 2  # a 503 is retried once
    # The clue is cached and the failure remembered: the next card answers at once, with the same note,
    # and the failing endpoint is not asked again.
    response, _ = await slack.command("3")
    assert "Latest follow-up not shown" in json.dumps(response.json(), ensure_ascii=False)
    assert sandbox.state.stats().calls[FOLLOW_UPS_CALL] == tried
    # Refresh reads the follow-ups again, like the clue: the card shows the latest follow-up once it loads.
    sandbox.state.clear_faults()
    _, key = await slack.action(cards.ACTION_REFRESH, "3")
    await slack.drain()
    assert sandbox.state.stats().calls[FOLLOW_UPS_CALL] == tried + 1
    refreshed = json.dumps(slack.fake.responses(key)[-1], ensure_ascii=False)
    assert "Latest follow-up" in refreshed and "not shown" not in refreshed


async def test_refresh_reads_cached_follow_ups_again(slack: SlackDriver, sandbox: SandboxServer) -> None:
    await slack.command("8")
    assert sandbox.state.stats().calls[FOLLOW_UPS_CALL] == 1
    await slack.command("8")
    assert sandbox.state.stats().calls[FOLLOW_UPS_CALL] == 1  # fresh in the cache
    _, key = await slack.action(cards.ACTION_REFRESH, "8")
    await slack.drain()
    assert sandbox.state.stats().calls[FOLLOW_UPS_CALL] == 2
    assert "*Latest follow-up*" in json.dumps(slack.fake.responses(key)[-1], ensure_ascii=False)


async def test_follow_ups_served_from_the_cache_while_the_crm_fails_say_so(sandbox: SandboxServer,
                                                                          fake_slack: tuple[str, Any]) -> None:
    """#21.4: past their TTL, with the CRM failing, the timeline serves its last pages and says when the CRM
    last answered, under the name as on the card."""
    url, state = fake_slack
    wall, monotonic = FakeClock(1_700_000_000), FakeClock()
    async with running_app(slack_settings(sandbox.url, url), state, url,
                           clocks=Clocks(wall=wall, monotonic=monotonic)) as slack:
        await slack.action(cards.ACTION_FOLLOW_UPS, "8")
        await slack.drain()
        fresh = _valid(slack.fake.api_calls("views.update")[-1]["view"])
        assert "clue_stale" not in [b["block_id"] for b in fresh["blocks"]]
        sandbox.state.set_fault(None, status=503, endpoint=FOLLOW_UPS)
        for clock in (wall, monotonic):
            clock.advance(240)
        await slack.action(cards.ACTION_FOLLOW_UPS, "8")
        await slack.drain()
        stale = _valid(slack.fake.api_calls("views.update")[-1]["view"])
        assert [b["block_id"] for b in stale["blocks"]][:2] == ["clue_header", "clue_stale"]
        assert stale["blocks"][1]["elements"][0]["text"].startswith(
            "⚠️ *CRM unreachable, last checked <!date^1700000000^{date_short_pretty} {time}|")
        assert _entries(stale) == _entries(fresh)
