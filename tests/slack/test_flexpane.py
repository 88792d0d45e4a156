"""Work Objects through the real app: chat.unfurl carries entity metadata, and entity_details_requested
is answered with entity.presentDetails for the viewer (or the documented error object)."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.metadata import EntityCustomField, EntityMetadata

from bot.dev.sandbox import SandboxServer
from bot.runtime.logs import AUDIT_LOGGER
from bot.slack.entities import ENTITY_TYPE, EXTERNAL_TYPE
from tests.slack.harness import CHANNEL, TEAM, USER, SlackDriver, running_app, slack_settings
from tests.slack.test_unfurl import link_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"  # Slack's published examples
PUBLISHED = json.loads((FIXTURES / "entity-details-requested.event.json").read_text())
TIMESTAMP = "slack#/types/timestamp"


def details_event(clue_id: str = "1", *, user: str = USER, **changes: Any) -> dict[str, Any]:
    """Slack's published entity_details_requested event, pointed at one of our clues."""
    event = copy.deepcopy(PUBLISHED["event"])
    url = f"https://crm.example.com/clues/{clue_id}"
    event.update(user=user, external_ref={"id": clue_id, "type": EXTERNAL_TYPE}, entity_url=url,
                 link={"url": url, "domain": "crm.example.com"}, app_unfurl_url=url, channel=CHANNEL)
    event.update(changes)
    return event


async def present(slack: SlackDriver, event: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    response = await slack.event(event, **envelope)
    assert response.status_code == 200
    await slack.drain()
    [call] = slack.fake.api_calls("entity.presentDetails")
    assert call["trigger_id"] == event["trigger_id"]
    return call


def custom_fields(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["key"]: f for f in metadata["entity_payload"].get("custom_fields", [])}


def round_trips(metadata: dict[str, Any]) -> None:
    """slack_sdk's own models read the payload back unchanged (and check entity and field types)."""
    assert EntityMetadata(**metadata).to_dict() == metadata
    for field in metadata["entity_payload"].get("custom_fields", []):
        assert EntityCustomField(**field).to_dict() == field


# ------------------------------------------------------------------------------------------ unfurl


async def test_unfurl_carries_work_object_metadata_and_keeps_blocks(slack: SlackDriver) -> None:
    urls = ["https://crm.example.com/clues/1?tab=info&amp;x=1", "https://crm.example.com/clues/8"]
    await slack.event(link_event(*urls))
    await slack.drain()
    [call] = slack.fake.api_calls("chat.unfurl")
    assert set(call["unfurls"]) == set(urls)  # the Block Kit fallback stays
    entities = call["metadata"]["entities"]
    assert [e["app_unfurl_url"] for e in entities] == urls  # exactly as Slack sent them
    first = entities[0]
    round_trips(first)
    assert first["entity_type"] == ENTITY_TYPE
    assert first["external_ref"] == {"id": "1", "type": EXTERNAL_TYPE}
    assert first["url"] == "https://crm.example.com/clues/1"
    assert first["entity_payload"]["attributes"]["title"]["text"] == "张伟"
    fields = custom_fields(first)
    assert fields["company"]["value"] == "上海云杉信息科技有限公司"
    assert {fields[k]["type"] for k in ("next_follow_up", "date_created", "date_updated")} == {TIMESTAMP}
    assert isinstance(fields["next_follow_up"]["value"], int)
    actions = first["entity_payload"]["actions"]["primary_actions"]
    assert [a["action_id"] for a in actions] == ["clue_open", "clue_refresh"]
    assert "13812345678" not in json.dumps(call) and "138****5678" not in json.dumps(entities)


async def test_refresh_on_a_work_object_unfurl_resends_its_metadata(slack: SlackDriver) -> None:
    url = "https://crm.example.com/clues/8"
    container = {"type": "message_attachment", "message_ts": "1700000000.000100", "channel_id": CHANNEL,
                 "is_ephemeral": False, "attachment_id": 1, "is_app_unfurl": True, "app_unfurl_url": url,
                 "entity_url": url, "external_ref": {"id": "8", "type": EXTERNAL_TYPE}}
    await slack.action("clue_refresh", "8", container=container)
    await slack.drain()
    [call] = slack.fake.api_calls("chat.unfurl")
    assert list(call["unfurls"]) == [url]
    assert [e["app_unfurl_url"] for e in call["metadata"]["entities"]] == [url]


async def test_the_configured_due_field_is_the_work_objects_next_follow_up(
        sandbox: SandboxServer, fake_slack: tuple[str, Any]) -> None:
    """CLUE_DUE_FIELD reaches the Work Object: a tenant whose due field is another one does not get
    下次跟进时间 presented as the next follow-up (it stays a field of its own in the pane)."""
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CLUE_DUE_FIELD="回访时间")
    async with running_app(settings, state, url) as slack:
        await slack.event(link_event("https://crm.example.com/clues/1"))
        await slack.drain()
        [call] = slack.fake.api_calls("chat.unfurl")
        assert "next_follow_up" not in custom_fields(call["metadata"]["entities"][0])
        pane = custom_fields((await present(slack, details_event("1")))["metadata"])
        assert "next_follow_up" not in pane
        assert pane["crm_91652"]["label"] == "下次跟进时间" and pane["crm_91652"]["type"] == TIMESTAMP


