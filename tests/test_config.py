"""Settings.from_env: defaults, every variable, one error listing every problem, secrets kept out of sight."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.config import (
    SANDBOX_APP_ID,
    SANDBOX_APP_KEY,
    SLACK_API_URL,
    Secret,
    Settings,
    configuration_table,
    rows,
    without_slack_credentials,
)
from bot.errors import ConfigError

README = Path(__file__).resolve().parents[1] / "README.md"

BOT_TOKEN = "xoxb-1111-2222-config-test-token"
SIGNING_SECRET = "c0nfig-signing-secret-5f3a9e"
APP_TOKEN = "xapp-1-A111-2222-config-app-token"
APP_KEY = "c0nfig-crm-app-key-77aa"
REDIS_PASSWORD = "c0nfig-redis-pass-9q"
SECRETS = (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, APP_KEY, REDIS_PASSWORD)


def problems_of(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    return caught.value.problems


def test_defaults_are_the_sandbox_playground() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.uses_sandbox_crm and settings.crm_base_url is None
    assert settings.crm_app_id == SANDBOX_APP_ID
    assert settings.crm_app_key.reveal() == SANDBOX_APP_KEY
    assert settings.playground and not settings.socket_mode
    assert settings.slack_bot_token is None and settings.slack_signing_secret is None
    assert settings.redis_url is None
    assert settings.slack_api_url == SLACK_API_URL
    assert settings.clue_url_template == "https://crm.example.com/clues/{id}"
    assert settings.crm_timezone == "Asia/Shanghai" and settings.tz.key == "Asia/Shanghai"
    assert settings.default_locale == "en" and settings.log_level == "INFO"
    assert (settings.host, settings.port) == ("127.0.0.1", 3000)
    assert settings.slack_allowed_team_ids == settings.clue_allowed_user_ids == frozenset()
    assert settings.clue_allowed_channel_ids == settings.clue_unfurl_channel_ids == frozenset()
    assert settings.clue_allow_shared_channels is False  # Slack Connect: no unfurls, no Share
    assert settings.secrets() == [SANDBOX_APP_KEY]


def test_blank_values_count_as_unset() -> None:
    env = {"CRM_BASE_URL": "  ", "SLACK_BOT_TOKEN": "", "CRM_TIMEOUT_SECONDS": " ", "LOG_LEVEL": "\t"}
    assert Settings.from_env(env) == Settings()


# Each variable on its own, with what it turns into.
VARIABLES: list[tuple[dict[str, str], str, Any]] = [
    ({"CRM_BASE_URL": "https://account.tanmarket.cn/apiServer/", "CRM_APP_ID": "ww1_a", "CRM_APP_KEY": APP_KEY},
     "crm_base_url", "https://account.tanmarket.cn/apiServer"),
    ({"CRM_BASE_URL": "https://crm.example.com", "CRM_APP_ID": " wwcorp_Suffix ", "CRM_APP_KEY": APP_KEY},
     "crm_app_id", "wwcorp_Suffix"),
    ({"CRM_BASE_URL": "https://crm.example.com", "CRM_APP_ID": "ww1_a", "CRM_APP_KEY": APP_KEY},
     "crm_app_key", Secret(APP_KEY)),
    ({"CRM_TIMEOUT_SECONDS": "2.5"}, "crm_timeout_seconds", 2.5),
    ({"CRM_TIMEZONE": "UTC"}, "crm_timezone", "UTC"),
    ({"CRM_MAX_RESPONSE_BYTES": "4096"}, "crm_max_response_bytes", 4096),
    ({"CRM_MAX_CONCURRENCY": "3"}, "crm_max_concurrency", 3),
    ({"CRM_RATE_PER_SECOND": "0.5"}, "crm_rate_per_second", 0.5),
    ({"CRM_BREAKER_FAILURES": "7"}, "crm_breaker_failures", 7),
    ({"CRM_BREAKER_COOLDOWN_SECONDS": "1e1"}, "crm_breaker_cooldown_seconds", 10.0),
    ({"CRM_REFERENCE_TTL_SECONDS": "120"}, "crm_reference_ttl_seconds", 120.0),
    ({"CRM_REFERENCE_MIN_REFRESH_SECONDS": "90"}, "crm_reference_min_refresh_seconds", 90.0),
    ({"CRM_FOLLOW_UP_TYPE": "1"}, "crm_follow_up_type", 1),
    ({"CRM_FIELD_ALIASES": " stage = customer_stage ,, src=customer_source "}, "crm_field_aliases",
     {"stage": "customer_stage", "src": "customer_source"}),
    ({"CLUE_CACHE_TTL_SECONDS": "0"}, "clue_cache_ttl_seconds", 0.0),
    ({"CLUE_CACHE_MAXSIZE": "5"}, "clue_cache_maxsize", 5),
    ({"CLUE_NEGATIVE_TTL_SECONDS": "1.5"}, "clue_negative_ttl_seconds", 1.5),
    ({"CLUE_STALE_SECONDS": "600"}, "clue_stale_seconds", 600.0),
    ({"CLUE_REVALIDATE_SECONDS": "15"}, "clue_revalidate_seconds", 15.0),
    ({"REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0"}, "redis_url",
     Secret(f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0")),
    ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}, "slack_bot_token", Secret(BOT_TOKEN)),
    ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}, "slack_signing_secret",
     Secret(SIGNING_SECRET)),
    ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}, "slack_app_token", Secret(APP_TOKEN)),
    ({"SLACK_API_URL": "http://127.0.0.1:9999/api"}, "slack_api_url", "http://127.0.0.1:9999/api/"),
    ({"SLACK_ACK_BUDGET_SECONDS": "0"}, "slack_ack_budget_seconds", 0.0),
    ({"SLACK_BODY_TIMEOUT_SECONDS": "2.5"}, "slack_body_timeout_seconds", 2.5),
    ({"SLACK_MAX_PENDING_BODIES": "8"}, "slack_max_pending_bodies", 8),
    ({"SLACK_MAX_PENDING_BODIES_PER_CLIENT": "4"}, "slack_max_pending_bodies_per_client", 4),
    ({"SLACK_MIN_BODY_BYTES_PER_SECOND": "512"}, "slack_min_body_bytes_per_second", 512.0),
    ({"TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"}, "trusted_proxies", ("10.0.0.0/8", "192.0.2.1")),
    ({"METRICS_ALLOWED_NETWORKS": "127.0.0.0/8, 10.0.0.0/8"}, "metrics_allowed_networks",
     ("127.0.0.0/8", "10.0.0.0/8")),
    ({"CLUE_URL_TEMPLATE": "https://crm.example.com/#/clue/{id}"}, "clue_url_template",
     "https://crm.example.com/#/clue/{id}"),
    ({"CLUE_URL_PATTERNS": r" https://a\.example/(?P<id>\d+)   https://b\.example/c-(?P<id>\d+) "},
     "clue_url_patterns", (r"https://a\.example/(?P<id>\d+)", r"https://b\.example/c-(?P<id>\d+)")),
    ({"CLUE_USER_RATE_PER_MINUTE": "100000"}, "clue_user_rate_per_minute", 100_000),
    ({"CLUE_MAX_IDS": "20"}, "clue_max_ids", 20),
    ({"CLUE_SEARCH_RATE_PER_MINUTE": "3"}, "clue_search_rate_per_minute", 3),
    ({"CLUE_SEARCH_CACHE_TTL_SECONDS": "0"}, "clue_search_cache_ttl_seconds", 0.0),
    ({"CLUE_SUMMARY_FIELDS": " 91652, 意向产品 ,91652"}, "clue_summary_fields", ("91652", "意向产品")),
    ({"CLUE_SUMMARY_FIELDS": "-"}, "clue_summary_fields", ()),
    ({"CLUE_DUE_FIELD": "91652"}, "clue_due_field", "91652"),
    ({"CLUE_FOLLOW_UP_TTL_SECONDS": "30"}, "clue_follow_up_ttl_seconds", 30.0),
    ({"CLUE_FOLLOW_UP_WAIT_SECONDS": "0.2"}, "clue_follow_up_wait_seconds", 0.2),
    ({"CLUE_DEFAULT_LOCALE": "zh"}, "default_locale", "zh"),
    ({"CLUE_DEFAULT_LOCALE": "zh-TW"}, "default_locale", "zh-TW"),
    ({"CLUE_USER_LOCALE": "off"}, "clue_user_locale", False),
    ({"SLACK_ALLOWED_TEAM_IDS": "T0TEST0001, E0ORG00001"}, "slack_allowed_team_ids",
     frozenset({"T0TEST0001", "E0ORG00001"})),
    ({"CLUE_ALLOWED_USER_IDS": "U0ALICE001 W0BOB00001,,U0CAROL001"}, "clue_allowed_user_ids",
     frozenset({"U0ALICE001", "W0BOB00001", "U0CAROL001"})),
    ({"CLUE_ALLOWED_CHANNEL_IDS": "C0SALES001,G0PRIV0001 D0DM000001"}, "clue_allowed_channel_ids",
     frozenset({"C0SALES001", "G0PRIV0001", "D0DM000001"})),
    ({"CLUE_UNFURL_CHANNEL_IDS": "C0SALES001"}, "clue_unfurl_channel_ids", frozenset({"C0SALES001"})),
    ({"CLUE_ALLOW_SHARED_CHANNELS": "YES"}, "clue_allow_shared_channels", True),
    ({"CLUE_COMPOSER_PREVIEWS": "true"}, "clue_composer_previews", True),
    ({"CLUE_ADMIN_CONTACT": "<@U012ADMIN>"}, "clue_admin_contact", "<@U012ADMIN>"),
    ({"HOST": "0.0.0.0"}, "host", "0.0.0.0"),  # noqa: S104 - a value under test, not a bind
    ({"PORT": "0"}, "port", 0),
    ({"LOG_LEVEL": "debug"}, "log_level", "DEBUG"),
    ({"WEB_CONCURRENCY": "2"}, "web_concurrency", 2),
    ({"DATABASE_URL": "off"}, "database_url", None),
    ({"CLUE_SUBSCRIBE_USER_IDS": "U0BOSS0001"}, "clue_subscribe_user_ids", frozenset({"U0BOSS0001"})),
    ({"CLUE_ALERT_POLL_SECONDS": "30"}, "clue_alert_poll_seconds", 30.0),
    ({"CLUE_ALERT_LOOKBACK_SECONDS": "600"}, "clue_alert_lookback_seconds", 600.0),
    ({"CLUE_ALERT_MAX_PAGES": "10"}, "clue_alert_max_pages", 10),
    ({"CLUE_ALERT_DIGEST_OVER": "20"}, "clue_alert_digest_over", 20),
    ({"CLUE_ALERT_POST_INTERVAL_SECONDS": "2"}, "clue_alert_post_interval_seconds", 2.0),
    ({"CLUE_ALERT_LEASE_SECONDS": "60"}, "clue_alert_lease_seconds", 60.0),
    ({"CLUE_WATCH_CHECK_SECONDS": "60"}, "clue_watch_check_seconds", 60.0),
    ({"CLUE_WATCH_READS_PER_ROUND": "90"}, "clue_watch_reads_per_round", 90),
    # CRM push
    ({"CRM_PUSH_ENABLED": "true"}, "crm_push_enabled", True),
    ({"CRM_PUSH_PATH": "/hooks/tanmarket"}, "crm_push_path", "/hooks/tanmarket"),
    ({"CRM_PUSH_WINDOW_SECONDS": "60"}, "crm_push_window_seconds", 60.0),
    ({"CRM_CORP_ID": "zc_test"}, "crm_corp_id", "zc_test"),
    ({"CLUE_ADMIN_USER_IDS": "U0BOSS0001"}, "clue_admin_user_ids", frozenset({"U0BOSS0001"})),
    ({"CLUE_NUDGE_WINDOW_MINUTES": "30"}, "clue_nudge_window_minutes", 30),
]


@pytest.mark.parametrize(("env", "attribute", "value"), VARIABLES)
def test_each_variable_is_parsed(env: dict[str, str], attribute: str, value: Any) -> None:
    settings = Settings.from_env(env)
    assert getattr(settings, attribute) == value
    assert getattr(Settings(), attribute) != value, "pick a value that differs from the default"


def test_every_variable_is_in_this_table() -> None:
    declared = [row.variable for row in rows()]
    assert len(declared) == len(set(declared)), "a variable is declared twice"
    covered = {name for env, _, _ in VARIABLES for name in env}
    missing = sorted(set(declared) - covered)
    assert not missing, f"add a row to VARIABLES for {missing}"


def test_the_readme_table_is_the_rows() -> None:
    """README's configuration table is what the rows say, cell for cell (paste configuration_table())."""
    readme = README.read_text()
    start = readme.index("| Variable | Default | What it does |")
    documented = readme[start:readme.index("\n\n", start)]
    assert documented == configuration_table()


