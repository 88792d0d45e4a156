"""``/clue help`` names every command, in every language; a near miss of a command word says which it resembles.

Through the real ASGI app: signed commands, the sandbox CRM (which must see no call), the fake Slack's users.info
for each person's locale. The manifest's usage hint and the README name the same commands.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.crm.client import SEARCH
from bot.dev.sandbox import SandboxServer
from bot.slack.links import ALERT_WORDS, PEOPLE_WORDS
from bot.slack.search_cards import HELP_PARTS
from tests.slack.harness import USER, SlackDriver

ROOT = Path(__file__).resolve().parents[2]
# Every English command word /clue parses (the Chinese ones are aliases of these), and the lookups' own.
COMMANDS = sorted({w for w in (*ALERT_WORDS, *PEOPLE_WORDS) if w.isascii()} | {"find", "help"})
SECTION_LIMIT = 3000  # Slack's limit for a section's text


async def help_in(slack: SlackDriver, slack_locale: str) -> dict[str, Any]:
    """``/clue help`` as the person whose Slack locale is ``slack_locale`` sees it (once the app knows it)."""
    slack.fake.locales[USER] = slack_locale
    await slack.command("help")  # the first answer speaks the default while users.info runs
    await slack.drain()
    response, _ = await slack.command("help")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert body["response_type"] == "ephemeral"
    return body


@pytest.mark.parametrize(("slack_locale", "heading"), [("en-US", "*Alerts in a channel*"), ("zh-CN", "*频道提醒*"),
                                                       ("zh-TW", "*頻道提醒*")])
async def test_help_names_every_command_grouped_in_the_persons_language(
        slack: SlackDriver, sandbox: SandboxServer, slack_locale: str, heading: str) -> None:
    body = await help_in(slack, slack_locale)
    sections = [b for b in body["blocks"] if b["type"] == "section"]
    assert [b["block_id"] for b in sections] == [f"clue_help_{part}" for part in HELP_PARTS]
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in sections)
    text = "\n".join(b["text"]["text"] for b in sections)
    assert heading in text
    missing = [word for word in COMMANDS if not re.search(rf"`/clue {re.escape(word)}[ `]", text)]
    assert missing == []
    assert body["text"] == text  # the notification's fallback says the same
    assert sandbox.state.stats().calls == {}  # help is answered with no I/O


@pytest.mark.parametrize(("slack_locale", "rule"), [("en-US", "at least one Chinese character, or two letters"),
                                                    ("zh-CN", "至少一个汉字或两个字母或数字"),
                                                    ("zh-TW", "至少一個漢字或兩個字母或數字")])
async def test_help_states_the_search_rule_as_it_is(slack: SlackDriver, slack_locale: str, rule: str) -> None:
    """One Chinese character searches (bot.domain.search counts it as two letters): not "at least 2 characters"."""
    text = (await help_in(slack, slack_locale))["text"]
    assert rule in text
    assert "at least 2 characters" not in text and "至少 2 个字" not in text and "至少 2 個字" not in text


@pytest.mark.parametrize(("typed", "command"), [("subscrib", "subscribe"), ("unsubscrib 2", "unsubscribe"),
                                                ("subscription", "subscriptions"), ("watchs", "watches"),
                                                ("unwach 8", "unwatch"), ("mines", "mine"), ("unlnk", "unlink")])
async def test_a_near_miss_of_a_command_says_which_it_resembles_and_searches_nothing(
        slack: SlackDriver, sandbox: SandboxServer, typed: str, command: str) -> None:
    response, _ = await slack.command(typed)
    body = response.json()
    word = typed.split()[0]
    assert body["response_type"] == "ephemeral"
    assert f"did you mean `/clue {command}`?" in body["text"] and f"`/clue find {word}` searches for it" in body["text"]
    assert sandbox.state.stats().calls == {}


@pytest.mark.parametrize("name", ["Watson", "Minnie", "Lin", "mina"])
async def test_names_that_look_a_little_like_commands_are_still_searched(
        slack: SlackDriver, sandbox: SandboxServer, name: str) -> None:
    await slack.command(name)
    await slack.drain()
    assert sandbox.state.stats().calls[SEARCH] == 1


def test_the_manifest_usage_hint_and_the_readme_name_every_command() -> None:
    [command] = yaml.safe_load((ROOT / "manifest.yml").read_text())["features"]["slash_commands"]
    hint = command["usage_hint"]
    assert [w for w in COMMANDS if not re.search(rf"(?:^|\| ){re.escape(w)}\b", hint)] == []
    assert len(hint) <= 1000
    readme = (ROOT / "README.md").read_text()
    assert [w for w in COMMANDS if f"`/clue {w}" not in readme] == []
