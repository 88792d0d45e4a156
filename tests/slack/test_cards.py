"""Cards: golden Block Kit files, targeted behaviour, i18n coverage and property tests over hostile CRM text.

Goldens live in tests/golden/*.json; re-record them with ``UPDATE_GOLDEN=1`` after reviewing the diff.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.crm.client import CrmClient
from bot.crm.reference import ClueFetcher, ReferenceData
from bot.dev.sandbox import SandboxServer, seed
from bot.domain.clue import Clue, CrmTime, FieldView, TagView
from bot.domain.follow_ups import FollowUp, FollowUpPage
from bot.domain.locales import LOCALES, locale_from_slack
from bot.domain.owner import Owner
from bot.domain.search import SearchHit
from bot.domain.text import escape_mrkdwn
from bot.slack import cards, i18n, modals, search_cards
from bot.slack.cards import (
    ACTION_DETAILS,
    ACTION_FOLLOW_UPS,
    ACTION_OPEN,
    ACTION_REFRESH,
    ACTION_REVEAL,
    ACTION_SHARE,
    ACTION_WATCH,
    AUDIENCE_CHANNEL,
    AUDIENCE_PRIVATE,
    CardOptions,
    clue_list_message,
    clue_message,
    clue_unfurl,
    notice_message,
)
from tests.blockkit import (
    assert_no_injection,
    assert_valid_blocks,
    assert_valid_message,
    assert_valid_unfurl,
    run_shared_validator,
    text_objects,
)
from tests.support import FakeClock, check_golden

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SHANGHAI = ZoneInfo("Asia/Shanghai")
FETCHED = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
NOW = FETCHED + timedelta(minutes=5)
URL = "https://crm.example.com/clue/{id}"


def crm_time(raw: str) -> CrmTime:
    return CrmTime(raw=raw, at=datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI),
                   zone="Asia/Shanghai")


def select(key: str, text: str, *, label: str | None = None, unresolved: tuple[str, ...] = ()) -> FieldView:
    return FieldView(key=key, label=label, text=text, kind=2, unresolved=unresolved)


def opts(clue: Clue | None = None, **kwargs: Any) -> CardOptions:
    """Card options for ``clue``, with whose lead it is as customer/search would say (``OWNERS``)."""
    base: dict[str, Any] = {"now": NOW, "fetched_at": FETCHED,
                            "clue_url": URL.format(id=clue.id) if clue else None,
                            "owner": OWNERS.get(clue.id) if clue else None}
    return CardOptions(**{**base, **kwargs})


# ------------------------------------------------------------------------------------------ clues

# crm-api.md's clue/get example, with the id the team uses in examples.
DOC_EXAMPLE = Clue(
    id=8, is_clue=False, kind=1, name="打马赛克就",
    stage=select("customer_stage", "初步接触", label="客户阶段"),
    phones=("145678388",), description="u 诶IE",
    created=crm_time("2021-05-11 15:15:48"), updated=crm_time("2021-05-11 15:15:48"),
)

RICH_EN = Clue(
    id=1024, is_clue=True, kind=2, name="Acme Robotics — Jane Doe",
    stage=select("customer_stage", "Proposal sent"), source=select("customer_source", "Trade show"),
    purchase_intention=select("purchase_intention", "High"), gender=select("gender", "Female"),
    company="Acme Robotics Ltd.", phones=("+86 138 1234 5678", "021-5555-0123"),
    description="Met at the Shanghai robotics fair.\nWants 20 units of the R2 arm.\n\n"
                "Follow up after their budget review (Q3).",
    address="88 Century Avenue, Pudong, Shanghai", birthday=date(1990, 4, 1),
    tags=(TagView("1", "Manufacturing", "Industry"), TagView("2", "Healthcare", "Industry"),
          TagView("3", "A", "Customer tier"), TagView("4", "Trade show 2024")),
    created=crm_time("2024-03-02 10:20:00"), updated=crm_time("2024-04-30 17:45:12"),
    converted=crm_time("2024-04-28 09:00:00"),
    other_fields=(FieldView("budget", "Budget", "¥200,000", kind=4),
                  FieldView("backup_phone", "Backup phone", "13900001111", kind=8),
                  FieldView("website", "Website", "https://acme.example.com", kind=1),
                  FieldView("region", "Region", "East China", kind=2)),
)

RICH_ZH = Clue(
    id=20240501, is_clue=True, kind=1, name="张伟",
    stage=select("customer_stage", "方案评估·第二轮"), source=select("customer_source", "展会"),
    purchase_intention=select("purchase_intention", "高"), company="上海某某科技有限公司",
    phones=("13812345678",), description="客户对 R2 机械臂感兴趣，预算待确认。\n下周二回访。",
    tags=(TagView("11", "制造业", "行业"), TagView("12", "医疗", "行业"), TagView("21", "A", "客户等级")),
    created=crm_time("2024-04-01 09:30:00"), updated=crm_time("2024-04-30 16:00:00"),
)

MINIMAL = Clue(id=410983932389440)

HOSTILE = Clue(
    id=666, is_clue=True, kind=99,
    name="<!channel> *URGENT* `rm -rf` <@U0BOSS> &amp; \u202egnp.exe\u200b",
    stage=select("customer_stage", "<https://evil.example|Click to claim>"),
    source=select("customer_source", "<!here> ```code block"),
    purchase_intention=select("purchase_intention", "<!subteam^S0ALL|@everyone>"),
    company="<#C0GENERAL> & Co. <script>",
    phones=("<!everyone> 138 1234 5678", "+86\u200b13900001111"),
    description="> quoted\n```\n<!date^0^{ago}|fake date>\n*bold* _it_ ~strike~\n\u202eRTL",
    address="<mailto:x@evil.example|Home>",
    tags=(TagView("1", "<!channel>", "<#C1>"), TagView("2", "`tag`", "*grp*"), TagView("3", None)),
    created=CrmTime(raw="<!date^1^x|y>", at=None, zone="<evil>"),
    updated=CrmTime(raw="2024|05|01 <b>", at=datetime(2024, 5, 1, tzinfo=SHANGHAI), zone="Asia/Shanghai|<x>"),
    other_fields=(FieldView("<k>", "<!here>", "<https://evil.example>", kind=1),
                  FieldView("p", "Private line", "13700001111, 13600002222", kind=8)),
)

# Whose lead each clue is, as customer/search rows say it (clue/get names no owner).
OWNERS = {
    RICH_EN.id: Owner(("Li Wei",), ("East China sales",)),
    RICH_ZH.id: Owner(("王芳", "李四"), ("华东销售部",)),
    HOSTILE.id: Owner(("<@U0ADMIN|admin> \x00\x1b[31m", "<!channel>"), ("*dept* <https://evil.example|x>",)),
}

MANY_TAGS = replace(DOC_EXAMPLE, id=60, tags=tuple(
    TagView(str(i), f"{group}标签{i:02d}", group)
    for i, group in enumerate(["行业", "客户等级", "地区", "渠道", "产品线", "活动"] * 10)))

LONG_DESCRIPTION = replace(DOC_EXAMPLE, id=5000, description="\n".join(
    f"第{n}段：客户反复确认了交付周期、付款方式与售后条款，需要销售在下次拜访时带上合同草稿。" * 3
    for n in range(1, 40))[:5000])

UNKNOWN_IDS = Clue(
    id=396, kind=7, name="未知选项",
    stage=select("customer_stage", "396823724189760", unresolved=("396823724189760",)),
    source=select("customer_source", "展会, 396823724189761", unresolved=("396823724189761",)),
    tags=(TagView("56972", "央企", "企业类型"), TagView("etCBS_unknown", None), TagView("99902", None)),
    other_fields=(FieldView("level", "客户级别", "4", kind=2, unresolved=("4",)),),
)


# The seed's custom fields as the catalog resolves them: a due date (type 7) and a budget.
def due(raw: str) -> FieldView:
    return FieldView("91652", "下次跟进时间", raw, kind=7, time=crm_time(raw))


BUDGET = FieldView("91651", "预算（万元）", "30", kind=4)
SUMMARY_ZH = replace(RICH_ZH, other_fields=(FieldView("91650", "意向产品", "SCRM, 会话存档", kind=5),
                                            BUDGET, due("2024-05-07 10:00:00")))
SUMMARY_EN_OVERDUE = replace(RICH_EN, other_fields=(*RICH_EN.other_fields, due("2024-04-29 09:30:00")))


def follow_up(n: int, note: str, *, kind: int | None = 1, operator: str | None = "张三",
              at: str = "2024-04-30 18:05:00") -> FollowUp:
    return FollowUp(id=str(430000000000000 + n), kind=kind, note=note, at=crm_time(at), operator=operator)


FOLLOW_UPS_ZH = FollowUpPage((
    follow_up(1, "已加企微，约了周三下午线上演示。\n客户希望看会话存档。"),
    follow_up(2, "线索由「李四」分配给「张三」", kind=2, operator="李四", at="2024-04-29 09:00:00"),
), next_cursor="430000000000002")
FOLLOW_UPS_EN = FollowUpPage((follow_up(3, "Demo went well; legal review of the DPA next.",
                                        operator="Emily Chen"),), next_cursor=None)
# Everything a CRM may send: markup, a 10,000-character note, no operator, an unknown type, no time.
HOSTILE_FOLLOW_UPS = FollowUpPage((
    follow_up(1, "<!here> please call back *now* <https://evil.example|here> `x` <@U0BOSS>"),
    follow_up(2, "长" * 10_000, operator=None),
    follow_up(3, "\u202e```\n> quoted", kind=99, operator="<!channel> &amp;"),
    FollowUp(id="", kind=None, note="", at=None, operator=""),
    *(follow_up(10 + n, f"第{n}条跟进：" + "客户反复确认交付周期。" * 20) for n in range(1000)),
), next_cursor="never-ends")


def _view(view: dict[str, Any]) -> dict[str, Any]:
    """A modal as views.open takes it: blocks and the modal's own fields."""
    assert view["type"] == "modal" and len(view["title"]["text"]) <= 24
    assert len(view["private_metadata"]) <= 3000
    return view