def test_the_table_shows_each_default() -> None:
    table = configuration_table()
    assert "| `CLUE_FOLLOW_UP_WAIT_SECONDS` | `0.5` |" in table
    assert "| `CRM_MAX_RESPONSE_BYTES` | `2000000` |" in table
    assert "| `CLUE_USER_LOCALE` | `true` |" in table
    assert "| `CLUE_SUMMARY_FIELDS` | `下次跟进时间,预算（万元）` |" in table
    assert "| `CRM_BASE_URL` | *(unset: embedded sandbox CRM)* |" in table
    assert table.count("| **") == 8  # CRM, Cache, Slack, Access, Alerts, CRM push, People, Process


@pytest.mark.parametrize(("raw", "value"), [
    ("1", True), ("true", True), ("True", True), ("yes", True), ("on", True),
    ("0", False), ("false", False), ("NO", False), ("off", False),
])
def test_flags(raw: str, value: bool) -> None:
    assert Settings.from_env({"CLUE_ALLOW_SHARED_CHANNELS": raw}).clue_allow_shared_channels is value


def test_crm_base_url_keeps_its_path_prefix() -> None:
    env = {"CRM_BASE_URL": "https://account.tanmarket.cn/apiServer", "CRM_APP_ID": "ww1_a", "CRM_APP_KEY": APP_KEY}
    settings = Settings.from_env(env)
    assert settings.crm_base_url == "https://account.tanmarket.cn/apiServer"
    assert not settings.uses_sandbox_crm
    assert Settings.from_env({**env, "CRM_BASE_URL": "http://api.tanmarket.cn:20066/api///"}).crm_base_url \
        == "http://api.tanmarket.cn:20066/api"


