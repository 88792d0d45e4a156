"""Alert cards and digests: valid Block Kit whatever the CRM sends, no phone, every CRM string escaped."""

from __future__ import annotations

import pytest

from bot.alerts.cards import (
    DIGEST_ROWS,
    alert_message,
    change_message,
    change_metadata,
    covered_change,
    covered_deliveries,
    delivery_metadata,
    digest_message,
)
from bot.domain.changes import FollowUpSeen, Snapshot, snapshot
from bot.domain.clue import Clue, CrmTime, FieldView, TagView
from bot.domain.follow_ups import FollowUp
from bot.domain.locales import LOCALES
from bot.domain.owner import Owner
from tests.blockkit import assert_valid_message

HOSTILE = Clue(id=66, name="<!channel> *bold* | <https://evil.example|click>", phones=("13800138000",),
               stage=FieldView("customer_stage", "客户阶段", "<@U0EVIL>"), company="A & B" * 100,
               tags=tuple(TagView(str(i), f"标签{i}<b>") for i in range(30)),
               created=CrmTime("2024-05-01 09:30:00", None, "Asia/Shanghai"))


def url_for(clue_id: int) -> str:
    return f"https://crm.example.com/clues/{clue_id}"


@pytest.mark.parametrize("locale", LOCALES)
def test_an_alert_of_a_hostile_clue_is_valid_and_inert(locale: str) -> None:
    message = alert_message(HOSTILE, locale, url_for)
    assert_valid_message(message)
    text = str(message)
    assert "<!channel>" not in text and "<@U0EVIL>" not in text and "13800138000" not in text
    assert message["blocks"][-1]["elements"][0]["url"] == "https://crm.example.com/clues/66"


def test_an_alert_of_a_bare_clue_has_its_id_and_buttons() -> None:
    message = alert_message(Clue(id=99), "zh", url_for)
    assert_valid_message(message)
    assert "线索 99" in str(message["blocks"][0])
    assert [b["action_id"] for b in message["blocks"][-1]["elements"]] == ["clue_open", "clue_follow_ups",
                                                                          "clue_details", "clue_watch"]


@pytest.mark.parametrize("count", [2, DIGEST_ROWS, 10_000])
def test_a_digest_lists_up_to_its_rows_and_counts_the_rest(count: int) -> None:
    clues = [HOSTILE if n == 0 else Clue(id=n, name=f"线索 {n}") for n in range(count)]
    message = digest_message(clues, "en", url_for)
    assert_valid_message(message)
    assert message["text"] == f"{count} new clues"
    assert ("digest_more" in str(message)) == (count > DIGEST_ROWS)


def test_metadata_names_the_deliveries_a_message_carries() -> None:
    assert covered_deliveries({"metadata": delivery_metadata(3, 9)}) == (3, 9)
    assert covered_deliveries({"metadata": {"event_type": "other", "event_payload": {}}}) is None
    assert covered_deliveries({"text": "a person's message"}) is None


# ------------------------------------------------------------------------------------------ watch replies

BEFORE = Snapshot(name="张伟", stage="初步接触", owner="张三 · 华东销售部", tags=("VIP", "冷线索"))
AFTER = Snapshot(name="张伟", stage="意向明确", owner="", tags=("VIP", "展会"),
                 follow_up=FollowUpSeen("f9", "2024-05-02 10:00:00", "李四", "电话沟通，约下周演示"))


@pytest.mark.parametrize("locale", LOCALES)
def test_a_change_reply_says_old_and_new_per_field(locale: str) -> None:
    message = change_message(8, BEFORE, AFTER, locale, url_for)
    assert_valid_message(message)
    text = message["blocks"][0]["text"]["text"]
    assert "初步接触 → 意向明确" in text and "+展会" in text and "−冷线索" in text
    assert "张三 · 华东销售部 → " in text and "电话沟通，约下周演示" in text
    assert "VIP" not in text  # unchanged tags are not news
    assert message["blocks"][0]["accessory"]["url"] == "https://crm.example.com/clues/8"


def test_a_change_reply_of_hostile_values_is_inert() -> None:
    hostile = Snapshot(name="<!channel>", stage="<@U0EVIL> *x*", owner="<https://evil.example|click>",
                       tags=("<!here>",), follow_up=FollowUpSeen("1", None, "<!everyone>", "&lt;b&gt;" * 200))
    message = change_message(66, Snapshot(), hostile, "en", url_for)
    assert_valid_message(message)
    text = str(message)
    for raw in ("<!channel>", "<@U0EVIL>", "<https://evil.example", "<!here>", "<!everyone>"):
        assert raw not in text


def test_the_fingerprint_is_what_the_card_shows_and_snapshots_read_back() -> None:
    assert BEFORE.fingerprint == Snapshot(name="another name", stage=BEFORE.stage, owner=BEFORE.owner,
                                          tags=BEFORE.tags).fingerprint  # the name is not watched
    assert BEFORE.fingerprint != AFTER.fingerprint
    assert Snapshot.from_json(AFTER.to_json()) == AFTER
    assert Snapshot.from_json("not json") == Snapshot() == Snapshot.from_json('{"follow_up": 3}')


def test_a_snapshot_is_taken_of_the_resolved_clue_its_owner_and_latest_follow_up() -> None:
    seen = snapshot(HOSTILE, Owner(("张三", "李四"), ("华东",)),
                    FollowUp("f1", 1, "第一行\n第二行", CrmTime("2024-05-01 09:30:00", None, "Asia/Shanghai"), "王五"))
    assert seen.owner == "张三, 李四 · 华东" and seen.follow_up == FollowUpSeen("f1", "2024-05-01 09:30:00",
                                                                               "王五", "第一行")
    assert seen.tags == tuple(sorted(f"标签{i}<b>" for i in range(30)))
    assert snapshot(Clue(id=1), Owner(), None).owner == ""  # awaiting assignment
    assert snapshot(Clue(id=1), None, None).owner is None  # nobody knows


def test_metadata_names_the_change_a_reply_carries() -> None:
    assert covered_change({"metadata": change_metadata(12)}) == 12
    assert covered_change({"metadata": delivery_metadata(3, 9)}) is None
    assert covered_change({"text": "a person's reply"}) is None