# ------------------------------------------------------------------------------------------ goldens

def _unfurls(clue: Clue, **kwargs: Any) -> dict[str, Any]:
    return {"unfurls": {URL.format(id=clue.id): clue_unfurl(clue, opts(clue, **kwargs))}}


GOLDENS: dict[str, Callable[[], dict[str, Any]]] = {
    "message_doc_example": lambda: clue_message(DOC_EXAMPLE, opts(DOC_EXAMPLE)),
    "message_rich_en_revealed": lambda: clue_message(RICH_EN, opts(RICH_EN, reveal_phone=True)),
    "message_rich_en_shared": lambda: clue_message(
        RICH_EN, opts(RICH_EN, audience=AUDIENCE_CHANNEL, shared_by="U024BE7LH")),
    "message_rich_zh": lambda: clue_message(RICH_ZH, opts(RICH_ZH, locale="zh")),
    "message_rich_zh_tw": lambda: clue_message(RICH_ZH, opts(RICH_ZH, locale="zh-TW")),
    "message_minimal": lambda: clue_message(MINIMAL, opts()),
    "message_hostile_shared": lambda: clue_message(
        HOSTILE, opts(HOSTILE, audience=AUDIENCE_CHANNEL, clue_url="javascript:alert(1)", shared_by="U0SHARER")),
    "message_many_tags": lambda: clue_message(MANY_TAGS, opts(MANY_TAGS, locale="zh")),
    "message_long_description": lambda: clue_message(LONG_DESCRIPTION, opts(LONG_DESCRIPTION, locale="zh")),
    "message_unknown_ids": lambda: clue_message(UNKNOWN_IDS, opts(UNKNOWN_IDS)),
    "message_unassigned_zh": lambda: clue_message(RICH_ZH, opts(RICH_ZH, locale="zh", owner=Owner())),
    "message_unassigned_zh_tw": lambda: clue_message(RICH_ZH, opts(RICH_ZH, locale="zh-TW", owner=Owner())),
    "message_stale_zh": lambda: clue_message(DOC_EXAMPLE, opts(DOC_EXAMPLE, locale="zh", stale=True,
                                                               now=FETCHED + timedelta(hours=3))),
    "message_summary_zh": lambda: clue_message(SUMMARY_ZH, opts(SUMMARY_ZH, locale="zh",
                                                                follow_ups=FOLLOW_UPS_ZH)),
    "message_summary_en_overdue_no_follow_ups": lambda: clue_message(SUMMARY_EN_OVERDUE, opts(
        SUMMARY_EN_OVERDUE, follow_ups=FollowUpPage((), None))),
    "message_summary_en_follow_ups_missing": lambda: clue_message(RICH_EN, opts(RICH_EN, follow_ups_missing=True)),
    "message_summary_zh_stale": lambda: clue_message(SUMMARY_ZH, opts(
        SUMMARY_ZH, locale="zh", stale=True, follow_ups=FOLLOW_UPS_ZH, follow_ups_stale=True)),
    "message_summary_en_latest": lambda: clue_message(RICH_EN, opts(RICH_EN, follow_ups=FOLLOW_UPS_EN)),
    "modal_details_en": lambda: _view(modals.details_view(RICH_EN, opts(RICH_EN), "C0SALES")),
    "modal_details_zh": lambda: _view(modals.details_view(SUMMARY_ZH, opts(SUMMARY_ZH, locale="zh"))),
    "modal_loading_zh": lambda: _view(modals.loading_view("zh", modals.VIEW_FOLLOW_UPS, 8)),
    "modal_follow_ups_zh": lambda: _view(modals.follow_ups_view(SUMMARY_ZH, [FOLLOW_UPS_ZH], "zh")),
    "modal_follow_ups_en_end": lambda: _view(modals.follow_ups_view(RICH_EN, [FOLLOW_UPS_EN], "en")),
    "modal_follow_ups_hostile": lambda: _view(modals.follow_ups_view(HOSTILE, [HOSTILE_FOLLOW_UPS], "en")),
    "modal_follow_ups_failed": lambda: _view(modals.follow_ups_view(RICH_EN, [FOLLOW_UPS_ZH], "en", failed=True)),
    "unfurl_doc_example": lambda: _unfurls(DOC_EXAMPLE),
    "unfurl_rich_en_stale": lambda: _unfurls(RICH_EN, stale=True),
    "unfurl_hostile": lambda: _unfurls(HOSTILE),
    "list_mixed": lambda: clue_list_message(
        [DOC_EXAMPLE, RICH_EN, (404, "not_found"), (7, "crm_unavailable"), MINIMAL, DOC_EXAMPLE],
        opts(), urls={8: URL.format(id=8), 1024: URL.format(id=1024)}),
    "notice_usage_en": lambda: search_cards.help_message("en", 10),
    "notice_usage_zh": lambda: search_cards.help_message("zh", 10),
    "notice_usage_zh_tw": lambda: search_cards.help_message("zh-TW", 10),
    "search_pick_list_en": lambda: search_cards.pick_list_message(_results(page_no=2, total_pages=6), "en"),
    "search_pick_list_zh": lambda: search_cards.pick_list_message(_results(stale=True), "zh"),
    "search_modal_en": lambda: search_cards.find_modal("en"),
    "search_modal_card_zh": lambda: search_cards.find_modal("zh", [
        b for b in clue_message(RICH_ZH, opts(RICH_ZH, locale="zh"))["blocks"]
        if b["block_id"] != cards.BLOCK_ACTIONS]),
    "search_modal_picked_en": lambda: search_cards.find_modal("en", search_cards.picked_card(
        clue_message(RICH_EN, opts(RICH_EN))["blocks"], "en", RICH_EN.id, channel="C0SALES001"),
        channel="C0SALES001", picked={"text": {"type": "plain_text", "text": "Jane <Doe> · ID 1024"},
                                      "value": "1024"}),
    "search_modal_picked_no_chat_zh_tw": lambda: search_cards.find_modal("zh-TW", search_cards.picked_card(
        clue_message(RICH_ZH, opts(RICH_ZH, locale="zh-TW"))["blocks"], "zh-TW", RICH_ZH.id, channel=None)),
    "notice_invalid_id": lambda: notice_message("en", "invalid_id", text="<!here>`x`", reason="not_a_number"),
    "notice_crm_auth_zh": lambda: notice_message("zh", "crm_auth", id=8),
    "notice_not_allowed": lambda: notice_message("en", "not_allowed", rule="shared_channel",
                                                 contact="<@U0ADMIN>"),
    "notice_rate_limited_zh": lambda: notice_message("zh", "rate_limited", seconds=12),
}