def test_modes_follow_the_credentials() -> None:
    http = Settings.from_env({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET})
    assert not http.playground and not http.socket_mode
    socket = Settings.from_env({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN})
    assert socket.socket_mode and not socket.playground  # Socket Mode needs no signing secret


@pytest.mark.parametrize(("env", "problem"), [
    ({"CRM_BASE_URL": "https://crm.example.com", "CRM_APP_KEY": APP_KEY},
     "CRM_APP_ID is required when CRM_BASE_URL is set"),
    ({"CRM_BASE_URL": "https://crm.example.com", "CRM_APP_ID": "ww1_a"},
     "CRM_APP_KEY is required when CRM_BASE_URL is set"),
    ({"CRM_APP_ID": "ww1_a", "CRM_APP_KEY": APP_KEY},
     "CRM_BASE_URL is required when CRM_APP_ID or CRM_APP_KEY is set"),
    ({"SLACK_APP_TOKEN": APP_TOKEN}, "SLACK_BOT_TOKEN is required with SLACK_APP_TOKEN (Socket Mode)"),
    ({"SLACK_BOT_TOKEN": BOT_TOKEN}, "SLACK_SIGNING_SECRET is required to serve Slack over HTTP"),
    ({"SLACK_SIGNING_SECRET": SIGNING_SECRET}, "SLACK_BOT_TOKEN is required when SLACK_SIGNING_SECRET is set"),
])
def test_required_combinations(env: dict[str, str], problem: str) -> None:
    assert problems_of(env) == [problem]


