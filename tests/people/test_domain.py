"""The pure parts: matching a Slack profile to a CRM employee, the working order of a person's clues, Home's
size for someone who owns ten thousand clues, and get-users pages as the CRM may send them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.crm.catalog import crm_time
from bot.crm.people import parse_employees
from bot.domain.people import (
    AMBIGUOUS,
    MATCHED,
    NO_CONTACT,
    UNMATCHED,
    Employee,
    OwnedClue,
    OwnedClues,
    SlackProfile,
    agenda,
    match,
    phone_digits,
)
from bot.domain.search import SearchHit
from bot.slack import people_cards
from tests.blockkit import assert_valid_blocks

SHANGHAI = ZoneInfo("Asia/Shanghai")
STAFF = (Employee("1", "张三", email="zs@acme.cn", mobile="13800138000"),
         Employee("2", "李四", mobile="+86 139 0013 9000"), Employee("3", "王五", mobile="0086-13900139000"))


def test_an_e_mail_beats_a_phone_and_case_does_not_matter() -> None:
    found = match(SlackProfile("U1", email="ZS@Acme.CN", phone="13900139000"), STAFF)
    assert (found.outcome, found.employee, found.by) == (MATCHED, STAFF[0], "email")


def test_a_phone_two_employees_share_is_ambiguous_whatever_its_spelling() -> None:
    assert match(SlackProfile("U1", phone="(139) 0013-9000"), STAFF).outcome == AMBIGUOUS


def test_nothing_to_match_and_no_match_differ() -> None:
    assert match(SlackProfile("U1", phone="  "), STAFF).outcome == NO_CONTACT
    assert match(SlackProfile("U1", email="nobody@acme.cn"), STAFF).outcome == UNMATCHED
    # A directory without e-mail or mobile (all the vendor publishes is salesId and name) matches nobody.
    assert match(SlackProfile("U1", email="zs@acme.cn"), [Employee("1", "张三")]).outcome == UNMATCHED


def test_phone_digits_drop_separators_and_the_country_code_only() -> None:
    assert phone_digits("+86 138-0013-8000") == phone_digits("１３８００１３８０００") == "13800138000"
    assert phone_digits("(000) 000-0000") == "0000000000"  # Slack's published example
    assert phone_digits("x123") is None


def test_get_users_pages_are_read_tolerantly() -> None:
    employees, pages = parse_employees({"result": [{"salesId": 1001, "name": "张三"}, {"name": "no id"},
                                                   "junk", {"salesId": "1002"}], "totalPage": 3})
    assert [(e.sales_id, e.name, e.email, e.mobile) for e in employees] == [("1001", "张三", None, None),
                                                                         ("1002", "1002", None, None)]
    assert pages == 3
    assert parse_employees({"result": []}) == ((), None)
    assert parse_employees(None) == ((), 0)


def owned(clue_id: int, due: datetime | None) -> OwnedClue:
    return OwnedClue(SearchHit(clue_id), crm_time(due.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"), SHANGHAI)
                     if due else None)


def test_overdue_first_then_due_soonest_then_undated_and_today_is_the_persons_own() -> None:
    now = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)  # 07:30 on the 10th in Shanghai, 16:30 on the 9th in LA
    clues = OwnedClues((owned(1, None), owned(2, now + timedelta(hours=2)), owned(3, now - timedelta(days=3)),
                        owned(4, now - timedelta(minutes=5)), owned(5, now + timedelta(hours=9))))
    shanghai = agenda(clues, now, SHANGHAI)
    assert [c.hit.clue_id for c in shanghai.clues] == [3, 4, 2, 5, 1]
    assert (shanghai.overdue, shanghai.due_today) == (2, 2)  # 09:30 and 16:30 are both today in Shanghai
    los_angeles = agenda(clues, now, ZoneInfo("America/Los_Angeles"))
    assert los_angeles.due_today == 1  # 18:30 today; 01:30 is tomorrow there


def test_home_for_ten_thousand_clues_stays_within_slacks_limits() -> None:
    now = datetime.now(UTC)
    many = OwnedClues(tuple(owned(i, now - timedelta(days=i % 30)) for i in range(1, 10_001)), complete=False)
    state = people_cards.HomeState(locale="zh", contact="admin", now=now, name="张三", sales_id="1001",
                                   agenda=agenda(many, now, SHANGHAI),
                                   freshness=people_cards.Freshness(now, stale=True),
                                   subscriptions=tuple(f"<#C{i:08d}> · every new clue" for i in range(40)),
                                   subscription_count=40, nudge_at="09:00", tz="Asia/Shanghai")
    view = people_cards.home_view(state)
    assert len(view["blocks"]) <= people_cards.MAX_HOME_BLOCKS
    assert_valid_blocks(view["blocks"])
    assert "共 10000 条" in str(view) and "`/clue mine`" in str(view)