def _results(**kwargs: Any) -> search_cards.ResultsPage:
    """A page of search results: a name, company and phone from the row, none, hostile text, many tags."""
    rows = (
        SearchHit(8, "张三", "初步接触", crm_time("2021-05-11 15:15:48"), ("A级", "北京"), phone="13800138000",
                  company="北京星辰科技有限公司"),
        SearchHit(410983932389440, None, "报价中", crm_time("2024-03-02 09:00:00")),
        SearchHit(66, "<!channel> *张* `x`", None, None, ("制造业", "互联网", "金融", "教育", "<@U123>"),
                  phone="+86 139-0013-9000"),
    )
    base: dict[str, Any] = {"query": "张 <b>&", "page_no": 1, "total_pages": 1, "rows": rows,
                            "fetched_at": FETCHED}
    return search_cards.ResultsPage(**{**base, **kwargs})


def _validate(name: str, obj: dict[str, Any]) -> None:
    if obj.get("type") == "modal" or name.startswith("modal_"):
        assert_valid_blocks(obj["blocks"])
        assert_no_injection(obj)
    elif name.startswith("unfurl_"):
        for unfurl in obj["unfurls"].values():
            assert_valid_unfurl(unfurl)
    else:
        assert_valid_message(obj)


def _golden_text(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_golden(name: str) -> None:
    obj = GOLDENS[name]()
    _validate(name, obj)
    check_golden(GOLDEN / f"{name}.json", _golden_text(obj), "the rendered card", "tests/slack/test_cards.py")


def test_no_stray_golden_files() -> None:
    assert {p.stem for p in GOLDEN.glob("*.json")} == set(GOLDENS)


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_golden_passes_shared_validator(name: str) -> None:
    result = run_shared_validator(GOLDEN / f"{name}.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RESULT: PASS" in result.stdout


# ------------------------------------------------------------------------------------------ message


def _blocks_by_id(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in message["blocks"]}


def _action_ids(message: dict[str, Any]) -> list[str]:
    """What a click on the card can do: the buttons in sight, then the overflow menu's choices."""
    elements = _blocks_by_id(message)["clue_actions"]["elements"]
    buttons = [e["action_id"] for e in elements if e["type"] == "button"]
    return buttons + [o["value"].split("=")[0] for e in elements if e["type"] == "overflow" for o in e["options"]]


def _all_text(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _details(clue: Clue, **kwargs: Any) -> dict[str, dict[str, Any]]:
    """The More details modal's blocks by id, validated."""
    view = modals.details_view(clue, opts(clue, **kwargs))
    assert_valid_blocks(view["blocks"])
    assert_no_injection(view)
    return {b["block_id"]: b for b in view["blocks"]}


CARD_BUTTONS = [ACTION_FOLLOW_UPS, ACTION_DETAILS, ACTION_REFRESH]  # Refresh is in the overflow menu


def test_watch_is_offered_on_watchable_cards_in_a_channel_only() -> None:
    shared = opts(DOC_EXAMPLE, audience=AUDIENCE_CHANNEL, shared_by="U024BE7LH", watchable=True)
    message = clue_message(DOC_EXAMPLE, shared)
    assert_valid_message(message)
    assert _action_ids(message)[-1] == ACTION_WATCH
    assert ACTION_WATCH not in _action_ids(clue_message(DOC_EXAMPLE, opts(DOC_EXAMPLE, watchable=True)))  # private
    assert ACTION_WATCH not in _all_text(clue_unfurl(DOC_EXAMPLE, shared))
    assert ACTION_WATCH not in _action_ids(clue_message(DOC_EXAMPLE, opts(DOC_EXAMPLE, audience=AUDIENCE_CHANNEL)))


def test_doc_example_card() -> None:
    message = clue_message(DOC_EXAMPLE, opts(DOC_EXAMPLE))
    blocks = _blocks_by_id(message)
    assert message["text"] == "Clue 8 · 打马赛克就 · 初步接触"
    assert blocks["clue_header"]["text"]["text"] == "打马赛克就"
    fields = [f["text"] for f in blocks["clue_fields"]["fields"]]
    # isClue false and never converted: awaiting assignment (clue/get's own word, no owner read needed).
    assert fields == ["*Owner*\nUnassigned", "*Stage*\n初步接触", "*Phone*\n1****8388"]
    details = _details(DOC_EXAMPLE)
    assert [f["text"] for f in details["clue_fields"]["fields"]] == ["*Converted*\nNo · Awaiting assignment"]
    # lastUpdateTime equals createTime here, so "Updated" is left out.
    created = "<!date^1620717348^{date_short_pretty} {time}|2021-05-11 15:15:48 (Asia/Shanghai)>"
    assert [e["text"] for e in details["clue_times"]["elements"]] == [f"*Created* {created}"]
    assert [e["text"] for e in blocks["clue_times"]["elements"]] == [f"*Created* {created}"]
    assert blocks["clue_footer"]["elements"][0]["text"] == (
        f"Checked <!date^1714552200^{{ago}}|2024-05-01 08:30 UTC> · updated {created}")
    assert _action_ids(message) == [ACTION_OPEN, *CARD_BUTTONS, ACTION_SHARE, ACTION_REVEAL]
    elements = blocks["clue_actions"]["elements"]
    assert elements[0]["url"] == "https://crm.example.com/clue/8"
    assert {b["value"] for b in elements if b["type"] == "button"} == {"8"}
    assert [o["value"] for o in elements[-1]["options"]] == ["clue_refresh=8", "clue_share=8", "clue_reveal_phone=8"]
    assert "clue_stale" not in blocks and "clue_activity" not in blocks


def test_block_order_is_stable() -> None:
    message = clue_message(RICH_EN, opts(RICH_EN, stale=True, shared_by="U024BE7LH"))
    ids = [b["block_id"] for b in message["blocks"]]
    assert ids == ["clue_header", "clue_stale", "clue_meta", "clue_fields", "clue_tags", "clue_times",
                   "clue_footer", "clue_actions"]
    assert list(_details(RICH_EN)) == ["clue_header", "clue_meta", "clue_fields", "clue_tags", "clue_description",
                                       "clue_custom", "clue_times"]
    assert list(_details(RICH_EN, stale=True))[:3] == ["clue_header", "clue_stale", "clue_meta"]


def test_minimal_clue_gets_a_default_title_and_no_empty_blocks() -> None:
    message = clue_message(MINIMAL, opts(shareable=False))
    blocks = _blocks_by_id(message)
    assert blocks["clue_header"]["text"]["text"] == "Clue 410983932389440"
    assert message["text"] == "Clue 410983932389440"
    assert set(blocks) == {"clue_header", "clue_meta", "clue_footer", "clue_actions"}
    assert _action_ids(message) == CARD_BUTTONS  # no URL, not shareable, no phone
    assert [f["text"] for f in _details(MINIMAL)["clue_fields"]["fields"]] == ["*Converted*\nNo"]


@pytest.mark.parametrize("name", ["", "  \u200b\u202e ", "\x00"])
def test_blank_name_falls_back_to_the_default_title(name: str) -> None:
    message = clue_message(replace(DOC_EXAMPLE, name=name), opts())
    assert _blocks_by_id(message)["clue_header"]["text"]["text"] == "Clue 8"


def test_channel_audience_masks_every_phone_and_offers_no_private_buttons() -> None:
    for message in (clue_message(RICH_EN, opts(RICH_EN, audience=AUDIENCE_CHANNEL, reveal_phone=True)),
                    clue_unfurl(RICH_EN, opts(RICH_EN, reveal_phone=True)),
                    modals.details_view(RICH_EN, opts(RICH_EN, audience=AUDIENCE_CHANNEL, reveal_phone=True))):
        text = _all_text(message)
        for leak in ("1234 5678", "1234", "5555-0123", "5555", "13900001111", "0000"):
            assert leak not in text, leak
        ids = _action_ids(message) if "clue_actions" in _blocks_by_id(message) else []
        assert ids in ([ACTION_OPEN, *CARD_BUTTONS], [])
    unfurl = _all_text(clue_unfurl(RICH_EN, opts(RICH_EN)))
    assert "+86 138 **** 5678" in unfurl and "021-****-0123" in unfurl


def test_custom_phone_fields_are_masked_for_a_channel() -> None:
    details = _details(RICH_EN, audience=AUDIENCE_CHANNEL, reveal_phone=True)
    fields = [f["text"] for f in details["clue_custom"]["fields"]]
    assert "*Backup phone*\n139****1111" in fields


def test_revealed_private_card_shows_full_phones_without_reveal_button() -> None:
    message = clue_message(RICH_EN, opts(RICH_EN, reveal_phone=True))
    assert "+86 138 1234 5678" in _all_text(message)
    assert "13900001111" in _all_text(_details(RICH_EN, reveal_phone=True))
    assert _action_ids(message) == [ACTION_OPEN, *CARD_BUTTONS, ACTION_SHARE]


def test_phone_in_custom_field_alone_offers_reveal() -> None:
    clue = Clue(id=9, other_fields=(FieldView("p", "Phone 2", "13812345678", kind=8),))
    message = clue_message(clue, opts())
    assert ACTION_REVEAL in _action_ids(message)
    details = _details(clue)
    assert "138****5678" in _all_text(details) and "13812345678" not in _all_text(details)


def test_many_phones_are_capped() -> None:
    clue = Clue(id=9, phones=tuple(f"1380000{i:04d}" for i in range(8)))
    fields = _blocks_by_id(clue_message(clue, opts()))["clue_fields"]["fields"]
    assert fields[0]["text"].endswith(", +3 more")
    assert fields[0]["text"].count("****") == 5


def test_unsafe_clue_url_drops_the_open_button() -> None:
    for url in ("javascript:alert(1)", "https://crm.example.com/<x>", "", None):
        assert ACTION_OPEN not in _action_ids(clue_message(DOC_EXAMPLE, opts(clue_url=url)))


def test_freshness_says_when_we_checked_and_apart_when_the_record_changed() -> None:
    """#21.4: "Checked <ago> · updated <date>" (Slack keeps {ago} current); when stale, one visible line
    under the name says the CRM is unreachable and when it was last checked, and the footer keeps only
    when the record changed."""
    checked = "<!date^1714552200^{ago}|2024-05-01 08:30 UTC>"
    at = "<!date^1714552200^{date_short_pretty} {time}|2024-05-01 08:30 UTC>"
    updated = "<!date^1620717348^{date_short_pretty} {time}|2021-05-11 15:15:48 (Asia/Shanghai)>"
    cases = (("en", f"Checked {checked} · updated {updated}", f"⚠️ *CRM unreachable, last checked {at}*",
              f"Updated {updated}"),
             ("zh", f"{checked}从 CRM 读取 · 记录更新于 {updated}", f"⚠️ *CRM 暂时无法访问，上次读取于 {at}*",
              f"记录更新于 {updated}"),
             ("zh-TW", f"{checked}從 CRM 讀取 · 紀錄更新於 {updated}", f"⚠️ *CRM 暫時無法存取，上次讀取於 {at}*",
              f"紀錄更新於 {updated}"))
    for locale, fresh, warning, stale_footer in cases:
        message = clue_message(DOC_EXAMPLE, opts(now=FETCHED + timedelta(hours=3), locale=locale))
        blocks = _blocks_by_id(message)
        assert [e["text"] for e in blocks["clue_footer"]["elements"]] == [fresh]
        assert "clue_stale" not in blocks
        assert _all_text(message).count("{ago}") == 1 and " ago" not in _all_text(message)
        message = clue_message(DOC_EXAMPLE, opts(stale=True, now=FETCHED + timedelta(hours=3), locale=locale))
        assert [b["block_id"] for b in message["blocks"]][:2] == ["clue_header", "clue_stale"]
        blocks = _blocks_by_id(message)
        assert [e["text"] for e in blocks["clue_stale"]["elements"]] == [warning]
        assert [e["text"] for e in blocks["clue_footer"]["elements"]] == [stale_footer]
    nothing_changed = clue_message(MINIMAL, opts())
    assert [e["text"] for e in _blocks_by_id(nothing_changed)["clue_footer"]["elements"]] == [f"Checked {checked}"]


def test_shared_by_mentions_the_user() -> None:
    footer = _blocks_by_id(clue_message(DOC_EXAMPLE, opts(shared_by="U024BE7LH")))["clue_footer"]
    assert footer["elements"][1]["text"] == "Shared by <@U024BE7LH>"


@pytest.mark.parametrize("kwargs", [
    {"shared_by": "<!channel>"}, {"shared_by": "U1> <!here"}, {"audience": "public"},
    {"now": datetime(2024, 5, 1)}, {"fetched_at": datetime(2024, 5, 1)},
])
def test_card_options_refuse_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"audience|aware|user id"):
        opts(**kwargs)


def test_unknown_options_and_tags_are_marked_not_hidden() -> None:
    """#21.8: an unknown option reads "unknown option" on the card, its id only in More details; likewise
    a type code the app does not know."""
    card = _all_text(clue_message(UNKNOWN_IDS, opts()))
    assert "*Stage*\\nunknown option" in card and "Other type" in card
    assert "3968237241897" not in card and "Type 7" not in card and "(7)" not in card
    assert "+2 more" in _all_text(_blocks_by_id(clue_message(UNKNOWN_IDS, opts()))["clue_tags"])
    details = _all_text(_details(UNKNOWN_IDS))
    assert "unknown option (396823724189760)" in details
    assert "展会, unknown option (396823724189761)" in details
    assert "+2 unknown tags" in details
    assert "Other type (7)" in details
    for locale, marker in (("zh", "未知选项（396823724189760）"), ("zh-TW", "未知選項（396823724189760）")):
        assert marker in _all_text(_details(UNKNOWN_IDS, locale=locale))
        assert "396823724189760" not in _all_text(clue_message(UNKNOWN_IDS, opts(locale=locale)))


def test_sixty_tags_all_fit_grouped() -> None:
    tags = _details(MANY_TAGS)["clue_tags"]["text"]["text"]
    assert all(f"标签{i:02d}" in tags for i in range(60))
    assert tags.count("*行业*: ") == 1 and "more" not in tags


def test_too_many_tags_are_counted() -> None:
    named = (TagView(str(i), f"很长的标签名称第{i:04d}号" * 3, "组") for i in range(500))
    clue = replace(MANY_TAGS, tags=(*named, TagView("x", None)))
    assert_valid_message(clue_message(clue, opts()))
    tags = _details(clue)["clue_tags"]["text"]["text"]
    shown = tags.count("号很长")
    assert 0 < shown < 500
    assert tags.endswith(f" · +{500 - shown // 2} more · +1 unknown tag")


def test_long_description_is_cut_on_lines_and_length() -> None:
    assert "第1段" not in _all_text(clue_message(LONG_DESCRIPTION, opts()))  # the card: summary only
    text = _details(LONG_DESCRIPTION)["clue_description"]["text"]["text"]
    assert text.startswith("*Description*\n第1段") and text.endswith("…")
    assert len(text) <= len("*Description*\n") + cards.DETAILS.description
    many_lines = replace(DOC_EXAMPLE, description="\n".join(f"line {i}" for i in range(90)))
    text = _details(many_lines)["clue_description"]["text"]["text"]
    assert text.splitlines()[-1] == f"line {cards.DETAILS.description_lines - 1}…"


def test_unparsed_time_shows_escaped_raw_text() -> None:
    times = _details(HOSTILE)["clue_times"]["elements"]
    assert times[0]["text"] == "*Created* &lt;!date^1^x¦y&gt;"
    assert times[1]["text"] == ("*Updated* <!date^1714492800^{date_short_pretty} {time}"
                                "|2024¦05¦01 &lt;b&gt; (Asia/Shanghai¦&lt;x&gt;)>")


async def test_crm_datetime_fields_are_viewer_local_and_dates_are_dates(sandbox: SandboxServer,
                                                                         crm_factory: Callable[..., CrmClient]) -> None:
    # A tenant's own date field (type 3) next to the seed's 下次跟进时间 (type 7), sent as clue/get sends them.
    sandbox.state.set_catalog(fields=[*seed.FIELDS, {
        "id": 91653, "name": "签约日期", "type": 3, "outerField": None, "stable": False,
        "customerImportRequired": False, "items": []}])
    # Type 3's encoding is undocumented: epoch milliseconds, 2025-04-01 00:00 in Asia/Shanghai (still
    # March 31 in UTC), must show as that CRM_TIMEZONE calendar day.
    sandbox.state.update_clue(seed.LONG_ID_CLUE_ID, **{"91653": "1743436800000"})
    client = crm_factory(sandbox.url)
    fetcher = ClueFetcher(client, ReferenceData(client, ttl=3600, clock=FakeClock()), SHANGHAI)
    clue = await fetcher.fetch(seed.LONG_ID_CLUE_ID)
    assert Clue.from_json(clue.to_json()) == clue  # the read time survives the shared cache
    written_before = json.loads(clue.to_json())
    for view in written_before["other_fields"]:
        del view["time"]
    older = Clue.from_json(json.dumps(written_before))  # an entry from before ``time``: still readable
    assert older is not None and [f.time for f in older.other_fields] == [None] * len(clue.other_fields)
    message = clue_message(clue, opts(clue))
    texts = [f["text"] for f in _blocks_by_id(message)["clue_fields"]["fields"]]
    # 2025-03-11 15:00:00 in Asia/Shanghai is 07:00 UTC: epoch 1741676400; in the summary, relative too.
    assert ("*Next follow-up*\n<!date^1741676400^{date_short_pretty} {time} · {ago}"
            "|2025-03-11 15:00:00 (Asia/Shanghai)>") in texts
    assert "*签约日期*\n2025-04-01" in [f["text"] for f in _details(clue)["clue_custom"]["fields"]]
    assert_valid_message(message)


def test_hostile_clue_cannot_ping_link_or_break_out() -> None:
    for message in (clue_message(HOSTILE, opts(clue_url="javascript:alert(1)")),
                    clue_message(HOSTILE, opts(audience=AUDIENCE_CHANNEL)),
                    clue_unfurl(HOSTILE, opts()),
                    clue_list_message([HOSTILE], opts(), urls={666: "javascript:x"})):
        assert_no_injection(message)
        mrkdwn = " ".join(d["text"] for d in text_objects(message) if d["type"] == "mrkdwn")
        for token in ("<!channel>", "<!here>", "<!everyone>", "<@U0BOSS>", "<https://", "<#C", "`rm", "```",
                      "\u202e", "\x00", "\u200b"):
            assert token not in mrkdwn
        assert "13900001111" not in _all_text(message) and "13700001111" not in _all_text(message)


@pytest.mark.parametrize(("locale", "unassigned", "converted"), [
    ("en", "Unassigned", "✅ Converted to customer"), ("zh", "未分配", "✅ 已转为客户"),
    ("zh-TW", "未分配", "✅ 已轉為客戶")])
def test_owner_leads_the_face_and_unassigned_is_said_plainly(locale: str, unassigned: str, converted: str) -> None:
    def owner_row(clue: Clue, owner: Owner | None) -> str | None:
        fields = _blocks_by_id(clue_message(clue, opts(clue, locale=locale, owner=owner)))["clue_fields"]["fields"]
        first = fields[0]["text"]
        return first.split("\n", 1)[1] if first.startswith(f"*{i18n.t(locale, 'field.owner')}*") else None

    two = Owner(("王芳", "李四"), ("华东销售部", "大客户部"))
    assert owner_row(RICH_ZH, two) == "王芳, 李四 · 华东销售部, 大客户部"
    assert owner_row(RICH_ZH, Owner()) == unassigned  # search rows without mainFollows
    assert owner_row(RICH_ZH, None) is None  # not known (no row, or not in time): nothing claimed
    awaiting = replace(RICH_ZH, is_clue=False)
    assert owner_row(awaiting, None) == unassigned  # clue/get's isClue false, never converted
    assert owner_row(awaiting, Owner(("王芳",))) == "王芳"  # the search's answer wins
    became = replace(RICH_ZH, is_clue=False, converted=crm_time("2024-04-28 09:00:00"))
    assert owner_row(became, None) is None  # a customer now: not awaiting anyone
    meta = _blocks_by_id(clue_message(became, opts(became, locale=locale)))["clue_meta"]
    assert meta["elements"][0]["text"].endswith(f" · {converted}")  # under the name, not in More details
    assert converted not in _all_text([clue_message(RICH_ZH, opts(RICH_ZH, locale=locale))])


def test_zh_locale_uses_chinese_labels() -> None:
    message = clue_message(RICH_ZH, opts(RICH_ZH, locale="zh"))
    fields = [f["text"].split("\n")[0] for f in _blocks_by_id(message)["clue_fields"]["fields"]]
    assert fields == ["*负责人*", "*公司*", "*阶段*", "*购买意向*", "*电话*"]
    elements = _blocks_by_id(message)["clue_actions"]["elements"]
    assert [b["text"]["text"] for b in elements if b["type"] == "button"] == ["在 CRM 中打开", "跟进记录", "更多详情"]
    assert [o["text"]["text"] for o in elements[-1]["options"]] == ["刷新", "分享到频道", "显示完整电话"]
    assert _blocks_by_id(message)["clue_tags"]["elements"][0]["text"] == "*标签* 制造业，医疗，A"
    assert message["text"] == "线索 20240501 · 张伟 · 方案评估·第二轮"


def test_unknown_locale_falls_back_to_english() -> None:
    assert clue_message(DOC_EXAMPLE, opts(locale="fr"))["text"] == clue_message(DOC_EXAMPLE, opts())["text"]


# ------------------------------------------------------------------------------------------ unfurl


def test_unfurl_is_compact_and_public() -> None:
    unfurl = clue_unfurl(RICH_EN, opts(RICH_EN, shareable=True))
    assert_valid_unfurl(unfurl)
    blocks = _blocks_by_id(unfurl)
    labels = [f["text"].split("\n")[0] for f in blocks["clue_fields"]["fields"]]
    assert labels == ["*Owner*", "*Company*", "*Stage*", "*Purchase intention*", "*Phone*"]
    assert "clue_custom" not in blocks and "clue_description" not in blocks
    assert blocks["clue_tags"]["elements"][0]["text"] == "*Tags* Manufacturing, Healthcare, A, Trade show 2024"
    assert _action_ids(unfurl) == [ACTION_OPEN, *CARD_BUTTONS]


# ------------------------------------------------------------------------------------------ list


def test_list_dedupes_and_marks_failures() -> None:
    message = clue_list_message([DOC_EXAMPLE, (404, "not_found"), DOC_EXAMPLE, (5, "weird<code>")],
                                opts(locale="zh"))
    assert_valid_message(message)
    rows = [b for b in message["blocks"] if b["block_id"].startswith("clue_row_")]
    assert [r["block_id"] for r in rows] == ["clue_row_8", "clue_row_404", "clue_row_5"]
    assert rows[1]["text"]["text"] == "⚠️ *线索 404*: 未找到"
    assert rows[2]["text"]["text"] == "⚠️ *线索 5*: 出现意外问题，请稍后再试"  # an unknown code is not shown
    assert message["text"] == "线索（3 条）: 打马赛克就, 线索 404, 线索 5"
    one = clue_list_message([replace(DOC_EXAMPLE, name="A & <B>"), DOC_EXAMPLE], opts())
    assert one["text"] == "Clues (1): A &amp; &lt;B&gt;"


def test_list_is_capped_with_a_count() -> None:
    items = [Clue(id=i, name=f"Clue name {i}" * 10, phones=("13812345678",)) for i in range(1, 101)]
    message = clue_list_message(items, opts(stale=True))
    assert_valid_message(message)
    assert len(message["blocks"]) == cards.MAX_LIST_ROWS + 2
    assert _blocks_by_id(message)["clue_more"]["elements"][0]["text"] == "+80 more"
    assert "13812345678" not in _all_text(message)


# ------------------------------------------------------------------------------------------ notices

NOTICE_ARGS: dict[str, Any] = {"id": 8, "max_ids": 10, "text": "abc", "reason": "not_a_number",
                               "rule": "channel", "contact": "your Slack admin", "seconds": 12,
                               "query": "张三 <!here>", "page": 3, "why": "too_short",
                               "what": "every new clue", "number": 2, "lines": "1. every new clue",
                               # people (issue 23)
                               "name": "张三", "by": "e-mail", "sales_id": "1001", "user": "U0BOB00001",
                               # a near miss of a command word (/clue subscrib)
                               "word": "subscrib", "command": "subscribe"}
NOTICE_KEYS = sorted(k.removeprefix("notice.") for k in i18n._EN if k.startswith("notice."))


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("key", NOTICE_KEYS)
def test_every_notice_renders(locale: str, key: str) -> None:
    message = notice_message(locale, key, **NOTICE_ARGS)
    assert_valid_message(message)
    assert "{" not in message["text"]


@pytest.mark.parametrize("key", ["not_found", "crm_unavailable", "crm_auth", "crm_clock", "crm_error"])
def test_listener_error_keys_have_notices_and_list_reasons(key: str) -> None:
    assert i18n.known(f"notice.{key}") and i18n.known(f"reason.{key}")


def test_unknown_reason_codes_never_reach_people() -> None:
    notice = _all_text(notice_message("zh-CN", "invalid_id", text="abc", reason="made_up_code"))
    assert "made_up_code" not in notice and i18n.t("zh-CN", "reason.unknown") in notice


def test_notice_arguments_are_escaped_and_codes_translated() -> None:
    message = notice_message("en", "invalid_id", text="<!channel> `x`", reason="too_long")
    assert message["text"] == (
        "`&lt;!channel&gt; ˋxˋ` is not a clue id: the number is too long. Try `/clue help`.")
    assert notice_message("zh", "not_allowed", rule="user", contact="x")["text"].startswith(
        "此处不允许查看线索卡片（你不在允许名单中）")
    unknown = notice_message("en", "not_allowed", rule="<new_rule>", contact="a & b")["text"]
    assert "new_rule" not in unknown and "an unexpected problem" in unknown and "a &amp; b" in unknown
    for contact, shown in (("<@U0ADMIN>", "<@U0ADMIN>"), ("<!subteam^S0OPS>", "<!subteam^S0OPS>"),
                           ("<!channel>", "&lt;!channel&gt;"),
                           ("<@U0ADMIN> <!here>", "&lt;@U0ADMIN&gt; &lt;!here&gt;")):
        assert f"Ask {shown} if" in notice_message("en", "not_allowed", rule="user", contact=contact)["text"]
    placeholder = notice_message("en", "answer_follows", id=410983932389440)
    assert placeholder["text"] == ("Clue 410983932389440: the CRM is slow to answer, so the card comes as a "
                                   "message of its own.")


def test_unknown_notice_key_is_a_bug() -> None:
    with pytest.raises(KeyError):
        notice_message("en", "no_such_notice")


# ------------------------------------------------------------------------------------------ i18n


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("table", [i18n._ZH, i18n._ZH_TW])
def test_locales_have_the_same_keys_and_placeholders(table: dict[str, str]) -> None:
    assert set(table) == set(i18n._EN)
    for key, template in i18n._EN.items():
        assert _placeholders(table[key]) == _placeholders(template), key


def test_traditional_chinese_is_its_own_table() -> None:
    assert i18n.t("zh-TW", "field.tags") == "標籤" and i18n.t("zh", "field.tags") == "标签"
    assert i18n.t("zh-TW", "clue.title", id=8) == "線索 8"


@pytest.mark.parametrize(("slack", "ours"), [
    ("zh-CN", "zh"), ("zh-TW", "zh-TW"), ("zh-HK", "zh-TW"), ("zh", "zh"), ("zh_CN", "zh"), ("zh_TW", "zh-TW"),
    ("ZH-hant-TW", "zh-TW"), ("zh-Hans-CN", "zh"), ("zh-SG", "zh"),
    ("en-US", "en"), ("en-GB", "en"), ("ja-JP", "en"), ("", "en"), (None, "en"),
])
def test_locale_from_slack(slack: str | None, ours: str) -> None:
    assert locale_from_slack(slack, "en") == ours


def test_locale_from_slack_keeps_the_configured_default() -> None:
    assert locale_from_slack("fr-FR", "zh") == "zh"


def test_t_falls_back_to_english() -> None:
    assert i18n.t("xx", "button.refresh") == "Refresh"
    assert i18n.t("zh", "clue.title", id=8) == "线索 8"


# ------------------------------------------------------------------------------------------ properties

INJECTIONS = ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C123|general>", "<!subteam^S1>",
              "<https://evil.example|click>", "&amp;", "&lt;", "&", "<", ">", "```", "`", "*", "_", "~", "|",
              "^", "\n", "\r\n", "\t", "\u202e", "\u200b", "\u200d", "\x00", "\x1b", "\ufeff", "👩\u200d💻",
              "e\u0301", "🇨🇳", "<!date^1^{ago}|x>", ":skull:", "{id}", "{}", "打马赛克就"]
crm_text = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(INJECTIONS)), max_size=6).map("".join)
# Occasionally huge, to exercise every budget.
any_text = st.one_of(crm_text, st.tuples(crm_text, st.integers(1, 800)).map(lambda p: p[0] * p[1]))
views = st.builds(FieldView, key=crm_text, label=st.none() | crm_text, text=any_text,
                  kind=st.sampled_from([None, 1, 2, 4, 5, 6, 8]),
                  unresolved=st.lists(crm_text, max_size=3).map(tuple))
