"""Home's settings end to end: the nudge time and the language, each picked in a static_select of the published Home
view (block_actions from the view, as Slack sends them) through the real ASGI app, stored on the person's row, and
the language used for everything the app says to that person afterwards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.slack.people_cards import NUDGE_TIMES
from tests.blockkit import assert_valid_blocks, run_shared_validator
from tests.people.conftest import Monotonic, people, pick_in_home, profile, select_in, text_of
from tests.people.test_mine_and_home import home, linked
from tests.slack.harness import USER, SlackDriver


def options(select: dict[str, Any]) -> list[str]:
    return [o["value"] for o in select["options"]]


def initial(select: dict[str, Any]) -> str | None:
    option = select.get("initial_option")
    return option["value"] if option else None


async def test_home_offers_morning_times_and_languages_with_the_current_ones_chosen(app: SlackDriver,
                                                                                    tmp_path: Path) -> None:
    await linked(app)
    view = await home(app)
    _, nudge = select_in(view, "clue_nudge_time")
    assert options(nudge) == ["07:00", "07:30", "08:00", "08:30", "09:00", "09:30", "10:00", "10:30", "11:00"]
    assert initial(nudge) is None and nudge["placeholder"]["text"] == "Nudge me at…"
    _, language = select_in(view, "clue_language")
    assert [(o["value"], o["text"]["text"]) for o in language["options"]] == [
        ("slack", "Slack's own"), ("en", "English"), ("zh", "简体中文"), ("zh-TW", "繁體中文")]
    assert initial(language) == "slack"
    assert "Language: English, from your Slack settings." in text_of(view)
    assert_valid_blocks(view["blocks"])
    path = tmp_path / "home.json"
    path.write_text(json.dumps(view, ensure_ascii=False))
    result = run_shared_validator(path)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_picking_a_nudge_time_turns_it_on_there_and_off_again(app: SlackDriver) -> None:
    await linked(app)
    profile(app, USER, tz="Asia/Shanghai")
    await home(app)
    await pick_in_home(app, "clue_nudge_time", "07:30")
    link = await people(app).store.linked(USER)
    assert link is not None and (link.nudge_at, link.tz) == ("07:30", "Asia/Shanghai")
    view = app.last_view()
    assert "Morning nudge: on, at 07:30 (Asia/Shanghai)." in text_of(view)
    assert initial(select_in(view, "clue_nudge_time")[1]) == "07:30"
    await app.action("clue_nudge_off", "off", view=view)
    await app.drain()
    link = await people(app).store.linked(USER)
    assert link is not None and link.nudge_at is None
    assert "Morning nudge: off." in text_of(app.last_view())


async def test_a_time_set_outside_the_offered_ones_stays_shown_as_chosen(app: SlackDriver) -> None:
    await linked(app)
    assert await people(app).store.set_nudge(USER, "06:45", "UTC")
    _, nudge = select_in(await home(app), "clue_nudge_time")
    assert initial(nudge) == "06:45" and options(nudge) == sorted({*NUDGE_TIMES, "06:45"})


async def test_a_time_that_is_not_hh_mm_changes_nothing(app: SlackDriver) -> None:
    await linked(app)
    await home(app)
    published = len(app.fake.api_calls("views.publish"))
    await pick_in_home(app, "clue_nudge_time", "25:99")
    link = await people(app).store.linked(USER)
    assert link is not None and link.nudge_at is None
    assert len(app.fake.api_calls("views.publish")) == published


async def test_a_chosen_language_wins_over_slacks_for_everything_said_to_the_person(app: SlackDriver) -> None:
    await linked(app)
    app.fake.locales[USER] = "en-US"
    await home(app)
    await pick_in_home(app, "clue_language", "zh")
    link = await people(app).store.linked(USER)
    assert link is not None and link.locale == "zh"
    view = app.last_view()  # republished, in the new language
    assert "语言：简体中文，在此选择。" in text_of(view) and "*设置*" in text_of(view)
    assert initial(select_in(view, "clue_language")[1]) == "zh"
    response, _ = await app.command("help")  # at once, with no wait for a lookup
    assert "*频道提醒*" in response.json()["text"]
    response, _ = await app.command("8")
    assert "阶段" in json.dumps(response.json(), ensure_ascii=False)


async def test_slacks_own_again_follows_the_slack_locale(app: SlackDriver) -> None:
    await linked(app)
    app.fake.locales[USER] = "zh-TW"
    assert await people(app).store.set_locale(USER, "en")
    await home(app)
    await pick_in_home(app, "clue_language", "slack")
    link = await people(app).store.linked(USER)
    assert link is not None and link.locale is None
    assert "語言：繁體中文，取自你的 Slack 設定。" in text_of(app.last_view())
    response, _ = await app.command("help")
    assert "*頻道提醒*" in response.json()["text"]


async def test_a_language_we_do_not_speak_is_not_stored(app: SlackDriver) -> None:
    await linked(app)
    await home(app)
    await pick_in_home(app, "clue_language", "fr")
    link = await people(app).store.linked(USER)
    assert link is not None and link.locale is None


async def test_a_choice_made_on_another_instance_arrives_within_a_minute_and_not_per_command(
        app: SlackDriver, monotonic: Monotonic) -> None:
    """The stored choice is read in the background with the Slack locale, then remembered: a change written by
    another instance is not seen by the next commands (no database read each), and is once the minute is over."""
    await linked(app)
    assert await people(app).store.set_locale(USER, "zh-TW")
    await app.command("help")  # not known yet: the default, while the lookup runs
    await app.drain()
    response, _ = await app.command("help")
    assert "*頻道提醒*" in response.json()["text"]
    assert await people(app).store.set_locale(USER, "zh")  # as another instance would
    for _ in range(3):
        response, _ = await app.command("help")
        await app.drain()
        assert "*頻道提醒*" in response.json()["text"]
    monotonic.offset += 61
    response, _ = await app.command("help")  # the last known language, while it is checked again
    assert "*頻道提醒*" in response.json()["text"]
    await app.drain()
    response, _ = await app.command("help")
    assert "*频道提醒*" in response.json()["text"]


async def test_unlinked_home_names_the_language_and_offers_no_settings(app: SlackDriver) -> None:
    view = await home(app)
    assert "Language: English, from your Slack settings." in text_of(view)
    assert not [b for b in view["blocks"] if "accessory" in b or b["type"] == "actions"]


async def test_home_speaks_the_stored_choice_at_once_wherever_it_was_made(app: SlackDriver) -> None:
    await linked(app)
    await home(app)  # this instance knows the person's language (Slack's: English)
    assert await people(app).store.set_locale(USER, "zh")  # chosen through another instance
    view = await home(app)
    assert "语言：简体中文，在此选择。" in text_of(view)
