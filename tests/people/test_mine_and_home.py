"""``/clue mine`` and App Home end to end: signed commands, clicks and ``app_home_opened`` events through the real
ASGI app; customer/search by owner (``role: 1``, ``salesIdList``) on the sandbox CRM; ``views.publish`` on the
fake Slack."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.crm.client import SEARCH
from bot.dev.sandbox import SandboxServer, seed
from bot.slack.people_cards import MAX_HOME_BLOCKS
from bot.store.people import CONFIRMED
from tests.blockkit import assert_valid_blocks, assert_valid_message
from tests.people.conftest import Monotonic, people, profile, text_of
from tests.slack.harness import TEAM, USER, SlackDriver

SHANGHAI = ZoneInfo("Asia/Shanghai")
DUE = str(seed.NEXT_FOLLOW_UP_FIELD_ID)


def crm_time(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def owned_by_zhang_san() -> list[int]:
    """The seed clues whose customer/search rows name 张三 (salesId 1001) as a main follow."""
    return [c["customerId"] for c in seed.CLUES
            if any(f.get("salesName") == "张三" for row in seed.sales_rows(c) for f in row.get("mainFollows") or ())]


async def linked(app: SlackDriver, user: str = USER, sales_id: str = "1001", name: str = "张三") -> None:
    await people(app).store.link(user, TEAM, sales_id, name, how=CONFIRMED, linked_by=user)


def row_ids(message: dict[str, Any]) -> list[int]:
    return [int(b["block_id"].rsplit("_", 1)[1]) for b in message["blocks"]
            if str(b.get("block_id", "")).startswith("clue_search_row_")]


def due_in_order(sandbox: SandboxServer, clues: list[int]) -> dict[int, str]:
    """Give three of 张三's clues due times: two overdue (by days, by an hour), one in three days."""
    now = datetime.now(SHANGHAI)
    dues = {clues[0]: now - timedelta(hours=1), clues[1]: now + timedelta(days=3), clues[2]: now - timedelta(days=2)}
    for clue_id, at in dues.items():
        sandbox.state.update_clue(clue_id, **{DUE: crm_time(at)})
    return {clue_id: crm_time(at) for clue_id, at in dues.items()}


async def mine(app: SlackDriver) -> dict[str, Any]:
    response, _ = await app.command("mine")
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def home(app: SlackDriver, user: str = USER) -> dict[str, Any]:
    before = len(app.fake.api_calls("views.publish"))
    response = await app.event({"type": "app_home_opened", "user": user, "channel": "D0HOME0001", "tab": "home",
                                "event_ts": "1700000000.000100"})
    assert response.status_code == 200
    await app.drain()
    published = app.fake.api_calls("views.publish")
    assert len(published) == before + 1
    assert published[-1]["user_id"] == user
    view: dict[str, Any] = published[-1]["view"]
    return view


async def test_mine_without_a_link_says_how(app: SlackDriver) -> None:
    assert "/clue me" in text_of(await mine(app))


async def test_mine_lists_only_your_clues_overdue_first(app: SlackDriver, sandbox: SandboxServer) -> None:
    ours = owned_by_zhang_san()
    assert len(ours) > 10  # more than a page
    for clue_id in ours:  # the seed's own due times (2025) would all be overdue: leave three
        sandbox.state.update_clue(clue_id, **{DUE: None})
    overdue_by_an_hour, in_three_days, overdue_by_days = ours[:3]
    due_in_order(sandbox, ours)
    await linked(app)
    answer = await mine(app)
    assert_valid_message({key: answer[key] for key in ("text", "blocks")})
    assert answer["text"] == f"Your clues · 2 overdue · 0 due today · {len(ours)} in all"
    shown = row_ids(answer)
    assert shown[:3] == [overdue_by_days, overdue_by_an_hour, in_three_days]
    assert len(shown) == 10 and set(shown) <= set(ours)
    assert "Overdue" in text_of(answer)
    _, key = await app.action("clue_mine_next", "2")
    await app.drain()
    [page_two] = app.fake.responses(key)
    assert set(row_ids(page_two)) == set(ours) - set(shown)  # every one of ours, once, on two pages