times = st.builds(CrmTime, raw=crm_text, zone=crm_text,
                  at=st.none() | st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                                              timezones=st.just(UTC)))
clues = st.builds(
    Clue, id=st.integers(1, 2**63 - 1), is_clue=st.none() | st.booleans(),
    kind=st.none() | st.integers(-5, 5),
    name=st.none() | any_text, stage=st.none() | views, source=st.none() | views,
    purchase_intention=st.none() | views, gender=st.none() | views, company=st.none() | any_text,
    phones=st.lists(any_text, max_size=8).map(tuple),
    description=st.none() | any_text, address=st.none() | any_text, birthday=st.none() | st.dates(),
    tags=st.lists(st.builds(TagView, id=crm_text, name=st.none() | any_text, group=st.none() | crm_text),
                  max_size=150).map(tuple),
    created=st.none() | times, updated=st.none() | times, converted=st.none() | times,
    other_fields=st.lists(views, max_size=14).map(tuple),
)
card_options = st.builds(
    CardOptions, now=st.just(NOW),
    fetched_at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                            timezones=st.just(UTC)),
    locale=st.sampled_from(["en", "zh", "xx"]),
    audience=st.sampled_from([AUDIENCE_PRIVATE, AUDIENCE_CHANNEL]),
    stale=st.booleans(), clue_url=st.none() | st.just("https://crm.example.com/clue/1") | crm_text,
    shareable=st.booleans(), reveal_phone=st.booleans(), shared_by=st.none() | st.just("U024BE7LH"),
    owner=st.none() | st.builds(Owner, names=st.lists(any_text, max_size=25).map(tuple),
                                departments=st.lists(crm_text, max_size=5).map(tuple)),
)
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(clues, card_options)
def test_any_clue_renders_valid_safe_cards(clue: Clue, options: CardOptions) -> None:
    assert_valid_message(clue_message(clue, options))
    assert_valid_unfurl(clue_unfurl(clue, options))
    assert_valid_message(clue_list_message([clue, (clue.id + 1, "not_found")], options))


