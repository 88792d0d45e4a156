"""Assigned to you, end to end: the alerts poller takes a new lead in from the sandbox CRM, its owner (customer/
search by customerId) is a linked person, who gets one direct message with its card."""

from __future__ import annotations

import pytest

from bot.alerts.nudges import NudgeService
from bot.dev.sandbox import SandboxServer
from bot.store.people import CONFIRMED
from tests.alerts.test_scenarios import just_now, service
from tests.blockkit import assert_valid_message
from tests.people.conftest import BOB, people
from tests.slack.harness import TEAM, USER, SlackDriver

ZHANG_SAN = {"mainFollows": [{"salesName": "张三", "qwSalesId": "ZhangSan"}], "followDeptNames": ["华东销售部"]}


def nudges(app: SlackDriver) -> NudgeService:
    found = app.instance.nudges
    assert found is not None
    return found


@pytest.mark.parametrize(("chosen", "heading"), [(None, "Assigned to you"), ("zh", "分配给你的新线索")])
async def test_a_new_lead_owned_by_a_linked_person_is_sent_to_them_once(app: SlackDriver, sandbox: SandboxServer,
                                                                         chosen: str | None, heading: str) -> None:
    """In their language: the one chosen in Home (on their row) when there is one."""
    await people(app).store.link(USER, TEAM, "1001", "张三", how=CONFIRMED, linked_by=USER)
    await people(app).store.set_locale(USER, chosen)
    await people(app).store.link(BOB, TEAM, "1002", "李四", how=CONFIRMED, linked_by=BOB)
    await app.command("subscribe")  # new clues are polled while a channel subscribes to them
    await service(app).run_round()  # the poll's mark starts now
    first = await nudges(app).run_round()  # and so does the "assigned to you" cursor: history is no news
    assert first.assigned is not None and first.assigned.sent == []
    ours, theirs = sandbox.state.add_leads(2, created=just_now())
    sandbox.state.set_sales(ours, [ZHANG_SAN])
    sandbox.state.set_sales(theirs, [])  # nobody's yet
    await service(app).run_round()
    done = await nudges(app).run_round()
    assert done.assigned is not None and done.assigned.sent == [(USER, ours)]
    [message] = app.fake.channel_messages(USER)
    assert message["text"].startswith(f"{heading}: 新线索")
    assert_valid_message({"text": message["text"], "blocks": message["blocks"]})
    assert app.fake.channel_messages(BOB) == []
    again = await nudges(app).run_round()
    assert again.assigned is not None and again.assigned.sent == [] and again.assigned.checked == 0
    assert len(app.fake.channel_messages(USER)) == 1


async def test_nobody_linked_reads_no_owners(app: SlackDriver, sandbox: SandboxServer) -> None:
    await app.command("subscribe")
    await service(app).run_round()
    await nudges(app).run_round()
    sandbox.state.add_leads(3, created=just_now())
    await service(app).run_round()
    done = await nudges(app).run_round()
    assert done.assigned is not None and done.assigned.checked == 0
    assert len(app.fake.channel_messages("C0SALES001")) == 3  # the channel's alerts went out all the same


async def test_with_no_channel_subscribed_a_linked_person_is_still_told(app: SlackDriver,
                                                                        sandbox: SandboxServer) -> None:
    await people(app).store.link(USER, TEAM, "1001", "张三", how=CONFIRMED, linked_by=USER)
    await service(app).run_round()  # no subscription anywhere: the poll runs because someone is linked
    await nudges(app).run_round()
    [ours] = sandbox.state.add_leads(1, created=just_now())
    sandbox.state.set_sales(ours, [ZHANG_SAN])
    polled = await service(app).run_round()
    assert polled.poll is not None and polled.poll.new == 1 and polled.poll.deliveries == 0  # no channel alert
    done = await nudges(app).run_round()
    assert done.assigned is not None and done.assigned.sent == [(USER, ours)]


async def test_a_watched_clue_handed_to_a_linked_person_is_sent_to_them_once(app: SlackDriver,
                                                                              sandbox: SandboxServer) -> None:
    await people(app).store.link(USER, TEAM, "1001", "张三", how=CONFIRMED, linked_by=USER)
    sandbox.state.set_sales(8, [])  # awaiting assignment
    await app.command("watch 8")
    await service(app).recheck(8)  # the first read only takes the fingerprint
    sandbox.state.set_sales(8, [ZHANG_SAN])  # assigned to 张三, who is linked
    await service(app).recheck(8)
    [told] = app.fake.channel_messages(USER)
    assert told["text"].startswith("Assigned to you: ")
    assert_valid_message({"text": told["text"], "blocks": told["blocks"]})
    sandbox.state.set_sales(8, [])
    await service(app).recheck(8)
    sandbox.state.set_sales(8, [ZHANG_SAN])  # handed back: the same person is not told twice
    await service(app).recheck(8)
    assert len(app.fake.channel_messages(USER)) == 1
    assert app.fake.channel_messages(BOB) == []
