"""Alert cards and digests: valid Block Kit whatever the CRM sends, no phone, every CRM string escaped."""

from __future__ import annotations

import pytest

from bot.alerts.cards import DIGEST_ROWS, alert_message, covered_deliveries, delivery_metadata, digest_message
from bot.domain.clue import Clue, CrmTime, FieldView, TagView
from bot.domain.locales import LOCALES
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