@PROPERTY
@given(clues, card_options,
       st.lists(st.from_regex(r"\+?[0-9]{8,15}", fullmatch=True), min_size=1, max_size=3))
def test_phones_never_leak_to_a_channel(clue: Clue, options: CardOptions, phones: list[str]) -> None:
    phone_fields = tuple(FieldView(f"p{i}", "Phone", p, kind=8) for i, p in enumerate(phones))
    clue = replace(clue, phones=(), other_fields=clue.other_fields[:5])
    public = replace(options, audience=AUDIENCE_CHANNEL)
    without = _all_text([clue_message(clue, public), clue_unfurl(clue, public)])
    for p in phones:
        assume(p.lstrip("+") not in without)
    clue = replace(clue, phones=tuple(phones), other_fields=clue.other_fields + phone_fields)
    rendered = _all_text([clue_message(clue, public), clue_unfurl(clue, options),
                          clue_list_message([clue], options)])
    for p in phones:
        assert p.lstrip("+") not in rendered


@pytest.mark.parametrize("mention", ["<!channel>", "<https://evil.example|login>", "a&b"])
def test_id_and_kind_are_escaped_whatever_their_type(mention: str) -> None:
    # The schema keeps them integers; rendering must not rely on it (issue #13 item 6).
    forged = Clue(id=mention, kind=mention, name=None)  # type: ignore[arg-type]
    rendered = [clue_message(forged, opts(audience=audience)) for audience in (AUDIENCE_PRIVATE, AUDIENCE_CHANNEL)]
    rendered.append(clue_unfurl(forged, opts(audience=AUDIENCE_CHANNEL)))
    rendered.append(clue_list_message([forged], opts(), urls={}))
    for message in rendered:
        # Slack parses the top-level text and mrkdwn; plain_text (the header) shows any text as it is.
        parsed = [message.get("text", ""), *_mrkdwn_texts(message)]
        assert not any(mention in text for text in parsed)
        assert any(escape_mrkdwn(mention) in text for text in parsed)


