"""Work Object metadata: golden files, slack_sdk round trips, typed fields, and property tests over
hostile CRM data (phones never in the unfurl; every payload reads back through slack_sdk's models).

Goldens live in tests/golden/work_objects/; re-record with ``UPDATE_GOLDEN=1`` after reviewing the diff.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from slack_sdk.models.metadata import (
    CustomFieldType,
    EntityActionButton,
    EntityCustomField,
    EntityMetadata,
    EventAndEntityMetadata,
)

from bot.domain.clue import Clue, CrmTime, FieldView, TagView
from bot.domain.follow_ups import FollowUp
from bot.slack.entities import (
    ENTITY_TYPE,
    ERROR_CUSTOM,
    EntityOptions,
    clue_entity_details,
    clue_entity_unfurl,
    entity_error,
)
from tests.slack.test_cards import (
    DOC_EXAMPLE,
    FETCHED,
    GOLDEN,
    HOSTILE,
    MINIMAL,
    OWNERS,
    PROPERTY,
    RICH_EN,
    RICH_ZH,
    URL,
    clues,
    crm_time,
)
from tests.support import check_golden

WORK_OBJECTS = GOLDEN / "work_objects"
TIMESTAMP = "slack#/types/timestamp"

NEXT_FOLLOW_UP = FieldView("91652", "下次跟进时间", "2024-05-06 10:00:00", kind=7,
                           time=crm_time("2024-05-06 10:00:00"))
RICH_ZH_FOLLOW_UP = replace(RICH_ZH, other_fields=(NEXT_FOLLOW_UP, FieldView("91651", "预算(万元)", "30", kind=4)))
# A tenant whose CLUE_DUE_FIELD is another datetime field (回访时间, configured by its key).
CALL_BACK = FieldView("91653", "回访时间", "2024-05-08 15:00:00", kind=7, time=crm_time("2024-05-08 15:00:00"))
RICH_ZH_CALL_BACK = replace(RICH_ZH_FOLLOW_UP, other_fields=(*RICH_ZH_FOLLOW_UP.other_fields, CALL_BACK))
FOLLOW_UPS = (
    FollowUp(id="f2", kind=1, note="电话回访：客户确认预算 30 万\n下周二现场演示", at=crm_time("2024-04-30 16:00:00"),
             operator="王芳"),
    FollowUp(id="f1", kind=2, note="<!channel> 系统：线索已分配", at=crm_time("2024-04-01 09:30:00"), operator=None),
)


OVERDUE_NOW = datetime(2024, 5, 6, 2, tzinfo=UTC) + timedelta(days=634, hours=3)  # due 2024-05-06 10:00 Shanghai


def options(clue: Clue, **kwargs: Any) -> EntityOptions:
    """Entity options for ``clue``, with whose lead it is as customer/search would say (``OWNERS``)."""
    return EntityOptions(**{"clue_url": URL.format(id=clue.id), "fetched_at": FETCHED,
                            "owner": OWNERS.get(clue.id), **kwargs})


def unfurl(clue: Clue, **kwargs: Any) -> dict[str, Any]:
    return clue_entity_unfurl(clue, options(clue, **kwargs), unfurl_url=URL.format(id=clue.id) + "?from=slack")


GOLDENS: dict[str, Callable[[], dict[str, Any]]] = {
    "unfurl_doc_example": lambda: unfurl(DOC_EXAMPLE),
    "unfurl_rich_en": lambda: unfurl(RICH_EN),
    "unfurl_rich_zh_next_follow_up": lambda: unfurl(RICH_ZH_CALL_BACK, locale="zh", due_field="91653"),
    "unfurl_stale": lambda: unfurl(RICH_EN, stale=True),
    "unfurl_overdue_zh_tw": lambda: unfurl(RICH_ZH_FOLLOW_UP, locale="zh-TW", now=OVERDUE_NOW),
    "unfurl_hostile": lambda: unfurl(HOSTILE, clue_url="javascript:alert(1)"),
    "unfurl_minimal": lambda: unfurl(MINIMAL),
    "details_rich_en_masked": lambda: clue_entity_details(RICH_EN, options(RICH_EN)),
    "details_rich_en_revealed": lambda: clue_entity_details(RICH_EN, options(RICH_EN, reveal_phone=True)),
    "details_rich_zh_follow_ups": lambda: clue_entity_details(
        RICH_ZH_FOLLOW_UP, options(RICH_ZH_FOLLOW_UP, locale="zh"), follow_ups=FOLLOW_UPS),
    "details_no_follow_ups_yet": lambda: clue_entity_details(DOC_EXAMPLE, options(DOC_EXAMPLE), follow_ups=()),
    "details_hostile": lambda: clue_entity_details(HOSTILE, options(HOSTILE)),
}


def assert_round_trips(metadata: dict[str, Any]) -> None:
    """slack_sdk's models read it back unchanged; entity, field types and actions are Slack's."""
    assert EntityMetadata(**metadata).to_dict() == metadata
    assert EventAndEntityMetadata(entities=[metadata]).to_dict() == {"entities": [metadata]}
    assert metadata["entity_type"] == ENTITY_TYPE
    payload = metadata["entity_payload"]
    fields = payload.get("custom_fields", [])
    for field in fields:
        assert EntityCustomField(**field).to_dict() == field
        assert field["type"] in CustomFieldType
        if field["type"] == TIMESTAMP:
            assert isinstance(field["value"], int) and field["value"] > 0
    keys = [f["key"] for f in fields]
    assert len(set(keys)) == len(keys) and all(re.fullmatch(r"[a-z0-9_]+", k, re.IGNORECASE) for k in keys)
    assert payload.get("display_order", []) == keys
    actions = payload.get("actions", {}).get("primary_actions", [])
    assert len(actions) <= 2  # Slack shows up to two primary actions
    for action in actions:
        assert EntityActionButton(**action).to_dict() == action


def _golden_text(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_golden(name: str) -> None:
    obj = GOLDENS[name]()
    assert_round_trips(obj)
    check_golden(WORK_OBJECTS / f"{name}.json", _golden_text(obj), "the built metadata",
                 "tests/slack/test_entities.py")


def test_no_stray_golden_files() -> None:
    assert {p.stem for p in WORK_OBJECTS.glob("*.json")} == set(GOLDENS)


def _fields(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["key"]: f for f in metadata["entity_payload"].get("custom_fields", [])}


def test_summary_fields_are_typed() -> None:
    fields = _fields(unfurl(RICH_ZH_FOLLOW_UP, locale="zh"))
    assert list(fields) == ["owner", "company", "stage", "purchase_intention", "next_follow_up", "date_created",
                            "date_updated", "tags"]
    assert fields["owner"]["value"] == "王芳, 李四 · 华东销售部"  # whose lead it is, first, as on the card
    assert fields["next_follow_up"] == {"key": "next_follow_up", "label": "下次跟进", "type": TIMESTAMP,
                                        "value": int(datetime(2024, 5, 6, 2, 0, tzinfo=UTC).timestamp())}
    assert fields["stage"]["value"] == "方案评估·第二轮"


def test_the_due_field_is_the_configured_one_by_key_or_name() -> None:
    for due_field in ("91653", "回访时间"):
        payload = unfurl(RICH_ZH_CALL_BACK, due_field=due_field)["entity_payload"]
        fields = {f["key"]: f for f in payload["custom_fields"]}
        assert fields["next_follow_up"]["value"] == CALL_BACK.time.epoch  # type: ignore[union-attr]
        details = clue_entity_details(RICH_ZH_CALL_BACK, options(RICH_ZH_CALL_BACK, due_field=due_field))
        keys = [f["key"] for f in details["entity_payload"]["custom_fields"]]
        assert "crm_91652" in keys and "crm_91653" not in keys  # the due field is shown once, as itself
    no_due = unfurl(RICH_ZH_CALL_BACK, due_field=None)["entity_payload"]["custom_fields"]
    assert "next_follow_up" not in {f["key"] for f in no_due}


def test_an_overdue_next_follow_up_says_by_how_much_on_the_preview_and_the_pane() -> None:
    """#21.3: the Work Object words the due field like the card: the app's label, and "overdue by"."""
    for locale, label, overdue in (("en", "Overdue", "634 days"), ("zh", "已逾期", "634 天"),
                                   ("zh-TW", "已逾期", "634 天")):
        for metadata in (unfurl(RICH_ZH_FOLLOW_UP, locale=locale, now=OVERDUE_NOW),
                         clue_entity_details(RICH_ZH_FOLLOW_UP, options(RICH_ZH_FOLLOW_UP, locale=locale,
                                                                        now=OVERDUE_NOW))):
            fields = _fields(metadata)
            assert (fields["overdue"]["label"], fields["overdue"]["value"]) == (label, overdue)
            assert list(fields).index("overdue") == list(fields).index("next_follow_up") + 1
    early = _fields(unfurl(RICH_ZH_FOLLOW_UP, now=datetime(2024, 5, 1, tzinfo=UTC)))
    assert "overdue" not in early and early["next_follow_up"]["label"] == "Next follow-up"


