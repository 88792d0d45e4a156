"""Search scenarios through the real ASGI app: /clue text, paging, Show, the Find a clue modal and type-ahead."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from bot.crm.client import SEARCH
from bot.dev.playground.fake_slack import FakeSlackState, public_channel
from bot.dev.sandbox import SandboxServer, seed
from bot.slack import search_cards
from tests.blockkit import assert_no_injection, assert_valid_blocks, assert_valid_message
from tests.slack.harness import CHANNEL, USER, SlackDriver, running_app, slack_settings

ZHANG_SAN, ZHANG_SAN_FENG = seed.ZHANG_SEARCH_IDS[:2]


def rows(message: dict[str, Any]) -> list[int]:
    return [int(b["accessory"]["value"]) for b in message["blocks"]
            if b.get("block_id", "").startswith("clue_search_row_")]


def button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    return next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


def all_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


async def test_name_search_lists_every_match_with_show(slack: SlackDriver, sandbox: SandboxServer) -> None:
    response, _ = await slack.command("张三")
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert rows(body) == [ZHANG_SAN, ZHANG_SAN_FENG]
    assert_valid_message({"text": body["text"], "blocks": body["blocks"]})
    row = all_text(body)
    assert "张三丰" in row and "初步接触" in row and "<!date^" in row
    assert sandbox.state.stats().calls[SEARCH] == 1


@pytest.mark.parametrize("text", ["find 13900130000", "+86 139-0013-0000", "139 0013 0000",
                                  "find １３９００１３００００", "(+86) 139.0013.0000"])
async def test_phone_search_in_written_forms(slack: SlackDriver, sandbox: SandboxServer, text: str) -> None:
    response, _ = await slack.command(text)
    body = response.json()
    assert rows(body) == [ZHANG_SAN]
    assert "13900130000" not in all_text(body)  # neither the query nor a row shows the whole phone


async def test_bare_eleven_digits_stay_a_clue_id(slack: SlackDriver, sandbox: SandboxServer) -> None:
    response, _ = await slack.command("13900130000")
    await slack.drain()
    assert sandbox.state.stats().text_searches == 0  # the card's owner read filters by customerId only
    assert "13900130000" in response.json()["text"]  # "Clue 13900130000 was not found"


async def test_rows_show_the_masked_phone_and_company_from_the_search_row_itself(
        slack: SlackDriver, sandbox: SandboxServer) -> None:
    """#21 item 11: nothing cached, and no clue/get per row: the row's own fields (keyed by field id)."""
    response, _ = await slack.command("张三")
    body = response.json()
    [first] = [b for b in body["blocks"] if b.get("block_id") == f"clue_search_row_{ZHANG_SAN}"]
    assert "139****0000" in first["text"]["text"] and "张氏样板客户0号有限公司" in first["text"]["text"]
    assert "13900130000" not in all_text(body)
    options = (await suggest(slack, "张三")).json()["options"]
    assert "张氏样板客户0号有限公司" in options[0]["text"]["text"] and "139****0000" in options[0]["text"]["text"]
    assert sandbox.state.stats().clue_gets == {}


async def test_phone_rows_are_masked_from_the_cached_clue(slack: SlackDriver) -> None:
    await slack.command(str(ZHANG_SAN))  # the card puts the clue in cache
    response, _ = await slack.command("张三")
    text = all_text(response.json())
    assert "139****0000" in text and "13900130000" not in text


async def test_paging_next_previous_and_past_the_end(slack: SlackDriver, sandbox: SandboxServer) -> None:
    response, _ = await slack.command("find 13900130")
    first = response.json()
    assert rows(first) == list(seed.ZHANG_SEARCH_IDS[:10])
    nxt = button(first, search_cards.ACTION_NEXT)
    _, key = await slack.action(search_cards.ACTION_NEXT, nxt["value"])
    await slack.drain()
    [second] = slack.fake.responses(key)
    assert second["replace_original"] is True
    assert rows(second) == list(seed.ZHANG_SEARCH_IDS[10:])
    assert not any(e["action_id"] == search_cards.ACTION_NEXT for b in second["blocks"] if b["type"] == "actions"
                   for e in b["elements"])
    _, key = await slack.action(search_cards.ACTION_PREVIOUS, button(second, search_cards.ACTION_PREVIOUS)["value"])
    await slack.drain()
    assert rows(slack.fake.responses(key)[0]) == rows(first)
    assert sandbox.state.stats().calls[SEARCH] == 2  # page 1 came back from the cache
    _, key = await slack.action(search_cards.ACTION_NEXT, search_cards.page_value("13900130", 3))
    await slack.drain()
    assert "no page 3" in slack.fake.responses(key)[0]["text"]


@pytest.mark.parametrize("value", ["not json", '{"q": "张三", "p": 0}', '{"q": "张三", "p": "2"}', '[1]',
                                   '{"q": 5, "p": 1}', '{"q": "x", "p": 1}'])