def _mrkdwn_texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return own + [t for value in node.values() for t in _mrkdwn_texts(value)]
    if isinstance(node, list):
        return [t for value in node for t in _mrkdwn_texts(value)]
    return []


# ------------------------------------------------------------------------------------------ summary


def _summary(message: dict[str, Any]) -> list[str]:
    return [f["text"] for f in _blocks_by_id(message)["clue_fields"]["fields"]]


def test_summary_leads_with_what_a_salesperson_acts_on() -> None:
    message = clue_message(SUMMARY_ZH, opts(SUMMARY_ZH, locale="zh", follow_ups=FOLLOW_UPS_ZH))
    assert [f.split("\n")[0] for f in _summary(message)] == [
        "*负责人*", "*公司*", "*阶段*", "*购买意向*", "*电话*", "*下次跟进*", "*预算（万元）*"]
    # Not yet due (NOW is 2024-05-01): viewer-local and relative, not marked; under the app's own label.
    assert _summary(message)[5] == ("*下次跟进*\n<!date^1715047200^{date_short_pretty} {time} · {ago}"
                                    "|2024-05-07 10:00:00 (Asia/Shanghai)>")
    activity = _blocks_by_id(message)["clue_activity"]["text"]["text"]
    assert activity == ("*最近跟进*\n<!date^1714471500^{date_short_pretty} {time}|2024-04-30 18:05:00 "
                        "(Asia/Shanghai)> · 张三 · 跟进\n已加企微，约了周三下午线上演示。")
    # Everything else is behind More details; the summary's own fields are not repeated there. Tags are on
    # the face in one line, and all of them, grouped, in More details.
    details = _all_text(_details(SUMMARY_ZH, locale="zh"))
    assert "意向产品" in details and "*行业*: 制造业" in details and "下次跟进" not in details
    assert "意向产品" not in _all_text(message) and "制造业" in _all_text(message)