def test_unfurl_never_carries_a_phone_or_the_tenant_fields() -> None:
    text = json.dumps(unfurl(RICH_EN), ensure_ascii=False)
    for secret in ("138", "5555", "13900001111", "1111", "Budget"):
        assert secret not in text


def test_details_mask_phones_unless_revealed() -> None:
    masked = _fields(clue_entity_details(RICH_EN, options(RICH_EN)))
    revealed = _fields(clue_entity_details(RICH_EN, options(RICH_EN, reveal_phone=True)))
    assert masked["phones"]["value"] == [{"value": "+86 138 **** 5678"}, {"value": "021-****-0123"}]
    assert masked["crm_backup_phone"]["value"] == "139****1111"
    assert revealed["crm_backup_phone"]["value"] == "13900001111"


def test_follow_ups_seam() -> None:
    without = _fields(clue_entity_details(RICH_ZH, options(RICH_ZH)))
    assert "follow_ups" not in without  # not looked up: not shown
    # #21.5: each follow-up a timestamp (shown in the viewer's zone) labelled with its type, who and the note.
    fields = _fields(clue_entity_details(RICH_ZH, options(RICH_ZH, locale="zh"), follow_ups=FOLLOW_UPS))
    assert [(fields[k]["label"], fields[k]["type"], fields[k]["value"]) for k in ("follow_up_0", "follow_up_1")] == [
        ("跟进 · 王芳 · 电话回访：客户确认预算 30 万", TIMESTAMP, crm_time("2024-04-30 16:00:00").epoch),
        ("系统 · 未知 · <!channel> 系统：线索已分配", TIMESTAMP, crm_time("2024-04-01 09:30:00").epoch)]
    assert "2024-04-30 16:00:00" not in json.dumps(fields, ensure_ascii=False)  # no raw Shanghai strings
    unread = FollowUp(id="f0", kind=7, note="n", at=CrmTime(raw="昨天", at=None, zone="Asia/Shanghai"), operator="A")
    field = _fields(clue_entity_details(RICH_ZH, options(RICH_ZH), follow_ups=(unread,)))["follow_up_0"]
    assert (field["label"], field["type"], field["value"]) == ("Other · A · n", "string", "昨天")
    many = _fields(clue_entity_details(RICH_ZH, options(RICH_ZH), follow_ups=FOLLOW_UPS * 8))
    assert "follow_up_9" in many and "follow_up_10" not in many and many["follow_ups_more"]["value"] == "+6 more"
    assert _fields(clue_entity_details(RICH_ZH, options(RICH_ZH), follow_ups=()))["follow_ups"]["value"] == \
        "No follow-ups yet"