def test_crm_base_url_without_id_and_key_lists_both() -> None:
    assert problems_of({"CRM_BASE_URL": "https://crm.example.com"}) == [
        "CRM_APP_ID is required when CRM_BASE_URL is set", "CRM_APP_KEY is required when CRM_BASE_URL is set"]


BROKEN = {
    "CRM_BASE_URL": "ftp://crm.example.com",
    "CRM_TIMEZONE": "Mars/Olympus",
    "CRM_FIELD_ALIASES": "stage=customer_stage,oops",
    "SLACK_BOT_TOKEN": "xoxp-" + SIGNING_SECRET,
    "SLACK_APP_TOKEN": "xoxa-" + APP_KEY,
    "SLACK_API_URL": "slack.com/api",
    "CLUE_URL_TEMPLATE": "https://crm.example.com/clues/",
    "CLUE_URL_PATTERNS": r"https://a\.example/(\d+) https://b\.example/(?P<id>[0-9+",
    "REDIS_URL": f"http://:{REDIS_PASSWORD}@127.0.0.1/0",
    "LOG_LEVEL": "LOUD",
    "CLUE_DEFAULT_LOCALE": "fr",
    "CRM_TIMEOUT_SECONDS": "soon",
    "CRM_MAX_RESPONSE_BYTES": "10",
    "CRM_MAX_CONCURRENCY": "2.5",
    "CRM_RATE_PER_SECOND": "nan",
    "CLUE_CACHE_MAXSIZE": "1_000",
    "SLACK_ACK_BUDGET_SECONDS": "3",
    "SLACK_BODY_TIMEOUT_SECONDS": "0",
    "SLACK_MAX_PENDING_BODIES": "0",
    "CLUE_MAX_IDS": "21",
    "PORT": "65536",
    "SLACK_ALLOWED_TEAM_IDS": "T0TEST0001 acme",
    "CLUE_ALLOWED_USER_IDS": "alice,U0ALICE001",
    "CLUE_ALLOWED_CHANNEL_IDS": "#sales",
    "CLUE_ALLOW_SHARED_CHANNELS": "maybe",
    "CLUE_USER_LOCALE": "sometimes",
}
BROKEN_PROBLEMS = [
    "CRM_BASE_URL must be an http(s) URL, e.g. https://account.tanmarket.cn/apiServer",
    "CRM_APP_ID is required when CRM_BASE_URL is set",
    "CRM_APP_KEY is required when CRM_BASE_URL is set",
    "CRM_TIMEZONE 'Mars/Olympus' is not a known IANA time zone",
    "CRM_FIELD_ALIASES entry 'oops' must look like key=target, the target a list-fields outerField, field id or "
    "field name (customer_stage=91634)",
    "SLACK_BOT_TOKEN must be a bot token starting with xoxb-",
    "SLACK_APP_TOKEN must be an app-level token starting with xapp-",
    "SLACK_API_URL must be an http(s) URL",
    "CLUE_URL_TEMPLATE must be an http(s) URL containing {id} once",
    r"CLUE_URL_PATTERNS entry 'https://a\\.example/(\\d+)' needs a named group (?P<id>...)",
    r"CLUE_URL_PATTERNS entry 'https://b\\.example/(?P<id>[0-9+' is not a regular expression",
    "REDIS_URL must start with redis://, rediss:// or unix://",
    "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR",
    "CLUE_DEFAULT_LOCALE must be one of en, zh, zh-TW",
    "CRM_TIMEOUT_SECONDS must be a number, got 'soon'",
    "CRM_MAX_RESPONSE_BYTES must be between 1024 and 1e+08, got '10'",
    "CRM_MAX_CONCURRENCY must be a whole number, got '2.5'",
    "CRM_RATE_PER_SECOND must be a number, got 'nan'",
    "CLUE_CACHE_MAXSIZE must be a whole number, got '1_000'",
    "SLACK_ACK_BUDGET_SECONDS must be between 0 and 2.5, got '3'",
    "SLACK_BODY_TIMEOUT_SECONDS must be between 0.1 and 60, got '0'",
    "SLACK_MAX_PENDING_BODIES must be between 1 and 10000, got '0'",
    "CLUE_MAX_IDS must be between 1 and 20, got '21'",
    "PORT must be between 0 and 65535, got '65536'",
    "CLUE_USER_LOCALE must be true or false, got 'sometimes'",
    "SLACK_ALLOWED_TEAM_IDS has entries that are not Slack ids: acme",
    "CLUE_ALLOWED_USER_IDS has entries that are not Slack ids: alice",
    "CLUE_ALLOWED_CHANNEL_IDS has entries that are not Slack ids: #sales",
    "CLUE_ALLOW_SHARED_CHANNELS must be true or false, got 'maybe'",
]