def test_overdue_next_follow_up_is_marked() -> None:
    message = clue_message(SUMMARY_EN_OVERDUE, opts(SUMMARY_EN_OVERDUE))
    """#21.3: under the app's own label in every language, saying by how much it is overdue."""
    assert "*Next follow-up*\n⚠️ *overdue by 2 days* · <!date^1714354200^{date_short_pretty} {time}|" in \
        "\n".join(_summary(message))
    for locale, label, overdue in (("zh", "下次跟进", "逾期 634 天"), ("zh-TW", "下次跟進", "逾期 634 天"),
                                   ("en", "Next follow-up", "overdue by 634 days")):
        later = opts(SUMMARY_ZH, now=datetime(2024, 5, 7, 2, tzinfo=UTC) + timedelta(days=634, hours=5), locale=locale)
        assert f"*{label}*\n⚠️ *{overdue}* · <!date^" in "\n".join(_summary(clue_message(SUMMARY_ZH, later)))
        preview = clue_unfurl(SUMMARY_ZH, later)
        assert f"*{label}*\n⚠️ *{overdue}*" in "\n".join(_summary(preview))
    hours = opts(SUMMARY_ZH, now=datetime(2024, 5, 7, 5, tzinfo=UTC))
    assert "⚠️ *overdue by 3 hours*" in _all_text(clue_message(SUMMARY_ZH, hours))


def test_summary_fields_are_configurable_by_key_or_name_in_order() -> None:
    message = clue_message(SUMMARY_ZH, opts(SUMMARY_ZH, summary_fields=("91651", "意向产品", "nope"), due_field=None))
    assert [f.split("\n")[0] for f in _summary(message)][-2:] == ["*预算（万元）*", "*意向产品*"]
    assert "下次跟进时间" not in _all_text(message)
    # Left out of the summary, the due field is in More details, still under the app's own label (#21.3).
    details = _details(SUMMARY_ZH, summary_fields=("91651",), locale="zh")
    assert "*下次跟进*\n<!date^1715047200^{date_short_pretty} {time} · {ago}" in _all_text(details).replace("\\n", "\n")
    assert "下次跟进时间" not in _all_text(details)


def test_card_says_when_the_latest_follow_up_did_not_come() -> None:
    missing = _blocks_by_id(clue_message(RICH_EN, opts(RICH_EN, follow_ups_missing=True)))["clue_activity"]
    assert missing["text"]["text"] == "_Latest follow-up not shown: the CRM did not answer in time._"
    none = _blocks_by_id(clue_message(RICH_EN, opts(RICH_EN, follow_ups=FollowUpPage((), None))))
    assert none["clue_activity"]["text"]["text"] == "*Latest follow-up*\nNo follow-ups yet"