# ------------------------------------------------------------------------------------------ flexpane


async def test_allowed_viewer_gets_the_whole_clue_with_phones_masked(slack: SlackDriver) -> None:
    call = await present(slack, details_event("1"))
    assert "error" not in call
    metadata = call["metadata"]
    round_trips(metadata)
    assert "app_unfurl_url" not in metadata  # presentDetails metadata is the entity alone
    assert metadata["external_ref"] == {"id": "1", "type": EXTERNAL_TYPE}
    fields = custom_fields(metadata)
    assert fields["phones"]["value"] == [{"value": "138****5678"}]
    assert fields["birthday"] == {"key": "birthday", "label": "Birthday", "type": "slack#/types/date",
                                  "value": "1988-06-15"}
    assert fields["description"]["long"] is True
    assert "13812345678" not in json.dumps(call)
    assert metadata["entity_payload"]["display_order"] == list(fields)


async def test_viewer_locale_comes_from_the_event(slack: SlackDriver) -> None:
    call = await present(slack, details_event("1", user_locale="zh-CN"))
    assert custom_fields(call["metadata"])["company"]["label"] == "公司"


async def test_phone_shown_only_where_slack_says_the_conversation_is_not_shared(
        slack: SlackDriver, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        call = await present(slack, details_event("1"), is_ext_shared_channel=False)
    assert custom_fields(call["metadata"])["phones"]["value"] == [{"value": "13812345678"}]
    assert [r.getMessage() for r in caplog.records if r.name == AUDIT_LOGGER] == ["audit.phone.revealed"]


@pytest.mark.parametrize("how", ["event_says", "slack_says", "slack_will_not_say"])
async def test_a_slack_connect_conversation_is_restricted(slack: SlackDriver, sandbox: SandboxServer,
                                                         how: str) -> None:
    """The pane follows Share's rule: an external guest in a Connect channel gets nothing of the clue."""
    envelope: dict[str, Any] = {}
    if how == "event_says":
        envelope["is_ext_shared_channel"] = True
    elif how == "slack_says":
        slack.fake.conversations[CHANNEL] = {"is_ext_shared": True}  # Slack's documented event carries no flag
    else:
        slack.fake.errors["conversations.info"] = "channel_not_found"
    call = await present(slack, details_event("1"), **envelope)
    assert call["error"] == {"status": "restricted"}
    assert "metadata" not in call
    assert sandbox.state.stats().calls == {}


async def test_shared_conversation_where_allowed_masks_the_phone(sandbox: SandboxServer,
                                                                 fake_slack: tuple[str, Any]) -> None:
    url, state = fake_slack
    async with running_app(slack_settings(sandbox.url, url, CLUE_ALLOW_SHARED_CHANNELS="true"), state, url) as slack:
        call = await present(slack, details_event("1"), is_ext_shared_channel=True)
    assert custom_fields(call["metadata"])["phones"]["value"] == [{"value": "138****5678"}]


@pytest.mark.parametrize(("shared", "status"), [(True, "restricted"), (False, None)])
async def test_team_allow_list_where_connect_is_allowed(sandbox: SandboxServer, fake_slack: tuple[str, Any],
                                                       shared: bool, status: str | None) -> None:
    """The event does not name the viewer's own workspace: where other organisations may be present, the team
    allow list cannot admit them, so the pane is restricted; in a conversation of this workspace only, it opens."""
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CLUE_ALLOW_SHARED_CHANNELS="true", SLACK_ALLOWED_TEAM_IDS=TEAM)
    async with running_app(settings, state, url) as slack:
        slack.fake.conversations[CHANNEL] = {"is_ext_shared": shared}
        call = await present(slack, details_event("1"))
    assert call.get("error", {}).get("status") == status
    assert ("metadata" in call) is (status is None)