async def test_forged_page_values_get_no_search(slack: SlackDriver, sandbox: SandboxServer, value: str) -> None:
    _, key = await slack.action(search_cards.ACTION_NEXT, value)
    await slack.drain()
    assert slack.fake.responses(key) == []
    assert SEARCH not in sandbox.state.stats().calls


async def test_show_answers_with_the_full_card(slack: SlackDriver) -> None:
    _, key = await slack.action(search_cards.ACTION_SHOW, str(ZHANG_SAN))
    await slack.drain()
    [card] = slack.fake.responses(key)
    assert card["replace_original"] is False and card["response_type"] == "ephemeral"
    assert card["blocks"][0]["type"] == "header" and "张三" in card["blocks"][0]["text"]["text"]


@pytest.mark.parametrize(("text", "expected"), [
    ("find", "type a name or a phone"), ("find z", "at least 2 letters"),
    ("find 😀😀", "no letters, Chinese characters or digits"),
    ("find \u0301\u0301\u0301", "no letters, Chinese characters or digits"), ("find " + "张" * 100, "too long"),
    ("x" * 10_000, "too long"),
])
async def test_bad_search_text_gets_a_clear_answer_and_no_crm_call(slack: SlackDriver, sandbox: SandboxServer,
                                                                   text: str, expected: str) -> None:
    response, _ = await slack.command(text)
    body = response.json()
    assert expected in body["text"]
    assert len(body["text"]) < 500
    await slack.drain()
    assert SEARCH not in sandbox.state.stats().calls


@pytest.mark.parametrize("text", ["8; DROP TABLE customers", "<!channel> 张三 *bold* `x`",
                                  "' OR 1=1 --"])
async def test_hostile_text_is_searched_as_data_and_never_echoed_raw(slack: SlackDriver, text: str) -> None:
    response, _ = await slack.command(text)
    body = response.json()
    assert "No clues match" in body["text"]
    assert_no_injection({"text": body["text"], "blocks": body["blocks"]})


async def test_search_text_is_never_logged(slack: SlackDriver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await slack.command("+86 139-0013-0000")
    await slack.command("find 张")  # a search now (a surname), logged as a keyed hash like any other
    await slack.command("find z")
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "clue.search" in logged and "clue.search.refused" in logged
    assert "13900130000" not in logged and "139-0013" not in logged and "'张'" not in logged


async def test_crm_failure_is_a_notice_and_a_repeated_search_is_served_stale(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CLUE_SEARCH_CACHE_TTL_SECONDS="0", CRM_BREAKER_FAILURES="100")
    async with running_app(settings, state, url) as slack:  # type: ignore[arg-type]
        sandbox.state.set_fault(endpoint=SEARCH, status=503)
        response, _ = await slack.command("张小明")
        assert "not responding" in response.json()["text"]
        sandbox.state.clear_faults()
        response, _ = await slack.command("张三")
        assert rows(response.json()) == [ZHANG_SAN, ZHANG_SAN_FENG]
        sandbox.state.set_fault(endpoint=SEARCH, status=503)
        response, _ = await slack.command("张三")
        body = response.json()
        assert rows(body) == [ZHANG_SAN, ZHANG_SAN_FENG]
        assert "CRM unreachable" in all_text(body)


async def test_searches_have_their_own_budget_and_cached_answers_are_free(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CLUE_SEARCH_RATE_PER_MINUTE="1")
    async with running_app(settings, state, url) as slack:  # type: ignore[arg-type]
        first, _ = await slack.command("张三")
        again, _ = await slack.command("张三")  # from the cache: no budget spent
        other, _ = await slack.command("张小明")
        lookup, _ = await slack.command("8")  # lookups keep their own budget
    assert rows(first.json()) == rows(again.json()) == [ZHANG_SAN, ZHANG_SAN_FENG]
    assert "too fast" in other.json()["text"]
    assert "too fast" not in lookup.json()["text"]


async def test_allow_list_refuses_search(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CLUE_ALLOWED_USER_IDS="U0SOMEONE1")
    async with running_app(settings, state, url) as slack:  # type: ignore[arg-type]
        response, _ = await slack.command("张三")
        await slack.drain()
    assert "not allowed" in response.json()["text"]
    assert SEARCH not in sandbox.state.stats().calls


@pytest.mark.parametrize(("allow", "searched"), [("false", False), ("true", True)])
async def test_no_search_in_slack_connect_channels_unless_allowed(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], allow: str, searched: bool) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CLUE_ALLOW_SHARED_CHANNELS=allow)
    async with running_app(settings, state, url) as slack:  # type: ignore[arg-type]
        state.conversations[CHANNEL] = public_channel("sales", is_ext_shared=True, is_shared=True)
        _, key = await slack.action(search_cards.ACTION_NEXT, search_cards.page_value("13900130", 2))
        await slack.drain()
    [answer] = state.responses(key)
    assert (rows(answer) == list(seed.ZHANG_SEARCH_IDS[10:])) is searched
    assert ("shared with another organisation" in answer["text"]) is not searched