def test_hostile_follow_ups_render_escaped_and_within_limits() -> None:
    message = clue_message(HOSTILE, opts(follow_ups=HOSTILE_FOLLOW_UPS))
    assert_valid_message(message)
    view = modals.follow_ups_view(HOSTILE, [HOSTILE_FOLLOW_UPS], "en")
    assert_valid_blocks(view["blocks"])
    assert_no_injection(view)
    text = _all_text(view)
    mrkdwn = " ".join(d["text"] for d in text_objects(view["blocks"]) if d["type"] == "mrkdwn")
    for token in ("<!here>", "<!channel>", "<https://", "<@U0BOSS>", "```", "\u202e"):
        assert token not in mrkdwn
    entries = [b for b in view["blocks"] if b["block_id"].startswith("clue_follow_up_")]
    assert 3 < len(entries) < 1000
    assert "Unknown · Note" in entries[1]["text"]["text"]
    assert entries[2]["text"]["text"].endswith("· Other\nˋˋˋ\n&gt; quoted")
    assert "99" not in entries[2]["text"]["text"]  # a type code the docs do not list is not shown as a code
    assert len(entries[1]["text"]["text"]) < 600  # the 10,000-character note, trimmed
    # Capped, honestly: no Load more past the budget, and a line that says so.
    assert "clue_follow_ups_more" not in {b["block_id"] for b in view["blocks"]}
    assert f"Showing the newest {len(entries)}" in text


def test_timeline_pages_are_bounded() -> None:
    page = FollowUpPage((follow_up(1, "x"),), next_cursor="again")
    view = modals.follow_ups_view(RICH_EN, [page] * (modals.MAX_PAGES - 1), "en")
    button = _blocks_by_id(view)["clue_follow_ups_more"]["elements"][0]
    assert button["action_id"] == modals.ACTION_LOAD_MORE and button["value"] == f"1024:{modals.MAX_PAGES}"
    last = modals.follow_ups_view(RICH_EN, [page] * modals.MAX_PAGES, "en")
    assert "clue_follow_ups_more" not in _blocks_by_id(last)
    assert "Showing the newest" in _all_text(last)


def test_a_phone_is_masked_the_same_way_everywhere() -> None:
    """#21.8: one rule, one character (`*`), on every surface a phone reaches: card, preview, list row,
    search row, type-ahead option, More details and the Work Object pane."""
    from bot.slack.entities import EntityOptions, clue_entity_details

    phone = "13812345678"
    clue = Clue(id=5, name="张三", phones=(phone,), other_fields=(FieldView("p", "备用电话", phone, kind=8),))
    row = SearchHit(5, "张三", phone=phone)
    pane = clue_entity_details(clue, EntityOptions(clue_url=URL.format(id=5), fetched_at=FETCHED))
    surfaces = {
        "card": _all_text(clue_message(clue, opts(clue))),
        "preview": _all_text(clue_unfurl(clue, opts(clue))),
        "list": _all_text(clue_list_message([clue], opts())),
        "search": _all_text(search_cards.pick_list_message(_results(rows=(row,)), "en")),
        "option": _all_text(search_cards.option(row, "en")),
        "details": _all_text(_details(clue)),
        "pane": _all_text(pane),
    }
    for name, text in surfaces.items():
        assert "138****5678" in text and phone not in text, name
        assert "∗" not in text and "•" not in text, name


def test_the_face_shows_tags_in_one_line_then_a_count_and_the_times() -> None:
    """#21.1: tag names on the card face, as many as fit one line, then "+N more"; created and (when
    converted) converted times viewer-local; updated in the footer. Chinese text uses "，"."""
    blocks = _blocks_by_id(clue_message(MANY_TAGS, opts(MANY_TAGS, locale="zh")))
    [tags] = blocks["clue_tags"]["elements"]
    shown = tags["text"].removeprefix("*标签* ").split("，")
    assert shown[-1] == f"另 {60 - len(shown) + 1} 项" and 3 <= len(shown) - 1 < 10
    assert sum(len(s) for s in shown) <= 40 and "\n" not in tags["text"]
    en = _blocks_by_id(clue_message(RICH_EN, opts(RICH_EN)))
    assert [e["text"].split(" ")[0] for e in en["clue_times"]["elements"]] == ["*Created*", "*Converted*"]
    assert all("<!date^" in e["text"] for e in en["clue_times"]["elements"])
    assert "updated <!date^1714470312^" in en["clue_footer"]["elements"][0]["text"]
    tw = _blocks_by_id(clue_message(RICH_EN, opts(RICH_EN, locale="zh-TW")))
    assert [e["text"].split(" ")[0] for e in tw["clue_times"]["elements"]] == ["*建立*", "*轉客戶*"]
    unknown = _blocks_by_id(clue_message(UNKNOWN_IDS, opts()))["clue_tags"]["elements"][0]["text"]
    assert unknown == "*Tags* 央企, +2 more"  # unknown tag ids counted, never shown as ids


def test_list_and_search_rows_are_worded_alike() -> None:
    """#21.1: a row of /clue 8 12 40 and a search row say the same things the same way: name and ID,
    stage, tags, and what the time is ("Created …", "Latest follow-up …")."""
    clue = replace(DOC_EXAMPLE, tags=(TagView("1", "A级"), TagView("2", "北京")))
    listed = clue_list_message([clue], opts(locale="zh"))["blocks"][0]["text"]["text"]
    row = SearchHit(8, "打马赛克就", "初步接触", clue.created, ("A级", "北京"), phone="145678388")
    found = search_cards.pick_list_message(_results(rows=(row,)), "zh")["blocks"][1]["text"]["text"]
    assert listed == found == (
        "*打马赛克就* · ID `8`\n初步接触 · A级，北京 · 1****8388 · "
        "创建于 <!date^1620717348^{date_short_pretty} {time}|2021-05-11 15:15:48 (Asia/Shanghai)>")
    latest = clue_list_message([clue], opts(), activity={8: FOLLOW_UPS_EN.items[0]})["blocks"][0]["text"]["text"]
    assert latest.endswith("· Latest follow-up <!date^1714471500^{date_short_pretty} {time}"
                           "|2024-04-30 18:05:00 (Asia/Shanghai)>")


def test_modals_say_when_they_serve_cached_pages_of_an_unreachable_crm() -> None:
    """#21.4: the Follow-ups modal (and Load more, the same view) and More details carry the card's line."""
    line = "⚠️ *CRM unreachable, last checked <!date^1714552200^{date_short_pretty} {time}|2024-05-01 08:30 UTC>*"
    for view in (modals.follow_ups_view(RICH_EN, [FOLLOW_UPS_EN], "en", stale_since=FETCHED),
                 modals.details_view(RICH_EN, opts(RICH_EN, stale=True))):
        assert_valid_blocks(view["blocks"])
        assert [b["block_id"] for b in view["blocks"]][:2] == ["clue_header", "clue_stale"]
        assert view["blocks"][1]["elements"][0]["text"] == line
    fresh = modals.follow_ups_view(RICH_EN, [FOLLOW_UPS_EN], "zh-TW")
    assert "clue_stale" not in {b["block_id"] for b in fresh["blocks"]}


@pytest.mark.parametrize(("locale", "seconds", "said"), [
    ("en", 30, "1 minute"), ("en", 150, "2 minutes"), ("en", 3_600, "1 hour"), ("en", 86_399, "23 hours"),
    ("en", 86_400 * 634 + 5, "634 days"), ("zh", 7_200, "2 小时"), ("zh-TW", 7_200, "2 小時"), ("zh-TW", 60, "1 分鐘"),
])
def test_durations_are_said_in_whole_units(locale: str, seconds: float, said: str) -> None:
    from bot.slack.blocks import duration

    assert duration(locale, seconds) == said