async def test_refused_viewer_gets_restricted_and_no_crm_call(sandbox: SandboxServer,
                                                              fake_slack: tuple[str, Any]) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CLUE_ALLOWED_USER_IDS=USER)
    async with running_app(settings, state, url) as slack:
        call = await present(slack, details_event("1", user="U0MALLORY1"))
        assert call["error"] == {"status": "restricted"}
        assert "metadata" not in call
        assert sandbox.state.stats().calls == {}


async def test_another_workspace_is_restricted(sandbox: SandboxServer, fake_slack: tuple[str, Any]) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, SLACK_ALLOWED_TEAM_IDS=TEAM)
    async with running_app(settings, state, url) as slack:
        call = await present(slack, details_event("1"), team="T0OTHER001")
        assert call["error"] == {"status": "restricted"}
        assert sandbox.state.stats().calls == {}


async def test_missing_clue_is_not_found(slack: SlackDriver) -> None:
    call = await present(slack, details_event("404"))
    assert call["error"] == {"status": "not_found"}


async def test_crm_down_is_internal_error(slack: SlackDriver, sandbox: SandboxServer) -> None:
    sandbox.state.set_fault(1, status=503)
    call = await present(slack, details_event("1"))
    assert call["error"] == {"status": "internal_error"}


async def test_crm_timeout_is_timeout(sandbox: SandboxServer, fake_slack: tuple[str, Any]) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CRM_TIMEOUT_SECONDS="0.2")
    async with running_app(settings, state, url) as slack:
        sandbox.state.set_fault(1, hang=True)
        call = await present(slack, details_event("1"))
        assert call["error"] == {"status": "timeout"}


async def test_slack_published_event_for_a_link_not_ours_is_not_found(slack: SlackDriver,
                                                                     sandbox: SandboxServer) -> None:
    call = await present(slack, copy.deepcopy(PUBLISHED["event"]), event_id=PUBLISHED["event_id"])
    assert call["error"] == {"status": "not_found"}
    assert sandbox.state.stats().calls == {}


BAD_EVENTS: dict[str, dict[str, Any]] = {
    "id zero": {"external_ref": {"id": "0", "type": EXTERNAL_TYPE}},
    "id not digits": {"external_ref": {"id": "1; drop", "type": EXTERNAL_TYPE}},
    "id too long": {"external_ref": {"id": "9" * 40, "type": EXTERNAL_TYPE}},
    "id a number": {"external_ref": {"id": 1, "type": EXTERNAL_TYPE}},
    "ref a string": {"external_ref": "1"},
    "ref missing, no clue link": {"external_ref": None, "entity_url": "https://crm.example.com/",
                                  "app_unfurl_url": None, "link": None},
    "other type": {"external_ref": {"id": "1", "type": "document"}},
    "url of another clue": {"entity_url": "https://crm.example.com/clues/2"},
    "ref missing, links to two clues": {"external_ref": None, "entity_url": "https://crm.example.com/clues/2"},
    "url not a string": {"entity_url": ["https://crm.example.com/clues/1"]},
    "link not an object": {"link": "https://crm.example.com/clues/1"},
}