# ------------------------------------------------------------------------------------------ the modal


async def test_shortcut_and_help_button_open_the_modal(slack: SlackDriver) -> None:
    response = await slack.shortcut(search_cards.SHORTCUT_FIND, trigger_id="1.2.shortcut")
    assert response.status_code == 200
    help_response, _ = await slack.command("help")
    find = button(help_response.json(), search_cards.ACTION_FIND)
    await slack.action(search_cards.ACTION_FIND, find["value"])
    await slack.drain()
    opened = slack.fake.api_calls("views.open")
    assert [call["trigger_id"] for call in opened] == ["1.2.shortcut", "123.456.def"]
    view = opened[0]["view"]
    assert view["callback_id"] == search_cards.CALLBACK_FIND
    assert_valid_blocks(view["blocks"])


async def find_modal(slack: SlackDriver) -> dict[str, Any]:
    """The Find a clue modal opened from the search bar, as Slack holds it."""
    await slack.shortcut(search_cards.SHORTCUT_FIND)
    await slack.drain()
    return slack.last_view()


async def suggest(slack: SlackDriver, value: str, view: dict[str, Any] | None = None) -> httpx.Response:
    return await slack.suggest(view or await find_modal(slack), search_cards.ACTION_PICK, search_cards.BLOCK_PICK,
                               value)


async def pick(slack: SlackDriver, view: dict[str, Any], option: dict[str, Any]) -> None:
    await slack.pick(view, search_cards.ACTION_PICK, search_cards.BLOCK_PICK, option)
    await slack.drain()


async def test_type_ahead_options_and_the_pick(slack: SlackDriver, sandbox: SandboxServer) -> None:
    modal = await find_modal(slack)
    response = await suggest(slack, "张三", modal)
    options = response.json()["options"]
    assert [o["value"] for o in options] == [str(ZHANG_SAN), str(ZHANG_SAN_FENG)]
    assert options[0]["text"]["type"] == "plain_text" and "张三" in options[0]["text"]["text"]
    again = await suggest(slack, "张三 ", modal)
    assert again.json()["options"] == options
    assert sandbox.state.stats().calls[SEARCH] == 1  # the second keystroke came from the cache
    too_short = await suggest(slack, "z", modal)
    assert too_short.json()["options"] == []
    surname = await suggest(slack, "张", modal)  # one Han character: a surname is a search
    found = {o["value"] for o in surname.json()["options"]}
    assert {str(ZHANG_SAN), str(ZHANG_SAN_FENG)} <= found

    await pick(slack, modal, options[0])
    [update] = slack.fake.api_calls("views.update")
    assert update["view_id"] == modal["id"] and update["hash"] == modal["hash"]
    view = update["view"]
    assert_valid_blocks(view["blocks"])
    header = next(b for b in view["blocks"] if b["type"] == "header")
    assert "张三" in header["text"]["text"]
    select = view["blocks"][0]["accessory"]
    picked = select["initial_option"]  # the pick stays shown in the select
    assert (picked["value"], picked["text"]["text"]) == (options[0]["value"], options[0]["text"]["text"])
    [buttons] = [b["elements"] for b in view["blocks"] if b["type"] == "actions"]
    assert ("clue_open", True) in [(e["action_id"], "url" in e) for e in buttons]  # Open in CRM: a link
    assert "13900130000" not in json.dumps(view, ensure_ascii=False)


async def test_type_ahead_refused_without_access(sandbox: SandboxServer,
                                                 fake_slack: tuple[str, FakeSlackState]) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CLUE_ALLOWED_USER_IDS="U0SOMEONE1")
    async with running_app(settings, state, url) as slack:  # type: ignore[arg-type]
        modal = await find_modal(slack)
        response = await suggest(slack, "张三", modal)
    assert response.json()["options"] == []
    assert SEARCH not in sandbox.state.stats().calls
    [opened] = state.api_calls("views.open")
    assert "not allowed" in json.dumps(opened["view"])


async def test_a_failing_crm_is_never_shown_as_no_results_in_the_type_ahead(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    """#21 item 12: the type-ahead says the CRM is slow or down (one option that picks nothing)."""
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CRM_BREAKER_FAILURES="100")
    async with running_app(settings, state, url) as slack:  # type: ignore[arg-type]
        sandbox.state.set_fault(endpoint=SEARCH, status=503)
        modal = await find_modal(slack)
        [option] = (await suggest(slack, "张小明", modal)).json()["options"]
        assert option["value"] == search_cards.OPTION_UNAVAILABLE
        assert "CRM is slow or unreachable" in option["text"]["text"]
        await pick(slack, modal, option)  # picking it does nothing: no lookup, no view update
        assert slack.fake.api_calls("views.update") == []


