"""Linking a Slack person to their CRM user, end to end: signed /clue commands and clicks through the real
ASGI app, users.info from the fake Slack (Slack's published user shape), get-users from the sandbox CRM."""

from __future__ import annotations

import logging

import pytest

from bot.runtime.logs import AUDIT_LOGGER
from bot.store.people import ADMIN as HOW_ADMIN
from bot.store.people import CONFIRMED
from tests.blockkit import assert_valid_message
from tests.people.conftest import ADMIN, BOB, buttons, people, profile, text_of
from tests.slack.harness import USER, SlackDriver


async def me(app: SlackDriver, user: str = USER) -> dict[str, object]:
    response, _ = await app.command("me", user=user)
    assert response.status_code == 200
    answer: dict[str, object] = response.json()
    return answer


async def test_an_e_mail_match_is_offered_and_linked_only_when_confirmed(app: SlackDriver) -> None:
    profile(app, USER, email="Zhang.San@ACME.cn")
    offer = await me(app)
    assert "You are *张三* in the CRM (matched by your Slack e-mail)" in text_of(offer)
    assert buttons(offer) == [("clue_me_yes", "1001"), ("clue_me_not_me", "not_me")]
    assert_valid_message({key: offer[key] for key in ("text", "blocks")})
    assert await people(app).store.linked(USER) is None  # offered, not linked
    _, key = await app.action("clue_me_yes", "1001")
    await app.drain()
    [answer] = app.fake.responses(key)
    assert answer["replace_original"] is True and "Done: you are *张三*" in answer["text"]
    link = await people(app).store.linked(USER)
    assert link is not None and (link.sales_id, link.how, link.linked_by) == ("1001", CONFIRMED, USER)
    assert "You are *张三* in the CRM (`1001`)" in text_of(await me(app))  # asked again: already linked


async def test_not_me_links_nobody_and_says_how(app: SlackDriver) -> None:
    profile(app, USER, email="zhang.san@acme.cn")
    await me(app)
    _, key = await app.action("clue_me_not_me", "not_me")
    await app.drain()
    [answer] = app.fake.responses(key)
    assert "Not linked. Ask your Slack admin" in answer["text"] and "/clue link" in answer["text"]
    assert await people(app).store.linked(USER) is None


async def test_a_forged_yes_links_nobody(app: SlackDriver) -> None:
    profile(app, USER, email="zhang.san@acme.cn")
    _, key = await app.action("clue_me_yes", "1003")  # not the match offered (1001)
    await app.drain()
    [answer] = app.fake.responses(key)
    assert "changed since I asked" in answer["text"]
    assert await people(app).store.linked(USER) is None


async def test_a_phone_two_crm_users_share_is_never_guessed(app: SlackDriver) -> None:
    profile(app, USER, phone="+86 139-0013-9000")  # 李四's and 王五's
    answer = await me(app)
    assert "More than one CRM user has your Slack phone, so I won't guess" in text_of(answer)
    assert buttons(answer) == []


async def test_a_phone_alone_matches_when_one_crm_user_has_it(app: SlackDriver) -> None:
    profile(app, USER, phone="138 0013 8000")
    assert "You are *张三* in the CRM (matched by your Slack phone)" in text_of(await me(app))


async def test_a_profile_without_e_mail_or_phone_is_told_how(app: SlackDriver) -> None:
    profile(app, USER)  # Slack's published user object, profile without email and with an empty phone
    assert "Your Slack profile shows no e-mail or phone" in text_of(await me(app))


async def test_no_crm_user_with_that_e_mail_is_told_how(app: SlackDriver) -> None:
    profile(app, USER, email="someone@else.example")
    text = text_of(await me(app))
    assert "No CRM user has the e-mail or phone of your Slack profile" in text and "/clue link" in text


async def test_an_admin_links_someone_else_on_the_audit_logger(app: SlackDriver,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    response, _ = await app.command(f"link <@{BOB}|bob> 1002", user=ADMIN)
    assert f"Linked <@{BOB}> to *李四* (`1002`)" in response.json()["text"]
    link = await people(app).store.linked(BOB)
    assert link is not None and (link.sales_id, link.how, link.linked_by) == ("1002", HOW_ADMIN, ADMIN)
    [line] = [r for r in caplog.records if r.name == AUDIT_LOGGER and r.getMessage() == "audit.person.linked"]
    assert (line.__dict__["admin"], line.__dict__["user"], line.__dict__["sales_id"]) == (ADMIN, BOB, "1002")


async def test_only_admins_link_others_and_usage_is_explained(app: SlackDriver) -> None:
    response, _ = await app.command(f"link {BOB} 1002", user=USER)
    assert "Only the app's admins can link someone else" in response.json()["text"]
    assert await people(app).store.linked(BOB) is None
    response, _ = await app.command("link @bob 1002", user=ADMIN)  # a name, as Slack sends it unescaped
    assert "copy the member ID" in response.json()["text"]
    response, _ = await app.command(f"link {BOB} 4242", user=ADMIN)
    assert "The CRM lists no user `4242`" in response.json()["text"]


async def test_unlink_deletes_the_link(app: SlackDriver) -> None:
    await app.command(f"link {USER} 1001", user=ADMIN)
    response, _ = await app.command("unlink")
    assert "Unlinked" in response.json()["text"]
    assert await people(app).store.linked(USER) is None
    response, _ = await app.command("unlink")
    assert "You are not linked" in response.json()["text"]


async def test_a_link_to_a_user_the_crm_no_longer_lists_is_said_stale(app: SlackDriver) -> None:
    await people(app).store.link(USER, "T0TEST0001", "1999", "赵六", how=CONFIRMED, linked_by=USER)
    text = text_of(await me(app))
    assert "You are linked to *赵六* (`1999`), but the CRM no longer lists that user" in text


async def test_answers_speak_chinese(app: SlackDriver) -> None:
    app.fake.locales[USER] = "zh-CN"
    app.instance.locales.get(USER)  # the first request looks the locale up in the background
    await app.drain()
    profile(app, USER, email="zhang.san@acme.cn")
    assert "你在 CRM 中是 *张三*" in text_of(await me(app))