@pytest.mark.parametrize("name", sorted(BAD_EVENTS))
async def test_bad_input_gets_not_found_never_a_traceback(name: str, slack: SlackDriver, sandbox: SandboxServer,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    call = await present(slack, details_event("1", **BAD_EVENTS[name]))
    assert call["error"] == {"status": "not_found"}
    assert sandbox.state.stats().calls == {}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("trigger_id", [None, "", 42])
async def test_no_trigger_id_means_nothing_to_answer(trigger_id: Any, slack: SlackDriver,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    response = await slack.event(details_event("1", trigger_id=trigger_id))
    assert response.status_code == 200
    await slack.drain()
    assert slack.fake.api_calls("entity.presentDetails") == []
    assert "entity.event.malformed" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_retries_present_once(slack: SlackDriver) -> None:
    event = details_event("1")
    await slack.event(event, event_id="Ev0FLEX0001")
    await slack.event(event, event_id="Ev0FLEX0001", headers={"x-slack-retry-num": "1"})
    await slack.drain()
    assert len(slack.fake.api_calls("entity.presentDetails")) == 1


async def test_present_details_errors_are_logged_not_raised(slack: SlackDriver,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    slack.fake.errors["entity.presentDetails"] = "invalid_trigger_id"
    await present(slack, details_event("1"))
    [line] = [r for r in caplog.records if r.getMessage() == "slack.call.failed"]  # once, by the client
    assert (line.method, line.error) == ("entity.presentDetails", "invalid_trigger_id")  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_over_the_per_person_limit_is_a_custom_error_saying_when(sandbox: SandboxServer,
                                                                       fake_slack: tuple[str, Any]) -> None:
    url, state = fake_slack
    settings = slack_settings(sandbox.url, url, CLUE_USER_RATE_PER_MINUTE="1")
    async with running_app(settings, state, url) as slack:
        for event_id in ("Ev0LIMIT001", "Ev0LIMIT002", "Ev0LIMIT003"):
            await slack.event(details_event("1"), event_id=event_id)
        await slack.drain()
        calls = slack.fake.api_calls("entity.presentDetails")
        assert len(calls) == 3
        refused = [c["error"] for c in calls if "error" in c]
        assert len(refused) == 2  # the first lookup spent the budget; the refusals answer first
        assert {e["status"] for e in refused} == {"custom"}
        assert refused[0]["custom_title"] == "Too many lookups"
        assert "try again" in refused[0]["custom_message"].lower()


async def test_the_clue_is_found_by_its_external_ref_whatever_link_slack_sends(slack: SlackDriver) -> None:
    """Slack's own SDK fixture sends the domain root as ``link.url`` and an ``external_ref`` without a type:
    the pane still opens on the clue the unfurl named (before, every such click answered not_found)."""
    event = json.loads((FIXTURES / "entity-details-requested.java-sdk.event.json").read_text())
    event.update(external_ref={"id": "8"}, entity_url="https://crm.example.com/clues/8",
                 app_unfurl_url="https://crm.example.com/clues/8?from=slack",
                 link={"url": "https://crm.example.com", "domain": "crm.example.com"}, channel=CHANNEL)
    call = await present(slack, event)
    assert "error" not in call
    assert call["metadata"]["external_ref"]["id"] == "8"


@pytest.mark.parametrize("changes", [
    {"external_ref": None},  # no external_ref: the clue links stand in
    {"app_unfurl_url": "https://elsewhere.example/page"},  # a URL that is no clue link says nothing
])
async def test_urls_stand_in_only_where_the_ref_does_not_speak(changes: dict[str, Any], slack: SlackDriver) -> None:
    call = await present(slack, details_event("8", **changes))
    assert "error" not in call
    assert call["metadata"]["external_ref"]["id"] == "8"
