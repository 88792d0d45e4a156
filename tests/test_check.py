"""``python -m bot check`` against the sandbox CRM, the fake Slack Web API and a real redis-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.check import Finding, read_settings, report, run_checks
from bot.config import SANDBOX_APP_ID, SANDBOX_APP_KEY, Settings
from bot.dev.playground.fake_slack import TEAM_ID, FakeSlackState
from bot.dev.sandbox import SandboxServer
from bot.dev.sandbox.app import wall_clock_ms
from tests.redis_server import RedisServer, free_port, start_redis
from tests.slack.harness import BOT_TOKEN, SIGNING_SECRET
from tests.support import CliRun
from tests.support import run_cli as run_main

WRONG_KEY = "wrong-app-key-0123456789"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def env_for(sandbox_url: str, fake_url: str, **extra: str) -> dict[str, str]:
    return {"CRM_BASE_URL": sandbox_url, "CRM_APP_ID": SANDBOX_APP_ID, "CRM_APP_KEY": SANDBOX_APP_KEY,
            "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_url + "/api/", "CLUE_URL_TEMPLATE": sandbox_url + "/clues/{id}",
            "DATABASE_URL": "off", **extra}


async def check(env: dict[str, str], clue: str | None = None) -> tuple[dict[str, Finding], str]:
    settings = Settings.from_env(env)
    findings = await run_checks(settings, clue)
    return {f.what: f for f in findings}, report(findings, settings)


async def test_everything_passes(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState],
                                 redis_server: RedisServer) -> None:
    found, text = await check(env_for(sandbox.url, fake_slack[0], REDIS_URL=redis_server.url), clue="8")
    assert list(found) == ["CRM reachable", "CRM signature", "clock", "card fields", "clue 8", "Slack token",
                           "Slack scopes", "clue links", "CRM push", "Redis"]
    assert all(f.ok for f in found.values()), text
    assert TEAM_ID in found["Slack token"].detail and "links:write" in found["Slack scopes"].detail
    assert text.count("✓") == 10 and "✗" not in text
    assert found["CRM push"].detail.startswith("off (CRM_PUSH_ENABLED)")
    assert found["card fields"].detail == "下次跟进时间, 预算（万元）: all in list-fields"
    assert sandbox.state.stats().clue_gets == {8: 1}


async def test_push_reports_its_path_and_corpid(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    found, _ = await check(env_for(sandbox.url, fake_slack[0], CRM_PUSH_ENABLED="true", CRM_PUSH_PATH="/hooks/crm"))
    assert found["CRM push"].ok
    assert found["CRM push"].detail.startswith("on at /hooks/crm (corpid wwsandboxcorp0001)")
    assert "push-register" in found["CRM push"].detail


async def test_a_wrong_crm_key_is_named_and_never_printed(sandbox: SandboxServer,
                                                         fake_slack: tuple[str, FakeSlackState]) -> None:
    found, text = await check(env_for(sandbox.url, fake_slack[0], CRM_APP_KEY=WRONG_KEY), clue="8")
    assert not found["CRM signature"].ok and "1002" in found["CRM signature"].detail
    assert "CRM_APP_KEY" in found["CRM signature"].hint
    assert "clue 8" not in found  # nothing more is asked of a CRM that refuses us
    assert WRONG_KEY not in text and BOT_TOKEN not in text


async def test_a_skewed_clock_is_reported(fake_slack: tuple[str, FakeSlackState]) -> None:
    with SandboxServer(now_ms=lambda: wall_clock_ms() + 10 * 60_000) as ahead:  # the CRM 10 minutes ahead
        found, _ = await check(env_for(ahead.url, fake_slack[0]))
    assert found["CRM signature"].ok  # 1003 comes after the signature passed
    assert not found["clock"].ok and "1003" in found["clock"].detail and "NTP" in found["clock"].hint


async def test_an_unknown_clue_fails(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    found, _ = await check(env_for(sandbox.url, fake_slack[0]), clue="404")
    assert not found["clue 404"].ok and "no clue" in found["clue 404"].detail


async def test_a_revoked_slack_token(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    fake_slack[1].errors["auth.test"] = "token_revoked"
    found, text = await check(env_for(sandbox.url, fake_slack[0]))
    assert not found["Slack token"].ok and "token_revoked" in found["Slack token"].detail
    assert "Slack scopes" not in found
    assert BOT_TOKEN not in text


async def test_a_missing_scope(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    conversations = "channels:read,groups:read,im:read,mpim:read,chat:write"
    fake_slack[1].scopes = f"commands,links:read,users:read,{conversations}"
    found, _ = await check(env_for(sandbox.url, fake_slack[0]))
    assert found["Slack token"].ok
    assert not found["Slack scopes"].ok and found["Slack scopes"].detail == "missing links:write"
    # users:read only matters for per-person locales
    fake_slack[1].scopes = f"commands,links:read,links:write,{conversations}"
    assert not (await check(env_for(sandbox.url, fake_slack[0])))[0]["Slack scopes"].ok
    found, _ = await check(env_for(sandbox.url, fake_slack[0], CLUE_USER_LOCALE="false"))
    assert found["Slack scopes"].ok


async def test_with_a_database_linking_people_needs_their_profiles_e_mail(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState], tmp_path: Path) -> None:
    fake_slack[1].scopes = "commands,links:read,links:write,users:read,channels:read,groups:read,im:read,mpim:read," \
                           "chat:write"
    env = env_for(sandbox.url, fake_slack[0], DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
                  CLUE_USER_LOCALE="false")
    found, _ = await check(env)
    assert found["Slack scopes"].detail == "missing users:read.email"  # /clue me matches the profile's e-mail


async def test_an_unreachable_redis(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    password = "redis-password-0123456789"
    found, text = await check(env_for(sandbox.url, fake_slack[0],
                                      REDIS_URL=f"redis://:{password}@127.0.0.1:{free_port()}/0"))
    assert not found["Redis"].ok and "unreachable" in found["Redis"].detail and "REDIS_URL" in found["Redis"].hint
    assert password not in text


async def test_an_unreachable_crm(fake_slack: tuple[str, FakeSlackState]) -> None:
    found, _ = await check(env_for(f"http://127.0.0.1:{free_port()}", fake_slack[0], CRM_TIMEOUT_SECONDS="1"))
    assert not found["CRM reachable"].ok and "CRM_BASE_URL" in found["CRM reachable"].hint
    assert "CRM signature" not in found


def test_invalid_settings_are_one_line() -> None:
    settings, finding = read_settings({"CRM_BASE_URL": "ftp://x", "LOG_LEVEL": "LOUD"})
    assert settings is None and not finding.ok
    assert "CRM_BASE_URL" in finding.detail and "LOG_LEVEL" in finding.detail


def run_cli(*args: str, env: dict[str, str]) -> CliRun:
    return run_main("check", *args, env=env)


def test_the_command_exits_0_only_when_everything_passes(sandbox: SandboxServer,
                                                         fake_slack: tuple[str, FakeSlackState]) -> None:
    good = run_cli("--clue", "8", env=env_for(sandbox.url, fake_slack[0]))
    assert good.returncode == 0, good.stdout + good.stderr
    lines = good.stdout.splitlines()
    assert len(lines) == 10 and all(line.startswith("✓ ") for line in lines), good.stdout
    assert good.stderr == ""
    fake_slack[1].errors["auth.test"] = "invalid_auth"
    bad = run_cli(env=env_for(sandbox.url, fake_slack[0], CRM_APP_KEY=WRONG_KEY))
    assert bad.returncode == 1
    # settings, CRM reachable, CRM signature, Slack token, clue links, CRM push
    assert [line[0] for line in bad.stdout.splitlines()] == ["✓", "✓", "✗", "✗", "✓", "✓"]
    assert WRONG_KEY not in bad.stdout + bad.stderr and BOT_TOKEN not in bad.stdout + bad.stderr
    invalid = run_cli(env={"CRM_TIMEOUT_SECONDS": "soon"})
    assert invalid.returncode == 2 and invalid.stdout.startswith("✗ settings: CRM_TIMEOUT_SECONDS")


async def test_clue_links_left_at_the_example_host_fail_while_serving_a_workspace(
        sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    for template in ("https://crm.example.com/clues/{id}", "https://crm.example/c/{id}"):
        found, _ = await check(env_for(sandbox.url, fake_slack[0], CLUE_URL_TEMPLATE=template))
        links = found["clue links"]
        assert not links.ok and template in links.detail and "Open in CRM" in links.detail
        assert "CLUE_URL_TEMPLATE" in links.hint and "unfurl_domains" in links.hint
    default = env_for(sandbox.url, fake_slack[0])
    del default["CLUE_URL_TEMPLATE"]
    found, _ = await check(default)
    assert "(the default)" in found["clue links"].detail
    found, _ = await check(env_for(sandbox.url, fake_slack[0], CLUE_URL_TEMPLATE="https://crm.acme.cn/clue/{id}"))
    assert found["clue links"].ok and "crm.acme.cn" in found["clue links"].detail


async def test_the_playground_has_no_links_to_get_wrong(sandbox: SandboxServer) -> None:
    found, _ = await check({"CRM_BASE_URL": sandbox.url, "CRM_APP_ID": SANDBOX_APP_ID, "CRM_APP_KEY": SANDBOX_APP_KEY})
    assert "clue links" not in found and not found["Slack token"].ok


@pytest.mark.parametrize(("extra", "named"), [
    ({"CLUE_SUMMARY_FIELDS": "预算（万元）,Budget (kCNY)"}, "CLUE_SUMMARY_FIELDS has Budget (kCNY)"),
    ({"CLUE_DUE_FIELD": "Next call"}, "CLUE_DUE_FIELD is Next call (the next follow-up would vanish"),
])
async def test_card_fields_the_tenant_does_not_have_fail(sandbox: SandboxServer,
                                                         fake_slack: tuple[str, FakeSlackState],
                                                         extra: dict[str, str], named: str) -> None:
    found, _ = await check(env_for(sandbox.url, fake_slack[0], **extra))
    fields = found["card fields"]
    assert not fields.ok and named in fields.detail and "预算（万元）" not in fields.detail.split(":")[0]
    assert "预算（万元）" in fields.hint and "下次跟进时间" in fields.hint  # what the tenant does have


async def test_card_fields_by_id_and_none_pass(sandbox: SandboxServer, fake_slack: tuple[str, FakeSlackState]) -> None:
    found, _ = await check(env_for(sandbox.url, fake_slack[0], CLUE_SUMMARY_FIELDS="91652", CLUE_DUE_FIELD="91652"))
    assert found["card fields"].ok
    found, _ = await check(env_for(sandbox.url, fake_slack[0], CLUE_SUMMARY_FIELDS="-", CLUE_DUE_FIELD="91652"))
    assert found["card fields"].ok


def test_settings_serve_would_refuse_are_invalid() -> None:
    settings, finding = read_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET})
    assert settings is None and "CRM_BASE_URL is required to serve Slack" in finding.detail


async def test_the_alerts_database_is_reported_and_never_migrated_by_check(tmp_path: Path) -> None:
    from bot.check import _database
    from bot.store.database import connect

    path = tmp_path / "alerts.db"
    fresh = await _database(f"sqlite+aiosqlite:///{path}")
    assert fresh.ok and "created at start-up" in fresh.detail and not path.exists()
    path.touch()  # a file without the schema
    behind = await _database(f"sqlite+aiosqlite:///{path}")
    assert not behind.ok and "python -m bot migrate" in behind.hint
    db = connect(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    _, newest = await db.revision()
    await db.aclose()
    current = await _database(f"sqlite+aiosqlite:///{path}")
    assert current.ok and f"schema {newest} (current)" in current.detail
    down = await _database("postgresql://cluebot:s3cret-pw@127.0.0.1:9/cluebot")
    assert not down.ok and "unreachable" in down.detail and "s3cret-pw" not in down.line()