async def test_a_search_with_no_match_says_how_to_look_up_by_id(slack: SlackDriver) -> None:
    response, _ = await slack.command("find 没有这个人")
    assert "No clues match" in response.json()["text"] and "/clue help" in response.json()["text"]
    options = (await suggest(slack, "张三")).json()["options"]
    assert all(f"ID {o['value']}" in o["text"]["text"] for o in options)  # two 张三 told apart


# ------------------------------------------------------------------------------------------ Show in chat


async def picked_from_help(slack: SlackDriver, channel: str = CHANNEL) -> dict[str, Any]:
    """Find a clue opened from ``/clue help``'s button in ``channel``, 张三 picked: the modal as Slack holds it."""
    help_response, _ = await slack.command("help", channel=channel)
    await slack.action(search_cards.ACTION_FIND, button(help_response.json(), search_cards.ACTION_FIND)["value"],
                       channel=channel)
    await slack.drain()
    modal = slack.last_view()
    option = (await suggest(slack, "张三", modal)).json()["options"][0]
    await pick(slack, modal, option)
    return slack.last_view()


def show_in_chat_button(view: dict[str, Any]) -> dict[str, Any] | None:
    return next((e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == search_cards.ACTION_SHOW_IN_CHAT), None)


def chat_note(view: dict[str, Any]) -> str:
    [note] = [b for b in view["blocks"] if b.get("block_id") == search_cards.BLOCK_CHAT_NOTE]
    return str(note["elements"][0]["text"])


async def test_show_in_chat_posts_the_full_card_where_the_modal_was_opened(slack: SlackDriver) -> None:
    picked = await picked_from_help(slack)
    assert json.loads(picked["private_metadata"]) == {"channel": CHANNEL}
    show = show_in_chat_button(picked)
    assert show is not None and show["value"] == str(ZHANG_SAN)
    await slack.action(search_cards.ACTION_SHOW_IN_CHAT, show["value"], view=picked)
    await slack.drain()
    [posted] = slack.fake.api_calls("chat.postEphemeral")
    assert (posted["channel"], posted["user"]) == (CHANNEL, USER)
    assert posted["blocks"][0]["type"] == "header" and "张三" in posted["blocks"][0]["text"]["text"]
    assert "clue_follow_ups" in json.dumps(posted["blocks"])  # the full card, every button, not the modal's
    assert_valid_message({"text": posted["text"], "blocks": posted["blocks"]})
    note = slack.last_view()
    assert chat_note(note) == f"Posted in <#{CHANNEL}>: only you see it."
    assert note["blocks"][:-1] == picked["blocks"]  # the card stays in the modal


async def test_a_modal_from_the_search_bar_says_why_it_cannot_show_in_chat(slack: SlackDriver) -> None:
    modal = await find_modal(slack)
    option = (await suggest(slack, "张三", modal)).json()["options"][0]
    await pick(slack, modal, option)
    picked = slack.last_view()
    assert show_in_chat_button(picked) is None
    assert "no conversation to show it in" in chat_note(picked) and f"/clue {ZHANG_SAN}" in chat_note(picked)


async def test_show_in_chat_where_the_app_is_not_says_what_to_do(slack: SlackDriver) -> None:
    """A DM the bot was not added to: Slack answers chat.postEphemeral there with channel_not_found."""
    picked = await picked_from_help(slack, channel="D0ALICEDM1")
    show = show_in_chat_button(picked)
    assert show is not None
    await slack.action(search_cards.ACTION_SHOW_IN_CHAT, show["value"], view=picked)
    await slack.drain()
    [refused] = slack.fake.api_calls("chat.postEphemeral")
    assert refused["channel"] == "D0ALICEDM1"
    note = chat_note(slack.last_view())
    assert "the app is not in it. Add the app there" in note and "channel_not_found" not in note


async def test_show_in_chat_refused_by_slack_says_so_without_its_code(slack: SlackDriver) -> None:
    picked = await picked_from_help(slack)
    slack.fake.errors["chat.postEphemeral"] = "restricted_action"
    await slack.action(search_cards.ACTION_SHOW_IN_CHAT, str(ZHANG_SAN), view=picked)
    await slack.drain()
    note = chat_note(slack.last_view())
    assert "Slack did not take the card" in note and "restricted_action" not in note


async def test_show_in_chat_with_a_forged_value_does_nothing(slack: SlackDriver) -> None:
    picked = await picked_from_help(slack)
    calls = len(slack.fake.calls)
    await slack.action(search_cards.ACTION_SHOW_IN_CHAT, "../8", view=picked)
    await slack.drain()
    assert len(slack.fake.calls) == calls