def test_open_in_crm_needs_a_safe_url() -> None:
    actions = unfurl(HOSTILE, clue_url="javascript:alert(1)")["entity_payload"]["actions"]["primary_actions"]
    assert [a["action_id"] for a in actions] == ["clue_refresh"]


def test_error_objects() -> None:
    assert entity_error("restricted") == {"status": "restricted"}
    custom = entity_error(ERROR_CUSTOM, title="Too many lookups", message="Try again in 12 s.")
    assert custom == {"status": "custom", "custom_title": "Too many lookups", "custom_message": "Try again in 12 s."}


entity_options = st.builds(
    EntityOptions, clue_url=st.just("https://crm.example.com/clue/1"),
    fetched_at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    locale=st.sampled_from(["en", "zh", "xx"]), stale=st.booleans(), reveal_phone=st.booleans())


@PROPERTY
@given(clues, entity_options)
def test_any_clue_builds_metadata_slack_sdk_reads_back(clue: Clue, opts: EntityOptions) -> None:
    assert_round_trips(clue_entity_unfurl(clue, opts, unfurl_url="https://crm.example.com/clue/1"))
    assert_round_trips(clue_entity_details(clue, opts, follow_ups=FOLLOW_UPS))


@PROPERTY
@given(clues, entity_options, st.from_regex(r"\+?[0-9]{8,15}", fullmatch=True))
def test_phones_never_reach_the_unfurl(clue: Clue, opts: EntityOptions, phone: str) -> None:
    clue = replace(clue, phones=(phone,), other_fields=(*clue.other_fields[:5], FieldView("p", "P", phone, kind=8)),
                   stage=FieldView("s", "S", phone, kind=8))
    opts = replace(opts, reveal_phone=True)  # the unfurl ignores it: it is public
    assume(phone.lstrip("+") not in json.dumps(clue_entity_unfurl(replace(clue, phones=(), other_fields=(),
                                                                          stage=None), opts, unfurl_url="u")))
    assert phone.lstrip("+") not in json.dumps(clue_entity_unfurl(clue, opts, unfurl_url="https://x.example/1"))


def test_the_preview_shows_tags_and_the_converted_time_and_counts_the_rest() -> None:
    """#21.1: the Work Object preview carries tags and created / updated / converted times, like the card."""
    fields = _fields(unfurl(RICH_EN))
    assert [i["value"] for i in fields["tags"]["value"]] == ["Manufacturing", "Healthcare", "A", "Trade show 2024"]
    assert fields["converted"]["type"] == TIMESTAMP
    assert fields["converted"]["value"] == RICH_EN.converted.epoch  # type: ignore[union-attr]
    many = replace(RICH_EN, tags=(*(TagView(str(i), f"标签{i}") for i in range(30)), TagView("x", None)))
    values = [i["value"] for i in _fields(unfurl(many, locale="zh"))["tags"]["value"]]
    assert len(values) == 20 and values[-1] == "另 12 项" and "x" not in values


def test_unknown_option_ids_never_reach_the_preview_or_the_pane() -> None:
    """#21.8: the id of an option the catalog does not know is for More details only."""
    from tests.slack.test_cards import UNKNOWN_IDS

    for metadata in (unfurl(UNKNOWN_IDS), clue_entity_details(UNKNOWN_IDS, options(UNKNOWN_IDS))):
        text = json.dumps(metadata, ensure_ascii=False)
        assert "unknown option" in text
        assert "396823724189760" not in text and "396823724189761" not in text and "etCBS_unknown" not in text

