"""The fake Slack answers views.* and chat.postEphemeral as Slack's references say, errors included."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.dev.playground.fake_slack import FakeSlackState, create_fake_slack, public_channel

VIEW = {"type": "modal", "callback_id": "clue_find", "title": {"type": "plain_text", "text": "Find a clue"},
        "blocks": [], "private_metadata": '{"channel": "C0SALES001"}'}


@pytest.fixture
async def api() -> Any:
    state = FakeSlackState(conversations={"C0SALES001": public_channel("sales")})
    transport = httpx.ASGITransport(app=create_fake_slack(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://slack.test") as http:
        async def call(method: str, **body: Any) -> dict[str, Any]:
            answer: dict[str, Any] = (await http.post(f"/api/{method}", json=body)).json()
            return answer
        yield call


async def test_views_open_answers_the_view_as_slack_holds_it(api: Any) -> None:
    opened = (await api("views.open", trigger_id="1.2.3", view=VIEW))["view"]
    assert opened["id"].startswith("V") and opened["hash"] and opened["root_view_id"] == opened["id"]
    assert opened["private_metadata"] == VIEW["private_metadata"] and opened["state"] == {"values": {}}
    assert (await api("views.open", view=VIEW)) == {"ok": False, "error": "invalid_trigger_id"}
    assert (await api("views.push", trigger_id="1.2.4", view={"blocks": []})) == {"ok": False,
                                                                                  "error": "invalid_arguments"}


async def test_views_update_knows_only_its_views_and_their_current_hash(api: Any) -> None:
    opened = (await api("views.open", trigger_id="1.2.3", view=VIEW))["view"]
    assert (await api("views.update", view_id="V0UNKNOWN", view=VIEW)) == {"ok": False, "error": "not_found"}
    updated = await api("views.update", view_id=opened["id"], hash=opened["hash"], view=VIEW)
    assert updated["ok"] and updated["view"]["hash"] != opened["hash"]
    stale = await api("views.update", view_id=opened["id"], hash=opened["hash"], view=VIEW)
    assert stale == {"ok": False, "error": "hash_conflict"}


async def test_post_ephemeral_only_where_the_bot_is(api: Any) -> None:
    assert (await api("chat.postEphemeral", channel="C0SALES001", user="U0ALICE001", text="hi"))["ok"]
    assert (await api("chat.postEphemeral", channel="D0ALICEDM1", user="U0ALICE001", text="hi")) == {
        "ok": False, "error": "channel_not_found"}
    assert (await api("chat.postEphemeral", channel="C0SALES001", text="hi")) == {"ok": False,
                                                                                "error": "user_not_found"}