async def test_mine_serves_the_last_answer_flagged_while_the_crm_fails(app: SlackDriver, sandbox: SandboxServer,
                                                                        monotonic: Monotonic) -> None:
    await linked(app)
    first = row_ids(await mine(app))
    sandbox.state.set_fault(status=503, endpoint=SEARCH)
    monotonic.offset += 120  # past the minute the answer is fresh for
    answer = await mine(app)
    assert row_ids(answer) == first
    assert "CRM unreachable" in text_of(answer)


async def test_home_unlinked_says_how_to_link(app: SlackDriver) -> None:
    view = await home(app)
    assert view["type"] == "home"
    assert "You are not linked to a CRM user yet" in text_of(view)
    assert "Channel alerts you set up" in text_of(view)


async def test_home_linked_shows_counts_the_first_page_and_your_alerts(app: SlackDriver,
                                                                       sandbox: SandboxServer) -> None:
    ours = owned_by_zhang_san()
    for clue_id in ours:
        sandbox.state.update_clue(clue_id, **{DUE: None})
    due_in_order(sandbox, ours)
    await linked(app)
    await app.command("subscribe")
    view = await home(app)
    text = text_of(view)
    assert "You are *张三* in the CRM." in text
    assert f"*Your clues* · 2 overdue · 0 due today · {len(ours)} in all" in text
    assert len(row_ids(view)) == 10 and "`/clue mine` pages through all of them" in text
    assert "<#C0SALES001> · every new clue" in str(view)
    assert "Morning nudge: off." in str(view)
    assert len(view["blocks"]) <= MAX_HOME_BLOCKS
    assert_valid_blocks(view["blocks"])


async def test_home_says_a_stale_link_and_reads_no_clues(app: SlackDriver, sandbox: SandboxServer) -> None:
    await linked(app, sales_id="1999", name="赵六")
    sandbox.state.reset_stats()
    view = await home(app)
    assert "but the CRM no longer lists that user" in text_of(view)
    assert sandbox.state.stats().calls.get(SEARCH, 0) == 0


async def test_home_opened_fifty_times_reads_the_crm_once(app: SlackDriver, sandbox: SandboxServer) -> None:
    await linked(app)
    sandbox.state.reset_stats()
    for _ in range(50):
        await home(app)
    assert sandbox.state.stats().calls.get(SEARCH, 0) == 1
    assert len(app.fake.api_calls("users.info")) <= 2  # the profile (time zone) is remembered too, and the locale


async def test_home_with_a_failing_crm_and_nothing_cached_says_so(app: SlackDriver, sandbox: SandboxServer) -> None:
    await linked(app)
    await people(app).employees()  # the directory was read earlier; only the clues fail
    sandbox.state.set_fault(status=503, endpoint=SEARCH)
    view = await home(app)
    assert "The CRM is not answering and I have nothing recent to show" in text_of(view)
    assert "You are *张三* in the CRM." in text_of(view)


async def test_a_changed_slack_time_zone_moves_the_nudge_when_home_opens(app: SlackDriver) -> None:
    await linked(app)
    assert await people(app).store.set_nudge(USER, "09:00", "America/Los_Angeles")
    profile(app, USER, tz="Europe/London")  # they moved
    view = await home(app)
    link = await people(app).store.linked(USER)
    assert link is not None and link.tz == "Europe/London"
    assert "Morning nudge: on, at 09:00 (Europe/London)." in str(view)


async def test_home_lists_your_own_recent_lookups_newest_first(app: SlackDriver) -> None:
    assert "Your recent lookups" not in str(await home(app))
    for text in ("8", "12", "8"):
        response, _ = await app.command(text)
        assert response.status_code == 200
    await app.command("13", user="U0BOB00001")  # somebody else's lookup is theirs
    view = await home(app)
    assert_valid_blocks(view["blocks"])
    [recent] = [b for b, before in zip(view["blocks"][1:], view["blocks"], strict=False)
                if before.get("text", {}).get("text") == "*Your recent lookups*"]
    lines = recent["elements"][0]["text"].split("\n")
    assert [line.rsplit("`", 2)[1] for line in lines] == ["8", "12"]  # newest first, once each
    assert lines[0].startswith("<https://crm.example.com/clues/8|")
    assert "13" not in recent["elements"][0]["text"]
