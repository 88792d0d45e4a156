"""The playground's backend through the real ASGI app: the page's endpoints build and sign Slack's requests,
the app answers through ``/slack/events``, and what it sends Slack afterwards is read back from the fake Slack.

Playground settings (no Slack credentials, no CRM): the app starts its own sandbox CRM and fake Slack, and
clue links point at the sandbox's clue page (``CLUE_URL_TEMPLATE`` left at its default).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from bot.alerts.service import AlertService
from bot.compose import Instance
from bot.config import Settings
from bot.dev.launch import create_playground_app
from bot.dev.playground.page import CHANNEL_ID, STATIC, VIEWERS
from bot.dev.playground.skips import UNFURL_LOGGER, UnfurlSkips
from bot.dev.sandbox import SandboxServer, seed

# One app for the module (starting and stopping its sandbox CRM and fake Slack takes ~0.4 s); tests that
# need other settings, or break the CRM, start their own. Tests tell their calls apart by response key and
# sequence number, so sharing is safe.
pytestmark = pytest.mark.asyncio(loop_scope="module")

CLUE_8_NAME = "打马赛克就"
RICH_NAME = "张伟"
SOME_LINK = "https://crm.example.com/clues/8"  # for input the page refuses before it matters where it points


class Playground:
    """The page's side of the conversation: its endpoints, and what the fake Slack captured."""

    def __init__(self, http: httpx.AsyncClient, instance: Instance) -> None:
        self.http = http
        self.instance = instance

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.http.post(path, json=body)

    async def ok(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = await self.post(path, body)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        assert data["status"] == 200, data  # the app's own answer to the signed request
        return data

    def link(self, clue_id: int | str) -> str:
        """A link to a clue as the playground's app knows them (the sandbox's page, unless configured)."""
        return self.instance.settings.clue_url_template.replace("{id}", str(clue_id))

    async def command(self, text: str, key: str, viewer: str = "en") -> dict[str, Any]:
        return await self.ok("/playground/command", {"text": text, "response_key": key, "viewer": viewer})

    async def every_call(self) -> list[dict[str, Any]]:
        """Every call the fake Slack captured since the app started, page after page."""
        calls: list[dict[str, Any]] = []
        while True:
            answer = (await self.http.get("/playground/messages", params={"since": len(calls)})).json()
            if not answer["calls"]:
                return calls
            calls += answer["calls"]

    async def notes(self, event_id: str) -> list[dict[str, Any]]:
        """After background work finished: the app's notes on why links of this event got no preview."""
        await self.instance.runner.drain(timeout=30)
        response = await self.http.get("/playground/messages", params={"since": 0, "notes_since": 0})
        assert response.status_code == 200
        return [n for n in response.json()["notes"] if n["event_id"] == event_id]

    async def click(self, action_id: str, key: str, *, kind: str = "ephemeral", value: str = "8",
                    message_ts: str = "1700000000.000100", **where: str) -> dict[str, Any]:
        container = {"kind": kind, "message_ts": message_ts, **where}
        return await self.ok("/playground/action", {"action_id": action_id, "value": value,
                                                    "block_id": "clue_actions", "response_key": key,
                                                    "container": container})

    async def captured(self, since: int = 0) -> list[dict[str, Any]]:
        """After background work finished: every captured call Slack would have received, less users.info."""
        await self.instance.runner.drain(timeout=30)
        response = await self.http.get("/playground/messages", params={"since": since})
        assert response.status_code == 200
        calls: list[dict[str, Any]] = response.json()["calls"]
        return [c for c in calls if c["name"] != "users.info"]


@asynccontextmanager
async def playground(env: Mapping[str, str] | None = None) -> AsyncIterator[Playground]:
    app = create_playground_app(Settings.from_env(env or {}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:3000") as http:
            yield Playground(http, app.state.instance)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def page() -> AsyncIterator[Playground]:
    async with playground({"CLUE_USER_RATE_PER_MINUTE": "100000"}) as driver:
        yield driver


def header(message: Mapping[str, Any]) -> str:
    return str(next(b["text"]["text"] for b in message["blocks"] if b["type"] == "header"))


def phone_field(message: Mapping[str, Any]) -> str:
    fields = next(b["fields"] for b in message["blocks"] if b.get("block_id") == "clue_fields")
    return str(next(f["text"] for f in fields if f["text"].startswith("*Phone*")))


# ------------------------------------------------------------------------------------------ the page


async def test_the_page_and_its_assets_are_served(page: Playground) -> None:
    response = await page.http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert '<script src="/static/app.js"' in response.text
    assert '<label for="composer-input">' in response.text
    for asset, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        served = await page.http.get(f"/static/{asset}")
        assert served.status_code == 200
        assert kind in served.headers["content-type"]


async def test_the_page_never_builds_html_from_strings() -> None:
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
    for name in ("index.html", "app.js", "style.css"):
        assert "//cdn" not in (STATIC / name).read_text(encoding="utf-8")  # no internet here


async def test_config_tells_the_page_who_it_is_and_where_to_poll_from(page: Playground) -> None:
    config = (await page.http.get("/playground/config")).json()
    assert config["command"] == "/clue"
    assert config["sandbox_origin"].startswith("http://127.0.0.1:")
    assert config["clue_url_template"] == config["sandbox_origin"] + "/clues/{id}"
    assert config["example_link"] == page.link(seed.RICH_CLUE_ID)
    assert config["channel"]["id"] == CHANNEL_ID
    assert {name: v["slack_locale"] for name, v in config["viewers"].items()} == {
        "en": "en-US", "zh": "zh-CN", "zh-TW": "zh-TW"}
    assert isinstance(config["last_seq"], int)
    assert isinstance(config["last_note"], int)
    # The app looked each viewer's language up as the page opened, as it would on their first request.
    await page.instance.runner.drain(timeout=30)
    asked = {c["body"]["user"] for c in await page.every_call() if c["name"] == "users.info"}
    assert asked == {v.user_id for v in VIEWERS.values()}


# ------------------------------------------------------------------------------------------ /clue


async def test_clue_8_comes_back_in_the_ack(page: Playground) -> None:
    result = await page.command("8", "c1")
    assert result["response_key"] == "c1"
    ack = result["ack"]
    assert ack["response_type"] == "ephemeral"
    assert header(ack) == CLUE_8_NAME
    assert "*" in phone_field(ack)  # masked
    # Nothing left to send (no flicker); the one call is the first ask whether the channel is shared.
    calls = await page.captured(result["seq"])
    assert [(c["kind"], c["name"]) for c in calls] in ([], [("api", "conversations.info")])


@pytest.mark.parametrize(("text", "expected"), [
    ("help", "/clue"), ("", "/clue"), ("banana", "banana"), ("8 12 40", "Clue 40"),
])
async def test_other_commands_answer_in_the_ack(page: Playground, text: str, expected: str) -> None:
    result = await page.command(text, "c1")
    assert expected in json.dumps(result["ack"], ensure_ascii=False)


async def test_a_slow_crm_gets_a_placeholder_then_the_card_replaces_it() -> None:
    async with playground({"SLACK_ACK_BUDGET_SECONDS": "0.2"}) as page:
        fault = await page.post("/playground/faults", {"latency_ms": 600})
        assert fault.status_code == 200, fault.text
        result = await page.command("8", "slow1")
        assert "Clue 8: the CRM is slow to answer" in result["ack"]["text"]
        calls = [c for c in await page.captured(result["seq"]) if c["name"] != "conversations.info"]
        assert [(c["kind"], c["name"]) for c in calls] == [("response_url", "slow1")]
        replacement = calls[0]["body"]
        assert replacement["replace_original"] is True
        assert replacement["response_type"] == "ephemeral"
        assert header(replacement) == CLUE_8_NAME


# ------------------------------------------------------------------------------------------ buttons


async def test_refresh_replaces_the_ephemeral_card(page: Playground) -> None:
    await page.command("8", "c1")
    result = await page.click("clue_refresh", "a1")
    assert result["ack"] is None and result["ack_text"] is None  # an empty ack
    calls = await page.captured(result["seq"])
    assert [(c["kind"], c["name"]) for c in calls] == [("response_url", "a1")]
    assert calls[0]["body"]["replace_original"] is True
    assert header(calls[0]["body"]) == CLUE_8_NAME


async def test_the_overflow_menus_refresh_is_sent_as_slack_sends_a_choice(page: Playground) -> None:
    """The card's Refresh is an overflow option: the page posts its value as ``selected_option``."""
    card = (await page.command("8", "c1"))["ack"]
    elements = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    [overflow] = [e for e in elements if e["type"] == "overflow"]
    refresh = next(o["value"] for o in overflow["options"] if o["value"].startswith("clue_refresh="))
    where = {"kind": "ephemeral", "message_ts": "1700000000.000100"}
    result = await page.ok("/playground/action", {"action_id": overflow["action_id"], "selected_option": refresh,
                                                  "block_id": "clue_actions", "response_key": "a1", "container": where})
    calls = await page.captured(result["seq"])
    assert [(c["kind"], c["name"]) for c in calls] == [("response_url", "a1")]
    assert calls[0]["body"]["replace_original"] is True and header(calls[0]["body"]) == CLUE_8_NAME


async def test_find_a_clue_types_picks_and_shows_in_chat(page: Playground) -> None:
    """The help's Find a clue button, a keystroke, a pick and Show in chat, each sent as Slack sends it."""
    await page.command("help", "c1")
    opened = await page.click("clue_find_open", "a1", value="find")
    [call] = [c for c in await page.captured(opened["seq"]) if c["name"] == "views.open"]
    view_id = f"V{call['seq']:08d}"
    ask = {"view_id": view_id, "action_id": "clue_find_pick", "block_id": "clue_find_input"}
    suggested = await page.ok("/playground/suggest", {**ask, "value": "张三"})
    option = suggested["ack"]["options"][0]
    assert "张三" in option["text"]["text"]
    picked = await page.ok("/playground/pick", {**ask, "option": option})
    [update] = [c for c in await page.captured(picked["seq"]) if c["name"] == "views.update"]
    show = next(e for b in update["body"]["view"]["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "clue_find_show_in_chat")
    shown = await page.ok("/playground/action", {"action_id": show["action_id"], "value": show["value"],
                                                 "container": {"kind": "view", "view_id": view_id}})
    [posted] = [c["body"] for c in await page.captured(shown["seq"]) if c["name"] == "chat.postEphemeral"]
    assert posted["channel"] == CHANNEL_ID and header(posted) == "张三"


async def test_share_posts_in_channel_then_deletes_the_ephemeral_card(page: Playground) -> None:
    await page.command("8", "c1")
    result = await page.click("clue_share", "a2")
    bodies = [c["body"] for c in await page.captured(result["seq"]) if c["name"] == "a2"]
    assert len(bodies) == 2
    shared, deleted = bodies
    assert shared["response_type"] == "in_channel"
    assert shared["replace_original"] is False
    assert header(shared) == CLUE_8_NAME
    assert "<@U0PLAYER01>" in json.dumps(shared)  # "Shared by" the playground's user
    assert deleted["delete_original"] is True


async def test_reveal_replaces_the_card_with_the_full_phone(page: Playground) -> None:
    masked = phone_field((await page.command("8", "c1"))["ack"])
    result = await page.click("clue_reveal_phone", "a3")
    calls = await page.captured(result["seq"])
    revealed = phone_field(calls[0]["body"])
    assert calls[0]["body"]["replace_original"] is True
    assert "*" in masked.removeprefix("*Phone*")
    assert "*" not in revealed.removeprefix("*Phone*")


# ------------------------------------------------------------------------------------------ links


@pytest.mark.parametrize(("query", "key_query"), [
    ("", ""),
    # Slack HTML-escapes & in links[].url, and chat.unfurl must use the link exactly as Slack sent it.
    ("?tab=info&from=chat", "?tab=info&amp;from=chat"),
])
async def test_a_pasted_link_is_unfurled_under_its_exact_url(page: Playground, query: str, key_query: str) -> None:
    link = page.link(8)
    result = await page.ok("/playground/link", {"url": link + query, "message_ts": "1700000000.000200"})
    key = link + key_query
    assert result["links"] == [{"domain": "127.0.0.1", "url": key}]
    calls = await page.captured(result["seq"])
    assert [(c["kind"], c["name"]) for c in calls] == [("api", "chat.unfurl")]
    unfurl = calls[0]["body"]
    assert (unfurl["channel"], unfurl["ts"]) == (CHANNEL_ID, "1700000000.000200")
    assert list(unfurl["unfurls"]) == [key]
    assert header(unfurl["unfurls"][key]) == CLUE_8_NAME
    assert "text" not in unfurl["unfurls"][key]
    assert await page.notes(result["event_id"]) == []  # unfurled: nothing to explain


async def test_refresh_on_an_unfurl_updates_it_with_chat_unfurl(page: Playground) -> None:
    link = page.link(8)
    posted = await page.ok("/playground/link", {"url": link})
    await page.captured()
    result = await page.click("clue_refresh", "a4", kind="unfurl", message_ts=posted["message_ts"],
                              unfurl_url=link)
    calls = await page.captured(result["seq"])
    assert [(c["kind"], c["name"]) for c in calls] == [("api", "chat.unfurl")]
    body = calls[0]["body"]
    assert (body["channel"], body["ts"]) == (CHANNEL_ID, posted["message_ts"])  # the same unfurl, modified
    assert list(body["unfurls"]) == [link]


async def test_a_work_object_click_opens_the_flexpane_with_present_details(page: Playground) -> None:
    link = page.link(8)
    posted = await page.ok("/playground/link", {"url": link})
    [unfurl] = await page.captured(posted["seq"])
    [entity] = unfurl["body"]["metadata"]["entities"]
    assert entity["app_unfurl_url"] == link
    result = await page.ok("/playground/entity", {
        "external_ref": entity["external_ref"], "entity_url": entity["url"],
        "app_unfurl_url": entity["app_unfurl_url"], "message_ts": posted["message_ts"]})
    calls = await page.captured(result["seq"])
    assert [(c["kind"], c["name"]) for c in calls] == [("api", "entity.presentDetails")]
    body = calls[0]["body"]
    assert body["trigger_id"] == result["trigger_id"]
    assert body["metadata"]["entity_payload"]["attributes"]["title"]["text"] == CLUE_8_NAME
    assert "error" not in body


async def test_a_foreign_work_object_gets_the_documented_error(page: Playground) -> None:
    result = await page.ok("/playground/entity", {
        "external_ref": {"id": "123", "type": "my-type"}, "entity_url": "https://example.com/document/123",
        "app_unfurl_url": "https://example.com/document/123?myquery=param", "message_ts": "1700000000.000300"})
    [call] = await page.captured(result["seq"])
    assert call["body"]["error"] == {"status": "not_found"}


async def test_a_link_elsewhere_is_not_unfurled_and_the_page_learns_why(page: Playground) -> None:
    result = await page.ok("/playground/link", {"urls": ["https://example.org/clues/8", "https://crm.example.com/clues/8"]})
    assert await page.captured(result["seq"]) == []
    [note] = await page.notes(result["event_id"])
    assert note["reason"] == "not_a_clue_link"
    assert note["links"] == 2
    assert note["message_ts"] == result["message_ts"]


async def test_a_missing_clue_and_too_many_links_are_explained(page: Playground) -> None:
    links = [page.link(seed.MISSING_CLUE_ID), *(page.link(i) for i in (1, 2, 3, 4, 6, 7))]
    result = await page.ok("/playground/link", {"urls": links})
    notes = await page.notes(result["event_id"])
    assert [(n["reason"], n.get("clue_id"), n.get("links")) for n in notes] == [
        ("too_many_links", None, 2), ("not_found", seed.MISSING_CLUE_ID, None)]
    [unfurl] = await page.captured(result["seq"])
    assert list(unfurl["body"]["unfurls"]) == links[1:5]  # the first five clue links; the missing one has no card


@pytest.mark.parametrize(("env", "fault", "reason", "detail"), [
    ({"CLUE_UNFURL_CHANNEL_IDS": "C0ELSEWHERE"}, None, "not_allowed", {"rule": "unfurl_channel"}),
    ({"CLUE_USER_RATE_PER_MINUTE": "1"}, None, "rate_limited", {}),
    ({}, {"status": 503}, "crm_unavailable", {"clue_id": 2}),
])
async def test_refused_and_failed_unfurls_are_explained(env: dict[str, str], fault: dict[str, Any] | None,
                                                         reason: str, detail: dict[str, Any]) -> None:
    async with playground(env) as page:
        if fault is not None:
            assert (await page.post("/playground/faults", fault)).status_code == 200
        first = await page.ok("/playground/link", {"url": page.link(1)})  # spends a rate of one a minute
        await page.captured(first["seq"])
        result = await page.ok("/playground/link", {"url": page.link(2)})
        [note] = await page.notes(result["event_id"])
        assert note["reason"] == reason
        assert {k: note[k] for k in detail} == detail
        assert [c["name"] for c in await page.captured(result["seq"]) if c["name"] == "chat.unfurl"] == []


async def test_the_playground_hears_skipped_unfurls_only_while_it_runs() -> None:
    logger = logging.getLogger(UNFURL_LOGGER)
    level, handlers = logger.level, list(logger.handlers)
    async with playground():
        assert logger.isEnabledFor(logging.DEBUG)
        [added] = [h for h in logger.handlers if h not in handlers]
        assert isinstance(added, UnfurlSkips)
    assert (logger.level, logger.handlers) == (level, handlers)


async def test_each_viewer_is_a_slack_user_whose_cards_speak_their_language(page: Playground) -> None:
    await page.http.get("/playground/config")  # the page opens: the app learns its viewers' languages
    await page.instance.runner.drain(timeout=30)
    stage = {"en": "*Stage*", "zh": "*阶段*", "zh-TW": "*階段*"}
    for viewer, label in stage.items():
        ack = (await page.command(str(seed.RICH_CLUE_ID), f"v-{viewer}", viewer=viewer))["ack"]
        assert header(ack) == RICH_NAME
        assert label in json.dumps(ack, ensure_ascii=False), viewer
    # The flexpane: entity_details_requested carries the viewer's own Slack locale.
    link = page.link(seed.RICH_CLUE_ID)
    posted = await page.ok("/playground/link", {"url": link, "viewer": "zh-TW"})
    [unfurl] = await page.captured(posted["seq"])
    [entity] = unfurl["body"]["metadata"]["entities"]
    result = await page.ok("/playground/entity", {
        "external_ref": entity["external_ref"], "entity_url": entity["url"], "viewer": "zh-TW",
        "app_unfurl_url": entity["app_unfurl_url"], "message_ts": posted["message_ts"]})
    [details] = await page.captured(result["seq"])
    labels = {f["key"]: f["label"] for f in details["body"]["metadata"]["entity_payload"]["custom_fields"]}
    assert labels["stage"] == "階段"


async def test_open_in_crm_is_the_sandbox_page_of_the_clue(page: Playground) -> None:
    ack = (await page.command(str(seed.RICH_CLUE_ID), "crm1"))["ack"]
    [url] = [e["url"] for b in ack["blocks"] if b["type"] == "actions" for e in b["elements"] if "url" in e]
    assert url == page.link(seed.RICH_CLUE_ID)
    async with httpx.AsyncClient(trust_env=False) as http:  # over loopback, as the browser follows it
        crm_page = await http.get(url)
    assert crm_page.status_code == 200
    assert RICH_NAME in crm_page.text
    assert "上海云杉信息科技有限公司" in crm_page.text


async def test_a_template_the_visitor_set_is_kept() -> None:
    async with playground({"CLUE_URL_TEMPLATE": "https://crm.internal.example/clue?id={id}"}) as page:
        config = (await page.http.get("/playground/config")).json()
        assert config["clue_url_template"] == "https://crm.internal.example/clue?id={id}"
        assert config["example_link"] == f"https://crm.internal.example/clue?id={seed.RICH_CLUE_ID}"


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(("path", "body"), [
    ("/playground/command", "not json"),
    ("/playground/command", [1, 2]),
    ("/playground/command", {}),
    ("/playground/command", {"text": 8}),
    ("/playground/command", {"text": "8" * 4001}),
    ("/playground/command", {"text": "8", "response_key": "../../api/chat.postMessage"}),
    ("/playground/command", {"text": "8", "response_key": ""}),
    ("/playground/action", {"action_id": "clue_refresh", "value": "8"}),
    ("/playground/action", {"action_id": "clue_refresh", "value": "8", "container": "ephemeral"}),
    ("/playground/action", {"action_id": "clue_refresh", "container": {"kind": "modal", "message_ts": "1.2"}}),
    ("/playground/action", {"action_id": "clue_refresh", "container": {"kind": "ephemeral", "message_ts": "now"}}),
    ("/playground/action", {"action_id": "", "container": {"kind": "ephemeral", "message_ts": "1.2"}}),
    ("/playground/action", {"action_id": "clue_refresh", "value": ["8"],
                            "container": {"kind": "ephemeral", "message_ts": "1.2"}}),
    ("/playground/action", {"action_id": "clue_refresh", "container": {"kind": "unfurl", "message_ts": "1.2"}}),
    ("/playground/suggest", {"view_id": "V0NOTOPEN", "action_id": "a", "block_id": "b", "value": "张三"}),
    ("/playground/pick", {"view_id": "V0NOTOPEN", "action_id": "a", "block_id": "b",
                          "option": {"text": {"type": "plain_text", "text": "x"}, "value": "8"}}),
    ("/playground/pick", {"view_id": "V0NOTOPEN", "action_id": "a", "block_id": "b", "option": "8"}),
    ("/playground/link", {}),
    ("/playground/link", {"url": "javascript:alert(1)"}),
    ("/playground/link", {"url": "https://"}),
    ("/playground/link", {"url": "http://[::1"}),
    ("/playground/link", {"urls": []}),
    ("/playground/link", {"urls": [SOME_LINK] * 11}),
    ("/playground/link", {"urls": SOME_LINK}),
    ("/playground/link", {"url": SOME_LINK, "message_ts": 1700000000}),
    ("/playground/entity", {}),
    ("/playground/entity", {"external_ref": "8", "entity_url": SOME_LINK, "app_unfurl_url": SOME_LINK,
                            "message_ts": "1.2"}),
    ("/playground/entity", {"external_ref": {"id": 8}, "entity_url": SOME_LINK, "app_unfurl_url": SOME_LINK,
                            "message_ts": "1.2"}),
    ("/playground/entity", {"external_ref": {"id": "8"}, "entity_url": "javascript:alert(1)",
                            "app_unfurl_url": SOME_LINK, "message_ts": "1.2"}),
    ("/playground/entity", {"external_ref": {"id": "8"}, "entity_url": "http://[::1", "app_unfurl_url": SOME_LINK,
                            "message_ts": "1.2"}),
    ("/playground/entity", {"external_ref": {"id": "8"}, "entity_url": SOME_LINK, "app_unfurl_url": SOME_LINK}),
    ("/playground/command", {"text": "8", "viewer": "fr"}),
    ("/playground/link", {"url": SOME_LINK, "viewer": ["zh"]}),
    ("/playground/faults", ["latency_ms", 1]),
    ("/playground/faults", {"latency_ms": -1}),  # refused by the sandbox itself
    ("/playground/faults", {"explode": True}),
])
async def test_bad_input_is_a_400_never_a_500(page: Playground, path: str, body: Any) -> None:
    if isinstance(body, str):
        response = await page.http.post(path, content=body, headers={"content-type": "application/json"})
    else:
        response = await page.post(path, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]


async def test_only_json_is_accepted(page: Playground) -> None:
    # A form post is what another web page could send without a CORS preflight.
    response = await page.http.post("/playground/command", data={"text": "8"})
    assert response.status_code == 400


@pytest.mark.parametrize("name", ["since", "notes_since"])
@pytest.mark.parametrize("since", ["abc", "-1", "1.5", "9" * 20])
async def test_messages_needs_a_sequence_number(page: Playground, name: str, since: str) -> None:
    response = await page.http.get("/playground/messages", params={name: since})
    assert response.status_code == 400


async def test_messages_returns_only_calls_after_since(page: Playground) -> None:
    await page.command("8", "c1")
    first = await page.click("clue_refresh", "a1")
    await page.captured()
    second = await page.click("clue_refresh", "a2")
    later = await page.captured(second["seq"])
    assert [c["name"] for c in later] == ["a2"]
    assert first["seq"] < second["seq"]


async def test_faults_can_be_cleared() -> None:
    async with playground() as page:
        assert (await page.post("/playground/faults", {"status": 503})).status_code == 200
        assert (await page.http.delete("/playground/faults")).status_code == 200
        result = await page.command("8", "c1")
        assert header(result["ack"]) == CLUE_8_NAME


async def test_no_fault_knobs_for_a_configured_crm(sandbox: SandboxServer) -> None:
    env = {"CRM_BASE_URL": sandbox.url, "CRM_APP_ID": "wwsandboxcorp0001_ClueBot",
           "CRM_APP_KEY": "sandbox-app-key-not-a-secret"}
    async with playground(env) as page:
        config = (await page.http.get("/playground/config")).json()
        assert config["sandbox_origin"] is None
        assert config["clue_url_template"] == Settings.clue_url_template  # a real CRM keeps its template
        assert (await page.post("/playground/faults", {"status": 503})).status_code == 404
        assert sandbox.state.stats().faults_applied == {}


async def test_other_host_names_are_refused(page: Playground) -> None:
    """A page on another site that rebinds its name to 127.0.0.1 must not read or drive the playground."""
    for path in ("/playground/config", "/playground/messages"):
        response = await page.http.get(path, headers={"host": "attacker.example:3000"})
        assert response.status_code == 403
    response = await page.http.post("/playground/command", json={"text": "8"},
                                     headers={"host": "attacker.example:3000"})
    assert response.status_code == 403
    assert (await page.http.get("/playground/config", headers={"host": "localhost:3000"})).status_code == 200


async def test_the_signature_check_is_real(page: Playground) -> None:
    """The playground signs with the process's secret; anything else is refused by the app."""
    forged = await page.http.post("/slack/events", content=b"command=%2Fclue&text=8", headers={
        "content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": "1700000000",
        "x-slack-signature": "v0=" + "0" * 64})
    assert forged.status_code == 401


@asynccontextmanager
async def alerts_playground(tmp_path: Path) -> AsyncIterator[tuple[Playground, AlertService]]:
    """The playground with its alerts database, once the alerts loop's first round is over."""
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'alerts.db'}", "CLUE_ALERT_POLL_SECONDS": "3600"}
    async with playground(env) as page:
        alerts = page.instance.alerts
        assert alerts is not None
        await alerts.looped.wait()
        yield page, alerts


async def test_a_new_lead_from_the_page_is_alerted_in_the_playground_channel(tmp_path: Path) -> None:
    async with alerts_playground(tmp_path) as (page, alerts):
        assert "Subscribed" in (await page.command("subscribe", "sub1"))["ack"]["text"]
        await alerts.run_round()  # the mark starts now
        # two seconds ago: inside the next poll's window whatever second it falls in ("before" is exclusive)
        created = datetime.fromtimestamp(time.time() - 2, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
        added = await page.post("/playground/leads", {"count": 1, "created": created})
        assert added.status_code == 200 and len(added.json()["ids"]) == 1
        assert (await page.post("/playground/leads", {"count": 0})).status_code == 400
        await alerts.run_round()
        posted = [c for c in await page.every_call() if c["name"] == "chat.postMessage"]
        assert [c["body"]["channel"] for c in posted] == [CHANNEL_ID]
        assert "新线索" in posted[0]["body"]["text"]


async def test_the_page_links_you_opens_home_and_sends_next_mornings_nudge(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'people.db'}", "CLUE_ALERT_POLL_SECONDS": "3600"}
    async with playground(env) as page:
        viewer = VIEWERS["en"].user_id
        assert (await page.post("/playground/morning", {})).json() == {"outcome": "not_linked"}
        offer = (await page.command("me", "me1"))["ack"]
        assert "You are *张三* in the CRM (matched by your Slack e-mail)" in offer["text"]
        await page.click("clue_me_yes", "yes1", value="1001")
        assert "Done: you are *张三*" in (await page.captured())[-1]["body"]["text"]
        opened = await page.ok("/playground/home", {})
        [published] = [c for c in await page.captured(opened["seq"]) if c["name"] == "views.publish"]
        assert published["body"]["user_id"] == viewer and "You are *张三* in the CRM." in json.dumps(
            published["body"]["view"], ensure_ascii=False)
        before = (await page.captured())[-1]["seq"]
        assert (await page.post("/playground/morning", {})).json() == {"outcome": "sent"}  # the seed's dues are past
        [nudge] = [c for c in await page.captured(before) if c["name"] == "chat.postMessage"]
        assert nudge["body"]["channel"] == viewer and nudge["body"]["text"].startswith("Good morning: ")


async def test_the_settings_picked_in_the_home_tab_reach_the_app(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'people.db'}", "CLUE_ALERT_POLL_SECONDS": "3600"}
    async with playground(env) as page:
        await page.command("me", "me1")
        await page.click("clue_me_yes", "yes1", value="1001")
        opened = await page.ok("/playground/home", {})
        [published] = [c for c in await page.captured(opened["seq"]) if c["name"] == "views.publish"]
        view_id = f"V{published['seq']:08d}"  # the fake Slack holds the Home view under the call's number
        option = {"text": {"type": "plain_text", "text": "09:00", "emoji": True}, "value": "09:00"}
        clicked = await page.ok("/playground/pick", {"view_id": view_id, "action_id": "clue_nudge_time",
                                                     "block_id": "clue_home_nudge", "option": option,
                                                     "kind": "static_select"})
        republished = [c for c in await page.captured(clicked["seq"]) if c["name"] == "views.publish"]
        assert "Morning nudge: on, at 09:00 (Asia/Shanghai)." in json.dumps(republished[-1]["body"]["view"])
        picked = await page.ok("/playground/pick", {"view_id": view_id, "action_id": "clue_language",
                                                    "block_id": "clue_home_language", "kind": "static_select",
                                                    "option": {"text": {"type": "plain_text", "text": "简体中文"},
                                                               "value": "zh"}})
        republished = [c for c in await page.captured(picked["seq"]) if c["name"] == "views.publish"]
        assert "早间提醒：已开启，09:00（Asia/Shanghai）。" in json.dumps(republished[-1]["body"]["view"],
                                                                   ensure_ascii=False)