def test_one_error_lists_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(BROKEN)
    problems = caught.value.problems
    for expected in BROKEN_PROBLEMS:
        assert any(p.startswith(expected) for p in problems), f"missing {expected!r} in {problems}"
    assert len(problems) == len(BROKEN_PROBLEMS), problems  # one line per problem, nothing twice
    message = str(caught.value)
    assert message.startswith("invalid configuration:")
    assert all(f"  - {p}" in message for p in problems)
    for secret in SECRETS:
        assert secret not in message and secret not in repr(caught.value)


@pytest.mark.parametrize("env", [
    {"REDIS_URL": f"redis://:{REDIS_PASSWORD}@[::1/0"},  # urlsplit raises ValueError on this
    {"REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:99999/0"},
    {"REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:0"},
    {"REDIS_URL": f"rediss://:{REDIS_PASSWORD}@redis.internal:port/0"},
    {"REDIS_URL": f"redis://:{REDIS_PASSWORD}@redis.internal:6379/zero"},
    {"REDIS_URL": "unix://"},
    {"CRM_BASE_URL": "http://[::1", "CRM_APP_ID": "ww1_a", "CRM_APP_KEY": APP_KEY},
    {"CRM_BASE_URL": "https://crm.example.com:99999", "CRM_APP_ID": "ww1_a", "CRM_APP_KEY": APP_KEY},
    {"SLACK_API_URL": "http://[fe80::1"},
    {"CLUE_URL_TEMPLATE": "https://[crm/clues/{id}"},
    {"CRM_BASE_URL": "https://", "CRM_APP_ID": "ww1_a", "CRM_APP_KEY": APP_KEY},
])
def test_unparseable_urls_are_problems_not_crashes(env: dict[str, str]) -> None:
    [problem] = problems_of(env)
    assert next(iter(env)) in problem
    assert REDIS_PASSWORD not in problem


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "redis://127.0.0.1", "rediss://:pw@redis.internal:6380/15",
                                 "unix:///run/redis.sock", "redis://[::1]:6379/"])
