"""manifest.yml and the code agree: command, events, action ids, scopes, request URLs, limits."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

from bot.slack import app as slack_app
from bot.slack import cards, people_cards, search_cards

ROOT = Path(__file__).resolve().parents[1]
MANIFEST: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_command_matches_the_registered_listener() -> None:
    [command] = MANIFEST["features"]["slash_commands"]
    assert command["command"] == slack_app.COMMAND
    assert len(command["command"]) <= 32
    assert command["should_escape"] is False
    assert "help" in command["usage_hint"]


def test_events_match() -> None:
    assert MANIFEST["settings"]["event_subscriptions"]["bot_events"] == list(slack_app.EVENTS)


def test_every_button_the_cards_render_has_a_listener() -> None:
    rendered = {v for module in (cards, search_cards, people_cards) for k, v in vars(module).items()
                if k.startswith("ACTION_")}
    assert rendered == set(slack_app.ACTIONS)


def test_shortcuts_match() -> None:
    shortcuts = MANIFEST["features"]["shortcuts"]
    assert [s["callback_id"] for s in shortcuts] == list(slack_app.SHORTCUTS)
    for shortcut in shortcuts:
        assert shortcut["type"] == "global"
        assert len(shortcut["name"]) <= 24 and len(shortcut["description"]) <= 150


def test_scopes_are_exactly_what_the_code_uses() -> None:
    used_methods = _web_api_methods_called(ROOT / "bot")
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    needed = {"commands"}  # the /clue command
    needed |= {"links:read"}  # link_shared events
    if "chat_unfurl" in used_methods:
        needed.add("links:write")
    if used_methods & {"chat_postMessage", "chat_postEphemeral", "chat_update"}:
        needed.add("chat:write")
    if "users_info" in used_methods:
        needed.add("users:read")
    if _reads_profile_email(ROOT / "bot"):
        needed.add("users:read.email")  # users.info's profile.email (/clue me matches it with the CRM)
    if "conversations_info" in used_methods:
        # Whether a conversation is shared with another organisation, for every conversation type.
        needed |= {"channels:read", "groups:read", "im:read", "mpim:read"}
    # entity.presentDetails (the Work Object flexpane) needs no scope (Slack's method reference).
    assert "entity_presentDetails" in used_methods
    assert scopes == needed


def test_the_scopes_python_m_bot_check_asks_for_are_the_manifests() -> None:
    assert list(slack_app.BOT_SCOPES) == MANIFEST["oauth_config"]["scopes"]["bot"]


def test_all_request_urls_point_at_the_one_endpoint() -> None:
    urls = [MANIFEST["features"]["slash_commands"][0]["url"],
            MANIFEST["settings"]["event_subscriptions"]["request_url"],
            MANIFEST["settings"]["interactivity"]["request_url"],
            MANIFEST["settings"]["interactivity"]["message_menu_options_url"]]
    assert {u.rsplit("/", 2)[-2:] == ["slack", "events"] for u in urls} == {True}
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


def test_unfurl_domains_follow_slack_rules() -> None:
    domains = MANIFEST["features"]["unfurl_domains"]
    assert 1 <= len(domains) <= 5
    assert all("/" not in d and ":" not in d and d.isascii() for d in domains)


def test_display_limits() -> None:
    info = MANIFEST["display_information"]
    assert len(info["name"]) <= 35 and len(info["description"]) <= 140
    assert len(MANIFEST["features"]["bot_user"]["display_name"]) <= 80


def _web_api_methods_called(package: Path) -> set[str]:
    """Names of AsyncWebClient methods called anywhere in bot/ (``client.chat_unfurl(...)`` etc.)."""
    methods = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                if "_" in name and name.split("_", 1)[0] in {"chat", "users", "conversations", "views", "entity"}:
                    methods.add(name)
    return methods


def _reads_profile_email(package: Path) -> bool:
    """Whether the Slack side reads a users.info profile's ``email`` (``….get("email")`` in bot/slack)."""
    for path in (package / "slack").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                    and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == "email"):
                return True
    return False