def test_accepted_redis_urls_are_usable(url: str) -> None:
    assert Settings.from_env({"REDIS_URL": url}).redis_url is not None
    Redis.from_url(url)  # the client takes it too


def test_secrets_never_show_in_repr_or_str() -> None:
    settings = Settings.from_env({
        "CRM_BASE_URL": "https://crm.example.com", "CRM_APP_ID": "ww1_a", "CRM_APP_KEY": APP_KEY,
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_APP_TOKEN": APP_TOKEN,
        "REDIS_URL": f"redis://default:{REDIS_PASSWORD}@redis.internal:6379/0",
    })
    for text in (repr(settings), str(settings), repr(settings.crm_app_key), f"{settings.slack_bot_token}",
                 str([settings.redis_url]), repr(vars(settings))):
        for secret in SECRETS:
            assert secret not in text
        assert "redis.internal" not in text  # the whole URL is secret, not just its password
    assert "********" in repr(settings.slack_signing_secret)
    assert sorted(settings.secrets()) == sorted(SECRETS)


def test_secret_compares_by_value_without_showing_it() -> None:
    assert Secret("abc") == Secret("abc") and Secret("abc") != Secret("abd") and Secret("abc") != "abc"
    assert hash(Secret("abc")) == hash(Secret("abc"))
    assert not Secret("") and Secret("x")
    with pytest.raises(AttributeError):
        Secret("abc").value = "x"  # type: ignore[attr-defined]


def test_redis_url_without_password_adds_no_secret() -> None:
    settings = Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert settings.secrets() == [SANDBOX_APP_KEY]
    assert Settings.from_env({"REDIS_URL": "unix:///run/redis.sock"}).redis_url is not None


def test_a_slack_workspace_is_not_served_from_the_sandbox_crm() -> None:
    http = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    assert Settings.from_env(http).uses_sandbox_crm  # fine for clue / card / search, which start one
    [problem] = problems_of_serving(http)
    assert problem.startswith("CRM_BASE_URL is required to serve Slack")
    [socket_mode] = problems_of_serving({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN})
    assert socket_mode == problem
    assert Settings.from_env({}, serve=True).playground
    crm = {"CRM_BASE_URL": "https://crm.example.com", "CRM_APP_ID": "ww1_a", "CRM_APP_KEY": APP_KEY}
    assert not Settings.from_env({**http, **crm}, serve=True).uses_sandbox_crm
    # Listed with every other problem, not after they are fixed.
    assert len(problems_of_serving({**http, "LOG_LEVEL": "LOUD"})) == 2


def problems_of_serving(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env, serve=True)
    return caught.value.problems


def test_the_playground_leaves_slack_credentials_out() -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": " ", "SLACK_APP_TOKEN": APP_TOKEN, "PORT": "0"}
    kept, ignored = without_slack_credentials(env)
    assert kept == {"PORT": "0"} and ignored == ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]
    assert Settings.from_env(kept).playground


def test_serve_refuses_a_slack_workspace_without_a_crm_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.__main__ import main

    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "HOST": "127.0.0.1", "PORT": "0"}
    assert main(["serve"], env=env) == 2
    err = capsys.readouterr().err
    assert err.startswith("clue bot: invalid configuration: CRM_BASE_URL is required to serve Slack")
    assert err.count("\n") == 1 and "Traceback" not in err and BOT_TOKEN not in err


def test_the_playground_starts_with_slack_credentials_exported_and_says_it_ignores_them() -> None:
    """The one subprocess here: ``python -m bot.dev`` (``make run``) really starts, then is stopped."""
    root = README.parent
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_", "CLUE_", "REDIS_"))}
    env = {**clean, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "HOST": "127.0.0.1",
           "PORT": "0", "LOG_LEVEL": "WARNING"}
    with subprocess.Popen([sys.executable, "-m", "bot.dev"], cwd=root, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, "the playground did not start within 60 s"
            assert proc.stdout.readline().startswith("clue bot playground: http://127.0.0.1:")
        finally:
            proc.terminate()
            proc.wait(30)
        err = proc.stderr.read()
    assert "ignoring SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET" in err and BOT_TOKEN not in err


def test_a_trusted_proxy_must_be_an_address_or_network() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"TRUSTED_PROXIES": "10.0.0.0/8, lb.example.com"})
    assert "TRUSTED_PROXIES entry 'lb.example.com' is not an IP address or CIDR network" in str(raised.value)


def test_database_url_is_a_secret_and_must_name_a_database_we_speak() -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgresql://alerts:hunter2@db.internal/cluebot"})
    assert "hunter2" in settings.secrets() and "hunter2" not in repr(settings)
    with pytest.raises(ConfigError, match="DATABASE_URL must be"):
        Settings.from_env({"DATABASE_URL": "mysql://db/cluebot"})


@pytest.mark.parametrize("path", ["crm/push", "/crm/push?x=1", "/crm//push", "/slack/events", "/metrics", "/"])
def test_a_push_path_must_be_a_plain_path_of_its_own(path: str) -> None:
    with pytest.raises(ConfigError, match="CRM_PUSH_PATH must"):
        Settings.from_env({"CRM_PUSH_PATH": path})
